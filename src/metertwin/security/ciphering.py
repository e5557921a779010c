"""Protecting and opening ciphered xDLMS APDUs with AES-GCM (Green Book 9.2.7.2, 9.2.7.3).

Two wire forms are handled, both sans-IO, bytes in and bytes out:

- service-specific (glo-/ded-get-request, glo-initiate-request, ...):
  ``tag | length | SC | IC(4) | ciphertext | auth tag(12)``; the sender's system title is known
  from the association (AARQ calling-AP-title, AARE responding-AP-title);
- general-glo-ciphering (0xDB) and general-ded-ciphering (0xDC):
  ``tag | 08 system-title(8) | length | SC | IC(4) | ciphertext | auth tag(12)``.

The GCM initialisation vector is the sender's system title followed by the invocation counter.
What the 12-byte authentication tag covers depends on the security control byte:

| SC bits | additional authenticated data | body after SC IC |
|---|---|---|
| authenticated and encrypted | ``SC || AK`` | ciphertext, tag |
| authenticated only | ``SC || AK || plaintext`` | plaintext, tag |
| encrypted only | none | ciphertext (no tag) |

Opening never raises anything but ``DecipheringError`` for any input bytes. Invocation counters
are not judged here: the caller passes the returned counter to ``counters.ReceiveCounterGuard``
once the APDU has been opened (so a forged frame cannot advance it).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from metertwin.security.errors import DecipheringError, DecipheringReason
from metertwin.security.suites import SUITES, security_suite

SYSTEM_TITLE_LENGTH = 8
INVOCATION_COUNTER_LENGTH = 4
AUTH_TAG_LENGTH = 12
_GCM_FULL_TAG = 16
MAX_INVOCATION_COUNTER = 0xFFFFFFFF

GENERAL_GLO_CIPHERING = 0xDB
GENERAL_DED_CIPHERING = 0xDC

# Plain APDU tag -> (glo- tag, ded- tag) of its service-specific ciphered form (Green Book
# xDLMS ASN.1; reference dlms.md 2.1).
CIPHERED_TAGS: dict[int, tuple[int, int]] = {
    0x01: (0x21, 0x41),  # InitiateRequest
    0x08: (0x28, 0x48),  # InitiateResponse
    0x0E: (0x2E, 0x4E),  # ConfirmedServiceError
    0xC0: (0xC8, 0xD0),  # get-request
    0xC1: (0xC9, 0xD1),  # set-request
    0xC2: (0xCA, 0xD2),  # event-notification-request
    0xC3: (0xCB, 0xD3),  # action-request
    0xC4: (0xCC, 0xD4),  # get-response
    0xC5: (0xCD, 0xD5),  # set-response
    0xC7: (0xCF, 0xD7),  # action-response
}
# Ciphered tag -> (plain tag it must carry, dedicated key?).
_PLAIN_OF: dict[int, tuple[int, bool]] = {
    ciphered: (plain, dedicated)
    for plain, pair in CIPHERED_TAGS.items()
    for ciphered, dedicated in zip(pair, (False, True), strict=True)
}

_SUITE_MASK = 0x0F
_AUTHENTICATED = 0x10
_ENCRYPTED = 0x20
_BROADCAST = 0x40
_COMPRESSED = 0x80


@dataclass(frozen=True)
class SecurityControl:
    """The security control byte: suite (bits 3-0), authentication (4), encryption (5),
    broadcast key (6) and compression (7) (Green Book 9.2.7.2.3, "security header")."""

    suite: int
    authenticated: bool
    encrypted: bool
    broadcast: bool = False
    compressed: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.suite <= _SUITE_MASK:
            raise ValueError(f"security suite {self.suite} does not fit in 4 bits")

    @classmethod
    def parse(cls, byte: int) -> SecurityControl:
        """Every byte value parses; whether the suite is known is checked where it is used.
        The 256 values are made once (the class is frozen, so they are shared)."""
        if not 0 <= byte <= 0xFF:
            raise ValueError(f"a security control byte is 0..255, not {byte}")
        return _CONTROLS[byte]

    @classmethod
    def made(cls, suite: int, *, authenticated: bool, encrypted: bool) -> SecurityControl:
        """The shared control of a suite and protection (neither broadcast nor compressed),
        as ``parse`` gives it: what a sender makes for every APDU it seals."""
        if not 0 <= suite <= _SUITE_MASK:
            raise ValueError(f"security suite {suite} does not fit in 4 bits")
        return _CONTROLS[
            suite | (_AUTHENTICATED if authenticated else 0) | (_ENCRYPTED if encrypted else 0)
        ]

    @classmethod
    def _of_byte(cls, byte: int) -> SecurityControl:
        return cls(
            suite=byte & _SUITE_MASK,
            authenticated=bool(byte & _AUTHENTICATED),
            encrypted=bool(byte & _ENCRYPTED),
            broadcast=bool(byte & _BROADCAST),
            compressed=bool(byte & _COMPRESSED),
        )

    def encode(self) -> int:
        return (
            self.suite
            | (_AUTHENTICATED if self.authenticated else 0)
            | (_ENCRYPTED if self.encrypted else 0)
            | (_BROADCAST if self.broadcast else 0)
            | (_COMPRESSED if self.compressed else 0)
        )


@dataclass(frozen=True)
class CipheringKeys:
    """The symmetric keys of one association; any of the encryption keys may be absent."""

    authentication_key: bytes
    global_unicast_key: bytes | None = None
    global_broadcast_key: bytes | None = None
    dedicated_key: bytes | None = None

    def encryption_key(self, *, dedicated: bool, broadcast: bool) -> bytes | None:
        """The key an APDU names: ded- tags the dedicated key (never broadcast), glo- tags
        the broadcast or the unicast global key by the SC broadcast bit."""
        if dedicated:
            return None if broadcast else self.dedicated_key
        return self.global_broadcast_key if broadcast else self.global_unicast_key


_CONTROLS = tuple(SecurityControl._of_byte(byte) for byte in range(0x100))
_OCTETS = tuple(bytes((byte,)) for byte in range(0x100))


class Unprotected(NamedTuple):
    """An opened ciphered APDU: its header fields and the plain APDU it carried (a tuple:
    one is made for every request a protected association receives)."""

    tag: int
    control: SecurityControl
    invocation_counter: int
    system_title: bytes
    dedicated: bool
    plaintext: bytes


def initialisation_vector(system_title: bytes, invocation_counter: int) -> bytes:
    """IV = system title (8) || invocation counter (4, big-endian): 96 bits, as GCM prefers."""
    if len(system_title) != SYSTEM_TITLE_LENGTH:
        raise ValueError(f"a system title is 8 bytes, not {len(system_title)}")
    if not 0 <= invocation_counter <= MAX_INVOCATION_COUNTER:
        raise ValueError(f"an invocation counter is 32 bits, not {invocation_counter}")
    return system_title + invocation_counter.to_bytes(INVOCATION_COUNTER_LENGTH, "big")


@lru_cache(maxsize=64)
def _aes_gcm(key: bytes) -> AESGCM:
    """One AES-GCM object per key: its key schedule is made once, not per APDU."""
    return AESGCM(key)


def gcm_tag(key: bytes, iv: bytes, aad: bytes, plaintext: bytes = b"") -> tuple[bytes, bytes]:
    """(ciphertext, 12-byte tag): GCM truncated to the leftmost 96 bits of its tag, which is
    the prefix of GCM's 16-octet tag (SP 800-38D 5.2.1.2, MSB_t)."""
    sealed = _aes_gcm(key).encrypt(iv, plaintext, aad)
    return sealed[:-_GCM_FULL_TAG], sealed[-_GCM_FULL_TAG : AUTH_TAG_LENGTH - _GCM_FULL_TAG]


def _gcm_open(key: bytes, iv: bytes, aad: bytes, ciphertext: bytes, tag: bytes) -> bytes:
    """The plaintext of GCM ``ciphertext`` once its truncated ``tag`` verifies.

    AESGCM only opens 16-octet tags, so the tag is recomputed: GCM's keystream is the same
    both ways, so sealing the ciphertext gives the plaintext, and sealing that plaintext gives
    the received ciphertext back with the tag it must carry, compared in constant time. The
    plaintext is returned only when it matches."""
    aes_gcm = _aes_gcm(key)
    plaintext = aes_gcm.encrypt(iv, ciphertext, None)[:-_GCM_FULL_TAG]
    expected = aes_gcm.encrypt(iv, plaintext, aad)[-_GCM_FULL_TAG:]
    if not hmac.compare_digest(expected[:AUTH_TAG_LENGTH], tag):
        raise DecipheringError(DecipheringReason.AUTHENTICATION, "tag does not match")
    return plaintext


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """GCM's keystream without its tag: CTR from inc32(IV || 0^31 || 1) (SP 800-38D 7.1),
    which is what GCM sealing XORs the data with."""
    return _aes_gcm(key).encrypt(iv, data, None)[:-_GCM_FULL_TAG]


def seal_body(
    control: SecurityControl,
    key: bytes,
    ak: bytes,
    iv: bytes,
    plaintext: bytes,
    header_aad: bytes = b"",
) -> bytes:
    """The ciphered body after SC IC: AAD = SC || AK || header_aad (|| plaintext when only
    authenticated). ``header_aad`` is empty except for general-ciphering of suites 1 and 2."""
    sc = _OCTETS[control.encode()]
    if control.authenticated and control.encrypted:  # ciphertext || GCM tag cut to 12
        sealed = _aes_gcm(key).encrypt(iv, plaintext, sc + ak + header_aad)
        return sealed[: AUTH_TAG_LENGTH - _GCM_FULL_TAG]
    if control.authenticated:
        return plaintext + gcm_tag(key, iv, sc + ak + header_aad + plaintext)[1]
    return _ctr(key, iv, plaintext)


def _check_protect_arguments(control: SecurityControl, key: bytes | None) -> bytes:
    if not (control.authenticated or control.encrypted):
        raise ValueError("a ciphered APDU is authenticated, encrypted or both")
    if control.compressed:
        raise ValueError("compression is not supported")
    suite = security_suite(control.suite)
    if key is None:
        raise ValueError("no encryption key for this APDU")
    if len(key) != suite.key_length:
        raise ValueError(f"suite {suite.number} takes {suite.key_length}-byte keys, not {len(key)}")
    return key


def _ciphered_content(
    plaintext: bytes,
    control: SecurityControl,
    invocation_counter: int,
    system_title: bytes,
    keys: CipheringKeys,
    dedicated: bool,
) -> bytes:
    key = _check_protect_arguments(
        control, keys.encryption_key(dedicated=dedicated, broadcast=control.broadcast)
    )
    iv = initialisation_vector(system_title, invocation_counter)
    body = seal_body(control, key, keys.authentication_key, iv, plaintext)
    return _OCTETS[control.encode()] + iv[SYSTEM_TITLE_LENGTH:] + body


def protect(
    plain_apdu: bytes,
    *,
    control: SecurityControl,
    invocation_counter: int,
    system_title: bytes,
    keys: CipheringKeys,
    dedicated: bool = False,
) -> bytes:
    """The service-specific ciphered form (glo- or ded- tag) of a plain xDLMS APDU.

    ``system_title`` is the sender's own; our own arguments that make no sense raise ValueError.
    """
    if not plain_apdu or plain_apdu[0] not in CIPHERED_TAGS:
        head = f"0x{plain_apdu[0]:02X}" if plain_apdu else "an empty APDU"
        raise ValueError(f"{head} has no service-specific ciphered form")
    tag = CIPHERED_TAGS[plain_apdu[0]][1 if dedicated else 0]
    content = _ciphered_content(
        plain_apdu, control, invocation_counter, system_title, keys, dedicated
    )
    return bytes([tag]) + encode_length(len(content)) + content


def protect_general(
    plain_apdu: bytes,
    *,
    control: SecurityControl,
    invocation_counter: int,
    system_title: bytes,
    keys: CipheringKeys,
    dedicated: bool = False,
) -> bytes:
    """general-glo-ciphering (or general-ded-ciphering) of any APDU, carrying the sender's
    system title so that the receiver needs no association to know it."""
    content = _ciphered_content(
        plain_apdu, control, invocation_counter, system_title, keys, dedicated
    )
    tag = GENERAL_DED_CIPHERING if dedicated else GENERAL_GLO_CIPHERING
    return bytes([tag, SYSTEM_TITLE_LENGTH]) + system_title + encode_length(len(content)) + content


def unprotect(
    apdu: bytes,
    *,
    keys: CipheringKeys,
    system_title: bytes | None = None,
    suite: int | None = None,
    require_authenticated: bool = True,
    require_encrypted: bool = False,
) -> Unprotected:
    """Open a service-specific or general glo/ded ciphered APDU.

    ``system_title`` is the sender's as the association knows it: required for the
    service-specific forms, and when given, a general form carrying another one is refused.
    ``suite``, when given, is the only suite the association accepts. The SC byte chooses the
    protection, so the receiver states the least it accepts: by default an APDU must be
    authenticated (a flipped authentication bit would otherwise turn a protected APDU into an
    unauthenticated one). Anything wrong raises DecipheringError with its reason, never
    another exception.
    """
    expected_plain_tag: int | None
    if (
        len(apdu) > 2
        and apdu[1] == len(apdu) - 2 < 0x80
        and apdu[0] in _PLAIN_OF
        and system_title is not None
        and len(system_title) == SYSTEM_TITLE_LENGTH
    ):
        # The service-specific form with a one-octet length, as nearly every request comes:
        # what _read_ciphered finds in it, read without a reader.
        tag = apdu[0]
        expected_plain_tag, dedicated = _PLAIN_OF[tag]
        at_once = _open_authenticated(
            apdu, keys, system_title, dedicated, suite, require_encrypted, expected_plain_tag
        )
        if at_once is not None:
            return at_once
        sender_title, content = system_title, apdu[2:]
    else:
        tag, expected_plain_tag, dedicated, sender_title, content = _read_ciphered(
            apdu, system_title
        )
    opened = _open_content(
        content, keys, sender_title, dedicated, suite, (require_authenticated, require_encrypted)
    )
    control, invocation_counter, plaintext = opened
    if expected_plain_tag is not None and plaintext[:1] != _OCTETS[expected_plain_tag]:
        raise DecipheringError(
            DecipheringReason.WRONG_TAG,
            f"0x{tag:02X} must carry an APDU starting 0x{expected_plain_tag:02X}",
        )
    return Unprotected(tag, control, invocation_counter, sender_title, dedicated, plaintext)


def _open_authenticated(
    apdu: bytes,
    keys: CipheringKeys,
    system_title: bytes,
    dedicated: bool,
    suite: int | None,
    require_encrypted: bool,
    expected_plain_tag: int,
) -> Unprotected | None:
    """A service-specific APDU with a one-octet length opened at once when its SC asks for
    authentication, neither broadcast nor compression, of the expected suite and with its key
    at hand, as the policy asks; None for the rest, which _open_content judges."""
    control = _CONTROLS[apdu[2]] if len(apdu) >= 7 + AUTH_TAG_LENGTH else None
    if (
        control is None
        or not control.authenticated
        or control.broadcast
        or control.compressed
        or (require_encrypted and not control.encrypted)
        or (control.suite != suite if suite is not None else control.suite not in SUITES)
    ):
        return None
    key = keys.dedicated_key if dedicated else keys.global_unicast_key
    if key is None or len(key) != SUITES[control.suite].key_length:
        return None
    iv = system_title + apdu[3:7]
    aad = apdu[2:3] + keys.authentication_key
    if control.encrypted:
        plaintext = _gcm_open(key, iv, aad, apdu[7:-AUTH_TAG_LENGTH], apdu[-AUTH_TAG_LENGTH:])
    else:
        plaintext = apdu[7:-AUTH_TAG_LENGTH]
        _gcm_open(key, iv, aad + plaintext, b"", apdu[-AUTH_TAG_LENGTH:])
    if plaintext[:1] != _OCTETS[expected_plain_tag]:
        raise DecipheringError(
            DecipheringReason.WRONG_TAG,
            f"0x{apdu[0]:02X} must carry an APDU starting 0x{expected_plain_tag:02X}",
        )
    counter = int.from_bytes(apdu[3:7], "big")
    return Unprotected(apdu[0], control, counter, system_title, dedicated, plaintext)


def _read_ciphered(
    apdu: bytes, system_title: bytes | None
) -> tuple[int, int | None, bool, bytes, bytes]:
    """(tag, the plain tag it must carry or None, dedicated?, the sender's title, content)
    of a ciphered APDU, its title checked against the association's."""
    reader = ApduReader(apdu)
    tag = reader.byte("tag")
    expected_plain_tag: int | None
    if tag in (GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING):
        dedicated = tag == GENERAL_DED_CIPHERING
        expected_plain_tag = None
        carried_title = reader.take(reader.length(), "system title")
        if len(carried_title) != SYSTEM_TITLE_LENGTH:
            raise DecipheringError(
                DecipheringReason.SYSTEM_TITLE, f"{len(carried_title)} bytes, not 8"
            )
        if system_title is not None and carried_title != system_title:
            raise DecipheringError(
                DecipheringReason.SYSTEM_TITLE, f"{carried_title.hex().upper()} is not the peer's"
            )
        sender_title = carried_title
    elif tag in _PLAIN_OF:
        expected_plain_tag, dedicated = _PLAIN_OF[tag]
        if system_title is None or len(system_title) != SYSTEM_TITLE_LENGTH:
            raise DecipheringError(DecipheringReason.SYSTEM_TITLE, "the sender's is not known")
        sender_title = system_title
    else:
        raise DecipheringError(DecipheringReason.WRONG_TAG, f"0x{tag:02X} is not a ciphered APDU")
    content = reader.take(reader.length(), "ciphered content")
    if not reader.at_end():
        raise DecipheringError(DecipheringReason.WRONG_LENGTH, "bytes after the ciphered content")
    return tag, expected_plain_tag, dedicated, sender_title, content


def _open_content(
    content: bytes,
    keys: CipheringKeys,
    system_title: bytes,
    dedicated: bool,
    expected_suite: int | None,
    required: tuple[bool, bool],
) -> tuple[SecurityControl, int, bytes]:
    control, invocation_counter, body = read_security_header(content, expected_suite, required)
    key = keys.encryption_key(dedicated=dedicated, broadcast=control.broadcast)
    if key is None:
        kind = "dedicated" if dedicated else "broadcast" if control.broadcast else "global"
        raise DecipheringError(DecipheringReason.MISSING_KEY, f"no {kind} key")
    iv = initialisation_vector(system_title, invocation_counter)
    plaintext = open_body(control, key, keys.authentication_key, iv, body)
    return control, invocation_counter, plaintext


def read_security_header(
    content: bytes, expected_suite: int | None, required: tuple[bool, bool]
) -> tuple[SecurityControl, int, bytes]:
    """(SC, IC, body) of ``SC | IC | body``, with the SC checked against what the receiver
    accepts: a known suite (the expected one if given), no compression, some protection, and
    at least (authenticated, encrypted) as ``required`` says."""
    if len(content) < 1 + INVOCATION_COUNTER_LENGTH:
        raise DecipheringError(
            DecipheringReason.TRUNCATED, f"security header: {len(content)} of 5 octets"
        )
    control = _CONTROLS[content[0]]
    invocation_counter = int.from_bytes(content[1 : 1 + INVOCATION_COUNTER_LENGTH], "big")
    body = content[1 + INVOCATION_COUNTER_LENGTH :]
    if control.suite not in SUITES:
        raise DecipheringError(DecipheringReason.UNKNOWN_SUITE, f"suite {control.suite}")
    if expected_suite is not None and control.suite != expected_suite:
        raise DecipheringError(
            DecipheringReason.SUITE_MISMATCH, f"suite {control.suite}, expected {expected_suite}"
        )
    if control.compressed:
        raise DecipheringError(DecipheringReason.COMPRESSION)
    if not (control.authenticated or control.encrypted):
        raise DecipheringError(DecipheringReason.NO_PROTECTION, "SC asks for neither")
    if (required[0] and not control.authenticated) or (required[1] and not control.encrypted):
        raise DecipheringError(DecipheringReason.BELOW_POLICY, f"SC 0x{content[0]:02X}")
    return control, invocation_counter, body


def open_body(
    control: SecurityControl,
    key: bytes,
    ak: bytes,
    iv: bytes,
    body: bytes,
    header_aad: bytes = b"",
) -> bytes:
    """The plaintext of a body sealed by ``seal_body``; DecipheringError if it fails."""
    if len(key) != SUITES[control.suite].key_length:
        raise DecipheringError(DecipheringReason.KEY_LENGTH, f"suite {control.suite}")
    sc = _OCTETS[control.encode()]
    if not control.authenticated:
        return _ctr(key, iv, body)
    if len(body) < AUTH_TAG_LENGTH:
        raise DecipheringError(DecipheringReason.TRUNCATED, "no room for the 12-byte tag")
    data, tag = body[:-AUTH_TAG_LENGTH], body[-AUTH_TAG_LENGTH:]
    if control.encrypted:
        return _gcm_open(key, iv, sc + ak + header_aad, data, tag)
    _gcm_open(key, iv, sc + ak + header_aad + data, b"", tag)
    return data


def encode_length(length: int) -> bytes:
    """A-XDR length: one byte below 128, else 0x8n followed by n big-endian bytes."""
    if length < 0x80:
        return bytes([length])
    size = (length.bit_length() + 7) // 8
    return bytes([0x80 | size]) + length.to_bytes(size, "big")


class ApduReader:
    """A cursor over received bytes that refuses, with a DecipheringError, to read past them."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def take(self, count: int, what: str) -> bytes:
        if self._at + count > len(self._data):
            raise DecipheringError(
                DecipheringReason.TRUNCATED,
                f"{what}: {count} bytes wanted, {len(self._data) - self._at} left",
            )
        chunk = self._data[self._at : self._at + count]
        self._at += count
        return chunk

    def length(self) -> int:
        first = self.byte("length")
        if first < 0x80:
            return first
        size = first & 0x7F
        if not 1 <= size <= 4:
            raise DecipheringError(DecipheringReason.WRONG_LENGTH, f"length form 0x{first:02X}")
        return int.from_bytes(self.take(size, "length"), "big")

    def octet_string(self, what: str) -> bytes:
        """An A-XDR octet-string: its length, then that many bytes."""
        return self.take(self.length(), what)

    def rest(self) -> bytes:
        chunk = self._data[self._at :]
        self._at = len(self._data)
        return chunk

    def at_end(self) -> bool:
        return self._at == len(self._data)


class AssociationCipher:
    """The common case of one association's ciphering made once, not per APDU: a
    service-specific glo-/ded- APDU with a one-octet length, authenticated and encrypted
    under the association's suite (what a head-end sends and gets back for nearly every GET).

    It holds each key's AES-GCM object, the AAD (``SC || AK``) and both system titles, so that
    opening and sealing such an APDU is a slice, two or one GCM calls and a concatenation.
    Anything else (another SC, a longer APDU, general ciphering, a missing key) makes
    :meth:`open` and :meth:`seal` return None, and the caller takes ``unprotect`` and
    ``protect``, which give the same bytes and refusals for what this class handles
    (tests/security/test_ciphering_properties.py).
    """

    def __init__(
        self, keys: CipheringKeys, suite: int, own_title: bytes, peer_title: bytes
    ) -> None:
        self.control = SecurityControl.made(suite, authenticated=True, encrypted=True)
        self._sc = self.control.encode()
        self._aad = _OCTETS[self._sc] + keys.authentication_key
        self._own_title = own_title if len(own_title) == SYSTEM_TITLE_LENGTH else None
        self._peer_title = peer_title if len(peer_title) == SYSTEM_TITLE_LENGTH else None
        key_length = SUITES[suite].key_length if suite in SUITES else None

        def gcm(key: bytes | None) -> AESGCM | None:
            return None if key is None or len(key) != key_length else AESGCM(key)

        self._global = gcm(keys.global_unicast_key)
        self._dedicated = gcm(keys.dedicated_key)

    def open(self, apdu: bytes) -> Unprotected | None:
        """``apdu`` opened when it is of the common case (None otherwise); DecipheringError
        when its tag does not verify or it carries another APDU than its tag says."""
        size = len(apdu)
        if size < 7 + AUTH_TAG_LENGTH or apdu[1] != size - 2 or apdu[2] != self._sc:
            return None
        plain_of = _PLAIN_OF.get(apdu[0])
        if plain_of is None or self._peer_title is None:
            return None
        plain_tag, dedicated = plain_of
        gcm = self._dedicated if dedicated else self._global
        if gcm is None:
            return None
        iv = self._peer_title + apdu[3:7]
        plaintext = gcm.encrypt(iv, apdu[7:-AUTH_TAG_LENGTH], None)[:-_GCM_FULL_TAG]
        expected = gcm.encrypt(iv, plaintext, self._aad)[-_GCM_FULL_TAG:]
        if not hmac.compare_digest(expected[:AUTH_TAG_LENGTH], apdu[-AUTH_TAG_LENGTH:]):
            raise DecipheringError(DecipheringReason.AUTHENTICATION, "tag does not match")
        if plaintext[:1] != _OCTETS[plain_tag]:
            raise DecipheringError(
                DecipheringReason.WRONG_TAG,
                f"0x{apdu[0]:02X} must carry an APDU starting 0x{plain_tag:02X}",
            )
        counter = int.from_bytes(apdu[3:7], "big")
        return Unprotected(apdu[0], self.control, counter, self._peer_title, dedicated, plaintext)

    def can_seal(self, plain_apdu: bytes, *, dedicated: bool) -> bool:
        """Whether :meth:`seal` seals ``plain_apdu``: a service-specific form exists and the
        key and own title are at hand."""
        return (
            bool(plain_apdu)
            and plain_apdu[0] in CIPHERED_TAGS
            and self._own_title is not None
            and (self._dedicated if dedicated else self._global) is not None
        )

    def seal(self, plain_apdu: bytes, invocation_counter: int, *, dedicated: bool) -> bytes:
        """``protect`` of ``plain_apdu`` with this association's control, keys and own title;
        the caller has checked :meth:`can_seal` (so a counter is taken only for an APDU that
        is sealed here)."""
        gcm = self._dedicated if dedicated else self._global
        assert gcm is not None and self._own_title is not None
        if not 0 <= invocation_counter <= MAX_INVOCATION_COUNTER:
            raise ValueError(f"an invocation counter is 32 bits, not {invocation_counter}")
        counter = invocation_counter.to_bytes(INVOCATION_COUNTER_LENGTH, "big")
        body = gcm.encrypt(self._own_title + counter, plain_apdu, self._aad)
        size = 1 + INVOCATION_COUNTER_LENGTH + len(body) - (_GCM_FULL_TAG - AUTH_TAG_LENGTH)
        tag = CIPHERED_TAGS[plain_apdu[0]][1 if dedicated else 0]
        head = bytes((tag, size, self._sc)) if size < 0x80 else None
        if head is None:
            head = bytes((tag,)) + encode_length(size) + _OCTETS[self._sc]
        return head + counter + body[: AUTH_TAG_LENGTH - _GCM_FULL_TAG]
