"""Demand: block and sliding average power, and maximum demand per rate.

Seed 002, 5.2: demand cycles of 5, 10, 15, 30 or 60 minutes, block ("interval") or sliding
("slip") with sub-periods of 1, 2, 3 or 5 minutes. As in DLMS class 5 (metrology.md):
``period_s`` is one sub-period and ``number_of_periods`` how many make the window (1 = block
demand); last_average_value = energy of the last ``number_of_periods`` complete sub-periods
divided by their length; current_average_value adds the unfinished sub-period to the
complete ones of the window and divides by the full window (a running value).

Energies come from the exact registers (µJ = mW·ms), so averages are exact integers of mW
(floor). Maximum demand (class 4, OBIS D = 6) is kept per quantity, for the total and the
rate in force when each sub-period ends, with its time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metertwin.meter.registers import Energy

DEMAND_QUANTITIES = (
    Energy.IMPORT_ACTIVE,
    Energy.EXPORT_ACTIVE,
    Energy.IMPORT_REACTIVE,
    Energy.EXPORT_REACTIVE,
    Energy.IMPORT_APPARENT,
)
SUB_PERIODS_S = (60, 120, 180, 300, 600, 900, 1800, 3600)
INTERVALS_S = (300, 600, 900, 1800, 3600)
"""Seed 002, 5.2 b: the demand cycle (the whole window) of 5, 10, 15, 30 or 60 minutes."""
SLIDES_S = (60, 120, 180, 300)
"""Seed 002, 5.2 b: the slip (sliding sub-period) of 1, 2, 3 or 5 minutes."""


@dataclass(frozen=True)
class DemandConfig:
    period_s: int = 900  # one sub-period
    number_of_periods: int = 1  # 1: block demand

    def __post_init__(self) -> None:
        if self.period_s not in SUB_PERIODS_S:
            raise ValueError(f"demand sub-period {self.period_s} s is not one of {SUB_PERIODS_S}")
        window = self.period_s * self.number_of_periods
        if not 1 <= self.number_of_periods <= 60 or window > 3600:
            raise ValueError("a demand window is 1-60 sub-periods and at most 60 minutes")

    @property
    def interval_s(self) -> int:
        return self.period_s * self.number_of_periods


def programmed_demand(period_s: int, number_of_periods: int) -> DemandConfig:
    """A demand setting a head-end may write (seed 002, 5.2 b): block demand (one
    sub-period) over 5, 10, 15, 30 or 60 minutes, or sliding demand with a slide of 1, 2, 3
    or 5 minutes over such an interval, the interval a multiple of 5 slides. ValueError
    names what is wrong."""
    if number_of_periods == 1:
        if period_s not in INTERVALS_S:
            raise ValueError(f"a block demand cycle is one of {INTERVALS_S} s, not {period_s}")
    else:
        if period_s not in SLIDES_S:
            raise ValueError(f"a demand slide is one of {SLIDES_S} s, not {period_s}")
        if period_s * number_of_periods not in INTERVALS_S or number_of_periods % 5:
            raise ValueError(
                f"{number_of_periods} slides of {period_s} s: the interval must be one of "
                f"{INTERVALS_S} s and a multiple of 5 slides"
            )
    return DemandConfig(period_s, number_of_periods)


@dataclass
class MaximumDemand:
    value_mw: int = 0
    at_meter_ms: int | None = None


class DemandRegisters:
    """The demand state of one meter (pure; the meter calls ``close_sub_period``)."""

    def __init__(self, config: DemandConfig, rates: int) -> None:
        self.config = config
        self.rates = rates
        # per quantity: energies (µJ) of the complete sub-periods of the window, oldest first
        self.window: dict[Energy, list[int]] = {q: [] for q in DEMAND_QUANTITIES}
        self.last_average_mw: dict[Energy, int] = dict.fromkeys(DEMAND_QUANTITIES, 0)
        self.sub_period_start_ms: int | None = None  # meter time
        self.start_energy: dict[Energy, int] = dict.fromkeys(DEMAND_QUANTITIES, 0)
        self.capture_ms: int | None = None
        # a new setting waits for its first sub-period to begin (``sub_period_start_ms``)
        self.waiting = False
        # maximum[quantity][rate]: rate 0 is the total
        self.maximum: dict[Energy, list[MaximumDemand]] = {
            q: [MaximumDemand() for _ in range(rates + 1)] for q in DEMAND_QUANTITIES
        }

    def start(self, meter_ms: int, energies: dict[Energy, int]) -> None:
        self.sub_period_start_ms = meter_ms
        self.start_energy = dict(energies)
        self.waiting = False

    def reconfigure(self, config: DemandConfig, meter_ms: int, first_start_ms: int) -> None:
        """A new demand setting at ``meter_ms``: what the window held was measured under the
        old one, so both averages return to 0 (as after a reset, capture_time the change)
        and nothing is measured until the first sub-period of the new setting begins at
        ``first_start_ms`` (the next boundary of its grid): a clean restart, never a short
        sub-period averaged over a full one."""
        self.config = config
        for q in DEMAND_QUANTITIES:
            self.window[q] = []
            self.last_average_mw[q] = 0
        self.capture_ms = meter_ms
        self.sub_period_start_ms = first_start_ms
        self.waiting = True

    def close_sub_period(self, meter_ms: int, energies: dict[Energy, int], rate: int) -> None:
        """A sub-period ended at ``meter_ms`` with the registers at ``energies`` (µJ)."""
        periods = self.config.number_of_periods
        window_ms = self.config.period_s * 1000 * periods
        by_rate = 0 < rate <= self.rates  # a maximum for the rate as well as the total
        start_energy = self.start_energy
        for q in DEMAND_QUANTITIES:
            window = self.window[q]
            window.append(energies[q] - start_energy[q])
            if len(window) > periods:
                del window[: len(window) - periods]
            average = sum(window) // window_ms
            self.last_average_mw[q] = average
            maxima = self.maximum[q]
            if average > maxima[0].value_mw:
                maxima[0] = MaximumDemand(average, meter_ms)
            if by_rate and average > maxima[rate].value_mw:
                maxima[rate] = MaximumDemand(average, meter_ms)
        self.capture_ms = meter_ms
        self.start(meter_ms, energies)

    def current_average_mw(self, quantity: Energy, energy_now: int) -> int:
        """The running demand: the window's complete sub-periods (but the oldest, which the
        unfinished one replaces) plus the energy so far, over the whole window."""
        if self.waiting:
            return 0
        n = self.config.number_of_periods
        complete = self.window[quantity][-(n - 1) :] if n > 1 else []
        partial = energy_now - self.start_energy[quantity]
        return (sum(complete) + partial) // (self.config.period_s * 1000 * n)

    def reset(self, meter_ms: int, energies: dict[Energy, int]) -> None:
        """Class 5 method 1 (Blue Book): the current period ends at ``meter_ms`` without
        an average, both averages return to their default (0) and capture_time and
        start_time_current read the reset instant; the window refills from there."""
        for q in DEMAND_QUANTITIES:
            self.window[q] = []
            self.last_average_mw[q] = 0
        self.capture_ms = meter_ms
        self.start(meter_ms, energies)

    def reset_maximum(self, quantity: Energy, rate: int, meter_ms: int) -> None:
        """Class 4 method 1: the maximum returns to 0, its capture_time the reset instant."""
        self.maximum[quantity][rate] = MaximumDemand(0, meter_ms)

    def to_state(self) -> dict[str, Any]:
        return {
            "window": {int(q): list(v) for q, v in self.window.items()},
            "last": {int(q): v for q, v in self.last_average_mw.items()},
            "start_ms": self.sub_period_start_ms,
            "start_energy": {int(q): v for q, v in self.start_energy.items()},
            "capture_ms": self.capture_ms,
            "config": [self.config.period_s, self.config.number_of_periods],
            "waiting": self.waiting,
            "maximum": {
                int(q): [[m.value_mw, m.at_meter_ms] for m in ms] for q, ms in self.maximum.items()
            },
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.window = {Energy(int(q)): [int(x) for x in v] for q, v in state["window"].items()}
        self.last_average_mw = {Energy(int(q)): int(v) for q, v in state["last"].items()}
        start = state["start_ms"]
        self.sub_period_start_ms = None if start is None else int(start)
        self.start_energy = {Energy(int(q)): int(v) for q, v in state["start_energy"].items()}
        capture = state["capture_ms"]
        self.capture_ms = None if capture is None else int(capture)
        if "config" in state:  # absent before demand was programmable: the model's
            self.config = DemandConfig(*(int(v) for v in state["config"]))
        self.waiting = bool(state.get("waiting", False))
        self.maximum = {
            Energy(int(q)): [MaximumDemand(int(v), None if t is None else int(t)) for v, t in ms]
            for q, ms in state["maximum"].items()
        }
