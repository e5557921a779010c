"""ECDH and the SP 800-56A concatenation KDF of suites 1 and 2 (Green Book 9.2.3.4.6).

ECC CDH vectors: NIST CAVS 14.1 KAS_ECC_CDH_PrimitiveTest.txt, [P-256] COUNT = 0 and [P-384]
COUNT = 0 (QCAVS the peer's point, dIUT our scalar, ZIUT the shared secret). The KDF is checked
against SP 800-56A 5.8.1 written out with hashlib: Hash(00000001 || Z || OtherInfo).
"""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
from tests.security.vectors import CLIENT_SYSTEM_TITLE, SERVER_SYSTEM_TITLE

from metertwin.security import key_agreement as ka
from metertwin.security.errors import KeyAgreementError
from metertwin.security.keys import KeyId
from metertwin.security.suites import SUITE_0, SUITE_1, SUITE_2, SecuritySuite

CAVS = {
    1: (
        "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534",
        "700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287"
        "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac",
        "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b",
    ),
    2: (
        "3cc3122a68f0d95027ad38c067916ba0eb8c38894d22e1b15618b6818a661774"
        "ad463b205da88cf699ab4d43c9cf98a1",
        "a7c76b970c3b5fe8b05d2838ae04ab47697b9eaf52e764592efda27fe7513272"
        "734466b400091adbf2d68c58e0c50066ac68f19f2e1cb879aed43a9969b91a08"
        "39c4c38a49749b661efedf243451915ed0905a32b060992b468c64766fc8437a",
        "5f9d29dc5e31a163060356213669c8ce132e22f57c9a04f40ba7fcead493b457"
        "e5621e766c40a2e3d4d6a04b25e533f1",
    ),
}
SUITES = {1: SUITE_1, 2: SUITE_2}
HASHES = {1: hashlib.sha256, 2: hashlib.sha384}


def _key(suite: SecuritySuite) -> ec.EllipticCurvePrivateKey:
    assert suite.curve is not None
    return ec.generate_private_key(suite.curve)


@pytest.mark.parametrize("number", [1, 2])
def test_shared_secret_is_the_nist_cavs_ecc_cdh_answer(number: int) -> None:
    suite = SUITES[number]
    scalar, peer_point, z = CAVS[number]
    assert suite.curve is not None
    ours = ec.derive_private_key(int(scalar, 16), suite.curve)
    peer = ka.decode_public_key(bytes.fromhex(peer_point), suite)
    assert ka.encode_public_key(peer, suite) == bytes.fromhex(peer_point)
    assert ka.shared_secret(ours, peer) == bytes.fromhex(z)


@pytest.mark.parametrize("number", [1, 2])
def test_agreed_key_is_the_single_step_kdf_over_algorithm_id_and_both_titles(number: int) -> None:
    """OtherInfo = 60857405080300 (AES-GCM-128, suite 1) or ...01 (AES-GCM-256, suite 2) ||
    ST-U (initiator, client) || ST-V (responder, server)."""
    suite = SUITES[number]
    scalar, peer_point, z = CAVS[number]
    assert suite.curve is not None
    ours = ec.derive_private_key(int(scalar, 16), suite.curve)
    peer = ka.decode_public_key(bytes.fromhex(peer_point), suite)
    algorithm = bytes.fromhex("6085740508030" + ("0" if number == 1 else "1"))
    info = algorithm + CLIENT_SYSTEM_TITLE + SERVER_SYSTEM_TITLE
    expected = HASHES[number](b"\x00\x00\x00\x01" + bytes.fromhex(z) + info).digest()
    key = ka.agreed_key(
        suite,
        ours,
        peer,
        initiator_system_title=CLIENT_SYSTEM_TITLE,
        responder_system_title=SERVER_SYSTEM_TITLE,
    )
    assert key == expected[: suite.key_length]
    assert len(key) == suite.key_length


@pytest.mark.parametrize("number", [1, 2])
def test_both_sides_of_key_agreement_derive_the_same_key(number: int) -> None:
    """C(2e, 0s): each side signs its ephemeral key (key_id || x || y), checks the other's
    with the peer's signing key, and derives the same key from the two ephemeral keys."""
    suite = SUITES[number]
    client_signing, server_signing = _key(suite), _key(suite)
    client_ephemeral, server_ephemeral = ka.new_ephemeral_key(suite), ka.new_ephemeral_key(suite)
    request = ka.signed_ephemeral_key(
        KeyId.GLOBAL_UNICAST_ENCRYPTION, client_ephemeral.public_key(), client_signing, suite
    )
    assert len(request) == 2 * suite.signature_length  # point and signature are the same size
    response = ka.signed_ephemeral_key(
        KeyId.GLOBAL_UNICAST_ENCRYPTION, server_ephemeral.public_key(), server_signing, suite
    )
    at_server = ka.open_signed_ephemeral_key(0, request, client_signing.public_key(), suite)
    at_client = ka.open_signed_ephemeral_key(0, response, server_signing.public_key(), suite)
    titles = {
        "initiator_system_title": CLIENT_SYSTEM_TITLE,
        "responder_system_title": SERVER_SYSTEM_TITLE,
    }
    server_key = ka.agreed_key(suite, server_ephemeral, at_server, **titles)
    client_key = ka.agreed_key(suite, client_ephemeral, at_client, **titles)
    assert server_key == client_key
    with pytest.raises(KeyAgreementError):  # signed for key id 0, presented as key id 2
        ka.open_signed_ephemeral_key(2, request, client_signing.public_key(), suite)
    with pytest.raises(KeyAgreementError):  # signed by the client, checked with the server's
        ka.open_signed_ephemeral_key(0, request, server_signing.public_key(), suite)
    tampered = bytes([request[0] ^ 1]) + request[1:]
    with pytest.raises(KeyAgreementError):
        ka.open_signed_ephemeral_key(0, tampered, client_signing.public_key(), suite)


def test_static_unified_model_puts_the_transaction_id_in_party_v_info() -> None:
    """C(0e, 2s): PartyVInfo = len(transaction-id) || transaction-id || ST-V."""
    suite = SUITE_1
    originator, recipient = _key(suite), _key(suite)
    tid = bytes.fromhex("0000000000000001")
    at_originator = ka.static_unified_key(
        suite,
        originator,
        recipient.public_key(),
        originator_system_title=CLIENT_SYSTEM_TITLE,
        recipient_system_title=SERVER_SYSTEM_TITLE,
        transaction_id=tid,
    )
    at_recipient = ka.static_unified_key(
        suite,
        recipient,
        originator.public_key(),
        originator_system_title=CLIENT_SYSTEM_TITLE,
        recipient_system_title=SERVER_SYSTEM_TITLE,
        transaction_id=tid,
    )
    assert at_originator == at_recipient
    z = ka.shared_secret(originator, recipient.public_key())
    info = bytes.fromhex("60857405080300") + CLIENT_SYSTEM_TITLE + b"\x08" + tid
    info += SERVER_SYSTEM_TITLE
    assert at_originator == hashlib.sha256(b"\x00\x00\x00\x01" + z + info).digest()[:16]


def test_points_off_the_curve_or_of_the_wrong_size_are_refused() -> None:
    point = ka.encode_public_key(_key(SUITE_1).public_key(), SUITE_1)
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    for bad in (off_curve, point[:-1], b"", bytes(64)):
        with pytest.raises(KeyAgreementError):
            ka.decode_public_key(bad, SUITE_1)
    with pytest.raises(KeyAgreementError):  # a P-256 key against a P-384 one
        ka.shared_secret(_key(SUITE_2), ka.decode_public_key(point, SUITE_1))
    with pytest.raises(ValueError):
        ka.decode_public_key(point, SUITE_0)


@given(st.integers(0, 255), st.binary(max_size=200))
def test_key_data_of_any_bytes_raises_only_key_agreement_error(key_id: int, data: bytes) -> None:
    signing = PEER_SIGNING.public_key()
    for suite in (SUITE_1, SUITE_2):
        with contextlib.suppress(KeyAgreementError):
            ka.open_signed_ephemeral_key(key_id, data, signing, suite)
        with contextlib.suppress(KeyAgreementError):
            ka.decode_public_key(data, suite)


@given(st.data())
def test_plausible_key_data_raises_only_key_agreement_error(data: st.DataObject) -> None:
    """Right length, random content: mostly off-curve points, now and then a bad signature."""
    suite = data.draw(st.sampled_from([SUITE_1, SUITE_2]))
    length = 2 * suite.signature_length
    key_data = data.draw(st.binary(min_size=length, max_size=length))
    with pytest.raises(KeyAgreementError):
        ka.open_signed_ephemeral_key(0, key_data, PEER_SIGNING.public_key(), suite)


PEER_SIGNING = ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize("key_id", [KeyId.GLOBAL_UNICAST_ENCRYPTION, KeyId.AUTHENTICATION])
def test_the_server_answers_key_agreement_and_the_client_derives_the_same_key(
    key_id: KeyId,
) -> None:
    """Class 64 method 3 end to end for one {key_id, key_data} entry, suite 2."""
    suite = SUITE_2
    client_signing, server_signing = _key(suite), _key(suite)
    client_ephemeral = ka.new_ephemeral_key(suite)
    request = ka.signed_ephemeral_key(key_id, client_ephemeral.public_key(), client_signing, suite)
    answer = ka.answer_key_agreement(
        suite,
        key_id,
        request,
        client_signing_key=client_signing.public_key(),
        server_signing_key=server_signing,
        client_system_title=CLIENT_SYSTEM_TITLE,
        server_system_title=SERVER_SYSTEM_TITLE,
    )
    assert answer.key_id is key_id and len(answer.agreed_key) == 32
    server_ephemeral = ka.open_signed_ephemeral_key(
        key_id, answer.key_data, server_signing.public_key(), suite
    )
    client_key = ka.agreed_key(
        suite,
        client_ephemeral,
        server_ephemeral,
        initiator_system_title=CLIENT_SYSTEM_TITLE,
        responder_system_title=SERVER_SYSTEM_TITLE,
    )
    assert client_key == answer.agreed_key


def test_key_agreement_refuses_the_master_key_and_unknown_ids() -> None:
    suite = SUITE_1
    signing = _key(suite)
    request = ka.signed_ephemeral_key(3, ka.new_ephemeral_key(suite).public_key(), signing, suite)
    for key_id in (3, 4, 255):
        with pytest.raises(KeyAgreementError):
            ka.answer_key_agreement(
                suite,
                key_id,
                request,
                client_signing_key=signing.public_key(),
                server_signing_key=_key(suite),
                client_system_title=CLIENT_SYSTEM_TITLE,
                server_system_title=SERVER_SYSTEM_TITLE,
            )
