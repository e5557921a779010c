"""HDLC on a serial line (``transport/hdlc_serial.py`` over ``serial_line.py``) on a real pty:
the client opens the slave path as a head-end opens ``/dev/ttyUSB0``; golden frames of
protocols.md (dlms-cosem's SNRM and AARQ, server logical 1, physical 17, client 16), a
register read, frames cut and glued, garbage, DISC, the line's timeouts resetting the link
and the line going on serving."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.dlms.test_server import FakeBackend
from tests.protocols.hdlc_vectors import AARE, AARQ, CLIENT, SERVER, SNRM
from tests.transport.pty_peer import PtyPeer

from metertwin.dlms.server.connection import ServerSettings
from metertwin.protocols.hdlc_frame import FrameType, HdlcFrame, control_i, control_u
from metertwin.protocols.hdlc_link import LLC_COMMAND
from metertwin.transport import eventloop
from metertwin.transport.channel import ConnectionEvent
from metertwin.transport.hdlc_bridge import SERIAL_INTER_OCTET_TIMEOUT_S, HdlcServerSettings
from metertwin.transport.hdlc_serial import HdlcSerialServer
from metertwin.transport.serial_line import LineFormat, SerialLine

# GET-request-normal, invoke-id 0xC1, class 3, 1.0.1.8.0.255 attribute 2 (Blue Book 9.3);
# the FakeBackend's value 12345 as double-long-unsigned in the GET-response-normal.
GET_ENERGY = bytes.fromhex("C001C100030100010800FF0200")
ENERGY_12345 = bytes.fromhex("C401C1000600003039")
DISC = HdlcFrame(SERVER, CLIENT, control_u(FrameType.DISC, True)).encode()


def settings(**overrides: object) -> HdlcServerSettings:
    values: dict[str, object] = {
        "physical_address": 17,
        "dlms": ServerSettings(max_receive_pdu_size=1224),
    }
    values.update(overrides)
    return HdlcServerSettings(**values)  # type: ignore[arg-type]


def run_on_pty(
    scenario: Callable[[HdlcSerialServer, PtyPeer], Awaitable[None]],
    server_settings: HdlcServerSettings | None = None,
    on_event: Callable[[ConnectionEvent], None] | None = None,
) -> FakeBackend:
    backend = FakeBackend(public_conformance=FakeBackend().reader_conformance)

    async def main() -> None:
        line = SerialLine.open_pty(9600)
        server = HdlcSerialServer(backend, line, server_settings or settings(), on_event)
        await server.start()
        peer = PtyPeer(line.path)
        try:
            await asyncio.wait_for(scenario(server, peer), 20)
        finally:
            peer.close()
            await server.stop()

    eventloop.run(main())
    return backend


async def associate(peer: PtyPeer) -> None:
    peer.send(SNRM)
    assert (await peer.frame()).kind is FrameType.UA
    peer.send(AARQ)
    assert (await peer.frame()).encode() == AARE


async def read_energy(peer: PtyPeer, ns: int = 1, nr: int = 1) -> None:
    peer.send(HdlcFrame(SERVER, CLIENT, control_i(ns, nr, True), LLC_COMMAND + GET_ENERGY).encode())
    answer = await peer.frame()
    assert answer.kind is FrameType.I and answer.information == b"\xe6\xe7\x00" + ENERGY_12345


def test_the_slave_path_is_a_pty_and_a_register_is_read_over_hdlc() -> None:
    async def scenario(server: HdlcSerialServer, peer: PtyPeer) -> None:
        assert server.line.path.startswith("/dev/pts/")
        await associate(peer)
        await read_energy(peer)
        peer.send(DISC)
        assert (await peer.frame()).kind is FrameType.UA

    backend = run_on_pty(scenario)
    assert len(backend.associated_calls) == len(backend.released_calls) == 1


def test_frames_octet_by_octet_glued_and_after_garbage_are_answered() -> None:
    async def scenario(server: HdlcSerialServer, peer: PtyPeer) -> None:
        for octet in SNRM:  # the pty delivers them as they come, within 25 ms of each other
            peer.send(bytes([octet]))
        assert (await peer.frame()).kind is FrameType.UA
        peer.send(b"\x00garbage\x7e\x7e" + AARQ)
        assert (await peer.frame()).encode() == AARE
        await read_energy(peer)

    run_on_pty(scenario)


def test_a_frame_cut_longer_than_the_inter_octet_timeout_is_dropped_and_the_next_served() -> None:
    async def scenario(server: HdlcSerialServer, peer: PtyPeer) -> None:
        peer.send(SNRM[:5])
        await asyncio.sleep(SERIAL_INTER_OCTET_TIMEOUT_S * 8)
        peer.send(SNRM[5:])  # the rest, too late: not a frame
        assert await peer.silence(0.2) == b""
        await associate(peer)

    assert settings().link.inter_octet_timeout == SERIAL_INTER_OCTET_TIMEOUT_S == 0.025
    run_on_pty(scenario)


def test_channel_inactivity_ends_the_association_and_the_line_serves_a_new_snrm() -> None:
    events: list[ConnectionEvent] = []

    async def scenario(server: HdlcSerialServer, peer: PtyPeer) -> None:
        await associate(peer)
        await asyncio.sleep(0.5)  # past the inactivity timeout
        assert not server.link_connected
        await associate(peer)  # a new link, a new association on the same line
        await read_energy(peer)

    backend = run_on_pty(scenario, settings(inactivity_timeout_s=0.2), events.append)
    assert events[0] is ConnectionEvent.CLOSED_IDLE
    assert len(backend.associated_calls) == 2 and len(backend.released_calls) >= 1


def test_an_apdu_for_a_logical_device_not_served_resets_the_line_which_keeps_serving() -> None:
    events: list[ConnectionEvent] = []

    async def scenario(server: HdlcSerialServer, peer: PtyPeer) -> None:
        await associate(peer)
        server.backends.pop(1)  # the logical device vanishes under the open link
        await read_energy_refused(peer)
        server.backends[1] = FakeBackend(public_conformance=FakeBackend().reader_conformance)
        await associate(peer)
        await read_energy(peer)

    async def read_energy_refused(peer: PtyPeer) -> None:
        peer.send(SNRM)  # the link resets: the channel's association for SAP 1 is dropped
        assert (await peer.frame()).kind is FrameType.UA
        peer.send(AARQ)
        assert (await peer.frame()).kind is FrameType.RR  # no AARE: no device, the line resets

    run_on_pty(scenario, None, events.append)
    assert events == [ConnectionEvent.CLOSED_UNKNOWN_WPORT]


def test_a_line_format_change_records_the_speed_on_the_pty() -> None:
    async def scenario(server: HdlcSerialServer, peer: PtyPeer) -> None:
        import termios

        server.line.set_format(LineFormat(19200))
        server.line.write(b"")  # nothing to send: the change alone
        await asyncio.sleep(0.05)
        assert server.line.format.baud == 19200
        assert termios.tcgetattr(peer.fd)[4] == termios.B19200
        await associate(peer)

    run_on_pty(scenario)


def test_run_refuses_a_serial_device_that_does_not_open_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    missing = str(tmp_path / "ttyUSB9")
    done = subprocess.run(
        [
            sys.executable, "-m", "metertwin", "run", "--api-port", "off",
            "--data", str(tmp_path / "m"),
            "--port", "0", "--no-panel", "--duration", "5", "--serial-line", missing,
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert f"--serial-line {missing}: cannot open" in line


def test_a_client_that_closes_the_pty_and_opens_it_again_is_served() -> None:
    async def scenario(server: HdlcSerialServer, peer: PtyPeer) -> None:
        await associate(peer)
        peer.send(DISC)
        assert (await peer.frame()).kind is FrameType.UA
        peer.close()
        again = PtyPeer(server.line.path)
        try:
            await associate(again)
            await read_energy(again)
        finally:
            again.close()

    run_on_pty(scenario)
