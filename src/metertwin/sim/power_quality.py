"""A scenario's power quality for the meter: the fleet's parameters or a detailed meter's
waveforms (architecture principle 8; docs/power-quality.md, "Two fidelities")."""

from __future__ import annotations

import numpy as np

from metertwin.meter.core import Meter
from metertwin.meter.power_quality import PhaseQuality, WaveformSource, harmonics_percent
from metertwin.sim.base import PowerQualityParams, Scenario
from metertwin.sim.waveforms import (
    Harmonic,
    Modulation,
    PhaseWaveform,
    WaveformSpec,
    appliance_mix,
    synthesise,
)

SAMPLE_RATE_HZ = {50.0: 6400.0, 60.0: 7680.0}  # 128 samples a cycle


def _current_mix(params: PowerQualityParams) -> tuple[float, tuple[Harmonic, ...]]:
    return appliance_mix(dict(params.appliances))


def fleet_readings(params: PowerQualityParams, phases: int) -> list[PhaseQuality]:
    """What a fleet meter reports: the scenario's voltage harmonics, the current harmonics
    of its appliance mix, its Pst and Plt; nothing is synthesised or measured."""
    _, current = _current_mix(params)
    voltage = harmonics_percent(dict(params.voltage_harmonics))
    amps = harmonics_percent(
        {
            round(line.order): 100.0 * line.ratio
            for line in current
            if line.order == round(line.order)
        }
    )
    return [PhaseQuality(voltage, amps, params.pst, params.plt) for _ in range(phases)]


def waveform_source(scenario: Scenario, params: PowerQualityParams) -> WaveformSource:
    """Samples of ``[start_ms, end_ms)`` for a detailed meter: one cycle of unit waveforms
    (the scenario's voltage harmonics, its appliance mix's current, its flicker) scaled
    sample by sample by the supply voltage and load current of the scenario's input
    segments, so dips, swells and cuts of the scenario are in the waveform too."""
    site = scenario.site
    rate = SAMPLE_RATE_HZ[site.frequency_hz]
    lag, current = _current_mix(params)
    voltage = tuple(Harmonic(order, percent / 100.0) for order, percent in params.voltage_harmonics)
    modulation = (
        Modulation.rectangular_cpm(params.flicker_cpm, params.flicker_depth_percent)
        if params.flicker_cpm > 0 and params.flicker_depth_percent > 0
        else None
    )
    spec = WaveformSpec(
        tuple(PhaseWaveform(1.0, 1.0, lag, voltage, current) for _ in range(site.phases)),
        site.frequency_hz,
        rate,
        modulation,
    )

    def source(start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray, float]:
        series = scenario.series(start_ms, end_ms)
        waves = synthesise(spec, (end_ms - start_ms) / 1000.0, start_ms / 1000.0)
        count = waves.voltage.shape[1]
        times = start_ms + np.arange(count) * (1000.0 / rate)
        index = np.searchsorted(series.start_ms, times, side="right") - 1
        volts = series.voltage_v[index].T
        with np.errstate(divide="ignore", invalid="ignore"):
            amps = np.where(
                volts > 0, np.hypot(series.active_w, series.reactive_var)[index].T / volts, 0.0
            )
        return waves.voltage * volts, waves.current * amps, rate

    return source


def install_power_quality(meter: Meter, scenario: Scenario) -> None:
    """Give ``meter`` its scenario's power quality: the parameters (fleet), or with
    ``[power_quality] waveforms = true`` the waveform source (detailed: the registers keep
    what was last measured, stored with the meter, until the next interval is measured)."""
    params: PowerQualityParams | None = getattr(
        getattr(scenario, "params", None), "power_quality", None
    )
    if params is None:
        return
    if params.waveforms:
        meter.use_waveforms(waveform_source(scenario, params))
    else:
        meter.power_quality.set_readings(fleet_readings(params, meter.spec.ratings.phases))
