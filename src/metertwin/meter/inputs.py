"""Physical inputs at the meter's terminals, as the simulated world presents them.

The world is described on the primary side (what flows in the installation); a
transformer-connected meter divides by its CT/VT ratios itself (seed 002). Inputs are
piecewise constant: the core integrates them exactly between changes, so the cost of a
simulation grows with the number of changes, not with the seconds simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

import numpy as np
from numpy.typing import NDArray

Int64Array = NDArray[np.int64]
FloatArray = NDArray[np.float64]
UInt32Array = NDArray[np.uint32]


class Fault(IntFlag):
    """Switches and sensors that detection logic reads; physics faults (phase loss, reverse
    current, power cut) are expressed directly in voltages and powers instead."""

    NONE = 0
    MAGNETIC_FIELD = 1
    METER_COVER_OPEN = 2
    TERMINAL_COVER_OPEN = 4
    MODULE_COVER_OPEN = 8
    BATTERY_LOW = 16
    NEUTRAL_LOSS = 32
    REVERSE_CURRENT = 64
    PHASE_LOSS = 128
    BILLING_BUTTON = 256  # the local billing reset button, held down
    RELAY_BUTTON = 512  # the customer's relay button, held down
    # Failures the meter's self-checks detect (the failure log, seed 003 / issue 5).
    RTC_FAILURE = 1024  # the real-time clock lost its time: the clock is invalid until set
    RELAY_FAULT = 2048  # the relay's contacts cannot move (welded or jammed)
    NV_MEMORY_ERROR = 4096
    RAM_ERROR = 8192
    PROGRAM_MEMORY_ERROR = 16384
    WATCHDOG_RESET = 32768
    MEASUREMENT_ERROR = 65536  # the measuring system's self-check failed: data not valid
    # Inputs (issue 20, items 8 and 9): a new battery fitted (a service act, pressed like a
    # button) and seed 003's "Dual Resource Signal (Tariff change)" input, held while active.
    BATTERY_REPLACED = 131072
    TARIFF_INPUT = 262144


BUTTONS = Fault.BILLING_BUTTON | Fault.RELAY_BUTTON | Fault.BATTERY_REPLACED
"""Push buttons: the meter acts when one is pressed (the flag's rising edge)."""

ACTING = BUTTONS | Fault.RTC_FAILURE | Fault.RELAY_FAULT | Fault.TARIFF_INPUT
"""Flags whose edges change the meter's state at their instant (not only log an event)."""


@dataclass(frozen=True)
class PhysicalState:
    """The world at one instant, per phase (tuples have one entry per phase).

    Sign convention (IEC 62053, metrology.md): active power > 0 is import (consumption),
    reactive power > 0 is inductive (quadrants I and IV by the sign of P).
    """

    voltage_v: tuple[float, ...]
    active_w: tuple[float, ...]
    reactive_var: tuple[float, ...]
    frequency_hz: float = 50.0
    ambient_c: float = 20.0
    earth_leakage_a: float = 0.0
    faults: Fault = Fault.NONE

    @property
    def phases(self) -> int:
        return len(self.voltage_v)

    @classmethod
    def idle(cls, phases: int, voltage_v: float, frequency_hz: float = 50.0) -> PhysicalState:
        """Supply present, no load."""
        return cls(
            voltage_v=(voltage_v,) * phases,
            active_w=(0.0,) * phases,
            reactive_var=(0.0,) * phases,
            frequency_hz=frequency_hz,
        )


@dataclass(frozen=True)
class InputSeries:
    """Piecewise-constant inputs: segment i holds from ``start_ms[i]`` until
    ``start_ms[i + 1]``, the last one until ``end_ms``. Times are UTC milliseconds of the
    world's (true) time, not of the meter's possibly drifting clock.

    Per-phase arrays have shape (N, phases); the others shape (N,).
    """

    start_ms: Int64Array
    end_ms: int
    voltage_v: FloatArray
    active_w: FloatArray
    reactive_var: FloatArray
    frequency_hz: FloatArray
    ambient_c: FloatArray
    earth_leakage_a: FloatArray
    faults: UInt32Array

    def __post_init__(self) -> None:
        n = len(self.start_ms)
        if n == 0:
            raise ValueError("an input series needs at least one segment")
        if self.voltage_v.ndim != 2 or self.voltage_v.shape[0] != n:
            raise ValueError("voltage_v must have shape (segments, phases)")
        shape = self.voltage_v.shape
        for name in ("active_w", "reactive_var"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have shape {shape}")
        for name in ("frequency_hz", "ambient_c", "earth_leakage_a", "faults"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},)")
        if n > 1 and not bool(np.all(np.diff(self.start_ms) > 0)):
            raise ValueError("segment start times must increase strictly")
        if self.end_ms <= int(self.start_ms[-1]):
            raise ValueError("end_ms must come after the last segment start")

    @property
    def phases(self) -> int:
        return int(self.voltage_v.shape[1])

    @property
    def start(self) -> int:
        return int(self.start_ms[0])

    def __len__(self) -> int:
        return len(self.start_ms)

    def state_at_index(self, i: int) -> PhysicalState:
        """The world during segment ``i``, as one instant."""
        return PhysicalState(
            voltage_v=tuple(float(v) for v in self.voltage_v[i]),
            active_w=tuple(float(p) for p in self.active_w[i]),
            reactive_var=tuple(float(q) for q in self.reactive_var[i]),
            frequency_hz=float(self.frequency_hz[i]),
            ambient_c=float(self.ambient_c[i]),
            earth_leakage_a=float(self.earth_leakage_a[i]),
            faults=Fault(int(self.faults[i])),
        )

    def index_at(self, t_ms: int) -> int:
        """Index of the segment in force at ``t_ms`` (start <= t_ms < end)."""
        return int(self.start_ms.searchsorted(t_ms, side="right")) - 1

    @classmethod
    def constant(cls, start_ms: int, end_ms: int, state: PhysicalState) -> InputSeries:
        """One segment holding ``state`` from ``start_ms`` to ``end_ms``."""
        return cls.from_states([start_ms], end_ms, [state])

    @classmethod
    def from_states(
        cls, starts: list[int], end_ms: int, states: list[PhysicalState]
    ) -> InputSeries:
        """Build a series from a few explicit instants (tests, real-time ticks)."""
        return cls(
            start_ms=np.asarray(starts, dtype=np.int64),
            end_ms=end_ms,
            voltage_v=np.asarray([s.voltage_v for s in states], dtype=np.float64),
            active_w=np.asarray([s.active_w for s in states], dtype=np.float64),
            reactive_var=np.asarray([s.reactive_var for s in states], dtype=np.float64),
            frequency_hz=np.asarray([s.frequency_hz for s in states], dtype=np.float64),
            ambient_c=np.asarray([s.ambient_c for s in states], dtype=np.float64),
            earth_leakage_a=np.asarray([s.earth_leakage_a for s in states], dtype=np.float64),
            faults=np.asarray([int(s.faults) for s in states], dtype=np.uint32),
        )
