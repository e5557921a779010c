"""The IEC 61000-4-15 flickermeter: lamp-eye-brain chain, Pst and Plt.

Blocks, as the standard draws them:

1. input adapter: the voltage normalised to its own mean square, followed by a first-order
   low-pass of one minute (the standard's slow level adaptation);
2. squaring demodulator: ``u^2``. Right after it the signal is averaged over blocks of a few
   samples and decimated to about 1.6 kHz: the flicker band ends at 35/42 Hz, and the filters
   below then run on a tenth of the samples (the boxcar's loss at 35 Hz is 0.02 %);
3. weighting: first-order high-pass 0.05 Hz, 6th-order Butterworth low-pass 35 Hz (50 Hz
   systems) or 42 Hz (60 Hz systems), and the lamp's weighting filter
   ``K w1 s / (s^2 + 2 lambda s + w1^2) * (1 + s/w2) / ((1 + s/w3)(1 + s/w4))``,
   made discrete by the bilinear transform (scipy.signal);
4. squaring and a first-order low-pass of 300 ms;
5. scaling so that the 8.8 Hz sinusoidal reference (0.250 % dV/V for the 230 V lamp, 0.321 %
   for the 120 V lamp, IEC 61000-4-15:2010 tables 1a/1b) gives a maximum Pinst of 1: the
   constant is found by running that very signal through the chain once per configuration.

Then the statistical classifier: the percentiles of Pinst over 10 minutes (exact order
statistics, not the standard's class histogram, whose resolution they exceed) and
``Pst = sqrt(0.0314 P0.1 + 0.0525 P1s + 0.0657 P3s + 0.28 P10s + 0.08 P50s)``; Plt is the
cube root of the mean of the cubes of 12 consecutive Pst.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal

from metertwin.power_quality.windows import FloatArray, WindowGrid, frames

PST_PERIOD_S = 600.0
PLT_PST_COUNT = 12
REFERENCE_FREQUENCY_HZ = 8.8
_DECIMATED_RATE_HZ = 1600.0
_ADAPTER_TIME_CONSTANT_S = 60.0
_SMOOTHING_TIME_CONSTANT_S = 0.3
_HIGH_PASS_HZ = 0.05


@dataclass(frozen=True)
class Lamp:
    """The weighting filter of one reference lamp (IEC 61000-4-15:2010, 5.3; Hz values)."""

    name: str
    k: float
    lambda_hz: float
    f1_hz: float
    f2_hz: float
    f3_hz: float
    f4_hz: float
    reference_depth_percent: float


LAMP_230V = Lamp("230 V", 1.74802, 4.05981, 9.15494, 2.27979, 1.22535, 21.9, 0.250)
LAMP_120V = Lamp("120 V", 1.6357, 4.167375, 9.077169, 2.939902, 1.394468, 17.31512, 0.321)

# Smoothed percentiles: (weight, the percentiles averaged) of the Pst formula.
_PST_TERMS: tuple[tuple[float, tuple[float, ...]], ...] = (
    (0.0314, (0.1,)),
    (0.0525, (0.7, 1.0, 1.5)),
    (0.0657, (2.2, 3.0, 4.0)),
    (0.28, (6.0, 8.0, 10.0, 13.0, 17.0)),
    (0.08, (30.0, 50.0, 80.0)),
)


def _weighting_sos(lamp: Lamp, rate_hz: float) -> FloatArray:
    w1, w2, w3, w4 = (2 * math.pi * f for f in (lamp.f1_hz, lamp.f2_hz, lamp.f3_hz, lamp.f4_hz))
    lam = 2 * math.pi * lamp.lambda_hz
    numerator = np.polymul([lamp.k * w1, 0.0], [1 / w2, 1.0])
    denominator = np.polymul([1.0, 2 * lam, w1 * w1], np.polymul([1 / w3, 1.0], [1 / w4, 1.0]))
    b, a = signal.bilinear(numerator, denominator, fs=rate_hz)
    return np.asarray(signal.tf2sos(b, a), dtype=np.float64)


@dataclass(frozen=True)
class FlickerSignal:
    """Pinst (block 5 output) at ``rate_hz``."""

    pinst: FloatArray
    rate_hz: float


class Flickermeter:
    """Blocks 1-5 for one sample rate, network frequency and lamp; reusable for any record."""

    def __init__(self, grid: WindowGrid, lamp: Lamp) -> None:
        self.grid = grid
        self.lamp = lamp
        self.decimation = max(1, round(grid.sample_rate_hz / _DECIMATED_RATE_HZ))
        self.rate_hz = grid.sample_rate_hz / self.decimation
        cutoff = 35.0 if grid.nominal_frequency_hz == 50.0 else 42.0
        self._weighting = np.vstack(
            (
                signal.butter(1, _HIGH_PASS_HZ, "highpass", fs=self.rate_hz, output="sos"),
                signal.butter(6, cutoff, "lowpass", fs=self.rate_hz, output="sos"),
                _weighting_sos(lamp, self.rate_hz),
            )
        )
        self._smoothing = signal.bilinear([1.0], [_SMOOTHING_TIME_CONSTANT_S, 1.0], fs=self.rate_hz)
        self._adapter = signal.bilinear([1.0], [_ADAPTER_TIME_CONSTANT_S, 1.0], fs=self.rate_hz)
        self.gain = 1.0 / _reference_peak(self)

    def sensation(self, voltage: FloatArray) -> FlickerSignal:
        """Pinst of one channel of voltage samples (any unit: the adapter normalises)."""
        return self.stream().feed(voltage)

    def stream(self) -> FlickerStream:
        """A running flickermeter fed record by record (a meter's continuous measurement)."""
        return FlickerStream(self)


class FlickerStream:
    """The filter states of one flickermeter channel between records: feeding a record in
    pieces gives the same Pinst as feeding it whole, provided the first piece holds at least
    one second (the input adapter starts at the level of the first second it sees)."""

    def __init__(self, meter: Flickermeter) -> None:
        self._meter = meter
        self._leftover = np.empty(0)
        self._adapter_state: FloatArray | None = None
        self._weighting_state = np.zeros((meter._weighting.shape[0], 2))
        self._smoothing_state = signal.lfilter_zi(*meter._smoothing) * 0.0

    def feed(self, voltage: FloatArray) -> FlickerSignal:
        """Pinst for every decimated sample the record completes (samples that do not fill
        a decimation block wait for the next record)."""
        return FlickerSignal(self.raw(voltage) * self._meter.gain, self._meter.rate_hz)

    def raw(self, voltage: FloatArray) -> FloatArray:
        """Block 4 output before the block 5 scaling."""
        if voltage.ndim != 1 or not np.all(np.isfinite(voltage)):
            raise ValueError("voltage: one channel of finite samples expected")
        meter = self._meter
        joined = np.concatenate((self._leftover, voltage))
        squared: FloatArray = frames(joined * joined, meter.decimation).mean(axis=-1)
        self._leftover = joined[squared.size * meter.decimation :]
        if squared.size == 0:
            return squared
        if self._adapter_state is None:
            first_second = float(squared[: round(meter.rate_hz)].mean())
            self._adapter_state = signal.lfilter_zi(*meter._adapter) * first_second
        level, self._adapter_state = signal.lfilter(
            *meter._adapter, squared, zi=self._adapter_state
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(level > 0, squared / level, 1.0) - 1.0
        weighted, self._weighting_state = signal.sosfilt(
            meter._weighting, relative, zi=self._weighting_state
        )
        smoothed, self._smoothing_state = signal.lfilter(
            *meter._smoothing, weighted * weighted, zi=self._smoothing_state
        )
        return np.asarray(smoothed, dtype=np.float64)


_REFERENCE_PEAKS: dict[tuple[WindowGrid, Lamp], float] = {}


def _reference_peak(meter: Flickermeter) -> float:
    """The unscaled block-4 maximum for the 8.8 Hz sinusoidal reference of the lamp (20 s of
    settling, then the maximum over 5 s), once per configuration."""
    key = (meter.grid, meter.lamp)
    if key not in _REFERENCE_PEAKS:
        fs = meter.grid.sample_rate_hz
        t = np.arange(round(25 * fs)) / fs
        half_depth = meter.lamp.reference_depth_percent / 200.0
        u = np.cos(2 * np.pi * meter.grid.nominal_frequency_hz * t) * (
            1 + half_depth * np.sin(2 * np.pi * REFERENCE_FREQUENCY_HZ * t)
        )
        _REFERENCE_PEAKS[key] = float(
            FlickerStream(meter).raw(u)[round(20 * meter.rate_hz) :].max()
        )
    return _REFERENCE_PEAKS[key]


def short_term_severity(pinst: FloatArray) -> float:
    """Pst of a Pinst record (normally 10 minutes): IEC 61000-4-15 block 5 formula on the
    smoothed percentiles; ``P_x`` is the level exceeded ``x`` % of the time."""
    if pinst.ndim != 1 or pinst.size == 0:
        raise ValueError("pinst: a non-empty one-dimensional record expected")
    levels = {p for _, group in _PST_TERMS for p in group}
    ordered = sorted(levels)
    values = np.percentile(pinst, [100.0 - p for p in ordered])
    by_level = dict(zip(ordered, values, strict=True))
    total = sum(weight * np.mean([by_level[p] for p in group]) for weight, group in _PST_TERMS)
    return math.sqrt(max(total, 0.0))


def pst_series(flicker: FlickerSignal, settle_s: float = 0.0) -> FloatArray:
    """Pst of each whole 10-minute period after the first ``settle_s`` seconds."""
    start = round(settle_s * flicker.rate_hz)
    periods = frames(flicker.pinst[start:], round(PST_PERIOD_S * flicker.rate_hz))
    return np.array([short_term_severity(period) for period in periods])


def long_term_severity(pst_values: Sequence[float]) -> float:
    """Plt: the cube root of the mean of the cubes of (normally 12) consecutive Pst."""
    values = np.asarray(pst_values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("pst_values: at least one Pst value expected")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("pst_values: every Pst must be a finite, non-negative number")
    return float(np.cbrt(np.mean(values**3)))
