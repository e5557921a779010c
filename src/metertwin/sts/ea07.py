"""EA07, the STS Standard Transfer Algorithm, as an engine over user-supplied tables.

IEC 62055-41 EA07 with a 64-bit decoder key K: the round key starts as K0 = ROR64(NOT K, 12);
each of 16 rounds passes every data nibble n (bits 4n..4n+3) through substitution table S2 when
bit 4n+3 of the current round key is 1 and through S1 otherwise, then applies a 64-entry bit
permutation, then rotates the round key left by one bit. There is no key XOR into the data;
decryption is the exact inverse.

The production S1, S2 and permutation tables are distributed by the STS Association to its
members and are NOT part of metertwin. A utility supplies its own through a table file (see
docs/sts-tables.md and `load_ea07_tables`); tests and demos use tables metertwin generates itself
with `Ea07Tables.generate_for_tests`, which are labelled as test tables and are not the real ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

_MASK64 = (1 << 64) - 1
_ROUNDS = 16
FILE_FORMAT = "metertwin-ea07-tables"
FILE_VERSION = 1
_FILE_KEYS = frozenset({"format", "version", "label", "s1", "s2", "permutation"})

# Per data byte, per S-box selector pair: a 256-entry lookup (see _Lookups).
_ByteTables = tuple[tuple[tuple[int, ...], ...], ...]


class Ea07TablesError(ValueError):
    """An EA07 table set or table file is unusable; the message names the problem."""


def _permutation_problem(name: str, values: Sequence[object], size: int) -> str | None:
    """A description of why `values` is not a permutation of 0..size-1, or None if it is."""
    if len(values) != size:
        return f"{name}: {size} entries expected, found {len(values)}"
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name}: entry {index} is {value!r}, not an integer"
        if not 0 <= value < size:
            return f"{name}: entry {index} is {value}, outside 0..{size - 1}"
    seen: dict[int, int] = {}
    for index, value in enumerate(values):
        assert isinstance(value, int)
        if value in seen:
            missing = sorted(set(range(size)) - set(seen))
            return (
                f"{name}: not a permutation of 0..{size - 1}: {value} appears at entries "
                f"{seen[value]} and {index}; missing {missing}"
            )
        seen[value] = index
    return None


def _inverse(values: Sequence[int]) -> tuple[int, ...]:
    inverse = [0] * len(values)
    for index, value in enumerate(values):
        inverse[value] = index
    return tuple(inverse)


@dataclass(frozen=True)
class Ea07Tables:
    """The substitution and permutation tables EA07 runs on.

    `s1` and `s2` are permutations of 0..15 (nibble substitutions); `permutation[i]` is the bit
    position (0 = least significant) that bit i of the data moves to. The inverses are derived.
    """

    s1: tuple[int, ...]
    s2: tuple[int, ...]
    permutation: tuple[int, ...]
    label: str = ""
    s1_inverse: tuple[int, ...] = field(init=False, repr=False, compare=False)
    s2_inverse: tuple[int, ...] = field(init=False, repr=False, compare=False)
    permutation_inverse: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, values, size in (
            ("s1", self.s1, 16),
            ("s2", self.s2, 16),
            ("permutation", self.permutation, 64),
        ):
            problem = _permutation_problem(name, values, size)
            if problem is not None:
                raise Ea07TablesError(problem)
            object.__setattr__(self, name, tuple(values))
        object.__setattr__(self, "s1_inverse", _inverse(self.s1))
        object.__setattr__(self, "s2_inverse", _inverse(self.s2))
        object.__setattr__(self, "permutation_inverse", _inverse(self.permutation))

    @classmethod
    def generate_for_tests(cls, seed: int | str = 0) -> Ea07Tables:
        """Deterministic tables for tests and demos: the same seed gives the same tables forever.

        They come from a SHA-256 counter stream driving Fisher-Yates shuffles, so they do not
        depend on Python's `random`. They are NOT the STS Association's production tables and
        tokens made with them are accepted only by meters configured with the same test tables.
        """
        stream = _SeededStream(f"metertwin EA07 test tables|{seed}")
        return cls(
            s1=tuple(stream.shuffled(16)),
            s2=tuple(stream.shuffled(16)),
            permutation=tuple(stream.shuffled(64)),
            label=f"metertwin TEST tables (seed {seed!r}); not the STS production tables",
        )

    def to_text(self) -> str:
        """The tables in the file format `parse_ea07_tables` reads (docs/sts-tables.md)."""

        def row(values: Sequence[int]) -> str:
            return ", ".join(str(value) for value in values)

        permutation_rows = ",\n".join(
            "    " + row(self.permutation[start : start + 16]) for start in range(0, 64, 16)
        )
        # A JSON string literal is a valid TOML basic string once DEL is escaped too.
        label = json.dumps(self.label, ensure_ascii=False).replace("\x7f", "\\u007f")
        return (
            "# EA07 tables for metertwin (docs/sts-tables.md)\n"
            f'format = "{FILE_FORMAT}"\n'
            f"version = {FILE_VERSION}\n"
            f"label = {label}\n"
            f"s1 = [{row(self.s1)}]\n"
            f"s2 = [{row(self.s2)}]\n"
            f"permutation = [\n{permutation_rows},\n]\n"
        )

    @cached_property
    def _lookups(self) -> _Lookups:
        """Per-byte lookup tables merging the S-boxes with the bit permutation, for speed."""
        return _Lookups.build(self)


class _Lookups:
    """Byte-indexed tables so one EA07 round is 8 lookups ORed together.

    For data byte b, selector sel (bit 1: high nibble uses S2; bit 0: low nibble uses S2) and
    byte value v:
      forward[b][sel][v]      = P(S(v) << 8b)          one encryption round
      backward[b][sel][v]     = P^-1(S^-1(v) << 8b)    undo a round's S, then the previous P
      unsubstitute[b][sel][v] = S^-1(v) << 8b          undo round 0's S (no P before it)
      unpermute[b][v]         = P^-1(v << 8b)          undo the last round's P
    """

    __slots__ = ("backward", "forward", "unpermute", "unsubstitute")

    def __init__(
        self,
        forward: _ByteTables,
        backward: _ByteTables,
        unsubstitute: _ByteTables,
        unpermute: tuple[tuple[int, ...], ...],
    ) -> None:
        self.forward = forward
        self.backward = backward
        self.unsubstitute = unsubstitute
        self.unpermute = unpermute

    @classmethod
    def build(cls, tables: Ea07Tables) -> _Lookups:
        identity = tuple(range(64))

        def spread(value: int, shift: int, bit_map: Sequence[int]) -> int:
            out = 0
            for bit in range(8):
                if value >> bit & 1:
                    out |= 1 << bit_map[shift + bit]
            return out

        def substitute(value: int, sel: int, s1: Sequence[int], s2: Sequence[int]) -> int:
            low_box = s2 if sel & 1 else s1
            high_box = s2 if sel & 2 else s1
            return (high_box[value >> 4] << 4) | low_box[value & 0xF]

        def per_byte(s1: Sequence[int], s2: Sequence[int], bit_map: Sequence[int]) -> _ByteTables:
            return tuple(
                tuple(
                    tuple(spread(substitute(v, sel, s1, s2), 8 * b, bit_map) for v in range(256))
                    for sel in range(4)
                )
                for b in range(8)
            )

        return cls(
            forward=per_byte(tables.s1, tables.s2, tables.permutation),
            backward=per_byte(tables.s1_inverse, tables.s2_inverse, tables.permutation_inverse),
            unsubstitute=per_byte(tables.s1_inverse, tables.s2_inverse, identity),
            unpermute=tuple(
                tuple(spread(v, 8 * b, tables.permutation_inverse) for v in range(256))
                for b in range(8)
            ),
        )


def _lookup8(x: int, t: Sequence[Sequence[int]]) -> int:
    """OR of the 8 per-byte lookups of x."""
    return (
        t[0][x & 0xFF]
        | t[1][x >> 8 & 0xFF]
        | t[2][x >> 16 & 0xFF]
        | t[3][x >> 24 & 0xFF]
        | t[4][x >> 32 & 0xFF]
        | t[5][x >> 40 & 0xFF]
        | t[6][x >> 48 & 0xFF]
        | t[7][x >> 56]
    )


class _SeededStream:
    """Deterministic pseudo-random integers from SHA-256(seed | counter)."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._counter = 0
        self._pool = b""

    def _byte(self) -> int:
        if not self._pool:
            self._pool = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        value, self._pool = self._pool[0], self._pool[1:]
        return value

    def below(self, bound: int) -> int:
        """A uniform integer in 0..bound-1 (bound <= 256), by rejection sampling."""
        limit = 256 - 256 % bound
        while True:
            value = self._byte()
            if value < limit:
                return value % bound

    def shuffled(self, size: int) -> list[int]:
        values = list(range(size))
        for i in range(size - 1, 0, -1):
            j = self.below(i + 1)
            values[i], values[j] = values[j], values[i]
        return values


def _round_selectors(key: int) -> list[tuple[int, ...]]:
    """For each round, the S-box selector pair of every data byte (see module docstring)."""
    round_key = (((key ^ _MASK64) >> 12) | ((key ^ _MASK64) << 52)) & _MASK64
    schedule = []
    for _ in range(_ROUNDS):
        schedule.append(
            tuple(
                ((round_key >> (8 * b + 7) & 1) << 1) | (round_key >> (8 * b + 3) & 1)
                for b in range(8)
            )
        )
        round_key = ((round_key << 1) | (round_key >> 63)) & _MASK64
    return schedule


class Ea07:
    """EA07 with one 64-bit decoder key over a given table set, on 64-bit integer blocks."""

    __slots__ = ("_backward", "_forward", "_unpermute", "_unsubstitute")

    def __init__(self, key: bytes, tables: Ea07Tables) -> None:
        if len(key) != 8:
            raise ValueError(f"EA07 needs an 8-byte key, got {len(key)} bytes")
        lookups = tables._lookups
        schedule = _round_selectors(int.from_bytes(key, "big"))

        def pick(byte_tables: _ByteTables, sels: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
            return tuple(byte_tables[b][sels[b]] for b in range(8))

        self._forward = tuple(pick(lookups.forward, sels) for sels in schedule)
        # Rounds 15..1 undo S and the previous round's P together; round 0 undoes S alone.
        self._backward = tuple(pick(lookups.backward, sels) for sels in reversed(schedule[1:]))
        self._unsubstitute = pick(lookups.unsubstitute, schedule[0])
        self._unpermute = lookups.unpermute

    def encrypt_block(self, block: int) -> int:
        """16 rounds of nibble substitution then bit permutation."""
        x = block
        for t0, t1, t2, t3, t4, t5, t6, t7 in self._forward:
            x = (
                t0[x & 0xFF]
                | t1[x >> 8 & 0xFF]
                | t2[x >> 16 & 0xFF]
                | t3[x >> 24 & 0xFF]
                | t4[x >> 32 & 0xFF]
                | t5[x >> 40 & 0xFF]
                | t6[x >> 48 & 0xFF]
                | t7[x >> 56]
            )
        return x

    def decrypt_block(self, block: int) -> int:
        """The exact inverse: undo the permutation and substitution of each round, last first."""
        x = _lookup8(block, self._unpermute)
        for t0, t1, t2, t3, t4, t5, t6, t7 in self._backward:
            x = (
                t0[x & 0xFF]
                | t1[x >> 8 & 0xFF]
                | t2[x >> 16 & 0xFF]
                | t3[x >> 24 & 0xFF]
                | t4[x >> 32 & 0xFF]
                | t5[x >> 40 & 0xFF]
                | t6[x >> 48 & 0xFF]
                | t7[x >> 56]
            )
        return _lookup8(x, self._unsubstitute)


def parse_ea07_tables(text: str, source: str = "<text>") -> Ea07Tables:
    """Tables from the text of an EA07 table file (TOML; format in docs/sts-tables.md).

    Raises `Ea07TablesError` naming the file and the problem: syntax, a missing or unknown key,
    a wrong format/version, a wrong entry count, an entry out of range or repeated.
    """
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Ea07TablesError(f"{source}: not valid TOML: {exc}") from exc
    unknown = sorted(set(document) - _FILE_KEYS)
    if unknown:
        raise Ea07TablesError(f"{source}: unknown key(s) {', '.join(unknown)}")
    if document.get("format") != FILE_FORMAT:
        raise Ea07TablesError(
            f'{source}: format must be "{FILE_FORMAT}", found {document.get("format")!r}'
        )
    if document.get("version") != FILE_VERSION:
        raise Ea07TablesError(
            f"{source}: version must be {FILE_VERSION}, found {document.get('version')!r}"
        )
    label = document.get("label", "")
    if not isinstance(label, str):
        raise Ea07TablesError(f"{source}: label must be a string")
    tables: dict[str, tuple[int, ...]] = {}
    for name in ("s1", "s2", "permutation"):
        if name not in document:
            raise Ea07TablesError(f"{source}: missing key {name}")
        values = document[name]
        if not isinstance(values, list):
            raise Ea07TablesError(f"{source}: {name} must be an array of integers")
        size = 64 if name == "permutation" else 16
        problem = _permutation_problem(name, values, size)
        if problem is not None:
            raise Ea07TablesError(f"{source}: {problem}")
        tables[name] = tuple(values)
    return Ea07Tables(
        s1=tables["s1"], s2=tables["s2"], permutation=tables["permutation"], label=label
    )


def load_ea07_tables(path: str | os.PathLike[str]) -> Ea07Tables:
    """Read an EA07 table file (the config key `ea07_tables`); the only I/O in metertwin.sts."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise Ea07TablesError(f"{os.fspath(path)}: cannot read EA07 tables: {exc}") from exc
    return parse_ea07_tables(text, source=os.fspath(path))
