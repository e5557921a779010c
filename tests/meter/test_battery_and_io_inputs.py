"""The battery, the tariff input and the S0 pulse output in the core (issue 20, items 8, 9).

Meter time is injected (no wall clock). The battery's arithmetic is worked out here from
its documented curve (meter/battery.py): V = nominal - (nominal - end) * used**4, the
charge drawn in integer nA·ms, so each threshold is crossed at an instant known to the ms.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import utc_ms

from metertwin.meter.battery import NA_MS_PER_MAH, BatteryConfig
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode, EventLog
from metertwin.meter.inputs import Fault, InputSeries, PhysicalState
from metertwin.meter.registers import Energy
from metertwin.meter.spec import DeviceSpec
from metertwin.models import load_model
from metertwin.sim import WorldSite, load_scenario

START = utc_ms(2026, 3, 2, 9)  # a Monday, 12:00 in Riyadh (pmm1220, UTC+3)
FAILURE_LOG = f"0.0.99.98.{int(EventLog.FAILURE)}.255"
DARK = PhysicalState((0.0,), (0.0,), (0.0,))
LIT = PhysicalState((230.0,), (0.0,), (0.0,))
# A cell that empties in 6 minutes on battery (10 µA from 0.001 mAh), none lost on mains.
SMALL = BatteryConfig(capacity_mah=0.001, backup_ua=10.0, standby_ua=0.0)
SMALL_CAPACITY = 3_600_000_000  # nA·ms: 0.001 mAh x 10^6 nA/mA x 3.6 x 10^6 ms/h
BACKUP_NA = 10_000


def _at_volts(volts: float) -> int:
    """ms on battery until the small cell falls to ``volts``."""
    drawn = math.ceil(((3.6 - volts) / (3.6 - 2.5)) ** 0.25 * SMALL_CAPACITY)
    return -(-drawn // BACKUP_NA)


def _spec(name: str, **changes: object) -> DeviceSpec:
    return replace(load_model(name).spec, **changes)  # type: ignore[arg-type]


def _failures(meter: Meter) -> list[tuple[int, int]]:
    return [(e.code, e.first_ms) for e in meter.event_logs[FAILURE_LOG].entries]


def _with(state: PhysicalState, faults: Fault) -> PhysicalState:
    return replace(state, faults=faults)


def test_the_small_cell_arithmetic_matches_the_configuration() -> None:
    assert SMALL.capacity == SMALL_CAPACITY == round(0.001 * NA_MS_PER_MAH)


def test_on_battery_the_voltage_falls_and_raises_8_then_7_at_their_instants() -> None:
    meter = Meter(_spec("pmm1220", battery=SMALL), START)
    battery = meter.battery
    assert battery is not None and battery.voltage_v == 3.6
    meter.advance(START + 600_000, DARK)  # 10 minutes without supply: the cell is empty
    low, replace_at = START + _at_volts(3.3), START + _at_volts(3.1)
    assert START < low < replace_at < START + 360_000
    assert [c for c in _failures(meter)] == [
        (EventCode.BATTERY_LOW, low),
        (EventCode.REPLACE_BATTERY, replace_at),
    ]
    assert meter.alarms & (1 << 3) and meter.alarms & (1 << 1)  # IDIS bits 3 and 1
    assert battery.voltage_v == pytest.approx(2.5)
    assert battery.on_battery_ms == 600_000


def test_each_threshold_is_crossed_once_per_battery_and_a_new_one_starts_again() -> None:
    meter = Meter(_spec("pmm1220", battery=SMALL), START)
    battery = meter.battery
    assert battery is not None
    meter.advance(START + 600_000, DARK)
    meter.advance(START + 1_200_000, DARK)
    assert len(_failures(meter)) == 2  # an empty cell does not raise them again
    fitted = START + 1_200_000
    meter.advance(fitted, _with(LIT, Fault.BATTERY_REPLACED))  # a technician fits a new one
    meter.advance(fitted + 1000, LIT)
    assert battery.installed_ms == fitted
    assert (battery.on_battery_ms, battery.voltage_v) == (0, 3.6)
    meter.advance(fitted + 1000 + 600_000, DARK)
    assert _failures(meter)[2:] == [
        (EventCode.BATTERY_LOW, fitted + 1000 + _at_volts(3.3)),
        (EventCode.REPLACE_BATTERY, fitted + 1000 + _at_volts(3.1)),
    ]


def test_on_mains_a_battery_only_loses_its_self_discharge() -> None:
    """pmm1220's cell: 1200 mAh, 1 µA lost on mains: a year takes 8.76 mAh (0.73 %)."""
    meter = Meter(_spec("pmm1220", profiles=()), START)
    battery = meter.battery
    assert battery is not None
    year = 365 * 86_400_000
    meter.advance(START + year, LIT)
    assert battery.on_battery_ms == 0 and battery.on_mains_ms == year
    assert battery.drawn == year * 1000
    used = year * 1000 / (1200 * NA_MS_PER_MAH)
    assert battery.voltage_v == pytest.approx(3.6 - 1.1 * used**4)
    assert not battery.raised and EventCode.BATTERY_LOW not in meter.event_counts


def test_the_battery_is_the_same_however_its_time_is_fed() -> None:
    """One series of outages and supply, or the same in small steps: the same counters and
    the same event instants (the core stops nowhere for the battery)."""
    spec = _spec("pmm1220", battery=replace(SMALL, standby_ua=2.0))
    starts = [START + k * 90_000 for k in range(8)]
    states = [DARK if k % 2 else LIT for k in range(8)]
    whole = Meter(spec, START)
    whole.feed(InputSeries.from_states(starts, START + 1_800_000, states))
    steps = Meter(spec, START)
    for t in range(START, START + 1_800_000, 6_000):  # each step's state: at its start
        steps.advance(min(t + 6_000, START + 1_800_000), states[min((t - START) // 90_000, 7)])
    assert whole.battery is not None and steps.battery is not None
    assert whole.battery.to_state() == steps.battery.to_state()
    assert _failures(whole) == _failures(steps) and len(_failures(whole)) == 2


def test_the_battery_survives_a_restart_mid_life() -> None:
    spec = _spec("pmm1220", battery=SMALL)
    straight = Meter(spec, START)
    straight.advance(START + 600_000, DARK)
    first = Meter(spec, START)
    first.advance(START + _at_volts(3.3) + 5_000, DARK)  # low, not yet to be replaced
    again = Meter.from_state(spec, first.to_state())
    assert again.battery is not None and first.battery is not None
    assert again.battery.to_state() == first.battery.to_state()
    assert again.battery.raised == {EventCode.BATTERY_LOW}
    again.restore_event_log(FAILURE_LOG, [])  # the log itself lives in storage
    again.advance(START + 600_000, DARK)
    assert [(EventCode.REPLACE_BATTERY, START + _at_volts(3.1))] == _failures(again)
    assert again.battery.to_state() == straight.battery.to_state()  # type: ignore[union-attr]


def test_a_meter_without_a_battery_has_none() -> None:
    meter = Meter(load_model("metercom-pro").spec, START)  # a super-capacitor (seed 004)
    assert meter.battery is None
    meter.advance(START + 60_000, PhysicalState.idle(3, 0.0))
    assert "battery" in meter.to_state() and meter.to_state()["battery"] is None


# -- the tariff input --------------------------------------------------------------------

MAGNO_START = utc_ms(2026, 3, 4, 7)  # Wednesday 07:00 (magno22: UTC in winter): rate 2


def test_the_tariff_input_forces_its_rate_over_the_calendar_while_active() -> None:
    """magno22's winter weekday: rate 2 from 07:00, 3 from 16:00; the tariff input forces
    rate 4 ([io] tariff_input_rate)."""
    meter = Meter(load_model("magno22").spec, MAGNO_START)
    kw = PhysicalState((230.0,), (1000.0,), (0.0,))
    meter.advance(MAGNO_START + 3_600_000, kw)
    assert meter.rate == 2
    held = _with(kw, Fault.TARIFF_INPUT)
    meter.advance(meter.now_ms, held)
    assert meter.rate == 4
    meter.advance(utc_ms(2026, 3, 4, 17), held)  # past the 16:00 switch
    assert meter.rate == 4
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 4) == 9_000_000  # 08:00-17:00
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 3) == 0
    meter.advance(meter.now_ms, kw)  # released: the calendar's rate of the moment
    assert meter.rate == 3
    meter.advance(utc_ms(2026, 3, 4, 18), kw)
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 3) == 1_000_000


def test_the_tariff_input_held_through_a_restart_keeps_its_rate() -> None:
    spec = load_model("magno22").spec
    meter = Meter(spec, MAGNO_START)
    held = _with(LIT, Fault.TARIFF_INPUT)
    meter.advance(MAGNO_START + 60_000, held)
    again = Meter.from_state(spec, meter.to_state())
    assert again.rate == 4
    again.advance(utc_ms(2026, 3, 4, 17), held)  # the 16:00 switch passes: still forced
    assert again.rate == 4
    again.advance(again.now_ms, LIT)
    assert again.rate == 3


def test_a_model_without_a_tariff_input_ignores_the_signal() -> None:
    meter = Meter(load_model("pmm1220").spec, START)
    rate = meter.rate
    meter.advance(START + 60_000, _with(LIT, Fault.TARIFF_INPUT))
    assert meter.rate == rate


# -- the S0 pulse output -------------------------------------------------------------------

loads = st.lists(
    st.tuples(
        st.one_of(st.just(0), st.integers(50, 20_000)),  # W, import; 0 or above starting
        st.integers(1, 40 * 86_400),  # s: up to ~a year in all
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=40, deadline=None)
@given(segments=loads, constant=st.integers(1, 100_000))
def test_s0_pulses_are_the_floor_of_the_imported_energy_at_every_instant(
    segments: list[tuple[int, int]], constant: int
) -> None:
    """pulses == floor(Wh x imp/kWh / 1000) after every change, worked out here in exact
    fractions from the loads alone: no drift, whatever the constant."""
    spec = _spec("magno22", wallet=None, profiles=(), pulse_output_imp_per_kwh=constant)
    meter = Meter(spec, START)
    joules = 0
    now = START
    for watts, seconds in segments:
        now += seconds * 1000
        meter.advance(now, PhysicalState((230.0,), (float(watts),), (0.0,)))
        joules += watts * seconds
        wh = Fraction(joules, 3600)
        assert meter.s0_pulses() == math.floor(wh * constant / 1000)


def test_a_year_of_one_kilowatt_gives_the_pulses_of_8760_kwh_exactly() -> None:
    spec = _spec("magno22", wallet=None, profiles=())  # no captures: a quicker year
    meter = Meter(spec, START)
    meter.advance(START + 365 * 86_400_000, PhysicalState((230.0,), (1000.0,), (0.0,)))
    assert meter.s0_pulses() == 8_760 * 1000


def test_s0_pulses_count_the_energy_at_the_terminals_of_a_transformer_meter() -> None:
    """az3p (CT 150/5): the pulse output sees the secondary energy, 1/30 of the primary."""
    spec = _spec("az3p", pulse_output_imp_per_kwh=3200, wallet=None)
    meter = Meter(spec, START)
    three_kw = PhysicalState((220.0,) * 3, (1000.0,) * 3, (0.0,) * 3)
    meter.advance(START + 3_600_000, three_kw)
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE) == 3_000_000  # 3 kWh primary
    assert meter.s0_pulses() == 3200 * 3 // 30  # 0.1 kWh secondary x 3200 imp/kWh


def test_a_meter_without_a_pulse_output_counts_none() -> None:
    meter = Meter(load_model("pmm1220").spec, START)
    meter.advance(START + 3_600_000, PhysicalState((230.0,), (1000.0,), (0.0,)))
    assert meter.s0_pulses() == 0


# -- the inputs in a scenario file ---------------------------------------------------------


def test_a_scenario_file_holds_the_tariff_input_and_fits_a_new_battery(tmp_path: Path) -> None:
    """magno22 on a constant 1 kW, UTC in winter: the tariff input held 10:00-12:00 puts
    those two kWh on rate 4 (the calendar says 2); a battery fitted at 13:00."""
    path = tmp_path / "inputs.toml"
    path.write_text(
        'kind = "constant"\npower_w = 1000.0\nfaults = [\n'
        '  {kind = "tariff_input", start = "2026-03-04T10:00:00", duration_s = 7200},\n'
        '  {kind = "battery_replaced", start = "2026-03-04T13:00:00", duration_s = 1},\n]\n',
        encoding="utf-8",
    )
    site = WorldSite(phases=1, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=0)
    world = load_scenario(str(path), site)
    meter = Meter(load_model("magno22").spec, MAGNO_START)
    meter.feed(world.series(MAGNO_START, utc_ms(2026, 3, 4, 14)))
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 4) == 2_000_000
    assert meter.rate == 2
    assert meter.battery is not None and meter.battery.installed_ms == utc_ms(2026, 3, 4, 13)
