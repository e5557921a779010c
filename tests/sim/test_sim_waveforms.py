"""Waveform synthesis for a detailed meter: content, phases, events, and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metertwin.sim.waveforms import (
    APPLIANCE_HARMONICS,
    Harmonic,
    Modulation,
    PhaseWaveform,
    VoltageEvent,
    WaveformSpec,
    appliance_mix,
    synthesise,
)


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(x * x, axis=-1))


def test_three_phases_have_their_rms_and_are_120_degrees_apart() -> None:
    spec = WaveformSpec(tuple(PhaseWaveform(230.0, 10.0, 30.0) for _ in range(3)), 60.0, 7680.0)
    waves = synthesise(spec, 1.0)
    assert waves.voltage.shape == (3, 7680)
    assert _rms(waves.voltage) == pytest.approx([230.0] * 3)
    assert _rms(waves.current) == pytest.approx([10.0] * 3)
    assert waves.voltage.sum(axis=0) == pytest.approx(np.zeros(7680), abs=1e-9)
    power = np.mean(waves.voltage[0] * waves.current[0])
    assert power == pytest.approx(230.0 * 10.0 * math.cos(math.radians(30.0)))


def test_harmonics_add_to_the_rms_as_the_root_sum_of_squares() -> None:
    shape = (Harmonic(3, 0.3), Harmonic(5, 0.2, 90.0))
    waves = synthesise(WaveformSpec((PhaseWaveform(230.0, 1.0, 0.0, shape, shape),)), 0.2)
    assert _rms(waves.voltage[0]) == pytest.approx(230.0 * math.sqrt(1 + 0.09 + 0.04))


def test_pieces_join_exactly() -> None:
    spec = WaveformSpec(
        (PhaseWaveform(230.0, 5.0, 10.0, (Harmonic(7, 0.1),)),),
        modulation=Modulation("sinusoidal", 8.8, 1.0),
        events=(VoltageEvent(0.3, 0.2, 0.4),),
    )
    whole = synthesise(spec, 1.0)
    parts = [synthesise(spec, 0.25, start) for start in (0.0, 0.25, 0.5, 0.75)]
    np.testing.assert_array_equal(np.concatenate([p.voltage for p in parts], axis=1), whole.voltage)
    np.testing.assert_array_equal(np.concatenate([p.current for p in parts], axis=1), whole.current)


def test_the_repeated_cycle_equals_the_formula_far_from_the_start() -> None:
    """6.4 kHz at 50 Hz takes the one-cycle path: compare with the formula an hour in."""
    phase = PhaseWaveform(230.0, 5.0, 25.0, (Harmonic(3, 0.1, 40.0),), (Harmonic(49, 0.02, 10.0),))
    waves = synthesise(WaveformSpec((phase, phase)), 0.05, start_s=3600.0)
    t = (3600 * 6400 + np.arange(320)) / 6400
    wt = 2 * np.pi * 50 * t - 2 * np.pi / 3
    lag = math.radians(25.0)
    expected_u = math.sqrt(2) * 230 * (np.cos(wt) + 0.1 * np.cos(3 * wt + math.radians(40)))
    expected_i = (
        math.sqrt(2) * 5 * (np.cos(wt - lag) + 0.02 * np.cos(49 * (wt - lag) + math.radians(10)))
    )
    np.testing.assert_allclose(waves.voltage[1], expected_u, atol=1e-7)
    np.testing.assert_allclose(waves.current[1], expected_i, atol=1e-8)


def test_an_event_scales_its_samples_exactly() -> None:
    spec = WaveformSpec((PhaseWaveform(230.0, 5.0),), events=(VoltageEvent(0.1, 0.05, 0.0),))
    waves = synthesise(spec, 0.2)
    assert not waves.voltage[0, 640:960].any() and not waves.current[0, 640:960].any()
    assert waves.voltage[0, 639] != 0 and waves.voltage[0, 960] != 0


def test_rectangular_modulation_switches_between_the_two_levels() -> None:
    spec = WaveformSpec(
        (PhaseWaveform(100.0, 0.0),), modulation=Modulation.rectangular_cpm(1200, 10.0)
    )
    cycles = synthesise(spec, 1.0).voltage[0].reshape(50, 128)
    peaks = np.abs(cycles).max(axis=1) / (100 * math.sqrt(2))
    assert set(np.round(peaks, 3)) == {0.95, 1.05}


def test_a_single_appliance_mix_is_its_own_table() -> None:
    lag, harmonics = appliance_mix({"smps": 2.0})
    assert lag == pytest.approx(-10.0)
    for mixed, table in zip(harmonics, APPLIANCE_HARMONICS["smps"], strict=True):
        assert (mixed.order, mixed.ratio) == (table.order, pytest.approx(table.ratio))
        assert mixed.phase_deg == pytest.approx(table.phase_deg % 360, abs=1e-9)


def test_a_mix_of_loads_has_less_distortion_than_its_worst_member() -> None:
    _, smps = appliance_mix({"smps": 1.0})
    _, mixed = appliance_mix({"smps": 1.0, "motor": 3.0})
    third = {h.order: h.ratio for h in mixed}[3]
    assert 0 < third < smps[0].ratio
    phase = PhaseWaveform.household(230.0, 8.0, {"smps": 1.0, "motor": 3.0})
    assert _rms(synthesise(WaveformSpec((phase,)), 0.2).current[0]) == pytest.approx(
        8.0 * math.sqrt(1 + sum(h.ratio**2 for h in mixed))
    )


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: PhaseWaveform(-230.0, 1.0), "phase.voltage_rms"),
        (lambda: PhaseWaveform(230.0, float("nan")), "phase.current_rms"),
        (lambda: WaveformSpec((PhaseWaveform(230.0, 1.0),), frequency_hz=70.0), "frequency_hz"),
        (lambda: WaveformSpec((PhaseWaveform(230.0, 1.0),), frequency_hz=40.0), "frequency_hz"),
        (
            lambda: WaveformSpec((PhaseWaveform(230.0, 1.0),), frequency_hz=float("nan")),
            "frequency_hz",
        ),
        (
            lambda: WaveformSpec(
                (PhaseWaveform(230.0, 1.0, 0.0, (Harmonic(40, 0.1),)),), sample_rate_hz=3200.0
            ),
            "sample_rate_hz",
        ),
        (lambda: WaveformSpec(()), "phases"),
        (lambda: Harmonic(60, 0.1), "harmonic.order"),
        (lambda: Harmonic(3, -0.1), "harmonic.ratio"),
        (lambda: Modulation("triangle", 1.0, 1.0), "modulation.shape"),  # type: ignore[arg-type]
        (lambda: Modulation("sinusoidal", 0.0, 1.0), "modulation.frequency_hz"),
        (lambda: Modulation("sinusoidal", 8.8, -1.0), "modulation.depth_percent"),
        (lambda: VoltageEvent(-1.0, 1.0, 0.5), "event.start_s"),
        (lambda: VoltageEvent(1.0, float("inf"), 0.5), "event.duration_s"),
        (lambda: VoltageEvent(1.0, 1.0, -0.5), "event.residual"),
        (lambda: appliance_mix({"kettle": 1.0}), "appliances.kettle"),
        (
            lambda: synthesise(WaveformSpec((PhaseWaveform(230.0, 1.0),)), float("nan")),
            "duration_s",
        ),
    ],
)
def test_impossible_waveforms_are_refused_naming_the_field(build, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        build()
