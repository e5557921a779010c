"""general-signing (0xDF): an APDU signed with the sender's ECDSA key, suites 1 and 2.

    DF | transaction-id | originator-system-title | recipient-system-title | date-time |
    other-information | content (octet-string) | signature (octet-string)

``content`` is any xDLMS APDU (often a ciphered one). The signature is the suite's ECDSA (P-256
with SHA-256, P-384 with SHA-384) as raw ``r || s`` (64 or 96 bytes), over the header fields
as encoded followed by the content's bytes without its length prefix: what gurux signs and
checks (a fact read in its GXDLMS signing code, Green Book 9.2.7.2.4 "general-signing"), so the
tag, the content's length and the signature itself are outside it.

Opening never raises anything but DecipheringError; a signature that does not verify has its
own reason, ``DecipheringReason.SIGNATURE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.security.ciphering import ApduReader
from metertwin.security.errors import (
    AuthenticationError,
    DecipheringError,
    DecipheringReason,
    UnknownSuiteError,
)
from metertwin.security.general_header import GeneralHeader, encode_octet_string
from metertwin.security.hls import ecdsa_sign, ecdsa_verify
from metertwin.security.suites import SecuritySuite, security_suite

GENERAL_SIGNING = 0xDF


@dataclass(frozen=True)
class GeneralSigning:
    """A decoded general-signing APDU (its signature not yet checked, or checked)."""

    header: GeneralHeader
    content: bytes
    signature: bytes

    def signed_data(self) -> bytes:
        return signed_data(self.header, self.content)


def signed_data(header: GeneralHeader, content: bytes) -> bytes:
    """What the signature covers: the encoded header fields, then the content's bytes."""
    return header.encode() + content


def encode_general_signing(header: GeneralHeader, content: bytes, signature: bytes) -> bytes:
    return (
        bytes([GENERAL_SIGNING])
        + header.encode()
        + encode_octet_string(content)
        + encode_octet_string(signature)
    )


def decode_general_signing(apdu: bytes) -> GeneralSigning:
    """The fields of a received general-signing APDU; DecipheringError if malformed."""
    reader = ApduReader(apdu)
    tag = reader.byte("tag")
    if tag != GENERAL_SIGNING:
        raise DecipheringError(DecipheringReason.WRONG_TAG, f"0x{tag:02X} is not general-signing")
    header = GeneralHeader.read(reader)
    content = reader.octet_string("content")
    signature = reader.octet_string("signature")
    if not reader.at_end():
        raise DecipheringError(DecipheringReason.WRONG_LENGTH, "bytes after the signature")
    return GeneralSigning(header, content, signature)


def sign_general(
    content: bytes,
    *,
    header: GeneralHeader,
    signing_key: ec.EllipticCurvePrivateKey,
    suite: SecuritySuite,
) -> bytes:
    """The general-signing APDU carrying content, signed with this side's signing key."""
    signature = ecdsa_sign(signing_key, signed_data(header, content), suite)
    return encode_general_signing(header, content, signature)


def verify_general_signing(
    apdu: bytes,
    *,
    peer_signing_key: ec.EllipticCurvePublicKey,
    suite: int,
    peer_system_title: bytes | None = None,
    own_system_title: bytes | None = None,
) -> GeneralSigning:
    """Decode and check a received general-signing APDU; return it when its signature holds.

    ``peer_system_title``, when given, must be the originator; ``own_system_title`` the
    recipient (or the recipient empty, a broadcast). The caller then opens ``content``.
    """
    signing = decode_general_signing(apdu)
    signing.header.check_parties(
        originator_system_title=peer_system_title, recipient_system_title=own_system_title
    )
    try:
        ecdsa_suite = security_suite(suite)
    except UnknownSuiteError:
        raise DecipheringError(DecipheringReason.UNKNOWN_SUITE, f"suite {suite}") from None
    if ecdsa_suite.curve is None:
        raise DecipheringError(DecipheringReason.UNKNOWN_SUITE, "suite 0 does not sign")
    try:
        ecdsa_verify(peer_signing_key, signing.signed_data(), signing.signature, ecdsa_suite)
    except AuthenticationError as refused:
        raise DecipheringError(DecipheringReason.SIGNATURE, refused.detail) from None
    return signing
