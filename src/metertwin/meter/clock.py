"""The meter's real-time clock, with DLMS/COSEM Clock (class 8) semantics.

The clock keeps UTC internally and derives local time from a standard offset plus a
configurable daylight-saving rule (class 8 attributes 3 and 5-8, dlms.md 6), not from a tz
database: a meter is programmed with rules, and seed 002 (5.8 a) asks for automatic switching
between Azerbaijan winter and summer time plus leap-year handling. The crystal may drift, and a
head-end may set or shift the time (class 8 method 6, shift_time -900..900 s); the last ten
settings are kept with their before/after values (seed 002, 5.5 b).

Times are integer milliseconds since the Unix epoch. "True" time is the simulated world's
time; "meter" time is what this clock shows (UTC). Local wall times are naive ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntFlag
from typing import Any

__all__ = [
    "EARLIEST_CLOCK_MS",
    "LATEST_CLOCK_MS",
    "Clock",
    "ClockConfig",
    "ClockRangeError",
    "ClockStatus",
    "DstConfig",
    "DstRule",
    "TimeSetting",
]

_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_PPB = 1_000_000_000
_MAX_SETTINGS = 10
_FAR_PAST = -(1 << 62)
_FAR_FUTURE = 1 << 62
# Days per month in a leap year: the most any rule or date may name.
_MAX_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# The instants (meter UTC) a clock may be set to: 1971-01-01 up to 2200-01-01 exclusive, the
# years a meter lives in (runtime/session.py places a new one there too). From the last of
# them the clock runs on for seven thousand years before a date leaves what the core can
# compute (years 1..9999), so a clock set inside always advances, and so does any memory
# saved from it (docs/dlms.md, "Date-times").
EARLIEST_CLOCK_MS = 31_536_000_000
LATEST_CLOCK_MS = 7_258_118_400_000
# Years whose DST switches can be computed with two years either side (datetime: 1..9999).
_FIRST_RULE_YEAR, _LAST_RULE_YEAR = 3, 9997
_DAY_MS = 86_400_000
_EPOCH_ORDINAL = _EPOCH.toordinal()


class ClockRangeError(ValueError):
    """An instant outside the years the clock can be set to (``EARLIEST_CLOCK_MS`` to
    ``LATEST_CLOCK_MS``); the clock is left as it was."""


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


def _year_of(meter_ms: int) -> int:
    """The UTC year of ``meter_ms``, held to the years whose DST switches can be computed."""
    ordinal = _EPOCH_ORDINAL + meter_ms // _DAY_MS
    ordinal = min(max(ordinal, date(_FIRST_RULE_YEAR, 1, 1).toordinal()), date.max.toordinal())
    return min(date.fromordinal(ordinal).year, _LAST_RULE_YEAR)


def _utc_text(meter_ms: int) -> str:
    try:
        return f"{(_EPOCH + timedelta(milliseconds=meter_ms)).isoformat()} UTC"
    except OverflowError:
        return f"{meter_ms} ms from 1970"


def _wall_ms(wall: datetime) -> int:
    """Milliseconds of a naive wall time counted as if it were UTC (floor)."""
    return (wall - _EPOCH) // _MS


class ClockStatus(IntFlag):
    """Clock status bits (dlms.md 1.3, the last octet of a date-time)."""

    INVALID_VALUE = 0x01
    DOUBTFUL_VALUE = 0x02
    DIFFERENT_CLOCK_BASE = 0x04
    INVALID_CLOCK_STATUS = 0x08
    DAYLIGHT_SAVING_ACTIVE = 0x80


_INVALID_BIT = int(ClockStatus.INVALID_VALUE)


@dataclass(frozen=True)
class DstRule:
    """One yearly switch instant, the rule form of class 8 attributes 5/6.

    The ``weekday`` (0=Monday..6=Sunday; None = exactly ``day``) on or after ``day`` of
    ``month``. A negative ``day`` counts from the month end (-1 = last day, -2 = second last,
    like the DLMS day codes 0xFE/0xFD), and a weekday is then taken on or before it, so
    ``day=-1, weekday=6`` is "the last Sunday". ``minute_of_day`` is the local wall time
    shown just before the switch (standard time for a begin rule, summer time for an end
    rule). A fixed 29 February falls on the 28th in common years.
    """

    month: int
    day: int
    weekday: int | None
    minute_of_day: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"DST rule month {self.month} not in 1..12")
        limit = _MAX_MONTH_DAYS[self.month - 1]
        if not (1 <= self.day <= limit or -limit <= self.day <= -1):
            raise ValueError(f"DST rule day {self.day} not in 1..{limit} or -{limit}..-1")
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError(f"DST rule weekday {self.weekday} not in 0..6 (Monday..Sunday)")
        if not 0 <= self.minute_of_day <= 1439:
            raise ValueError(f"DST rule minute_of_day {self.minute_of_day} not in 0..1439")

    def wall_time(self, year: int) -> datetime:
        """The local wall time of this switch in ``year``."""
        last = _days_in_month(year, self.month)
        if self.day > 0:
            d = date(year, self.month, min(self.day, last))
            if self.weekday is not None:
                d += timedelta(days=(self.weekday - d.weekday()) % 7)
        else:
            d = date(year, self.month, max(1, last + 1 + self.day))
            if self.weekday is not None:
                d -= timedelta(days=(d.weekday() - self.weekday) % 7)
        return datetime(d.year, d.month, d.day) + timedelta(minutes=self.minute_of_day)

    def to_state(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "day": self.day,
            "weekday": self.weekday,
            "minute_of_day": self.minute_of_day,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DstRule:
        weekday = state["weekday"]
        return cls(
            month=int(state["month"]),
            day=int(state["day"]),
            weekday=None if weekday is None else int(weekday),
            minute_of_day=int(state["minute_of_day"]),
        )


@dataclass(frozen=True)
class DstConfig:
    """Daylight saving (class 8 attributes 5-8). When ``begin`` falls later in the year than
    ``end`` (southern hemisphere) summer time spans the year end; both work because the state
    is decided by whichever switch happened last."""

    enabled: bool
    begin: DstRule
    end: DstRule
    deviation_minutes: int = 60

    def __post_init__(self) -> None:
        if not -120 <= self.deviation_minutes <= 120:
            raise ValueError(f"DST deviation {self.deviation_minutes} min not in -120..120")

    def to_state(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "begin": self.begin.to_state(),
            "end": self.end.to_state(),
            "deviation_minutes": self.deviation_minutes,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DstConfig:
        return cls(
            enabled=bool(state["enabled"]),
            begin=DstRule.from_state(state["begin"]),
            end=DstRule.from_state(state["end"]),
            deviation_minutes=int(state["deviation_minutes"]),
        )


@dataclass(frozen=True)
class ClockConfig:
    """Local standard time is UTC + ``utc_offset_minutes`` (Azerbaijan +240); the DLMS sign
    convention of attribute 3 belongs to the COSEM binding. ``drift_ppm`` > 0 runs fast; it
    is applied as whole parts per billion so that drift is exact integer arithmetic."""

    utc_offset_minutes: int
    dst: DstConfig | None = None
    drift_ppm: float = 0.0

    def __post_init__(self) -> None:
        if not -720 <= self.utc_offset_minutes <= 840:
            raise ValueError(f"UTC offset {self.utc_offset_minutes} min not in -720..840")
        if not -1_000.0 <= self.drift_ppm <= 1_000.0:  # also rejects NaN
            raise ValueError(f"clock drift {self.drift_ppm} ppm not in -1000..1000")

    @property
    def drift_ppb(self) -> int:
        return round(self.drift_ppm * 1000)

    def to_state(self) -> dict[str, Any]:
        return {
            "utc_offset_minutes": self.utc_offset_minutes,
            "dst": None if self.dst is None else self.dst.to_state(),
            "drift_ppm": self.drift_ppm,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ClockConfig:
        dst = state.get("dst")
        return cls(
            utc_offset_minutes=int(state["utc_offset_minutes"]),
            dst=None if dst is None else DstConfig.from_state(dst),
            drift_ppm=float(state.get("drift_ppm", 0.0)),
        )


@dataclass(frozen=True)
class TimeSetting:
    """One clock adjustment: when (world time) and the meter UTC before and after it, for the
    "last 10 time settings with the difference before and after" record (seed 002, 5.5 b)."""

    at_true_ms: int
    before_ms: int
    after_ms: int

    @property
    def difference_ms(self) -> int:
        return self.after_ms - self.before_ms


class Clock:
    """A drifting, settable meter clock with rule-based local time.

    Meter time is a linear function of world time since the last rebase (construction,
    ``set_time``, ``shift``, ``set_config``): ``base + floor(elapsed * (1e9 + ppb) / 1e9)``.
    The core only moves forward, so queries are meant for instants at or after the last
    rebase; earlier instants are extrapolated along the current segment.
    """

    def __init__(self, config: ClockConfig, true_ms: int, meter_ms: int | None = None) -> None:
        self._config = config
        self._rate = _PPB + config.drift_ppb
        self._base_true = true_ms
        self._base_meter = true_ms if meter_ms is None else meter_ms
        self._flags = ClockStatus(0)
        self._settings: list[TimeSetting] = []
        self._settings_count = 0
        self._reset_dst_cache()

    # -- configuration ---------------------------------------------------------------

    @property
    def config(self) -> ClockConfig:
        return self._config

    def set_config(self, true_ms: int, config: ClockConfig) -> None:
        """Replace the configuration at world time ``true_ms``; meter UTC stays continuous
        (only the drift rate and the local-time rules change)."""
        self._base_meter = self.meter_ms(true_ms)
        self._base_true = true_ms
        self._config = config
        self._rate = _PPB + config.drift_ppb
        self._reset_dst_cache()

    def _reset_dst_cache(self) -> None:
        cfg = self._config
        self._std_ms = cfg.utc_offset_minutes * 60_000
        dst = cfg.dst
        self._dst = dst if dst is not None and dst.enabled else None
        self._dev_ms = 0 if self._dst is None else self._dst.deviation_minutes * 60_000
        # Cached span [lo, hi) between two consecutive switches and whether DST holds in it.
        self._span_lo = 1
        self._span_hi = 0
        self._span_dst = False

    # -- time base -------------------------------------------------------------------

    def meter_ms(self, true_ms: int) -> int:
        """The meter's UTC reading at world time ``true_ms`` (floor; monotonic)."""
        if self._rate == _PPB:
            return self._base_meter + (true_ms - self._base_true)
        return self._base_meter + (true_ms - self._base_true) * self._rate // _PPB

    def true_ms_for(self, meter_ms: int) -> int:
        """The smallest world time at which the meter shows ``meter_ms`` or later, so that a
        boundary in meter time is reached exactly, never a millisecond early."""
        d = meter_ms - self._base_meter
        # smallest e with floor(e * rate / 1e9) >= d  <=>  e >= ceil(d * 1e9 / rate)
        return self._base_true - ((-d * _PPB) // self._rate)

    # -- daylight saving ---------------------------------------------------------------

    def _switches(self, year: int) -> list[tuple[int, bool]]:
        """The UTC instants of the begin (True) and end (False) switches of ``year``."""
        dst = self._dst
        assert dst is not None
        begin = _wall_ms(dst.begin.wall_time(year)) - self._std_ms
        end = _wall_ms(dst.end.wall_time(year)) - self._std_ms - self._dev_ms
        return [(begin, True), (end, False)]

    def _locate(self, meter_ms: int) -> None:
        """Fill the span cache with the switch interval containing ``meter_ms``."""
        year = _year_of(meter_ms)  # beyond years 3..9997 the nearest computable switches
        switches: list[tuple[int, bool]] = []
        for y in range(year - 2, year + 3):
            switches.extend(self._switches(y))
        switches.sort(key=lambda s: s[0])
        lo, state, hi = _FAR_PAST, False, _FAR_FUTURE
        for instant, is_begin in switches:
            if instant <= meter_ms:
                lo, state = instant, is_begin
            else:
                hi = instant
                break
        self._span_lo, self._span_hi, self._span_dst = lo, hi, state

    def is_dst(self, meter_ms: int) -> bool:
        if self._dst is None:
            return False
        if not self._span_lo <= meter_ms < self._span_hi:
            self._locate(meter_ms)
        return self._span_dst

    def utc_offset_ms(self, meter_ms: int) -> int:
        """Local minus UTC at ``meter_ms``: standard offset plus the deviation in summer."""
        return self._std_ms + self._dev_ms if self.is_dst(meter_ms) else self._std_ms

    def next_dst_change(self, meter_ms: int) -> int | None:
        """The next DST begin or end instant strictly after ``meter_ms``; None without DST."""
        if self._dst is None:
            return None
        if not self._span_lo <= meter_ms < self._span_hi:
            self._locate(meter_ms)
        return self._span_hi

    # -- local time ----------------------------------------------------------------------

    def local(self, meter_ms: int) -> datetime:
        """The naive local wall time shown at ``meter_ms``."""
        return _EPOCH + timedelta(milliseconds=meter_ms + self.utc_offset_ms(meter_ms))

    def meter_ms_for_local(self, wall: datetime, *, not_before: int | None = None) -> int:
        """The meter UTC at which the clock shows ``wall``.

        A wall time shown twice (autumn overlap) maps to its first occurrence, or, with
        ``not_before``, to the first occurrence at or after it when there is one (so a
        schedule walking forward through the repeated hour is not sent back in time). A wall
        time that is never shown (spring gap) maps to the switch instant that skips it.
        """
        w = _wall_ms(wall)
        if self._dst is None:
            return w - self._std_ms
        offsets = (self._std_ms, self._std_ms + self._dev_ms)
        candidates = [w - off for off in offsets]
        valid = sorted(
            {u for u, off in zip(candidates, offsets, strict=True) if self.utc_offset_ms(u) == off}
        )
        if not valid:
            switch = self.next_dst_change(min(candidates))
            assert switch is not None
            return switch
        if not_before is not None:
            for u in valid:
                if u >= not_before:
                    return u
        return valid[0]

    # -- status and settings -----------------------------------------------------------

    def status(self, meter_ms: int) -> ClockStatus:
        """Clock status octet: the sticky invalid/doubtful flags plus the DST bit."""
        flags = self._flags
        if self.is_dst(meter_ms):
            flags |= ClockStatus.DAYLIGHT_SAVING_ACTIVE
        return flags

    @property
    def invalid(self) -> bool:
        """The status' invalid bit (sticky until set), without building the status octet."""
        return bool(int(self._flags) & _INVALID_BIT)

    def mark_invalid(self) -> None:
        """The time could not be trusted (e.g. RTC lost during an outage); sticky until set."""
        self._flags |= ClockStatus.INVALID_VALUE

    def mark_doubtful(self) -> None:
        """The time may be wrong (e.g. restored from backup); sticky until set."""
        self._flags |= ClockStatus.DOUBTFUL_VALUE

    @property
    def settings(self) -> list[TimeSetting]:
        """The last ten time settings, newest last (a copy)."""
        return list(self._settings)

    @property
    def settings_count(self) -> int:
        """Number of time settings ever made."""
        return self._settings_count

    def set_time(self, true_ms: int, new_meter_ms: int) -> TimeSetting:
        """Set the clock (class 8 attribute 2 write): afterwards ``meter_ms(true_ms)`` is
        ``new_meter_ms``. Clears the invalid/doubtful flags and records the setting.

        The one place the core refuses an instant it could not run on from: outside
        ``EARLIEST_CLOCK_MS`` .. ``LATEST_CLOCK_MS`` it raises :class:`ClockRangeError` and
        changes nothing (shift and every other setting come through here)."""
        if not EARLIEST_CLOCK_MS <= new_meter_ms < LATEST_CLOCK_MS:
            raise ClockRangeError(
                f"the clock keeps 1971-01-01 to 2199-12-31 UTC, not {_utc_text(new_meter_ms)}"
            )
        setting = TimeSetting(true_ms, self.meter_ms(true_ms), new_meter_ms)
        self._base_true = true_ms
        self._base_meter = new_meter_ms
        self._flags = ClockStatus(0)
        self._settings.append(setting)
        del self._settings[:-_MAX_SETTINGS]
        self._settings_count += 1
        return setting

    def shift(self, true_ms: int, seconds: int) -> TimeSetting:
        """Class 8 method 6 shift_time: move the clock by -900..900 s."""
        if isinstance(seconds, bool) or not -900 <= seconds <= 900:
            raise ValueError(f"shift_time {seconds} s not in -900..900")
        return self.set_time(true_ms, self.meter_ms(true_ms) + seconds * 1000)

    # -- persistence ---------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "config": self._config.to_state(),
            "base_true_ms": self._base_true,
            "base_meter_ms": self._base_meter,
            "flags": int(self._flags),
            "settings": [[s.at_true_ms, s.before_ms, s.after_ms] for s in self._settings],
            "settings_count": self._settings_count,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Clock:
        clock = cls(
            ClockConfig.from_state(state["config"]),
            int(state["base_true_ms"]),
            int(state["base_meter_ms"]),
        )
        clock._flags = ClockStatus(int(state["flags"]))
        clock._settings = [TimeSetting(int(a), int(b), int(c)) for a, b, c in state["settings"]]
        clock._settings_count = int(state["settings_count"])
        return clock
