"""The meter core in accelerated time: exact registers worked out by hand."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import utc_ms

from metertwin.meter.calendar import Switch
from metertwin.meter.clock import ClockConfig
from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState, Transition
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.registers import Energy
from metertwin.models import DeviceModel

HOUR = 3_600_000
DAY = 24 * HOUR
KWH = 1_000_000  # mWh


def load_1ph(watts: float, var: float = 0.0, volts: float = 220.0) -> PhysicalState:
    return PhysicalState(voltage_v=(volts,), active_w=(watts,), reactive_var=(var,))


def load_3ph(watts_each: float) -> PhysicalState:
    return PhysicalState(
        voltage_v=(220.0,) * 3, active_w=(watts_each,) * 3, reactive_var=(0.0,) * 3
    )


def test_a_weekday_of_constant_load_splits_over_the_rates_by_the_day_profile(
    pmm1220: DeviceModel,
) -> None:
    """pmm1220 weekday: T1 00-06, T2 06-18, T3 18-22, T2 22-23, T1 23-24 (UTC+3, no DST).
    1 kW for the day gives T1 7 kWh, T2 13 kWh, T3 4 kWh."""
    start = utc_ms(2026, 3, 1, 21)  # Monday 2026-03-02 00:00 local
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + DAY, load_1ph(1000.0))
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE) == 24 * KWH
    assert [meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, r) for r in (1, 2, 3)] == [
        7 * KWH,
        13 * KWH,
        4 * KWH,
    ]
    assert meter.energy_mwh(Energy.EXPORT_ACTIVE) == 0
    assert meter.rate == 1


def test_dst_spring_day_has_23_hours_and_primary_energy_on_the_ct(az3p: DeviceModel) -> None:
    """az3p, Sunday 2026-03-29: clocks go 04:00 -> 05:00 (seed 002, 5.8). Weekend profile:
    T3 00-08, T4 08-23, T3 23-24 local, so T3 gets 8 h and T4 15 h of a 23-hour day.
    3 x 3 kW primary through 150/5 A CTs: 9 kW x 23 h = 207 kWh."""
    start = utc_ms(2026, 3, 28, 20)  # 2026-03-29 00:00 local (UTC+4)
    meter = Meter(az3p.spec, start)
    meter.advance(start + 23 * HOUR, load_3ph(3000.0))
    assert meter.local_time() == datetime(2026, 3, 30, 0, 0)
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE) == 207 * KWH
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 3) == 72 * KWH
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 4) == 135 * KWH
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, phase=2) == 69 * KWH


def test_autumn_day_has_25_hours(az3p: DeviceModel) -> None:
    """2026-10-25 (Sunday): 05:00 DST -> 04:00. T3 gets 00-08 (9 h) + 23-24, T4 15 h."""
    start = utc_ms(2026, 10, 24, 19)  # 00:00 local DST (UTC+5)
    meter = Meter(az3p.spec, start)
    meter.advance(start + 25 * HOUR, load_3ph(1000.0))
    assert meter.local_time() == datetime(2026, 10, 26, 0, 0)
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 3) == 3 * 10 * KWH
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 4) == 3 * 15 * KWH


def test_switches_do_not_fire_twice_in_the_repeated_autumn_hour(az3p: DeviceModel) -> None:
    """A weekend switch moved to 04:30 (inside the hour 04:00-05:00 shown twice on
    2026-10-25): it fires once; the repeated 04:00-04:30 stays at T4 (found by review: it
    used to fall back to T3 for half an hour)."""
    spec = az3p.spec
    weekend = next(d for d in spec.calendar.days if d.day_id == 3)
    moved = dataclasses.replace(
        weekend, switches=(Switch(0, 3), Switch(4 * 60 + 30, 4), Switch(23 * 60, 3))
    )
    days = tuple(moved if d.day_id == 3 else d for d in spec.calendar.days)
    spec = dataclasses.replace(spec, calendar=dataclasses.replace(spec.calendar, days=days))
    start = utc_ms(2026, 10, 24, 19)  # 00:00 local DST (UTC+5)
    meter = Meter(spec, start)
    meter.advance(start + 25 * HOUR, load_3ph(1000.0))
    # T3: 00:00-04:30 (4.5 h) and 23:00-24:00 (1 h); T4: 04:30 DST .. 23:00, 19.5 h
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 3) == 3 * 5_500_000
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 4) == 3 * 19_500_000


def test_a_month_of_mixed_import_and_export_is_exact(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 4, 30, 21)
    meter = Meter(pmm1220.spec, start)
    for day in range(31):
        t = start + day * DAY
        meter.advance(t + 12 * HOUR, load_1ph(1500.0, 300.0))
        meter.advance(t + DAY, load_1ph(-2500.0, 100.0))
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE) == 31 * 18 * KWH
    assert meter.energy_mwh(Energy.EXPORT_ACTIVE) == 31 * 30 * KWH
    assert meter.energy_mwh(Energy.REACTIVE_Q1) == 31 * 12 * 300_000
    assert meter.energy_mwh(Energy.REACTIVE_Q2) == 31 * 12 * 100_000
    assert meter.energy_mwh(Energy.NET_ACTIVE) == 31 * (18 - 30) * KWH
    assert meter.energy_mwh(Energy.ABSOLUTE_ACTIVE) == 31 * 48 * KWH
    per_rate = sum(meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, r) for r in range(1, 9))
    assert per_rate == meter.energy_mwh(Energy.IMPORT_ACTIVE)


def test_an_open_relay_and_a_power_cut_stop_accumulation(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 1, 1)
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + HOUR, load_1ph(1000.0))
    meter.operate_relay(Transition.REMOTE_DISCONNECT)
    assert meter.disconnect.state is ControlState.DISCONNECTED
    meter.advance(start + 2 * HOUR)
    assert meter.instantaneous().active_w == 0.0
    meter.operate_relay(Transition.REMOTE_RECONNECT)
    meter.operate_relay(Transition.MANUAL_RECONNECT)
    meter.advance(start + 3 * HOUR)
    meter.advance(start + 4 * HOUR, load_1ph(1000.0, volts=0.0))  # supply lost
    assert not meter.instantaneous().powered
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE) == 2 * KWH
    assert meter.supply_failures == [1, 1]
    meter.advance(start + 5 * HOUR, load_1ph(1000.0))  # supply back: no new failure
    assert meter.supply_failures == [1, 1]


def test_setting_the_clock_records_before_and_after_and_moves_the_rate(
    pmm1220: DeviceModel,
) -> None:
    start = utc_ms(2026, 3, 1, 21)  # Monday 00:00 local, T1
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + HOUR, load_1ph(1000.0))
    assert meter.rate == 1
    setting = meter.set_clock(meter.meter_time_ms() + 6 * HOUR)  # now 07:00 local: T2
    assert setting.after_ms - setting.before_ms == 6 * HOUR
    assert meter.rate == 2
    meter.advance(start + 2 * HOUR)
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 2) == 1 * KWH
    assert meter.clock.settings_count == 1


def test_clock_drift_moves_tariff_switches_in_world_time(pmm1220: DeviceModel) -> None:
    """+100 ppm: the meter's clock shows 246 h after its start (day 10, 06:00, the T1 -> T2
    switch) when only 246 h / 1.0001 have passed in the world, 88.55 s early."""
    spec = dataclasses.replace(
        pmm1220.spec, clock=ClockConfig(utc_offset_minutes=180, drift_ppm=100.0)
    )
    start = utc_ms(2026, 3, 1, 21)  # Monday
    meter = Meter(spec, start)
    elapsed = 246 * HOUR
    switch = start + -(-elapsed * 10**9 // (10**9 + 100_000))  # ceil
    assert 88_540 < start + elapsed - switch < 88_560
    meter.advance(switch - 1, load_1ph(1000.0))
    assert meter.rate == 1
    meter.advance(switch + 1)
    assert meter.rate == 2


def test_passive_calendar_activates_at_its_time(pmm1220: DeviceModel) -> None:
    spec = pmm1220.spec
    flat = dataclasses.replace(
        spec.calendar,
        name="flat",
        days=tuple(
            dataclasses.replace(d, switches=(d.switches[0].__class__(0, 4),))
            for d in spec.calendar.days
        ),
    )
    start = utc_ms(2026, 3, 1, 21)
    meter = Meter(spec, start)
    meter.set_passive_calendar(flat, datetime(2026, 3, 2, 12, 0))
    meter.advance(start + DAY, load_1ph(1000.0))
    assert meter.calendar.active.name == "flat"
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 4) == 12 * KWH
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 2) == 6 * KWH  # 06:00-12:00


def test_restored_state_continues_exactly_like_an_uninterrupted_meter(az3p: DeviceModel) -> None:
    start = utc_ms(2026, 3, 20)
    steps = [(start + k * 5 * HOUR + 123, load_3ph(500.0 + 97.0 * k)) for k in range(1, 60)]
    straight = Meter(az3p.spec, start)
    for t, inputs in steps:
        straight.advance(t, inputs)
    resumed = Meter(az3p.spec, start)
    for i, (t, inputs) in enumerate(steps):
        resumed.advance(t, inputs)
        if i % 7 == 3:
            resumed = Meter.from_state(az3p.spec, resumed.to_state())
    assert resumed.to_state() == straight.to_state()


def test_feeding_a_series_equals_stepping_through_it(az3p: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1)
    starts = [start + k * 60_000 for k in range(3 * 24 * 60)]
    states = [load_3ph(100.0 + (k * 37) % 900) for k in range(len(starts))]
    end = starts[-1] + 60_000
    fed = Meter(az3p.spec, start)
    fed.feed(InputSeries.from_states(starts, end, states))
    stepped = Meter(az3p.spec, start)
    for k, state in enumerate(states):
        stepped.advance(starts[k + 1] if k + 1 < len(starts) else end, state)
    assert fed.registers.to_state() == stepped.registers.to_state()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 3 * DAY), st.floats(-5000, 5000), st.floats(-3000, 3000)),
        min_size=1,
        max_size=25,
    )
)
def test_energy_registers_never_decrease(steps: list[tuple[int, float, float]]) -> None:
    from metertwin.models import load_model

    spec = load_model("magno22").spec
    meter = Meter(spec, utc_ms(2026, 3, 27))
    previous = {q: 0 for q in Energy if q is not Energy.NET_ACTIVE}
    for duration, p, q in steps:
        meter.advance(meter.now_ms + duration, load_1ph(p, q, 230.0))
        for quantity, before in previous.items():
            now = meter.energy_mwh(quantity)
            assert now >= before
            previous[quantity] = now
