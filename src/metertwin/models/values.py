"""Conversions between the meter core's values and DLMS data, used by the binder.

Date-times follow reference/dlms.md 1.3: local wall time, deviation = UTC - local in
minutes, clock status with the DST bit.
"""

from __future__ import annotations

import dataclasses
import struct
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.cosem_datetime import ClockStatus, CosemDateTime
from metertwin.codec.obis import Obis
from metertwin.cosem.errors import type_unmatched
from metertwin.meter.clock import Clock
from metertwin.meter.registers import Energy


class Unit(IntEnum):
    """DLMS unit codes (reference/dlms.md 1.4)."""

    DEGREE = 8
    CELSIUS = 9
    SECOND = 7
    WATT = 27
    VOLT_AMPERE = 28
    VAR = 29
    WATT_HOUR = 30
    VOLT_AMPERE_HOUR = 31
    VAR_HOUR = 32
    AMPERE = 33
    VOLT = 35
    HERTZ = 44
    PER_WATT_HOUR = 45  # 1/(Wh): an active energy meter constant
    PERCENT = 56
    CURRENCY = 10
    COUNT = 255


def scaler_unit(scaler: int, unit: Unit) -> Data:
    return Data.structure([Data.integer(scaler), Data.enum(int(unit))])


def logical_name(obis: Obis) -> Data:
    return Data.octet_string(bytes(obis))


def energy_unit(quantity: Energy) -> Unit:
    if quantity in (Energy.IMPORT_APPARENT, Energy.EXPORT_APPARENT):
        return Unit.VOLT_AMPERE_HOUR
    if Energy.IMPORT_REACTIVE <= quantity <= Energy.REACTIVE_Q4:
        return Unit.VAR_HOUR
    return Unit.WATT_HOUR


def cosem_datetime(clock: Clock, meter_ms: int) -> CosemDateTime:
    """The meter's clock reading ``meter_ms`` as a DLMS date-time (local, with deviation)."""
    offset_ms = clock.utc_offset_ms(meter_ms)
    wall = datetime(1970, 1, 1) + timedelta(milliseconds=meter_ms + offset_ms)
    status = ClockStatus(int(clock.status(meter_ms)))
    return CosemDateTime(
        year=wall.year,
        month=wall.month,
        day=wall.day,
        weekday=wall.isoweekday(),
        hour=wall.hour,
        minute=wall.minute,
        second=wall.second,
        hundredths=wall.microsecond // 10_000,
        deviation=-(offset_ms // 60_000),
        clock_status=status,
    )


def date_time_bytes(clock: Clock, meter_ms: int) -> bytes:
    """The 12 bytes of a DLMS date-time for the meter's clock reading ``meter_ms``: the
    same value as ``cosem_datetime(...).to_bytes()``, built directly (profile buffers
    hold one per row)."""
    offset_ms = clock.utc_offset_ms(meter_ms)
    wall = datetime.fromtimestamp((meter_ms + offset_ms) / 1000, UTC)
    return _DATE_TIME.pack(
        wall.year,
        wall.month,
        wall.day,
        wall.isoweekday(),
        wall.hour,
        wall.minute,
        wall.second,
        wall.microsecond // 10_000,
        -(offset_ms // 60_000),
        int(clock.status(meter_ms)),
    )


_DATE_TIME = struct.Struct(">HBBBBBBBhB")
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)


def date_time_data(clock: Clock, meter_ms: int | None) -> Data:
    """A date-time attribute as octet-string(12); an absent time is all 'not specified'."""
    if meter_ms is None:
        return Data.octet_string(CosemDateTime().to_bytes())
    return Data.octet_string(date_time_bytes(clock, meter_ms))


def meter_ms_from(data: Data, clock: Clock) -> int:
    """A date-time written by a client, as meter UTC ms. Without a deviation the time is
    the meter's local wall time (as many head-ends send it). Any year 1..9999 converts
    (a range read may ask from year 1 to 9999); whether the clock may be set to the instant
    is the clock's to decide."""
    raw = _octets(data, 12)
    try:
        stamp = CosemDateTime.from_bytes(raw)
        wall = (
            dataclasses.replace(stamp, weekday=None, deviation=0, clock_status=None)
            .to_datetime()
            .replace(tzinfo=None)
        )
    except ValueError as exc:  # CosemDateTimeError included
        raise type_unmatched(f"not a usable date-time: {exc}") from None
    if stamp.deviation is None:
        return clock.meter_ms_for_local(wall)
    return (wall - _EPOCH) // _MS + stamp.deviation * 60_000  # deviation = UTC - local


def _octets(data: Data, length: int | None = None) -> bytes:
    if data.type is not DataType.OCTET_STRING:
        raise type_unmatched(f"expected an octet-string, got {data.type.name}")
    raw = data.as_bytes()
    if length is not None and len(raw) != length:
        raise type_unmatched(f"expected {length} bytes, got {len(raw)}")
    return raw


def octets(data: Data, length: int | None = None) -> bytes:
    return _octets(data, length)


def integer(data: Data, *types: DataType) -> int:
    if data.type not in types:
        names = ", ".join(t.name for t in types)
        raise type_unmatched(f"expected {names}, got {data.type.name}")
    return data.as_int()


def same_shape(expected: Data, given: Data) -> bool:
    """True if ``given`` has the types of ``expected`` (arrays may differ in length, their
    elements must match the first element of ``expected`` when there is one)."""
    if expected.type is not given.type:
        return False
    if expected.type is DataType.STRUCTURE:
        a, b = expected.as_items(), given.as_items()
        return len(a) == len(b) and all(same_shape(x, y) for x, y in zip(a, b, strict=True))
    if expected.type is DataType.ARRAY:
        template = expected.as_items()
        if not template:
            return True
        return all(same_shape(template[0], item) for item in given.as_items())
    return True


def items(data: Data, width: int | None = None) -> tuple[Data, ...]:
    """The elements of an array or structure a client sent, optionally exactly ``width``."""
    if data.type not in (DataType.ARRAY, DataType.STRUCTURE):
        raise type_unmatched(f"expected an array or structure, got {data.type.name}")
    elements = data.as_items()
    if width is not None and len(elements) != width:
        raise type_unmatched(f"expected {width} elements, got {len(elements)}")
    return elements
