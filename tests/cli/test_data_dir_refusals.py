"""`--data DIR` as a user meets it: a directory that held a meter loads, or the command stops
with one line naming what it found (exit 2) and leaves the directory as it was (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.test_cli import _meter, metertwin

from metertwin.storage.sqlite import DB_NAME, LOCK_NAME

WAL = f"{DB_NAME}-wal"
SIMULATE_A_DAY = ("simulate", "--days", "1", "--progress", "none")


def _files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` but the lock (every open makes it), with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file() and p.name != LOCK_NAME
    }


def _one_line_refusal(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("with_wal", [False, True], ids=["alone", "with-empty-wal"])
def test_an_empty_meter_db_stops_simulate_in_one_line(tmp_path: Path, with_wal: bool) -> None:
    (tmp_path / DB_NAME).write_bytes(b"")
    if with_wal:
        (tmp_path / WAL).write_bytes(b"")
    before = _files(tmp_path)
    result = metertwin(*SIMULATE_A_DAY, "--data", str(tmp_path))
    assert result.returncode == 2
    line = _one_line_refusal(result.stderr)
    assert f"{tmp_path / DB_NAME}: empty (0 bytes); refused" in line and "--new-meter" in line
    assert _files(tmp_path) == before


def test_a_wal_whose_database_was_deleted_stops_run(tmp_path: Path) -> None:
    data = tmp_path / "meter"
    assert metertwin(*SIMULATE_A_DAY, "--data", str(data)).returncode == 0
    (data / WAL).write_bytes(b"frames of the meter")  # what a copy without meter.db keeps
    (data / DB_NAME).unlink()
    before = _files(data)
    result = metertwin(
        "run",
        "--api-port",
        "off",
        "--data",
        str(data),
        "--port",
        "0",
        "--no-panel",
        "--duration",
        "1",
    )
    assert result.returncode == 2
    assert f"holds {WAL}, registers.csv but no {DB_NAME}" in _one_line_refusal(result.stderr)
    assert _files(data) == before


def test_new_meter_sets_the_old_files_aside_and_refuses_a_memory_that_loads(
    tmp_path: Path,
) -> None:
    data = tmp_path / "meter"
    data.mkdir()
    (data / DB_NAME).write_bytes(b"")
    (data / WAL).write_bytes(b"")
    replaced = metertwin(*SIMULATE_A_DAY, "--data", str(data), "--new-meter", "--serial", "7")
    assert replaced.returncode == 0, replaced.stderr
    (aside,) = data.glob("replaced-*")
    assert _files(aside) == {DB_NAME: b"", WAL: b""}
    assert _meter(data).serial_number == "7"

    before = (data / DB_NAME).read_bytes()
    again = metertwin(*SIMULATE_A_DAY, "--data", str(data), "--new-meter")
    assert again.returncode == 2
    assert "holds a meter that loads; --new-meter only" in _one_line_refusal(again.stderr)
    assert (data / DB_NAME).read_bytes() == before
    assert len(list(data.glob("replaced-*"))) == 1


@pytest.mark.parametrize("exists", [True, False], ids=["empty", "missing"])
def test_a_fresh_directory_gets_a_meter_without_any_option(tmp_path: Path, exists: bool) -> None:
    data = tmp_path / "meter"
    if exists:
        data.mkdir()
    result = metertwin(*SIMULATE_A_DAY, "--data", str(data), "--serial", "9")
    assert result.returncode == 0, result.stderr
    assert _meter(data).serial_number == "9"


def test_a_lock_that_cannot_be_opened_stops_simulate_in_one_line(tmp_path: Path) -> None:
    # A directory where the lock file goes: chmod would not do, the tests run as root.
    (tmp_path / LOCK_NAME).mkdir()
    result = metertwin(*SIMULATE_A_DAY, "--data", str(tmp_path))
    assert result.returncode == 2
    assert "cannot open the meter's lock file" in _one_line_refusal(result.stderr)
    assert not (tmp_path / DB_NAME).exists()
