"""Time-of-use switching: the activity calendar (DLMS class 20) with special days (class 11).

The year is split into seasons, each naming a week profile; a week profile names a day
profile for each weekday; a day profile lists switch times with the rate (script selector of
the tariff script) that holds from then on (dlms.md 6). Special days override the week for a
date. Capacities default to the largest device in the seeds: 12 seasons, 24 periods a day,
8 tariffs and 200 special days (seed 003, Multi TOU tariff), which also covers seed 002 5.3
(12 time zones a year, 12 periods a day, 1-minute resolution).

Everything works on naive local wall times; mapping them to meter UTC is the clock's job.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

__all__ = [
    "MAX_DAY_PROFILES",
    "MAX_RATES",
    "MAX_SEASONS",
    "MAX_SPECIAL_DAYS",
    "MAX_SWITCHES_PER_DAY",
    "MAX_WEEK_PROFILES",
    "ActivityCalendar",
    "CalendarError",
    "CalendarSet",
    "Capacity",
    "DayProfile",
    "Season",
    "SpecialDay",
    "Switch",
    "WeekProfile",
]

MAX_SEASONS = 12
MAX_WEEK_PROFILES = 12
MAX_DAY_PROFILES = 16
MAX_SWITCHES_PER_DAY = 24
MAX_RATES = 8
MAX_SPECIAL_DAYS = 200

# Days per month in a leap year: the most a season start or a special day may name.
_MAX_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DAY = timedelta(days=1)


class CalendarError(ValueError):
    """A calendar or special day that the meter refuses, with the reason."""


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class Capacity:
    """How many entries a device model's calendar tables hold."""

    seasons: int = MAX_SEASONS
    week_profiles: int = MAX_WEEK_PROFILES
    day_profiles: int = MAX_DAY_PROFILES
    switches_per_day: int = MAX_SWITCHES_PER_DAY
    rates: int = MAX_RATES
    special_days: int = MAX_SPECIAL_DAYS

    def __post_init__(self) -> None:
        for name in ("seasons", "week_profiles", "day_profiles", "switches_per_day", "rates"):
            if getattr(self, name) < 1:
                raise CalendarError(f"capacity {name} must be at least 1")
        if self.special_days < 0:
            raise CalendarError("capacity special_days must not be negative")

    def to_state(self) -> dict[str, Any]:
        return {
            "seasons": self.seasons,
            "week_profiles": self.week_profiles,
            "day_profiles": self.day_profiles,
            "switches_per_day": self.switches_per_day,
            "rates": self.rates,
            "special_days": self.special_days,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Capacity:
        return cls(**{k: int(v) for k, v in state.items()})


@dataclass(frozen=True)
class Season:
    """A season starting at 00:00 local on ``month``/``day`` every year and running until the
    next season's start (class 20 season_profile). A 29 February start begins on 1 March in
    common years. ``start_as_written`` is the start exactly as a head-end wrote it (opaque
    here: the 12 octets of a COSEM date-time, with its year, time, deviation or wildcards),
    kept so that it reads back unchanged; empty for a season from a model file."""

    name: str
    month: int
    day: int
    week: str
    start_as_written: bytes = field(default=b"", compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise CalendarError(f"season {self.name!r}: month {self.month} not in 1..12")
        limit = _MAX_MONTH_DAYS[self.month - 1]
        if not 1 <= self.day <= limit:
            raise CalendarError(f"season {self.name!r}: day {self.day} not in 1..{limit}")


@dataclass(frozen=True)
class WeekProfile:
    """Day ids for Monday..Sunday (class 20 week_profile_table)."""

    name: str
    days: tuple[int, int, int, int, int, int, int]

    def __post_init__(self) -> None:
        days = tuple(self.days)
        if len(days) != 7:
            raise CalendarError(f"week profile {self.name!r}: {len(days)} day ids, need 7")
        for day_id in days:
            if not 0 <= day_id <= 255:
                raise CalendarError(f"week profile {self.name!r}: day id {day_id} not in 0..255")
        object.__setattr__(self, "days", days)


@dataclass(frozen=True)
class Switch:
    """From ``minute`` of the day (0..1439) on, ``rate`` (1..capacity.rates) holds."""

    minute: int
    rate: int

    def __post_init__(self) -> None:
        if not 0 <= self.minute <= 1439:
            raise CalendarError(f"switch minute {self.minute} not in 0..1439")


@dataclass(frozen=True)
class DayProfile:
    """A day schedule (class 20 day_profile_table entry); switches are kept sorted by minute."""

    day_id: int
    switches: tuple[Switch, ...]
    _minutes: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.day_id <= 255:
            raise CalendarError(f"day profile id {self.day_id} not in 0..255")
        if not self.switches:
            raise CalendarError(f"day profile {self.day_id} has no switches")
        switches = tuple(sorted(self.switches, key=lambda s: s.minute))
        object.__setattr__(self, "switches", switches)
        object.__setattr__(self, "_minutes", tuple(s.minute for s in switches))

    def index_at(self, minute: int) -> int:
        """Index of the last switch at or before ``minute``; -1 before the first one."""
        return bisect_right(self._minutes, minute) - 1


@dataclass(frozen=True)
class CalendarSet:
    """One complete calendar: the active or the passive attribute set of class 20."""

    name: str
    seasons: tuple[Season, ...]
    weeks: tuple[WeekProfile, ...]
    days: tuple[DayProfile, ...]
    _season_starts: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _season_weeks: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _week_by_name: dict[str, WeekProfile] = field(init=False, repr=False, compare=False)
    _day_by_id: dict[int, DayProfile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seasons", tuple(self.seasons))
        object.__setattr__(self, "weeks", tuple(self.weeks))
        object.__setattr__(self, "days", tuple(self.days))
        ordered = sorted(self.seasons, key=lambda s: (s.month, s.day))
        object.__setattr__(self, "_season_starts", tuple((s.month, s.day) for s in ordered))
        object.__setattr__(self, "_season_weeks", tuple(s.week for s in ordered))
        object.__setattr__(self, "_week_by_name", {w.name: w for w in self.weeks})
        object.__setattr__(self, "_day_by_id", {d.day_id: d for d in self.days})

    def validate(self, capacity: Capacity) -> None:
        """Refuse a calendar the device cannot hold or that references what it lacks."""
        where = f"calendar {self.name!r}"
        if not self.seasons:
            raise CalendarError(f"{where}: no season")
        if len(self.seasons) > capacity.seasons:
            raise CalendarError(f"{where}: {len(self.seasons)} seasons, at most {capacity.seasons}")
        if len(self.weeks) > capacity.week_profiles:
            raise CalendarError(
                f"{where}: {len(self.weeks)} week profiles, at most {capacity.week_profiles}"
            )
        if len(self.days) > capacity.day_profiles:
            raise CalendarError(
                f"{where}: {len(self.days)} day profiles, at most {capacity.day_profiles}"
            )
        starts: set[tuple[int, int]] = set()
        for season in self.seasons:
            if (season.month, season.day) in starts:
                raise CalendarError(
                    f"{where}: two seasons start on {season.month:02d}-{season.day:02d}"
                )
            starts.add((season.month, season.day))
            if season.week not in self._week_by_name:
                raise CalendarError(
                    f"{where}: season {season.name!r} references unknown week profile "
                    f"{season.week!r}"
                )
        if len(self._week_by_name) != len(self.weeks):
            names = [w.name for w in self.weeks]
            dup = next(n for n in names if names.count(n) > 1)
            raise CalendarError(f"{where}: duplicate week profile name {dup!r}")
        if len(self._day_by_id) != len(self.days):
            ids = [d.day_id for d in self.days]
            dup_id = next(i for i in ids if ids.count(i) > 1)
            raise CalendarError(f"{where}: duplicate day profile id {dup_id}")
        for week in self.weeks:
            for day_id in week.days:
                if day_id not in self._day_by_id:
                    raise CalendarError(
                        f"{where}: week profile {week.name!r} references unknown day profile "
                        f"{day_id}"
                    )
        for day in self.days:
            if len(day.switches) > capacity.switches_per_day:
                raise CalendarError(
                    f"{where}: day profile {day.day_id} has {len(day.switches)} switches, "
                    f"at most {capacity.switches_per_day}"
                )
            previous = -1
            for switch in day.switches:
                if switch.minute == previous:
                    raise CalendarError(
                        f"{where}: day profile {day.day_id} switches twice at "
                        f"{_hhmm(switch.minute)}"
                    )
                previous = switch.minute
                if not 1 <= switch.rate <= capacity.rates:
                    raise CalendarError(
                        f"{where}: day profile {day.day_id} at {_hhmm(switch.minute)}: rate "
                        f"{switch.rate} not in 1..{capacity.rates}"
                    )

    def week_for(self, d: date) -> WeekProfile:
        """The week profile of the season holding ``d``: the latest start on or before it,
        else (before the first start of the year) the last season of the previous year."""
        i = bisect_right(self._season_starts, (d.month, d.day)) - 1
        return self._week_by_name[self._season_weeks[i]]  # i == -1 wraps to the last season

    def day(self, day_id: int) -> DayProfile | None:
        return self._day_by_id.get(day_id)

    def to_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seasons": [
                [s.name, s.month, s.day, s.week, s.start_as_written.hex()] for s in self.seasons
            ],
            "weeks": [[w.name, list(w.days)] for w in self.weeks],
            "days": [[d.day_id, [[s.minute, s.rate] for s in d.switches]] for d in self.days],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CalendarSet:
        return cls(
            name=str(state["name"]),
            seasons=tuple(
                # a memory from before start_as_written has four fields per season
                Season(str(n), int(m), int(d), str(w), bytes.fromhex(written[0] if written else ""))
                for n, m, d, w, *written in state["seasons"]
            ),
            weeks=tuple(
                WeekProfile(str(n), tuple(int(i) for i in ids))  # type: ignore[arg-type]
                for n, ids in state["weeks"]
            ),
            days=tuple(
                DayProfile(int(i), tuple(Switch(int(m), int(r)) for m, r in sw))
                for i, sw in state["days"]
            ),
        )


@dataclass(frozen=True)
class SpecialDay:
    """A special days table entry (class 11): on a matching date ``day_id`` replaces the week
    profile. ``year``/``month`` None are the DLMS "not specified" wildcards (every year, every
    month); ``day`` -1/-2 are the last/second-last day of the month (DLMS 0xFE/0xFD)."""

    index: int
    year: int | None
    month: int | None
    day: int
    day_id: int

    def __post_init__(self) -> None:
        if not 0 <= self.index <= 0xFFFF:
            raise CalendarError(f"special day index {self.index} not in 0..65535")
        if self.year is not None and not 1 <= self.year <= 9999:
            raise CalendarError(f"special day {self.index}: year {self.year} not in 1..9999")
        if self.month is not None and not 1 <= self.month <= 12:
            raise CalendarError(f"special day {self.index}: month {self.month} not in 1..12")
        limit = 31 if self.month is None else _MAX_MONTH_DAYS[self.month - 1]
        if not (1 <= self.day <= limit or self.day in (-1, -2)):
            raise CalendarError(
                f"special day {self.index}: day {self.day} not in 1..{limit}, -1 or -2"
            )
        if not 0 <= self.day_id <= 255:
            raise CalendarError(f"special day {self.index}: day id {self.day_id} not in 0..255")

    def matches(self, d: date) -> bool:
        if self.year is not None and self.year != d.year:
            return False
        if self.month is not None and self.month != d.month:
            return False
        if self.day > 0:
            return d.day == self.day
        return d.day == _days_in_month(d.year, d.month) + 1 + self.day

    @property
    def specificity(self) -> int:
        """Fixed fields: a dated entry beats a yearly one, which beats a monthly one."""
        return (self.year is not None) + (self.month is not None)


class ActivityCalendar:
    """Active and passive calendars, the passive activation time and the special days.

    The meter asks ``rate_at`` for the rate in force and ``next_change_after`` for the next
    wall time it must stop at; at each stop it calls ``activate_passive_if_due``.
    """

    def __init__(
        self,
        active: CalendarSet,
        passive: CalendarSet | None = None,
        activate_passive_at: datetime | None = None,
        special_days: Iterable[SpecialDay] = (),
        capacity: Capacity = Capacity(),
    ) -> None:
        self.capacity = capacity
        self._cache: dict[date, DayProfile] = {}
        active.validate(capacity)
        self._active = active
        self.passive: CalendarSet | None = None
        self.activate_passive_at: datetime | None = None
        self._special: dict[int, SpecialDay] = {}
        if passive is not None:
            self.set_passive(passive, activate_passive_at)
        elif activate_passive_at is not None:
            raise CalendarError("an activation time needs a passive calendar")
        for entry in special_days:
            self.insert_special_day(entry)

    @property
    def active(self) -> CalendarSet:
        return self._active

    @active.setter
    def active(self, calendar: CalendarSet) -> None:
        """Replace the active calendar directly (validated)."""
        calendar.validate(self.capacity)
        self._active = calendar
        self._cache.clear()

    # -- programming -----------------------------------------------------------------------

    def set_passive(self, passive: CalendarSet, activate_at: datetime | None) -> None:
        """Write the passive calendar (class 20 attributes 6-9) and its activation time
        (attribute 10; None = not scheduled)."""
        passive.validate(self.capacity)
        self.passive = passive
        self.activate_passive_at = activate_at

    def activate_passive(self) -> None:
        """Class 20 method 1 activate_passive_calendar: the passive set becomes active now
        (the passive set stays as written) and any scheduled activation is cleared."""
        if self.passive is None:
            raise CalendarError("no passive calendar to activate")
        self.passive.validate(self.capacity)  # written piecewise over DLMS: checked now
        self._active = self.passive
        self.activate_passive_at = None
        self._cache.clear()

    def activate_passive_if_due(self, wall: datetime) -> bool:
        """Activate the passive calendar when ``wall`` has reached its activation time."""
        due = self.activate_passive_at
        if self.passive is None or due is None or wall < due:
            return False
        try:
            self.activate_passive()
        except CalendarError:
            self.activate_passive_at = None  # an inconsistent passive set stays passive
            return False
        return True

    def write_passive(self, passive: CalendarSet) -> None:
        """Replace the passive set without checking it: over DLMS its attributes arrive one
        by one (name, seasons, weeks, days) and only the whole is checked, at activation."""
        self.passive = passive

    @property
    def special_days(self) -> tuple[SpecialDay, ...]:
        return tuple(self._special[i] for i in sorted(self._special))

    def insert_special_day(self, entry: SpecialDay) -> None:
        """Class 11 method 1 insert: an entry with the same index is replaced. The day id is
        not checked against the calendar (the table may be written before the calendar that
        defines it); an entry whose day id the active calendar lacks is ignored."""
        if entry.index not in self._special and len(self._special) >= self.capacity.special_days:
            raise CalendarError(f"special days table full ({self.capacity.special_days} entries)")
        self._special[entry.index] = entry
        self._cache.clear()

    def delete_special_day(self, index: int) -> None:
        """Class 11 method 2 delete; deleting an absent index is a no-op."""
        self._special.pop(index, None)
        self._cache.clear()

    # -- lookup ----------------------------------------------------------------------------

    def _special_for(self, d: date) -> DayProfile | None:
        best: SpecialDay | None = None
        for entry in self._special.values():
            if (
                entry.matches(d)
                and self.active.day(entry.day_id) is not None
                and (
                    best is None
                    or (entry.specificity, -entry.index) > (best.specificity, -best.index)
                )
            ):
                best = entry
        return None if best is None else self.active.day(best.day_id)

    def day_profile_for(self, date: date) -> DayProfile:
        """The day profile of a date: a special day if one matches (the most specific, then
        the lowest index), else the season's week profile for its weekday."""
        d = date
        cached = self._cache.get(d)
        if cached is not None:
            return cached
        profile = self._special_for(d)
        if profile is None:
            week = self.active.week_for(d)
            found = self.active.day(week.days[d.weekday()])
            assert found is not None  # guaranteed by CalendarSet.validate
            profile = found
        if len(self._cache) >= 8:
            self._cache.clear()
        self._cache[d] = profile
        return profile

    def rate_at(self, wall: datetime) -> int:
        """The rate in force at a local wall time: the last switch at or before its minute;
        before the day's first switch the previous day's last switch still holds."""
        d = wall.date()
        profile = self.day_profile_for(d)
        i = profile.index_at(wall.hour * 60 + wall.minute)
        if i >= 0:
            return profile.switches[i].rate
        return self.day_profile_for(d - _DAY).switches[-1].rate

    def next_change_after(self, wall: datetime) -> datetime:
        """The earliest wall time after ``wall`` at which the rate or the day profile may
        change: the next switch today, else the next midnight, or the passive calendar's
        activation time if that comes sooner."""
        midnight = datetime(wall.year, wall.month, wall.day)
        profile = self.day_profile_for(wall.date())
        i = profile.index_at(wall.hour * 60 + wall.minute) + 1
        if i < len(profile.switches):
            result = midnight + timedelta(minutes=profile.switches[i].minute)
        else:
            result = midnight + _DAY
        due = self.activate_passive_at
        if self.passive is not None and due is not None and wall < due < result:
            result = due
        return result

    # -- persistence -----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        due = self.activate_passive_at
        return {
            "capacity": self.capacity.to_state(),
            "active": self.active.to_state(),
            "passive": None if self.passive is None else self.passive.to_state(),
            "activate_passive_at": None if due is None else due.isoformat(),
            "special_days": [
                [s.index, s.year, s.month, s.day, s.day_id] for s in self.special_days
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ActivityCalendar:
        passive = state.get("passive")
        due = state.get("activate_passive_at")
        calendar = cls(
            active=CalendarSet.from_state(state["active"]),
            special_days=[
                SpecialDay(
                    int(i),
                    None if y is None else int(y),
                    None if m is None else int(m),
                    int(d),
                    int(day_id),
                )
                for i, y, m, d, day_id in state.get("special_days", [])
            ],
            capacity=Capacity.from_state(state.get("capacity", {})),
        )
        if passive is not None:  # as written, maybe halfway: checked only at activation
            calendar.write_passive(CalendarSet.from_state(passive))
        # A head-end may write the time before the passive set: held, it waits for one.
        calendar.activate_passive_at = None if due is None else datetime.fromisoformat(due)
        return calendar
