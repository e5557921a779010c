"""The wallet alone: prices, steps, VAT, charges, thresholds, emergency credit, overdraw and
credit conservation (issue 4 item 4; seed 002 5.4, seed 003 "Prepayment", "Tariff expense")."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.meter.wallet import (
    LEVY_PER_KWH,
    LEVY_PERCENT,
    MICRO,
    MICRO_J_PER_KWH,
    SECOND_WALLET,
    SUBSIDY_AMOUNT,
    SUBSIDY_UNITS,
    AccountStatus,
    ChargeKind,
    CreditUnit,
    FriendlyPeriods,
    PaymentMode,
    SecondWallet,
    Wallet,
    WalletConfig,
    WalletEvent,
    WalletRefused,
    table_error,
)

KWH = MICRO_J_PER_KWH


def _config(**changes: object) -> WalletConfig:
    base: dict[str, object] = {
        "prices": (0, 200_000, 300_000),  # 0.20 and 0.30 per kWh
        "low_credit_thresholds": (10 * MICRO, 5 * MICRO, 2 * MICRO),
    }
    base.update(changes)
    return WalletConfig(**base)  # type: ignore[arg-type]


def _active(config: WalletConfig, credit: int) -> Wallet:
    wallet = Wallet(config)
    wallet.purchase(credit, 0)
    return wallet


def test_a_new_account_is_inactive_until_the_first_purchase() -> None:
    """Class 111 account_status 1 (new, inactive): nothing is deducted, nothing cut."""
    wallet = Wallet(_config())
    assert wallet.status is AccountStatus.NEW_INACTIVE
    assert wallet.consume(10 * KWH, 1) == []
    assert wallet.credit == 0 and not wallet.exhausted()
    assert wallet.month_cost == 2 * MICRO  # the cost is still recorded for the history
    wallet.purchase(5 * MICRO, 1234)
    assert wallet.status is AccountStatus.ACTIVE and wallet.activated_ms == 1234


def test_cost_is_price_of_the_rate_plus_vat_exactly() -> None:
    """1 kWh at 0.30 with 15 % VAT costs 0.345; 1 Wh at 0.20 costs 0.00023 (µ exact)."""
    wallet = _active(_config(vat_ppm=150_000), 100 * MICRO)
    wallet.consume(KWH, 2)
    assert wallet.credit == 100 * MICRO - 345_000
    wallet.consume(KWH // 1000, 1)
    assert wallet.credit == 100 * MICRO - 345_000 - 230


def test_fractions_of_a_micro_unit_are_carried_not_lost() -> None:
    """1 mJ pieces cost 5.5e-11 units each: a million of them add up to what one piece of a
    million mJ costs (the carry keeps the remainder)."""
    one = _active(_config(), 10 * MICRO)
    many = _active(_config(), 10 * MICRO)
    one.consume(1_000_000 * 1000, 1)
    for _ in range(1000):
        many.consume(1000 * 1000, 1)
    assert many.credit == one.credit
    assert many.carry == one.carry


def test_step_surcharge_applies_beyond_each_monthly_band_and_restarts_with_the_month() -> None:
    """Steps [0, +0], [100 kWh, +0.10]: 150 kWh at 0.20 cost 100 x 0.20 + 50 x 0.30 = 35."""
    config = _config(steps=((0, 0), (100 * KWH, 100_000)))
    wallet = _active(config, 1000 * MICRO)
    wallet.consume(150 * KWH, 1)
    assert wallet.credit == 1000 * MICRO - 35 * MICRO
    wallet.new_month(date(2026, 6, 30))
    wallet.consume(10 * KWH, 1)
    assert wallet.credit == 1000 * MICRO - 37 * MICRO  # back in the first band
    assert wallet.cost_history == [("2026-06", 35 * MICRO)]


def test_standing_and_fixed_charges_with_vat() -> None:
    config = _config(
        standing_charge_per_day=MICRO // 2, fixed_charges_per_month=(2 * MICRO,), vat_ppm=200_000
    )
    wallet = _active(config, 100 * MICRO)
    wallet.new_day()
    wallet.new_month(date(2026, 6, 30))
    assert wallet.credit == 100 * MICRO - 600_000 - 2_400_000
    assert wallet.charges_total == 3 * MICRO


def test_thresholds_raise_each_warning_once_then_exhaustion() -> None:
    wallet = _active(_config(), 12 * MICRO)  # 12 units: 60 kWh at 0.20
    assert wallet.consume(10 * KWH, 1) == [WalletEvent.LOW_CREDIT_1]  # 10 left: at level 1
    assert wallet.consume(20 * KWH, 1) == []  # 6 left
    assert wallet.consume(5 * KWH, 1) == [WalletEvent.LOW_CREDIT_2]  # 5 left
    assert wallet.alarm_level == 2
    events = wallet.consume(30 * KWH, 1)  # 6 for 5 left: the wallet goes 1 into overdraw
    assert events == [WalletEvent.LOW_CREDIT_3, WalletEvent.CREDIT_EXHAUSTED]
    assert wallet.exhausted() and wallet.credit == -MICRO


def test_energy_to_next_change_lands_exactly_on_the_next_level() -> None:
    """The core stops where the wallet changes: consuming exactly the announced energy
    reaches the level, one µJ less does not."""
    wallet = _active(_config(vat_ppm=150_000), 11 * MICRO + 123)
    energy = wallet.energy_to_next_change(2)
    assert energy is not None
    probe = Wallet.from_state(wallet.config, wallet.to_state())
    assert probe.consume(energy - 1, 2) == []
    assert wallet.consume(energy, 2) == [WalletEvent.LOW_CREDIT_1]
    assert wallet.available() == 10 * MICRO


def test_a_purchase_clears_overdraw_first_then_repays_emergency_credit() -> None:
    """Seed 002 5.4 a: overdraw is deducted from the new purchase first."""
    config = _config(emergency_credit=5 * MICRO, low_credit_thresholds=())
    wallet = _active(config, MICRO)
    wallet.consume(5 * KWH, 1)  # 1.00 used: credit 0
    wallet.take_emergency_credit()
    wallet.consume(10 * KWH, 1)  # 2.00 from emergency credit
    assert (wallet.credit, wallet.emergency_remaining, wallet.emergency_owed) == (
        0,
        3 * MICRO,
        2 * MICRO,
    )
    wallet.purchase(10 * MICRO, 1)
    assert wallet.credit == 8 * MICRO and not wallet.emergency_in_use
    assert wallet.emergency_owed == 0 and wallet.balance_check() == 0


def test_debt_in_friendly_time_is_recovered_from_the_next_purchase() -> None:
    wallet = _active(_config(low_credit_thresholds=()), MICRO)
    wallet.consume(15 * KWH, 1)  # 3.00 for 1.00 of credit: 2.00 of overdraw
    assert wallet.credit == -2 * MICRO and wallet.exhausted()
    assert wallet.purchase(5 * MICRO, 2) == [WalletEvent.CREDIT_RESTORED]
    assert wallet.credit == 3 * MICRO


def test_automatic_emergency_credit_starts_when_credit_runs_out() -> None:
    config = _config(emergency_credit=4 * MICRO, emergency_auto=True, low_credit_thresholds=())
    wallet = _active(config, MICRO)
    events = wallet.consume(5 * KWH, 1)
    assert WalletEvent.EMERGENCY_CREDIT_INVOKED in events
    assert not wallet.exhausted() and wallet.available() == 4 * MICRO


def test_emergency_credit_is_refused_while_credit_is_high() -> None:
    wallet = _active(_config(emergency_credit=5 * MICRO), 50 * MICRO)
    with pytest.raises(WalletRefused):
        wallet.take_emergency_credit()


def test_postpaid_records_cost_but_deducts_nothing() -> None:
    wallet = _active(_config(), 5 * MICRO)
    wallet.set_mode(PaymentMode.POSTPAID)
    wallet.consume(100 * KWH, 1)
    assert wallet.credit == 5 * MICRO and wallet.month_cost == 20 * MICRO
    assert not wallet.exhausted()
    assert wallet.set_mode(PaymentMode.PREPAID) == [
        WalletEvent.LOW_CREDIT_1,
        WalletEvent.LOW_CREDIT_2,
    ]


def test_energy_wallet_counts_kwh_without_prices() -> None:
    wallet = _active(WalletConfig(unit=CreditUnit.ENERGY), 25 * MICRO)
    wallet.consume(KWH * 5 // 2, 3)
    assert wallet.credit == 22_500_000


def test_a_closed_account_takes_no_purchase() -> None:
    wallet = _active(_config(), MICRO)
    wallet.set_status(AccountStatus.CLOSED, 99)
    with pytest.raises(WalletRefused):
        wallet.purchase(MICRO, 100)


def test_friendly_periods_windows_weekdays_and_holidays() -> None:
    friendly = FriendlyPeriods(
        hours=((time(18), time(6)),), weekdays=frozenset({6, 7}), holidays=frozenset({"12-25"})
    )
    assert friendly.is_friendly(datetime(2026, 6, 1, 19))  # Monday evening
    assert not friendly.is_friendly(datetime(2026, 6, 1, 12))
    assert friendly.is_friendly(datetime(2026, 6, 6, 12))  # Saturday
    assert friendly.is_friendly(datetime(2026, 12, 25, 12))
    assert friendly.next_change(datetime(2026, 6, 1, 12)) == datetime(2026, 6, 1, 18)
    assert friendly.next_change(datetime(2026, 6, 1, 19)) == datetime(2026, 6, 2, 0)
    assert friendly.next_change(datetime(2026, 6, 2, 1)) == datetime(2026, 6, 2, 6)


def test_levies_each_with_its_vat_kind_exactly() -> None:
    """Issue 20 item 6. 1 kWh at 0.20, 10 % energy VAT, a 2 % levy and 0.005 per kWh, 5 %
    levy VAT: 0.20 x 1.10 + (0.004 + 0.005) x 1.05 = 0.22945."""
    config = _config(
        vat_ppm=100_000,
        vat_levies_ppm=50_000,
        levies=((LEVY_PERCENT, 20_000), (LEVY_PER_KWH, 5_000)),
    )
    wallet = _active(config, 10 * MICRO)
    wallet.consume(KWH, 1)
    assert wallet.credit == 10 * MICRO - 229_450


def test_free_units_then_amount_subsidy_pay_first_every_month() -> None:
    """5 free kWh a month, then 1.00 a month off: 7 kWh at 0.20 cost 0.40, all subsidised;
    a 2.00 fixed charge at the new month takes 1.00 of new subsidy and 1.00 of credit."""
    config = _config(
        subsidies=((SUBSIDY_UNITS, 5 * MICRO), (SUBSIDY_AMOUNT, MICRO)),
        fixed_charges_per_month=(2 * MICRO,),
    )
    wallet = _active(config, 10 * MICRO)
    assert wallet.energy_to_next_change(1) == 5 * KWH  # where the free units end
    wallet.consume(7 * KWH, 1)
    assert wallet.credit == 10 * MICRO and wallet.subsidy_left == 600_000
    assert wallet.month_cost == 0 and wallet.subsidised_total == 400_000
    wallet.new_month(date(2026, 6, 30))
    assert wallet.credit == 9 * MICRO and wallet.month_cost == MICRO
    wallet.consume(5 * KWH, 1)  # free again in the new month
    assert wallet.credit == 9 * MICRO


def test_service_charge_of_the_months_band_is_taken_at_its_end() -> None:
    """Service charge 1.00 below 100 kWh, 3.00 from 100 kWh, 20 % VAT on charges."""
    config = _config(
        service_steps=((0, MICRO), (100 * KWH, 3 * MICRO)),
        vat_charges_ppm=200_000,
    )
    wallet = _active(config, 100 * MICRO)
    wallet.consume(120 * KWH, 1)
    wallet.new_month(date(2026, 6, 30))
    assert wallet.credit == 100 * MICRO - 24 * MICRO - 3_600_000
    assert wallet.cost_history == [("2026-06", 24 * MICRO + 3_600_000)]
    wallet.new_month(date(2026, 7, 31))  # no consumption: the first band
    assert wallet.credit == 100 * MICRO - 24 * MICRO - 3_600_000 - 1_200_000


def test_second_wallet_is_spent_first_on_consumption_but_not_on_charges() -> None:
    """Issue 20 item 7: priority 1, consumption only; the token wallet pays the charges."""
    config = _config(second_wallet=SecondWallet(), standing_charge_per_day=MICRO)
    wallet = _active(config, 10 * MICRO)
    wallet.purchase(MICRO, 5, wallet=SECOND_WALLET)
    wallet.consume(10 * KWH, 1)  # 2.00: 1.00 from the second wallet, then the token wallet
    assert (wallet.second_credit, wallet.credit) == (0, 9 * MICRO)
    wallet.purchase(MICRO, 6, wallet=SECOND_WALLET)
    wallet.new_day()
    assert (wallet.second_credit, wallet.credit) == (MICRO, 8 * MICRO)
    assert wallet.period_paid == [2 * MICRO, MICRO]
    assert [p.wallet for p in wallet.purchases] == [2, 2, 1]
    assert wallet.balance_check() == 0


def test_second_wallet_after_the_token_wallet_pays_charges_too() -> None:
    config = _config(
        second_wallet=SecondWallet(priority=2, pays_charges=True), standing_charge_per_day=MICRO
    )
    wallet = _active(config, MICRO // 2)
    wallet.purchase(5 * MICRO, 5, wallet=SECOND_WALLET)
    wallet.new_day()
    assert (wallet.credit, wallet.second_credit) == (0, 4_500_000)
    assert not wallet.exhausted() and wallet.available() == 4_500_000


def test_a_one_wallet_meter_refuses_second_wallet_credit() -> None:
    wallet = _active(_config(), MICRO)
    with pytest.raises(WalletRefused):
        wallet.purchase(MICRO, 0, wallet=SECOND_WALLET)


def test_a_passive_table_acts_only_when_activated_and_survives_a_restart() -> None:
    """Issue 20 item 4: the wallet charges from the active table; the passive one waits."""
    config = _config()
    wallet = _active(config, 10 * MICRO)
    wallet.set_passive(ChargeKind.ENERGY, ((1, 500_000), (2, 600_000)))
    wallet.schedule_activation(ChargeKind.ENERGY, 1000)
    wallet.consume(KWH, 1)
    assert wallet.credit == 10 * MICRO - 200_000
    again = Wallet.from_state(config, wallet.to_state())
    assert again.activate_due(999) == []
    assert again.activate_due(1000) == [ChargeKind.ENERGY]
    again.consume(KWH, 1)
    assert again.credit == 10 * MICRO - 700_000
    assert again.next_activation_ms() is None


@pytest.mark.parametrize(
    ("kind", "table"),
    [
        (ChargeKind.STEPS, tuple((k * 100, 1) for k in range(11))),  # 11 steps
        (ChargeKind.SERVICE, ((200, 1), (100, 1))),  # not ascending
        (ChargeKind.FIXED, ((4, 1),)),
        (ChargeKind.VAT, ((1, 1_000_001),)),  # above 100 %
        (ChargeKind.LEVY, ((3 << 8 | 1, 1),)),  # no such kind
        (ChargeKind.SUBSIDY, tuple((SUBSIDY_AMOUNT << 8 | k, 1) for k in range(1, 7))),
        (ChargeKind.ENERGY, ((1, 1), (1, 2))),  # an index twice
    ],
)
def test_invalid_tables_are_refused_and_change_nothing(
    kind: ChargeKind, table: tuple[tuple[int, int], ...]
) -> None:
    wallet = _active(_config(), MICRO)
    assert table_error(kind, table) is not None
    before = dict(wallet.passive)
    with pytest.raises(ValueError):
        wallet.set_passive(kind, table)
    assert wallet.passive == before


_steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["consume", "purchase", "day", "month", "emergency", "clear", "mode", "collect"]
        ),
        st.integers(min_value=0, max_value=40 * KWH),
        st.integers(min_value=1, max_value=2),
    ),
    max_size=60,
)


_money = st.integers(min_value=0, max_value=5 * MICRO)
_bands = st.lists(st.integers(min_value=0, max_value=2000), max_size=10, unique=True).map(
    lambda kwh: tuple(sorted(k * KWH for k in kwh))
)


def _priced(bands: tuple[int, ...]) -> st.SearchStrategy[tuple[tuple[int, int], ...]]:
    """Each band threshold with a random amount."""
    return st.tuples(*[_money for _ in bands]).map(lambda v: tuple(zip(bands, v, strict=True)))


_tariffs = st.fixed_dictionaries(
    {
        "prices": st.lists(_money, min_size=1, max_size=4).map(lambda p: (0, *p)),
        "steps": _bands.flatmap(_priced),
        "service_steps": _bands.map(lambda b: b[:5]).flatmap(_priced),
        "standing_charge_per_day": _money,
        "fixed_charges_per_month": st.lists(_money, max_size=3).map(tuple),
        "subsidies": st.lists(
            st.tuples(st.sampled_from((SUBSIDY_UNITS, SUBSIDY_AMOUNT)), _money), max_size=5
        ).map(tuple),
        "levies": st.lists(
            st.tuples(st.just(LEVY_PERCENT), st.integers(0, 300_000))
            | st.tuples(st.just(LEVY_PER_KWH), _money),
            max_size=5,
        ).map(tuple),
        "vat_ppm": st.integers(0, 300_000),
        "vat_charges_ppm": st.integers(0, 300_000),
        "vat_levies_ppm": st.integers(0, 300_000),
        "second_wallet": st.none()
        | st.builds(SecondWallet, priority=st.sampled_from((1, 2)), pays_charges=st.booleans()),
    }
)


@settings(max_examples=150, deadline=None)
@given(_steps, st.booleans(), _tariffs)
def test_credit_bought_equals_credit_used_plus_credit_left(
    steps: list[tuple[str, int, int]], auto: bool, tariff: dict[str, object]
) -> None:
    """Invariant of issues 4 and 20 over random Magno 22 expense sets (up to 10 steps, 5
    service bands, 5 subsidies, 3 fixed charges, 5 levies, 3 VAT kinds, one or two
    wallets): whatever happens, purchases = debited + cleared + (credit + second wallet -
    emergency owed) to the micro-unit, what the wallets paid this period is what was
    debited, and costs = subsidised + recorded."""
    config = _config(emergency_credit=3 * MICRO, emergency_auto=auto, **tariff)
    wallet = _active(config, 10 * MICRO)
    month = date(2026, 1, 31)
    second = config.second_wallet is not None
    collected = (ChargeKind.STANDING, ChargeKind.FIXED, ChargeKind.SERVICE, ChargeKind.ENERGY)
    for kind in collected:  # class 113 set_total_amount_remaining: counted down from here
        wallet.set_remaining(kind, 20 * MICRO)
    for step, (action, value, rate) in enumerate(steps):
        wallet.at_ms = step
        if action == "collect":  # class 113 collect on one of the collected charges
            wallet.collect(collected[value % len(collected)])
        elif action == "consume":
            wallet.consume(value, rate)
        elif action == "purchase":
            into = SECOND_WALLET if second and value % 2 else 1
            wallet.purchase(value // KWH * MICRO + 1, 0, wallet=into)
        elif action == "day":
            wallet.new_day()
        elif action == "month":
            wallet.new_month(month)
        elif action == "emergency" and wallet.emergency_offered():
            wallet.take_emergency_credit()
        elif action == "clear":
            wallet.clear_credit()
        elif action == "mode":
            wallet.set_mode(PaymentMode(rate))
        assert wallet.balance_check() == 0
        assert wallet.emergency_remaining >= 0 and wallet.emergency_owed >= 0
        assert wallet.second_credit >= 0
        # one billing period throughout: it holds every cost recorded and every payment
        assert wallet.energy_cost_total + wallet.charges_total == (
            wallet.subsidised_total + wallet.period_cost
        )
        assert sum(wallet.period_paid) == wallet.debited_total
        assert wallet.alarm_level == sum(
            1 for t in config.low_credit_thresholds if wallet.prepaid and wallet.available() <= t
        )
        assert all(0 <= wallet.remaining[kind] <= 20 * MICRO for kind in collected)
    # what each charge collected, counted down from 20 (never below 0) ...
    charges_taken = 20 * MICRO * 3 - sum(wallet.remaining[k] for k in collected[:3])
    assert charges_taken <= wallet.charges_total
    if wallet.charges_total <= 20 * MICRO:  # ... exactly while none reached 0
        assert charges_taken == wallet.charges_total
    if wallet.energy_cost_total <= 20 * MICRO:
        assert 20 * MICRO - wallet.remaining[ChargeKind.ENERGY] == wallet.energy_cost_total
    restored = Wallet.from_state(config, wallet.to_state())
    assert restored.to_state() == wallet.to_state()


def test_each_charge_keeps_its_last_collection_and_a_subsidy_is_not_collected() -> None:
    """Class 113 attributes 10-11 (issue 20 item 4): the standing charge at a day's end, the
    fixed charges as one collection of their sum at a month's start, the service charge at a
    month's end, each with its VAT; `collect` takes one now; a subsidy cannot be collected."""
    config = _config(
        standing_charge_per_day=100_000,
        fixed_charges_per_month=(1 * MICRO, 2 * MICRO),
        service_steps=((0, 3 * MICRO),),
        vat_charges_ppm=200_000,
    )
    wallet = _active(config, 100 * MICRO)
    wallet.at_ms = 1_000
    wallet.new_day()
    assert wallet.collections[ChargeKind.STANDING] == (1_000, 120_000)
    wallet.at_ms = 2_000
    wallet.new_month(date(2026, 1, 31))
    assert wallet.collections[ChargeKind.SERVICE] == (2_000, 3_600_000)
    assert wallet.collections[ChargeKind.FIXED] == (2_000, 3_600_000)  # (1 + 2) + 20 %
    wallet.at_ms = 3_000
    wallet.set_remaining(ChargeKind.STANDING, 200_000)
    wallet.collect(ChargeKind.STANDING)
    assert wallet.collections[ChargeKind.STANDING] == (3_000, 120_000)
    assert wallet.remaining[ChargeKind.STANDING] == 80_000
    wallet.collect(ChargeKind.STANDING)
    assert wallet.remaining[ChargeKind.STANDING] == 0  # not below; collection goes on
    assert wallet.balance_check() == 0
    with pytest.raises(WalletRefused):
        wallet.collect(ChargeKind.SUBSIDY)
    with pytest.raises(WalletRefused):
        wallet.set_remaining(ChargeKind.STANDING, -1)
    restored = Wallet.from_state(config, wallet.to_state())
    assert restored.collections == wallet.collections
    assert restored.remaining == wallet.remaining
