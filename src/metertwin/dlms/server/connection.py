"""The DLMS/COSEM server of one connection, sans-IO: APDU in, response APDU out (architecture
principle 4). The transport (TCP wrapper, HDLC) feeds it whole APDUs with the client SAP they
came from; it never sees a socket or a clock.

An application association is identified by its (client SAP, server SAP) pair, so one
:class:`ServerConnection` (one server SAP) keeps one association per client SAP. Each is an
explicit state machine (:class:`AssociationState`, moved only through :data:`TRANSITIONS`):
idle -> AARQ received -> associated (an :class:`AssociationSession` serving GET/SET/ACTION,
``session.py``) or back to idle when refused; associated -> released on RLRQ, on a new AARQ
from the same client SAP, or when the connection closes. HLS pass 3 pending (between an AARE
carrying StoC and the client's reply_to_HLS_authentication) is in the table for the HLS
mechanisms; this server does not enter it yet (HLS is still refused, item 4 below).

Every xDLMS response leaves through one exit (``_respond``): encoded by the session, which
cuts it into blocks when it exceeds the client's max receive PDU size, then checked against
that size (pdu-too-long otherwise). Protection (ciphering) is to go in that exit.

ACSE (dlms.md 3), in the order the checks are made:

1. A malformed AARQ: AARE rejected-permanent, acse-service-provider no-reason-given. A
   protocol-version without version1: acse-service-provider no-common-acse-version.
2. Application context other than LN without ciphering: rejected-permanent, diagnostic 2
   application-context-name-not-supported.
3. A client SAP the backend has no association for: rejected-permanent, diagnostic 1
   no-reason-given (nothing in the AARQ is "wrong"; the client address itself is unknown).
4. Mechanism: an unknown OID, a mechanism other than the association's, or any HLS
   mechanism (not implemented yet): 11 authentication-mechanism-name-not-recognised; none (or
   lowest) where LLS is required: 12 authentication-mechanism-name-required; LLS without a
   password: 14 authentication-required.
5. The xDLMS InitiateRequest in user-information: absent or unreadable: ConfirmedServiceError
   initiate other; DLMS version below 6: dlms-version-too-low (dlms.md 5, AARE with initiate
   error, exact bytes); client max receive PDU size below 12: pdu-size-too-short; no common
   GET/SET/ACTION: incompatible-conformance. Each goes in the AARE user-information with
   rejected-permanent, diagnostic no-reason-given. A version above 6 is answered with 6.
6. The password (``backend.login``, which counts failures and locks): wrong: 13
   authentication-failure; during a lockout, right or wrong: rejected-transient, 13
   authentication-failure (the refusal is temporary: the same secret may pass later, and a
   head-end can tell a lock from a wrong secret without learning whether its guess was right).

Only then is the association accepted: conformance = proposed AND the policy's AND
:data:`IMPLEMENTED_CONFORMANCE`, server max receive PDU size from :class:`ServerSettings`,
vaa-name 0x0007. Refusals carry no user-information except initiate errors (dlms.md 5: LLS
wrong password, minimal variant).

A backend that is a :class:`~metertwin.cosem.backend.RefusalListener` hears of every refused
AARQ, so the meter can log it, except a wrong or locked password (``login`` said so and
counted it) and a refusal because the backend itself failed (rejected-transient).

Decisions where the standard leaves room:

- An AARQ from a client SAP that is already associated re-associates: the old association is
  released first (``backend.released``), exactly as if the connection had been lost, then the
  AARQ is judged afresh. A head-end that retries an AARQ whose AARE it missed gets an
  association rather than a refusal, and nothing of the old association survives.
- RLRQ is answered with RLRE whether or not an association exists (release is idempotent: a
  client tidying up after a refused AARQ gets the answer it expects). The RLRE has a reason
  (normal) only when the RLRQ had one (``6203800100`` -> ``6303800100``, ``6200`` -> ``6300``),
  and an InitiateResponse when the RLRQ carried an InitiateRequest (dlms.md 5).
- GET is always confirmed; an unconfirmed SET or ACTION (service-class bit clear) is carried
  out and not answered.

exception-response (dlms.md 4) for what cannot be served:

- ``D8 01 01`` service-not-allowed / operation-not-possible: no association for this client.
- ``D8 01 02`` service-not-allowed / service-not-supported: not in the negotiated conformance.
- ``D8 02 02`` service-unknown / service-not-supported: a tag or CHOICE this server does not
  serve (ciphered APDUs, responses, notifications, general-block-transfer).
- ``D8 02 03`` service-unknown / other-reason: a malformed APDU.
- ``D8 01 04`` service-not-allowed / pdu-too-long: a request longer than the server's max
  receive PDU size, or an answer that cannot fit the client's.
- ``D8 01 03`` service-not-allowed / other-reason: a fault inside this server (logged).

Nothing raises out of :meth:`ServerConnection.receive`: a failing backend call becomes
hardware-fault for that attribute or method, and a failure anywhere else is logged and
answered ``D8 01 03``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from metertwin.codec.enums import (
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    ApplicationContext,
    AssociationResult,
    AuthenticationMechanism,
    Conformance,
    InitiateError,
    ReleaseResponseReason,
)
from metertwin.codec.errors import DlmsDecodeError, UnsupportedApduError
from metertwin.cosem.access import AssociationContext, AssociationPolicy
from metertwin.cosem.backend import (
    AssociationRefusal,
    DeviceBackend,
    LoginResult,
    RefusalListener,
)
from metertwin.dlms.apdu import (
    Aare,
    Aarq,
    ConfirmedServiceError,
    GetRequestNormal,
    InitiateRequest,
    InitiateResponse,
    Rlre,
    Rlrq,
    decode_apdu,
)
from metertwin.dlms.capabilities import (
    DEFAULT_MAX_RECEIVE_PDU_SIZE,
    DLMS_VERSION,
    IMPLEMENTED_CONFORMANCE,
    MIN_PDU_SIZE,
    VAA_NAME_LN,
)
from metertwin.dlms.server.session import (
    INTERNAL_FAULT,
    MALFORMED,
    NOT_ASSOCIATED,
    PDU_TOO_LONG,
    UNKNOWN_SERVICE,
    AssociationSession,
    Request,
    is_request,
    is_unconfirmed,
)

__all__ = [
    "TRANSITIONS",
    "AssociationEvent",
    "AssociationState",
    "ServerConnection",
    "ServerSettings",
]

_log = logging.getLogger(__name__)

_SERVICES = Conformance.GET | Conformance.SET | Conformance.ACTION
_REMEMBERED_GETS = 64
"""How many distinct get-request-normal APDUs a connection keeps decoded (see ``_receive``)."""
_AARQ_TAG, _RLRQ_TAG = Aarq.TAG, Rlrq.TAG
_HIGH_MECHANISMS = frozenset(AuthenticationMechanism) - {
    AuthenticationMechanism.LOWEST,
    AuthenticationMechanism.LOW,
}


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What the server offers every association of a connection.

    ``max_receive_pdu_size`` is announced in the InitiateResponse (longer requests get
    pdu-too-long); ``max_long_transfer_size`` bounds the octets a SET or ACTION may send in
    blocks, so a client cannot make the meter hold unbounded data.
    """

    max_receive_pdu_size: int = DEFAULT_MAX_RECEIVE_PDU_SIZE
    max_long_transfer_size: int = 1 << 20

    def __post_init__(self) -> None:
        if not MIN_PDU_SIZE <= self.max_receive_pdu_size <= 0xFFFF:
            raise ValueError(
                f"max_receive_pdu_size {self.max_receive_pdu_size} is outside {MIN_PDU_SIZE}..65535"
            )
        if self.max_long_transfer_size < 0:
            raise ValueError("max_long_transfer_size must not be negative")


class _Refused(Exception):
    """An AARQ refused: the AARE fields that say why, and whether the backend decided it
    (its login's verdict, or its own failure) and so needs no telling."""

    def __init__(
        self,
        diagnostic: AcseServiceUserDiagnostic | AcseServiceProviderDiagnostic,
        result: AssociationResult = AssociationResult.REJECTED_PERMANENT,
        initiate_error: InitiateError | None = None,
        *,
        by_backend: bool = False,
    ) -> None:
        super().__init__(diagnostic.name)
        self.diagnostic = diagnostic
        self.result = result
        self.initiate_error = initiate_error
        self.by_backend = by_backend

    def aare(self) -> bytes:
        user_information = None
        if self.initiate_error is not None:
            user_information = ConfirmedServiceError.initiate(self.initiate_error).encode()
        return Aare(
            result=self.result, diagnostic=self.diagnostic, user_information=user_information
        ).encode()


class AssociationState(Enum):
    """Where the association of one client SAP stands (issue 12; Green Book 4.5: the
    association_status of class 15 shows non-associated, association-pending, associated)."""

    IDLE = "idle"  # no association: only AARQ and RLRQ are served
    AARQ_RECEIVED = "AARQ received"  # an AARQ is being judged
    HLS_PENDING = "HLS pass 3 pending"  # AARE sent with StoC; only reply_to_HLS_authentication
    ASSOCIATED = "associated"  # GET, SET and ACTION are served
    RELEASED = "released"  # RLRQ, a new AARQ, a failed pass 3 or the connection closed


class AssociationEvent(Enum):
    """What moves an association from one state to the next (:data:`TRANSITIONS`)."""

    AARQ = "AARQ"
    ACCEPTED = "accepted"
    CHALLENGED = "challenged"  # HLS: the AARE carries StoC
    REFUSED = "refused"
    PROVEN = "proven"  # pass 3 verified
    PROOF_FAILED = "proof failed"
    RELEASED = "released"


_S, _E = AssociationState, AssociationEvent
TRANSITIONS: Mapping[tuple[AssociationState, AssociationEvent], AssociationState] = (
    MappingProxyType(
        {
            (_S.IDLE, _E.AARQ): _S.AARQ_RECEIVED,
            (_S.AARQ_RECEIVED, _E.ACCEPTED): _S.ASSOCIATED,
            (_S.AARQ_RECEIVED, _E.CHALLENGED): _S.HLS_PENDING,
            (_S.AARQ_RECEIVED, _E.REFUSED): _S.IDLE,
            (_S.HLS_PENDING, _E.PROVEN): _S.ASSOCIATED,
            (_S.HLS_PENDING, _E.PROOF_FAILED): _S.IDLE,
            (_S.HLS_PENDING, _E.RELEASED): _S.RELEASED,
            (_S.ASSOCIATED, _E.RELEASED): _S.RELEASED,
        }
    )
)
"""Every transition there is; any other is a fault of this server (answered ``D8 01 03``)."""
_ASSOCIATED = AssociationState.ASSOCIATED


class _Association:
    """The association of one client SAP: its state and, once an AARQ is accepted, the
    session serving it."""

    __slots__ = ("client_sap", "session", "state")

    def __init__(self, client_sap: int) -> None:
        self.client_sap = client_sap
        self.state = AssociationState.IDLE
        self.session: AssociationSession | None = None

    def move(self, event: AssociationEvent) -> None:
        target = TRANSITIONS.get((self.state, event))
        if target is None:
            raise RuntimeError(f"no transition from {self.state.value} on {event.value}")
        self.state = target


class ServerConnection:
    """The DLMS server seen by one connection to one logical device (``server_sap``).

    ``receive(client_sap, apdu)`` returns the response APDU, or None when none is due;
    ``close()`` ends every association (connection lost). It never raises on any input.
    """

    def __init__(
        self,
        backend: DeviceBackend,
        server_sap: int,
        settings: ServerSettings | None = None,
    ) -> None:
        self.backend = backend
        self.server_sap = server_sap
        self.settings = settings or ServerSettings()
        self._listener = backend if isinstance(backend, RefusalListener) else None
        self._associations: dict[int, _Association] = {}  # pending or associated only
        self._decoded_gets: dict[bytes, GetRequestNormal] = {}

    @property
    def associations(self) -> Mapping[int, AssociationContext]:
        """The live associations by client SAP (read-only view)."""
        return MappingProxyType(
            {
                sap: association.session.context
                for sap, association in self._associations.items()
                if association.state is _ASSOCIATED and association.session is not None
            }
        )

    @property
    def _sessions(self) -> Mapping[int, AssociationSession]:
        """The sessions by client SAP, pending ones included (for tests that reach in)."""
        return {
            sap: association.session
            for sap, association in self._associations.items()
            if association.session is not None
        }

    def state(self, client_sap: int) -> AssociationState:
        """Where the association of ``client_sap`` stands (idle when there is none)."""
        association = self._associations.get(client_sap)
        return AssociationState.IDLE if association is None else association.state

    def is_associated(self, client_sap: int) -> bool:
        return self.state(client_sap) is _ASSOCIATED

    def receive(self, client_sap: int, apdu: bytes) -> bytes | None:
        """The answer to one APDU from ``client_sap`` (None when no answer is due)."""
        try:
            return self._receive(client_sap, bytes(apdu))
        except Exception:
            _log.exception("server fault on an APDU from client SAP %s", client_sap)
            association = self._associations.get(client_sap)
            if association is not None and association.session is not None:
                association.session.abort_transfer()
            return INTERNAL_FAULT

    def close(self) -> None:
        """The connection is gone: every association ends, long transfers are dropped."""
        associations = list(self._associations.values())
        self._associations.clear()
        for association in associations:
            self._end(association)

    # --- dispatch ----------------------------------------------------------------------------

    def _receive(self, client_sap: int, apdu: bytes) -> bytes | None:
        if not apdu:
            return MALFORMED
        tag = apdu[0]
        if tag == _AARQ_TAG:
            return self._associate(client_sap, apdu)
        if tag == _RLRQ_TAG:
            return self._release(client_sap, apdu)
        association = self._associations.get(client_sap)
        session = None if association is None else association.session
        if session is not None and len(apdu) > self.settings.max_receive_pdu_size:
            session.abort_transfer()
            return PDU_TOO_LONG
        remembered = self._decoded_gets.get(apdu)
        request = remembered if remembered is not None else self._decode_request(client_sap, apdu)
        if isinstance(request, bytes):
            return request  # the exception-response refusing it
        if session is None or association is None or association.state is not _ASSOCIATED:
            return None if is_unconfirmed(request) else NOT_ASSOCIATED
        return self._respond(session, session.serve(request))

    @staticmethod
    def _respond(session: AssociationSession, response: bytes | None) -> bytes | None:
        """The one exit of every xDLMS response: encoded by the session (in blocks when
        it is too long for one), then checked against the client's max receive PDU size."""
        if response is not None and len(response) > session.limit:
            _log.warning("an answer of %d octets does not fit; pdu-too-long", len(response))
            session.abort_transfer()
            return PDU_TOO_LONG
        return response

    def _decode_request(self, client_sap: int, apdu: bytes) -> Request | bytes:
        """The decoded request, or the exception-response refusing the APDU.

        A head-end polling a meter sends the same few GETs again and again, octet for octet,
        so a get-request-normal without selective access is remembered by its octets and the
        next identical APDU is not decoded again. Decoding is a pure function of the octets
        and its result is immutable, so the remembered request is exactly the one a new
        decoding would give; the rights and the value are looked up afresh every time.
        """
        try:
            request = decode_apdu(apdu)
        except UnsupportedApduError:
            return UNKNOWN_SERVICE
        except DlmsDecodeError as problem:
            _log.debug("malformed APDU from client SAP %s: %s", client_sap, problem)
            return MALFORMED
        if not is_request(request):
            return UNKNOWN_SERVICE
        if isinstance(request, GetRequestNormal) and request.access is None:
            remembered = self._decoded_gets
            if len(remembered) >= _REMEMBERED_GETS:
                remembered.clear()  # a new polling pattern: start again
            remembered[apdu] = request
        return request

    # --- ACSE --------------------------------------------------------------------------------

    def _associate(self, client_sap: int, raw: bytes) -> bytes:
        previous = self._associations.pop(client_sap, None)
        if previous is not None:
            _log.info("client SAP %s re-associates; the previous association ends", client_sap)
            self._end(previous)
        association = _Association(client_sap)
        association.move(AssociationEvent.AARQ)
        try:
            session, response = self._accept(client_sap, raw)
        except _Refused as refusal:
            association.move(AssociationEvent.REFUSED)
            _log.info("AARQ from client SAP %s refused: %s", client_sap, refusal)
            if not refusal.by_backend:
                self._tell_refused(client_sap, refusal)
            return refusal.aare()
        association.session = session
        association.move(AssociationEvent.ACCEPTED)
        self._associations[client_sap] = association
        return response

    def _accept(self, client_sap: int, raw: bytes) -> tuple[AssociationSession, bytes]:
        try:
            aarq = decode_apdu(raw)
        except DlmsDecodeError:
            raise _Refused(AcseServiceProviderDiagnostic.NO_REASON_GIVEN) from None
        assert isinstance(aarq, Aarq)  # decode_apdu returns Aarq for tag 0x60 or raises
        version = aarq.protocol_version
        if version is not None and not (version.length and version[0]):
            raise _Refused(AcseServiceProviderDiagnostic.NO_COMMON_ACSE_VERSION)
        if aarq.application_context_name != ApplicationContext.LOGICAL_NAME:
            raise _Refused(AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
        policy = self._policy(client_sap)
        _check_mechanism(policy.mechanism, aarq.mechanism_name)
        initiate, conformance = _negotiate(aarq.user_information, policy)
        self._login(policy, aarq.calling_authentication_value)
        context = AssociationContext(
            policy=policy,
            client_sap=client_sap,
            server_sap=self.server_sap,
            conformance=conformance,
            client_max_receive_pdu_size=initiate.client_max_receive_pdu_size,
            server_max_receive_pdu_size=self.settings.max_receive_pdu_size,
            authenticated=policy.mechanism != AuthenticationMechanism.LOWEST,
        )
        try:
            self.backend.associated(context)
        except Exception:
            _log.exception("backend refused to record the association of %s", client_sap)
            raise _Refused(
                AcseServiceUserDiagnostic.NO_REASON_GIVEN,
                AssociationResult.REJECTED_TRANSIENT,
                by_backend=True,
            ) from None
        session = AssociationSession(self.backend, context, self.settings.max_long_transfer_size)
        response = Aare(
            result=AssociationResult.ACCEPTED,
            diagnostic=AcseServiceUserDiagnostic.NULL,
            user_information=self._initiate_response(initiate, conformance),
        ).encode()
        return session, response

    def _policy(self, client_sap: int) -> AssociationPolicy:
        try:
            policy = self.backend.association_policy(client_sap)
        except Exception:
            _log.exception("backend association_policy(%s) failed", client_sap)
            raise _Refused(
                AcseServiceUserDiagnostic.NO_REASON_GIVEN,
                AssociationResult.REJECTED_TRANSIENT,
                by_backend=True,
            ) from None
        if policy is None:
            raise _Refused(AcseServiceUserDiagnostic.NO_REASON_GIVEN)
        return policy

    def _login(self, policy: AssociationPolicy, secret: bytes | None) -> None:
        if policy.mechanism == AuthenticationMechanism.LOWEST:
            secret = None
        elif secret is None:
            raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED)
        try:
            result = self.backend.login(policy, secret)
        except Exception:
            _log.exception("backend login for %s failed", policy.name)
            raise _Refused(
                AcseServiceUserDiagnostic.NO_REASON_GIVEN,
                AssociationResult.REJECTED_TRANSIENT,
                by_backend=True,
            ) from None
        if result == LoginResult.ACCEPTED:
            return
        if result == LoginResult.SECRET_REQUIRED:
            raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED)
        if result == LoginResult.LOCKED:
            raise _Refused(
                AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE,
                AssociationResult.REJECTED_TRANSIENT,
                by_backend=True,
            )
        raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE, by_backend=True)

    def _tell_refused(self, client_sap: int, refusal: _Refused) -> None:
        listener = self._listener
        if listener is None:
            return
        try:
            listener.association_refused(
                AssociationRefusal(client_sap, refusal.diagnostic, refusal.initiate_error)
            )
        except Exception:
            _log.exception("backend association_refused() failed for client SAP %s", client_sap)

    def _initiate_response(self, initiate: InitiateRequest, conformance: Conformance) -> bytes:
        return InitiateResponse(
            negotiated_conformance=conformance,
            server_max_receive_pdu_size=self.settings.max_receive_pdu_size,
            negotiated_dlms_version=DLMS_VERSION,
            negotiated_quality_of_service=initiate.proposed_quality_of_service,
            vaa_name=VAA_NAME_LN,
        ).encode()

    def _release(self, client_sap: int, raw: bytes) -> bytes:
        try:
            rlrq = decode_apdu(raw)
        except DlmsDecodeError:
            return MALFORMED
        assert isinstance(rlrq, Rlrq)  # decode_apdu returns Rlrq for tag 0x62 or raises
        association = self._associations.pop(client_sap, None)
        user_information = None
        if association is not None:
            was_associated = association.state is _ASSOCIATED
            self._end(association)
            initiate = _initiate_request(rlrq.user_information)
            if was_associated and initiate is not None and association.session is not None:
                conformance = association.session.context.conformance
                user_information = self._initiate_response(initiate, conformance)
        reason = None if rlrq.reason is None else ReleaseResponseReason.NORMAL
        return Rlre(reason=reason, user_information=user_information).encode()

    def _end(self, association: _Association) -> None:
        """Release an association (RLRQ, a new AARQ, the connection closed); the backend
        hears of it only if it heard of its start."""
        was_associated = association.state is _ASSOCIATED
        association.move(AssociationEvent.RELEASED)
        session = association.session
        if session is None:
            return
        session.abort_transfer()
        if was_associated:
            self._released(session.context)

    def _released(self, context: AssociationContext) -> None:
        try:
            self.backend.released(context)
        except Exception:
            _log.exception("backend released() failed for client SAP %s", context.client_sap)


def _check_mechanism(
    required: AuthenticationMechanism, proposed: AuthenticationMechanism | bytes | None
) -> None:
    """Refuse an AARQ whose mechanism-name does not open this association (dlms.md 3.4)."""
    if isinstance(proposed, bytes) or proposed in _HIGH_MECHANISMS:
        raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
    lowest = proposed is None or proposed == AuthenticationMechanism.LOWEST
    if required == AuthenticationMechanism.LOWEST:
        if not lowest:
            raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
        return
    if lowest:
        raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED)
    if required != proposed:  # an HLS association: not implemented yet
        raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)


def _initiate_request(user_information: bytes | None) -> InitiateRequest | None:
    if user_information is None:
        return None
    try:
        request = decode_apdu(user_information)
    except DlmsDecodeError:
        return None
    return request if isinstance(request, InitiateRequest) else None


def _negotiate(
    user_information: bytes | None, policy: AssociationPolicy
) -> tuple[InitiateRequest, Conformance]:
    """The InitiateRequest and the negotiated conformance, or the initiate error (dlms.md 3.3)."""
    request = _initiate_request(user_information)
    if request is None:
        raise _refused_initiate(InitiateError.OTHER)
    if request.proposed_dlms_version < DLMS_VERSION:
        raise _refused_initiate(InitiateError.DLMS_VERSION_TOO_LOW)
    if request.client_max_receive_pdu_size < MIN_PDU_SIZE:
        raise _refused_initiate(InitiateError.PDU_SIZE_TOO_SHORT)
    conformance = request.proposed_conformance & policy.conformance & IMPLEMENTED_CONFORMANCE
    if not conformance & _SERVICES:
        raise _refused_initiate(InitiateError.INCOMPATIBLE_CONFORMANCE)
    return request, Conformance(conformance)


def _refused_initiate(error: InitiateError) -> _Refused:
    return _Refused(AcseServiceUserDiagnostic.NO_REASON_GIVEN, initiate_error=error)
