"""A meter running as a user starts it, for the CLI tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def meter_running(data: Path, model: str = "pmm1220", config: Path | None = None) -> Iterator[int]:
    """`metertwin run --model MODEL`, as a user starts it, on a free port; yields the port."""
    command = [
        sys.executable, "-m", "metertwin", "run", "--api-port", "off",
        "--model", model, "--data", str(data),
        "--port", "0", "--start", "2026-11-21T10:00", "--no-panel",
    ]  # fmt: skip
    if config is not None:
        command += ["--config", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    try:
        first = process.stdout.readline().decode()
        assert first.startswith("DLMS/COSEM on "), first
        yield int(first.rsplit(":", 1)[1])
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


@contextmanager
def hdlc_meter_running(data: Path, serial: str, model: str = "pmm1220") -> Iterator[int]:
    """`metertwin run --hdlc-port 0 --serial SERIAL`, as a user starts it; yields the HDLC
    port (the second line it prints: ``HDLC on HOST:PORT physical address N ...``)."""
    command = [
        sys.executable, "-m", "metertwin", "run", "--api-port", "off",
        "--model", model, "--data", str(data),
        "--port", "0", "--hdlc-port", "0", "--serial", serial, "--start", "2026-11-21T10:00",
        "--no-panel",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    try:
        assert process.stdout.readline().decode().startswith("DLMS/COSEM on ")
        line = process.stdout.readline().decode()
        assert line.startswith("HDLC on "), line
        yield int(line.split()[2].rsplit(":", 1)[1])
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
