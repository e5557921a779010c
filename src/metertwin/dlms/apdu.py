"""One entry point for every APDU this layer knows: :func:`decode_apdu` and the :data:`Apdu`
union, so the server can ``match`` on what arrived.

The classes live in ``acse`` (association), ``xdlms`` (GET/SET/ACTION), ``reports``
(exception-response, notifications) and ``xdlms_types`` (their building blocks); they are
re-exported here. Ciphered and general-block-transfer APDUs (dlms.md 2.1, 2.5) are not decoded
here: they raise :class:`UnsupportedApduError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from metertwin.codec.errors import ApduError, DlmsDecodeError, UnsupportedApduError
from metertwin.codec.reader import AxdrReader
from metertwin.codec.xdlms_types import (
    ActionOutcome,
    AttributeDescriptor,
    AttributeWithSelection,
    DataBlock,
    GetDataResult,
    InvokeIdAndPriority,
    LongInvokeIdAndPriority,
    MethodDescriptor,
    SelectiveAccess,
)
from metertwin.dlms.acse import (
    Aare,
    Aarq,
    ConfirmedServiceError,
    InitiateRequest,
    InitiateResponse,
    Rlre,
    Rlrq,
)
from metertwin.dlms.reports import DataNotification, EventNotificationRequest, ExceptionResponse
from metertwin.dlms.xdlms import (
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
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
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
    "Aare",
    "Aarq",
    "ActionOutcome",
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
    "Apdu",
    "AttributeDescriptor",
    "AttributeWithSelection",
    "ConfirmedServiceError",
    "DataBlock",
    "DataNotification",
    "EventNotificationRequest",
    "ExceptionResponse",
    "GetDataResult",
    "GetRequestNext",
    "GetRequestNormal",
    "GetRequestWithList",
    "GetResponseNormal",
    "GetResponseWithDatablock",
    "GetResponseWithList",
    "InitiateRequest",
    "InitiateResponse",
    "InvokeIdAndPriority",
    "LongInvokeIdAndPriority",
    "MethodDescriptor",
    "Rlre",
    "Rlrq",
    "SelectiveAccess",
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
    "decode_apdu",
]

Apdu: TypeAlias = (
    Aarq
    | Aare
    | Rlrq
    | Rlre
    | InitiateRequest
    | InitiateResponse
    | ConfirmedServiceError
    | GetRequestNormal
    | GetRequestNext
    | GetRequestWithList
    | GetResponseNormal
    | GetResponseWithDatablock
    | GetResponseWithList
    | SetRequestNormal
    | SetRequestWithFirstDatablock
    | SetRequestWithDatablock
    | SetRequestWithList
    | SetRequestWithListAndFirstDatablock
    | SetResponseNormal
    | SetResponseDatablock
    | SetResponseLastDatablock
    | SetResponseLastDatablockWithList
    | SetResponseWithList
    | ActionRequestNormal
    | ActionRequestNextPblock
    | ActionRequestWithList
    | ActionRequestWithFirstPblock
    | ActionRequestWithListAndFirstPblock
    | ActionRequestWithPblock
    | ActionResponseNormal
    | ActionResponseWithPblock
    | ActionResponseWithList
    | ActionResponseNextPblock
    | ExceptionResponse
    | EventNotificationRequest
    | DataNotification
)
"""Every APDU :func:`decode_apdu` can return; each has ``encode() -> bytes``."""

_BodyDecoder = Callable[[AxdrReader], Apdu]

_BER_DECODERS: dict[int, Callable[[bytes], Apdu]] = {
    Aarq.TAG: Aarq.decode,
    Aare.TAG: Aare.decode,
    Rlrq.TAG: Rlrq.decode,
    Rlre.TAG: Rlre.decode,
}

_PLAIN_DECODERS: dict[int, _BodyDecoder] = {
    InitiateRequest.TAG: InitiateRequest.decode_body,
    InitiateResponse.TAG: InitiateResponse.decode_body,
    ConfirmedServiceError.TAG: ConfirmedServiceError.decode_body,
    ExceptionResponse.TAG: ExceptionResponse.decode_body,
    EventNotificationRequest.TAG: EventNotificationRequest.decode_body,
    DataNotification.TAG: DataNotification.decode_body,
}

# Services whose second octet is a CHOICE (dlms.md 2.4).
_CHOICE_DECODERS: dict[int, dict[int, _BodyDecoder]] = {
    GetRequestNormal.TAG: {
        GetRequestNormal.CHOICE: GetRequestNormal.decode_body,
        GetRequestNext.CHOICE: GetRequestNext.decode_body,
        GetRequestWithList.CHOICE: GetRequestWithList.decode_body,
    },
    GetResponseNormal.TAG: {
        GetResponseNormal.CHOICE: GetResponseNormal.decode_body,
        GetResponseWithDatablock.CHOICE: GetResponseWithDatablock.decode_body,
        GetResponseWithList.CHOICE: GetResponseWithList.decode_body,
    },
    SetRequestNormal.TAG: {
        SetRequestNormal.CHOICE: SetRequestNormal.decode_body,
        SetRequestWithFirstDatablock.CHOICE: SetRequestWithFirstDatablock.decode_body,
        SetRequestWithDatablock.CHOICE: SetRequestWithDatablock.decode_body,
        SetRequestWithList.CHOICE: SetRequestWithList.decode_body,
        SetRequestWithListAndFirstDatablock.CHOICE: SetRequestWithListAndFirstDatablock.decode_body,
    },
    SetResponseNormal.TAG: {
        SetResponseNormal.CHOICE: SetResponseNormal.decode_body,
        SetResponseDatablock.CHOICE: SetResponseDatablock.decode_body,
        SetResponseLastDatablock.CHOICE: SetResponseLastDatablock.decode_body,
        SetResponseLastDatablockWithList.CHOICE: SetResponseLastDatablockWithList.decode_body,
        SetResponseWithList.CHOICE: SetResponseWithList.decode_body,
    },
    ActionRequestNormal.TAG: {
        ActionRequestNormal.CHOICE: ActionRequestNormal.decode_body,
        ActionRequestNextPblock.CHOICE: ActionRequestNextPblock.decode_body,
        ActionRequestWithList.CHOICE: ActionRequestWithList.decode_body,
        ActionRequestWithFirstPblock.CHOICE: ActionRequestWithFirstPblock.decode_body,
        ActionRequestWithListAndFirstPblock.CHOICE: ActionRequestWithListAndFirstPblock.decode_body,
        ActionRequestWithPblock.CHOICE: ActionRequestWithPblock.decode_body,
    },
    ActionResponseNormal.TAG: {
        ActionResponseNormal.CHOICE: ActionResponseNormal.decode_body,
        ActionResponseWithPblock.CHOICE: ActionResponseWithPblock.decode_body,
        ActionResponseWithList.CHOICE: ActionResponseWithList.decode_body,
        ActionResponseNextPblock.CHOICE: ActionResponseNextPblock.decode_body,
    },
}


def decode_apdu(buf: bytes) -> Apdu:
    """The APDU filling ``buf`` exactly.

    Raises only :class:`DlmsDecodeError` subclasses: :class:`UnsupportedApduError` for a tag
    or CHOICE this layer does not implement, :class:`ApduError` or ``AxdrError`` for anything
    malformed (truncated, trailing octets, bad lengths or flags, unknown enum values).
    """
    if not isinstance(buf, bytes):
        buf = bytes(buf)
    if not buf:
        raise ApduError("empty APDU")
    tag = buf[0]
    try:
        ber_decoder = _BER_DECODERS.get(tag)
        if ber_decoder is not None:
            return ber_decoder(buf)
        reader = AxdrReader(buf, 1, ApduError)
        choices = _CHOICE_DECODERS.get(tag)
        if choices is None:
            decoder = _PLAIN_DECODERS.get(tag)
            if decoder is None:
                raise UnsupportedApduError(tag)
        else:
            choice = reader.u8("service CHOICE")
            decoder = choices.get(choice)
            if decoder is None:
                raise UnsupportedApduError(tag, choice)
        apdu = decoder(reader)
        reader.end(f"APDU 0x{tag:02X}")
        return apdu
    except DlmsDecodeError:
        raise
    except (ValueError, TypeError) as problem:
        # A value class refusing a decoded field; the decoders check first, this is a backstop
        # so that nothing but the declared family ever escapes (architecture principle 7).
        raise ApduError(f"APDU 0x{tag:02X}: {problem}") from None
