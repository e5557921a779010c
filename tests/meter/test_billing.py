"""The billing point (issue 5: a billing point on day 15 at 06:00, values worked out by hand)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.inputs import PhysicalState
from metertwin.meter.profiles import BillingConfig
from metertwin.meter.registers import Energy
from metertwin.models import DeviceModel

HOUR = 3_600_000
BILLING_PROFILE = "1.0.98.1.0.255"


def test_billing_point_on_day_15_at_0600_snapshots_and_restarts_maximum_demand(
    pmm1220: DeviceModel,
) -> None:
    """pmm1220 (UTC+3), billing point day 15 at 06:00: 1 kW from 2026-06-14 00:00 local for
    29 h (29 kWh), then 3 kW from 06-15 05:00 (3 kWh by 06:00). The entry at 06:00 holds
    +A = 32 kWh and the maximum demand 3 kW; afterwards the maximum restarts."""
    spec = dataclasses.replace(pmm1220.spec, billing=BillingConfig(day=15, hour=6))
    start = utc_ms(2026, 6, 13, 21)  # 2026-06-14 00:00 local
    meter = Meter(spec, start)
    one_kw = PhysicalState((230.0,), (1000.0,), (0.0,))
    three_kw = PhysicalState((230.0,), (3000.0,), (0.0,))
    meter.advance(start + 29 * HOUR, one_kw)  # to 06-15 05:00 local
    meter.advance(start + 31 * HOUR, three_kw)  # past the 06:00 billing point
    records = [r for r in meter.recorder.drain() if r.profile == BILLING_PROFILE]
    assert len(records) == 1
    entry = records[0]
    assert entry.meter_ms == start + 30 * HOUR  # 06-15 06:00 local
    channels = next(p for p in spec.profiles if p.name == BILLING_PROFILE).channels
    assert channels[2] == "energy:1:0:0"
    assert entry.values[2] == 32_000_000  # +A in mWh
    max_index = channels.index("max_demand:1:0")
    assert entry.values[max_index] == 3_000_000  # mW, the 05:00-06:00 quarter-hours
    assert meter.billing_periods == 1
    assert meter.last_billing_ms == start + 30 * HOUR
    # after the billing point the maximum restarts: only 06:00-07:00 at 3 kW counts now
    assert meter.demand.maximum[Energy.IMPORT_ACTIVE][0].value_mw == 3_000_000
    assert meter.demand.maximum[Energy.IMPORT_ACTIVE][0].at_meter_ms > start + 30 * HOUR


def test_a_billing_reset_by_script_captures_now(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 13, 21)
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + 2 * HOUR, PhysicalState((230.0,), (2000.0,), (0.0,)))
    meter.billing_reset()
    records = [r for r in meter.recorder.drain() if r.profile == BILLING_PROFILE]
    assert [r.values[2] for r in records] == [4_000_000]
    assert meter.demand.maximum[Energy.IMPORT_ACTIVE][0].value_mw == 0
    assert meter.billing_periods == 1


def _billing_entries(meter: Meter) -> list[datetime]:
    return [
        meter.clock.local(r.meter_ms)
        for r in meter.recorder.drain()
        if r.profile == BILLING_PROFILE
    ]


def test_a_moved_billing_point_captures_where_the_period_closes(pmm1220: DeviceModel) -> None:
    """The head-end moves the billing point from the 1st 00:00 to the 15th 06:00 (class 22
    0.0.15.0.0): the billing profile captures on the 15th at 06:00, where the period closes,
    and no longer on the 1st."""
    start = utc_ms(2025, 12, 31, 21)  # 2026-01-01 00:00 local (UTC+3)
    meter = Meter(pmm1220.spec, start)
    meter.set_billing_point(BillingConfig(15, 6))
    meter.advance(start + 50 * 24 * HOUR)  # to 20 February
    assert _billing_entries(meter) == [datetime(2026, 1, 15, 6), datetime(2026, 2, 15, 6)]
    assert meter.billing_periods == 2


def test_a_clock_set_over_the_billing_point_still_captures_it(pmm1220: DeviceModel) -> None:
    """A clock setting that jumps over the billing point closes the billing period; its entry
    is captured with it (stamped at the billing point, flagged clock adjusted)."""
    start = utc_ms(2026, 1, 31, 18)  # 2026-01-31 21:00 local
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + HOUR, PhysicalState((230.0,), (1000.0,), (0.0,)))
    meter.set_clock(meter.meter_time_ms() + 5 * HOUR)  # 22:00 -> 03:00 on 1 February
    meter.advance(meter.now_ms + HOUR)
    records = [r for r in meter.recorder.drain() if r.profile == BILLING_PROFILE]
    assert [meter.clock.local(r.meter_ms) for r in records] == [datetime(2026, 2, 1)]
    assert records[0].values[2] == 1_000_000  # +A: 1 kWh in mWh
    assert records[0].status & 0x20  # clock adjusted
    assert meter.billing_periods == 1
