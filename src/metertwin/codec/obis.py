"""OBIS codes (IEC 62056-6-1): the six-byte logical names of COSEM objects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TEXT = re.compile(r"^(\d{1,3})[.-](\d{1,3})[.:](\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[.*](\d{1,3}))?$")


@dataclass(frozen=True, order=True)
class Obis:
    """A logical name A.B.C.D.E.F, each group 0..255.

    Every GET looks its object up by logical name two or three times, so the hash (the
    dataclass's own, of the six groups) and the six octets are computed once, at
    construction; equality compares the octets.
    """

    a: int
    b: int
    c: int
    d: int
    e: int
    f: int = 255
    octets: bytes = field(init=False, repr=False, compare=False)  # the six octets, kept
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        groups = (self.a, self.b, self.c, self.d, self.e, self.f)
        for group in groups:
            if not 0 <= group <= 255:
                raise ValueError(f"OBIS value group {group} is outside 0..255")
        object.__setattr__(self, "octets", bytes(groups))
        object.__setattr__(self, "_hash", hash(groups))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if type(other) is Obis:  # as the dataclass's own: another class is never equal
            return self.octets == other.octets
        return NotImplemented

    @classmethod
    def parse(cls, text: str) -> Obis:
        """'1.0.1.8.0.255', '1-0:1.8.0.255' or '1-0:1.8.0' (F defaults to 255)."""
        match = _TEXT.match(text.strip())
        if not match:
            raise ValueError(f"not an OBIS code: {text!r}")
        groups = [int(g) for g in match.groups(default="255")]
        return cls(*groups)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Obis:
        if len(raw) != 6:
            raise ValueError(f"a logical name has 6 bytes, got {len(raw)}")
        return cls(*raw)

    def __bytes__(self) -> bytes:
        return self.octets

    def __str__(self) -> str:
        return f"{self.a}.{self.b}.{self.c}.{self.d}.{self.e}.{self.f}"
