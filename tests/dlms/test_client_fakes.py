"""A tiny fake meter for the client and CLI tests, and checks that it behaves.

:class:`FakeMeter` is a real TCP server on 127.0.0.1 (a thread with blocking sockets) speaking the
IEC 62056-47 wrapper (protocols.md). It answers each request APDU from canned answers: a mapping
from request bytes to answer, or a callable. :class:`ObjectTableMeter` is such a callable that
serves GETs from a table of attribute values, enough for the CLI's discovery and profile reads.
It is no DLMS server; the real one is tested on its own.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from metertwin.codec.axdr import Data
from metertwin.codec.enums import (
    AcseServiceUserDiagnostic,
    AssociationResult,
    Conformance,
    DataAccessResult,
    ReleaseResponseReason,
    ServiceError,
    StateError,
)
from metertwin.codec.obis import Obis
from metertwin.dlms.apdu import (
    Aare,
    Aarq,
    AttributeDescriptor,
    ExceptionResponse,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithList,
    InitiateResponse,
    Rlre,
    Rlrq,
    SelectiveAccess,
    decode_apdu,
)
from metertwin.dlms.client.association import DEFAULT_CONFORMANCE
from metertwin.protocols.wrapper import WrapperDecoder, WrapperFrame


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


SILENT = _Signal("SILENT")
"""Answer nothing (the client should time out)."""
HANG_UP = _Signal("HANG_UP")
"""Close the connection instead of answering."""

Reply = bytes | Sequence[bytes] | _Signal
Responder = Mapping[bytes, Reply] | Callable[[bytes], Reply]

UNKNOWN_REQUEST = ExceptionResponse(StateError.SERVICE_UNKNOWN, ServiceError.OTHER_REASON).encode()


class FakeMeter:
    """A one-connection-at-a-time TCP server answering wrapped APDUs from ``respond``.

    ``chunk_size`` splits what it sends into pieces with short pauses (partial reads);
    ``reply_ports`` overrides the (source, destination) wPorts of its answers.
    """

    def __init__(
        self,
        respond: Responder,
        *,
        client_sap: int = 0x10,
        server_sap: int = 1,
        chunk_size: int | None = None,
        reply_ports: tuple[int, int] | None = None,
    ) -> None:
        self.respond = respond
        self.client_sap = client_sap
        self.server_sap = server_sap
        self.chunk_size = chunk_size
        self.reply_ports = reply_ports or (server_sap, client_sap)
        self.requests: list[bytes] = []
        self.unknown: list[bytes] = []
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._server.getsockname()[1]
        return port

    def __enter__(self) -> FakeMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with connection:
                self._converse(connection)

    def _converse(self, connection: socket.socket) -> None:
        connection.settimeout(0.05)
        decoder = WrapperDecoder()
        while not self._stop.is_set():
            try:
                data = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            for frame in decoder.feed(data):
                self.requests.append(frame.payload)
                reply = self._reply(frame.payload)
                if reply is HANG_UP:
                    return
                if reply is SILENT:
                    continue
                assert not isinstance(reply, _Signal)
                apdus = [reply] if isinstance(reply, bytes) else list(reply)
                source, destination = self.reply_ports
                self._send(
                    connection,
                    b"".join(WrapperFrame(source, destination, apdu).encode() for apdu in apdus),
                )

    def _reply(self, request: bytes) -> Reply:
        if callable(self.respond):
            return self.respond(request)
        reply = self.respond.get(request)
        if reply is None:
            self.unknown.append(request)
            return UNKNOWN_REQUEST
        return reply

    def _send(self, connection: socket.socket, raw: bytes) -> None:
        if self.chunk_size is None:
            connection.sendall(raw)
            return
        for start in range(0, len(raw), self.chunk_size):
            connection.sendall(raw[start : start + self.chunk_size])
            time.sleep(0.002)


# --- a table-driven responder ---------------------------------------------------------------

Key = tuple[int, Obis, int]


@dataclass
class ObjectTableMeter:
    """Answers AARQ, GET (normal and with-list) and RLRQ from ``objects``; unknown attributes
    are object-undefined. With a ``password``, an AARQ without it is refused with diagnostic 13
    authentication-failure. Selective access is recorded, not applied."""

    objects: dict[Key, Data | DataAccessResult]
    password: bytes | None = None
    conformance: Conformance = DEFAULT_CONFORMANCE
    server_max_receive_pdu_size: int = 0x0400
    accesses: list[SelectiveAccess | None] = field(default_factory=list)

    def __call__(self, request: bytes) -> Reply:
        apdu = decode_apdu(request)
        if isinstance(apdu, Aarq):
            return self._associate(apdu)
        if isinstance(apdu, GetRequestNormal):
            self.accesses.append(apdu.access)
            result = self._lookup(apdu.attribute)
            return GetResponseNormal(invoke=apdu.invoke, result=result).encode()
        if isinstance(apdu, GetRequestWithList):
            results = tuple(self._lookup(item.attribute) for item in apdu.attributes)
            return GetResponseWithList(invoke=apdu.invoke, results=results).encode()
        if isinstance(apdu, Rlrq):
            return Rlre(reason=ReleaseResponseReason.NORMAL).encode()
        return UNKNOWN_REQUEST

    def _lookup(self, attribute: AttributeDescriptor) -> Data | DataAccessResult:
        key = (attribute.class_id, attribute.instance, attribute.attribute_id)
        return self.objects.get(key, DataAccessResult.OBJECT_UNDEFINED)

    def _associate(self, aarq: Aarq) -> bytes:
        if self.password is not None and aarq.calling_authentication_value != self.password:
            return Aare(
                result=AssociationResult.REJECTED_PERMANENT,
                diagnostic=AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE,
            ).encode()
        initiate = InitiateResponse(
            negotiated_conformance=self.conformance,
            server_max_receive_pdu_size=self.server_max_receive_pdu_size,
        )
        return Aare(
            result=AssociationResult.ACCEPTED,
            diagnostic=AcseServiceUserDiagnostic.NULL,
            user_information=initiate.encode(),
        ).encode()


def accepted_aare(
    conformance: Conformance = DEFAULT_CONFORMANCE, server_max_receive_pdu_size: int = 0x0400
) -> bytes:
    """An AARE accepting the association with the given negotiated parameters."""
    initiate = InitiateResponse(
        negotiated_conformance=conformance,
        server_max_receive_pdu_size=server_max_receive_pdu_size,
    )
    return Aare(
        result=AssociationResult.ACCEPTED,
        diagnostic=AcseServiceUserDiagnostic.NULL,
        user_information=initiate.encode(),
    ).encode()


def object_list_data(
    entries: Iterable[tuple[int, int, Obis, Sequence[tuple[int, int]], Sequence[tuple[int, int]]]],
) -> Data:
    """Association LN attribute 2 (dlms.md 6) from (class, version, name, attribute rights,
    method rights); access selectors null-data, method access as enum."""
    return Data.array(
        Data.structure(
            (
                Data.long_unsigned(class_id),
                Data.unsigned(version),
                Data.octet_string(bytes(name)),
                Data.structure(
                    (
                        Data.array(
                            Data.structure((Data.integer(attribute), Data.enum(mode), Data.null()))
                            for attribute, mode in attributes
                        ),
                        Data.array(
                            Data.structure((Data.integer(method), Data.enum(mode)))
                            for method, mode in methods
                        ),
                    )
                ),
            )
        )
        for class_id, version, name, attributes, methods in entries
    )


# --- the fake's own checks --------------------------------------------------------------------


def test_fake_meter_answers_canned_apdus_and_refuses_the_rest() -> None:
    """dlms.md 5 (DC ``test_get.py``): a GET of Data 0.0.43.1.0.255 and its answer."""
    request = bytes.fromhex("C001C1000100002B0100FF0200")
    answer = bytes.fromhex("C401C1000600001391")
    with (
        FakeMeter({request: answer}) as meter,
        socket.create_connection(("127.0.0.1", meter.port), timeout=2) as sock,
    ):
        sock.sendall(WrapperFrame(0x10, 1, request).encode())
        sock.sendall(WrapperFrame(0x10, 1, b"\xc0\x01\xc1").encode())
        decoder = WrapperDecoder()
        frames: list[WrapperFrame] = []
        while len(frames) < 2:
            frames += decoder.feed(sock.recv(4096))
    assert frames[0] == WrapperFrame(1, 0x10, answer)
    assert frames[1].payload == UNKNOWN_REQUEST
    assert meter.unknown == [b"\xc0\x01\xc1"]
