"""Wireless M-Bus link layer (EN 13757-4), sans-IO: a telegram as the radio delivers it.

A frame is L C M A CI...: the L-field, the C-field (0x44 SND-NR for a meter's spontaneous
reading), the manufacturer (three letters packed in 15 bits, least significant byte first),
the address (identification number as 8 BCD digits, least significant byte first, version,
device type), then the CI-field and the application data (`protocols.wmbus_app`).

Block CRCs are CRC-16 with polynomial 0x3D65, initial value 0, the result inverted, sent most
significant byte first (EN 13757-4, as the OMS Annex N example telegrams check):

- format A: L counts the bytes after it *without* the CRCs; the first block is the 10 bytes
  L..A, then blocks of 16 bytes (the last one shorter), each followed by its CRC;
- format B: L counts the bytes after it *with* the CRCs; the first 10 bytes have no CRC of
  their own, one CRC ends the second block (at most 118 bytes with it, i.e. the frame's first
  128 bytes) and covers everything from L; a longer frame has a third block with its own CRC.

A radio that already checked and removed the CRCs delivers format ``"none"``: L + 1 bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

FrameFormat = Literal["A", "B", "none"]
FRAME_FORMATS: tuple[str, ...] = ("auto", "A", "B", "none")

# Reasons a telegram is refused: the collector counts them (docs/wmbus.md).
BAD_CRC = "bad_crc"
TRUNCATED = "truncated"
MALFORMED = "malformed"
WRONG_KEY = "wrong_key"
UNSUPPORTED = "unsupported"

HEADER_SIZE = 10  # L C M(2) A(6): format A's first block, format B's first block
_BLOCK_A = 16
_FIRST_BLOCKS_B = 128  # format B: blocks 1 and 2 with the CRC that ends block 2
_POLYNOMIAL = 0x3D65


class WmbusError(ValueError):
    """A telegram the codec cannot accept; ``reason`` is one of the counted reasons."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLYNOMIAL) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _crc_table()


@lru_cache(maxsize=1)
def _word_table() -> tuple[int, ...]:
    """The register after two bytes: with a 16-bit register and no reflection it depends
    only on register xor the big-endian word, so one lookup does two bytes."""
    table = _TABLE
    return tuple(
        ((table[v >> 8] << 8) & 0xFFFF) ^ table[(table[v >> 8] >> 8) ^ (v & 0xFF)]
        for v in range(0x10000)
    )


def crc16(data: bytes) -> int:
    """EN 13757-4 CRC of ``data`` (polynomial 0x3D65, init 0, inverted)."""
    crc = 0
    words = _word_table()
    for word in struct.unpack_from(f">{len(data) // 2}H", data):
        crc = words[crc ^ word]
    if len(data) & 1:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ data[-1]]
    return crc ^ 0xFFFF


def _crc_bytes(data: bytes) -> bytes:
    return crc16(data).to_bytes(2, "big")


def manufacturer_code(field: int) -> str:
    """The three letters of an M-field (EN 13757-3: 5 bits a letter, 'A' = 1)."""
    letters = [(field >> shift) & 0x1F for shift in (10, 5, 0)]
    if field >> 15 or not all(1 <= letter <= 26 for letter in letters):
        return f"?{field:04X}"  # not three letters: shown as the raw field
    return "".join(chr(64 + letter) for letter in letters)


def manufacturer_field(code: str) -> int:
    """The M-field of three letters A..Z."""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"a manufacturer is three letters A..Z, not {code!r}")
    first, second, third = (ord(c) - 64 for c in code.upper())
    return (first << 10) | (second << 5) | third


def identity_text(field: bytes) -> str:
    """The 4 identification bytes (BCD, least significant first) as the 8 printed digits."""
    return field[::-1].hex().upper()


def identity_field(identity: str) -> bytes:
    """8 digits (hex digits allowed, as some meters use them) as the 4 A-field bytes."""
    if len(identity) != 8:
        raise ValueError(f"an identification number has 8 digits, not {identity!r}")
    try:
        return bytes.fromhex(identity)[::-1]
    except ValueError:
        raise ValueError(f"an identification number has 8 digits, not {identity!r}") from None


@dataclass(frozen=True)
class Address:
    """Who sent a telegram: manufacturer, identification number, version, device type."""

    manufacturer: str
    identity: str
    version: int
    device_type: int

    def to_bytes(self) -> bytes:
        """M and A as they are sent (also the first 8 bytes of the mode 5 IV)."""
        m_field = manufacturer_field(self.manufacturer).to_bytes(2, "little")
        return m_field + identity_field(self.identity) + bytes([self.version, self.device_type])

    @classmethod
    def from_bytes(cls, raw: bytes) -> Address:
        """From the 8 bytes M(2) ID(4) version type, as sent."""
        return _address(bytes(raw))


@lru_cache(maxsize=4096)
def _address(raw: bytes) -> Address:
    """Kept: a collector hears the same few meters again and again."""
    return Address(manufacturer_code(raw[0] | raw[1] << 8), identity_text(raw[2:6]), raw[6], raw[7])


@dataclass(frozen=True)
class LinkFrame:
    """A checked link-layer frame: C-field, sender, CI-field and what follows the CI."""

    control: int
    address: Address
    address_bytes: bytes  # M and A as sent
    ci: int
    data: bytes  # after the CI-field
    frame_format: FrameFormat


def _strip_a(raw: bytes, length: int) -> bytes:
    """Format A: the blocks without their CRCs, each CRC checked."""
    out = bytearray()
    at = 0
    block = HEADER_SIZE
    remaining = length + 1
    while remaining > 0:
        size = min(block, remaining)
        content = raw[at : at + size]
        if raw[at + size : at + size + 2] != _crc_bytes(content):
            raise WmbusError(BAD_CRC, f"format A: CRC of the block at byte {at} does not match")
        out += content
        at += size + 2
        remaining -= size
        block = _BLOCK_A
    return bytes(out)


def _strip_b(raw: bytes) -> bytes:
    """Format B: blocks 1 and 2 under one CRC, an optional block 3 under its own."""
    first = raw[: min(len(raw), _FIRST_BLOCKS_B)]
    if first[-2:] != _crc_bytes(first[:-2]):
        raise WmbusError(BAD_CRC, "format B: the CRC of blocks 1 and 2 does not match")
    third = raw[_FIRST_BLOCKS_B:]
    if not third:
        return first[:-2]
    if len(third) < 3 or third[-2:] != _crc_bytes(third[:-2]):
        raise WmbusError(BAD_CRC, "format B: the CRC of block 3 does not match")
    return first[:-2] + third[:-2]


def a_length(length: int) -> int:
    """The bytes a format A frame with this L-field takes on air, CRCs included."""
    data = length + 1
    blocks = 1 + -(-(data - HEADER_SIZE) // _BLOCK_A)
    return data + 2 * blocks


def parse_frame(raw: bytes, frame_format: str = "auto") -> LinkFrame:
    """The frame in ``raw`` (one whole telegram); ``"auto"`` tells format A from format B by
    the length the L-field announces. Raises `WmbusError`."""
    if len(raw) < HEADER_SIZE + 1:
        raise WmbusError(TRUNCATED, f"{len(raw)} bytes: a telegram has at least L C M A CI")
    length = raw[0]
    if length < HEADER_SIZE:
        raise WmbusError(MALFORMED, f"L-field {length}: too short for C M A CI")
    chosen = frame_format
    if chosen == "auto":
        if len(raw) == a_length(length):
            chosen = "A"
        elif len(raw) == length + 1:
            chosen = "B"
        else:
            reason = MALFORMED if len(raw) > a_length(length) else TRUNCATED
            raise WmbusError(
                reason, f"{len(raw)} bytes: L-field {length} announces {a_length(length)} "
                f"(format A) or {length + 1} (format B)",
            )  # fmt: skip
    if chosen == "A":
        expected = a_length(length)
    elif chosen in ("B", "none"):
        expected = length + 1
    else:
        raise WmbusError(MALFORMED, f"unknown frame format {frame_format!r}")
    if len(raw) < expected:
        raise WmbusError(TRUNCATED, f"{len(raw)} bytes, the L-field announces {expected}")
    if len(raw) > expected:
        raise WmbusError(MALFORMED, f"{len(raw)} bytes, the L-field announces {expected}")
    if chosen == "A":
        frame = _strip_a(raw, length)
    elif chosen == "B":
        if length < HEADER_SIZE + 2:
            raise WmbusError(MALFORMED, f"format B L-field {length}: no room for a CRC")
        frame = _strip_b(raw)
    else:
        frame = raw
    address_bytes = frame[2:HEADER_SIZE]
    return LinkFrame(
        frame[1],
        Address.from_bytes(address_bytes),
        address_bytes,
        frame[HEADER_SIZE],
        frame[HEADER_SIZE + 1 :],
        chosen,  # type: ignore[arg-type]
    )


def encode_frame(
    address: Address,
    ci: int,
    data: bytes,
    frame_format: FrameFormat = "A",
    control: int = 0x44,
) -> bytes:
    """A telegram as a meter sends it (for tests, the benchmark and the simulator)."""
    body = address.to_bytes() + bytes([ci]) + data
    if frame_format == "A":
        frame = bytes([len(body) + 1, control]) + body
        out = bytearray()
        at = 0
        block = HEADER_SIZE
        while at < len(frame):
            content = frame[at : at + block]
            out += content + _crc_bytes(content)
            at += block
            block = _BLOCK_A
        return bytes(out)
    if frame_format == "none":
        return bytes([len(body) + 1, control]) + body
    total = 2 + len(body) + 2  # L C ... CRC
    if total > _FIRST_BLOCKS_B:
        total += 2
    if total > 256:
        raise ValueError("a format B frame has at most 255 bytes after the L-field")
    frame = bytes([total - 1, control]) + body
    first = frame[: _FIRST_BLOCKS_B - 2]
    third = frame[_FIRST_BLOCKS_B - 2 :]
    with_crc = first + _crc_bytes(first)
    return with_crc + third + _crc_bytes(third) if third else with_crc
