"""Token anatomy: digits, class transposition, CRC, amount coding and TIDs (IEC 62055-41)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metertwin.sts import (
    MAX_AMOUNT_TENTHS,
    BaseDate,
    Rejection,
    TokenFormatError,
    decode_amount,
    encode_amount,
    extract_class,
    format_token_number,
    insert_class,
    parse_token_number,
    tid_from_datetime,
    tid_to_datetime,
)

blocks = st.integers(min_value=0, max_value=(1 << 64) - 1)
classes = st.integers(min_value=0, max_value=3)
amounts = st.integers(min_value=0, max_value=MAX_AMOUNT_TENTHS)


# --- digits ----------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=(1 << 66) - 1))
def test_token_numbers_round_trip_through_20_digits(number: int) -> None:
    digits = format_token_number(number)
    assert len(digits) == 20 and digits.isdigit()
    assert parse_token_number(digits) == number


def test_grouping_spaces_and_dashes_are_ignored() -> None:
    assert parse_token_number("5938 6323 4721 3742 6967") == 59386323472137426967
    assert parse_token_number("5938-6323-4721-3742-6967") == 59386323472137426967


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "0 digits"),
        ("1234567890123456789", "19 digits"),
        ("123456789012345678901", "21 digits"),
        ("1234567890123456789x", "non-digit"),
        ("１２３４５６７８９０１２３４５６７８９０", "non-digit"),  # full-width digits
        ("73786976294838206464", "exceeds 2^66 - 1"),  # exactly 2^66
        ("99999999999999999999", "exceeds 2^66 - 1"),
    ],
)
def test_malformed_token_text_is_a_format_rejection(text: str, problem: str) -> None:
    with pytest.raises(TokenFormatError, match=problem.replace("^", r"\^")) as caught:
        parse_token_number(text)
    assert caught.value.rejection is Rejection.FORMAT


def test_largest_66_bit_number_is_accepted() -> None:
    assert parse_token_number("73786976294838206463") == (1 << 66) - 1


# --- transposition ---------------------------------------------------------------------------


@given(blocks, classes)
def test_class_transposition_is_reversible(block: int, token_class: int) -> None:
    number = insert_class(block, token_class)
    assert number < 1 << 66
    assert extract_class(number) == (token_class, block)


@given(blocks, classes)
def test_class_bits_land_in_bits_28_and_27_and_displaced_bits_in_65_64(
    block: int, token_class: int
) -> None:
    number = insert_class(block, token_class)
    assert (number >> 27) & 0b11 == token_class
    assert number >> 64 == (block >> 27) & 0b11
    untouched = ((1 << 64) - 1) & ~(0b11 << 27)
    assert number & untouched == block & untouched


# --- amount ----------------------------------------------------------------------------------


def test_amount_band_edges() -> None:
    assert decode_amount(0x0000) == 0
    assert decode_amount(0x3FFF) == 16383
    assert decode_amount(0x4000) == 16384
    assert decode_amount(0x8000) == 180224
    assert decode_amount(0xC000) == 1818624
    assert decode_amount(0xFFFF) == MAX_AMOUNT_TENTHS == 18201624
    for exponent, offset in enumerate((0, 16384, 180224, 1818624)):
        assert offset == sum(2**14 * 10**i for i in range(exponent))


def test_amount_encoding_rounds_the_mantissa_up() -> None:
    assert encode_amount(16385) == 0x4001  # 16384 + 10: the next amount band 1 can express
    assert decode_amount(encode_amount(16385)) == 16394
    assert decode_amount(encode_amount(180215)) == 180224  # band 1 ends at 180214
    assert decode_amount(encode_amount(1818525)) == 1818624


@given(st.integers(min_value=0, max_value=0xFFFF))
def test_every_amount_field_decodes_and_re_encodes_exactly(field: int) -> None:
    assert encode_amount(decode_amount(field)) == field


@given(amounts)
def test_encoded_amount_is_the_smallest_not_below_the_request(tenths: int) -> None:
    field = encode_amount(tenths)
    assert decode_amount(field) >= tenths
    assert field == 0 or decode_amount(field - 1) < tenths


@given(amounts, amounts)
def test_amount_encoding_is_monotonic(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert encode_amount(low) <= encode_amount(high)
    assert decode_amount(encode_amount(low)) <= decode_amount(encode_amount(high))


@given(st.integers(min_value=0, max_value=0xFFFE))
def test_decoded_amounts_strictly_increase_with_the_field(field: int) -> None:
    assert decode_amount(field) < decode_amount(field + 1)


@pytest.mark.parametrize("tenths", [-1, MAX_AMOUNT_TENTHS + 1])
def test_amounts_outside_the_range_cannot_be_encoded(tenths: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        encode_amount(tenths)


# --- TID -------------------------------------------------------------------------------------


@pytest.mark.parametrize("base_date", list(BaseDate))
@given(tid=st.integers(min_value=0, max_value=(1 << 24) - 1))
def test_tid_round_trips_through_datetime(base_date: BaseDate, tid: int) -> None:
    when = tid_to_datetime(tid, base_date)
    assert when.tzinfo is UTC
    assert tid_from_datetime(when, base_date) == tid


def test_tid_counts_minutes_since_the_base_date_and_truncates_seconds() -> None:
    assert tid_from_datetime(datetime(1993, 1, 1, tzinfo=UTC), BaseDate.Y1993) == 0
    assert tid_from_datetime(datetime(2014, 1, 1, 0, 1, 59, tzinfo=UTC), BaseDate.Y2014) == 1
    assert tid_from_datetime(datetime(2035, 1, 2, tzinfo=UTC), BaseDate.Y2035) == 1440


def test_tid_of_a_local_time_is_taken_at_its_utc_instant() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2004, 3, 1, 15, 55, tzinfo=plus_two)
    assert tid_from_datetime(local, BaseDate.Y1993) == 5871715


def test_tid_rollover_of_base_date_1993() -> None:
    # sts.org.za/tid-rollover.html: 2^24 minutes after 1993-01-01 is 2024-11-24 20:16.
    rollover = BaseDate.Y1993.start + timedelta(minutes=1 << 24)
    assert rollover == datetime(2024, 11, 24, 20, 16, tzinfo=UTC)
    assert tid_from_datetime(rollover - timedelta(minutes=1), BaseDate.Y1993) == (1 << 24) - 1
    with pytest.raises(ValueError, match="outside the TID range"):
        tid_from_datetime(rollover, BaseDate.Y1993)
    assert tid_from_datetime(rollover, BaseDate.Y2014) > 0


def test_tid_needs_an_aware_datetime_inside_the_base_date_range() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        tid_from_datetime(datetime(2004, 3, 1), BaseDate.Y1993)
    with pytest.raises(ValueError, match="outside the TID range"):
        tid_from_datetime(datetime(2013, 12, 31, 23, 59, tzinfo=UTC), BaseDate.Y2014)


def test_base_dates_codes_and_successors() -> None:
    assert [d.code for d in BaseDate] == ["93", "14", "35"]
    assert BaseDate.Y1993.successor is BaseDate.Y2014
    assert BaseDate.Y2014.successor is BaseDate.Y2035
    assert BaseDate.Y2035.successor is None
