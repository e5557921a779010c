"""metertwin's firmware image format (docs/firmware.md): a header naming the target model,
the version, the payload's size and SHA-256, then the payload, then an ECDSA signature.

The meter verifies before it ever runs an image: model, size, hash, and the signature with
the manufacturer's public key from its config; an encrypted payload (AES-GCM, PMM1220's
"firmware encryption") is opened with the meter's firmware key. Pure: bytes in, verdicts out.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"MTFW"
FORMAT = 1
ENCRYPTED = 0x01
SELF_CHECK_FAILS = 0x02  # the scenario's "bad" image: it verifies, then fails its self-check
_CURVES: dict[int, type[ec.EllipticCurve]] = {1: ec.SECP256R1, 2: ec.SECP384R1}
_HASHES: dict[int, type[hashes.HashAlgorithm]] = {1: hashes.SHA256, 2: hashes.SHA384}
_VERSION = re.compile(r"^\d{1,3}(\.\d{1,3}){1,3}$")
_FIXED = struct.Struct(">4sBBBB")  # magic, format, flags, curve, reserved
NONCE_SIZE = 12


class ImageError(ValueError):
    """Why an image is refused (the class 18 verification fails with it)."""


@dataclass(frozen=True)
class ImageHeader:
    model: str
    version: str
    size: int  # the plaintext payload's size
    sha256: bytes
    flags: int
    curve: int
    nonce: bytes  # empty unless encrypted

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & ENCRYPTED)

    @property
    def self_check_fails(self) -> bool:
        return bool(self.flags & SELF_CHECK_FAILS)


@dataclass(frozen=True)
class VerifiedImage:
    header: ImageHeader
    signature: bytes


def check_version(version: str) -> None:
    """Versions are dotted numbers (2 to 4 parts), the scheme of the built-in models."""
    if not _VERSION.match(version):
        raise ImageError(f"version {version!r} is not dotted numbers like 1.2.3")


def _curve_id(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> int:
    for ident, curve in _CURVES.items():
        if isinstance(key.curve, curve):
            return ident
    raise ImageError("the key is neither P-256 nor P-384")


def build_image(
    model: str,
    version: str,
    payload: bytes,
    key: ec.EllipticCurvePrivateKey,
    encryption_key: bytes | None = None,
    nonce: bytes | None = None,
    self_check_fails: bool = False,
) -> bytes:
    """An image for ``model`` signed with the manufacturer's ``key``."""
    check_version(version)
    curve = _curve_id(key)
    flags = (ENCRYPTED if encryption_key else 0) | (SELF_CHECK_FAILS if self_check_fails else 0)
    body = payload
    used_nonce = b""
    if encryption_key is not None:
        if nonce is None or len(nonce) != NONCE_SIZE:
            raise ImageError("an encrypted image needs a 12-byte nonce")
        used_nonce = nonce
        body = AESGCM(encryption_key).encrypt(nonce, payload, model.encode())
    header = (
        _FIXED.pack(MAGIC, FORMAT, flags, curve, 0)
        + _short(model.encode())
        + _short(version.encode())
        + struct.pack(">II", len(payload), len(body))
        + hashlib.sha256(payload).digest()
        + used_nonce
    )
    signed = header + body
    return signed + key.sign(signed, ec.ECDSA(_HASHES[curve]()))


def _short(text: bytes) -> bytes:
    if len(text) > 255:
        raise ImageError("model and version are at most 255 bytes")
    return bytes([len(text)]) + text


def verify_image(
    image: bytes,
    model: str,
    public_key: ec.EllipticCurvePublicKey | None,
    encryption_key: bytes | None,
) -> VerifiedImage:
    """The whole image checked: format, model, signature, then size and hash of the
    (decrypted) payload. Raises ImageError naming the first failure."""
    try:
        magic, fmt, flags, curve, _ = _FIXED.unpack_from(image, 0)
        at = _FIXED.size
        model_bytes, at = _read_short(image, at)
        version_bytes, at = _read_short(image, at)
        size_plain, size_body = struct.unpack_from(">II", image, at)
        at += 8
        digest = image[at : at + 32]
        at += 32
    except (struct.error, IndexError):
        raise ImageError("the image is shorter than its header") from None
    if magic != MAGIC or fmt != FORMAT or curve not in _CURVES:
        raise ImageError("not a metertwin image (magic, format or curve)")
    nonce = b""
    if flags & ENCRYPTED:
        nonce = image[at : at + NONCE_SIZE]
        at += NONCE_SIZE
    if len(digest) != 32 or len(image) < at + size_body:
        raise ImageError("the image is shorter than its header says")
    header = ImageHeader(
        model_bytes.decode(errors="replace"),
        version_bytes.decode(errors="replace"),
        size_plain,
        digest,
        flags,
        curve,
        nonce,
    )
    if header.model != model:
        raise ImageError(f"the image is for model {header.model!r}, not {model!r}")
    signed, signature = image[: at + size_body], image[at + size_body :]
    if public_key is None:
        raise ImageError("the meter holds no manufacturer key")
    if _curve_id(public_key) != curve:
        raise ImageError("the image is signed on another curve than the manufacturer key")
    try:
        public_key.verify(signature, signed, ec.ECDSA(_HASHES[curve]()))
    except (InvalidSignature, ValueError):
        raise ImageError("the signature does not verify") from None
    body = image[at : at + size_body]
    if header.encrypted:
        if encryption_key is None:
            raise ImageError("the image is encrypted and the meter holds no firmware key")
        try:
            body = AESGCM(encryption_key).decrypt(nonce, body, model_bytes)
        except (InvalidTag, ValueError):
            raise ImageError("the encrypted payload does not open with the meter's key") from None
    if len(body) != header.size:
        raise ImageError("the payload's size is not the header's")
    if hashlib.sha256(body).digest() != header.sha256:
        raise ImageError("the payload's SHA-256 is not the header's")
    check_version(header.version)
    return VerifiedImage(header, signature)


def _read_short(data: bytes, at: int) -> tuple[bytes, int]:
    length = data[at]
    if len(data) < at + 1 + length:
        raise struct.error("short")
    return data[at + 1 : at + 1 + length], at + 1 + length
