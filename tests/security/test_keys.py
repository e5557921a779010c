"""AES key wrap for key_transfer: RFC 3394 section 4 vectors and refused blobs."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metertwin.security.errors import KeyWrapError
from metertwin.security.keys import KeyId, unwrap_key, wrap_key, wrapped_length

KEK_128 = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
KEK_256 = bytes.fromhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
KEY_128 = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
KEY_256 = bytes.fromhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
# RFC 3394 4.1 "Wrap 128 bits of Key Data with a 128-bit KEK".
WRAPPED_4_1 = bytes.fromhex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")
# RFC 3394 4.6 "Wrap 256 bits of Key Data with a 256-bit KEK".
WRAPPED_4_6 = bytes.fromhex(
    "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"
)


@pytest.mark.parametrize(
    ("kek", "key", "wrapped"),
    [(KEK_128, KEY_128, WRAPPED_4_1), (KEK_256, KEY_256, WRAPPED_4_6)],
    ids=["rfc3394-4.1-suite-0-1", "rfc3394-4.6-suite-2"],
)
def test_rfc3394_vectors(kek: bytes, key: bytes, wrapped: bytes) -> None:
    assert wrap_key(kek, key) == wrapped
    assert unwrap_key(kek, wrapped, key_length=len(key)) == key
    assert len(wrapped) == wrapped_length(len(key))


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        WRAPPED_4_1[:16],  # too short to hold a key
        WRAPPED_4_1[:-1],  # not a multiple of 8
        WRAPPED_4_1[:-8] + bytes(8),  # altered
        bytes(24),
    ],
)
def test_truncated_or_altered_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(KeyWrapError):
        unwrap_key(KEK_128, blob)


def test_a_blob_under_another_kek_or_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(KeyWrapError):
        unwrap_key(bytes(16), WRAPPED_4_1)
    with pytest.raises(KeyWrapError):  # suite 2 wants 32-byte keys
        unwrap_key(KEK_128, WRAPPED_4_1, key_length=32)


@given(st.binary(max_size=64))
def test_unwrap_of_arbitrary_bytes_raises_only_key_wrap_error(blob: bytes) -> None:
    with contextlib.suppress(KeyWrapError):
        unwrap_key(KEK_128, blob)


def test_key_ids_of_key_transfer() -> None:
    """Blue Book class 64 method 2 key_id (reference dlms.md 6)."""
    assert [(k.name, int(k)) for k in KeyId] == [
        ("GLOBAL_UNICAST_ENCRYPTION", 0),
        ("GLOBAL_BROADCAST_ENCRYPTION", 1),
        ("AUTHENTICATION", 2),
        ("MASTER", 3),
    ]
