"""Round trips for every suite and security control, a fuzzed unprotect, and tampering; the
common case's cipher (AssociationCipher) against the general protect and unprotect.

Architecture principle 7: for any input bytes, unprotect raises only DecipheringError.
"""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st
from tests.security.vectors import SERVER_SYSTEM_TITLE

from metertwin.security.ciphering import (
    CIPHERED_TAGS,
    AssociationCipher,
    CipheringKeys,
    SecurityControl,
    protect,
    protect_general,
    unprotect,
)
from metertwin.security.errors import DecipheringError
from metertwin.security.suites import SUITES

PLAIN_TAGS = sorted(CIPHERED_TAGS)


@given(st.data())
def test_unprotect_inverts_protect_for_every_suite_and_control(data: st.DataObject) -> None:
    suite = SUITES[data.draw(st.sampled_from(sorted(SUITES)))]
    authenticated, encrypted = data.draw(
        st.sampled_from([(True, True), (True, False), (False, True)])
    )
    broadcast = data.draw(st.booleans())
    dedicated = data.draw(st.booleans()) and not broadcast
    general = data.draw(st.booleans())
    key = data.draw(st.binary(min_size=suite.key_length, max_size=suite.key_length))
    keys = CipheringKeys(
        authentication_key=data.draw(st.binary(min_size=16, max_size=32)),
        global_unicast_key=key,
        global_broadcast_key=key[::-1],
        dedicated_key=bytes(b ^ 0x5A for b in key),
    )
    plain = bytes([data.draw(st.sampled_from(PLAIN_TAGS))]) + data.draw(st.binary(max_size=300))
    control = SecurityControl(suite.number, authenticated, encrypted, broadcast)
    counter = data.draw(st.integers(0, 0xFFFFFFFF))
    title = data.draw(st.binary(min_size=8, max_size=8))
    protected = (protect_general if general else protect)(
        plain,
        control=control,
        invocation_counter=counter,
        system_title=title,
        keys=keys,
        dedicated=dedicated,
    )
    opened = unprotect(
        protected,
        keys=keys,
        system_title=title,
        suite=suite.number,
        require_authenticated=authenticated,
        require_encrypted=encrypted,
    )
    assert opened.plaintext == plain
    assert opened.control == control
    assert opened.invocation_counter == counter
    assert opened.system_title == title
    assert opened.dedicated == dedicated


@given(st.binary(max_size=200), st.booleans())
def test_unprotect_of_arbitrary_bytes_raises_only_deciphering_error(
    data: bytes, with_title: bool
) -> None:
    keys = CipheringKeys(bytes(16), bytes(16), bytes(32), bytes(16))
    with contextlib.suppress(DecipheringError):
        unprotect(data, keys=keys, system_title=SERVER_SYSTEM_TITLE if with_title else None)


@given(
    st.sampled_from([*sorted(glo for glo, _ in CIPHERED_TAGS.values()), 0xDB, 0xDC]),
    st.integers(0, 255),
    st.binary(max_size=80),
    st.booleans(),
)
def test_unprotect_of_plausible_headers_raises_only_deciphering_error(
    tag: int, control: int, rest: bytes, lenient: bool
) -> None:
    """Random bodies behind real tags and every SC byte reach the crypto, not just the parser."""
    keys = CipheringKeys(bytes(16), bytes(16), bytes(16), bytes(16))
    head = bytes([tag, 0x08]) + SERVER_SYSTEM_TITLE if tag in (0xDB, 0xDC) else bytes([tag])
    content = bytes([control]) + rest
    with contextlib.suppress(DecipheringError):
        unprotect(
            head + bytes([len(content)]) + content,
            keys=keys,
            system_title=SERVER_SYSTEM_TITLE,
            require_authenticated=not lenient,
        )


@given(st.data())
def test_flipping_any_bit_of_an_authenticated_apdu_is_refused(data: st.DataObject) -> None:
    suite = SUITES[data.draw(st.sampled_from(sorted(SUITES)))]
    key = data.draw(st.binary(min_size=suite.key_length, max_size=suite.key_length))
    keys = CipheringKeys(bytes(range(16)), global_unicast_key=key)
    encrypted = data.draw(st.booleans())
    general = data.draw(st.booleans())
    plain = bytes([0xC0]) + data.draw(st.binary(max_size=60))
    protected = (protect_general if general else protect)(
        plain,
        control=SecurityControl(suite.number, True, encrypted),
        invocation_counter=data.draw(st.integers(0, 0xFFFFFFFF)),
        system_title=SERVER_SYSTEM_TITLE,
        keys=keys,
    )
    bit = data.draw(st.integers(0, len(protected) * 8 - 1))
    tampered = bytearray(protected)
    tampered[bit // 8] ^= 1 << (bit % 8)
    try:
        opened = unprotect(bytes(tampered), keys=keys, system_title=SERVER_SYSTEM_TITLE)
    except DecipheringError:
        return
    raise AssertionError(f"a flipped bit {bit} was accepted: {opened}")


def _outcome(apdu: bytes, keys: CipheringKeys, suite: int | None, encrypted: bool) -> object:
    try:
        return unprotect(
            apdu,
            keys=keys,
            system_title=SERVER_SYSTEM_TITLE,
            suite=suite,
            require_encrypted=encrypted,
        )
    except DecipheringError as problem:
        return problem.reason


def _sealed_and_tampered(
    data: st.DataObject,
    plain: bytes,
    control: SecurityControl,
    keys: CipheringKeys,
    dedicated: bool,
    *,
    from_octet: int,
) -> bytes:
    """``plain`` protected (by SERVER_SYSTEM_TITLE), then maybe given the ciphered tag of
    another APDU and maybe a bit flipped at or after octet ``from_octet``."""
    protected = bytearray(
        protect(
            plain,
            control=control,
            invocation_counter=data.draw(st.integers(0, 0xFFFFFFFF)),
            system_title=SERVER_SYSTEM_TITLE,
            keys=keys,
            dedicated=dedicated,
        )
    )
    if data.draw(st.booleans()):  # the carried APDU's own tag made another one
        protected[0] = CIPHERED_TAGS[data.draw(st.sampled_from(PLAIN_TAGS))][dedicated]
    if data.draw(st.booleans()):
        bit = data.draw(st.integers(0, (len(protected) - from_octet) * 8 - 1))
        protected[from_octet + bit // 8] ^= 1 << (bit % 8)
    return bytes(protected)


@given(st.data())
def test_a_short_length_opens_as_the_same_length_in_the_long_form(data: st.DataObject) -> None:
    """A service-specific APDU with a one-octet length is read at once, any other through the
    reader: both must open the same APDU alike (A-XDR allows 0x81 nn for a length below 128),
    whatever its protection, whatever the receiver requires, with or without a flipped bit."""
    suite = SUITES[data.draw(st.sampled_from(sorted(SUITES)))]
    key = data.draw(st.binary(min_size=suite.key_length, max_size=suite.key_length))
    keys = CipheringKeys(
        bytes(range(16)),
        global_unicast_key=key,
        global_broadcast_key=data.draw(st.sampled_from([None, key[1:] + key[:1]])),
        dedicated_key=data.draw(st.sampled_from([None, key[::-1], key[:-1]])),
    )
    authenticated, encrypted = data.draw(
        st.sampled_from([(True, True), (True, False), (False, True)])
    )
    broadcast = data.draw(st.booleans())
    dedicated = data.draw(st.booleans()) and not broadcast
    sealer = CipheringKeys(keys.authentication_key, key, key[1:] + key[:1], key[::-1])
    tag = data.draw(st.sampled_from(PLAIN_TAGS))
    plain = bytes([tag]) + data.draw(st.binary(max_size=60))
    control = SecurityControl(suite.number, authenticated, encrypted, broadcast)
    short = _sealed_and_tampered(data, plain, control, sealer, dedicated, from_octet=2)
    long_form = short[:1] + b"\x81" + short[1:]
    expected_suite = data.draw(st.sampled_from([None, suite.number, (suite.number + 1) % 3]))
    require_encrypted = data.draw(st.booleans())
    assert _outcome(short, keys, expected_suite, require_encrypted) == _outcome(
        long_form, keys, expected_suite, require_encrypted
    )


def _association_keys(data: st.DataObject, key_length: int) -> CipheringKeys:
    key = data.draw(st.binary(min_size=key_length, max_size=key_length))
    return CipheringKeys(
        authentication_key=data.draw(st.binary(min_size=16, max_size=32)),
        global_unicast_key=data.draw(st.sampled_from([key, None, key[:-1]])),
        dedicated_key=data.draw(st.sampled_from([None, key[::-1], key[:-1]])),
    )


@given(st.data())
def test_the_association_cipher_seals_the_bytes_protect_seals(data: st.DataObject) -> None:
    """Every APDU it seals (short and long lengths alike) is octet for octet what protect makes
    with an authenticated and encrypted control; it declines what protect cannot seal."""
    suite = SUITES[data.draw(st.sampled_from(sorted(SUITES)))]
    keys = _association_keys(data, suite.key_length)
    own_title = data.draw(st.binary(min_size=8, max_size=8))
    cipher = AssociationCipher(keys, suite.number, own_title, SERVER_SYSTEM_TITLE)
    plain = bytes([data.draw(st.sampled_from(PLAIN_TAGS))]) + data.draw(st.binary(max_size=300))
    dedicated = data.draw(st.booleans())
    counter = data.draw(st.integers(0, 0xFFFFFFFF))
    try:
        expected: bytes | None = protect(
            plain,
            control=SecurityControl(suite.number, authenticated=True, encrypted=True),
            invocation_counter=counter,
            system_title=own_title,
            keys=keys,
            dedicated=dedicated,
        )
    except ValueError:  # no key of the suite's length
        expected = None
    assert cipher.can_seal(plain, dedicated=dedicated) is (expected is not None)
    if expected is not None:
        assert cipher.seal(plain, counter, dedicated=dedicated) == expected


@given(st.data())
def test_the_association_cipher_opens_as_unprotect_does(data: st.DataObject) -> None:
    """What it opens (or refuses) unprotect opens (or refuses) alike, whatever the receiver
    requires: the same plaintext, header fields and refusal reason, tampered bits, tags and
    security controls included; what it declines (None) is left to unprotect."""
    suite = SUITES[data.draw(st.sampled_from(sorted(SUITES)))]
    keys = _association_keys(data, suite.key_length)
    cipher = AssociationCipher(keys, suite.number, bytes(8), SERVER_SYSTEM_TITLE)
    authenticated, encrypted = data.draw(
        st.sampled_from([(True, True), (True, False), (False, True)])
    )
    dedicated = data.draw(st.booleans())
    key = data.draw(st.binary(min_size=suite.key_length, max_size=suite.key_length))
    # sealed with the receiver's key when it has one of the suite's length, or another
    usable = [k for k in (keys.global_unicast_key, keys.dedicated_key) if k and len(k) == len(key)]
    sealer = CipheringKeys(
        keys.authentication_key,
        data.draw(st.sampled_from([key, *usable])),
        dedicated_key=data.draw(st.sampled_from([key, *usable])),
    )
    plain = bytes([data.draw(st.sampled_from(PLAIN_TAGS))]) + data.draw(st.binary(max_size=140))
    control = SecurityControl(suite.number, authenticated, encrypted)
    apdu = _sealed_and_tampered(data, plain, control, sealer, dedicated, from_octet=1)
    try:
        common: object = cipher.open(apdu)
    except DecipheringError as problem:
        common = problem.reason
    if common is None:
        return
    try:
        general: object = unprotect(
            apdu,
            keys=keys,
            system_title=SERVER_SYSTEM_TITLE,
            suite=suite.number,
            require_authenticated=data.draw(st.booleans()),
            require_encrypted=data.draw(st.booleans()),
        )
    except DecipheringError as problem:
        general = problem.reason
    assert common == general
