"""What every command shares: its exit codes, and which association of a built-in model a
head-end command needs (the model told by the meter's logical device name).

Exit codes, the same for every command (README, "Exit codes"):

- 0: done;
- 1: refused by the meter (an association, a read, a method or a token the meter turned down);
- 2: a usage or input error (arguments, files, an unreachable address): nothing was asked of
  the meter, or what was asked could not reach it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from metertwin.cosem.access import ObjectRights
from metertwin.cosem.obis import Obis
from metertwin.models import DeviceModel, builtin_model_names, load_model
from metertwin.models.loader import AssociationSpec

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "LOGICAL_DEVICE_NAME",
    "PUBLIC_CLIENT",
    "acting_association",
    "client_options",
    "model_of_device_name",
    "reading_association",
]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
LOGICAL_DEVICE_NAME = Obis(0, 0, 42, 0, 0)
"""COSEM logical device name: every association may read it (docs/dlms.md, public rights)."""
PUBLIC_CLIENT = 0x10


def model_of_device_name(name: bytes) -> DeviceModel | None:
    """The built-in model whose ``[dlms] logical_device_name`` template (``PMM{serial}``) the
    meter's name fits, or None (a meter of a model file, or another make)."""
    text = name.decode("latin-1")
    for model_name in builtin_model_names():
        model = load_model(model_name)
        prefix, _serial, suffix = model.dlms.logical_device_name.partition("{serial}")
        if text.startswith(prefix) and text.endswith(suffix) and len(text) > len(prefix):
            return model
    return None


@cache
def _association_rights(
    model_name: str,
) -> tuple[tuple[AssociationSpec, dict[Obis, ObjectRights]], ...]:
    """Each association of a built-in model with the rights its object list grants, from
    the logical device the model builds (a throwaway meter: rights do not depend on state)."""
    from metertwin.meter.core import Meter
    from metertwin.models.binder import build_logical_device

    model = load_model(model_name)
    device = build_logical_device(model, Meter(model.spec, 0, "0"), lambda: None)
    return tuple(
        (spec, device.policies[spec.client_sap].rights) for spec in model.dlms.associations
    )


def _first_association(
    model: DeviceModel, obis: Obis, allows: Callable[[ObjectRights], bool]
) -> AssociationSpec | None:
    """The least privileged association (the model lists them public first) that allows it."""
    for spec, rights in _association_rights(model.source):
        listed = rights.get(obis)
        if listed is not None and allows(listed):
            return spec
    return None


def reading_association(model: DeviceModel, obis: Obis, attribute: int) -> AssociationSpec | None:
    """The association that may read ``obis`` attribute ``attribute``."""
    return _first_association(model, obis, lambda rights: rights.attribute(attribute).readable)


def acting_association(model: DeviceModel, obis: Obis, method: int) -> AssociationSpec | None:
    """The association that may invoke method ``method`` of ``obis``."""
    return _first_association(model, obis, lambda rights: bool(rights.method(method)))


def client_options(spec: AssociationSpec) -> str:
    """The options that open ``spec``: ``--client 32 --password 00000001`` (the model's
    default secret; a meter whose secret was changed needs the new one)."""
    options = f"--client {spec.client_sap}"
    if spec.secret is not None:
        options += f" --password {spec.secret.decode('utf-8', 'replace')}"
    return options
