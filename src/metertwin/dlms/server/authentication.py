"""The server's half of the HLS 4-pass exchange (Green Book 9.2.7.4; dlms.md 3.5), sans-IO.

Pass 1 (AARQ) brings CtoS and the client's system title; the server answers pass 2 (AARE)
with a fresh StoC and waits, association pending. Pass 3 is the client's
reply_to_HLS_authentication (class 15 method 1) carrying f(StoC); when it verifies, the
association is open and the server returns f(CtoS) (pass 4). The formulas live in
``metertwin.security.hls``; this module only picks them by mechanism and says, at the AARQ,
whether the setup holds what the mechanism needs (:func:`missing_for`).
"""

from __future__ import annotations

from dataclasses import dataclass

from metertwin.codec.enums import AuthenticationMechanism
from metertwin.cosem.backend import SecurityMaterial
from metertwin.dlms.server.protection import load_private_key, load_public_key
from metertwin.security.errors import AuthenticationError
from metertwin.security.hls import (
    MAX_CHALLENGE_LENGTH,
    MIN_CHALLENGE_LENGTH,
    ecdsa_proof,
    gmac_proof,
    secret_proof,
    sha256_proof,
    verify_ecdsa_proof,
    verify_gmac_proof,
    verify_secret_proof,
    verify_sha256_proof,
)
from metertwin.security.suites import SUITES

__all__ = ["SERVED_MECHANISMS", "HlsExchange", "challenge_fits", "missing_for"]

_M = AuthenticationMechanism
SERVED_MECHANISMS = frozenset({_M.HIGH, _M.HIGH_GMAC, _M.HIGH_SHA256, _M.HIGH_ECDSA})
"""The HLS mechanisms this server runs; MD5 (3) and SHA-1 (4) are deprecated and refused."""


def challenge_fits(challenge: bytes) -> bool:
    """CtoS is 8 to 64 octets (Green Book 9.2.7.4)."""
    return MIN_CHALLENGE_LENGTH <= len(challenge) <= MAX_CHALLENGE_LENGTH


def missing_for(mechanism: AuthenticationMechanism, material: SecurityMaterial) -> str | None:
    """What the Security setup lacks to run ``mechanism`` (None: nothing)."""
    if mechanism in (_M.HIGH, _M.HIGH_SHA256):
        return None if material.hls_secret else "no HLS secret"
    if mechanism == _M.HIGH_GMAC:
        if material.global_unicast_key is None or material.authentication_key is None:
            return "no global unicast or authentication key"
        return None
    if mechanism == _M.HIGH_ECDSA:
        if SUITES[material.suite].curve is None:
            return f"suite {material.suite} has no ECDSA"
        if load_private_key(material.server_signing_key) is None:
            return "no server signing key"
        if load_public_key(material.client_signing_public_key) is None:
            return "no client public key"
        return None
    return f"mechanism {mechanism.name} is not served"


@dataclass(slots=True)
class HlsExchange:
    """One pending HLS association: the two challenges and the two system titles."""

    mechanism: AuthenticationMechanism
    ctos: bytes
    stoc: bytes
    client_system_title: bytes
    material: SecurityMaterial

    @property
    def server_system_title(self) -> bytes:
        return self.material.server_system_title

    def verify(self, proof: bytes) -> bool:
        """Whether pass 3's f(StoC) proves the client (never raises on any octets).

        The GMAC proof's invocation counter is not held against the replay guard: StoC is
        fresh for this association, so a proof cannot be replayed from another one.
        """
        material = self.material
        try:
            match self.mechanism:
                case _M.HIGH:
                    verify_secret_proof(proof, self.stoc, material.hls_secret or b"")
                case _M.HIGH_GMAC:
                    verify_gmac_proof(
                        proof,
                        self.stoc,
                        peer_system_title=self.client_system_title,
                        encryption_key=material.global_unicast_key or b"",
                        authentication_key=material.authentication_key or b"",
                        suite=material.suite,
                    )
                case _M.HIGH_SHA256:
                    verify_sha256_proof(
                        proof,
                        material.hls_secret or b"",
                        own_system_title=self.server_system_title,
                        peer_system_title=self.client_system_title,
                        own_challenge=self.stoc,
                        peer_challenge=self.ctos,
                    )
                case _M.HIGH_ECDSA:
                    public_key = load_public_key(material.client_signing_public_key)
                    if public_key is None:
                        return False
                    verify_ecdsa_proof(
                        proof,
                        public_key,
                        own_system_title=self.server_system_title,
                        peer_system_title=self.client_system_title,
                        own_challenge=self.stoc,
                        peer_challenge=self.ctos,
                        suite=material.suite,
                    )
                case _:
                    return False
        except (AuthenticationError, ValueError):
            return False
        return True

    def server_proof(self, invocation_counter: int) -> bytes:
        """Pass 4: f(CtoS), under the server's system title (``invocation_counter`` is used
        by GMAC only)."""
        material = self.material
        match self.mechanism:
            case _M.HIGH:
                return secret_proof(self.ctos, material.hls_secret or b"")
            case _M.HIGH_GMAC:
                return gmac_proof(
                    self.ctos,
                    system_title=self.server_system_title,
                    invocation_counter=invocation_counter,
                    encryption_key=material.global_unicast_key or b"",
                    authentication_key=material.authentication_key or b"",
                    suite=material.suite,
                )
            case _M.HIGH_SHA256:
                return sha256_proof(
                    material.hls_secret or b"",
                    own_system_title=self.server_system_title,
                    peer_system_title=self.client_system_title,
                    peer_challenge=self.ctos,
                    own_challenge=self.stoc,
                )
            case _M.HIGH_ECDSA:
                key = load_private_key(material.server_signing_key)
                if key is None:
                    raise ValueError("no server signing key")
                return ecdsa_proof(
                    key,
                    own_system_title=self.server_system_title,
                    peer_system_title=self.client_system_title,
                    peer_challenge=self.ctos,
                    own_challenge=self.stoc,
                    suite=material.suite,
                )
        raise ValueError(f"mechanism {self.mechanism.name} is not served")
