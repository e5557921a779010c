"""What an event log keeps when events come faster than its entries can hold them.

Anyone who can open a TCP connection can raise 222-224 without a secret and without limit;
a plain FIFO would let ~100 of them push the evidence of an attack (wrong secrets 220, logins
during a lockout 221, failures in metercom-pro's log 4) out of the log (issue 19, item 5).
So, deterministically (docs/events.md, "Bursts and what a full log gives up"):

- a repeated event of ``BURST_EVENTS`` less than ``BURST_MS`` after the first event of the
  log's newest entry with its code adds one to that entry's count instead of a new entry;
- when the log is full, the oldest ``NOISE_EVENTS`` entry leaves first; a noise event that
  finds no noise entry to replace is counted but not written; any other event replaces the
  oldest entry (FIFO) when there is no noise left to give up.

The event counters (``Meter.event_counts``) count every event whatever the log kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from metertwin.meter.events import EventCode

NOISE_EVENTS = frozenset(
    {
        EventCode.ASSOCIATION_REFUSED,
        EventCode.CONNECTION_REFUSED,
        EventCode.CONNECTION_IDLE_CLOSED,
        EventCode.REPLAY_REFUSED,
        EventCode.PROTECTED_APDU_REFUSED,
    }
)
"""Events anyone can raise without a secret, as often as they like (any frame can carry a
ciphered APDU that does not open or a replayed counter): they never push another entry out,
so a flood cannot wipe the evidence of a key or policy change from the security log."""

BURST_EVENTS = NOISE_EVENTS | {EventCode.ASSOCIATION_LOCKED_OUT}
"""Events that come in unbounded bursts: the noise, and logins during a lockout (221; the
wrong secrets before it, 220, are bounded by the lockout and each kept)."""

BURST_MS = 15 * 60_000


@dataclass
class LogEntry:
    seq: int
    first_ms: int  # the meter time of the entry's first event (its clock column)
    code: int
    count: int = 1  # events of the burst (its event_count column)


class EventLogBook:
    """The entries one event log holds, oldest first, as the core decides them (storage
    keeps the same entries; ``restore`` reads them back at start)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.entries: list[LogEntry] = []

    def take(self, code: int, stamp_ms: int, next_seq: int) -> tuple[LogEntry | None, int | None]:
        """Event ``code`` at ``stamp_ms``: the entry to write (new with ``next_seq``, or a
        burst's entry with its count grown; None if not written) and the seq of the entry
        that leaves the log (or None)."""
        if code in BURST_EVENTS:
            burst = next((e for e in reversed(self.entries) if e.code == code), None)
            if burst is not None and 0 <= stamp_ms - burst.first_ms < BURST_MS:
                burst.count += 1
                return burst, None
        evicted = None
        if len(self.entries) >= self.depth:
            noise = next((e for e in self.entries if e.code in NOISE_EVENTS), None)
            if noise is None and code in NOISE_EVENTS:
                return None, None
            leaving = noise if noise is not None else self.entries[0]
            self.entries.remove(leaving)
            evicted = leaving.seq
        entry = LogEntry(next_seq, stamp_ms, code)
        self.entries.append(entry)
        return entry, evicted

    def restore(self, entries: list[LogEntry]) -> None:
        self.entries = sorted(entries, key=lambda e: e.seq)

    def clear(self) -> None:
        self.entries = []
