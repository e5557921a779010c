"""Real (or sped-up) time: `advance` called from a timer, a commit after every tick.

At speed 1 a tick is one second of meter time, so accumulated energy is committed at least
every second (architecture principle 5). Faster speeds keep ticks at 20 ms of real time;
each tick is still committed before anything else (a display, a protocol answer) sees it.
Once the memory refuses a commit the meter stands still at its last commit (session.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Sequence

from metertwin.runtime.session import Session
from metertwin.storage.sqlite import CommitError

MIN_TICK_S = 0.02


def tick_seconds(speed: float) -> float:
    """Real seconds between ticks: one meter-second, but no faster than 50 ticks a second."""
    return max(MIN_TICK_S, 1.0 / speed)


async def run_realtime(
    session: Session,
    speed: float,
    on_tick: Callable[[Session], None],
    duration_s: float | None = None,
) -> None:
    """Advance ``session`` in step with the host clock times ``speed`` until stopped by
    SIGINT/SIGTERM or after ``duration_s`` real seconds."""
    await run_realtime_all([session], speed, lambda sessions: on_tick(sessions[0]), duration_s)


async def run_realtime_all(
    sessions: Sequence[Session],
    speed: float,
    on_tick: Callable[[Sequence[Session]], None],
    duration_s: float | None = None,
) -> None:
    """:func:`run_realtime` for several meters on one clock (a bus): each tick advances and
    commits every one of them, each from its own present instant."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        tick = tick_seconds(speed)
        real_start = time.monotonic()
        world_starts = [session.meter.now_ms for session in sessions]
        on_tick(sessions)
        while not stop.is_set():
            elapsed = time.monotonic() - real_start
            for session, world_start in zip(sessions, world_starts, strict=True):
                target = world_start + int(elapsed * speed * 1000)
                if target > session.meter.now_ms and not session.read_only:
                    with contextlib.suppress(CommitError):  # logged; the session is read-only
                        session.advance_to(target)
            on_tick(sessions)
            wait = tick
            if duration_s is not None:
                if elapsed >= duration_s:
                    break
                wait = min(tick, duration_s - elapsed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
