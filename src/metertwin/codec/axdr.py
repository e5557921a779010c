"""A-XDR encoding of the DLMS ``Data`` CHOICE (dlms.md 1), sans-IO and strict.

Values are immutable :class:`Data` trees checked when built, so a value that exists can always
be encoded. Decoding is strict: any malformed input raises :class:`AxdrError` (never IndexError,
struct.error or RecursionError), nesting is limited to :data:`MAX_DEPTH`, and no count read from
the wire is trusted before the bytes it promises are there.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias

from metertwin.codec.cosem_datetime import CosemDate, CosemDateTime, CosemTime
from metertwin.codec.errors import AxdrError

__all__ = [
    "FLOAT_TYPES",
    "INTEGER_TYPES",
    "MAX_DEPTH",
    "BitString",
    "CompactArray",
    "Data",
    "DataType",
    "DataValue",
    "TypeDescription",
    "decode",
    "decode_length",
    "decode_prefix",
    "encode",
    "encode_length",
]

MAX_DEPTH = 32
"""Deepest nesting of arrays, structures and compact-array descriptions accepted on decode."""


class DataType(IntEnum):
    """The tags of the ``Data`` CHOICE (dlms.md 1.1)."""

    NULL_DATA = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27
    DONT_CARE = 255


@dataclass(frozen=True, slots=True)
class BitString:
    """A bit-string of ``length`` bits held as one number, the first bit most significant.

    ``BitString(0x007E1F, 24)`` is a conformance block; on the wire the first bit is the MSB of
    the first octet and the last octet is padded with zero bits (dlms.md 1.1).
    """

    bits: int
    length: int

    def __post_init__(self) -> None:
        if self.length < 0:
            raise ValueError(f"bit-string length {self.length} is negative")
        if not 0 <= self.bits < (1 << self.length):
            raise ValueError(f"bits 0x{self.bits:X} do not fit in {self.length} bits")

    @classmethod
    def from_bools(cls, flags: Iterable[bool]) -> BitString:
        bits = 0
        length = 0
        for flag in flags:
            bits = (bits << 1) | bool(flag)
            length += 1
        return cls(bits, length)

    @classmethod
    def from_bytes(cls, raw: bytes, length: int | None = None) -> BitString:
        """The first ``length`` bits of ``raw`` (all of them by default); padding is ignored."""
        total = len(raw) * 8
        if length is None:
            length = total
        if not 0 <= length <= total or total - length >= 8:
            raise ValueError(f"{len(raw)} octets cannot hold exactly a {length}-bit string")
        return cls(int.from_bytes(raw, "big") >> (total - length), length)

    def to_bytes(self) -> bytes:
        padding = -self.length % 8
        return (self.bits << padding).to_bytes((self.length + padding) // 8, "big")

    def to_bools(self) -> list[bool]:
        return [bool(self.bits >> (self.length - 1 - i) & 1) for i in range(self.length)]

    def __getitem__(self, index: int) -> bool:
        """Bit ``index`` counted from the first (most significant) bit."""
        if not 0 <= index < self.length:
            raise IndexError(f"bit {index} of a {self.length}-bit string")
        return bool(self.bits >> (self.length - 1 - index) & 1)


# Compact arrays must consume at least one octet per element, or a tiny description could make
# the decoder produce unbounded values from nothing; so these never appear in a description.
_ZERO_WIDTH = frozenset({DataType.NULL_DATA, DataType.DONT_CARE, DataType.COMPACT_ARRAY})


@dataclass(frozen=True, slots=True)
class TypeDescription:
    """The element type of a compact array (dlms.md 1.1, tag 0x13).

    A simple type, a structure of ``members``, or an array of ``count`` elements of the single
    type in ``members``. Null, dont-care, empty structures and empty arrays are refused: each
    element must occupy at least one octet.
    """

    type: DataType
    members: tuple[TypeDescription, ...] = ()
    count: int = 0

    def __post_init__(self) -> None:
        if self.type not in _BODY_DECODERS or self.type in _ZERO_WIDTH:
            raise ValueError(f"{_name(self.type)} cannot describe a compact-array element")
        if self.type == DataType.STRUCTURE:
            if not self.members or self.count:
                raise ValueError("a structure description needs members and no count")
        elif self.type == DataType.ARRAY:
            if len(self.members) != 1 or not 1 <= self.count <= 0xFFFF:
                raise ValueError("an array description needs one member type and 1..65535 count")
        elif self.members or self.count:
            raise ValueError(f"{_name(self.type)} is simple: no members or count")
        for member in self.members:
            if not isinstance(member, TypeDescription):
                raise TypeError(f"description member {member!r} is not a TypeDescription")

    @classmethod
    def simple(cls, data_type: DataType) -> TypeDescription:
        return cls(data_type)

    @classmethod
    def structure(cls, *members: TypeDescription) -> TypeDescription:
        return cls(DataType.STRUCTURE, tuple(members))

    @classmethod
    def array(cls, count: int, element: TypeDescription) -> TypeDescription:
        return cls(DataType.ARRAY, (element,), count)

    def to_bytes(self) -> bytes:
        out = bytearray()
        _encode_description(self, out)
        return bytes(out)

    def matches(self, data: Data) -> bool:
        """Whether ``data`` has exactly this shape (so it can be written untagged)."""
        if data.type != self.type:
            return False
        if self.type == DataType.STRUCTURE:
            items = data.value
            assert isinstance(items, tuple)
            return len(items) == len(self.members) and all(
                member.matches(item) for member, item in zip(self.members, items, strict=True)
            )
        if self.type == DataType.ARRAY:
            items = data.value
            assert isinstance(items, tuple)
            element = self.members[0]
            return len(items) == self.count and all(element.matches(item) for item in items)
        return True


@dataclass(frozen=True, slots=True)
class CompactArray:
    """A compact array: one type description, then the elements without their tags."""

    description: TypeDescription
    elements: tuple[Data, ...]

    def __post_init__(self) -> None:
        for element in self.elements:
            if not isinstance(element, Data) or not self.description.matches(element):
                raise ValueError(
                    f"compact-array element {element!r} does not match its description"
                )


@dataclass(frozen=True, slots=True)
class EncodedItems:
    """The elements of a large array already encoded (``count`` A-XDR values back to back).

    A server answering a year of profile rows builds their octets directly instead of a
    quarter of a million ``Data`` objects; encoding copies the octets, ``as_items`` decodes
    them when somebody looks.
    """

    count: int
    body: bytes


DataValue: TypeAlias = (
    bool
    | int
    | float
    | bytes
    | str
    | BitString
    | tuple["Data", ...]
    | EncodedItems
    | CompactArray
    | CosemDateTime
    | CosemDate
    | CosemTime
    | None
)
"""What a :class:`Data` holds; which one is fixed by its type (see ``Data``)."""


@dataclass(frozen=True, slots=True)
class Data:
    """One A-XDR value: its type tag and a Python value, checked at construction.

    null-data and dont-care hold None; array and structure a tuple of Data; boolean a bool;
    integer types and enum an int (bcd: its one octet 0..255, two BCD digits, kept unsigned
    although the ASN.1 types it Integer8); float32/64 a float; octet-string
    bytes; visible-string a str of code points 0..255 (one per octet); utf8-string a str;
    bit-string a :class:`BitString`; compact-array a :class:`CompactArray`; date-time, date and
    time (tags 25-27) a :class:`CosemDateTime`, :class:`CosemDate`, :class:`CosemTime`.
    """

    type: DataType
    value: DataValue = None

    def __post_init__(self) -> None:
        value = self.value
        bounds = _INTEGER_RANGES.get(self.type)
        if bounds is not None and type(value) is int and bounds[0] <= value <= bounds[1]:
            return  # the common case, checked inline for speed
        check = _CHECKS.get(self.type)
        if check is None:
            raise ValueError(f"{self.type!r} is not a DLMS data type tag")
        check(self.type, value)

    @classmethod
    def null(cls) -> Data:
        return cls(DataType.NULL_DATA)

    @classmethod
    def dont_care(cls) -> Data:
        return cls(DataType.DONT_CARE)

    @classmethod
    def array(cls, items: Iterable[Data]) -> Data:
        return cls(DataType.ARRAY, tuple(items))

    @classmethod
    def structure(cls, items: Iterable[Data]) -> Data:
        return cls(DataType.STRUCTURE, tuple(items))

    @classmethod
    def boolean(cls, value: bool) -> Data:
        return cls(DataType.BOOLEAN, bool(value))

    @classmethod
    def bit_string(cls, value: BitString) -> Data:
        return cls(DataType.BIT_STRING, value)

    @classmethod
    def double_long(cls, value: int) -> Data:
        return _integer(DataType.DOUBLE_LONG, value)

    @classmethod
    def double_long_unsigned(cls, value: int) -> Data:
        return _integer(DataType.DOUBLE_LONG_UNSIGNED, value)

    @classmethod
    def octet_string(cls, value: bytes | bytearray | memoryview) -> Data:
        return cls(DataType.OCTET_STRING, bytes(value))

    @classmethod
    def visible_string(cls, value: str) -> Data:
        return cls(DataType.VISIBLE_STRING, value)

    @classmethod
    def utf8_string(cls, value: str) -> Data:
        return cls(DataType.UTF8_STRING, value)

    @classmethod
    def bcd(cls, value: int) -> Data:
        return _integer(DataType.BCD, value)

    @classmethod
    def integer(cls, value: int) -> Data:
        return _integer(DataType.INTEGER, value)

    @classmethod
    def long(cls, value: int) -> Data:
        return _integer(DataType.LONG, value)

    @classmethod
    def unsigned(cls, value: int) -> Data:
        return _integer(DataType.UNSIGNED, value)

    @classmethod
    def long_unsigned(cls, value: int) -> Data:
        return _integer(DataType.LONG_UNSIGNED, value)

    @classmethod
    def compact_array(cls, description: TypeDescription, elements: Iterable[Data]) -> Data:
        return cls(DataType.COMPACT_ARRAY, CompactArray(description, tuple(elements)))

    @classmethod
    def long64(cls, value: int) -> Data:
        return _integer(DataType.LONG64, value)

    @classmethod
    def long64_unsigned(cls, value: int) -> Data:
        return _integer(DataType.LONG64_UNSIGNED, value)

    @classmethod
    def enum(cls, value: int) -> Data:
        return _integer(DataType.ENUM, value)

    @classmethod
    def float32(cls, value: float) -> Data:
        return cls(DataType.FLOAT32, float(value))

    @classmethod
    def float64(cls, value: float) -> Data:
        return cls(DataType.FLOAT64, float(value))

    @classmethod
    def date_time(cls, value: CosemDateTime) -> Data:
        return cls(DataType.DATE_TIME, value)

    @classmethod
    def date(cls, value: CosemDate) -> Data:
        return cls(DataType.DATE, value)

    @classmethod
    def time(cls, value: CosemTime) -> Data:
        return cls(DataType.TIME, value)

    def as_int(self) -> int:
        """The integer of an integer, enum or bcd value; TypeError for any other type."""
        if self.type in _INTEGER_STRUCTS or self.type == DataType.BCD:
            assert isinstance(self.value, int)
            return self.value
        raise TypeError(f"{_name(self.type)} is not an integer type")

    def as_bool(self) -> bool:
        if isinstance(self.value, bool):
            return self.value
        raise TypeError(f"{_name(self.type)} is not boolean")

    def as_bytes(self) -> bytes:
        if isinstance(self.value, bytes):
            return self.value
        raise TypeError(f"{_name(self.type)} is not an octet-string")

    def as_str(self) -> str:
        if isinstance(self.value, str):
            return self.value
        raise TypeError(f"{_name(self.type)} is not a string")

    def as_float(self) -> float:
        if isinstance(self.value, float):
            return self.value
        raise TypeError(f"{_name(self.type)} is not a float")

    def as_items(self) -> tuple[Data, ...]:
        """The elements of an array, structure or compact array."""
        if isinstance(self.value, tuple):
            return self.value
        if isinstance(self.value, CompactArray):
            return self.value.elements
        if isinstance(self.value, EncodedItems):
            items = []
            pos = 0
            for _ in range(self.value.count):
                item, pos = decode_prefix(self.value.body, pos)
                items.append(item)
            return tuple(items)
        raise TypeError(f"{_name(self.type)} has no elements")


def _name(data_type: int) -> str:
    try:
        return DataType(data_type).name.lower().replace("_", "-")
    except ValueError:
        return f"tag {data_type}"


# --- construction checks -----------------------------------------------------------------

_INTEGER_STRUCTS: dict[int, struct.Struct] = {
    DataType.DOUBLE_LONG: struct.Struct(">i"),
    DataType.DOUBLE_LONG_UNSIGNED: struct.Struct(">I"),
    DataType.INTEGER: struct.Struct(">b"),
    DataType.LONG: struct.Struct(">h"),
    DataType.UNSIGNED: struct.Struct(">B"),
    DataType.LONG_UNSIGNED: struct.Struct(">H"),
    DataType.LONG64: struct.Struct(">q"),
    DataType.LONG64_UNSIGNED: struct.Struct(">Q"),
    DataType.ENUM: struct.Struct(">B"),
}
_INTEGER_RANGES: dict[int, tuple[int, int]] = {
    data_type: (
        (-(1 << (8 * fmt.size - 1)), (1 << (8 * fmt.size - 1)) - 1)
        if fmt.format[-1].islower()
        else (0, (1 << (8 * fmt.size)) - 1)
    )
    for data_type, fmt in _INTEGER_STRUCTS.items()
}
_INTEGER_RANGES[DataType.BCD] = (0, 0xFF)
_FLOAT_STRUCTS: dict[int, struct.Struct] = {
    DataType.FLOAT32: struct.Struct(">f"),
    DataType.FLOAT64: struct.Struct(">d"),
}
INTEGER_TYPES = frozenset(DataType(t) for t in _INTEGER_RANGES)
"""The types holding a Python int: the integers of every width, enum and bcd."""
FLOAT_TYPES = frozenset(DataType(t) for t in _FLOAT_STRUCTS)
_FLOAT32_MAX = struct.unpack(">f", bytes.fromhex("7F7FFFFF"))[0]


def _wrong(data_type: int, value: object, expected: str) -> TypeError:
    return TypeError(f"{_name(data_type)} holds {expected}, not {type(value).__name__}")


def _check_none(data_type: int, value: object) -> None:
    if value is not None:
        raise _wrong(data_type, value, "None")


def _check_items(data_type: int, value: object) -> None:
    if isinstance(value, EncodedItems) and data_type == DataType.ARRAY:
        return
    if not isinstance(value, tuple):
        raise _wrong(data_type, value, "a tuple of Data")
    for item in value:
        if not isinstance(item, Data):
            raise _wrong(data_type, item, "Data elements")


def _check_bool(data_type: int, value: object) -> None:
    if not isinstance(value, bool):
        raise _wrong(data_type, value, "a bool")


def _check_int(data_type: int, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(data_type, value, "an int")
    low, high = _INTEGER_RANGES[data_type]
    if not low <= value <= high:
        raise ValueError(f"{value} is outside the {_name(data_type)} range {low}..{high}")


def _check_float(data_type: int, value: object) -> None:
    if not isinstance(value, float):
        raise _wrong(data_type, value, "a float")
    if data_type == DataType.FLOAT32 and math.isfinite(value) and abs(value) > _FLOAT32_MAX:
        raise ValueError(f"{value} is outside the float32 range")


def _check_bytes(data_type: int, value: object) -> None:
    if not isinstance(value, bytes):
        raise _wrong(data_type, value, "bytes")
    if len(value) > _MAX_LENGTH:
        raise ValueError(f"{_name(data_type)} of {len(value)} octets is too long for A-XDR")


def _check_visible(data_type: int, value: object) -> None:
    if not isinstance(value, str):
        raise _wrong(data_type, value, "a str")
    try:
        _check_bytes(data_type, value.encode("latin-1"))
    except UnicodeEncodeError:
        raise ValueError(f"visible-string {value!r} has characters beyond U+00FF") from None


def _check_utf8(data_type: int, value: object) -> None:
    if not isinstance(value, str):
        raise _wrong(data_type, value, "a str")
    try:
        _check_bytes(data_type, value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"utf8-string {value!r} is not encodable as UTF-8") from None


def _check_instance(expected: type) -> Callable[[int, object], None]:
    def check(data_type: int, value: object) -> None:
        if not isinstance(value, expected):
            raise _wrong(data_type, value, f"a {expected.__name__}")

    return check


def _check_bit_string(data_type: int, value: object) -> None:
    _check_instance(BitString)(data_type, value)
    assert isinstance(value, BitString)
    if value.length > _MAX_LENGTH:
        raise ValueError(f"bit-string of {value.length} bits is too long for A-XDR")


_CHECKS: dict[int, Callable[[int, object], None]] = {
    DataType.NULL_DATA: _check_none,
    DataType.DONT_CARE: _check_none,
    DataType.ARRAY: _check_items,
    DataType.STRUCTURE: _check_items,
    DataType.BOOLEAN: _check_bool,
    DataType.BIT_STRING: _check_bit_string,
    DataType.OCTET_STRING: _check_bytes,
    DataType.VISIBLE_STRING: _check_visible,
    DataType.UTF8_STRING: _check_utf8,
    DataType.COMPACT_ARRAY: _check_instance(CompactArray),
    DataType.FLOAT32: _check_float,
    DataType.FLOAT64: _check_float,
    DataType.DATE_TIME: _check_instance(CosemDateTime),
    DataType.DATE: _check_instance(CosemDate),
    DataType.TIME: _check_instance(CosemTime),
    **dict.fromkeys(_INTEGER_RANGES, _check_int),
}


# --- lengths (dlms.md 1.2) -----------------------------------------------------------------

_MAX_LENGTH = 0xFFFFFFFF
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def encode_length(length: int) -> bytes:
    """An A-XDR length or element count: one octet below 0x80, else 0x81/0x82/0x84 + value."""
    if 0 <= length < 0x80:
        return bytes((length,))
    if 0 <= length <= 0xFF:
        return bytes((0x81, length))
    if 0 <= length <= 0xFFFF:
        return b"\x82" + _U16.pack(length)
    if 0 <= length <= _MAX_LENGTH:
        return b"\x84" + _U32.pack(length)
    raise ValueError(f"length {length} does not fit an A-XDR length (0..2^32-1)")


def decode_length(buf: bytes, pos: int) -> tuple[int, int]:
    """An A-XDR length at ``pos`` and the offset after it; refuses 0x80, 0x83 and 0x85+."""
    if pos >= len(buf):
        raise AxdrError(f"truncated at offset {pos}: expected a length")
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    size = {0x81: 1, 0x82: 2, 0x84: 4}.get(first)
    if size is None:
        raise AxdrError(f"length prefix 0x{first:02X} at offset {pos} (only 81, 82 and 84)")
    end = pos + 1 + size
    if end > len(buf):
        raise AxdrError(f"truncated at offset {pos}: {size}-octet length")
    return int.from_bytes(buf[pos + 1 : end], "big"), end


def _take(buf: bytes, pos: int, size: int, what: str) -> tuple[bytes, int]:
    end = pos + size
    if end > len(buf):
        raise AxdrError(f"{what} at offset {pos} needs {size} octets, {len(buf) - pos} remain")
    return buf[pos:end], end


# --- encoding ------------------------------------------------------------------------------


def encode(data: Data) -> bytes:
    """The A-XDR octets of ``data``, tag included."""
    pack = _TAGGED_NUMBERS.get(data.type)
    if pack is not None:  # a register's value: tag and body in one pack
        return pack(data.type, data.value)
    out = bytearray()
    _encode_into(data, out)
    return bytes(out)


def _encode_into(data: Data, out: bytearray) -> None:
    out.append(data.type)
    _BODY_ENCODERS[data.type](data.value, out)


def _encode_items(value: DataValue, out: bytearray) -> None:
    if isinstance(value, EncodedItems):
        out += encode_length(value.count)
        out += value.body
        return
    assert isinstance(value, tuple)
    out += encode_length(len(value))
    for item in value:
        out.append(item.type)
        _BODY_ENCODERS[item.type](item.value, out)


def _encode_nothing(value: DataValue, out: bytearray) -> None:
    return


def _encode_bool(value: DataValue, out: bytearray) -> None:
    out.append(1 if value else 0)


def _encode_bit_string(value: DataValue, out: bytearray) -> None:
    assert isinstance(value, BitString)
    out += encode_length(value.length)
    out += value.to_bytes()


def _encode_octets(value: DataValue, out: bytearray) -> None:
    assert isinstance(value, bytes)
    out += encode_length(len(value))
    out += value


def _encode_visible(value: DataValue, out: bytearray) -> None:
    assert isinstance(value, str)
    _encode_octets(value.encode("latin-1"), out)


def _encode_utf8(value: DataValue, out: bytearray) -> None:
    assert isinstance(value, str)
    _encode_octets(value.encode("utf-8"), out)


def _encode_packed(fmt: struct.Struct) -> Callable[[DataValue, bytearray], None]:
    pack = fmt.pack

    def encode_value(value: DataValue, out: bytearray) -> None:
        out += pack(value)

    return encode_value


def _encode_date_like(value: DataValue, out: bytearray) -> None:
    assert isinstance(value, CosemDateTime | CosemDate | CosemTime)
    out += value.to_bytes()


def _encode_compact(value: DataValue, out: bytearray) -> None:
    assert isinstance(value, CompactArray)
    _encode_description(value.description, out)
    contents = bytearray()
    for element in value.elements:
        _encode_untagged(value.description, element, contents)
    out += encode_length(len(contents))
    out += contents


def _encode_description(description: TypeDescription, out: bytearray) -> None:
    out.append(description.type)
    if description.type == DataType.STRUCTURE:
        out += encode_length(len(description.members))
        for member in description.members:
            _encode_description(member, out)
    elif description.type == DataType.ARRAY:
        out += _U16.pack(description.count)
        _encode_description(description.members[0], out)


def _encode_untagged(description: TypeDescription, data: Data, out: bytearray) -> None:
    """A compact-array element: the description gives tags and counts, so neither is sent."""
    if description.type == DataType.STRUCTURE:
        for member, item in zip(description.members, data.as_items(), strict=True):
            _encode_untagged(member, item, out)
    elif description.type == DataType.ARRAY:
        element = description.members[0]
        for item in data.as_items():
            _encode_untagged(element, item, out)
    else:
        _BODY_ENCODERS[data.type](data.value, out)


_BODY_ENCODERS: dict[int, Callable[[DataValue, bytearray], None]] = {
    DataType.NULL_DATA: _encode_nothing,
    DataType.DONT_CARE: _encode_nothing,
    DataType.ARRAY: _encode_items,
    DataType.STRUCTURE: _encode_items,
    DataType.BOOLEAN: _encode_bool,
    DataType.BIT_STRING: _encode_bit_string,
    DataType.OCTET_STRING: _encode_octets,
    DataType.VISIBLE_STRING: _encode_visible,
    DataType.UTF8_STRING: _encode_utf8,
    DataType.BCD: _encode_packed(struct.Struct(">B")),
    DataType.COMPACT_ARRAY: _encode_compact,
    DataType.DATE_TIME: _encode_date_like,
    DataType.DATE: _encode_date_like,
    DataType.TIME: _encode_date_like,
    **{data_type: _encode_packed(fmt) for data_type, fmt in _INTEGER_STRUCTS.items()},
    **{data_type: _encode_packed(fmt) for data_type, fmt in _FLOAT_STRUCTS.items()},
}

_TAGGED_NUMBERS: dict[int, Callable[[int, DataValue], bytes]] = {
    data_type: struct.Struct(">B" + fmt.format.lstrip(">")).pack
    for data_type, fmt in (*_INTEGER_STRUCTS.items(), *_FLOAT_STRUCTS.items())
}
"""The tag and body of a fixed-size number at once: the same octets as the tag appended and
the body encoder's pack."""

# --- decoding ------------------------------------------------------------------------------

# A body decoder reads what follows a tag and returns the Python value and the next offset.
_BodyDecoder = Callable[[bytes, int, int], tuple[DataValue, int]]


_new_object = object.__new__
_set_type = Data.__dict__["type"].__set__
_set_value = Data.__dict__["value"].__set__


def _integer(data_type: DataType, value: int) -> Data:
    low, high = _INTEGER_RANGES[data_type]
    if type(value) is int and low <= value <= high:  # _trusted, inline: every register's value
        data: Data = _new_object(Data)
        _set_type(data, data_type)
        _set_value(data, value)
        return data
    return Data(data_type, value)  # an IntEnum member, or the precise error


def _trusted(data_type: DataType, value: DataValue) -> Data:
    """A Data whose value is already known valid (decoded, or range-checked by a typed
    constructor): skipping the generic checks makes a 35,040-row profile markedly faster."""
    data: Data = _new_object(Data)
    _set_type(data, data_type)
    _set_value(data, value)
    return data


def decode(buf: bytes) -> Data:
    """Exactly one tagged value filling ``buf``; trailing octets are an error."""
    data, end = decode_prefix(buf, 0)
    if end != len(buf):
        raise AxdrError(f"{len(buf) - end} octets after the value (at offset {end})")
    return data


def decode_prefix(buf: bytes, offset: int = 0) -> tuple[Data, int]:
    """One tagged value starting at ``offset``, and the offset just after it."""
    if not isinstance(buf, bytes):
        buf = bytes(buf)
    return _decode_at(buf, offset, 0)


def _decode_at(buf: bytes, pos: int, depth: int) -> tuple[Data, int]:
    if pos >= len(buf):
        raise AxdrError(f"truncated at offset {pos}: expected a data type tag")
    tag = buf[pos]
    decoder = _BODY_DECODERS.get(tag)
    if decoder is None:
        raise AxdrError(f"unknown data type tag {tag} (0x{tag:02X}) at offset {pos}")
    value, end = decoder(buf, pos + 1, depth)
    return _trusted(_TYPES[tag], value), end


def _decode_items(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
    if depth >= MAX_DEPTH:
        raise AxdrError(f"nesting deeper than {MAX_DEPTH} at offset {pos}")
    count, pos = decode_length(buf, pos)
    if count > len(buf) - pos:  # every element needs at least its tag octet
        raise AxdrError(
            f"{count} elements announced at offset {pos}, {len(buf) - pos} octets remain"
        )
    items: list[Data] = []
    append = items.append
    size_of_buf = len(buf)
    for _ in range(count):
        # Fixed-size numbers (the bulk of a load profile) are decoded inline.
        fixed = _FIXED_SIZE.get(buf[pos]) if pos < size_of_buf else None
        if fixed is not None and pos + fixed[2] < size_of_buf:
            data_type, unpack_from, size = fixed
            data: Data = _new_object(Data)
            _set_type(data, data_type)
            _set_value(data, unpack_from(buf, pos + 1)[0])
            append(data)
            pos += 1 + size
        else:
            item, pos = _decode_at(buf, pos, depth + 1)
            append(item)
    return tuple(items), pos


def _decode_nothing(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
    return None, pos


def _decode_bool(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
    if pos >= len(buf):
        raise AxdrError(f"truncated at offset {pos}: expected a boolean")
    return buf[pos] != 0, pos + 1


def _decode_bit_string(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
    length, pos = decode_length(buf, pos)
    raw, end = _take(buf, pos, (length + 7) // 8, "bit-string")
    return BitString(int.from_bytes(raw, "big") >> (-length % 8), length), end


def _decode_octets(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
    length, pos = decode_length(buf, pos)
    return _take(buf, pos, length, "octet-string")


def _decode_visible(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
    length, pos = decode_length(buf, pos)
    raw, end = _take(buf, pos, length, "visible-string")
    return raw.decode("latin-1"), end


def _decode_utf8(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
    length, pos = decode_length(buf, pos)
    raw, end = _take(buf, pos, length, "utf8-string")
    try:
        return raw.decode("utf-8"), end
    except UnicodeDecodeError as problem:
        raise AxdrError(f"utf8-string at offset {pos} is not UTF-8: {problem.reason}") from None


def _decode_packed(fmt: struct.Struct, what: str) -> _BodyDecoder:
    size = fmt.size
    unpack_from = fmt.unpack_from

    def decode_value(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
        if pos + size > len(buf):
            raise AxdrError(f"truncated at offset {pos}: {what} needs {size} octets")
        value: int | float = unpack_from(buf, pos)[0]
        return value, pos + size

    return decode_value


def _decode_fixed(
    size: int, parse: Callable[[bytes], CosemDateTime | CosemDate | CosemTime], what: str
) -> _BodyDecoder:
    def decode_value(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
        raw, end = _take(buf, pos, size, what)
        return parse(raw), end

    return decode_value


def _decode_compact(buf: bytes, pos: int, depth: int) -> tuple[DataValue, int]:
    if depth >= MAX_DEPTH:
        raise AxdrError(f"nesting deeper than {MAX_DEPTH} at offset {pos}")
    description, pos = _decode_description(buf, pos, depth + 1)
    length, pos = decode_length(buf, pos)
    contents, end = _take(buf, pos, length, "compact-array contents")
    elements = []
    at = 0
    while at < len(contents):
        element, at = _decode_untagged(description, contents, at)
        elements.append(element)
    try:
        return CompactArray(description, tuple(elements)), end
    except ValueError as problem:  # cannot happen for decoded elements; kept for safety
        raise AxdrError(str(problem)) from None


def _decode_description(buf: bytes, pos: int, depth: int) -> tuple[TypeDescription, int]:
    if depth > MAX_DEPTH:
        raise AxdrError(f"type description nested deeper than {MAX_DEPTH} at offset {pos}")
    if pos >= len(buf):
        raise AxdrError(f"truncated at offset {pos}: expected a type description")
    tag = buf[pos]
    data_type = _TYPES.get(tag)
    if data_type is None:
        raise AxdrError(f"unknown data type tag {tag} in a type description at offset {pos}")
    pos += 1
    members: tuple[TypeDescription, ...] = ()
    count = 0
    if tag == DataType.STRUCTURE:
        size, pos = decode_length(buf, pos)
        if size > len(buf) - pos:
            raise AxdrError(f"{size} member types announced at offset {pos}, too few octets")
        found = []
        for _ in range(size):
            member, pos = _decode_description(buf, pos, depth + 1)
            found.append(member)
        members = tuple(found)
    elif tag == DataType.ARRAY:
        raw, pos = _take(buf, pos, 2, "array description count")
        count = _U16.unpack(raw)[0]
        member, pos = _decode_description(buf, pos, depth + 1)
        members = (member,)
    try:
        return TypeDescription(data_type, members, count), pos
    except ValueError as problem:
        raise AxdrError(f"type description at offset {pos}: {problem}") from None


def _decode_untagged(description: TypeDescription, buf: bytes, pos: int) -> tuple[Data, int]:
    """One compact-array element; its shape (and nesting, already bounded) comes from the
    description, and every element consumes at least one octet."""
    data_type = description.type
    if data_type == DataType.STRUCTURE:
        items = []
        for member in description.members:
            item, pos = _decode_untagged(member, buf, pos)
            items.append(item)
        return _trusted(data_type, tuple(items)), pos
    if data_type == DataType.ARRAY:
        element_type = description.members[0]
        items = []
        for _ in range(description.count):
            item, pos = _decode_untagged(element_type, buf, pos)
            items.append(item)
        return _trusted(data_type, tuple(items)), pos
    value, pos = _BODY_DECODERS[data_type](buf, pos, MAX_DEPTH)
    return _trusted(data_type, value), pos


_BODY_DECODERS: dict[int, _BodyDecoder] = {
    DataType.NULL_DATA: _decode_nothing,
    DataType.DONT_CARE: _decode_nothing,
    DataType.ARRAY: _decode_items,
    DataType.STRUCTURE: _decode_items,
    DataType.BOOLEAN: _decode_bool,
    DataType.BIT_STRING: _decode_bit_string,
    DataType.OCTET_STRING: _decode_octets,
    DataType.VISIBLE_STRING: _decode_visible,
    DataType.UTF8_STRING: _decode_utf8,
    DataType.BCD: _decode_packed(struct.Struct(">B"), "bcd"),
    DataType.COMPACT_ARRAY: _decode_compact,
    DataType.DATE_TIME: _decode_fixed(12, CosemDateTime.from_bytes, "date-time"),
    DataType.DATE: _decode_fixed(5, CosemDate.from_bytes, "date"),
    DataType.TIME: _decode_fixed(4, CosemTime.from_bytes, "time"),
    **{t: _decode_packed(fmt, _name(t)) for t, fmt in _INTEGER_STRUCTS.items()},
    **{t: _decode_packed(fmt, _name(t)) for t, fmt in _FLOAT_STRUCTS.items()},
}
_TYPES: dict[int, DataType] = {int(t): t for t in DataType}
_FIXED_SIZE: dict[int, tuple[DataType, Callable[[bytes, int], tuple[int | float]], int]] = {
    int(t): (_TYPES[t], fmt.unpack_from, fmt.size)
    for t, fmt in (_INTEGER_STRUCTS | _FLOAT_STRUCTS).items()
}
