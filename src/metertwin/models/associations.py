"""Association LN objects (class 15): the current association and one per policy.

Attribute layouts per reference/dlms.md 6 (class 15, version 1): object_list entries with
access rights, partners, application context and mechanism names as the 7-element structure,
xDLMS context info, a write-only secret (seed 004: the meter reader's password is changed
through its association object), and the association status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from metertwin.codec.axdr import BitString, Data, DataType
from metertwin.codec.enums import AuthenticationMechanism
from metertwin.codec.obis import Obis
from metertwin.cosem.access import AssociationContext, AssociationPolicy, ObjectRights
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Request
from metertwin.dlms.capabilities import DEFAULT_MAX_RECEIVE_PDU_SIZE, DLMS_VERSION
from metertwin.meter.core import Meter

CURRENT_ASSOCIATION = Obis(0, 0, 40, 0, 0)
SECURITY_SETUP = Obis(0, 0, 43, 0, 0)
"""What the security_setup_reference (attribute 9) of an association without HLS names; an
HLS association names its own (AssociationPolicy.security_setup)."""
SERVER_MAX_RECEIVE_PDU = DEFAULT_MAX_RECEIVE_PDU_SIZE
"""What a closed association announces it could receive: the server default."""


def _oid_structure(*tail: int) -> Data:
    """joint-iso-ccitt(2) country(16) ch(756) identified-organization(5) DLMS-UA(8) ..."""
    head = [
        Data.unsigned(2),
        Data.unsigned(16),
        Data.long_unsigned(756),
        Data.unsigned(5),
        Data.unsigned(8),
    ]
    return Data.structure([*head, *(Data.unsigned(x) for x in tail)])


def object_list_entry(obj: CosemObject, rights: ObjectRights) -> Data:
    attributes = []
    for spec in obj.interface.attributes:
        selectors = (
            Data.array([Data.integer(s) for s in spec.selectors]) if spec.selectors else Data.null()
        )
        attributes.append(
            Data.structure(
                [
                    Data.integer(spec.index),
                    Data.enum(int(rights.attribute(spec.index))),
                    selectors,
                ]
            )
        )
    methods = [
        Data.structure([Data.integer(spec.index), Data.enum(int(rights.method(spec.index)))])
        for spec in obj.interface.methods
    ]
    return Data.structure(
        [
            Data.long_unsigned(obj.class_id),
            Data.unsigned(obj.interface.version),
            Data.octet_string(bytes(obj.logical_name)),
            Data.structure([Data.array(attributes), Data.array(methods)]),
        ]
    )


class AssociationObjects:
    """Builds the class 15 objects once the device's other objects and policies exist."""

    def __init__(
        self,
        meter: Meter,
        server_sap: int,
        objects: Callable[[], Mapping[Obis, CosemObject]],
        open_contexts: Callable[[], Sequence[AssociationContext]],
    ) -> None:
        self.meter = meter
        self.server_sap = server_sap
        self._objects = objects
        self._open = open_contexts

    def build(self, policies: Sequence[AssociationPolicy]) -> list[CosemObject]:
        built = [self._object(CURRENT_ASSOCIATION, None)]
        built += [self._object(p.logical_name, p) for p in policies]
        return built

    def _object(self, name: Obis, fixed: AssociationPolicy | None) -> CosemObject:
        """``fixed`` None: the current association (each client sees its own)."""
        meter = self.meter

        def policy(request: Request) -> AssociationPolicy:
            return fixed if fixed is not None else request.context.policy

        def context(request: Request) -> AssociationContext | None:
            if fixed is None:
                return request.context
            for open_context in self._open():
                if open_context.policy is fixed:
                    return open_context
            return None

        def object_list(request: Request) -> Data:
            viewed = policy(request)
            objects = self._objects()
            entries = [
                object_list_entry(objects[name], rights)
                for name, rights in viewed.rights.items()
                if name in objects
            ]
            return Data.array(entries)

        def partners(request: Request) -> Data:
            live = context(request)
            client = live.client_sap if live else policy(request).client_sap
            return Data.structure([Data.integer(client), Data.long_unsigned(self.server_sap)])

        def context_info(request: Request) -> Data:
            """Blue Book, Association LN attribute 5: max_receive_pdu_size is what the
            server can receive (the InitiateResponse's server-max-receive-pdu-size),
            max_send_pdu_size what it may send in this association (the InitiateRequest's
            client-max-receive-pdu-size; 0 while the association is not open)."""
            live = context(request)
            conformance = live.conformance if live else policy(request).conformance
            server_receives = live.server_max_receive_pdu_size if live else SERVER_MAX_RECEIVE_PDU
            server_sends = live.client_max_receive_pdu_size if live else 0
            bits = BitString.from_bytes(int(conformance).to_bytes(3, "big"), 24)
            return Data.structure(
                [
                    Data.bit_string(bits),
                    Data.long_unsigned(server_receives),
                    Data.long_unsigned(server_sends),
                    Data.unsigned(DLMS_VERSION),
                    Data.integer(0),
                    Data.octet_string(b""),
                ]
            )

        def mechanism(request: Request) -> Data:
            return _oid_structure(2, int(policy(request).mechanism))

        def application_context(request: Request) -> Data:
            """Logical name referencing, with ciphering (3) when the association has a
            Security setup, without (1) otherwise (dlms.md 3.1)."""
            return _oid_structure(1, 3 if policy(request).security_setup else 1)

        def setup_reference(request: Request) -> Data:
            return Data.octet_string(bytes(policy(request).security_setup or SECURITY_SETUP))

        def status(request: Request) -> Data:
            return Data.enum(2 if context(request) is not None else 0)

        def set_secret(request: Request, value: Data) -> None:
            target = policy(request)
            if target.mechanism is not AuthenticationMechanism.LOW:
                raise type_unmatched("this association has no LLS secret")
            if value.type is not DataType.OCTET_STRING or not 0 < len(value.as_bytes()) <= 64:
                raise type_unmatched("an LLS secret is an octet-string of 1 to 64 bytes")
            meter.security.set_secret(target.name, value.as_bytes())

        return CosemObject(
            interface_class(15),
            name,
            {
                2: Binding(get=object_list),
                3: Binding(get=partners),
                4: Binding(get=application_context),
                5: Binding(get=context_info),
                6: Binding(get=mechanism),
                7: Binding(set=set_secret),
                8: Binding(get=status),
                9: Binding(get=setup_reference),
            },
        )


def security_setup(obis: Obis, server_system_title: bytes) -> CosemObject:
    """Security setup (class 64, version 0): the associations are not ciphered (policy 0,
    no security); the suite is 0 (AES-GCM-128) and the server's system title is its
    manufacturer letters and serial. No client system title is known without ciphering,
    and no method is offered: there is no key to transfer or policy to raise."""
    fixed = {
        2: Data.enum(0),
        3: Data.enum(0),
        4: Data.octet_string(b""),
        5: Data.octet_string(server_system_title),
    }

    def reader(value: Data) -> Callable[[Request], Data]:
        return lambda _request: value

    return CosemObject(
        interface_class(64),
        obis,
        {index: Binding(get=reader(value)) for index, value in fixed.items()},
    )


def system_title(manufacturer_letters: bytes, serial: str) -> bytes:
    """Green Book: 8 octets, the 3-letter manufacturer id then 5 octets of the serial."""
    number = int(serial) if serial.isdigit() else 0
    return manufacturer_letters[:3].ljust(3, b"?") + (number % (1 << 40)).to_bytes(5, "big")


def association_rights(policy_rights: str, name: Obis, own: Obis) -> ObjectRights | None:
    """What a client of profile ``policy_rights`` may do on association object ``name``;
    ``own`` is its own association object. None: not in its object list."""
    from metertwin.cosem.access import AttributeAccess as A

    readable = {i: A.READ_ONLY for i in (1, 2, 3, 4, 5, 6, 8, 9)}
    if name in (CURRENT_ASSOCIATION, own):
        if policy_rights == "public":
            return ObjectRights(readable)
        return ObjectRights({**readable, 7: A.WRITE_ONLY})
    if policy_rights == "management":
        return ObjectRights({**readable, 7: A.WRITE_ONLY})
    return None
