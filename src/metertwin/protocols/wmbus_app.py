"""Wireless M-Bus application layer (EN 13757-3, OMS Vol. 2), sans-IO: transport header,
decryption and data records.

Transport layer, by CI-field: 0x78 no header, 0x7A short header (access number, status,
configuration field; the sender is the link layer's), 0x72 long header (identification,
manufacturer, version, device type, then as the short one; the sender is the header's).

Configuration field (2 bytes, least significant first): bits 8-12 the security mode, bits 4-7
the number of encrypted 16-byte blocks. Mode 5 (OMS Vol. 2, EN 13757-7 security profile A)
is AES-128-CBC, IV = M(2) A(6) of the addressed meter as sent, then the access number 8
times; the plain text starts with the 0x2F2F check, anything else means a wrong key.
Modes 7 and 13 (key derivation with AES-CMAC, authenticated ELL/AFL) are not implemented:
they are refused as unsupported.

Data records: DIF (data field coding, function, storage number bit), up to 10 DIFEs
(storage number, tariff, subunit), VIF from the primary table or the 0xFD/0xFB extension
tables (the common ones are named, the rest shown as codes), VIFEs kept, the value coded as
the DIF says (integers are signed, BCD with an 0xF high nibble is negative, type F and G
date-times). 0x2F is a filler, 0x0F/0x1F start manufacturer data to the end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from metertwin.protocols.wmbus_link import (
    MALFORMED,
    TRUNCATED,
    UNSUPPORTED,
    WRONG_KEY,
    Address,
    LinkFrame,
    WmbusError,
)

CI_NO_HEADER = 0x78
CI_SHORT_HEADER = 0x7A
CI_LONG_HEADER = 0x72
MODE_NONE = 0
MODE_AES_CBC_IV = 5
DECRYPTION_CHECK = b"\x2f\x2f"
_FILLER = 0x2F
_MAX_DIFE = 10
_FUNCTIONS = ("instantaneous", "maximum", "minimum", "during error")
_DURATION_UNITS = ("s", "min", "h", "d")


@dataclass(frozen=True)
class TransportHeader:
    """The TPL header: whose data this is, its access number, status, security mode."""

    address: Address
    address_bytes: bytes  # M and A as sent: the IV's first 8 bytes
    access_number: int
    status: int
    configuration: int

    @property
    def mode(self) -> int:
        return (self.configuration >> 8) & 0x1F

    @property
    def encrypted_blocks(self) -> int:
        return (self.configuration >> 4) & 0x0F


class Record(NamedTuple):
    """One data record, its value scaled to ``unit`` (numbers), or text, or a time (a named
    tuple: a telegram makes several, and the collector decodes thousands a second)."""

    quantity: str
    value: int | float | str | bytes | None
    unit: str = ""
    storage: int = 0
    tariff: int = 0
    subunit: int = 0
    function: str = "instantaneous"
    dif: bytes = b""
    vif: bytes = b""

    def describe(self) -> str:
        where = []
        if self.storage:
            where.append(f"storage {self.storage}")
        if self.tariff:
            where.append(f"tariff {self.tariff}")
        if self.subunit:
            where.append(f"subunit {self.subunit}")
        if self.function != "instantaneous":
            where.append(self.function)
        shown = self.value.hex() if isinstance(self.value, bytes) else self.value
        text = f"{self.quantity}: {shown}{' ' + self.unit if self.unit else ''}"
        return text + (f" ({', '.join(where)})" if where else "")


@dataclass(frozen=True)
class Telegram:
    """A decoded telegram: link layer, transport header (None for CI 0x78), records."""

    link: LinkFrame
    header: TransportHeader | None
    records: tuple[Record, ...]
    manufacturer_data: bytes = b""
    plain: bytes = field(default=b"", repr=False)  # the application data after decryption

    @property
    def sender(self) -> Address:
        return self.header.address if self.header is not None else self.link.address


def transport_header(frame: LinkFrame) -> tuple[TransportHeader | None, bytes]:
    """The TPL header of ``frame`` and the application data after it."""
    data = frame.data
    if frame.ci == CI_NO_HEADER:
        return None, data
    if frame.ci == CI_SHORT_HEADER:
        if len(data) < 4:
            raise WmbusError(TRUNCATED, "short transport header: 4 bytes expected")
        address_bytes = frame.address_bytes
        header, rest = data[:4], data[4:]
    elif frame.ci == CI_LONG_HEADER:
        if len(data) < 12:
            raise WmbusError(TRUNCATED, "long transport header: 12 bytes expected")
        address_bytes = data[4:6] + data[0:4] + data[6:8]  # ID M ver type -> M ID ver type
        header, rest = data[8:12], data[12:]
    else:
        raise WmbusError(UNSUPPORTED, f"CI-field 0x{frame.ci:02X} is not a data telegram")
    return (
        TransportHeader(
            Address.from_bytes(address_bytes),
            address_bytes,
            header[0],
            header[1],
            header[2] | header[3] << 8,
        ),
        rest,
    )


def mode5_iv(header: TransportHeader) -> bytes:
    """OMS Vol. 2 security mode 5: M A of the meter, then 8 times its access number."""
    return header.address_bytes + bytes([header.access_number]) * 8


def decrypt(header: TransportHeader, data: bytes, key: bytes | None) -> bytes:
    """The plain application data; raises `WmbusError` (wrong_key, truncated, unsupported)."""
    if header.mode == MODE_NONE:
        return data
    if header.mode != MODE_AES_CBC_IV:
        raise WmbusError(UNSUPPORTED, f"security mode {header.mode} is not supported")
    if key is None:
        raise WmbusError(WRONG_KEY, "the telegram is encrypted (mode 5) and no key is known")
    blocks = header.encrypted_blocks or len(data) // 16
    size = blocks * 16
    if size == 0 or len(data) < size:
        raise WmbusError(TRUNCATED, f"{len(data)} bytes, {blocks} encrypted blocks announced")
    cipher = data[:size]
    # CBC by hand over a kept ECB context (creating a CBC context per telegram costs more
    # than the decryption): P_i = D(C_i) xor C_(i-1), C_0 = the IV.
    decrypted = _block_decryptor(key).update(cipher)
    chain = mode5_iv(header) + cipher[:-16]
    plain = (int.from_bytes(decrypted, "big") ^ int.from_bytes(chain, "big")).to_bytes(size, "big")
    if plain[:2] != DECRYPTION_CHECK:
        raise WmbusError(WRONG_KEY, "decryption check 2F2F failed: wrong key")
    return plain + data[size:]


@lru_cache(maxsize=256)
def _block_decryptor(key: bytes) -> CipherContext:
    """An AES-ECB decryption context for ``key``; ECB keeps no state between blocks, so one
    context serves every telegram of the meter (never finalized)."""
    if len(key) != 16:
        raise WmbusError(WRONG_KEY, f"an AES-128 key has 16 bytes, not {len(key)}")
    return Cipher(algorithms.AES(key), modes.ECB()).decryptor()


def encrypt_mode5(header: TransportHeader, plain: bytes, key: bytes) -> bytes:
    """Mode 5 encryption of ``plain`` (starting 2F2F), padded with 2F to whole blocks; for
    tests, the benchmark and the simulator."""
    padded = plain + bytes([_FILLER]) * (-len(plain) % 16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(mode5_iv(header))).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def decode_telegram(frame: LinkFrame, key: bytes | None = None) -> Telegram:
    """Transport header, decryption with ``key`` (16 bytes) and records of ``frame``."""
    header, data = transport_header(frame)
    plain = data if header is None else decrypt(header, data, key)
    records, manufacturer = decode_records(plain)
    return Telegram(frame, header, records, manufacturer, plain)


# -- data records ---------------------------------------------------------------------------

_FIXED_SIZES = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, 0)  # by DIF data field coding


def decode_records(data: bytes) -> tuple[tuple[Record, ...], bytes]:
    """The records of ``data`` and the manufacturer-specific data at its end."""
    records: list[Record] = []
    at = 0
    end = len(data)
    while at < end:
        dif = data[at]
        if dif == _FILLER:
            at += 1
            continue
        if dif in (0x0F, 0x1F):
            return tuple(records), data[at + 1 :]
        if dif < 0x80 and at + 1 < end and data[at + 1] < 0x7C and (dif & 0x0F) != 0x0D:
            at = _plain_record(data, at, records)  # one DIF, one primary VIF: most records
            continue
        record, at = _record(data, at)
        records.append(record)
    return tuple(records), b""


def _plain_record(data: bytes, at: int, records: list[Record]) -> int:
    """A record of one DIF and one primary VIF (no extensions), appended; where the next
    one starts."""
    dif = data[at]
    coding = dif & 0x0F
    if coding == 0x0F:
        raise WmbusError(MALFORMED, f"record at byte {at}: special DIF 0x{dif:02X}")
    start = at + 2
    stop = start + _FIXED_SIZES[coding]
    if stop > len(data):
        raise WmbusError(TRUNCATED, f"record at byte {at}: {stop - start} data bytes announced")
    quantity, unit, exponent, kind = _meaning(0, data[at + 1], "")
    value = _value(coding, data[start:stop], -1, exponent, kind)
    function = _FUNCTIONS[(dif >> 4) & 0x03]
    vif = data[at + 1 : start]
    records.append(
        Record(quantity, value, unit, (dif >> 6) & 1, 0, 0, function, data[at : at + 1], vif)
    )
    return stop


def _record(data: bytes, start: int) -> tuple[Record, int]:
    at = start
    dif = data[at]
    at += 1
    storage = (dif >> 6) & 1
    tariff = subunit = 0
    extension = dif & 0x80
    count = 0
    while extension:
        if at >= len(data):
            raise WmbusError(TRUNCATED, f"record at byte {start}: DIFE missing")
        if count == _MAX_DIFE:
            raise WmbusError(MALFORMED, f"record at byte {start}: more than 10 DIFEs")
        dife = data[at]
        at += 1
        storage |= (dife & 0x0F) << (1 + 4 * count)
        tariff |= ((dife >> 4) & 0x03) << (2 * count)
        subunit |= ((dife >> 6) & 0x01) << count
        extension = dife & 0x80
        count += 1
    dif_bytes = data[start:at]
    coding = dif & 0x0F
    if coding == 0x0F:
        raise WmbusError(MALFORMED, f"record at byte {start}: special DIF 0x{dif:02X}")
    vif_start = at
    if at >= len(data):
        raise WmbusError(TRUNCATED, f"record at byte {start}: VIF missing")
    vif = data[at]
    at += 1
    text_unit = ""
    extension_table = 0
    if vif in (0xFB, 0xFD):
        extension_table = vif
        if at >= len(data):
            raise WmbusError(TRUNCATED, f"record at byte {start}: VIF extension missing")
        vif = data[at]
        at += 1
    elif vif & 0x7F == 0x7C:  # plain-text VIF: length and ASCII, last character first
        if at >= len(data) or at + 1 + data[at] > len(data):
            raise WmbusError(TRUNCATED, f"record at byte {start}: plain-text unit missing")
        size = data[at]
        text_unit = data[at + 1 : at + 1 + size][::-1].decode("latin-1")
        at += 1 + size
    more = vif & 0x80
    while more:  # VIFEs (combinable extensions): kept in the VIF bytes, not interpreted
        if at >= len(data):
            raise WmbusError(TRUNCATED, f"record at byte {start}: VIFE missing")
        more = data[at] & 0x80
        at += 1
    vif_bytes = data[vif_start:at]
    size = _FIXED_SIZES[coding]
    if size < 0:
        if at >= len(data):
            raise WmbusError(TRUNCATED, f"record at byte {start}: LVAR missing")
        lvar = data[at]
        at += 1
        size = _variable_size(lvar, start)
    else:
        lvar = -1
    if at + size > len(data):
        raise WmbusError(TRUNCATED, f"record at byte {start}: {size} data bytes announced")
    raw = data[at : at + size]
    at += size
    quantity, unit, exponent, kind = _meaning(extension_table, vif & 0x7F, text_unit)
    value = _value(coding, raw, lvar, exponent, kind)
    return (
        Record(
            quantity,
            value,
            unit,
            storage,
            tariff,
            subunit,
            _FUNCTIONS[(dif >> 4) & 0x03],
            dif_bytes,
            vif_bytes,
        ),
        at,
    )


def _variable_size(lvar: int, start: int) -> int:
    """EN 13757-3 LVAR: 0x00-0xBF text of that many bytes, 0xC0-0xDF BCD, 0xE0-0xEF binary."""
    if lvar <= 0xBF:
        return lvar
    if lvar <= 0xDF:
        return lvar & 0x0F
    if lvar <= 0xEF:
        return lvar - 0xE0
    if lvar <= 0xFA:
        return 4 if lvar <= 0xF4 else 8  # floating point (reserved forms, shown as bytes)
    raise WmbusError(MALFORMED, f"record at byte {start}: reserved LVAR 0x{lvar:02X}")


def _value(
    coding: int, raw: bytes, lvar: int, exponent: int, kind: str
) -> int | float | str | bytes | None:
    if not raw:
        return None
    if kind == "date" and len(raw) == 2:
        return _date_g(raw)
    if kind == "datetime" and len(raw) == 4:
        return _datetime_f(raw)
    number: int | float
    if coding in (1, 2, 3, 4, 6, 7):
        number = int.from_bytes(raw, "little", signed=True)
    elif coding == 5:
        number = struct.unpack("<f", raw)[0]
    elif coding in (9, 10, 11, 12, 14):
        digits = _bcd(raw)
        if digits is None:
            return raw
        number = digits
    elif lvar >= 0 and lvar <= 0xBF:
        return raw[::-1].decode("latin-1")
    elif 0xE0 <= lvar <= 0xEF:
        number = int.from_bytes(raw, "little", signed=False)
    else:
        return raw
    if kind == "text":
        return str(number)
    if exponent == 0:
        return number
    if isinstance(number, float):
        return number * 10.0**exponent
    scaled = number * 10.0**exponent
    return round(scaled, max(0, -exponent)) if exponent < 0 else int(scaled)


def _bcd(raw: bytes) -> int | None:
    digits = raw[::-1].hex()
    negative = digits[0] == "f"
    if negative:
        digits = digits[1:]
    if not digits.isdigit():
        return None
    return -int(digits) if negative else int(digits)


def _date_g(raw: bytes) -> str:
    day = raw[0] & 0x1F
    month = raw[1] & 0x0F
    year = ((raw[0] & 0xE0) >> 5) | ((raw[1] & 0xF0) >> 1)
    return f"{2000 + year:04d}-{month:02d}-{day:02d}"


def _datetime_f(raw: bytes) -> str:
    minute = raw[0] & 0x3F
    hour = raw[1] & 0x1F
    day = raw[2] & 0x1F
    month = raw[3] & 0x0F
    year = ((raw[2] & 0xE0) >> 5) | ((raw[3] & 0xF0) >> 1)
    invalid = " (invalid)" if raw[0] & 0x80 else ""
    return f"{2000 + year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}{invalid}"


@lru_cache(maxsize=1024)
def _meaning(table: int, code: int, text_unit: str) -> tuple[str, str, int, str]:
    """(quantity, unit, decimal exponent, kind) of a VIF code in its table."""
    if table == 0xFD:
        return _EXTENSION_FD.get(code) or _ranged_fd(code)
    if table == 0xFB:
        return _ranged_fb(code)
    if text_unit:
        return "value", text_unit, 0, "number"
    n = code & 0x07
    group = code >> 3
    if group in _PRIMARY_BY_3_BITS:
        quantity, unit, offset = _PRIMARY_BY_3_BITS[group]
        return quantity, unit, n + offset, "number"
    nn = code & 0x03
    by_two = _PRIMARY_BY_2_BITS.get(code >> 2)
    if by_two is not None:
        quantity, unit, offset = by_two
        if unit == "duration":
            return quantity, _DURATION_UNITS[nn], 0, "number"
        return quantity, unit, nn + offset, "number"
    named = _PRIMARY_NAMED.get(code)
    if named is not None:
        return named
    return f"VIF 0x{code:02X}", "", 0, "number"


# group (code >> 3): quantity, unit, exponent offset added to nnn
_PRIMARY_BY_3_BITS = {
    0x0: ("energy", "Wh", -3),
    0x1: ("energy", "J", 0),
    0x2: ("volume", "m3", -6),
    0x3: ("mass", "kg", -3),
    0x5: ("power", "W", -3),
    0x6: ("power", "J/h", 0),
    0x7: ("volume flow", "m3/h", -6),
    0x8: ("volume flow", "m3/min", -7),
    0x9: ("volume flow", "m3/s", -9),
    0xA: ("mass flow", "kg/h", -3),
}
# code >> 2: quantity, unit ("duration": nn gives the unit), exponent offset added to nn
_PRIMARY_BY_2_BITS = {
    0x08: ("on time", "duration", 0),
    0x09: ("operating time", "duration", 0),
    0x16: ("flow temperature", "°C", -3),
    0x17: ("return temperature", "°C", -3),
    0x18: ("temperature difference", "K", -3),
    0x19: ("external temperature", "°C", -3),
    0x1A: ("pressure", "bar", -3),
    0x1C: ("averaging duration", "duration", 0),
    0x1D: ("actuality duration", "duration", 0),
}
_PRIMARY_NAMED = {
    0x6C: ("date", "", 0, "date"),
    0x6D: ("date and time", "", 0, "datetime"),
    0x6E: ("units for H.C.A.", "", 0, "number"),
    0x78: ("fabrication number", "", 0, "text"),
    0x79: ("enhanced identification", "", 0, "text"),
    0x7A: ("bus address", "", 0, "number"),
}
_EXTENSION_FD = {
    0x08: ("access number", "", 0, "number"),
    0x09: ("medium", "", 0, "number"),
    0x0A: ("manufacturer", "", 0, "number"),
    0x0B: ("parameter set identification", "", 0, "number"),
    0x0C: ("model/version", "", 0, "number"),
    0x0D: ("hardware version", "", 0, "number"),
    0x0E: ("firmware version", "", 0, "number"),
    0x0F: ("software version", "", 0, "number"),
    0x11: ("customer", "", 0, "text"),
    0x16: ("password", "", 0, "number"),
    0x17: ("error flags", "", 0, "number"),
    0x1A: ("digital output", "", 0, "number"),
    0x1B: ("digital input", "", 0, "number"),
}


def _ranged_fd(code: int) -> tuple[str, str, int, str]:
    if 0x40 <= code <= 0x4F:
        return "voltage", "V", (code & 0x0F) - 9, "number"
    if 0x50 <= code <= 0x5F:
        return "current", "A", (code & 0x0F) - 12, "number"
    if code == 0x74:
        return "remaining battery", "d", 0, "number"
    return f"VIF FD 0x{code:02X}", "", 0, "number"


def _ranged_fb(code: int) -> tuple[str, str, int, str]:
    if code <= 0x01:
        return "energy", "MWh", code - 1, "number"
    if 0x08 <= code <= 0x09:
        return "energy", "GJ", (code & 1) - 1, "number"
    if 0x10 <= code <= 0x11:
        return "volume", "m3", (code & 1) + 2, "number"
    if 0x28 <= code <= 0x29:
        return "power", "MW", (code & 1) - 1, "number"
    return f"VIF FB 0x{code:02X}", "", 0, "number"
