"""`metertwin optical readout serial://...` (issue 13, item 6): our IEC 62056-21 reader on a pty
whose far end is the meter's sans-IO OpticalPort in a thread (the pty carries no baud rate, so
the switch to 9600 is only the reader's own)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.cli.pty_line import pty_served
from tests.cli.test_cli_act import metertwin
from tests.protocols.test_iec62056_21_meter import READOUT

from metertwin.protocols.iec62056_21_meter import OpticalPort, OpticalPortConfig, Transmit


@pytest.fixture
def optical_pty() -> Iterator[str]:
    config = OpticalPortConfig("MTW", "PMM1220", device_address="12345678")
    port = OpticalPort(config, readout=lambda: READOUT, check_password=lambda _: False)

    def serve(data: bytes) -> bytes:
        actions = port.receive_data(data, time.monotonic())
        return b"".join(a.data for a in actions if isinstance(a, Transmit))

    with pty_served(serve) as path:
        yield path


def test_readout_prints_the_identification_and_the_lines(
    capsys: pytest.CaptureFixture[str], optical_pty: str
) -> None:
    code, out, err = metertwin(capsys, "optical", "readout", f"serial://{optical_pty}")
    assert (code, err) == (0, "")
    assert out == "/MTW5PMM1220 at 9600 Bd\n0.0.0(12345678)\n1.8.0(001234.5*kWh)\n"


def test_readout_of_the_meter_by_its_address(
    capsys: pytest.CaptureFixture[str], optical_pty: str
) -> None:
    target = f"serial://{optical_pty}"
    code, out, _ = metertwin(capsys, "optical", "readout", target, "--address", "12345678")
    assert code == 0 and "1.8.0(001234.5*kWh)" in out
    code, out, err = metertwin(
        capsys, "optical", "readout", target, "--address", "87654321", "--timeout", "0.5"
    )
    assert (code, out) == (2, "")  # another meter's address: silence
    assert "no answer from the meter on" in err and "waiting for the identification" in err


def test_a_target_that_is_no_serial_line_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = metertwin(capsys, "optical", "readout", "hdlc://127.0.0.1:1")
    assert code == 2 and "expected serial:///DEVICE" in err
