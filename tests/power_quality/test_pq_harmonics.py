"""IEC 61000-4-7 harmonics on synthetic signals with known content, and the grouping rules
against sums worked out by hand from the standard's definitions (5.5 and 5.6 of 61000-4-7:
group = lines n*N - N/2 .. n*N + N/2 with the two end lines halved, subgroup = the three
lines around the harmonic, interharmonic group = the lines between two harmonics,
interharmonic centred subgroup = the same without the two lines next to the harmonics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.power_quality import (
    WINDOWS_PER_150_CYCLES,
    WindowGrid,
    aggregate,
    analyse,
    frequency,
    half_cycle_rms,
    window_rms,
)
from metertwin.sim.waveforms import Harmonic, PhaseWaveform, VoltageEvent, WaveformSpec, synthesise

GRID_50 = WindowGrid(6400.0, 50.0)
GRID_60 = WindowGrid(7680.0, 60.0)
CONTENT = (
    Harmonic(3, 0.05, 30.0),
    Harmonic(5, 0.03, 200.0),
    Harmonic(7, 0.01, 0.0),
    Harmonic(50, 0.005, 90.0),
)


def _tone(grid: WindowGrid, lines: dict[float, float], seconds: float = 1.0) -> np.ndarray:
    """Sum of cosines: frequency (Hz) -> RMS."""
    t = np.arange(round(seconds * grid.sample_rate_hz)) / grid.sample_rate_hz
    return sum(rms * math.sqrt(2) * np.cos(2 * np.pi * f * t + 0.3 * f) for f, rms in lines.items())


@pytest.mark.parametrize("grid", [GRID_50, GRID_60], ids=["50Hz", "60Hz"])
def test_known_harmonic_content_is_recovered_to_a_thousandth(grid: WindowGrid) -> None:
    spec = WaveformSpec(
        (PhaseWaveform(230.0, 10.0, 30.0, CONTENT, CONTENT),),
        grid.nominal_frequency_hz,
        grid.sample_rate_hz,
    )
    waves = synthesise(spec, 1.0)
    analysis = analyse(np.stack([waves.voltage[0], waves.current[0]]), grid)
    assert analysis.lines.shape[:2] == (2, 5)
    for channel, fundamental in ((0, 230.0), (1, 10.0)):
        assert analysis.harmonic(1)[channel] == pytest.approx(fundamental, rel=1e-3)
        for line in CONTENT:
            order = int(line.order)
            expected = fundamental * line.ratio
            assert analysis.harmonic(order)[channel] == pytest.approx(expected, rel=1e-3)
            assert analysis.subgroups()[channel, :, order - 1] == pytest.approx(expected, rel=1e-3)
            assert analysis.groups()[channel, :, order - 1] == pytest.approx(expected, rel=1e-3)
    thd = math.sqrt(sum(line.ratio**2 for line in CONTENT))
    assert analysis.thd_subgroup() == pytest.approx(thd, rel=1e-3)
    assert analysis.thd_group() == pytest.approx(thd, rel=1e-3)
    assert analysis.interharmonic_groups() == pytest.approx(0.0, abs=1e-6 * 230)


def test_groupings_of_interharmonic_lines_at_50_hz_match_the_hand_sums() -> None:
    """Lines (5 Hz apart, N = 10): 250 Hz (order 5, line 50) 10 V, 255 Hz (line 51) 3 V,
    260 Hz (line 52) 2 V, 275 Hz (line 55, the boundary of groups 5 and 6) 4 V, 300 Hz
    (order 6, line 60) 1 V."""
    analysis = analyse(_tone(GRID_50, {250: 10.0, 255: 3.0, 260: 2.0, 275: 4.0, 300: 1.0}), GRID_50)
    groups, subgroups = analysis.groups()[0], analysis.subgroups()[0]
    assert groups[4] == pytest.approx(math.sqrt(100 + 9 + 4 + 16 / 2))
    assert groups[5] == pytest.approx(math.sqrt(1 + 16 / 2))
    assert subgroups[4] == pytest.approx(math.sqrt(100 + 9))
    assert subgroups[5] == pytest.approx(1.0)
    assert analysis.interharmonic_groups()[0, 5] == pytest.approx(math.sqrt(9 + 4 + 16))
    assert analysis.interharmonic_subgroups()[0, 5] == pytest.approx(math.sqrt(4 + 16))
    assert analysis.interharmonic_groups()[0, 4] == pytest.approx(0.0, abs=1e-9)


def test_groupings_at_60_hz_use_twelve_lines_per_order() -> None:
    """N = 12: order 5 is line 60 (300 Hz); 305 Hz (line 61) 2 V, 315 Hz (line 63) 3 V,
    330 Hz (line 66, the boundary of groups 5 and 6) 4 V, 355 Hz (line 71, next to order 6) 1 V."""
    analysis = analyse(_tone(GRID_60, {300: 6.0, 305: 2.0, 315: 3.0, 330: 4.0, 355: 1.0}), GRID_60)
    assert analysis.groups()[0, 4] == pytest.approx(math.sqrt(36 + 4 + 9 + 16 / 2))
    assert analysis.groups()[0, 5] == pytest.approx(math.sqrt(16 / 2 + 1))
    assert analysis.subgroups()[0, 4] == pytest.approx(math.sqrt(36 + 4))
    assert analysis.subgroups()[0, 5] == pytest.approx(1.0)
    assert analysis.interharmonic_groups()[0, 5] == pytest.approx(math.sqrt(4 + 9 + 16 + 1))
    assert analysis.interharmonic_subgroups()[0, 5] == pytest.approx(math.sqrt(9 + 16))


def test_an_interharmonic_of_the_synthesiser_lands_in_its_interharmonic_group() -> None:
    spec = WaveformSpec((PhaseWaveform(230.0, 0.0, 0.0, (Harmonic(7.5, 0.02),)),))
    analysis = analyse(synthesise(spec, 0.4).voltage[0], GRID_50)
    assert analysis.interharmonic_groups()[:, 7] == pytest.approx(230 * 0.02, rel=1e-3)
    assert analysis.subgroups()[:, 6:8] == pytest.approx(0.0, abs=1e-6)
    assert analysis.thd_subgroup() == pytest.approx(0.0, abs=1e-8)


def test_a_sample_rate_too_low_for_the_50th_is_refused() -> None:
    with pytest.raises(ValueError, match="sample_rate_hz"):
        analyse(np.zeros(1280), WindowGrid(3200.0, 50.0))


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(min_value=1e-3, max_value=1e3),
    third=st.floats(min_value=0.0, max_value=0.5),
    phase=st.floats(min_value=0.0, max_value=360.0),
)
def test_scaling_a_signal_scales_rms_and_lines_and_keeps_thd(
    scale: float, third: float, phase: float
) -> None:
    spec = WaveformSpec((PhaseWaveform(230.0, 0.0, 0.0, (Harmonic(3, third, phase),)),))
    u = synthesise(spec, 0.4).voltage[0]
    plain, scaled = analyse(u, GRID_50), analyse(scale * u, GRID_50)
    np.testing.assert_allclose(scaled.lines, scale * plain.lines, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(scaled.thd_subgroup(), plain.thd_subgroup(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        window_rms(scale * u, GRID_50), scale * window_rms(u, GRID_50), rtol=1e-12
    )
    assert window_rms(u, GRID_50) == pytest.approx(230 * math.sqrt(1 + third**2), rel=1e-9)


def test_half_cycle_rms_is_one_cycle_refreshed_every_half_cycle() -> None:
    u = synthesise(WaveformSpec((PhaseWaveform(230.0, 0.0),)), 0.1).voltage[0]
    values, end_s = half_cycle_rms(u, GRID_50)
    assert values.shape == (9,)
    assert end_s == pytest.approx(np.arange(2, 11) * 0.01)
    assert values == pytest.approx(230.0)


@pytest.mark.parametrize("hz", [49.95, 50.0, 59.98, 61.2])
def test_frequency_over_ten_seconds(hz: float) -> None:
    spec = WaveformSpec((PhaseWaveform(230.0, 0.0),), hz, 6400.0)
    measured = frequency(synthesise(spec, 20.0).voltage[0], 6400.0)
    assert measured == pytest.approx([hz, hz], abs=1e-4)


def test_frequency_is_nan_without_a_voltage() -> None:
    assert np.isnan(frequency(np.zeros(64_000), 6400.0)).all()


@pytest.mark.parametrize(
    ("rate", "nominal", "field"),
    [
        (6400.0, 55.0, "nominal_frequency_hz"),
        (6450.0, 50.0, "sample_rate_hz"),
        (float("nan"), 50.0, "sample_rate_hz"),
    ],
)
def test_window_grid_refuses_impossible_settings(rate: float, nominal: float, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        WindowGrid(rate, nominal)


def test_150_cycle_aggregation_is_the_rms_of_fifteen_windows() -> None:
    """A dip to 50 % for 5 of 15 windows: sqrt((10 * 230^2 + 5 * 115^2) / 15)."""
    spec = WaveformSpec(
        (PhaseWaveform(230.0, 0.0, 0.0, (Harmonic(3, 0.1),)),),
        events=(VoltageEvent(1.0, 1.0, 0.5),),
    )
    u = synthesise(spec, 6.0).voltage[0]
    rms = aggregate(window_rms(u, GRID_50), WINDOWS_PER_150_CYCLES)
    expected = 230.0 * math.sqrt(1.01) * math.sqrt((10 + 5 * 0.25) / 15)
    assert rms == pytest.approx([expected, 230.0 * math.sqrt(1.01)])
    third = aggregate(analyse(u, GRID_50).subgroups(), WINDOWS_PER_150_CYCLES, axis=-2)
    assert third.shape == (2, 50)
    assert third[:, 2] == pytest.approx([23.0 * math.sqrt((10 + 5 * 0.25) / 15), 23.0])
