"""Our DLMS client over HDLC (IEC 62056-46): over TCP, or over a serial line with pyserial.

:class:`HdlcCarrier` is the thin blocking transport around the sans-IO
:class:`~metertwin.protocols.hdlc_client_link.HdlcClientLink`: it connects the link (SNRM/UA)
when opened, moves each request's frames out and the answer's in (the link's polls and retries
run at the deadlines it gives), and sends DISC on close. The line is a :class:`ByteLine`:
:class:`SocketLine` (HDLC over TCP, ``metertwin run --hdlc-port``) or :class:`SerialLine`
(a pty or a real port)::

    carrier = HdlcCarrier.over_tcp("127.0.0.1", 4061, server=HdlcAddress.server(1, 6678))
    with DlmsClient().open(carrier) as meter:
        energy = meter.get("1.0.1.8.0.255", 3)

A refusal of the link (DM, FRMR) and a silent server are :class:`DlmsConnectionError`\\ s
(:class:`DlmsTimeoutError` for silence) with the link's own words.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any, Protocol

from metertwin.dlms.client.errors import DlmsConnectionError, DlmsTimeoutError
from metertwin.protocols.hdlc_client_link import (
    ClientLinkSettings,
    HdlcClientLink,
    HdlcLinkError,
    HdlcLinkTimeout,
)
from metertwin.protocols.hdlc_frame import HdlcAddress

__all__ = ["ByteLine", "HdlcCarrier", "SerialLine", "SocketLine", "server_address"]

_READ_SIZE = 4096
_RETRIES = 2


def server_address(logical: int, physical: int) -> HdlcAddress:
    """The server address a client calls: four octets, the form IDIS meters and
    :func:`~metertwin.protocols.hdlc_link.physical_address_for_serial` addresses use."""
    return HdlcAddress(logical, physical, 4)


class ByteLine(Protocol):
    """A blocking byte line: what HDLC runs over."""

    peer: str

    def write(self, data: bytes) -> None: ...

    def read(self, wait: float) -> bytes:
        """What arrived within ``wait`` seconds (b"" when nothing); OSError when it broke."""
        ...

    def close(self) -> None: ...


class SocketLine:
    """HDLC over TCP: the frames as they are on the stream (no wrapper)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.peer = f"{host}:{port}"
        try:
            self._socket = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError:
            raise DlmsTimeoutError(
                f"cannot connect to {self.peer}: no answer within {timeout:g} s"
            ) from None
        except OSError as problem:
            reason = problem.strerror or str(problem) or type(problem).__name__
            raise DlmsConnectionError(f"cannot connect to {self.peer}: {reason}") from None
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes) -> None:
        self._socket.sendall(data)

    def read(self, wait: float) -> bytes:
        self._socket.settimeout(max(wait, 0.001))
        try:
            data = self._socket.recv(_READ_SIZE)
        except TimeoutError:
            return b""
        if not data:
            raise ConnectionError(f"{self.peer} closed the connection")
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()


class SerialLine:
    """HDLC over a serial line (8N1, Green Book's default framing), through pyserial."""

    def __init__(self, device: str, baud: int, opened: Any = None) -> None:
        """``opened``: a pyserial port already open on ``device`` (mode E: dlms/client/
        optical.py opened it at 300 baud and switched it), else the line is opened here."""
        import serial  # pyserial: imported only for a serial line

        self.peer = f"{device} at {baud} Bd"
        if opened is not None:
            self._port: Any = opened
            return
        try:
            self._port = serial.Serial(device, baud, timeout=0)
        except (serial.SerialException, OSError, ValueError) as problem:
            raise DlmsConnectionError(f"cannot open {self.peer}: {problem}") from None

    def write(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    def read(self, wait: float) -> bytes:
        self._port.timeout = max(wait, 0.001)
        first: bytes = self._port.read(1)
        if not first:
            return b""
        waiting = self._port.in_waiting
        return first + (self._port.read(waiting) if waiting else b"")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._port.close()


class HdlcCarrier:
    """DLMS APDUs over one HDLC connection on ``line`` (an :class:`~metertwin.dlms.client.
    tcp.ApduCarrier`). ``timeout`` is the most an answer may take: each poll waits a third of
    it and is repeated twice."""

    def __init__(
        self,
        line: ByteLine,
        server: HdlcAddress,
        client_sap: int = 0x10,
        timeout: float = 10.0,
        max_info: int | None = None,
        window: int | None = None,
    ) -> None:
        """``max_info`` and ``window`` (both directions) are proposed in the SNRM instead of
        the Green Book's 128 and 1; the server's UA may lower them."""
        if not 0 <= client_sap <= 0x7F:
            line.close()
            raise DlmsConnectionError(
                f"client SAP {client_sap} does not fit a one-octet HDLC client address (0..127)"
            )
        self.line = line
        self.peer = line.peer  # the link's errors name the HDLC address
        limits: dict[str, int] = {}
        if max_info is not None:
            limits.update(max_info_transmit=max_info, max_info_receive=max_info)
        if window is not None:
            limits.update(window_transmit=window, window_receive=window)
        settings = ClientLinkSettings(
            server,
            client_sap,
            response_timeout=timeout / (_RETRIES + 1),
            retries=_RETRIES,
            **limits,
        )
        self.link = HdlcClientLink(settings)
        self._closed = False
        try:
            self._run(self.link.connect(time.monotonic()), want_apdu=False)
        except BaseException:
            self.close()
            raise

    @classmethod
    def over_tcp(
        cls, host: str, port: int, server: HdlcAddress, client_sap: int = 0x10, timeout: float = 10
    ) -> HdlcCarrier:
        return cls(SocketLine(host, port, timeout), server, client_sap, timeout)

    @classmethod
    def over_serial(
        cls,
        device: str,
        baud: int,
        server: HdlcAddress,
        client_sap: int = 0x10,
        timeout: float = 10,
    ) -> HdlcCarrier:
        return cls(SerialLine(device, baud), server, client_sap, timeout)

    def transact(self, request: bytes) -> bytes:
        if self._closed:
            raise DlmsConnectionError(f"the connection to {self.peer} is closed")
        try:
            # In normal response mode the server sends only when polled: what answers the
            # request's poll is its answer, never a notification of its own.
            answer = self._run(self.link.send(request, time.monotonic()), want_apdu=True)
        except BaseException:
            self.close()
            raise
        if answer is None:  # the link stopped waiting without an answer or an error
            self.close()
            raise DlmsConnectionError(f"{self.peer}: the HDLC link ended without an answer")
        return answer

    def close(self) -> None:
        """DISC (its UA awaited at most one poll), then the line closed; never raises."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(DlmsConnectionError, HdlcLinkError, OSError):
            if self.link.connected and not self.link.awaiting:
                self.line.write(self.link.disconnect(time.monotonic()))
                deadline = time.monotonic() + self.link.settings.response_timeout
                while self.link.connected and time.monotonic() < deadline:
                    data = self.line.read(deadline - time.monotonic())
                    if data:
                        self.link.receive(data, time.monotonic())
        self.line.close()

    def _run(self, octets: bytes, want_apdu: bool) -> bytes | None:
        """Send ``octets``, then read and answer until an APDU arrives (``want_apdu``) or
        the link waits on nothing."""
        link, line = self.link, self.line
        try:
            if octets:
                line.write(octets)
            while link.awaiting:
                deadline = link.deadline
                assert deadline is not None
                data = line.read(deadline - time.monotonic())
                now = time.monotonic()
                if data:
                    output = link.receive(data, now)
                    if output.transmit:
                        line.write(output.transmit)
                    if output.apdu is not None and want_apdu:
                        return output.apdu
                repeat = link.poll(now)
                if repeat:
                    line.write(repeat)
            return None
        except HdlcLinkTimeout as problem:
            raise DlmsTimeoutError(f"{self.peer}: {problem}") from None
        except HdlcLinkError as problem:
            raise DlmsConnectionError(f"{self.peer}: {problem}") from None
        except OSError as problem:
            reason = problem.strerror or str(problem) or type(problem).__name__
            raise DlmsConnectionError(f"connection to {self.peer} lost: {reason}") from None
