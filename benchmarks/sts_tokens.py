"""STS tokens decoded (and encoded) per second, for EA11 (MISTY1) and EA07 (generated tables).

Decoding is what a meter does on every keypad entry; a fleet of simulated meters decodes many.
Run with `python -m benchmarks.sts_tokens` from the repository root.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from benchmarks.common import header
from metertwin.sts import (
    CreditKind,
    CreditToken,
    Dkga,
    Ea07Tables,
    EncryptionAlgorithm,
    KeyType,
    MeterKey,
    decode_token,
    encode_token,
)

TOKENS = 20_000


def _keys() -> list[tuple[str, MeterKey]]:
    ea11 = MeterKey.from_vending_key(
        bytes.fromhex("abababababababab949494949494949401234567"),
        drn="00000000000",
        key_type=KeyType.DUTK,
        sgc=123457,
        ti=1,
        krn=1,
        ea=EncryptionAlgorithm.EA11,
        dkga=Dkga.DKGA04,
    )
    ea07 = MeterKey.from_vending_key(
        bytes.fromhex("abababababababab"),
        drn="00000000000",
        key_type=KeyType.DUTK,
        sgc=123456,
        ti=1,
        krn=1,
        ea=EncryptionAlgorithm.EA07,
        dkga=Dkga.DKGA02,
        ea07_tables=Ea07Tables.generate_for_tests(seed=2024),
    )
    return [("EA11 (MISTY1)", ea11), ("EA07 (test tables)", ea07)]


def _per_second(work: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    work()
    return count / (time.perf_counter() - start)


def _decode_all(digits: list[str], key: MeterKey) -> None:
    for text in digits:
        decode_token(text, key)


def _encode_all(tokens: list[CreditToken], key: MeterKey) -> None:
    for token in tokens:
        encode_token(token, key)


def main() -> None:
    header("STS tokens: 20-digit credit tokens decoded and encoded per second")
    tokens = [
        CreditToken(
            kind=CreditKind.ELECTRICITY, amount_tenths=i % 5000, tid=5_000_000 + i, rnd=i % 16
        )
        for i in range(TOKENS)
    ]
    for name, key in _keys():
        digits = [encode_token(token, key) for token in tokens]  # also warms the key's cipher
        decoded_per_s = _per_second(partial(_decode_all, digits, key), TOKENS)
        encoded_per_s = _per_second(partial(_encode_all, tokens, key), TOKENS)
        print(
            f"   {name:<20} decode {decoded_per_s:10,.0f} tokens/s"
            f"   encode {encoded_per_s:10,.0f} tokens/s   ({TOKENS:,} tokens)"
        )


if __name__ == "__main__":
    main()
