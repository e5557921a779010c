"""What a user types for a SET or an ACTION, turned into the :class:`Data` the meter expects.

Sans-IO: the caller reads the attribute first and passes its current value as ``like``; the
text is read as a value of the same type and shape, so ``230`` becomes a long-unsigned where
the attribute is one, an ISO date-time an octet-string(12) date-time where the attribute is a
clock time (dlms.md 1.3 note), and JSON a structure or array (element by element, each like the
current element at its place). Literals, by the type of ``like``:

- integers and enum: ``230``, ``-5``, ``0x1F``; boolean: ``true``/``false`` (or ``1``/``0``);
  floats: ``1.5``, ``inf``; bit-string: ``0101``;
- octet-string: an ISO date-time where it holds one (``2026-12-02T10:00:00``, meter local time,
  or with a UTC offset); hex octets (``0x0102``, or without ``0x`` where the current value is
  binary); an OBIS code where it holds a logical name (``1.0.1.7.0.255``); otherwise its text;
- visible- and utf8-string: the text; date, time, date-time (tags 25-27): ISO text;
- any value: typed JSON ``{"long-unsigned": 5}``, ``{"structure": [{"enum": 1}, ...]}``, for an
  attribute that cannot be read (write-only) or reads null-data, and for a method parameter of
  a type this module does not know.

A text that cannot be read as the type raises :class:`ValueInputError`, whose message names the
problem. :func:`value_text` is the inverse (``parse_value(value_text(d), d) == d``).

Method parameters (/work/shared/reference/dlms.md, per class): :func:`method_parameter` gives
the template of the methods whose parameter the Blue Book fixes, and the ``integer(0)`` that
parameterless methods (resets, remote_disconnect, remote_reconnect, ...) are sent.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from datetime import date, datetime, time
from typing import TypeAlias, TypeVar, Union

from metertwin.codec.axdr import FLOAT_TYPES, INTEGER_TYPES, MAX_DEPTH, BitString, Data, DataType
from metertwin.codec.cosem_datetime import CosemDate, CosemDateTime, CosemTime
from metertwin.codec.obis import Obis

__all__ = [
    "INTEGER_ZERO",
    "ValueInputError",
    "method_parameter",
    "parse_typed",
    "parse_value",
    "typed_json",
    "value_text",
]

T = TypeVar("T")
DateOrTime = TypeVar("DateOrTime", CosemDate, CosemTime)

Json: TypeAlias = Union[bool, int, float, str, list["Json"], dict[str, "Json"], None]  # noqa: UP007

INTEGER_ZERO = Data.integer(0)
"""The parameter of methods that take none: ``data ::= integer(0)`` (Blue Book)."""

_DATE_TIME_SIZE = 12
_OBIS_SIZE = 6
_HEX_PREFIX = ("0x", "0X")
_INTEGERS = INTEGER_TYPES
_FLOATS = FLOAT_TYPES
_STRINGS = frozenset({DataType.VISIBLE_STRING, DataType.UTF8_STRING})
_EMPTY = frozenset({DataType.NULL_DATA, DataType.DONT_CARE})
_COLLECTIONS = frozenset({DataType.STRUCTURE, DataType.ARRAY})

# (class id, method) -> the parameter's template; /work/shared/reference/dlms.md per class.
_METHOD_PARAMETERS: dict[tuple[int, int], Data] = {
    **dict.fromkeys(
        [
            (3, 1),  # register reset
            (4, 1),  # extended register reset
            (5, 1),  # demand register reset
            (5, 2),  # next_period
            (7, 1),  # profile reset
            (7, 2),  # capture
            (8, 1),  # adjust_to_quarter
            (8, 2),  # adjust_to_measuring_period
            (8, 3),  # adjust_to_minute
            (8, 4),  # adjust_to_preset_time
            (20, 1),  # activate_passive_calendar
            (70, 1),  # remote_disconnect
            (70, 2),  # remote_reconnect
            (111, 1),  # activate_account
            (111, 2),  # close_account
            (111, 3),  # reset_account
        ],
        INTEGER_ZERO,
    ),
    (8, 6): Data.long(0),  # shift_time, seconds
    (9, 1): Data.long_unsigned(0),  # execute(script_identifier)
    (11, 2): Data.long_unsigned(0),  # delete(index)
    (112, 1): Data.double_long(0),  # update_amount
    (112, 2): Data.double_long(0),  # set_amount_to_value
    (115, 1): Data.octet_string(b""),  # enter(token)
}


class ValueInputError(ValueError):
    """The text cannot be read as a value of the type the meter expects; says why."""


def method_parameter(class_id: int, method: int) -> Data | None:
    """The template of a method's parameter (``INTEGER_ZERO`` for the parameterless ones),
    or None when this module does not know the method."""
    return _METHOD_PARAMETERS.get((class_id, method))


def type_name(data_type: DataType) -> str:
    """The Blue Book spelling: ``long-unsigned``."""
    return data_type.name.lower().replace("_", "-")


# --- text -> Data ----------------------------------------------------------------------------


def parse_value(text: str, like: Data) -> Data:
    """``text`` as a value of the type and shape of ``like`` (the attribute's current value)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return parse_typed(stripped)
    if like.type in _COLLECTIONS:
        return _from_json(
            _load_json(stripped, f"JSON ({_kind(like)} is given as a JSON array)"), like
        )
    if like.type in _STRINGS or like.type == DataType.OCTET_STRING:
        if text.startswith('"'):
            quoted = _load_json(text, "a JSON string")
            if not isinstance(quoted, str):
                raise ValueInputError(f"expected a JSON string, got {text!r}")
            text = quoted
        return _from_literal(text, like)
    return _from_literal(stripped, like)


def parse_typed(text: str) -> Data:
    """Typed JSON: ``{"long-unsigned": 5}``, ``{"array": [{"unsigned": 1}]}``."""
    return _typed(_load_json(text, 'typed JSON such as {"long-unsigned": 5}'))


def _load_json(text: str, expected: str) -> Json:
    try:
        value: Json = json.loads(text)
    except ValueError:
        raise ValueInputError(f"not {expected}: {text!r}") from None
    except RecursionError:
        raise ValueInputError(f"not {expected}: nested too deep") from None
    _check_depth(value)
    return value


MAX_JSON_DEPTH = 2 * MAX_DEPTH + 1
"""Typed JSON takes two levels (object, list) per level of data, which A-XDR bounds at
``MAX_DEPTH``: anything deeper no meter would decode, and the conversions recurse."""


def _check_depth(value: Json) -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH` before anything recurses on it."""
    level: list[Json] = [value]
    for _ in range(MAX_JSON_DEPTH + 1):
        level = [
            child
            for item in level
            if isinstance(item, list | dict)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return
    raise ValueInputError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def _kind(like: Data) -> str:
    """``an array``, ``a long-unsigned``: the type with its article, for messages."""
    name = type_name(like.type)
    return ("an " if name[0] in "aeio" or name == "unsigned" else "a ") + name


def _from_json(value: Json, like: Data) -> Data:
    if isinstance(value, dict):
        return _typed(value)
    if like.type == DataType.STRUCTURE:
        members = like.as_items()
        if not isinstance(value, list) or len(value) != len(members):
            raise ValueInputError(
                f"expected a JSON array of {len(members)} elements for the structure, got "
                f"{json.dumps(value)}"
            )
        return Data.structure(_from_json(v, m) for v, m in zip(value, members, strict=True))
    if like.type == DataType.ARRAY:
        if not isinstance(value, list):
            raise ValueInputError(f"expected a JSON array, got {json.dumps(value)}")
        elements = like.as_items()
        if value and not elements:
            raise ValueInputError(
                "the array is empty now, so its element type is unknown: give the elements "
                'typed, e.g. [{"long-unsigned": 1}]'
            )
        return Data.array(
            _from_json(item, elements[min(index, len(elements) - 1)])
            for index, item in enumerate(value)
        )
    if isinstance(value, list):
        raise ValueInputError(f"expected {_kind(like)}, got the array {json.dumps(value)}")
    if value is None:
        if like.type in _EMPTY:
            return Data(like.type)
        raise ValueInputError(f"expected {_kind(like)}, got null")
    if isinstance(value, bool):
        if like.type == DataType.BOOLEAN:
            return Data.boolean(value)
        raise ValueInputError(f"expected {_kind(like)}, got {json.dumps(value)}")
    if isinstance(value, int | float) and like.type in _INTEGERS | _FLOATS:
        return _number(value, like.type)
    if isinstance(value, int) and like.type == DataType.BOOLEAN and value in (0, 1):
        return Data.boolean(bool(value))
    if isinstance(value, int | float):
        raise ValueInputError(f"expected {_kind(like)}, got the number {json.dumps(value)}")
    return _from_literal(value, like)


def _number(value: float, data_type: DataType) -> Data:
    if data_type in _FLOATS:
        return _build(data_type, float(value), repr(value))
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueInputError(f"expected an integer for {type_name(data_type)}, got {value}")
        value = int(value)
    return _build(data_type, value, str(value))


def _build(data_type: DataType, value: object, shown: str) -> Data:
    """``Data(data_type, value)``; its range check becomes a message naming the type."""
    if isinstance(value, float) and math.isnan(value):
        raise ValueInputError(f"{shown}: NaN is not a value a meter can be set to")
    try:
        return Data(data_type, value)  # type: ignore[arg-type]
    except ValueError as problem:  # out of range: axdr names the range
        raise ValueInputError(str(problem)) from None
    except TypeError as problem:
        raise ValueInputError(f"{shown} does not fit {type_name(data_type)}: {problem}") from None


def _from_literal(text: str, like: Data) -> Data:
    data_type = like.type
    parse = _LITERALS.get(data_type)
    if parse is not None:
        return parse(text, data_type)
    if data_type == DataType.OCTET_STRING:
        return Data.octet_string(_octets(text, like.as_bytes()))
    if data_type in _EMPTY:
        if text in ("null", type_name(data_type)):
            return Data(data_type)
        raise ValueInputError(
            f"the value reads {type_name(data_type)}, so its type is unknown: give it typed, "
            f'e.g. {{"long-unsigned": {json.dumps(text)}}}'
        )
    if data_type == DataType.COMPACT_ARRAY:
        raise ValueInputError("a compact-array cannot be written from the command line")
    raise ValueInputError(f"expected JSON for a {type_name(data_type)}, got {text!r}")


def _integer(text: str, data_type: DataType) -> Data:
    try:
        value = int(text[2:], 16) if text.startswith(_HEX_PREFIX) else int(text, 10)
    except ValueError:
        raise ValueInputError(
            f"expected an integer for {type_name(data_type)}, got {text!r}"
        ) from None
    return _build(data_type, value, text)


def _float(text: str, data_type: DataType) -> Data:
    try:
        value = float(text)
    except ValueError:
        raise ValueInputError(
            f"expected a number for {type_name(data_type)}, got {text!r}"
        ) from None
    if math.isnan(value):
        raise ValueInputError(f"{text!r}: NaN is not a value a meter can be set to")
    return _build(data_type, value, text)


def _boolean(text: str, data_type: DataType) -> Data:
    words = {"true": True, "1": True, "false": False, "0": False}
    if text.lower() not in words:
        raise ValueInputError(f"expected true or false for a boolean, got {text!r}")
    return Data.boolean(words[text.lower()])


def _bit_string(text: str, data_type: DataType) -> Data:
    if any(ch not in "01" for ch in text):
        raise ValueInputError(f"expected a bit-string of 0 and 1, got {text!r}")
    return Data.bit_string(BitString(int(text or "0", 2), len(text)))


def _string(text: str, data_type: DataType) -> Data:
    return _build(data_type, text, repr(text))


def _date_time(text: str, data_type: DataType) -> Data:
    return Data.date_time(_date_time_value(text))


def _date(text: str, data_type: DataType) -> Data:
    if text.startswith(_HEX_PREFIX):
        return Data.date(_from_hex(text, CosemDate.from_bytes, "date"))
    try:
        return Data.date(CosemDate.from_date(date.fromisoformat(text)))
    except ValueError:
        raise ValueInputError(f"not an ISO date: {text!r} (e.g. 2026-12-02)") from None


def _time(text: str, data_type: DataType) -> Data:
    if text.startswith(_HEX_PREFIX):
        return Data.time(_from_hex(text, CosemTime.from_bytes, "time"))
    try:
        return Data.time(CosemTime.from_time(time.fromisoformat(text)))
    except ValueError:
        raise ValueInputError(f"not an ISO time: {text!r} (e.g. 10:00:00)") from None


_LITERALS: dict[DataType, Callable[[str, DataType], Data]] = {
    **dict.fromkeys(_INTEGERS, _integer),
    **dict.fromkeys(_FLOATS, _float),
    **dict.fromkeys(_STRINGS, _string),
    DataType.BOOLEAN: _boolean,
    DataType.BIT_STRING: _bit_string,
    DataType.DATE_TIME: _date_time,
    DataType.DATE: _date,
    DataType.TIME: _time,
}


def _from_hex(text: str, decode: Callable[[bytes], T], what: str) -> T:
    try:
        return decode(_hex(text[2:]))
    except ValueError as problem:  # CosemDateTimeError is one
        raise ValueInputError(f"{text!r} is not a {what}: {problem}") from None


def _date_time_value(text: str) -> CosemDateTime:
    """An ISO date-time; without a UTC offset the deviation is left unspecified: the meter's
    local wall time, as a head-end usually sends it (dlms.md 1.3)."""
    if text.startswith(_HEX_PREFIX):
        return _from_hex(text, CosemDateTime.from_bytes, "date-time")
    try:
        return CosemDateTime.from_datetime(datetime.fromisoformat(text))
    except ValueError as problem:
        why = "" if str(problem).startswith("Invalid isoformat") else f": {problem}"
        raise ValueInputError(
            f"not an ISO date-time: {text!r}{why} (e.g. 2026-12-02T10:00:00, the meter's local "
            "time, or 2026-12-02T10:00:00+03:00)"
        ) from None


def _hex(digits: str) -> bytes:
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ValueInputError(f"not hex octets: {digits!r} (e.g. 0x0102ff)") from None


def _is_date_time(raw: bytes) -> bool:
    if len(raw) != _DATE_TIME_SIZE:
        return False
    try:
        CosemDateTime.from_bytes(raw)
    except ValueError:
        return False
    return True


def _is_text(raw: bytes) -> bool:
    return all(0x20 <= octet < 0x7F for octet in raw)


def _octets(text: str, current: bytes) -> bytes:
    """An octet-string read as the current value is meant: date-time, binary or text."""
    if text.startswith(_HEX_PREFIX):
        return _hex(text[2:])
    if _is_date_time(current):
        return _date_time_value(text).to_bytes()
    if _is_text(current):
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueInputError(
                f"{text!r} has characters beyond U+00FF: give the octets as hex (0x...)"
            ) from None
    if len(current) == _OBIS_SIZE:
        try:
            return bytes(Obis.parse(text))
        except ValueError:
            pass
    try:
        return bytes.fromhex(text)
    except ValueError:
        expected = "an OBIS code or hex octets" if len(current) == _OBIS_SIZE else "hex octets"
        raise ValueInputError(
            f"expected {expected} (e.g. 0x{current.hex()}), got {text!r}"
        ) from None


_TYPED_TEMPLATES: dict[DataType, Data] = {
    **{t: Data(t, 0) for t in _INTEGERS},
    **{t: Data(t, 0.0) for t in _FLOATS},
    **{t: Data(t, "") for t in _STRINGS},
    DataType.BOOLEAN: Data.boolean(False),
    DataType.BIT_STRING: Data.bit_string(BitString(0, 0)),
    DataType.OCTET_STRING: Data.octet_string(b""),
    DataType.DATE_TIME: Data.date_time(CosemDateTime()),
    DataType.DATE: Data.date(CosemDate()),
    DataType.TIME: Data.time(CosemTime()),
    DataType.NULL_DATA: Data.null(),
    DataType.DONT_CARE: Data.dont_care(),
}
_TYPE_NAMES = {type_name(t): t for t in DataType}


def _typed(value: Json) -> Data:
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueInputError(
            f'typed JSON is one {{"TYPE": VALUE}}, e.g. {{"long-unsigned": 5}}; '
            f"got {json.dumps(value)}"
        )
    ((name, inner),) = value.items()
    data_type = _TYPE_NAMES.get(name)
    if data_type is None or data_type == DataType.COMPACT_ARRAY:
        known = ", ".join(n for n in _TYPE_NAMES if n != "compact-array")
        raise ValueInputError(f"{name!r} is not a DLMS data type ({known})")
    if data_type in _COLLECTIONS:
        if not isinstance(inner, list):
            raise ValueInputError(f'"{name}" takes a JSON array of typed elements')
        return Data(data_type, tuple(_typed(item) for item in inner))
    template = _TYPED_TEMPLATES[data_type]
    if data_type == DataType.OCTET_STRING and isinstance(inner, str):
        return Data.octet_string(_octets(inner, b""))
    return _from_json(inner, template)


# --- Data -> text ----------------------------------------------------------------------------


def value_text(data: Data) -> str:
    """The text :func:`parse_value` reads back as ``data`` (given ``data`` as the template)."""
    if data.type in _COLLECTIONS:
        return json.dumps(_to_json(data), ensure_ascii=False)
    plain = _to_json(data)
    if isinstance(plain, str):
        if data.type in _STRINGS or data.type == DataType.OCTET_STRING:
            needs_quotes = plain.startswith('"') or plain.lstrip().startswith("{")
            return json.dumps(plain, ensure_ascii=False) if needs_quotes else plain
        return plain
    return json.dumps(plain)


def _to_json(data: Data) -> Json:
    value = data.value
    if data.type in _COLLECTIONS:
        return [_to_json(item) for item in data.as_items()]
    if data.type == DataType.COMPACT_ARRAY:
        raise ValueInputError("a compact-array has no command-line form")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, BitString):
        return "".join("1" if bit else "0" for bit in value.to_bools())
    if isinstance(value, bytes):
        return _octets_text(value)
    if isinstance(value, CosemDateTime):
        return _date_time_text(value)
    if isinstance(value, CosemDate):
        iso = _exact(value, lambda d: CosemDate.from_date(d.to_date()).to_date().isoformat())
        return iso or "0x" + value.to_bytes().hex()
    if isinstance(value, CosemTime):
        iso = _exact(value, lambda t: CosemTime.from_time(t.to_time()).to_time().isoformat())
        return iso or "0x" + value.to_bytes().hex()
    raise ValueInputError(f"{type_name(data.type)} has no command-line form")


def _exact(value: DateOrTime, iso: Callable[[DateOrTime], str]) -> str | None:
    """The ISO text of ``value`` when reading it back gives ``value`` itself, else None."""
    try:
        text = iso(value)
    except ValueError:
        return None
    parsed: CosemDate | CosemTime
    if isinstance(value, CosemDate):
        parsed = CosemDate.from_date(date.fromisoformat(text))
    else:
        parsed = CosemTime.from_time(time.fromisoformat(text))
    return text if parsed == value else None


def _date_time_text(value: CosemDateTime) -> str:
    """ISO when that reads back as this very date-time, else its 12 octets in hex."""
    try:
        moment = value.to_datetime() if value.deviation is not None else _naive(value)
        text = moment.isoformat()
        if CosemDateTime.from_datetime(datetime.fromisoformat(text)) == value:
            return text
    except ValueError:
        pass
    return "0x" + value.to_bytes().hex()


def _naive(value: CosemDateTime) -> datetime:
    return dataclasses.replace(value, deviation=0).to_datetime().replace(tzinfo=None)


def _octets_text(raw: bytes) -> str:
    if _is_date_time(raw):
        return _date_time_text(CosemDateTime.from_bytes(raw))
    if _is_text(raw) and not raw.startswith((b"0x", b"0X")):
        return raw.decode("ascii")
    return "0x" + raw.hex()


def typed_json(data: Data) -> str:
    """``data`` as typed JSON, which :func:`parse_typed` reads back without a template."""
    return json.dumps(_typed_json(data), ensure_ascii=False)


def _typed_json(data: Data) -> Json:
    name = type_name(data.type)
    if data.type in _COLLECTIONS:
        return {name: [_typed_json(item) for item in data.as_items()]}
    if data.type == DataType.OCTET_STRING:
        raw = data.as_bytes()
        text = raw.decode("ascii") if _is_text(raw) and not raw.startswith((b"0x", b"0X")) else ""
        return {name: text or "0x" + raw.hex()}
    return {name: _to_json(data)}
