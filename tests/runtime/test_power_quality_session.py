"""`[scenario] power_quality = {waveforms = true}` in a config makes the session's meter a
detailed one; without it the meter reports the scenario's parameters; a restarted detailed
meter reads what it measured before (docs/power-quality.md, "Two fidelities")."""

from __future__ import annotations

from pathlib import Path

from metertwin.config import UserConfig
from metertwin.runtime.session import SIMULATED, Session, open_session

START = "2026-03-02T00:00"
PQ = {"voltage_harmonics": {"5": 4.0}, "appliances": {"smps": 1.0}, "pst": 0.3}


def _open(data: Path, waveforms: bool) -> Session:
    config = UserConfig(scenario={"power_quality": {**PQ, "waveforms": waveforms}})
    return open_session(data, "pmm1220", config, "household", START, lambda _m: 0, SIMULATED)


def test_a_fleet_session_reports_the_scenario_parameters(tmp_path: Path) -> None:
    session = _open(tmp_path / "meter", waveforms=False)
    reading = session.meter.power_quality.readings[0]
    assert not session.meter.power_quality.detailed
    assert (reading.voltage_thd, reading.pst) == (4.0, 0.3)
    session.close()


def test_a_detailed_session_measures_and_keeps_its_measurement(tmp_path: Path) -> None:
    session = _open(tmp_path / "meter", waveforms=True)
    meter = session.meter
    assert meter.power_quality.detailed
    session.advance_to(meter.now_ms + 10 * 60_000)
    measured = meter.power_quality.readings[0]
    assert abs(measured.voltage_thd - 4.0) < 0.05  # measured on the waveform, not given
    assert measured.pst != 0.3
    session.commit()
    session.close()
    again = _open(tmp_path / "meter", waveforms=True)
    assert again.meter.power_quality.readings[0] == measured
    again.close()
