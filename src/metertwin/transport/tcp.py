"""DLMS/COSEM over TCP (IEC 62056-47 wrapper; protocols.md, "DLMS over TCP"), asyncio.

A thin adaptor: per TCP connection, one :class:`~metertwin.protocols.wrapper.WrapperDecoder`
for the framing and one :class:`~metertwin.transport.channel.DlmsChannel` for the connection
rules (routing by server wPort, the inactivity and frame timeouts) on the loop's clock; the
listener asks the :class:`~metertwin.transport.channel.AdmissionPolicy` about each newcomer
(one connection at a time, the cap, eviction). The wrapper's source wPort is the client
address, its destination wPort the server address; answers go back with the wPorts swapped.

Beyond the channel's rules, no frame may announce more than ``max_frame_length`` octets (by
default the DLMS server's max receive PDU size), so what a peer can make the meter hold is
bounded. The connections the rules refuse or close are events of the meter's communication
log: the server tells ``on_event`` (a :class:`~metertwin.transport.channel.ConnectionEvent`),
which the caller maps to the meter's event codes and commits.

A framing error closes only its connection; any failure inside one connection is logged and
ends that connection alone, never the listener or the others. Nothing is printed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from metertwin.protocols.wrapper import WrapperDecoder, WrapperError, encode_frame
from metertwin.transport.channel import (
    ChannelSettings,
    ConnectionEvent,
    DeviceBackend,
    DlmsChannel,
)

__all__ = [
    "AARQ_ROOM",
    "DEFAULT_PORT",
    "READ_BUFFER_SIZE",
    "ChannelConnection",
    "DlmsTcpServer",
    "TcpServerSettings",
]

_log = logging.getLogger(__name__)

DEFAULT_PORT = 4059
"""The IANA port of DLMS/COSEM over TCP (protocols.md; seed 004, 4.1)."""
AARQ_ROOM = 1024
"""The shortest frame bound: an AARQ comes before any PDU size is negotiated, and one with
an HLS certificate (calling-AE-qualifier) is several hundred octets."""
READ_BUFFER_SIZE = 16 * 1024
"""Octets one read may take: several requests of the default 1024-octet PDU size; a longer
frame arrives over several reads and the wrapper decoder joins them."""


@dataclass(frozen=True, slots=True)
class TcpServerSettings(ChannelSettings):
    """How the TCP server behaves: the connection rules of :class:`ChannelSettings`, and

    ``max_frame_length``: the longest APDU a wrapper header may announce; a longer one is a
    framing error and closes the connection. None: the server's max receive PDU size (a
    client may send no longer APDU, dlms.md 5), never below :data:`AARQ_ROOM`.
    """

    max_frame_length: int | None = None

    def __post_init__(self) -> None:
        super(TcpServerSettings, self).__post_init__()  # slots: no zero-argument super()
        if self.max_frame_length is not None and not 0 < self.max_frame_length <= 0xFFFF:
            raise ValueError("max_frame_length must be 1..65535")

    @property
    def frame_length_limit(self) -> int:
        """The longest APDU a wrapper header may announce (or HDLC frames may carry)."""
        if self.max_frame_length is not None:
            return self.max_frame_length
        return max(self.dlms.max_receive_pdu_size, AARQ_ROOM)


class DlmsTcpServer:
    """The meter's DLMS/COSEM TCP listener: ``await start()``, ``await stop()``.

    Bind ``port=0`` to let the system choose; :attr:`port` then tells which port it is.
    Connections are asyncio protocols: a request is answered inside ``data_received``,
    with no task or timer created per read (a sequential head-end waits on every answer).

    ``on_event`` (optional) is called, on the event loop, when the server refuses a
    connection, gives one up for a newcomer, or closes one on its own
    (:class:`ConnectionEvent`); closing connections at :meth:`stop`, a peer leaving, or a
    framing error are no events. What it raises is logged and goes no further.

    The listener, its admission and its events serve any framing: a subclass names its
    connection protocol in :meth:`_protocol` (HDLC over TCP, ``hdlc_tcp.py``).
    """

    transport_name = "DLMS/COSEM over TCP"

    def __init__(
        self,
        backend: DeviceBackend,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        settings: TcpServerSettings | None = None,
        on_event: Callable[[ConnectionEvent], None] | None = None,
    ) -> None:
        self.backend = backend
        self.host = host
        self.settings = settings or TcpServerSettings()
        self.on_event = on_event
        self.backends = dict.fromkeys(self.settings.server_saps, backend)
        self.admission = self.settings.admission
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._sessions: dict[ChannelConnection, None] = {}  # in the order accepted

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose when 0 was asked)."""
        if self._server is not None and self._server.sockets:
            port: int = self._server.sockets[0].getsockname()[1]
            return port
        return self._requested_port

    @property
    def connection_count(self) -> int:
        """Connections being served now (a rejected extra connection is not counted)."""
        return len(self._sessions)

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the DLMS TCP server is already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self._requested_port)
        _log.info("%s listening on %s:%d", self.transport_name, self.host, self.port)

    def _protocol(self) -> ChannelConnection:
        """A new connection's protocol (made by the event loop as it accepts one)."""
        return _Connection(self)

    async def stop(self) -> None:
        """Stop listening and end every connection (their associations are released)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for session in list(self._sessions):
            session.close()
        await server.wait_closed()
        _log.info("%s stopped", self.transport_name)

    def drop_connections(self) -> None:
        """End every connection and keep listening: the meter restarted (a firmware
        activation, docs/firmware.md); the head-end connects again."""
        for session in list(self._sessions):
            session.close()

    def _admit(self, peer: object) -> ConnectionEvent | None:
        """Whether a newcomer from ``peer`` is served (None) or refused (the event to report
        once it is closed); a connection the admission policy gives up for it is closed
        first."""
        served = len(self._sessions)
        admission = self.admission.admit({s: s.channel.standing() for s in self._sessions})
        if admission.evict is not None:
            admission.evict.evict()
        if admission.refusal is ConnectionEvent.REFUSED_ONE_AT_A_TIME:
            _log.info("connection from %s closed: one connection at a time", peer)
        elif admission.refusal is not None:
            _log.info("connection from %s closed: %d connections served", peer, served)
        return admission.refusal

    def _event(self, event: ConnectionEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            _log.exception("the connection event handler failed on %s", event.name)

    async def __aenter__(self) -> DlmsTcpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class ChannelConnection(asyncio.BufferedProtocol):
    """One TCP connection and its :class:`DlmsChannel`: admission, an inactivity timer and a
    frame timer asking the channel whether they are due (rescheduled only when they fire; the
    frame timer is set only while a read leaves a frame incomplete). A subclass frames the
    octets in :meth:`received` (the wrapper here, HDLC in ``hdlc_tcp.py``).

    A buffered protocol: the event loop reads into this connection's own buffer. A plain
    Protocol is handed a new bytes object per read, which asyncio's selector loop allocates at
    256 KiB and then trims; whether glibc serves that from its heap or maps fresh pages for it
    depends on what the process allocated before (a bare echo server ran at half speed when it
    mapped). Reading into a buffer of our own costs the same every time.
    """

    def __init__(self, server: DlmsTcpServer) -> None:
        self.server = server
        self.settings = server.settings
        self.read_buffer = memoryview(bytearray(READ_BUFFER_SIZE))
        self.loop = asyncio.get_running_loop()  # kept: on 3.11 each call costs a getpid()
        # Made with the protocol, just before ``connection_made``: accepted now.
        self.channel = DlmsChannel(server.backends, self.settings, self.loop.time())
        self.transport: asyncio.Transport | None = None
        self.peer: object = None
        self.timer: asyncio.TimerHandle | None = None
        self.frame_timer: asyncio.TimerHandle | None = None
        self.accepted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not an asyncio.Transport subclass under every event loop
        # (uvloop's TCPTransport is not), so it is typed, not checked.
        self.transport = cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        if sock is not None:  # an answer goes out at once, not held back for more (Nagle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        refusal = self.server._admit(self.peer)
        if refusal is not None:
            transport.close()
            self.server._event(refusal)
            return
        self.accepted = True
        self.server._sessions[self] = None
        _log.info("connection from %s", self.peer)
        deadline = self.channel.inactivity_deadline
        if deadline is not None:
            self.timer = self.loop.call_at(deadline, self._check_idle)

    def evict(self) -> None:
        """Closes this connection for a newcomer: its slot is free at once (the transport's
        ``connection_lost`` comes later) and it reads nothing more."""
        _log.info("closing %s: no open association, its slot given to a newcomer", self.peer)
        self._end()
        if self.transport is not None:  # abort: replies a peer never reads are not kept
            self.transport.abort()
        self.server._event(ConnectionEvent.EVICTED_IDLE)

    def _check_idle(self) -> None:
        if self.channel.inactivity_due(self.loop.time()):
            _log.info("closing %s: no data for %s s", self.peer, self.settings.inactivity_timeout_s)
            self._close_for(ConnectionEvent.CLOSED_IDLE)
            return
        deadline = self.channel.inactivity_deadline
        assert deadline is not None
        self.timer = self.loop.call_at(deadline, self._check_idle)

    def _check_frame(self) -> None:
        self.frame_timer = None
        deadline = self.channel.frame_deadline
        if deadline is None:
            return  # the frame was completed in time
        if self.channel.frame_due(self.loop.time()):
            self._frame_timed_out()
        else:  # a later frame is pending now (or the timer fired a hair early)
            self.frame_timer = self.loop.call_at(deadline, self._check_frame)

    def _frame_timed_out(self) -> None:
        _log.info(
            "closing %s: a frame not completed within %s s",
            self.peer,
            self.settings.frame_timeout_s,
        )
        self._close_for(ConnectionEvent.CLOSED_FRAME_TIMEOUT)

    def _close_for(self, event: ConnectionEvent) -> None:
        self.close()
        self.server._event(event)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.received(self.read_buffer[:nbytes])

    def received(self, data: memoryview) -> None:
        """Octets read from the peer (valid only during the call: copy what is kept)."""
        raise NotImplementedError

    def _schedule_frame_timer(self) -> None:
        """After a read that leaves a frame incomplete: the frame timer, unless it is set."""
        if self.frame_timer is None:
            deadline = self.channel.frame_deadline
            if deadline is not None:
                self.frame_timer = self.loop.call_at(deadline, self._check_frame)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.accepted:
            _log.info("connection from %s closed", self.peer)
        self._end()

    def _end(self) -> None:
        """Timers off, out of the server's connections, associations released (once)."""
        for timer in (self.timer, self.frame_timer):
            if timer is not None:
                timer.cancel()
        self.timer = self.frame_timer = None
        if self.accepted:
            self.accepted = False
            self.server._sessions.pop(self, None)
            self.channel.close()


class _Connection(ChannelConnection):
    """One TCP connection framed by the IEC 62056-47 wrapper."""

    def __init__(self, server: DlmsTcpServer) -> None:
        super().__init__(server)
        # No frame timeout in the decoder: the channel keeps that rule.
        self.decoder = WrapperDecoder(self.settings.frame_length_limit)

    def buffer_updated(self, nbytes: int) -> None:
        """A read: when it is exactly one whole frame with nothing pending (a head-end
        polling), answered here at once; anything else goes through :meth:`received`."""
        data = self.read_buffer[:nbytes]
        transport = self.transport
        whole = self.decoder.whole_frame(data)
        if whole is None or not self.accepted or transport is None:
            self.received(data)
            return
        # Nothing was pending, so the channel holds no incomplete frame and no frame can be
        # overdue: only the channel's routing and the answer remain.
        source, destination, payload = whole
        try:
            answer, closing = self.channel.receive(source, destination, payload, self.loop.time())
            if answer is not None:
                transport.write(encode_frame(destination, source, answer))
            if closing is not None:
                self._unknown_wport(destination, closing)
        except Exception:
            _log.exception("connection from %s failed", self.peer)
            self.close()

    def _unknown_wport(self, destination: int, closing: ConnectionEvent) -> None:
        _log.info("closing %s: a frame for wPort %d, not served", self.peer, destination)
        self._close_for(closing)

    def received(self, data: memoryview) -> None:
        """Octets read from the peer (the decoder copies what it keeps)."""
        transport = self.transport
        if not self.accepted or transport is None:
            return
        now = self.loop.time()
        channel = self.channel
        decoder = self.decoder
        if decoder.pending and channel.frame_due(now):  # its last octets come too late
            self._frame_timed_out()
            return
        try:
            frames = decoder.feed(data, now)
        except WrapperError as problem:
            _log.warning("closing %s: %s", self.peer, problem)
            self.close()
            return
        channel.frame_pending(decoder.frame_started)
        if decoder.pending:
            self._schedule_frame_timer()
        try:
            if len(frames) == 1:  # the usual read: one request, one answer, no list
                frame = frames[0]
                answer, closing = channel.receive(
                    frame.source, frame.destination, frame.payload, now
                )
                if answer is not None:
                    transport.write(encode_frame(frame.destination, frame.source, answer))
                if closing is not None:
                    self._unknown_wport(frame.destination, closing)
                return
            replies = []
            closing = None
            for frame in frames:
                answer, closing = channel.receive(
                    frame.source, frame.destination, frame.payload, now
                )
                if answer is not None:
                    replies.append(encode_frame(frame.destination, frame.source, answer))
                if closing is not None:
                    _log.info(
                        "closing %s: a frame for wPort %d, not served", self.peer, frame.destination
                    )
                    break
            if replies:  # one write, so one send, for all the answers to this read
                transport.write(b"".join(replies))
            if closing is not None:
                self._close_for(closing)
        except Exception:
            _log.exception("connection from %s failed", self.peer)
            self.close()
