"""general-signing (0xDF): layout, ECDSA over the header and content, strict refusal.

Layout from the xDLMS ASN.1 General-Signing (Green Book 9.2.7.2.4): five octet-string header
fields, content, signature; what is signed (the header fields as encoded, then the content's
bytes) as gurux's signing code reads it. Signatures: RFC 6979 A.2.5 key (suite 1), checked
deterministic-free by verifying, never by comparing random signatures.
"""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
from tests.security.vectors import CLIENT_SYSTEM_TITLE, SERVER_SYSTEM_TITLE

from metertwin.security import general_signing as gs
from metertwin.security.errors import DecipheringError, DecipheringReason
from metertwin.security.general_header import GeneralHeader
from metertwin.security.hls import ecdsa_verify
from metertwin.security.suites import SUITE_1, SUITE_2, SecuritySuite

GET_REQUEST = bytes.fromhex("C001C1000301000100FF0200")  # reference dlms.md 5
HEADER = GeneralHeader(
    transaction_id=bytes.fromhex("0000000000000001"),
    originator_system_title=CLIENT_SYSTEM_TITLE,
    recipient_system_title=SERVER_SYSTEM_TITLE,
)


def _key(suite: SecuritySuite) -> ec.EllipticCurvePrivateKey:
    assert suite.curve is not None
    return ec.generate_private_key(suite.curve)


def test_layout_and_what_is_signed() -> None:
    key = _key(SUITE_1)
    apdu = gs.sign_general(GET_REQUEST, header=HEADER, signing_key=key, suite=SUITE_1)
    fields = (
        "08"
        + "0000000000000001"
        + "08"
        + CLIENT_SYSTEM_TITLE.hex()
        + "08"
        + SERVER_SYSTEM_TITLE.hex()
        + "00"
        + "00"
    )
    head = bytes.fromhex("DF" + fields + "0C") + GET_REQUEST + b"\x40"
    assert apdu.startswith(head) and len(apdu) == len(head) + 64
    signature = apdu[len(head) :]
    ecdsa_verify(key.public_key(), bytes.fromhex(fields) + GET_REQUEST, signature, SUITE_1)
    decoded = gs.verify_general_signing(
        apdu,
        peer_signing_key=key.public_key(),
        suite=1,
        peer_system_title=CLIENT_SYSTEM_TITLE,
        own_system_title=SERVER_SYSTEM_TITLE,
    )
    assert decoded.content == GET_REQUEST and decoded.header == HEADER


@pytest.mark.parametrize("suite", [SUITE_1, SUITE_2])
def test_a_bad_signature_has_its_own_reason(suite: SecuritySuite) -> None:
    key, other = _key(suite), _key(suite)
    apdu = gs.sign_general(GET_REQUEST, header=HEADER, signing_key=key, suite=suite)
    assert len(gs.decode_general_signing(apdu).signature) == suite.signature_length
    altered_content = apdu.replace(GET_REQUEST, GET_REQUEST[:-1] + b"\x01")
    altered_header = apdu.replace(bytes.fromhex("0000000000000001"), bytes(8))
    for bad, signer in ((apdu, other), (altered_content, key), (altered_header, key)):
        with pytest.raises(DecipheringError) as refused:
            gs.verify_general_signing(bad, peer_signing_key=signer.public_key(), suite=suite.number)
        assert refused.value.reason is DecipheringReason.SIGNATURE


def test_wrong_parties_and_suites_are_refused_before_the_signature() -> None:
    key = _key(SUITE_1)
    apdu = gs.sign_general(GET_REQUEST, header=HEADER, signing_key=key, suite=SUITE_1)
    cases = [
        ({"peer_system_title": SERVER_SYSTEM_TITLE}, DecipheringReason.SYSTEM_TITLE),
        ({"own_system_title": CLIENT_SYSTEM_TITLE}, DecipheringReason.SYSTEM_TITLE),
    ]
    for extra, reason in cases:
        with pytest.raises(DecipheringError) as refused:
            gs.verify_general_signing(apdu, peer_signing_key=key.public_key(), suite=1, **extra)
        assert refused.value.reason is reason
    for suite in (0, 7):
        with pytest.raises(DecipheringError) as refused:
            gs.verify_general_signing(apdu, peer_signing_key=key.public_key(), suite=suite)
        assert refused.value.reason is DecipheringReason.UNKNOWN_SUITE
    with pytest.raises(DecipheringError) as refused:  # a P-256 signature checked as suite 2
        gs.verify_general_signing(apdu, peer_signing_key=key.public_key(), suite=2)
    assert refused.value.reason is DecipheringReason.SIGNATURE


def test_a_broadcast_has_an_empty_recipient_and_opens_for_anyone() -> None:
    key = _key(SUITE_1)
    header = GeneralHeader(b"\x01", CLIENT_SYSTEM_TITLE)
    apdu = gs.sign_general(GET_REQUEST, header=header, signing_key=key, suite=SUITE_1)
    opened = gs.verify_general_signing(
        apdu, peer_signing_key=key.public_key(), suite=1, own_system_title=SERVER_SYSTEM_TITLE
    )
    assert opened.header.recipient_system_title == b""


@pytest.mark.parametrize(
    ("apdu", "reason"),
    [
        (b"", DecipheringReason.TRUNCATED),
        (b"\xdd", DecipheringReason.WRONG_TAG),
        (bytes.fromhex("DF0101"), DecipheringReason.TRUNCATED),
        (bytes.fromhex("DF010107" + "00" * 7 + "000000"), DecipheringReason.SYSTEM_TITLE),
        (
            bytes.fromhex("DF0101080102030405060708" + "0003000000" + "00"),
            DecipheringReason.WRONG_LENGTH,
        ),
        (bytes.fromhex("DF8501"), DecipheringReason.WRONG_LENGTH),
    ],
)
def test_malformed_general_signing_is_refused_with_its_reason(
    apdu: bytes, reason: DecipheringReason
) -> None:
    with pytest.raises(DecipheringError) as refused:
        gs.decode_general_signing(apdu)
    assert refused.value.reason is reason


def test_bytes_after_the_signature_are_refused() -> None:
    key = _key(SUITE_1)
    apdu = gs.sign_general(GET_REQUEST, header=HEADER, signing_key=key, suite=SUITE_1)
    with pytest.raises(DecipheringError) as refused:
        gs.decode_general_signing(apdu + b"\x00")
    assert refused.value.reason is DecipheringReason.WRONG_LENGTH


HEADERS = st.builds(
    GeneralHeader,
    transaction_id=st.binary(max_size=130),
    originator_system_title=st.binary(min_size=8, max_size=8),
    recipient_system_title=st.sampled_from([b"", SERVER_SYSTEM_TITLE]),
    date_time=st.sampled_from([b"", bytes(range(12))]),
    other_information=st.binary(max_size=140),
)


@given(HEADERS, st.binary(max_size=300), st.binary(max_size=100))
def test_decode_inverts_encode(header: GeneralHeader, content: bytes, signature: bytes) -> None:
    decoded = gs.decode_general_signing(gs.encode_general_signing(header, content, signature))
    assert decoded == gs.GeneralSigning(header, content, signature)


@given(st.binary(max_size=300))
def test_any_bytes_raise_only_deciphering_error(apdu: bytes) -> None:
    with contextlib.suppress(DecipheringError):
        gs.verify_general_signing(apdu, peer_signing_key=PEER.public_key(), suite=1)
    with contextlib.suppress(DecipheringError):
        gs.verify_general_signing(b"\xdf" + apdu, peer_signing_key=PEER.public_key(), suite=1)


@given(st.data())
def test_flipping_any_bit_of_a_signed_apdu_is_refused(data: st.DataObject) -> None:
    apdu = SIGNED
    index = data.draw(st.integers(0, len(apdu) - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(apdu)
    flipped[index] ^= 1 << bit
    with pytest.raises(DecipheringError):
        gs.verify_general_signing(bytes(flipped), peer_signing_key=PEER.public_key(), suite=1)


PEER = ec.generate_private_key(ec.SECP256R1())
SIGNED = gs.sign_general(GET_REQUEST, header=HEADER, signing_key=PEER, suite=SUITE_1)
