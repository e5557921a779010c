"""Real-time running: every state shown is committed first; a tick is one meter second."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from metertwin.config import UserConfig
from metertwin.runtime.realtime import run_realtime, tick_seconds
from metertwin.runtime.session import SIMULATED, Session, open_session


def test_ticks_are_one_meter_second_at_speed_one_and_bounded_when_faster() -> None:
    assert tick_seconds(1.0) == 1.0
    assert tick_seconds(10.0) == 0.1  # still one meter second per tick
    assert tick_seconds(3600.0) == 0.02  # at most 50 ticks a second


def test_what_the_panel_sees_is_already_in_the_memory(tmp_path: Path) -> None:
    session = open_session(
        tmp_path / "m",
        "pmm1220",
        UserConfig(),
        "constant",
        "2026-05-01T00:00",
        lambda _m: 0,
        SIMULATED,
    )
    reader = sqlite3.connect(tmp_path / "m" / "meter.db")
    seen: list[tuple[int, int]] = []

    def on_tick(s: Session) -> None:
        stored = json.loads(reader.execute("SELECT state FROM core_state").fetchone()[0])
        seen.append((s.meter.now_ms, stored["now_ms"]))

    try:
        asyncio.run(run_realtime(session, 600.0, on_tick, duration_s=0.6))
    finally:
        session.close()
        reader.close()
    assert len(seen) >= 10
    assert all(shown == committed for shown, committed in seen)
    # It stops once 0.6 s have passed, having reached at least 0.6 s x 600 = 6 meter minutes.
    assert seen[-1][0] - seen[0][0] >= 360_000
