"""A meter running as a user starts it, for the CLI tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def meter_running(data: Path, model: str = "pmm1220") -> Iterator[int]:
    """`metertwin run --model MODEL`, as a user starts it, on a free port; yields the port."""
    command = [
        sys.executable, "-m", "metertwin", "run", "--model", model, "--data", str(data),
        "--port", "0", "--start", "2026-11-21T10:00", "--no-panel",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    try:
        first = process.stdout.readline().decode()
        assert first.startswith("DLMS/COSEM on "), first
        yield int(first.rsplit(":", 1)[1])
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
