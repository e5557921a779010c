"""COSEM date, time and date-time: the vectors of dlms.md 1.3 both ways, wildcards, the deviation
sign (UTC - local) and conversion to aware datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.dlms.strategies import cosem_date_times, cosem_dates, cosem_times

from metertwin.codec.cosem_datetime import (
    ClockStatus,
    CosemDate,
    CosemDateTime,
    CosemTime,
    SpecialDay,
    SpecialMonth,
)
from metertwin.codec.errors import CosemDateTimeError

UTC_PLUS_1 = timezone(timedelta(hours=1))
UTC_PLUS_2 = timezone(timedelta(hours=2))


class SummerTime(tzinfo):
    """A zone one hour ahead of UTC because daylight saving is on (as UK summer time)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1)

    def tzname(self, dt: datetime | None) -> str:
        return "summer"


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# DC tests/test_time.py::test_bytes_datetime_conversion (dlms.md 1.3), and the real meter stamps
# quoted in the DC tests: bytes, the expected fields and the instant.
VECTORS = [
    (
        "07E4 01 01 FF 00 03 00 00 FF88 00",
        CosemDateTime(
            year=2020, month=1, day=1, weekday=None, hour=0, minute=3, second=0, hundredths=0,
            deviation=-120, clock_status=ClockStatus(0),
        ),
        datetime(2020, 1, 1, 0, 3, tzinfo=UTC_PLUS_2),
    ),
    (
        "07E4 01 06 FF 00 03 00 00 FFC4 00",
        CosemDateTime(
            year=2020, month=1, day=6, weekday=None, hour=0, minute=3, second=0, hundredths=0,
            deviation=-60, clock_status=ClockStatus(0),
        ),
        datetime(2020, 1, 6, 0, 3, tzinfo=UTC_PLUS_1),
    ),
    (
        "07E3 0C 13 04 02 00 00 00 FFC4 00",
        CosemDateTime(
            year=2019, month=12, day=19, weekday=4, hour=2, minute=0, second=0, hundredths=0,
            deviation=-60, clock_status=ClockStatus(0),
        ),
        datetime(2019, 12, 19, 2, 0, tzinfo=UTC_PLUS_1),
    ),
    (
        "07E1 0A 01 07 00 00 00 00 FFC4 80",
        CosemDateTime(
            year=2017, month=10, day=1, weekday=7, hour=0, minute=0, second=0, hundredths=0,
            deviation=-60, clock_status=ClockStatus.DAYLIGHT_SAVING_ACTIVE,
        ),
        datetime(2017, 10, 1, 0, 0, tzinfo=UTC_PLUS_1),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("hex_bytes", "expected", "instant"), VECTORS)
def test_date_time_vectors(hex_bytes: str, expected: CosemDateTime, instant: datetime) -> None:
    raw = _hex(hex_bytes)
    decoded = CosemDateTime.from_bytes(raw)
    assert decoded == expected
    assert decoded.to_bytes() == raw
    assert decoded.to_datetime() == instant
    assert decoded.to_datetime().utcoffset() == instant.utcoffset()


def test_deviation_not_specified_vector() -> None:
    """DC test_time.py: ``07E2 02 0C FF 00 00 00 00 8000 00`` = 2018-02-12, deviation n/s."""
    raw = _hex("07E2 02 0C FF 00 00 00 00 8000 00")
    decoded = CosemDateTime.from_bytes(raw)
    assert (decoded.year, decoded.month, decoded.day, decoded.deviation) == (2018, 2, 12, None)
    assert decoded.to_bytes() == raw
    with pytest.raises(ValueError, match="deviation is not specified"):
        decoded.to_datetime()


def test_deviation_sign_is_utc_minus_local() -> None:
    """dlms.md 1.3: UTC+1 is sent as -60 (FFC4), UTC+2 as -120 (FF88); a zone west of
    Greenwich gets a positive deviation."""
    east = CosemDateTime.from_datetime(datetime(2020, 1, 1, tzinfo=UTC_PLUS_1))
    assert east.deviation == -60
    assert east.to_bytes()[9:11] == b"\xff\xc4"
    west = CosemDateTime.from_datetime(datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=-5))))
    assert west.deviation == 300


def test_from_datetime_matches_meter_stamp() -> None:
    """The real meter stamp ``07E3 0C 13 04 ...`` (DC tests) from an aware datetime: the day
    of week is derived (Thursday = 4)."""
    stamp = CosemDateTime.from_datetime(datetime(2019, 12, 19, 2, 0, tzinfo=UTC_PLUS_1))
    assert stamp.to_bytes() == _hex("07E3 0C 13 04 02 00 00 00 FFC4 00")


def test_from_datetime_sets_dst_bit_from_zone() -> None:
    """``07E1 0A 01 07 ... FFC4 80`` (DC tests): UTC+1 because summer time is on."""
    stamp = CosemDateTime.from_datetime(datetime(2017, 10, 1, tzinfo=SummerTime()))
    assert stamp.to_bytes() == _hex("07E1 0A 01 07 00 00 00 00 FFC4 80")
    unspecified = CosemDateTime.from_datetime(datetime(2017, 10, 1, tzinfo=SummerTime()), None)
    assert unspecified.clock_status is None


def test_naive_datetime_leaves_deviation_unspecified() -> None:
    stamp = CosemDateTime.from_datetime(datetime(2023, 1, 31, 18, 34, 23, 990_000))
    assert stamp.deviation is None
    assert stamp.hundredths == 99
    assert stamp.to_bytes() == _hex("07E7 01 1F 02 12 22 17 63 8000 00")


def test_sub_minute_offsets_are_refused() -> None:
    with pytest.raises(ValueError, match="whole number of minutes"):
        CosemDateTime.from_datetime(datetime(2020, 1, 1, tzinfo=timezone(timedelta(seconds=30))))


def test_wildcards_and_special_values() -> None:
    """dlms.md 1.3: 0xFF fields, year 0xFFFF, deviation 0x8000, status 0xFF are "not
    specified"; months 0xFE/0xFD are DST begin/end, days 0xFE/0xFD last/second-last."""
    pattern = CosemDateTime(month=SpecialMonth.DST_BEGIN, day=SpecialDay.LAST, hour=2)
    raw = pattern.to_bytes()
    assert raw == _hex("FFFF FE FE FF 02 FF FF FF 8000 FF")
    decoded = CosemDateTime.from_bytes(raw)
    assert decoded == pattern
    assert decoded.month is SpecialMonth.DST_BEGIN
    assert decoded.day is SpecialDay.LAST
    assert CosemDate.from_bytes(_hex("FFFF FD FD FF")) == CosemDate(
        month=SpecialMonth.DST_END, day=SpecialDay.SECOND_LAST
    )
    with pytest.raises(ValueError, match="DST code"):
        CosemDateTime(
            year=2020, month=SpecialMonth.DST_END, day=1, hour=2, minute=0, second=0, deviation=0
        ).to_datetime()
    with pytest.raises(ValueError, match="year is not specified"):
        CosemDate(month=1, day=1).to_date()


def test_unspecified_weekday_and_hundredths_still_give_an_instant() -> None:
    when = CosemDateTime(year=2020, month=1, day=1, hour=0, minute=3, second=0, deviation=0)
    assert when.to_datetime() == datetime(2020, 1, 1, 0, 3, tzinfo=UTC)


def test_date_and_time_parts() -> None:
    stamp = CosemDateTime.from_bytes(_hex("07E3 0C 13 04 02 00 00 00 FFC4 00"))
    assert stamp.date == CosemDate(2019, 12, 19, 4)
    assert stamp.time == CosemTime(2, 0, 0, 0)
    assert stamp.date.to_bytes() == _hex("07E3 0C 13 04")
    assert stamp.time.to_bytes() == _hex("02 00 00 00")
    assert CosemDate.from_date(date(2019, 12, 19)) == stamp.date
    assert CosemTime.from_time(time(14, 48, 57, 800_000)).to_bytes() == _hex("0E303950")
    assert CosemTime(14, 48, 57).to_time() == time(14, 48, 57)


@pytest.mark.parametrize(
    ("hex_bytes", "problem"),
    [
        ("07E4 00 01 FF 00 03 00 00 FF88 00", "month 0"),
        ("07E4 01 20 FF 00 03 00 00 FF88 00", "day 32"),
        ("07E4 01 E0 FF 00 03 00 00 FF88 00", "day 224"),
        ("07E4 01 01 00 00 03 00 00 FF88 00", "day of week 0"),
        ("07E4 01 01 FF 18 03 00 00 FF88 00", "hour 24"),
        ("07E4 01 01 FF 00 3C 00 00 FF88 00", "minute 60"),
        ("07E4 01 01 FF 00 03 3C 00 FF88 00", "second 60"),
        ("07E4 01 01 FF 00 03 00 64 FF88 00", "hundredths 100"),
        ("07E4 01 01 FF 00 03 00 00 02D1 00", "deviation 721"),
        ("07E4 01 01 FF 00 03 00 00 FF88", "12 octets, got 11"),
    ],
)
def test_malformed_date_times_are_refused(hex_bytes: str, problem: str) -> None:
    with pytest.raises(CosemDateTimeError, match=problem):
        CosemDateTime.from_bytes(_hex(hex_bytes))


def test_out_of_range_fields_are_refused_on_construction() -> None:
    with pytest.raises(ValueError, match="deviation -721"):
        CosemDateTime(deviation=-721)
    with pytest.raises(ValueError, match="clock status 255"):
        CosemDateTime(clock_status=ClockStatus(0xFF))
    with pytest.raises(CosemDateTimeError, match="5 octets"):
        CosemDate.from_bytes(b"\x00")
    with pytest.raises(CosemDateTimeError, match="4 octets"):
        CosemTime.from_bytes(b"")


@given(cosem_date_times)
def test_date_time_round_trip(value: CosemDateTime) -> None:
    raw = value.to_bytes()
    assert len(raw) == 12
    assert CosemDateTime.from_bytes(raw) == value


@given(cosem_dates, cosem_times)
def test_date_and_time_round_trip(day: CosemDate, moment: CosemTime) -> None:
    assert CosemDate.from_bytes(day.to_bytes()) == day
    assert CosemTime.from_bytes(moment.to_bytes()) == moment


@given(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        timezones=st.integers(-720, 720).map(lambda m: timezone(timedelta(minutes=m))),
    )
)
def test_aware_datetime_round_trip(moment: datetime) -> None:
    """Exact to the hundredth of a second, in any zone within +-12 h."""
    truncated = moment.replace(microsecond=moment.microsecond // 10_000 * 10_000)
    stamp = CosemDateTime.from_datetime(moment)
    assert stamp.weekday == moment.isoweekday()
    assert stamp.to_datetime() == truncated
    assert stamp.to_datetime().utcoffset() == moment.utcoffset()


@given(st.binary(min_size=12, max_size=12))
def test_any_twelve_octets_decode_or_raise_the_declared_error(raw: bytes) -> None:
    try:
        decoded = CosemDateTime.from_bytes(raw)
    except CosemDateTimeError:
        return
    assert decoded.to_bytes() == raw
