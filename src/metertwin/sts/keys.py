"""A meter's STS identity and decoder key: key types, DKGA02 and DKGA04 (IEC 62055-41).

The decoder key (DK) is what a meter decrypts tokens with. The vending side derives it from a
vending key (VK) and the meter's identity with a decoder key generation algorithm (DKGA); the
meter normally just holds the DK.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import cached_property
from typing import Protocol

from Crypto.Cipher import DES

from metertwin.sts.anatomy import BaseDate
from metertwin.sts.ea07 import Ea07, Ea07Tables
from metertwin.sts.misty1 import Misty1


class KeyType(IntEnum):
    """Decoder key types (IEC 62055-41 KT)."""

    DITK = 0
    """Initialisation key."""
    DDTK = 1
    """Default key: the meter refuses credit tokens under it."""
    DUTK = 2
    """Unique key: the normal, per-meter key."""
    DCTK = 3
    """Common key: shared by meters (DKGA02 derives it without the DRN)."""


class EncryptionAlgorithm(StrEnum):
    """Token encryption algorithms (IEC 62055-41 EA codes)."""

    EA07 = "07"
    """Standard Transfer Algorithm, 64-bit key; tables supplied by the user."""
    EA11 = "11"
    """MISTY1, 128-bit key."""


class Dkga(StrEnum):
    """Decoder key generation algorithms (IEC 62055-41 DKGA codes)."""

    DKGA02 = "02"
    """Single DES over PAN and control blocks; 64-bit keys."""
    DKGA04 = "04"
    """KDF-HMAC-SHA-256 from a 160-bit vending key; 64- or 128-bit keys."""


class BlockCipher(Protocol):
    """What the token codec needs from EA07 or EA11: 64-bit blocks as integers."""

    def encrypt_block(self, block: int) -> int: ...

    def decrypt_block(self, block: int) -> int: ...


def luhn_check_digit(digits: str) -> str:
    """The Luhn (mod 10) check digit appended to IIN + DRN to form the 18-digit PAN."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def _check_identity(iin: str, drn: str) -> None:
    if not (iin.isascii() and iin.isdigit()) or len(iin) not in (4, 6):
        raise ValueError(f"IIN {iin!r} must be 4 or 6 decimal digits")
    if not (drn.isascii() and drn.isdigit()) or len(iin) + len(drn) != 17:
        raise ValueError(
            f"DRN {drn!r} must be {17 - len(iin)} decimal digits with a {len(iin)}-digit IIN"
        )


def _check_codes(key_type: int, sgc: int, ti: int, krn: int) -> None:
    if key_type not in tuple(KeyType):
        raise ValueError(f"key type {key_type} is not 0..3")
    if not 0 <= sgc <= 999_999:
        raise ValueError(f"SGC {sgc} is not a 6-digit number")
    if not 0 <= ti <= 99:
        raise ValueError(f"TI {ti} is not a 2-digit number")
    if not 1 <= krn <= 9:
        raise ValueError(f"KRN {krn} is not 1..9")


def dkga02(
    vending_key: bytes, *, iin: str, drn: str, key_type: int, sgc: int, ti: int, krn: int
) -> bytes:
    """The 64-bit decoder key by DKGA02 (IEC 62055-41, single DES).

    PAN block: the last 5 IIN digits + 11-digit DRN (or last 3 of a 4-digit IIN + 13-digit DRN),
    the DRN replaced by zeros for a common key (DCTK). Control block: KT, SGC(6), TI(2), KRN,
    "FFFFFF" as hex digits. X = PAN xor CONTROL; DK = DES_VK(X) xor X xor VK.
    """
    _check_identity(iin, drn)
    _check_codes(key_type, sgc, ti, krn)
    if len(vending_key) != 8:
        raise ValueError(f"DKGA02 needs an 8-byte vending key, got {len(vending_key)} bytes")
    reference = "0" * len(drn) if key_type == KeyType.DCTK else drn
    pan_block = int((iin + reference)[-16:], 16)
    control_block = int(f"{key_type}{sgc:06d}{ti:02d}{krn}FFFFFF", 16)
    mixed = (pan_block ^ control_block).to_bytes(8, "big")
    encrypted = DES.new(vending_key, DES.MODE_ECB).encrypt(mixed)
    key = int.from_bytes(encrypted, "big") ^ int.from_bytes(mixed, "big")
    return (key ^ int.from_bytes(vending_key, "big")).to_bytes(8, "big")


def dkga04(
    vending_key: bytes,
    *,
    iin: str,
    drn: str,
    key_type: int,
    sgc: int,
    ti: int,
    krn: int,
    base_date: BaseDate,
    ea: EncryptionAlgorithm,
) -> bytes:
    """The decoder key by DKGA04: KDF-HMAC-SHA-256 (NIST SP 800-108 style, IEC 62055-41).

    DK = leftmost L bits of HMAC-SHA-256(VK, M), L = 64 for EA07 and 128 for EA11, with
    M = 04 | "04" | BD | EA | TI | 00 | 04 | SGC | KT | KRN | PAN18 | L (4 bytes, big-endian),
    each quoted value an ASCII string preceded by its length byte, PAN18 = IIN + DRN + Luhn digit.
    """
    _check_identity(iin, drn)
    _check_codes(key_type, sgc, ti, krn)
    if len(vending_key) != 20:
        raise ValueError(f"DKGA04 needs a 20-byte (160-bit) vending key, got {len(vending_key)}")
    bits = 64 if ea is EncryptionAlgorithm.EA07 else 128

    def text(value: str) -> bytes:
        return bytes([len(value)]) + value.encode("ascii")

    label = b"\x04" + text("04") + text(base_date.code) + text(ea.value) + text(f"{ti:02d}")
    context = b"\x04" + text(f"{sgc:06d}") + text(str(key_type)) + text(str(krn))
    context += text(pan(iin, drn))
    message = label + b"\x00" + context + bits.to_bytes(4, "big")
    return hmac.new(vending_key, message, hashlib.sha256).digest()[: bits // 8]


def pan(iin: str, drn: str) -> str:
    """The 18-digit primary account number: IIN + DRN + Luhn check digit."""
    _check_identity(iin, drn)
    return iin + drn + luhn_check_digit(iin + drn)


@dataclass(frozen=True, kw_only=True)
class MeterKey:
    """A meter's STS identity and its decoder key: everything needed to code its tokens.

    `ken` is the key expiry number (255 = no expiry), `base_date` the TID base date in use.
    EA07 keys need the user's `ea07_tables`. The decoder key is kept out of the repr.
    """

    iin: str = "600727"
    drn: str
    key_type: KeyType
    sgc: int
    ti: int
    krn: int
    ken: int = 255
    base_date: BaseDate = BaseDate.Y1993
    ea: EncryptionAlgorithm
    dkga: Dkga
    decoder_key: bytes = field(repr=False)
    ea07_tables: Ea07Tables | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_identity(self.iin, self.drn)
        _check_codes(self.key_type, self.sgc, self.ti, self.krn)
        object.__setattr__(self, "key_type", KeyType(self.key_type))
        object.__setattr__(self, "base_date", BaseDate(self.base_date))
        object.__setattr__(self, "ea", EncryptionAlgorithm(self.ea))
        object.__setattr__(self, "dkga", Dkga(self.dkga))
        if not 0 <= self.ken <= 255:
            raise ValueError(f"KEN {self.ken} is not 0..255")
        expected = 8 if self.ea is EncryptionAlgorithm.EA07 else 16
        if len(self.decoder_key) != expected:
            raise ValueError(
                f"EA{self.ea.value} needs a {expected * 8}-bit decoder key, "
                f"got {len(self.decoder_key) * 8} bits"
            )
        if self.dkga is Dkga.DKGA02 and self.ea is not EncryptionAlgorithm.EA07:
            raise ValueError("DKGA02 yields 64-bit keys: it pairs with EA07 only")
        if self.ea is EncryptionAlgorithm.EA07 and self.ea07_tables is None:
            raise ValueError("an EA07 key needs ea07_tables (see docs/sts-tables.md)")

    @classmethod
    def from_vending_key(
        cls,
        vending_key: bytes,
        *,
        iin: str = "600727",
        drn: str,
        key_type: KeyType,
        sgc: int,
        ti: int,
        krn: int,
        ken: int = 255,
        base_date: BaseDate = BaseDate.Y1993,
        ea: EncryptionAlgorithm,
        dkga: Dkga,
        ea07_tables: Ea07Tables | None = None,
    ) -> MeterKey:
        """The meter key derived from a vending key with the chosen DKGA (vending side)."""
        if dkga is Dkga.DKGA02:
            decoder_key = dkga02(
                vending_key, iin=iin, drn=drn, key_type=key_type, sgc=sgc, ti=ti, krn=krn
            )
        else:
            decoder_key = dkga04(
                vending_key,
                iin=iin,
                drn=drn,
                key_type=key_type,
                sgc=sgc,
                ti=ti,
                krn=krn,
                base_date=base_date,
                ea=ea,
            )
        return cls(
            iin=iin,
            drn=drn,
            key_type=key_type,
            sgc=sgc,
            ti=ti,
            krn=krn,
            ken=ken,
            base_date=base_date,
            ea=ea,
            dkga=dkga,
            decoder_key=decoder_key,
            ea07_tables=ea07_tables,
        )

    @property
    def pan(self) -> str:
        """The 18-digit PAN (IIN + DRN + Luhn digit) that identifies the meter."""
        return pan(self.iin, self.drn)

    @property
    def key_bits(self) -> int:
        """64 or 128."""
        return len(self.decoder_key) * 8

    @cached_property
    def cipher(self) -> BlockCipher:
        """The block cipher of this key (built once; EA07 precomputes its round lookups)."""
        if self.ea is EncryptionAlgorithm.EA11:
            return Misty1(self.decoder_key)
        assert self.ea07_tables is not None
        return Ea07(self.decoder_key, self.ea07_tables)


DecoderKey = MeterKey
"""Alias: the same value seen from the meter's side."""
