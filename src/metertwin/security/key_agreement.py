"""Key agreement for suites 1 and 2: ECDH and the NIST SP 800-56A concatenation KDF.

Green Book 9.2.3.4.6 (key agreement) uses three SP 800-56A schemes, each ECC CDH on the suite's
curve (P-256 or P-384) with the single-step KDF of SP 800-56A 5.8.1 over the suite's hash
(SHA-256 or SHA-384): derived key = leftmost key-length bytes of
``Hash(00000001 || Z || OtherInfo)``, Z the x-coordinate of the shared point and

    OtherInfo = AlgorithmID || PartyUInfo || PartyVInfo  (SuppPubInfo, SuppPrivInfo empty)

- AlgorithmID: the 7-byte encoded cryptographic-algorithm-id of what the key is for,
  ``60 85 74 05 08 03 nn`` (2.16.756.5.8.3.nn: 0 AES-GCM-128, 1 AES-GCM-256, 2 AES-WRAP-128,
  3 AES-WRAP-256);
- PartyUInfo: the initiator's system title (the client in key_agreement, the originator of a
  general-ciphering APDU); PartyVInfo: the responder's (server, recipient) system title.

The schemes:

- C(2e, 0s) ephemeral unified model: the class 64 ``key_agreement`` method. Each side sends an
  ephemeral public key signed with its ECDSA signing key (``signed_ephemeral_key``);
- C(1e, 1s) one-pass Diffie-Hellman: an agreed-key key-info of general-ciphering; the
  originator's ephemeral key with the recipient's static key-agreement key;
- C(0e, 2s) static unified model: both static key-agreement keys; SP 800-56A asks the initiator
  for a nonce, which DLMS takes from the transaction-id: PartyVInfo is then
  ``len(transaction-id) || transaction-id || recipient system title``.

The OtherInfo layout, the signed ``key_id || x || y`` of an ephemeral key and the C(0e, 2s)
PartyVInfo are taken from gurux's implementation of the Green Book (facts read in its GXSecure
and GXDLMSChippering, no code taken); the Green Book text itself was not at hand to confirm
them (docs/security.md, "Not yet"). ECDH and the KDF are ``cryptography``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from metertwin.security.ciphering import SYSTEM_TITLE_LENGTH
from metertwin.security.errors import AuthenticationError, KeyAgreementError
from metertwin.security.hls import ecdsa_sign, ecdsa_verify
from metertwin.security.keys import KeyId
from metertwin.security.suites import SecuritySuite

ALGORITHM_ID_PREFIX = bytes.fromhex("608574050803")  # 2.16.756.5.8.3, Green Book Table 18
_UNCOMPRESSED_POINT = 0x04


class CryptographicAlgorithm(IntEnum):
    """The last arc of a cryptographic-algorithm-id (Green Book "cryptographic algorithm ID-s")."""

    AES_GCM_128 = 0
    AES_GCM_256 = 1
    AES_WRAP_128 = 2
    AES_WRAP_256 = 3


class AgreementScheme(IntEnum):
    """key-parameters of an agreed-key key-info (general-ciphering)."""

    ONE_PASS_DIFFIE_HELLMAN = 1  # C(1e, 1s ECC CDH)
    STATIC_UNIFIED_MODEL = 2  # C(0e, 2s ECC CDH)


# key_agreement agrees the two encryption keys and the authentication key, never the KEK.
AGREEABLE_KEYS = (
    KeyId.GLOBAL_UNICAST_ENCRYPTION,
    KeyId.GLOBAL_BROADCAST_ENCRYPTION,
    KeyId.AUTHENTICATION,
)


def algorithm_id(algorithm: CryptographicAlgorithm) -> bytes:
    """The 7-byte AlgorithmID field of OtherInfo."""
    return ALGORITHM_ID_PREFIX + bytes([algorithm])


def ciphering_algorithm(suite: SecuritySuite) -> CryptographicAlgorithm:
    """AES-GCM of the suite's key length: what an agreed content or session key is for."""
    return (
        CryptographicAlgorithm.AES_GCM_256
        if suite.key_length == 32
        else (CryptographicAlgorithm.AES_GCM_128)
    )


def _curve(suite: SecuritySuite) -> ec.EllipticCurve:
    if suite.curve is None or suite.hash_algorithm is None:
        raise ValueError(f"suite {suite.number} has no key agreement")
    return suite.curve


def encode_public_key(public_key: ec.EllipticCurvePublicKey, suite: SecuritySuite) -> bytes:
    """x || y, each the curve's length (64 bytes on P-256, 96 on P-384), as DLMS sends keys."""
    curve = _curve(suite)
    if public_key.curve.name != curve.name:
        raise ValueError(f"suite {suite.number} uses {curve.name}, not {public_key.curve.name}")
    numbers = public_key.public_numbers()
    size = suite.coordinate_length
    return numbers.x.to_bytes(size, "big") + numbers.y.to_bytes(size, "big")


def decode_public_key(data: bytes, suite: SecuritySuite) -> ec.EllipticCurvePublicKey:
    """The public key x || y received from a peer; KeyAgreementError unless it is a point of
    the suite's curve (so an invalid-curve point never reaches ECDH)."""
    curve = _curve(suite)
    if len(data) != 2 * suite.coordinate_length:
        raise KeyAgreementError(
            f"a suite {suite.number} public key is {2 * suite.coordinate_length} bytes, "
            f"not {len(data)}"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(
            curve, bytes([_UNCOMPRESSED_POINT]) + bytes(data)
        )
    except ValueError:
        raise KeyAgreementError(f"not a point on {curve.name}") from None


def shared_secret(
    private_key: ec.EllipticCurvePrivateKey, peer_public_key: ec.EllipticCurvePublicKey
) -> bytes:
    """Z: the x-coordinate of private * peer point (SP 800-56A ECC CDH)."""
    if private_key.curve.name != peer_public_key.curve.name:
        raise KeyAgreementError(
            f"the peer's key is on {peer_public_key.curve.name}, ours on {private_key.curve.name}"
        )
    return private_key.exchange(ec.ECDH(), peer_public_key)


def other_info(
    algorithm: CryptographicAlgorithm, party_u_info: bytes, party_v_info: bytes
) -> bytes:
    """AlgorithmID || PartyUInfo || PartyVInfo (DLMS leaves SuppPubInfo/SuppPrivInfo empty)."""
    return algorithm_id(algorithm) + party_u_info + party_v_info


def derive_key(suite: SecuritySuite, z: bytes, info: bytes, length: int | None = None) -> bytes:
    """The SP 800-56A single-step KDF with the suite's hash; the suite's key length by default."""
    _curve(suite)
    assert suite.hash_algorithm is not None
    kdf = ConcatKDFHash(suite.hash_algorithm, length or suite.key_length, info)
    return kdf.derive(z)


def _check_title(title: bytes, whose: str) -> None:
    if len(title) != SYSTEM_TITLE_LENGTH:
        raise ValueError(f"the {whose} system title is 8 bytes, not {len(title)}")


def agreed_key(
    suite: SecuritySuite,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public_key: ec.EllipticCurvePublicKey,
    *,
    initiator_system_title: bytes,
    responder_system_title: bytes,
    algorithm: CryptographicAlgorithm | None = None,
) -> bytes:
    """The key both sides derive: KDF(Z, AlgorithmID || ST-U || ST-V).

    Either side calls it with its own private key and the peer's public key; the titles are
    always initiator's first. ``algorithm`` defaults to the suite's AES-GCM.
    """
    _check_title(initiator_system_title, "initiator's")
    _check_title(responder_system_title, "responder's")
    z = shared_secret(private_key, peer_public_key)
    info = other_info(
        algorithm if algorithm is not None else ciphering_algorithm(suite),
        initiator_system_title,
        responder_system_title,
    )
    return derive_key(suite, z, info)


def static_unified_key(
    suite: SecuritySuite,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public_key: ec.EllipticCurvePublicKey,
    *,
    originator_system_title: bytes,
    recipient_system_title: bytes,
    transaction_id: bytes,
) -> bytes:
    """C(0e, 2s): both static keys, the transaction-id as the initiator's nonce in PartyVInfo."""
    _check_title(originator_system_title, "originator's")
    _check_title(recipient_system_title, "recipient's")
    if not 0 < len(transaction_id) < 0x80:
        raise ValueError("a transaction-id of 1 to 127 bytes is the static unified model's nonce")
    party_v = bytes([len(transaction_id)]) + transaction_id + recipient_system_title
    z = shared_secret(private_key, peer_public_key)
    return derive_key(
        suite, z, other_info(ciphering_algorithm(suite), originator_system_title, party_v)
    )


# --- signed ephemeral keys (key_agreement key_data, one-pass DH key-ciphered-data) ----------


def signed_ephemeral_key(
    key_id: int,
    ephemeral_public_key: ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey,
    suite: SecuritySuite,
) -> bytes:
    """Ephemeral public key (x || y) || ECDSA signature over ``key_id || x || y``.

    In key_agreement the id is the key's KeyId (0, 1 or 2); in a one-pass Diffie-Hellman
    key-info it is the key-parameters value (1).
    """
    if not 0 <= key_id <= 0xFF:
        raise ValueError(f"a key id is one byte, not {key_id}")
    point = encode_public_key(ephemeral_public_key, suite)
    return point + ecdsa_sign(signing_key, bytes([key_id]) + point, suite)


def open_signed_ephemeral_key(
    key_id: int,
    key_data: bytes,
    peer_signing_key: ec.EllipticCurvePublicKey,
    suite: SecuritySuite,
) -> ec.EllipticCurvePublicKey:
    """The peer's ephemeral public key, once its signature is checked; KeyAgreementError for
    any malformed, off-curve or wrongly signed key_data."""
    _curve(suite)
    point_length = 2 * suite.coordinate_length
    if len(key_data) != point_length + suite.signature_length:
        raise KeyAgreementError(
            f"suite {suite.number} key_data is {point_length + suite.signature_length} bytes, "
            f"not {len(key_data)}"
        )
    point, signature = key_data[:point_length], key_data[point_length:]
    public_key = decode_public_key(point, suite)
    try:
        ecdsa_verify(peer_signing_key, bytes([key_id & 0xFF]) + point, signature, suite)
    except AuthenticationError as refused:
        raise KeyAgreementError(
            f"ephemeral key signature: {refused.detail}", bad_signature=True
        ) from None
    return public_key


def new_ephemeral_key(suite: SecuritySuite) -> ec.EllipticCurvePrivateKey:
    """A fresh key pair on the suite's curve, used for one agreement and then dropped."""
    return ec.generate_private_key(_curve(suite))


def agreeable_key_id(value: int) -> KeyId:
    """The KeyId a key_agreement entry names; KeyAgreementError unless 0, 1 or 2."""
    if value not in AGREEABLE_KEYS:
        raise KeyAgreementError(f"key_agreement agrees key ids 0, 1 and 2, not {value}")
    return KeyId(value)


@dataclass(frozen=True)
class KeyAgreementAnswer:
    """The server's side of one key_agreement entry: the key_data it answers with (its own
    signed ephemeral key) and the key both sides now hold for ``key_id``."""

    key_id: KeyId
    key_data: bytes
    agreed_key: bytes


def answer_key_agreement(
    suite: SecuritySuite,
    key_id: int,
    client_key_data: bytes,
    *,
    client_signing_key: ec.EllipticCurvePublicKey,
    server_signing_key: ec.EllipticCurvePrivateKey,
    client_system_title: bytes,
    server_system_title: bytes,
    ephemeral_key: ec.EllipticCurvePrivateKey | None = None,
) -> KeyAgreementAnswer:
    """Class 64 method 3 at the server, C(2e, 0s), for one {key_id, key_data} entry.

    Checks the client's signed ephemeral key (KeyAgreementError if anything is wrong), signs
    a fresh ephemeral key of ours (``ephemeral_key`` only to make tests repeatable) and derives
    the key with the client as party U. The caller commits the new key before it answers.
    """
    kind = agreeable_key_id(key_id)
    client_ephemeral = open_signed_ephemeral_key(kind, client_key_data, client_signing_key, suite)
    ours = ephemeral_key if ephemeral_key is not None else new_ephemeral_key(suite)
    key_data = signed_ephemeral_key(kind, ours.public_key(), server_signing_key, suite)
    key = agreed_key(
        suite,
        ours,
        client_ephemeral,
        initiator_system_title=client_system_title,
        responder_system_title=server_system_title,
    )
    return KeyAgreementAnswer(kind, key_data, key)
