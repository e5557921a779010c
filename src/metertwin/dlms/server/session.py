"""xDLMS services of one accepted association (dlms.md 2.4, 4): GET, SET and ACTION with their
with-list and block-transfer forms, sans-IO.

An :class:`AssociationSession` is created by :class:`~metertwin.dlms.server.ServerConnection`
when an AARQ is accepted; it turns each decoded request into the response octets, asking the
:class:`~metertwin.cosem.backend.DeviceBackend` for values. It holds at most one long transfer
(a GET answered in blocks, a SET or ACTION whose data arrive in blocks, an ACTION whose return
data leave in blocks); any request that does not continue it abandons it, as the Green Book
allows one block transfer per association at a time.

Block transfer, as this server does it:

- GET: when ``C4 01 ...`` would exceed the client's max receive PDU size, the encoded Data
  (normal) or the SEQUENCE OF Get-Data-Result (with-list) is cut into get-response-with-datablock
  blocks numbered from 1, each as large as the client's PDU size allows (dlms.md 5, datablock
  sequence). get-request-next must name the last block sent: anything else ends the transfer
  with data-block-number-invalid; get-request-next without a transfer gets
  no-long-get-in-progress.
- SET: DataBlock-SA blocks numbered from 1 are acknowledged with set-response-datablock; after
  the last, the assembled octets are decoded as one Data (normal) or a SEQUENCE OF Data
  (with-list) and written. A wrong block number ends the transfer with
  data-block-number-invalid, a block without a transfer gets no-long-set-in-progress.
- ACTION: parameter blocks are acknowledged with action-response-next-pblock and assembled
  like SET. Return data too long for one PDU leave in action-response-with-pblock blocks whose
  raw data is the encoded Action-Response-With-Optional-Data (normal) or the SEQUENCE OF them
  (with-list): DataBlock-SA has no result CHOICE, so the result travels inside the raw data.
  Errors end the transfer with long-action-aborted or no-long-action-in-progress (Action-Result
  has no data-block-number-invalid).

Every response fits the client's max receive PDU size; when even a refusal cannot, the
connection answers exception-response pdu-too-long (its one exit, ``connection.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeGuard

from metertwin.codec.axdr import Data, decode, encode, encode_length
from metertwin.codec.enums import (
    ActionResult,
    Conformance,
    DataAccessResult,
    ServiceError,
    StateError,
)
from metertwin.codec.errors import DlmsDecodeError
from metertwin.codec.reader import AxdrReader
from metertwin.codec.xdlms_types import encode_get_data_result
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.backend import DeviceBackend, PlainReaders
from metertwin.cosem.errors import CosemError
from metertwin.dlms.apdu import (
    ActionOutcome,
    ActionRequestNextPblock,
    ActionRequestNormal,
    ActionRequestWithFirstPblock,
    ActionRequestWithList,
    ActionRequestWithListAndFirstPblock,
    ActionRequestWithPblock,
    ActionResponseNextPblock,
    ActionResponseNormal,
    ActionResponseWithList,
    ActionResponseWithPblock,
    AttributeDescriptor,
    AttributeWithSelection,
    DataBlock,
    ExceptionResponse,
    GetDataResult,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseWithDatablock,
    InvokeIdAndPriority,
    MethodDescriptor,
    SelectiveAccess,
    SetRequestNormal,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetRequestWithList,
    SetRequestWithListAndFirstDatablock,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseLastDatablockWithList,
    SetResponseNormal,
    SetResponseWithList,
)

__all__ = [
    "INTERNAL_FAULT",
    "MALFORMED",
    "NOT_ASSOCIATED",
    "NOT_NEGOTIATED",
    "PDU_TOO_LONG",
    "UNKNOWN_SERVICE",
    "AssociationSession",
    "Request",
    "block_room",
    "is_request",
    "is_unconfirmed",
]

_log = logging.getLogger(__name__)

Request = (
    GetRequestNormal
    | GetRequestNext
    | GetRequestWithList
    | SetRequestNormal
    | SetRequestWithFirstDatablock
    | SetRequestWithDatablock
    | SetRequestWithList
    | SetRequestWithListAndFirstDatablock
    | ActionRequestNormal
    | ActionRequestNextPblock
    | ActionRequestWithList
    | ActionRequestWithFirstPblock
    | ActionRequestWithListAndFirstPblock
    | ActionRequestWithPblock
)
"""The xDLMS requests a client sends inside an association."""

_REQUEST_TYPES: tuple[type, ...] = (
    GetRequestNormal,
    GetRequestNext,
    GetRequestWithList,
    SetRequestNormal,
    SetRequestWithFirstDatablock,
    SetRequestWithDatablock,
    SetRequestWithList,
    SetRequestWithListAndFirstDatablock,
    ActionRequestNormal,
    ActionRequestNextPblock,
    ActionRequestWithList,
    ActionRequestWithFirstPblock,
    ActionRequestWithListAndFirstPblock,
    ActionRequestWithPblock,
)

# Plain ints: IntFlag arithmetic costs microseconds on the path of every request.
_GET, _SET, _ACTION = int(Conformance.GET), int(Conformance.SET), int(Conformance.ACTION)
_LIST = int(Conformance.MULTIPLE_REFERENCES)
_BLOCK_GET = int(Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ)
_BLOCK_SET = int(Conformance.BLOCK_TRANSFER_WITH_SET_OR_WRITE)
_BLOCK_ACTION = int(Conformance.BLOCK_TRANSFER_WITH_ACTION)
_SELECTIVE_ACCESS = int(Conformance.SELECTIVE_ACCESS)

# The conformance bits a request needs in the negotiated block (dlms.md 3.3); selective access
# is checked separately, on the requests that carry one.
_REQUIRED: dict[type, int] = {
    GetRequestNormal: _GET,
    GetRequestNext: _GET | _BLOCK_GET,
    GetRequestWithList: _GET | _LIST,
    SetRequestNormal: _SET,
    SetRequestWithFirstDatablock: _SET | _BLOCK_SET,
    SetRequestWithDatablock: _SET | _BLOCK_SET,
    SetRequestWithList: _SET | _LIST,
    SetRequestWithListAndFirstDatablock: _SET | _LIST | _BLOCK_SET,
    ActionRequestNormal: _ACTION,
    ActionRequestNextPblock: _ACTION | _BLOCK_ACTION,
    ActionRequestWithList: _ACTION | _LIST,
    ActionRequestWithFirstPblock: _ACTION | _BLOCK_ACTION,
    ActionRequestWithListAndFirstPblock: _ACTION | _LIST | _BLOCK_ACTION,
    ActionRequestWithPblock: _ACTION | _BLOCK_ACTION,
}


def _exception(state: StateError, service: ServiceError) -> bytes:
    return ExceptionResponse(state, service).encode()


# The exception-responses of this server (dlms.md 4); why each is chosen: ``connection.py``.
NOT_ASSOCIATED = _exception(StateError.SERVICE_NOT_ALLOWED, ServiceError.OPERATION_NOT_POSSIBLE)
NOT_NEGOTIATED = _exception(StateError.SERVICE_NOT_ALLOWED, ServiceError.SERVICE_NOT_SUPPORTED)
UNKNOWN_SERVICE = _exception(StateError.SERVICE_UNKNOWN, ServiceError.SERVICE_NOT_SUPPORTED)
MALFORMED = _exception(StateError.SERVICE_UNKNOWN, ServiceError.OTHER_REASON)
PDU_TOO_LONG = _exception(StateError.SERVICE_NOT_ALLOWED, ServiceError.PDU_TOO_LONG)
INTERNAL_FAULT = _exception(StateError.SERVICE_NOT_ALLOWED, ServiceError.OTHER_REASON)

_GET_RESPONSE_HEADS = tuple(bytes((0xC4, 0x01, iip, 0x00)) for iip in range(256))
"""get-response-normal with data, by invoke-id-and-priority octet."""

# Fixed octets before the raw data of one block (tag, CHOICE, invoke-id-and-priority, then):
# get-response-with-datablock: last-block, block-number u32, raw-data CHOICE;
# action-response-with-pblock: last-block, block-number u32.
_GET_BLOCK_HEAD = 9
_ACTION_BLOCK_HEAD = 8
_FIRST_BLOCK = 1


def block_room(limit: int, head: int) -> int:
    """The most raw octets one block can carry when the whole APDU (``head`` fixed octets, the
    A-XDR length of the raw data, the raw data) must fit in ``limit`` octets."""
    room = limit - head - 1
    while room > 0 and head + len(encode_length(room)) + room > limit:
        room -= 1
    return max(room, 0)


def _read_refusal(attribute: AttributeDescriptor, problem: Exception) -> DataAccessResult:
    """The data-access-result for a backend read that raised ``problem``: a CosemError's
    own (success is no refusal: other-reason), any other failure a logged hardware fault."""
    if isinstance(problem, CosemError):
        if problem.result == DataAccessResult.SUCCESS:
            return DataAccessResult.OTHER_REASON
        return problem.result
    _log.error("backend get %s failed", attribute, exc_info=problem)
    return DataAccessResult.HARDWARE_FAULT


def _not_data(attribute: AttributeDescriptor, value: object) -> DataAccessResult:
    """A backend read that returned something other than Data: a logged hardware fault."""
    _log.error("backend get %s returned %r, not Data", attribute, type(value))
    return DataAccessResult.HARDWARE_FAULT


@dataclass(slots=True)
class _OutgoingBlocks:
    """Octets leaving in blocks: a long GET (``is_get``) or long ACTION return data."""

    raw: bytes
    is_get: bool
    offset: int = 0
    block_number: int = 0  # the last block sent


@dataclass(slots=True)
class _IncomingBlocks:
    """A SET's values or an ACTION's parameters arriving in blocks.

    ``attributes`` is set for SET, ``methods`` for ACTION; ``is_list`` says whether the raw
    data is one Data or a SEQUENCE OF Data.
    """

    is_list: bool
    attributes: tuple[AttributeWithSelection, ...] = ()
    methods: tuple[MethodDescriptor, ...] = ()
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    block_number: int = 0  # the last block received

    @property
    def is_set(self) -> bool:
        return bool(self.attributes)


class AssociationSession:
    """The services of one accepted association: decoded request in, response octets out
    (None for an unconfirmed SET or ACTION, which gets no answer)."""

    def __init__(
        self, backend: DeviceBackend, context: AssociationContext, max_long_transfer_size: int
    ) -> None:
        self.backend = backend
        self.context = context
        self.conformance = int(context.conformance)
        self.limit = context.client_max_receive_pdu_size
        self.max_long_transfer_size = max_long_transfer_size
        self.transfer: _OutgoingBlocks | _IncomingBlocks | None = None
        self._plain_readers = backend if isinstance(backend, PlainReaders) else None

    def abort_transfer(self) -> None:
        self.transfer = None

    def serve(self, request: Request) -> bytes | None:
        """The response to ``request`` (the caller has checked the association exists)."""
        required = _REQUIRED[type(request)]
        if self.conformance & required != required or not self._access_allowed(request):
            self.transfer = None
            return None if is_unconfirmed(request) else NOT_NEGOTIATED
        match request:
            case GetRequestNormal():
                return self._get_normal(request)
            case GetRequestNext():
                return self._get_next(request)
            case GetRequestWithList():
                return self._get_with_list(request)
            case SetRequestNormal():
                return self._set_normal(request)
            case SetRequestWithList():
                return self._set_with_list(request)
            case SetRequestWithFirstDatablock():
                selection = AttributeWithSelection(request.attribute, request.access)
                blocks = _IncomingBlocks(is_list=False, attributes=(selection,))
                return self._first_block(request.invoke, blocks, request.block)
            case SetRequestWithListAndFirstDatablock():
                blocks = _IncomingBlocks(is_list=True, attributes=request.attributes)
                if not request.attributes:
                    self.transfer = None
                    return self._set_refusal(request.invoke, blocks, DataAccessResult.OTHER_REASON)
                return self._first_block(request.invoke, blocks, request.block)
            case SetRequestWithDatablock():
                return self._next_block(request.invoke, request.block, is_set=True)
            case ActionRequestNormal():
                return self._action_normal(request)
            case ActionRequestWithList():
                return self._action_with_list(request)
            case ActionRequestWithFirstPblock():
                blocks = _IncomingBlocks(is_list=False, methods=(request.method,))
                return self._first_block(request.invoke, blocks, request.block)
            case ActionRequestWithListAndFirstPblock():
                blocks = _IncomingBlocks(is_list=True, methods=request.methods)
                if not request.methods:
                    self.transfer = None
                    return self._action_refusal(request.invoke, blocks, ActionResult.OTHER_REASON)
                return self._first_block(request.invoke, blocks, request.block)
            case ActionRequestWithPblock():
                return self._next_block(request.invoke, request.block, is_set=False)
            case ActionRequestNextPblock():
                return self._action_next(request)

    def plain_get_answerer(self, request: GetRequestNormal) -> Callable[[], bytes] | None:
        """What answers ``request`` (a get-request-normal without selective access) exactly
        as ``serve`` would, every time it is called: the backend's reader bound once
        (`PlainReaders`), the response head encoded once, the value read and encoded afresh
        at each call. None when the backend offers no reader for it (yet), or GET is not
        negotiated: ``serve_plain_get`` then answers."""
        readers = self._plain_readers
        if readers is None or not self.conformance & _GET:
            return None
        attribute = request.attribute
        reader = readers.plain_reader(self.context, attribute)
        if reader is None:
            return None
        invoke = request.invoke
        iip = invoke.octet
        head = _GET_RESPONSE_HEADS[iip]
        room = self.limit - len(head)

        def answer() -> bytes:
            self.transfer = None
            try:
                value = reader()
            except Exception as problem:
                return bytes((0xC4, 0x01, iip, 0x01, _read_refusal(attribute, problem)))
            if not isinstance(value, Data):
                return bytes((0xC4, 0x01, iip, 0x01, _not_data(attribute, value)))
            raw = encode(value)
            if len(raw) <= room:
                return head + raw
            return self._start_long_get(invoke, raw)

        return answer

    def serve_plain_get(self, request: GetRequestNormal) -> bytes:
        """A get-request-normal without selective access, as ``serve`` answers it (the
        connection's path for the GETs it has seen before)."""
        if not self.conformance & _GET:
            self.transfer = None
            return NOT_NEGOTIATED
        return self._get_normal(request)

    def _access_allowed(self, request: Request) -> bool:
        """Selective access needs its conformance bit (dlms.md 3.3, bit 21)."""
        if self.conformance & _SELECTIVE_ACCESS:
            return True
        match request:
            case GetRequestNormal() | SetRequestNormal() | SetRequestWithFirstDatablock():
                return request.access is None
            case (
                GetRequestWithList() | SetRequestWithList() | SetRequestWithListAndFirstDatablock()
            ):
                return all(item.access is None for item in request.attributes)
        return True

    # --- calls into the backend --------------------------------------------------------------

    def _read(
        self, attribute: AttributeDescriptor, access: SelectiveAccess | None
    ) -> GetDataResult:
        try:
            value = self.backend.get(self.context, attribute, access)
        except Exception as problem:
            return _read_refusal(attribute, problem)
        if not isinstance(value, Data):
            return _not_data(attribute, value)
        return value

    def _write(
        self, attribute: AttributeDescriptor, access: SelectiveAccess | None, value: Data
    ) -> DataAccessResult:
        try:
            self.backend.set(self.context, attribute, access, value)
        except CosemError as refusal:
            return refusal.result
        except Exception:
            _log.exception("backend set %s failed", attribute)
            return DataAccessResult.HARDWARE_FAULT
        return DataAccessResult.SUCCESS

    def _invoke(self, method: MethodDescriptor, parameters: Data | None) -> ActionOutcome:
        try:
            returned = self.backend.action(self.context, method, parameters)
        except CosemError as refusal:
            return ActionOutcome(refusal.action_result)
        except Exception:
            _log.exception("backend action %s failed", method)
            return ActionOutcome(ActionResult.HARDWARE_FAULT)
        if returned is None:
            return ActionOutcome(ActionResult.SUCCESS)
        if not isinstance(returned, Data):
            _log.error("backend action %s returned %r, not Data", method, type(returned))
            return ActionOutcome(ActionResult.HARDWARE_FAULT)
        return ActionOutcome(ActionResult.SUCCESS, returned)

    # --- GET ---------------------------------------------------------------------------------

    def _get_normal(self, request: GetRequestNormal) -> bytes:
        self.transfer = None
        result = self._read(request.attribute, request.access)
        iip = request.invoke.octet
        if isinstance(result, DataAccessResult):
            return bytes((0xC4, 0x01, iip, 0x01, result))
        raw = encode(result)
        if len(raw) + 4 <= self.limit:
            return _GET_RESPONSE_HEADS[iip] + raw
        return self._start_long_get(request.invoke, raw)

    def _get_with_list(self, request: GetRequestWithList) -> bytes:
        self.transfer = None
        results = [self._read(item.attribute, item.access) for item in request.attributes]
        raw = encode_length(len(results)) + b"".join(map(encode_get_data_result, results))
        if len(raw) + 3 <= self.limit:
            return bytes((0xC4, 0x03, request.invoke.to_byte())) + raw
        return self._start_long_get(request.invoke, raw)

    def _start_long_get(self, invoke: InvokeIdAndPriority, raw: bytes) -> bytes:
        if not self.conformance & _BLOCK_GET:
            _log.info("GET answer of %d octets exceeds the PDU size; no block transfer", len(raw))
            return bytes((0xC4, 0x01, invoke.to_byte(), 0x01, DataAccessResult.OTHER_REASON))
        blocks = _OutgoingBlocks(raw, is_get=True)
        self.transfer = blocks
        return self._send_block(invoke, blocks)

    def _get_next(self, request: GetRequestNext) -> bytes:
        blocks = self.transfer
        if not isinstance(blocks, _OutgoingBlocks) or not blocks.is_get:
            self.transfer = None
            return self._get_block_refusal(request, DataAccessResult.NO_LONG_GET_IN_PROGRESS)
        if request.block_number != blocks.block_number:
            self.transfer = None
            return self._get_block_refusal(request, DataAccessResult.DATA_BLOCK_NUMBER_INVALID)
        return self._send_block(request.invoke, blocks)

    @staticmethod
    def _get_block_refusal(request: GetRequestNext, result: DataAccessResult) -> bytes:
        return GetResponseWithDatablock(
            invoke=request.invoke, last_block=True, block_number=request.block_number, result=result
        ).encode()

    def _send_block(self, invoke: InvokeIdAndPriority, blocks: _OutgoingBlocks) -> bytes:
        head = _GET_BLOCK_HEAD if blocks.is_get else _ACTION_BLOCK_HEAD
        room = block_room(self.limit, head)
        chunk = blocks.raw[blocks.offset : blocks.offset + room]
        blocks.offset += len(chunk)
        blocks.block_number += 1
        last = blocks.offset >= len(blocks.raw)
        if last:
            self.transfer = None
        if blocks.is_get:
            return GetResponseWithDatablock(
                invoke=invoke, last_block=last, block_number=blocks.block_number, result=chunk
            ).encode()
        block = DataBlock(last, blocks.block_number, chunk)
        return ActionResponseWithPblock(invoke=invoke, block=block).encode()

    # --- SET ---------------------------------------------------------------------------------

    def _set_normal(self, request: SetRequestNormal) -> bytes | None:
        self.transfer = None
        result = self._write(request.attribute, request.access, request.value)
        if not request.invoke.confirmed:
            return None
        return SetResponseNormal(invoke=request.invoke, result=result).encode()

    def _set_with_list(self, request: SetRequestWithList) -> bytes | None:
        self.transfer = None
        count = len(request.attributes)
        if request.invoke.confirmed and 3 + len(encode_length(count)) + count > self.limit:
            return PDU_TOO_LONG  # the answer could not be sent: write nothing
        results = self._write_all(request.attributes, request.values)
        if not request.invoke.confirmed:
            return None
        return SetResponseWithList(invoke=request.invoke, results=results).encode()

    def _write_all(
        self, attributes: tuple[AttributeWithSelection, ...], values: tuple[Data, ...]
    ) -> tuple[DataAccessResult, ...]:
        """One result per attribute; a value count that differs writes nothing."""
        if len(values) != len(attributes):
            return (DataAccessResult.OTHER_REASON,) * len(attributes)
        return tuple(
            self._write(item.attribute, item.access, value)
            for item, value in zip(attributes, values, strict=True)
        )

    def _set_refusal(
        self, invoke: InvokeIdAndPriority, blocks: _IncomingBlocks, result: DataAccessResult
    ) -> bytes:
        """A long SET ended by ``result`` after ``blocks.block_number``."""
        if blocks.is_list:
            results = (result,) * len(blocks.attributes)
            return SetResponseLastDatablockWithList(
                invoke=invoke, results=results, block_number=blocks.block_number
            ).encode()
        return SetResponseLastDatablock(
            invoke=invoke, result=result, block_number=blocks.block_number
        ).encode()

    # --- blocks arriving (SET data, ACTION parameters) ---------------------------------------

    def _first_block(
        self, invoke: InvokeIdAndPriority, blocks: _IncomingBlocks, block: DataBlock
    ) -> bytes:
        self.transfer = None
        blocks.block_number = block.block_number
        if block.block_number != _FIRST_BLOCK:
            return self._incoming_refusal(invoke, blocks, aborted=False)
        return self._take_block(invoke, blocks, block)

    def _next_block(self, invoke: InvokeIdAndPriority, block: DataBlock, is_set: bool) -> bytes:
        blocks = self.transfer
        if not isinstance(blocks, _IncomingBlocks) or blocks.is_set != is_set:
            self.transfer = None
            if is_set:
                return SetResponseLastDatablock(
                    invoke=invoke,
                    result=DataAccessResult.NO_LONG_SET_IN_PROGRESS,
                    block_number=block.block_number,
                ).encode()
            return ActionResponseNormal(
                invoke=invoke, result=ActionResult.NO_LONG_ACTION_IN_PROGRESS
            ).encode()
        if block.block_number != blocks.block_number + 1:
            self.transfer = None
            blocks.block_number = block.block_number
            return self._incoming_refusal(invoke, blocks, aborted=False)
        blocks.block_number = block.block_number
        return self._take_block(invoke, blocks, block)

    def _take_block(
        self, invoke: InvokeIdAndPriority, blocks: _IncomingBlocks, block: DataBlock
    ) -> bytes:
        blocks.size += len(block.raw_data)
        if blocks.size > self.max_long_transfer_size:
            self.transfer = None
            _log.info("long transfer beyond %d octets aborted", self.max_long_transfer_size)
            return self._incoming_refusal(invoke, blocks, aborted=True)
        blocks.chunks.append(block.raw_data)
        if not block.last_block:
            self.transfer = blocks
            if blocks.is_set:
                return SetResponseDatablock(invoke=invoke, block_number=block.block_number).encode()
            return ActionResponseNextPblock(invoke=invoke, block_number=block.block_number).encode()
        self.transfer = None
        raw = b"".join(blocks.chunks)
        if blocks.is_set:
            return self._finish_set(invoke, blocks, raw)
        return self._finish_action(invoke, blocks, raw)

    def _incoming_refusal(
        self, invoke: InvokeIdAndPriority, blocks: _IncomingBlocks, aborted: bool
    ) -> bytes:
        """A long SET or ACTION request ended: a wrong block number, or too much data."""
        if blocks.is_set:
            result = (
                DataAccessResult.LONG_SET_ABORTED
                if aborted
                else DataAccessResult.DATA_BLOCK_NUMBER_INVALID
            )
            return self._set_refusal(invoke, blocks, result)
        return self._action_refusal(invoke, blocks, ActionResult.LONG_ACTION_ABORTED)

    def _finish_set(
        self, invoke: InvokeIdAndPriority, blocks: _IncomingBlocks, raw: bytes
    ) -> bytes:
        values = _decode_values(raw, len(blocks.attributes) if blocks.is_list else None)
        if values is None:
            return self._set_refusal(invoke, blocks, DataAccessResult.OTHER_REASON)
        results = self._write_all(blocks.attributes, values)
        if blocks.is_list:
            return SetResponseLastDatablockWithList(
                invoke=invoke, results=results, block_number=blocks.block_number
            ).encode()
        return SetResponseLastDatablock(
            invoke=invoke, result=results[0], block_number=blocks.block_number
        ).encode()

    # --- ACTION ------------------------------------------------------------------------------

    def _action_normal(self, request: ActionRequestNormal) -> bytes | None:
        self.transfer = None
        outcome = self._invoke(request.method, request.parameters)
        if not request.invoke.confirmed:
            return None
        return self._action_answer(request.invoke, outcome.to_bytes(), is_list=False)

    def _action_with_list(self, request: ActionRequestWithList) -> bytes | None:
        self.transfer = None
        outcomes = self._invoke_all(request.methods, request.parameters)
        if not request.invoke.confirmed:
            return None
        raw = encode_length(len(outcomes)) + b"".join(item.to_bytes() for item in outcomes)
        return self._action_answer(request.invoke, raw, is_list=True)

    def _invoke_all(
        self, methods: tuple[MethodDescriptor, ...], parameters: tuple[Data, ...]
    ) -> tuple[ActionOutcome, ...]:
        """One outcome per method; a parameter count that differs invokes nothing."""
        if len(parameters) != len(methods):
            return (ActionOutcome(ActionResult.OTHER_REASON),) * len(methods)
        return tuple(
            self._invoke(method, parameter)
            for method, parameter in zip(methods, parameters, strict=True)
        )

    def _action_answer(self, invoke: InvokeIdAndPriority, raw: bytes, is_list: bool) -> bytes:
        """action-response-normal (``raw`` = one Action-Response-With-Optional-Data) or
        -with-list (``raw`` = the SEQUENCE OF them), in pblocks when too long."""
        head = bytes((0xC7, 0x03 if is_list else 0x01, invoke.to_byte()))
        if len(head) + len(raw) <= self.limit:
            return head + raw
        if not self.conformance & _BLOCK_ACTION:
            _log.info("ACTION answer of %d octets exceeds the PDU size; no blocks", len(raw))
            if is_list:
                return PDU_TOO_LONG
            # Done, but the return data cannot travel: success with data-access-result
            # other-reason as its return parameters (the shape of dlms.md 5, C701C0000101FA).
            outcome = ActionOutcome(ActionResult.SUCCESS, DataAccessResult.OTHER_REASON)
            return ActionResponseNormal(
                invoke=invoke, result=outcome.result, return_parameters=outcome.return_parameters
            ).encode()
        blocks = _OutgoingBlocks(raw, is_get=False)
        self.transfer = blocks
        return self._send_block(invoke, blocks)

    def _action_next(self, request: ActionRequestNextPblock) -> bytes:
        blocks = self.transfer
        if not isinstance(blocks, _OutgoingBlocks) or blocks.is_get:
            self.transfer = None
            return ActionResponseNormal(
                invoke=request.invoke, result=ActionResult.NO_LONG_ACTION_IN_PROGRESS
            ).encode()
        if request.block_number != blocks.block_number:
            self.transfer = None
            return ActionResponseNormal(
                invoke=request.invoke, result=ActionResult.LONG_ACTION_ABORTED
            ).encode()
        return self._send_block(request.invoke, blocks)

    def _action_refusal(
        self, invoke: InvokeIdAndPriority, blocks: _IncomingBlocks, result: ActionResult
    ) -> bytes:
        if blocks.is_list:
            outcomes = (ActionOutcome(result),) * len(blocks.methods)
            answer = ActionResponseWithList(invoke=invoke, results=outcomes).encode()
            return answer if len(answer) <= self.limit else PDU_TOO_LONG
        return ActionResponseNormal(invoke=invoke, result=result).encode()

    def _finish_action(
        self, invoke: InvokeIdAndPriority, blocks: _IncomingBlocks, raw: bytes
    ) -> bytes:
        parameters = _decode_values(raw, len(blocks.methods) if blocks.is_list else None)
        if parameters is None:
            return self._action_refusal(invoke, blocks, ActionResult.OTHER_REASON)
        if not blocks.is_list:
            outcome = self._invoke(blocks.methods[0], parameters[0])
            return self._action_answer(invoke, outcome.to_bytes(), is_list=False)
        outcomes = self._invoke_all(blocks.methods, parameters)
        raw_outcomes = encode_length(len(outcomes)) + b"".join(o.to_bytes() for o in outcomes)
        return self._action_answer(invoke, raw_outcomes, is_list=True)


def is_request(apdu: object) -> TypeGuard[Request]:
    """Whether ``apdu`` is a request a client may send inside an association."""
    return isinstance(apdu, _REQUEST_TYPES)


def is_unconfirmed(request: Request) -> bool:
    """SET and ACTION may be unconfirmed (service-class bit 0, dlms.md 2.2): no answer then.
    GET is always confirmed, so its bit is not looked at."""
    if isinstance(request, SetRequestNormal | SetRequestWithList):
        return not request.invoke.confirmed
    if isinstance(request, ActionRequestNormal | ActionRequestWithList):
        return not request.invoke.confirmed
    return False


def _decode_values(raw: bytes, count: int | None) -> tuple[Data, ...] | None:
    """Assembled block data: one Data (``count`` None) or a SEQUENCE OF exactly ``count`` Data;
    None when the octets are not that."""
    try:
        if count is None:
            return (decode(raw),)
        reader = AxdrReader(raw)
        if reader.count("values") != count:
            return None
        values = tuple(reader.data() for _ in range(count))
        reader.end("values")
    except DlmsDecodeError:
        return None
    return values
