"""Household consumption: the BDEW H25 standard load profile made lumpy by appliances.

A standard load profile is the *average* of many homes; one home is a low base with
kettles, ovens and washing machines switching on top. So ~60 % of the profile's energy is
kept as a smooth base and ~40 % is spent on random appliance runs whose start times follow
the profile (a Poisson process with the profile as intensity). A fridge compressor cycles
day and night. The expected energy of every day equals the profile's, so the annual
energy matches ``annual_kwh``.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from dataclasses import dataclass, field

import numpy as np

from metertwin.sim.signals import (
    BLOCK_DAYS,
    BLOCK_S,
    DAY_S,
    STREAM_LOAD,
    FloatArray,
    IntArray,
    block_rng,
    render_events,
    sample_times,
)

SMOOTH_SHARE = 0.6
FRIDGE_SHARE = 0.2  # of the appliance energy
FRIDGE_DUTY = 0.3
_SLOT_S = 900  # the profile's quarter hours
_SLOTS = DAY_S // _SLOT_S
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Appliance:
    """A kind of appliance run: rated power, mean run length, share of appliance energy."""

    name: str
    power_w: float
    duration_s: float
    share: float


APPLIANCES: tuple[Appliance, ...] = (
    Appliance("kettle", 2000.0, 180.0, 0.10),
    Appliance("cooking", 2000.0, 1800.0, 0.22),
    Appliance("washing machine", 1800.0, 1500.0, 0.12),
    Appliance("dishwasher", 1800.0, 1800.0, 0.12),
    Appliance("lighting", 150.0, 5400.0, 0.18),
    Appliance("tv and computer", 120.0, 7200.0, 0.11),
    Appliance("microwave", 1000.0, 300.0, 0.08),
    Appliance("iron and vacuum", 1200.0, 1200.0, 0.07),
)
_POWER = np.array([a.power_w for a in APPLIANCES])
_DURATION = np.array([a.duration_s for a in APPLIANCES])
_SHARE = np.array([a.share for a in APPLIANCES])

Events = tuple[FloatArray, FloatArray, FloatArray, IntArray]  # start, end, power, phase


STANDARD_PROFILES = ("H25", "P25")
"""BDEW 2025 household profiles in demandlib: H25 a household's consumption; P25 what a
household with its own PV buys from the grid (the midday dip of self-consumption)."""


@functools.lru_cache(maxsize=8)
def standard_profile_year(profile: str, year: int) -> FloatArray:
    """The profile for local year ``year`` plus one day either side, normalised to mean 1.0
    over the year itself, so every year, leap or not, integrates to the requested energy.

    Cached per process and shared by every household (a fleet pays once per year):
    demandlib re-reads its CSV on every call. Read-only.
    """
    import pandas as pd
    from demandlib import bdew

    if profile not in STANDARD_PROFILES:
        raise ValueError(f"unknown standard load profile {profile!r}")

    first = dt.date(year, 1, 1)
    index = pd.date_range(
        start=pd.Timestamp(first - dt.timedelta(days=1)),
        end=pd.Timestamp(dt.date(year + 1, 1, 2)),
        freq="15min",
        inclusive="left",
    )
    with warnings.catch_warnings():
        # demandlib 0.2.2 uses pandas idioms that newer pandas deprecates; not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        values = np.asarray(getattr(bdew, profile)(index), dtype=np.float64)
    days = (dt.date(year + 1, 1, 1) - first).days
    result: FloatArray = values / float(values[_SLOTS : _SLOTS * (days + 1)].mean())
    result.flags.writeable = False
    return result


@dataclass
class HouseholdLoad:
    """Per-phase household load of whole blocks of local days."""

    annual_kwh: float
    shares: tuple[float, ...]
    seed: int
    step_s: int
    profile: str = "H25"
    _events: dict[int, Events] = field(default_factory=dict, repr=False)

    @property
    def mean_w(self) -> float:
        return self.annual_kwh * 1000.0 / (365.2425 * 24.0)

    def slots(self, first_day: int, days: int) -> FloatArray:
        """Normalised quarter-hour profile of ``days`` local days from ``first_day``, with
        one extra slot either side (for interpolation across the edges)."""
        parts = []
        for day in range(first_day, first_day + days):
            date = _EPOCH + dt.timedelta(days=day)
            year = standard_profile_year(self.profile, date.year)
            i = (date - dt.date(date.year, 1, 1)).days + 1  # +1: the margin day
            lo = i * _SLOTS - (1 if day == first_day else 0)
            hi = (i + 1) * _SLOTS + (1 if day == first_day + days - 1 else 0)
            parts.append(year[lo:hi])
        return np.concatenate(parts)

    def block(self, block: int) -> FloatArray:
        """Active power (W), shape (steps, phases), for the block's days.

        The smooth base interpolates the quarter-hour values between their centres, so it
        has no 15-minute staircase; appliance runs are added on top, including those that
        started in the previous block and are still running.
        """
        steps = BLOCK_S // self.step_s
        slots = self.slots(block * BLOCK_DAYS, BLOCK_DAYS)
        centres = (np.arange(-1, BLOCK_DAYS * _SLOTS + 1) + 0.5) * _SLOT_S
        mids = (np.arange(steps) + 0.5) * self.step_s
        profile = np.interp(mids, centres, slots) * self.mean_w
        shares = np.asarray(self.shares)
        base = profile[:, None] * (SMOOTH_SHARE * shares)

        starts, ends, power, phase = self._block_events(block, slots[1:-1])
        previous = self._block_events(block - 1, None)
        late = previous[1] > BLOCK_S
        if late.any():
            starts = np.concatenate((starts, previous[0][late] - BLOCK_S))
            ends = np.concatenate((ends, previous[1][late] - BLOCK_S))
            power = np.concatenate((power, previous[2][late]))
            phase = np.concatenate((phase, previous[3][late]))
        lumpy = render_events(starts, ends, power, steps, self.step_s, phase, len(shares))
        result: FloatArray = base + lumpy.T
        return result

    def _block_events(self, block: int, density: FloatArray | None) -> Events:
        """Appliance runs starting in ``block`` (seconds from its first midnight; they may
        end after the block). Cached: the next block needs those still running."""
        cached = self._events.get(block)
        if cached is not None:
            return cached
        if density is None:
            density = self.slots(block * BLOCK_DAYS, BLOCK_DAYS)[1:-1]
        rng = block_rng(self.seed, STREAM_LOAD, block)
        phases = len(self.shares)
        shares = np.asarray(self.shares)

        # One fridge compressor per phase's worth of load, mean power fridge_w, paid for
        # from the appliance budget.
        fridge_w = shares * (FRIDGE_SHARE * (1.0 - SMOOTH_SHARE) * self.mean_w)
        period = rng.uniform(2400.0, 3600.0, phases)
        k = np.arange(BLOCK_S // 2400 + 1)
        cycles = (rng.uniform(0.0, 1.0, phases) + k[:, None]) * period
        cycles += rng.uniform(-120.0, 120.0, cycles.shape)
        keep = (cycles >= 0.0) & (cycles < BLOCK_S)
        f_start = cycles[keep]
        f_phase = np.broadcast_to(np.arange(phases), cycles.shape)[keep]
        f_end = f_start + (FRIDGE_DUTY * period)[f_phase]
        f_power = (fridge_w / FRIDGE_DUTY)[f_phase]

        # Habit-driven appliances: a Poisson process with the profile as intensity.
        budget_ws = float(density.sum()) * _SLOT_S * self.mean_w * (1.0 - SMOOTH_SHARE)
        appliance_ws = np.maximum(budget_ws * shares - fridge_w * BLOCK_S, 0.0)
        counts = rng.poisson(appliance_ws[:, None] * (_SHARE / (_POWER * _DURATION)))
        counts = counts.ravel()
        kinds = np.repeat(np.tile(np.arange(len(APPLIANCES)), phases), counts)
        a_phase = np.repeat(np.repeat(np.arange(phases), len(APPLIANCES)), counts)
        a_start = sample_times(rng, density, len(kinds), _SLOT_S)
        a_end = a_start + _DURATION[kinds] * rng.uniform(0.5, 1.5, len(kinds))
        a_power = _POWER[kinds] * rng.uniform(0.9, 1.1, len(kinds))

        result: Events = (
            np.concatenate((f_start, a_start)),
            np.concatenate((f_end, a_end)),
            np.concatenate((f_power, a_power)),
            np.concatenate((f_phase, a_phase)).astype(np.int64),
        )
        if len(self._events) >= 4:
            self._events.pop(next(iter(self._events)))
        self._events[block] = result
        return result
