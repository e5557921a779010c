"""Invocation counters: refuse replayed frames, never send one counter value twice.

Green Book 9.2.7.2.4: the invocation counter (IC) of a key is part of the GCM IV, so a key and IC
pair must never protect two different APDUs, and a receiver refuses a counter not above the
last one it accepted (exception-response invocation-counter-error).

Sans-IO: the send counter persists through a callback it is given, and it reserves counter
values in steps: before the first value of a step is used, the end of the step is persisted. A
process that dies at any instant restarts from the persisted value, above every value it
may have sent; at most one step of values is skipped, none is reused.
"""

from __future__ import annotations

from collections.abc import Callable

from metertwin.security.ciphering import MAX_INVOCATION_COUNTER
from metertwin.security.errors import CounterExhaustedError, ReplayError

COUNTER_SPACE = MAX_INVOCATION_COUNTER + 1


class ReceiveCounterGuard:
    """The last invocation counter accepted under one key of one peer.

    Call ``check`` before spending effort on a frame and ``accept`` only once the frame is
    authenticated, so a forged counter cannot lock the real sender out.
    """

    def __init__(self, last_accepted: int | None = None) -> None:
        if last_accepted is not None and not 0 <= last_accepted <= MAX_INVOCATION_COUNTER:
            raise ValueError(f"an invocation counter is 32 bits, not {last_accepted}")
        self._last = last_accepted

    @property
    def last_accepted(self) -> int | None:
        return self._last

    def check(self, counter: int) -> None:
        """ReplayError when counter is not above the last accepted one."""
        if self._last is not None and counter <= self._last:
            raise ReplayError(counter, self._last)
        if not 0 <= counter <= MAX_INVOCATION_COUNTER:
            raise ValueError(f"an invocation counter is 32 bits, not {counter}")

    def accept(self, counter: int) -> None:
        """Record an authenticated frame's counter (refused like ``check`` if it is not new)."""
        self.check(counter)
        self._last = counter


class SendCounter:
    """The invocation counter this side protects its APDUs with, for one key.

    ``persisted`` is what ``persist`` last stored (0 for a new key): every value below it may
    already have been used. ``persist(bound)`` must have stored ``bound`` durably when it
    returns; if it raises, no counter value is handed out.
    """

    def __init__(self, persisted: int, persist: Callable[[int], None], *, step: int = 1024) -> None:
        if not 0 <= persisted <= COUNTER_SPACE:
            raise ValueError(f"a persisted counter bound is 0..2**32, not {persisted}")
        if step < 1:
            raise ValueError(f"the reservation step is at least 1, not {step}")
        self._next = persisted
        self._reserved_until = persisted
        self._persist = persist
        self._step = step

    @property
    def next_value(self) -> int:
        """The value the next call to ``take`` returns (if the space is not exhausted)."""
        return self._next

    def take(self) -> int:
        """A counter value never handed out before, persisted as used before it is returned."""
        if self._next > MAX_INVOCATION_COUNTER:
            raise CounterExhaustedError("the invocation counter of this key is exhausted")
        if self._next >= self._reserved_until:
            bound = min(self._next + self._step, COUNTER_SPACE)
            self._persist(bound)
            self._reserved_until = bound
        value = self._next
        self._next += 1
        return value


class SetupCounters:
    """Both invocation counters of one key (`cosem.backend.InvocationCounters`): the send
    counter, and the last counter accepted from each client system title (in memory; the
    owner persists ``received`` with its next commit)."""

    def __init__(self, sender: SendCounter, received: dict[bytes, int]) -> None:
        self.next_invocation_counter = sender.take
        self._received = received

    def accept_invocation_counter(self, client_system_title: bytes, counter: int) -> bool:
        """True and remembered when above the last accepted one from that title."""
        received = self._received
        title = bytes(client_system_title)
        last = received.get(title)
        if last is not None and counter <= last:
            return False
        received[title] = counter
        return True

    def last_invocation_counter(self, client_system_title: bytes) -> int | None:
        return self._received.get(bytes(client_system_title))
