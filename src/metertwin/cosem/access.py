"""Who may do what: association policies and access rights (class 15 object_list).

Access rights are not fixed by the Blue Book; companion specifications and device models
set them (reference/dlms.md 7). A model gives each association a policy; the server asks
the logical device, which answers with the association's rights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from metertwin.codec.enums import AuthenticationMechanism, Conformance
from metertwin.codec.enums import (
    SecurityPolicy as SecurityPolicy,  # its home before the client needed it
)
from metertwin.codec.obis import Obis


class AttributeAccess(IntEnum):
    """attribute access_mode of Association LN object_list (dlms.md 6, class 15)."""

    NO_ACCESS = 0
    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_WRITE = 3
    AUTHENTICATED_READ_ONLY = 4
    AUTHENTICATED_WRITE_ONLY = 5
    AUTHENTICATED_READ_WRITE = 6

    @property
    def readable(self) -> bool:
        return self in (1, 3, 4, 6)

    @property
    def writable(self) -> bool:
        return self in (2, 3, 5, 6)


class MethodAccess(IntEnum):
    NO_ACCESS = 0
    ACCESS = 1
    AUTHENTICATED_ACCESS = 2


@dataclass(frozen=True)
class ObjectRights:
    """One object's rights in one association; attributes/methods not listed: no access."""

    attributes: dict[int, AttributeAccess] = field(default_factory=dict)
    methods: dict[int, MethodAccess] = field(default_factory=dict)

    def attribute(self, index: int) -> AttributeAccess:
        return self.attributes.get(index, AttributeAccess.NO_ACCESS)

    def method(self, index: int) -> MethodAccess:
        return self.methods.get(index, MethodAccess.NO_ACCESS)


@dataclass(frozen=True)
class AssociationPolicy:
    """An association a client may open: its Association LN object, its client SAP, how it
    authenticates and what it may see and do.

    ``security_setup`` names its Security setup object (class 64): None for an association
    without security (its APDUs go in the clear; a ciphered one is refused). With one, the
    server asks the backend (a :class:`~metertwin.cosem.backend.SecurityBackend`) for the
    setup's live suite, policy, titles and keys.
    """

    name: str
    logical_name: Obis  # 0.0.40.0.e.255 (e >= 1)
    client_sap: int
    mechanism: AuthenticationMechanism
    conformance: Conformance  # what the server offers this client
    rights: dict[Obis, ObjectRights]  # the objects visible in this association
    security_setup: Obis | None = None  # 0.0.43.0.e.255


@dataclass
class AssociationContext:
    """A live association as the server hands it to the logical device."""

    policy: AssociationPolicy
    client_sap: int
    server_sap: int
    conformance: Conformance  # negotiated
    client_max_receive_pdu_size: int
    server_max_receive_pdu_size: int
    authenticated: bool = False
    client_system_title: bytes | None = None  # the AARQ's calling-AP-title (HLS, ciphering)
