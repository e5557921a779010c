"""What a user types for `metertwin set` / `action`, read as the type the meter expects
(metertwin.dlms.client.user_input; the types of /work/shared/reference/dlms.md, dlms.md 1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.dlms.strategies import (
    INTEGER_RANGES,
    bit_strings,
    cosem_date_times,
    cosem_dates,
    cosem_times,
)

from metertwin.codec.axdr import BitString, Data, DataType
from metertwin.codec.cosem_datetime import ClockStatus, CosemDateTime
from metertwin.dlms.client.user_input import (
    INTEGER_ZERO,
    ValueInputError,
    method_parameter,
    parse_typed,
    parse_value,
    typed_json,
    value_text,
)

_integers = st.one_of(
    *(
        st.integers(low, high).map(lambda v, t=t: Data(t, v))
        for t, (low, high) in INTEGER_RANGES.items()
    )
)
_leaves = st.one_of(
    st.just(Data.null()),
    st.just(Data.dont_care()),
    _integers,
    st.booleans().map(Data.boolean),
    bit_strings.map(Data.bit_string),
    st.binary(max_size=20).map(Data.octet_string),
    cosem_date_times.map(lambda stamp: Data.octet_string(stamp.to_bytes())),
    st.text(st.characters(max_codepoint=255), max_size=10).map(Data.visible_string),
    st.text(st.characters(codec="utf-8"), max_size=10).map(Data.utf8_string),
    st.floats(width=32, allow_nan=False).map(Data.float32),
    st.floats(allow_nan=False).map(Data.float64),
    cosem_date_times.map(Data.date_time),
    cosem_dates.map(Data.date),
    cosem_times.map(Data.time),
)
values = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=4).map(Data.array)
        | st.lists(children, max_size=4).map(Data.structure)
    ),
    max_leaves=10,
)
_CLOCK = Data.octet_string(
    CosemDateTime.from_datetime(
        datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=3)))
    ).to_bytes()
)


@given(values)
def test_every_value_reads_back_from_its_text(value: Data) -> None:
    """The text value_text gives is read back as the same value, with it as the template."""
    assert parse_value(value_text(value), value) == value


@given(values)
def test_every_value_reads_back_from_typed_json(value: Data) -> None:
    """Typed JSON needs no template (a write-only attribute, an unknown method)."""
    assert parse_typed(typed_json(value)) == value


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.none() | st.integers(-720, 720).map(lambda m: timezone(timedelta(minutes=m))),
)
def test_an_iso_date_time_sets_a_clock(moment: datetime, zone: timezone | None) -> None:
    """Clock attribute 2 is an octet-string(12) date-time (dlms.md 1.3 note): an ISO literal
    becomes its 12 octets; without an offset the deviation is unspecified (0x8000), which the
    meter takes as its local wall time."""
    moment = moment.replace(tzinfo=zone)
    written = parse_value(moment.isoformat(), _CLOCK)
    assert written.type == DataType.OCTET_STRING
    stamp = CosemDateTime.from_bytes(written.as_bytes())
    assert stamp == CosemDateTime.from_datetime(moment)
    if zone is None:
        assert stamp.deviation is None
    else:
        hundredths = moment.replace(microsecond=moment.microsecond // 10_000 * 10_000)
        assert stamp.to_datetime() == hundredths  # a date-time keeps hundredths of a second


def test_the_clock_literal_of_the_issue() -> None:
    """2026-12-02T10:00:00 -> 07EA 0C 02 03 0A 00 00 00 8000 00 (dlms.md 1.3: year, month,
    day, weekday Wednesday = 3, hour, minute, second, hundredths, deviation not specified,
    status)."""
    written = parse_value("2026-12-02T10:00:00", _CLOCK)
    assert written.as_bytes().hex() == "07ea0c02030a000000800000"


@pytest.mark.parametrize(
    ("text", "like", "expected"),
    [
        ("230", Data.long_unsigned(0), Data.long_unsigned(230)),
        ("230", Data.double_long(-1), Data.double_long(230)),
        ("-5", Data.long(0), Data.long(-5)),
        ("0x1F", Data.unsigned(0), Data.unsigned(31)),
        ("2", Data.enum(1), Data.enum(2)),
        ("true", Data.boolean(False), Data.boolean(True)),
        ("0", Data.boolean(True), Data.boolean(False)),
        ("1.5", Data.float32(0.0), Data.float32(1.5)),
        ("0101", Data.bit_string(BitString(0, 1)), Data.bit_string(BitString(5, 4))),
        ("PMM-TOU2", Data.octet_string(b"PMM-TOU"), Data.octet_string(b"PMM-TOU2")),
        ('"{odd}"', Data.visible_string("x"), Data.visible_string("{odd}")),
        ("0x0102", Data.octet_string(b"AB"), Data.octet_string(b"\x01\x02")),
        ("0102", Data.octet_string(b"\x00"), Data.octet_string(b"\x01\x02")),
        (
            "1.0.1.7.0.255",
            Data.octet_string(bytes(6)),
            Data.octet_string(b"\x01\x00\x01\x07\x00\xff"),
        ),
        (
            '[3, "1.0.1.7.0.255", 2]',
            Data.structure([Data.long_unsigned(1), Data.octet_string(bytes(6)), Data.integer(2)]),
            Data.structure(
                [
                    Data.long_unsigned(3),
                    Data.octet_string(bytes.fromhex("0100010700ff")),
                    Data.integer(2),
                ]
            ),
        ),
        (
            "[7, 8, 9]",
            Data.array([Data.unsigned(1)]),
            Data.array([Data.unsigned(n) for n in (7, 8, 9)]),
        ),
        ("[]", Data.array([Data.unsigned(1)]), Data.array([])),
        ('{"long-unsigned": 5}', Data.null(), Data.long_unsigned(5)),
        ('{"octet-string": "00000009"}', Data.null(), Data.octet_string(b"00000009")),
    ],
)
def test_literals_take_the_type_of_the_current_value(text: str, like: Data, expected: Data) -> None:
    assert parse_value(text, like) == expected


@pytest.mark.parametrize(
    ("text", "like", "named"),
    [
        ("70000", Data.long_unsigned(0), "long-unsigned range 0..65535"),
        ("-1", Data.unsigned(0), "unsigned range 0..255"),
        ("abc", Data.long_unsigned(0), "expected an integer for long-unsigned"),
        ("2.5", Data.long_unsigned(0), "expected an integer for long-unsigned"),
        ("yes", Data.boolean(False), "expected true or false"),
        ("nan", Data.float64(0.0), "NaN"),
        ("0120", Data.bit_string(BitString(0, 1)), "bit-string of 0 and 1"),
        ("tomorrow", _CLOCK, "not an ISO date-time"),
        ("2026-13-01T00:00", _CLOCK, "not an ISO date-time"),
        ("0x0g", Data.octet_string(b"A"), "not hex octets"),
        ("xyz", Data.octet_string(b"\x00"), "expected hex octets"),
        ("[1, 2]", Data.structure([Data.unsigned(1)]), "JSON array of 1 elements"),
        ("7", Data.structure([Data.unsigned(1)]), "expected a JSON array"),
        ("{1", Data.structure([Data.unsigned(1)]), "not typed JSON"),
        ("[1]", Data.array([]), "element type is unknown"),
        ("5", Data.null(), "its type is unknown"),
        ('{"long-unsigend": 5}', Data.null(), "'long-unsigend' is not a DLMS data type"),
        ('{"unsigned": 300}', Data.null(), "unsigned range 0..255"),
        ("€", Data.octet_string(b"A"), "beyond U+00FF"),
        ('{"float32": NaN}', Data.null(), "NaN"),
        ("[NaN]", Data.structure([Data.float64(0.0)]), "NaN"),
        ("[" * 3000 + "]" * 3000, Data.array([]), "nested too deep"),
        ('{"array": ' * 70 + "[]" + "}" * 70, Data.null(), "nested deeper than 65"),
    ],
)
def test_a_value_that_cannot_be_converted_is_named(text: str, like: Data, named: str) -> None:
    with pytest.raises(ValueInputError, match=re.escape(named)):
        parse_value(text, like)


def test_method_parameters_of_the_blue_book() -> None:
    """/work/shared/reference/dlms.md: class 70 remote_disconnect/remote_reconnect(int 0),
    class 9 execute(lu script_identifier), class 8 shift_time(long), class 115 enter(os)."""
    assert method_parameter(70, 1) == INTEGER_ZERO == Data.integer(0)
    assert method_parameter(70, 2) == INTEGER_ZERO
    assert method_parameter(9, 1) == Data.long_unsigned(0)
    assert method_parameter(8, 6) == Data.long(0)
    assert method_parameter(115, 1) == Data.octet_string(b"")
    assert method_parameter(70, 3) is None


def test_a_clock_reading_is_shown_as_iso_and_with_a_status_as_hex() -> None:
    """A reading with a clear status reads back from ISO text; one with a status bit the ISO
    text cannot carry is shown as its octets."""
    assert value_text(_CLOCK) == "2026-11-21T10:00:00+03:00"
    flagged = CosemDateTime.from_datetime(
        datetime(2026, 11, 21, 7, 0, tzinfo=UTC), clock_status=ClockStatus.DOUBTFUL_VALUE
    )
    text = value_text(Data.octet_string(flagged.to_bytes()))
    assert text == "0x" + flagged.to_bytes().hex()
