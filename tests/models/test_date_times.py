"""Date-times a head-end writes, through the sans-IO DLMS server (issue 19 items 1-2, issue 11
item 6; docs/dlms.md "Date-times").

Every date-time-taking attribute, method and selective-access field refuses a field out of its
range (month 13, second 64, ...) and an instant the meter cannot keep (a clock set to year 1 or
9999) with the class's own result, changes nothing and logs no traceback; what it accepts is
read back exactly as written, and the meter then runs on and restarts from its memory.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import ActionResult, DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import SelectiveAccess
from metertwin.dlms.client.association import ClientAssociation, Exchange
from metertwin.dlms.client.errors import ActionFailedError, DataAccessError
from metertwin.dlms.client.objects import CLOCK_TIME
from metertwin.dlms.server.connection import ServerConnection
from metertwin.meter.core import Meter
from metertwin.meter.inputs import PhysicalState
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.storage import MeterStore

T = TypeVar("T")
T0 = utc_ms(2026, 6, 1, 9)  # Monday, summer time in az3p
DAY_MS = 86_400_000
CLOCK = Obis(0, 0, 1, 0, 0)
CALENDAR = Obis(0, 0, 13, 0, 0)
SPECIAL_DAYS = Obis(0, 0, 11, 0, 0)
BILLING_SCHEDULE = Obis(0, 0, 15, 0, 0)
PROFILE = Obis(1, 0, 99, 1, 0)
UNSPECIFIED_DEVIATION = -0x8000
UTILITY_SAP = 1
UNMATCHED = DataAccessResult.TYPE_UNMATCHED


def stamp(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    hundredths: int = 0,
    deviation: int = UNSPECIFIED_DEVIATION,
    weekday: int = 0xFF,
    status: int = 0,
) -> bytes:
    """12 date-time octets as a head-end may send them, unchecked (dlms.md 1.3)."""
    return struct.pack(
        ">HBBBBBBBhB",
        year,
        month,
        day,
        weekday,
        hour,
        minute,
        second,
        hundredths,
        deviation,
        status,
    )


# Fields out of their DLMS range, and dates no calendar has: never a usable date-time.
OUT_OF_RANGE = {
    "month 13": stamp(2026, 13, 1),
    "month 0": stamp(2026, 0, 1),
    "day 32": stamp(2026, 7, 32),
    "day 0": stamp(2026, 7, 0),
    "day of week 8": stamp(2026, 7, 1, weekday=8),
    "hour 24": stamp(2026, 7, 1, 24),
    "minute 60": stamp(2026, 7, 1, 12, 60),
    "second 64": stamp(2026, 7, 1, 12, 0, 64),
    "hundredths 100": stamp(2026, 7, 1, 12, 0, 0, 100),
    "deviation 721": stamp(2026, 7, 1, 12, deviation=721),
    "30 February": stamp(2026, 2, 30),
    "29 February 2025": stamp(2025, 2, 29),
    "year 0": stamp(0, 7, 1),
    "year 65534": stamp(0xFFFE, 7, 1),
}
# Well-formed instants a clock cannot be set to (docs/dlms.md "Date-times": 1971..2199 UTC).
EXTREMES = {
    "year 1": stamp(1, 1, 1),
    "year 1, UTC+3": stamp(1, 1, 1, deviation=-180),
    "year 2": stamp(2, 1, 1, deviation=-180),
    "year 9998": stamp(9998, 1, 1, deviation=-180),
    "year 9999, 23:58": stamp(9999, 12, 31, 23, 58),
    "year 9999, UTC+3": stamp(9999, 12, 31, 23, 58, deviation=-180),
    "year 1970": stamp(1970, 6, 1, deviation=0),
    "year 2200": stamp(2200, 1, 1, deviation=0),
}


class HeadEnd:
    """A head-end on the utility association of a fresh meter, APDUs handed to the server
    in-process; log records at WARNING and above are the server's tracebacks."""

    def __init__(
        self, name: str, caplog: pytest.LogCaptureFixture, meter: Meter | None = None
    ) -> None:
        model = load_model(name)
        self.model = model
        self.meter = meter or Meter(model.spec, T0, "12345678")
        self.connection = ServerConnection(build_logical_device(model, self.meter, lambda: None), 1)
        utility = next(a for a in model.dlms.associations if a.client_sap == UTILITY_SAP)
        self.client = ClientAssociation(password=model.spec.security.default_secrets[utility.name])
        self.caplog = caplog
        self.drive(self.client.associate())

    def drive(self, exchange: Exchange[T]) -> T:
        request = next(exchange)
        try:
            while True:
                answer = self.connection.receive(UTILITY_SAP, request)
                assert answer is not None
                request = exchange.send(answer)
        except StopIteration as done:
            result: T = done.value
            return result

    def set(self, obis: Obis, class_id: int, attribute: int, value: Data) -> DataAccessResult:
        try:
            self.drive(self.client.set(obis, class_id, attribute, value))
        except DataAccessError as refused:
            return refused.result
        return DataAccessResult.SUCCESS

    def get(
        self, obis: Obis, class_id: int, attribute: int, access: SelectiveAccess | None = None
    ) -> Data | DataAccessResult:
        try:
            return self.drive(self.client.get(obis, class_id, attribute, access))
        except DataAccessError as refused:
            return refused.result

    def action(self, obis: Obis, class_id: int, method: int, parameters: Data) -> ActionResult:
        try:
            self.drive(self.client.action(obis, class_id, method, parameters))
        except ActionFailedError as refused:
            return refused.result
        return ActionResult.SUCCESS

    def state(self) -> dict[str, Any]:
        """What the meter would save: equal before and after a refusal."""
        return self.meter.to_state()

    def tracebacks(self) -> list[str]:
        return [r.getMessage() for r in self.caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def head_end(caplog: pytest.LogCaptureFixture) -> Iterator[HeadEnd]:
    with caplog.at_level(logging.WARNING):
        yield HeadEnd("az3p", caplog)


def _season(name: bytes, start: bytes, week: bytes) -> Data:
    return Data.structure(
        [Data.octet_string(name), Data.octet_string(start), Data.octet_string(week)]
    )


def _passive_seasons(head_end: HeadEnd, starts: list[bytes]) -> Data:
    """The passive season profile with the given starts, on the active calendar's weeks."""
    week = head_end.meter.calendar.active.seasons[0].week.encode()
    return Data.array([_season(f"S{i}".encode(), start, week) for i, start in enumerate(starts, 1)])


def _range(start: bytes, end: bytes) -> SelectiveAccess:
    return SelectiveAccess(
        1,
        Data.structure(
            [CLOCK_TIME.to_data(), Data.octet_string(start), Data.octet_string(end), Data.array([])]
        ),
    )


# -- refusals: type-unmatched, nothing changed, no traceback -------------------------------


@pytest.mark.parametrize("name", ["az3p", "pmm1220"])
def test_a_clock_set_the_meter_cannot_keep_is_refused_before_anything_changes(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 19.1: year 1, 2, 9998, 9999 (and any instant outside 1971..2199) answer
    type-unmatched; the clock, its settings record and the event logs stay as they were."""
    with caplog.at_level(logging.WARNING):
        head_end = HeadEnd(name, caplog)
        before = head_end.state()
        for label, raw in {**OUT_OF_RANGE, **EXTREMES}.items():
            assert head_end.set(CLOCK, 8, 2, Data.octet_string(raw)) is UNMATCHED, label
        assert head_end.state() == before
        assert head_end.tracebacks() == []
        head_end.meter.advance(T0 + DAY_MS)  # and the meter runs on


@pytest.mark.parametrize("attribute", [5, 6])
def test_dst_switches_with_fields_out_of_range_are_refused(
    head_end: HeadEnd, attribute: int
) -> None:
    before = head_end.state()
    for label, raw in OUT_OF_RANGE.items():
        if label.startswith(("year", "29 Feb")):
            continue  # a switch rule keeps month, day and time only: the year is no part of it
        assert head_end.set(CLOCK, 8, attribute, Data.octet_string(raw)) is UNMATCHED, label
    assert head_end.state() == before
    assert head_end.tracebacks() == []


def test_season_starts_with_fields_out_of_range_are_refused(head_end: HeadEnd) -> None:
    before = head_end.state()
    for label, raw in OUT_OF_RANGE.items():
        value = _passive_seasons(head_end, [stamp(0xFFFF, 1, 1), raw])
        assert head_end.set(CALENDAR, 20, 7, value) is UNMATCHED, label
    assert head_end.state() == before
    assert head_end.tracebacks() == []


def test_an_activation_time_out_of_range_is_refused(head_end: HeadEnd) -> None:
    before = head_end.state()
    for label, raw in OUT_OF_RANGE.items():
        assert head_end.set(CALENDAR, 20, 10, Data.octet_string(raw)) is UNMATCHED, label
    assert head_end.state() == before
    assert head_end.tracebacks() == []


def test_special_day_dates_out_of_range_are_refused(head_end: HeadEnd) -> None:
    before = head_end.state()
    for label, raw in OUT_OF_RANGE.items():
        date = raw[:5]
        if label.startswith(("hour", "minute", "second", "hundredths", "deviation")):
            continue  # not part of a date
        entry = Data.structure([Data.long_unsigned(7), Data.octet_string(date), Data.unsigned(1)])
        assert head_end.action(SPECIAL_DAYS, 11, 1, entry) in (
            ActionResult.TYPE_UNMATCHED,
            ActionResult.OTHER_REASON,  # a well-formed date the table cannot hold (year 0)
        ), label
    assert head_end.state() == before
    assert head_end.tracebacks() == []


def test_execution_times_out_of_range_are_refused(head_end: HeadEnd) -> None:
    before = head_end.state()
    for label, raw in OUT_OF_RANGE.items():
        time, date = raw[5:9], raw[:5]
        entry = Data.structure([Data.octet_string(time), Data.octet_string(date)])
        result = head_end.set(BILLING_SCHEDULE, 22, 4, Data.array([entry]))
        assert result is UNMATCHED, label
    assert head_end.state() == before
    assert head_end.tracebacks() == []


def test_profile_range_bounds_out_of_range_are_refused(head_end: HeadEnd) -> None:
    head_end.meter.advance(T0 + 3_600_000, PhysicalState((230.0,) * 3, (100.0,) * 3, (0.0,) * 3))
    good = stamp(2026, 6, 1, 0)
    for label, raw in OUT_OF_RANGE.items():
        for start, end in ((raw, good), (good, raw)):
            assert head_end.get(PROFILE, 7, 2, _range(start, end)) is UNMATCHED, label
    assert head_end.tracebacks() == []


def test_profile_range_bounds_at_the_extremes_read_every_entry(head_end: HeadEnd) -> None:
    """A range from year 1 to year 9999 is a valid question: all of the buffer."""
    head_end.meter.advance(T0 + 3_600_000, PhysicalState((230.0,) * 3, (100.0,) * 3, (0.0,) * 3))
    everything = head_end.get(PROFILE, 7, 2)
    assert isinstance(everything, Data) and everything.as_items()
    for deviation in (UNSPECIFIED_DEVIATION, -240, 720, -720):
        first = stamp(1, 1, 1, deviation=deviation)
        last = stamp(9999, 12, 31, 23, 59, 59, 99, deviation=deviation)
        assert head_end.get(PROFILE, 7, 2, _range(first, last)) == everything, deviation
    assert head_end.tracebacks() == []


def test_clock_methods_that_would_leave_the_window_are_refused(head_end: HeadEnd) -> None:
    """adjust_to_quarter and shift_time from the last instants the meter keeps: other-reason
    (an Action-Result), the clock unchanged."""
    last_second = stamp(2199, 12, 31, 23, 59, 50, deviation=0)
    assert head_end.set(CLOCK, 8, 2, Data.octet_string(last_second)) is DataAccessResult.SUCCESS
    before = head_end.state()
    assert head_end.action(CLOCK, 8, 1, Data.integer(0)) is ActionResult.OTHER_REASON
    assert head_end.action(CLOCK, 8, 6, Data.long(60)) is ActionResult.OTHER_REASON
    assert head_end.state() == before
    assert head_end.action(CLOCK, 8, 6, Data.long(-60)) is ActionResult.SUCCESS
    assert head_end.tracebacks() == []


# -- what is accepted runs on and restarts -----------------------------------------------


def _runs_a_day_and_restarts(head_end: HeadEnd) -> None:
    meter = head_end.meter
    meter.advance(meter.now_ms + DAY_MS)
    restarted = Meter.from_state(head_end.model.spec, meter.to_state())
    restarted.advance(restarted.now_ms + DAY_MS)


def test_every_field_at_its_limits_then_restart(head_end: HeadEnd) -> None:
    """The earliest and latest clock instants, activation times in year 1 and 9999, a season
    on 29 February, a special day in year 9999: the meter runs a day, restarts from what it
    saved, and runs another."""
    for clock in (stamp(1971, 1, 1, deviation=0), stamp(2199, 12, 31, 23, 59, 59, 99, 0)):
        assert head_end.set(CLOCK, 8, 2, Data.octet_string(clock)) is DataAccessResult.SUCCESS
        for activation in (stamp(1, 1, 1), stamp(9999, 12, 31, 23, 59, 59, 99, 720, 7, 0xFE)):
            value = Data.octet_string(activation)
            assert head_end.set(CALENDAR, 20, 10, value) is DataAccessResult.SUCCESS
            seasons = _passive_seasons(head_end, [stamp(0xFFFF, 1, 1), stamp(9996, 2, 29)])
            assert head_end.set(CALENDAR, 20, 7, seasons) is DataAccessResult.SUCCESS
            entry = Data.structure(
                [
                    Data.long_unsigned(9),
                    Data.octet_string(stamp(9999, 12, 31)[:5]),
                    Data.unsigned(1),
                ]
            )
            assert head_end.action(SPECIAL_DAYS, 11, 1, entry) is ActionResult.SUCCESS
            _runs_a_day_and_restarts(head_end)
    assert head_end.tracebacks() == []


_FIELD = st.one_of(st.just(0xFF), st.integers(0, 0xFE))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    year=st.one_of(
        st.integers(0, 0xFFFF), st.sampled_from([1, 2, 1970, 1971, 2199, 2200, 9998, 9999])
    ),
    month=st.integers(0, 0xFF),
    day=st.integers(0, 0xFF),
    weekday=st.integers(0, 0xFF),
    hour=st.one_of(st.integers(0, 23), _FIELD),
    minute=st.one_of(st.integers(0, 59), _FIELD),
    second=st.one_of(st.integers(0, 59), _FIELD),
    hundredths=st.one_of(st.integers(0, 99), _FIELD),
    deviation=st.one_of(st.integers(-800, 800), st.just(UNSPECIFIED_DEVIATION)),
    status=st.integers(0, 0xFF),
)
def test_any_accepted_clock_set_leaves_a_meter_that_advances_a_day_and_restarts(
    caplog: pytest.LogCaptureFixture,
    year: int,
    month: int,
    day: int,
    weekday: int,
    hour: int,
    minute: int,
    second: int,
    hundredths: int,
    deviation: int,
    status: int,
) -> None:
    raw = stamp(year, month, day, hour, minute, second, hundredths, deviation, weekday, status)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        head_end = HeadEnd("az3p", caplog)
        before = head_end.state()
        result = head_end.set(CLOCK, 8, 2, Data.octet_string(raw))
        assert result in (DataAccessResult.SUCCESS, UNMATCHED)
        if result is UNMATCHED:
            assert head_end.state() == before
        else:
            _runs_a_day_and_restarts(head_end)
        assert head_end.tracebacks() == []


# -- writes read back as written (issue 11.6) ---------------------------------------------


def test_season_starts_read_back_as_written(head_end: HeadEnd) -> None:
    """Wildcards stay wildcards and values stay values, year and deviation included; the
    season still starts on its month and day every year."""
    starts = [
        stamp(0xFFFF, 1, 1, 0xFF, 0xFF, 0xFF, 0xFF, weekday=0xFF, status=0xFF),
        stamp(2027, 4, 1, 0, 0, 0, 0, -240, 4, 0x80),
        stamp(0xFFFF, 10, 1, 0, 0, 0, 0, UNSPECIFIED_DEVIATION),
    ]
    value = _passive_seasons(head_end, starts)
    assert head_end.set(CALENDAR, 20, 7, value) is DataAccessResult.SUCCESS
    assert head_end.get(CALENDAR, 20, 7) == value
    passive = head_end.meter.calendar.passive
    assert passive is not None
    assert [(s.month, s.day) for s in passive.seasons] == [(1, 1), (4, 1), (10, 1)]
    # activated, they are the active season profile, still as written
    assert head_end.action(CALENDAR, 20, 1, Data.integer(0)) is ActionResult.SUCCESS
    assert head_end.get(CALENDAR, 20, 3) == value
    # and through the memory
    restarted = Meter.from_state(head_end.model.spec, head_end.meter.to_state())
    assert restarted.calendar.active.seasons == head_end.meter.calendar.active.seasons
    assert [s.start_as_written for s in restarted.calendar.active.seasons] == starts


def test_which_season_applies_follows_month_and_day_whatever_the_year_written(
    head_end: HeadEnd,
) -> None:
    """Seasons written with a year (and a deviation) recur every year from their month and
    day: after activation, summer weeks from 1 April, winter from 1 October, in any year."""
    starts = [
        (b"W", stamp(2027, 1, 1, deviation=-240), b"winter"),
        (b"S", stamp(0xFFFF, 4, 1, deviation=-240), b"summer"),
        (b"W2", stamp(2030, 10, 1), b"winter"),
    ]
    value = Data.array([_season(*season) for season in starts])
    assert head_end.set(CALENDAR, 20, 7, value) is DataAccessResult.SUCCESS
    assert head_end.action(CALENDAR, 20, 1, Data.integer(0)) is ActionResult.SUCCESS
    active = head_end.meter.calendar.active
    assert [s.name for s in active.seasons] == ["W", "S", "W2"]
    for day, week in (
        (date(2026, 2, 1), "winter"),
        (date(2026, 6, 2), "summer"),
        (date(2026, 11, 5), "winter"),
        (date(2031, 3, 31), "winter"),
        (date(2031, 4, 1), "summer"),
    ):
        assert active.week_for(day).name == week, day


def test_a_season_from_a_model_file_reads_as_every_year_at_midnight(head_end: HeadEnd) -> None:
    seasons = head_end.get(CALENDAR, 20, 3)
    assert isinstance(seasons, Data)
    first = head_end.meter.calendar.active.seasons[0]
    start = seasons.as_items()[0].as_items()[1].as_bytes()
    assert start == stamp(0xFFFF, first.month, first.day, 0, 0, 0, 0, weekday=0xFF, status=0xFF)


@pytest.mark.parametrize(
    "written",
    [
        stamp(2026, 7, 1, 0xFF, 0xFF, 0xFF, 0xFF, weekday=0xFF, status=0xFF),  # time wildcards
        stamp(2026, 7, 1, 6, 30, 15, 42, -240, 3, 0x80),  # every value given
        stamp(2026, 7, 1, 6, 30, 0, 0, UNSPECIFIED_DEVIATION, 0xFF, 0),
        stamp(0xFFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, weekday=0xFF, status=0xFF),  # none
    ],
)
def test_the_activation_time_reads_back_as_written(head_end: HeadEnd, written: bytes) -> None:
    value = Data.octet_string(written)
    assert head_end.set(CALENDAR, 20, 10, value) is DataAccessResult.SUCCESS
    assert head_end.get(CALENDAR, 20, 10) == value
    restarted = Meter.from_state(head_end.model.spec, head_end.meter.to_state())
    assert restarted.calendar.activate_passive_at == head_end.meter.calendar.activate_passive_at


def test_a_written_activation_time_is_still_acted_on(head_end: HeadEnd) -> None:
    """Written with a deviation and wildcard seconds, the activation still happens at that
    local wall time, and afterwards the attribute reads as not scheduled."""
    seasons = _passive_seasons(head_end, [stamp(0xFFFF, 1, 1), stamp(0xFFFF, 7, 1)])
    assert head_end.set(CALENDAR, 20, 7, seasons) is DataAccessResult.SUCCESS
    written = stamp(2026, 6, 1, 18, 0, 0xFF, 0xFF, -300, 0xFF, 0xFF)  # 18:00 local, az3p summer
    assert head_end.set(CALENDAR, 20, 10, Data.octet_string(written)) is DataAccessResult.SUCCESS
    meter = head_end.meter
    meter.advance(utc_ms(2026, 6, 1, 12, 59))  # 17:59 local (UTC+5)
    assert meter.calendar.passive is not None and meter.calendar.activate_passive_at is not None
    assert head_end.get(CALENDAR, 20, 10) == Data.octet_string(written)
    meter.advance(utc_ms(2026, 6, 1, 13, 1))
    assert [s.name for s in meter.calendar.active.seasons] == ["S1", "S2"]
    nothing = stamp(0xFFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, weekday=0xFF, status=0xFF)
    assert head_end.get(CALENDAR, 20, 10) == Data.octet_string(nothing)


# -- a passive calendar written piecewise: inconsistent until activation -------------------


def _inconsistent_passive(head_end: HeadEnd, attribute: int) -> Data:
    """The passive attribute ``attribute`` rewritten to name what the passive set lacks:
    a season on an unknown week (7), a week of unknown day ids (8), day profiles without the
    ids the weeks name (9)."""
    current = head_end.get(CALENDAR, 20, attribute)
    assert isinstance(current, Data)
    first = current.as_items()[0].as_items()
    if attribute == 7:
        entry = Data.structure([first[0], first[1], Data.octet_string(b"NO-SUCH-WEEK")])
    elif attribute == 8:
        entry = Data.structure([first[0], *[Data.unsigned(99)] * 7])
    else:
        entry = Data.structure([Data.unsigned(200), first[1]])
    return Data.array([entry])


def _reopened(head_end: HeadEnd, data: Path) -> Meter:
    """Commit the meter to a memory, close it, open it again and load it, as a restart does."""
    model, meter = head_end.model, head_end.meter
    with MeterStore.open(data) as store:
        store.create(model.source, model.text, {}, meter.to_state(), {"model": model.spec.name})
        store.commit(meter.to_state())
    with MeterStore.open(data) as store:
        stored = store.load()
    return Meter.from_state(model.spec, stored.state)


@pytest.mark.parametrize("attribute", [7, 8, 9], ids=["seasons", "weeks", "days"])
def test_an_inconsistent_passive_calendar_loads_and_is_refused_at_activation(
    head_end: HeadEnd, attribute: int, tmp_path: Path
) -> None:
    """Blue Book (DLMS UA 1000-1) 4.5.5, Activity calendar: the passive attributes 6-9 are
    written one SET at a time and take effect only when activate_passive_calendar runs, so a
    passive set that names a week or day profile it lacks is accepted and kept, and checked
    at activation. The memory that holds it loads (issue 19 item 1: a memory that loads can
    always run); activation is refused with other-reason and changes nothing."""
    written = _inconsistent_passive(head_end, attribute)
    assert head_end.set(CALENDAR, 20, attribute, written) is DataAccessResult.SUCCESS
    active_before = head_end.meter.calendar.active

    restarted = _reopened(head_end, tmp_path / "meter")
    assert restarted.calendar.passive == head_end.meter.calendar.passive
    assert restarted.calendar.active == active_before
    head_end = HeadEnd("az3p", head_end.caplog, restarted)
    assert head_end.get(CALENDAR, 20, attribute) == written

    state = head_end.state()
    refused = head_end.action(CALENDAR, 20, 1, Data.integer(0))
    assert refused is ActionResult.OTHER_REASON
    assert head_end.state() == state and head_end.tracebacks() == []

    # a scheduled activation of the same set does not happen; the set stays passive
    due = stamp(2026, 6, 1, 18, 0, 0)  # local wall time, after T0 (09:00 UTC, az3p UTC+5)
    assert head_end.set(CALENDAR, 20, 10, Data.octet_string(due)) is DataAccessResult.SUCCESS
    restarted.advance(utc_ms(2026, 6, 1, 14))
    assert restarted.calendar.active == active_before
    assert restarted.calendar.activate_passive_at is None
    assert restarted.calendar.passive is not None
    _runs_a_day_and_restarts(head_end)

    # once the head-end completes the passive set, it activates
    restarted.calendar.write_passive(active_before)
    assert head_end.action(CALENDAR, 20, 1, Data.integer(0)) is ActionResult.SUCCESS
