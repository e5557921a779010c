"""The meter side of the interop tests: a real metertwin DLMS/COSEM server on 127.0.0.1.

Two ways, as docs/dlms.md describes them: in-process (a meter of a built-in model and its
logical device served by :class:`DlmsTcpServer` on an ephemeral port, the asyncio loop in a
background thread so that a blocking client can talk to it), and as a user runs it
(``python -m metertwin run ... --port 0 --no-panel``, whose first stdout line names the port).

Nothing here knows the independent client: that lives in the test module.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from dlms_cosem import exceptions
from dlms_cosem.io import BlockingTcpIO

from metertwin.meter.core import Meter
from metertwin.models import DeviceModel, load_model
from metertwin.models.binder import build_logical_device
from metertwin.transport.tcp import DlmsTcpServer, TcpServerSettings

T = TypeVar("T")

SERIAL = "12345678"
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, winter time (UTC+1 on metercom-pro)
START_MS = int(START.timestamp() * 1000)
STARTUP_TIMEOUT_S = 30.0


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the loop's thread (where the server touches the meter)."""
        done: Future[T] = Future()

        def invoke() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:  # handed back to the caller
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return done.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        self.loop.close()


@dataclass
class ServedMeter:
    """A meter of ``model`` whose logical device (server SAP 1) listens on ``port``."""

    model: DeviceModel
    meter: Meter
    server: DlmsTcpServer
    loop: LoopThread

    @property
    def port(self) -> int:
        return self.server.port

    def call(self, fn: Callable[[], T]) -> T:
        """Touch the meter from the server's thread, between two requests."""
        return self.loop.call(fn)


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def serve(loop_thread: LoopThread) -> Iterator[Callable[..., ServedMeter]]:
    """``serve("metercom-pro", start_ms=...)`` starts a fresh meter and its DLMS server;
    ``overrides`` are config settings for the model (e.g. ``{"dlms": {...}}``)."""
    started: list[DlmsTcpServer] = []

    def start(
        model_name: str, start_ms: int = START_MS, overrides: dict[str, Any] | None = None
    ) -> ServedMeter:
        model = load_model(model_name, overrides)
        meter = Meter(model.spec, start_ms, SERIAL)
        device = build_logical_device(model, meter, commit=lambda: None)
        settings = TcpServerSettings(server_saps=frozenset({model.dlms.server_sap}))
        server = DlmsTcpServer(device, "127.0.0.1", 0, settings)
        loop_thread.run(server.start())
        started.append(server)
        return ServedMeter(model, meter, server, loop_thread)

    yield start
    for server in started:
        loop_thread.run(server.stop())


@pytest.fixture
def metercom(serve: Callable[..., ServedMeter]) -> ServedMeter:
    served: ServedMeter = serve("metercom-pro")
    return served


@dataclass
class MeterProcess:
    """``python -m metertwin run`` as a user starts it; ``port`` from its first stdout line."""

    process: subprocess.Popen[str]
    port: int


@pytest.fixture
def meter_process(tmp_path: Path) -> Iterator[Callable[..., MeterProcess]]:
    running: list[subprocess.Popen[str]] = []

    def spawn(*options: str) -> MeterProcess:
        command = [sys.executable, "-m", "metertwin", "run", "--data", str(tmp_path / "meter")]
        command += ["--port", "0", "--no-panel", *options]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        errors = tmp_path / "stderr.txt"
        with errors.open("w") as stderr:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
            )
        running.append(process)
        stdout = process.stdout
        assert stdout is not None
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(STARTUP_TIMEOUT_S)
        line = first[0] if first else ""
        match = re.fullmatch(r"DLMS/COSEM on 127\.0\.0\.1:(\d+)\n", line)
        if match is None:
            process.kill()
            process.wait(10)
            raise AssertionError(f"first line {line!r}; stderr: {errors.read_text()}")
        # Keep draining stdout (a summary line every second) so the meter never blocks on it.
        threading.Thread(target=stdout.read, daemon=True).start()
        return MeterProcess(process, int(match.group(1)))

    yield spawn
    for process in running:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


class TcpIO(BlockingTcpIO):
    """dlms-cosem's blocking socket I/O, but a peer that closes raises instead of spinning
    (BlockingTcpIO.recv loops forever on b"")."""

    def recv(self, amount: int = 1) -> bytes:
        data = b""
        while len(data) < amount:
            chunk = self.tcp_socket.recv(amount - len(data))
            if not chunk:
                raise exceptions.CommunicationError("the meter closed the connection")
            data += chunk
        return data
