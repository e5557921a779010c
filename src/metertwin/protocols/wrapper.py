"""The IEC 62056-47 TCP wrapper (protocols.md, "DLMS over TCP"), sans-IO.

Each APDU travels behind an 8-octet header of four big-endian u16: version (1), source wPort,
destination wPort and the APDU length. A TCP read may hold part of a frame or several frames,
so :class:`WrapperDecoder` buffers and returns every frame completed by each ``feed``.

A head-end polling a meter sends one request and waits for its answer, so nearly every read
holds exactly one whole frame: ``feed`` takes that frame straight from the read, without going
through its buffer, and :func:`encode_frame` frames an answer without building a
:class:`WrapperFrame` first.

The wrapper itself sets no time limit; a peer that announces a frame and then sends its octets
one by one would hold the connection forever. So the decoder can be given a frame timeout:
every frame must be complete within that time of its first octet (the caller's clock is passed
in, ``feed(data, now)``), and an overdue frame fails the stream as a framing error does.
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
    "WrapperTimeout",
    "encode_frame",
]

WRAPPER_VERSION = 0x0001
HEADER_SIZE = 8
_HEADER = struct.Struct(">HHHH")
_MAX_U16 = 0xFFFF


class WrapperError(FramingError):
    """A wrapper header with the wrong version or a length beyond the accepted maximum."""


class WrapperTimeout(WrapperError):
    """A frame not completed within the decoder's frame timeout of its first octet."""


@dataclass(frozen=True, slots=True)
class WrapperFrame:
    """One wrapped APDU: ``source`` and ``destination`` are wPorts (client 16 = public client,
    server 1 = management logical device; protocols.md)."""

    source: int
    destination: int
    payload: bytes

    def __post_init__(self) -> None:
        _check(self.source, self.destination, self.payload)

    def encode(self) -> bytes:
        header = _HEADER.pack(WRAPPER_VERSION, self.source, self.destination, len(self.payload))
        return header + self.payload

    def reply(self, payload: bytes) -> WrapperFrame:
        """The frame answering this one: the wPorts swapped."""
        return WrapperFrame(self.destination, self.source, payload)


_new_frame = object.__new__
_set_source = WrapperFrame.__dict__["source"].__set__
_set_destination = WrapperFrame.__dict__["destination"].__set__
_set_payload = WrapperFrame.__dict__["payload"].__set__


def _unpacked_frame(source: int, destination: int, payload: bytes) -> WrapperFrame:
    """A frame read from a header: u16 wPorts and a payload of the announced length (at
    most 65535) always pass ``_check``, so the dataclass's checks are skipped."""
    frame: WrapperFrame = _new_frame(WrapperFrame)
    _set_source(frame, source)
    _set_destination(frame, destination)
    _set_payload(frame, payload)
    return frame


def encode_frame(source: int, destination: int, payload: bytes) -> bytes:
    """The octets of ``WrapperFrame(source, destination, payload)``, checked the same way."""
    size = len(payload)
    if not (0 <= source <= _MAX_U16 and 0 <= destination <= _MAX_U16 and size <= _MAX_U16):
        _check(source, destination, payload)  # raises, naming what is wrong
    return _HEADER.pack(WRAPPER_VERSION, source, destination, size) + payload


def _check(source: int, destination: int, payload: bytes) -> None:
    if 0 <= source <= _MAX_U16 and 0 <= destination <= _MAX_U16 and len(payload) <= _MAX_U16:
        return  # one comparison chain: this runs for every frame in and out
    for name, port in (("source", source), ("destination", destination)):
        if not 0 <= port <= _MAX_U16:
            raise ValueError(f"{name} wPort {port} is outside 0..65535")
    raise ValueError(f"a wrapped APDU has at most 65535 octets, got {len(payload)}")


class WrapperDecoder:
    """Reassembles wrapper frames from a byte stream.

    ``max_length`` bounds the APDU length a header may announce (the server's receive limit),
    so a peer cannot make it buffer more than that. ``frame_timeout`` (seconds, None: none)
    bounds the time from a frame's first octet to its last, measured by the ``now`` given to
    :meth:`feed`; :attr:`frame_deadline` says when the frame pending falls due, so a caller can
    check :meth:`overdue` then even if no octet comes. After a :class:`WrapperError` the stream
    has lost its framing: the decoder refuses further input and the connection should close.
    """

    def __init__(self, max_length: int = _MAX_U16, frame_timeout: float | None = None) -> None:
        if not 0 <= max_length <= _MAX_U16:
            raise ValueError(f"max_length {max_length} is outside 0..65535")
        if frame_timeout is not None and not frame_timeout > 0:
            raise ValueError(f"frame_timeout must be positive or None, got {frame_timeout}")
        self.max_length = max_length
        self.frame_timeout = frame_timeout
        self._buffer = bytearray()
        self._frame_started = 0.0  # the ``now`` of the pending frame's first octet
        self._failed: WrapperError | None = None

    @property
    def pending(self) -> int:
        """Octets received that do not yet make a whole frame."""
        return len(self._buffer)

    @property
    def frame_started(self) -> float | None:
        """The ``now`` of the first octet of the frame pending (None: nothing pending)."""
        return self._frame_started if self._buffer else None

    @property
    def frame_deadline(self) -> float | None:
        """When the frame pending must be complete (None: nothing pending, or no timeout)."""
        if not self._buffer or self.frame_timeout is None:
            return None
        return self._frame_started + self.frame_timeout

    def overdue(self, now: float) -> bool:
        """Whether the frame pending has missed its deadline at ``now``."""
        deadline = self.frame_deadline
        return deadline is not None and now >= deadline

    def whole_frame(self, data: bytes | bytearray | memoryview) -> tuple[int, int, bytes] | None:
        """``(source, destination, payload)`` when nothing is pending and ``data`` is exactly
        one acceptable frame (the usual read of a head-end polling: no frame object, and the
        payload is the only copy made); None otherwise, and then ``data`` is still to
        :meth:`feed`, which judges it (a refusal included)."""
        if self._buffer or self._failed is not None or len(data) < HEADER_SIZE:
            return None
        version, source, destination, length = _HEADER.unpack_from(data)
        if len(data) - HEADER_SIZE == length <= self.max_length and version == WRAPPER_VERSION:
            body = data[HEADER_SIZE:]  # a memoryview's tobytes copies faster than bytes()
            return (
                source,
                destination,
                body.tobytes() if isinstance(body, memoryview) else bytes(body),
            )
        return None

    def feed(self, data: bytes | bytearray | memoryview, now: float = 0.0) -> list[WrapperFrame]:
        """Every frame completed by ``data``, in order (often none, sometimes several).

        ``now`` is the caller's clock in seconds; it matters only with a frame timeout.
        """
        whole = self.whole_frame(data)
        if whole is not None:
            return [_unpacked_frame(*whole)]
        buffer = self._buffer
        if self._failed is not None:
            raise WrapperError(f"stream already failed: {self._failed}")
        timeout = self.frame_timeout
        if buffer and timeout is not None and now >= self._frame_started + timeout:
            self._failed = WrapperTimeout(f"frame not completed within {timeout:g} s")
            raise self._failed
        was_pending = bool(buffer)
        buffer += data
        frames: list[WrapperFrame] = []
        start = 0
        available = len(buffer)
        with memoryview(buffer) as view:  # payloads copied once, out of the buffer
            while available - start >= HEADER_SIZE:
                version, source, destination, length = _HEADER.unpack_from(view, start)
                if version != WRAPPER_VERSION:
                    self._failed = WrapperError(
                        f"wrapper version 0x{version:04X} (expected 0x0001)"
                    )
                    raise self._failed
                if length > self.max_length:
                    self._failed = WrapperError(
                        f"wrapped APDU of {length} octets exceeds the maximum {self.max_length}"
                    )
                    raise self._failed
                end = start + HEADER_SIZE + length
                if end > available:
                    break
                payload = view[start + HEADER_SIZE : end].tobytes()
                frames.append(_unpacked_frame(source, destination, payload))
                start = end
        if start:
            del buffer[:start]
        if buffer and (start or not was_pending):  # this read began the frame now pending
            self._frame_started = now
        return frames
