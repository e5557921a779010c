"""Energy accumulators in exact integers.

Every accumulator counts micro-unit-seconds (µJ for active energy, µvar·s, µVA·s) on the
primary side: integer milliwatts times integer milliseconds. Integers never
drift, so a register read after ten simulated years is exact to the last unit
(architecture principle 6). Derived registers (+R, -R, |A| sum, net) are computed on
read, never stored, so they cannot disagree with their parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from operator import add
from typing import Any

MICRO_PER_MILLI_WH = 3_600_000
"""µJ in one mWh (1 mWh = 3.6 J)."""


class Accumulated(IntEnum):
    """What each stored accumulator counts; the column order of metrology's rate matrix."""

    IMPORT_ACTIVE = 0  # +A  (QI + QIV)
    EXPORT_ACTIVE = 1  # -A  (QII + QIII)
    Q1 = 2
    Q2 = 3
    Q3 = 4
    Q4 = 5
    IMPORT_APPARENT = 6
    EXPORT_APPARENT = 7


ACCUMULATED_COUNT = len(Accumulated)


class Energy(IntEnum):
    """Energy quantities, numbered as OBIS value group C (metrology.md): phase L1..L3 add
    20, 40, 60 to these."""

    IMPORT_ACTIVE = 1
    EXPORT_ACTIVE = 2
    IMPORT_REACTIVE = 3
    EXPORT_REACTIVE = 4
    REACTIVE_Q1 = 5
    REACTIVE_Q2 = 6
    REACTIVE_Q3 = 7
    REACTIVE_Q4 = 8
    IMPORT_APPARENT = 9
    EXPORT_APPARENT = 10
    ABSOLUTE_ACTIVE = 15  # |+A| + |-A|
    NET_ACTIVE = 16  # |+A| - |-A|, may be negative


_DIRECT = {
    Energy.IMPORT_ACTIVE: Accumulated.IMPORT_ACTIVE,
    Energy.EXPORT_ACTIVE: Accumulated.EXPORT_ACTIVE,
    Energy.REACTIVE_Q1: Accumulated.Q1,
    Energy.REACTIVE_Q2: Accumulated.Q2,
    Energy.REACTIVE_Q3: Accumulated.Q3,
    Energy.REACTIVE_Q4: Accumulated.Q4,
    Energy.IMPORT_APPARENT: Accumulated.IMPORT_APPARENT,
    Energy.EXPORT_APPARENT: Accumulated.EXPORT_APPARENT,
}


def combine(values: Sequence[int], quantity: Energy, base: int = 0) -> int:
    """One quantity out of a group's stored accumulators, ``values[base:]`` indexed by
    `Accumulated` (an offset rather than a slice: a GET of a register reads one)."""
    direct = _DIRECT.get(quantity)
    if direct is not None:
        return values[base + direct]
    a = Accumulated
    if quantity is Energy.IMPORT_REACTIVE:
        return values[base + a.Q1] + values[base + a.Q2]
    if quantity is Energy.EXPORT_REACTIVE:
        return values[base + a.Q3] + values[base + a.Q4]
    if quantity is Energy.ABSOLUTE_ACTIVE:
        return values[base + a.IMPORT_ACTIVE] + values[base + a.EXPORT_ACTIVE]
    return values[base + a.IMPORT_ACTIVE] - values[base + a.EXPORT_ACTIVE]


class EnergyRegisters:
    """Per-group accumulators, in total and per rate.

    Groups: index 0 is the meter total, 1..phases the phases. Rates: index 0 is unused so
    that rate numbers (1..rates) index directly.
    """

    def __init__(self, phases: int, rates: int) -> None:
        self.phases = phases
        self.rates = rates
        width = (phases + 1) * ACCUMULATED_COUNT
        self.totals: list[int] = [0] * width
        self.per_rate: list[list[int]] = [[0] * width for _ in range(rates + 1)]

    def add(self, deltas: Sequence[int], rate: int) -> None:
        """Add one interval's integrals: ``deltas`` holds the groups' accumulators back to
        back (total first), all non-negative; they also go to ``rate``."""
        if len(deltas) != len(self.totals):
            raise ValueError(f"{len(deltas)} deltas for {len(self.totals)} accumulators")
        self.totals = list(map(add, self.totals, deltas))
        if 1 <= rate <= self.rates:
            self.per_rate[rate] = list(map(add, self.per_rate[rate], deltas))

    def micro(self, quantity: Energy, phase: int = 0, rate: int = 0) -> int:
        """Exact accumulated value in micro-units·s; ``phase`` 0 = total, ``rate`` 0 = all."""
        if phase or rate:
            if not 0 <= phase <= self.phases:
                raise ValueError(f"phase {phase} is outside 0..{self.phases}")
            if rate and not 1 <= rate <= self.rates:
                raise ValueError(f"rate {rate} is outside 1..{self.rates}")
            values = self.per_rate[rate] if rate else self.totals
            base = phase * ACCUMULATED_COUNT
        else:  # the meter total, read at every capture and demand period: no checks needed
            values = self.totals
            base = 0
        direct = _DIRECT.get(quantity)
        if direct is not None:  # a stored accumulator (combine's first case, inline)
            return values[base + direct]
        return combine(values, quantity, base)

    def to_state(self) -> dict[str, Any]:
        return {"totals": list(self.totals), "per_rate": [list(r) for r in self.per_rate]}

    @classmethod
    def from_state(cls, state: dict[str, Any], phases: int) -> EnergyRegisters:
        per_rate = state["per_rate"]
        registers = cls(phases, len(per_rate) - 1)
        totals = [int(v) for v in state["totals"]]
        if len(totals) != len(registers.totals):
            raise ValueError(f"registers of {len(totals)} accumulators do not fit {phases} phases")
        registers.totals = totals
        registers.per_rate = [[int(v) for v in r] for r in per_rate]
        return registers
