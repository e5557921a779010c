"""Single action schedules (DLMS class 22): run a script at given local times.

An execution time is a time of day and a date, each field fixed or a wildcard ("every"),
as in class 22 attribute 4: every day at 06:00, the 15th of every month, the last day of
each month (day 0xFE), Mondays only. The meter acts on its own local wall time, so a
schedule follows the meter's clock, time zone and DST like the tariff switches do.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from metertwin.meter.supervision import ScriptAction

LAST_DAY, SECOND_LAST_DAY = -1, -2
_SEARCH_DAYS = 366 * 9  # a fixed year may lie a few years ahead; farther is "never"


@dataclass(frozen=True)
class ExecutionTime:
    """One entry; None is a wildcard. ``day`` may be LAST_DAY or SECOND_LAST_DAY of the
    month; ``weekday`` is 1 (Monday) to 7. A wildcard second means second 0 (a schedule
    runs at most once a minute)."""

    hour: int | None
    minute: int | None
    second: int | None = 0
    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None

    def __post_init__(self) -> None:
        checks = (
            (self.hour, 0, 23, "hour"),
            (self.minute, 0, 59, "minute"),
            (self.second, 0, 59, "second"),
            (self.year, 1, 9999, "year"),
            (self.month, 1, 12, "month"),
            (self.weekday, 1, 7, "day of week"),
        )
        for value, low, high, name in checks:
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name} {value} is outside {low}..{high}")
        special = self.day in (None, LAST_DAY, SECOND_LAST_DAY)
        if not special and not 1 <= (self.day or 0) <= 31:
            raise ValueError(f"day {self.day} is outside 1..31")

    def _date_matches(self, day: date) -> bool:
        if self.year is not None and day.year != self.year:
            return False
        if self.month is not None and day.month != self.month:
            return False
        if self.weekday is not None and day.isoweekday() != self.weekday:
            return False
        if self.day is None:
            return True
        length = calendar.monthrange(day.year, day.month)[1]
        wanted = {LAST_DAY: length, SECOND_LAST_DAY: length - 1}.get(self.day, self.day)
        return day.day == wanted

    def _times(self) -> list[time]:
        hours = range(24) if self.hour is None else (self.hour,)
        minutes = range(60) if self.minute is None else (self.minute,)
        second = self.second or 0
        return [time(h, m, second) for h in hours for m in minutes]

    def next_after(self, wall: datetime) -> datetime | None:
        """The first wall time strictly after ``wall`` this entry names, or None."""
        times = self._times()
        day = wall.date()
        for _ in range(_SEARCH_DAYS):
            if self._date_matches(day):
                for at in times:
                    candidate = datetime.combine(day, at)
                    if candidate > wall:
                        return candidate
            if self.year is not None and day.year > self.year:
                return None
            day += timedelta(days=1)
        return None


@dataclass(frozen=True)
class ActionSchedule:
    """A script run at each of ``times`` (class 22: executed_script, execution_time)."""

    action: ScriptAction
    times: tuple[ExecutionTime, ...]

    def next_after(self, wall: datetime) -> datetime | None:
        upcoming = [t for t in (e.next_after(wall) for e in self.times) if t is not None]
        return min(upcoming, default=None)
