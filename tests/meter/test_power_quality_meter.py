"""A meter's power quality (issue 16, items 3 and 6): dips and swells on the supply voltage
with their counts, durations and IDIS log entries; the fleet meter reporting its scenario's
parameters; the detailed meter measuring its synthesised waveforms.

PMM1220: 220 V declared, so a dip starts below 198 V (90 %) and ends at 202.4 V (92 %); a
swell starts above 242 V (110 %) and ends at 237.6 V (108 %). Worked by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.models import load_model
from metertwin.power_quality import WindowGrid, analyse
from metertwin.sim import ScenarioError, WorldSite
from metertwin.sim.power_quality import fleet_readings, install_power_quality, waveform_source
from metertwin.sim.scenario import parse_scenario
from metertwin.sim.waveforms import appliance_mix
from metertwin.sim.world import SimulatedWorld

T0 = utc_ms(2026, 3, 2, 6)
PQ_LOG = "0.0.99.98.4.255"
SITE = WorldSite(1, 220.0, 50.0, 180)


def _state(volts: float) -> PhysicalState:
    return PhysicalState((volts,), (500.0,), (100.0,))


def _meter() -> Meter:
    return Meter(load_model("pmm1220").spec, T0)


def _log(meter: Meter) -> list[tuple[int, int]]:
    return [(e.code, e.first_ms) for e in meter.event_logs[PQ_LOG].entries]


def _feed(meter: Meter, steps: list[tuple[int, float]], end_ms: int) -> None:
    starts = [T0 + t for t, _ in steps]
    meter.feed(InputSeries.from_states(starts, T0 + end_ms, [_state(v) for _, v in steps]))


def test_a_dip_is_counted_timed_and_logged_with_the_idis_codes() -> None:
    meter = _meter()
    # 150 V from 60 s for 1.5 s: one dip of 1.5 s.
    _feed(meter, [(0, 220.0), (60_000, 150.0), (61_500, 220.0)], 120_000)
    dips = meter.power_quality.dips[0]
    assert (dips.count, dips.last_ms, dips.total_ms) == (1, 1_500, 1_500)
    stamp = meter.clock.meter_ms
    assert _log(meter) == [
        (EventCode.UNDER_VOLTAGE_L1, stamp(T0 + 60_000)),
        (EventCode.VOLTAGE_NORMAL_L1, stamp(T0 + 61_500)),
    ]
    assert meter.power_quality.swells[0].count == 0


def test_the_hysteresis_keeps_a_dip_going_until_92_percent() -> None:
    meter = _meter()
    # 197 V starts it, 200 V (between 198 and 202.4) does not end it, 203 V does: 3 s.
    _feed(meter, [(0, 220.0), (1_000, 197.0), (2_000, 200.0), (4_000, 203.0)], 10_000)
    dips = meter.power_quality.dips[0]
    assert (dips.count, dips.last_ms) == (1, 3_000)
    assert [code for code, _ in _log(meter)] == [76, 85]


def test_a_swell_and_a_dip_ended_by_a_power_cut() -> None:
    meter = _meter()
    steps = [(0, 220.0), (1_000, 245.0), (3_000, 238.0), (5_000, 237.0), (8_000, 180.0)]
    _feed(meter, [*steps, (9_000, 0.0), (20_000, 220.0)], 30_000)
    pq = meter.power_quality
    # 238 V is above 237.6 V: the swell lasts from 1 s to 5 s.
    assert (pq.swells[0].count, pq.swells[0].last_ms) == (1, 4_000)
    # The dip at 8 s ends when the supply is lost at 9 s: timed, but no "voltage normal".
    assert (pq.dips[0].count, pq.dips[0].last_ms) == (1, 1_000)
    assert [code for code, _ in _log(meter)] == [79, 85, 76, 1, 2]


def test_a_dip_going_on_is_timed_up_to_now_and_survives_a_restart() -> None:
    meter = _meter()
    _feed(meter, [(0, 220.0), (10_000, 150.0)], 40_000)
    dips = meter.power_quality.dips[0]
    assert dips.count == 1 and dips.duration_ms(meter.now_ms) == 30_000
    again = Meter.from_state(meter.spec, meter.to_state())
    again.feed(
        InputSeries.from_states(
            [T0 + 40_000, T0 + 45_000], T0 + 50_000, [_state(150.0), _state(220.0)]
        )
    )
    restored = again.power_quality.dips[0]
    assert (restored.count, restored.last_ms) == (1, 35_000)


def test_models_without_the_function_log_no_dips() -> None:
    meter = Meter(load_model("metercom-pro").spec, T0)
    states = [PhysicalState((v,) * 3, (500.0,) * 3, (0.0,) * 3) for v in (230.0, 150.0, 230.0)]
    meter.feed(InputSeries.from_states([T0, T0 + 1000, T0 + 2000], T0 + 3000, states))
    assert meter.power_quality.dips[0].count == 0
    assert EventCode.UNDER_VOLTAGE_L1 not in meter.event_counts


# -- scenarios: the two fidelities ---------------------------------------------------------

_PQ = {
    "voltage_harmonics": {"5": 3.0, "7": 1.5},
    "appliances": {"smps": 0.4, "motor": 0.6},
    "pst": 0.45,
    "plt": 0.5,
}
_DIP = [{"start": "2026-03-02T09:03:00", "duration_s": 2.5, "residual": 0.6}]  # 06:03 UTC


def _world(**pq: object) -> SimulatedWorld:
    doc = {
        "kind": "constant",
        "power_w": 2000.0,
        "power_factor": 0.95,
        "voltage_events": _DIP,
        "power_quality": {**_PQ, **pq},
    }
    return SimulatedWorld(parse_scenario(doc, "test", SITE), SITE)


def _expected_current_thd() -> float:
    _, lines = appliance_mix({"smps": 0.4, "motor": 0.6})
    return 100.0 * math.sqrt(sum(line.ratio**2 for line in lines))


@pytest.mark.parametrize("waveforms", [False, True])
def test_a_scenario_dip_gives_the_same_counts_and_log_in_both_fidelities(waveforms: bool) -> None:
    world = _world(waveforms=waveforms)
    meter = _meter()
    install_power_quality(meter, world)
    assert meter.power_quality.detailed is waveforms
    meter.feed(world.series(T0, T0 + 10 * 60_000))
    dips = meter.power_quality.dips[0]
    assert (dips.count, dips.last_ms) == (1, 2_500)
    dip_at = T0 + 3 * 60_000
    stamp = meter.clock.meter_ms
    assert _log(meter) == [(76, stamp(dip_at)), (85, stamp(dip_at + 2_500))]


def test_the_fleet_meter_reports_the_scenario_parameters() -> None:
    meter = _meter()
    install_power_quality(meter, _world())
    reading = meter.power_quality.readings[0]
    assert reading.voltage_thd == pytest.approx(math.hypot(3.0, 1.5))
    assert reading.voltage_harmonics[4] == 3.0 and reading.voltage_harmonics[6] == 1.5
    assert reading.current_thd == pytest.approx(_expected_current_thd())
    assert (reading.pst, reading.plt) == (0.45, 0.5)


def test_the_detailed_meter_measures_its_synthesised_waveforms() -> None:
    world = _world(waveforms=True, flicker_cpm=110.0, flicker_depth_percent=0.736)
    meter = _meter()
    install_power_quality(meter, world)
    end = T0 + 10 * 60_000
    meter.feed(world.series(T0, end))
    reading = meter.power_quality.readings[0]
    # An independent analysis of the same interval's samples: THDS of each window.
    voltage, current, rate = waveform_source(world, world.params.power_quality)(T0, end)
    windows = analyse(np.stack([voltage[0], current[0]]), WindowGrid(rate, 50.0))
    thds = 100.0 * windows.thd_subgroup()
    assert reading.voltage_thd == pytest.approx(float(np.median(thds[0])), abs=0.01)
    assert reading.current_thd == pytest.approx(float(np.median(thds[1])), abs=0.05)
    # ... which is the scenario's content: 3 % and 1.5 %, the appliance mix's current.
    assert reading.voltage_thd == pytest.approx(math.hypot(3.0, 1.5), abs=0.01)
    assert reading.current_thd == pytest.approx(_expected_current_thd(), abs=0.05)
    # Not the fleet's Pst 0.45: the flicker measured, with the dip's step in it (> 1).
    assert reading.pst > 1.0 and reading.plt == pytest.approx(reading.pst)
    assert fleet_readings(world.params.power_quality, 1)[0].pst == 0.45


def test_impossible_power_quality_scenarios_are_refused_naming_the_field() -> None:
    doc = {"kind": "constant", "power_quality": {"voltage_harmonics": {"99": 1.0}}}
    with pytest.raises(ScenarioError, match=r"power_quality\.voltage_harmonics\.99"):
        parse_scenario(doc, "test", SITE)
    doc = {"kind": "constant", "power_quality": {"appliances": {"toaster": 1.0}}}
    with pytest.raises(ScenarioError, match=r"power_quality\.appliances\.toaster"):
        parse_scenario(doc, "test", SITE)
    bad = [{"start": "2026-03-02T09:03:00", "duration_s": 1.0, "residual": -0.5}]
    with pytest.raises(ScenarioError, match=r"voltage_events\[0\]\.residual"):
        parse_scenario({"kind": "constant", "voltage_events": bad}, "test", SITE)


def test_the_readings_and_the_pst_history_are_kept_with_the_meter() -> None:
    """A detailed meter restarted reads what it last measured until it measures again."""
    meter = _meter()
    install_power_quality(meter, _world())
    meter.power_quality.pst_history = [[0.4, 0.7]]
    again = Meter.from_state(meter.spec, meter.to_state())
    assert again.power_quality.readings == meter.power_quality.readings
    assert again.power_quality.pst_history == [[0.4, 0.7]]
