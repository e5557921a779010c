"""Building blocks shared by the xDLMS service APDUs (dlms.md 2.2-2.4): invoke-id-and-priority,
attribute and method descriptors, selective access, data blocks and Get-Data-Result."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from metertwin.codec.axdr import Data, encode, encode_length
from metertwin.codec.enums import ActionResult, DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.reader import AxdrReader

__all__ = [
    "ActionOutcome",
    "AttributeDescriptor",
    "AttributeWithSelection",
    "DataBlock",
    "GetDataResult",
    "InvokeIdAndPriority",
    "LongInvokeIdAndPriority",
    "MethodDescriptor",
    "SelectiveAccess",
    "check_range",
]

GetDataResult = Data | DataAccessResult
"""Get-Data-Result: the value, or why there is none (``00 <Data>`` / ``01 <DAR>``)."""

_DESCRIPTOR = struct.Struct(">H6sb")
_U32 = struct.Struct(">I")


def check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} {value} is outside {low}..{high}")


@dataclass(frozen=True, slots=True)
class InvokeIdAndPriority:
    """Invoke-Id-And-Priority (1 octet, dlms.md 2.2): bit 7 high priority, bit 6 confirmed,
    bits 3-0 invoke id. ``C1`` = id 1, confirmed, high priority. The server echoes it.

    The reserved bits 5-4 are ignored on decode.
    """

    invoke_id: int = 1
    confirmed: bool = True
    high_priority: bool = True
    octet: int = field(init=False, repr=False, compare=False)  # the encoded octet, kept

    def __post_init__(self) -> None:
        check_range("invoke id", self.invoke_id, 0, 15)
        octet = (self.high_priority << 7) | (self.confirmed << 6) | self.invoke_id
        object.__setattr__(self, "octet", octet)

    def to_byte(self) -> int:
        return self.octet

    @classmethod
    def from_byte(cls, value: int) -> InvokeIdAndPriority:
        return _INVOKE_BY_BYTE[value]

    @classmethod
    def read(cls, reader: AxdrReader) -> InvokeIdAndPriority:
        return _INVOKE_BY_BYTE[reader.u8("invoke-id-and-priority")]


# All 256 octets map onto 64 shared immutable values: decoding one is a table lookup.
_INVOKE_BY_BYTE = [
    InvokeIdAndPriority(octet & 0x0F, bool(octet & 0x40), bool(octet & 0x80))
    for octet in range(256)
]


@dataclass(frozen=True, slots=True)
class LongInvokeIdAndPriority:
    """Long-Invoke-Id-And-Priority (4 octets, dlms.md 2.2) of Data-Notification: bits 0-23 id,
    28 self-descriptive, 29 processing option (break on error), 30 confirmed, 31 high priority.
    Reserved bits 24-27 are ignored on decode."""

    invoke_id: int
    self_descriptive: bool = False
    break_on_error: bool = False
    confirmed: bool = False
    high_priority: bool = False

    def __post_init__(self) -> None:
        check_range("long invoke id", self.invoke_id, 0, 0xFFFFFF)

    def to_int(self) -> int:
        return (
            self.invoke_id
            | self.self_descriptive << 28
            | self.break_on_error << 29
            | self.confirmed << 30
            | self.high_priority << 31
        )

    @classmethod
    def from_int(cls, value: int) -> LongInvokeIdAndPriority:
        return cls(
            value & 0xFFFFFF,
            bool(value >> 28 & 1),
            bool(value >> 29 & 1),
            bool(value >> 30 & 1),
            bool(value >> 31 & 1),
        )


@dataclass(frozen=True, slots=True)
class AttributeDescriptor:
    """Cosem-Attribute-Descriptor (dlms.md 2.3): class id u16, logical name, attribute id.

    The attribute id is an Integer8: negative ids are manufacturer-specific attributes.
    """

    class_id: int
    instance: Obis
    attribute_id: int

    def __post_init__(self) -> None:
        check_range("class id", self.class_id, 0, 0xFFFF)
        check_range("attribute id", self.attribute_id, -128, 127)

    def to_bytes(self) -> bytes:
        return _DESCRIPTOR.pack(self.class_id, bytes(self.instance), self.attribute_id)

    @classmethod
    def read(cls, reader: AxdrReader) -> AttributeDescriptor:
        class_id, name, attribute_id = _DESCRIPTOR.unpack(reader.take(9, "attribute descriptor"))
        return cls(class_id, Obis.from_bytes(name), attribute_id)


@dataclass(frozen=True, slots=True)
class MethodDescriptor:
    """Cosem-Method-Descriptor (dlms.md 2.3): class id u16, logical name, method id (Integer8)."""

    class_id: int
    instance: Obis
    method_id: int

    def __post_init__(self) -> None:
        check_range("class id", self.class_id, 0, 0xFFFF)
        check_range("method id", self.method_id, -128, 127)

    def to_bytes(self) -> bytes:
        return _DESCRIPTOR.pack(self.class_id, bytes(self.instance), self.method_id)

    @classmethod
    def read(cls, reader: AxdrReader) -> MethodDescriptor:
        class_id, name, method_id = _DESCRIPTOR.unpack(reader.take(9, "method descriptor"))
        return cls(class_id, Obis.from_bytes(name), method_id)


@dataclass(frozen=True, slots=True)
class SelectiveAccess:
    """Selective-Access-Descriptor (dlms.md 2.3): selector 1 = range, 2 = entry, parameters."""

    selector: int
    parameters: Data

    def __post_init__(self) -> None:
        check_range("access selector", self.selector, 0, 0xFF)

    @staticmethod
    def encode_optional(access: SelectiveAccess | None) -> bytes:
        """The OPTIONAL access-selection: ``00``, or ``01 <selector> <parameters>``."""
        if access is None:
            return b"\x00"
        return bytes((1, access.selector)) + encode(access.parameters)

    @classmethod
    def read_optional(cls, reader: AxdrReader) -> SelectiveAccess | None:
        if not reader.flag("access-selection flag"):
            return None
        return cls(reader.u8("access selector"), reader.data())


@dataclass(frozen=True, slots=True)
class AttributeWithSelection:
    """Cosem-Attribute-Descriptor-With-Selection: one entry of a with-list request."""

    attribute: AttributeDescriptor
    access: SelectiveAccess | None = None

    def to_bytes(self) -> bytes:
        return self.attribute.to_bytes() + SelectiveAccess.encode_optional(self.access)

    @classmethod
    def read(cls, reader: AxdrReader) -> AttributeWithSelection:
        return cls(AttributeDescriptor.read(reader), SelectiveAccess.read_optional(reader))


@dataclass(frozen=True, slots=True)
class DataBlock:
    """DataBlock-SA (dlms.md 2.4): one block of a long SET or ACTION parameter."""

    last_block: bool
    block_number: int
    raw_data: bytes

    def __post_init__(self) -> None:
        check_range("block number", self.block_number, 0, 0xFFFFFFFF)

    def to_bytes(self) -> bytes:
        return (
            bytes((self.last_block,))
            + _U32.pack(self.block_number)
            + encode_length(len(self.raw_data))
            + self.raw_data
        )

    @classmethod
    def read(cls, reader: AxdrReader) -> DataBlock:
        last_block = reader.boolean("last-block")
        block_number = reader.u32("block-number")
        return cls(last_block, block_number, reader.octet_string("raw-data"))


def encode_get_data_result(result: GetDataResult) -> bytes:
    if isinstance(result, DataAccessResult):
        return bytes((1, result))
    return b"\x00" + encode(result)


def read_get_data_result(reader: AxdrReader) -> GetDataResult:
    if reader.flag("Get-Data-Result choice"):
        return reader.enum(DataAccessResult, "data-access-result")
    return reader.data()


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """Action-Response-With-Optional-Data: a result and, optionally, return parameters."""

    result: ActionResult
    return_parameters: GetDataResult | None = None

    def to_bytes(self) -> bytes:
        if self.return_parameters is None:
            return bytes((self.result, 0))
        return bytes((self.result, 1)) + encode_get_data_result(self.return_parameters)

    @classmethod
    def read(cls, reader: AxdrReader) -> ActionOutcome:
        result = reader.enum(ActionResult, "action-result")
        parameters = read_get_data_result(reader) if reader.flag("return-parameters flag") else None
        return cls(result, parameters)
