"""DLMS/COSEM over TCP (IEC 62056-47 wrapper; protocols.md, "DLMS over TCP"), asyncio.

Per TCP connection: one :class:`~metertwin.protocols.wrapper.WrapperDecoder` and, for each
logical device addressed, one :class:`~metertwin.dlms.server.ServerConnection`. The wrapper's
source wPort is the client SAP, its destination wPort the server SAP; answers go back with the
wPorts swapped. A frame for a server SAP that is not configured closes the connection at once
(after answering the frames before it): the wrapper has no error message, and IEC 62056-4-7
lets the server discard such a frame or close; closing tells the client at once instead of
leaving it to its own timeout. A broadcast (wPort 127) is ignored: no answer is due to it.

Seed 004 (MeterCom PRO, 3.1 and 4.1) gives the connection options: one connection at a time
(``single_connection``: a second is accepted and closed at once, the first goes on), and the
session closed after five minutes without data (``inactivity_timeout_s``, default 300). Only
whole frames are data: octets of a frame still incomplete are no activity, and a frame must
be complete within ``frame_timeout_s`` of its first octet (a peer sending one octet now and
then would otherwise hold the connection for ever). Without the one-connection rule at most
``max_connections`` are served, and no frame may announce more than ``max_frame_length``
octets (by default the DLMS server's max receive PDU size), so what a peer can make the meter
hold is bounded. When the connections are all taken (``max_connections``, or the one of
``single_connection``), a newcomer is not refused while a connection that does nothing
holds a slot: the served connection with no open association that has never completed a
frame, or else holds an incomplete one, is closed for it (the one stalled longest, those that
never completed a frame first; :func:`choose_eviction`). An open association is never given
up, so a head-end being served keeps seed 004's one connection. These are events of the
meter's communication log: the server tells ``on_event`` (a :class:`ConnectionEvent`),
which the caller maps to the meter's event codes and commits.

A framing error closes only its connection; any failure inside one connection is logged and
ends that connection alone, never the listener or the others. Nothing is printed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar, cast

from metertwin.cosem.backend import DeviceBackend
from metertwin.dlms.server.connection import ServerConnection, ServerSettings
from metertwin.protocols.wrapper import WrapperDecoder, WrapperError, WrapperTimeout, encode_frame

__all__ = [
    "DEFAULT_PORT",
    "ConnectionEvent",
    "ConnectionStanding",
    "DlmsTcpServer",
    "TcpServerSettings",
    "choose_eviction",
]

_log = logging.getLogger(__name__)

K = TypeVar("K")

DEFAULT_PORT = 4059
"""The IANA port of DLMS/COSEM over TCP (protocols.md; seed 004, 4.1)."""
MANAGEMENT_LOGICAL_DEVICE = 1
BROADCAST_WPORT = 0x7F
"""The all-station server wPort (protocols.md): frames to it are ignored, never answered."""
DEFAULT_MAX_CONNECTIONS = 4
"""Connections served at once: a head-end, a local tool and a spare, as a meter's modem."""
DEFAULT_FRAME_TIMEOUT_S = 30.0
"""A frame of the default 1024-octet PDU size crosses even a slow GPRS link in a few seconds;
30 s leaves room for TCP retransmissions."""
AARQ_ROOM = 1024
"""The shortest frame bound: an AARQ comes before any PDU size is negotiated, and one with
an HLS certificate (calling-AE-qualifier) is several hundred octets."""
READ_BUFFER_SIZE = 16 * 1024
"""Octets one read may take: several requests of the default 1024-octet PDU size; a longer
frame arrives over several reads and the wrapper decoder joins them."""


class ConnectionEvent(Enum):
    """What the transport itself does to a connection that the meter logs (seed 004)."""

    REFUSED_ONE_AT_A_TIME = "refused_one_at_a_time"
    """A connection accepted and closed at once: another one is being served."""
    CLOSED_IDLE = "closed_idle"
    """A connection closed after ``inactivity_timeout_s`` without data."""
    REFUSED_TOO_MANY = "refused_too_many"
    """A connection accepted and closed at once: ``max_connections`` are being served."""
    CLOSED_FRAME_TIMEOUT = "closed_frame_timeout"
    """A connection closed because a frame was not complete ``frame_timeout_s`` after its
    first octet."""
    CLOSED_UNKNOWN_WPORT = "closed_unknown_wport"
    """A connection closed on a frame for a server wPort (logical device) not served."""
    EVICTED_IDLE = "evicted_idle"
    """A connection with no open association closed to serve a newcomer while all
    connections were taken (:func:`choose_eviction`)."""


@dataclass(frozen=True, slots=True)
class ConnectionStanding:
    """What the connection cap weighs of a served connection when a newcomer finds every
    slot taken.

    ``associated``: an association is open on it (never given up for a newcomer).
    ``completed_frame``: it has sent at least one whole frame.
    ``connected_at``: when it was accepted; ``incomplete_since``: the first octet of the
    frame it leaves incomplete (None: no octet pending); ``last_activity``: its last whole
    frame (None: ``connected_at``). Times on one clock, in seconds.
    """

    associated: bool
    completed_frame: bool
    connected_at: float
    incomplete_since: float | None = None
    last_activity: float | None = None

    @property
    def idle_incomplete(self) -> bool:
        """Whether it holds a slot doing nothing the meter can serve: no association, and
        no whole frame ever or a frame left incomplete."""
        return not self.associated and (
            not self.completed_frame or self.incomplete_since is not None
        )


def choose_eviction(standings: Mapping[K, ConnectionStanding]) -> K | None:
    """The connection to close so a newcomer can be served, or None (refuse the newcomer).

    Every connection without an open association is a candidate; an open association is
    never taken from its head-end. Idle-incomplete ones go first
    (:attr:`ConnectionStanding.idle_incomplete`): those that never completed a frame, then
    those leaving a frame incomplete, each the one stalled longest first (since its
    incomplete frame began, or since it connected when it never sent a frame). Last, a
    connection that completed frames but holds no association and nothing pending (released,
    or one frame sent to keep a slot), the one idle longest first. Ties go to the first in
    ``standings``' order (the server's is the order accepted: a loop's clock may tick
    coarser than connections arrive). Neither partial frames nor one whole frame per
    connection can then keep a head-end out until a timeout.
    """
    candidates = [(key, s) for key, s in standings.items() if not s.associated]
    if not candidates:
        return None

    def stalled(item: tuple[K, ConnectionStanding]) -> tuple[int, float]:
        standing = item[1]
        if not standing.completed_frame:
            return 0, standing.connected_at
        if standing.incomplete_since is not None:
            return 1, standing.incomplete_since
        last = standing.last_activity
        return 2, standing.connected_at if last is None else last

    return min(candidates, key=stalled)[0]


@dataclass(frozen=True, slots=True)
class TcpServerSettings:
    """How the TCP server behaves; ``dlms`` is handed to every :class:`ServerConnection`.

    ``server_saps``: the logical devices that answer (1 = management logical device).
    ``single_connection``: seed 004, one connection at a time, others rejected.
    ``inactivity_timeout_s``: seed 004, close a connection without a whole frame this long
    (None: never).
    ``frame_timeout_s``: close a connection whose frame is not complete this long after its
    first octet (None: no limit but the inactivity timeout).
    ``max_connections``: connections served at once; one more is served in place of one
    without an open association (:func:`choose_eviction`), or else accepted and closed.
    ``max_frame_length``: the longest APDU a wrapper header may announce; a longer one is a
    framing error and closes the connection. None: the server's max receive PDU size (a
    client may send no longer APDU, dlms.md 5), never below :data:`AARQ_ROOM`.
    """

    server_saps: frozenset[int] = frozenset({MANAGEMENT_LOGICAL_DEVICE})
    single_connection: bool = False
    inactivity_timeout_s: float | None = 300.0
    frame_timeout_s: float | None = DEFAULT_FRAME_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_frame_length: int | None = None
    dlms: ServerSettings = field(default_factory=ServerSettings)

    def __post_init__(self) -> None:
        if not self.server_saps or not all(0 <= sap <= 0xFFFF for sap in self.server_saps):
            raise ValueError("server_saps must be wPorts 0..65535, at least one")
        for name in ("inactivity_timeout_s", "frame_timeout_s"):
            timeout = getattr(self, name)
            if timeout is not None and not timeout > 0:
                raise ValueError(f"{name} must be positive or None")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.max_frame_length is not None and not 0 < self.max_frame_length <= 0xFFFF:
            raise ValueError("max_frame_length must be 1..65535")

    @property
    def frame_length_limit(self) -> int:
        """The longest APDU a wrapper header may announce."""
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
    """

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
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._sessions: dict[_Connection, None] = {}  # in the order accepted

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
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self._requested_port
        )
        _log.info("DLMS/COSEM over TCP listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and end every connection (their associations are released)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for session in list(self._sessions):
            session.close()
        await server.wait_closed()
        _log.info("DLMS/COSEM over TCP stopped")

    def _make_room(self) -> bool:
        """At the cap: close the idle-incomplete connection :func:`choose_eviction` picks;
        whether a slot is free now."""
        standings = {session: session.standing() for session in self._sessions}
        victim = choose_eviction(standings)
        if victim is None:
            return False
        victim.evict()
        return True

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


class _Connection(asyncio.BufferedProtocol):
    """One TCP connection: wrapper framing, one ServerConnection per logical device, and an
    inactivity timer and a frame timer checked lazily (rescheduled only when they fire; the
    frame timer is set only while a read leaves a frame incomplete).

    A buffered protocol: the event loop reads into this connection's own buffer. A plain
    Protocol is handed a new bytes object per read, which asyncio's selector loop allocates at
    256 KiB and then trims; whether glibc serves that from its heap or maps fresh pages for it
    depends on what the process allocated before (a bare echo server ran at half speed when it
    mapped). Reading into a buffer of our own costs the same every time.
    """

    def __init__(self, server: DlmsTcpServer) -> None:
        self.server = server
        self.settings = server.settings
        self.decoder = WrapperDecoder(
            self.settings.frame_length_limit, self.settings.frame_timeout_s
        )
        self.read_buffer = memoryview(bytearray(READ_BUFFER_SIZE))
        self.connections: dict[int, ServerConnection] = {}
        self.transport: asyncio.Transport | None = None
        self.peer: object = None
        self.loop = asyncio.get_running_loop()  # kept: on 3.11 each call costs a getpid()
        self.last_activity = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.frame_timer: asyncio.TimerHandle | None = None
        self.accepted = False
        self.connected_at = 0.0
        self.completed_frame = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not an asyncio.Transport subclass under every event loop
        # (uvloop's TCPTransport is not), so it is typed, not checked.
        self.transport = cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        if sock is not None:  # an answer goes out at once, not held back for more (Nagle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        served = len(self.server._sessions)
        single = self.settings.single_connection
        limit = 1 if single else self.settings.max_connections
        if served >= limit and not self.server._make_room():
            if single:
                _log.info("connection from %s closed: one connection at a time", self.peer)
                event = ConnectionEvent.REFUSED_ONE_AT_A_TIME
            else:
                _log.info("connection from %s closed: %d connections served", self.peer, served)
                event = ConnectionEvent.REFUSED_TOO_MANY
            transport.close()
            self.server._event(event)
            return
        self.accepted = True
        self.server._sessions[self] = None
        _log.info("connection from %s", self.peer)
        self.connected_at = self.last_activity = self.loop.time()
        timeout = self.settings.inactivity_timeout_s
        if timeout is not None:
            self.timer = self.loop.call_later(timeout, self._check_idle)

    def standing(self) -> ConnectionStanding:
        """What :func:`choose_eviction` weighs of this connection now."""
        return ConnectionStanding(
            associated=any(c.associations for c in self.connections.values()),
            completed_frame=self.completed_frame,
            connected_at=self.connected_at,
            incomplete_since=self.decoder.frame_started,
            last_activity=self.last_activity,
        )

    def evict(self) -> None:
        """Closes this connection for a newcomer: its slot is free at once (the transport's
        ``connection_lost`` comes later) and it reads nothing more."""
        _log.info("closing %s: no open association, its slot given to a newcomer", self.peer)
        self._end()
        if self.transport is not None:  # abort: replies a peer never reads are not kept
            self.transport.abort()
        self.server._event(ConnectionEvent.EVICTED_IDLE)

    def _check_idle(self) -> None:
        timeout = self.settings.inactivity_timeout_s
        assert timeout is not None
        idle = self.loop.time() - self.last_activity
        if idle >= timeout:
            _log.info("closing %s: no data for %s s", self.peer, timeout)
            self.close()
            self.server._event(ConnectionEvent.CLOSED_IDLE)
        else:
            self.timer = self.loop.call_later(timeout - idle, self._check_idle)

    def _check_frame(self) -> None:
        self.frame_timer = None
        deadline = self.decoder.frame_deadline
        if deadline is None:
            return  # the frame was completed in time
        if self.decoder.overdue(self.loop.time()):
            self._frame_timed_out()
        else:  # a later frame is pending now (or the timer fired a hair early)
            self.frame_timer = self.loop.call_at(deadline, self._check_frame)

    def _frame_timed_out(self) -> None:
        _log.info(
            "closing %s: a frame not completed within %s s",
            self.peer,
            self.settings.frame_timeout_s,
        )
        self.close()
        self.server._event(ConnectionEvent.CLOSED_FRAME_TIMEOUT)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.received(self.read_buffer[:nbytes])

    def received(self, data: memoryview) -> None:
        """Octets read from the peer (the decoder copies what it keeps)."""
        transport = self.transport
        if not self.accepted or transport is None:
            return
        now = self.loop.time()
        decoder = self.decoder
        try:
            frames = decoder.feed(data, now)
        except WrapperTimeout:
            self._frame_timed_out()
            return
        except WrapperError as problem:
            _log.warning("closing %s: %s", self.peer, problem)
            self.close()
            return
        if frames:  # only whole frames are activity
            self.last_activity = now
            self.completed_frame = True
        if self.frame_timer is None and decoder.pending:
            deadline = decoder.frame_deadline
            if deadline is not None:
                self.frame_timer = self.loop.call_at(deadline, self._check_frame)
        try:
            replies = []
            unknown_wport = None
            for frame in frames:
                connection = self.connections.get(frame.destination)
                if connection is None:
                    if frame.destination not in self.settings.server_saps:
                        if frame.destination == BROADCAST_WPORT:
                            continue
                        unknown_wport = frame.destination
                        break
                    connection = ServerConnection(
                        self.server.backend, frame.destination, self.settings.dlms
                    )
                    self.connections[frame.destination] = connection
                answer = connection.receive(frame.source, frame.payload)
                if answer is not None:
                    replies.append(encode_frame(frame.destination, frame.source, answer))
            if replies:  # one write, so one send, for all the answers to this read
                transport.write(b"".join(replies))
            if unknown_wport is not None:
                _log.info("closing %s: a frame for wPort %d, not served", self.peer, unknown_wport)
                self.close()
                self.server._event(ConnectionEvent.CLOSED_UNKNOWN_WPORT)
        except Exception:
            _log.exception("connection from %s failed", self.peer)
            self.close()

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
            for connection in self.connections.values():
                connection.close()
            self.connections.clear()
