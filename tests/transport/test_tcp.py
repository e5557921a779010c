"""The DLMS/COSEM TCP server over real sockets on 127.0.0.1 (IEC 62056-47 wrapper; protocols.md
"DLMS over TCP"; seed 004, 3.1 and 4.1 for one connection at a time and the idle timeout).

Every scenario runs on asyncio's event loop and on uvloop's (``conftest.py``)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from tests.dlms.test_server import PUBLIC_SAP, READER_SAP, FakeBackend

from metertwin.dlms.server.connection import ServerConnection, ServerSettings
from metertwin.transport import channel, eventloop
from metertwin.transport.channel import DEFAULT_MAX_CONNECTIONS, ConnectionEvent
from metertwin.transport.tcp import READ_BUFFER_SIZE, DlmsTcpServer, TcpServerSettings

H = bytes.fromhex
TIMEOUT = 5.0
# protocols.md, HDLC vectors: AARQ without security and a client PDU of 65535.
AARQ = H("601DA109060760857405080101BE10040E01000000065F1F0400001E1DFFFF")
AARE = H("6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400001E1D04000007")
GET_TIME_ZONE = H("C001C100080000010000FF0300")  # gosem get_test: -> C401C10010003C
TIME_ZONE = H("C401C10010003C")

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
S = TypeVar("S", bound=DlmsTcpServer)

pytestmark = pytest.mark.usefixtures("event_loop_kind")


def wrap(apdu: bytes, source: int = PUBLIC_SAP, destination: int = 1, version: int = 1) -> bytes:
    return struct.pack(">HHHH", version, source, destination, len(apdu)) + apdu


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    header = await asyncio.wait_for(reader.readexactly(8), TIMEOUT)
    version, source, destination, length = struct.unpack(">HHHH", header)
    assert version == 1
    return source, destination, await asyncio.wait_for(reader.readexactly(length), TIMEOUT)


async def exchange(streams: Streams, apdu: bytes, source: int = PUBLIC_SAP) -> bytes:
    reader, writer = streams
    writer.write(wrap(apdu, source))
    await writer.drain()
    answer_source, answer_destination, answer = await read_frame(reader)
    assert (answer_source, answer_destination) == (1, source)  # wPorts swapped
    return answer


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server closed the connection (EOF or reset) within the timeout."""
    try:
        return await asyncio.wait_for(reader.read(100), TIMEOUT) == b""
    except ConnectionResetError:
        return True


def run_with_server(
    scenario: Callable[[S, FakeBackend], Awaitable[None]],
    settings: TcpServerSettings | None = None,
    on_event: Callable[[ConnectionEvent], None] | None = None,
    server_type: Callable[..., S] = DlmsTcpServer,  # type: ignore[assignment]
) -> FakeBackend:
    """``scenario`` against a listener of ``server_type`` (the wrapper's, or HDLC's in
    test_hdlc_tcp.py) on a free port, over a FakeBackend whose public client may do all."""
    backend = FakeBackend(public_conformance=FakeBackend().reader_conformance)

    async def main() -> None:
        server = server_type(backend, "127.0.0.1", 0, settings, on_event)
        await server.start()
        try:
            await asyncio.wait_for(scenario(server, backend), 4 * TIMEOUT)
        finally:
            await server.stop()

    eventloop.run(main())
    return backend


async def connect(server: DlmsTcpServer) -> Streams:
    return await asyncio.open_connection("127.0.0.1", server.port)


def test_associate_get_and_release_over_tcp() -> None:
    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        assert server.port != 0
        streams = await connect(server)
        assert await exchange(streams, AARQ) == AARE
        assert await exchange(streams, GET_TIME_ZONE) == TIME_ZONE
        assert await exchange(streams, H("6203800100")) == H("6303800100")
        streams[1].close()

    backend = run_with_server(scenario)
    assert len(backend.associated_calls) == len(backend.released_calls) == 1


def test_frames_split_across_reads() -> None:
    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        reader, writer = await connect(server)
        for octet in wrap(AARQ):
            writer.write(bytes((octet,)))
            await writer.drain()
            await asyncio.sleep(0.001)
        assert (await read_frame(reader))[2] == AARE
        frame = wrap(GET_TIME_ZONE)
        writer.write(frame[:3])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(frame[3:11])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(frame[11:])
        assert (await read_frame(reader))[2] == TIME_ZONE
        writer.close()

    run_with_server(scenario)


def test_two_frames_in_one_read() -> None:
    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        reader, writer = await connect(server)
        writer.write(wrap(AARQ) + wrap(GET_TIME_ZONE) + wrap(H("C001C2000100002B0100FF0200")))
        await writer.drain()
        assert (await read_frame(reader))[2] == AARE
        assert (await read_frame(reader))[2] == TIME_ZONE
        assert (await read_frame(reader))[2] == H("C401C2000600001391")
        writer.close()

    run_with_server(scenario)


def test_answers_are_not_delayed_by_nagle() -> None:
    """A head-end waits for each answer: the server's sockets send at once (TCP_NODELAY)."""

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        streams = await connect(server)
        assert await exchange(streams, AARQ) == AARE
        (connection,) = server._sessions
        assert connection.transport is not None
        sock = connection.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        streams[1].close()

    run_with_server(scenario)


def test_a_frame_longer_than_one_read_is_reassembled() -> None:
    """A frame of more octets than the connection reads at once arrives in several reads; the
    stream stays in step and the next frames are answered."""
    long_apdu = H("C001C1") + bytes(2 * READ_BUFFER_SIZE)  # a GET with trailing octets

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        streams = await connect(server)
        assert await exchange(streams, long_apdu) == H("D80203")
        assert await exchange(streams, AARQ) == AARE
        assert await exchange(streams, GET_TIME_ZONE) == TIME_ZONE
        streams[1].close()

    run_with_server(scenario, TcpServerSettings(max_frame_length=0xFFFF))


async def until_no_connection(server: DlmsTcpServer) -> None:
    """Wait until the server has seen its connections end (bounded by the scenario's
    timeout)."""
    while server.connection_count:
        await asyncio.sleep(0.01)


def test_single_connection_rejects_a_second_one_and_reports_it() -> None:
    """Seed 004, 4.1: "One connection is only allowed, other links are rejected."; the
    rejected connection is reported once (the meter logs 223), the served ones are not."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        first = await connect(server)
        assert await exchange(first, AARQ) == AARE
        second_reader, second_writer = await connect(server)
        assert await closed_by_server(second_reader)
        second_writer.close()
        assert events == [ConnectionEvent.REFUSED_ONE_AT_A_TIME]
        assert await exchange(first, GET_TIME_ZONE) == TIME_ZONE
        assert server.connection_count == 1
        first[1].close()
        await until_no_connection(server)
        third = await connect(server)
        assert await exchange(third, AARQ) == AARE
        third[1].close()
        await until_no_connection(server)

    run_with_server(scenario, TcpServerSettings(single_connection=True), events.append)
    assert events == [ConnectionEvent.REFUSED_ONE_AT_A_TIME]


def test_inactivity_timeout_closes_an_idle_connection_and_reports_it() -> None:
    """Seed 004, 3.1: the session ends when no data are transmitted for a while; the
    server closing it is reported (the meter logs 224)."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        reader, writer = await connect(server)
        assert await exchange((reader, writer), AARQ) == AARE
        await asyncio.sleep(0.1)  # activity keeps it open
        assert await exchange((reader, writer), GET_TIME_ZONE) == TIME_ZONE
        assert events == []
        assert await closed_by_server(reader)
        writer.close()
        assert len(backend.released_calls) == 1
        assert events == [ConnectionEvent.CLOSED_IDLE]

    run_with_server(scenario, TcpServerSettings(inactivity_timeout_s=0.3), events.append)
    assert events == [ConnectionEvent.CLOSED_IDLE]


def test_a_client_leaving_and_the_server_stopping_are_no_events() -> None:
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        leaving = await connect(server)
        assert await exchange(leaving, AARQ) == AARE
        leaving[1].close()
        await until_no_connection(server)
        staying = await connect(server)  # still open when the server stops
        assert await exchange(staying, AARQ) == AARE

    run_with_server(scenario, TcpServerSettings(single_connection=True), events.append)
    assert events == []


def test_a_failing_event_handler_changes_nothing_for_the_connections() -> None:
    def broken(event: ConnectionEvent) -> None:
        raise RuntimeError(f"cannot log {event}")

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        first = await connect(server)
        assert await exchange(first, AARQ) == AARE
        for _ in range(2):
            reader, writer = await connect(server)
            assert await closed_by_server(reader)
            writer.close()
        assert await exchange(first, GET_TIME_ZONE) == TIME_ZONE
        first[1].close()

    run_with_server(scenario, TcpServerSettings(single_connection=True), broken)


def test_garbage_on_one_connection_does_not_affect_another() -> None:
    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        good = await connect(server)
        assert await exchange(good, AARQ) == AARE
        bad_reader, bad_writer = await connect(server)
        bad_writer.write(b"\x00\x07garbage that is not a wrapper header")
        await bad_writer.drain()
        assert await closed_by_server(bad_reader)
        bad_writer.close()
        # a frame announcing more than the maximum is a framing error too
        long_reader, long_writer = await connect(server)
        long_writer.write(struct.pack(">HHHH", 1, 16, 1, 5000))
        await long_writer.drain()
        assert await closed_by_server(long_reader)
        long_writer.close()
        assert await exchange(good, GET_TIME_ZONE) == TIME_ZONE
        good[1].close()

    run_with_server(scenario, TcpServerSettings(max_frame_length=2048))


def test_malformed_apdus_are_answered_not_fatal() -> None:
    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        streams = await connect(server)
        assert await exchange(streams, b"") == H("D80203")
        assert await exchange(streams, GET_TIME_ZONE) == H("D80101")
        assert await exchange(streams, AARQ) == AARE
        assert await exchange(streams, H("C001C1")) == H("D80203")
        assert await exchange(streams, GET_TIME_ZONE) == TIME_ZONE
        streams[1].close()

    run_with_server(scenario)


def test_server_keeps_serving_after_a_client_leaves_mid_frame() -> None:
    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        reader, writer = await connect(server)
        assert await exchange((reader, writer), AARQ) == AARE
        writer.write(wrap(GET_TIME_ZONE)[:10])
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        for _ in range(100):
            if backend.released_calls:
                break
            await asyncio.sleep(0.01)
        assert len(backend.released_calls) == 1
        streams = await connect(server)
        assert await exchange(streams, AARQ) == AARE
        assert await exchange(streams, GET_TIME_ZONE) == TIME_ZONE
        streams[1].close()

    run_with_server(scenario)


def test_a_frame_for_an_unknown_logical_device_closes_the_connection_and_is_reported() -> None:
    """Issue 11.10: a frame for a server wPort the meter does not have is not left unanswered
    (the client would wait for its own timeout): the frames before it are answered, then the
    connection is closed at once and reported (the meter logs 222). Other connections go on;
    a broadcast (wPort 127, no answer due) is ignored without closing."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        other = await connect(server)
        assert await exchange(other, AARQ) == AARE
        reader, writer = await connect(server)
        writer.write(wrap(GET_TIME_ZONE, destination=127) + wrap(AARQ))
        await writer.drain()
        assert await read_frame(reader) == (1, PUBLIC_SAP, AARE)
        writer.write(wrap(GET_TIME_ZONE) + wrap(AARQ, destination=17) + wrap(GET_TIME_ZONE))
        await writer.drain()
        assert await read_frame(reader) == (1, PUBLIC_SAP, TIME_ZONE)
        assert await closed_by_server(reader)
        writer.close()
        assert events == [ConnectionEvent.CLOSED_UNKNOWN_WPORT]
        assert await exchange(other, GET_TIME_ZONE) == TIME_ZONE
        other[1].close()

    run_with_server(scenario, on_event=events.append)
    assert events == [ConnectionEvent.CLOSED_UNKNOWN_WPORT]


def test_each_client_sap_has_its_own_association() -> None:
    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        streams = await connect(server)
        assert await exchange(streams, AARQ) == AARE
        assert await exchange(streams, GET_TIME_ZONE, source=READER_SAP) == H("D80101")
        streams[1].close()

    run_with_server(scenario)


def test_a_failure_inside_one_connection_ends_only_that_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Exploding(ServerConnection):
        def receive(self, client_sap: int, apdu: bytes) -> bytes | None:
            if apdu == b"\xde\xad":
                raise RuntimeError("a bug escaping the state machine")
            return super().receive(client_sap, apdu)

    monkeypatch.setattr(channel, "ServerConnection", Exploding)

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        victim = await connect(server)
        other = await connect(server)
        assert await exchange(other, AARQ) == AARE
        victim[1].write(wrap(b"\xde\xad"))
        await victim[1].drain()
        assert await closed_by_server(victim[0])
        victim[1].close()
        assert await exchange(other, GET_TIME_ZONE) == TIME_ZONE
        late = await connect(server)
        assert await exchange(late, AARQ) == AARE
        other[1].close()
        late[1].close()

    run_with_server(scenario)


def test_stop_ends_live_connections_and_releases_associations() -> None:
    backend = FakeBackend()

    async def main() -> None:
        async with DlmsTcpServer(backend, port=0) as server:
            reader, writer = await connect(server)
            assert await exchange((reader, writer), AARQ) == H(
                "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400000014"
                "04000007"
            )
        assert await closed_by_server(reader)
        writer.close()
        await server.stop()  # stopping twice is harmless

    eventloop.run(main())
    assert len(backend.released_calls) == 1


def test_dlms_settings_reach_the_connections() -> None:
    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        streams = await connect(server)
        assert (await exchange(streams, AARQ))[-4:] == H("00800007")
        streams[1].close()

    run_with_server(scenario, TcpServerSettings(dlms=ServerSettings(max_receive_pdu_size=128)))


@pytest.mark.parametrize(
    "arguments",
    [
        {"server_saps": frozenset()},
        {"server_saps": frozenset({70000})},
        {"inactivity_timeout_s": 0},
        {"max_frame_length": 0},
        {"max_frame_length": 70000},
        {"frame_timeout_s": 0},
        {"max_connections": 0},
    ],
)
def test_settings_are_checked(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TcpServerSettings(**arguments)  # type: ignore[arg-type]


async def drip(writer: asyncio.StreamWriter, announced: int) -> None:
    """Slowloris (issue 19.6): a header announcing ``announced`` octets, then one octet at a
    time, never finishing the frame; until the server closes the connection."""
    writer.write(struct.pack(">HHHH", 1, PUBLIC_SAP, 1, announced))
    while True:
        await asyncio.sleep(0.02)
        if writer.is_closing():
            return
        writer.write(b"\x00")


def test_a_frame_too_slow_to_complete_is_cut_and_the_next_client_gets_in() -> None:
    """Issue 19.6: a slowloris holding the one connection of seed 004 is closed once its
    frame is ``frame_timeout_s`` old, however often it sends an octet, and reported; the
    connection slot is free again for a head-end."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        reader, writer = await connect(server)
        attack = asyncio.create_task(drip(writer, 1000))
        while not server.connection_count:
            await asyncio.sleep(0.01)
        assert await closed_by_server(reader)
        writer.close()
        await attack
        await until_no_connection(server)
        head_end = await connect(server)
        assert await exchange(head_end, AARQ) == AARE
        assert await exchange(head_end, GET_TIME_ZONE) == TIME_ZONE
        head_end[1].close()

    settings = TcpServerSettings(single_connection=True, frame_timeout_s=0.3)
    run_with_server(scenario, settings, events.append)
    assert events == [ConnectionEvent.CLOSED_FRAME_TIMEOUT]


def test_octets_of_an_incomplete_frame_are_no_activity() -> None:
    """Issue 19.6: without a frame timeout, octets that never make a frame do not hold off
    the inactivity timeout: the connection is closed as idle."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        reader, writer = await connect(server)
        attack = asyncio.create_task(drip(writer, 1000))
        assert await closed_by_server(reader)
        writer.close()
        await attack

    settings = TcpServerSettings(inactivity_timeout_s=0.3, frame_timeout_s=None)
    run_with_server(scenario, settings, events.append)
    assert events == [ConnectionEvent.CLOSED_IDLE]


def test_connections_beyond_the_maximum_are_refused_and_the_others_go_on() -> None:
    """Issue 19.7: with ``max_connections`` served, one more is accepted and closed at once
    and reported (the meter logs 223); those served keep working, and once one leaves a new
    one is served."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        served = [await connect(server) for _ in range(3)]
        for streams in served:
            assert await exchange(streams, AARQ) == AARE
        extra_reader, extra_writer = await connect(server)
        assert await closed_by_server(extra_reader)
        extra_writer.close()
        assert events == [ConnectionEvent.REFUSED_TOO_MANY]
        assert server.connection_count == 3
        for streams in served:
            assert await exchange(streams, GET_TIME_ZONE) == TIME_ZONE
        served.pop()[1].close()
        while server.connection_count == 3:
            await asyncio.sleep(0.01)
        late = await connect(server)
        assert await exchange(late, AARQ) == AARE
        for streams in [*served, late]:
            streams[1].close()

    run_with_server(scenario, TcpServerSettings(max_connections=3), events.append)
    assert events == [ConnectionEvent.REFUSED_TOO_MANY]


def test_a_frame_longer_than_the_pdu_size_is_refused_at_its_header() -> None:
    """Issue 19.7: the longest frame a client may send is the server's max receive PDU size
    (announced in the AARE, dlms.md 5); a header announcing more closes the connection at
    once, so no connection buffers more than that. A frame of exactly that size is served."""
    pdu_size = ServerSettings().max_receive_pdu_size

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        assert (await exchange(await connect(server), AARQ))[-4:-2] == pdu_size.to_bytes(2)
        longest = await connect(server)
        padded_get = H("C001C1") + bytes(pdu_size - 3)
        assert await exchange(longest, padded_get) == H("D80203")
        reader, writer = await connect(server)
        writer.write(struct.pack(">HHHH", 1, PUBLIC_SAP, 1, pdu_size + 1))
        await writer.drain()
        assert await closed_by_server(reader)
        writer.close()
        assert await exchange(longest, AARQ) == AARE

    run_with_server(scenario)


def partial_length(attacker: int) -> int:
    """Octets of the AARQ frame attacker number ``attacker`` sends: 5 (part of the header)
    or 12 (the header and 4 octets of the APDU)."""
    return 5 if attacker % 2 else 12


async def hold_partial_frames(server: DlmsTcpServer, count: int) -> list[Streams]:
    """``count`` attackers, each holding the first octets of an AARQ's frame (part of the
    header for some, the header and part of the APDU for others), all served."""
    attackers = []
    for i in range(count):
        streams = await connect(server)
        streams[1].write(wrap(AARQ)[: partial_length(i)])
        await streams[1].drain()
        attackers.append(streams)
    while server.connection_count < count:
        await asyncio.sleep(0.01)
    return attackers


def test_partial_frames_at_the_cap_give_way_to_a_head_end() -> None:
    """Issue 19 flood: ``max_connections`` (4, the default) attackers each holding an
    incomplete frame used to keep a head-end out until the frame timeout (30 s, the default
    here too). Now the newcomer is served at once in place of the attacker stalled longest:
    it associates and reads while the other attackers are still connected, and the one
    given up is reported (the meter logs 224)."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        attackers = await hold_partial_frames(server, DEFAULT_MAX_CONNECTIONS)
        head_end = await connect(server)
        assert await exchange(head_end, AARQ) == AARE
        assert await exchange(head_end, GET_TIME_ZONE) == TIME_ZONE
        assert server.connection_count == DEFAULT_MAX_CONNECTIONS
        assert events == [ConnectionEvent.EVICTED_IDLE]
        assert await closed_by_server(attackers[0][0])  # the first, stalled longest
        for i, (reader, writer) in enumerate(attackers[1:], 1):  # the others were never cut
            writer.write(wrap(AARQ)[partial_length(i) :])
            await writer.drain()
            assert await read_frame(reader) == (1, PUBLIC_SAP, AARE)
        for streams in [head_end, *attackers]:
            streams[1].close()

    run_with_server(scenario, TcpServerSettings(), events.append)
    assert events == [ConnectionEvent.EVICTED_IDLE]


def test_an_open_association_is_never_given_up_for_a_newcomer() -> None:
    """Only idle-incomplete connections give way: with every slot held by an association,
    a newcomer is refused (223) and the associations go on."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        head_end = await connect(server)
        assert await exchange(head_end, AARQ) == AARE
        (attacker,) = await hold_partial_frames(server, 1)
        second = await connect(server)  # takes the attacker's slot
        assert await closed_by_server(attacker[0])
        assert await exchange(second, AARQ) == AARE
        refused = await connect(server)
        assert await closed_by_server(refused[0])
        assert events == [ConnectionEvent.EVICTED_IDLE, ConnectionEvent.REFUSED_TOO_MANY]
        for streams in (head_end, second):
            assert await exchange(streams, GET_TIME_ZONE) == TIME_ZONE
            streams[1].close()
        for streams in (attacker, refused):
            streams[1].close()

    run_with_server(scenario, TcpServerSettings(max_connections=2), events.append)
    assert events == [ConnectionEvent.EVICTED_IDLE, ConnectionEvent.REFUSED_TOO_MANY]


def test_the_one_connection_of_seed_004_goes_to_a_reader_not_a_slowloris() -> None:
    """Seed 004's one connection: a slowloris holding it (an incomplete frame, no
    association) gives way to a reader at once, who then keeps it: the next newcomer is
    refused (223) while the reader's association is open."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        reader, writer = await connect(server)
        attack = asyncio.create_task(drip(writer, 1000))
        while not server.connection_count:
            await asyncio.sleep(0.01)
        head_end = await connect(server)
        assert await exchange(head_end, AARQ) == AARE
        assert await closed_by_server(reader)
        writer.close()
        await attack
        newcomer = await connect(server)
        assert await closed_by_server(newcomer[0])
        newcomer[1].close()
        assert await exchange(head_end, GET_TIME_ZONE) == TIME_ZONE
        head_end[1].close()

    run_with_server(scenario, TcpServerSettings(single_connection=True), events.append)
    assert events == [ConnectionEvent.EVICTED_IDLE, ConnectionEvent.REFUSED_ONE_AT_A_TIME]


def test_one_whole_frame_then_silence_does_not_keep_the_one_connection() -> None:
    """An attacker that sends one whole frame (a broadcast, which gets no answer) and then
    nothing holds no association: a reader arriving is served in its place at once, not
    after the inactivity timeout (seed 004: 5 minutes)."""
    events: list[ConnectionEvent] = []

    async def scenario(server: DlmsTcpServer, backend: FakeBackend) -> None:
        reader, writer = await connect(server)
        writer.write(wrap(GET_TIME_ZONE, destination=127))
        await writer.drain()
        while not server.connection_count:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the broadcast frame is whole and skipped by now
        head_end = await connect(server)
        assert await exchange(head_end, AARQ) == AARE
        assert await closed_by_server(reader)
        assert await exchange(head_end, GET_TIME_ZONE) == TIME_ZONE
        writer.close()
        head_end[1].close()

    settings = TcpServerSettings(single_connection=True, inactivity_timeout_s=300)
    run_with_server(scenario, settings, events.append)
    assert events == [ConnectionEvent.EVICTED_IDLE]
