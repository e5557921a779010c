"""Turning what a meter sends into plain Python and text, for display and JSON.

A register's value means ``raw x 10^scaler`` in the unit of its scaler_unit (dlms.md 1.4);
date-times arrive as octet-string(12) (dlms.md 1.3 note) and are shown as ISO 8601, with ``*``
for fields the meter left unspecified.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias, Union

from metertwin.codec.axdr import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    BitString,
    CompactArray,
    Data,
    DataType,
    EncodedItems,
)
from metertwin.codec.cosem_datetime import CosemDate, CosemDateTime, CosemTime
from metertwin.codec.errors import CosemDateTimeError
from metertwin.codec.units import UNIT_SYMBOLS
from metertwin.dlms.client.errors import DlmsProtocolError

__all__ = [
    "PlainValue",
    "ScalerUnit",
    "date_time_text",
    "format_value",
    "octets_text",
    "to_python",
]

PlainValue: TypeAlias = Union[bool, int, float, str, list["PlainValue"], None]  # noqa: UP007
"""What :func:`to_python` returns: JSON-ready values."""

"""Unit enum of scaler_unit (dlms.md 1.4); 255 is "count / no unit", shown as nothing."""

_SCALABLE = (INTEGER_TYPES - {DataType.ENUM, DataType.BCD}) | FLOAT_TYPES
_DATE_TIME_SIZE = 12


@dataclass(frozen=True, slots=True)
class ScalerUnit:
    """scaler_unit ``structure{integer scaler, enum unit}`` (dlms.md 1.4): raw x 10^scaler."""

    scaler: int
    unit: int

    @classmethod
    def from_data(cls, data: Data) -> ScalerUnit:
        if data.type != DataType.STRUCTURE or len(data.as_items()) != 2:
            raise DlmsProtocolError(f"scaler_unit is not a structure of two: {data!r}")
        scaler, unit = data.as_items()
        try:
            return cls(scaler.as_int(), unit.as_int())
        except TypeError:
            raise DlmsProtocolError(f"scaler_unit holds non-integers: {data!r}") from None

    @property
    def symbol(self) -> str:
        return UNIT_SYMBOLS.get(self.unit, f"unit {self.unit}")

    def apply(self, raw: int | float) -> int | float:
        """The physical value; exact for integers with a scaler >= 0, else the nearest float."""
        factor: int = 10 ** abs(self.scaler)
        if isinstance(raw, int) and self.scaler >= 0:
            return raw * factor
        if isinstance(raw, int):
            return raw / factor
        return raw * factor if self.scaler >= 0 else raw / factor

    def text(self, raw: int | float) -> str:
        """The scaled value as exact decimal text (``12345``, scaler -1 -> ``1234.5``)."""
        if isinstance(raw, int):
            return format(Decimal(raw).scaleb(self.scaler), "f")
        return repr(self.apply(raw))


def to_python(data: Data, scaler_unit: ScalerUnit | None = None) -> PlainValue:
    """``data`` as JSON-ready Python: numbers (scaled when a scaler_unit is given), strings,
    lists for arrays and structures, ISO text for date-times, hex for binary octet-strings."""
    value = data.value
    if scaler_unit is not None and data.type in _SCALABLE:
        assert isinstance(value, int | float)
        return scaler_unit.apply(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return octets_text(value)
    if isinstance(value, BitString):
        return "".join("1" if bit else "0" for bit in value.to_bools())
    if isinstance(value, tuple | CompactArray | EncodedItems):
        return [to_python(item) for item in data.as_items()]
    return date_time_text(value)


def format_value(data: Data, scaler_unit: ScalerUnit | None = None, *, unit: bool = True) -> str:
    """One line of display text for ``data``; a number with a scaler_unit is scaled exactly
    and followed by its unit (unless ``unit`` is False, e.g. for a column titled with it)."""
    value = data.value
    if scaler_unit is not None and data.type in _SCALABLE:
        assert isinstance(value, int | float)
        text = scaler_unit.text(value)
        return f"{text} {scaler_unit.symbol}" if unit and scaler_unit.symbol else text
    if value is None:
        return "null" if data.type == DataType.NULL_DATA else "dont-care"
    if isinstance(value, bool):
        return "true" if value else "false"
    if data.type == DataType.STRUCTURE:
        return "{" + ", ".join(format_value(item) for item in data.as_items()) + "}"
    if isinstance(value, tuple | CompactArray):
        return "[" + ", ".join(format_value(item) for item in data.as_items()) + "]"
    plain = to_python(data)
    return str(plain)


def octets_text(raw: bytes) -> str:
    """An octet-string for people: a date-time if it is a valid 12-octet one (dlms.md 1.3
    note), the text if it is printable ASCII (serial numbers, firmware ids), else hex."""
    if len(raw) == _DATE_TIME_SIZE:
        try:
            return date_time_text(CosemDateTime.from_bytes(raw))
        except CosemDateTimeError:
            pass
    if raw and all(0x20 <= octet < 0x7F for octet in raw):
        return raw.decode("ascii")
    return raw.hex()


def date_time_text(value: CosemDateTime | CosemDate | CosemTime) -> str:
    """ISO 8601 text; unspecified fields are ``*``, the DST and end-of-month codes are named,
    and the UTC offset (the negated deviation) is given when the meter sent one."""
    if isinstance(value, CosemDate):
        return _date_text(value.year, value.month, value.day)
    if isinstance(value, CosemTime):
        return _time_text(value.hour, value.minute, value.second, value.hundredths)
    text = _date_text(value.year, value.month, value.day) + "T"
    text += _time_text(value.hour, value.minute, value.second, value.hundredths)
    if value.deviation is not None:
        offset = -value.deviation
        sign = "-" if offset < 0 else "+"
        text += f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    return text


_MONTH_CODES = {0xFD: "dst-end", 0xFE: "dst-begin"}
_DAY_CODES = {0xFD: "second-last", 0xFE: "last"}


def _field(value: int | None, width: int, codes: dict[int, str] | None = None) -> str:
    if value is None:
        return "*" * width
    if codes and value in codes:
        return codes[value]
    return f"{value:0{width}d}"


def _date_text(year: int | None, month: int | None, day: int | None) -> str:
    return f"{_field(year, 4)}-{_field(month, 2, _MONTH_CODES)}-{_field(day, 2, _DAY_CODES)}"


def _time_text(
    hour: int | None, minute: int | None, second: int | None, hundredths: int | None
) -> str:
    text = f"{_field(hour, 2)}:{_field(minute, 2)}:{_field(second, 2)}"
    if hundredths:
        text += f".{hundredths:02d}"
    return text
