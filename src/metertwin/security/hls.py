"""HLS pass 3 and pass 4 proofs (Green Book 9.2.7.4, "HLS authentication mechanisms").

In the 4-pass exchange the client sends CtoS in the AARQ, the server StoC in the AARE; then the
client proves itself with f(StoC) (reply_to_HLS_authentication, pass 3) and the server with
f(CtoS) (its answer, pass 4). Each side computes f with its own system title first:

- mechanism 2 (manufacturer specific): no standard formula; we answer as gurux's client does
  for Authentication.HIGH: f(X) = AES-128-ECB(key = secret, X), both zero-padded (see
  ``secret_proof``);
- mechanism 5 (GMAC): f(X) = SC || IC || GMAC(EK, IV = own system title || IC,
  AAD = SC || AK || X), SC = 0x10 | suite, 12-byte tag;
- mechanism 6 (SHA-256): client f(StoC) = SHA-256(secret || ST-C || ST-S || StoC || CtoS),
  server f(CtoS) = SHA-256(secret || ST-S || ST-C || CtoS || StoC);
- mechanism 7 (ECDSA): client f(StoC) = ECDSA(ST-C || ST-S || StoC || CtoS) with its private
  key, server f(CtoS) = ECDSA(ST-S || ST-C || CtoS || StoC); P-256/SHA-256 (suite 1) or
  P-384/SHA-384 (suite 2), the signature as fixed-length big-endian r || s.

Functions are named by who computes: ``own_*`` for the proof this side sends, ``verify_*`` for
the proof the peer sent, which raises AuthenticationError (never anything else) when it fails.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from metertwin.security.ciphering import (
    AUTH_TAG_LENGTH,
    INVOCATION_COUNTER_LENGTH,
    SYSTEM_TITLE_LENGTH,
    gcm_tag,
    initialisation_vector,
)
from metertwin.security.errors import AuthenticationError
from metertwin.security.suites import SUITES, SecuritySuite

MIN_CHALLENGE_LENGTH = 8
MAX_CHALLENGE_LENGTH = 64
GMAC_REPLY_LENGTH = 1 + INVOCATION_COUNTER_LENGTH + AUTH_TAG_LENGTH
_AUTHENTICATED = 0x10


def new_challenge(length: int = 16, random_bytes: Callable[[int], bytes] = os.urandom) -> bytes:
    """A fresh CtoS or StoC of 8..64 random bytes (the range the Green Book allows)."""
    if not MIN_CHALLENGE_LENGTH <= length <= MAX_CHALLENGE_LENGTH:
        raise ValueError(f"an HLS challenge is 8 to 64 bytes, not {length}")
    challenge = random_bytes(length)
    if len(challenge) != length:
        raise ValueError(f"the random source gave {len(challenge)} bytes, not {length}")
    return challenge


def check_challenge(challenge: bytes) -> None:
    """Refuse a received challenge outside 8..64 bytes (AuthenticationError)."""
    if not MIN_CHALLENGE_LENGTH <= len(challenge) <= MAX_CHALLENGE_LENGTH:
        raise AuthenticationError(f"a challenge of {len(challenge)} bytes (8 to 64 allowed)")


# --- mechanism 2: HLS with a manufacturer-specific secret ------------------------------------

AES_BLOCK_LENGTH = 16


def secret_proof(challenge: bytes, secret: bytes) -> bytes:
    """Mechanism 2's f(challenge): AES-128-ECB of the challenge under the HLS secret.

    The Green Book leaves mechanism 2 to the manufacturer; this is the reading gurux's client
    uses for Authentication.HIGH (its GXSecure.secure, a fact checked with gurux-dlms 1.0.203):
    challenge and secret are zero-padded to the longer of the two rounded up to 16 bytes, the
    first 16 bytes of the padded secret are the AES-128 key, and every 16-byte block of the
    padded challenge is encrypted on its own. Both sides compute the same f over the challenge
    the other sent.
    """
    if not secret:
        raise ValueError("an HLS secret is at least one byte")
    length = max(len(challenge), len(secret))
    length += -length % AES_BLOCK_LENGTH
    key = secret.ljust(length, b"\x00")[:AES_BLOCK_LENGTH]
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(challenge.ljust(length, b"\x00")) + encryptor.finalize()


def verify_secret_proof(proof: bytes, challenge: bytes, secret: bytes) -> None:
    """Check the peer's mechanism 2 reply to the challenge this side sent."""
    if not secret:
        raise AuthenticationError("no HLS secret is configured")
    if not hmac.compare_digest(proof, secret_proof(challenge, secret)):
        raise AuthenticationError("mechanism 2 proof does not match")


# --- mechanism 5: HLS-GMAC --------------------------------------------------------------------


def gmac_proof(
    challenge: bytes,
    *,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
    suite: int = 0,
) -> bytes:
    """SC || IC || GMAC tag over the peer's challenge, under this side's system title."""
    sc = bytes([_AUTHENTICATED | suite])
    iv = initialisation_vector(system_title, invocation_counter)
    _, tag = gcm_tag(encryption_key, iv, sc + authentication_key + challenge)
    return sc + iv[SYSTEM_TITLE_LENGTH:] + tag


def verify_gmac_proof(
    proof: bytes,
    challenge: bytes,
    *,
    peer_system_title: bytes,
    encryption_key: bytes,
    authentication_key: bytes,
    suite: int = 0,
) -> int:
    """Check the peer's f(challenge); return its invocation counter for the replay guard."""
    if len(proof) != GMAC_REPLY_LENGTH:
        raise AuthenticationError(f"a GMAC proof is {GMAC_REPLY_LENGTH} bytes, not {len(proof)}")
    if proof[0] != _AUTHENTICATED | suite:
        raise AuthenticationError(f"security control 0x{proof[0]:02X} in a GMAC proof")
    if len(peer_system_title) != SYSTEM_TITLE_LENGTH:
        raise AuthenticationError("the peer's system title is not 8 bytes")
    counter = int.from_bytes(proof[1 : 1 + INVOCATION_COUNTER_LENGTH], "big")
    expected = gmac_proof(
        challenge,
        system_title=peer_system_title,
        invocation_counter=counter,
        encryption_key=encryption_key,
        authentication_key=authentication_key,
        suite=suite,
    )
    if not hmac.compare_digest(proof, expected):
        raise AuthenticationError("GMAC proof does not match")
    return counter


# --- mechanism 6: HLS-SHA256 ------------------------------------------------------------------


def sha256_proof(
    secret: bytes,
    *,
    own_system_title: bytes,
    peer_system_title: bytes,
    peer_challenge: bytes,
    own_challenge: bytes,
) -> bytes:
    """SHA-256(secret || own ST || peer ST || peer's challenge || own challenge): the client's
    f(StoC) with own = client, and the server's f(CtoS) with own = server."""
    return hashlib.sha256(
        secret + own_system_title + peer_system_title + peer_challenge + own_challenge
    ).digest()


def verify_sha256_proof(
    proof: bytes,
    secret: bytes,
    *,
    own_system_title: bytes,
    peer_system_title: bytes,
    own_challenge: bytes,
    peer_challenge: bytes,
) -> None:
    """Check the peer's SHA-256 proof: the peer hashed with its own title and challenge first."""
    expected = sha256_proof(
        secret,
        own_system_title=peer_system_title,
        peer_system_title=own_system_title,
        peer_challenge=own_challenge,
        own_challenge=peer_challenge,
    )
    if not hmac.compare_digest(proof, expected):
        raise AuthenticationError("SHA-256 proof does not match")


# --- mechanism 7: HLS-ECDSA -------------------------------------------------------------------


def ecdsa_signed_data(
    *,
    signer_system_title: bytes,
    other_system_title: bytes,
    challenge_to_signer: bytes,
    challenge_from_signer: bytes,
) -> bytes:
    """signer ST || other ST || challenge the signer received || challenge it sent."""
    return signer_system_title + other_system_title + challenge_to_signer + challenge_from_signer


def _suite_algorithms(suite: SecuritySuite) -> tuple[ec.EllipticCurve, hashes.HashAlgorithm]:
    if suite.curve is None or suite.hash_algorithm is None:
        raise ValueError(f"suite {suite.number} has no ECDSA")
    return suite.curve, suite.hash_algorithm


def ecdsa_sign(
    private_key: ec.EllipticCurvePrivateKey,
    data: bytes,
    suite: SecuritySuite,
    *,
    deterministic: bool = False,
) -> bytes:
    """Raw r || s signature of data with the suite's hash; RFC 6979 nonces if deterministic."""
    curve, hash_algorithm = _suite_algorithms(suite)
    if private_key.curve.name != curve.name:
        raise ValueError(
            f"suite {suite.number} signs on {curve.name}, not {private_key.curve.name}"
        )
    der = private_key.sign(data, ec.ECDSA(hash_algorithm, deterministic_signing=deterministic))
    r, s = decode_dss_signature(der)
    size = suite.coordinate_length
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_verify(
    public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes, suite: SecuritySuite
) -> None:
    """Check a raw r || s signature; any malformed or wrong one raises AuthenticationError."""
    curve, hash_algorithm = _suite_algorithms(suite)
    if public_key.curve.name != curve.name:
        raise AuthenticationError(f"the peer's key is on {public_key.curve.name}, not {curve.name}")
    if len(signature) != suite.signature_length:
        raise AuthenticationError(
            f"a suite {suite.number} signature is {suite.signature_length} bytes, "
            f"not {len(signature)}"
        )
    size = suite.coordinate_length
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    if r == 0 or s == 0:
        raise AuthenticationError("signature with a zero component")
    try:
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_algorithm))
    except InvalidSignature:
        raise AuthenticationError("ECDSA signature does not verify") from None


def ecdsa_proof(
    private_key: ec.EllipticCurvePrivateKey,
    *,
    own_system_title: bytes,
    peer_system_title: bytes,
    peer_challenge: bytes,
    own_challenge: bytes,
    suite: int,
) -> bytes:
    """This side's mechanism 7 proof: client f(StoC) or server f(CtoS)."""
    data = ecdsa_signed_data(
        signer_system_title=own_system_title,
        other_system_title=peer_system_title,
        challenge_to_signer=peer_challenge,
        challenge_from_signer=own_challenge,
    )
    return ecdsa_sign(private_key, data, _ecdsa_suite(suite))


def verify_ecdsa_proof(
    proof: bytes,
    peer_public_key: ec.EllipticCurvePublicKey,
    *,
    own_system_title: bytes,
    peer_system_title: bytes,
    own_challenge: bytes,
    peer_challenge: bytes,
    suite: int,
) -> None:
    """Check the peer's mechanism 7 proof, signed over its own title and received challenge."""
    data = ecdsa_signed_data(
        signer_system_title=peer_system_title,
        other_system_title=own_system_title,
        challenge_to_signer=own_challenge,
        challenge_from_signer=peer_challenge,
    )
    ecdsa_verify(peer_public_key, data, proof, _ecdsa_suite(suite))


def _ecdsa_suite(number: int) -> SecuritySuite:
    suite = SUITES.get(number)
    if suite is None or suite.curve is None:
        raise ValueError(f"HLS-ECDSA needs suite 1 or 2, not {number}")
    return suite
