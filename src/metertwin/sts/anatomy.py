"""The bits of an STS token: digits, class transposition, CRC, amount, TID (IEC 62055-41).

A token is 20 decimal digits holding a 66-bit number: a 2-bit token class and a 64-bit data block
(subclass 63-60, 44-bit payload 59-16, CRC 15-0). Everything here is pure arithmetic; the
encryption of the block lives in `ea07`/`misty1` and the typed fields in `tokens`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import IntEnum

from metertwin.sts.errors import TokenFormatError

TOKEN_DIGITS = 20
MAX_TOKEN_NUMBER = (1 << 66) - 1
BLOCK_MASK = (1 << 64) - 1
PAYLOAD_BITS = 44
PAYLOAD_MASK = (1 << PAYLOAD_BITS) - 1
TID_BITS = 24
MAX_TID = (1 << TID_BITS) - 1

# Token class bits 1 and 0 are carried in block bits 28 and 27 (IEC 62055-41 transposition).
_CLASS_HIGH_BIT = 28
_CLASS_LOW_BIT = 27
_TOKEN_SEPARATORS = frozenset(" -")


class TokenClass(IntEnum):
    """The 2-bit token class (IEC 62055-41 token definition)."""

    CREDIT = 0
    """Transfer credit; encrypted."""
    TEST = 1
    """Initiate meter test/display; not encrypted."""
    MANAGEMENT = 2
    """Set registers and change keys; encrypted."""
    RESERVED = 3
    """Reserved for future definition; treated as encrypted."""


# --- digits <-> 66-bit number ------------------------------------------------------------------


def parse_token_number(text: str) -> int:
    """The 66-bit number of a token typed as 20 ASCII digits (spaces and '-' may group them).

    Raises `TokenFormatError` for a wrong digit count, any other character, or a value above
    2^66 - 1 (IEC 62055-41 "Format" rejection).
    """
    if len(text) == TOKEN_DIGITS and text.isascii() and text.isdigit():
        digits = text  # the usual keypad entry: skip the separator scan
    else:
        digits = "".join(ch for ch in text if ch not in _TOKEN_SEPARATORS)
    bad = next((ch for ch in digits if not ("0" <= ch <= "9")), None)
    if bad is not None:
        raise TokenFormatError(f"token contains a non-digit character {bad!r}")
    if len(digits) != TOKEN_DIGITS:
        raise TokenFormatError(f"token has {len(digits)} digits, {TOKEN_DIGITS} expected")
    number = int(digits)
    if number > MAX_TOKEN_NUMBER:
        raise TokenFormatError(f"token number {digits} exceeds 2^66 - 1")
    return number


def format_token_number(number: int) -> str:
    """The 20 zero-padded decimal digits of a 66-bit token number."""
    if not 0 <= number <= MAX_TOKEN_NUMBER:
        raise ValueError(f"token number {number} is not a 66-bit value")
    return f"{number:0{TOKEN_DIGITS}d}"


# --- class transposition ---------------------------------------------------------------------


def insert_class(block: int, token_class: int) -> int:
    """The 66-bit token number of a (possibly encrypted) 64-bit block and its class.

    IEC 62055-41: class bit 1 replaces block bit 28 and class bit 0 replaces bit 27; the two block
    bits displaced move to bits 65 and 64 of the token number.
    """
    if not 0 <= token_class <= 3:
        raise ValueError(f"token class {token_class} is not 0..3")
    displaced = (block >> _CLASS_LOW_BIT) & 0b11
    cleared = block & ~(0b11 << _CLASS_LOW_BIT) & BLOCK_MASK
    return (displaced << 64) | cleared | (token_class << _CLASS_LOW_BIT)


def extract_class(number: int) -> tuple[int, int]:
    """(token class, 64-bit block) of a 66-bit token number: the inverse of `insert_class`."""
    token_class = (number >> _CLASS_LOW_BIT) & 0b11
    displaced = (number >> 64) & 0b11
    block = (number & BLOCK_MASK & ~(0b11 << _CLASS_LOW_BIT)) | (displaced << _CLASS_LOW_BIT)
    return token_class, block


# --- CRC -------------------------------------------------------------------------------------


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC16_TABLE = _crc16_table()


def crc16(data: bytes) -> int:
    """CRC-16 with reflected polynomial 0xA001, initial value 0xFFFF, no final XOR (MODBUS)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC16_TABLE[(crc ^ byte) & 0xFF]
    return crc


def token_crc(token_class: int, subclass: int, payload: int) -> int:
    """The CRC field (block bits 15-0) of a token.

    IEC 62055-41: CRC-16 over the 7 big-endian bytes of class(2)|subclass(4)|payload(44), with
    the result's two bytes swapped into the field.
    """
    value = (token_class << 48) | (subclass << PAYLOAD_BITS) | payload
    crc = crc16(value.to_bytes(7, "big"))
    return ((crc & 0xFF) << 8) | (crc >> 8)


def assemble_block(token_class: int, subclass: int, payload: int) -> int:
    """The plain 64-bit data block: subclass(4) | payload(44) | CRC(16)."""
    if not 0 <= subclass <= 15:
        raise ValueError(f"subclass {subclass} is not 0..15")
    if not 0 <= payload <= PAYLOAD_MASK:
        raise ValueError("payload is not a 44-bit value")
    crc = token_crc(token_class, subclass, payload)
    return (subclass << 60) | (payload << 16) | crc


def split_block(block: int) -> tuple[int, int, int]:
    """(subclass, payload, CRC field) of a plain 64-bit data block."""
    return block >> 60, (block >> 16) & PAYLOAD_MASK, block & 0xFFFF


# --- amount ----------------------------------------------------------------------------------

_MANTISSA_BITS = 14
_MANTISSA_LIMIT = 1 << _MANTISSA_BITS
_POWERS_OF_TEN = (1, 10, 100, 1000)
# Band e starts where band e-1 ends: the sum over i < e of 2^14 * 10^i.
_BAND_OFFSETS = (0, 16_384, 180_224, 1_818_624)
MAX_AMOUNT_TENTHS = (_MANTISSA_LIMIT - 1) * 1000 + _BAND_OFFSETS[3]
"""18,201,624 tenths: the largest transferable amount (field 0xFFFF)."""


def decode_amount(field: int) -> int:
    """The exact amount, in tenths of the unit, of a 16-bit amount field.

    IEC 62055-41: exponent e in bits 15-14, mantissa m in bits 13-0,
    amount = m * 10^e + sum_{i<e} 2^14 * 10^i.
    """
    if not 0 <= field <= 0xFFFF:
        raise ValueError(f"amount field {field} is not 16 bits")
    exponent = field >> _MANTISSA_BITS
    mantissa = field & (_MANTISSA_LIMIT - 1)
    return mantissa * _POWERS_OF_TEN[exponent] + _BAND_OFFSETS[exponent]


def encode_amount(tenths: int) -> int:
    """The 16-bit amount field for `tenths`, rounding the mantissa up (never less credit).

    The result is the smallest field whose decoded amount is >= `tenths`.
    """
    if not 0 <= tenths <= MAX_AMOUNT_TENTHS:
        raise ValueError(f"amount {tenths} tenths is outside 0..{MAX_AMOUNT_TENTHS}")
    for exponent, (step, offset) in enumerate(zip(_POWERS_OF_TEN, _BAND_OFFSETS, strict=True)):
        if tenths <= (_MANTISSA_LIMIT - 1) * step + offset:
            mantissa = max(0, -(-(tenths - offset) // step))
            return (exponent << _MANTISSA_BITS) | mantissa
    raise AssertionError("unreachable: amount checked against the maximum")


# --- base dates and TID ----------------------------------------------------------------------


class BaseDate(IntEnum):
    """The STS base dates TIDs count from (IEC 62055-41; sts.org.za TID rollover)."""

    Y1993 = 1993
    Y2014 = 2014
    Y2035 = 2035

    @property
    def start(self) -> datetime:
        """Midnight of 1 January of the base year, UTC."""
        return datetime(int(self), 1, 1, tzinfo=UTC)

    @property
    def code(self) -> str:
        """The two-digit code used in DKGA04 ("93", "14", "35")."""
        return f"{int(self) % 100:02d}"

    @property
    def successor(self) -> BaseDate | None:
        """The base date a rollover key change moves to (None after 2035)."""
        order = list(BaseDate)
        index = order.index(self)
        return order[index + 1] if index + 1 < len(order) else None

    @property
    def last_instant(self) -> datetime:
        """The last minute a TID can express from this base date (2^24 - 1 minutes later)."""
        return self.start + timedelta(minutes=MAX_TID)


def tid_from_datetime(when: datetime, base_date: BaseDate) -> int:
    """The TID of an instant: whole minutes since the base date (IEC 62055-41 TID, 24 bits).

    `when` must be timezone-aware; seconds are truncated. Raises ValueError outside the 24-bit
    range of the base date (for 1993 that ends 2024-11-24 20:15, the TID rollover).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("TID needs a timezone-aware datetime")
    minutes = (when - base_date.start) // timedelta(minutes=1)
    if not 0 <= minutes <= MAX_TID:
        raise ValueError(
            f"{when.isoformat()} is outside the TID range of base date {int(base_date)} "
            f"({base_date.start:%Y-%m-%d} to {base_date.last_instant:%Y-%m-%d %H:%M} UTC)"
        )
    return minutes


def tid_to_datetime(tid: int, base_date: BaseDate) -> datetime:
    """The UTC instant a TID stands for."""
    if not 0 <= tid <= MAX_TID:
        raise ValueError(f"TID {tid} is not a 24-bit value")
    return base_date.start + timedelta(minutes=tid)
