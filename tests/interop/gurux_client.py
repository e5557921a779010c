"""A small blocking driver of gurux's Python client (PyPI ``gurux-dlms``, GPL: a test-only and
benchmark-only dependency, never imported by ``src/metertwin``) over one plain TCP socket
with the IEC 62056-47 wrapper, or with HDLC frames (``hdlc_associated``).

gurux's ``GXDLMSClient`` is sans-IO: it builds request frames and parses the octets it is
given, and leaves the sending, the receive loop (``getData`` until a whole frame is in),
the block transfer (``receiverReady`` while ``isMoreData``) and the HLS pass 3/4 exchange to
its caller. This module is that caller, and no more: what a value means is left to gurux's
objects (``GXDLMSRegister``, ``GXDLMSClock``, ``GXDLMSProfileGeneric`` ...).

Three ways to associate, as the models of docs/dlms.md offer them: no security (the public
client 0x10), LLS (a password), and HLS-GMAC with suite 0 ciphering (mechanism 5,
authenticated and encrypted, ``Gmac``), the last for issue 12's client SAP 0x40.
"""

from __future__ import annotations

import os
import select
import socket
import tty
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gurux_dlms import GXByteBuffer, GXDLMSClient, GXDLMSException, GXReplyData
from gurux_dlms.ecdsa import GXPrivateKey, GXPublicKey
from gurux_dlms.enums import Authentication, InterfaceType, Security
from gurux_dlms.objects import GXDLMSObject, GXDLMSObjectCollection, GXDLMSProfileGeneric
from gurux_dlms.objects.enums import SecuritySuite
from gurux_dlms.secure import GXDLMSSecureClient

SERVER_SAP = 1
TIMEOUT_S = 5.0
RECEIVE_CHUNK = 4096

# Green Book (DLMS UA 1000-2, 9.2.7 examples) keys, the demo keys issue 12 names for 0x40.
GREEN_BOOK_BLOCK_CIPHER_KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
GREEN_BOOK_AUTHENTICATION_KEY = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
CLIENT_SYSTEM_TITLE = b"GRX" + bytes.fromhex("0000000001")  # 3 letters + 5 octets


class ProtocolError(Exception):
    """What the driver itself refuses: a peer that closed, or octets no request asked for."""


@dataclass(frozen=True)
class Gmac:
    """HLS-GMAC (mechanism 5) with suite 0 ciphering, authenticated and encrypted."""

    system_title: bytes = CLIENT_SYSTEM_TITLE
    block_cipher_key: bytes = GREEN_BOOK_BLOCK_CIPHER_KEY
    authentication_key: bytes = GREEN_BOOK_AUTHENTICATION_KEY
    invocation_counter: int = 1
    security: Security = Security.AUTHENTICATION_ENCRYPTION


@dataclass(frozen=True)
class Ecdsa(Gmac):
    """HLS-ECDSA (mechanism 7) with suite 1 or 2 ciphering: the head-end's private key (the
    raw scalar, 32 or 48 octets) and the meter's public key (base64 of its DER
    SubjectPublicKeyInfo, as gurux reads it). The block cipher and authentication keys are
    those of the suite (32 octets for suite 2)."""

    suite: int = 1
    client_private_key: bytes = b""
    meter_public_key_der_base64: str = ""


def continued(gmac: Gmac, after: GuruxSession) -> Gmac:
    """``gmac`` for the next association with the same keys: its invocation counter goes on
    from where ``after``'s ended (a meter refuses a counter it already accepted: a replay)."""
    return replace(gmac, invocation_counter=after.client.ciphering.invocationCounter)


def make_client(
    client_sap: int, secret: bytes | None = None, gmac: Gmac | None = None
) -> GXDLMSClient:
    """gurux's LN client for ``client_sap``: no security, LLS with ``secret``, or HLS-GMAC."""
    if gmac is None:
        mechanism = Authentication.NONE if secret is None else Authentication.LOW
        return GXDLMSClient(True, client_sap, SERVER_SAP, mechanism, secret, InterfaceType.WRAPPER)
    mechanism = Authentication.HIGH_ECDSA if isinstance(gmac, Ecdsa) else Authentication.HIGH_GMAC
    client = GXDLMSSecureClient(
        True, client_sap, SERVER_SAP, mechanism, None, InterfaceType.WRAPPER
    )
    ciphering = client.ciphering
    if isinstance(gmac, Ecdsa):
        ciphering.securitySuite = SecuritySuite(gmac.suite)
        ciphering.signingKeyPair = (
            GXPublicKey.fromDer(gmac.meter_public_key_der_base64),
            GXPrivateKey.fromRawBytes(gmac.client_private_key),
        )
    ciphering.security = gmac.security
    ciphering.systemTitle = bytearray(gmac.system_title)
    ciphering.blockCipherKey = bytearray(gmac.block_cipher_key)
    ciphering.authenticationKey = bytearray(gmac.authentication_key)
    ciphering.invocationCounter = gmac.invocation_counter
    return client


class GuruxSession:
    """One TCP connection to a meter, spoken through gurux's client.

    ``exchange`` sends gurux's frames and returns its ``GXReplyData`` once the whole answer
    (every block) is in; a DLMS error in the answer (data-access-result, exception-response)
    raises gurux's ``GXDLMSException`` with its ``errorCode``.
    """

    def __init__(
        self,
        port: int | Any,
        client: GXDLMSClient,
        host: str = "127.0.0.1",
        line: socket.socket | LineStream | None = None,
    ) -> None:
        """``port``: a TCP port, or an open stream with ``sendall``, ``recv`` and ``close``
        (a serial line, :class:`LineStream`). ``line``: a connection already open (an RS-485
        bus's line, shared by the clients of several meters) instead of a new one to ``port``."""
        self.client = client
        self.sent: list[bytes] = []  # every frame sent, for a report of what failed
        self.received: list[bytes] = []  # every chunk received
        if line is not None:
            self._socket = line
        elif isinstance(port, int):
            self._socket = socket.create_connection((host, port), timeout=TIMEOUT_S)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            self._socket = port

    def close(self) -> None:
        self._socket.close()

    def exchange(self, frames: Any, raise_refusal: bool = True) -> GXReplyData:
        """Send gurux's request (one frame or a list of frames); read every answer block.
        A refusal raises unless ``raise_refusal`` is false (then ``reply.error`` has it)."""
        reply = GXReplyData()
        for frame in _frames(frames):
            # Each frame is answered on its own (a parameter block's next-pblock answer
            # included): gurux's own reader clears the reply between them, so does this.
            reply.clear()
            self._round_trip(frame, reply)
        while reply.isMoreData():
            self._round_trip(self.client.receiverReady(reply), reply)
        if reply.error and raise_refusal:
            raise GXDLMSException(reply.error)
        return reply

    def _round_trip(self, frame: bytes | bytearray | None, reply: GXReplyData) -> None:
        if frame is not None:
            self.sent.append(bytes(frame))
            self._socket.sendall(frame)
        incoming = GXByteBuffer()
        while not self.client.getData(incoming, reply, None):
            chunk = self._socket.recv(RECEIVE_CHUNK)
            if not chunk:
                raise ProtocolError("the meter closed the connection")
            self.received.append(chunk)
            incoming.set(chunk)
        if incoming.position != incoming.size:
            raise ProtocolError(f"octets after the answer: {incoming.remainingHexString()}")

    # -- the services ---------------------------------------------------------------------

    def associate(self) -> None:
        """AARQ/AARE; with HLS, pass 3/4 (reply_to_HLS_authentication) too."""
        reply = self.exchange(self.client.aarqRequest())
        self.client.parseAareResponse(reply.data)  # raises GXDLMSException when refused
        if self.client.getIsAuthenticationRequired():
            reply = self.exchange(self.client.getApplicationAssociationRequest())
            self.client.parseApplicationAssociationResponse(reply.data)

    def release(self) -> GXReplyData:
        """RLRQ; the RLRE's content is in the reply's ``data``."""
        return self.exchange(self.client.releaseRequest())

    def read(self, target: GXDLMSObject, attribute: int) -> Any:
        """GET one attribute; gurux stores it in ``target`` and the decoded value is returned."""
        reply = self.exchange(self.client.read(target, attribute))
        self.client.updateValue(target, attribute, reply.value)
        return target.getValues()[attribute - 1]

    def read_list(self, items: list[tuple[GXDLMSObject, int]]) -> list[Any]:
        """GET-with-list (gurux puts at most 10 attributes in a request): the values, each
        also stored in its object; a refused attribute's is None (gurux keeps no code)."""
        values: list[Any] = []
        for request in self.client.readList(items):
            values.extend(self.exchange(request, raise_refusal=False).value)
        self.client.updateValues(items, values)
        return values

    def read_raw(self, target: GXDLMSObject, attribute: int) -> Any:
        """GET one attribute as gurux decodes the data alone, without an object's typing."""
        return self.exchange(self.client.read(target, attribute)).value

    def write(self, target: GXDLMSObject, attribute: int) -> None:
        """SET one attribute to what ``target`` holds, encoded by gurux as its class says."""
        self.exchange(self.client.write(target, attribute))

    def act(self, request: Any) -> GXReplyData:
        """ACTION: the request a gurux object's method made, e.g. ``remoteDisconnect(client)``."""
        return self.exchange(request)

    def object_list(self, known_classes_only: bool = True) -> GXDLMSObjectCollection:
        """The current association's object_list (0.0.40.0.0.255 attribute 2), parsed; gurux
        drops the classes it has no object for (manufacturer classes) unless told not to."""
        reply = self.exchange(self.client.getObjectsRequest())
        return self.client.parseObjects(reply.data, known_classes_only)

    def rows_by_range(
        self, profile: GXDLMSProfileGeneric, start: datetime, end: datetime
    ) -> list[list[Any]]:
        """The buffer, selector 1 (range on the profile's first column, the clock); the
        capture objects must have been read first."""
        reply = self.exchange(self.client.readRowsByRange(profile, start, end))
        self.client.updateValue(profile, 2, reply.value)
        rows: list[list[Any]] = profile.buffer
        return rows

    def rows_by_entry(
        self, profile: GXDLMSProfileGeneric, index: int, count: int
    ) -> list[list[Any]]:
        """The buffer, selector 2 (entries ``index`` .. ``index + count - 1``, 1-based)."""
        reply = self.exchange(self.client.readRowsByEntry(profile, index, count))
        self.client.updateValue(profile, 2, reply.value)
        rows: list[list[Any]] = profile.buffer
        return rows


def _frames(frames: Any) -> Iterable[bytes | bytearray]:
    """gurux returns one frame for some services and a list of frames for others."""
    if isinstance(frames, bytes | bytearray):
        return [frames]
    return list(frames)


@contextmanager
def session(
    port: int, client_sap: int, secret: bytes | None = None, gmac: Gmac | None = None
) -> Iterator[GuruxSession]:
    """An open connection (not yet associated), closed when the block ends."""
    opened = GuruxSession(port, make_client(client_sap, secret, gmac))
    try:
        yield opened
    finally:
        opened.close()


def make_hdlc_client(
    client_sap: int, physical_address: int, secret: bytes | None = None
) -> GXDLMSClient:
    """gurux's LN client speaking HDLC to the management logical device at
    ``physical_address`` (gurux's ``getServerAddress``: four octets above 127)."""
    mechanism = Authentication.NONE if secret is None else Authentication.LOW
    server_address = GXDLMSClient.getServerAddress(SERVER_SAP, physical_address)
    return GXDLMSClient(True, client_sap, server_address, mechanism, secret, InterfaceType.HDLC)


class LineStream:
    """A serial line (a pty's slave, raw) as the blocking socket GuruxSession reads."""

    def __init__(self, path: str | int) -> None:
        self.fd = path if isinstance(path, int) else os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)

    def sendall(self, data: bytes | bytearray) -> None:
        view = memoryview(bytes(data))
        while view:
            view = view[os.write(self.fd, view) :]

    def recv(self, size: int) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], TIMEOUT_S)
        if not ready:
            raise TimeoutError("no answer on the serial line")
        return os.read(self.fd, size)

    def close(self) -> None:
        os.close(self.fd)


@contextmanager
def hdlc_associated(
    port: int | Any, physical_address: int, client_sap: int, secret: bytes | None = None
) -> Iterator[GuruxSession]:
    """An HDLC link (SNRM/UA, gurux taking the negotiated sizes) and an accepted
    association over it; released and the link disconnected (DISC/UA) when the block ends
    cleanly."""
    opened = GuruxSession(port, make_hdlc_client(client_sap, physical_address, secret))
    try:
        opened.client.parseUAResponse(opened.exchange(opened.client.snrmRequest()).data)
        opened.associate()
        yield opened
        opened.release()
        opened.exchange(opened.client.disconnectRequest())
    finally:
        opened.close()


@contextmanager
def associated(
    port: int, client_sap: int, secret: bytes | None = None, gmac: Gmac | None = None
) -> Iterator[GuruxSession]:
    """An accepted association, released when the block ends cleanly."""
    with session(port, client_sap, secret, gmac) as opened:
        opened.associate()
        yield opened
        opened.release()
