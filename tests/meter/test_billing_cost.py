"""The cost of each billing period in the billing profile (issue 5 item 2; seed 002 5.4 e, g),
worked out by hand in accelerated time.

The household of these tests draws 1 kW from 02:00 to 03:00 (rate 1 on every day profile of
pmm1220) and 2 kW from 12:00 to 13:00 (rate 2) local time, every day. With the prices 0.18
and 0.30 per kWh and 15 % VAT, a day's energy costs (0.18 + 2 x 0.30) x 1.15 = 0.897 exactly;
the standing charge 0.10 a day costs 0.115 with VAT, the fixed charge 2.00 a month 2.30.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from tests.helpers import utc_ms
from tests.sts.sts_fixtures import ea11_key

from metertwin.meter.core import Meter
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.profiles import BillingConfig, ProfileRecord
from metertwin.meter.registers import Energy
from metertwin.meter.spec import DeviceSpec
from metertwin.meter.wallet import MICRO, PaymentMode
from metertwin.models import DeviceModel, load_model
from metertwin.sts import BaseDate, CreditKind, CreditToken, StsDecoder, encode_token
from metertwin.sts.anatomy import tid_from_datetime

HOUR = 3_600_000
LOCAL = 3 * HOUR  # pmm1220: UTC+3, no DST
BILLING_PROFILE = "1.0.98.1.0.255"
KEY = ea11_key(base_date=BaseDate.Y2014)
DAY_ENERGY_COST = 897_000  # µ: (1 kWh x 0.18 + 2 kWh x 0.30) x 1.15
STANDING = 115_000  # µ: 0.10 x 1.15, taken at the midnight that ends each day
FIXED = 2_300_000  # µ: 2.00 x 1.15, taken on the 1st at 00:00 for the month it begins
IDLE = PhysicalState((230.0,), (0.0,), (0.0,))
ONE_KW = PhysicalState((230.0,), (1000.0,), (0.0,))
TWO_KW = PhysicalState((230.0,), (2000.0,), (0.0,))


def local_ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return utc_ms(year, month, day, hour) - LOCAL


def _spec(model: DeviceModel, billing: BillingConfig) -> DeviceSpec:
    """pmm1220 with a standing and a fixed charge and the billing point ``billing``."""
    assert model.spec.wallet is not None
    wallet = dataclasses.replace(
        model.spec.wallet,
        standing_charge_per_day=100_000,
        fixed_charges_per_month=(2 * MICRO,),
    )
    assert wallet.prices[1:3] == (180_000, 300_000) and wallet.vat_ppm == 150_000
    return dataclasses.replace(model.spec, wallet=wallet, billing=billing)


def household(start_ms: int, end_ms: int) -> InputSeries:
    """1 kW 02:00-03:00 and 2 kW 12:00-13:00 local, every day, from the local midnight at or
    before ``start_ms`` to ``end_ms``."""
    starts: list[int] = []
    states: list[PhysicalState] = []
    first = start_ms - (start_ms + LOCAL) % (24 * HOUR)
    for day in range(first, end_ms, 24 * HOUR):
        for hour, state in ((0, IDLE), (2, ONE_KW), (3, IDLE), (12, TWO_KW), (13, IDLE)):
            if day + hour * HOUR < end_ms:
                starts.append(day + hour * HOUR)
                states.append(state)
    return InputSeries.from_states(starts, end_ms, states)


def _buy(meter: Meter, tenths: int) -> None:
    when = datetime.fromtimestamp(meter.now_ms / 1000, UTC)
    token = CreditToken(
        kind=CreditKind.ELECTRICITY_CURRENCY,
        tid=tid_from_datetime(when, BaseDate.Y2014),
        amount_tenths=tenths,
    )
    result = meter.enter_token(encode_token(token, KEY))
    assert result.accepted, result.message


def _billing_entries(meter: Meter) -> list[ProfileRecord]:
    return [r for r in meter.recorder.drain() if r.profile == BILLING_PROFILE]


def _column(meter: Meter, name: str) -> int:
    spec = next(p for p in meter.spec.profiles if p.name == BILLING_PROFILE)
    return spec.channels.index(name)


def test_the_prepaid_models_bill_the_cost_and_metercom_pro_does_not(
    pmm1220: DeviceModel, az3p: DeviceModel
) -> None:
    magno22, metercom = load_model("magno22"), load_model("metercom-pro")
    for model in (pmm1220, az3p, magno22):
        billing = next(p for p in model.spec.profiles if p.name == BILLING_PROFILE)
        assert model.spec.wallet is not None and billing.channels[-1] == "cost"
    assert metercom.spec.wallet is None
    assert all("cost" not in p.channels for p in metercom.spec.profiles)


def test_billing_point_on_day_15_captures_the_cost_of_each_billing_period(
    pmm1220: DeviceModel,
) -> None:
    """Billing point day 15 at 06:00; the meter starts there on 15 January 2026 and buys
    100.00 of credit. Period 1 (15 Jan 06:00 - 15 Feb 06:00): 31 days of consumption (the
    12:00 hours of 15 Jan - 14 Feb, the 02:00 hours of 16 Jan - 15 Feb), 31 midnights, the
    fixed charge of 1 February: 31 x 0.897 + 31 x 0.115 + 2.30 = 33.672. Period 2 (to
    15 Mar 06:00, February has 28 days): 28 x 0.897 + 28 x 0.115 + 2.30 = 30.636. The
    calendar months differ (January from the 15th, with no fixed charge; February whole):
    the column is the billing period's cost, not the month's."""
    start = local_ms(2026, 1, 15, 6)
    meter = Meter(_spec(pmm1220, BillingConfig(15, 6)), start)
    meter.install_sts(StsDecoder(KEY))
    _buy(meter, 1000)
    end = local_ms(2026, 3, 15, 7)
    meter.feed(household(start, end))
    entries = _billing_entries(meter)
    assert [meter.clock.local(r.meter_ms) for r in entries] == [
        datetime(2026, 2, 15, 6),
        datetime(2026, 3, 15, 6),
    ]
    cost = _column(meter, "cost")
    period_1 = 31 * DAY_ENERGY_COST + 31 * STANDING + FIXED
    period_2 = 28 * DAY_ENERGY_COST + 28 * STANDING + FIXED
    assert (period_1, period_2) == (33_672_000, 30_636_000)
    assert [r.values[cost] for r in entries] == [period_1, period_2]
    # the energy columns of the same entries agree: 31 and 28 days of 1 + 2 kWh
    energy = _column(meter, "energy:1:0:0")
    assert [r.values[energy] for r in entries] == [93_000_000, 177_000_000]  # mWh
    wallet = meter.wallet
    assert wallet is not None
    assert wallet.credit == 100 * MICRO - period_1 - period_2  # nothing since 06:00
    assert wallet.period_cost == 0  # a new period began at 06:00
    january = 16 * DAY_ENERGY_COST + 2 * 300_000 * 115 // 100 + 17 * STANDING
    february = 28 * DAY_ENERGY_COST + 28 * STANDING + FIXED
    assert wallet.cost_history == [("2026-02", february), ("2026-01", january)]
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE, 0, 2) == 59 * 2_000_000  # 17 + 28 + 14 days


def test_billing_at_the_month_start_costs_exactly_the_calendar_month(
    pmm1220: DeviceModel,
) -> None:
    """pmm1220's own billing point, the 1st at 00:00, coincides with the wallet's month: the
    standing charge of the month's last day (taken at that midnight, in arrears) is in the
    period that ends, the new month's fixed charge (in advance) in the one that begins, so
    each entry equals the month's cost in 0.0.96.128.2. February 2026 (from the meter's
    start, no fixed charge): 28 x 0.897 + 28 x 0.115 = 28.336; March: 31 x 0.897 + 31 x
    0.115 + 2.30 = 33.672."""
    start = local_ms(2026, 2, 1)
    meter = Meter(_spec(pmm1220, BillingConfig(1, 0)), start)
    meter.install_sts(StsDecoder(KEY))
    _buy(meter, 1000)
    meter.feed(household(start, local_ms(2026, 4, 1, 1)))
    entries = _billing_entries(meter)
    assert [meter.clock.local(r.meter_ms) for r in entries] == [
        datetime(2026, 3, 1),
        datetime(2026, 4, 1),
    ]
    february = 28 * DAY_ENERGY_COST + 28 * STANDING
    march = 31 * DAY_ENERGY_COST + 31 * STANDING + FIXED
    cost = _column(meter, "cost")
    assert [r.values[cost] for r in entries] == [february, march] == [28_336_000, 33_672_000]
    wallet = meter.wallet
    assert wallet is not None
    assert wallet.cost_history == [("2026-03", march), ("2026-02", february)]
    assert wallet.period_cost == wallet.month_cost == FIXED  # April's, taken at 00:00


def test_a_billing_reset_ends_the_cost_period_and_a_capture_does_not(
    pmm1220: DeviceModel,
) -> None:
    """Class 7 capture (method 2) takes the running cost without ending the period; a billing
    reset (script 1 of 0.0.10.0.1) ends it. Postpaid, the cost is recorded all the same."""
    start = local_ms(2026, 6, 1, 12)  # Monday 12:00, rate 2
    meter = Meter(_spec(pmm1220, BillingConfig(1, 0)), start)
    meter.set_payment_mode(PaymentMode.POSTPAID)
    meter.advance(start + HOUR, TWO_KW)  # 2 kWh x 0.30 x 1.15 = 0.69
    meter.capture_now(BILLING_PROFILE)
    meter.advance(start + 2 * HOUR, TWO_KW)
    meter.billing_reset()
    meter.advance(start + 3 * HOUR, TWO_KW)
    meter.capture_now(BILLING_PROFILE)
    cost = _column(meter, "cost")
    assert [r.values[cost] for r in _billing_entries(meter)] == [690_000, 1_380_000, 690_000]
    assert meter.wallet is not None and meter.wallet.credit == 0  # postpaid: nothing debited


def test_the_period_cost_survives_a_restart(pmm1220: DeviceModel) -> None:
    start = local_ms(2026, 6, 1, 12)
    meter = Meter(_spec(pmm1220, BillingConfig(1, 0)), start)
    meter.advance(start + HOUR, TWO_KW)
    again = Meter.from_state(meter.spec, meter.to_state())
    assert again.wallet is not None and again.wallet.period_cost == 690_000
    state = meter.to_state()
    del state["prepayment"]["wallet"]["period_cost"]  # saved before billing periods were costed
    older = Meter.from_state(meter.spec, state)
    assert older.wallet is not None and older.wallet.period_cost == 0
    assert older.wallet.month_cost == 690_000
