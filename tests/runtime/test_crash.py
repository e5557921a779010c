"""Crash consistency: SIGKILL at random moments of an accelerated run, restart, compare.

Architecture principle 5: a process killed at any instant restarts with consistent
registers; nothing acknowledged is lost and no register goes backwards. `simulate` prints a
JSON line after each commit (its acknowledgement); after each kill the memory must hold at
least that, and the run finished after several kills must equal, exactly, a run that was
never interrupted (the core is deterministic and resumes from any commit).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from metertwin.storage import MeterStore

COMMAND = [
    sys.executable,
    "-m",
    "metertwin",
    "simulate",
    "--model",
    "az3p",
    "--scenario",
    "household-pv",
    "--start",
    "2026-03-20T00:00",
    "--until",
    "2026-07-01T00:00",
    "--progress",
    "jsonl",
]


def _stored(data: Path) -> dict[str, Any]:
    with MeterStore.open(data) as store:
        return store.load().state


def _registers(state: dict[str, Any]) -> list[int]:
    registers = state["registers"]
    return [*registers["totals"], *(v for rate in registers["per_rate"] for v in rate)]


def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    subprocess.run([*COMMAND, "--data", str(reference)], check=True, capture_output=True)
    expected = _stored(reference)

    crashed = tmp_path / "crashed"
    rng = random.Random(20261121)
    previous: list[int] | None = None
    kills = 0
    for _ in range(6):
        process = subprocess.Popen(
            [*COMMAND, "--data", str(crashed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(0.8, 3.0))
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate()
        if process.returncode == -signal.SIGKILL:
            kills += 1
        acknowledged = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        if not (crashed / "meter.db").exists():
            continue
        state = _stored(crashed)
        if acknowledged:
            last = acknowledged[-1]
            assert state["now_ms"] >= last["now_ms"], "an acknowledged day was lost"
        registers = _registers(state)
        if previous is not None:
            assert all(a >= b for a, b in zip(registers, previous, strict=True)), (
                "a register went backwards across a crash"
            )
        previous = registers
    assert kills >= 3, "the kills should land while the simulation runs"

    subprocess.run([*COMMAND, "--data", str(crashed)], check=True, capture_output=True)
    assert _stored(crashed) == expected


def test_sigkill_of_a_running_meter_loses_nothing_it_showed(tmp_path: Path) -> None:
    """`metertwin run` prints a line after each commit; killed at random, the memory holds at
    least what the last line showed, and nothing goes backwards across restarts."""
    import re
    from datetime import datetime

    from metertwin.meter.core import Meter
    from metertwin.meter.registers import Energy
    from metertwin.models import load_model

    data = tmp_path / "running"
    command = [
        sys.executable,
        "-m",
        "metertwin",
        "run",
        "--api-port",
        "off",
        "--model",
        "magno22",
        "--data",
        str(data),
        "--start",
        "2026-03-01T00:00",
        "--speed",
        "3600",
        "--no-panel",
        "--port",
        "0",
    ]
    line = re.compile(r"^(\S+ \S+) T\d+ P=\S+ \+A=(\d+)\.(\d{3})kWh")
    spec = load_model("magno22").spec
    rng = random.Random(4059)
    previous: list[int] | None = None
    checked = 0
    for _ in range(3):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None
        # the kill's instant counts from the meter serving, not from its start: the imports
        # of a new process take seconds on a loaded machine
        first = process.stdout.readline()
        assert first.startswith(b"DLMS/COSEM on"), first
        time.sleep(rng.uniform(2.0, 4.0))
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate()
        assert process.returncode == -signal.SIGKILL
        shown = [m for m in map(line.match, out.decode().splitlines()) if m]
        state = _stored(data)
        meter = Meter.from_state(spec, state)
        if shown:
            last = shown[-1]
            assert meter.local_time() >= datetime.fromisoformat(last[1])
            shown_wh = int(last[2]) * 1000 + int(last[3])
            assert meter.energy_mwh(Energy.IMPORT_ACTIVE) // 1000 >= shown_wh
            checked += 1
        registers = _registers(state)
        if previous is not None:
            assert all(a >= b for a, b in zip(registers, previous, strict=True))
        previous = registers
    assert checked >= 2, "the meter should have shown lines before most kills"
