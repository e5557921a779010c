"""Property tests over every APDU class: round trips, and fuzzing ``decode_apdu`` with random and
mutated input (architecture principle 7: only the declared DlmsDecodeError family escapes)."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.dlms.strategies import APDU_STRATEGIES, apdus
from tests.dlms.test_apdu_vectors import VECTORS

from metertwin.codec.errors import DlmsDecodeError
from metertwin.dlms.apdu import Apdu, decode_apdu

ALL_APDU_CLASSES = typing.get_args(Apdu)


def test_every_apdu_class_has_a_strategy() -> None:
    """So the round trip below really covers every class ``decode_apdu`` can return."""
    assert set(APDU_STRATEGIES) == set(ALL_APDU_CLASSES)
    assert len(ALL_APDU_CLASSES) == 36


def test_every_apdu_class_has_a_distinct_head() -> None:
    heads = [(cls.TAG, getattr(cls, "CHOICE", None)) for cls in ALL_APDU_CLASSES]
    assert len(set(heads)) == len(heads)


@pytest.mark.parametrize("apdu_class", ALL_APDU_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(apdu_class: type, data: st.DataObject) -> None:
    apdu = data.draw(APDU_STRATEGIES[apdu_class])
    raw = apdu.encode()
    decoded = decode_apdu(raw)
    assert type(decoded) is apdu_class
    assert decoded == apdu
    assert decoded.encode() == raw


def _check_only_declared_errors(raw: bytes) -> None:
    """Decode or raise DlmsDecodeError; whatever decodes re-encodes to a stable canonical form."""
    try:
        decoded = decode_apdu(raw)
    except DlmsDecodeError:
        return
    canonical = decoded.encode()
    assert decode_apdu(canonical).encode() == canonical


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_random_bytes(raw: bytes) -> None:
    _check_only_declared_errors(raw)


HEADS = sorted({bytes.fromhex(hex_bytes)[:2] for _, hex_bytes, _ in VECTORS})


@settings(max_examples=500)
@given(st.sampled_from(HEADS), st.binary(max_size=48))
def test_random_bodies_behind_valid_heads(head: bytes, body: bytes) -> None:
    """Random bytes rarely pass the first octet; start from every real tag and CHOICE."""
    _check_only_declared_errors(head + body)


def _mutate(raw: bytes, data: st.DataObject) -> bytes:
    mutated = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        where = data.draw(st.integers(0, len(mutated)))
        action = data.draw(st.sampled_from(["set", "flip-bit", "insert", "delete", "truncate"]))
        if action == "set" and where < len(mutated):
            mutated[where] = data.draw(st.integers(0, 255))
        elif action == "flip-bit" and where < len(mutated):
            mutated[where] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "insert":
            mutated[where:where] = data.draw(st.binary(min_size=1, max_size=3))
        elif action == "delete":
            del mutated[where : where + data.draw(st.integers(1, 3))]
        elif action == "truncate":
            del mutated[where:]
    return bytes(mutated)


@settings(max_examples=1500)
@given(st.sampled_from([bytes.fromhex(hex_bytes) for _, hex_bytes, _ in VECTORS]), st.data())
def test_mutated_golden_vectors(raw: bytes, data: st.DataObject) -> None:
    _check_only_declared_errors(_mutate(raw, data))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(apdus, st.data())
def test_mutated_generated_apdus(apdu: Any, data: st.DataObject) -> None:
    _check_only_declared_errors(_mutate(apdu.encode(), data))


RANGE_REQUEST = next(
    bytes.fromhex(hex_bytes)
    for source, hex_bytes, _ in VECTORS
    if source.startswith("DC test_selective_access.py")
)


@pytest.mark.parametrize("cut", range(len(RANGE_REQUEST)))
def test_every_truncation_of_a_long_request_is_refused(cut: int) -> None:
    """A truncated APDU is never mistaken for a shorter valid one."""
    with pytest.raises(DlmsDecodeError):
        decode_apdu(RANGE_REQUEST[:cut])
