"""COSEM date, time and date-time (dlms.md 1.3): 5, 4 and 12 octets with wildcards.

Every field may be "not specified" (``None`` here, 0xFF/0xFFFF/0x8000 on the wire), because
the same formats carry both instants (a clock reading) and patterns (a season start "every
year on the last day of March"). Months 0xFD/0xFE mean DST end/begin and days 0xFD/0xFE the
second-last/last day of the month.

The deviation is in minutes with the DLMS sign, **deviation = UTC - local**: a clock at
UTC+01:00 sends -60 (``FFC4``) (dlms.md 1.3, dlms-cosem ``test_time.py``).

Bytes with a field out of its range raise :class:`CosemDateTimeError`, which is both the DLMS
layer's decode error and a ``ValueError``, like every other "not a usable date-time" here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import IntEnum, IntFlag

from metertwin.codec.errors import CosemDateTimeError

__all__ = [
    "ClockStatus",
    "CosemDate",
    "CosemDateTime",
    "CosemTime",
    "SpecialDay",
    "SpecialMonth",
]

_NOT_SPECIFIED = 0xFF
_YEAR_NOT_SPECIFIED = 0xFFFF
_DEVIATION_NOT_SPECIFIED = -0x8000
_MAX_DEVIATION = 720

_DATE = struct.Struct(">HBBB")
_TIME = struct.Struct(">BBBB")
_DATE_TIME = struct.Struct(">HBBBBBBBhB")


class ClockStatus(IntFlag):
    """The status octet of a date-time (dlms.md 1.3); bits 4-6 are reserved but kept."""

    INVALID_VALUE = 0x01
    DOUBTFUL_VALUE = 0x02
    DIFFERENT_CLOCK_BASE = 0x04
    INVALID_CLOCK_STATUS = 0x08
    DAYLIGHT_SAVING_ACTIVE = 0x80


_ALL_CLEAR = ClockStatus(0)


class SpecialMonth(IntEnum):
    """Month codes for the daylight-saving switch dates (dlms.md 1.3 and 7)."""

    DST_END = 0xFD
    DST_BEGIN = 0xFE


class SpecialDay(IntEnum):
    """Day-of-month codes counted from the end of the month (dlms.md 1.3)."""

    SECOND_LAST = 0xFD
    LAST = 0xFE


def _check(
    name: str, value: int | None, low: int, high: int, special: tuple[int, ...] = ()
) -> None:
    if value is None or low <= value <= high or value in special:
        return
    allowed = f"{low}..{high}" + "".join(f", 0x{code:02X}" for code in special)
    raise ValueError(f"{name} {int(value)} is outside {allowed} (None = not specified)")


def _check_date(year: int | None, month: int | None, day: int | None, weekday: int | None) -> None:
    _check("year", year, 0, 0xFFFE)
    _check("month", month, 1, 12, (SpecialMonth.DST_END, SpecialMonth.DST_BEGIN))
    _check("day", day, 1, 31, (SpecialDay.SECOND_LAST, SpecialDay.LAST))
    _check("day of week", weekday, 1, 7)


def _check_time(
    hour: int | None, minute: int | None, second: int | None, hundredths: int | None
) -> None:
    _check("hour", hour, 0, 23)
    _check("minute", minute, 0, 59)
    _check("second", second, 0, 59)
    _check("hundredths", hundredths, 0, 99)


def _byte(value: int | None) -> int:
    return _NOT_SPECIFIED if value is None else value


def _field(raw: int) -> int | None:
    return None if raw == _NOT_SPECIFIED else raw


def _month(raw: int) -> int | None:
    if raw == _NOT_SPECIFIED:
        return None
    return SpecialMonth(raw) if raw in (0xFD, 0xFE) else raw


def _day(raw: int) -> int | None:
    if raw == _NOT_SPECIFIED:
        return None
    return SpecialDay(raw) if raw in (0xFD, 0xFE) else raw


def _need(value: int | None, name: str) -> int:
    if value is None:
        raise ValueError(f"{name} is not specified, so this is not one instant")
    return value


def _need_month(month: int | None) -> int:
    value = _need(month, "month")
    if value > 12:
        raise ValueError(f"month 0x{value:02X} is a DST code, not a calendar month")
    return value


def _need_day(day: int | None) -> int:
    value = _need(day, "day")
    if value > 31:
        raise ValueError(f"day 0x{value:02X} counts from the month end, not a calendar day")
    return value


def _decode_error(kind: str, raw: bytes, problem: ValueError) -> CosemDateTimeError:
    return CosemDateTimeError(f"{kind} {raw.hex()}: {problem}")


@dataclass(frozen=True, slots=True)
class CosemDate:
    """A COSEM date (5 octets: year u16, month, day, day of week 1 = Monday)."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None

    def __post_init__(self) -> None:
        _check_date(self.year, self.month, self.day, self.weekday)

    def to_bytes(self) -> bytes:
        year = _YEAR_NOT_SPECIFIED if self.year is None else self.year
        return _DATE.pack(year, _byte(self.month), _byte(self.day), _byte(self.weekday))

    @classmethod
    def from_bytes(cls, raw: bytes) -> CosemDate:
        if len(raw) != _DATE.size:
            raise CosemDateTimeError(f"a date has 5 octets, got {len(raw)}")
        year, month, day, weekday = _DATE.unpack(raw)
        try:
            return cls(
                None if year == _YEAR_NOT_SPECIFIED else year,
                _month(month),
                _day(day),
                _field(weekday),
            )
        except ValueError as problem:
            raise _decode_error("date", raw, problem) from None

    @classmethod
    def from_date(cls, day: date) -> CosemDate:
        return cls(day.year, day.month, day.day, day.isoweekday())

    def to_date(self) -> date:
        """The calendar date; the day of week, if given, is not cross-checked."""
        return date(_need(self.year, "year"), _need_month(self.month), _need_day(self.day))


@dataclass(frozen=True, slots=True)
class CosemTime:
    """A COSEM time (4 octets: hour, minute, second, hundredths)."""

    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    hundredths: int | None = None

    def __post_init__(self) -> None:
        _check_time(self.hour, self.minute, self.second, self.hundredths)

    def to_bytes(self) -> bytes:
        return _TIME.pack(
            _byte(self.hour), _byte(self.minute), _byte(self.second), _byte(self.hundredths)
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> CosemTime:
        if len(raw) != _TIME.size:
            raise CosemDateTimeError(f"a time has 4 octets, got {len(raw)}")
        hour, minute, second, hundredths = _TIME.unpack(raw)
        try:
            return cls(_field(hour), _field(minute), _field(second), _field(hundredths))
        except ValueError as problem:
            raise _decode_error("time", raw, problem) from None

    @classmethod
    def from_time(cls, moment: time) -> CosemTime:
        """Hundredths are truncated from microseconds; a tzinfo is ignored."""
        return cls(moment.hour, moment.minute, moment.second, moment.microsecond // 10_000)

    def to_time(self) -> time:
        """The wall time; unspecified hundredths read as 0."""
        return time(
            _need(self.hour, "hour"),
            _need(self.minute, "minute"),
            _need(self.second, "second"),
            (self.hundredths or 0) * 10_000,
        )


@dataclass(frozen=True, slots=True)
class CosemDateTime:
    """A COSEM date-time (12 octets): date, time, deviation (UTC - local, minutes), status."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    hundredths: int | None = None
    deviation: int | None = None
    clock_status: ClockStatus | None = None

    def __post_init__(self) -> None:
        _check_date(self.year, self.month, self.day, self.weekday)
        _check_time(self.hour, self.minute, self.second, self.hundredths)
        _check("deviation", self.deviation, -_MAX_DEVIATION, _MAX_DEVIATION)
        _check("clock status", self.clock_status, 0, 0xFE)

    @property
    def date(self) -> CosemDate:
        return CosemDate(self.year, self.month, self.day, self.weekday)

    @property
    def time(self) -> CosemTime:
        return CosemTime(self.hour, self.minute, self.second, self.hundredths)

    def to_bytes(self) -> bytes:
        return _DATE_TIME.pack(
            _YEAR_NOT_SPECIFIED if self.year is None else self.year,
            _byte(self.month),
            _byte(self.day),
            _byte(self.weekday),
            _byte(self.hour),
            _byte(self.minute),
            _byte(self.second),
            _byte(self.hundredths),
            _DEVIATION_NOT_SPECIFIED if self.deviation is None else self.deviation,
            _byte(self.clock_status),
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> CosemDateTime:
        if len(raw) != _DATE_TIME.size:
            raise CosemDateTimeError(f"a date-time has 12 octets, got {len(raw)}")
        year, month, day, weekday, hour, minute, second, hundredths, deviation, status = (
            _DATE_TIME.unpack(raw)
        )
        try:
            return cls(
                year=None if year == _YEAR_NOT_SPECIFIED else year,
                month=_month(month),
                day=_day(day),
                weekday=_field(weekday),
                hour=_field(hour),
                minute=_field(minute),
                second=_field(second),
                hundredths=_field(hundredths),
                deviation=None if deviation == _DEVIATION_NOT_SPECIFIED else deviation,
                clock_status=None if status == _NOT_SPECIFIED else ClockStatus(status),
            )
        except ValueError as problem:
            raise _decode_error("date-time", raw, problem) from None

    @classmethod
    def from_datetime(
        cls, moment: datetime, clock_status: ClockStatus | None = _ALL_CLEAR
    ) -> CosemDateTime:
        """Every field specified; a naive ``moment`` gets an unspecified deviation.

        For an aware ``moment`` whose zone reports daylight saving, the DST-active bit is added
        to ``clock_status`` (unless that is None = not specified).
        """
        deviation: int | None = None
        offset = moment.utcoffset()
        if offset is not None:
            minutes, rest = divmod(offset, timedelta(minutes=1))
            if rest:
                raise ValueError(f"UTC offset {offset} is not a whole number of minutes")
            deviation = -minutes
            if clock_status is not None and moment.dst():
                clock_status |= ClockStatus.DAYLIGHT_SAVING_ACTIVE
        return cls(
            year=moment.year,
            month=moment.month,
            day=moment.day,
            weekday=moment.isoweekday(),
            hour=moment.hour,
            minute=moment.minute,
            second=moment.second,
            hundredths=moment.microsecond // 10_000,
            deviation=deviation,
            clock_status=clock_status,
        )

    def to_datetime(self) -> datetime:
        """The aware instant; needs date, hour, minute, second and deviation specified.

        Unspecified hundredths read as 0; the day of week is not cross-checked.
        """
        deviation = _need(self.deviation, "deviation")
        return datetime(
            _need(self.year, "year"),
            _need_month(self.month),
            _need_day(self.day),
            _need(self.hour, "hour"),
            _need(self.minute, "minute"),
            _need(self.second, "second"),
            (self.hundredths or 0) * 10_000,
            tzinfo=timezone(timedelta(minutes=-deviation)),
        )
