"""Storage-fault campaign (issue 19, "a reliability campaign the project keeps"): a running
meter whose disk fills up or turns read-only under it, and a start on a read-only memory.

Real faults, not mocks: the memory lives on a small tmpfs that it fills (disk full), or
behind a read-only bind mount (a mount cannot turn read-only while the meter holds its files
open for writing, so that fault is tested at start). Both need root (mount); without it the
phase says it was skipped. Tokens go in over DLMS the whole time. Afterwards the memory is
copied to a healthy disk and started again: every token the meter acknowledged must be there
(lost = 0), and from the fault on the meter must refuse writes instead of acknowledging them.

`python -m benchmarks.soak_storage`
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import header
from benchmarks.soak_kills import _enter, _start, _stored, token
from metertwin.dlms.client import DlmsClientError
from metertwin.meter.wallet import MICRO


@contextlib.contextmanager
def mounted(*args: str) -> Iterator[bool]:
    target = args[-1]
    ok = subprocess.run(["mount", *args], capture_output=True).returncode == 0
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", "-l", target], capture_output=True)


class Vendor(threading.Thread):
    """Enters tokens one after another and records which the meter acknowledged."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.index = 0
        self.acknowledged: list[int] = []
        self.refused_after_fault = 0
        self.fault_at: float | None = None
        self.acknowledged_after_fault = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            index = self.index
            self.index += 1
            try:
                code = _enter(self.port, token(index))
            except (DlmsClientError, OSError):
                if self.fault_at is not None:
                    self.refused_after_fault += 1
                time.sleep(0.05)
                continue
            if code == 3:
                self.acknowledged.append(index)
                if self.fault_at is not None and time.perf_counter() > self.fault_at + 1.0:
                    self.acknowledged_after_fault += 1
            time.sleep(0.02)


def _purchases(data: Path) -> int:
    state = _stored(data)
    if state is None:
        return 0
    wallet = state["prepayment"]["wallet"]
    assert wallet["purchased_total"] == wallet["purchase_count"] * MICRO
    return int(wallet["purchase_count"])


def disk_full(name: str, work: Path, data: Path) -> list[str]:
    """Runs the meter on ``data``, a small tmpfs that its memory fills, with a vendor."""
    failures: list[str] = []
    process, port = _start(data)
    vendor = Vendor(port)
    vendor.start()
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline and process.poll() is None:
        if shutil.disk_usage(data).free < 64 * 1024 and vendor.fault_at is None:
            vendor.fault_at = time.perf_counter()
        if vendor.fault_at is not None and time.perf_counter() > vendor.fault_at + 4:
            break
        time.sleep(0.2)
    vendor.stop.set()
    vendor.join(timeout=10)
    alive = process.poll() is None
    process.terminate()
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    stderr = err.decode(errors="replace").strip()
    copy = work / f"{name}-copy"
    shutil.copytree(data, copy)
    kept = _purchases(copy)
    acknowledged = len(vendor.acknowledged)
    print(
        f"   {name}: {acknowledged} tokens acknowledged, {kept} kept after the fault; "
        f"{vendor.refused_after_fault} refused after the fault, "
        f"{vendor.acknowledged_after_fault} acknowledged after it; the meter "
        f"{'kept serving' if alive else 'exited'}; stderr: "
        f"{stderr.splitlines()[-1][:160] if stderr else '(nothing)'}"
    )
    if kept < acknowledged:
        failures.append(f"{name}: {acknowledged - kept} acknowledged tokens lost")
    if vendor.fault_at is None:
        failures.append(f"{name}: the fault never happened")
    if "Traceback" in stderr:
        failures.append(f"{name}: a traceback on stderr")
    again, again_port = _start(copy)
    try:
        if _enter(again_port, token(vendor.index + 1)) != 3:
            failures.append(f"{name}: the recovered meter refused a new token")
    finally:
        again.terminate()
        again.communicate(timeout=15)
    return failures


def start_read_only(work: Path) -> list[str]:
    """A memory on a read-only mount: one line naming the problem, exit 2."""
    source = work / "ro-source"
    subprocess.run(
        [sys.executable, "-m", "metertwin", "simulate", "--model", "pmm1220", "--data",
         str(source), "--start", "2026-11-01T00:00", "--days", "1", "--progress", "none"],
        check=True, capture_output=True,
    )  # fmt: skip
    target = work / "ro"
    target.mkdir()
    failures: list[str] = []
    with mounted("--bind", str(source), str(target)) as ok:
        if not ok:
            return ["read-only start: mount --bind failed"]
        subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], check=True)
        result = subprocess.run(
            [sys.executable, "-m", "metertwin", "run", "--api-port", "off",
            "--data", str(target), "--no-panel",
             "--port", "0", "--duration", "2"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        lines = result.stderr.strip().splitlines()
        print(f"   start on a read-only memory: exit {result.returncode}, {lines[-1:]}")
        if result.returncode != 2 or len(lines) != 1 or "Traceback" in result.stderr:
            failures.append("read-only start: expected one line and exit 2")
    return failures


def run() -> tuple[list[str], list[str]]:
    """Every phase: the failures, and the phases skipped (a tmpfs needs root)."""
    failures: list[str] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        full = work / "full"
        full.mkdir()
        with mounted("-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(full)) as ok:
            if ok:
                failures += disk_full("disk full", work, full / "meter")
            else:
                skipped.append("disk full")
                print("   disk full: skipped (mounting a tmpfs needs root)")
        failures += start_read_only(work)
    return failures, skipped


def main() -> int:
    header("storage faults: a disk that fills under a running meter, a read-only memory")
    failures, _ = run()
    for failure in failures:
        print(f"      FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
