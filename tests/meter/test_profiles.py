"""Load profile captures in accelerated time: counts on DST days, status bits, values."""

from __future__ import annotations

from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import PhysicalState
from metertwin.meter.profiles import EntryStatus
from metertwin.meter.registers import Energy
from metertwin.models import DeviceModel

HOUR = 3_600_000
LOAD = PhysicalState((220.0,) * 3, (1000.0,) * 3, (0.0,) * 3)
DARK = PhysicalState((0.0,) * 3, (0.0,) * 3, (0.0,) * 3)
PROFILE = "1.0.99.1.0.255"
DAILY = "1.0.99.2.0.255"
STANDARD = "0.0.99.98.0.255"


def _records(meter: Meter, name: str) -> list:  # type: ignore[type-arg]
    return [r for r in meter.recorder.drain() if r.profile == name]


def test_a_23_hour_and_a_25_hour_day_have_92_and_100_quarter_hours(az3p: DeviceModel) -> None:
    """Seed 002 DST (az3p: 04:00 -> 05:00 on 2026-03-29, back on 2026-10-25): captures run on
    the meter's UTC clock, so the local day has 92 or 100 entries; DST entries carry 0x08."""
    spring = utc_ms(2026, 3, 28, 20)  # local midnight, UTC+4
    meter = Meter(az3p.spec, spring)
    meter.advance(spring + 23 * HOUR, LOAD)
    drained = meter.recorder.drain()
    entries = [r for r in drained if r.profile == PROFILE]
    assert len(entries) == 92
    # 00:15..03:45 standard time (15 entries); from the switch instant on, 05:00 DST (77)
    assert [bool(r.status & EntryStatus.DAYLIGHT_SAVING) for r in entries].count(True) == 77
    switch = spring + 4 * HOUR  # 04:00 local standard time
    assert [(r.meter_ms, r.values[-1]) for r in drained if r.profile == STANDARD] == [
        (switch, EventCode.DST_CHANGED)
    ]
    autumn = utc_ms(2026, 10, 24, 19)  # local midnight, UTC+5 (DST)
    meter = Meter(az3p.spec, autumn)
    meter.advance(autumn + 25 * HOUR, LOAD)
    assert len(_records(meter, PROFILE)) == 100
    assert meter.event_counts == {EventCode.DST_CHANGED: 1}


def test_entries_hold_the_registers_at_the_capture_instant(az3p: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 20)
    meter = Meter(az3p.spec, start)
    meter.advance(start + 2 * HOUR, LOAD)
    entries = _records(meter, PROFILE)
    assert [r.meter_ms - start for r in entries] == [k * 900_000 for k in range(1, 9)]
    # 3 kW: 750 Wh per quarter-hour; channel 2 is +A (mWh)
    assert [r.values[2] for r in entries] == [750_000 * k for k in range(1, 9)]
    assert entries[-1].values[2] == meter.energy_mwh(Energy.IMPORT_ACTIVE)
    assert entries[0].values[6] == 220.0  # voltage L1
    daily = _records(meter, DAILY)
    assert daily == []  # the first local midnight is still ahead


def test_a_three_hour_power_cut_flags_its_entries(az3p: DeviceModel) -> None:
    """Issue 5: a 3-hour power cut gives flagged profile entries (power down, 0x80)."""
    start = utc_ms(2026, 6, 1, 20)
    meter = Meter(az3p.spec, start)
    meter.advance(start + HOUR, LOAD)
    meter.advance(start + 4 * HOUR, DARK)
    meter.advance(start + 6 * HOUR, LOAD)
    flags = [bool(r.status & EntryStatus.POWER_DOWN) for r in _records(meter, PROFILE)]
    assert flags == [False] * 4 + [True] * 12 + [False] * 8
    assert meter.supply_failures[0] == 1


def test_setting_the_clock_flags_the_next_entry_and_keeps_the_grid(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 21)
    meter = Meter(pmm1220.spec, start)
    one_phase = PhysicalState((230.0,), (500.0,), (0.0,))
    meter.advance(start + HOUR, one_phase)
    meter.set_clock(meter.meter_time_ms() + 7 * 60_000)  # 7 minutes forward
    meter.advance(start + 2 * HOUR)
    entries = _records(meter, PROFILE)
    adjusted = [r for r in entries if r.status & EntryStatus.CLOCK_ADJUSTED]
    assert len(adjusted) == 1
    assert all(r.meter_ms % 900_000 == 0 for r in entries)
