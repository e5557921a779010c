"""A meter's power quality: harmonics, THD, flicker, voltage dips and swells (issue 16).

Architecture principle 8, both fidelities feeding the same registers (docs/power-quality.md):

- a *fleet* meter reports THD, harmonics and Pst/Plt given by its scenario's parameters
  (``set_readings``, once): nothing is synthesised, so fleets keep their speed;
- a *detailed* meter measures them from waveforms: every ``MEASUREMENT_INTERVAL_MS`` the
  core asks its injected ``WaveformSource`` for the interval's samples and analyses them with
  ``metertwin.power_quality`` (IEC 61000-4-7 subgroups aggregated over the interval, THDS,
  the IEC 61000-4-15 flickermeter kept running from interval to interval).

Dips and swells (models with the "sag-swell" function) are detected on the supply voltage
the core integrates (piecewise constant
segments) with the IEC 61000-4-30 thresholds and hysteresis, in both fidelities: a segment
below 90 % of the declared voltage starts a dip (a phase at 0 V is a phase failure, logged as
such, not a dip), one back at or above 92 % ends it; swells above 110 %, ending at 108 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # imported when a detailed meter measures: scipy costs seconds to load
    from metertwin.power_quality.flicker import FlickerStream

ORDERS = 50
MEASUREMENT_INTERVAL_MS = 600_000  # the IEC 61000-4-30 10-minute interval (one Pst)
PLT_COUNT = 12  # Pst values in one Plt (2 hours)
FLICKER_SETTLE_S = 60.0  # the flickermeter's filters after a (re)start
DIP_PERCENT = 90.0
SWELL_PERCENT = 110.0
HYSTERESIS_PERCENT = 2.0

FloatArray = NDArray[np.float64]
WaveformSource = Callable[[int, int], tuple[FloatArray, FloatArray, float]]
"""(start_ms, end_ms) -> (voltage[p, i], current[p, i], sample rate in Hz) of that stretch."""


@dataclass(frozen=True)
class PhaseQuality:
    """What one phase's power quality registers read. Harmonics are percent of the
    fundamental for orders 1..50 (index 0 is order 1, 100 %); THD is THDS in percent."""

    voltage_harmonics: tuple[float, ...] = (100.0,) + (0.0,) * (ORDERS - 1)
    current_harmonics: tuple[float, ...] = (100.0,) + (0.0,) * (ORDERS - 1)
    pst: float = 0.0
    plt: float = 0.0

    @property
    def voltage_thd(self) -> float:
        return _thd(self.voltage_harmonics)

    @property
    def current_thd(self) -> float:
        return _thd(self.current_harmonics)


def _thd(percent: tuple[float, ...]) -> float:
    if percent[0] <= 0:
        return 0.0
    return 100.0 * math.sqrt(sum(p * p for p in percent[1:])) / percent[0]


def harmonics_percent(lines: dict[int, float]) -> tuple[float, ...]:
    """Orders 1..50 in percent of the fundamental from ``{order: percent}`` (order 1 is
    100 % unless given)."""
    values = [0.0] * ORDERS
    values[0] = 100.0
    for order, percent in lines.items():
        if 1 <= order <= ORDERS:
            values[order - 1] = float(percent)
    return tuple(values)


@dataclass
class Episodes:
    """Dips (or swells) of one phase: how many began, their time, the one going on."""

    count: int = 0
    total_ms: int = 0  # of the episodes that ended
    last_ms: int = 0  # the duration of the last one that ended
    since_ms: int | None = None  # world ms the present one began

    def duration_ms(self, now_ms: int) -> int:
        """Every episode's time so far, the present one's up to ``now_ms``."""
        going = 0 if self.since_ms is None else max(now_ms - self.since_ms, 0)
        return self.total_ms + going

    def begin(self, at_ms: int) -> None:
        self.count += 1
        self.since_ms = at_ms

    def end(self, at_ms: int) -> None:
        if self.since_ms is not None:
            self.last_ms = at_ms - self.since_ms
            self.total_ms += self.last_ms
        self.since_ms = None


@dataclass
class _Detail:
    """A detailed meter's measuring chain: its waveform source and the flickermeter per
    phase (its filter states are not stored: after a restart it settles again)."""

    source: WaveformSource
    streams: list[FlickerStream] = field(default_factory=list)
    fresh: bool = True


class PowerQuality:
    """The power quality state of one meter (``Meter.power_quality``)."""

    def __init__(self, phases: int, nominal_voltage_v: float, frequency_hz: float) -> None:
        self.phases = phases
        self.frequency_hz = frequency_hz
        self.dip_v = nominal_voltage_v * DIP_PERCENT / 100
        self.dip_end_v = nominal_voltage_v * (DIP_PERCENT + HYSTERESIS_PERCENT) / 100
        self.swell_v = nominal_voltage_v * SWELL_PERCENT / 100
        self.swell_end_v = nominal_voltage_v * (SWELL_PERCENT - HYSTERESIS_PERCENT) / 100
        self.readings = [PhaseQuality() for _ in range(phases)]
        self.dips = [Episodes() for _ in range(phases)]
        self.swells = [Episodes() for _ in range(phases)]
        self.pst_history: list[list[float]] = [[] for _ in range(phases)]
        self._detail: _Detail | None = None

    # -- fleet fidelity -----------------------------------------------------------------

    def set_readings(self, readings: list[PhaseQuality]) -> None:
        """The scenario's parameters, reported as they are (fleet fidelity)."""
        if len(readings) != self.phases:
            raise ValueError(f"{len(readings)} phases of power quality for {self.phases}")
        self.readings = list(readings)

    # -- detailed fidelity --------------------------------------------------------------

    @property
    def detailed(self) -> bool:
        return self._detail is not None

    def use_waveforms(self, source: WaveformSource | None) -> None:
        """Measure from ``source`` every interval from now on (None: stop)."""
        self._detail = None if source is None else _Detail(source)

    def measure(self, start_ms: int, end_ms: int) -> None:
        """Synthesise and measure ``[start_ms, end_ms)``: harmonic subgroups of every
        10/12-cycle window aggregated (RMS) over the stretch, THDS of the aggregate, Pst
        of the stretch's Pinst and Plt of the last 12 Pst."""
        detail = self._detail
        if detail is None or end_ms <= start_ms:
            return
        from metertwin.power_quality import (  # scipy: loaded only by a detailed meter
            LAMP_120V,
            LAMP_230V,
            Flickermeter,
            WindowGrid,
            analyse,
            long_term_severity,
            short_term_severity,
        )

        voltage, current, rate = detail.source(start_ms, end_ms)
        grid = WindowGrid(rate, self.frequency_hz)
        subgroups = analyse(np.stack([voltage, current]), grid).subgroups()
        aggregate = np.sqrt(np.mean(subgroups**2, axis=-2))  # [2, phase, order]
        if not detail.streams:
            lamp = LAMP_230V if self.frequency_hz == 50.0 else LAMP_120V
            meter = Flickermeter(grid, lamp)
            detail.streams = [meter.stream() for _ in range(self.phases)]
        settle_s = FLICKER_SETTLE_S if detail.fresh else 0.0
        detail.fresh = False
        readings = []
        for k in range(self.phases):
            flicker = detail.streams[k].feed(voltage[k])
            usable = flicker.pinst[round(settle_s * flicker.rate_hz) :]
            pst = float(short_term_severity(usable)) if len(usable) else 0.0
            history = (self.pst_history[k] + [pst])[-PLT_COUNT:]
            self.pst_history[k] = history
            readings.append(
                PhaseQuality(
                    _percent_of_fundamental(aggregate[0, k]),
                    _percent_of_fundamental(aggregate[1, k]),
                    pst,
                    long_term_severity(history),
                )
            )
        self.readings = readings

    # -- dips and swells ----------------------------------------------------------------

    def voltage_states(
        self, voltages: NDArray[np.float64]
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Whether each phase is in a dip / a swell now (row 0: the episodes going on) and
        in each of the segments ``voltages[s, p]`` (rows 1..): the thresholds' hysteresis
        carried through, vectorised. A phase at 0 V ends a dip (a phase failure)."""
        dipping = np.array([d.since_ms is not None for d in self.dips])
        swelling = np.array([s.since_ms is not None for s in self.swells])
        dip = _latched(
            dipping,
            (voltages > 0.0) & (voltages < self.dip_v),
            ~(voltages < self.dip_end_v) | (voltages <= 0.0),
        )
        swell = _latched(swelling, voltages > self.swell_v, voltages <= self.swell_end_v)
        return dip, swell

    # -- persistence --------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        def episodes(book: list[Episodes]) -> list[list[int | None]]:
            return [[e.count, e.total_ms, e.last_ms, e.since_ms] for e in book]

        return {
            "dips": episodes(self.dips),
            "swells": episodes(self.swells),
            "pst_history": [list(h) for h in self.pst_history],
            "readings": [
                [list(r.voltage_harmonics), list(r.current_harmonics), r.pst, r.plt]
                for r in self.readings
            ],
        }

    def restore(self, state: dict[str, Any]) -> None:
        def episodes(rows: list[list[int | None]]) -> list[Episodes]:
            return [
                Episodes(int(c or 0), int(t or 0), int(last or 0), None if s is None else int(s))
                for c, t, last, s in rows
            ]

        if len(state.get("dips", [])) == self.phases:
            self.dips = episodes(state["dips"])
            self.swells = episodes(state["swells"])
            self.pst_history = [[float(v) for v in h] for h in state["pst_history"]]
            self.readings = [
                PhaseQuality(
                    tuple(float(v) for v in u), tuple(float(v) for v in i), float(pst), float(plt)
                )
                for u, i, pst, plt in state["readings"]
            ]


def _percent_of_fundamental(subgroups: FloatArray) -> tuple[float, ...]:
    fundamental = float(subgroups[0])
    if fundamental <= 0:
        return PhaseQuality().voltage_harmonics
    return tuple(float(v) for v in 100.0 * subgroups / fundamental)


def _latched(
    now: NDArray[np.bool_], enter: NDArray[np.bool_], leave: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """``[segments + 1, phases]``: row 0 is ``now``; a segment that enters sets the state,
    one that leaves clears it, any other keeps the last decided one (forward fill)."""
    decided = np.vstack([np.ones_like(now), enter | leave])
    value = np.vstack([now, enter])
    rows = np.arange(decided.shape[0])[:, None]
    last = np.maximum.accumulate(np.where(decided, rows, 0), axis=0)
    state: NDArray[np.bool_] = np.take_along_axis(value, last, axis=0)
    return state
