"""The DLMS/COSEM server of one connection, sans-IO: APDU in, response APDU out (architecture
principle 4). The transport (TCP wrapper, HDLC) feeds it whole APDUs with the client SAP they
came from; it never sees a socket or a clock.

An application association is identified by its (client SAP, server SAP) pair, so one
:class:`ServerConnection` (one server SAP) keeps one association per client SAP. Each is an
explicit state machine (:class:`AssociationState`, moved only through :data:`TRANSITIONS`):
idle -> AARQ received -> associated (an :class:`AssociationSession` serving GET/SET/ACTION,
``session.py``), or -> HLS pass 3 pending for the HLS mechanisms (the AARE carries StoC;
only reply_to_HLS_authentication is served, ``authentication.py``), or back to idle when
refused; pending -> associated when pass 3 verifies, idle when it does not; associated ->
released on RLRQ, on a new AARQ from the same client SAP, or when the connection closes.

An association whose policy names a Security setup (a backend that is a
:class:`~metertwin.cosem.backend.SecurityBackend`) has an
:class:`~metertwin.dlms.server.protection.AssociationProtection`: every request is opened
by it before it is decoded, and every response sealed by it on the way out.

Every xDLMS response leaves through one exit (``_respond``): encoded by the session, which
cuts it into blocks when it exceeds the room it has (the client's max receive PDU size less
what protection may add), checked against that room (pdu-too-long otherwise), then
protected as the Security setup asks.

ACSE (dlms.md 3), in the order the checks are made:

1. A malformed AARQ: AARE rejected-permanent, acse-service-provider no-reason-given. A
   protocol-version without version1: acse-service-provider no-common-acse-version.
2. Application context other than LN (with or without ciphering): rejected-permanent,
   diagnostic 2 application-context-name-not-supported.
3. A client SAP the backend has no association for: rejected-permanent, diagnostic 1
   no-reason-given (nothing in the AARQ is "wrong"; the client address itself is unknown).
4. Application context LN with ciphering for an association without a Security setup, or
   LN without ciphering where the setup's policy asks for protected requests: 2. A setup the
   backend lacks, or one without what the HLS mechanism needs (keys, secret, ECDSA keys):
   1 no-reason-given.
5. Mechanism: an unknown OID, a mechanism other than the association's, MD5 or SHA-1, or an
   HLS mechanism on an association without a Security setup: 11
   authentication-mechanism-name-not-recognised; none (or lowest) where LLS or HLS is
   required: 12 authentication-mechanism-name-required; LLS without a password: 14
   authentication-required.
6. With a Security setup: a calling-AP-title that is absent (and not known from the setup),
   not 8 octets, or not the setup's client title: 3 calling-AP-title-not-recognized (logged
   as an unknown system title). In the ciphering context the InitiateRequest must open
   (glo-initiate-request or a general form) with at least the policy's protection and a
   fresh invocation counter; otherwise ConfirmedServiceError initiate other (logged). A
   dedicated key is taken only from an encrypted InitiateRequest, of the suite's length.
7. The xDLMS InitiateRequest in user-information: absent or unreadable: ConfirmedServiceError
   initiate other; DLMS version below 6: dlms-version-too-low (dlms.md 5, AARE with initiate
   error, exact bytes); client max receive PDU size below 12: pdu-size-too-short; no common
   GET/SET/ACTION: incompatible-conformance; with protection, a client max receive PDU size
   below 12 plus the protection overhead: pdu-size-too-short. Each goes in the AARE
   user-information with rejected-permanent, diagnostic no-reason-given. A version above 6
   is answered with 6.
8. HLS: CtoS absent: 14; not 8 to 64 octets: 13; during a lockout (``hls_allowed``):
   rejected-transient 13. Otherwise accepted with diagnostic 14 authentication-required, the
   server's system title, the mechanism and StoC, the association pending. Pass 3: a proof
   that verifies (``hls_verified`` counts it) is answered success with f(CtoS); any other is
   answered read-write-denied and the association ends (logged, counted toward the lockout).
   LLS: the password (``backend.login``, which counts failures and locks): wrong: 13
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
  serve (responses, notifications, general-block-transfer, ciphered APDUs on an association
  without a Security setup).
- ``D8 01 05`` service-not-allowed / deciphering-error: a protected request that does not
  open, or a request less protected than the security policy asks (``protection.py``).
- ``D8 01 06 <counter>`` service-not-allowed / invocation-counter-error: a replayed
  invocation counter, with the counter the meter expects next.
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
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.enums import (
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    ActionResult,
    ApplicationContext,
    AssociationResult,
    AuthenticationMechanism,
    Conformance,
    InitiateError,
    ReleaseResponseReason,
)
from metertwin.codec.errors import DlmsDecodeError, UnsupportedApduError
from metertwin.codec.obis import Obis
from metertwin.cosem.access import AssociationContext, AssociationPolicy
from metertwin.cosem.backend import (
    AssociationRefusal,
    DeviceBackend,
    LoginResult,
    RefusalListener,
    SecurityBackend,
    SecurityEvent,
    SecurityMaterial,
)
from metertwin.dlms.apdu import (
    Aare,
    Aarq,
    ActionRequestNormal,
    ActionResponseNormal,
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
from metertwin.dlms.server.authentication import (
    SERVED_MECHANISMS,
    HlsExchange,
    challenge_fits,
    missing_for,
)
from metertwin.dlms.server.protection import (
    AssociationProtection,
    ProtectionRefusal,
    RequestForm,
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
_CONTEXTS = (ApplicationContext.LOGICAL_NAME, ApplicationContext.LOGICAL_NAME_WITH_CIPHERING)
_ASSOCIATION_LN_CLASS = 15
_REPLY_TO_HLS_AUTHENTICATION = 1
_CURRENT_ASSOCIATION = Obis(0, 0, 40, 0, 0, 255)
_CHALLENGE_LENGTH = 16


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
    """The association of one client SAP: its state, the session serving it once its AARQ is
    accepted, its protection when its policy names a Security setup, and the pending HLS
    exchange between pass 2 and pass 3."""

    __slots__ = ("answers", "client_sap", "hls", "protection", "session", "state")

    def __init__(self, client_sap: int) -> None:
        self.client_sap = client_sap
        self.state = AssociationState.IDLE
        self.session: AssociationSession | None = None
        self.protection: AssociationProtection | None = None
        self.hls: HlsExchange | None = None
        # plain GET APDUs (in the clear) -> what answers them; filled only while associated
        self.answers: dict[bytes, Callable[[], bytes]] = {}

    def move(self, event: AssociationEvent) -> None:
        target = TRANSITIONS.get((self.state, event))
        if target is None:
            raise RuntimeError(f"no transition from {self.state.value} on {event.value}")
        self.state = target


@dataclass(slots=True)
class _Accepted:
    """What an accepted AARQ leaves: the association's parts and the AARE to send."""

    session: AssociationSession
    protection: AssociationProtection | None
    hls: HlsExchange | None
    aare: bytes


class ServerConnection:
    """The DLMS server seen by one connection to one logical device (``server_sap``).

    ``receive(client_sap, apdu)`` returns the response APDU, or None when none is due;
    ``close()`` ends every association (connection lost). It never raises on any input.
    ``random_bytes`` draws the HLS challenges StoC (injectable for tests).
    """

    def __init__(
        self,
        backend: DeviceBackend,
        server_sap: int,
        settings: ServerSettings | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.backend = backend
        self.server_sap = server_sap
        self.settings = settings or ServerSettings()
        self._listener = backend if isinstance(backend, RefusalListener) else None
        self._security = backend if isinstance(backend, SecurityBackend) else None
        self._random_bytes = random_bytes
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
            if type(apdu) is not bytes:
                apdu = bytes(apdu)
            association = self._associations.get(client_sap)
            if association is not None and association.protection is None:
                answer = association.answers.get(apdu)
                if answer is not None:  # a plain GET answered before: read, encode, done
                    return answer()
            return self._receive(client_sap, apdu)
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
        association = self._associations.get(client_sap)
        if (
            association is not None
            and association.protection is None
            and association.state is _ASSOCIATED
        ):
            remembered = self._decoded_gets.get(apdu)
            if remembered is not None and association.session is not None:
                # a GET seen before, in the clear: no decoding, and its answer always fits
                # (``_get_normal`` cuts a long one into blocks)
                return self._plain_get(association, association.session, apdu, remembered)
        if not apdu:
            return MALFORMED
        tag = apdu[0]
        if tag == _AARQ_TAG:
            return self._associate(client_sap, apdu)
        if tag == _RLRQ_TAG:
            return self._release(client_sap, apdu)
        session = None if association is None else association.session
        if session is not None and len(apdu) > self.settings.max_receive_pdu_size:
            session.abort_transfer()
            return PDU_TOO_LONG
        form = None
        protection = None if association is None else association.protection
        if protection is not None:
            try:
                apdu, form = protection.open(apdu)
            except ProtectionRefusal as refusal:
                _log.info("protected APDU from client SAP %s refused: %s", client_sap, refusal)
                self._security_refused(protection.policy, refusal.event)
                return refusal.response
            if not apdu:
                return MALFORMED
        remembered = self._decoded_gets.get(apdu)
        request = remembered if remembered is not None else self._decode_request(client_sap, apdu)
        if isinstance(request, bytes):
            return request  # the exception-response refusing it
        if session is None or association is None:
            return None if is_unconfirmed(request) else NOT_ASSOCIATED
        if association.state is AssociationState.HLS_PENDING:
            return self._respond(association, self._prove(association, request), form)
        if association.state is not _ASSOCIATED:
            return None if is_unconfirmed(request) else NOT_ASSOCIATED
        if remembered is not None:  # a plain GET seen before, opened from its protection
            answer = association.answers.get(apdu)
            if answer is not None:
                return self._respond(association, answer(), form)
            plain = self._plain_get(association, session, apdu, remembered)
            return self._respond(association, plain, form)
        changing = protection is not None and not isinstance(request, GetRequestNormal)
        if changing and protection is not None:
            protection.reserve_counter()
        response = self._respond(association, session.serve(request), form)
        if changing and protection is not None:
            protection.refresh()  # a key_transfer or security_activate takes effect now
        return response

    @staticmethod
    def _plain_get(
        association: _Association,
        session: AssociationSession,
        apdu: bytes,
        request: GetRequestNormal,
    ) -> bytes:
        """The answer to a plain GET seen before on an open association; what answers it
        is remembered for the next time once the backend has a reader for it (its checks
        passed once: ``PlainReaders``), so a poll costs one read and one encoding."""
        answer = session.plain_get_answerer(request)
        if answer is None:
            return session.serve_plain_get(request)
        answers = association.answers
        if len(answers) >= _REMEMBERED_GETS:
            answers.clear()  # a new polling pattern: start again
        answers[apdu] = answer
        return answer()

    @staticmethod
    def _respond(
        association: _Association, response: bytes | None, form: RequestForm | None
    ) -> bytes | None:
        """The one exit of every xDLMS response: encoded by the session (in blocks when
        it is too long for one), checked against the room the session has, then protected
        as the association's Security setup asks."""
        session = association.session
        if response is None or session is None:
            return response
        if len(response) > session.limit:
            _log.warning("an answer of %d octets does not fit; pdu-too-long", len(response))
            session.abort_transfer()
            return PDU_TOO_LONG
        protection = association.protection
        if protection is None:
            return response
        sealed = protection.seal(response, form)
        if len(sealed) > session.context.client_max_receive_pdu_size:
            _log.warning("a protected answer of %d octets does not fit", len(sealed))
            session.abort_transfer()
            return PDU_TOO_LONG
        return sealed

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

    # --- HLS pass 3 and 4 --------------------------------------------------------------------

    def _prove(self, association: _Association, request: Request) -> bytes | None:
        """Serve a pending HLS association: only reply_to_HLS_authentication is allowed; its
        f(StoC) opens the association (answered f(CtoS)) or ends it (read-write-denied)."""
        hls, session = association.hls, association.session
        assert hls is not None and session is not None
        context = session.context
        if not _is_reply_to_hls(request, context.policy.logical_name):
            return None if is_unconfirmed(request) else NOT_ASSOCIATED
        assert isinstance(request, ActionRequestNormal)
        parameters = request.parameters
        proof = None
        if parameters is not None and parameters.type is DataType.OCTET_STRING:
            proof = parameters.value
        passed = isinstance(proof, bytes) and hls.verify(proof)
        verdict = self._hls_verified(context.policy, passed)
        if passed and verdict == LoginResult.ACCEPTED:
            counter = 0
            if hls.mechanism == AuthenticationMechanism.HIGH_GMAC:
                counter = self._next_counter(context.policy)
            server_proof = hls.server_proof(counter)
            association.move(AssociationEvent.PROVEN)
            association.hls = None
            context.authenticated = True
            self._tell_associated(context)
            return ActionResponseNormal(
                invoke=request.invoke,
                result=ActionResult.SUCCESS,
                return_parameters=Data.octet_string(server_proof),
            ).encode()
        _log.info("HLS pass 3 from client SAP %s failed", association.client_sap)
        self._security_refused(context.policy, SecurityEvent.HLS_FAILED)
        association.move(AssociationEvent.PROOF_FAILED)
        self._associations.pop(association.client_sap, None)
        response = ActionResponseNormal(
            invoke=request.invoke, result=ActionResult.READ_WRITE_DENIED
        ).encode()
        return None if is_unconfirmed(request) else response

    def _hls_verified(self, policy: AssociationPolicy, passed: bool) -> LoginResult:
        security = self._security
        if security is None:
            return LoginResult.LOCKED
        try:
            return security.hls_verified(policy, passed)
        except Exception:
            _log.exception("backend hls_verified for %s failed", policy.name)
            return LoginResult.LOCKED

    def _next_counter(self, policy: AssociationPolicy) -> int:
        assert self._security is not None
        return self._security.next_invocation_counter(policy)

    def _security_refused(self, policy: AssociationPolicy, event: SecurityEvent) -> None:
        security = self._security
        if security is None:
            return
        try:
            security.security_refused(policy, event)
        except Exception:
            _log.exception("backend security_refused(%s) failed", event.value)

    # --- ACSE --------------------------------------------------------------------------------

    def _associate(self, client_sap: int, raw: bytes) -> bytes:
        previous = self._associations.pop(client_sap, None)
        if previous is not None:
            _log.info("client SAP %s re-associates; the previous association ends", client_sap)
            self._end(previous)
        association = _Association(client_sap)
        association.move(AssociationEvent.AARQ)
        try:
            accepted = self._accept(client_sap, raw)
        except _Refused as refusal:
            association.move(AssociationEvent.REFUSED)
            _log.info("AARQ from client SAP %s refused: %s", client_sap, refusal)
            if not refusal.by_backend:
                self._tell_refused(client_sap, refusal)
            return refusal.aare()
        association.session = accepted.session
        association.protection = accepted.protection
        association.hls = accepted.hls
        if accepted.hls is None:
            association.move(AssociationEvent.ACCEPTED)
        else:
            association.move(AssociationEvent.CHALLENGED)
        self._associations[client_sap] = association
        return accepted.aare

    def _accept(self, client_sap: int, raw: bytes) -> _Accepted:
        try:
            aarq = decode_apdu(raw)
        except DlmsDecodeError:
            raise _Refused(AcseServiceProviderDiagnostic.NO_REASON_GIVEN) from None
        assert isinstance(aarq, Aarq)  # decode_apdu returns Aarq for tag 0x60 or raises
        version = aarq.protocol_version
        if version is not None and not (version.length and version[0]):
            raise _Refused(AcseServiceProviderDiagnostic.NO_COMMON_ACSE_VERSION)
        if aarq.application_context_name not in _CONTEXTS:
            raise _Refused(AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
        ciphering = aarq.application_context_name == ApplicationContext.LOGICAL_NAME_WITH_CIPHERING
        policy = self._policy(client_sap)
        material = self._material(policy)
        if ciphering and material is None:
            raise _Refused(AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
        hls_mechanism = policy.mechanism in _HIGH_MECHANISMS
        if hls_mechanism and material is None:  # an HLS association without a Security setup
            raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
        _check_mechanism(policy.mechanism, aarq.mechanism_name)
        protection = None
        if material is not None:
            protection = self._protection(policy, material, aarq.calling_ap_title)
            if protection.requires_protected_requests and not ciphering:
                raise _Refused(AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
            missing = missing_for(policy.mechanism, material) if hls_mechanism else None
            if missing is not None:
                _log.warning("association %s cannot run HLS: %s", policy.name, missing)
                raise _Refused(AcseServiceUserDiagnostic.NO_REASON_GIVEN)
        user_information, form = aarq.user_information, None
        if protection is not None and ciphering and user_information:
            user_information, form = self._open_initiate(protection, user_information)
        initiate, conformance = _negotiate(user_information, policy)
        if protection is not None:
            self._take_dedicated_key(protection, initiate, form)
            if initiate.client_max_receive_pdu_size < MIN_PDU_SIZE + protection.overhead:
                raise _refused_initiate(InitiateError.PDU_SIZE_TOO_SHORT)
        hls = None
        if hls_mechanism:
            assert material is not None and protection is not None
            hls = self._challenge(policy, material, protection, aarq.calling_authentication_value)
        else:
            self._login(policy, aarq.calling_authentication_value)
        context = AssociationContext(
            policy=policy,
            client_sap=client_sap,
            server_sap=self.server_sap,
            conformance=conformance,
            client_max_receive_pdu_size=initiate.client_max_receive_pdu_size,
            server_max_receive_pdu_size=self.settings.max_receive_pdu_size,
            authenticated=policy.mechanism != AuthenticationMechanism.LOWEST and hls is None,
            client_system_title=None if protection is None else protection.client_system_title,
        )
        if hls is None:
            self._tell_associated(context, refuse=True)
        session = AssociationSession(self.backend, context, self.settings.max_long_transfer_size)
        initiate_response = self._initiate_response(initiate, conformance)
        if protection is not None:
            session.limit -= protection.overhead
            if ciphering:
                initiate_response = protection.seal(initiate_response, form, initiate=True)
        aare = Aare(
            result=AssociationResult.ACCEPTED,
            diagnostic=(
                AcseServiceUserDiagnostic.NULL
                if hls is None
                else AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED
            ),
            application_context_name=aarq.application_context_name,
            responding_ap_title=None if protection is None else protection.server_system_title,
            acse_authentication=hls is not None,
            mechanism_name=None if hls is None else policy.mechanism,
            responding_authentication_value=None if hls is None else hls.stoc,
            user_information=initiate_response,
        ).encode()
        return _Accepted(session, protection, hls, aare)

    def _material(self, policy: AssociationPolicy) -> SecurityMaterial | None:
        """The live material of the policy's Security setup (None: the policy has none)."""
        if policy.security_setup is None:
            return None
        material = None
        if self._security is not None:
            try:
                material = self._security.security_material(policy)
            except Exception:
                _log.exception("backend security_material(%s) failed", policy.name)
                raise _backend_failed() from None
        if material is None:
            _log.warning("association %s names a Security setup the meter lacks", policy.name)
            raise _Refused(AcseServiceUserDiagnostic.NO_REASON_GIVEN)
        return material

    def _protection(
        self, policy: AssociationPolicy, material: SecurityMaterial, calling_title: bytes | None
    ) -> AssociationProtection:
        """The association's protection, once the client's system title is known: the
        calling-AP-title, which must be the setup's client title when the setup names one."""
        assert self._security is not None
        expected = material.client_system_title
        title = calling_title if calling_title is not None else expected
        if title is None or len(title) != 8 or (expected is not None and title != expected):
            self._security_refused(policy, SecurityEvent.UNKNOWN_SYSTEM_TITLE)
            raise _Refused(
                AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED, by_backend=True
            )
        return AssociationProtection(self._security, policy, material, title)

    def _open_initiate(
        self, protection: AssociationProtection, user_information: bytes
    ) -> tuple[bytes, RequestForm | None]:
        """The InitiateRequest of a ciphered AARQ (glo-initiate-request, or a general form)."""
        try:
            return protection.open(user_information, initiate=True)
        except ProtectionRefusal as refusal:
            _log.info("AARQ of %s refused: %s", protection.policy.name, refusal)
            self._security_refused(protection.policy, refusal.event)
            error = _refused_initiate(InitiateError.OTHER)
            error.by_backend = True
            raise error from None

    @staticmethod
    def _take_dedicated_key(
        protection: AssociationProtection, initiate: InitiateRequest, form: RequestForm | None
    ) -> None:
        """A dedicated key is taken only from an encrypted InitiateRequest, and only of the
        suite's key length; any other is refused (initiate error other)."""
        key = initiate.dedicated_key
        if key is None:
            return
        encrypted = form is not None and form.control is not None and form.control.encrypted
        try:
            if not encrypted:
                raise ValueError("a dedicated key sent in the clear")
            protection.use_dedicated_key(key)
        except ValueError as problem:
            _log.info("AARQ of %s refused: %s", protection.policy.name, problem)
            raise _refused_initiate(InitiateError.OTHER) from None

    def _challenge(
        self,
        policy: AssociationPolicy,
        material: SecurityMaterial,
        protection: AssociationProtection,
        ctos: bytes | None,
    ) -> HlsExchange:
        """Pass 2: StoC for an HLS AARQ with a fitting CtoS, unless a lockout is in force."""
        if ctos is None:
            raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED)
        if not challenge_fits(ctos):
            raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE)
        assert self._security is not None
        try:
            allowed = self._security.hls_allowed(policy)
        except Exception:
            _log.exception("backend hls_allowed for %s failed", policy.name)
            allowed = LoginResult.LOCKED
        if allowed != LoginResult.ACCEPTED:
            raise _Refused(
                AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE,
                AssociationResult.REJECTED_TRANSIENT,
                by_backend=True,
            )
        stoc = self._random_bytes(_CHALLENGE_LENGTH)
        return HlsExchange(policy.mechanism, ctos, stoc, protection.client_system_title, material)

    def _tell_associated(self, context: AssociationContext, *, refuse: bool = False) -> None:
        """The backend hears of an open association (at the AARE, or at pass 4 for HLS)."""
        try:
            self.backend.associated(context)
        except Exception:
            _log.exception("backend refused to record the association of %s", context.client_sap)
            if not refuse:
                raise
            raise _backend_failed() from None

    def _policy(self, client_sap: int) -> AssociationPolicy:
        try:
            policy = self.backend.association_policy(client_sap)
        except Exception:
            _log.exception("backend association_policy(%s) failed", client_sap)
            raise _backend_failed() from None
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
            raise _backend_failed() from None
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
            protection = association.protection
            request, form = rlrq.user_information, None
            if was_associated and protection is not None and request:
                try:
                    request, form = protection.open(request, initiate=True)
                except ProtectionRefusal as refusal:
                    self._security_refused(protection.policy, refusal.event)
                    request = None  # released all the same, without an InitiateResponse
            self._end(association)
            initiate = _initiate_request(request)
            if was_associated and initiate is not None and association.session is not None:
                conformance = association.session.context.conformance
                user_information = self._initiate_response(initiate, conformance)
                if protection is not None and form is not None:
                    user_information = protection.seal(user_information, form, initiate=True)
        reason = None if rlrq.reason is None else ReleaseResponseReason.NORMAL
        return Rlre(reason=reason, user_information=user_information).encode()

    def _end(self, association: _Association) -> None:
        """Release an association (RLRQ, a new AARQ, the connection closed); the backend
        hears of it only if it heard of its start."""
        was_associated = association.state is _ASSOCIATED
        association.move(AssociationEvent.RELEASED)
        association.answers.clear()
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
    if isinstance(proposed, bytes):
        raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
    lowest = proposed is None or proposed == AuthenticationMechanism.LOWEST
    if required == AuthenticationMechanism.LOWEST:
        if not lowest:
            raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
        return
    if lowest:
        raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED)
    if required != proposed or (proposed in _HIGH_MECHANISMS and proposed not in SERVED_MECHANISMS):
        raise _Refused(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)


def _is_reply_to_hls(request: Request, association_name: Obis) -> bool:
    """reply_to_HLS_authentication on the current association (0.0.40.0.0.255) or on the
    association's own Association LN object."""
    if not isinstance(request, ActionRequestNormal):
        return False
    method = request.method
    return (
        method.class_id == _ASSOCIATION_LN_CLASS
        and method.method_id == _REPLY_TO_HLS_AUTHENTICATION
        and method.instance in (_CURRENT_ASSOCIATION, association_name)
    )


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


def _backend_failed() -> _Refused:
    """The backend itself failed: a transient refusal it needs no telling of."""
    return _Refused(
        AcseServiceUserDiagnostic.NO_REASON_GIVEN,
        AssociationResult.REJECTED_TRANSIENT,
        by_backend=True,
    )


def _refused_initiate(error: InitiateError) -> _Refused:
    return _Refused(AcseServiceUserDiagnostic.NO_REASON_GIVEN, initiate_error=error)
