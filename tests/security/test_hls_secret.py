"""HLS mechanism 2 (manufacturer-specific secret), answered as gurux's Authentication.HIGH.

Vectors: the expected proofs were computed with gurux-dlms 1.0.203 (GXSecure.secure with
Authentication.HIGH; run once outside the suite, gurux is not imported here). The second is
also AES-128(key 000102..0F, block 000102..0F), the known answer 0A940BB5416EF045F1C39458C653EA5A.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metertwin.security import hls
from metertwin.security.errors import AuthenticationError, SecurityError

GURUX_HIGH = [
    # (challenge, secret, gurux's f(challenge))
    (b"P6wRJ21F", b"Gurux", "96011EF322EF023442A5636628BFB4C3"),
    (bytes(range(16)), bytes(range(16)), "0A940BB5416EF045F1C39458C653EA5A"),
    (
        b"0123456789ABCDEFGHIJ",
        b"12345678",
        "DADFFB639EE6FC927D2724EE35F82BD6E70F04BE104D377D4DB58B99C5E2BE0F",
    ),
]


@pytest.mark.parametrize(("challenge", "secret", "expected"), GURUX_HIGH)
def test_secret_proof_matches_gurux_high(challenge: bytes, secret: bytes, expected: str) -> None:
    proof = hls.secret_proof(challenge, secret)
    assert proof == bytes.fromhex(expected)
    hls.verify_secret_proof(proof, challenge, secret)


def test_a_wrong_secret_or_challenge_or_a_truncated_proof_is_refused() -> None:
    challenge, secret, expected = GURUX_HIGH[0]
    proof = bytes.fromhex(expected)
    for bad in (
        lambda: hls.verify_secret_proof(proof, challenge, b"Guruy"),
        lambda: hls.verify_secret_proof(proof, challenge[::-1], secret),
        lambda: hls.verify_secret_proof(proof[:-1], challenge, secret),
        lambda: hls.verify_secret_proof(b"", challenge, secret),
        lambda: hls.verify_secret_proof(proof, challenge, b""),
    ):
        with pytest.raises(AuthenticationError):
            bad()


def test_the_proof_is_padded_to_whole_blocks_and_blocks_are_independent() -> None:
    """ECB: a 20-byte challenge gives 32 bytes, and its first block is the proof of the first
    16 bytes alone."""
    long_proof = hls.secret_proof(b"A" * 16 + b"B" * 4, b"k")
    assert len(long_proof) == 32
    assert long_proof[:16] == hls.secret_proof(b"A" * 16, b"k")
    with pytest.raises(ValueError):
        hls.secret_proof(b"A" * 16, b"")


@given(st.binary(max_size=80), st.binary(min_size=1, max_size=40), st.binary(max_size=80))
def test_verify_of_any_bytes_raises_only_authentication_error(
    challenge: bytes, secret: bytes, proof: bytes
) -> None:
    try:
        hls.verify_secret_proof(proof, challenge, secret)
    except AuthenticationError:
        pass
    else:
        assert proof == hls.secret_proof(challenge, secret)
    assert issubclass(AuthenticationError, SecurityError)
