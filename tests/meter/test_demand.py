"""Block and sliding demand with values worked out by hand (seed 002, 5.2; metrology.md)."""

from __future__ import annotations

import dataclasses

from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.demand import DemandConfig
from metertwin.meter.inputs import PhysicalState
from metertwin.meter.registers import Energy
from metertwin.models import DeviceModel

MINUTE = 60_000
A = Energy.IMPORT_ACTIVE


def load(watts: float) -> PhysicalState:
    return PhysicalState((230.0,), (watts,), (0.0,))


def test_block_demand_is_the_energy_of_the_period_over_its_length(pmm1220: DeviceModel) -> None:
    """15-minute block: 1 kW for 10 min then 4 kW for 5 min is 0.5 kWh in 15 min = 2 kW."""
    start = utc_ms(2026, 6, 1, 21)  # on a quarter-hour
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + 10 * MINUTE, load(1000.0))
    # running demand after 10 min: 1 kW x 10 min over the 15-min window = 666.666 W
    assert meter.demand.current_average_mw(A, meter.registers.micro(A)) == 666_666
    meter.advance(start + 15 * MINUTE, load(4000.0))
    assert meter.demand.last_average_mw[A] == 2_000_000
    maximum = meter.demand.maximum[A][0]
    assert maximum.value_mw == 2_000_000
    assert maximum.at_meter_ms == start + 15 * MINUTE
    assert meter.demand.maximum[A][meter.rate].value_mw == 2_000_000
    meter.advance(start + 30 * MINUTE, load(500.0))
    assert meter.demand.last_average_mw[A] == 500_000
    assert meter.demand.maximum[A][0].value_mw == 2_000_000  # the maximum stays


def test_sliding_demand_over_three_five_minute_sub_periods(pmm1220: DeviceModel) -> None:
    """Sub-periods of 5 min, window of 3: 1 kW, 1 kW, 4 kW -> 2 kW; then 0 -> 1.667 kW."""
    spec = dataclasses.replace(pmm1220.spec, demand=DemandConfig(300, 3))
    start = utc_ms(2026, 6, 1, 21)
    meter = Meter(spec, start)
    meter.advance(start + 10 * MINUTE, load(1000.0))
    meter.advance(start + 15 * MINUTE, load(4000.0))
    assert meter.demand.last_average_mw[A] == 2_000_000
    meter.advance(start + 20 * MINUTE, load(0.0))
    assert meter.demand.last_average_mw[A] == 1_666_666
    assert meter.demand.maximum[A][0].value_mw == 2_000_000


def test_export_and_apparent_demand_and_restore(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 21)
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + 15 * MINUTE, PhysicalState((230.0,), (-3000.0,), (4000.0,)))
    assert meter.demand.last_average_mw[Energy.EXPORT_ACTIVE] == 3_000_000
    restored = Meter.from_state(pmm1220.spec, meter.to_state())
    assert restored.demand.to_state() == meter.demand.to_state()


def test_a_demand_reset_starts_a_period_at_the_reset_instant(pmm1220: DeviceModel) -> None:
    """Class 5 reset 5 minutes into a block: the block restarts there and still ends on the
    demand grid, so the next average is the 10 minutes after the reset over 15 minutes."""
    start = utc_ms(2026, 6, 1, 21)
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + 5 * MINUTE, load(3000.0))
    meter.demand_reset()
    assert meter.demand.capture_ms == meter.demand.sub_period_start_ms == start + 5 * MINUTE
    meter.advance(start + 15 * MINUTE, load(1500.0))
    assert meter.demand.last_average_mw[A] == 1_000_000  # 1.5 kW x 10 min / 15 min
    assert meter.demand.capture_ms == start + 15 * MINUTE
