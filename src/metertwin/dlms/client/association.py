"""The client side of a DLMS/COSEM application association, sans-IO.

:class:`ClientAssociation` builds every request APDU and interprets every answer, but never
touches a socket. Each service is an :data:`Exchange`: a generator that yields the request
APDU to send and is sent back the answer APDU, until it returns the result. Multi-step services
(GET with block transfer, SET with data blocks, ACTION with parameter blocks) are simply
exchanges that yield more than once, so the same logic serves the asyncio and the blocking
front ends in ``client.py`` and tests drive it with golden bytes (dlms.md 5).

:class:`WrapperLink` is the matching sans-IO piece for the IEC 62056-47 TCP wrapper
(protocols.md): it frames requests and pulls the answers addressed to us out of a byte stream.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Generator, Sequence
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeAlias, TypeVar

from metertwin.codec.axdr import Data, decode, decode_prefix, encode
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import (
    AcseServiceUserDiagnostic,
    ActionResult,
    ApplicationContext,
    AssociationResult,
    AuthenticationMechanism,
    ConfirmedServiceErrorType,
    Conformance,
    DataAccessResult,
    InitiateError,
    ReleaseRequestReason,
)
from metertwin.codec.errors import DlmsDecodeError
from metertwin.codec.obis import Obis
from metertwin.codec.reader import AxdrReader
from metertwin.codec.xdlms_types import (
    ActionOutcome,
    AttributeDescriptor,
    AttributeWithSelection,
    DataBlock,
    GetDataResult,
    InvokeIdAndPriority,
    MethodDescriptor,
    SelectiveAccess,
    read_get_data_result,
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
from metertwin.dlms.apdu import Apdu, decode_apdu
from metertwin.dlms.client.errors import (
    ActionFailedError,
    AssociationRejectedError,
    ConfirmedServiceErrorResponse,
    DataAccessError,
    DlmsClientError,
    DlmsProtocolError,
    DlmsSecurityError,
    ExceptionResponseError,
    NotAssociatedError,
    code_name,
)
from metertwin.dlms.client.objects import (
    CURRENT_ASSOCIATION,
    PROFILE_GENERIC_CLASS_ID,
    CaptureObject,
    ObjectListEntry,
    parse_capture_objects,
    parse_object_list,
    range_access,
)
from metertwin.dlms.client.security import ClientSecurity, SecureChannel
from metertwin.dlms.reports import DataNotification, EventNotificationRequest, ExceptionResponse
from metertwin.dlms.xdlms import (
    ActionRequestNextPblock,
    ActionRequestNormal,
    ActionRequestWithFirstPblock,
    ActionRequestWithPblock,
    ActionResponseNextPblock,
    ActionResponseNormal,
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
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseNormal,
)
from metertwin.protocols.wrapper import WrapperDecoder, WrapperError, encode_frame

__all__ = [
    "DEFAULT_CONFORMANCE",
    "DEFAULT_MAX_RECEIVE_PDU_SIZE",
    "MAX_LONG_TRANSFER",
    "AttributeRef",
    "ClientAssociation",
    "Exchange",
    "WrapperLink",
    "is_unsolicited",
]

T = TypeVar("T")
P = ParamSpec("P")

Exchange: TypeAlias = Generator[bytes, bytes, T]
"""A service in progress: yields request APDUs, is sent each answer APDU, returns the result."""

_BlockBuilder: TypeAlias = Callable[[DataBlock], bytes]

AttributeRef: TypeAlias = tuple[Obis | str, int, int]
"""(logical name, class id, attribute id): one attribute of a get-request-with-list."""

DEFAULT_CONFORMANCE = (
    Conformance.PRIORITY_MGMT_SUPPORTED
    | Conformance.ATTRIBUTE0_SUPPORTED_WITH_GET
    | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
    | Conformance.BLOCK_TRANSFER_WITH_SET_OR_WRITE
    | Conformance.BLOCK_TRANSFER_WITH_ACTION
    | Conformance.MULTIPLE_REFERENCES
    | Conformance.GET
    | Conformance.SET
    | Conformance.SELECTIVE_ACCESS
    | Conformance.EVENT_NOTIFICATION
    | Conformance.ACTION
)
"""What we propose: ``007E1F``, as in the Green Book AARQ examples (dlms.md 5)."""

DEFAULT_MAX_RECEIVE_PDU_SIZE = 0xFFFF
"""The largest APDU a wrapper frame can carry: fewer blocks on long reads such as profiles."""

MAX_LONG_TRANSFER = 64 * 1024 * 1024
"""A block transfer longer than this is refused: a meter that never sends its last block must
not exhaust the client's memory."""

_UNSOLICITED_TAGS = frozenset({DataNotification.TAG, EventNotificationRequest.TAG})
_GET_RESPONSE_TAG = GetResponseNormal.TAG
_BLOCK_OVERHEAD = 4  # the raw-data length may grow from 1 to 3 octets, plus one spare
_ASSOCIATION_CLASS_ID, _REPLY_TO_HLS_AUTHENTICATION = 15, 1


def is_unsolicited(apdu: bytes) -> bool:
    """Whether ``apdu`` is a notification the meter sent on its own (dlms.md 2.4), which a
    front end skips while it waits for the answer to its request."""
    return bool(apdu) and apdu[0] in _UNSOLICITED_TAGS


def _obis(name: Obis | str) -> Obis:
    return name if isinstance(name, Obis) else Obis.parse(name)


class WrapperLink:
    """Our end of an IEC 62056-47 wrapper link (protocols.md): frames request APDUs from
    ``client_sap`` to ``server_sap`` and returns the APDUs of answers addressed back to us."""

    def __init__(self, client_sap: int = 0x10, server_sap: int = 1) -> None:
        for name, sap in (("client", client_sap), ("server", server_sap)):
            if not 0 <= sap <= 0xFFFF:
                raise ValueError(f"{name} SAP {sap} is outside 0..65535")
        self.client_sap = client_sap
        self.server_sap = server_sap
        self._decoder = WrapperDecoder()

    def wrap(self, apdu: bytes) -> bytes:
        return encode_frame(self.client_sap, self.server_sap, apdu)

    def feed(self, data: bytes) -> list[bytes]:
        """The APDUs completed by ``data``; a broken stream or an answer between other wPorts
        is a :class:`DlmsProtocolError`."""
        try:
            frames = self._decoder.feed(data)
        except WrapperError as problem:
            raise DlmsProtocolError(f"TCP wrapper: {problem}") from None
        apdus = []
        for frame in frames:
            if (frame.source, frame.destination) != (self.server_sap, self.client_sap):
                raise DlmsProtocolError(
                    f"TCP wrapper: answer from wPort {frame.source} to {frame.destination}, "
                    f"expected {self.server_sap} to {self.client_sap}"
                )
            apdus.append(frame.payload)
        return apdus


def _through_channel(
    service: Callable[Concatenate[ClientAssociation, P], Exchange[T]],
) -> Callable[Concatenate[ClientAssociation, P], Exchange[T]]:
    """A service whose requests are protected and whose answers are opened by the secure
    channel, when the association has one: the one place ciphering happens."""

    def secured(self: ClientAssociation, /, *args: P.args, **kwargs: P.kwargs) -> Exchange[T]:
        exchange = service(self, *args, **kwargs)
        return exchange if self.security is None else self._secured(exchange)

    functools.update_wrapper(secured, service)
    return secured


class ClientAssociation:
    """One application association seen from the client: AARQ/AARE, then GET, SET, ACTION
    and release, each as an :data:`Exchange` (LN referencing; dlms.md 2-3).

    ``password`` selects the authentication: None = lowest level (no authentication), bytes =
    low level security (LLS, mechanism 2.16.756.5.8.2.1, dlms.md 3.2). ``security`` opens an
    HLS association instead (mechanism 2, 5, 6 or 7, ciphered as its policy says:
    :mod:`metertwin.dlms.client.security`); ``random_bytes`` draws its CtoS.
    """

    def __init__(
        self,
        *,
        password: bytes | str | None = None,
        security: ClientSecurity | None = None,
        max_receive_pdu_size: int = DEFAULT_MAX_RECEIVE_PDU_SIZE,
        conformance: Conformance = DEFAULT_CONFORMANCE,
        invoke_id: int = 1,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if isinstance(password, str):
            password = password.encode("utf-8")
        if not 12 <= max_receive_pdu_size <= 0xFFFF:
            raise ValueError(f"max receive PDU size {max_receive_pdu_size} is outside 12..65535")
        if password is not None and security is not None:
            raise ValueError("give an LLS password or HLS security, not both")
        self.password = password
        self.security = security
        self._random_bytes = random_bytes
        self._sender = None if security is None else security.send_counter()
        self._channel: SecureChannel | None = None
        self._pending: InitiateResponse | None = None
        self.max_receive_pdu_size = max_receive_pdu_size
        self.proposed_conformance = conformance
        self.invoke = InvokeIdAndPriority(invoke_id, confirmed=True, high_priority=True)
        self.negotiated: InitiateResponse | None = None

    @property
    def associated(self) -> bool:
        return self.negotiated is not None

    @property
    def conformance(self) -> Conformance:
        """The negotiated conformance block (empty before the association)."""
        return Conformance(0) if self.negotiated is None else self.negotiated.negotiated_conformance

    @property
    def server_max_receive_pdu_size(self) -> int:
        size = 0 if self.negotiated is None else self.negotiated.server_max_receive_pdu_size
        return size or 0xFFFF  # 0 would be meaningless; read it as "no limit below a frame"

    @property
    def channel(self) -> SecureChannel | None:
        """The secure channel of the current HLS association (None without HLS)."""
        return self._channel

    @property
    def _plain_request_limit(self) -> int:
        """The longest plain request that, once protected, fits the meter's receive size."""
        overhead = 0 if self._channel is None else self._channel.request_overhead
        return self.server_max_receive_pdu_size - overhead

    # --- ACSE ------------------------------------------------------------------------------

    def aarq(self) -> Aarq:
        """The AARQ proposing LN referencing, with LLS when a password is set (dlms.md
        3.1-3.3; golden vectors in dlms.md 5), or HLS with a fresh CtoS and, when the policy
        protects APDUs, LN with ciphering and a glo-initiate-request."""
        security = self.security
        initiate = InitiateRequest(
            proposed_conformance=self.proposed_conformance,
            client_max_receive_pdu_size=self.max_receive_pdu_size,
            dedicated_key=None if security is None else security.dedicated_key,
        )
        if security is not None:
            self._channel = channel = SecureChannel(security, self._sender, self._random_bytes)
            return Aarq(
                application_context_name=ApplicationContext.LOGICAL_NAME_WITH_CIPHERING
                if security.ciphered
                else ApplicationContext.LOGICAL_NAME,
                calling_ap_title=security.system_title,
                acse_authentication=True,
                mechanism_name=security.mechanism,
                calling_authentication_value=channel.client_challenge,
                user_information=channel.initiate_request(initiate.encode()),
            )
        if self.password is None:
            return Aarq(
                application_context_name=ApplicationContext.LOGICAL_NAME,
                user_information=initiate.encode(),
            )
        return Aarq(
            application_context_name=ApplicationContext.LOGICAL_NAME,
            acse_authentication=True,
            mechanism_name=AuthenticationMechanism.LOW,
            calling_authentication_value=self.password,
            user_information=initiate.encode(),
        )

    def accept_aare(self, answer: bytes) -> InitiateResponse:
        """Checks the AARE and records what was negotiated; a refusal raises
        :class:`AssociationRejectedError` naming the diagnostic (dlms.md 3.4)."""
        aare = self._decode(answer, "association")
        if isinstance(aare, ExceptionResponse):
            raise self._exception(aare, "association")
        if not isinstance(aare, Aare):
            raise self._unexpected(aare, "an AARE", "association")
        if self._channel is not None:
            return self._accept_secured_aare(aare, self._channel)
        user_information = self._user_information(aare)
        if isinstance(user_information, ConfirmedServiceError):
            initiate_error = None
            if user_information.error_type == ConfirmedServiceErrorType.INITIATE:
                initiate_error = InitiateError(user_information.value)
            raise AssociationRejectedError(
                AssociationResult.REJECTED_PERMANENT
                if aare.result == AssociationResult.ACCEPTED
                else aare.result,
                aare.diagnostic,
                initiate_error,
            )
        if aare.result != AssociationResult.ACCEPTED:
            raise AssociationRejectedError(aare.result, aare.diagnostic)
        if aare.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED:
            raise AssociationRejectedError(
                aare.result, aare.diagnostic, detail="the meter asks for HLS, not supported here"
            )
        if aare.application_context_name != ApplicationContext.LOGICAL_NAME:
            raise DlmsProtocolError(
                f"association: the meter answered with context {aare.application_context_name!r}"
            )
        self.negotiated = _checked_initiate_response(user_information)
        return self.negotiated

    def _accept_secured_aare(self, aare: Aare, channel: SecureChannel) -> InitiateResponse:
        """The AARE of an HLS association: accepted pending pass 3 (diagnostic 14), from an
        8-octet system title, with StoC and the (ciphered) InitiateResponse. What was
        negotiated counts only once the meter's pass 4 proof verifies."""
        if aare.result != AssociationResult.ACCEPTED:
            refusal = None
            if aare.user_information is not None and aare.user_information[:1] == b"\x0e":
                refusal = self._user_information(aare)
            initiate_error = None
            if (
                isinstance(refusal, ConfirmedServiceError)
                and refusal.error_type == ConfirmedServiceErrorType.INITIATE
            ):
                initiate_error = InitiateError(refusal.value)
            detail = ""
            if initiate_error is not None:
                detail = (
                    "the meter could not open our glo-initiate-request: wrong EK, AK or "
                    "suite, or an invocation counter it has seen (a replay)"
                )
            raise AssociationRejectedError(aare.result, aare.diagnostic, initiate_error, detail)
        if aare.diagnostic != AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED:
            raise DlmsSecurityError(
                f"association: accepted with diagnostic {int(aare.diagnostic)} "
                f"{code_name(aare.diagnostic)}, not authentication-required: the meter "
                "skipped HLS pass 3 and 4 and proved nothing"
            )
        expected = (
            ApplicationContext.LOGICAL_NAME_WITH_CIPHERING
            if channel.security.ciphered
            else ApplicationContext.LOGICAL_NAME
        )
        if aare.application_context_name != expected:
            raise DlmsProtocolError(
                f"association: the meter answered with context {aare.application_context_name!r}"
                f", expected {expected.name}"
            )
        channel.accept_responder(aare.responding_ap_title, aare.responding_authentication_value)
        if aare.user_information is None:
            raise DlmsProtocolError("association: the AARE carries no InitiateResponse")
        plain = channel.initiate_response(aare.user_information)
        inner = self._user_information(
            Aare(result=aare.result, diagnostic=aare.diagnostic, user_information=plain)
        )
        if isinstance(inner, ConfirmedServiceError):
            initiate_error = None
            if inner.error_type == ConfirmedServiceErrorType.INITIATE:
                initiate_error = InitiateError(inner.value)
            raise AssociationRejectedError(
                AssociationResult.REJECTED_PERMANENT, aare.diagnostic, initiate_error
            )
        self._pending = _checked_initiate_response(inner)
        return self._pending

    def _user_information(self, aare: Aare) -> InitiateResponse | ConfirmedServiceError | None:
        if aare.user_information is None:
            return None
        inner = self._decode(aare.user_information, "association user-information")
        if not isinstance(inner, InitiateResponse | ConfirmedServiceError):
            raise self._unexpected(inner, "an InitiateResponse", "association user-information")
        return inner

    def associate(self) -> Exchange[InitiateResponse]:
        """AARQ -> AARE, then for HLS pass 3 -> pass 4."""
        if self.associated:
            raise DlmsClientError("already associated")
        answer = yield self.aarq().encode()
        response = self.accept_aare(answer)
        if self._channel is not None:
            yield from self._secured(self._hls_reply(self._channel))
            self._channel.associated()
            self.negotiated, self._pending = self._pending, None
        return response

    def _hls_reply(self, channel: SecureChannel) -> Exchange[None]:
        """Pass 3: reply_to_HLS_authentication(f(StoC)) on the current association; pass 4:
        its return data f(CtoS) must verify (docs/security.md, "HLS")."""
        what = "HLS pass 3 (reply_to_HLS_authentication)"
        request = ActionRequestNormal(
            invoke=self.invoke,
            method=MethodDescriptor(
                _ASSOCIATION_CLASS_ID, CURRENT_ASSOCIATION, _REPLY_TO_HLS_AUTHENTICATION
            ),
            parameters=Data.octet_string(channel.pass3_proof()),
        )
        response = self._answer((yield request.encode()), (ActionResponseNormal,), what)
        assert isinstance(response, ActionResponseNormal)
        if response.result != ActionResult.SUCCESS:
            raise AssociationRejectedError(
                AssociationResult.REJECTED_PERMANENT,
                AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE,
                detail=f"the meter refused our HLS proof f(StoC) with {code_name(response.result)}"
                ": wrong keys or secret?",
            )
        returned = response.return_parameters
        proof = None
        if returned is not None and not isinstance(returned, DataAccessResult):
            proof = returned.value
        if not isinstance(proof, bytes):
            raise DlmsSecurityError(
                "HLS pass 4: the meter returned no octet-string f(CtoS): association refused"
            )
        channel.verify_pass4(proof)

    def _secured(self, exchange: Exchange[T]) -> Exchange[T]:
        """``exchange`` with every request protected and every answer opened."""
        channel = self._channel
        if channel is None:
            raise NotAssociatedError("not associated: open the association first")
        try:
            request = next(exchange)
            while True:
                answer = yield channel.protect_request(request)
                request = exchange.send(channel.open(answer, "answer"))
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            exchange.close()

    def release(self) -> Exchange[None]:
        """RLRQ (reason normal, ``6203800100``) -> RLRE (dlms.md 5)."""
        self._require_association()
        answer = yield Rlrq(reason=ReleaseRequestReason.NORMAL).encode()
        self.negotiated = self._channel = None
        response = self._decode(answer, "release")
        if isinstance(response, ExceptionResponse):
            raise self._exception(response, "release")
        if not isinstance(response, Rlre):
            raise self._unexpected(response, "an RLRE", "release")

    def forget(self) -> None:
        """Drop the association without a release, e.g. when the connection is lost."""
        self.negotiated = self._pending = self._channel = None

    # --- GET -------------------------------------------------------------------------------

    @_through_channel
    def get(
        self,
        obis: Obis | str,
        class_id: int,
        attribute: int = 2,
        access: SelectiveAccess | None = None,
    ) -> Exchange[Data]:
        """GET one attribute; a long answer is fetched block by block (dlms.md 2.4). A refusal
        raises :class:`DataAccessError` with the data-access-result."""
        self._require_association()
        descriptor = AttributeDescriptor(class_id, _obis(obis), attribute)
        return (yield from self._get_one(AttributeWithSelection(descriptor, access)))

    def _get_one(self, item: AttributeWithSelection) -> Exchange[Data]:
        request = GetRequestNormal(invoke=self.invoke, attribute=item.attribute, access=item.access)
        answer = yield request.encode()
        value = self._plain_value(answer)
        if value is not None:
            return value
        what = _describe_get(item.attribute)
        response = self._answer(answer, (GetResponseNormal, GetResponseWithDatablock), what)
        if isinstance(response, GetResponseNormal):
            return _data_or_raise(response.result, what)
        assert isinstance(response, GetResponseWithDatablock)
        raw = yield from self._long_get(response, what)
        try:
            return decode(raw)
        except DlmsDecodeError as problem:
            raise DlmsProtocolError(f"{what}: the reassembled blocks: {problem}") from None

    @_through_channel
    def get_many(self, attributes: Sequence[AttributeRef]) -> Exchange[list[GetDataResult]]:
        """GET several attributes with one get-request-with-list (dlms.md 2.4): a value or the
        data-access-result for each, in order. Without multiple-references negotiated, the
        same answer is obtained attribute by attribute."""
        self._require_association()
        items = [
            AttributeWithSelection(AttributeDescriptor(class_id, _obis(obis), attribute))
            for obis, class_id, attribute in attributes
        ]
        if len(items) == 1 or not self.conformance & Conformance.MULTIPLE_REFERENCES:
            results: list[GetDataResult] = []
            for item in items:
                try:
                    results.append((yield from self._get_one(item)))
                except DataAccessError as refused:
                    results.append(refused.result)
            return results
        if not items:
            return []
        what = f"GET with a list of {len(items)} attributes"
        request = GetRequestWithList(invoke=self.invoke, attributes=tuple(items))
        response = self._answer(
            (yield request.encode()), (GetResponseWithList, GetResponseWithDatablock), what
        )
        if isinstance(response, GetResponseWithList):
            found = list(response.results)
        else:
            assert isinstance(response, GetResponseWithDatablock)
            found = _read_result_list((yield from self._long_get(response, what)), what)
        if len(found) != len(items):
            raise DlmsProtocolError(f"{what}: {len(found)} results for {len(items)} attributes")
        return found

    def _long_get(self, first: GetResponseWithDatablock, what: str) -> Exchange[bytes]:
        """Collects a get-response-with-datablock sequence: after each block, get-request-next
        with that block's number, until the last block (dlms.md 5, GS ``get_test.go``)."""
        raw = bytearray()
        block = first
        while True:
            if isinstance(block.result, DataAccessResult):
                raise DataAccessError(block.result, f"{what}, block {block.block_number}")
            raw += block.result
            if len(raw) > MAX_LONG_TRANSFER:
                raise DlmsProtocolError(f"{what}: more than {MAX_LONG_TRANSFER} octets in blocks")
            if block.last_block:
                return bytes(raw)
            request = GetRequestNext(invoke=self.invoke, block_number=block.block_number)
            following = self._answer((yield request.encode()), (GetResponseWithDatablock,), what)
            assert isinstance(following, GetResponseWithDatablock)
            if following.block_number != block.block_number + 1:
                raise DlmsProtocolError(
                    f"{what}: block {following.block_number} after block {block.block_number}"
                )
            block = following

    # --- SET -------------------------------------------------------------------------------

    @_through_channel
    def set(
        self,
        obis: Obis | str,
        class_id: int,
        attribute: int,
        value: Data,
        access: SelectiveAccess | None = None,
    ) -> Exchange[None]:
        """SET one attribute; a value too long for the meter's receive size goes in data
        blocks when the meter accepted block transfer with SET (dlms.md 2.4)."""
        self._require_association()
        descriptor = AttributeDescriptor(class_id, _obis(obis), attribute)
        what = f"SET {descriptor.instance} class {class_id} attribute {attribute}"
        request = SetRequestNormal(
            invoke=self.invoke, attribute=descriptor, access=access, value=value
        ).encode()
        blocks_allowed = self.conformance & Conformance.BLOCK_TRANSFER_WITH_SET_OR_WRITE
        if len(request) <= self._plain_request_limit or not blocks_allowed:
            response = self._answer((yield request), (SetResponseNormal,), what)
            assert isinstance(response, SetResponseNormal)
            _check_access(response.result, what)
            return

        def first(block: DataBlock) -> bytes:
            return SetRequestWithFirstDatablock(
                invoke=self.invoke, attribute=descriptor, access=access, block=block
            ).encode()

        def following(block: DataBlock) -> bytes:
            return SetRequestWithDatablock(invoke=self.invoke, block=block).encode()

        blocks = self._blocks(encode(value), first, what)
        for index, block in enumerate(blocks):
            build = first if index == 0 else following
            acknowledged = (SetResponseDatablock,) if not block.last_block else ()
            response = self._answer(
                (yield build(block)), (*acknowledged, SetResponseLastDatablock), what
            )
            if isinstance(response, SetResponseLastDatablock):
                _check_access(response.result, what)
                if not block.last_block or response.block_number != block.block_number:
                    raise DlmsProtocolError(
                        f"{what}: final result after block {response.block_number}, "
                        f"sent {block.block_number} of {len(blocks)}"
                    )
                return
            assert isinstance(response, SetResponseDatablock)
            if response.block_number != block.block_number:
                raise DlmsProtocolError(
                    f"{what}: block {response.block_number} acknowledged, sent {block.block_number}"
                )

    def _blocks(self, raw: bytes, first: _BlockBuilder, what: str) -> list[DataBlock]:
        """``raw`` cut into DataBlock-SA pieces that fit the meter's receive size."""
        header = len(first(DataBlock(False, 1, b""))) + _BLOCK_OVERHEAD
        size = self._plain_request_limit - header
        if size < 1:
            raise DlmsClientError(f"{what}: the meter's receive size is too small for blocks")
        pieces = [raw[start : start + size] for start in range(0, len(raw), size)] or [b""]
        return [
            DataBlock(index == len(pieces) - 1, index + 1, piece)
            for index, piece in enumerate(pieces)
        ]

    # --- ACTION ----------------------------------------------------------------------------

    @_through_channel
    def action(
        self, obis: Obis | str, class_id: int, method: int, parameters: Data | None = None
    ) -> Exchange[Data | None]:
        """ACTION on one method: its return parameters, or None when it returns nothing.
        Long parameters go in parameter blocks, long return data is fetched block by block
        when the meter accepted block transfer with ACTION (dlms.md 2.4)."""
        self._require_association()
        descriptor = MethodDescriptor(class_id, _obis(obis), method)
        what = f"ACTION {descriptor.instance} class {class_id} method {method}"
        request = ActionRequestNormal(
            invoke=self.invoke, method=descriptor, parameters=parameters
        ).encode()
        blocks_allowed = self.conformance & Conformance.BLOCK_TRANSFER_WITH_ACTION
        final = (ActionResponseNormal, ActionResponseWithPblock)
        if len(request) <= self._plain_request_limit or not blocks_allowed:
            response = self._answer((yield request), final, what)
        else:
            assert parameters is not None  # a request without parameters is always short

            def first(block: DataBlock) -> bytes:
                return ActionRequestWithFirstPblock(
                    invoke=self.invoke, method=descriptor, block=block
                ).encode()

            def following(block: DataBlock) -> bytes:
                return ActionRequestWithPblock(invoke=self.invoke, block=block).encode()

            blocks = self._blocks(encode(parameters), first, what)
            for index, block in enumerate(blocks[:-1]):
                build = first if index == 0 else following
                ack = self._answer((yield build(block)), (ActionResponseNextPblock,), what)
                assert isinstance(ack, ActionResponseNextPblock)
                if ack.block_number != block.block_number:
                    raise DlmsProtocolError(
                        f"{what}: block {ack.block_number} acknowledged, sent {block.block_number}"
                    )
            build = first if len(blocks) == 1 else following
            response = self._answer((yield build(blocks[-1])), final, what)
        if isinstance(response, ActionResponseNormal):
            if response.result != ActionResult.SUCCESS:
                raise ActionFailedError(response.result, what)
            if response.return_parameters is None:
                return None
            return _data_or_raise(response.return_parameters, f"{what} return parameters")
        assert isinstance(response, ActionResponseWithPblock)
        raw = yield from self._long_action(response, what)
        return _read_return_parameters(raw, what)

    def _long_action(self, first: ActionResponseWithPblock, what: str) -> Exchange[bytes]:
        """Collects action-response-with-pblock blocks, asking for each next one with
        action-request-next-pblock (dlms.md 2.4)."""
        raw = bytearray()
        block = first.block
        while True:
            raw += block.raw_data
            if len(raw) > MAX_LONG_TRANSFER:
                raise DlmsProtocolError(f"{what}: more than {MAX_LONG_TRANSFER} octets in blocks")
            if block.last_block:
                return bytes(raw)
            request = ActionRequestNextPblock(invoke=self.invoke, block_number=block.block_number)
            following = self._answer((yield request.encode()), (ActionResponseWithPblock,), what)
            assert isinstance(following, ActionResponseWithPblock)
            if following.block.block_number != block.block_number + 1:
                raise DlmsProtocolError(
                    f"{what}: block {following.block.block_number} after {block.block_number}"
                )
            block = following.block

    # --- COSEM conveniences ----------------------------------------------------------------

    def object_list(self) -> Exchange[list[ObjectListEntry]]:
        """The current association's object list with access rights (0.0.40.0.0.255 attribute
        2, dlms.md 6): what a head-end discovers first."""
        data = yield from self.get(CURRENT_ASSOCIATION, 15, 2)
        return parse_object_list(data)

    def capture_objects(self, obis: Obis | str) -> Exchange[list[CaptureObject]]:
        """A profile's columns (Profile generic attribute 3, dlms.md 6)."""
        data = yield from self.get(obis, PROFILE_GENERIC_CLASS_ID, 3)
        return parse_capture_objects(data)

    def profile(
        self,
        obis: Obis | str,
        start: datetime | CosemDateTime,
        end: datetime | CosemDateTime,
        columns: Sequence[CaptureObject] = (),
    ) -> Exchange[list[tuple[Data, ...]]]:
        """The profile rows captured from ``start`` to ``end``: the buffer read with range
        selective access restricted by the clock (selector 1, dlms.md 2.3). Each row holds one
        value per capture object (or per ``columns``, when given)."""
        buffer = yield from self.get(
            obis, PROFILE_GENERIC_CLASS_ID, 2, range_access(start, end, columns=columns)
        )
        try:
            entries = buffer.as_items()
        except TypeError:
            raise DlmsProtocolError(f"profile {obis}: the buffer is not an array") from None
        rows = []
        for entry in entries:
            try:
                rows.append(entry.as_items())
            except TypeError:
                rows.append((entry,))
        return rows

    # --- answers ---------------------------------------------------------------------------

    def _require_association(self) -> None:
        if self.negotiated is None:
            raise NotAssociatedError("not associated: open the association first")

    def _plain_value(self, answer: bytes) -> Data | None:
        """The value in ``C4 01 <our invoke id> 00 <Data>``, the get-response-normal that
        answers nearly every GET, read without building the response; None for any other
        answer (a refusal, blocks, another invoke id, malformed octets), which :meth:`_answer`
        then reads and names. Both readings of a well-formed value give the same Data."""
        if (
            len(answer) > 4
            and answer[0] == _GET_RESPONSE_TAG
            and answer[1] == GetResponseNormal.CHOICE
            and answer[3] == 0  # Get-Data-Result CHOICE: data
            and answer[2] & 0x0F == self.invoke.invoke_id
        ):
            try:
                value, end = decode_prefix(answer, 4)
            except (DlmsDecodeError, ValueError, TypeError):
                return None
            if end == len(answer):
                return value
        return None

    def _decode(self, answer: bytes, what: str) -> Apdu:
        try:
            return decode_apdu(answer)
        except DlmsDecodeError as problem:
            raise DlmsProtocolError(f"{what}: malformed answer: {problem}") from None

    def _answer(self, answer: bytes, expected: tuple[type[_Response], ...], what: str) -> Apdu:
        """The decoded answer, if it is one of ``expected`` with our invoke id; the meter's
        refusals (exception-response, ConfirmedServiceError) become typed errors."""
        response = self._decode(answer, what)
        if isinstance(response, ExceptionResponse):
            raise self._exception(response, what)
        if isinstance(response, ConfirmedServiceError):
            raise ConfirmedServiceErrorResponse(
                response.service, response.error_type, response.value, what
            )
        if not isinstance(response, expected):
            names = " or ".join(_apdu_name(kind) for kind in expected)
            raise self._unexpected(response, names, what)
        if response.invoke.invoke_id != self.invoke.invoke_id:
            raise DlmsProtocolError(
                f"{what}: answer to invoke id {response.invoke.invoke_id}, "
                f"expected {self.invoke.invoke_id}"
            )
        return response

    @staticmethod
    def _exception(response: ExceptionResponse, what: str) -> ExceptionResponseError:
        return ExceptionResponseError(
            response.state_error, response.service_error, what, response.invocation_counter
        )

    @staticmethod
    def _unexpected(response: Apdu, expected: str, what: str) -> DlmsProtocolError:
        return DlmsProtocolError(f"{what}: expected {expected}, got {_apdu_name(type(response))}")


_Response: TypeAlias = (
    GetResponseNormal
    | GetResponseWithDatablock
    | GetResponseWithList
    | SetResponseNormal
    | SetResponseDatablock
    | SetResponseLastDatablock
    | ActionResponseNormal
    | ActionResponseWithPblock
    | ActionResponseNextPblock
)


def _checked_initiate_response(
    response: InitiateResponse | ConfirmedServiceError | None,
) -> InitiateResponse:
    if not isinstance(response, InitiateResponse):
        raise DlmsProtocolError("association: the AARE carries no InitiateResponse")
    if response.vaa_name != 0x0007:
        raise DlmsProtocolError(
            f"association: VAA name 0x{response.vaa_name:04X} is not LN (0x0007)"
        )
    return response


def _apdu_name(kind: type) -> str:
    """``GetResponseWithDatablock`` -> ``get-response-with-datablock``."""
    name = kind.__name__
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def _describe_get(target: AttributeDescriptor) -> str:
    return f"GET {target.instance} class {target.class_id} attribute {target.attribute_id}"


def _data_or_raise(result: GetDataResult, what: str) -> Data:
    if isinstance(result, DataAccessResult):
        raise DataAccessError(result, what)
    return result


def _check_access(result: DataAccessResult, what: str) -> None:
    if result != DataAccessResult.SUCCESS:
        raise DataAccessError(result, what)


def _read_result_list(raw: bytes, what: str) -> list[GetDataResult]:
    """The reassembled blocks of a get-response-with-list: SEQUENCE OF Get-Data-Result."""
    reader = AxdrReader(raw)
    try:
        count = reader.count("Get-Data-Results", 2)
        results = [read_get_data_result(reader) for _ in range(count)]
        reader.end("result list")
    except DlmsDecodeError as problem:
        raise DlmsProtocolError(f"{what}: the reassembled blocks: {problem}") from None
    return results


def _read_return_parameters(raw: bytes, what: str) -> Data | None:
    """The reassembled pblocks of an ACTION answer (dlms.md 2.4). They carry the encoded
    Action-Response-With-Optional-Data (action-result, then the optional Get-Data-Result), as
    our server sends them; a bare encoded Data is also accepted."""
    reader = AxdrReader(raw)
    try:
        outcome = ActionOutcome.read(reader)
        reader.end("action response")
    except DlmsDecodeError:
        try:
            return decode(raw)
        except DlmsDecodeError as problem:
            raise DlmsProtocolError(f"{what}: the reassembled blocks: {problem}") from None
    if outcome.result != ActionResult.SUCCESS:
        raise ActionFailedError(outcome.result, what)
    if outcome.return_parameters is None:
        return None
    return _data_or_raise(outcome.return_parameters, f"{what} return parameters")
