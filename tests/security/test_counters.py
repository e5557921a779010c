"""Invocation counters: replays refused, send values never reused across a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metertwin.security.counters import ReceiveCounterGuard, SendCounter
from metertwin.security.errors import CounterExhaustedError, ReplayError


def test_a_received_counter_must_rise() -> None:
    guard = ReceiveCounterGuard()
    guard.accept(5)
    for replayed in (5, 4, 0):
        with pytest.raises(ReplayError) as refused:
            guard.accept(replayed)
        assert refused.value.last_accepted == 5
    guard.accept(9)
    assert guard.last_accepted == 9


def test_check_does_not_advance_the_guard() -> None:
    """A frame is checked before deciphering and accepted only once authenticated."""
    guard = ReceiveCounterGuard(last_accepted=10)
    guard.check(11)
    guard.accept(11)
    with pytest.raises(ReplayError):
        guard.check(11)


class Store:
    """A durable value, as the storage layer would keep it."""

    def __init__(self) -> None:
        self.value = 0
        self.writes: list[int] = []

    def persist(self, bound: int) -> None:
        self.writes.append(bound)
        self.value = bound


def test_the_bound_is_persisted_before_a_value_of_its_step_is_used() -> None:
    store = Store()
    used: list[int] = []

    def persist(bound: int) -> None:
        assert all(value < bound for value in used)
        assert store.value <= len(used)  # nothing of the new step was handed out yet
        store.persist(bound)

    counter = SendCounter(store.value, persist, step=4)
    used.extend(counter.take() for _ in range(9))
    assert used == list(range(9))
    assert store.writes == [4, 8, 12]


@given(st.lists(st.integers(0, 20), min_size=1, max_size=8), st.integers(1, 7))
def test_a_crash_at_any_point_never_reuses_a_counter(runs: list[int], step: int) -> None:
    """Each run takes some values then dies; the next run starts from the store."""
    store = Store()
    used: list[int] = []
    for taken in runs:
        counter = SendCounter(store.value, store.persist, step=step)
        used.extend(counter.take() for _ in range(taken))
    assert len(used) == len(set(used))
    assert used == sorted(used)


def test_a_failed_persist_hands_out_nothing() -> None:
    def failing(bound: int) -> None:
        raise OSError("disk full")

    counter = SendCounter(0, failing, step=4)
    with pytest.raises(OSError):
        counter.take()
    assert counter.next_value == 0


def test_the_32_bit_counter_runs_out() -> None:
    store = Store()
    counter = SendCounter(0xFFFFFFFE, store.persist, step=100)
    assert [counter.take(), counter.take()] == [0xFFFFFFFE, 0xFFFFFFFF]
    assert store.writes == [2**32]
    with pytest.raises(CounterExhaustedError):
        counter.take()
    with pytest.raises(CounterExhaustedError):
        SendCounter(store.value, store.persist).take()
