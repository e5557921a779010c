"""Restart of a meter with a year of history: <= 1 s to resume (issue "The meter core").

Simulates a year of the az3p meter into a temporary data directory, then times what a
restart does: open the memory, check it, load the model and state, rebuild the meter and
its world and compute the first tick's inputs. Printed for a fresh process (after its
imports) and for a whole new `metertwin` process, interpreter start-up included.
Run with `python -m benchmarks.restart` from the repository root.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import header
from metertwin.config import UserConfig
from metertwin.runtime.session import SIMULATED, open_session


def _never(_model: object) -> int:
    raise AssertionError("the meter exists already")


def _metertwin(*args: str) -> None:
    command = [sys.executable, "-m", "metertwin", *args, "--progress", "none"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    header("restart: resume a meter with a year of history")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "az3p"
        t0 = time.perf_counter()
        _metertwin(
            "simulate",
            "--model",
            "az3p",
            "--data",
            str(data),
            "--start",
            "2025-01-01T00:00",
            "--until",
            "2026-01-01T00:00",
        )
        size = sum(f.stat().st_size for f in data.iterdir()) / 1024
        print(f"   simulated a year in {time.perf_counter() - t0:.2f} s (memory {size:.0f} KiB)")
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.restart", "--child", str(data)],
            check=True,
            capture_output=True,
            text=True,
        )
        cold, warm = (float(x) for x in child.stdout.split())
        print(
            f"   resume in a fresh process, after imports: {cold * 1000:7.1f} ms "
            f"(again, warm: {warm * 1000:.1f} ms; target <= 1 s)"
        )
        t0 = time.perf_counter()
        _metertwin("simulate", "--data", str(data), "--until", "2026-01-01T00:00")
        print(
            f"   a whole new metertwin process resuming it (interpreter, imports, CSV export): "
            f"{(time.perf_counter() - t0) * 1000:7.1f} ms"
        )


def child(data: Path) -> None:
    """Time open + load + first tick's inputs in a process whose caches are cold."""
    timings = []
    for _ in range(2):
        t0 = time.perf_counter()
        session = open_session(data, None, UserConfig(), None, None, _never, SIMULATED)
        session.scenario.series(session.meter.now_ms, session.meter.now_ms + 1000)
        timings.append(time.perf_counter() - t0)
        session.close()
    print(*timings)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]))
    else:
        main()
