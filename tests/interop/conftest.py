"""The meter side of the interop tests: a real metertwin DLMS/COSEM server on 127.0.0.1.

Two ways, as docs/dlms.md describes them: in-process (a meter of a built-in model and its
logical device served by :class:`DlmsTcpServer` on an ephemeral port, the asyncio loop in a
background thread so that a blocking client can talk to it), and as a user runs it
(``python -m metertwin run ... --port 0 --no-panel``, whose first stdout line names the port;
with ``--hdlc-port 0`` its second line names the HDLC port and physical address). Either way
the meter can be served over HDLC on TCP as well (``hdlc=True``).

Nothing here knows the independent client: that lives in the test module.
"""

from __future__ import annotations

import asyncio
import itertools
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
from typing import IO, Any, TypeVar

import pytest
from dlms_cosem import exceptions
from dlms_cosem.io import BlockingTcpIO

from metertwin.cli import is_line_name
from metertwin.meter.core import Meter
from metertwin.models import DeviceModel, load_model
from metertwin.models.binder import build_logical_device
from metertwin.protocols.hdlc_link import physical_address_for_serial
from metertwin.transport.hdlc_tcp import HdlcTcpServer, HdlcTcpServerSettings
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
    """A meter of ``model`` whose logical device (server SAP 1) listens on ``port`` (HDLC
    frames when ``server`` is an :class:`HdlcTcpServer`, at the serial's physical address)."""

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
    ``overrides`` are config settings for the model (e.g. ``{"dlms": {...}}``); ``hdlc``:
    HDLC over TCP instead of the wrapper."""
    started: list[DlmsTcpServer] = []

    def start(
        model_name: str,
        start_ms: int = START_MS,
        overrides: dict[str, Any] | None = None,
        hdlc: bool = False,
    ) -> ServedMeter:
        model = load_model(model_name, overrides)
        meter = Meter(model.spec, start_ms, SERIAL)
        device = build_logical_device(model, meter, commit=lambda: None)
        saps = frozenset({model.dlms.server_sap})
        server: DlmsTcpServer
        if hdlc:
            physical = physical_address_for_serial(SERIAL)
            hdlc_settings = HdlcTcpServerSettings(server_saps=saps, physical_address=physical)
            server = HdlcTcpServer(device, "127.0.0.1", 0, hdlc_settings)
        else:
            server = DlmsTcpServer(device, "127.0.0.1", 0, TcpServerSettings(server_saps=saps))
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
    """``python -m metertwin run`` as a user starts it; ``port`` from its first stdout line,
    with ``--hdlc-port``, ``hdlc_port`` and ``physical_address`` from its second."""

    process: subprocess.Popen[str]
    port: int
    hdlc_port: int | None = None
    physical_address: int | None = None
    serial_line: str | None = None  # --serial-line: the path announced
    optical: str | None = None  # --optical: the path announced


@pytest.fixture
def meter_process(tmp_path: Path) -> Iterator[Callable[..., MeterProcess]]:
    running: list[subprocess.Popen[str]] = []

    def spawn(*options: str) -> MeterProcess:
        command = [
            sys.executable,
            "-m",
            "metertwin",
            "run",
            "--api-port",
            "off",
            "--data",
            str(tmp_path / "meter"),
        ]
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
        patterns = [r"DLMS/COSEM on 127\.0\.0\.1:(\d+)\n"]
        if "--hdlc-port" in options:
            patterns.append(r"HDLC on 127\.0\.0\.1:(\d+) physical address (\d+) server SAP \d+\n")
        paths = {}
        serial_values = [v for o, v in itertools.pairwise(options) if o == "--serial"]
        if "--serial-line" in options or any(is_line_name(v) for v in serial_values):
            paths["serial_line"] = (
                r"HDLC on (/dev/\S+) \d+ baud physical address \d+ server SAP \d+\n"
            )
        if "--optical" in options:
            paths["optical"] = (
                r"IEC 62056-21 optical port on (/dev/\S+) \(mode E: HDLC physical address \d+"
                r" server SAP \d+\)\n"
            )
        numbers: list[int] = []
        found: dict[str, str] = {}
        for key, pattern in [("", p) for p in patterns] + list(paths.items()):
            line = _line_within(stdout, STARTUP_TIMEOUT_S)
            match = re.fullmatch(pattern, line)
            if match is None:
                process.kill()
                process.wait(10)
                raise AssertionError(f"line {line!r}; stderr: {errors.read_text()}")
            if key:
                found[key] = match.group(1)
            else:
                numbers += [int(number) for number in match.groups()]
        # Keep draining stdout (a summary line every second) so the meter never blocks on it.
        threading.Thread(target=stdout.read, daemon=True).start()
        return MeterProcess(process, *numbers, **found)  # type: ignore[arg-type]

    yield spawn
    for process in running:
        interrupt(process)


def interrupt(process: subprocess.Popen[str]) -> None:
    """Ctrl-C to a metertwin process still running, then kill it if it will not stop."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _line_within(stream: IO[str], timeout_s: float) -> str:
    """The next line of ``stream``, or "" when none comes within ``timeout_s``."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return got[0] if got else ""


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
