"""The IEC 62056-21 optical port on a real pty (``transport/optical_serial.py``): the HHU
opens the slave and sets its rate in the terminal settings as a real HHU sets its UART. The
mode C readout is read by the pwitab ``iec62056-21`` parser (test-only, its own BCC check);
mode E hands the same pty to HDLC, where a DLMS GET is answered (golden frames of
protocols.md); garbage and a sign-on at the wrong rate get what docs/optical.md says and the
port goes on serving."""

from __future__ import annotations

import asyncio
import termios
from collections.abc import Awaitable, Callable

from iec62056_21 import messages as pwitab
from tests.dlms.test_server import FakeBackend
from tests.transport.pty_peer import PtyPeer
from tests.transport.test_hdlc_serial import DISC, associate, read_energy, settings

from metertwin.protocols.hdlc_frame import FrameType
from metertwin.protocols.iec62056_21 import DataSet
from metertwin.protocols.iec62056_21_meter import OpticalPort, OpticalPortConfig, PortState
from metertwin.transport import eventloop
from metertwin.transport.hdlc_serial import HdlcSerialServer
from metertwin.transport.optical_serial import OpticalSerialPort
from metertwin.transport.serial_line import SerialLine

READOUT = [
    DataSet("0-0:96.1.0", "12345678"),
    DataSet("1.8.0", "001234.567", "kWh"),
    DataSet("32.7.0", "230.1", "V"),
]
SIGN_ON = pwitab.RequestMessage().to_bytes()  # /?!\r\n
IDENTIFICATION = b"/MTW5\\2PMM1220\r\n"


def set_rate(peer: PtyPeer, baud: int) -> None:
    """The HHU's UART at ``baud`` (on a pty: the terminal settings both ends share)."""
    attributes = termios.tcgetattr(peer.fd)
    attributes[4] = attributes[5] = getattr(termios, f"B{baud}")
    termios.tcsetattr(peer.fd, termios.TCSANOW, attributes)


def run_optical(scenario: Callable[[OpticalSerialPort, PtyPeer], Awaitable[None]]) -> FakeBackend:
    backend = FakeBackend(public_conformance=FakeBackend().reader_conformance)

    async def main() -> None:
        line = SerialLine.open_pty(300)
        port = OpticalPort(
            OpticalPortConfig("MTW", "PMM1220"),
            readout=lambda: READOUT,
            check_password=lambda password: password == "00000000",
        )
        hdlc = HdlcSerialServer(backend, line, settings())
        optical = OpticalSerialPort(port, line, hdlc)
        await optical.start()
        peer = PtyPeer(line.path)
        try:
            await asyncio.wait_for(scenario(optical, peer), 30)
        finally:
            peer.close()
            await optical.stop()

    eventloop.run(main())
    return backend


async def send_then_switch(peer: PtyPeer, data: bytes, baud: int) -> None:
    """Send at the present rate, then switch once it is out (as an HHU waits for its UART)."""
    peer.send(data)
    await asyncio.sleep(0.1)
    set_rate(peer, baud)


async def sign_on(peer: PtyPeer) -> None:
    set_rate(peer, 300)
    peer.send(SIGN_ON)
    assert await peer.read_until(b"\r\n") == IDENTIFICATION


async def read_mode_c(peer: PtyPeer) -> list[tuple[str, str, str | None]]:
    await sign_on(peer)
    await send_then_switch(
        peer, pwitab.AckOptionSelectMessage(baud_char="5", mode_char="0").to_bytes(), 9600
    )
    readout = await peer.read_until(b"\x03")
    readout += await peer.read_count(1)  # the BCC
    parsed = pwitab.ReadoutDataMessage.from_bytes(readout)  # raises on a wrong BCC
    return [
        (s.address, s.value, s.unit)
        for line in parsed.data_block.data_lines
        for s in line.data_sets
    ]


def test_a_mode_c_readout_at_9600_is_read_by_the_pwitab_parser_and_the_port_returns_to_300() -> (
    None
):
    async def scenario(optical: OpticalSerialPort, peer: PtyPeer) -> None:
        assert await read_mode_c(peer) == [
            ("0-0:96.1.0", "12345678", None),
            ("1.8.0", "001234.567", "kWh"),
            ("32.7.0", "230.1", "V"),
        ]
        await asyncio.sleep(0.05)
        assert optical.port.state is PortState.IDLE and optical.line.format.baud == 300
        await sign_on(peer)  # a new session at 300 baud

    run_optical(scenario)


def test_mode_e_hands_the_pty_to_hdlc_where_a_get_is_answered_and_disc_ends_it() -> None:
    async def scenario(optical: OpticalSerialPort, peer: PtyPeer) -> None:
        await sign_on(peer)
        await send_then_switch(peer, b"\x06252\r\n", 9600)  # ACK V=2 (HDLC) Z=5 Y=2 (mode E)
        await asyncio.sleep(0.05)
        assert optical.binary and optical.line.format.baud == 9600
        assert not optical.line.format.seven_even
        await associate(peer)
        await read_energy(peer)
        peer.send(DISC)
        assert (await peer.frame()).kind is FrameType.UA
        await asyncio.sleep(0.05)
        assert not optical.binary and optical.line.format.baud == 300
        await sign_on(peer)  # the optical port again

    backend = run_optical(scenario)
    assert len(backend.associated_calls) == len(backend.released_calls) == 1


def test_garbage_and_a_sign_on_at_the_wrong_rate_get_silence_and_the_port_keeps_serving() -> None:
    async def scenario(optical: OpticalSerialPort, peer: PtyPeer) -> None:
        set_rate(peer, 300)
        peer.send(b"\x00\xff garbage \x7e\x7e!!")
        set_rate(peer, 9600)  # the HHU forgot the 300 baud of the sign-on
        peer.send(SIGN_ON)
        assert await peer.silence(0.5) == b""
        assert optical.port.state is PortState.IDLE
        await sign_on(peer)
        # A bad BCC in programming mode gets NAK (docs/optical.md), and the session goes on.
        await send_then_switch(
            peer, pwitab.AckOptionSelectMessage(baud_char="5", mode_char="1").to_bytes(), 9600
        )
        await peer.read_count(1)  # SOH of the P0 message
        p0 = await peer.read_until(b"\x03") + await peer.read_count(1)
        assert p0.startswith(b"P0")
        password = pwitab.CommandMessage.for_single_read("0.0.0")  # any command
        bad = bytearray(password.to_bytes())
        bad[-1] ^= 0x01
        peer.send(bytes(bad))
        assert await peer.read_count(1) == b"\x15"  # NAK
        assert optical.port.state is PortState.PASSWORD

    run_optical(scenario)
