"""Our DLMS/COSEM client over TCP with the IEC 62056-47 wrapper, for head-end style use.

Two thin front ends drive the sans-IO :class:`~metertwin.dlms.client.association.ClientAssociation`:
:class:`AsyncDlmsClient` (asyncio) and :class:`DlmsClient` (blocking sockets, for scripts and
tests). Both associate on ``connect`` (LLS when a password is given, lowest level otherwise),
wait at most ``timeout`` seconds for every answer, and release on close::

    with DlmsClient().connect("127.0.0.1", 4059) as meter:
        energy = meter.get("1.0.1.8.0.255", 3)

    async with AsyncDlmsClient().connect("127.0.0.1", 4059, password=b"HELLO") as meter:
        objects = await meter.object_list()

Every error is a :class:`DlmsClientError`; a timeout or a broken stream closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections import deque
from collections.abc import Coroutine, Generator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import GetDataResult, SelectiveAccess
from metertwin.dlms.acse import InitiateResponse
from metertwin.dlms.client.association import (
    DEFAULT_MAX_RECEIVE_PDU_SIZE,
    AttributeRef,
    ClientAssociation,
    Exchange,
    WrapperLink,
    is_unsolicited,
)
from metertwin.dlms.client.errors import (
    DlmsClientError,
    DlmsConnectionError,
    DlmsTimeoutError,
    NotAssociatedError,
)
from metertwin.dlms.client.objects import (
    CaptureObject,
    ObjectListEntry,
)
from metertwin.dlms.client.security import ClientSecurity

__all__ = ["DEFAULT_TIMEOUT", "ApduCarrier", "AsyncDlmsClient", "DlmsClient", "WrapperTcpCarrier"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for the TCP connection and for each answer."""

_READ_SIZE = 65536


def _kernel_timeouts(sock: socket.socket, seconds: float) -> None:
    """Blocking socket with kernel send/receive timeouts instead of Python's poll-based
    timeout: one system call per read (on a virtual machine the poll wake-up alone can
    cost a hundred microseconds, which a sequential head-end pays on every request)."""
    sock.settimeout(None)
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _connect_error(host: str, port: int, problem: OSError, timeout: float) -> DlmsConnectionError:
    if isinstance(problem, TimeoutError):
        return DlmsTimeoutError(f"cannot connect to {host}:{port}: no answer within {timeout:g} s")
    reason = problem.strerror or str(problem) or type(problem).__name__
    return DlmsConnectionError(f"cannot connect to {host}:{port}: {reason}")


def _check_timeout(timeout: float) -> float:
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    return timeout


class ApduCarrier(Protocol):
    """What carries our request APDUs to one meter and its answers back: the TCP wrapper here,
    HDLC over TCP or a serial line in ``hdlc.py``. A failure is a :class:`DlmsClientError`
    (a :class:`DlmsConnectionError` for a line that broke); after one the carrier is closed."""

    peer: str

    def transact(self, request: bytes) -> bytes:
        """Send ``request``, return the meter's answer (notifications skipped)."""
        ...

    def close(self) -> None:
        """End the link and the line at once; never raises."""
        ...


class WrapperTcpCarrier:
    """The IEC 62056-47 wrapper over one blocking TCP connection."""

    def __init__(
        self, host: str, port: int, client_sap: int, server_sap: int, timeout: float
    ) -> None:
        self._link = WrapperLink(client_sap, server_sap)
        self.timeout = timeout
        self.peer = f"{host}:{port}"
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as problem:
            raise _connect_error(host, port, problem, timeout) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _kernel_timeouts(sock, timeout)
        self._socket: socket.socket | None = sock
        self._pending: deque[bytes] = deque()

    def transact(self, request: bytes) -> bytes:
        sock = self._socket
        if sock is None:
            raise DlmsConnectionError("the connection is closed")
        deadline = time.monotonic() + self.timeout
        try:
            sock.sendall(self._link.wrap(request))
            while True:
                while self._pending:
                    answer = self._pending.popleft()
                    if not is_unsolicited(answer):
                        return answer
                if time.monotonic() > deadline:
                    raise TimeoutError
                try:
                    data = sock.recv(_READ_SIZE)
                except BlockingIOError:  # SO_RCVTIMEO expired
                    raise TimeoutError from None
                if not data:
                    raise DlmsConnectionError(f"{self.peer} closed the connection")
                self._pending.extend(self._link.feed(data))
        except TimeoutError:
            self.close()
            raise DlmsTimeoutError(
                f"no answer from {self.peer} within {self.timeout:g} s"
            ) from None
        except OSError as problem:
            self.close()
            reason = problem.strerror or str(problem) or type(problem).__name__
            raise DlmsConnectionError(f"connection to {self.peer} lost: {reason}") from None
        except BaseException:  # DlmsClientError, or an interrupt with an answer on its way
            self.close()
            raise

    def close(self) -> None:
        sock, self._socket = self._socket, None
        self._pending.clear()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


class DlmsClient:
    """Blocking DLMS client: one connection, one association at a time; over the TCP wrapper
    (:meth:`connect`) or any :class:`ApduCarrier` (:meth:`open`, e.g. HDLC)."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = _check_timeout(timeout)
        self._carrier: ApduCarrier | None = None
        self._association: ClientAssociation | None = None
        self._peer = ""

    # --- connection ------------------------------------------------------------------------

    def connect(
        self,
        host: str,
        port: int,
        client_sap: int = 0x10,
        server_sap: int = 1,
        password: bytes | str | None = None,
        max_receive_pdu_size: int = DEFAULT_MAX_RECEIVE_PDU_SIZE,
        security: ClientSecurity | None = None,
    ) -> Self:
        """Opens the TCP connection and the association (AARQ/AARE, and HLS pass 3/4 with
        ``security``); returns the client."""
        if self._carrier is not None:
            raise DlmsClientError("already connected")
        carrier = WrapperTcpCarrier(host, port, client_sap, server_sap, self.timeout)
        return self.open(carrier, password, max_receive_pdu_size, security)

    def open(
        self,
        carrier: ApduCarrier,
        password: bytes | str | None = None,
        max_receive_pdu_size: int = DEFAULT_MAX_RECEIVE_PDU_SIZE,
        security: ClientSecurity | None = None,
    ) -> Self:
        """Opens the association over ``carrier`` (already connected to the meter, its
        addresses chosen); the client closes the carrier at the end."""
        if self._carrier is not None:
            carrier.close()
            raise DlmsClientError("already connected")
        association = ClientAssociation(
            password=password, security=security, max_receive_pdu_size=max_receive_pdu_size
        )
        self._carrier, self._association = carrier, association
        self._peer = carrier.peer
        try:
            self._drive(association.associate())
        except BaseException:
            self._abort()
            raise
        return self

    @property
    def association(self) -> ClientAssociation:
        """The sans-IO association (negotiated conformance, PDU sizes)."""
        if self._association is None:
            raise NotAssociatedError("not connected: call connect() first")
        return self._association

    @property
    def negotiated(self) -> InitiateResponse | None:
        return None if self._association is None else self._association.negotiated

    @property
    def connected(self) -> bool:
        return self._carrier is not None

    def release(self) -> None:
        """RLRQ -> RLRE; the connection stays open until :meth:`close`."""
        self._drive(self.association.release())

    def close(self) -> None:
        """Releases the association if it is open (errors ignored), then closes the carrier."""
        if self._carrier is None:
            return
        try:
            if self._association is not None and self._association.associated:
                self.release()
        except DlmsClientError:
            pass
        finally:
            self._abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- services --------------------------------------------------------------------------

    def get(
        self,
        obis: Obis | str,
        class_id: int,
        attribute: int = 2,
        access: SelectiveAccess | None = None,
    ) -> Data:
        return self._drive(self.association.get(obis, class_id, attribute, access))

    def get_many(self, attributes: Sequence[AttributeRef]) -> list[GetDataResult]:
        return self._drive(self.association.get_many(attributes))

    def set(self, obis: Obis | str, class_id: int, attribute: int, value: Data) -> None:
        self._drive(self.association.set(obis, class_id, attribute, value))

    def action(
        self, obis: Obis | str, class_id: int, method: int, parameters: Data | None = None
    ) -> Data | None:
        return self._drive(self.association.action(obis, class_id, method, parameters))

    def object_list(self) -> list[ObjectListEntry]:
        return self._drive(self.association.object_list())

    def capture_objects(self, obis: Obis | str) -> list[CaptureObject]:
        return self._drive(self.association.capture_objects(obis))

    def profile(
        self,
        obis: Obis | str,
        start: datetime | CosemDateTime,
        end: datetime | CosemDateTime,
        columns: Sequence[CaptureObject] = (),
    ) -> list[tuple[Data, ...]]:
        return self._drive(self.association.profile(obis, start, end, columns))

    # --- I/O -------------------------------------------------------------------------------

    def _drive(self, exchange: Exchange[T]) -> T:
        try:
            if self._carrier is None:
                raise DlmsConnectionError(f"the connection to {self._peer} is closed")
            request = next(exchange)
            while True:
                request = exchange.send(self._transact(request))
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            exchange.close()

    def _transact(self, request: bytes) -> bytes:
        carrier = self._carrier
        if carrier is None:
            raise DlmsConnectionError("the connection is closed")
        try:
            return carrier.transact(request)
        except BaseException:  # the carrier closed itself; the association is gone with it
            self._abort()
            raise

    def _abort(self) -> None:
        """Closes the carrier at once; the association is gone with it."""
        if self._association is not None:
            self._association.forget()
        carrier, self._carrier = self._carrier, None
        if carrier is not None:
            carrier.close()


class _Connecting:
    """What :meth:`AsyncDlmsClient.connect` returns: await it for the connected client, or use
    it in ``async with`` to have the client closed at the end."""

    def __init__(self, opening: Coroutine[Any, Any, AsyncDlmsClient]) -> None:
        self._opening = opening
        self._client: AsyncDlmsClient | None = None

    def __await__(self) -> Generator[Any, None, AsyncDlmsClient]:
        return self._opening.__await__()

    async def __aenter__(self) -> AsyncDlmsClient:
        self._client = await self._opening
        return self._client

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.close()


class AsyncDlmsClient:
    """asyncio DLMS client: one TCP connection, one association, one request at a time
    (concurrent calls from several tasks are queued)."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = _check_timeout(timeout)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._link = WrapperLink()
        self._association: ClientAssociation | None = None
        self._pending: deque[bytes] = deque()
        self._lock = asyncio.Lock()
        self._peer = ""

    # --- connection ------------------------------------------------------------------------

    def connect(
        self,
        host: str,
        port: int,
        client_sap: int = 0x10,
        server_sap: int = 1,
        password: bytes | str | None = None,
        max_receive_pdu_size: int = DEFAULT_MAX_RECEIVE_PDU_SIZE,
        security: ClientSecurity | None = None,
    ) -> _Connecting:
        """Opens the TCP connection and the association (AARQ/AARE, and HLS pass 3/4 with
        ``security``). ``await`` the result for the client, or ``async with`` it."""
        return _Connecting(
            self._open(host, port, client_sap, server_sap, password, max_receive_pdu_size, security)
        )

    async def _open(
        self,
        host: str,
        port: int,
        client_sap: int,
        server_sap: int,
        password: bytes | str | None,
        max_receive_pdu_size: int,
        security: ClientSecurity | None,
    ) -> AsyncDlmsClient:
        if self._writer is not None:
            raise DlmsClientError("already connected")
        link = WrapperLink(client_sap, server_sap)
        association = ClientAssociation(
            password=password, security=security, max_receive_pdu_size=max_receive_pdu_size
        )
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except OSError as problem:  # TimeoutError included
            raise _connect_error(host, port, problem, self.timeout) from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader, self._writer = reader, writer
        self._link, self._association = link, association
        self._pending.clear()
        self._peer = f"{host}:{port}"
        try:
            await self._drive(association.associate())
        except BaseException:
            await self._abort()
            raise
        return self

    @property
    def association(self) -> ClientAssociation:
        if self._association is None:
            raise NotAssociatedError("not connected: call connect() first")
        return self._association

    @property
    def negotiated(self) -> InitiateResponse | None:
        return None if self._association is None else self._association.negotiated

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def release(self) -> None:
        await self._drive(self.association.release())

    async def close(self) -> None:
        if self._writer is None:
            return
        try:
            if self._association is not None and self._association.associated:
                await self.release()
        except DlmsClientError:
            pass
        finally:
            await self._abort()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- services --------------------------------------------------------------------------

    async def get(
        self,
        obis: Obis | str,
        class_id: int,
        attribute: int = 2,
        access: SelectiveAccess | None = None,
    ) -> Data:
        return await self._drive(self.association.get(obis, class_id, attribute, access))

    async def get_many(self, attributes: Sequence[AttributeRef]) -> list[GetDataResult]:
        return await self._drive(self.association.get_many(attributes))

    async def set(self, obis: Obis | str, class_id: int, attribute: int, value: Data) -> None:
        await self._drive(self.association.set(obis, class_id, attribute, value))

    async def action(
        self, obis: Obis | str, class_id: int, method: int, parameters: Data | None = None
    ) -> Data | None:
        return await self._drive(self.association.action(obis, class_id, method, parameters))

    async def object_list(self) -> list[ObjectListEntry]:
        return await self._drive(self.association.object_list())

    async def capture_objects(self, obis: Obis | str) -> list[CaptureObject]:
        return await self._drive(self.association.capture_objects(obis))

    async def profile(
        self,
        obis: Obis | str,
        start: datetime | CosemDateTime,
        end: datetime | CosemDateTime,
        columns: Sequence[CaptureObject] = (),
    ) -> list[tuple[Data, ...]]:
        return await self._drive(self.association.profile(obis, start, end, columns))

    # --- I/O -------------------------------------------------------------------------------

    async def _drive(self, exchange: Exchange[T]) -> T:
        async with self._lock:
            try:
                if self._writer is None:
                    raise DlmsConnectionError(f"the connection to {self._peer} is closed")
                request = next(exchange)
                while True:
                    request = exchange.send(await self._transact(request))
            except StopIteration as done:
                result: T = done.value
                return result
            finally:
                exchange.close()

    async def _transact(self, request: bytes) -> bytes:
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            raise DlmsConnectionError("the connection is closed")
        try:
            async with asyncio.timeout(self.timeout):
                writer.write(self._link.wrap(request))
                await writer.drain()
                while True:
                    while self._pending:
                        answer = self._pending.popleft()
                        if not is_unsolicited(answer):
                            return answer
                    data = await reader.read(_READ_SIZE)
                    if not data:
                        raise DlmsConnectionError(f"{self._peer} closed the connection")
                    self._pending.extend(self._link.feed(data))
        except TimeoutError:
            await self._abort()
            raise DlmsTimeoutError(
                f"no answer from {self._peer} within {self.timeout:g} s"
            ) from None
        except OSError as problem:
            await self._abort()
            reason = problem.strerror or str(problem) or type(problem).__name__
            raise DlmsConnectionError(f"connection to {self._peer} lost: {reason}") from None
        except DlmsClientError:
            await self._abort()
            raise
        except BaseException:  # cancelled with an answer on its way: it must not be misread
            self._drop()
            raise

    async def _abort(self) -> None:
        writer = self._drop()
        if writer is not None:
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _drop(self) -> asyncio.StreamWriter | None:
        """Closes the connection without waiting; the association is gone with it."""
        if self._association is not None:
            self._association.forget()
        writer, self._writer, self._reader = self._writer, None, None
        self._pending.clear()
        if writer is not None:
            writer.close()
        return writer
