"""HLS and ciphering seen from our client, sans-IO (Green Book 9.2.7; docs/security.md).

:class:`ClientSecurity` is what a head-end knows of one secured association: the mechanism
(2 secret, 5 GMAC, 6 SHA-256, 7 ECDSA), the suite, the security policy, its system title and
keys. :class:`SecureChannel` is the state of one such association while it lives: CtoS, the
meter's StoC and system title, our send counter and the replay guard on the meter's.
:class:`~metertwin.dlms.client.association.ClientAssociation` drives it; the cryptography is
``metertwin.security``'s, this module only decides what goes where.

What the wire carries (the contract the server implements, docs/dlms.md):

- AARQ: LN-with-ciphering when the policy protects APDUs, calling-AP-title = our system title,
  the mechanism, CtoS, and the InitiateRequest as glo-initiate-request (``21``, SC ``30|suite``)
  under EK/AK; the AARE: authentication-required (14), responding-AP-title = the meter's
  title, StoC, glo-initiate-response (``28``).
- Pass 3: reply_to_HLS_authentication (class 15 method 1) with f(StoC); pass 4: the return
  data f(CtoS), which must verify or the association is refused.
- Every xDLMS request is then protected as the policy asks, each APDU with the next counter;
  every answer must open, carry at least the policy's protection, a counter above the
  last one accepted and (general-glo-ciphering) the meter's system title. A plain
  exception-response or ConfirmedServiceError passes: it carries no data and is how a meter
  says it could not open our request.

The HLS-GMAC proof f(StoC) takes a counter of its own, and the APDU that carries it the next
one. gurux's client uses one counter for both (its Secure(ic) then Method() ciphers with the
same counter), which puts one GCM IV under EK twice, the one thing GCM must never do; a meter
does not hold the proof's counter against the request's, so it accepts either.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.codec.enums import AuthenticationMechanism, SecurityPolicy
from metertwin.dlms.client.errors import DlmsSecurityError
from metertwin.security import hls
from metertwin.security.ciphering import (
    CIPHERED_TAGS,
    GENERAL_DED_CIPHERING,
    GENERAL_GLO_CIPHERING,
    SYSTEM_TITLE_LENGTH,
    CipheringKeys,
    SecurityControl,
    protect,
    protect_general,
    unprotect,
)
from metertwin.security.counters import ReceiveCounterGuard, SendCounter
from metertwin.security.errors import (
    AuthenticationError,
    CounterExhaustedError,
    DecipheringError,
    ReplayError,
)
from metertwin.security.suites import SUITES

__all__ = [
    "AUTHENTICATED_REQUEST",
    "AUTHENTICATED_RESPONSE",
    "COUNTER_STEP",
    "ENCRYPTED_REQUEST",
    "ENCRYPTED_RESPONSE",
    "FULL_PROTECTION",
    "GREEN_BOOK_AK",
    "GREEN_BOOK_CLIENT_SYSTEM_TITLE",
    "GREEN_BOOK_EK",
    "HLS_MECHANISMS",
    "ClientSecurity",
    "SecureChannel",
    "suite_key",
]

AUTHENTICATED_REQUEST = SecurityPolicy.AUTHENTICATED_REQUEST
ENCRYPTED_REQUEST = SecurityPolicy.ENCRYPTED_REQUEST
AUTHENTICATED_RESPONSE = SecurityPolicy.AUTHENTICATED_RESPONSE
ENCRYPTED_RESPONSE = SecurityPolicy.ENCRYPTED_RESPONSE
FULL_PROTECTION = (
    AUTHENTICATED_REQUEST | ENCRYPTED_REQUEST | AUTHENTICATED_RESPONSE | ENCRYPTED_RESPONSE
)
"""0x6C: every APDU of both directions authenticated and encrypted (docs/dlms.md, 0x40)."""
_SIGNING = SecurityPolicy.SIGNED_REQUEST | SecurityPolicy.SIGNED_RESPONSE
_REQUEST_BITS = AUTHENTICATED_REQUEST | ENCRYPTED_REQUEST
_RESPONSE_BITS = AUTHENTICATED_RESPONSE | ENCRYPTED_RESPONSE

GREEN_BOOK_EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
GREEN_BOOK_AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
"""The Green Book's example keys, the demo keys of every model's 0x40 (docs/dlms.md)."""
GREEN_BOOK_CLIENT_SYSTEM_TITLE = bytes.fromhex("4D4D4D0000000001")
"""The client system title of the Green Book's HLS-GMAC example (Table 43)."""

HLS_MECHANISMS = frozenset(
    {
        AuthenticationMechanism.HIGH,
        AuthenticationMechanism.HIGH_GMAC,
        AuthenticationMechanism.HIGH_SHA256,
        AuthenticationMechanism.HIGH_ECDSA,
    }
)
_SECRET_MECHANISMS = frozenset({AuthenticationMechanism.HIGH, AuthenticationMechanism.HIGH_SHA256})
_PLAIN_REFUSALS = frozenset({0xD8, 0x0E})  # exception-response, ConfirmedServiceError
_CIPHERED_TAGS = frozenset(
    {tag for pair in CIPHERED_TAGS.values() for tag in pair}
    | {GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING}
)
COUNTER_STEP = 64
"""Counter values reserved at a time when ``persist_counter`` is given: a run that stops
early skips at most this many, and the store is written once per this many APDUs."""


def suite_key(key: bytes, suite: int) -> bytes:
    """A demo key for the suite: suite 2 takes 32 octets, a 16-octet key written twice (the
    models' rule, docs/dlms.md)."""
    if SUITES[suite].key_length == 32 and len(key) == 16:
        return key + key
    return key


@dataclass(frozen=True)
class ClientSecurity:
    """What our client needs to open one HLS association (ciphered or not by ``policy``).

    ``secret`` serves mechanisms 2 and 6; ``signing_key`` (ours) and ``server_public_key``
    mechanism 7. ``server_system_title``, when known, is the only title the AARE may give.
    ``first_invocation_counter`` is the first counter we protect with; ``persist_counter``
    (see :class:`~metertwin.security.counters.SendCounter`) stores, before a value is used,
    the bound below which every value may have been used, so the next run resumes above it.
    """

    mechanism: AuthenticationMechanism
    system_title: bytes = GREEN_BOOK_CLIENT_SYSTEM_TITLE
    suite: int = 0
    policy: int = int(FULL_PROTECTION)
    encryption_key: bytes | None = None
    authentication_key: bytes | None = None
    secret: bytes | None = None
    signing_key: ec.EllipticCurvePrivateKey | None = None
    server_public_key: ec.EllipticCurvePublicKey | None = None
    server_system_title: bytes | None = None
    dedicated_key: bytes | None = None
    general_ciphering: bool = False
    first_invocation_counter: int = 0
    persist_counter: Callable[[int], None] | None = None
    challenge_length: int = 16

    def __post_init__(self) -> None:
        if self.mechanism not in HLS_MECHANISMS:
            raise ValueError(f"mechanism {self.mechanism!r} is not HLS 2, 5, 6 or 7")
        if self.suite not in SUITES:
            raise ValueError(f"security suite {self.suite} is not 0, 1 or 2")
        for name, title in (("our", self.system_title), ("the meter's", self.server_system_title)):
            if title is not None and len(title) != SYSTEM_TITLE_LENGTH:
                raise ValueError(f"{name} system title is 8 octets, not {len(title)}")
        if not 0 <= self.policy <= 0xFF or self.policy & 0x03:
            raise ValueError(f"security policy 0x{self.policy:X}: bits 0 and 1 are unused")
        if self.policy & _SIGNING:
            raise ValueError("signed APDUs (policy 0x10, 0x80) are not supported by this client")
        key_length = SUITES[self.suite].key_length
        for name, key in (
            ("EK", self.encryption_key),
            ("AK", self.authentication_key),
            ("dedicated key", self.dedicated_key),
        ):
            if key is not None and len(key) != key_length:
                raise ValueError(
                    f"{name}: suite {self.suite} takes {key_length}-octet keys, not {len(key)}"
                )
        needs_keys = self.ciphered or self.mechanism == AuthenticationMechanism.HIGH_GMAC
        if needs_keys and (self.encryption_key is None or self.authentication_key is None):
            raise ValueError("HLS-GMAC and ciphering need EK and AK")
        if self.dedicated_key is not None and not self.ciphered:
            raise ValueError("a dedicated key needs a policy that protects APDUs")
        if self.mechanism in _SECRET_MECHANISMS and not self.secret:
            raise ValueError(f"mechanism {int(self.mechanism)} needs the HLS secret")
        if self.mechanism == AuthenticationMechanism.HIGH_ECDSA:
            self._check_ecdsa()
        if not hls.MIN_CHALLENGE_LENGTH <= self.challenge_length <= hls.MAX_CHALLENGE_LENGTH:
            raise ValueError(f"an HLS challenge is 8 to 64 octets, not {self.challenge_length}")

    def _check_ecdsa(self) -> None:
        curve = SUITES[self.suite].curve
        if curve is None:
            raise ValueError("HLS-ECDSA needs suite 1 or 2")
        if self.signing_key is None or self.server_public_key is None:
            raise ValueError("HLS-ECDSA needs our private key and the meter's public key")
        for name, key in (("our", self.signing_key), ("the meter's", self.server_public_key)):
            if key.curve.name != curve.name:
                raise ValueError(
                    f"{name} key is on {key.curve.name}; suite {self.suite} uses {curve.name}"
                )

    def send_counter(self) -> SendCounter:
        """Our counter, from ``first_invocation_counter``, persisted through
        ``persist_counter`` in steps of :data:`COUNTER_STEP`."""
        return SendCounter(
            self.first_invocation_counter,
            self.persist_counter or _keep_in_memory,
            step=COUNTER_STEP,
        )

    @property
    def ciphered(self) -> bool:
        """Whether APDUs are protected at all: the LN-with-ciphering context."""
        return bool(self.policy & (_REQUEST_BITS | _RESPONSE_BITS))


class SecureChannel:
    """One secured association's state, from the AARQ to the release.

    Every refusal is a :class:`DlmsSecurityError` naming the check that failed.
    """

    def __init__(
        self,
        security: ClientSecurity,
        sender: SendCounter | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.security = security
        self.client_challenge = hls.new_challenge(security.challenge_length, random_bytes)
        self.server_challenge: bytes | None = None
        self.server_system_title: bytes | None = None
        self._sender = sender or security.send_counter()
        self._guard = ReceiveCounterGuard()
        self._keys = CipheringKeys(
            authentication_key=security.authentication_key or b"",
            global_unicast_key=security.encryption_key,
            dedicated_key=security.dedicated_key,
        )
        self._dedicated_in_use = False
        request_bits = security.policy & _REQUEST_BITS or _REQUEST_BITS
        self._request_control = SecurityControl(
            suite=security.suite,
            authenticated=bool(request_bits & AUTHENTICATED_REQUEST),
            encrypted=bool(request_bits & ENCRYPTED_REQUEST),
        )

    @property
    def next_invocation_counter(self) -> int:
        """The counter the next protected APDU takes."""
        return self._sender.next_value

    # --- association ----------------------------------------------------------------------

    def initiate_request(self, plain: bytes) -> bytes:
        """The AARQ user-information: glo-initiate-request in the ciphering context (SC
        ``30|suite`` whatever the policy: it carries the dedicated key)."""
        if not self.security.ciphered:
            return plain
        control = SecurityControl(suite=self.security.suite, authenticated=True, encrypted=True)
        return self._protect(plain, control, dedicated=False, general=False)

    def accept_responder(self, title: bytes | None, challenge: bytes | None) -> None:
        """The AARE's responding-AP-title and StoC."""
        if title is None or len(title) != SYSTEM_TITLE_LENGTH:
            raise DlmsSecurityError("association: the AARE gives no 8-octet responding-AP-title")
        expected = self.security.server_system_title
        if expected is not None and title != expected:
            raise DlmsSecurityError(
                f"association: the meter's system title is {title.hex().upper()}, "
                f"expected {expected.hex().upper()}"
            )
        if challenge is None:
            raise DlmsSecurityError("association: the AARE carries no StoC challenge")
        try:
            hls.check_challenge(challenge)
        except AuthenticationError as problem:
            raise DlmsSecurityError(f"association: StoC: {problem}") from None
        self.server_system_title = title
        self.server_challenge = challenge

    def initiate_response(self, user_information: bytes) -> bytes:
        """The plain InitiateResponse (or ConfirmedServiceError) of the AARE; the meter's
        counter in it is the first the replay guard accepts."""
        if not self.security.ciphered:
            return user_information
        return self.open(user_information, "association user-information")

    def pass3_proof(self) -> bytes:
        """f(StoC), for reply_to_HLS_authentication (docs/security.md, "HLS")."""
        security, stoc = self.security, self._server_challenge()
        mechanism = security.mechanism
        if mechanism == AuthenticationMechanism.HIGH_GMAC:
            assert security.encryption_key is not None and security.authentication_key is not None
            # A counter of its own, never the carrying request's (module docstring).
            return hls.gmac_proof(
                stoc,
                system_title=security.system_title,
                invocation_counter=self._take_counter(),
                encryption_key=security.encryption_key,
                authentication_key=security.authentication_key,
                suite=security.suite,
            )
        if mechanism == AuthenticationMechanism.HIGH:
            assert security.secret is not None
            return hls.secret_proof(stoc, security.secret)
        if mechanism == AuthenticationMechanism.HIGH_SHA256:
            assert security.secret is not None
            return hls.sha256_proof(
                security.secret,
                own_system_title=security.system_title,
                peer_system_title=self._server_title(),
                peer_challenge=stoc,
                own_challenge=self.client_challenge,
            )
        assert security.signing_key is not None
        return hls.ecdsa_proof(
            security.signing_key,
            own_system_title=security.system_title,
            peer_system_title=self._server_title(),
            peer_challenge=stoc,
            own_challenge=self.client_challenge,
            suite=security.suite,
        )

    def verify_pass4(self, proof: bytes) -> None:
        """The meter's f(CtoS): only the holder of the keys could compute it. Its GMAC counter
        is not put through the replay guard: the proof covers our fresh CtoS, so it cannot be
        a replay, and meters number it before or after the APDU that carries it."""
        security = self.security
        try:
            if security.mechanism == AuthenticationMechanism.HIGH_GMAC:
                assert security.encryption_key is not None
                assert security.authentication_key is not None
                hls.verify_gmac_proof(
                    proof,
                    self.client_challenge,
                    peer_system_title=self._server_title(),
                    encryption_key=security.encryption_key,
                    authentication_key=security.authentication_key,
                    suite=security.suite,
                )
            elif security.mechanism == AuthenticationMechanism.HIGH:
                assert security.secret is not None
                hls.verify_secret_proof(proof, self.client_challenge, security.secret)
            elif security.mechanism == AuthenticationMechanism.HIGH_SHA256:
                assert security.secret is not None
                hls.verify_sha256_proof(
                    proof,
                    security.secret,
                    own_system_title=security.system_title,
                    peer_system_title=self._server_title(),
                    own_challenge=self.client_challenge,
                    peer_challenge=self._server_challenge(),
                )
            else:
                assert security.server_public_key is not None
                hls.verify_ecdsa_proof(
                    proof,
                    security.server_public_key,
                    own_system_title=security.system_title,
                    peer_system_title=self._server_title(),
                    own_challenge=self.client_challenge,
                    peer_challenge=self._server_challenge(),
                    suite=security.suite,
                )
        except AuthenticationError as problem:
            raise DlmsSecurityError(
                f"HLS pass 4: the meter's proof f(CtoS) does not verify ({problem}): "
                "association refused, this may not be the meter holding our keys"
            ) from None

    def associated(self) -> None:
        """From now on requests use the dedicated key, if one went in the InitiateRequest."""
        self._dedicated_in_use = self.security.dedicated_key is not None

    # --- APDUs ----------------------------------------------------------------------------

    def protect_request(self, plain: bytes) -> bytes:
        """A request as the policy asks: plain when it protects no request."""
        if not self.security.policy & _REQUEST_BITS:
            return plain
        return self._protect(
            plain,
            self._request_control,
            dedicated=self._dedicated_in_use,
            general=self.security.general_ciphering,
        )

    def open(self, answer: bytes, what: str) -> bytes:
        """The plain APDU of an answer, checked against the policy, the meter's system title
        and its last counter."""
        if answer[:1] and answer[0] in _PLAIN_REFUSALS:
            return answer
        policy = self.security.policy
        if not policy & _RESPONSE_BITS and not _looks_ciphered(answer):
            return answer
        try:
            opened = unprotect(
                answer,
                keys=self._keys,
                system_title=self._server_title(),
                suite=self.security.suite,
                require_authenticated=bool(policy & AUTHENTICATED_RESPONSE),
                require_encrypted=bool(policy & ENCRYPTED_RESPONSE),
            )
            self._guard.accept(opened.invocation_counter)
        except DecipheringError as problem:
            raise DlmsSecurityError(f"{what}: the answer does not decipher: {problem}") from None
        except ReplayError as problem:
            raise DlmsSecurityError(f"{what}: replayed answer: {problem}") from None
        return opened.plaintext

    @property
    def request_overhead(self) -> int:
        """Octets protection adds to a request: tag, length (up to 3), SC, IC, auth tag, and
        for general-glo-ciphering the system title."""
        if not self.security.policy & _REQUEST_BITS:
            return 0
        return 21 + (1 + SYSTEM_TITLE_LENGTH if self.security.general_ciphering else 0)

    def _take_counter(self) -> int:
        try:
            return self._sender.take()
        except CounterExhaustedError:
            raise DlmsSecurityError(
                "our invocation counter is exhausted: the keys must be changed"
            ) from None

    def _protect(
        self, plain: bytes, control: SecurityControl, *, dedicated: bool, general: bool
    ) -> bytes:
        wrap = protect_general if general else protect
        return wrap(
            plain,
            control=control,
            invocation_counter=self._take_counter(),
            system_title=self.security.system_title,
            keys=self._keys,
            dedicated=dedicated,
        )

    def _server_title(self) -> bytes:
        if self.server_system_title is None:
            raise DlmsSecurityError("the meter's system title is not known yet (no AARE)")
        return self.server_system_title

    def _server_challenge(self) -> bytes:
        if self.server_challenge is None:
            raise DlmsSecurityError("the meter's challenge StoC is not known yet (no AARE)")
        return self.server_challenge


def _keep_in_memory(bound: int) -> None:
    """No persistence: a counter kept for one session only."""


def _looks_ciphered(answer: bytes) -> bool:
    return bool(answer) and answer[0] in _CIPHERED_TAGS
