"""Interop on an RS-485 bus (issue 13, items 2 and 3): three meters of three models behind one
HDLC-over-TCP line. gurux's client selects each by its physical address (from the 8 digits of
its serial or the 10 of its module's, seed 004) over the one TCP connection and reads its
serial number object, getting that meter's own; dlms-cosem's HDLC client reads a register of
one of them; ``metertwin bus --meters 3 --hdlc-port 0`` starts and announces each meter's
serial and address, and gurux reads the announced meter there."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dlms_cosem import enumerations
from gurux_dlms.objects import GXDLMSData
from tests.interop.conftest import (
    START_MS,
    STARTUP_TIMEOUT_S,
    LoopThread,
    _line_within,
    interrupt,
)
from tests.interop.gurux_client import TIMEOUT_S, GuruxSession, LineStream, make_hdlc_client
from tests.interop.test_gurux import PUBLIC
from tests.interop.test_hdlc_tcp import dlms_cosem_get

from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.protocols.rs485_bus import BusMember, select_member
from metertwin.transport.hdlc_bus import BusMeter, HdlcBusServer
from metertwin.transport.hdlc_tcp import HdlcTcpServerSettings

MODELS = ("az3p", "magno22", "pmm1220")
SERIALS = ("11620371", "11620372", "11620373")
SERIAL_NUMBER = "0.0.96.1.0.255"
MEMBERS = [BusMember(serial) for serial in SERIALS]


def bus_meters() -> list[BusMeter]:
    """The three meters of :data:`MODELS` with :data:`SERIALS`, each at its IDIS address."""
    meters = []
    for name, serial in zip(MODELS, SERIALS, strict=True):
        model = load_model(name)
        device = build_logical_device(model, Meter(model.spec, START_MS, serial), lambda: None)
        saps = frozenset({model.dlms.server_sap})
        meters.append(BusMeter(device, BusMember(serial).physical_address, saps))
    return meters


def start_bus(command: list[str], errors: Path) -> subprocess.Popen[str]:
    """``python -m metertwin`` + ``command``, stdout a pipe, stderr to ``errors``."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with errors.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "metertwin", *command],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )


@pytest.fixture
def bus(loop_thread: LoopThread) -> Iterator[HdlcBusServer]:
    server = HdlcBusServer(bus_meters(), "127.0.0.1", 0, HdlcTcpServerSettings())
    loop_thread.run(server.start())
    yield server
    loop_thread.run(server.stop())


def read_serial_on(line: socket.socket | LineStream, physical: int) -> bytes:
    """gurux on the shared line: SNRM to ``physical``, associate, read the serial, release, DISC."""
    opened = GuruxSession(0, make_hdlc_client(PUBLIC, physical), line=line)
    opened.client.parseUAResponse(opened.exchange(opened.client.snrmRequest()).data)
    opened.associate()
    serial = GXDLMSData(SERIAL_NUMBER)
    opened.read(serial, 2)
    opened.release()
    opened.exchange(opened.client.disconnectRequest())
    # Every frame went to that meter's address (four octets: logical 1, physical).
    expected = bytes([0x00, 0x02, physical >> 6 & 0xFE, (physical << 1 & 0xFE) | 1])
    assert {frame[3:7] for frame in opened.sent} == {expected}
    value = serial.value
    return value.encode() if isinstance(value, str) else bytes(value)


def test_gurux_selects_each_of_three_meters_on_one_line_and_reads_its_own_serial(
    bus: HdlcBusServer,
) -> None:
    entered = ("11620371", "5011620372", "11620373")  # both forms of seed 004
    with socket.create_connection(("127.0.0.1", bus.port), timeout=TIMEOUT_S) as line:
        line.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for digits, serial in zip(entered, SERIALS, strict=True):
            member = select_member(digits, MEMBERS)
            assert read_serial_on(line, member.physical_address) == serial.encode()
        # And again in another order, on the same line: each link was left disconnected.
        assert read_serial_on(line, MEMBERS[0].physical_address) == b"11620371"


def test_dlms_cosem_reads_a_register_of_one_meter_on_the_bus(bus: HdlcBusServer) -> None:
    physical = select_member("5011620372", MEMBERS).physical_address
    raw = dlms_cosem_get(bus.port, physical, enumerations.CosemInterface.DATA, SERIAL_NUMBER)
    assert raw == b"\x09\x08" + b"11620372"  # octet-string, the second meter's


def test_metertwin_bus_starts_announces_its_meters_and_answers_each(tmp_path: Path) -> None:
    command = [
        "bus", "--meters", "3", "--model", "az3p,magno22",
        "--hdlc-port", "0", "--data", str(tmp_path / "bus"), "--serial", "40000001",
        "--start", "2026-03-02T10:00:00", "--duration", "60",
    ]  # fmt: skip
    errors = tmp_path / "stderr.txt"
    process = start_bus(command, errors)
    try:
        assert process.stdout is not None
        header = _line_within(process.stdout, STARTUP_TIMEOUT_S)
        match = re.fullmatch(r"HDLC bus of 3 meters on 127\.0\.0\.1:(\d+)\n", header)
        assert match is not None, f"{header!r}; stderr: {errors.read_text()}"
        port = int(match.group(1))
        announced = [_line_within(process.stdout, STARTUP_TIMEOUT_S) for _ in range(3)]
        threading.Thread(target=process.stdout.read, daemon=True).start()
        pattern = (
            r"meter (\d) (\w+) serial (\d+) module (\d+) physical address (\d+) server SAP 1"
            r" data (.+)\n"
        )
        rows = [re.fullmatch(pattern, line) for line in announced]
        assert all(rows), announced
        found = [row.groups() for row in rows if row is not None]
        assert [row[:5] for row in found] == [
            ("1", "az3p", "40000001", "5040000001", "1001"),
            ("2", "magno22", "40000002", "5040000002", "1002"),
            ("3", "az3p", "40000003", "5040000003", "1003"),
        ]
        # One memory per meter, each its own SQLite.
        assert len({Path(row[5]) for row in found}) == 3
        assert all(any(Path(row[5]).iterdir()) for row in found)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as line:
            assert read_serial_on(line, 1003) == b"40000003"
            assert read_serial_on(line, 1002) == b"40000002"
    finally:
        interrupt(process)
    assert process.returncode == 0, errors.read_text()
