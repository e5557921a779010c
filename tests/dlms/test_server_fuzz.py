"""Fuzzing the sans-IO server (architecture principle 7): random octets, well-formed APDUs of every
class and mutations of the reference requests, alone and in sequences on one connection. The
server never raises, never fails inside (no ``D80103``), answers with a decodable APDU or
nothing, and never sends more than the client's max receive PDU size."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.dlms.strategies import apdus
from tests.dlms.test_server import (
    BLOB,
    CLOCK,
    DISCONNECT,
    ECHO_CLASS,
    PUBLIC_SAP,
    READER_PASSWORD,
    READER_SAP,
    FakeBackend,
    aarq,
    connect,
    initiate,
)

from metertwin.codec.axdr import Data
from metertwin.codec.enums import AuthenticationMechanism
from metertwin.dlms.apdu import (
    ActionRequestNextPblock,
    ActionRequestWithFirstPblock,
    ActionRequestWithList,
    ActionRequestWithListAndFirstPblock,
    ActionRequestWithPblock,
    AttributeDescriptor,
    AttributeWithSelection,
    DataBlock,
    InvokeIdAndPriority,
    MethodDescriptor,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetRequestWithList,
    SetRequestWithListAndFirstDatablock,
    decode_apdu,
)
from metertwin.dlms.server.connection import ServerConnection, ServerSettings
from metertwin.dlms.server.session import INTERNAL_FAULT

H = bytes.fromhex
INVOKE = InvokeIdAndPriority(1)
BLOB_VALUE = AttributeDescriptor(1, BLOB, 2)
CLOCK_ZONE = AttributeDescriptor(8, CLOCK, 3)
ECHO = MethodDescriptor(ECHO_CLASS, BLOB, 1)

VALID_REQUESTS = [
    H(raw)
    for raw in (
        "C001C100080000010000FF0300",
        "C001C1000100002B0100FF0200",
        "C001C100070100630100FF0200",
        "C002C100000001",
        "C003C102000100002A0000FF020000080000010000FF0200",
        "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000090C07E10A010700"
        "000000FFC480090C07E10A010701000000FFC4800100",
        "C101C100080000010000FF0200090C07E50118FF0E303950FFC400",
        "C101C1000300015E230BFF02000600002710",
        "C301C10046000060030AFF01010F00",
        "C301C0000F0000280000FF0100",
        "6203800100",
        "6200",
        "601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0",
        "6036A1090607608574050801018A0207808B0760857405080201AC0A80083030303030303031"
        "BE10040E01000000065F1F0400007E1F0040",
    )
] + [
    request.encode()
    for request in (
        SetRequestWithFirstDatablock(
            invoke=INVOKE, attribute=BLOB_VALUE, block=DataBlock(False, 1, H("0903"))
        ),
        SetRequestWithDatablock(invoke=INVOKE, block=DataBlock(True, 2, H("010203"))),
        SetRequestWithList(
            invoke=INVOKE,
            attributes=(AttributeWithSelection(BLOB_VALUE), AttributeWithSelection(CLOCK_ZONE)),
            values=(Data.octet_string(b"x"), Data.long(60)),
        ),
        SetRequestWithListAndFirstDatablock(
            invoke=INVOKE,
            attributes=(AttributeWithSelection(BLOB_VALUE), AttributeWithSelection(CLOCK_ZONE)),
            block=DataBlock(False, 1, H("020901")),
        ),
        ActionRequestNextPblock(invoke=INVOKE, block_number=1),
        ActionRequestWithList(
            invoke=INVOKE,
            methods=(MethodDescriptor(70, DISCONNECT, 1), ECHO),
            parameters=(Data.integer(0), Data.octet_string(bytes(30))),
        ),
        ActionRequestWithFirstPblock(
            invoke=INVOKE, method=ECHO, block=DataBlock(False, 1, H("09"))
        ),
        ActionRequestWithPblock(invoke=INVOKE, block=DataBlock(True, 2, H("0301"))),
        ActionRequestWithListAndFirstPblock(
            invoke=INVOKE, methods=(ECHO, ECHO), block=DataBlock(False, 1, H("02"))
        ),
    )
]


def check_answer(connection: ServerConnection, client_sap: int, apdu: bytes) -> None:
    associated_before = connection.associations.get(client_sap)
    answer = connection.receive(client_sap, apdu)
    assert answer != INTERNAL_FAULT, apdu.hex()
    if answer is None:
        return
    decode_apdu(answer)
    is_acse = apdu[:1] in (b"\x60", b"\x62")
    if associated_before is not None and not is_acse:
        assert len(answer) <= associated_before.client_max_receive_pdu_size


def mutate(raw: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, octet) edits: 0 replace, 1 insert, 2 delete, 3 truncate."""
    data = bytearray(raw)
    for kind, position, octet in edits:
        if not data:
            data.append(octet)
            continue
        where = position % len(data)
        if kind == 0:
            data[where] = octet
        elif kind == 1:
            data.insert(where, octet)
        elif kind == 2:
            del data[where]
        else:
            del data[where:]
    return bytes(data)


edits = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 1000), st.integers(0, 255)), min_size=1, max_size=4
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=300), client_sap=st.sampled_from([PUBLIC_SAP, READER_SAP, 0x7F]))
def test_random_octets_before_association(raw: bytes, client_sap: int) -> None:
    connection = ServerConnection(FakeBackend(), 1)
    check_answer(connection, client_sap, raw)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=300), pdu=st.integers(12, 200))
def test_random_octets_in_an_association(raw: bytes, pdu: int) -> None:
    connection, _ = connect(pdu=pdu)
    check_answer(connection, READER_SAP, raw)
    check_answer(connection, READER_SAP, H("C001C100080000010000FF0300"))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(VALID_REQUESTS),
    edit=edits,
    pdu=st.integers(12, 120),
    associated=st.booleans(),
)
def test_mutated_reference_requests(
    base: bytes, edit: list[tuple[int, int, int]], pdu: int, associated: bool
) -> None:
    if associated:
        connection, _ = connect(pdu=pdu)
    else:
        connection = ServerConnection(FakeBackend(), 1)
    check_answer(connection, READER_SAP, mutate(base, edit))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(apdu=apdus, pdu=st.integers(12, 120))
def test_every_apdu_class(apdu: object, pdu: int) -> None:
    """Well-formed APDUs of all 36 classes, as a client might (wrongly) send any of them."""
    connection, _ = connect(pdu=pdu)
    check_answer(connection, READER_SAP, apdu.encode())  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.one_of(
            st.sampled_from(VALID_REQUESTS),
            st.tuples(st.sampled_from(VALID_REQUESTS), edits).map(lambda pair: mutate(*pair)),
            st.binary(max_size=40),
        ),
        max_size=25,
    ),
    pdu=st.integers(12, 100),
    server_pdu=st.integers(12, 300),
)
def test_sequences_on_one_connection(steps: list[bytes], pdu: int, server_pdu: int) -> None:
    """State survives any sequence: block transfers interrupted, re-associations, releases."""
    backend = FakeBackend()
    connection = ServerConnection(
        backend, 1, ServerSettings(max_receive_pdu_size=server_pdu, max_long_transfer_size=64)
    )
    login = aarq(AuthenticationMechanism.LOW, READER_PASSWORD, initiate(0x001E1D, pdu))
    check_answer(connection, READER_SAP, login)
    for step in steps:
        check_answer(connection, READER_SAP, step)
        check_answer(connection, PUBLIC_SAP, step)
    connection.close()
    assert len(backend.released_calls) == len(backend.associated_calls)
