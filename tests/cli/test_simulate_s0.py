"""`metertwin simulate --progress jsonl` gives a scenario's reader the S0 pulse count of a
model with a pulse output (issue 20 item 9): each committed line's ``s0_pulses`` is
floor(Wh x imp/kWh / 1000) of the import register on the same line (magno22: 1000 imp/kWh)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

IMPORT = "1.0.1.8.0.255"


def test_each_committed_line_carries_the_pulses_of_its_import_register(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "metertwin", "simulate", "--model", "magno22",
         "--scenario", "household", "--data", str(tmp_path / "m"), "--days", "3",
         "--progress", "jsonl"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(lines) >= 3
    for line in lines:
        assert line["s0_pulses"] == line["registers"][IMPORT] * 1000 // 1_000_000
    assert lines[-1]["s0_pulses"] > 0
