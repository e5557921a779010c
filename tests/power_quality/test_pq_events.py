"""Dips, swells and interruptions on Urms(1/2), durations exact to the half cycle.

The expected times are worked out by hand from the one-cycle window refreshed every half
cycle (IEC 61000-4-30): an event of true duration D starting on a half-cycle boundary t0
leaves one window that is half disturbed at each edge, with RMS sqrt((1 + r^2) / 2) of the
declared voltage for a residual r. Whether that mixed window crosses the threshold decides
whether the event is seen half a cycle early at the start and half a cycle late at the end.
(The mean square of a sinusoid over any half period is the same, so the phase of the edge
within the cycle does not matter, only that it falls on a half-cycle sample boundary.)
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.power_quality import EventThresholds, WindowGrid, detect_events, half_cycle_rms
from metertwin.sim.waveforms import PhaseWaveform, VoltageEvent, WaveformSpec, synthesise

HALF = 0.01  # s, at 50 Hz
GRID = WindowGrid(6400.0, 50.0)
THRESHOLDS = EventThresholds(declared_voltage=230.0)


def _events(
    events: tuple[VoltageEvent, ...], seconds: float, phases: int = 1, grid: WindowGrid = GRID
):
    spec = WaveformSpec(
        tuple(PhaseWaveform(230.0, 5.0) for _ in range(phases)),
        grid.nominal_frequency_hz,
        grid.sample_rate_hz,
        events=events,
    )
    voltage = synthesise(spec, seconds).voltage
    if phases > 1 and events:
        # the event on L1 only: L2 and L3 keep the undisturbed waveform
        voltage[1:] = synthesise(
            WaveformSpec(spec.phases, spec.frequency_hz, spec.sample_rate_hz), seconds
        ).voltage[1:]
    values, end_s = half_cycle_rms(voltage, grid)
    return detect_events(values, end_s, THRESHOLDS)


def test_a_deep_dip_is_seen_from_the_mixed_window_to_the_first_clean_one() -> None:
    """50 % residual: mixed RMS 79 % < 90 %: start t0 + T/2, end t1 + T, D + T/2."""
    (event,) = _events((VoltageEvent(0.5, 0.2, 0.5),), 1.0)
    assert (event.kind, event.start_s, event.end_s) == (
        "dip",
        pytest.approx(0.51),
        pytest.approx(0.72),
    )
    assert event.duration_s == pytest.approx(0.2 + HALF)
    assert event.extreme == pytest.approx(115.0)


def test_a_shallow_dip_is_seen_only_on_whole_disturbed_windows() -> None:
    """85 % residual: mixed RMS 92.8 % is above 90 % and at or above 92 %: start t0 + T,
    end t1 + T/2, D - T/2."""
    (event,) = _events((VoltageEvent(0.5, 0.2, 0.85),), 1.0)
    assert (event.start_s, event.end_s) == (pytest.approx(0.52), pytest.approx(0.71))


def test_swells_mirror_dips() -> None:
    """130 %: mixed 116 % > 110 %, start t0 + T/2, end t1 + T; 115 %: mixed 107.8 %, not
    above 110 % and at or below 108 %: start t0 + T, end t1 + T/2."""
    high, low = _events((VoltageEvent(0.5, 0.2, 1.3), VoltageEvent(1.5, 0.3, 1.15)), 2.5)
    assert (high.kind, high.start_s, high.end_s) == (
        "swell",
        pytest.approx(0.51),
        pytest.approx(0.72),
    )
    assert high.extreme == pytest.approx(1.3 * 230.0)
    assert (low.kind, low.start_s, low.end_s) == ("swell", pytest.approx(1.52), pytest.approx(1.81))


def test_an_interruption_is_also_a_dip_and_short_below_three_minutes() -> None:
    dip, cut = _events((VoltageEvent(0.5, 2.0, 0.0),), 3.0)
    assert dip.kind == "dip" and dip.duration_s == pytest.approx(2.0 + HALF)
    # 0 % residual: the mixed window is at 70.7 %, above the 5 % threshold and the 7 % end
    assert (cut.kind, cut.start_s, cut.end_s) == (
        "interruption",
        pytest.approx(0.52),
        pytest.approx(2.51),
    )
    assert not cut.is_long_interruption


def test_a_power_cut_of_three_minutes_is_a_long_interruption() -> None:
    grid = WindowGrid(1000.0, 50.0)  # a coarse rate keeps 4 minutes of samples small
    events = _events((VoltageEvent(10.0, 180.01, 0.0),), 240.0, grid=grid)
    cut = next(event for event in events if event.kind == "interruption")
    assert cut.duration_s == pytest.approx(180.0)
    assert cut.is_long_interruption


def test_an_event_still_running_at_the_end_has_no_end() -> None:
    (event,) = _events((VoltageEvent(0.5, 10.0, 0.5),), 1.0)
    assert event.end_s is None and event.duration_s is None


def test_polyphase_rules_dip_on_any_channel_interruption_on_all() -> None:
    """L1 falls to zero, L2 and L3 stay: a dip (any channel), no interruption (all)."""
    events = _events((VoltageEvent(0.5, 0.2, 0.0),), 1.0, phases=3)
    assert [event.kind for event in events] == ["dip"]
    assert events[0].extreme == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    halves=st.integers(min_value=2, max_value=80),
    start_halves=st.integers(min_value=4, max_value=40),
    residual=st.floats(min_value=0.1, max_value=0.75),
)
def test_dip_durations_are_exact_to_the_half_cycle(
    halves: int, start_halves: int, residual: float
) -> None:
    """Any residual whose mixed window is below 90 % (r < 0.787): measured D + T/2."""
    start, duration = start_halves * HALF, halves * HALF
    dips = [
        e
        for e in _events((VoltageEvent(start, duration, residual),), start + duration + 0.2)
        if e.kind == "dip"
    ]
    assert len(dips) == 1
    assert dips[0].start_s == pytest.approx(start + HALF)
    assert dips[0].duration_s == pytest.approx(duration + HALF)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"declared_voltage": -230.0}, "declared_voltage"),
        ({"dip_percent": 101.0}, "dip_percent"),
        ({"dip_percent": 6.0}, "dip_percent"),
        ({"swell_percent": 101.0}, "swell_percent"),
        ({"hysteresis_percent": float("nan")}, "hysteresis_percent"),
    ],
)
def test_impossible_thresholds_are_refused_naming_the_field(
    changes: dict[str, float], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        EventThresholds(**{"declared_voltage": 230.0, **changes})
