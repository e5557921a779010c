"""Sampled voltage and current waveforms for a *detailed* meter (architecture principle 8).

A fleet meter integrates power only; a detailed meter gets these arrays and measures power
quality from them the way a real meter would (``metertwin.power_quality``). Everything is a
pure function of the specification and the sample indices, vectorised over samples, so any
stretch of time can be synthesised on its own and joins its neighbours exactly.

Conventions:

- Phase ``p`` (0, 1, 2 for L1, L2, L3) is shifted by ``-120 * p`` degrees.
- A harmonic's ``ratio`` is its RMS relative to the fundamental's, its phase is relative to
  the fundamental's in degrees of its own order.
- Flicker modulation follows IEC 61000-4-15: ``depth_percent`` is dV/V peak to peak, so a
  rectangular modulation switches between ``1 + d/2`` and ``1 - d/2``; "changes per minute"
  count both edges (1 cpm is a 1/120 Hz square wave); the modulation starts at the first zero
  crossing of L1, so its edges fall on zero crossings where the periods allow.
- An event multiplies voltage and current (a constant-impedance load) by ``residual`` from
  its start sample for its duration: 0 is an interruption, 0.5 a dip to 50 %, 1.15 a swell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# IEC 61000-4-30 limits the measured frequency range around 50/60 Hz; outside this band no
# real network runs and the window arithmetic of the measurement stops meaning anything.
MIN_FREQUENCY_HZ = 42.5
MAX_FREQUENCY_HZ = 69.0
MAX_HARMONIC_ORDER = 50

ModulationShape = Literal["rectangular", "sinusoidal"]


def _require_finite(field_name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{field_name}: {value!r} is not a finite number")


def _require_at_least(field_name: str, value: float, minimum: float) -> None:
    _require_finite(field_name, value)
    if value < minimum:
        raise ValueError(f"{field_name}: {value!r} is below {minimum!r}")


@dataclass(frozen=True)
class Harmonic:
    """One spectral line; ``order`` may be fractional for an interharmonic (e.g. 7.5)."""

    order: float
    ratio: float
    phase_deg: float = 0.0

    def __post_init__(self) -> None:
        _require_finite("harmonic.order", self.order)
        if not 0 < self.order <= MAX_HARMONIC_ORDER + 1:
            raise ValueError(f"harmonic.order: {self.order!r} is outside (0, 51]")
        _require_at_least("harmonic.ratio", self.ratio, 0.0)
        _require_finite("harmonic.phase_deg", self.phase_deg)


# Representative current spectra of household loads, RMS relative to the fundamental and
# phase relative to it (degrees of the order). Illustrative shapes of the kind published for
# these load types (capacitor-input rectifiers without PFC for SMPS and small LED drivers,
# near-sinusoidal motors and grid-following PV inverters), not measured data.
APPLIANCE_HARMONICS: Mapping[str, tuple[Harmonic, ...]] = {
    "smps": (
        Harmonic(3, 0.81, 180.0),
        Harmonic(5, 0.60, 0.0),
        Harmonic(7, 0.37, 180.0),
        Harmonic(9, 0.16, 0.0),
        Harmonic(11, 0.04, 180.0),
        Harmonic(13, 0.05, 0.0),
        Harmonic(15, 0.04, 180.0),
    ),
    "led_driver": (
        Harmonic(3, 0.85, 180.0),
        Harmonic(5, 0.66, 0.0),
        Harmonic(7, 0.45, 180.0),
        Harmonic(9, 0.28, 0.0),
        Harmonic(11, 0.17, 180.0),
        Harmonic(13, 0.12, 0.0),
        Harmonic(15, 0.10, 180.0),
    ),
    "motor": (Harmonic(3, 0.04, 0.0), Harmonic(5, 0.03, 0.0), Harmonic(7, 0.015, 0.0)),
    "pv_inverter": (
        Harmonic(3, 0.02, 0.0),
        Harmonic(5, 0.015, 0.0),
        Harmonic(7, 0.01, 0.0),
        Harmonic(11, 0.005, 0.0),
        Harmonic(13, 0.004, 0.0),
    ),
}

# The fundamental's lag behind the voltage, degrees (a PV inverter feeds in: 180).
APPLIANCE_LAG_DEG: Mapping[str, float] = {
    "smps": -10.0,
    "led_driver": -25.0,
    "motor": 35.0,
    "pv_inverter": 180.0,
}


def appliance_mix(shares: Mapping[str, float]) -> tuple[float, tuple[Harmonic, ...]]:
    """The combined current of several appliance types, each given as its share of the
    fundamental current (any positive weights): (fundamental lag in degrees, harmonics
    relative to the combined fundamental). Phasors add, so opposing spectra partly cancel,
    as they do in a real household."""
    if not shares:
        raise ValueError("appliances: at least one appliance type is needed")
    fundamental = 0j
    lines: dict[float, complex] = {}
    for name, share in shares.items():
        if name not in APPLIANCE_HARMONICS:
            known = ", ".join(sorted(APPLIANCE_HARMONICS))
            raise ValueError(f"appliances.{name}: unknown appliance type (known: {known})")
        _require_at_least(f"appliances.{name}", share, 0.0)
        lag = math.radians(APPLIANCE_LAG_DEG[name])
        fundamental += share * complex(math.cos(-lag), math.sin(-lag))
        for line in APPLIANCE_HARMONICS[name]:
            # the harmonic's phase is on its own order's scale, on top of the fundamental's
            angle = math.radians(line.phase_deg) - line.order * lag
            lines[line.order] = lines.get(line.order, 0j) + share * line.ratio * complex(
                math.cos(angle), math.sin(angle)
            )
    if abs(fundamental) == 0:
        raise ValueError("appliances: the shares give no fundamental current")
    lag_deg = -math.degrees(math.atan2(fundamental.imag, fundamental.real))
    base = -math.radians(lag_deg)
    harmonics = tuple(
        Harmonic(order, abs(phasor) / abs(fundamental), _wrap_deg(phasor, order * base))
        for order, phasor in sorted(lines.items())
    )
    return lag_deg, harmonics


def _wrap_deg(phasor: complex, reference_rad: float) -> float:
    return math.degrees(math.atan2(phasor.imag, phasor.real) - reference_rad) % 360.0


@dataclass(frozen=True)
class Modulation:
    """Amplitude modulation of the voltage, as in the IEC 61000-4-15 test signals."""

    shape: ModulationShape
    frequency_hz: float
    depth_percent: float

    def __post_init__(self) -> None:
        if self.shape not in ("rectangular", "sinusoidal"):
            raise ValueError(f"modulation.shape: {self.shape!r} is not rectangular or sinusoidal")
        _require_finite("modulation.frequency_hz", self.frequency_hz)
        if self.frequency_hz <= 0:
            raise ValueError(f"modulation.frequency_hz: {self.frequency_hz!r} is not positive")
        _require_at_least("modulation.depth_percent", self.depth_percent, 0.0)
        if self.depth_percent >= 200:
            raise ValueError(f"modulation.depth_percent: {self.depth_percent!r} is 200 or more")

    @classmethod
    def rectangular_cpm(cls, changes_per_minute: float, depth_percent: float) -> Modulation:
        """A rectangular modulation given in changes per minute (two changes a period)."""
        _require_finite("modulation.changes_per_minute", changes_per_minute)
        return cls("rectangular", changes_per_minute / 120.0, depth_percent)

    def envelope(self, t: FloatArray) -> FloatArray:
        half_depth = self.depth_percent / 200.0
        carrier = np.sin(2 * np.pi * self.frequency_hz * t)
        if self.shape == "sinusoidal":
            return 1.0 + half_depth * carrier
        return 1.0 + half_depth * np.where(carrier >= 0, 1.0, -1.0)


@dataclass(frozen=True)
class VoltageEvent:
    """A dip, swell or interruption: the waveform scaled by ``residual`` for a while."""

    start_s: float
    duration_s: float
    residual: float

    def __post_init__(self) -> None:
        _require_at_least("event.start_s", self.start_s, 0.0)
        _require_at_least("event.duration_s", self.duration_s, 0.0)
        _require_at_least("event.residual", self.residual, 0.0)
        if self.residual > 2:
            raise ValueError(f"event.residual: {self.residual!r} is above 2 (200 %)")


@dataclass(frozen=True)
class PhaseWaveform:
    """One phase: RMS of the fundamentals, the current's lag and both spectra."""

    voltage_rms: float
    current_rms: float
    current_lag_deg: float = 0.0
    voltage_harmonics: tuple[Harmonic, ...] = ()
    current_harmonics: tuple[Harmonic, ...] = ()

    def __post_init__(self) -> None:
        _require_at_least("phase.voltage_rms", self.voltage_rms, 0.0)
        _require_at_least("phase.current_rms", self.current_rms, 0.0)
        _require_finite("phase.current_lag_deg", self.current_lag_deg)

    @classmethod
    def household(
        cls, voltage_rms: float, current_rms: float, shares: Mapping[str, float]
    ) -> PhaseWaveform:
        """A phase feeding a mix of appliance types (see ``appliance_mix``)."""
        lag, harmonics = appliance_mix(shares)
        return cls(voltage_rms, current_rms, lag, (), harmonics)


@dataclass(frozen=True)
class WaveformSpec:
    """Everything that decides the samples: network, phases, flicker and events."""

    phases: tuple[PhaseWaveform, ...]
    frequency_hz: float = 50.0
    sample_rate_hz: float = 6400.0
    modulation: Modulation | None = None
    events: tuple[VoltageEvent, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 1 <= len(self.phases) <= 3:
            raise ValueError(f"phases: {len(self.phases)} phases given, 1 to 3 expected")
        _require_finite("frequency_hz", self.frequency_hz)
        if not MIN_FREQUENCY_HZ <= self.frequency_hz <= MAX_FREQUENCY_HZ:
            raise ValueError(
                f"frequency_hz: {self.frequency_hz!r} is outside "
                f"{MIN_FREQUENCY_HZ}..{MAX_FREQUENCY_HZ} Hz"
            )
        _require_finite("sample_rate_hz", self.sample_rate_hz)
        top = max(
            (
                line.order
                for phase in self.phases
                for line in (*phase.voltage_harmonics, *phase.current_harmonics)
            ),
            default=1.0,
        )
        if self.sample_rate_hz <= 2 * top * self.frequency_hz:
            raise ValueError(
                f"sample_rate_hz: {self.sample_rate_hz!r} cannot carry order {top} of "
                f"{self.frequency_hz} Hz (Nyquist)"
            )


@dataclass(frozen=True)
class Waveforms:
    """Samples ``voltage[p, i]`` and ``current[p, i]`` at ``start_sample + i``."""

    voltage: FloatArray
    current: FloatArray
    sample_rate_hz: float
    start_sample: int


def _synthesise(
    rms: float, lag_deg: float, harmonics: Sequence[Harmonic], omega_t: FloatArray, shift_rad: float
) -> FloatArray:
    """Fundamental plus harmonics, each ``sqrt(2) * RMS * cos(h (wt + shift - lag) + phase)``."""
    base = omega_t + shift_rad - math.radians(lag_deg)
    wave = np.cos(base)
    for line in harmonics:
        wave += line.ratio * np.cos(line.order * base + math.radians(line.phase_deg))
    wave *= math.sqrt(2) * rms
    return wave


def event_envelope(
    events: Sequence[VoltageEvent], sample_rate_hz: float, start_sample: int, count: int
) -> FloatArray:
    """The event scale factor per sample; an event covers the samples from
    ``round(start * fs)`` up to, not including, ``round((start + duration) * fs)``."""
    envelope = np.ones(count)
    for event in events:
        first = round(event.start_s * sample_rate_hz) - start_sample
        stop = round((event.start_s + event.duration_s) * sample_rate_hz) - start_sample
        envelope[max(first, 0) : max(min(stop, count), 0)] = event.residual
    return envelope


def _periodic_samples(spec: WaveformSpec) -> int | None:
    """Samples per cycle when the waveform (before modulation and events) repeats exactly
    every cycle: a whole number of samples per cycle and only integer orders."""
    per_cycle = spec.sample_rate_hz / spec.frequency_hz
    orders = (
        line.order
        for phase in spec.phases
        for line in (*phase.voltage_harmonics, *phase.current_harmonics)
    )
    if per_cycle != round(per_cycle) or any(order != round(order) for order in orders):
        return None
    return round(per_cycle)


def synthesise(spec: WaveformSpec, duration_s: float, start_s: float = 0.0) -> Waveforms:
    """The samples from ``start_s`` for ``duration_s`` (sample index ``round(t * fs)``).

    At a whole number of samples per cycle with integer orders (6.4 kHz at 50 Hz, 7.68 kHz
    at 60 Hz) one cycle is computed, on the index modulo the cycle so every piece gets the
    same values, and repeated: several times faster than evaluating every sample."""
    _require_at_least("duration_s", duration_s, 0.0)
    _require_at_least("start_s", start_s, 0.0)
    fs = spec.sample_rate_hz
    start_sample = round(start_s * fs)
    count = round((start_s + duration_s) * fs) - start_sample
    indices = start_sample + np.arange(count)
    per_cycle = _periodic_samples(spec)
    basis = indices if per_cycle is None else (start_sample + np.arange(per_cycle)) % per_cycle
    omega_t: FloatArray = (2 * np.pi * spec.frequency_hz / fs) * basis.astype(np.float64)
    voltage = np.empty((len(spec.phases), count))
    current = np.empty((len(spec.phases), count))
    for index, phase in enumerate(spec.phases):
        shift = -2 * np.pi * index / 3
        voltage[index] = np.resize(
            _synthesise(phase.voltage_rms, 0.0, phase.voltage_harmonics, omega_t, shift), count
        )
        current[index] = np.resize(
            _synthesise(
                phase.current_rms, phase.current_lag_deg, phase.current_harmonics, omega_t, shift
            ),
            count,
        )
    if spec.events:
        events = event_envelope(spec.events, fs, start_sample, count)
        voltage *= events
        current *= events
    if spec.modulation is not None:
        # The modulation's clock starts at L1's first zero crossing (a quarter cycle in): a
        # rectangular modulation whose half period is whole half cycles then switches at zero
        # crossings, as the IEC 61000-4-15 test signals do (it matters near 25 Hz at 50 Hz).
        voltage *= spec.modulation.envelope(indices / fs - 0.25 / spec.frequency_hz)
    return Waveforms(voltage, current, fs, start_sample)
