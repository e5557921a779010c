"""HLS pass 3/4 proofs: mechanism 5 golden values, mechanism 6 and 7 role symmetry, RFC 6979."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tests.security.vectors import (
    AUTHENTICATION_KEY,
    BLOCK_CIPHER_KEY,
    CLIENT_SYSTEM_TITLE,
    SERVER_SYSTEM_TITLE,
)

from metertwin.security import hls
from metertwin.security.errors import AuthenticationError
from metertwin.security.suites import SUITE_0, SUITE_1, SUITE_2

CTOS = b"K56iVagY"  # AARQ calling-authentication-value (reference dlms.md 3.5)
STOC = b"P6wRJ21F"  # AARE responding-authentication-value
F_STOC = bytes.fromhex("10000000011A52FE7DD3E72748973C1E28")
F_CTOS = bytes.fromhex("1001234567FE1466AFB3DBCD4F9389E2B7")


def test_gmac_client_proof_green_book_table_43() -> None:
    """f(StoC) by the client, ST 4D4D4D0000000001, IC 1 (Green Book Table 43; DC
    test_security.py::test_gmac; JD GmacTest; reference dlms.md 3.5)."""
    proof = hls.gmac_proof(
        STOC,
        system_title=CLIENT_SYSTEM_TITLE,
        invocation_counter=1,
        encryption_key=BLOCK_CIPHER_KEY,
        authentication_key=AUTHENTICATION_KEY,
    )
    assert proof == F_STOC
    counter = hls.verify_gmac_proof(
        F_STOC,
        STOC,
        peer_system_title=CLIENT_SYSTEM_TITLE,
        encryption_key=BLOCK_CIPHER_KEY,
        authentication_key=AUTHENTICATION_KEY,
    )
    assert counter == 1


def test_gmac_server_proof_green_book_table_43() -> None:
    """f(CtoS) by the server, ST 4D4D4D0000BC614E, IC 01234567 (same sources)."""
    proof = hls.gmac_proof(
        CTOS,
        system_title=SERVER_SYSTEM_TITLE,
        invocation_counter=0x01234567,
        encryption_key=BLOCK_CIPHER_KEY,
        authentication_key=AUTHENTICATION_KEY,
    )
    assert proof == F_CTOS


@pytest.mark.parametrize(
    ("proof", "challenge", "title"),
    [
        (F_STOC, CTOS, CLIENT_SYSTEM_TITLE),  # answers the wrong challenge
        (F_STOC, STOC, SERVER_SYSTEM_TITLE),  # computed under another system title
        (F_STOC[:-1], STOC, CLIENT_SYSTEM_TITLE),  # truncated
        (b"\x30" + F_STOC[1:], STOC, CLIENT_SYSTEM_TITLE),  # not SC 0x10
        (F_STOC[:4] + b"\x02" + F_STOC[5:], STOC, CLIENT_SYSTEM_TITLE),  # another IC
        (b"", STOC, CLIENT_SYSTEM_TITLE),
    ],
)
def test_wrong_gmac_proofs_are_refused(proof: bytes, challenge: bytes, title: bytes) -> None:
    with pytest.raises(AuthenticationError):
        hls.verify_gmac_proof(
            proof,
            challenge,
            peer_system_title=title,
            encryption_key=BLOCK_CIPHER_KEY,
            authentication_key=AUTHENTICATION_KEY,
        )


def test_reply_to_hls_vector_parses_as_a_gmac_proof() -> None:
    """The reply_to_HLS action (reference dlms.md 5, DC TestActionRequestNormal) carries
    octet-string(17) 10 0000001A <12-byte tag>: its keys are not published, so under the Green
    Book keys it is a well-formed proof that fails, with AuthenticationError."""
    action = bytes.fromhex("C301C0000F0000280000FF010109111000001A90E6D2221FA2FD85EED61ACC22")
    proof = action[-17:]
    assert action[-19:-17] == bytes.fromhex("0911") and proof[0] == 0x10
    with pytest.raises(AuthenticationError):
        hls.verify_gmac_proof(
            proof,
            STOC,
            peer_system_title=CLIENT_SYSTEM_TITLE,
            encryption_key=BLOCK_CIPHER_KEY,
            authentication_key=AUTHENTICATION_KEY,
        )


def test_sha256_proofs_put_the_computing_side_first() -> None:
    """Mechanism 6 (Green Book 9.2.7.4; reference dlms.md 3.5): client
    SHA-256(secret || ST-C || ST-S || StoC || CtoS), server SHA-256(secret || ST-S || ST-C ||
    CtoS || StoC)."""
    secret = b"HLS secret"
    client = hls.sha256_proof(
        secret,
        own_system_title=CLIENT_SYSTEM_TITLE,
        peer_system_title=SERVER_SYSTEM_TITLE,
        peer_challenge=STOC,
        own_challenge=CTOS,
    )
    assert (
        client
        == hashlib.sha256(secret + CLIENT_SYSTEM_TITLE + SERVER_SYSTEM_TITLE + STOC + CTOS).digest()
    )
    server = hls.sha256_proof(
        secret,
        own_system_title=SERVER_SYSTEM_TITLE,
        peer_system_title=CLIENT_SYSTEM_TITLE,
        peer_challenge=CTOS,
        own_challenge=STOC,
    )
    assert (
        server
        == hashlib.sha256(secret + SERVER_SYSTEM_TITLE + CLIENT_SYSTEM_TITLE + CTOS + STOC).digest()
    )
    # The server checks the client's pass 3, the client the server's pass 4.
    hls.verify_sha256_proof(
        client,
        secret,
        own_system_title=SERVER_SYSTEM_TITLE,
        peer_system_title=CLIENT_SYSTEM_TITLE,
        own_challenge=STOC,
        peer_challenge=CTOS,
    )
    hls.verify_sha256_proof(
        server,
        secret,
        own_system_title=CLIENT_SYSTEM_TITLE,
        peer_system_title=SERVER_SYSTEM_TITLE,
        own_challenge=CTOS,
        peer_challenge=STOC,
    )
    with pytest.raises(AuthenticationError):
        hls.verify_sha256_proof(
            client,
            b"other secret",
            own_system_title=SERVER_SYSTEM_TITLE,
            peer_system_title=CLIENT_SYSTEM_TITLE,
            own_challenge=STOC,
            peer_challenge=CTOS,
        )


# RFC 6979 appendix A.2.5 (P-256) and A.2.6 (P-384): private key x, message "sample",
# signatures with SHA-256 and SHA-384 respectively.
RFC6979 = {
    1: (
        "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721",
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
        "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
    ),
    2: (
        "6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D8"
        "96D5724E4C70A825F872C9EA60D2EDF5",
        "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C"
        "81A648152E44ACF96E36DD1E80FABE46"
        "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94F"
        "A329C145786E679E7B82C71A38628AC8",
    ),
}
SUITE_OF = {1: SUITE_1, 2: SUITE_2}


@pytest.mark.parametrize("number", [1, 2])
def test_ecdsa_rfc6979_vectors_sign_and_verify_as_raw_r_s(number: int) -> None:
    """Suite 1: P-256/SHA-256, suite 2: P-384/SHA-384; the signature is r || s, each the
    curve's length (RFC 6979 A.2.5 / A.2.6)."""
    suite = SUITE_OF[number]
    scalar, signature_hex = RFC6979[number]
    assert suite.curve is not None
    key = ec.derive_private_key(int(scalar, 16), suite.curve)
    signature = bytes.fromhex(signature_hex)
    assert len(signature) == suite.signature_length
    hls.ecdsa_verify(key.public_key(), b"sample", signature, suite)
    assert hls.ecdsa_sign(key, b"sample", suite, deterministic=True) == signature
    with pytest.raises(AuthenticationError):
        hls.ecdsa_verify(key.public_key(), b"samplE", signature, suite)
    with pytest.raises(AuthenticationError):
        hls.ecdsa_verify(key.public_key(), b"sample", signature[:-1], suite)


@pytest.mark.parametrize("number", [1, 2])
def test_ecdsa_hls_proofs_sign_own_title_and_received_challenge_first(number: int) -> None:
    """Mechanism 7: client signs ST-C || ST-S || StoC || CtoS, server ST-S || ST-C || CtoS ||
    StoC (Green Book 9.2.7.4)."""
    suite = SUITE_OF[number]
    assert suite.curve is not None
    client_key = ec.generate_private_key(suite.curve)
    server_key = ec.generate_private_key(suite.curve)
    client_proof = hls.ecdsa_proof(
        client_key,
        own_system_title=CLIENT_SYSTEM_TITLE,
        peer_system_title=SERVER_SYSTEM_TITLE,
        peer_challenge=STOC,
        own_challenge=CTOS,
        suite=number,
    )
    hls.ecdsa_verify(
        client_key.public_key(),
        CLIENT_SYSTEM_TITLE + SERVER_SYSTEM_TITLE + STOC + CTOS,
        client_proof,
        suite,
    )
    hls.verify_ecdsa_proof(
        client_proof,
        client_key.public_key(),
        own_system_title=SERVER_SYSTEM_TITLE,
        peer_system_title=CLIENT_SYSTEM_TITLE,
        own_challenge=STOC,
        peer_challenge=CTOS,
        suite=number,
    )
    server_proof = hls.ecdsa_proof(
        server_key,
        own_system_title=SERVER_SYSTEM_TITLE,
        peer_system_title=CLIENT_SYSTEM_TITLE,
        peer_challenge=CTOS,
        own_challenge=STOC,
        suite=number,
    )
    hls.ecdsa_verify(
        server_key.public_key(),
        SERVER_SYSTEM_TITLE + CLIENT_SYSTEM_TITLE + CTOS + STOC,
        server_proof,
        suite,
    )
    with pytest.raises(AuthenticationError):  # the server's key does not sign for the client
        hls.verify_ecdsa_proof(
            client_proof,
            server_key.public_key(),
            own_system_title=SERVER_SYSTEM_TITLE,
            peer_system_title=CLIENT_SYSTEM_TITLE,
            own_challenge=STOC,
            peer_challenge=CTOS,
            suite=number,
        )


def test_ecdsa_refuses_keys_of_another_suite_and_suite_0() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthenticationError):
        hls.ecdsa_verify(p256.public_key(), b"x", bytes(96), SUITE_2)
    with pytest.raises(ValueError):
        hls.ecdsa_sign(p256, b"x", SUITE_2)
    with pytest.raises(ValueError):
        hls.ecdsa_sign(p256, b"x", SUITE_0)
    with pytest.raises(AuthenticationError):
        hls.ecdsa_verify(p256.public_key(), b"x", bytes(64), SUITE_1)


def test_challenges_are_8_to_64_bytes_from_the_injected_source() -> None:
    asked: list[int] = []

    def source(n: int) -> bytes:
        asked.append(n)
        return bytes(range(n))

    assert hls.new_challenge(32, random_bytes=source) == bytes(range(32))
    assert asked == [32]
    assert len(hls.new_challenge()) == 16
    for length in (7, 65):
        with pytest.raises(ValueError):
            hls.new_challenge(length, random_bytes=source)
    with pytest.raises(ValueError):
        hls.new_challenge(8, random_bytes=lambda n: b"short")
    hls.check_challenge(bytes(8))
    hls.check_challenge(bytes(64))
    for length in (0, 7, 65):
        with pytest.raises(AuthenticationError):
            hls.check_challenge(bytes(length))
