"""A month of a prepaid household with PV in accelerated time (issue 4 "Tests and figures").

It buys three tokens, runs out on a Saturday evening inside the friendly weekend (no cut), is
cut on Monday at 00:00 and reconnected by the next token, and the credit is conserved to the
last micro-unit: what was bought equals the credit left plus what was charged, and what was
charged equals the import energy of each rate times its price plus VAT, computed
independently from the energy registers.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from tests.helpers import utc_ms
from tests.sts.sts_fixtures import ea11_key

from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState
from metertwin.meter.events import EventCode
from metertwin.meter.registers import Energy
from metertwin.meter.wallet import MICRO, MICRO_J_PER_KWH, FriendlyPeriods
from metertwin.models import DeviceModel
from metertwin.sim import WorldSite, load_scenario
from metertwin.sts import BaseDate, CreditKind, CreditToken, StsDecoder, encode_token
from metertwin.sts.anatomy import tid_from_datetime

HOUR = 3_600_000
KEY = ea11_key(base_date=BaseDate.Y2014)
STANDARD, DISCONNECT = "0.0.99.98.0.255", "0.0.99.98.2.255"
LOCAL = 3 * HOUR  # pmm1220: UTC+3


def local_ms(day: int, hour: int = 0) -> int:
    """World ms of a local wall time in June 2026 at the meter (UTC+3, no DST)."""
    return utc_ms(2026, 6, day, hour) - LOCAL


def _spec(model: DeviceModel) -> object:
    assert model.spec.wallet is not None
    wallet = dataclasses.replace(
        model.spec.wallet,
        friendly=FriendlyPeriods(weekdays=frozenset({6, 7})),  # Saturday and Sunday
        standing_charge_per_day=100_000,  # 0.10 a day
    )
    return dataclasses.replace(model.spec, wallet=wallet)


def _token(tenths: int, at_ms: int) -> str:
    when = datetime.fromtimestamp(at_ms / 1000, UTC)
    tid = tid_from_datetime(when, BaseDate.Y2014)
    return encode_token(
        CreditToken(kind=CreditKind.ELECTRICITY_CURRENCY, tid=tid, amount_tenths=tenths), KEY
    )


class Household:
    """The meter under the household-pv scenario, with tokens entered at given instants."""

    def __init__(self, model: DeviceModel) -> None:
        spec = _spec(model)
        self.meter = Meter(spec, local_ms(1))  # type: ignore[arg-type]
        self.meter.install_sts(StsDecoder(KEY))
        world = model.world
        site = WorldSite(1, 220.0, 50.0, 180, world.latitude, world.longitude)
        self.scenario = load_scenario(
            "household-pv", site, {"annual_kwh": world.annual_kwh, "pv_kwp": world.pv_kwp}
        )
        self.records: list[tuple[str, int, int]] = []

    def run_to(self, end_ms: int) -> None:
        meter = self.meter
        meter.feed(self.scenario.series(meter.now_ms, end_ms))
        self.records += [
            (r.profile, r.meter_ms, int(r.values[1]))
            for r in meter.recorder.drain()
            if r.profile in (STANDARD, DISCONNECT)
        ]

    def buy(self, tenths: int) -> None:
        result = self.meter.enter_token(_token(tenths, self.meter.now_ms))
        assert result.accepted, result.message

    def events(self, code: EventCode) -> list[int]:
        return [t for _, t, c in self.records if c == code]


def test_a_prepaid_month_with_pv_friendly_weekend_cut_on_monday_and_conserved_credit(
    pmm1220: DeviceModel,
) -> None:
    assert datetime(2026, 6, 20).isoweekday() == 6  # the third Saturday
    # A probe meter with ample credit gives the cost of this household's consumption over
    # time (the world and the prices do not depend on the credit).
    probe = Household(pmm1220)
    probe.buy(100_000)
    wallet = probe.meter.wallet
    assert wallet is not None
    cost: dict[int, int] = {}
    for when in (local_ms(8, 12), local_ms(20, 18), local_ms(20, 21)):
        probe.run_to(when)
        cost[when] = wallet.debited_total
    first = -(-cost[local_ms(8, 12)] // 100_000) + 10  # tenths: a week and a day, and 1.0 more
    total = -(-cost[local_ms(20, 18)] // 100_000) + 1  # runs out after Saturday 18:00
    assert total * 100_000 < cost[local_ms(20, 21)], "the test needs 3 h of evening use"

    home = Household(pmm1220)
    meter = home.meter
    home.buy(first)
    home.run_to(local_ms(8, 12))
    assert meter.disconnect.state is ControlState.CONNECTED
    home.buy(total - first)
    home.run_to(local_ms(22, 10))
    exhausted = home.events(EventCode.CREDIT_EXHAUSTED)
    assert len(exhausted) == 1 and local_ms(20, 18) < exhausted[0] < local_ms(20, 21)
    # no cut in the friendly weekend: the first disconnection is Monday 00:00 exactly
    assert home.events(EventCode.LOCAL_DISCONNECTION) == [local_ms(22)]
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    assert meter.wallet is not None
    debt = -meter.wallet.credit
    assert debt > 0  # the weekend's consumption, to be recovered from the next purchase
    home.buy(200)  # 20.0 on Monday at 10:00
    assert meter.disconnect.state is ControlState.CONNECTED
    assert meter.wallet.credit == 20 * MICRO - debt
    home.run_to(local_ms(30, 23))
    assert home.events(EventCode.LOCAL_CONNECTION) == [local_ms(22, 10)]

    # Conservation to the last unit.
    w = meter.wallet
    purchased = (first + (total - first) + 200) * 100_000
    assert w.purchased_total == purchased
    assert purchased == w.credit + w.debited_total
    assert w.debited_total == w.energy_cost_total + w.charges_total
    assert w.charges_total == 29 * 115_000  # the standing charge with VAT, June 2 to 30
    # Energy cost from the registers, independently: sum over rates of energy x price x VAT.
    # (the wallet's carry is in units of 10^-12 µ per µJ: VAT and percent levies are ppm)
    config = w.config
    numerator = sum(
        meter.registers.micro(Energy.IMPORT_ACTIVE, 0, rate)
        * w.price(rate)
        * (1_000_000 + config.vat_ppm)
        for rate in range(1, meter.spec.capacity.rates + 1)
    )
    assert w.energy_cost_total * MICRO_J_PER_KWH * 10**12 + w.carry == numerator * 1_000_000
    assert meter.energy_mwh(Energy.EXPORT_ACTIVE) > 0  # the PV exported, and it was not charged
