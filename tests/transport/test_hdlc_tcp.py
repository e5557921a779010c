"""HDLC over TCP (``transport/hdlc_tcp.py``) over real sockets on 127.0.0.1: the golden frames
of protocols.md (dlms-cosem's SNRM and AARQ, server logical 1, physical 17, client 16), framing
cut and glued by the stream, the all-station address, the link dropping its associations, and
the wrapper server's admission and timeouts.

Every scenario runs on asyncio's event loop and on uvloop's (``conftest.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from tests.dlms.test_server import FakeBackend
from tests.protocols.hdlc_vectors import AARE, AARQ, CLIENT, SERVER, SNRM
from tests.transport import test_tcp

from metertwin.dlms.server.connection import ServerSettings
from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    control_i,
    control_s,
    control_u,
)
from metertwin.protocols.hdlc_link import LLC_COMMAND, HdlcServerLink
from metertwin.transport.channel import ConnectionEvent
from metertwin.transport.hdlc_tcp import HdlcTcpServer, HdlcTcpServerSettings

TIMEOUT = 5.0
GET_TIME_ZONE = bytes.fromhex("C001C100080000010000FF0300")  # gosem get_test
TIME_ZONE = bytes.fromhex("C401C10010003C")

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]

pytestmark = pytest.mark.usefixtures("event_loop_kind")


def settings(**overrides: object) -> HdlcTcpServerSettings:
    values: dict[str, object] = {
        "physical_address": 17,
        "dlms": ServerSettings(max_receive_pdu_size=1224),
    }
    values.update(overrides)
    return HdlcTcpServerSettings(**values)  # type: ignore[arg-type]


def command(control: int, information: bytes = b"", destination: HdlcAddress = SERVER) -> bytes:
    return HdlcFrame(destination, CLIENT, control, information).encode()


SNRM_FRAME = command(control_u(FrameType.SNRM, True))
DISC = command(control_u(FrameType.DISC, True))


class HdlcPeer:
    """A client's socket: octets out, whole frames back (the server's octets must be clean)."""

    def __init__(self, streams: Streams) -> None:
        self.reader, self.writer = streams
        self.decoder = HdlcDecoder()
        self.frames: list[HdlcFrame] = []

    async def send(self, octets: bytes) -> None:
        self.writer.write(octets)
        await self.writer.drain()

    async def frame(self) -> HdlcFrame:
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(4096), TIMEOUT)
            assert data, "the server closed the connection"
            self.frames += self.decoder.feed(data)
        assert self.decoder.stats.malformed == self.decoder.stats.bad_fcs == 0
        return self.frames.pop(0)

    async def raw_frame(self) -> bytes:
        return (await self.frame()).encode()

    async def closed(self) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(100), TIMEOUT) == b""
        except ConnectionResetError:
            return True


def run_with_server(
    scenario: Callable[[HdlcTcpServer, FakeBackend], Awaitable[None]],
    server_settings: HdlcTcpServerSettings | None = None,
    on_event: Callable[[ConnectionEvent], None] | None = None,
) -> FakeBackend:
    return test_tcp.run_with_server(
        scenario, server_settings or settings(), on_event, HdlcTcpServer
    )


async def connect(server: HdlcTcpServer) -> HdlcPeer:
    return HdlcPeer(await asyncio.open_connection("127.0.0.1", server.port))


def test_golden_snrm_and_aarq_get_ua_and_the_golden_aare_then_a_get_is_answered() -> None:
    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        peer = await connect(server)
        await peer.send(SNRM)
        assert (await peer.frame()).kind is FrameType.UA
        await peer.send(AARQ)
        assert await peer.raw_frame() == AARE
        await peer.send(command(control_i(1, 1, True), LLC_COMMAND + GET_TIME_ZONE))
        answer = await peer.frame()
        assert answer.kind is FrameType.I and answer.information == b"\xe6\xe7\x00" + TIME_ZONE
        assert len(backend.associated_calls) == 1

    run_with_server(scenario)


def test_frames_cut_at_every_octet_or_glued_in_one_write_are_all_answered() -> None:
    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        peer = await connect(server)
        for octet in SNRM + AARQ:  # one octet a write: TCP_NODELAY makes each a segment
            await peer.send(bytes([octet]))
        assert (await peer.frame()).kind is FrameType.UA
        assert await peer.raw_frame() == AARE
        glued = await connect(server)  # a second connection: its own link and channel
        await glued.send(b"\x00garbage\x7e\x7e" + SNRM + AARQ)
        assert (await glued.frame()).kind is FrameType.UA
        assert await glued.raw_frame() == AARE

    run_with_server(scenario, settings(max_connections=2))


def test_the_all_station_address_reaches_the_meter_and_another_address_gets_silence() -> None:
    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        peer = await connect(server)
        await peer.send(command(control_u(FrameType.SNRM, True), destination=HdlcAddress(1, 18, 2)))
        for size, all_station in ((2, 0x7F), (4, 0x3FFF)):
            destination = HdlcAddress(1, all_station, size)
            await peer.send(command(control_u(FrameType.DISC, True), destination=destination))
            # Not connected: the SNRM to 18 was not ours. But DM comes: the address is ours.
            assert (await peer.frame()).kind is FrameType.DM
            await peer.send(command(control_u(FrameType.SNRM, True), destination=destination))
            ua = await peer.frame()
            assert ua.kind is FrameType.UA and ua.source == destination
            await peer.send(command(control_u(FrameType.DISC, True), destination=destination))
            assert (await peer.frame()).kind is FrameType.UA
        assert server.connection_count == 1

    run_with_server(scenario)


def test_disc_ends_the_association_over_the_link_and_the_tcp_connection_goes_on() -> None:
    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        peer = await connect(server)
        await peer.send(SNRM + AARQ)
        await peer.frame()
        assert await peer.raw_frame() == AARE
        await peer.send(DISC)
        assert (await peer.frame()).kind is FrameType.UA
        await asyncio.sleep(0)
        assert len(backend.released_calls) == 1
        await peer.send(SNRM + AARQ)  # a new link, a new association on the same socket
        await peer.frame()
        assert await peer.raw_frame() == AARE
        assert len(backend.associated_calls) == 2

    run_with_server(scenario)


def test_one_connection_at_a_time_refuses_a_second_with_the_event() -> None:
    events: list[ConnectionEvent] = []

    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        first = await connect(server)
        await first.send(SNRM + AARQ)
        await first.frame()
        await first.frame()
        second = await connect(server)
        assert await second.closed()
        await first.send(command(control_i(1, 1, True), LLC_COMMAND + GET_TIME_ZONE))
        assert (await first.frame()).information.endswith(TIME_ZONE)

    run_with_server(scenario, settings(single_connection=True), events.append)
    assert events == [ConnectionEvent.REFUSED_ONE_AT_A_TIME]


def test_a_connection_without_frames_closes_idle_with_the_event() -> None:
    events: list[ConnectionEvent] = []

    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        peer = await connect(server)
        await peer.send(SNRM[:5])  # part of a frame is no activity
        assert await peer.closed()

    run_with_server(scenario, settings(inactivity_timeout_s=0.2), events.append)
    assert events == [ConnectionEvent.CLOSED_IDLE]


def test_the_link_inactivity_timeout_returns_the_link_to_ndm_and_ends_the_association() -> None:
    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        peer = await connect(server)
        await peer.send(SNRM + AARQ)
        await peer.frame()
        assert await peer.raw_frame() == AARE
        while not backend.released_calls:  # the link's timer, no frame from the client
            await asyncio.sleep(0.05)
        await peer.send(command(control_s(FrameType.RR, 1, True)))
        assert (await peer.frame()).kind is FrameType.DM  # a station in NDM answers DM

    run_with_server(scenario, settings(link_inactivity_timeout_s=0.2))


def test_a_frame_stopped_half_way_is_given_up_at_the_inter_octet_timeout() -> None:
    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        peer = await connect(server)
        await peer.send(AARQ[:20])  # announces 44 octets: would swallow the SNRM after it
        while server_link(server).decoder.stats.inter_octet_timeouts == 0:
            await asyncio.sleep(0.05)
        await peer.send(SNRM)
        assert (await peer.frame()).kind is FrameType.UA

    run_with_server(scenario, settings(inter_octet_timeout_s=0.1))


def test_a_frame_not_complete_within_the_frame_timeout_closes_the_connection() -> None:
    events: list[ConnectionEvent] = []

    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        peer = await connect(server)
        await peer.send(SNRM)
        await peer.frame()
        await peer.send(AARQ[:20])
        assert await peer.closed()

    run_with_server(
        scenario, settings(frame_timeout_s=0.2, inter_octet_timeout_s=60.0), events.append
    )
    assert events == [ConnectionEvent.CLOSED_FRAME_TIMEOUT]


def test_a_failure_inside_one_connection_closes_that_connection_alone() -> None:
    async def scenario(server: HdlcTcpServer, backend: FakeBackend) -> None:
        broken = await connect(server)
        await broken.send(SNRM)
        await broken.frame()
        healthy = await connect(server)

        def fail(data: object, now: float) -> None:
            raise RuntimeError("a bug in the link")

        server_link(server, 0).receive = fail  # type: ignore[method-assign, assignment]
        await broken.send(AARQ)
        assert await broken.closed()
        await healthy.send(SNRM + AARQ)
        await healthy.frame()
        assert await healthy.raw_frame() == AARE

    run_with_server(scenario, settings(max_connections=2))


def test_bad_settings_are_refused_when_made() -> None:
    with pytest.raises(ValueError, match="max_info_receive"):
        settings(max_info_receive=10)
    with pytest.raises(ValueError, match="physical address"):
        settings(physical_address=0x4000)


def server_link(server: HdlcTcpServer, index: int | None = None) -> HdlcServerLink:
    """The link of the one connection served (or of the ``index``-th accepted)."""
    sessions = list(server._sessions)
    if index is None:
        [connection] = sessions
    else:
        connection = sessions[index]
    link: HdlcServerLink = connection.link  # type: ignore[attr-defined]
    return link
