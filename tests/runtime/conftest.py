"""Fixtures of the runtime tests: a magno22 in its memory served over TCP (port 0)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.interop.conftest import LoopThread

from metertwin.config import UserConfig
from metertwin.dlms.client import DlmsClient
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.models.binder import build_logical_device
from metertwin.runtime.session import SIMULATED, Session, open_session
from metertwin.transport.tcp import DlmsTcpServer, TcpServerSettings

START = datetime(2026, 6, 1, 9, tzinfo=UTC)  # magno22's clock: UTC offset 0, DST in summer
START_MS = int(START.timestamp() * 1000)
MINUTE_MS = 60_000
SERIAL = "12345678"
MANAGEMENT_SAP, MANAGEMENT_SECRET = 1, b"33333333"  # magno22's management association
LOAD = PhysicalState((230.0,), (1000.0,), (0.0,))


@dataclass
class ServedMagno:
    """A magno22 in its memory, served over TCP on 127.0.0.1 (port 0)."""

    loop: LoopThread
    session: Session
    server: DlmsTcpServer

    def management(self) -> DlmsClient:
        return DlmsClient(timeout=10).connect(
            "127.0.0.1", self.server.port, MANAGEMENT_SAP, password=MANAGEMENT_SECRET
        )

    def advance(self, to_ms: int, state: PhysicalState = LOAD) -> None:
        """Meter time moves on (committing), on the server's thread."""

        def inputs(start: int, end: int) -> InputSeries:
            return InputSeries.constant(start, end, state)

        self.loop.call(lambda: self.session.advance_to(to_ms, inputs))


@pytest.fixture
def served_magno(tmp_path: Path) -> Iterator[ServedMagno]:
    loop = LoopThread()
    session = loop.call(
        lambda: open_session(
            tmp_path / "meter",
            "magno22",
            UserConfig(),
            "idle",
            "2026-06-01T09:00Z",
            lambda _m: 0,
            SIMULATED,
            SERIAL,
        )
    )
    device = build_logical_device(session.model, session.meter, session.commit, session.store)
    server = DlmsTcpServer(device, "127.0.0.1", 0, TcpServerSettings(frozenset({1})))
    loop.run(server.start())
    try:
        yield ServedMagno(loop, session, server)
    finally:
        loop.run(server.stop())
        loop.call(session.close)
        loop.close()
