"""``metertwin run --serial-line pty`` and ``--optical pty`` as a user starts them: the path
printed is a pty that works. gurux's client (test-only) reads the meter over HDLC on the first;
on the second the pwitab ``iec62056-21`` parser (test-only) reads the mode C readout of the
model's list, then mode E hands the same pty to HDLC and gurux reads a register. The physical
address is the serial number's (docs/hdlc.md, "Addressing")."""

from __future__ import annotations

import os
import select
import termios
import time
import tty
from collections.abc import Callable

from gurux_dlms.objects import GXDLMSData, GXDLMSRegister
from iec62056_21 import messages as pwitab
from tests.interop.conftest import SERIAL, MeterProcess
from tests.interop.gurux_client import LineStream, hdlc_associated
from tests.interop.test_gurux import IMPORT_ACTIVE, LOGICAL_DEVICE_NAME, READER, UNIT_WH
from tests.interop.test_hdlc_tcp import IDIS_PHYSICAL

START = "2026-03-02T10:00:00"


def test_gurux_reads_metertwin_run_serial_pty_over_hdlc_on_the_pty_it_prints(
    meter_process: Callable[..., MeterProcess],
) -> None:
    running = meter_process(
        "--model", "pmm1220", "--serial", SERIAL, "--start", START,
        "--serial", "pty", "--speed", "1", "--duration", "60",
    )  # fmt: skip  # the issue's `--serial pty`, beside the serial number's `--serial`
    assert running.serial_line is not None and running.serial_line.startswith("/dev/pts/")
    name, energy = GXDLMSData(LOGICAL_DEVICE_NAME), GXDLMSRegister(IMPORT_ACTIVE)
    line = LineStream(running.serial_line)
    with hdlc_associated(line, IDIS_PHYSICAL, READER, b"00000001") as opened:
        opened.read(name, 2)
        opened.read(energy, 3)
        opened.read(energy, 2)
    assert bytes(name.value) == b"PMM" + SERIAL.encode()
    assert energy.unit == UNIT_WH and energy.value >= 0


class Hhu:
    """The hand-held unit's end of the optical port's pty."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.pending = b""

    def rate(self, baud: int) -> None:
        time.sleep(0.1)  # what was sent is out first, as an HHU waits for its UART
        attributes = termios.tcgetattr(self.fd)
        attributes[4] = attributes[5] = getattr(termios, f"B{baud}")
        termios.tcsetattr(self.fd, termios.TCSANOW, attributes)

    def until(self, end: bytes, extra: int = 0) -> bytes:
        deadline = time.monotonic() + 10
        while (
            end not in self.pending
            or len(self.pending) < self.pending.index(end) + len(end) + extra
        ):
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no {end!r}; got {self.pending!r}"
            self.pending += os.read(self.fd, 4096)
        cut = self.pending.index(end) + len(end) + extra
        data, self.pending = self.pending[:cut], self.pending[cut:]
        return data


def test_the_optical_pty_gives_the_models_readout_then_mode_e_serves_gurux(
    meter_process: Callable[..., MeterProcess],
) -> None:
    running = meter_process(
        "--model", "pmm1220", "--serial", SERIAL, "--start", START,
        "--optical", "pty", "--speed", "1", "--duration", "60",
    )  # fmt: skip
    assert running.optical is not None
    hhu = Hhu(running.optical)
    hhu.rate(300)
    os.write(hhu.fd, pwitab.RequestMessage().to_bytes())
    assert hhu.until(b"\r\n") == b"/MTW5\\2PMM1220\r\n"
    os.write(hhu.fd, pwitab.AckOptionSelectMessage(baud_char="5", mode_char="0").to_bytes())
    hhu.rate(9600)
    readout = pwitab.ReadoutDataMessage.from_bytes(hhu.until(b"\x03", extra=1))
    data_sets = [s for line in readout.data_block.data_lines for s in line.data_sets]
    # The model file's list (pmm1220.toml [optical]), in its order, each with its unit.
    assert [(s.address, s.unit) for s in data_sets] == [
        ("0-0:96.1.0", None),
        ("0.9.1", None),  # the clock: local time
        ("0.9.2", None),  # and date
        ("1.8.0", "kWh"),
        ("1.8.1", "kWh"),
        ("1.8.2", "kWh"),
        ("2.8.0", "kWh"),
        ("1.6.0", "W"),
        ("32.7.0", "V"),
        ("31.7.0", "A"),
    ]
    assert data_sets[0].value == SERIAL
    # Mode E on the same pty: HDLC at 9600, gurux reads the import register.
    hhu.rate(300)
    os.write(hhu.fd, pwitab.RequestMessage().to_bytes())
    hhu.until(b"\r\n")
    os.write(hhu.fd, b"\x06252\r\n")  # ACK, V=2 HDLC, Z=5 9600 baud, Y=2 mode E
    hhu.rate(9600)
    energy = GXDLMSRegister(IMPORT_ACTIVE)
    with hdlc_associated(LineStream(hhu.fd), IDIS_PHYSICAL, READER, b"00000001") as opened:
        opened.read(energy, 3)
        opened.read(energy, 2)
    assert energy.unit == UNIT_WH and energy.value >= 0
