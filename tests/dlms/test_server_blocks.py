"""Block transfer through the sans-IO server (dlms.md 2.4, 5 "Datablock sequence"): long GET
answers, SET data and ACTION parameters arriving in blocks, long ACTION return data; round trips
for large values with small PDU sizes, and every refusal of a broken sequence."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.dlms.test_server import (
    BLOB,
    CLOCK,
    ECHO_CLASS,
    READER_SAP,
    FakeBackend,
    connect,
)

from metertwin.codec.axdr import Data, encode, encode_length
from metertwin.codec.enums import ActionResult, DataAccessResult
from metertwin.dlms.apdu import (
    ActionRequestNextPblock,
    ActionRequestWithFirstPblock,
    ActionRequestWithListAndFirstPblock,
    ActionRequestWithPblock,
    ActionResponseNextPblock,
    ActionResponseNormal,
    ActionResponseWithList,
    ActionResponseWithPblock,
    AttributeDescriptor,
    AttributeWithSelection,
    DataBlock,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseWithDatablock,
    InvokeIdAndPriority,
    MethodDescriptor,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetRequestWithListAndFirstDatablock,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseLastDatablockWithList,
    decode_apdu,
)
from metertwin.dlms.server.connection import ServerConnection, ServerSettings
from metertwin.dlms.server.session import block_room

H = bytes.fromhex
INVOKE = InvokeIdAndPriority(1)
BLOB_VALUE = AttributeDescriptor(1, BLOB, 2)
ECHO = MethodDescriptor(ECHO_CLASS, BLOB, 1)


def get_next(block_number: int) -> bytes:
    return GetRequestNext(invoke=INVOKE, block_number=block_number).encode()


def read_all_blocks(connection: ServerConnection, first: bytes | None, limit: int) -> bytes:
    """Follow a long GET to its end as a client does; the raw data of every block, joined."""
    raw = b""
    expected = 1
    answer = first
    while True:
        assert answer is not None and len(answer) <= limit
        block = decode_apdu(answer)
        assert isinstance(block, GetResponseWithDatablock)
        assert block.block_number == expected
        assert isinstance(block.result, bytes)
        raw += block.result
        if block.last_block:
            return raw
        answer = connection.receive(READER_SAP, get_next(expected))
        expected += 1


def test_reference_datablock_sequence() -> None:
    """dlms.md 5, gosem get_test TestClient_GetRequestWithDataBlock: an array of 5
    double-long-unsigned read in blocks. A client PDU of 22 octets leaves 12 octets of raw data
    per block, so the first block is the reference's byte for byte; the meter of the reference
    cut later blocks at element boundaries (10 and 5 octets) where this server fills each
    block, so for those the raw data must concatenate to the same value."""
    connection, _ = connect(pdu=22)
    first = connection.receive(READER_SAP, H("C001C100070100630100FF0200"))
    assert first == H("C402C10000000001000C010506000000010600000002")
    second = connection.receive(READER_SAP, H("C002C100000001"))
    assert second == H("C402C10000000002000C" + "060000000306000000040600")
    third = connection.receive(READER_SAP, H("C002C100000002"))
    assert third == H("C402C10100000003" + "0003" + "000005")
    reference_raw = H("010506000000010600000002" + "06000000030600000004" + "0600000005")
    assert first[10:] + second[10:] + third[10:] == reference_raw


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 3000), pdu=st.integers(12, 400), invoke_id=st.integers(0, 15))
def test_long_get_round_trip(size: int, pdu: int, invoke_id: int) -> None:
    backend = FakeBackend()
    value = Data.octet_string(bytes(i % 251 for i in range(size)))
    backend.values[(1, BLOB, 2)] = value
    connection, _ = connect(backend, pdu=pdu)
    invoke = InvokeIdAndPriority(invoke_id)
    request = GetRequestNormal(invoke=invoke, attribute=BLOB_VALUE).encode()
    answer = connection.receive(READER_SAP, request)
    assert answer is not None and len(answer) <= pdu
    if answer[1] == 1:  # fitted in one get-response-normal
        assert answer == bytes((0xC4, 0x01, invoke.to_byte(), 0x00)) + encode(value)
        return
    assert answer[2] == invoke.to_byte()
    assert read_all_blocks(connection, answer, pdu) == encode(value)


@settings(max_examples=30, deadline=None)
@given(pdu=st.integers(12, 200), count=st.integers(1, 12))
def test_long_get_with_list_round_trip(pdu: int, count: int) -> None:
    """With-list answers in blocks carry the SEQUENCE OF Get-Data-Result."""
    connection, backend = connect(pdu=pdu)
    items = [
        AttributeWithSelection(BLOB_VALUE),
        AttributeWithSelection(AttributeDescriptor(8, CLOCK, 9)),
    ]
    attributes = tuple(items[i % 2] for i in range(count))
    request = GetRequestWithList(invoke=INVOKE, attributes=attributes).encode()
    answer = connection.receive(READER_SAP, request)
    expected = encode_length(count) + b"".join(
        b"\x00" + encode(backend.values[(1, BLOB, 2)]) if i % 2 == 0 else b"\x01\x04"
        for i in range(count)
    )
    assert read_all_blocks(connection, answer, pdu) == expected


def test_get_next_with_a_wrong_block_number_ends_the_transfer() -> None:
    connection, _ = connect(pdu=64)
    first = connection.receive(
        READER_SAP, GetRequestNormal(invoke=INVOKE, attribute=BLOB_VALUE).encode()
    )
    assert first is not None and first[:8] == H("C402C10000000001")
    assert connection.receive(READER_SAP, get_next(5)) == H("C402C1010000000501" + "13")
    # the transfer is over: even the right number now finds none in progress
    assert connection.receive(READER_SAP, get_next(1)) == H("C402C1010000000101" + "10")


def test_get_next_without_a_transfer() -> None:
    connection, _ = connect()
    assert connection.receive(READER_SAP, H("C002C100000001")) == H("C402C101000000010110")


def test_a_new_request_abandons_a_long_get() -> None:
    connection, _ = connect(pdu=64)
    connection.receive(READER_SAP, GetRequestNormal(invoke=INVOKE, attribute=BLOB_VALUE).encode())
    assert connection.receive(READER_SAP, H("C001C100080000010000FF0300")) == H("C401C10010003C")
    assert connection.receive(READER_SAP, get_next(1)) == H("C402C101000000010110")


def test_too_long_without_block_transfer_is_other_reason() -> None:
    connection, _ = connect(pdu=64, conformance=0x000E1D)  # no block-transfer-with-get
    request = GetRequestNormal(invoke=INVOKE, attribute=BLOB_VALUE).encode()
    assert connection.receive(READER_SAP, request) == H("C401C101FA")


def test_block_room_fills_the_pdu_exactly() -> None:
    for limit in range(12, 70000, 7):
        for head in (8, 9):
            room = block_room(limit, head)
            assert head + len(encode_length(room)) + room <= limit
            assert head + len(encode_length(room + 1)) + room + 1 > limit


# --- SET with data blocks ------------------------------------------------------------------------


def set_blocks(value: bytes, cuts: list[int]) -> list[DataBlock]:
    pieces = [value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True)]
    return [DataBlock(i == len(pieces) - 1, i + 1, piece) for i, piece in enumerate(pieces)]


def test_set_datablock_reference_acknowledgements() -> None:
    """dlms.md 5, gosem set_test TestClient_SetRequestWithDataBlock: C502C100000001,
    C502C100000002, then C503C10000000003 (success after block 3)."""
    connection, backend = connect()
    value = Data.octet_string(bytes(range(200)))
    blocks = set_blocks(encode(value), [60, 130])
    first = SetRequestWithFirstDatablock(invoke=INVOKE, attribute=BLOB_VALUE, block=blocks[0])
    assert connection.receive(READER_SAP, first.encode()) == H("C502C100000001")
    second = SetRequestWithDatablock(invoke=INVOKE, block=blocks[1])
    assert connection.receive(READER_SAP, second.encode()) == H("C502C100000002")
    third = SetRequestWithDatablock(invoke=INVOKE, block=blocks[2])
    assert connection.receive(READER_SAP, third.encode()) == H("C503C10000000003")
    assert backend.values[(1, BLOB, 2)] == value


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_set_in_blocks_round_trip(data: st.DataObject) -> None:
    connection, backend = connect()
    value = Data.octet_string(data.draw(st.binary(min_size=0, max_size=2000)))
    raw = encode(value)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(raw) - 1)), max_size=10)))
    cuts = [cut for cut in cuts if cut < len(raw)]
    blocks = set_blocks(raw, cuts)
    answers = [
        connection.receive(
            READER_SAP,
            SetRequestWithFirstDatablock(
                invoke=INVOKE, attribute=BLOB_VALUE, block=blocks[0]
            ).encode(),
        )
    ]
    for block in blocks[1:]:
        answers.append(
            connection.receive(
                READER_SAP, SetRequestWithDatablock(invoke=INVOKE, block=block).encode()
            )
        )
    for number, answer in enumerate(answers[:-1], start=1):
        assert decode_apdu(answer or b"") == SetResponseDatablock(
            invoke=INVOKE, block_number=number
        )
    assert decode_apdu(answers[-1] or b"") == SetResponseLastDatablock(
        invoke=INVOKE, result=DataAccessResult.SUCCESS, block_number=len(blocks)
    )
    assert backend.values[(1, BLOB, 2)] == value


def test_set_block_refusals() -> None:
    connection, backend = connect()
    raw = encode(Data.octet_string(bytes(100)))
    blocks = set_blocks(raw, [40])
    # a block without a transfer
    lone = SetRequestWithDatablock(invoke=INVOKE, block=blocks[1]).encode()
    assert connection.receive(READER_SAP, lone) == H("C503C11200000002")
    # a first block not numbered 1
    wrong_first = SetRequestWithFirstDatablock(
        invoke=INVOKE, attribute=BLOB_VALUE, block=DataBlock(False, 2, raw[:40])
    ).encode()
    assert connection.receive(READER_SAP, wrong_first) == H("C503C11300000002")
    # a skipped block ends the transfer
    first = SetRequestWithFirstDatablock(invoke=INVOKE, attribute=BLOB_VALUE, block=blocks[0])
    assert connection.receive(READER_SAP, first.encode()) == H("C502C100000001")
    skipped = SetRequestWithDatablock(invoke=INVOKE, block=DataBlock(True, 3, raw[40:])).encode()
    assert connection.receive(READER_SAP, skipped) == H("C503C11300000003")
    assert connection.receive(READER_SAP, lone) == H("C503C11200000002")
    # assembled octets that are not one Data
    broken = SetRequestWithFirstDatablock(
        invoke=INVOKE, attribute=BLOB_VALUE, block=DataBlock(True, 1, raw[:-1])
    ).encode()
    assert connection.receive(READER_SAP, broken) == H("C503C1FA00000001")
    assert backend.writes == []


def test_set_in_blocks_is_bounded() -> None:
    connection, backend = connect(settings=ServerSettings(max_long_transfer_size=100))
    raw = encode(Data.octet_string(bytes(150)))
    blocks = set_blocks(raw, [90])
    first = SetRequestWithFirstDatablock(invoke=INVOKE, attribute=BLOB_VALUE, block=blocks[0])
    assert connection.receive(READER_SAP, first.encode()) == H("C502C100000001")
    second = SetRequestWithDatablock(invoke=INVOKE, block=blocks[1]).encode()
    assert connection.receive(READER_SAP, second) == H("C503C11100000002")  # long-set-aborted
    assert backend.writes == []


def test_set_with_list_in_blocks() -> None:
    connection, backend = connect()
    attributes = (
        AttributeWithSelection(BLOB_VALUE),
        AttributeWithSelection(AttributeDescriptor(8, CLOCK, 3)),
    )
    raw = encode_length(2) + encode(Data.octet_string(b"xyz")) + encode(Data.long(120))
    first = SetRequestWithListAndFirstDatablock(
        invoke=INVOKE, attributes=attributes, block=DataBlock(False, 1, raw[:4])
    )
    assert connection.receive(READER_SAP, first.encode()) == H("C502C100000001")
    rest = SetRequestWithDatablock(invoke=INVOKE, block=DataBlock(True, 2, raw[4:]))
    assert decode_apdu(connection.receive(READER_SAP, rest.encode()) or b"") == (
        SetResponseLastDatablockWithList(
            invoke=INVOKE, results=(DataAccessResult.SUCCESS,) * 2, block_number=2
        )
    )
    assert backend.values[(8, CLOCK, 3)] == Data.long(120)
    # the wrong number of values: nothing written, one refusal per attribute
    short = SetRequestWithListAndFirstDatablock(
        invoke=INVOKE, attributes=attributes, block=DataBlock(True, 1, encode_length(1) + raw[1:6])
    )
    assert connection.receive(READER_SAP, short.encode()) == H("C504C102FAFA00000001")


def test_set_in_blocks_needs_its_conformance() -> None:
    connection, _ = connect(conformance=0x00161D)  # no block-transfer-with-set
    first = SetRequestWithFirstDatablock(
        invoke=INVOKE, attribute=BLOB_VALUE, block=DataBlock(True, 1, H("0900"))
    )
    assert connection.receive(READER_SAP, first.encode()) == H("D80102")


# --- ACTION with parameter blocks ----------------------------------------------------------------


def test_action_parameters_in_blocks() -> None:
    connection, backend = connect()
    parameters = Data.octet_string(b"abcdef")
    raw = encode(parameters)
    first = ActionRequestWithFirstPblock(
        invoke=INVOKE, method=ECHO, block=DataBlock(False, 1, raw[:3])
    )
    assert decode_apdu(connection.receive(READER_SAP, first.encode()) or b"") == (
        ActionResponseNextPblock(invoke=INVOKE, block_number=1)
    )
    last = ActionRequestWithPblock(invoke=INVOKE, block=DataBlock(True, 2, raw[3:]))
    assert decode_apdu(connection.receive(READER_SAP, last.encode()) or b"") == (
        ActionResponseNormal(
            invoke=INVOKE, result=ActionResult.SUCCESS, return_parameters=parameters
        )
    )
    assert backend.actions == [(ECHO, parameters)]


def test_action_block_refusals() -> None:
    connection, backend = connect()
    raw = encode(Data.octet_string(b"abcdef"))
    lone = ActionRequestWithPblock(invoke=INVOKE, block=DataBlock(True, 2, raw[3:])).encode()
    assert connection.receive(READER_SAP, lone) == H("C701C11000")  # no-long-action-in-progress
    first = ActionRequestWithFirstPblock(
        invoke=INVOKE, method=ECHO, block=DataBlock(False, 1, raw[:3])
    )
    connection.receive(READER_SAP, first.encode())
    skipped = ActionRequestWithPblock(invoke=INVOKE, block=DataBlock(True, 3, raw[3:])).encode()
    assert connection.receive(READER_SAP, skipped) == H("C701C10F00")  # long-action-aborted
    wrong_first = ActionRequestWithFirstPblock(
        invoke=INVOKE, method=ECHO, block=DataBlock(True, 0, raw)
    )
    assert connection.receive(READER_SAP, wrong_first.encode()) == H("C701C10F00")
    broken = ActionRequestWithFirstPblock(
        invoke=INVOKE, method=ECHO, block=DataBlock(True, 1, raw[:-1])
    )
    assert connection.receive(READER_SAP, broken.encode()) == H("C701C1FA00")
    assert backend.actions == []


def test_action_with_list_and_parameter_blocks() -> None:
    connection, _ = connect()
    methods = (ECHO, MethodDescriptor(70, CLOCK, 1))
    raw = encode_length(2) + encode(Data.unsigned(5)) + encode(Data.integer(0))
    first = ActionRequestWithListAndFirstPblock(
        invoke=INVOKE, methods=methods, block=DataBlock(True, 1, raw)
    )
    answer = decode_apdu(connection.receive(READER_SAP, first.encode()) or b"")
    assert isinstance(answer, ActionResponseWithList)
    assert [o.result for o in answer.results] == [
        ActionResult.SUCCESS,
        ActionResult.OBJECT_CLASS_INCONSISTENT,
    ]
    assert answer.results[0].return_parameters == Data.unsigned(5)


def action_blocks(connection: ServerConnection, first: bytes | None, limit: int) -> bytes:
    raw = b""
    expected = 1
    answer = first
    while True:
        assert answer is not None and len(answer) <= limit
        response = decode_apdu(answer)
        assert isinstance(response, ActionResponseWithPblock)
        assert response.block.block_number == expected
        raw += response.block.raw_data
        if response.block.last_block:
            return raw
        answer = connection.receive(
            READER_SAP, ActionRequestNextPblock(invoke=INVOKE, block_number=expected).encode()
        )
        expected += 1


@settings(max_examples=40, deadline=None)
@given(size=st.integers(20, 990), pdu=st.integers(12, 300))
def test_long_action_return_data_round_trip(size: int, pdu: int) -> None:
    """Return data leave in pblocks whose raw data is the Action-Response-With-Optional-Data."""
    connection, _ = connect(pdu=pdu)
    parameters = Data.octet_string(bytes(i % 7 for i in range(size)))
    request = b"\xc3\x01\xc1" + ECHO.to_bytes() + b"\x01" + encode(parameters)
    answer = connection.receive(READER_SAP, request)
    expected = b"\x00\x01\x00" + encode(parameters)
    if len(expected) + 3 <= pdu:
        assert answer == b"\xc7\x01\xc1" + expected
    else:
        assert action_blocks(connection, answer, pdu) == expected


def test_action_next_pblock_refusals() -> None:
    connection, _ = connect(pdu=40)
    next_block = ActionRequestNextPblock(invoke=INVOKE, block_number=1).encode()
    assert connection.receive(READER_SAP, next_block) == H("C701C11000")
    request = b"\xc3\x01\xc1" + ECHO.to_bytes() + b"\x01" + encode(Data.octet_string(bytes(100)))
    first = connection.receive(READER_SAP, request)
    assert first is not None and first[:3] == H("C702C1")
    wrong = ActionRequestNextPblock(invoke=INVOKE, block_number=4).encode()
    assert connection.receive(READER_SAP, wrong) == H("C701C10F00")
    assert connection.receive(READER_SAP, next_block) == H("C701C11000")


def test_long_action_return_without_block_transfer() -> None:
    """Done, but the data cannot travel: success with return data-access-result other-reason,
    the shape of dlms.md 5 (DC TestActionResponseWithError, C701C0000101FA)."""
    connection, backend = connect(pdu=40, conformance=0x001A1D)  # no block-transfer-with-action
    request = b"\xc3\x01\xc1" + ECHO.to_bytes() + b"\x01" + encode(Data.octet_string(bytes(100)))
    assert connection.receive(READER_SAP, request) == H("C701C1000101FA")
    assert len(backend.actions) == 1
