"""COSEM objects: an interface class at a logical name, with its attributes bound to state.

An object holds no values of its own: each attribute is a pair of callables reading and
writing the meter core (architecture principle 2), built by `metertwin.models.binder`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import SelectiveAccess
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.classes import InterfaceClass


@dataclass(frozen=True)
class Request:
    """One access as an attribute or method implementation sees it."""

    context: AssociationContext
    access: SelectiveAccess | None = None


Getter = Callable[[Request], Data]
Setter = Callable[[Request, Data], None]
Method = Callable[[Request, Data | None], Data | None]


@dataclass(frozen=True)
class Binding:
    """How one attribute is read and (if at all) written."""

    get: Getter | None = None
    set: Setter | None = None


@dataclass
class CosemObject:
    interface: InterfaceClass
    logical_name: Obis
    attributes: dict[int, Binding] = field(default_factory=dict)
    methods: dict[int, Method] = field(default_factory=dict)
    description: str = ""
    public: bool = False  # in the public (no authentication) association's list

    @property
    def class_id(self) -> int:
        return self.interface.class_id

    def __post_init__(self) -> None:
        name = Data.octet_string(bytes(self.logical_name))
        self.attributes.setdefault(1, Binding(get=lambda _request: name))
        for index in self.attributes:
            if self.interface.attribute(index) is None:
                raise ValueError(f"{self.interface.name} has no attribute {index}")
        for index in self.methods:
            if self.interface.method(index) is None:
                raise ValueError(f"{self.interface.name} has no method {index}")
