"""Measurement windows of IEC 61000-4-30: the 10/12-cycle interval, Urms(1/2) and frequency.

Class S simplification, stated once here: windows are whole numbers of *nominal* cycles
counted in samples (10 cycles at 50 Hz, 12 at 60 Hz, both 200 ms), not resynchronised to the
measured frequency. At nominal frequency this is exactly the standard's window; off nominal,
the harmonic bins leak a little (see docs/power-quality.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

NOMINAL_FREQUENCIES_HZ = (50.0, 60.0)


@dataclass(frozen=True)
class WindowGrid:
    """Samples per half cycle and per 10/12-cycle window for a sample rate and network."""

    sample_rate_hz: float
    nominal_frequency_hz: float

    def __post_init__(self) -> None:
        if self.nominal_frequency_hz not in NOMINAL_FREQUENCIES_HZ:
            raise ValueError(f"nominal_frequency_hz: {self.nominal_frequency_hz!r} is not 50 or 60")
        if not math.isfinite(self.sample_rate_hz) or self.sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz: {self.sample_rate_hz!r} is not a positive number")
        per_half = self.sample_rate_hz / (2 * self.nominal_frequency_hz)
        if per_half != round(per_half):
            raise ValueError(
                f"sample_rate_hz: {self.sample_rate_hz!r} is not a whole number of samples "
                f"per half cycle of {self.nominal_frequency_hz} Hz"
            )

    @property
    def cycles_per_window(self) -> int:
        """10 at 50 Hz, 12 at 60 Hz: 200 ms, a 5 Hz bin either way (IEC 61000-4-7)."""
        return 10 if self.nominal_frequency_hz == 50.0 else 12

    @property
    def samples_per_half_cycle(self) -> int:
        return round(self.sample_rate_hz / (2 * self.nominal_frequency_hz))

    @property
    def samples_per_window(self) -> int:
        return 2 * self.samples_per_half_cycle * self.cycles_per_window


def frames(samples: FloatArray, length: int) -> FloatArray:
    """``samples[..., n]`` cut into ``[..., windows, length]`` (an incomplete tail is dropped);
    a view, no copy."""
    whole = samples.shape[-1] // length
    shaped: FloatArray = samples[..., : whole * length].reshape(*samples.shape[:-1], whole, length)
    return shaped


def mean_square(windows: FloatArray) -> FloatArray:
    """The mean square along the last axis (one pass, no temporary of the squares)."""
    result: FloatArray = np.einsum("...i,...i->...", windows, windows) / windows.shape[-1]
    return result


def window_rms(samples: FloatArray, grid: WindowGrid) -> FloatArray:
    """RMS over each 10/12-cycle window, ``[..., windows]``."""
    return np.sqrt(mean_square(frames(samples, grid.samples_per_window)))


def half_cycle_rms(samples: FloatArray, grid: WindowGrid) -> tuple[FloatArray, FloatArray]:
    """Urms(1/2) of IEC 61000-4-30: the RMS over one cycle, refreshed every half cycle.

    Returns ``(values[..., k], end_s[k])``: value ``k`` covers half cycles ``k`` and ``k+1``
    of the record and is known at ``end_s[k]``, seconds from the first sample."""
    half = grid.samples_per_half_cycle
    halves = mean_square(frames(samples, half))
    values = np.sqrt((halves[..., :-1] + halves[..., 1:]) / 2)
    end_s = (np.arange(values.shape[-1]) + 2) * half / grid.sample_rate_hz
    return values, end_s


def frequency(samples: FloatArray, sample_rate_hz: float, interval_s: float = 10.0) -> FloatArray:
    """The network frequency per interval (IEC 61000-4-30: 10 s): the number of whole cycles
    in the interval divided by their total duration, the cycles delimited by positive-going
    zero crossings interpolated linearly between samples. One channel, ``[intervals]``;
    NaN for an interval with fewer than two crossings (an interruption)."""
    if samples.ndim != 1:
        raise ValueError("samples: one channel expected")
    rising = np.flatnonzero((samples[:-1] < 0) & (samples[1:] >= 0))
    before, after = samples[rising], samples[rising + 1]
    crossings = (rising + before / (before - after)) / sample_rate_hz
    per_interval = round(interval_s * sample_rate_hz)
    count = samples.shape[-1] // per_interval
    edges = np.searchsorted(crossings, np.arange(count + 1) * interval_s)
    result = np.full(count, np.nan)
    for index in range(count):
        inside = crossings[edges[index] : edges[index + 1]]
        if inside.size >= 2:
            result[index] = (inside.size - 1) / (inside[-1] - inside[0])
    return result


WINDOWS_PER_150_CYCLES = 15  # 150 cycles at 50 Hz, 180 at 60 Hz: 3 s
WINDOWS_PER_10_MINUTES = 3000


def aggregate(values: FloatArray, count: int, axis: int = -1) -> FloatArray:
    """IEC 61000-4-30 aggregation of 10/12-cycle values (RMS, harmonic groups): the root mean
    square of each ``count`` consecutive values along ``axis`` (15 for 150/180 cycles, 3000
    for 10 minutes; class S, counted in windows, not realigned to the clock's 10-minute tick)."""
    if count < 1:
        raise ValueError(f"count: {count!r} is not a positive number of windows")
    moved = np.moveaxis(values, axis, -1)
    return np.moveaxis(np.sqrt(mean_square(frames(moved, count))), -1, axis)
