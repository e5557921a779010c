"""general-ciphering (0xDD): key-info choices, AES-GCM under the named key, strict refusal.

Layout from the xDLMS ASN.1 General-Ciphering and Key-Info (Green Book 9.2.7.2.4): the five
header octet-strings, key-info OPTIONAL (identified-key [0], wrapped-key [1], agreed-key [2]),
ciphered-content. The GCM result is checked against ``cryptography``'s AESGCM called directly
with IV = originator system title || IC and AAD = SC || AK (suite 0), Green Book example keys
(reference dlms.md 3.5); key wrap is RFC 3394 (its vectors are in test_keys.py).
"""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st
from tests.security.vectors import (
    AUTHENTICATION_KEY,
    BLOCK_CIPHER_KEY,
    CLIENT_SYSTEM_TITLE,
    SERVER_SYSTEM_TITLE,
)

from metertwin.security import general_ciphering as gc
from metertwin.security.ciphering import SecurityControl
from metertwin.security.errors import DecipheringError, DecipheringReason
from metertwin.security.general_header import GeneralHeader
from metertwin.security.key_agreement import AgreementScheme
from metertwin.security.keys import KeyId
from metertwin.security.suites import SUITE_1, SUITE_2, SecuritySuite

GET_REQUEST = bytes.fromhex("C001C1000301000100FF0200")  # reference dlms.md 5
TID = bytes.fromhex("0000000000000001")
HEADER = GeneralHeader(TID, CLIENT_SYSTEM_TITLE, SERVER_SYSTEM_TITLE)
FIELDS = "08" + TID.hex() + "08" + CLIENT_SYSTEM_TITLE.hex() + "08" + SERVER_SYSTEM_TITLE.hex()
FIELDS += "0000"


def _protect(
    control: SecurityControl, key_info: gc.KeyInfo | None, content_key: bytes, *, counter: int
) -> bytes:
    """GET_REQUEST from the client to the server (HEADER), the Green Book AK."""
    return gc.protect_general_ciphering(
        GET_REQUEST,
        header=HEADER,
        control=control,
        invocation_counter=counter,
        authentication_key=AUTHENTICATION_KEY,
        key_info=key_info,
        content_key=content_key,
    )


def _key(suite: SecuritySuite) -> ec.EllipticCurvePrivateKey:
    assert suite.curve is not None
    return ec.generate_private_key(suite.curve)


def test_identified_key_suite_0_layout_and_gcm() -> None:
    control = SecurityControl(0, authenticated=True, encrypted=True)
    apdu = gc.protect_general_ciphering(
        GET_REQUEST,
        header=HEADER,
        control=control,
        invocation_counter=0x01234567,
        authentication_key=AUTHENTICATION_KEY,
        key_info=gc.IdentifiedKeyInfo(KeyId.GLOBAL_UNICAST_ENCRYPTION),
        content_key=BLOCK_CIPHER_KEY,
    )
    sealed = AESGCM(BLOCK_CIPHER_KEY).encrypt(
        CLIENT_SYSTEM_TITLE + bytes.fromhex("01234567"),
        GET_REQUEST,
        b"\x30" + AUTHENTICATION_KEY,
    )
    ciphertext, tag = sealed[:-16], sealed[-16:-4]
    content = bytes.fromhex("3001234567") + ciphertext + tag
    expected = bytes.fromhex("DD" + FIELDS + "010000") + bytes([len(content)]) + content
    assert apdu == expected
    opened = gc.unprotect_general_ciphering(
        apdu,
        keys=gc.RecipientKeys(AUTHENTICATION_KEY, global_unicast_key=BLOCK_CIPHER_KEY),
        peer_system_title=CLIENT_SYSTEM_TITLE,
        own_system_title=SERVER_SYSTEM_TITLE,
    )
    assert opened.plaintext == GET_REQUEST and opened.invocation_counter == 0x01234567
    assert opened.key_info == gc.IdentifiedKeyInfo(KeyId.GLOBAL_UNICAST_ENCRYPTION)


def test_wrapped_key_carries_the_content_key_under_the_master_key() -> None:
    master, content_key = bytes(range(16)), bytes(range(16, 32))
    key_info = gc.wrapped_key_info(master, content_key)
    apdu = _protect(SecurityControl(0, True, True), key_info, content_key, counter=1)
    assert apdu[1 + len(FIELDS) // 2 :].startswith(bytes.fromhex("01010018") + key_info.wrapped_key)
    keys = gc.RecipientKeys(AUTHENTICATION_KEY, master_key=master)
    assert gc.unprotect_general_ciphering(apdu, keys=keys).plaintext == GET_REQUEST
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(
            apdu, keys=gc.RecipientKeys(AUTHENTICATION_KEY, master_key=bytes(16))
        )
    assert refused.value.reason is DecipheringReason.KEY_INFO
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(apdu, keys=gc.RecipientKeys(AUTHENTICATION_KEY))
    assert refused.value.reason is DecipheringReason.MISSING_KEY


@pytest.mark.parametrize("suite", [SUITE_1, SUITE_2])
def test_one_pass_diffie_hellman_agrees_the_content_key(suite: SecuritySuite) -> None:
    """C(1e, 1s): the originator's signed ephemeral key with the recipient's static key; the
    header is in the AAD, so altering it fails the tag."""
    signing, recipient = _key(suite), _key(suite)
    key_info, key = gc.one_pass_key_info(
        suite,
        HEADER,
        ephemeral_key=_key(suite),
        signing_key=signing,
        recipient_key_agreement_key=recipient.public_key(),
    )
    assert len(key) == suite.key_length
    apdu = _protect(SecurityControl(suite.number, True, True), key_info, key, counter=7)
    tail = apdu[1 + len(FIELDS) // 2 :]
    data_length = 4 * suite.coordinate_length
    assert tail.startswith(bytes.fromhex("0102" + "0101"))
    keys = gc.RecipientKeys(
        AUTHENTICATION_KEY, key_agreement_key=recipient, peer_signing_key=signing.public_key()
    )
    opened = gc.unprotect_general_ciphering(apdu, keys=keys, suite=suite.number)
    assert opened.plaintext == GET_REQUEST
    assert isinstance(opened.key_info, gc.AgreedKeyInfo)
    assert len(opened.key_info.key_ciphered_data) == data_length
    other_signer = gc.RecipientKeys(
        AUTHENTICATION_KEY, key_agreement_key=recipient, peer_signing_key=_key(suite).public_key()
    )
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(apdu, keys=other_signer)
    assert refused.value.reason is DecipheringReason.SIGNATURE
    altered = apdu.replace(TID, bytes(8), 1)
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(altered, keys=keys)
    assert refused.value.reason is DecipheringReason.AUTHENTICATION


def test_static_unified_model_has_empty_key_data_and_needs_both_static_keys() -> None:
    suite = SUITE_1
    originator, recipient = _key(suite), _key(suite)
    key_info, key = gc.static_unified_key_info(
        suite,
        HEADER,
        key_agreement_key=originator,
        recipient_key_agreement_key=recipient.public_key(),
    )
    apdu = _protect(SecurityControl(1, True, True), key_info, key, counter=2)
    assert apdu[1 + len(FIELDS) // 2 :].startswith(bytes.fromhex("0102" + "0102" + "00"))
    keys = gc.RecipientKeys(
        AUTHENTICATION_KEY,
        key_agreement_key=recipient,
        peer_key_agreement_key=originator.public_key(),
    )
    assert gc.unprotect_general_ciphering(apdu, keys=keys).plaintext == GET_REQUEST
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(
            apdu, keys=gc.RecipientKeys(AUTHENTICATION_KEY, key_agreement_key=recipient)
        )
    assert refused.value.reason is DecipheringReason.MISSING_KEY


def test_key_info_absent_uses_the_key_known_from_the_context() -> None:
    apdu = _protect(SecurityControl(0, True, False), None, BLOCK_CIPHER_KEY, counter=3)
    assert GET_REQUEST in apdu  # authentication only: readable
    keys = gc.RecipientKeys(AUTHENTICATION_KEY, implicit_key=BLOCK_CIPHER_KEY)
    assert gc.unprotect_general_ciphering(apdu, keys=keys).key_info is None
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(apdu, keys=keys, require_encrypted=True)
    assert refused.value.reason is DecipheringReason.BELOW_POLICY


@pytest.mark.parametrize(
    ("key_info_hex", "reason"),
    [
        ("02", DecipheringReason.KEY_INFO),  # OPTIONAL flag neither 0 nor 1
        ("0103", DecipheringReason.KEY_INFO),  # no such choice
        ("010002", DecipheringReason.KEY_INFO),  # identified key-id 2 (the AK)
        ("010101" + "00", DecipheringReason.KEY_INFO),  # kek-id 1
        ("0102" + "0103" + "00", DecipheringReason.KEY_INFO),  # key-parameters 3
        ("0102" + "020101" + "00", DecipheringReason.KEY_INFO),  # key-parameters of 2 bytes
        ("0102" + "0102" + "0101", DecipheringReason.KEY_INFO),  # static unified with data
        ("0100", DecipheringReason.TRUNCATED),
    ],
)
def test_malformed_key_info_is_refused(key_info_hex: str, reason: DecipheringReason) -> None:
    apdu = bytes.fromhex("DD" + FIELDS + key_info_hex + "00")
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(apdu, keys=gc.RecipientKeys(AUTHENTICATION_KEY))
    assert refused.value.reason is reason


def test_identified_key_and_broadcast_bit_must_agree_and_parties_are_checked() -> None:
    with pytest.raises(ValueError):
        _protect(
            SecurityControl(0, True, True, broadcast=True),
            gc.IdentifiedKeyInfo(KeyId.GLOBAL_UNICAST_ENCRYPTION),
            BLOCK_CIPHER_KEY,
            counter=3,
        )
    apdu = _protect(
        SecurityControl(0, True, True),
        gc.IdentifiedKeyInfo(KeyId.GLOBAL_UNICAST_ENCRYPTION),
        BLOCK_CIPHER_KEY,
        counter=3,
    )
    keys = gc.RecipientKeys(
        AUTHENTICATION_KEY, global_unicast_key=BLOCK_CIPHER_KEY, global_broadcast_key=bytes(16)
    )
    key_info_at = 1 + len(FIELDS) // 2
    assert apdu[key_info_at : key_info_at + 3] == bytes.fromhex("010000")
    names_broadcast = apdu[: key_info_at + 2] + b"\x01" + apdu[key_info_at + 3 :]
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(names_broadcast, keys=keys)
    assert refused.value.reason is DecipheringReason.KEY_INFO
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(apdu, keys=keys, own_system_title=CLIENT_SYSTEM_TITLE)
    assert refused.value.reason is DecipheringReason.SYSTEM_TITLE
    assert gc.unprotect_general_ciphering(apdu, keys=keys).plaintext == GET_REQUEST


def test_agreed_keys_are_refused_for_suite_0_and_without_a_recipient() -> None:
    with pytest.raises(ValueError):
        _protect(
            SecurityControl(0, True, True),
            gc.AgreedKeyInfo(AgreementScheme.STATIC_UNIFIED_MODEL),
            BLOCK_CIPHER_KEY,
            counter=1,
        )
    suite_0_agreed = bytes.fromhex("DD" + FIELDS + "0102010200" + "11" + "30" + "00" * 16)
    keys = gc.RecipientKeys(AUTHENTICATION_KEY, key_agreement_key=_key(SUITE_1))
    with pytest.raises(DecipheringError) as refused:
        gc.unprotect_general_ciphering(suite_0_agreed, keys=keys)
    assert refused.value.reason is DecipheringReason.KEY_INFO


KEYS = gc.RecipientKeys(
    AUTHENTICATION_KEY,
    global_unicast_key=BLOCK_CIPHER_KEY,
    global_broadcast_key=BLOCK_CIPHER_KEY,
    master_key=BLOCK_CIPHER_KEY,
    implicit_key=BLOCK_CIPHER_KEY,
    key_agreement_key=ec.generate_private_key(ec.SECP256R1()),
    peer_signing_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
    peer_key_agreement_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
)


@given(st.binary(max_size=400))
def test_any_bytes_raise_only_deciphering_error(data: bytes) -> None:
    for apdu in (data, b"\xdd" + data, bytes.fromhex("DD" + FIELDS) + data):
        with contextlib.suppress(DecipheringError):
            gc.unprotect_general_ciphering(apdu, keys=KEYS)


@given(st.sampled_from(["00", "010000", "010100", "0102010100", "0102010200"]), st.data())
def test_plausible_apdus_raise_only_deciphering_error(key_info: str, data: st.DataObject) -> None:
    suite = data.draw(st.sampled_from([0, 1, 2]))
    body = bytes([0x30 | suite]) + data.draw(st.binary(max_size=120))
    extra = data.draw(st.binary(max_size=130)) if key_info.startswith("0101") else b""
    head = bytes.fromhex("DD" + FIELDS + key_info)
    if extra:
        head = head[:-1] + bytes([len(extra)]) + extra
    apdu = head + bytes([len(body)]) + body
    with contextlib.suppress(DecipheringError):
        gc.unprotect_general_ciphering(apdu, keys=KEYS)


@given(st.data())
def test_flipping_any_bit_of_a_protected_apdu_is_refused(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(PROTECTED) - 1))
    flipped = bytearray(PROTECTED)
    flipped[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(DecipheringError):
        gc.unprotect_general_ciphering(bytes(flipped), keys=PROTECTED_KEYS)


_SIGNER, _RECIPIENT = (
    ec.generate_private_key(ec.SECP256R1()),
    ec.generate_private_key(ec.SECP256R1()),
)
_INFO, _KEY = gc.one_pass_key_info(
    SUITE_1,
    HEADER,
    ephemeral_key=ec.generate_private_key(ec.SECP256R1()),
    signing_key=_SIGNER,
    recipient_key_agreement_key=_RECIPIENT.public_key(),
)
PROTECTED = _protect(SecurityControl(1, True, True), _INFO, _KEY, counter=9)
PROTECTED_KEYS = gc.RecipientKeys(
    AUTHENTICATION_KEY, key_agreement_key=_RECIPIENT, peer_signing_key=_SIGNER.public_key()
)


HEADERS = st.builds(
    GeneralHeader,
    transaction_id=st.binary(min_size=1, max_size=127),
    originator_system_title=st.binary(min_size=8, max_size=8),
    recipient_system_title=st.binary(min_size=8, max_size=8),
    date_time=st.sampled_from([b"", bytes(range(12))]),
    other_information=st.binary(max_size=140),
)


@given(HEADERS, st.data())
def test_unprotect_inverts_protect_for_every_key_info_suite_and_control(
    header: GeneralHeader, data: st.DataObject
) -> None:
    suite = data.draw(st.sampled_from([0, 1, 2]))
    key_length = 32 if suite == 2 else 16
    authenticated, encrypted = data.draw(
        st.sampled_from([(True, True), (True, False), (False, True)])
    )
    choice = data.draw(st.sampled_from(["none", "unicast", "broadcast", "wrapped", "agreed"]))
    if choice == "agreed" and suite == 0:
        choice = "wrapped"
    key = data.draw(st.binary(min_size=key_length, max_size=key_length))
    master = data.draw(st.binary(min_size=key_length, max_size=key_length))
    keys = gc.RecipientKeys(
        AUTHENTICATION_KEY,
        global_unicast_key=key,
        global_broadcast_key=key,
        master_key=master,
        implicit_key=key,
    )
    key_info: gc.KeyInfo | None = None
    if choice in ("unicast", "broadcast"):
        key_info = gc.IdentifiedKeyInfo(KeyId(int(choice == "broadcast")))
    elif choice == "wrapped":
        key_info = gc.wrapped_key_info(master, key)
    elif choice == "agreed":
        curve_suite = SUITE_1 if suite == 1 else SUITE_2
        recipient = AGREEMENT_KEYS[suite]
        key_info, key = gc.static_unified_key_info(
            curve_suite,
            header,
            key_agreement_key=recipient,
            recipient_key_agreement_key=(recipient.public_key()),
        )
        keys = gc.RecipientKeys(
            AUTHENTICATION_KEY,
            key_agreement_key=recipient,
            peer_key_agreement_key=recipient.public_key(),
        )
    control = SecurityControl(suite, authenticated, encrypted, broadcast=choice == "broadcast")
    plain = data.draw(st.binary(max_size=200))
    counter = data.draw(st.integers(0, 0xFFFFFFFF))
    apdu = gc.protect_general_ciphering(
        plain,
        header=header,
        control=control,
        invocation_counter=counter,
        authentication_key=AUTHENTICATION_KEY,
        key_info=key_info,
        content_key=key,
    )
    opened = gc.unprotect_general_ciphering(
        apdu,
        keys=keys,
        peer_system_title=header.originator_system_title,
        own_system_title=header.recipient_system_title,
        require_authenticated=False,
    )
    assert (opened.header, opened.key_info, opened.plaintext) == (header, key_info, plain)
    assert (opened.control, opened.invocation_counter) == (control, counter)


AGREEMENT_KEYS = {
    1: ec.generate_private_key(ec.SECP256R1()),
    2: ec.generate_private_key(ec.SECP384R1()),
}
