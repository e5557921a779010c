"""What a head-end needs to know about COSEM objects it did not define: the association's
object list with access rights, profile capture objects, the range selective-access
descriptor, and which attributes carry a scaler_unit.

The client reads these as plain ``Data`` and parses them here (dlms.md 2.3, 6); it knows no
server-side object model (architecture: ``dlms/`` knows no COSEM objects).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import SelectiveAccess
from metertwin.dlms.client.errors import DlmsProtocolError

__all__ = [
    "ASSOCIATION_CLASS_ID",
    "CLASS_NAMES",
    "CLOCK_TIME",
    "CURRENT_ASSOCIATION",
    "PROFILE_GENERIC_CLASS_ID",
    "AttributeAccessMode",
    "AttributeAccessRight",
    "CaptureObject",
    "MethodAccessRight",
    "ObjectListEntry",
    "class_name",
    "parse_capture_objects",
    "parse_object_list",
    "range_access",
    "scaler_unit_attribute",
]

ASSOCIATION_CLASS_ID = 15
PROFILE_GENERIC_CLASS_ID = 7
CLOCK_CLASS_ID = 8
CURRENT_ASSOCIATION = Obis(0, 0, 40, 0, 0, 255)
"""Association LN 0.0.40.0.0.255: whichever association the client is in (dlms.md 6)."""

CLASS_NAMES: dict[int, str] = {
    1: "Data",
    3: "Register",
    4: "Extended register",
    5: "Demand register",
    6: "Register activation",
    7: "Profile generic",
    8: "Clock",
    9: "Script table",
    10: "Schedule",
    11: "Special days table",
    12: "Association SN",
    15: "Association LN",
    17: "SAP assignment",
    18: "Image transfer",
    19: "IEC local port setup",
    20: "Activity calendar",
    21: "Register monitor",
    22: "Single action schedule",
    23: "IEC HDLC setup",
    40: "Push setup",
    41: "TCP-UDP setup",
    42: "IPv4 setup",
    43: "MAC address setup",
    44: "PPP setup",
    45: "GPRS modem setup",
    47: "GSM diagnostic",
    61: "Register table",
    62: "Compact data",
    63: "Status mapping",
    64: "Security setup",
    65: "Parameter monitor",
    70: "Disconnect control",
    71: "Limiter",
    72: "M-Bus client",
    100: "NTP setup",
    111: "Account",
    112: "Credit",
    113: "Charge",
    115: "Token gateway",
}
"""Interface class names (dlms.md 6); 8192 and above are manufacturer classes."""

# Which attribute holds the scaler_unit, and which attributes it scales (dlms.md 1.4, 6).
_SCALED: dict[int, tuple[int, frozenset[int]]] = {
    3: (3, frozenset({2})),  # Register: value
    4: (3, frozenset({2})),  # Extended register: value
    5: (4, frozenset({2, 3})),  # Demand register: current and last average value
}


def class_name(class_id: int) -> str:
    if class_id in CLASS_NAMES:
        return CLASS_NAMES[class_id]
    if class_id >= 8192:
        return f"manufacturer class {class_id}"
    return f"class {class_id}"


def scaler_unit_attribute(class_id: int, attribute: int) -> int | None:
    """The attribute holding the scaler_unit that applies to ``attribute`` of ``class_id``, or
    None when that attribute is not scaled (Register/Extended register value by attribute 3,
    Demand register averages by attribute 4; dlms.md 6)."""
    scaled = _SCALED.get(class_id)
    if scaled is None or attribute not in scaled[1]:
        return None
    return scaled[0]


class AttributeAccessMode(IntEnum):
    """attribute access_mode of Association LN versions 0-2 (dlms.md 6, class 15)."""

    NO_ACCESS = 0
    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_AND_WRITE = 3
    AUTHENTICATED_READ_ONLY = 4
    AUTHENTICATED_WRITE_ONLY = 5
    AUTHENTICATED_READ_AND_WRITE = 6


_READABLE = frozenset({1, 3, 4, 6})
_WRITABLE = frozenset({2, 3, 5, 6})
# Association LN version 3 sends bit-mapped access modes: bit 0 read, bit 1 write (dlms.md 6).
_BIT_READ, _BIT_WRITE = 0x01, 0x02


@dataclass(frozen=True, slots=True)
class AttributeAccessRight:
    """One attribute_access element of an object_list entry.

    ``selectors`` are the selective-access selectors the attribute supports (None when the
    meter sent null-data).
    """

    attribute: int
    access_mode: int
    selectors: tuple[int, ...] | None = None
    bit_mapped: bool = False

    @property
    def readable(self) -> bool:
        if self.bit_mapped:
            return bool(self.access_mode & _BIT_READ)
        return self.access_mode in _READABLE

    @property
    def writable(self) -> bool:
        if self.bit_mapped:
            return bool(self.access_mode & _BIT_WRITE)
        return self.access_mode in _WRITABLE

    @property
    def access_name(self) -> str:
        if not self.bit_mapped and self.access_mode in _MODE_VALUES:
            return AttributeAccessMode(self.access_mode).name.lower().replace("_", "-")
        return f"0x{self.access_mode:02X}"


_MODE_VALUES = frozenset(int(mode) for mode in AttributeAccessMode)


@dataclass(frozen=True, slots=True)
class MethodAccessRight:
    """One method_access element: 0 no access, 1 access, 2 authenticated access (a boolean in
    Association LN version 0 is read as 0/1)."""

    method: int
    access_mode: int

    @property
    def allowed(self) -> bool:
        return self.access_mode != 0


@dataclass(frozen=True, slots=True)
class ObjectListEntry:
    """One object_list element of Association LN attribute 2 (dlms.md 6)."""

    class_id: int
    version: int
    logical_name: Obis
    attributes: tuple[AttributeAccessRight, ...] = ()
    methods: tuple[MethodAccessRight, ...] = ()

    @property
    def class_name(self) -> str:
        return class_name(self.class_id)

    def attribute(self, attribute: int) -> AttributeAccessRight | None:
        for right in self.attributes:
            if right.attribute == attribute:
                return right
        return None

    def readable_attributes(self) -> list[int]:
        return [right.attribute for right in self.attributes if right.readable]


@dataclass(frozen=True, slots=True)
class CaptureObject:
    """capture_object_definition (dlms.md 2.3): what one profile column holds."""

    class_id: int
    logical_name: Obis
    attribute: int
    data_index: int = 0

    def to_data(self) -> Data:
        return Data.structure(
            (
                Data.long_unsigned(self.class_id),
                Data.octet_string(bytes(self.logical_name)),
                Data.integer(self.attribute),
                Data.long_unsigned(self.data_index),
            )
        )

    def __str__(self) -> str:
        text = f"{self.logical_name}:{self.attribute}"
        return f"{text}[{self.data_index}]" if self.data_index else text


CLOCK_TIME = CaptureObject(CLOCK_CLASS_ID, Obis(0, 0, 1, 0, 0, 255), 2)
"""Clock time, the restricting object of a range read (dlms.md 2.3)."""


def range_access(
    start: datetime | CosemDateTime,
    end: datetime | CosemDateTime,
    restricting: CaptureObject = CLOCK_TIME,
    columns: Sequence[CaptureObject] = (),
) -> SelectiveAccess:
    """Selector 1, range_descriptor (dlms.md 2.3): rows whose ``restricting`` value lies from
    ``start`` to ``end``; ``columns`` empty = every column.

    A naive ``datetime`` is sent with the deviation "not specified" (the meter's local time);
    an aware one carries its deviation. Both go as octet-string(12), as meters expect.
    """
    return SelectiveAccess(
        1,
        Data.structure(
            (
                restricting.to_data(),
                Data.octet_string(_date_time(start).to_bytes()),
                Data.octet_string(_date_time(end).to_bytes()),
                Data.array(column.to_data() for column in columns),
            )
        ),
    )


def _date_time(moment: datetime | CosemDateTime) -> CosemDateTime:
    if isinstance(moment, CosemDateTime):
        return moment
    return CosemDateTime.from_datetime(moment)


# --- parsing -------------------------------------------------------------------------------


def _fail(what: str, data: Data) -> DlmsProtocolError:
    shown = repr(data.value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return DlmsProtocolError(f"{what}: unexpected {data.type.name.lower()} {shown}")


def _items(data: Data, size: int | None, what: str) -> tuple[Data, ...]:
    if data.type not in (DataType.ARRAY, DataType.STRUCTURE, DataType.COMPACT_ARRAY):
        raise _fail(what, data)
    items = data.as_items()
    if size is not None and len(items) != size:
        raise DlmsProtocolError(f"{what}: {len(items)} elements, expected {size}")
    return items


def _int(data: Data, what: str) -> int:
    if data.type == DataType.BOOLEAN:
        return int(data.as_bool())
    try:
        return data.as_int()
    except TypeError:
        raise _fail(what, data) from None


def _obis(data: Data, what: str) -> Obis:
    if data.type != DataType.OCTET_STRING or len(data.as_bytes()) != 6:
        raise _fail(what, data)
    return Obis.from_bytes(data.as_bytes())


def _selectors(data: Data, what: str) -> tuple[int, ...] | None:
    if data.type == DataType.NULL_DATA:
        return None
    return tuple(_int(item, what) for item in _items(data, None, what))


def parse_object_list(data: Data) -> list[ObjectListEntry]:
    """Association LN attribute 2: array of {class_id, version, logical_name, access_rights}.

    Access modes are read as the enum of Association LN versions 0-2, unless the list shows
    class 15 objects only of version 3 or later, whose modes are bit-mapped (dlms.md 6).
    """
    raw_entries = []
    for index, entry in enumerate(_items(data, None, "object_list")):
        where = f"object_list entry {index}"
        class_id, version, name, rights = _items(entry, 4, where)
        attributes, methods = _items(rights, 2, f"{where} access_rights")
        raw_entries.append(
            (
                _int(class_id, f"{where} class_id"),
                _int(version, f"{where} version"),
                _obis(name, f"{where} logical_name"),
                attributes,
                methods,
                where,
            )
        )
    association_versions = {
        version for class_id, version, *_ in raw_entries if class_id == ASSOCIATION_CLASS_ID
    }
    bit_mapped = bool(association_versions) and min(association_versions) >= 3
    return [
        ObjectListEntry(
            class_id=class_id,
            version=version,
            logical_name=name,
            attributes=tuple(
                _attribute_right(item, bit_mapped, f"{where} attribute_access")
                for item in _items(attributes, None, f"{where} attribute_access")
            ),
            methods=tuple(
                _method_right(item, f"{where} method_access")
                for item in _items(methods, None, f"{where} method_access")
            ),
        )
        for class_id, version, name, attributes, methods, where in raw_entries
    ]


def _attribute_right(data: Data, bit_mapped: bool, what: str) -> AttributeAccessRight:
    attribute, mode, selectors = _items(data, 3, what)
    return AttributeAccessRight(
        attribute=_int(attribute, f"{what} attribute_id"),
        access_mode=_int(mode, f"{what} access_mode"),
        selectors=_selectors(selectors, f"{what} access_selectors"),
        bit_mapped=bit_mapped,
    )


def _method_right(data: Data, what: str) -> MethodAccessRight:
    method, mode = _items(data, 2, what)
    return MethodAccessRight(_int(method, f"{what} method_id"), _int(mode, f"{what} access_mode"))


def parse_capture_objects(data: Data) -> list[CaptureObject]:
    """Profile generic attribute 3: array of capture_object_definition (dlms.md 2.3, 6)."""
    found = []
    for index, item in enumerate(_items(data, None, "capture_objects")):
        where = f"capture object {index}"
        class_id, name, attribute, data_index = _items(item, 4, where)
        found.append(
            CaptureObject(
                _int(class_id, f"{where} class_id"),
                _obis(name, f"{where} logical_name"),
                _int(attribute, f"{where} attribute_index"),
                _int(data_index, f"{where} data_index"),
            )
        )
    return found
