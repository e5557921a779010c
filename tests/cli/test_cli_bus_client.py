"""Our client on a bus (issue 13, items 4 and 6): `metertwin bus --meters 3` as a user starts it,
on TCP (`--hdlc-port 0`) and on a pty (`--serial pty`) at once, and `metertwin read` selecting
each meter by ``address=`` in either of seed 004's forms (8 digits: the meter serial; 10: its
module's), reading that meter's own serial; with no address, the all-station SNRM collides
and the read fails (docs/hdlc.md, "An RS-485 bus", "Our client")."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.cli.test_cli_act import metertwin
from tests.interop.conftest import STARTUP_TIMEOUT_S, _line_within, interrupt
from tests.interop.test_hdlc_bus import start_bus

SERIAL_NUMBER = "0.0.96.1.0.255"


@dataclass(frozen=True)
class RunningBus:
    hdlc_port: int
    pty: str


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBus]:
    data = tmp_path_factory.mktemp("bus")
    command = [
        "bus", "--meters", "3", "--model", "az3p,magno22",
        "--hdlc-port", "0", "--serial", "pty", "--serial", "40000001", "--data", str(data),
        "--start", "2026-03-02T10:00:00", "--duration", "120",
    ]  # fmt: skip
    errors = data / "stderr.txt"
    process = start_bus(command, errors)
    try:
        assert process.stdout is not None
        tcp = _line_within(process.stdout, STARTUP_TIMEOUT_S)
        found_tcp = re.fullmatch(r"HDLC bus of 3 meters on 127\.0\.0\.1:(\d+)\n", tcp)
        assert found_tcp is not None, f"{tcp!r}; stderr: {errors.read_text()}"
        serial = _line_within(process.stdout, STARTUP_TIMEOUT_S)
        found_pty = re.fullmatch(r"HDLC bus of 3 meters on (/dev/\S+) 9600 baud\n", serial)
        assert found_pty is not None, f"{serial!r}; stderr: {errors.read_text()}"
        meters = [_line_within(process.stdout, STARTUP_TIMEOUT_S) for _ in range(3)]
        assert meters[1].startswith("meter 2 magno22 serial 40000002 module 5040000002 physical")
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield RunningBus(int(found_tcp.group(1)), found_pty.group(1))
    finally:
        interrupt(process)
    assert process.returncode == 0, errors.read_text()


def read_serial(capsys: pytest.CaptureFixture[str], target: str) -> str:
    code, out, err = metertwin(capsys, "read", target, SERIAL_NUMBER)
    assert (code, err) == (0, ""), err
    return out


@pytest.mark.parametrize(
    ("entered", "serial"),
    [("5040000001", "40000001"), ("40000002", "40000002"), ("50-4000-0003", "40000003")],
)
def test_read_each_meter_on_the_tcp_line_by_its_serial_or_its_modules(
    capsys: pytest.CaptureFixture[str], bus: RunningBus, entered: str, serial: str
) -> None:
    out = read_serial(capsys, f"hdlc://127.0.0.1:{bus.hdlc_port}?address={entered}")
    assert out == f"{SERIAL_NUMBER}:2 (Data) = {serial}\n"


def test_read_each_meter_on_the_pty_by_its_serial_or_its_modules(
    capsys: pytest.CaptureFixture[str], bus: RunningBus
) -> None:
    for entered, serial in (("40000001", "40000001"), ("5040000002", "40000002")):
        out = read_serial(capsys, f"serial://{bus.pty}?baud=9600&address={entered}")
        assert out == f"{SERIAL_NUMBER}:2 (Data) = {serial}\n"
    # The same meter by both forms, one after the other on the one line.
    for entered in ("40000003", "5040000003"):
        out = read_serial(capsys, f"serial://{bus.pty}?address={entered}")
        assert out == f"{SERIAL_NUMBER}:2 (Data) = 40000003\n"


def test_without_an_address_the_meters_on_the_pty_collide_and_the_read_fails(
    capsys: pytest.CaptureFixture[str], bus: RunningBus
) -> None:
    """The all-station SNRM is every meter's: three UAs at once, none whole (seed 004: "all
    the devices will answer you at the same time")."""
    code, out, err = metertwin(
        capsys, "read", f"serial://{bus.pty}", SERIAL_NUMBER, "--timeout", "0.9"
    )
    assert (code, out) == (2, "")
    assert "while SNRM sent" in err, err
    # The bus goes on: a selected meter answers.
    out = read_serial(capsys, f"serial://{bus.pty}?address=40000001")
    assert out.endswith("= 40000001\n")


def test_a_bus_without_a_line_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = metertwin(capsys, "bus", "--meters", "2", "--data", str(tmp_path / "bus"))
    assert code == 2 and "a bus needs its line" in err
    assert not (tmp_path / "bus").exists()
