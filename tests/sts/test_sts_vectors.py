"""Every public STS vector of reference/sts.md, with its source.

Sources: NectarAPI/tokens-service compliance tests STS 531-1-0-02/04 (DKGA, EA11 and class 1
tokens, intermediate values); RFC 2994 (MISTY1); FIPS DES KAT (single DES used by DKGA02).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from Crypto.Cipher import DES
from tests.sts.sts_fixtures import VENDING_KEY_DKGA02, VENDING_KEY_DKGA04, ea11_key

from metertwin.sts import (
    BaseDate,
    CreditKind,
    CreditToken,
    EncryptionAlgorithm,
    KeyType,
    MeterTestToken,
    Misty1,
    assemble_block,
    decode_token,
    dkga02,
    dkga04,
    encode_token,
    extract_class,
    format_token_number,
    insert_class,
    pan,
    parse_token_number,
    tid_from_datetime,
    token_crc,
)
from metertwin.sts.anatomy import crc16


def test_dkga02_compliance_vector() -> None:
    # STS 531-1-0-02: VK abababababababab, KT 2, SGC 123456, TI 01, KRN 1, PAN 600727000000000009.
    key = dkga02(
        VENDING_KEY_DKGA02,
        iin="600727",
        drn="00000000000",
        key_type=KeyType.DUTK,
        sgc=123456,
        ti=1,
        krn=1,
    )
    assert key.hex() == "e653341f9d5bf36f"


@pytest.mark.parametrize(
    ("ea", "expected"),
    [
        (EncryptionAlgorithm.EA07, "aa4baa8749c10d27"),
        (EncryptionAlgorithm.EA11, "f94b6ed353c3bfdb113e2d3a7ea3c41d"),
    ],
)
def test_dkga04_compliance_vectors(ea: EncryptionAlgorithm, expected: str) -> None:
    # STS 531-1-0-04: VK ab..ab 94..94 01234567, SGC 123457, TI 01, KRN 1, KT 2, base date 93.
    key = dkga04(
        VENDING_KEY_DKGA04,
        iin="600727",
        drn="00000000000",
        key_type=KeyType.DUTK,
        sgc=123457,
        ti=1,
        krn=1,
        base_date=BaseDate.Y1993,
        ea=ea,
    )
    assert key.hex() == expected


def test_compliance_pan_has_its_luhn_digit() -> None:
    assert pan("600727", "00000000000") == "600727000000000009"


def test_ea11_credit_token_compliance_vector() -> None:
    # Electricity 0.1 kWh, 2004-03-01 13:00, RND 5, under the DKGA04/EA11 key above.
    key = ea11_key()
    tid = tid_from_datetime(datetime(2004, 3, 1, 13, 0, tzinfo=UTC), BaseDate.Y1993)
    token = CreditToken(kind=CreditKind.ELECTRICITY, amount_tenths=1, tid=tid, rnd=5)
    assert encode_token(token, key) == "59386323472137426967"
    assert decode_token("59386323472137426967", key) == token


@pytest.mark.parametrize(
    ("digits", "token"),
    [
        ("56493153725450313471", MeterTestToken(subclass=0, control=(1 << 36) - 1)),
        ("02305843005052951967", MeterTestToken(subclass=1, control=(1 << 28) - 1)),
        ("00000000000150997584", MeterTestToken(subclass=0, control=1)),
    ],
)
def test_class_1_compliance_vectors(digits: str, token: MeterTestToken) -> None:
    # Class 1 is not encrypted: any key decodes it, and manufacturer code 00 / 0000 is zero.
    key = ea11_key()
    assert encode_token(token, key) == digits
    assert decode_token(digits, key) == token
    assert decode_token(digits, ea11_key(drn="12345678901")) == token


def test_intermediate_values_of_an_electricity_token() -> None:
    # 0.1 kWh, 2004-03-01 13:55, RND 5, base date 1993.
    tid = tid_from_datetime(datetime(2004, 3, 1, 13, 55, tzinfo=UTC), BaseDate.Y1993)
    assert tid == 5871715 == 0x599863
    assert crc16(bytes.fromhex("00055998630001")) == 0xE619  # before the byte swap
    token = CreditToken(kind=CreditKind.ELECTRICITY, amount_tenths=1, tid=tid, rnd=5)
    assert token_crc(0, 0, token.payload()) == 0x19E6
    assert assemble_block(0, 0, token.payload()) == 0x05599863000119E6


def test_transposition_and_digits_of_an_ea07_ciphertext() -> None:
    number = insert_class(0x492083C0AE7CE455, 0)
    assert number == 0x1492083C0A67CE455
    assert format_token_number(number) == "23716100501183194197"
    assert extract_class(parse_token_number("23716100501183194197")) == (0, 0x492083C0AE7CE455)


@pytest.mark.parametrize(
    ("plain", "cipher"),
    [("0123456789abcdef", "8b1da5f56ab3d07c"), ("fedcba9876543210", "04b68240b13be95d")],
)
def test_misty1_rfc_2994_vectors(plain: str, cipher: str) -> None:
    misty = Misty1(bytes.fromhex("00112233445566778899aabbccddeeff"))
    assert misty.encrypt_block(int(plain, 16)) == int(cipher, 16)
    assert misty.decrypt_block(int(cipher, 16)) == int(plain, 16)


def test_des_known_answer_used_by_dkga02() -> None:
    # FIPS DES KAT: the single-DES primitive DKGA02 is built on.
    des = DES.new(bytes.fromhex("133457799BBCDFF1"), DES.MODE_ECB)
    assert des.encrypt(bytes.fromhex("0123456789ABCDEF")).hex() == "85e813540f0ab405"
