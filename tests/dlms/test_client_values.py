"""Turning meter data into plain Python and text, and parsing object lists and capture objects
(dlms.md 1.3, 1.4, 2.3, 6)."""

from __future__ import annotations

import json

import pytest
from tests.dlms.test_client_fakes import object_list_data

from metertwin.codec.axdr import BitString, Data, decode
from metertwin.codec.cosem_datetime import CosemDate, CosemDateTime, CosemTime, SpecialDay
from metertwin.codec.obis import Obis
from metertwin.dlms.client.errors import DlmsProtocolError
from metertwin.dlms.client.objects import (
    CLOCK_TIME,
    CaptureObject,
    class_name,
    parse_capture_objects,
    parse_object_list,
    scaler_unit_attribute,
)
from metertwin.dlms.client.values import ScalerUnit, date_time_text, format_value, to_python


def test_scaler_unit_of_a_voltage() -> None:
    """dlms.md 1.4: ``02 02 0F FF 16 23`` = scaler -1, unit 35 V (Aidon HAN sample)."""
    scaler = ScalerUnit.from_data(decode(bytes.fromhex("02020FFF1623")))
    assert scaler == ScalerUnit(-1, 35)
    assert scaler.symbol == "V"
    assert to_python(Data.long_unsigned(2305), scaler) == 230.5
    assert format_value(Data.long_unsigned(2305), scaler) == "230.5 V"
    assert format_value(Data.long_unsigned(2305), scaler, unit=False) == "230.5"


@pytest.mark.parametrize(
    ("raw", "scaler", "plain", "text"),
    [
        (12345, 0, 12345, "12345"),
        (123, 3, 123000, "123000"),
        (5, -3, 0.005, "0.005"),
        (-15, -1, -1.5, "-1.5"),
        (2**40 + 1, -2, (2**40 + 1) / 100, "10995116277.77"),
    ],
)
def test_scaling_is_exact_in_text(raw: int, scaler: int, plain: float, text: str) -> None:
    unit = ScalerUnit(scaler, 30)
    assert to_python(Data.long64(raw), unit) == plain
    assert format_value(Data.long64(raw), unit) == f"{text} Wh"


def test_float_with_scaler_and_count_unit() -> None:
    """230.5 as float32 ``17 43668000`` (dlms.md 1.1); unit 255 = count, shown as nothing."""
    value = decode(bytes.fromhex("1743668000"))
    assert to_python(value, ScalerUnit(0, 255)) == 230.5
    assert format_value(value, ScalerUnit(0, 255)) == "230.5"


def test_enums_and_booleans_are_never_scaled() -> None:
    assert to_python(Data.enum(3), ScalerUnit(-1, 30)) == 3
    assert to_python(Data.boolean(True), ScalerUnit(-1, 30)) is True
    assert format_value(Data.boolean(False)) == "false"


def test_bad_scaler_unit_is_a_protocol_error() -> None:
    with pytest.raises(DlmsProtocolError):
        ScalerUnit.from_data(Data.long(3))
    with pytest.raises(DlmsProtocolError):
        ScalerUnit.from_data(Data.structure((Data.octet_string(b"x"), Data.enum(30))))


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # DC tests/test_time.py::test_bytes_datetime_conversion
        ("07E40101FF00030000FF8800", "2020-01-01T00:03:00+02:00"),
        ("07E40106FF00030000FFC400", "2020-01-06T00:03:00+01:00"),
        ("07E2020CFF00000000800000", "2018-02-12T00:00:00"),
        # dlms.md 1.3, real meter stamp: 2019-12-19 Thu 02:00, UTC+1
        ("07E30C130402000000FFC400", "2019-12-19T02:00:00+01:00"),
    ],
)
def test_date_times_as_text(raw: str, text: str) -> None:
    octets = bytes.fromhex(raw)
    assert date_time_text(CosemDateTime.from_bytes(octets)) == text
    assert to_python(Data.octet_string(octets)) == text
    assert format_value(Data.octet_string(octets)) == text


def test_date_time_patterns_show_wildcards_and_codes() -> None:
    pattern = CosemDateTime(None, 3, SpecialDay.LAST, None, 2, 0, 0, None, None, None)
    assert date_time_text(pattern) == "****-03-lastT02:00:00"
    assert date_time_text(CosemDate(2024, 12, 25, 3)) == "2024-12-25"
    assert date_time_text(CosemTime(6, 30, 0, 50)) == "06:30:00.50"
    assert to_python(Data.date(CosemDate(2024, 12, 25))) == "2024-12-25"


def test_plain_values_are_json_ready() -> None:
    value = Data.structure(
        (
            Data.null(),
            Data.visible_string("MT000042"),
            Data.octet_string(b"\x00\x01\xff"),
            Data.octet_string(b"ISK1030777764366"),
            Data.bit_string(BitString(0b0101, 4)),
            Data.array((Data.unsigned(1), Data.float64(0.5))),
        )
    )
    plain = to_python(value)
    assert plain == [None, "MT000042", "0001ff", "ISK1030777764366", "0101", [1, 0.5]]
    assert json.loads(json.dumps(plain)) == plain
    assert format_value(value) == "{null, MT000042, 0001ff, ISK1030777764366, 0101, [1, 0.5]}"


# --- object list --------------------------------------------------------------------------


def test_object_list_with_access_rights() -> None:
    """Association LN attribute 2 (dlms.md 6): class, version, name, attribute and method
    access; selectors as null-data or an array of integers; v0 method access as boolean."""
    data = object_list_data(
        [
            (3, 0, Obis(1, 0, 1, 8, 0, 255), [(1, 1), (2, 1), (3, 1)], [(1, 0)]),
            (15, 1, Obis(0, 0, 40, 0, 1, 255), [(1, 1), (2, 1), (7, 2)], [(1, 1), (2, 2)]),
            (70, 0, Obis(0, 0, 96, 3, 10, 255), [(1, 1), (2, 4), (3, 0), (4, 6)], []),
        ]
    )
    register, association, disconnect = parse_object_list(data)
    assert register.class_id == 3 and register.class_name == "Register"
    assert register.logical_name == Obis(1, 0, 1, 8, 0, 255)
    assert register.readable_attributes() == [1, 2, 3]
    assert not register.methods[0].allowed
    assert association.version == 1
    assert association.readable_attributes() == [1, 2]
    secret = association.attribute(7)
    assert secret is not None and secret.writable and not secret.readable
    assert secret.access_name == "write-only"
    assert [m.access_mode for m in association.methods] == [1, 2]
    assert disconnect.readable_attributes() == [1, 2, 4]
    assert disconnect.attribute(99) is None

    with_selectors = Data.array(
        [
            Data.structure(
                (
                    Data.long_unsigned(7),
                    Data.unsigned(1),
                    Data.octet_string(bytes(Obis(1, 0, 99, 1, 0, 255))),
                    Data.structure(
                        (
                            Data.array(
                                [
                                    Data.structure(
                                        (
                                            Data.integer(2),
                                            Data.enum(1),
                                            Data.array((Data.integer(1), Data.integer(2))),
                                        )
                                    )
                                ]
                            ),
                            Data.array([Data.structure((Data.integer(1), Data.boolean(True)))]),
                        )
                    ),
                )
            )
        ]
    )
    (profile,) = parse_object_list(with_selectors)
    buffer = profile.attribute(2)
    assert buffer is not None and buffer.selectors == (1, 2)
    assert profile.methods[0].allowed


def test_bit_mapped_access_of_association_version_3() -> None:
    """Association LN v3 sends bit-mapped modes (dlms.md 6): 0x05 = read + authenticated."""
    data = object_list_data(
        [
            (15, 3, Obis(0, 0, 40, 0, 1, 255), [(1, 0x05), (2, 0x04)], []),
            (1, 0, Obis(0, 0, 96, 1, 0, 255), [(1, 0x01), (2, 0x03)], []),
        ]
    )
    association, serial = parse_object_list(data)
    assert association.readable_attributes() == [1]
    assert serial.readable_attributes() == [1, 2]
    right = serial.attribute(2)
    assert right is not None and right.writable and right.access_name == "0x03"


@pytest.mark.parametrize(
    "data",
    [
        Data.long(1),
        Data.array([Data.structure((Data.long_unsigned(3), Data.unsigned(0)))]),
        Data.array(
            [
                Data.structure(
                    (
                        Data.long_unsigned(3),
                        Data.unsigned(0),
                        Data.octet_string(b"\x01\x00"),
                        Data.structure((Data.array(()), Data.array(()))),
                    )
                )
            ]
        ),
    ],
    ids=["not-an-array", "short-entry", "short-logical-name"],
)
def test_malformed_object_lists_are_protocol_errors(data: Data) -> None:
    with pytest.raises(DlmsProtocolError, match="object_list"):
        parse_object_list(data)


def test_capture_objects() -> None:
    """dlms.md 2.3, DC test_capture_object_definition: Clock time as a capture object."""
    definition = bytes.fromhex("0204120008090600000100 00FF0F02120000".replace(" ", ""))
    data = decode(b"\x01\x02" + definition + bytes.fromhex("020412000309060100010800FF0F02120000"))
    clock, energy = parse_capture_objects(data)
    assert clock == CLOCK_TIME
    assert energy == CaptureObject(3, Obis(1, 0, 1, 8, 0, 255), 2)
    assert str(energy) == "1.0.1.8.0.255:2"
    assert decode(definition) == CLOCK_TIME.to_data()


def test_which_attributes_are_scaled() -> None:
    assert scaler_unit_attribute(3, 2) == 3
    assert scaler_unit_attribute(4, 2) == 3
    assert scaler_unit_attribute(5, 3) == 4
    assert scaler_unit_attribute(3, 3) is None
    assert scaler_unit_attribute(1, 2) is None
    assert class_name(70) == "Disconnect control"
    assert class_name(8193) == "manufacturer class 8193"
    assert class_name(99) == "class 99"
