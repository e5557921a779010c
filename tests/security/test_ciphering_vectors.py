"""Golden ciphered APDUs (Green Book examples, reference dlms.md 2.5 and 5) both ways."""

from __future__ import annotations

import pytest
from tests.security.vectors import (
    BLOCK_CIPHER_KEY,
    GREEN_BOOK_KEYS,
    SERVER_SYSTEM_TITLE,
)

from metertwin.security.ciphering import (
    CipheringKeys,
    SecurityControl,
    protect,
    protect_general,
    unprotect,
)
from metertwin.security.errors import DecipheringError, DecipheringReason

GET_CLOCK_TIME = bytes.fromhex("C0010000080000010000FF0200")
GLO_GET_REQUEST = bytes.fromhex("C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B")
# The ciphered AARQ's user-information (reference dlms.md 5, DC test_parse_ciphered_low_security2)
CIPHERED_AARQ = bytes.fromhex(
    "6066A109060760857405080103A60A04084D4D4D0000BC614E8A0207808B0760857405080201AC0A8008"
    "3132333435363738BE34043221303001234567801302FF8A7874133D414CED25B42534D28DB0047720606B"
    "175BD52211BE6841DB204D39EE6FDB8E356855"
)
# The dedicated-key InitiateRequest of reference dlms.md 3.3 (DC test_initiate.py).
DEDICATED_KEY_INITIATE_REQUEST = bytes.fromhex(
    "01011000112233445566778899AABBCCDDEEFF0000065F1F0400007E1F04B0"
)


def test_glo_get_request_green_book_vector() -> None:
    """Green Book glo-get-request: SC 0x30, IC 01234567, ST 4D4D4D0000BC614E (DC
    test_security.py::test_encrypt_authenticated; recomputed in reference dlms.md 5)."""
    protected = protect(
        GET_CLOCK_TIME,
        control=SecurityControl.parse(0x30),
        invocation_counter=0x01234567,
        system_title=SERVER_SYSTEM_TITLE,
        keys=GREEN_BOOK_KEYS,
    )
    assert protected == GLO_GET_REQUEST
    opened = unprotect(GLO_GET_REQUEST, keys=GREEN_BOOK_KEYS, system_title=SERVER_SYSTEM_TITLE)
    assert opened.plaintext == GET_CLOCK_TIME
    assert opened.invocation_counter == 0x01234567
    assert opened.control == SecurityControl(suite=0, authenticated=True, encrypted=True)
    assert opened.tag == 0xC8 and not opened.dedicated


def test_ciphered_aarq_glo_initiate_request_opens_to_the_dedicated_key_request() -> None:
    """The glo-initiate-request inside the AARQ's user-information (BE .. 04 32 <21 30 ...>)
    decrypts with the Green Book keys and the calling-AP-title 4D4D4D0000BC614E to the
    dedicated-key InitiateRequest (reference dlms.md 5 and 3.3)."""
    user_information = CIPHERED_AARQ[CIPHERED_AARQ.index(bytes.fromhex("BE34")) + 4 :]
    assert user_information[:2] == bytes.fromhex("2130")
    opened = unprotect(user_information, keys=GREEN_BOOK_KEYS, system_title=SERVER_SYSTEM_TITLE)
    assert opened.plaintext == DEDICATED_KEY_INITIATE_REQUEST
    assert opened.tag == 0x21
    again = protect(
        DEDICATED_KEY_INITIATE_REQUEST,
        control=SecurityControl.parse(0x30),
        invocation_counter=0x01234567,
        system_title=SERVER_SYSTEM_TITLE,
        keys=GREEN_BOOK_KEYS,
    )
    assert again == user_information


def test_the_glo_get_request_fails_under_another_system_title() -> None:
    """The IV is the sender's system title || IC: the client's title does not open it."""
    with pytest.raises(DecipheringError) as refused:
        unprotect(GLO_GET_REQUEST, keys=GREEN_BOOK_KEYS, system_title=bytes(8))
    assert refused.value.reason is DecipheringReason.AUTHENTICATION


def test_general_glo_ciphering_carries_the_system_title() -> None:
    """general-glo-ciphering: DB 08 <system title> <length> SC IC ciphertext tag (reference
    dlms.md 2.5): the same ciphered content as the glo-get-request, behind the title."""
    protected = protect_general(
        GET_CLOCK_TIME,
        control=SecurityControl.parse(0x30),
        invocation_counter=0x01234567,
        system_title=SERVER_SYSTEM_TITLE,
        keys=GREEN_BOOK_KEYS,
    )
    assert protected == bytes([0xDB, 0x08]) + SERVER_SYSTEM_TITLE + GLO_GET_REQUEST[1:]
    opened = unprotect(protected, keys=GREEN_BOOK_KEYS)
    assert opened.system_title == SERVER_SYSTEM_TITLE
    assert opened.plaintext == GET_CLOCK_TIME
    with pytest.raises(DecipheringError) as refused:
        unprotect(protected, keys=GREEN_BOOK_KEYS, system_title=bytes(8))
    assert refused.value.reason is DecipheringReason.SYSTEM_TITLE


def test_general_ded_ciphering_uses_the_dedicated_key() -> None:
    dedicated = CipheringKeys(GREEN_BOOK_KEYS.authentication_key, dedicated_key=bytes(range(16)))
    protected = protect_general(
        GET_CLOCK_TIME,
        control=SecurityControl.parse(0x30),
        invocation_counter=7,
        system_title=SERVER_SYSTEM_TITLE,
        keys=dedicated,
        dedicated=True,
    )
    assert protected[0] == 0xDC
    assert unprotect(protected, keys=dedicated).plaintext == GET_CLOCK_TIME
    with pytest.raises(DecipheringError) as refused:
        unprotect(protected, keys=GREEN_BOOK_KEYS)
    assert refused.value.reason is DecipheringReason.MISSING_KEY


def test_authentication_only_leaves_the_apdu_readable() -> None:
    """SC 0x10: AAD = SC || AK || plaintext, the plaintext sent as is, then the tag."""
    protected = protect(
        GET_CLOCK_TIME,
        control=SecurityControl.parse(0x10),
        invocation_counter=1,
        system_title=SERVER_SYSTEM_TITLE,
        keys=GREEN_BOOK_KEYS,
    )
    assert protected[7 : 7 + len(GET_CLOCK_TIME)] == GET_CLOCK_TIME
    assert len(protected) == 2 + 5 + len(GET_CLOCK_TIME) + 12


def test_encryption_only_is_the_gcm_keystream_without_a_tag() -> None:
    """SC 0x20: the ciphertext of SC 0x30 with the same IV, and no tag (GCM's CTR part)."""
    protected = protect(
        GET_CLOCK_TIME,
        control=SecurityControl.parse(0x20),
        invocation_counter=0x01234567,
        system_title=SERVER_SYSTEM_TITLE,
        keys=GREEN_BOOK_KEYS,
    )
    assert protected[1] == 5 + len(GET_CLOCK_TIME)
    assert protected[7:] == GLO_GET_REQUEST[7 : 7 + len(GET_CLOCK_TIME)]
    opened = unprotect(
        protected,
        keys=GREEN_BOOK_KEYS,
        system_title=SERVER_SYSTEM_TITLE,
        require_authenticated=False,
    )
    assert opened.plaintext == GET_CLOCK_TIME


def test_the_receiver_refuses_less_protection_than_it_requires() -> None:
    """The SC byte is the sender's claim: clearing its authentication bit must not turn an
    authenticated APDU into an accepted unauthenticated one (found by the bit-flip property:
    general-glo-ciphering with SC 0x30 -> 0x20 opened to garbage)."""
    downgraded = bytearray(GLO_GET_REQUEST)
    downgraded[2] = 0x20
    with pytest.raises(DecipheringError) as refused:
        unprotect(bytes(downgraded), keys=GREEN_BOOK_KEYS, system_title=SERVER_SYSTEM_TITLE)
    assert refused.value.reason is DecipheringReason.BELOW_POLICY
    authenticated_only = protect(
        GET_CLOCK_TIME,
        control=SecurityControl.parse(0x10),
        invocation_counter=1,
        system_title=SERVER_SYSTEM_TITLE,
        keys=GREEN_BOOK_KEYS,
    )
    unprotect(authenticated_only, keys=GREEN_BOOK_KEYS, system_title=SERVER_SYSTEM_TITLE)
    with pytest.raises(DecipheringError) as refused:
        unprotect(
            authenticated_only,
            keys=GREEN_BOOK_KEYS,
            system_title=SERVER_SYSTEM_TITLE,
            require_encrypted=True,
        )
    assert refused.value.reason is DecipheringReason.BELOW_POLICY


def test_security_control_byte_bits() -> None:
    """Bits 3-0 suite, 4 authentication, 5 encryption, 6 broadcast, 7 compression."""
    control = SecurityControl.parse(0xF2)
    assert control == SecurityControl(
        suite=2, authenticated=True, encrypted=True, broadcast=True, compressed=True
    )
    assert control.encode() == 0xF2
    assert all(SecurityControl.parse(b).encode() == b for b in range(256))


def test_broadcast_bit_selects_the_broadcast_key() -> None:
    keys = CipheringKeys(
        GREEN_BOOK_KEYS.authentication_key,
        global_unicast_key=BLOCK_CIPHER_KEY,
        global_broadcast_key=bytes(16),
    )
    protected = protect(
        GET_CLOCK_TIME,
        control=SecurityControl.parse(0x70),
        invocation_counter=1,
        system_title=SERVER_SYSTEM_TITLE,
        keys=keys,
    )
    assert unprotect(protected, keys=keys, system_title=SERVER_SYSTEM_TITLE).control.broadcast
    with pytest.raises(DecipheringError) as refused:
        unprotect(protected, keys=GREEN_BOOK_KEYS, system_title=SERVER_SYSTEM_TITLE)
    assert refused.value.reason is DecipheringReason.MISSING_KEY


@pytest.mark.parametrize(
    ("apdu", "reason"),
    [
        (b"", DecipheringReason.TRUNCATED),
        (bytes.fromhex("C0"), DecipheringReason.WRONG_TAG),
        (GLO_GET_REQUEST[:-1], DecipheringReason.TRUNCATED),
        (GLO_GET_REQUEST + b"\x00", DecipheringReason.WRONG_LENGTH),
        (bytes.fromhex("C88500"), DecipheringReason.WRONG_LENGTH),
        (bytes.fromhex("C80530") + bytes(4), DecipheringReason.TRUNCATED),
        (bytes.fromhex("C80533") + bytes(4), DecipheringReason.UNKNOWN_SUITE),
        (bytes.fromhex("C80500") + bytes(4), DecipheringReason.NO_PROTECTION),
        (bytes.fromhex("C805B0") + bytes(4), DecipheringReason.COMPRESSION),
        (bytes.fromhex("C80532") + bytes(4), DecipheringReason.KEY_LENGTH),
        (bytes.fromhex("DB0400000000"), DecipheringReason.SYSTEM_TITLE),
    ],
)
def test_malformed_apdus_are_refused_with_their_reason(
    apdu: bytes, reason: DecipheringReason
) -> None:
    with pytest.raises(DecipheringError) as refused:
        unprotect(apdu, keys=GREEN_BOOK_KEYS, system_title=SERVER_SYSTEM_TITLE)
    assert refused.value.reason is reason


def test_an_association_fixed_to_one_suite_refuses_another() -> None:
    with pytest.raises(DecipheringError) as refused:
        unprotect(GLO_GET_REQUEST, keys=GREEN_BOOK_KEYS, system_title=SERVER_SYSTEM_TITLE, suite=1)
    assert refused.value.reason is DecipheringReason.SUITE_MISMATCH


def test_a_glo_tag_must_carry_its_own_plain_apdu() -> None:
    """glo-get-request (C8) wrapping an action-request (C3) is refused after deciphering."""
    action = protect(
        bytes.fromhex("C301C1000F0000280000FF0100"),
        control=SecurityControl.parse(0x30),
        invocation_counter=1,
        system_title=SERVER_SYSTEM_TITLE,
        keys=GREEN_BOOK_KEYS,
    )
    assert action[0] == 0xCB
    with pytest.raises(DecipheringError) as refused:
        unprotect(b"\xc8" + action[1:], keys=GREEN_BOOK_KEYS, system_title=SERVER_SYSTEM_TITLE)
    assert refused.value.reason is DecipheringReason.WRONG_TAG


def test_protect_refuses_arguments_that_make_no_sense() -> None:
    for control, apdu in [
        (SecurityControl.parse(0x00), GET_CLOCK_TIME),
        (SecurityControl.parse(0xB0), GET_CLOCK_TIME),
        (SecurityControl.parse(0x32), GET_CLOCK_TIME),
        (SecurityControl.parse(0x30), bytes.fromhex("D80101")),
        (SecurityControl.parse(0x30), b""),
    ]:
        with pytest.raises(ValueError):
            protect(
                apdu,
                control=control,
                invocation_counter=1,
                system_title=SERVER_SYSTEM_TITLE,
                keys=GREEN_BOOK_KEYS,
            )
