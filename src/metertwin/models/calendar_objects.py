"""Activity calendar (class 20) and special days table (class 11) over the meter's calendar.

Layouts per reference/dlms.md 6: seasons {name, start date-time with wildcards, week name},
weeks {name, 7 day ids}, days {id, [{start time(4), script 0.0.10.0.100.255, selector}]}:
the script selector is the tariff rate. Passive attributes are written one by one and
checked as a whole when activated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, time

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.cosem_datetime import CosemDate, CosemDateTime, CosemTime
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import CosemError, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Request
from metertwin.meter.calendar import (
    CalendarError,
    CalendarSet,
    DayProfile,
    Season,
    SpecialDay,
    Switch,
    WeekProfile,
)
from metertwin.meter.core import Meter
from metertwin.models.values import integer, items, octets

TARIFF_SCRIPT_TABLE = Obis(0, 0, 10, 0, 100)


def _text(data: Data) -> str:
    try:
        return octets(data).decode("ascii")
    except UnicodeDecodeError:
        raise type_unmatched("names are ASCII octet-strings") from None


def _season_data(season: Season) -> Data:
    """A season as written, or (from a model file) every year on its month and day at 00:00."""
    start = season.start_as_written or (
        CosemDateTime(None, season.month, season.day, None, 0, 0, 0, 0, None, None).to_bytes()
    )
    return Data.structure(
        [
            Data.octet_string(season.name.encode()),
            Data.octet_string(start),
            Data.octet_string(season.week.encode()),
        ]
    )


def _season_from(data: Data) -> Season:
    """A season recurs yearly from its month and day; the rest of the start is kept as
    written, but a year, when given, must make it a real date (no 29 February 2025)."""
    name, start, week = items(data, 3)
    raw = octets(start, 12)
    try:
        stamp = CosemDateTime.from_bytes(raw)
        if stamp.month is None or stamp.day is None:
            raise type_unmatched("a season starts on a month and day")
        if stamp.year is not None:
            stamp.date.to_date()
        return Season(_text(name), stamp.month, stamp.day, _text(week), raw)
    except ValueError as exc:  # CosemDateTimeError and CalendarError included
        raise type_unmatched(str(exc)) from None


def _week_data(week: WeekProfile) -> Data:
    return Data.structure(
        [Data.octet_string(week.name.encode()), *(Data.unsigned(d) for d in week.days)]
    )


def _week_from(data: Data) -> WeekProfile:
    fields = items(data, 8)
    days = tuple(integer(d, DataType.UNSIGNED) for d in fields[1:])
    try:
        return WeekProfile(
            _text(fields[0]), (days[0], days[1], days[2], days[3], days[4], days[5], days[6])
        )
    except CalendarError as exc:
        raise type_unmatched(str(exc)) from None


def _day_data(day: DayProfile) -> Data:
    actions = [
        Data.structure(
            [
                Data.octet_string(CosemTime(s.minute // 60, s.minute % 60, 0, 0).to_bytes()),
                Data.octet_string(bytes(TARIFF_SCRIPT_TABLE)),
                Data.long_unsigned(s.rate),
            ]
        )
        for s in day.switches
    ]
    return Data.structure([Data.unsigned(day.day_id), Data.array(actions)])


def _day_from(data: Data) -> DayProfile:
    day_id, actions = items(data, 2)
    switches = []
    for action in items(actions):
        start, _script, selector = items(action, 3)
        try:
            moment = CosemTime.from_bytes(octets(start, 4))
        except ValueError as exc:
            raise type_unmatched(str(exc)) from None
        if moment.hour is None:
            raise type_unmatched("a switch needs an hour")
        switches.append(
            Switch(
                moment.hour * 60 + (moment.minute or 0), integer(selector, DataType.LONG_UNSIGNED)
            )
        )
    try:
        return DayProfile(integer(day_id, DataType.UNSIGNED), tuple(switches))
    except CalendarError as exc:
        raise type_unmatched(str(exc)) from None


def _set_data(calendar: CalendarSet) -> tuple[Data, Data, Data, Data]:
    return (
        Data.octet_string(calendar.name.encode()),
        Data.array([_season_data(s) for s in calendar.seasons]),
        Data.array([_week_data(w) for w in calendar.weeks]),
        Data.array([_day_data(d) for d in calendar.days]),
    )


def activity_calendar(obis: Obis, meter: Meter) -> CosemObject:
    calendar = meter.calendar

    def active(part: int) -> Callable[[Request], Data]:
        return lambda _request: _set_data(calendar.active)[part]

    def passive_set() -> CalendarSet:
        return calendar.passive or calendar.active

    def passive(part: int) -> Callable[[Request], Data]:
        return lambda _request: _set_data(passive_set())[part]

    def write(**changes: object) -> None:
        calendar.write_passive(dataclasses.replace(passive_set(), **changes))  # type: ignore[arg-type]

    def set_name(_request: Request, value: Data) -> None:
        write(name=_text(value))

    def set_seasons(_request: Request, value: Data) -> None:
        write(seasons=tuple(_season_from(item) for item in items(value)))

    def set_weeks(_request: Request, value: Data) -> None:
        write(weeks=tuple(_week_from(item) for item in items(value)))

    def set_days(_request: Request, value: Data) -> None:
        write(days=tuple(_day_from(item) for item in items(value)))

    written_key = f"{obis}/10 as written"

    def activation_from(raw: bytes) -> datetime | None:
        """The local wall time an activate_passive_calendar_time names; None = not
        scheduled (no year, month or day). Time wildcards read as 0; the deviation is kept
        as written but the time is the meter's local time."""
        try:
            stamp = CosemDateTime.from_bytes(raw)
            if stamp.year is None or stamp.month is None or stamp.day is None:
                return None
            return datetime.combine(
                stamp.date.to_date(), time(stamp.hour or 0, stamp.minute or 0, stamp.second or 0)
            )
        except ValueError as exc:  # CosemDateTimeError included
            raise type_unmatched(str(exc)) from None

    def get_activation(_request: Request) -> Data:
        """The time as written while the core still holds what it named (an activation
        that has happened clears it)."""
        due = calendar.activate_passive_at
        written = meter.parameters.get(written_key)
        if written is not None and activation_from(written) == due:
            return Data.octet_string(written)
        if due is None:
            return Data.octet_string(CosemDateTime().to_bytes())
        return Data.octet_string(CosemDateTime.from_datetime(due, None).to_bytes())

    def set_activation(_request: Request, value: Data) -> None:
        raw = octets(value, 12)
        meter.set_passive_activation(activation_from(raw))
        meter.parameters[written_key] = raw

    def activate(_request: Request, _parameters: Data | None) -> Data | None:
        try:
            meter.activate_passive_calendar()
        except CalendarError as exc:
            raise CosemError(DataAccessResult.OTHER_REASON, str(exc)) from None
        return None

    return CosemObject(
        interface_class(20),
        obis,
        {
            2: Binding(get=active(0)),
            3: Binding(get=active(1)),
            4: Binding(get=active(2)),
            5: Binding(get=active(3)),
            6: Binding(get=passive(0), set=set_name),
            7: Binding(get=passive(1), set=set_seasons),
            8: Binding(get=passive(2), set=set_weeks),
            9: Binding(get=passive(3), set=set_days),
            10: Binding(get=get_activation, set=set_activation),
        },
        {1: activate},
    )


def _special_data(entry: SpecialDay) -> Data:
    day = {-1: 0xFE, -2: 0xFD}.get(entry.day, entry.day)  # last / second-last day codes
    date = CosemDate(entry.year, entry.month, day, None)
    return Data.structure(
        [
            Data.long_unsigned(entry.index),
            Data.octet_string(date.to_bytes()),
            Data.unsigned(entry.day_id),
        ]
    )


def special_days_table(obis: Obis, meter: Meter) -> CosemObject:
    def entries(_request: Request) -> Data:
        return Data.array([_special_data(e) for e in meter.calendar.special_days])

    def insert(_request: Request, parameters: Data | None) -> Data | None:
        if parameters is None:
            raise type_unmatched("insert takes a special day entry")
        index, date, day_id = items(parameters, 3)
        try:
            when = CosemDate.from_bytes(octets(date, 5))
            if when.day is None:
                raise type_unmatched("a special day needs a day of month")
            if when.year is not None and when.month is not None and when.day <= 31:
                when.to_date()  # a dated entry names a real date (no 29 February 2025)
            day = {0xFE: -1, 0xFD: -2}.get(when.day, when.day)
            meter.insert_special_day(
                SpecialDay(
                    integer(index, DataType.LONG_UNSIGNED),
                    when.year,
                    when.month,
                    day,
                    integer(day_id, DataType.UNSIGNED),
                )
            )
        except CalendarError as exc:
            raise CosemError(DataAccessResult.OTHER_REASON, str(exc)) from None
        except ValueError as exc:
            raise type_unmatched(str(exc)) from None
        return None

    def delete(_request: Request, parameters: Data | None) -> Data | None:
        if parameters is None:
            raise type_unmatched("delete takes an index")
        meter.delete_special_day(integer(parameters, DataType.LONG_UNSIGNED))
        return None

    return CosemObject(interface_class(11), obis, {2: Binding(get=entries)}, {1: insert, 2: delete})
