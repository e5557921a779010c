"""Class 113 Charge attributes 10-13 and methods 3-5 on Magno 22 (issue 20 item 4; Blue Book
4.6 Charge: last_collection_time date-time, last_collection_amount double-long,
total_amount_remaining double-long, proportion long-unsigned; collect (integer 0),
update_total_amount_remaining and set_total_amount_remaining (double-long)), with our client
over a real socket, the meter in its memory as `metertwin run` serves it.

Amounts are double-long counts at scale -3 (EUR). Magno 22's standing charge is 0.15 a day
with 20 % VAT on charges: a collection of 0.180, which its 1.50 monthly amount subsidy pays
first; the wallet stays exact (bought = used + left) whatever is collected.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.runtime.conftest import MINUTE_MS, START_MS, ServedMagno
from tests.runtime.test_sms_token import credit_token

from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import ActionResult
from metertwin.codec.obis import Obis
from metertwin.dlms.client.association import ClientAssociation
from metertwin.dlms.client.errors import ActionFailedError
from metertwin.meter.inputs import PhysicalState
from metertwin.meter.wallet import Wallet

ENERGY = Obis(0, 0, 19, 20, 0)  # consumption charge by TOU rate
STANDING = Obis(0, 0, 19, 20, 1)
FIXED = Obis(0, 0, 19, 20, 4)
SUBSIDY = Obis(0, 0, 19, 20, 5)
VAT = Obis(0, 0, 19, 20, 7)
COLLECT, UPDATE_REMAINING, SET_REMAINING = 3, 4, 5
STANDING_WITH_VAT = 180  # 0.15 + 20 %
HEAVY = PhysicalState((230.0,), (20_000.0,), (0.0,))  # 20 kW


def _time(client: ClientAssociation, charge: Obis) -> datetime | None:
    raw = client.get(charge, 113, 10).as_bytes()
    if raw == CosemDateTime().to_bytes():  # not specified: never collected
        return None
    stamp = CosemDateTime.from_bytes(raw).to_datetime()
    assert stamp is not None
    return stamp.astimezone(UTC)


def _counts(client: ClientAssociation, charge: Obis, attribute: int) -> int:
    return client.get(charge, 113, attribute).as_int()


def _wallet(served_magno: ServedMagno) -> Wallet:
    wallet = served_magno.session.meter.wallet
    assert wallet is not None
    return wallet


def _bought(served_magno: ServedMagno) -> Wallet:
    """The meter's wallet after 25.00 EUR bought by token (the account opens)."""

    def enter() -> None:
        assert served_magno.session.meter.enter_token(credit_token()).accepted
        served_magno.session.commit()

    served_magno.loop.call(enter)
    return _wallet(served_magno)


def _refused(client: ClientAssociation, charge: Obis, method: int, value: Data) -> ActionResult:
    with pytest.raises(ActionFailedError) as caught:
        client.action(charge, 113, method, value)
    return caught.value.result


def test_collect_takes_a_standing_charge_now_and_counts_down_what_remains(
    served_magno: ServedMagno,
) -> None:
    wallet = _bought(served_magno)
    subsidy_before = wallet.subsidised_total
    with served_magno.management() as client:
        client.action(STANDING, 113, SET_REMAINING, Data.double_long(1_000))
        client.action(STANDING, 113, UPDATE_REMAINING, Data.double_long(500))
        assert _counts(client, STANDING, 12) == 1_500
        assert client.action(STANDING, 113, COLLECT, Data.integer(0)) is None
        assert _time(client, STANDING) == datetime.fromtimestamp(START_MS / 1000, UTC)
        assert _counts(client, STANDING, 11) == STANDING_WITH_VAT
        assert _counts(client, STANDING, 12) == 1_500 - STANDING_WITH_VAT
        # the subsidy paid it: its own last collection is that payment
        assert _counts(client, SUBSIDY, 11) == STANDING_WITH_VAT
        assert client.get(STANDING, 113, 13) == Data.long_unsigned(0)  # not payment-based
    assert wallet.subsidised_total - subsidy_before == STANDING_WITH_VAT * 1000
    assert wallet.balance_check() == 0


def test_the_fixed_charges_collected_now_are_one_collection_of_their_sum(
    served_magno: ServedMagno,
) -> None:
    wallet = _bought(served_magno)
    credit_before = wallet.credit
    with served_magno.management() as client:
        client.action(FIXED, 113, COLLECT, Data.integer(0))
        client.action(FIXED, 113, COLLECT, Data.integer(0))  # asked twice: taken twice
        taken = (2_500 + 1_200 + 800) * 12 // 10  # 2.50, 1.20, 0.80 with 20 % VAT
        assert _counts(client, FIXED, 11) == taken
    # the subsidy's 1.50 went first, the token wallet paid the rest (charges: not the second)
    assert credit_before - wallet.credit == (2 * taken - 1_500) * 1000
    assert wallet.balance_check() == 0


def test_the_consumption_charge_collects_as_energy_is_used(served_magno: ServedMagno) -> None:
    wallet = _bought(served_magno)
    with served_magno.management() as client:
        assert _time(client, ENERGY) is None  # nothing used yet: not specified
        client.action(ENERGY, 113, SET_REMAINING, Data.double_long(100_000))  # 100 EUR
        client.action(ENERGY, 113, COLLECT, Data.integer(0))  # collected as used: no change
        assert _counts(client, ENERGY, 12) == 100_000
    cost_before = wallet.energy_cost_total
    served_magno.advance(START_MS + 120 * MINUTE_MS, HEAVY)  # 40 kWh: beyond the 30 free kWh
    with served_magno.management() as client:
        used = wallet.energy_cost_total - cost_before
        assert used > 0
        assert _counts(client, ENERGY, 12) == (100_000_000 - used) // 1000
        collected = _time(client, ENERGY)
        assert collected is not None
        assert START_MS < collected.timestamp() * 1000 <= START_MS + 120 * MINUTE_MS
        assert _counts(client, ENERGY, 11) > 0
        # steps, levies and VAT are inside the consumption charge's collections
        assert _time(client, VAT) is None and _counts(client, VAT, 11) == 0
    assert wallet.balance_check() == 0


def test_bad_calls_are_refused_and_change_nothing(served_magno: ServedMagno) -> None:
    with served_magno.management() as client:
        client.action(STANDING, 113, SET_REMAINING, Data.double_long(200))
        assert _refused(client, STANDING, UPDATE_REMAINING, Data.double_long(-201)) is (
            ActionResult.OTHER_REASON
        )
        assert _refused(client, STANDING, SET_REMAINING, Data.double_long(-1)) is (
            ActionResult.OTHER_REASON
        )
        assert _refused(client, STANDING, SET_REMAINING, Data.long(5)) is (
            ActionResult.TYPE_UNMATCHED
        )
        assert _refused(client, STANDING, COLLECT, Data.octet_string(b"x")) is (
            ActionResult.TYPE_UNMATCHED
        )
        assert _refused(client, VAT, SET_REMAINING, Data.double_long(5)) is (
            ActionResult.OTHER_REASON
        )
        assert _refused(client, SUBSIDY, COLLECT, Data.integer(0)) is ActionResult.OTHER_REASON
        assert _counts(client, STANDING, 12) == 200
    with served_magno.management() as client:  # committed: a new association reads the same
        assert _counts(client, STANDING, 12) == 200
