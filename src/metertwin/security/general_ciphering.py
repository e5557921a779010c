"""general-ciphering (0xDD): a ciphered APDU that names the key it is ciphered with.

    DD | transaction-id | originator-system-title | recipient-system-title | date-time |
    other-information | key-info OPTIONAL | ciphered-content (octet-string: SC | IC | body)

key-info (A-XDR: 00 absent, 01 present, then the CHOICE tag):

- ``00`` identified-key: key-id (enum: 0 global unicast, 1 global broadcast encryption key);
- ``01`` wrapped-key: kek-id (enum: 0 master key), key-ciphered-data (octet-string): the
  content key wrapped with RFC 3394 under the master key;
- ``02`` agreed-key: key-parameters (octet-string of one byte: 1 one-pass Diffie-Hellman
  C(1e, 1s), 2 static unified model C(0e, 2s)), key-ciphered-data (octet-string): for one-pass
  DH the originator's signed ephemeral key (``x || y || signature over 01 || x || y``), for the
  static unified model empty.

Absent, the key is the one both sides know from the context (the caller's ``implicit_key``,
e.g. the dedicated key).

The body is sealed as in ``ciphering`` with IV = originator system title || IC. For suites 1 and
2 the encoded header fields (transaction-id to other-information) follow SC || AK in the
additional authenticated data, so the header cannot be altered; suite 0 keeps AAD = SC || AK.
Both facts as gurux reads the Green Book for the authenticated-and-encrypted case; that gurux
leaves the header out of an authentication-only APDU is not followed here (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.security import key_agreement
from metertwin.security.ciphering import (
    INVOCATION_COUNTER_LENGTH,
    ApduReader,
    SecurityControl,
    initialisation_vector,
    open_body,
    read_security_header,
    seal_body,
)
from metertwin.security.errors import (
    DecipheringError,
    DecipheringReason,
    KeyAgreementError,
    KeyWrapError,
)
from metertwin.security.general_header import GeneralHeader, encode_octet_string
from metertwin.security.key_agreement import AgreementScheme
from metertwin.security.keys import KeyId, unwrap_key, wrap_key
from metertwin.security.suites import SUITES, SecuritySuite, security_suite

GENERAL_CIPHERING = 0xDD
MASTER_KEK_ID = 0

_ABSENT, _PRESENT = 0x00, 0x01
_IDENTIFIED, _WRAPPED, _AGREED = 0x00, 0x01, 0x02
_IDENTIFIABLE = (KeyId.GLOBAL_UNICAST_ENCRYPTION, KeyId.GLOBAL_BROADCAST_ENCRYPTION)


@dataclass(frozen=True)
class IdentifiedKeyInfo:
    """The content key is one of the global encryption keys."""

    key_id: KeyId


@dataclass(frozen=True)
class WrappedKeyInfo:
    """The content key travels wrapped under the master key (kek-id 0)."""

    wrapped_key: bytes
    kek_id: int = MASTER_KEK_ID


@dataclass(frozen=True)
class AgreedKeyInfo:
    """The content key is agreed by ECDH (suites 1 and 2)."""

    scheme: AgreementScheme
    key_ciphered_data: bytes = b""


KeyInfo = IdentifiedKeyInfo | WrappedKeyInfo | AgreedKeyInfo


@dataclass(frozen=True)
class RecipientKeys:
    """What the receiver may need to find a content key; each is optional, and an APDU that
    needs a missing one is refused (MISSING_KEY)."""

    authentication_key: bytes
    global_unicast_key: bytes | None = None
    global_broadcast_key: bytes | None = None
    master_key: bytes | None = None
    implicit_key: bytes | None = None
    key_agreement_key: ec.EllipticCurvePrivateKey | None = None
    peer_signing_key: ec.EllipticCurvePublicKey | None = None
    peer_key_agreement_key: ec.EllipticCurvePublicKey | None = None


@dataclass(frozen=True)
class OpenedGeneralCiphering:
    header: GeneralHeader
    key_info: KeyInfo | None
    control: SecurityControl
    invocation_counter: int
    plaintext: bytes


# --- key-info codec ----------------------------------------------------------------------------


def encode_key_info(key_info: KeyInfo | None) -> bytes:
    if key_info is None:
        return bytes([_ABSENT])
    if isinstance(key_info, IdentifiedKeyInfo):
        return bytes([_PRESENT, _IDENTIFIED, key_info.key_id])
    if isinstance(key_info, WrappedKeyInfo):
        return bytes([_PRESENT, _WRAPPED, key_info.kek_id]) + encode_octet_string(
            key_info.wrapped_key
        )
    return (
        bytes([_PRESENT, _AGREED])
        + encode_octet_string(bytes([key_info.scheme]))
        + encode_octet_string(key_info.key_ciphered_data)
    )


def read_key_info(reader: ApduReader) -> KeyInfo | None:
    """key-info from received bytes; DecipheringError(KEY_INFO) for an unknown choice/value."""
    flag = reader.byte("key-info flag")
    if flag == _ABSENT:
        return None
    if flag != _PRESENT:
        raise DecipheringError(DecipheringReason.KEY_INFO, f"OPTIONAL flag 0x{flag:02X}")
    choice = reader.byte("key-info choice")
    if choice == _IDENTIFIED:
        key_id = reader.byte("key-id")
        if key_id not in _IDENTIFIABLE:
            raise DecipheringError(DecipheringReason.KEY_INFO, f"key-id {key_id}")
        return IdentifiedKeyInfo(KeyId(key_id))
    if choice == _WRAPPED:
        kek_id = reader.byte("kek-id")
        if kek_id != MASTER_KEK_ID:
            raise DecipheringError(DecipheringReason.KEY_INFO, f"kek-id {kek_id}")
        return WrappedKeyInfo(reader.octet_string("key-ciphered-data"), kek_id)
    if choice == _AGREED:
        parameters = reader.octet_string("key-parameters")
        data = reader.octet_string("key-ciphered-data")
        if len(parameters) != 1 or parameters[0] not in tuple(AgreementScheme):
            raise DecipheringError(DecipheringReason.KEY_INFO, f"key-parameters {parameters.hex()}")
        scheme = AgreementScheme(parameters[0])
        if scheme is AgreementScheme.STATIC_UNIFIED_MODEL and data:
            raise DecipheringError(DecipheringReason.KEY_INFO, "static unified model with data")
        return AgreedKeyInfo(scheme, data)
    raise DecipheringError(DecipheringReason.KEY_INFO, f"key-info choice {choice}")


# --- the originator's side: choosing a content key ---------------------------------------------


def wrapped_key_info(master_key: bytes, content_key: bytes) -> WrappedKeyInfo:
    """A fresh content key sent wrapped under the master key."""
    return WrappedKeyInfo(wrap_key(master_key, content_key))


def one_pass_key_info(
    suite: SecuritySuite,
    header: GeneralHeader,
    *,
    ephemeral_key: ec.EllipticCurvePrivateKey,
    signing_key: ec.EllipticCurvePrivateKey,
    recipient_key_agreement_key: ec.EllipticCurvePublicKey,
) -> tuple[AgreedKeyInfo, bytes]:
    """C(1e, 1s): (key-info with our signed ephemeral key, content key)."""
    key = key_agreement.agreed_key(
        suite,
        ephemeral_key,
        recipient_key_agreement_key,
        initiator_system_title=header.originator_system_title,
        responder_system_title=header.recipient_system_title,
    )
    scheme = AgreementScheme.ONE_PASS_DIFFIE_HELLMAN
    data = key_agreement.signed_ephemeral_key(
        scheme, ephemeral_key.public_key(), signing_key, suite
    )
    return AgreedKeyInfo(scheme, data), key


def static_unified_key_info(
    suite: SecuritySuite,
    header: GeneralHeader,
    *,
    key_agreement_key: ec.EllipticCurvePrivateKey,
    recipient_key_agreement_key: ec.EllipticCurvePublicKey,
) -> tuple[AgreedKeyInfo, bytes]:
    """C(0e, 2s): (key-info, content key from both static keys and the transaction-id)."""
    key = key_agreement.static_unified_key(
        suite,
        key_agreement_key,
        recipient_key_agreement_key,
        originator_system_title=header.originator_system_title,
        recipient_system_title=header.recipient_system_title,
        transaction_id=header.transaction_id,
    )
    return AgreedKeyInfo(AgreementScheme.STATIC_UNIFIED_MODEL), key


def protect_general_ciphering(
    plain_apdu: bytes,
    *,
    header: GeneralHeader,
    control: SecurityControl,
    invocation_counter: int,
    authentication_key: bytes,
    key_info: KeyInfo | None,
    content_key: bytes,
) -> bytes:
    """The general-ciphering APDU of plain_apdu under content_key, which key_info names."""
    if not (control.authenticated or control.encrypted):
        raise ValueError("a ciphered APDU is authenticated, encrypted or both")
    if control.compressed:
        raise ValueError("compression is not supported")
    suite = security_suite(control.suite)
    if len(content_key) != suite.key_length:
        raise ValueError(f"suite {suite.number} takes {suite.key_length}-byte keys")
    if isinstance(key_info, AgreedKeyInfo) and suite.curve is None:
        raise ValueError("suite 0 has no key agreement")
    if isinstance(key_info, IdentifiedKeyInfo) and control.broadcast != (
        key_info.key_id is KeyId.GLOBAL_BROADCAST_ENCRYPTION
    ):
        raise ValueError("the SC broadcast bit must match the identified key")
    iv = initialisation_vector(header.originator_system_title, invocation_counter)
    body = seal_body(
        control, content_key, authentication_key, iv, plain_apdu, _header_aad(suite, header)
    )
    content = bytes([control.encode()]) + iv[-INVOCATION_COUNTER_LENGTH:] + body
    return (
        bytes([GENERAL_CIPHERING])
        + header.encode()
        + encode_key_info(key_info)
        + encode_octet_string(content)
    )


def _header_aad(suite: SecuritySuite, header: GeneralHeader) -> bytes:
    return b"" if suite.curve is None else header.encode()


# --- the recipient's side -------------------------------------------------------------------


def unprotect_general_ciphering(
    apdu: bytes,
    *,
    keys: RecipientKeys,
    suite: int | None = None,
    peer_system_title: bytes | None = None,
    own_system_title: bytes | None = None,
    require_authenticated: bool = True,
    require_encrypted: bool = False,
) -> OpenedGeneralCiphering:
    """Open a received general-ciphering APDU. Anything wrong raises DecipheringError with its
    reason (KEY_INFO for a key-info that cannot give a key, SIGNATURE for a one-pass DH
    ephemeral key not signed by the peer), never another exception."""
    reader = ApduReader(apdu)
    tag = reader.byte("tag")
    if tag != GENERAL_CIPHERING:
        raise DecipheringError(DecipheringReason.WRONG_TAG, f"0x{tag:02X} is not general-ciphering")
    header = GeneralHeader.read(reader)
    header.check_parties(
        originator_system_title=peer_system_title, recipient_system_title=own_system_title
    )
    key_info = read_key_info(reader)
    content = reader.octet_string("ciphered-content")
    if not reader.at_end():
        raise DecipheringError(DecipheringReason.WRONG_LENGTH, "bytes after the ciphered content")
    control, counter, body = read_security_header(
        content, suite, (require_authenticated, require_encrypted)
    )
    content_suite = SUITES[control.suite]
    key = _content_key(key_info, header, content_suite, keys, broadcast=control.broadcast)
    iv = initialisation_vector(header.originator_system_title, counter)
    plaintext = open_body(
        control, key, keys.authentication_key, iv, body, _header_aad(content_suite, header)
    )
    return OpenedGeneralCiphering(header, key_info, control, counter, plaintext)


def _missing(what: str) -> DecipheringError:
    return DecipheringError(DecipheringReason.MISSING_KEY, f"no {what}")


def _content_key(
    key_info: KeyInfo | None,
    header: GeneralHeader,
    suite: SecuritySuite,
    keys: RecipientKeys,
    *,
    broadcast: bool,
) -> bytes:
    if key_info is None:
        if keys.implicit_key is None:
            raise _missing("key known from the context")
        return keys.implicit_key
    if isinstance(key_info, IdentifiedKeyInfo):
        unicast = key_info.key_id is KeyId.GLOBAL_UNICAST_ENCRYPTION
        if unicast == broadcast:
            raise DecipheringError(
                DecipheringReason.KEY_INFO, "key-id and the SC broadcast bit disagree"
            )
        key = keys.global_unicast_key if unicast else keys.global_broadcast_key
        if key is None:
            raise _missing("unicast key" if unicast else "broadcast key")
        return key
    if isinstance(key_info, WrappedKeyInfo):
        if keys.master_key is None:
            raise _missing("master key")
        try:
            return unwrap_key(keys.master_key, key_info.wrapped_key, key_length=suite.key_length)
        except KeyWrapError as refused:
            raise DecipheringError(DecipheringReason.KEY_INFO, refused.detail) from None
    return _agreed_content_key(key_info, header, suite, keys)


def _agreed_content_key(
    key_info: AgreedKeyInfo, header: GeneralHeader, suite: SecuritySuite, keys: RecipientKeys
) -> bytes:
    if suite.curve is None:
        raise DecipheringError(DecipheringReason.KEY_INFO, "suite 0 has no key agreement")
    if not header.recipient_system_title:
        raise DecipheringError(DecipheringReason.KEY_INFO, "an agreed key needs a recipient")
    if keys.key_agreement_key is None:
        raise _missing("key agreement key")
    try:
        if key_info.scheme is AgreementScheme.ONE_PASS_DIFFIE_HELLMAN:
            if keys.peer_signing_key is None:
                raise _missing("peer signing key")
            ephemeral = key_agreement.open_signed_ephemeral_key(
                key_info.scheme, key_info.key_ciphered_data, keys.peer_signing_key, suite
            )
            return key_agreement.agreed_key(
                suite,
                keys.key_agreement_key,
                ephemeral,
                initiator_system_title=header.originator_system_title,
                responder_system_title=header.recipient_system_title,
            )
        if keys.peer_key_agreement_key is None:
            raise _missing("peer key agreement key")
        if not 0 < len(header.transaction_id) < 0x80:
            raise DecipheringError(
                DecipheringReason.KEY_INFO, "the static unified model needs a transaction-id"
            )
        return key_agreement.static_unified_key(
            suite,
            keys.key_agreement_key,
            keys.peer_key_agreement_key,
            originator_system_title=header.originator_system_title,
            recipient_system_title=header.recipient_system_title,
            transaction_id=header.transaction_id,
        )
    except KeyAgreementError as refused:
        reason = (
            DecipheringReason.SIGNATURE if refused.bad_signature else DecipheringReason.KEY_INFO
        )
        raise DecipheringError(reason, refused.detail) from None
