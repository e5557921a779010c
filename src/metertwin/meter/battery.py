"""The meter's backup battery: its charge, voltage and the alarms a real meter raises.

The battery keeps the real-time clock (and the cover detection) running while the supply is
off; it also loses a little charge while the supply is on (self-discharge, the RTC's
leakage). The core knows how long the supply was off, so the charge drawn is exact and
deterministic: integer nA·ms from two integer counters (time on battery, time on mains), no
float accumulated (architecture principle 6). The voltage follows metertwin's curve of a
lithium cell, flat most of its life and falling towards the end (docs/events.md, "Battery"):

    V = nominal - (nominal - end) * used**4      (used: the fraction of the capacity drawn)

It falls through two thresholds, each crossed once per battery at an exact instant: ``low_v``
raises event 8 "battery low" (alarm bit 3), ``replace_v`` event 7 "replace battery" (IDIS:
the battery must be changed; alarm bit 1; seed 000 "Change Battery Alarm"). Fitting a new
battery (the ``battery_replaced`` input) starts the counters again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from metertwin.meter.events import EventCode
from metertwin.meter.inputs import InputSeries, Int64Array

NA_MS_PER_MAH = 1_000_000 * 3_600_000
"""nA·ms in one mAh."""
_CURVE = 4  # the exponent of the voltage curve above


@dataclass(frozen=True)
class BatteryConfig:
    """A model's ``[battery]``: the cell and what it is drawn by (seeds 000 "Battery Backup
    >= 10 years", 003 "Replaceable Lithium battery, life more than 15 years")."""

    nominal_v: float = 3.6
    low_v: float = 3.3
    replace_v: float = 3.1
    end_v: float = 2.5
    capacity_mah: float = 1200.0
    backup_ua: float = 10.0  # drawn while the supply is off (clock and tamper watch)
    standby_ua: float = 1.0  # lost while the supply is on (self-discharge, leakage)

    def __post_init__(self) -> None:
        if not self.nominal_v > self.low_v > self.replace_v > self.end_v > 0:
            raise ValueError("expected nominal_v > low_v > replace_v > end_v > 0")
        if not (self.capacity_mah > 0 and self.backup_ua > 0 and self.standby_ua >= 0):
            raise ValueError("expected a positive capacity and backup current")

    @property
    def capacity(self) -> int:
        """The capacity in nA·ms."""
        return round(self.capacity_mah * NA_MS_PER_MAH)

    def drawn_at(self, volts: float) -> int:
        """The charge drawn (nA·ms) at which the voltage reaches ``volts``."""
        used: float = ((self.nominal_v - volts) / (self.nominal_v - self.end_v)) ** (1 / _CURVE)
        return math.ceil(used * self.capacity)


THRESHOLDS = (EventCode.BATTERY_LOW, EventCode.REPLACE_BATTERY)
"""The events a draining battery raises, in the order its voltage reaches them."""


class Battery:
    """One battery's counters since it was fitted (world ms; the clock may be invalid
    while the meter runs on battery, the battery does not care)."""

    def __init__(self, config: BatteryConfig, installed_ms: int) -> None:
        self.config = config
        self.installed_ms = installed_ms
        self.on_battery_ms = 0  # the supply off: the battery kept the meter's clock
        self.on_mains_ms = 0
        self.raised: set[EventCode] = set()  # thresholds crossed by this battery
        self._backup = round(config.backup_ua * 1000)  # nA
        self._standby = round(config.standby_ua * 1000)
        self._targets = {
            EventCode.BATTERY_LOW: config.drawn_at(config.low_v),
            EventCode.REPLACE_BATTERY: config.drawn_at(config.replace_v),
        }

    @property
    def drawn(self) -> int:
        """The charge drawn so far, nA·ms (exact)."""
        return self.on_battery_ms * self._backup + self.on_mains_ms * self._standby

    @property
    def voltage_v(self) -> float:
        config = self.config
        used = min(self.drawn / config.capacity, 1.0)
        return config.nominal_v - (config.nominal_v - config.end_v) * used**_CURVE

    def replace(self, now_ms: int) -> None:
        """A new battery is fitted now: full, its alarms not raised."""
        self.installed_ms = now_ms
        self.on_battery_ms = 0
        self.on_mains_ms = 0
        self.raised = set()

    def run(self, series: InputSeries, from_ms: int) -> list[tuple[EventCode, int]]:
        """Draw the battery over ``[from_ms, series.end_ms)`` (the supply off where no phase
        has voltage); the thresholds crossed meanwhile, each with its world instant."""
        if len(series) == 1:  # a real-time tick: no arrays for one segment
            lasting_ms = max(series.end_ms - max(series.start, from_ms), 0)
            dark_ms = 0 if float(series.voltage_v[0].max()) > 0.0 else lasting_ms
            lit_ms = lasting_ms - dark_ms
        else:
            lasting, dark = self._segments(series, from_ms)
            dark_ms = int(lasting[dark].sum())
            lit_ms = int(lasting.sum()) - dark_ms
        before = self.drawn
        self.on_battery_ms += dark_ms
        self.on_mains_ms += lit_ms
        reached = [
            code
            for code in THRESHOLDS
            if code not in self.raised and self.drawn >= self._targets[code]
        ]
        if not reached:
            return []
        lasting, dark = self._segments(series, from_ms)
        start = np.maximum(series.start_ms, from_ms)
        rate = np.where(dark, self._backup, self._standby).astype(np.int64)
        drawn = before + np.cumsum(rate * lasting)
        crossed: list[tuple[EventCode, int]] = []
        for code in reached:
            self.raised.add(code)
            target = self._targets[code]
            if before >= target:  # reached before this run (a new setting): now
                crossed.append((code, from_ms))
                continue
            i = int(np.searchsorted(drawn, target, side="left"))
            missing = target - (int(drawn[i - 1]) if i else before)
            crossed.append((code, int(start[i]) + -(-missing // int(rate[i]))))
        return crossed

    @staticmethod
    def _segments(series: InputSeries, from_ms: int) -> tuple[Int64Array, NDArray[np.bool_]]:
        """Each segment's ms from ``from_ms`` on, and whether the supply was off in it."""
        start = np.maximum(series.start_ms, from_ms)
        ends = np.append(series.start_ms[1:], series.end_ms)
        lasting = np.maximum(ends - start, 0).astype(np.int64)
        dark: NDArray[np.bool_] = np.asarray(~(series.voltage_v > 0.0).any(axis=1), dtype=bool)
        return lasting, dark

    def to_state(self) -> dict[str, Any]:
        return {
            "installed_ms": self.installed_ms,
            "on_battery_ms": self.on_battery_ms,
            "on_mains_ms": self.on_mains_ms,
            "raised": sorted(int(code) for code in self.raised),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.installed_ms = int(state["installed_ms"])
        self.on_battery_ms = int(state["on_battery_ms"])
        self.on_mains_ms = int(state["on_mains_ms"])
        self.raised = {EventCode(int(code)) for code in state["raised"]}
