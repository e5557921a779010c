"""Key transfer: AES key wrap (RFC 3394) of the keys the Security setup object receives.

Security setup (class 64) method 2, key_transfer, carries ``{key_id, key_wrapped}`` entries, each
key wrapped under the master key (KEK) with the RFC 3394 algorithm (Green Book 9.2.8.3). The
wrapping key and the wrapped key have the suite's AES key length.
"""

from __future__ import annotations

from enum import IntEnum

from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from metertwin.security.errors import KeyWrapError

_SEMIBLOCK = 8
_INTEGRITY_LENGTH = 8
_AES_KEY_LENGTHS = (16, 24, 32)


class KeyId(IntEnum):
    """key_id of a key_transfer entry (Blue Book class 64, method 2)."""

    GLOBAL_UNICAST_ENCRYPTION = 0
    GLOBAL_BROADCAST_ENCRYPTION = 1
    AUTHENTICATION = 2
    MASTER = 3  # the KEK: wraps the others


def wrap_key(kek: bytes, key: bytes) -> bytes:
    """The RFC 3394 wrapping of key under kek (8 bytes longer than key)."""
    if len(kek) not in _AES_KEY_LENGTHS:
        raise ValueError(f"a KEK is an AES key of 16, 24 or 32 bytes, not {len(kek)}")
    if len(key) < 2 * _SEMIBLOCK or len(key) % _SEMIBLOCK:
        raise ValueError(f"RFC 3394 wraps a multiple of 8 bytes, at least 16, not {len(key)}")
    return aes_key_wrap(kek, key)


def unwrap_key(kek: bytes, wrapped: bytes, *, key_length: int | None = None) -> bytes:
    """The key inside a received wrapped blob; KeyWrapError for any bad blob.

    ``key_length`` is the length the suite requires (16 or 32); a blob that unwraps to another
    length is refused too.
    """
    if len(kek) not in _AES_KEY_LENGTHS:
        raise ValueError(f"a KEK is an AES key of 16, 24 or 32 bytes, not {len(kek)}")
    if len(wrapped) < 3 * _SEMIBLOCK or len(wrapped) % _SEMIBLOCK:
        raise KeyWrapError(
            f"a wrapped key is a multiple of 8 bytes, at least 24, not {len(wrapped)}"
        )
    try:
        key = aes_key_unwrap(kek, bytes(wrapped))
    except InvalidUnwrap:
        raise KeyWrapError("integrity check failed (wrong KEK or altered blob)") from None
    if key_length is not None and len(key) != key_length:
        raise KeyWrapError(f"unwrapped a {len(key)}-byte key, the suite needs {key_length}")
    return key


def wrapped_length(key_length: int) -> int:
    """Length of the wrapping of a key of key_length bytes."""
    return key_length + _INTEGRITY_LENGTH
