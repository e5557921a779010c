"""Codec behaviour: round trips of every class and subclass, refusals, key changes, fuzzing."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.sts.sts_fixtures import (
    OTHER_TABLES,
    TEST_TABLES,
    VENDING_KEY_DKGA02,
    VENDING_KEY_DKGA04,
    ea07_key,
    ea11_key,
)

from metertwin.sts import (
    BaseDate,
    ClearCredit,
    ClearTamperCondition,
    CreditKind,
    CreditToken,
    Dkga,
    EncryptionAlgorithm,
    KeyChangeSection1,
    KeyChangeSection2,
    KeyChangeSection3,
    KeyChangeSection4,
    KeyChangeToken,
    KeyType,
    MeterKey,
    MeterTestToken,
    Rejection,
    ReservedToken,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    Token,
    TokenClass,
    TokenCrcError,
    TokenError,
    TokenFormatError,
    apply_key_change,
    decode_amount,
    decode_token,
    dkga02,
    encode_key_change,
    encode_token,
    key_change_tokens,
    missing_key_change_sections,
    token_from_payload,
)

EA07_KEY = ea07_key()
EA11_KEY = ea11_key()
KEYS = [EA07_KEY, EA11_KEY]

tids = st.integers(min_value=0, max_value=(1 << 24) - 1)
rnds = st.integers(min_value=0, max_value=15)
u16 = st.integers(min_value=0, max_value=0xFFFF)
u32 = st.integers(min_value=0, max_value=0xFFFFFFFF)


def bits(n: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=(1 << n) - 1)


credit_tokens = st.builds(
    CreditToken,
    kind=st.sampled_from(CreditKind),
    amount_tenths=u16.map(decode_amount),
    tid=tids,
    rnd=rnds,
)
test_tokens = st.one_of(
    st.builds(MeterTestToken, subclass=st.just(0), control=bits(36), manufacturer_code=bits(8)),
    st.builds(MeterTestToken, subclass=st.just(1), control=bits(28), manufacturer_code=bits(16)),
)
register_tokens = st.one_of(
    st.builds(SetMaximumPowerLimit, tid=tids, rnd=rnds, maximum_power_w=u16),
    st.builds(ClearCredit, tid=tids, rnd=rnds, register=u16),
    st.builds(SetTariffRate, tid=tids, rnd=rnds, rate=u16),
    st.builds(ClearTamperCondition, tid=tids, rnd=rnds, pad=u16),
    st.builds(SetMaximumPhasePowerUnbalanceLimit, tid=tids, rnd=rnds, maximum_unbalance_w=u16),
    st.builds(SetWaterMeterFactor, tid=tids, rnd=rnds, factor=u16),
)
key_change_sections = st.one_of(
    st.builds(
        KeyChangeSection1,
        ken_high=bits(4),
        krn=bits(4),
        rollover=st.booleans(),
        kct3=st.booleans(),
        key_type=bits(2),
        key_high=u32,
    ),
    st.builds(KeyChangeSection2, ken_low=bits(4), ti=bits(8), key_low=u32),
    st.builds(KeyChangeSection3, sgc_low=bits(12), key_bytes_4_7=u32),
    st.builds(KeyChangeSection4, sgc_high=bits(12), key_bytes_8_11=u32),
)
reserved_tokens = st.one_of(
    st.builds(
        ReservedToken, token_class=st.just(0), subclass=st.integers(8, 15), payload_bits=bits(44)
    ),
    st.builds(
        ReservedToken, token_class=st.just(1), subclass=st.integers(2, 15), payload_bits=bits(44)
    ),
    st.builds(
        ReservedToken, token_class=st.just(2), subclass=st.integers(10, 15), payload_bits=bits(44)
    ),
    st.builds(ReservedToken, token_class=st.just(3), subclass=bits(4), payload_bits=bits(44)),
)
all_tokens: st.SearchStrategy[Token] = st.one_of(
    credit_tokens, test_tokens, register_tokens, key_change_sections, reserved_tokens
)


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS, ids=["EA07", "EA11"])
@given(token=all_tokens)
def test_every_token_round_trips(key: MeterKey, token: Token) -> None:
    digits = encode_token(token, key)
    assert len(digits) == 20 and digits.isdigit()
    assert decode_token(digits, key) == token


@pytest.mark.parametrize("key", KEYS, ids=["EA07", "EA11"])
@given(
    kind=st.sampled_from(CreditKind),
    tenths=st.integers(min_value=0, max_value=18201624),
    tid=tids,
    rnd=rnds,
)
def test_credit_is_never_less_than_requested(
    key: MeterKey, kind: CreditKind, tenths: int, tid: int, rnd: int
) -> None:
    token = CreditToken(kind=kind, amount_tenths=tenths, tid=tid, rnd=rnd)
    decoded = decode_token(encode_token(token, key), key)
    assert isinstance(decoded, CreditToken)
    assert decoded.amount_tenths >= tenths
    assert dataclasses.replace(decoded, amount_tenths=tenths) == token


def test_defined_subclasses_decode_to_their_types_and_the_rest_to_reserved() -> None:
    defined = {0: range(8), 1: range(2), 2: range(10), 3: range(0)}
    for token_class, subclasses in defined.items():
        for subclass in range(16):
            token = token_from_payload(token_class, subclass, 0)
            assert token.token_class == token_class and token.subclass == subclass
            assert isinstance(token, ReservedToken) == (subclass not in subclasses)
    with pytest.raises(ValueError, match="not reserved"):
        ReservedToken(token_class=TokenClass.MANAGEMENT, subclass=9, payload_bits=0)


def test_token_fields_are_checked_against_their_widths() -> None:
    with pytest.raises(ValueError, match="TID"):
        CreditToken(kind=CreditKind.ELECTRICITY, amount_tenths=1, tid=1 << 24)
    with pytest.raises(ValueError, match="RND"):
        SetTariffRate(tid=0, rnd=16, rate=1)
    with pytest.raises(ValueError, match="control"):
        MeterTestToken(subclass=1, control=1 << 28)
    with pytest.raises(ValueError, match="manufacturer code"):
        MeterTestToken(subclass=0, control=0, manufacturer_code=256)
    with pytest.raises(ValueError, match="amount"):
        CreditToken(kind=CreditKind.GAS, amount_tenths=18201625, tid=0)


# --- refusals ----------------------------------------------------------------------------------

SAMPLE_TOKENS: list[Token] = [
    CreditToken(kind=CreditKind.ELECTRICITY, amount_tenths=250, tid=5871715, rnd=5),
    CreditToken(kind=CreditKind.ELECTRICITY_CURRENCY, amount_tenths=1000, tid=16_000_000, rnd=9),
    SetMaximumPowerLimit(tid=5871716, rnd=3, maximum_power_w=6000),
    ClearCredit(tid=5871717, rnd=1, register=0xFFFF),
]


@pytest.mark.parametrize("token", SAMPLE_TOKENS)
def test_a_token_for_another_meter_fails_the_crc(token: Token) -> None:
    for vending_key, other in (
        (EA11_KEY, ea11_key(drn="12345678901")),
        (EA07_KEY, ea07_key(drn="12345678901")),
        (EA07_KEY, ea07_key(tables=OTHER_TABLES)),
        (EA07_KEY, EA11_KEY),
    ):
        digits = encode_token(token, vending_key)
        with pytest.raises(TokenCrcError) as caught:
            decode_token(digits, other)
        assert caught.value.rejection is Rejection.CRC


@pytest.mark.parametrize("token", SAMPLE_TOKENS)
def test_a_mistyped_digit_fails_the_crc(token: Token) -> None:
    digits = encode_token(token, EA11_KEY)
    for position in range(20):
        changed = str((int(digits[position]) + 1) % 10)
        typo = digits[:position] + changed + digits[position + 1 :]
        with pytest.raises(TokenError) as caught:
            decode_token(typo, EA11_KEY)
        assert caught.value.rejection in (Rejection.CRC, Rejection.FORMAT)


@pytest.mark.parametrize(
    "text", ["", "5938632347213742696", "593863234721374269670", "5938632347213742696x"]
)
def test_malformed_text_is_a_format_error(text: str) -> None:
    with pytest.raises(TokenFormatError):
        decode_token(text, EA11_KEY)


@pytest.mark.parametrize("key", KEYS, ids=["EA07", "EA11"])
@given(digits=st.text(alphabet="0123456789", min_size=20, max_size=20))
def test_fuzz_random_20_digit_strings(key: MeterKey, digits: str) -> None:
    try:
        token = decode_token(digits, key)
    except TokenError as error:
        assert error.rejection in (Rejection.FORMAT, Rejection.CRC)
    else:
        assert encode_token(token, key) == digits


@given(text=st.text())
def test_fuzz_arbitrary_text(text: str) -> None:
    try:
        decode_token(text, EA11_KEY)
    except TokenError as error:
        assert error.rejection in (Rejection.FORMAT, Rejection.CRC)


# --- keys ------------------------------------------------------------------------------------


def test_meter_key_identity_and_derivation() -> None:
    key = EA07_KEY
    assert key.decoder_key.hex() == "e653341f9d5bf36f"
    assert key.pan == "600727000000000009"
    assert key.key_bits == 64 and EA11_KEY.key_bits == 128
    assert "e653" not in repr(key)


def test_common_keys_ignore_the_drn_in_dkga02() -> None:
    def common(drn: str) -> bytes:
        return dkga02(
            VENDING_KEY_DKGA02, iin="600727", drn=drn, key_type=KeyType.DCTK, sgc=1, ti=1, krn=1
        )

    assert common("00000000000") == common("98765432109")


def test_four_digit_iin_takes_a_13_digit_drn() -> None:
    key = dkga02(
        VENDING_KEY_DKGA02, iin="0000", drn="1234567890123", key_type=2, sgc=1, ti=1, krn=1
    )
    assert len(key) == 8
    with pytest.raises(ValueError, match="13 decimal digits"):
        dkga02(VENDING_KEY_DKGA02, iin="0000", drn="12345678901", key_type=2, sgc=1, ti=1, krn=1)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"decoder_key": bytes(16)}, "EA07 needs a 64-bit decoder key"),
        ({"ea07_tables": None}, "needs ea07_tables"),
        ({"ea": EncryptionAlgorithm.EA11, "decoder_key": bytes(16)}, "DKGA02 yields 64-bit"),
        ({"krn": 0}, "KRN"),
        ({"ti": 100}, "TI"),
        ({"sgc": 1_000_000}, "SGC"),
        ({"ken": 256}, "KEN"),
        ({"drn": "1234"}, "DRN"),
        ({"iin": "60072"}, "IIN"),
    ],
)
def test_inconsistent_meter_keys_are_refused(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        dataclasses.replace(EA07_KEY, **changes)  # type: ignore[arg-type]


def test_vending_key_lengths_are_checked() -> None:
    with pytest.raises(ValueError, match="20-byte"):
        MeterKey.from_vending_key(
            VENDING_KEY_DKGA02,
            drn="00000000000",
            key_type=KeyType.DUTK,
            sgc=1,
            ti=1,
            krn=1,
            ea=EncryptionAlgorithm.EA11,
            dkga=Dkga.DKGA04,
        )
    with pytest.raises(ValueError, match="8-byte"):
        dkga02(VENDING_KEY_DKGA04, iin="600727", drn="0" * 11, key_type=2, sgc=1, ti=1, krn=1)


# --- key change --------------------------------------------------------------------------------


def new_ea07_key(**changes: object) -> MeterKey:
    fields: dict[str, object] = {"krn": 2, "ti": 7, "ken": 0xA5, "key_type": KeyType.DUTK}
    fields |= changes
    return dataclasses.replace(
        EA07_KEY,
        decoder_key=bytes.fromhex("0011223344556677"),
        **fields,  # type: ignore[arg-type]
    )


def new_ea11_key(**changes: object) -> MeterKey:
    key = MeterKey.from_vending_key(
        VENDING_KEY_DKGA04,
        drn="00000000000",
        key_type=KeyType.DUTK,
        sgc=654321,
        ti=42,
        krn=3,
        ken=0x3C,
        ea=EncryptionAlgorithm.EA11,
        dkga=Dkga.DKGA04,
    )
    return dataclasses.replace(key, **changes)  # type: ignore[arg-type]


def decode_all(digits: tuple[str, ...], key: MeterKey) -> list[KeyChangeToken]:
    tokens = [decode_token(d, key) for d in digits]
    assert all(
        isinstance(t, KeyChangeSection1 | KeyChangeSection2 | KeyChangeSection3 | KeyChangeSection4)
        for t in tokens
    )
    return tokens  # type: ignore[return-value]


def test_64_bit_key_change_takes_two_tokens() -> None:
    new_key = new_ea07_key()
    digits = encode_key_change(EA07_KEY, new_key)
    assert len(digits) == 2
    sections = decode_all(digits, EA07_KEY)
    assert [s.subclass for s in sections] == [3, 4]
    for order in itertools.permutations(sections):
        assert apply_key_change(EA07_KEY, order) == new_key
    with pytest.raises(TokenCrcError):
        decode_token(digits[0], new_key)


def test_128_bit_key_change_takes_four_tokens_in_any_order() -> None:
    new_key = new_ea11_key()
    digits = encode_key_change(EA07_KEY, new_key)
    assert len(digits) == 4
    sections = decode_all(digits, EA07_KEY)
    assert sorted(s.subclass for s in sections) == [3, 4, 8, 9]
    for order in itertools.permutations(sections):
        installed = apply_key_change(EA07_KEY, order)
        assert installed == dataclasses.replace(new_key, iin=EA07_KEY.iin, drn=EA07_KEY.drn)
        assert installed.sgc == 654321 and installed.ea is EncryptionAlgorithm.EA11


def test_credit_works_under_the_installed_key() -> None:
    new_key = new_ea11_key()
    installed = apply_key_change(
        EA07_KEY, decode_all(encode_key_change(EA07_KEY, new_key), EA07_KEY)
    )
    token = CreditToken(kind=CreditKind.ELECTRICITY, amount_tenths=100, tid=6_000_000, rnd=2)
    assert decode_token(encode_token(token, new_key), installed) == token


def test_rollover_key_change_moves_to_the_next_base_date() -> None:
    new_key = new_ea07_key(base_date=BaseDate.Y2014)
    sections = key_change_tokens(EA07_KEY, new_key)
    first = sections[0]
    assert isinstance(first, KeyChangeSection1) and first.rollover
    installed = apply_key_change(EA07_KEY, sections)
    assert installed.base_date is BaseDate.Y2014 and installed == new_key
    plain = key_change_tokens(EA07_KEY, new_ea07_key())[0]
    assert isinstance(plain, KeyChangeSection1) and not plain.rollover


def test_base_dates_cannot_be_skipped_or_go_back() -> None:
    with pytest.raises(ValueError, match="roll over"):
        key_change_tokens(EA07_KEY, new_ea07_key(base_date=BaseDate.Y2035))
    with pytest.raises(ValueError, match="roll over"):
        key_change_tokens(new_ea07_key(base_date=BaseDate.Y2014), EA07_KEY)
    last = new_ea07_key(base_date=BaseDate.Y2035)
    rolled = dataclasses.replace(key_change_tokens(last, last)[0], rollover=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no base date after 2035"):
        apply_key_change(last, [rolled, key_change_tokens(last, last)[1]])


def test_missing_sections_are_reported_until_the_set_is_complete() -> None:
    s1, s2, s3, s4 = key_change_tokens(EA07_KEY, new_ea11_key())
    assert missing_key_change_sections([]) == {3, 4}
    assert missing_key_change_sections([s2]) == {3}
    assert missing_key_change_sections([s1]) == {4, 8, 9}
    assert missing_key_change_sections([s3]) == {3, 4, 9}
    assert missing_key_change_sections([s4, s2, s1]) == {8}
    assert missing_key_change_sections([s4, s2, s1, s3]) == frozenset()
    with pytest.raises(ValueError, match=r"incomplete: subclass\(es\) \[8\]"):
        apply_key_change(EA07_KEY, [s1, s2, s4])


def test_conflicting_sections_are_refused() -> None:
    s1, s2 = key_change_tokens(EA07_KEY, new_ea07_key())
    assert isinstance(s2, KeyChangeSection2)
    other = dataclasses.replace(s2, key_low=s2.key_low ^ 1)
    with pytest.raises(ValueError, match="two different"):
        apply_key_change(EA07_KEY, [s1, s2, other])
    t1, _, t3, t4 = key_change_tokens(EA07_KEY, new_ea11_key())
    assert isinstance(t1, KeyChangeSection1)
    with pytest.raises(ValueError, match="3KCT"):
        apply_key_change(EA07_KEY, [dataclasses.replace(t1, kct3=False), s2, t3, t4])


def test_a_new_ea07_key_can_take_new_tables() -> None:
    sections = key_change_tokens(EA11_KEY, new_ea07_key())
    with pytest.raises(ValueError, match="needs ea07_tables"):
        apply_key_change(EA11_KEY, sections)
    installed = apply_key_change(EA11_KEY, sections, ea07_tables=TEST_TABLES)
    assert (
        installed.ea is EncryptionAlgorithm.EA07
        and installed.decoder_key.hex() == "0011223344556677"
    )
