"""Token codec: typed token <-> 20 digits under a meter key (IEC 62055-41).

Vending side: `encode_token` builds the plain block (subclass, payload, CRC), encrypts it with
the key's algorithm (not for class 1), transposes the class bits in and prints 20 digits.
Meter side: `decode_token` reverses each step and raises a `TokenError` for a Format or CRC
failure. Key changes: `key_change_tokens` builds the 2 (64-bit) or 4 (128-bit) sections from an
old and a new key, `apply_key_change` turns a complete set back into the new key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from metertwin.sts.anatomy import (
    TokenClass,
    assemble_block,
    extract_class,
    format_token_number,
    insert_class,
    parse_token_number,
    split_block,
    token_crc,
)
from metertwin.sts.ea07 import Ea07Tables
from metertwin.sts.errors import TokenCrcError
from metertwin.sts.keys import Dkga, EncryptionAlgorithm, KeyType, MeterKey
from metertwin.sts.tokens import (
    KeyChangeSection1,
    KeyChangeSection2,
    KeyChangeSection3,
    KeyChangeSection4,
    KeyChangeToken,
    Token,
    token_from_payload,
)


def encode_token(token: Token, key: MeterKey) -> str:
    """The 20 digits of `token` for the meter holding `key` (vending side)."""
    token_class = int(token.token_class)
    block = assemble_block(token_class, token.subclass, token.payload())
    if token_class != TokenClass.TEST:
        block = key.cipher.encrypt_block(block)
    return format_token_number(insert_class(block, token_class))


def decode_token(digits: str, key: MeterKey) -> Token:
    """The token the meter holding `key` reads from `digits` (meter side).

    Raises `TokenFormatError` (not 20 digits, or above 2^66 - 1) or `TokenCrcError` (mistyped,
    or made for another meter or key: it decrypts to a block whose CRC does not match).
    """
    token_class, block = extract_class(parse_token_number(digits))
    if token_class != TokenClass.TEST:
        block = key.cipher.decrypt_block(block)
    subclass, payload, crc = split_block(block)
    if crc != token_crc(token_class, subclass, payload):
        raise TokenCrcError("token CRC does not match: mistyped, or not for this meter")
    return token_from_payload(token_class, subclass, payload)


# --- key change --------------------------------------------------------------------------------


def key_change_tokens(old_key: MeterKey, new_key: MeterKey) -> tuple[KeyChangeToken, ...]:
    """The key change sections that move a meter from `old_key` to `new_key`.

    2 sections (2/3, 2/4) for a 64-bit new key, 4 (2/3, 2/4, 2/8, 2/9) for a 128-bit one, all to
    be encrypted under the old key (see `encode_key_change`). The rollover bit is set when the new
    key uses the next base date (the TID rollover); any other base date change is refused.
    """
    if new_key.base_date == old_key.base_date:
        rollover = False
    elif new_key.base_date == old_key.base_date.successor:
        rollover = True
    else:
        raise ValueError(
            f"a key change can keep base date {int(old_key.base_date)} or roll over to the "
            f"next one, not move to {int(new_key.base_date)}"
        )
    dk = new_key.decoder_key
    wide = len(dk) == 16
    section1 = KeyChangeSection1(
        ken_high=new_key.ken >> 4,
        krn=new_key.krn,
        rollover=rollover,
        kct3=wide,
        key_type=int(new_key.key_type),
        key_high=int.from_bytes(dk[0:4], "big"),
    )
    section2 = KeyChangeSection2(
        ken_low=new_key.ken & 0xF,
        ti=new_key.ti,
        key_low=int.from_bytes(dk[-4:], "big"),
    )
    if not wide:
        return (section1, section2)
    section3 = KeyChangeSection3(
        sgc_low=new_key.sgc & 0xFFF, key_bytes_4_7=int.from_bytes(dk[4:8], "big")
    )
    section4 = KeyChangeSection4(
        sgc_high=new_key.sgc >> 12, key_bytes_8_11=int.from_bytes(dk[8:12], "big")
    )
    return (section1, section2, section3, section4)


def encode_key_change(old_key: MeterKey, new_key: MeterKey) -> tuple[str, ...]:
    """The key change token digits (2 or 4), encrypted under the old key the meter still holds."""
    return tuple(encode_token(token, old_key) for token in key_change_tokens(old_key, new_key))


def _sections(
    tokens: Iterable[KeyChangeToken],
) -> dict[int, KeyChangeToken]:
    found: dict[int, KeyChangeToken] = {}
    for token in tokens:
        if token.subclass in found and found[token.subclass] != token:
            raise ValueError(f"two different key change sections with subclass {token.subclass}")
        found[token.subclass] = token
    return found


def missing_key_change_sections(tokens: Iterable[KeyChangeToken]) -> frozenset[int]:
    """The class 2 subclasses still needed to complete a key change (empty when complete).

    Sections 2/3 and 2/4 are always needed; 2/8 and 2/9 when section 2/3 has its 3KCT bit set or
    when one of them has already arrived (a 128-bit change, sections may come in any order).
    """
    found = _sections(tokens)
    needed = {3, 4}
    section1 = found.get(3)
    wide = (isinstance(section1, KeyChangeSection1) and section1.kct3) or bool({8, 9} & set(found))
    if wide:
        needed |= {8, 9}
    return frozenset(needed - set(found))


def apply_key_change(
    old_key: MeterKey,
    tokens: Iterable[KeyChangeToken],
    *,
    ea07_tables: Ea07Tables | None = None,
) -> MeterKey:
    """The new meter key a complete set of key change sections installs.

    The new key takes KRN, KT, KEN and TI from the sections, the SGC from sections 3 and 4 for a
    128-bit key (a 64-bit change keeps the old SGC), EA11 for a 128-bit key and EA07 for a 64-bit
    one (with `ea07_tables`, default the old key's), and the next base date when the rollover bit
    is set. Raises ValueError for an incomplete or inconsistent set; the meter's rules decide
    which sections to hold pending and which rejection (e.g. KeyType) applies.
    """
    found = _sections(tokens)
    missing = missing_key_change_sections(found.values())
    if missing:
        raise ValueError(f"key change incomplete: subclass(es) {sorted(missing)} missing")
    section1 = found[3]
    section2 = found[4]
    assert isinstance(section1, KeyChangeSection1)
    assert isinstance(section2, KeyChangeSection2)
    if section1.kct3 != (8 in found):
        raise ValueError("3KCT bit disagrees with the sections received")
    base_date = old_key.base_date
    if section1.rollover:
        successor = old_key.base_date.successor
        if successor is None:
            raise ValueError(f"no base date after {int(old_key.base_date)} to roll over to")
        base_date = successor
    high = section1.key_high.to_bytes(4, "big")
    low = section2.key_low.to_bytes(4, "big")
    sgc = old_key.sgc
    if section1.kct3:
        section3 = found[8]
        section4 = found[9]
        assert isinstance(section3, KeyChangeSection3)
        assert isinstance(section4, KeyChangeSection4)
        decoder_key = (
            high
            + section3.key_bytes_4_7.to_bytes(4, "big")
            + section4.key_bytes_8_11.to_bytes(4, "big")
            + low
        )
        sgc = (section4.sgc_high << 12) | section3.sgc_low
        ea = EncryptionAlgorithm.EA11
        dkga = Dkga.DKGA04
        tables = None
    else:
        decoder_key = high + low
        ea = EncryptionAlgorithm.EA07
        dkga = old_key.dkga
        tables = ea07_tables if ea07_tables is not None else old_key.ea07_tables
    return dataclasses.replace(
        old_key,
        key_type=KeyType(section1.key_type),
        sgc=sgc,
        ti=section2.ti,
        krn=section1.krn,
        ken=(section1.ken_high << 4) | section2.ken_low,
        base_date=base_date,
        ea=ea,
        dkga=dkga,
        decoder_key=decoder_key,
        ea07_tables=tables,
    )
