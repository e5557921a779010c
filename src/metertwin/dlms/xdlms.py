"""xDLMS service APDUs with logical-name referencing: GET, SET, ACTION (dlms.md 2.4).

Each class is one CHOICE of its service: ``TAG`` and ``CHOICE`` are its first two octets,
``encode()`` gives the whole APDU, and ``decode_body`` reads what follows the CHOICE octet
(``metertwin.dlms.apdu.decode_apdu`` dispatches). Field names follow the Green Book ASN.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from metertwin.codec.axdr import Data, encode, encode_length
from metertwin.codec.enums import ActionResult, DataAccessResult
from metertwin.codec.reader import AxdrReader, encode_items
from metertwin.codec.xdlms_types import (
    ActionOutcome,
    AttributeDescriptor,
    AttributeWithSelection,
    DataBlock,
    GetDataResult,
    InvokeIdAndPriority,
    MethodDescriptor,
    SelectiveAccess,
    check_range,
    encode_get_data_result,
    read_get_data_result,
)

__all__ = [
    "ActionRequestNextPblock",
    "ActionRequestNormal",
    "ActionRequestWithFirstPblock",
    "ActionRequestWithList",
    "ActionRequestWithListAndFirstPblock",
    "ActionRequestWithPblock",
    "ActionResponseNextPblock",
    "ActionResponseNormal",
    "ActionResponseWithList",
    "ActionResponseWithPblock",
    "GetRequestNext",
    "GetRequestNormal",
    "GetRequestWithList",
    "GetResponseNormal",
    "GetResponseWithDatablock",
    "GetResponseWithList",
    "SetRequestNormal",
    "SetRequestWithDatablock",
    "SetRequestWithFirstDatablock",
    "SetRequestWithList",
    "SetRequestWithListAndFirstDatablock",
    "SetResponseDatablock",
    "SetResponseLastDatablock",
    "SetResponseLastDatablockWithList",
    "SetResponseNormal",
    "SetResponseWithList",
]

_GET_REQUEST, _SET_REQUEST, _ACTION_REQUEST = 0xC0, 0xC1, 0xC3
_GET_RESPONSE, _SET_RESPONSE, _ACTION_RESPONSE = 0xC4, 0xC5, 0xC7
_U32_MAX = 0xFFFFFFFF
_DESCRIPTOR_SIZE = 9  # class id, logical name, attribute/method id


def _head(tag: int, choice: int, invoke: InvokeIdAndPriority) -> bytes:
    return bytes((tag, choice, invoke.to_byte()))


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def _encode_values(values: tuple[Data, ...]) -> bytes:
    return encode_items([encode(value) for value in values])


def _read_values(reader: AxdrReader, what: str) -> tuple[Data, ...]:
    return tuple(reader.data() for _ in range(reader.count(what)))


def _read_selections(reader: AxdrReader) -> tuple[AttributeWithSelection, ...]:
    count = reader.count("attribute descriptors", _DESCRIPTOR_SIZE + 1)
    return tuple(AttributeWithSelection.read(reader) for _ in range(count))


def _read_methods(reader: AxdrReader) -> tuple[MethodDescriptor, ...]:
    count = reader.count("method descriptors", _DESCRIPTOR_SIZE)
    return tuple(MethodDescriptor.read(reader) for _ in range(count))


def _read_results(reader: AxdrReader) -> tuple[DataAccessResult, ...]:
    count = reader.count("data-access-results")
    return tuple(reader.enum(DataAccessResult, "data-access-result") for _ in range(count))


# --- GET -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRequestNormal:
    """get-request-normal ``C0 01``: one attribute, optionally with selective access."""

    TAG: ClassVar[int] = _GET_REQUEST
    CHOICE: ClassVar[int] = 1

    invoke: InvokeIdAndPriority
    attribute: AttributeDescriptor
    access: SelectiveAccess | None = None

    def encode(self) -> bytes:
        return (
            _head(_GET_REQUEST, 1, self.invoke)
            + self.attribute.to_bytes()
            + SelectiveAccess.encode_optional(self.access)
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> GetRequestNormal:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            attribute=AttributeDescriptor.read(reader),
            access=SelectiveAccess.read_optional(reader),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRequestNext:
    """get-request-next ``C0 02``: asks for the block after ``block_number`` of a long GET."""

    TAG: ClassVar[int] = _GET_REQUEST
    CHOICE: ClassVar[int] = 2

    invoke: InvokeIdAndPriority
    block_number: int

    def __post_init__(self) -> None:
        check_range("block number", self.block_number, 0, _U32_MAX)

    def encode(self) -> bytes:
        return _head(_GET_REQUEST, 2, self.invoke) + _u32(self.block_number)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> GetRequestNext:
        return cls(invoke=InvokeIdAndPriority.read(reader), block_number=reader.u32("block"))


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRequestWithList:
    """get-request-with-list ``C0 03``: several attributes in one request."""

    TAG: ClassVar[int] = _GET_REQUEST
    CHOICE: ClassVar[int] = 3

    invoke: InvokeIdAndPriority
    attributes: tuple[AttributeWithSelection, ...]

    def encode(self) -> bytes:
        items = [item.to_bytes() for item in self.attributes]
        return _head(_GET_REQUEST, 3, self.invoke) + encode_items(items)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> GetRequestWithList:
        return cls(invoke=InvokeIdAndPriority.read(reader), attributes=_read_selections(reader))


@dataclass(frozen=True, slots=True, kw_only=True)
class GetResponseNormal:
    """get-response-normal ``C4 01``: the value, or the data-access-result refusing it."""

    TAG: ClassVar[int] = _GET_RESPONSE
    CHOICE: ClassVar[int] = 1

    invoke: InvokeIdAndPriority
    result: GetDataResult

    def encode(self) -> bytes:
        return _head(_GET_RESPONSE, 1, self.invoke) + encode_get_data_result(self.result)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> GetResponseNormal:
        return cls(invoke=InvokeIdAndPriority.read(reader), result=read_get_data_result(reader))


@dataclass(frozen=True, slots=True, kw_only=True)
class GetResponseWithDatablock:
    """get-response-with-datablock ``C4 02`` (DataBlock-G): raw octets of the encoded value,
    or a data-access-result ending the transfer (dlms.md 2.4)."""

    TAG: ClassVar[int] = _GET_RESPONSE
    CHOICE: ClassVar[int] = 2

    invoke: InvokeIdAndPriority
    last_block: bool
    block_number: int
    result: bytes | DataAccessResult

    def __post_init__(self) -> None:
        check_range("block number", self.block_number, 0, _U32_MAX)

    def encode(self) -> bytes:
        head = _head(_GET_RESPONSE, 2, self.invoke) + bytes((self.last_block,))
        head += _u32(self.block_number)
        if isinstance(self.result, DataAccessResult):
            return head + bytes((1, self.result))
        return head + b"\x00" + encode_length(len(self.result)) + self.result

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> GetResponseWithDatablock:
        invoke = InvokeIdAndPriority.read(reader)
        last_block = reader.boolean("last-block")
        block_number = reader.u32("block-number")
        result: bytes | DataAccessResult
        if reader.flag("DataBlock-G result choice"):
            result = reader.enum(DataAccessResult, "data-access-result")
        else:
            result = reader.octet_string("raw-data")
        return cls(invoke=invoke, last_block=last_block, block_number=block_number, result=result)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetResponseWithList:
    """get-response-with-list ``C4 03``: one Get-Data-Result per requested attribute."""

    TAG: ClassVar[int] = _GET_RESPONSE
    CHOICE: ClassVar[int] = 3

    invoke: InvokeIdAndPriority
    results: tuple[GetDataResult, ...]

    def encode(self) -> bytes:
        items = [encode_get_data_result(result) for result in self.results]
        return _head(_GET_RESPONSE, 3, self.invoke) + encode_items(items)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> GetResponseWithList:
        invoke = InvokeIdAndPriority.read(reader)
        count = reader.count("Get-Data-Results", 2)
        return cls(invoke=invoke, results=tuple(read_get_data_result(reader) for _ in range(count)))


# --- SET -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestNormal:
    """set-request-normal ``C1 01``: attribute, optional selective access, new value."""

    TAG: ClassVar[int] = _SET_REQUEST
    CHOICE: ClassVar[int] = 1

    invoke: InvokeIdAndPriority
    attribute: AttributeDescriptor
    access: SelectiveAccess | None = None
    value: Data

    def encode(self) -> bytes:
        return (
            _head(_SET_REQUEST, 1, self.invoke)
            + self.attribute.to_bytes()
            + SelectiveAccess.encode_optional(self.access)
            + encode(self.value)
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetRequestNormal:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            attribute=AttributeDescriptor.read(reader),
            access=SelectiveAccess.read_optional(reader),
            value=reader.data(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestWithFirstDatablock:
    """set-request-with-first-datablock ``C1 02``: a long value's first block."""

    TAG: ClassVar[int] = _SET_REQUEST
    CHOICE: ClassVar[int] = 2

    invoke: InvokeIdAndPriority
    attribute: AttributeDescriptor
    access: SelectiveAccess | None = None
    block: DataBlock

    def encode(self) -> bytes:
        return (
            _head(_SET_REQUEST, 2, self.invoke)
            + self.attribute.to_bytes()
            + SelectiveAccess.encode_optional(self.access)
            + self.block.to_bytes()
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetRequestWithFirstDatablock:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            attribute=AttributeDescriptor.read(reader),
            access=SelectiveAccess.read_optional(reader),
            block=DataBlock.read(reader),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestWithDatablock:
    """set-request-with-datablock ``C1 03``: a following block of a long SET."""

    TAG: ClassVar[int] = _SET_REQUEST
    CHOICE: ClassVar[int] = 3

    invoke: InvokeIdAndPriority
    block: DataBlock

    def encode(self) -> bytes:
        return _head(_SET_REQUEST, 3, self.invoke) + self.block.to_bytes()

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetRequestWithDatablock:
        return cls(invoke=InvokeIdAndPriority.read(reader), block=DataBlock.read(reader))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestWithList:
    """set-request-with-list ``C1 04``: descriptors, then the values in the same order.

    The counts are not forced equal here: a mismatch is the service layer's refusal to make.
    """

    TAG: ClassVar[int] = _SET_REQUEST
    CHOICE: ClassVar[int] = 4

    invoke: InvokeIdAndPriority
    attributes: tuple[AttributeWithSelection, ...]
    values: tuple[Data, ...]

    def encode(self) -> bytes:
        return (
            _head(_SET_REQUEST, 4, self.invoke)
            + encode_items([item.to_bytes() for item in self.attributes])
            + _encode_values(self.values)
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetRequestWithList:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            attributes=_read_selections(reader),
            values=_read_values(reader, "values"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestWithListAndFirstDatablock:
    """set-request-with-list-and-first-datablock ``C1 05``: descriptors, then the first block
    of the encoded values."""

    TAG: ClassVar[int] = _SET_REQUEST
    CHOICE: ClassVar[int] = 5

    invoke: InvokeIdAndPriority
    attributes: tuple[AttributeWithSelection, ...]
    block: DataBlock

    def encode(self) -> bytes:
        return (
            _head(_SET_REQUEST, 5, self.invoke)
            + encode_items([item.to_bytes() for item in self.attributes])
            + self.block.to_bytes()
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetRequestWithListAndFirstDatablock:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            attributes=_read_selections(reader),
            block=DataBlock.read(reader),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseNormal:
    """set-response-normal ``C5 01``: the data-access-result of the SET."""

    TAG: ClassVar[int] = _SET_RESPONSE
    CHOICE: ClassVar[int] = 1

    invoke: InvokeIdAndPriority
    result: DataAccessResult

    def encode(self) -> bytes:
        return _head(_SET_RESPONSE, 1, self.invoke) + bytes((self.result,))

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetResponseNormal:
        invoke = InvokeIdAndPriority.read(reader)
        return cls(invoke=invoke, result=reader.enum(DataAccessResult, "data-access-result"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseDatablock:
    """set-response-datablock ``C5 02``: block ``block_number`` received, send the next."""

    TAG: ClassVar[int] = _SET_RESPONSE
    CHOICE: ClassVar[int] = 2

    invoke: InvokeIdAndPriority
    block_number: int

    def __post_init__(self) -> None:
        check_range("block number", self.block_number, 0, _U32_MAX)

    def encode(self) -> bytes:
        return _head(_SET_RESPONSE, 2, self.invoke) + _u32(self.block_number)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetResponseDatablock:
        return cls(invoke=InvokeIdAndPriority.read(reader), block_number=reader.u32("block"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseLastDatablock:
    """set-response-last-datablock ``C5 03``: the result after the last block."""

    TAG: ClassVar[int] = _SET_RESPONSE
    CHOICE: ClassVar[int] = 3

    invoke: InvokeIdAndPriority
    result: DataAccessResult
    block_number: int

    def __post_init__(self) -> None:
        check_range("block number", self.block_number, 0, _U32_MAX)

    def encode(self) -> bytes:
        head = _head(_SET_RESPONSE, 3, self.invoke)
        return head + bytes((self.result,)) + _u32(self.block_number)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetResponseLastDatablock:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            result=reader.enum(DataAccessResult, "data-access-result"),
            block_number=reader.u32("block-number"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseLastDatablockWithList:
    """set-response-last-datablock-with-list ``C5 04``: one result per attribute, block."""

    TAG: ClassVar[int] = _SET_RESPONSE
    CHOICE: ClassVar[int] = 4

    invoke: InvokeIdAndPriority
    results: tuple[DataAccessResult, ...]
    block_number: int

    def __post_init__(self) -> None:
        check_range("block number", self.block_number, 0, _U32_MAX)

    def encode(self) -> bytes:
        results = encode_length(len(self.results)) + bytes(self.results)
        return _head(_SET_RESPONSE, 4, self.invoke) + results + _u32(self.block_number)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetResponseLastDatablockWithList:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            results=_read_results(reader),
            block_number=reader.u32("block-number"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseWithList:
    """set-response-with-list ``C5 05``: one data-access-result per attribute."""

    TAG: ClassVar[int] = _SET_RESPONSE
    CHOICE: ClassVar[int] = 5

    invoke: InvokeIdAndPriority
    results: tuple[DataAccessResult, ...]

    def encode(self) -> bytes:
        results = encode_length(len(self.results)) + bytes(self.results)
        return _head(_SET_RESPONSE, 5, self.invoke) + results

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> SetResponseWithList:
        return cls(invoke=InvokeIdAndPriority.read(reader), results=_read_results(reader))


# --- ACTION --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestNormal:
    """action-request-normal ``C3 01``: method and optional invocation parameters."""

    TAG: ClassVar[int] = _ACTION_REQUEST
    CHOICE: ClassVar[int] = 1

    invoke: InvokeIdAndPriority
    method: MethodDescriptor
    parameters: Data | None = None

    def encode(self) -> bytes:
        head = _head(_ACTION_REQUEST, 1, self.invoke) + self.method.to_bytes()
        if self.parameters is None:
            return head + b"\x00"
        return head + b"\x01" + encode(self.parameters)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionRequestNormal:
        invoke = InvokeIdAndPriority.read(reader)
        method = MethodDescriptor.read(reader)
        parameters = reader.data() if reader.flag("method-invocation-parameters flag") else None
        return cls(invoke=invoke, method=method, parameters=parameters)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestNextPblock:
    """action-request-next-pblock ``C3 02``: asks for the next block of long return data."""

    TAG: ClassVar[int] = _ACTION_REQUEST
    CHOICE: ClassVar[int] = 2

    invoke: InvokeIdAndPriority
    block_number: int

    def __post_init__(self) -> None:
        check_range("block number", self.block_number, 0, _U32_MAX)

    def encode(self) -> bytes:
        return _head(_ACTION_REQUEST, 2, self.invoke) + _u32(self.block_number)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionRequestNextPblock:
        return cls(invoke=InvokeIdAndPriority.read(reader), block_number=reader.u32("block"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestWithList:
    """action-request-with-list ``C3 03``: methods, then one parameter Data per method."""

    TAG: ClassVar[int] = _ACTION_REQUEST
    CHOICE: ClassVar[int] = 3

    invoke: InvokeIdAndPriority
    methods: tuple[MethodDescriptor, ...]
    parameters: tuple[Data, ...]

    def encode(self) -> bytes:
        return (
            _head(_ACTION_REQUEST, 3, self.invoke)
            + encode_items([method.to_bytes() for method in self.methods])
            + _encode_values(self.parameters)
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionRequestWithList:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            methods=_read_methods(reader),
            parameters=_read_values(reader, "method-invocation-parameters"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestWithFirstPblock:
    """action-request-with-first-pblock ``C3 04``: a long parameter's first block."""

    TAG: ClassVar[int] = _ACTION_REQUEST
    CHOICE: ClassVar[int] = 4

    invoke: InvokeIdAndPriority
    method: MethodDescriptor
    block: DataBlock

    def encode(self) -> bytes:
        head = _head(_ACTION_REQUEST, 4, self.invoke)
        return head + self.method.to_bytes() + self.block.to_bytes()

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionRequestWithFirstPblock:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            method=MethodDescriptor.read(reader),
            block=DataBlock.read(reader),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestWithListAndFirstPblock:
    """action-request-with-list-and-first-pblock ``C3 05``."""

    TAG: ClassVar[int] = _ACTION_REQUEST
    CHOICE: ClassVar[int] = 5

    invoke: InvokeIdAndPriority
    methods: tuple[MethodDescriptor, ...]
    block: DataBlock

    def encode(self) -> bytes:
        return (
            _head(_ACTION_REQUEST, 5, self.invoke)
            + encode_items([method.to_bytes() for method in self.methods])
            + self.block.to_bytes()
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionRequestWithListAndFirstPblock:
        return cls(
            invoke=InvokeIdAndPriority.read(reader),
            methods=_read_methods(reader),
            block=DataBlock.read(reader),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestWithPblock:
    """action-request-with-pblock ``C3 06``: a following parameter block."""

    TAG: ClassVar[int] = _ACTION_REQUEST
    CHOICE: ClassVar[int] = 6

    invoke: InvokeIdAndPriority
    block: DataBlock

    def encode(self) -> bytes:
        return _head(_ACTION_REQUEST, 6, self.invoke) + self.block.to_bytes()

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionRequestWithPblock:
        return cls(invoke=InvokeIdAndPriority.read(reader), block=DataBlock.read(reader))


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResponseNormal:
    """action-response-normal ``C7 01``: result, then optional return parameters
    (``C701C10000`` = success, nothing returned; dlms.md 5)."""

    TAG: ClassVar[int] = _ACTION_RESPONSE
    CHOICE: ClassVar[int] = 1

    invoke: InvokeIdAndPriority
    result: ActionResult
    return_parameters: GetDataResult | None = None

    def encode(self) -> bytes:
        outcome = ActionOutcome(self.result, self.return_parameters)
        return _head(_ACTION_RESPONSE, 1, self.invoke) + outcome.to_bytes()

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionResponseNormal:
        invoke = InvokeIdAndPriority.read(reader)
        outcome = ActionOutcome.read(reader)
        return cls(
            invoke=invoke, result=outcome.result, return_parameters=outcome.return_parameters
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResponseWithPblock:
    """action-response-with-pblock ``C7 02``: one block of long return data."""

    TAG: ClassVar[int] = _ACTION_RESPONSE
    CHOICE: ClassVar[int] = 2

    invoke: InvokeIdAndPriority
    block: DataBlock

    def encode(self) -> bytes:
        return _head(_ACTION_RESPONSE, 2, self.invoke) + self.block.to_bytes()

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionResponseWithPblock:
        return cls(invoke=InvokeIdAndPriority.read(reader), block=DataBlock.read(reader))


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResponseWithList:
    """action-response-with-list ``C7 03``: one outcome per method."""

    TAG: ClassVar[int] = _ACTION_RESPONSE
    CHOICE: ClassVar[int] = 3

    invoke: InvokeIdAndPriority
    results: tuple[ActionOutcome, ...]

    def encode(self) -> bytes:
        items = [outcome.to_bytes() for outcome in self.results]
        return _head(_ACTION_RESPONSE, 3, self.invoke) + encode_items(items)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionResponseWithList:
        invoke = InvokeIdAndPriority.read(reader)
        count = reader.count("action results", 2)
        return cls(invoke=invoke, results=tuple(ActionOutcome.read(reader) for _ in range(count)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResponseNextPblock:
    """action-response-next-pblock ``C7 04``: parameter block received, send the next."""

    TAG: ClassVar[int] = _ACTION_RESPONSE
    CHOICE: ClassVar[int] = 4

    invoke: InvokeIdAndPriority
    block_number: int

    def __post_init__(self) -> None:
        check_range("block number", self.block_number, 0, _U32_MAX)

    def encode(self) -> bytes:
        return _head(_ACTION_RESPONSE, 4, self.invoke) + _u32(self.block_number)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ActionResponseNextPblock:
        return cls(invoke=InvokeIdAndPriority.read(reader), block_number=reader.u32("block"))
