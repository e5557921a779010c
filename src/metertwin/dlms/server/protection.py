"""The protection of one association's APDUs (Green Book 9.2.7), sans-IO: every request
opened, every response sealed, as the association's Security setup says.

An association whose policy names a Security setup gets an :class:`AssociationProtection` at
its AARQ. It holds what the service layer may keep: the setup's material as the backend last
gave it (refreshed after every SET and ACTION, since key_transfer or security_activate may
change it), the client's system title from the AARQ, and the dedicated key of the
association's InitiateRequest.

Requests (``open``), in the order of the checks:

- general-signing (``DF``, suites 1 and 2): the signature is checked with the client's public
  key, the originator must be the client and the recipient this meter (or empty); its
  content is then opened as below.
- service-specific glo-/ded- APDUs and general-glo/ded-ciphering (``DB``, ``DC``): opened with
  the association's keys (ded- with the dedicated key), the client's system title, the
  setup's suite, and at least the protection the security policy asks of requests.
- the invocation counter of an APDU under a global key must be above the last one the meter
  accepted from that client title (kept by the backend, across associations and restarts);
  under the dedicated key, above the last of this association (the key dies with it).
- a plain APDU, or one less protected than the policy asks (not signed when signed requests
  are required), is refused.

A refusal is a :class:`ProtectionRefusal`: the exception-response to send (deciphering-error,
or invocation-counter-error with the counter the meter expects next) and the security event
the backend logs. Nothing is remembered from a refused APDU.

Responses (``seal``) carry at least the protection the policy asks of responses, and at least
the request's own: a glo- request gets a glo- response, ded- gets ded-, general-ciphering gets
general-ciphering, a signed request a signed response (suites 1 and 2). A response APDU with
no service-specific ciphered form goes as general-glo-ciphering. Exception-responses always go
in the clear: they also answer requests that could not be opened, and a client must be able to
read them without keys. Every sealed response takes a fresh invocation counter from the
backend (persisted before it is used).

``overhead`` is the most octets protection adds to a response: the session cuts its blocks
that much smaller, so a ciphered block still fits the client's max receive PDU size.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.codec.enums import ServiceError, StateError
from metertwin.cosem.access import AssociationPolicy, SecurityPolicy
from metertwin.cosem.backend import (
    SecurityBackend,
    SecurityEvent,
    SecurityMaterial,
    bound_counters,
)
from metertwin.dlms.reports import ExceptionResponse
from metertwin.security.ciphering import (
    AUTH_TAG_LENGTH,
    CIPHERED_TAGS,
    GENERAL_DED_CIPHERING,
    GENERAL_GLO_CIPHERING,
    INVOCATION_COUNTER_LENGTH,
    SYSTEM_TITLE_LENGTH,
    AssociationCipher,
    CipheringKeys,
    SecurityControl,
    protect,
    protect_general,
    unprotect,
)
from metertwin.security.errors import DecipheringError, DecipheringReason
from metertwin.security.general_header import GeneralHeader
from metertwin.security.general_signing import (
    GENERAL_SIGNING,
    sign_general,
    verify_general_signing,
)
from metertwin.security.suites import SUITES

__all__ = [
    "CIPHERED_REQUEST_TAGS",
    "AssociationProtection",
    "ProtectionRefusal",
    "RequestForm",
    "load_private_key",
    "load_public_key",
]

_log = logging.getLogger(__name__)

_REQUEST_PLAIN_TAGS = (0x01, 0xC0, 0xC1, 0xC3)  # InitiateRequest, get, set, action
CIPHERED_REQUEST_TAGS = frozenset(
    {tag for plain in _REQUEST_PLAIN_TAGS for tag in CIPHERED_TAGS[plain]}
    | {GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING, GENERAL_SIGNING}
)
"""The first octets of the protected requests this server opens."""

# tag, a length of up to 3 octets (65535), SC, IC, authentication tag
_SPECIFIC_OVERHEAD = 1 + 3 + 1 + INVOCATION_COUNTER_LENGTH + AUTH_TAG_LENGTH
_GENERAL_OVERHEAD = _SPECIFIC_OVERHEAD + 1 + SYSTEM_TITLE_LENGTH
# tag, transaction-id, two system titles, empty date-time and other-information, the content's
# length (3), the signature of the largest suite with its length
_SIGNING_OVERHEAD = 1 + (1 + 8) + 2 * (1 + SYSTEM_TITLE_LENGTH) + 1 + 1 + 3 + (1 + 96)

# The policy bits as plain ints: a flag enum's ``&`` costs a call per bit and request.
_REQUEST_AUTHENTICATED = SecurityPolicy.AUTHENTICATED_REQUEST.value
_REQUEST_ENCRYPTED = SecurityPolicy.ENCRYPTED_REQUEST.value
_REQUEST_SIGNED = SecurityPolicy.SIGNED_REQUEST.value
_RESPONSE_AUTHENTICATED = SecurityPolicy.AUTHENTICATED_RESPONSE.value
_RESPONSE_ENCRYPTED = SecurityPolicy.ENCRYPTED_RESPONSE.value
_RESPONSE_SIGNED = SecurityPolicy.SIGNED_RESPONSE.value
_EXCEPTION_RESPONSE = 0xD8
_GENERAL_CIPHERING_TAGS = (GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING)

DECIPHERING_ERROR = ExceptionResponse(
    StateError.SERVICE_NOT_ALLOWED, ServiceError.DECIPHERING_ERROR
).encode()


class ProtectionRefusal(Exception):
    """A protected request refused: the exception-response to send and what to log."""

    def __init__(self, event: SecurityEvent, response: bytes, detail: str) -> None:
        super().__init__(f"{event.value}: {detail}")
        self.event = event
        self.response = response


class RequestForm(NamedTuple):
    """How a request came protected, so that its response goes back at least as protected
    (a tuple: one is made for every protected request)."""

    control: SecurityControl | None  # None: the request was not ciphered (only signed)
    dedicated: bool = False
    general: bool = False
    transaction_id: bytes | None = None  # set when the request was general-signing


def load_private_key(der: bytes | None) -> ec.EllipticCurvePrivateKey | None:
    """An EC private key from PKCS#8 DER (None when absent or not an EC key)."""
    if der is None:
        return None
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def load_public_key(der: bytes | None) -> ec.EllipticCurvePublicKey | None:
    """An EC public key from SubjectPublicKeyInfo DER (None when absent or not EC)."""
    if der is None:
        return None
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


class AssociationProtection:
    """Opens the requests and seals the responses of one association with a Security setup."""

    def __init__(
        self,
        backend: SecurityBackend,
        policy: AssociationPolicy,
        material: SecurityMaterial,
        client_system_title: bytes,
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.client_system_title = client_system_title
        self.dedicated_key: bytes | None = None
        self._last_dedicated_counter: int | None = None
        self._reserved_counter: int | None = None
        self._counters = bound_counters(backend, policy)
        self._take(material)

    def _take(self, material: SecurityMaterial) -> None:
        """The setup's material, with what every request reads of it kept as plain values."""
        self.material = material
        self._use_keys(_keys(material, self.dedicated_key))
        policy = int(material.policy)
        self._signed_requests = bool(policy & _REQUEST_SIGNED)
        self._authenticated_requests = bool(policy & _REQUEST_AUTHENTICATED)
        self._encrypted_requests = bool(policy & _REQUEST_ENCRYPTED)
        self._signed_responses = bool(policy & _RESPONSE_SIGNED)
        self._authenticated_responses = bool(policy & _RESPONSE_AUTHENTICATED)
        self._encrypted_responses = bool(policy & _RESPONSE_ENCRYPTED)

    # --- what the association may do ---------------------------------------------------------

    @property
    def suite(self) -> int:
        return self.material.suite

    @property
    def server_system_title(self) -> bytes:
        return self.material.server_system_title

    @property
    def requires_protected_requests(self) -> bool:
        return self._authenticated_requests or self._encrypted_requests

    @property
    def overhead(self) -> int:
        """The most octets protection adds to a response of this association."""
        overhead = _GENERAL_OVERHEAD
        if self._can_sign():
            overhead += _SIGNING_OVERHEAD
        return overhead

    def use_dedicated_key(self, key: bytes) -> None:
        """The InitiateRequest's dedicated key: ValueError when its length is not the suite's."""
        if len(key) != SUITES[self.suite].key_length:
            raise ValueError(
                f"a suite {self.suite} dedicated key is {SUITES[self.suite].key_length} octets"
            )
        self.dedicated_key = key
        self._use_keys(_keys(self.material, key))

    def _use_keys(self, keys: CipheringKeys) -> None:
        """The keys, and the cipher of the common case made from them once."""
        self._keys = keys
        material = self.material
        self._cipher_of = AssociationCipher(
            keys, material.suite, material.server_system_title, self.client_system_title
        )
        # How a request of the common case came, made once: glo- and ded- (RequestForm)
        self._common_forms = (
            RequestForm(self._cipher_of.control, False),
            RequestForm(self._cipher_of.control, True),
        )

    def refresh(self) -> None:
        """Take the setup's material afresh (after a SET or ACTION: keys or policy may have
        changed); a setup the backend no longer gives keeps the material it had. A counter
        reserved and not used (no answer was sealed) is dropped: it may belong to a key that
        is no longer the setup's."""
        self._reserved_counter = None
        try:
            material = self.backend.security_material(self.policy)
        except Exception:
            _log.exception("backend security_material(%s) failed", self.policy.name)
            return
        if material is not None:
            self._take(material)
        try:
            self._counters = bound_counters(self.backend, self.policy)
        except Exception:
            _log.exception("backend invocation_counters(%s) failed", self.policy.name)

    # --- requests ------------------------------------------------------------------------

    def open(self, apdu: bytes, *, initiate: bool = False) -> tuple[bytes, RequestForm | None]:
        """The plain request inside ``apdu`` and how it came; ProtectionRefusal otherwise.

        ``initiate``: the InitiateRequest of an AARQ or RLRQ, which the policy's signed
        requests do not cover (the AARQ is authenticated by HLS itself).
        """
        if not self._signed_requests or initiate:
            try:
                common = self._cipher_of.open(apdu)
            except DecipheringError as problem:
                raise self._refusal(SecurityEvent.DECIPHERING_FAILED, str(problem)) from None
            if common is not None:
                self._accept_counter(common.invocation_counter, dedicated=common.dedicated)
                return common.plaintext, self._common_forms[common.dedicated]
        transaction_id = None
        if apdu and apdu[0] == GENERAL_SIGNING:
            apdu, transaction_id = self._verify_signature(apdu)
        elif self._signed_requests and not initiate:
            raise self._refusal(SecurityEvent.BELOW_POLICY, "the policy requires signed requests")
        if not apdu or apdu[0] not in CIPHERED_REQUEST_TAGS or apdu[0] == GENERAL_SIGNING:
            if self._authenticated_requests or self._encrypted_requests:
                raise self._refusal(SecurityEvent.BELOW_POLICY, "a plain request")
            if transaction_id is None:
                return apdu, None
            return apdu, RequestForm(None, transaction_id=transaction_id)
        try:
            opened = unprotect(
                apdu,
                keys=self._keys,
                system_title=self.client_system_title,
                suite=self.material.suite,
                require_authenticated=self._authenticated_requests,
                require_encrypted=self._encrypted_requests,
            )
        except DecipheringError as problem:
            event = (
                SecurityEvent.BELOW_POLICY
                if problem.reason == DecipheringReason.BELOW_POLICY
                else SecurityEvent.DECIPHERING_FAILED
            )
            raise self._refusal(event, str(problem)) from None
        self._accept_counter(opened.invocation_counter, dedicated=opened.dedicated)
        general = opened.tag in _GENERAL_CIPHERING_TAGS
        form = RequestForm(opened.control, opened.dedicated, general, transaction_id)
        return opened.plaintext, form

    def _verify_signature(self, apdu: bytes) -> tuple[bytes, bytes]:
        public_key = load_public_key(self.material.client_signing_public_key)
        if public_key is None or SUITES[self.suite].curve is None:
            raise self._refusal(SecurityEvent.BAD_SIGNATURE, "no key to check a signature with")
        try:
            signing = verify_general_signing(
                apdu,
                peer_signing_key=public_key,
                suite=self.suite,
                peer_system_title=self.client_system_title,
                own_system_title=self.server_system_title,
            )
        except DecipheringError as problem:
            event = (
                SecurityEvent.BAD_SIGNATURE
                if problem.reason == DecipheringReason.SIGNATURE
                else SecurityEvent.DECIPHERING_FAILED
            )
            raise self._refusal(event, str(problem)) from None
        return signing.content, signing.header.transaction_id

    def _accept_counter(self, counter: int, *, dedicated: bool) -> None:
        if dedicated:
            last = self._last_dedicated_counter
            if last is not None and counter <= last:
                raise self._replay(last)
            self._last_dedicated_counter = counter
            return
        counters, title = self._counters, self.client_system_title
        if not counters.accept_invocation_counter(title, counter):
            raise self._replay(counters.last_invocation_counter(title))

    def _replay(self, last: int | None) -> ProtectionRefusal:
        expected = 0 if last is None else min(last + 1, 0xFFFFFFFF)
        response = ExceptionResponse(
            StateError.SERVICE_NOT_ALLOWED, ServiceError.INVOCATION_COUNTER_ERROR, expected
        ).encode()
        return ProtectionRefusal(SecurityEvent.REPLAY, response, f"expected {expected}")

    def _refusal(self, event: SecurityEvent, detail: str) -> ProtectionRefusal:
        return ProtectionRefusal(event, DECIPHERING_ERROR, detail)

    # --- responses -----------------------------------------------------------------------

    def seal(self, response: bytes, form: RequestForm | None, *, initiate: bool = False) -> bytes:
        """``response`` protected as the policy and the request's own protection ask
        (``initiate``: an InitiateResponse, signed only when its request was)."""
        if not response or response[0] == _EXCEPTION_RESPONSE:
            return response
        forms = self._common_forms
        if (form is forms[0] or form is forms[1]) and not self._signed_responses:
            # a request of the common case: its response goes back the same way
            dedicated = form is forms[1] and self.dedicated_key is not None
            if self._cipher_of.can_seal(response, dedicated=dedicated):
                return self._cipher_of.seal(response, self._response_counter(), dedicated=dedicated)
        authenticated = self._authenticated_responses
        encrypted = self._encrypted_responses
        control = None if form is None else form.control
        if control is not None:
            authenticated = authenticated or control.authenticated
            encrypted = encrypted or control.encrypted
        sealed = response
        if authenticated or encrypted:
            sealed = self._cipher(response, form, authenticated, encrypted)
        signed_request = form is not None and form.transaction_id is not None
        if signed_request or (self._signed_responses and not initiate):
            sealed = self._sign(sealed, form)
        return sealed

    def _cipher(
        self, response: bytes, form: RequestForm | None, authenticated: bool, encrypted: bool
    ) -> bytes:
        dedicated = bool(form and form.dedicated and self.dedicated_key is not None)
        general = bool(form and form.general) or response[0] not in CIPHERED_TAGS
        control = SecurityControl.made(
            self.material.suite, authenticated=authenticated, encrypted=encrypted
        )
        seal = protect_general if general else protect
        return seal(
            response,
            control=control,
            invocation_counter=self._response_counter(),
            system_title=self.server_system_title,
            keys=self._keys,
            dedicated=dedicated,
        )

    def reserve_counter(self) -> None:
        """Take the next response's invocation counter now, before a SET or ACTION is served:
        one that installs a new EK restarts the meter's counter, and its answer, still sealed
        under the old key, must not reuse a counter that key has already used."""
        self._reserved_counter = self._counters.next_invocation_counter()

    def _response_counter(self) -> int:
        reserved, self._reserved_counter = self._reserved_counter, None
        if reserved is not None:
            return reserved
        return self._counters.next_invocation_counter()

    def _sign(self, sealed: bytes, form: RequestForm | None) -> bytes:
        key = load_private_key(self.material.server_signing_key)
        suite = SUITES[self.suite]
        if key is None or suite.curve is None:
            _log.warning("association %s cannot sign its responses", self.policy.name)
            return sealed
        transaction_id = b"" if form is None or form.transaction_id is None else form.transaction_id
        header = GeneralHeader(
            transaction_id=transaction_id,
            originator_system_title=self.server_system_title,
            recipient_system_title=self.client_system_title,
        )
        return sign_general(sealed, header=header, signing_key=key, suite=suite)

    def _can_sign(self) -> bool:
        return SUITES[self.suite].curve is not None and self.material.server_signing_key is not None


def _keys(material: SecurityMaterial, dedicated_key: bytes | None) -> CipheringKeys:
    return CipheringKeys(
        authentication_key=material.authentication_key or b"",
        global_unicast_key=material.global_unicast_key,
        global_broadcast_key=material.broadcast_key,
        dedicated_key=dedicated_key,
    )
