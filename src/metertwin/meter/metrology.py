"""Metrology at energy level: instantaneous values and exact four-quadrant integration.

The world's powers become integer milliwatts on the meter's secondary side once per
input segment; integration multiplies by integer milliseconds, so energy is exact and
independent of how time is cut into steps. Work is vectorised over a whole input series,
and any interval's integral is a difference of prefix sums: O(1) per meter boundary.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from metertwin.meter.inputs import Fault, InputSeries, PhysicalState

_INT64_HEADROOM = 2**62
MAX_INPUT_MAGNITUDE = 1e12
"""Largest |V|, |P| or |Q| accepted (1 TW): in mW it still fits int64 comfortably."""


@dataclass(frozen=True)
class Ratings:
    """Nameplate ratings (seeds: 000 PMM1220 220 V 5(80) A; 002 3x220/380 V 5(6) A;
    003 Magno 22 230 V 5(100) A)."""

    phases: int
    nominal_voltage_v: float
    basic_current_a: float
    max_current_a: float
    frequency_hz: float
    starting_current_ratio: float = 0.004  # 0.4 % Ib (seeds 000, 002, 003)
    meter_constant_imp_per_kwh: int = 1000

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ValueError("a meter is single-phase (1) or three-phase four-wire (3)")

    @property
    def starting_current_a(self) -> float:
        return self.basic_current_a * self.starting_current_ratio


@dataclass(frozen=True)
class TransformerRatios:
    """CT and VT ratios of a transformer-connected meter (seed 002); (1, 1) when direct.

    The world is given on the primary side; the meter's terminals see it divided by these
    ratios, and its registers show primary energy."""

    ct_primary: int = 1
    ct_secondary: int = 1
    vt_primary: int = 1
    vt_secondary: int = 1

    def __post_init__(self) -> None:
        if min(self.ct_primary, self.ct_secondary, self.vt_primary, self.vt_secondary) < 1:
            raise ValueError("transformer ratios are positive integers")

    @property
    def current(self) -> float:
        return self.ct_primary / self.ct_secondary

    @property
    def voltage(self) -> float:
        return self.vt_primary / self.vt_secondary


@dataclass(frozen=True)
class MetrologyConfig:
    """Configuration that changes what is registered (seed 000: export enable/disable and
    absolute active energy; seed 003: neutral current measurement by a second CT)."""

    export_enabled: bool = True
    absolute_mode: bool = False
    neutral_measured: bool = False


@dataclass(frozen=True)
class PhaseReading:
    voltage_v: float
    current_a: float
    active_w: float
    reactive_var: float
    apparent_va: float
    power_factor: float
    angle_deg: float  # angle of current behind voltage, 0..360 (IEC quadrant convention)


@dataclass(frozen=True)
class Instantaneous:
    """What the meter reads at an instant, on the primary side."""

    phases: tuple[PhaseReading, ...]
    active_w: float
    reactive_var: float
    apparent_va: float
    power_factor: float
    frequency_hz: float
    neutral_current_a: float | None
    temperature_c: float
    powered: bool
    faults: Fault


class Metrology:
    """Turns physical inputs into integer power rates and instantaneous readings."""

    def __init__(
        self, ratings: Ratings, ratios: TransformerRatios, config: MetrologyConfig
    ) -> None:
        self.ratings = ratings
        self.ratios = ratios
        self.config = config

    def rate_matrix(self, series: InputSeries) -> NDArray[np.int64]:
        """Integer rates per segment: shape (N, (phases + 1) x ACCUMULATED_COUNT), total
        group first, in mW / mvar / mVA on the primary side, all non-negative.

        Rounding to the milliwatt happens on the primary side so that a CT-connected
        meter's registers carry no ratio rounding bias."""
        if series.phases != self.ratings.phases:
            raise ValueError(f"inputs have {series.phases} phases, the meter {self.ratings.phases}")
        p = series.active_w
        q = series.reactive_var
        for name, values in (
            ("voltage", series.voltage_v),
            ("active power", p),
            ("reactive power", q),
        ):
            if not bool(np.all(np.abs(values) <= MAX_INPUT_MAGNITUDE)):
                raise ValueError(
                    f"{name} inputs must be finite and within ±{MAX_INPUT_MAGNITUDE:g}"
                )
        s = np.hypot(p, q)
        volts = series.voltage_v
        with np.errstate(divide="ignore", invalid="ignore"):
            amps = np.where(volts > 0.0, s / np.where(volts > 0.0, volts, 1.0), 0.0)
        # The starting current applies to what flows through the meter: the CT secondary.
        start_a = self.ratings.starting_current_a * self.ratios.current
        live = (volts > 0.0) & (amps >= start_a)
        p_mw = np.where(live, np.rint(p * 1000.0), 0.0).astype(np.int64)
        q_mvar = np.where(live, np.rint(q * 1000.0), 0.0).astype(np.int64)
        s_mva = np.where(live, np.rint(s * 1000.0), 0.0).astype(np.int64)
        total_p = np.abs(p_mw).sum(axis=1) if self.config.absolute_mode else p_mw.sum(axis=1)
        # All groups at once, total first: (N, groups, accumulators), laid out group by group.
        by_group = self._classify(
            np.column_stack((total_p, p_mw)),
            np.column_stack((q_mvar.sum(axis=1), q_mvar)),
            np.column_stack((s_mva.sum(axis=1), s_mva)),
        )
        return by_group.reshape(len(p), -1)

    def _classify(
        self, p: NDArray[np.int64], q: NDArray[np.int64], s: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """The groups' accumulator rates by quadrant (metrology.md: QI import +Q, QII export
        +Q, QIII export -Q, QIV import -Q): one more axis, the accumulators, at the end."""
        zero = np.zeros_like(p)
        if self.config.absolute_mode:
            forward = np.ones(p.shape, dtype=bool)
            p = np.abs(p)
        else:
            forward = p >= 0
        export_ok = self.config.export_enabled
        imp = np.where(p > 0, p, zero)
        exp = np.where(p < 0, -p, zero) if export_ok else zero
        columns = [
            imp,
            exp,
            np.where((q > 0) & forward, q, zero),
            np.where((q > 0) & ~forward, q, zero),
            np.where((q < 0) & ~forward, -q, zero),
            np.where((q < 0) & forward, -q, zero),
            np.where(forward, s, zero),
            np.where(~forward, s, zero) if export_ok else zero,
        ]
        return np.stack(columns, axis=-1)

    def instantaneous(self, state: PhysicalState, connected: bool) -> Instantaneous:
        """Instantaneous values at one instant (V on the supply side; no current when the
        relay is open)."""
        readings = []
        start_a = self.ratings.starting_current_a * self.ratios.current
        neutral = complex(0.0, 0.0)
        total_s = 0.0
        for k in range(state.phases):
            v = state.voltage_v[k]
            p = state.active_w[k] if connected and v > 0 else 0.0
            q = state.reactive_var[k] if connected and v > 0 else 0.0
            s = math.hypot(p, q)
            amps = s / v if v > 0 else 0.0
            if amps < start_a:
                p = q = s = amps = 0.0
            angle = math.degrees(math.atan2(q, p)) % 360.0 if s else 0.0
            readings.append(PhaseReading(v, amps, p, q, s, p / s if s else 1.0, angle))
            total_s += s
            if v > 0:
                displacement = -2.0 * math.pi * k / 3.0
                neutral += (
                    complex(p, -q) / v * complex(math.cos(displacement), math.sin(displacement))
                )
        total_p = sum(r.active_w for r in readings)
        total_q = sum(r.reactive_var for r in readings)
        neutral_a: float | None = None
        if self.config.neutral_measured or state.phases == 3:
            if state.phases == 1:
                neutral_a = max(readings[0].current_a - state.earth_leakage_a, 0.0)
            else:
                neutral_a = abs(neutral)
        load = max((r.current_a for r in readings), default=0.0) / (
            self.ratings.max_current_a * self.ratios.current
        )
        return Instantaneous(
            phases=tuple(readings),
            active_w=total_p,
            reactive_var=total_q,
            apparent_va=total_s,
            power_factor=total_p / total_s if total_s else 1.0,
            frequency_hz=state.frequency_hz,
            neutral_current_a=neutral_a,
            temperature_c=state.ambient_c + 3.0 + 15.0 * load * load,
            powered=any(v > 0 for v in state.voltage_v),
            faults=state.faults,
        )


class PreparedSeries:
    """An input series with its integer rates and prefix sums, ready for O(1) integrals."""

    def __init__(self, series: InputSeries, rates: NDArray[np.int64]) -> None:
        self.series = series
        starts = series.start_ms
        durations = np.diff(np.append(starts, np.int64(series.end_ms)))
        peak = int(rates.max(initial=0))
        if peak * (series.end_ms - int(starts[0])) >= _INT64_HEADROOM:
            # Extreme powers over long spans: exact Python integers instead of int64.
            rates = rates.astype(object)
            durations = durations.astype(object)
        self.rates = rates
        cumulative = np.cumsum(rates * durations[:, None], axis=0)
        zero = np.zeros((1, rates.shape[1]), dtype=rates.dtype)
        self._cum = np.vstack([zero, cumulative])
        self._starts = starts
        self._start_list: list[int] = starts.tolist()  # bisect: cheaper than searchsorted
        # The last primitive worked out: the core integrates consecutive intervals, so each
        # one begins where the one before ended (never mutated, shared with the caller).
        self._last_t: int | None = None
        self._last_primitive: NDArray[np.int64] = zero[0]

    def _primitive(self, t_ms: int) -> NDArray[np.int64]:
        if t_ms == self._last_t:
            return self._last_primitive
        k = self.index_at(t_ms)
        if k < 0:
            raise ValueError("instant before the series starts")
        elapsed = t_ms - self._start_list[k]
        # At a segment's start (the usual stop: whole minutes) the prefix sum is the value.
        result: NDArray[np.int64] = (
            self._cum[k] + self.rates[k] * elapsed if elapsed else self._cum[k]
        )
        self._last_t = t_ms
        self._last_primitive = result
        return result

    def index_at(self, t_ms: int) -> int:
        """The series' `InputSeries.index_at`, from a list (the core asks at every stop)."""
        return bisect_right(self._start_list, t_ms) - 1

    def time_reaching(self, column: int, t0_ms: int, amount: int) -> int | None:
        """The first instant t (ms) with integral(t0, t)[column] >= ``amount`` (> 0), or
        None if the series ends first: where a budget of energy runs out, exactly."""
        cum = self._cum[:, column]
        target = self._primitive(t0_ms)[column] + amount
        k = int(np.searchsorted(cum, target, side="left")) - 1  # segment where it is reached
        starts = self.series.start_ms
        if k >= len(starts):
            return None
        k = max(k, 0)
        rate = int(self.rates[k][column])
        start = max(int(starts[k]), t0_ms)
        if rate <= 0:
            return None
        needed = int(target) - int(self._primitive(start)[column])
        t = start + max(-(-needed // rate), 0)
        return t if t <= self.series.end_ms else None

    def integral(self, t0_ms: int, t1_ms: int) -> list[int]:
        """Exact integrals of every accumulator over [t0, t1), in micro-units·s."""
        if not self.series.start <= t0_ms <= t1_ms <= self.series.end_ms:
            raise ValueError("interval outside the series")
        before = self._primitive(t0_ms)  # first: it is most often the one remembered
        delta: list[int] = (self._primitive(t1_ms) - before).tolist()
        return delta
