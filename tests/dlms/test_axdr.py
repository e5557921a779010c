"""A-XDR codec: golden vectors of dlms.md 1 both ways, range checks, strict decoding and
round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.dlms.strategies import data_trees

from metertwin.codec.axdr import (
    MAX_DEPTH,
    BitString,
    CompactArray,
    Data,
    DataType,
    TypeDescription,
    decode,
    decode_length,
    decode_prefix,
    encode,
    encode_length,
)
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.errors import AxdrError, DlmsDecodeError
from metertwin.codec.obis import Obis


def _both_ways(hex_bytes: str, value: Data) -> None:
    raw = bytes.fromhex(hex_bytes)
    assert decode(raw) == value
    assert encode(value) == raw


def capture_object(class_id: int, name: str, attribute: int, data_index: int = 0) -> Data:
    """capture_object_definition (dlms.md 2.3)."""
    return Data.structure(
        [
            Data.long_unsigned(class_id),
            Data.octet_string(bytes(Obis.parse(name))),
            Data.integer(attribute),
            Data.long_unsigned(data_index),
        ]
    )


# --- golden vectors ------------------------------------------------------------------------


def test_float32_vector() -> None:
    """dlms.md 1.1: 230.5 = ``17 43668000`` (GXT OK)."""
    _both_ways("1743668000", Data.float32(230.5))


def test_scaler_unit_vector() -> None:
    """dlms.md 1.4: ``02 02 0F FF 16 23`` = scaler -1, unit 35 (V) (Aidon HAN push sample)."""
    _both_ways("02020FFF1623", Data.structure([Data.integer(-1), Data.enum(35)]))


def test_capture_object_definition_vector() -> None:
    """dlms.md 2.3: Clock time as a capture object
    (DC ``test_selective_access.py::test_capture_object_definition``)."""
    _both_ways(
        "0204120008090600000100 00FF0F02120000".replace(" ", ""),
        capture_object(8, "0.0.1.0.0.255", 2),
    )


def test_entry_descriptor_vector() -> None:
    """dlms.md 2.3: selector 2 parameters, entries 0..5, all columns
    (GS ``selectiveAccessDescriptor_test.go``; the leading ``02`` there is the selector)."""
    _both_ways(
        "020406000000000600000005120000120000",
        Data.structure(
            [
                Data.double_long_unsigned(0),
                Data.double_long_unsigned(5),
                Data.long_unsigned(0),
                Data.long_unsigned(0),
            ]
        ),
    )


def test_selected_values_vector() -> None:
    """dlms.md 5: the selected_values array of a range descriptor, two columns
    (GS ``get_test.go::TestClient_GetRequestByDateAndValues``)."""
    _both_ways(
        "0102020412000809060000010000FF0F02120000020412000109060000600A07FF0F02120000",
        Data.array(
            [capture_object(8, "0.0.1.0.0.255", 2), capture_object(1, "0.0.96.10.7.255", 2)]
        ),
    )


def test_octet_string_date_time_vector() -> None:
    """dlms.md 1.1 note and 5: clocks send date-time as ``09 0C`` + 12 octets
    (DC ``test_set.py::TestSetRequestNormal``: 2021-01-24 14:48:57.80, UTC+1)."""
    raw = bytes.fromhex("090C07E50118FF0E303950FFC400")
    value = decode(raw)
    assert value == Data.octet_string(raw[2:])
    when = CosemDateTime.from_bytes(value.as_bytes())
    assert (when.year, when.month, when.day, when.weekday) == (2021, 1, 24, None)
    assert (when.hour, when.minute, when.second, when.hundredths) == (14, 48, 57, 80)
    assert when.deviation == -60
    assert encode(Data.octet_string(when.to_bytes())) == raw


def test_length_vectors() -> None:
    """dlms.md 1.2: ``82 049E`` = 1182 (DC ``test_get_axdr_length``: ``82 0F0F`` = 0x0F0F)."""
    assert decode_length(bytes.fromhex("82049E"), 0) == (1182, 3)
    assert decode_length(bytes.fromhex("820F0F"), 0) == (0x0F0F, 3)
    assert encode_length(1182) == bytes.fromhex("82049E")
    assert encode_length(0x0F0F) == bytes.fromhex("820F0F")


@pytest.mark.parametrize(
    ("length", "prefix"),
    [(0, "00"), (0x7F, "7F"), (0x80, "8180"), (0xFF, "81FF"), (0x100, "820100"),
     (0xFFFF, "82FFFF"), (0x10000, "8400010000"), (0xFFFFFFFF, "84FFFFFFFF")],
)  # fmt: skip
def test_length_forms(length: int, prefix: str) -> None:
    """dlms.md 1.2: one octet below 0x80, else 0x81/0x82/0x84 and the value."""
    assert encode_length(length) == bytes.fromhex(prefix)
    assert decode_length(bytes.fromhex(prefix), 0) == (length, len(prefix) // 2)


def test_octet_string_with_long_length() -> None:
    """An octet-string of 1182 octets carries the ``82 049E`` length of dlms.md 1.2."""
    payload = bytes(range(256)) * 4 + bytes(158)
    raw = bytes.fromhex("0982049E") + payload
    _both_ways(raw.hex(), Data.octet_string(payload))


@pytest.mark.parametrize(
    ("hex_bytes", "value"),
    [
        ("00", Data.null()),
        ("FF", Data.dont_care()),
        ("0300", Data.boolean(False)),
        ("0301", Data.boolean(True)),
        ("05FFFFFFFF", Data.double_long(-1)),
        ("0600003039", Data.double_long_unsigned(12345)),
        ("0F80", Data.integer(-128)),
        ("108000", Data.long(-32768)),
        ("11FF", Data.unsigned(255)),
        ("12FFFF", Data.long_unsigned(65535)),
        ("148000000000000000", Data.long64(-(2**63))),
        ("15FFFFFFFFFFFFFFFF", Data.long64_unsigned(2**64 - 1)),
        ("1623", Data.enum(35)),
        ("0D12", Data.bcd(0x12)),
        ("183FF8000000000000", Data.float64(1.5)),
        ("0A055630343131", Data.visible_string("V0411")),
        ("0C03E282AC", Data.utf8_string("€")),
        ("040A FFC0".replace(" ", ""), Data.bit_string(BitString(0x3FF, 10))),
        ("0400", Data.bit_string(BitString(0, 0))),
        ("0100", Data.array([])),
        ("0200", Data.structure([])),
    ],
)
def test_simple_encodings(hex_bytes: str, value: Data) -> None:
    """dlms.md 1.1 layouts: tag, then fixed big-endian fields or length + content; a bit-string
    counts bits and starts at the MSB of its first octet."""
    _both_ways(hex_bytes, value)


def test_date_time_date_time_tags() -> None:
    """dlms.md 1.1: tags 25/26/27 carry 12/5/4 octets with no length octet (vector of 1.3)."""
    raw = bytes.fromhex("07E3 0C 13 04 02 00 00 00 FFC4 00".replace(" ", ""))
    value = decode(b"\x19" + raw)
    assert value.type == DataType.DATE_TIME
    assert isinstance(value.value, CosemDateTime)
    assert value.value.to_bytes() == raw
    date = decode(b"\x1a" + raw[:5])
    assert encode(date) == b"\x1a" + raw[:5]
    time = decode(bytes.fromhex("1B0E303950"))
    assert encode(time) == bytes.fromhex("1B0E303950")


def test_compact_array_of_simple_type() -> None:
    """Tag 0x13 (dlms.md 1.1): a description, then the contents as an octet-string of untagged
    values; the element count follows from the content length."""
    value = Data.compact_array(
        TypeDescription.simple(DataType.LONG_UNSIGNED),
        [Data.long_unsigned(1), Data.long_unsigned(2), Data.long_unsigned(0x1234)],
    )
    _both_ways("1312060001000212 34".replace(" ", ""), value)


def test_compact_array_of_structures() -> None:
    """Description ``02 <n> ...`` (structure) and ``01 <u16 n> <type>`` (array); no tags or
    counts inside the contents."""
    description = TypeDescription.structure(
        TypeDescription.simple(DataType.UNSIGNED),
        TypeDescription.array(2, TypeDescription.simple(DataType.OCTET_STRING)),
    )
    element = Data.structure(
        [Data.unsigned(7), Data.array([Data.octet_string(b"A"), Data.octet_string(b"")])]
    )
    _both_ways(
        "13 0202 11 01 0002 09 04 07 0141 00".replace(" ", ""),
        Data.compact_array(description, [element]),
    )


# --- range checks on construction/encode ------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "value"),
    [
        (Data.integer, 128),
        (Data.integer, -129),
        (Data.long, 32768),
        (Data.unsigned, -1),
        (Data.unsigned, 256),
        (Data.long_unsigned, 65536),
        (Data.double_long, 2**31),
        (Data.double_long_unsigned, 2**32),
        (Data.long64, 2**63),
        (Data.long64_unsigned, -1),
        (Data.enum, 256),
        (Data.bcd, 256),
        (Data.float32, 1e39),
    ],
)
def test_out_of_range_values_are_refused(builder: object, value: object) -> None:
    assert callable(builder)
    with pytest.raises(ValueError, match="outside"):
        builder(value)


def test_wrong_python_types_are_refused() -> None:
    with pytest.raises(TypeError, match="bool"):
        Data(DataType.BOOLEAN, 1)
    with pytest.raises(TypeError, match="int"):
        Data(DataType.UNSIGNED, True)
    with pytest.raises(TypeError, match="bytes"):
        Data(DataType.OCTET_STRING, "text")
    with pytest.raises(TypeError, match="Data"):
        Data(DataType.ARRAY, (1, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="U\\+00FF"):
        Data.visible_string("€")
    with pytest.raises(ValueError, match="not a DLMS data type"):
        Data(7, None)  # type: ignore[arg-type]


def test_compact_array_elements_must_match_description() -> None:
    with pytest.raises(ValueError, match="does not match"):
        CompactArray(TypeDescription.simple(DataType.UNSIGNED), (Data.long(1),))
    with pytest.raises(ValueError, match="cannot describe"):
        TypeDescription.simple(DataType.NULL_DATA)
    with pytest.raises(ValueError, match="count"):
        TypeDescription.array(0, TypeDescription.simple(DataType.UNSIGNED))


def test_encode_length_refuses_beyond_four_octets() -> None:
    with pytest.raises(ValueError, match="A-XDR length"):
        encode_length(2**32)


def test_bit_string_helpers() -> None:
    bits = BitString.from_bools([True, False, True])
    assert bits == BitString(0b101, 3)
    assert bits.to_bytes() == b"\xa0"
    assert bits.to_bools() == [True, False, True]
    assert bits[0] and not bits[1]
    assert BitString.from_bytes(b"\x00\x7e\x1f") == BitString(0x007E1F, 24)
    with pytest.raises(ValueError, match="do not fit"):
        BitString(8, 3)


# --- strict decoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_bytes", "problem"),
    [
        ("", "expected a data type tag"),
        ("07", "unknown data type tag 7"),
        ("0B", "unknown data type tag 11"),
        ("1C", "unknown data type tag 28"),
        ("12 00", "needs 2 octets"),
        ("09 05 0102", "needs 5 octets"),
        ("09 80", "length prefix 0x80"),
        ("09 83 000001 00", "length prefix 0x83"),
        ("09 85 0000000001 00", "length prefix 0x85"),
        ("09 82 01", "2-octet length"),
        ("01 84 FFFFFFFF", "4294967295 elements announced"),
        ("02 03 00 00", "3 elements announced"),
        ("02 02 00 12 00", "long-unsigned needs 2 octets"),
        ("0C 02 C328", "not UTF-8"),
        ("0403 ", "needs 1 octets"),
        ("19 07E4010100", "needs 12 octets"),
        ("19 07E40D01FF000300 00FF8800", "month 13"),
        ("19 07E40101FF000300 00FD0000", "deviation -768"),
        ("1A 07E4010108", "day of week 8"),
        ("1B 18000000", "hour 24"),
        ("13 00 00", "cannot describe"),
        ("13 02 00 00", "needs members"),
        ("13 01 0000 11 00", "1..65535 count"),
        ("13 13 11 00", "cannot describe"),
        ("13 07 00", "unknown data type tag 7"),
        ("13 12 03 000100", "needs 2 octets"),
        ("11 05 00", "1 octets after the value"),
    ],
)
def test_malformed_input_raises_axdr_error(hex_bytes: str, problem: str) -> None:
    with pytest.raises(AxdrError, match=problem):
        decode(bytes.fromhex(hex_bytes.replace(" ", "")))


def test_nesting_limit() -> None:
    """MAX_DEPTH containers decode; one more is refused, and a hostile depth costs nothing."""
    nested = b"\x01\x01" * MAX_DEPTH + b"\x00"
    value = decode(nested)
    for _ in range(MAX_DEPTH):
        (value,) = value.as_items()
    assert value == Data.null()
    with pytest.raises(AxdrError, match="nesting deeper"):
        decode(b"\x01\x01" * (MAX_DEPTH + 1) + b"\x00")
    with pytest.raises(AxdrError, match="nesting deeper"):
        decode(b"\x02\x01" * 200_000 + b"\x00")


def test_compact_description_nesting_limit() -> None:
    deep = b"\x13" + b"\x02\x01" * (MAX_DEPTH + 5) + b"\x11" + b"\x01\x00"
    with pytest.raises(AxdrError, match="deeper"):
        decode(deep)


def test_decode_prefix_returns_next_offset() -> None:
    raw = bytes.fromhex("AA 1100 12ABCD 00".replace(" ", ""))
    first, at = decode_prefix(raw, 1)
    assert (first, at) == (Data.unsigned(0), 3)
    second, at = decode_prefix(raw, at)
    assert (second, at) == (Data.long_unsigned(0xABCD), 6)


def test_visible_string_octets_survive_a_round_trip() -> None:
    """Meters put any octet in visible-strings; each maps to one code point, so none is lost."""
    raw = b"\x0a\x03\x00\x7f\xff"
    assert encode(decode(raw)) == raw


def test_boolean_nonzero_reads_true() -> None:
    assert decode(b"\x03\x05") == Data.boolean(True)


def test_nan_survives_encoding() -> None:
    value = decode(encode(Data.float64(math.nan)))
    assert math.isnan(value.as_float())


def test_typed_accessors() -> None:
    assert Data.enum(3).as_int() == 3
    assert Data.octet_string(b"x").as_bytes() == b"x"
    assert Data.structure([Data.null()]).as_items() == (Data.null(),)
    with pytest.raises(TypeError, match="not an integer"):
        Data.octet_string(b"x").as_int()
    with pytest.raises(TypeError, match="no elements"):
        Data.unsigned(1).as_items()


# --- properties ----------------------------------------------------------------------------


@given(data_trees)
def test_round_trip(value: Data) -> None:
    raw = encode(value)
    assert decode(raw) == value
    assert decode_prefix(raw + b"\x00", 0) == (value, len(raw))


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_axdr_errors(raw: bytes) -> None:
    try:
        value = decode(raw)
    except AxdrError:
        return
    assert encode(value) == raw or encode(decode(encode(value))) == encode(value)


@given(data_trees, st.data())
def test_mutated_encodings_raise_only_axdr_errors(value: Data, data: st.DataObject) -> None:
    raw = bytearray(encode(value))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and where < len(raw):
            raw[where] = data.draw(st.integers(0, 255))
        elif action == "insert":
            raw[where:where] = bytes([data.draw(st.integers(0, 255))])
        elif action == "delete":
            del raw[where : where + 1]
        else:
            del raw[where:]
    try:
        decoded = decode(bytes(raw))
    except DlmsDecodeError as problem:
        assert isinstance(problem, AxdrError)
        return
    canonical = encode(decoded)
    assert encode(decode(canonical)) == canonical


def test_pre_encoded_array_items_encode_like_the_items_themselves() -> None:
    """EncodedItems (profile buffers built as octets) must be byte-identical to the same
    array of Data, and read back as those Data."""
    from metertwin.codec.axdr import EncodedItems

    items = [
        Data.structure([Data.double_long_unsigned(k), Data.long_unsigned(2301)]) for k in range(200)
    ]
    body = b"".join(encode(item) for item in items)
    fast = Data(DataType.ARRAY, EncodedItems(len(items), body))
    assert encode(fast) == encode(Data.array(items))
    assert fast.as_items() == tuple(items)
