"""A read cursor over one APDU for the xDLMS decoders (A-XDR primitives, dlms.md 1.2, 2.4)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TypeVar

from metertwin.codec.axdr import Data, decode_length, decode_prefix, encode_length
from metertwin.codec.errors import AxdrError, DlmsDecodeError

__all__ = ["AxdrReader", "encode_items"]

_E = TypeVar("_E", bound=int)
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class AxdrReader:
    """A cursor over one APDU's octets for the xDLMS decoders.

    Structural problems raise ``error`` (the APDU layer passes its own class); embedded
    ``Data`` raises :class:`AxdrError`. Both derive from :class:`DlmsDecodeError`.
    """

    __slots__ = ("buf", "error", "pos")

    def __init__(self, buf: bytes, pos: int = 0, error: type[DlmsDecodeError] = AxdrError) -> None:
        self.buf = buf if isinstance(buf, bytes) else bytes(buf)
        self.pos = pos
        self.error = error

    @property
    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def take(self, size: int, what: str) -> bytes:
        end = self.pos + size
        if end > len(self.buf):
            raise self.error(f"truncated at offset {self.pos}: {what} needs {size} octets")
        raw = self.buf[self.pos : end]
        self.pos = end
        return raw

    def u8(self, what: str) -> int:
        if self.pos >= len(self.buf):
            raise self.error(f"truncated at offset {self.pos}: expected {what}")
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def i8(self, what: str) -> int:
        value = self.u8(what)
        return value - 0x100 if value >= 0x80 else value

    def u16(self, what: str) -> int:
        value: int = _U16.unpack(self.take(2, what))[0]
        return value

    def u32(self, what: str) -> int:
        value: int = _U32.unpack(self.take(4, what))[0]
        return value

    def enum_value(self, enum: Callable[[int], _E], value: int, what: str) -> _E:
        """``value`` as a member of ``enum``; an unknown value is malformed input."""
        try:
            return enum(value)
        except ValueError:
            raise self.error(f"{what}: unknown value {value}") from None

    def enum(self, enum: Callable[[int], _E], what: str) -> _E:
        """One octet read as a member of ``enum``."""
        return self.enum_value(enum, self.u8(what), what)

    def boolean(self, what: str) -> bool:
        return self.u8(what) != 0

    def length(self, what: str) -> int:
        try:
            value, self.pos = decode_length(self.buf, self.pos)
        except AxdrError as problem:
            raise self.error(f"{what}: {problem}") from None
        return value

    def count(self, what: str, min_item_size: int = 1) -> int:
        """A SEQUENCE OF count, refused if the remaining octets cannot hold that many items."""
        value = self.length(what)
        if value * min_item_size > self.remaining:
            raise self.error(f"{value} {what} announced, only {self.remaining} octets remain")
        return value

    def octet_string(self, what: str) -> bytes:
        return self.take(self.length(what), what)

    def flag(self, what: str) -> bool:
        """An OPTIONAL marker: 00 absent, 01 present; anything else is malformed."""
        value = self.u8(what)
        if value > 1:
            raise self.error(f"{what} at offset {self.pos - 1}: presence flag {value} (not 0/1)")
        return value == 1

    def data(self) -> Data:
        value, self.pos = decode_prefix(self.buf, self.pos)
        return value

    def end(self, what: str) -> None:
        if self.pos != len(self.buf):
            raise self.error(f"{self.remaining} octets after the end of the {what}")


def encode_items(items: Sequence[bytes]) -> bytes:
    """A SEQUENCE OF: its A-XDR count, then the already-encoded items."""
    return encode_length(len(items)) + b"".join(items)
