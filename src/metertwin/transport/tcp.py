"""DLMS/COSEM over TCP (IEC 62056-47 wrapper; protocols.md, "DLMS over TCP"), asyncio.

Per TCP connection: one :class:`~metertwin.protocols.wrapper.WrapperDecoder` and, for each
logical device addressed, one :class:`~metertwin.dlms.server.ServerConnection`. The wrapper's
source wPort is the client SAP, its destination wPort the server SAP; answers go back with the
wPorts swapped. Frames for a server SAP that is not configured are dropped, as a meter drops
HDLC frames for another address.

Seed 004 (MeterCom PRO, 3.1 and 4.1) gives the connection options: one connection at a time
(``single_connection``: a second is accepted and closed at once, the first goes on), and the
session closed after five minutes without data (``inactivity_timeout_s``, default 300).

A framing error closes only its connection; any failure inside one connection is logged and
ends that connection alone, never the listener or the others. Nothing is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from metertwin.cosem.backend import DeviceBackend
from metertwin.dlms.server import ServerConnection, ServerSettings
from metertwin.protocols.wrapper import WrapperDecoder, WrapperError

__all__ = ["DEFAULT_PORT", "DlmsTcpServer", "TcpServerSettings"]

_log = logging.getLogger(__name__)

DEFAULT_PORT = 4059
"""The IANA port of DLMS/COSEM over TCP (protocols.md; seed 004, 4.1)."""
MANAGEMENT_LOGICAL_DEVICE = 1
_READ_SIZE = 1 << 16


@dataclass(frozen=True, slots=True)
class TcpServerSettings:
    """How the TCP server behaves; ``dlms`` is handed to every :class:`ServerConnection`.

    ``server_saps``: the logical devices that answer (1 = management logical device).
    ``single_connection``: seed 004, one connection at a time, others rejected.
    ``inactivity_timeout_s``: seed 004, close a connection idle this long (None: never).
    ``max_frame_length``: the longest APDU a wrapper header may announce; a longer one is a
    framing error and closes the connection.
    """

    server_saps: frozenset[int] = frozenset({MANAGEMENT_LOGICAL_DEVICE})
    single_connection: bool = False
    inactivity_timeout_s: float | None = 300.0
    max_frame_length: int = 0xFFFF
    dlms: ServerSettings = field(default_factory=ServerSettings)

    def __post_init__(self) -> None:
        if not self.server_saps or not all(0 <= sap <= 0xFFFF for sap in self.server_saps):
            raise ValueError("server_saps must be wPorts 0..65535, at least one")
        if self.inactivity_timeout_s is not None and not self.inactivity_timeout_s > 0:
            raise ValueError("inactivity_timeout_s must be positive or None")
        if not 0 < self.max_frame_length <= 0xFFFF:
            raise ValueError("max_frame_length must be 1..65535")


class DlmsTcpServer:
    """The meter's DLMS/COSEM TCP listener: ``await start()``, ``await stop()``.

    Bind ``port=0`` to let the system choose; :attr:`port` then tells which port it is.
    """

    def __init__(
        self,
        backend: DeviceBackend,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        settings: TcpServerSettings | None = None,
    ) -> None:
        self.backend = backend
        self.host = host
        self.settings = settings or TcpServerSettings()
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

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
        self._server = await asyncio.start_server(self._accept, self.host, self._requested_port)
        _log.info("DLMS/COSEM over TCP listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and end every connection (their associations are released)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        sessions = list(self._sessions)
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)
        await server.wait_closed()
        _log.info("DLMS/COSEM over TCP stopped")

    async def __aenter__(self) -> DlmsTcpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self.settings.single_connection and self._sessions:
            _log.info("connection from %s closed: one connection at a time", peer)
            await _close(writer)
            return
        task = asyncio.current_task()
        assert task is not None  # a stream callback always runs in a task
        self._sessions.add(task)
        connections: dict[int, ServerConnection] = {}
        _log.info("connection from %s", peer)
        try:
            await self._serve(reader, writer, connections, peer)
        except asyncio.CancelledError:
            pass  # the server is stopping
        except Exception:
            _log.exception("connection from %s failed", peer)
        finally:
            self._sessions.discard(task)
            for connection in connections.values():
                connection.close()
            await _close(writer)
            _log.info("connection from %s closed", peer)

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connections: dict[int, ServerConnection],
        peer: object,
    ) -> None:
        settings = self.settings
        decoder = WrapperDecoder(settings.max_frame_length)
        while True:
            try:
                data = await asyncio.wait_for(
                    reader.read(_READ_SIZE), settings.inactivity_timeout_s
                )
            except TimeoutError:
                _log.info("closing %s: no data for %s s", peer, settings.inactivity_timeout_s)
                return
            if not data:
                return  # the client closed its side
            try:
                frames = decoder.feed(data)
            except WrapperError as problem:
                _log.warning("closing %s: %s", peer, problem)
                return
            for frame in frames:
                if frame.destination not in settings.server_saps:
                    _log.debug("%s: frame for wPort %d dropped", peer, frame.destination)
                    continue
                connection = connections.get(frame.destination)
                if connection is None:
                    connection = ServerConnection(self.backend, frame.destination, settings.dlms)
                    connections[frame.destination] = connection
                answer = connection.receive(frame.source, frame.payload)
                if answer is not None:
                    writer.write(frame.reply(answer).encode())
            await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
