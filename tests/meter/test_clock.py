"""The meter clock: DST rules, local time, drift and time settings (DLMS class 8; seed 002 5.5 b,
5.8). Expected switch instants were checked against the IANA tz database (Europe/Berlin,
Asia/Baku up to 2015, Australia/Sydney)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metertwin.meter.clock import (
    Clock,
    ClockConfig,
    ClockStatus,
    DstConfig,
    DstRule,
)

H = 3_600_000
SUNDAY = 6
EU = ClockConfig(
    utc_offset_minutes=60,
    dst=DstConfig(
        enabled=True,
        begin=DstRule(month=3, day=-1, weekday=SUNDAY, minute_of_day=2 * 60),
        end=DstRule(month=10, day=-1, weekday=SUNDAY, minute_of_day=3 * 60),
    ),
)
# Azerbaijan until 2015: last Sunday March 04:00 -> 05:00, last Sunday October 05:00 -> 04:00
AZ_BEGIN = DstRule(month=3, day=-1, weekday=SUNDAY, minute_of_day=4 * 60)
AZ_END = DstRule(month=10, day=-1, weekday=SUNDAY, minute_of_day=5 * 60)
AZ = ClockConfig(utc_offset_minutes=240, dst=DstConfig(enabled=True, begin=AZ_BEGIN, end=AZ_END))
SYDNEY = ClockConfig(  # first Sunday October 02:00 -> 03:00, first Sunday April 03:00 -> 02:00
    utc_offset_minutes=600,
    dst=DstConfig(
        enabled=True,
        begin=DstRule(month=10, day=1, weekday=SUNDAY, minute_of_day=2 * 60),
        end=DstRule(month=4, day=1, weekday=SUNDAY, minute_of_day=3 * 60),
    ),
)


def ms(year: int, month: int, day: int, hour: int = 0) -> int:
    """UTC instant in milliseconds."""
    return (datetime(year, month, day, hour) - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


def at(config: ClockConfig, instant: int) -> Clock:
    return Clock(config, instant)


# -- DST switch instants -------------------------------------------------------------------

EU_SWITCHES = [
    (2023, ms(2023, 3, 26, 1), ms(2023, 10, 29, 1)),
    (2024, ms(2024, 3, 31, 1), ms(2024, 10, 27, 1)),  # leap year
    (2025, ms(2025, 3, 30, 1), ms(2025, 10, 26, 1)),
    (2028, ms(2028, 3, 26, 1), ms(2028, 10, 29, 1)),  # leap year
]
AZ_SWITCHES = [
    (2011, ms(2011, 3, 27, 0), ms(2011, 10, 30, 0)),
    (2012, ms(2012, 3, 25, 0), ms(2012, 10, 28, 0)),  # leap year
    (2015, ms(2015, 3, 29, 0), ms(2015, 10, 25, 0)),
]


@pytest.mark.parametrize(
    ("config", "year", "begin", "end"),
    [(EU, *s) for s in EU_SWITCHES] + [(AZ, *s) for s in AZ_SWITCHES],
)
def test_dst_switch_instants(config: ClockConfig, year: int, begin: int, end: int) -> None:
    clock = at(config, ms(year, 1, 1))
    assert clock.next_dst_change(ms(year, 1, 1)) == begin
    assert clock.next_dst_change(begin - 1) == begin
    assert clock.next_dst_change(begin) == end
    following = clock.next_dst_change(end)
    assert following is not None and following > ms(year, 12, 31)
    assert not clock.is_dst(begin - 1)
    assert clock.is_dst(begin)
    assert clock.is_dst(end - 1)
    assert not clock.is_dst(end)
    std = config.utc_offset_minutes * 60_000
    assert clock.utc_offset_ms(begin - 1) == std
    assert clock.utc_offset_ms(begin) == std + H
    assert clock.utc_offset_ms(end) == std


def test_eu_wall_clock_jumps() -> None:
    clock = at(EU, ms(2024, 1, 1))
    begin, end = ms(2024, 3, 31, 1), ms(2024, 10, 27, 1)
    assert clock.local(begin - 1) == datetime(2024, 3, 31, 1, 59, 59, 999_000)
    assert clock.local(begin) == datetime(2024, 3, 31, 3, 0)
    assert clock.local(end - 1) == datetime(2024, 10, 27, 2, 59, 59, 999_000)
    assert clock.local(end) == datetime(2024, 10, 27, 2, 0)
    assert clock.local(ms(2024, 2, 29, 12)) == datetime(2024, 2, 29, 13, 0)


def test_azerbaijan_wall_clock_jumps() -> None:
    clock = at(AZ, ms(2012, 1, 1))
    begin, end = ms(2012, 3, 25, 0), ms(2012, 10, 28, 0)
    assert clock.local(begin - 1) == datetime(2012, 3, 25, 3, 59, 59, 999_000)
    assert clock.local(begin) == datetime(2012, 3, 25, 5, 0)
    assert clock.local(end - 1) == datetime(2012, 10, 28, 4, 59, 59, 999_000)
    assert clock.local(end) == datetime(2012, 10, 28, 4, 0)
    assert clock.local(ms(2012, 2, 29, 20)) == datetime(2012, 3, 1, 0, 0)  # leap day rolls over


def test_short_and_long_local_days() -> None:
    clock = at(EU, ms(2024, 1, 1))
    spring = clock.meter_ms_for_local(datetime(2024, 4, 1)) - clock.meter_ms_for_local(
        datetime(2024, 3, 31)
    )
    autumn = clock.meter_ms_for_local(datetime(2024, 10, 28)) - clock.meter_ms_for_local(
        datetime(2024, 10, 27)
    )
    normal = clock.meter_ms_for_local(datetime(2024, 6, 2)) - clock.meter_ms_for_local(
        datetime(2024, 6, 1)
    )
    assert (spring, autumn, normal) == (23 * H, 25 * H, 24 * H)


def test_spring_gap_maps_to_switch_instant() -> None:
    clock = at(EU, ms(2024, 1, 1))
    begin = ms(2024, 3, 31, 1)
    assert clock.meter_ms_for_local(datetime(2024, 3, 31, 2, 0)) == begin
    assert clock.meter_ms_for_local(datetime(2024, 3, 31, 2, 30)) == begin
    assert clock.meter_ms_for_local(datetime(2024, 3, 31, 2, 59, 59)) == begin
    assert clock.meter_ms_for_local(datetime(2024, 3, 31, 3, 0)) == begin
    assert clock.meter_ms_for_local(datetime(2024, 3, 31, 1, 59)) == begin - 60_000


def test_autumn_overlap_takes_first_occurrence() -> None:
    clock = at(EU, ms(2024, 1, 1))
    end = ms(2024, 10, 27, 1)
    first = clock.meter_ms_for_local(datetime(2024, 10, 27, 2, 30))
    assert first == end - 30 * 60_000  # 00:30 UTC, still summer time
    assert clock.local(first) == datetime(2024, 10, 27, 2, 30)
    second = clock.meter_ms_for_local(datetime(2024, 10, 27, 2, 30), not_before=first + 1)
    assert second == first + H
    assert clock.local(second) == datetime(2024, 10, 27, 2, 30)
    assert clock.meter_ms_for_local(datetime(2024, 10, 27, 3, 0)) == end + H
    # not_before past both occurrences falls back to the first one
    assert clock.meter_ms_for_local(datetime(2024, 10, 27, 2, 30), not_before=end + H) == first


@given(
    st.integers(ms(2000, 1, 1), ms(2040, 1, 1)),
    st.sampled_from([EU, AZ, SYDNEY, ClockConfig(-300)]),
)
def test_local_round_trip(instant: int, config: ClockConfig) -> None:
    """Every shown wall time maps back to an instant showing it (the first when repeated)."""
    clock = at(config, instant)
    wall = clock.local(instant)
    back = clock.meter_ms_for_local(wall)
    assert clock.local(back) == wall
    assert back <= instant
    assert instant - back in (0, H)


def test_no_dst() -> None:
    for config in (ClockConfig(240), ClockConfig(240, DstConfig(False, AZ_BEGIN, AZ_END))):
        clock = at(config, ms(2012, 1, 1))
        for instant in (ms(2012, 1, 1), ms(2012, 7, 1), ms(2012, 3, 25, 0)):
            assert not clock.is_dst(instant)
            assert clock.utc_offset_ms(instant) == 4 * H
            assert clock.status(instant) == ClockStatus(0)
        assert clock.next_dst_change(ms(2012, 1, 1)) is None
        assert clock.local(ms(2012, 7, 1)) == datetime(2012, 7, 1, 4)
        assert clock.meter_ms_for_local(datetime(2012, 7, 1, 4)) == ms(2012, 7, 1)


def test_southern_hemisphere() -> None:
    clock = at(SYDNEY, ms(2024, 1, 1))
    end, begin = ms(2024, 4, 6, 16), ms(2024, 10, 5, 16)
    assert clock.is_dst(ms(2024, 1, 15))
    assert clock.is_dst(end - 1)
    assert not clock.is_dst(end)
    assert not clock.is_dst(ms(2024, 7, 1))
    assert not clock.is_dst(begin - 1)
    assert clock.is_dst(begin)
    assert clock.is_dst(ms(2024, 12, 31, 23))
    assert clock.next_dst_change(ms(2024, 1, 1)) == end
    assert clock.next_dst_change(end) == begin
    assert clock.local(end - 1) == datetime(2024, 4, 7, 2, 59, 59, 999_000)
    assert clock.local(end) == datetime(2024, 4, 7, 2, 0)
    assert clock.local(begin) == datetime(2024, 10, 6, 3, 0)
    assert clock.status(ms(2024, 1, 15)) == ClockStatus.DAYLIGHT_SAVING_ACTIVE


def test_rule_forms() -> None:
    assert DstRule(3, -1, SUNDAY, 60).wall_time(2024) == datetime(2024, 3, 31, 1)
    assert DstRule(3, 8, SUNDAY, 120).wall_time(2024) == datetime(2024, 3, 10, 2)  # US 2nd Sun
    assert DstRule(2, -1, None, 0).wall_time(2024) == datetime(2024, 2, 29)
    assert DstRule(2, -1, None, 0).wall_time(2023) == datetime(2023, 2, 28)
    assert DstRule(2, 29, None, 0).wall_time(2023) == datetime(2023, 2, 28)
    assert DstRule(9, 21, None, 0).wall_time(2024) == datetime(2024, 9, 21)
    for bad in (
        (13, 1, None, 0),
        (4, 31, None, 0),
        (3, 0, None, 0),
        (3, 1, 7, 0),
        (3, 1, None, 1440),
    ):
        with pytest.raises(ValueError):
            DstRule(*bad)


# -- drift -------------------------------------------------------------------------------------


def test_drift_20ppm_after_30_days() -> None:
    start = ms(2024, 1, 1)
    clock = Clock(ClockConfig(240, drift_ppm=20.0), start)
    thirty_days = 30 * 86_400_000
    assert clock.meter_ms(start + thirty_days) - (start + thirty_days) == 51_840
    assert clock.true_ms_for(start + thirty_days + 51_840) == start + thirty_days
    slow = Clock(ClockConfig(240, drift_ppm=-20.0), start)
    assert slow.meter_ms(start + thirty_days) - (start + thirty_days) == -51_840


@given(
    drift=st.floats(-500, 500, allow_nan=False),
    base_true=st.integers(ms(2000, 1, 1), ms(2040, 1, 1)),
    base_meter=st.integers(ms(2000, 1, 1), ms(2040, 1, 1)),
    delta=st.integers(-(10**11), 10**12),
)
def test_true_ms_for_inverts_meter_ms(
    drift: float, base_true: int, base_meter: int, delta: int
) -> None:
    clock = Clock(ClockConfig(0, drift_ppm=drift), base_true, base_meter)
    target = base_meter + delta
    t = clock.true_ms_for(target)
    assert clock.meter_ms(t) >= target
    assert clock.meter_ms(t - 1) < target
    assert clock.meter_ms(t + 1) >= clock.meter_ms(t)


def test_set_config_keeps_meter_time_continuous() -> None:
    start = ms(2024, 1, 1)
    clock = Clock(ClockConfig(240, drift_ppm=100.0), start)
    day = 86_400_000
    before = clock.meter_ms(start + day)
    assert before == start + day + 8_640
    clock.set_config(start + day, ClockConfig(60, dst=EU.dst))
    assert clock.meter_ms(start + day) == before
    assert clock.meter_ms(start + 2 * day) == before + day
    assert clock.config.utc_offset_minutes == 60


# -- settings, status, persistence ---------------------------------------------------------


def test_set_time_records_before_and_after_keeping_ten() -> None:
    start = ms(2024, 5, 1)
    clock = Clock(ClockConfig(240, drift_ppm=10.0), start)
    first = clock.set_time(start + 1000, start + 5000)
    assert (first.at_true_ms, first.before_ms, first.after_ms) == (
        start + 1000,
        start + 1000,
        start + 5000,
    )
    assert first.difference_ms == 4000
    assert clock.meter_ms(start + 1000) == start + 5000
    for i in range(1, 12):
        clock.set_time(start + i * 10_000, start + i * 20_000)
    assert clock.settings_count == 12
    assert len(clock.settings) == 10
    assert clock.settings[-1].after_ms == start + 11 * 20_000
    assert clock.settings[0].after_ms == start + 2 * 20_000
    assert clock.meter_ms(start + 110_000) == start + 220_000


def test_shift_limits() -> None:
    start = ms(2024, 5, 1)
    clock = Clock(ClockConfig(0), start)
    s = clock.shift(start, 900)
    assert s.after_ms - s.before_ms == 900_000
    assert clock.meter_ms(start + 1) == start + 900_001
    clock.shift(start, -900)
    assert clock.meter_ms(start) == start
    for bad in (901, -901, 3600):
        with pytest.raises(ValueError):
            clock.shift(start, bad)
    assert clock.settings_count == 2


def test_status_flags_sticky_until_set() -> None:
    start = ms(2024, 7, 1)
    clock = Clock(EU, start)
    assert clock.status(start) == ClockStatus.DAYLIGHT_SAVING_ACTIVE
    clock.mark_invalid()
    clock.mark_doubtful()
    both = ClockStatus.INVALID_VALUE | ClockStatus.DOUBTFUL_VALUE
    assert clock.status(start) == both | ClockStatus.DAYLIGHT_SAVING_ACTIVE
    assert clock.status(ms(2024, 12, 1)) == both
    clock.set_time(start, start)
    assert clock.status(start) == ClockStatus.DAYLIGHT_SAVING_ACTIVE


def test_state_round_trip() -> None:
    start = ms(2024, 3, 30)
    clock = Clock(ClockConfig(60, dst=EU.dst, drift_ppm=-3.5), start, start - 7000)
    for i in range(12):
        clock.shift(start + i * 1000, i - 6)
    clock.mark_invalid()
    state = json.loads(json.dumps(clock.to_state()))
    copy = Clock.from_state(state)
    assert copy.to_state() == clock.to_state()
    assert copy.config == clock.config
    assert copy.settings == clock.settings
    assert copy.settings_count == 12
    for t in (start, start + 86_400_000, start + 400 * 86_400_000):
        m = clock.meter_ms(t)
        assert copy.meter_ms(t) == m
        assert copy.local(m) == clock.local(m)
        assert copy.status(m) == clock.status(m)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        ClockConfig(900)
    with pytest.raises(ValueError):
        ClockConfig(0, drift_ppm=float("nan"))
    with pytest.raises(ValueError):
        DstConfig(True, DstRule(3, -1, 6, 0), DstRule(10, -1, 6, 0), deviation_minutes=180)
