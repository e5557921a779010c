"""Typed STS tokens: one frozen dataclass per class/subclass (IEC 62055-41 token definitions).

Each token knows its class, subclass and how its fields fill the 44-bit payload (block bits
59-16; payload bit k is block bit k + 16). Values are checked only against their bit widths, so
every block that passes the CRC decodes to a token; whether the meter accepts a value (a TI of
200, an unknown register) is for its token rules to decide, with the Range/Function rejections.
Tokens carrying a TID hold it as the 24-bit minute count; `anatomy.tid_to_datetime` turns it
into a time with the key's base date.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from metertwin.sts.anatomy import (
    MAX_AMOUNT_TENTHS,
    MAX_TID,
    PAYLOAD_MASK,
    TokenClass,
    decode_amount,
    encode_amount,
)


def _check_bits(name: str, value: int, bits: int) -> None:
    if isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise ValueError(f"{name} {value!r} does not fit in {bits} bits")


class CreditKind(IntEnum):
    """Class 0 subclasses: what a credit token transfers (IEC 62055-41)."""

    ELECTRICITY = 0
    """0.1 kWh units."""
    WATER = 1
    """0.1 m3 units."""
    GAS = 2
    """0.1 m3 units."""
    TIME = 3
    """Connection time."""
    ELECTRICITY_CURRENCY = 4
    WATER_CURRENCY = 5
    GAS_CURRENCY = 6
    TIME_CURRENCY = 7


@dataclass(frozen=True, kw_only=True, slots=True)
class _TidToken:
    """Fields shared by tokens with a TID: RND (payload 43-40) and TID (39-16)."""

    tid: int
    rnd: int = 0

    def _check_tid_rnd(self) -> None:
        _check_bits("TID", self.tid, 24)
        _check_bits("RND", self.rnd, 4)

    def _tid_payload(self, value: int) -> int:
        return (self.rnd << 40) | (self.tid << 16) | value


def _tid_fields(payload: int) -> tuple[int, int, int]:
    """(rnd, tid, 16-bit value) of a TID-carrying payload."""
    return payload >> 40, (payload >> 16) & MAX_TID, payload & 0xFFFF


# --- class 0 ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class CreditToken(_TidToken):
    """Class 0 TransferCredit: add `amount_tenths` tenths of the kind's unit.

    The 16-bit amount field is exponent/mantissa coded: encoding rounds up to the next amount it
    can express (see `anatomy.encode_amount`); a decoded token holds the exact amount.
    """

    token_class: ClassVar[TokenClass] = TokenClass.CREDIT
    kind: CreditKind
    amount_tenths: int

    def __post_init__(self) -> None:
        self._check_tid_rnd()
        object.__setattr__(self, "kind", CreditKind(self.kind))
        if isinstance(self.amount_tenths, bool) or not (
            0 <= self.amount_tenths <= MAX_AMOUNT_TENTHS
        ):
            raise ValueError(f"amount {self.amount_tenths!r} is not 0..{MAX_AMOUNT_TENTHS}")

    @property
    def subclass(self) -> int:
        return int(self.kind)

    def payload(self) -> int:
        return self._tid_payload(encode_amount(self.amount_tenths))

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> CreditToken:
        rnd, tid, amount = _tid_fields(payload)
        return cls(kind=CreditKind(subclass), tid=tid, rnd=rnd, amount_tenths=decode_amount(amount))


# --- class 1 ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class MeterTestToken:
    """Class 1 InitiateMeterTest/Display: not encrypted, so any meter accepts it.

    Subclass 0: 36-bit control field (payload 43-8) and 8-bit manufacturer code (2 digits).
    Subclass 1: 28-bit control field (payload 43-16) and 16-bit manufacturer code (4 digits).
    The control field is a bit pattern of the tests/displays requested (all ones = all).
    """

    token_class: ClassVar[TokenClass] = TokenClass.TEST
    subclass: int = 0
    control: int
    manufacturer_code: int = 0

    def __post_init__(self) -> None:
        if self.subclass not in (0, 1):
            raise ValueError(f"meter test subclass {self.subclass!r} is not 0 or 1")
        code_bits = 8 if self.subclass == 0 else 16
        _check_bits("control", self.control, 44 - code_bits)
        _check_bits("manufacturer code", self.manufacturer_code, code_bits)

    @property
    def _code_bits(self) -> int:
        return 8 if self.subclass == 0 else 16

    def payload(self) -> int:
        return (self.control << self._code_bits) | self.manufacturer_code

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> MeterTestToken:
        code_bits = 8 if subclass == 0 else 16
        return cls(
            subclass=subclass,
            control=payload >> code_bits,
            manufacturer_code=payload & ((1 << code_bits) - 1),
        )


# --- class 2: register tokens ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class SetMaximumPowerLimit(_TidToken):
    """Class 2 subclass 0: set the load limiter's maximum power (16-bit value, watts)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 0
    maximum_power_w: int

    def __post_init__(self) -> None:
        self._check_tid_rnd()
        _check_bits("maximum power limit", self.maximum_power_w, 16)

    def payload(self) -> int:
        return self._tid_payload(self.maximum_power_w)

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> SetMaximumPowerLimit:
        rnd, tid, value = _tid_fields(payload)
        return cls(tid=tid, rnd=rnd, maximum_power_w=value)


@dataclass(frozen=True, kw_only=True, slots=True)
class ClearCredit(_TidToken):
    """Class 2 subclass 1: clear a credit register (16-bit register id; 0xFFFF = all)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 1
    register: int

    def __post_init__(self) -> None:
        self._check_tid_rnd()
        _check_bits("register", self.register, 16)

    def payload(self) -> int:
        return self._tid_payload(self.register)

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> ClearCredit:
        rnd, tid, value = _tid_fields(payload)
        return cls(tid=tid, rnd=rnd, register=value)


@dataclass(frozen=True, kw_only=True, slots=True)
class SetTariffRate(_TidToken):
    """Class 2 subclass 2: set the tariff rate (16-bit value, meaning utility-defined)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 2
    rate: int

    def __post_init__(self) -> None:
        self._check_tid_rnd()
        _check_bits("tariff rate", self.rate, 16)

    def payload(self) -> int:
        return self._tid_payload(self.rate)

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> SetTariffRate:
        rnd, tid, value = _tid_fields(payload)
        return cls(tid=tid, rnd=rnd, rate=value)


@dataclass(frozen=True, kw_only=True, slots=True)
class ClearTamperCondition(_TidToken):
    """Class 2 subclass 5: clear the tamper condition (16-bit pad, normally 0)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 5
    pad: int = 0

    def __post_init__(self) -> None:
        self._check_tid_rnd()
        _check_bits("pad", self.pad, 16)

    def payload(self) -> int:
        return self._tid_payload(self.pad)

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> ClearTamperCondition:
        rnd, tid, value = _tid_fields(payload)
        return cls(tid=tid, rnd=rnd, pad=value)


@dataclass(frozen=True, kw_only=True, slots=True)
class SetMaximumPhasePowerUnbalanceLimit(_TidToken):
    """Class 2 subclass 6: set the maximum phase power unbalance (16-bit value, watts)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 6
    maximum_unbalance_w: int

    def __post_init__(self) -> None:
        self._check_tid_rnd()
        _check_bits("maximum phase power unbalance", self.maximum_unbalance_w, 16)

    def payload(self) -> int:
        return self._tid_payload(self.maximum_unbalance_w)

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> SetMaximumPhasePowerUnbalanceLimit:
        rnd, tid, value = _tid_fields(payload)
        return cls(tid=tid, rnd=rnd, maximum_unbalance_w=value)


@dataclass(frozen=True, kw_only=True, slots=True)
class SetWaterMeterFactor(_TidToken):
    """Class 2 subclass 7: set the water meter factor (16-bit value)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 7
    factor: int

    def __post_init__(self) -> None:
        self._check_tid_rnd()
        _check_bits("water meter factor", self.factor, 16)

    def payload(self) -> int:
        return self._tid_payload(self.factor)

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> SetWaterMeterFactor:
        rnd, tid, value = _tid_fields(payload)
        return cls(tid=tid, rnd=rnd, factor=value)


# --- class 2: key change sections ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyChangeSection1:
    """Class 2 subclass 3, Set1stSectionDecoderKey: the new key's high part and attributes.

    KENHO (payload 43-40, `ken_high`), KRN (39-36), RO rollover bit (35), 3KCT (34, `kct3`:
    the change continues with sections 3 and 4, i.e. a 128-bit key), KT (33-32) and NKHO
    (31-0): bits 63-32 of a 64-bit key, or bytes 0-3 of a 128-bit key.
    """

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 3
    ken_high: int
    krn: int
    rollover: bool
    kct3: bool
    key_type: int
    key_high: int

    def __post_init__(self) -> None:
        _check_bits("KENHO", self.ken_high, 4)
        _check_bits("KRN", self.krn, 4)
        _check_bits("KT", self.key_type, 2)
        _check_bits("NKHO", self.key_high, 32)
        object.__setattr__(self, "rollover", bool(self.rollover))
        object.__setattr__(self, "kct3", bool(self.kct3))

    def payload(self) -> int:
        return (
            (self.ken_high << 40)
            | (self.krn << 36)
            | (int(self.rollover) << 35)
            | (int(self.kct3) << 34)
            | (self.key_type << 32)
            | self.key_high
        )

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> KeyChangeSection1:
        return cls(
            ken_high=payload >> 40,
            krn=(payload >> 36) & 0xF,
            rollover=bool(payload >> 35 & 1),
            kct3=bool(payload >> 34 & 1),
            key_type=(payload >> 32) & 0b11,
            key_high=payload & 0xFFFFFFFF,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyChangeSection2:
    """Class 2 subclass 4, Set2ndSectionDecoderKey.

    KENLO (payload 43-40, `ken_low`), TI as an 8-bit number (39-32), NKLO (31-0): bits 31-0 of
    a 64-bit key, or bytes 12-15 of a 128-bit key.
    """

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 4
    ken_low: int
    ti: int
    key_low: int

    def __post_init__(self) -> None:
        _check_bits("KENLO", self.ken_low, 4)
        _check_bits("TI", self.ti, 8)
        _check_bits("NKLO", self.key_low, 32)

    def payload(self) -> int:
        return (self.ken_low << 40) | (self.ti << 32) | self.key_low

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> KeyChangeSection2:
        return cls(ken_low=payload >> 40, ti=(payload >> 32) & 0xFF, key_low=payload & 0xFFFFFFFF)


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyChangeSection3:
    """Class 2 subclass 8, Set3rdSectionDecoderKey (128-bit keys).

    The SGC's low 12 bits (payload 43-32) and bytes 4-7 of the new key (31-0).
    """

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 8
    sgc_low: int
    key_bytes_4_7: int

    def __post_init__(self) -> None:
        _check_bits("SGC low bits", self.sgc_low, 12)
        _check_bits("key bytes 4-7", self.key_bytes_4_7, 32)

    def payload(self) -> int:
        return (self.sgc_low << 32) | self.key_bytes_4_7

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> KeyChangeSection3:
        return cls(sgc_low=payload >> 32, key_bytes_4_7=payload & 0xFFFFFFFF)


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyChangeSection4:
    """Class 2 subclass 9, Set4thSectionDecoderKey (128-bit keys).

    The SGC's high 12 bits (payload 43-32) and bytes 8-11 of the new key (31-0).
    """

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    subclass: ClassVar[int] = 9
    sgc_high: int
    key_bytes_8_11: int

    def __post_init__(self) -> None:
        _check_bits("SGC high bits", self.sgc_high, 12)
        _check_bits("key bytes 8-11", self.key_bytes_8_11, 32)

    def payload(self) -> int:
        return (self.sgc_high << 32) | self.key_bytes_8_11

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> KeyChangeSection4:
        return cls(sgc_high=payload >> 32, key_bytes_8_11=payload & 0xFFFFFFFF)


# --- reserved --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ReservedToken:
    """A token whose class/subclass IEC 62055-41 reserves: decoded so the meter can refuse it.

    Class 3 and reserved subclasses of classes 0 and 2 are treated as encrypted, class 1 not.
    """

    token_class: TokenClass
    subclass: int
    payload_bits: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_class", TokenClass(self.token_class))
        _check_bits("subclass", self.subclass, 4)
        _check_bits("payload", self.payload_bits, 44)
        if (self.token_class, self.subclass) in _DEFINED:
            raise ValueError(
                f"class {int(self.token_class)} subclass {self.subclass} is not reserved"
            )

    def payload(self) -> int:
        return self.payload_bits


KeyChangeToken = KeyChangeSection1 | KeyChangeSection2 | KeyChangeSection3 | KeyChangeSection4

Token = (
    CreditToken
    | MeterTestToken
    | SetMaximumPowerLimit
    | ClearCredit
    | SetTariffRate
    | ClearTamperCondition
    | SetMaximumPhasePowerUnbalanceLimit
    | SetWaterMeterFactor
    | KeyChangeSection1
    | KeyChangeSection2
    | KeyChangeSection3
    | KeyChangeSection4
    | ReservedToken
)

_MANAGEMENT_TYPES: dict[
    int,
    type[SetMaximumPowerLimit]
    | type[ClearCredit]
    | type[SetTariffRate]
    | type[ClearTamperCondition]
    | type[SetMaximumPhasePowerUnbalanceLimit]
    | type[SetWaterMeterFactor]
    | type[KeyChangeSection1]
    | type[KeyChangeSection2]
    | type[KeyChangeSection3]
    | type[KeyChangeSection4],
] = {
    kind.subclass: kind
    for kind in (
        SetMaximumPowerLimit,
        ClearCredit,
        SetTariffRate,
        KeyChangeSection1,
        KeyChangeSection2,
        ClearTamperCondition,
        SetMaximumPhasePowerUnbalanceLimit,
        SetWaterMeterFactor,
        KeyChangeSection3,
        KeyChangeSection4,
    )
}

_DEFINED: frozenset[tuple[TokenClass, int]] = frozenset(
    [(TokenClass.CREDIT, int(kind)) for kind in CreditKind]
    + [(TokenClass.TEST, 0), (TokenClass.TEST, 1)]
    + [(TokenClass.MANAGEMENT, subclass) for subclass in _MANAGEMENT_TYPES]
)


def token_from_payload(token_class: int, subclass: int, payload: int) -> Token:
    """The typed token of a class, subclass and 44-bit payload (CRC already checked)."""
    if not 0 <= payload <= PAYLOAD_MASK:
        raise ValueError("payload is not a 44-bit value")
    if token_class == TokenClass.CREDIT and subclass <= 7:
        return CreditToken.from_payload(subclass, payload)
    if token_class == TokenClass.TEST and subclass <= 1:
        return MeterTestToken.from_payload(subclass, payload)
    if token_class == TokenClass.MANAGEMENT and subclass in _MANAGEMENT_TYPES:
        return _MANAGEMENT_TYPES[subclass].from_payload(subclass, payload)
    return ReservedToken(
        token_class=TokenClass(token_class), subclass=subclass, payload_bits=payload
    )
