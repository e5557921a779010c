"""A head-end polling the same register: the server remembers what answers a plain GET
(``PlainReaders``, a reader bound once per association) and must still answer exactly as
the full path does. Values are read afresh at every GET, a SET shows at the next one, a
refusal or a fault of the getter is answered as ever, and nothing survives the association.

A small real :class:`~metertwin.cosem.device.LogicalDevice` (the backend that offers the
readers), no socket.
"""

from __future__ import annotations

from metertwin.codec.axdr import Data
from metertwin.codec.enums import (
    AssociationResult,
    AuthenticationMechanism,
    Conformance,
    DataAccessResult,
)
from metertwin.codec.obis import Obis
from metertwin.cosem.access import AssociationPolicy, AttributeAccess, ObjectRights
from metertwin.cosem.backend import LoginResult
from metertwin.cosem.classes import interface_class
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.cosem.objects import Binding, CosemObject, Request
from metertwin.dlms.apdu import Aarq, InitiateRequest, decode_apdu
from metertwin.dlms.capabilities import IMPLEMENTED_CONFORMANCE
from metertwin.dlms.server.connection import ServerConnection

H = bytes.fromhex
ENERGY = Obis(1, 0, 1, 8, 0, 255)
SETTABLE = Obis(0, 1, 94, 35, 11, 255)
CLIENT, SERVER = 0x10, 1
GET_ENERGY = H("C001C100030100010800FF0200")  # reference/dlms.md 5 "GET"
GET_SETTABLE = H("C001C1000300015E230BFF0200")
RELEASE = H("6203800100")


class Meter:
    """What the objects read: a register the test moves, and one a SET writes."""

    def __init__(self) -> None:
        self.energy: object = Data.double_long_unsigned(12345)
        self.settable = Data.double_long_unsigned(0)
        self.reads = 0

    def read_energy(self, _request: Request) -> Data:
        self.reads += 1
        if isinstance(self.energy, Exception):
            raise self.energy
        return self.energy  # type: ignore[return-value]  # a wrong type on purpose, sometimes

    def write_settable(self, _request: Request, value: Data) -> None:
        self.settable = value


def device(meter: Meter) -> LogicalDevice:
    objects = [
        CosemObject(interface_class(3), ENERGY, {2: Binding(get=meter.read_energy)}),
        CosemObject(
            interface_class(3),
            SETTABLE,
            {2: Binding(get=lambda _r: meter.settable, set=meter.write_settable)},
        ),
    ]
    rights = {
        ENERGY: ObjectRights({2: AttributeAccess.READ_ONLY}),
        SETTABLE: ObjectRights({2: AttributeAccess.READ_WRITE}),
    }
    policy = AssociationPolicy(
        name="public",
        logical_name=Obis(0, 0, 40, 0, 1, 255),
        client_sap=CLIENT,
        mechanism=AuthenticationMechanism.LOWEST,
        conformance=IMPLEMENTED_CONFORMANCE,
        rights=rights,
    )
    return LogicalDevice(objects, [policy], lambda _p, _s: LoginResult.ACCEPTED, lambda: None)


def associate(connection: ServerConnection, pdu: int = 0xFFFF) -> None:
    initiate = InitiateRequest(
        proposed_conformance=Conformance(0x001E1D), client_max_receive_pdu_size=pdu
    ).encode()
    answer = connection.receive(CLIENT, Aarq(user_information=initiate).encode())
    assert answer is not None
    assert decode_apdu(answer).result == AssociationResult.ACCEPTED  # type: ignore[union-attr]


def connected(meter: Meter) -> ServerConnection:
    connection = ServerConnection(device(meter), SERVER)
    associate(connection)
    return connection


def energy_answer(value: int) -> bytes:
    return H("C401C10006") + value.to_bytes(4, "big")


def test_a_polled_register_is_read_afresh_at_every_get() -> None:
    meter = Meter()
    connection = connected(meter)
    seen = []
    for value in (12345, 12346, 12346, 99999, 0):
        meter.energy = Data.double_long_unsigned(value)
        seen.append(connection.receive(CLIENT, GET_ENERGY))
    assert seen == [energy_answer(v) for v in (12345, 12346, 12346, 99999, 0)]
    assert meter.reads == 5
    assert connection._associations[CLIENT].answers  # the remembered path was the one taken


def test_a_set_shows_at_the_next_get_of_a_remembered_request() -> None:
    meter = Meter()
    connection = connected(meter)
    for _ in range(3):
        assert connection.receive(CLIENT, GET_SETTABLE) == H("C401C1000600000000")
    set_request = H("C101C1000300015E230BFF02000600002710")  # 10000, reference/dlms.md 5
    assert connection.receive(CLIENT, set_request) == H("C501C100")
    assert connection.receive(CLIENT, GET_SETTABLE) == H("C401C1000600002710")


def test_a_remembered_getter_that_refuses_or_fails_is_answered_as_ever() -> None:
    meter = Meter()
    connection = connected(meter)
    for _ in range(3):
        connection.receive(CLIENT, GET_ENERGY)
    assert connection._associations[CLIENT].answers
    meter.energy = CosemError(DataAccessResult.TEMPORARY_FAILURE, "busy")
    assert connection.receive(CLIENT, GET_ENERGY) == H("C401C10102")
    meter.energy = CosemError(DataAccessResult.SUCCESS, "no refusal at all")
    assert connection.receive(CLIENT, GET_ENERGY) == H("C401C101FA")  # other-reason (250)
    meter.energy = RuntimeError("the register's driver broke")
    assert connection.receive(CLIENT, GET_ENERGY) == H("C401C10101")  # hardware-fault
    meter.energy = 12345  # not Data
    assert connection.receive(CLIENT, GET_ENERGY) == H("C401C10101")
    meter.energy = Data.double_long_unsigned(7)
    assert connection.receive(CLIENT, GET_ENERGY) == energy_answer(7)


def test_nothing_remembered_survives_the_association() -> None:
    meter = Meter()
    connection = connected(meter)
    for _ in range(3):
        connection.receive(CLIENT, GET_ENERGY)
    assert connection.receive(CLIENT, RELEASE) == H("6303800100")
    assert connection.receive(CLIENT, GET_ENERGY) == H("D80101")  # not associated
    associate(connection)
    assert not connection._associations[CLIENT].answers
    assert connection.receive(CLIENT, GET_ENERGY) == energy_answer(12345)


def test_a_remembered_answer_too_long_for_the_client_goes_in_blocks() -> None:
    """The client's PDU size bounds the answer as on the full path: a long value read
    through a remembered request starts a block transfer."""
    meter = Meter()
    connection = ServerConnection(device(meter), SERVER)
    associate(connection, pdu=64)
    for _ in range(3):
        assert connection.receive(CLIENT, GET_ENERGY) == energy_answer(12345)
    meter.energy = Data.octet_string(bytes(200))
    answer = connection.receive(CLIENT, GET_ENERGY)
    assert answer is not None and answer[:3] == H("C402C1")  # get-response-with-datablock
    assert len(answer) <= 64
