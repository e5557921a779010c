"""Four-quadrant accumulation in exact integers (metrology.md quadrant definitions)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.metrology import (
    Metrology,
    MetrologyConfig,
    PreparedSeries,
    Ratings,
    TransformerRatios,
)
from metertwin.meter.registers import ACCUMULATED_COUNT, Accumulated, Energy, EnergyRegisters

SINGLE = Ratings(
    phases=1, nominal_voltage_v=230.0, basic_current_a=5.0, max_current_a=100.0, frequency_hz=50.0
)
THREE = Ratings(
    phases=3, nominal_voltage_v=220.0, basic_current_a=5.0, max_current_a=6.0, frequency_hz=50.0
)
HOUR_MS = 3_600_000


def integrate(metrology: Metrology, state: PhysicalState, duration_ms: int) -> list[int]:
    series = InputSeries.constant(0, duration_ms, state)
    return PreparedSeries(series, metrology.rate_matrix(series)).integral(0, duration_ms)


def one_phase(p: float, q: float, v: float = 230.0) -> PhysicalState:
    return PhysicalState(voltage_v=(v,), active_w=(p,), reactive_var=(q,))


@pytest.mark.parametrize(
    ("p", "q", "expected"),
    [
        # QI: import, inductive
        (
            1000.0,
            500.0,
            {
                Accumulated.IMPORT_ACTIVE: 1000,
                Accumulated.Q1: 500,
                Accumulated.IMPORT_APPARENT: 1118,
            },
        ),
        # QII: export, +Q
        (
            -1000.0,
            500.0,
            {
                Accumulated.EXPORT_ACTIVE: 1000,
                Accumulated.Q2: 500,
                Accumulated.EXPORT_APPARENT: 1118,
            },
        ),
        # QIII: export, -Q
        (
            -1000.0,
            -500.0,
            {
                Accumulated.EXPORT_ACTIVE: 1000,
                Accumulated.Q3: 500,
                Accumulated.EXPORT_APPARENT: 1118,
            },
        ),
        # QIV: import, -Q (capacitive)
        (
            1000.0,
            -500.0,
            {
                Accumulated.IMPORT_ACTIVE: 1000,
                Accumulated.Q4: 500,
                Accumulated.IMPORT_APPARENT: 1118,
            },
        ),
    ],
)
def test_one_hour_in_each_quadrant_lands_in_the_right_accumulators(
    p: float, q: float, expected: dict[Accumulated, int]
) -> None:
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig())
    deltas = integrate(metrology, one_phase(p, q), HOUR_MS)
    # apparent power: hypot(1000, 500) = 1118.034 W -> rounded to 1118034 mW
    apparent = round(float(np.hypot(p, q)) * 1000)
    for group in (0, 1):  # total and L1 agree on a single-phase meter
        values = deltas[group * ACCUMULATED_COUNT : (group + 1) * ACCUMULATED_COUNT]
        for k in Accumulated:
            want = expected.get(k, 0)
            if k in (Accumulated.IMPORT_APPARENT, Accumulated.EXPORT_APPARENT) and want:
                assert values[k] == apparent * HOUR_MS
            else:
                assert values[k] == want * 1000 * HOUR_MS, k


def test_below_starting_current_nothing_accumulates() -> None:
    """0.4 % of Ib = 20 mA at 230 V is 4.6 W (seed 000/003 starting current)."""
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig())
    assert sum(integrate(metrology, one_phase(4.5, 0.0), HOUR_MS)) == 0
    assert integrate(metrology, one_phase(4.7, 0.0), HOUR_MS)[Accumulated.IMPORT_ACTIVE] == (
        4700 * HOUR_MS
    )


def test_export_disabled_registers_no_export() -> None:
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig(export_enabled=False))
    deltas = integrate(metrology, one_phase(-2000.0, 0.0), HOUR_MS)
    assert deltas[Accumulated.EXPORT_ACTIVE] == 0
    assert deltas[Accumulated.IMPORT_ACTIVE] == 0


def test_absolute_mode_counts_reverse_energy_as_import() -> None:
    """Seed 000 'absolute active energy': a reversed meter still bills the energy."""
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig(absolute_mode=True))
    deltas = integrate(metrology, one_phase(-2000.0, 0.0), HOUR_MS)
    assert deltas[Accumulated.IMPORT_ACTIVE] == 2000 * 1000 * HOUR_MS
    assert deltas[Accumulated.EXPORT_ACTIVE] == 0


def test_three_phase_total_nets_the_phases_and_each_phase_keeps_its_own() -> None:
    metrology = Metrology(THREE, TransformerRatios(), MetrologyConfig())
    state = PhysicalState(
        voltage_v=(220.0, 220.0, 220.0),
        active_w=(1000.0, 500.0, -300.0),
        reactive_var=(0.0, 0.0, 0.0),
    )
    deltas = integrate(metrology, state, HOUR_MS)
    k = ACCUMULATED_COUNT
    assert deltas[Accumulated.IMPORT_ACTIVE] == 1200 * 1000 * HOUR_MS  # total 1200 W import
    assert deltas[Accumulated.EXPORT_ACTIVE] == 0
    assert deltas[3 * k + Accumulated.EXPORT_ACTIVE] == 300 * 1000 * HOUR_MS  # L3 exports
    assert deltas[1 * k + Accumulated.IMPORT_ACTIVE] == 1000 * 1000 * HOUR_MS


def test_transformer_ratio_scales_primary_registers_exactly() -> None:
    """Seed 002: through-transducer connection. 150/5 A CT: the meter sees 1/30 of the
    primary current and its registers show the primary energy."""
    ratios = TransformerRatios(ct_primary=150, ct_secondary=5)
    metrology = Metrology(THREE, ratios, MetrologyConfig())
    state = PhysicalState(voltage_v=(220.0,) * 3, active_w=(30000.0,) * 3, reactive_var=(0.0,) * 3)
    deltas = integrate(metrology, state, HOUR_MS)
    registers = EnergyRegisters(3, 4)
    registers.add(deltas, 1)
    assert registers.micro(Energy.IMPORT_ACTIVE) == 90_000 * 1000 * HOUR_MS
    assert registers.micro(Energy.IMPORT_ACTIVE, rate=1) == 90_000 * 1000 * HOUR_MS
    # The starting current (20 mA) is judged on the secondary: 0.6 A primary is below it.
    weak = PhysicalState(voltage_v=(220.0,) * 3, active_w=(100.0,) * 3, reactive_var=(0.0,) * 3)
    assert sum(integrate(metrology, weak, HOUR_MS)) == 0


def test_instantaneous_values_single_phase() -> None:
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig(neutral_measured=True))
    state = PhysicalState(
        voltage_v=(230.0,), active_w=(2300.0,), reactive_var=(0.0,), earth_leakage_a=2.0
    )
    inst = metrology.instantaneous(state, connected=True)
    assert inst.phases[0].current_a == pytest.approx(10.0)
    assert inst.power_factor == pytest.approx(1.0)
    assert inst.neutral_current_a == pytest.approx(8.0)  # 2 A return through earth
    off = metrology.instantaneous(state, connected=False)
    assert off.phases[0].current_a == 0.0 and off.phases[0].voltage_v == 230.0


def test_balanced_three_phase_load_has_no_neutral_current() -> None:
    metrology = Metrology(THREE, TransformerRatios(), MetrologyConfig())
    balanced = PhysicalState(
        voltage_v=(220.0,) * 3, active_w=(1000.0,) * 3, reactive_var=(300.0,) * 3
    )
    assert metrology.instantaneous(balanced, True).neutral_current_a == pytest.approx(0.0, abs=1e-9)
    single = PhysicalState(
        voltage_v=(220.0,) * 3, active_w=(2200.0, 0.0, 0.0), reactive_var=(0.0,) * 3
    )
    assert metrology.instantaneous(single, True).neutral_current_a == pytest.approx(10.0)


def test_phase_angle_follows_the_quadrant() -> None:
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig())
    angles = [
        metrology.instantaneous(one_phase(p, q), True).phases[0].angle_deg
        for p, q in ((1000, 1000), (-1000, 1000), (-1000, -1000), (1000, -1000))
    ]
    assert angles == pytest.approx([45.0, 135.0, 225.0, 315.0])


powers = st.floats(min_value=-20000, max_value=20000, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(powers, powers, st.integers(1, 600_000)), min_size=1, max_size=30),
    st.data(),
)
def test_integrals_are_additive_over_any_split(
    segments: list[tuple[float, float, int]], data: st.DataObject
) -> None:
    """Energy over [a, c) equals energy over [a, b) plus [b, c), exactly, for any b: how
    time is cut into steps never changes a register."""
    starts = [0]
    for _, _, duration in segments[:-1]:
        starts.append(starts[-1] + duration)
    end = starts[-1] + segments[-1][2]
    states = [one_phase(p, q) for p, q, _ in segments]
    series = InputSeries.from_states(starts, end, states)
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig())
    prepared = PreparedSeries(series, metrology.rate_matrix(series))
    split = data.draw(st.integers(0, end))
    whole = prepared.integral(0, end)
    parts = [
        a + b
        for a, b in zip(prepared.integral(0, split), prepared.integral(split, end), strict=True)
    ]
    assert whole == parts
    assert all(v >= 0 for v in whole)


def test_extreme_power_over_a_long_span_stays_exact() -> None:
    """100 GW for 30 days overflows int64 prefix sums; the integral must stay exact (found by
    review: values used to wrap to negative registers)."""
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig())
    span = 30 * 24 * HOUR_MS
    deltas = integrate(metrology, one_phase(-1e11, 0.0, v=1e6), span)
    assert deltas[Accumulated.EXPORT_ACTIVE] == 10**14 * span
    assert min(deltas) >= 0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2e12])
def test_non_finite_or_absurd_inputs_are_refused(bad: float) -> None:
    metrology = Metrology(SINGLE, TransformerRatios(), MetrologyConfig())
    with pytest.raises(ValueError, match="finite and within"):
        integrate(metrology, one_phase(bad, 0.0), HOUR_MS)


def test_every_group_and_rate_reads_its_own_accumulators() -> None:
    """micro() reads a phase's accumulators at an offset into the row: with every stored
    accumulator distinct (group g, accumulator k holds 1 + 10 g + k, rate 2 a thousand times
    that), each direct and derived quantity of each group adds up its own two columns."""
    registers = EnergyRegisters(3, 2)
    deltas = [1 + 10 * group + k for group in range(4) for k in range(ACCUMULATED_COUNT)]
    registers.add(deltas, 1)
    registers.add([1000 * d for d in deltas], 2)
    a = Accumulated
    for group in range(4):
        row = deltas[group * ACCUMULATED_COUNT : (group + 1) * ACCUMULATED_COUNT]
        expected = {
            Energy.IMPORT_ACTIVE: row[a.IMPORT_ACTIVE],
            Energy.EXPORT_ACTIVE: row[a.EXPORT_ACTIVE],
            Energy.IMPORT_REACTIVE: row[a.Q1] + row[a.Q2],
            Energy.EXPORT_REACTIVE: row[a.Q3] + row[a.Q4],
            Energy.REACTIVE_Q1: row[a.Q1],
            Energy.REACTIVE_Q4: row[a.Q4],
            Energy.IMPORT_APPARENT: row[a.IMPORT_APPARENT],
            Energy.EXPORT_APPARENT: row[a.EXPORT_APPARENT],
            Energy.ABSOLUTE_ACTIVE: row[a.IMPORT_ACTIVE] + row[a.EXPORT_ACTIVE],
            Energy.NET_ACTIVE: row[a.IMPORT_ACTIVE] - row[a.EXPORT_ACTIVE],
        }
        for quantity, value in expected.items():
            assert registers.micro(quantity, group, rate=1) == value
            assert registers.micro(quantity, group, rate=2) == 1000 * value
            assert registers.micro(quantity, group) == 1001 * value
