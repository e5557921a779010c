"""Dips, swells and interruptions on Urms(1/2) (IEC 61000-4-30, 5.4).

Thresholds are percentages of the declared voltage, each with its hysteresis:

- dip: starts when Urms(1/2) of *any* channel falls below the dip threshold, ends when every
  channel is at or above threshold + hysteresis;
- swell: starts when any channel rises above the swell threshold, ends when every channel is
  at or below threshold - hysteresis;
- interruption: starts when *every* channel is below the interruption threshold, ends when
  any channel is at or above threshold + hysteresis; shorter than 3 minutes it is a short
  interruption, otherwise long (the meter's short and long power cuts).

Time stamps: each Urms(1/2) value is stamped with the end of its one-cycle window, the
instant it is known; an event runs from the stamp of the first value past the threshold to
the stamp of the first value back past the hysteresis, so every start, end and duration is a
whole number of half cycles. The one-cycle window makes the measured duration differ from the
true one by up to a cycle, in a way the tests work out by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from metertwin.power_quality.windows import FloatArray

EventKind = Literal["dip", "swell", "interruption"]
LONG_INTERRUPTION_S = 180.0
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class EventThresholds:
    """Programmable thresholds (seeds 000, 002), percent of the declared voltage."""

    declared_voltage: float
    dip_percent: float = 90.0
    swell_percent: float = 110.0
    interruption_percent: float = 5.0
    hysteresis_percent: float = 2.0

    def __post_init__(self) -> None:
        for name in (
            "declared_voltage",
            "dip_percent",
            "swell_percent",
            "interruption_percent",
            "hysteresis_percent",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name}: {value!r} is not a positive number")
        if not self.interruption_percent + self.hysteresis_percent <= self.dip_percent < 100.0:
            raise ValueError(
                f"dip_percent: {self.dip_percent!r} must be below 100 and at least "
                "interruption_percent + hysteresis_percent"
            )
        if not self.swell_percent - self.hysteresis_percent > 100.0:
            raise ValueError(
                f"swell_percent: {self.swell_percent!r} minus the hysteresis must exceed 100"
            )


@dataclass(frozen=True)
class VoltageEventRecord:
    """One event: ``end_s`` is None while it lasts past the end of the record; ``extreme``
    is the residual voltage (dip, interruption) or the maximum (swell), in volts."""

    kind: EventKind
    start_s: float
    end_s: float | None
    extreme: float

    @property
    def duration_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.start_s

    @property
    def is_long_interruption(self) -> bool:
        """An interruption of 3 minutes or more (or still going after 3 minutes)."""
        if self.kind != "interruption":
            return False
        duration = self.duration_s
        return duration is None or duration >= LONG_INTERRUPTION_S


def _latched(enter: BoolArray, leave: BoolArray) -> BoolArray:
    """A Schmitt trigger, vectorised: in the event from an ``enter`` sample until a
    ``leave`` sample (``enter`` and ``leave`` never both true)."""
    index = np.arange(enter.size)
    last_enter = np.maximum.accumulate(np.where(enter, index, -1))
    last_leave = np.maximum.accumulate(np.where(leave, index, -1))
    state: BoolArray = last_enter > last_leave
    return state


def _episodes(
    kind: EventKind,
    inside: BoolArray,
    extreme_of: FloatArray,
    end_s: FloatArray,
    deepest: bool,
) -> list[VoltageEventRecord]:
    edges = np.diff(inside.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    records = []
    for first, stop in zip(starts, stops, strict=True):
        span = extreme_of[first:stop]
        extreme = float(span.min() if deepest else span.max())
        end = float(end_s[stop]) if stop < end_s.size else None
        records.append(VoltageEventRecord(kind, float(end_s[first]), end, extreme))
    return records


def detect_events(
    urms_half: FloatArray, end_s: FloatArray, thresholds: EventThresholds
) -> list[VoltageEventRecord]:
    """Every dip, swell and interruption in a record of Urms(1/2) values
    (``[channels, k]`` or ``[k]``, stamped ``end_s[k]``), in order of start."""
    values = np.atleast_2d(urms_half)
    scale = thresholds.declared_voltage / 100.0
    lowest, highest = values.min(axis=0), values.max(axis=0)
    hysteresis = thresholds.hysteresis_percent * scale
    dip = thresholds.dip_percent * scale
    swell = thresholds.swell_percent * scale
    cut = thresholds.interruption_percent * scale
    in_dip = _latched(lowest < dip, lowest >= dip + hysteresis)
    in_swell = _latched(highest > swell, highest <= swell - hysteresis)
    in_interruption = _latched(highest < cut, highest >= cut + hysteresis)
    records = [
        *_episodes("dip", in_dip, lowest, end_s, deepest=True),
        *_episodes("swell", in_swell, highest, end_s, deepest=False),
        *_episodes("interruption", in_interruption, highest, end_s, deepest=True),
    ]
    return sorted(records, key=lambda record: (record.start_s, record.kind))
