"""Meter-side STS token rules: the TID store, each rejection, key changes, persisted state.

Sources: IEC 62055-41 7.3.7 TokenValidation (public excerpt, http://xdnf.cn/news/17049.html):
Old, Used and key expiry apply to class 0 and 2 tokens except key change sections; the key
expiry rule as https://www.sts.org.za/key-expiry-number-ken.html states it; the TID rollover
(new base date, TID store reset, new key) from https://www.sts.org.za/tid-rollover.html; key type
changes from IEC 62055-41 6.5.2 and 6.5.2.3.4/6.5.2.3.5 (see `metertwin.sts.decoder`). Token
vectors are the public ones of reference/sts.md (NectarAPI/tokens-service compliance tests
STS 531-1-0-02/04).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.sts.sts_fixtures import TEST_TABLES, VENDING_KEY_DKGA04, ea07_key, ea11_key

from metertwin.sts import (
    KEY_CHANGES,
    MIN_TID_CAPACITY,
    BaseDate,
    ClearCredit,
    CreditKind,
    CreditToken,
    Dkga,
    EncryptionAlgorithm,
    KeyChangeResult,
    KeyChangeSection2,
    KeyChangeToken,
    KeyType,
    MeterKey,
    MeterTestToken,
    Rejection,
    ReservedToken,
    SetMaximumPowerLimit,
    StsDecoder,
    TidStore,
    TokenClass,
    TokenCrcError,
    TokenError,
    TokenFormatError,
    TokenRejected,
    decode_token,
    encode_key_change,
    encode_token,
    key_change_tokens,
    tid_from_datetime,
)
from metertwin.sts import decoder as decoder_module

MAX_TID = (1 << 24) - 1
EA11_KEY = ea11_key()
EA07_KEY = ea07_key()

tids = st.integers(min_value=0, max_value=MAX_TID)


def credit(
    tid: int, *, tenths: int = 100, kind: CreditKind = CreditKind.ELECTRICITY
) -> CreditToken:
    return CreditToken(kind=kind, amount_tenths=tenths, tid=tid, rnd=3)


def new_ea07_key(**changes: Any) -> MeterKey:
    fields: dict[str, Any] = {
        "decoder_key": bytes.fromhex("0011223344556677"),
        "krn": 2,
        "ti": 7,
        "ken": 0xA5,
    }
    return dataclasses.replace(EA07_KEY, **(fields | changes))


def new_ea11_key(
    *, base_date: BaseDate = BaseDate.Y1993, key_type: KeyType = KeyType.DUTK
) -> MeterKey:
    return MeterKey.from_vending_key(
        VENDING_KEY_DKGA04,
        drn="00000000000",
        key_type=key_type,
        sgc=654321,
        ti=42,
        krn=3,
        base_date=base_date,
        ea=EncryptionAlgorithm.EA11,
        dkga=Dkga.DKGA04,
    )


def enter(decoder: StsDecoder, digits: str) -> KeyChangeResult | None:
    """What the meter core does with typed digits that pass its own wallet checks."""
    return decoder.accept(decoder.check(digits))


def refusal(decoder: StsDecoder, digits: str) -> Rejection:
    """The rejection `check` raises for `digits`, after asserting that nothing changed."""
    before = decoder.to_state()
    with pytest.raises(TokenError) as caught:
        decoder.check(digits)
    assert decoder.to_state() == before
    return caught.value.rejection


def full_store_decoder(key: MeterKey = EA11_KEY, first: int = 5_000_000) -> StsDecoder:
    return StsDecoder(key, tids=range(first, first + MIN_TID_CAPACITY))


# --- TID store -------------------------------------------------------------------------------


def test_the_store_holds_at_least_50_tids() -> None:
    assert TidStore().capacity == 50 and len(TidStore()) == 0
    assert TidStore(capacity=64).capacity == 64
    for capacity in (49, 0, True, 50.0):
        with pytest.raises(ValueError, match="capacity"):
            TidStore(capacity=capacity)  # type: ignore[arg-type]


def test_tids_are_24_bit_values() -> None:
    with pytest.raises(ValueError, match="24-bit"):
        TidStore(tids=[1 << 24])
    store = TidStore()
    for bad in (-1, 1 << 24):
        with pytest.raises(ValueError, match="24-bit"):
            store.check(bad)
        with pytest.raises(ValueError, match="24-bit"):
            store.remember(bad)


def test_a_store_given_more_tids_than_it_holds_keeps_the_newest() -> None:
    store = TidStore(50, [*range(60), 59, 58])
    assert store.tids == tuple(range(10, 60))


def test_an_older_unused_token_is_accepted_until_the_store_is_full() -> None:
    """Documented choice: Old applies once the store is full (see `TidStore`)."""
    store = TidStore(tids=range(1000, 1010))
    store.check(5)  # older than every remembered TID, never used: fine
    store = TidStore(tids=range(1000, 1100, 2))  # 50 even TIDs: full
    assert store.full
    with pytest.raises(TokenRejected) as caught:
        store.check(999)
    assert caught.value.rejection is Rejection.OLD
    with pytest.raises(TokenRejected) as caught:
        store.check(1002)
    assert caught.value.rejection is Rejection.USED
    store.check(1001)  # between remembered TIDs and never used
    store.check(2000)


def test_a_full_store_forgets_its_oldest_tid_which_then_is_old() -> None:
    store = TidStore(tids=range(1000, 1050))
    store.remember(2000)
    assert len(store) == 50 and store.tids[0] == 1001 and store.tids[-1] == 2000
    with pytest.raises(TokenRejected) as caught:
        store.check(1000)
    assert caught.value.rejection is Rejection.OLD


def test_remembering_a_known_tid_changes_nothing_and_clear_forgets_all() -> None:
    store = TidStore(tids=[7, 9])
    store.remember(9)
    assert store.tids == (7, 9)
    store.clear()
    assert store.tids == () and 9 not in store
    store.check(9)


@given(sequence=st.lists(tids, max_size=150), capacity=st.integers(50, 80))
def test_store_invariants(sequence: list[int], capacity: int) -> None:
    """Never above capacity, sorted and unique, and every remembered TID is Used."""
    store = TidStore(capacity)
    for tid in sequence:
        store.remember(tid)
        assert len(store) <= capacity
        assert list(store.tids) == sorted(set(store.tids))
    for tid in store.tids:
        with pytest.raises(TokenRejected) as caught:
            store.check(tid)
        assert caught.value.rejection is Rejection.USED


@given(
    sequence=st.lists(st.one_of(st.integers(0, 300), tids), min_size=1, max_size=200),
)
def test_no_tid_is_ever_accepted_twice(sequence: list[int]) -> None:
    """Replay safety: a TID taken once is refused forever after, as Used or, forgotten, Old."""
    store = TidStore()
    taken: set[int] = set()
    for tid in sequence:
        try:
            store.check(tid)
        except TokenRejected as refused:
            assert tid in taken or refused.rejection is Rejection.OLD
            continue
        assert tid not in taken
        store.remember(tid)
        taken.add(tid)
    for tid in taken:
        with pytest.raises(TokenRejected) as caught:
            store.check(tid)
        assert caught.value.rejection in (Rejection.USED, Rejection.OLD)


# --- tokens with a TID -------------------------------------------------------------------------


def test_the_public_ea11_credit_vector_is_accepted_once() -> None:
    """reference/sts.md: EA11 credit, DKGA04 key, 0.1 kWh, 2004-03-01 13:00, RND 5."""
    decoder = StsDecoder(EA11_KEY)
    digits = "59386323472137426967"
    token = decoder.check(digits)
    tid = tid_from_datetime(datetime(2004, 3, 1, 13, 0, tzinfo=UTC), BaseDate.Y1993)
    assert token == CreditToken(kind=CreditKind.ELECTRICITY, amount_tenths=1, tid=tid, rnd=5)
    assert decoder.tids.tids == ()  # check changes nothing
    assert decoder.accept(token) is None
    assert decoder.tids.tids == (tid,)
    assert refusal(decoder, digits) is Rejection.USED


@pytest.mark.parametrize(
    "digits", ["56493153725450313471", "02305843005052951967", "00000000000150997584"]
)
def test_class_1_tokens_are_always_accepted_and_change_nothing(digits: str) -> None:
    """reference/sts.md class 1 vectors: unencrypted, no TID, so no TID/KEN/DDTK rule applies."""
    for key in (EA07_KEY, dataclasses.replace(EA11_KEY, key_type=KeyType.DDTK, ken=0)):
        decoder = full_store_decoder(key)
        before = decoder.to_state()
        for _ in range(2):
            token = decoder.check(digits)
            assert isinstance(token, MeterTestToken)
            assert decoder.accept(token) is None
        assert decoder.to_state() == before


def test_register_tokens_share_the_tid_store_with_credit() -> None:
    decoder = StsDecoder(EA11_KEY)
    limit = SetMaximumPowerLimit(tid=6_000_000, rnd=2, maximum_power_w=4000)
    assert enter(decoder, encode_token(limit, EA11_KEY)) is None
    assert decoder.tids.tids == (6_000_000,)
    clear = ClearCredit(tid=6_000_000, rnd=9, register=0xFFFF)
    assert refusal(decoder, encode_token(clear, EA11_KEY)) is Rejection.USED
    assert refusal(decoder, encode_token(credit(6_000_000), EA11_KEY)) is Rejection.USED


def test_old_tokens_are_refused_once_the_store_is_full() -> None:
    decoder = full_store_decoder(first=5_000_000)
    assert refusal(decoder, encode_token(credit(4_999_999), EA11_KEY)) is Rejection.OLD
    enter(decoder, encode_token(credit(5_100_000), EA11_KEY))
    assert decoder.tids.tids[0] == 5_000_001 and len(decoder.tids) == 50
    assert refusal(decoder, encode_token(credit(5_000_000), EA11_KEY)) is Rejection.OLD
    not_full = StsDecoder(EA11_KEY, tids=range(5_000_000, 5_000_010))
    enter(not_full, encode_token(credit(4_999_999), EA11_KEY))
    assert 4_999_999 in not_full.tids


def test_key_expiry_compares_the_top_8_tid_bits_with_ken() -> None:
    """sts.org.za KEN table: with KEN 0xAA, TID bytes 0x00-0xAA pass and 0xAB-0xFF expire."""
    key = dataclasses.replace(EA11_KEY, ken=0xAA)
    decoder = StsDecoder(key)
    enter(decoder, encode_token(credit(0xAAFFFF), key))
    assert refusal(decoder, encode_token(credit(0xAB0000), key)) is Rejection.KEY_EXPIRED
    assert refusal(decoder, encode_token(credit(MAX_TID), key)) is Rejection.KEY_EXPIRED


@given(ken=st.integers(0, 255), tid=tids)
def test_a_fresh_meter_takes_a_token_exactly_when_its_tid_is_within_ken(ken: int, tid: int) -> None:
    key = dataclasses.replace(EA11_KEY, ken=ken)
    decoder = StsDecoder(key)
    digits = encode_token(SetMaximumPowerLimit(tid=tid, maximum_power_w=1), key)
    if tid >> 16 <= ken:
        enter(decoder, digits)
        assert decoder.tids.tids == (tid,)
    else:
        assert refusal(decoder, digits) is Rejection.KEY_EXPIRED


def test_ken_255_never_expires_and_a_ditk_is_not_subject_to_expiry() -> None:
    enter(StsDecoder(EA11_KEY), encode_token(credit(MAX_TID), EA11_KEY))
    ditk = dataclasses.replace(EA11_KEY, key_type=KeyType.DITK, ken=0)
    enter(StsDecoder(ditk), encode_token(credit(0xFF0000), ditk))


@pytest.mark.parametrize("kind", list(CreditKind))
def test_a_ddtk_meter_refuses_every_credit_token(kind: CreditKind) -> None:
    ddtk = dataclasses.replace(EA11_KEY, key_type=KeyType.DDTK)
    decoder = StsDecoder(ddtk)
    assert refusal(decoder, encode_token(credit(6_000_000, kind=kind), ddtk)) is Rejection.DDTK


def test_a_ddtk_meter_takes_register_tokens_and_key_changes() -> None:
    ddtk = dataclasses.replace(EA11_KEY, key_type=KeyType.DDTK)
    decoder = StsDecoder(ddtk)
    enter(decoder, encode_token(SetMaximumPowerLimit(tid=6_000_000, maximum_power_w=1), ddtk))
    utility_key = new_ea11_key()
    results = [enter(decoder, digits) for digits in encode_key_change(ddtk, utility_key)]
    assert results[-1] is not None and results[-1].complete
    assert decoder.key == utility_key
    enter(decoder, encode_token(credit(6_000_001), utility_key))


@pytest.mark.parametrize(
    ("token_class", "subclass"),
    [(TokenClass.CREDIT, 8), (TokenClass.TEST, 2), (TokenClass.MANAGEMENT, 10), (3, 0), (3, 15)],
)
def test_reserved_tokens_are_refused_with_function(token_class: int, subclass: int) -> None:
    reserved = ReservedToken(token_class=token_class, subclass=subclass, payload_bits=12345)  # type: ignore[arg-type]
    decoder = full_store_decoder()
    assert refusal(decoder, encode_token(reserved, EA11_KEY)) is Rejection.FUNCTION
    with pytest.raises(TokenRejected):
        decoder.accept(reserved)


def test_format_and_crc_errors_come_from_the_codec() -> None:
    decoder = full_store_decoder()
    with pytest.raises(TokenFormatError):
        decoder.check("1234")
    other_meter = ea11_key(drn="12345678901")
    with pytest.raises(TokenCrcError):
        decoder.check(encode_token(credit(6_000_000), other_meter))


def test_accept_applies_the_rules_again() -> None:
    decoder = StsDecoder(EA11_KEY)
    token = decoder.check(encode_token(credit(6_000_000), EA11_KEY))
    decoder.accept(token)
    before = decoder.to_state()
    with pytest.raises(TokenRejected) as caught:
        decoder.accept(token)
    assert caught.value.rejection is Rejection.USED
    assert decoder.to_state() == before


_PENDING_SECTION = key_change_tokens(EA11_KEY, new_ea11_key())[1]

entries = st.one_of(
    st.text(alphabet="0123456789", min_size=20, max_size=20),
    st.builds(credit, st.sampled_from([6_000_000, 6_000_001, 1, MAX_TID]) | tids).map(
        lambda token: encode_token(token, EA11_KEY)
    ),
    st.sampled_from(encode_key_change(EA11_KEY, new_ea11_key())),
    st.sampled_from(encode_key_change(EA11_KEY, new_ea11_key(key_type=KeyType.DDTK))),
)


@given(digits=entries)
def test_check_never_changes_the_state(digits: str) -> None:
    """Random digits, fresh and used credit, and key change sections that complete a set."""
    key = dataclasses.replace(EA11_KEY, ken=0x80)
    decoder = StsDecoder(key, tids=[6_000_000, 6_000_001], pending=[_PENDING_SECTION])
    before = decoder.to_state()
    with contextlib.suppress(TokenError):
        decoder.check(digits)
    assert decoder.to_state() == before


# --- key change --------------------------------------------------------------------------------


def test_a_64_bit_key_change_in_either_order() -> None:
    new_key = new_ea07_key()
    sections = encode_key_change(EA07_KEY, new_key)
    for first, second in itertools.permutations(sections):
        decoder = StsDecoder(EA07_KEY, tids=[6_000_000])
        held = enter(decoder, first)
        assert held is not None and not held.complete and held.new_key is None
        assert held.missing == {3, 4} - {s.subclass for s in decoder.pending}
        assert decoder.key == EA07_KEY and len(decoder.to_state()["pending"]) == 1
        done = enter(decoder, second)
        assert done == KeyChangeResult(
            complete=True, missing=frozenset(), new_key=new_key, rolled_over=False
        )
        assert decoder.key == new_key and decoder.pending == ()
        assert decoder.tids.tids == (6_000_000,)  # no rollover: the TIDs stay
        enter(decoder, encode_token(credit(6_000_001), new_key))
        with pytest.raises(TokenCrcError):
            decoder.check(encode_token(credit(6_000_002), EA07_KEY))


def test_a_128_bit_key_change_in_every_order() -> None:
    new_key = new_ea11_key()
    sections = encode_key_change(EA11_KEY, new_key)
    subclasses = [decode_token(d, EA11_KEY).subclass for d in sections]
    for order in itertools.permutations(range(4)):
        decoder = StsDecoder(EA11_KEY)
        seen: set[int] = set()
        for index in order[:3]:
            seen.add(subclasses[index])
            held = enter(decoder, sections[index])
            assert held is not None and not held.complete
            if seen & {3, 8, 9}:  # section 1's 3KCT bit, or a section 3/4, says 128 bits
                assert held.missing == {3, 4, 8, 9} - seen
            else:
                assert held.missing == {3}
            assert decoder.key == EA11_KEY
        done = enter(decoder, sections[order[3]])
        assert done is not None and done.complete and done.new_key == new_key
        assert decoder.key == new_key and decoder.pending == ()


def test_a_key_change_moves_between_ea07_and_ea11() -> None:
    decoder = StsDecoder(EA07_KEY)
    for digits in encode_key_change(EA07_KEY, new_ea11_key()):
        enter(decoder, digits)
    assert decoder.key == new_ea11_key()
    back = new_ea07_key()
    decoder = StsDecoder(new_ea11_key(), tids=[6_000_000])  # no EA07 tables at all
    first, second = encode_key_change(new_ea11_key(), back)
    enter(decoder, first)
    assert refusal(decoder, second) is Rejection.KEY_TYPE
    decoder = StsDecoder(new_ea11_key(), ea07_tables=TEST_TABLES)
    enter(decoder, first)
    enter(decoder, second)
    installed = dataclasses.replace(back, sgc=new_ea11_key().sgc, dkga=Dkga.DKGA04)
    assert decoder.key == installed and decoder.key.ea07_tables is TEST_TABLES
    enter(decoder, encode_token(credit(6_000_001), installed))


def test_a_repeated_section_is_harmless() -> None:
    decoder = StsDecoder(EA11_KEY)
    first = encode_key_change(EA11_KEY, new_ea11_key())[0]
    held = enter(decoder, first)
    state = decoder.to_state()
    assert enter(decoder, first) == held
    assert decoder.to_state() == state


def test_a_different_section_with_the_same_subclass_replaces_the_held_one() -> None:
    """Documented choice: the most recent key change wins."""
    abandoned = encode_key_change(EA07_KEY, new_ea07_key(decoder_key=bytes(8)))
    reissued = encode_key_change(EA07_KEY, new_ea07_key())
    decoder = StsDecoder(EA07_KEY)
    enter(decoder, abandoned[0])
    enter(decoder, reissued[0])
    enter(decoder, reissued[1])
    assert decoder.key == new_ea07_key()


def test_leftover_128_bit_sections_are_dropped_by_a_64_bit_set() -> None:
    leftover = encode_key_change(EA07_KEY, new_ea11_key())
    third = next(d for d in leftover if decode_token(d, EA07_KEY).subclass == 8)
    decoder = StsDecoder(EA07_KEY)
    enter(decoder, third)
    for digits in encode_key_change(EA07_KEY, new_ea07_key()):
        result = enter(decoder, digits)
    assert result is not None and result.complete
    assert decoder.key == new_ea07_key() and decoder.pending == ()


@pytest.mark.parametrize(
    ("held", "offered", "allowed"),
    [
        (KeyType.DITK, KeyType.DDTK, True),  # 6.5.2: a DITK meter gets a DDTK, DUTK or DCTK
        (KeyType.DITK, KeyType.DUTK, True),
        (KeyType.DDTK, KeyType.DUTK, True),  # default key -> utility key (inference)
        (KeyType.DUTK, KeyType.DUTK, True),  # 6.5.2.3.4: DUTK parents a DUTK or a DDTK
        (KeyType.DUTK, KeyType.DDTK, True),
        (KeyType.DUTK, KeyType.DITK, False),  # 6.5.2: no key change installs a DITK
        (KeyType.DITK, KeyType.DITK, False),
        (KeyType.DDTK, KeyType.DITK, False),
        (KeyType.DUTK, KeyType.DCTK, False),  # 6.5.2.3.5: DCTK only in magnetic card meters
        (KeyType.DITK, KeyType.DCTK, False),
    ],
)
def test_key_type_changes(held: KeyType, offered: KeyType, allowed: bool) -> None:
    old = dataclasses.replace(EA11_KEY, key_type=held)
    new = dataclasses.replace(new_ea11_key(), key_type=offered)
    first, *rest, last = encode_key_change(old, new)
    decoder = StsDecoder(old, tids=[6_000_000])
    for digits in (first, *rest):
        enter(decoder, digits)
    if allowed:
        enter(decoder, last)
        assert decoder.key == new
    else:
        assert refusal(decoder, last) is Rejection.KEY_TYPE
        assert decoder.key == old and len(decoder.pending) == 3
    assert (offered in KEY_CHANGES[held]) == allowed


def test_a_meter_cannot_hold_a_dctk() -> None:
    with pytest.raises(ValueError, match="magnetic card"):
        StsDecoder(dataclasses.replace(EA11_KEY, key_type=KeyType.DCTK))


def _tampered(old: MeterKey, new: MeterKey, subclass: int, **changes: Any) -> list[str]:
    """The key change digits with one section's fields changed (as a faulty vending system)."""
    sections: list[KeyChangeToken] = list(key_change_tokens(old, new))
    sections = [
        dataclasses.replace(s, **changes) if s.subclass == subclass else s  # type: ignore[arg-type]
        for s in sections
    ]
    return [encode_token(s, old) for s in sections]


@pytest.mark.parametrize(
    ("subclass", "changes"),
    [(3, {"krn": 0}), (3, {"krn": 10}), (4, {"ti": 100}), (9, {"sgc_high": 0xFFF})],
)
def test_out_of_range_key_change_values_are_refused(subclass: int, changes: dict[str, Any]) -> None:
    digits = _tampered(EA11_KEY, new_ea11_key(), subclass, **changes)
    decoder = StsDecoder(EA11_KEY)
    for d in digits[:-1]:
        enter(decoder, d)
    assert refusal(decoder, digits[-1]) is Rejection.RANGE


def test_there_is_no_rollover_after_2035() -> None:
    last = dataclasses.replace(EA11_KEY, base_date=BaseDate.Y2035)
    digits = _tampered(last, last, 3, rollover=True)
    decoder = StsDecoder(last)
    for d in digits[:-1]:
        enter(decoder, d)
    assert refusal(decoder, digits[-1]) is Rejection.RANGE


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (EA11_KEY, new_ea11_key(base_date=BaseDate.Y2014)),
        (EA07_KEY, new_ea07_key(base_date=BaseDate.Y2014, ken=255)),
    ],
    ids=["EA11", "EA07"],
)
def test_tid_rollover_1993_to_2014(old: MeterKey, new: MeterKey) -> None:
    """sts.org.za TID rollover: rollover bit -> base date 2014, TID store reset, new key."""
    late_1993 = MAX_TID - MIN_TID_CAPACITY + 1
    decoder = StsDecoder(old, tids=range(late_1993, MAX_TID + 1))
    january_2025 = tid_from_datetime(datetime(2025, 1, 15, 10, 0, tzinfo=UTC), BaseDate.Y2014)
    # Under the 1993 key, the small TIDs of the 2014 base are older than the full store's.
    assert refusal(decoder, encode_token(credit(january_2025), old)) is Rejection.OLD
    results = [enter(decoder, d) for d in encode_key_change(old, new)]
    assert results[-1] == KeyChangeResult(
        complete=True, missing=frozenset(), new_key=new, rolled_over=True
    )
    assert decoder.key == new and decoder.key.base_date is BaseDate.Y2014
    assert decoder.tids.tids == () and decoder.tids.capacity == MIN_TID_CAPACITY
    enter(decoder, encode_token(credit(january_2025), new))
    assert decoder.tids.tids == (january_2025,)
    with pytest.raises(TokenCrcError):  # tokens of the old key cannot be replayed
        decoder.check(encode_token(credit(late_1993), old))


def test_a_failing_key_installation_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """All or nothing: the rollover does not clear the TIDs if the key cannot be installed."""

    def broken(*args: object, **kwargs: object) -> MeterKey:
        raise ValueError("simulated failure")

    new = new_ea11_key(base_date=BaseDate.Y2014)
    *firsts, last = encode_key_change(EA11_KEY, new)
    decoder = full_store_decoder()
    for digits in firsts:
        enter(decoder, digits)
    monkeypatch.setattr(decoder_module, "apply_key_change", broken)
    before = decoder.to_state()
    with pytest.raises(TokenRejected) as caught:
        decoder.check(last)
    assert caught.value.rejection is Rejection.RANGE
    with pytest.raises(TokenRejected):
        decoder.accept(decode_token(last, EA11_KEY))
    assert decoder.to_state() == before and len(decoder.tids) == MIN_TID_CAPACITY


# --- construction and state ----------------------------------------------------------------------


def test_pending_sections_given_at_construction_are_checked() -> None:
    s1, s2, s3, s4 = key_change_tokens(EA11_KEY, new_ea11_key())
    assert isinstance(s2, KeyChangeSection2)
    with pytest.raises(ValueError, match="two different"):
        StsDecoder(EA11_KEY, pending=[s2, dataclasses.replace(s2, ti=9)])
    with pytest.raises(ValueError, match="complete"):
        StsDecoder(EA11_KEY, pending=[s1, s2, s3, s4])
    with pytest.raises(ValueError, match="not a key change"):
        StsDecoder(EA11_KEY, pending=[credit(1)])  # type: ignore[list-item]
    assert StsDecoder(EA11_KEY, pending=[s4, s1]).pending == (s1, s4)


def test_state_is_json_and_a_restored_decoder_carries_on() -> None:
    new_key = new_ea11_key()
    sections = encode_key_change(EA11_KEY, new_key)
    decoder = StsDecoder(EA11_KEY, tid_capacity=60, tids=[6_000_000, 5_000_000])
    for digits in sections[:3]:
        enter(decoder, digits)
    state = json.loads(json.dumps(decoder.to_state()))
    assert state["key"]["decoder_key"] == EA11_KEY.decoder_key.hex()
    assert state["tids"] == [5_000_000, 6_000_000] and state["tid_capacity"] == 60
    restored = StsDecoder.from_state(state, ea07_tables=None)
    assert restored.to_state() == decoder.to_state()
    assert restored.key == EA11_KEY and restored.pending == decoder.pending
    done = enter(restored, sections[3])
    assert done is not None and done.complete and restored.key == new_key


@given(
    remembered=st.lists(tids, max_size=80),
    capacity=st.integers(50, 70),
    held=st.sets(st.integers(0, 3), max_size=3),
)
def test_state_round_trips(remembered: list[int], capacity: int, held: set[int]) -> None:
    sections = key_change_tokens(EA11_KEY, new_ea11_key())
    decoder = StsDecoder(
        EA11_KEY,
        tid_capacity=capacity,
        tids=remembered,
        pending=[sections[i] for i in sorted(held)],
    )
    state = decoder.to_state()
    restored = StsDecoder.from_state(json.loads(json.dumps(state)), ea07_tables=None)
    assert restored.to_state() == state
    assert restored.tids.tids == decoder.tids.tids and restored.pending == decoder.pending


def test_an_ea07_state_needs_the_tables() -> None:
    state = StsDecoder(EA07_KEY, tids=[6_000_000]).to_state()
    with pytest.raises(ValueError, match="needs ea07_tables"):
        StsDecoder.from_state(state, ea07_tables=None)
    restored = StsDecoder.from_state(state, ea07_tables=TEST_TABLES)
    enter(restored, encode_token(credit(6_000_001), EA07_KEY))


def _state_with(path: str, value: object) -> dict[str, Any]:
    state = StsDecoder(
        EA11_KEY, pending=[key_change_tokens(EA11_KEY, new_ea11_key())[0]]
    ).to_state()
    table: Any = state
    *parents, name = path.split(".")
    for parent in parents:
        table = table[int(parent)] if parent.isdigit() else table[parent]
    if value is _DELETE:
        del table[name]
    else:
        table[name] = value
    return state


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("version", 2, "version must be 1"),
        ("key", _DELETE, "missing key"),
        ("key.decoder_key", "zz", "key: non-hexadecimal"),
        ("key.krn", True, "key.krn must be int"),
        ("key.key_type", 3, "magnetic card"),
        ("tids", [1 << 24], "24-bit"),
        ("tids", "1,2", "tids must be list"),
        ("tid_capacity", 10, "capacity 10"),
        ("pending.0.subclass", 5, "not a key change"),
        ("pending.0.payload", "xyz", "pending\\[0\\].payload"),
    ],
)
def test_malformed_state_is_refused_naming_the_field(
    path: str, value: object, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        StsDecoder.from_state(_state_with(path, value), ea07_tables=None)
