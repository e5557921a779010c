"""Episodes with a start and an end: "the total number of times, and the starting and ending
time of the last 10 actions" (seed 002, 5.5 c-j).

An episode begins and ends with events the meter's functions raise (cover removed / closed,
supply lost / back, a phase lost / restored...) or with the relay (a limiter's, a voltage
or a power factor monitor's cut lasts until the supply is reconnected). The book keeps a
count per kind and the last ten episodes, newest first; an episode still going has no end.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from metertwin.meter.events import EventCode

LAST_EPISODES = 10


class Episode(IntEnum):
    """Kinds of episodes; values are E of their COSEM record object 0.0.96.129.E.255
    (E = 0 is the time settings record, kept by the clock)."""

    METER_COVER_OPEN = 1
    TERMINAL_COVER_OPEN = 2
    TAMPER = 3  # a strong magnetic field
    OVERLOAD_CUT = 4
    POWER_OFF = 5
    OVER_VOLTAGE_CUT = 6
    PHASE_FAILURE = 7
    NEUTRAL_FAILURE = 8
    LOW_POWER_FACTOR_CUT = 9


_C = EventCode
_BEGINS: dict[EventCode, tuple[Episode, str]] = {
    _C.METER_COVER_REMOVED: (Episode.METER_COVER_OPEN, "meter cover"),
    _C.TERMINAL_COVER_REMOVED: (Episode.TERMINAL_COVER_OPEN, "terminal cover"),
    _C.STRONG_DC_FIELD: (Episode.TAMPER, "magnetic field"),
    _C.POWER_DOWN: (Episode.POWER_OFF, "supply"),
    _C.PHASE_FAILURE_L1: (Episode.PHASE_FAILURE, "L1"),
    _C.PHASE_FAILURE_L2: (Episode.PHASE_FAILURE, "L2"),
    _C.PHASE_FAILURE_L3: (Episode.PHASE_FAILURE, "L3"),
    _C.NEUTRAL_FAILURE: (Episode.NEUTRAL_FAILURE, "neutral"),
}
_ENDS: dict[EventCode, str] = {
    _C.METER_COVER_CLOSED: "meter cover",
    _C.TERMINAL_COVER_CLOSED: "terminal cover",
    _C.NO_STRONG_DC_FIELD: "magnetic field",
    _C.POWER_UP: "supply",
    _C.PHASE_RESTORED_L1: "L1",
    _C.PHASE_RESTORED_L2: "L2",
    _C.PHASE_RESTORED_L3: "L3",
    _C.NEUTRAL_RESTORED: "neutral",
}
RELAY_CUT = "relay"


class EpisodeBook:
    """Counts and the last ten episodes of each kind, in meter ms."""

    def __init__(self) -> None:
        self.counts: dict[Episode, int] = {kind: 0 for kind in Episode}
        # newest first: [start, end or None, source]
        self.last: dict[Episode, list[list[Any]]] = {kind: [] for kind in Episode}

    def on_event(self, code: EventCode, meter_ms: int) -> None:
        begin = _BEGINS.get(code)
        if begin is not None:
            self.begin(begin[0], begin[1], meter_ms)
        elif code in _ENDS:
            self.end(_ENDS[code], meter_ms)

    def begin(self, kind: Episode, source: str, meter_ms: int) -> None:
        self.counts[kind] += 1
        records = self.last[kind]
        records.insert(0, [meter_ms, None, source])
        del records[LAST_EPISODES:]

    def end(self, source: str, meter_ms: int) -> None:
        """End the open episodes of ``source`` (one normally; none if it began before the
        meter started or has dropped out of the last ten)."""
        for records in self.last.values():
            for record in records:
                if record[2] == source and record[1] is None:
                    record[1] = meter_ms

    def episodes(self, kind: Episode) -> list[tuple[int, int | None]]:
        """(start, end) of the last ten, newest first; end None while it lasts."""
        return [
            (int(start), None if end is None else int(end)) for start, end, _ in self.last[kind]
        ]

    def to_state(self) -> dict[str, Any]:
        return {
            "counts": {kind.name: count for kind, count in self.counts.items()},
            "last": {kind.name: [list(r) for r in records] for kind, records in self.last.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EpisodeBook:
        book = cls()
        for name, count in state["counts"].items():
            book.counts[Episode[name]] = int(count)
        for name, records in state["last"].items():
            book.last[Episode[name]] = [list(r) for r in records]
        return book
