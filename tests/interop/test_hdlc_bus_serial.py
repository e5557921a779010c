"""An RS-485 bus on a serial line (issue 13, items 3 and 4: "the bus is reachable the same
ways"): three meters of three models on one pty. gurux's client selects each by the physical
address of its 8 or 10 digits (seed 004) and reads its own serial number; an all-station SNRM
is answered by all three at once and nothing decodes; on a line paced at its baud, a meter
still talking when another answers garbles both, and a head-end that waits for each answer
hears them whole (docs/hdlc.md, "An RS-485 bus", "On a serial line")."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterator

import pytest
from tests.interop.conftest import LoopThread
from tests.interop.gurux_client import TIMEOUT_S, LineStream, make_hdlc_client
from tests.interop.test_gurux import PUBLIC
from tests.interop.test_hdlc_bus import MEMBERS, SERIALS, bus_meters, read_serial_on

from metertwin.protocols.hdlc_frame import FrameType, HdlcDecoder, HdlcFrame
from metertwin.protocols.rs485_bus import select_member
from metertwin.transport.hdlc_bridge import HdlcServerSettings
from metertwin.transport.hdlc_bus_serial import HdlcBusSerialServer, line_octet_time
from metertwin.transport.serial_line import SerialLine

ALL_STATIONS = 0x3FFF
QUIET_S = 0.3  # the line is taken as done talking after this long without an octet

BusOnPty = Callable[..., HdlcBusSerialServer]


@pytest.fixture
def bus_on_pty(loop_thread: LoopThread) -> Iterator[BusOnPty]:
    """``bus_on_pty(paced, baud=9600)``: the three meters on a new pty, served in the loop
    thread; stopped at the end."""
    started: list[HdlcBusSerialServer] = []

    def start(paced: bool, baud: int = 9600) -> HdlcBusSerialServer:
        meters = bus_meters()

        async def opened() -> HdlcBusSerialServer:
            line = SerialLine.open_pty(baud, paced=paced)
            server = HdlcBusSerialServer(meters, line, HdlcServerSettings())
            await server.start()
            return server

        server: HdlcBusSerialServer = loop_thread.run(opened())
        started.append(server)
        return server

    yield start
    for server in started:
        loop_thread.run(server.stop())


def snrm_to(physical: int) -> bytes:
    return bytes(make_hdlc_client(PUBLIC, physical).snrmRequest())


def heard(line: LineStream) -> list[HdlcFrame]:
    """The frames that decode from what the line carries, from its first octet (within
    :data:`TIMEOUT_S`) until it is quiet; fails when nothing comes."""
    decoder, frames, octets = HdlcDecoder(), [], 0
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([line.fd], [], [], QUIET_S if octets else TIMEOUT_S)
        if not ready:
            break
        data = os.read(line.fd, 4096)
        octets += len(data)
        frames += decoder.feed(data, time.monotonic())
    assert octets, "the line stayed silent"
    return frames


def test_gurux_selects_each_of_three_meters_on_the_pty_and_reads_its_own_serial(
    bus_on_pty: BusOnPty,
) -> None:
    server = bus_on_pty(False)
    assert line_octet_time(server.line) == 0.0  # an unpaced pty moves octets at once
    line = LineStream(server.line.path)
    try:
        for digits, serial in zip(("11620371", "5011620372", "50-1162-0373"), SERIALS, strict=True):
            member = select_member(digits, MEMBERS)
            assert read_serial_on(line, member.physical_address) == serial.encode()
        assert read_serial_on(line, MEMBERS[0].physical_address) == b"11620371"
    finally:
        line.close()
    assert server.bus is not None and server.bus.collisions == 0


def test_an_all_station_snrm_on_the_pty_collides_and_the_meters_go_on(
    bus_on_pty: BusOnPty,
) -> None:
    server = bus_on_pty(False)
    line = LineStream(server.line.path)
    try:
        line.sendall(snrm_to(ALL_STATIONS))
        assert heard(line) == []  # three UAs at once: nothing whole
        assert server.bus is not None and server.bus.collisions == 1
        # Selected by its address, a meter answers as before (the broadcast connected each
        # link; the SNRM resets this one's).
        assert read_serial_on(line, MEMBERS[1].physical_address) == b"11620372"
    finally:
        line.close()


def test_on_a_paced_line_a_meter_still_talking_garbles_the_next_answer(
    bus_on_pty: BusOnPty,
) -> None:
    """At 300 baud an SNRM (10 octets) takes a third of a second and its UA with parameters
    (24 octets) 0.8 s: an SNRM to the second meter sent right after one to the first reaches
    the bus while the first meter's UA is on the line, so both talk at once and neither UA
    arrives whole. Waiting for each UA before the next SNRM, the head-end hears both whole."""
    server = bus_on_pty(True, 300)
    assert line_octet_time(server.line) == pytest.approx(10 / 300)
    line = LineStream(server.line.path)
    try:
        first, second = MEMBERS[0].physical_address, MEMBERS[1].physical_address
        line.sendall(snrm_to(first))
        time.sleep(0.05)  # read apart: the second comes while the first UA is being sent
        line.sendall(snrm_to(second))
        assert [f for f in heard(line) if f.kind is FrameType.UA] == []
        assert server.bus is not None and server.bus.collisions == 1
        for physical in (first, second):
            line.sendall(snrm_to(physical))
            answers = heard(line)
            assert [f.kind for f in answers] == [FrameType.UA]
            assert answers[0].source.lower == physical
        assert server.bus.collisions == 1
    finally:
        line.close()
