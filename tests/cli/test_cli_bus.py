"""`metertwin bus` and `metertwin run --bus` refusals and serials (docs/hdlc.md, "An RS-485
bus"); the bus serving over TCP is tested in tests/interop/test_hdlc_bus.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from metertwin.cli import main
from metertwin.cli_bus import bus_serials


def test_new_meters_get_consecutive_serials_of_the_same_width() -> None:
    assert bus_serials("11620371", 3) == ["11620371", "11620372", "11620373"]
    assert bus_serials("ISK0099", 2) == ["ISK0099", "ISK0100"]
    assert bus_serials("ABC", 2) == ["ABC0", "ABC1"]


def test_meters_resumed_with_serials_of_one_address_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two meters whose serials end in the same four digits would collide on every frame:
    the bus says so and does not start."""
    bus = tmp_path / "bus"
    for name, serial in (("meter-01", "11620371"), ("meter-02", "99990371")):
        argv = ["simulate", "--data", str(bus / name), "--serial", serial, "--days", "0.001"]
        assert main([*argv, "--progress", "none", "--start", "2026-03-02T10:00:00"]) == 0
    capsys.readouterr()
    assert main(["bus", "--meters", "2", "--hdlc-port", "0", "--data", str(bus)]) == 2
    error = capsys.readouterr().err
    assert "11620371 and 99990371 give the same HDLC address 1371" in error


@pytest.mark.parametrize("count", ["0", "33", "x"])
def test_a_bus_holds_1_to_32_meters(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bus", "--meters", count, "--hdlc-port", "0"])
    assert "expected 1..32 meters" in capsys.readouterr().err


def test_run_bus_needs_the_line_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--bus", "2", "--data", str(tmp_path / "bus")]) == 2
    assert "a bus needs its line: --hdlc-port P" in capsys.readouterr().err


def test_run_bus_has_no_optical_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--bus", "2", "--hdlc-port", "0", "--optical", "pty"]
    assert main([*argv, "--data", str(tmp_path / "bus")]) == 2
    assert "--bus has no optical port" in capsys.readouterr().err
    assert not (tmp_path / "bus").exists()
