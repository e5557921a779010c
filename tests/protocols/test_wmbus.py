"""The wM-Bus codec (`protocols/wmbus_link.py`, `protocols/wmbus_app.py`): the OMS Annex N
example decodes to its published values with its CRCs and key; formats A and B and mode 5
round-trip; a bad CRC, a truncated frame and a wrong key are refused with their reason;
random bytes never raise anything but `WmbusError`. Vectors: tests/protocols/wmbus_vectors.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocols.wmbus_vectors import (
    KEY,
    OMS_GAS,
    OMS_GAS_KEY,
    OMS_GAS_PLAIN,
    WATER,
    mode5_telegram,
    plain_telegram,
)

from metertwin.protocols.wmbus_app import Record, decode_records, decode_telegram, mode5_iv
from metertwin.protocols.wmbus_link import (
    BAD_CRC,
    MALFORMED,
    TRUNCATED,
    UNSUPPORTED,
    WRONG_KEY,
    Address,
    WmbusError,
    crc16,
    encode_frame,
    manufacturer_code,
    manufacturer_field,
    parse_frame,
)


def test_the_oms_example_checks_its_crcs_and_decodes_to_the_published_values() -> None:
    """OMS Vol. 2 Annex N, N.1.1: the CRC of each block is as printed, the IV is M A then
    8 x the access number, the plain text is the Annex's."""
    frame = parse_frame(OMS_GAS)
    assert frame.frame_format == "A"
    assert frame.address == Address("ELS", "12345678", 0x33, 0x03)
    assert (frame.control, frame.ci) == (0x44, 0x7A)
    assert [crc16(OMS_GAS[0:10]), crc16(OMS_GAS[12:28])] == [0x3363, 0xC2AD]
    telegram = decode_telegram(frame, OMS_GAS_KEY)
    assert telegram.header is not None
    assert (telegram.header.access_number, telegram.header.mode) == (0x2A, 5)
    assert mode5_iv(telegram.header) == bytes.fromhex("9315785634123303") + b"\x2a" * 8
    assert telegram.plain == OMS_GAS_PLAIN
    assert [(r.quantity, r.value, r.unit) for r in telegram.records] == [
        ("volume", 28504.27, "m3"),
        ("date and time", "2008-05-31T23:50", ""),
        ("error flags", 0, ""),
    ]


def test_manufacturer_letters_pack_in_15_bits() -> None:
    """ELS = 0x1593 (the OMS example's M-field 93 15); AMB = 0x05A2 (Amber Wireless
    AMB8426-M manual, section 10, its example "Manufacturer: AMB (0x05A2)")."""
    assert manufacturer_field("ELS") == 0x1593 and manufacturer_code(0x1593) == "ELS"
    assert manufacturer_field("AMB") == 0x05A2 and manufacturer_code(0x05A2) == "AMB"
    assert manufacturer_code(0x8000).startswith("?")
    with pytest.raises(ValueError):
        manufacturer_field("E1S")


@pytest.mark.parametrize("frame_format", ["A", "B"])
def test_a_mode5_telegram_decodes_its_records_in_either_format(frame_format: str) -> None:
    raw = mode5_telegram(frame_format=frame_format)  # type: ignore[arg-type]
    frame = parse_frame(raw)
    assert frame.frame_format == frame_format and frame.address == WATER
    records = decode_telegram(frame, KEY).records
    assert [r.describe() for r in records] == [
        "volume: 12.345 m3",
        "fabrication number: 98765432",
        "date: 2017-12-31 (storage 1)",
        "energy: 1000 Wh (tariff 1)",
    ]


def test_the_long_header_names_the_meter_behind_a_radio_adapter() -> None:
    """CI 0x72: the IV and the sender are the transport header's meter, not the adapter."""
    telegram = decode_telegram(parse_frame(mode5_telegram(long_header=True)), KEY)
    assert telegram.link.address.manufacturer == "ABB"
    assert telegram.sender == WATER
    assert telegram.records[0].value == 12.345


def test_a_long_format_b_frame_has_a_third_block() -> None:
    """Format B: more than 128 bytes puts the rest in block 3 with its own CRC."""
    records = b"\x2f\x2f" + bytes.fromhex("0413e8030000") * 24
    raw = mode5_telegram(records=records, frame_format="B")
    assert len(raw) > 128 and raw[0] == len(raw) - 1
    assert len(decode_telegram(parse_frame(raw), KEY).records) == 24
    spoiled = raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:]
    with pytest.raises(WmbusError) as refused:
        parse_frame(spoiled)
    assert refused.value.reason == BAD_CRC


def test_bad_crc_truncated_and_wrong_key_are_refused_with_their_reason() -> None:
    spoiled = bytearray(OMS_GAS)
    spoiled[20] ^= 0x01
    cases = [
        (bytes(spoiled), OMS_GAS_KEY, BAD_CRC),
        (OMS_GAS[:-5], OMS_GAS_KEY, TRUNCATED),
        (OMS_GAS[:6], OMS_GAS_KEY, TRUNCATED),
        (OMS_GAS, bytes(16), WRONG_KEY),
        (OMS_GAS, None, WRONG_KEY),
        (OMS_GAS + b"\x00" * 30, OMS_GAS_KEY, MALFORMED),
    ]
    for raw, key, reason in cases:
        with pytest.raises(WmbusError) as refused:
            decode_telegram(parse_frame(raw), key)
        assert refused.value.reason == reason, (raw.hex(), refused.value)


def test_a_truncated_payload_under_good_crcs_is_refused() -> None:
    """The L-field and CRCs are right, but the encrypted blocks announced are not all there."""
    full = mode5_telegram(frame_format="none")
    frame = parse_frame(full, "none")
    cut = encode_frame(frame.address, frame.ci, frame.data[:-16])
    with pytest.raises(WmbusError) as refused:
        decode_telegram(parse_frame(cut), KEY)
    assert refused.value.reason == TRUNCATED


def test_mode7_and_other_ci_fields_are_unsupported() -> None:
    mode7 = encode_frame(WATER, 0x7A, bytes([1, 0, 0x10, 0x07]) + bytes(16))
    other_ci = encode_frame(WATER, 0x8C, bytes(8))
    for raw in (mode7, other_ci):
        with pytest.raises(WmbusError) as refused:
            decode_telegram(parse_frame(raw), KEY)
        assert refused.value.reason == UNSUPPORTED


def test_an_unencrypted_telegram_needs_no_key() -> None:
    records = decode_telegram(parse_frame(plain_telegram()), None).records
    assert records[0] == Record("volume", 12.345, "m3", dif=b"\x04", vif=b"\x13")


def test_records_decode_bcd_signs_reals_text_and_manufacturer_data() -> None:
    """EN 13757-3 codings: BCD with F high nibble negative, real32, plain-text VIF, LVAR
    text (last character first), 0x0F manufacturer data to the end."""
    data = bytes.fromhex(
        "0A2B" "1500"  # BCD4 power, VIF 2B: W (10^0)
        "0B2B" "5634F1"  # BCD6 negative: -13456 W
        "05FD48" "00000040"  # real32 2.0, voltage 10^-1 V
        "0D7C03" "746D65" "02" "4B4F"  # plain-text unit sent last letter first, LVAR text
        "0F" "DEADBEEF"
    )  # fmt: skip
    records, manufacturer = decode_records(data)
    assert [(r.quantity, r.value, r.unit) for r in records] == [
        ("power", 15, "W"),
        ("power", -13456, "W"),
        ("voltage", 0.2, "V"),
        ("value", "OK", "emt"),
    ]
    assert manufacturer == bytes.fromhex("DEADBEEF")


@given(
    records=st.binary(min_size=0, max_size=80),
    access_number=st.integers(0, 255),
    frame_format=st.sampled_from(["A", "B"]),
    identity=st.integers(0, 99_999_999),
)
@settings(max_examples=150, deadline=None)
def test_any_payload_round_trips_through_mode5_and_either_format(
    records: bytes, access_number: int, frame_format: str, identity: int
) -> None:
    address = Address("KAM", f"{identity:08d}", 1, 7)
    plain = b"\x2f\x2f" + records
    raw = mode5_telegram(address, plain, KEY, access_number, frame_format)  # type: ignore[arg-type]
    frame = parse_frame(raw)
    assert frame.address == address
    try:
        telegram = decode_telegram(frame, KEY)
    except WmbusError:
        return  # random bytes are not always valid records; the decryption is checked below
    padded = plain + b"\x2f" * (-len(plain) % 16)
    assert telegram.plain == padded


@given(st.binary(max_size=300), st.sampled_from(["auto", "A", "B", "none"]))
@settings(max_examples=400, deadline=None)
def test_random_bytes_raise_only_the_codec_error(raw: bytes, frame_format: str) -> None:
    try:
        decode_telegram(parse_frame(raw, frame_format), KEY)
    except WmbusError as refused:
        assert refused.reason in (BAD_CRC, TRUNCATED, MALFORMED, WRONG_KEY, UNSUPPORTED)


@given(st.binary(max_size=200))
@settings(max_examples=400, deadline=None)
def test_random_records_raise_only_the_codec_error(data: bytes) -> None:
    try:
        decode_records(data)
    except WmbusError as refused:
        assert refused.reason in (TRUNCATED, MALFORMED)
