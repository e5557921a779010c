"""The IEC 62056-47 TCP wrapper (protocols.md, "DLMS over TCP"), sans-IO.

Each APDU travels behind an 8-octet header of four big-endian u16: version (1), source wPort,
destination wPort and the APDU length. A TCP read may hold part of a frame or several frames,
so :class:`WrapperDecoder` buffers and returns every frame completed by each ``feed``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from metertwin.protocols import FramingError

__all__ = [
    "HEADER_SIZE",
    "WRAPPER_VERSION",
    "WrapperDecoder",
    "WrapperError",
    "WrapperFrame",
]

WRAPPER_VERSION = 0x0001
HEADER_SIZE = 8
_HEADER = struct.Struct(">HHHH")
_MAX_U16 = 0xFFFF


class WrapperError(FramingError):
    """A wrapper header with the wrong version or a length beyond the accepted maximum."""


@dataclass(frozen=True, slots=True)
class WrapperFrame:
    """One wrapped APDU: ``source`` and ``destination`` are wPorts (client 16 = public client,
    server 1 = management logical device; protocols.md)."""

    source: int
    destination: int
    payload: bytes

    def __post_init__(self) -> None:
        for name, port in (("source", self.source), ("destination", self.destination)):
            if not 0 <= port <= _MAX_U16:
                raise ValueError(f"{name} wPort {port} is outside 0..65535")
        if len(self.payload) > _MAX_U16:
            raise ValueError(f"a wrapped APDU has at most 65535 octets, got {len(self.payload)}")

    def encode(self) -> bytes:
        header = _HEADER.pack(WRAPPER_VERSION, self.source, self.destination, len(self.payload))
        return header + self.payload

    def reply(self, payload: bytes) -> WrapperFrame:
        """The frame answering this one: the wPorts swapped."""
        return WrapperFrame(self.destination, self.source, payload)


class WrapperDecoder:
    """Reassembles wrapper frames from a byte stream.

    ``max_length`` bounds the APDU length a header may announce (the server's receive limit),
    so a peer cannot make it buffer more than that. After a :class:`WrapperError` the stream
    has lost its framing: the decoder refuses further input and the connection should close.
    """

    def __init__(self, max_length: int = _MAX_U16) -> None:
        if not 0 <= max_length <= _MAX_U16:
            raise ValueError(f"max_length {max_length} is outside 0..65535")
        self.max_length = max_length
        self._buffer = bytearray()
        self._failed: WrapperError | None = None

    @property
    def pending(self) -> int:
        """Octets received that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[WrapperFrame]:
        """Every frame completed by ``data``, in order (often none, sometimes several)."""
        if self._failed is not None:
            raise WrapperError(f"stream already failed: {self._failed}")
        buffer = self._buffer
        buffer += data
        frames: list[WrapperFrame] = []
        start = 0
        available = len(buffer)
        while available - start >= HEADER_SIZE:
            version, source, destination, length = _HEADER.unpack_from(buffer, start)
            if version != WRAPPER_VERSION:
                self._failed = WrapperError(f"wrapper version 0x{version:04X} (expected 0x0001)")
                raise self._failed
            if length > self.max_length:
                self._failed = WrapperError(
                    f"wrapped APDU of {length} octets exceeds the maximum {self.max_length}"
                )
                raise self._failed
            end = start + HEADER_SIZE + length
            if end > available:
                break
            frames.append(
                WrapperFrame(source, destination, bytes(buffer[start + HEADER_SIZE : end]))
            )
            start = end
        if start:
            del buffer[:start]
        return frames
