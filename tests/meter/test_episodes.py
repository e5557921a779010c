"""Episodes with start and end (seed 002 5.5), the 3-hour power cut of issue 5, and the
alarm register with its filter.

A cut from 10:07 to 13:07 UTC on a 15-minute profile: the entries captured at 10:15 through
13:15 cover time without supply (13 entries, the last one because the supply came back during
its interval), so they carry the power-down bit 0x80; 10:00 and 13:30 do not. No energy is
registered while the supply is off.
"""

from __future__ import annotations

import dataclasses

import pytest
from tests.helpers import management_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.errors import CosemError
from metertwin.meter.core import Meter
from metertwin.meter.disconnect import Transition
from metertwin.meter.episodes import LAST_EPISODES, Episode
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import Fault, InputSeries, PhysicalState
from metertwin.meter.profiles import EntryStatus
from metertwin.meter.registers import Energy
from metertwin.meter.supervision import Quantity, ScriptAction, SupervisorConfig
from metertwin.models import DeviceModel
from metertwin.models.values import date_time_data

T0 = utc_ms(2026, 6, 1)
HOUR, MINUTE = 3_600_000, 60_000
ON = PhysicalState((230.0,), (1000.0,), (0.0,))
OFF = PhysicalState((0.0,), (1000.0,), (0.0,))


def _meter(model: DeviceModel) -> Meter:
    return Meter(dataclasses.replace(model.spec, wallet=None), T0)


def test_a_three_hour_power_cut_is_one_episode_and_flags_the_profile(
    pmm1220: DeviceModel,
) -> None:
    meter = _meter(pmm1220)
    cut, back = T0 + 10 * HOUR + 7 * MINUTE, T0 + 13 * HOUR + 7 * MINUTE
    meter.feed(InputSeries.from_states([T0, cut, back], T0 + 14 * HOUR, [ON, OFF, ON]))
    assert meter.episodes.counts[Episode.POWER_OFF] == 1
    assert meter.episodes.episodes(Episode.POWER_OFF) == [
        (meter.clock.meter_ms(cut), meter.clock.meter_ms(back))
    ]
    flagged = [
        record.meter_ms
        for record in meter.recorder.outbox
        if record.profile == "1.0.99.1.0.255" and record.status & EntryStatus.POWER_DOWN
    ]
    quarter = 15 * MINUTE
    assert flagged == [T0 + 10 * HOUR + k * quarter for k in range(1, 14)]
    supplied_ms = 14 * HOUR - 3 * HOUR
    assert meter.registers.micro(Energy.IMPORT_ACTIVE) == 1_000_000 * supplied_ms


def test_covers_and_tamper_episodes_keep_the_last_ten_and_the_count(pmm1220: DeviceModel) -> None:
    meter = _meter(pmm1220)
    open_cover = dataclasses.replace(ON, faults=Fault.METER_COVER_OPEN | Fault.MAGNETIC_FIELD)
    for k in range(12):
        meter.advance(T0 + (2 * k + 1) * MINUTE, open_cover)
        meter.advance(T0 + (2 * k + 2) * MINUTE, ON)
    meter.advance(T0 + 30 * MINUTE, open_cover)  # still open
    assert meter.episodes.counts[Episode.METER_COVER_OPEN] == 13
    assert meter.episodes.counts[Episode.TAMPER] == 13
    last = meter.episodes.episodes(Episode.METER_COVER_OPEN)
    assert len(last) == LAST_EPISODES
    assert last[0] == (meter.clock.meter_ms(T0 + 24 * MINUTE), None)
    assert last[1] == (
        meter.clock.meter_ms(T0 + 22 * MINUTE),
        meter.clock.meter_ms(T0 + 23 * MINUTE),
    )
    again = Meter.from_state(meter.spec, meter.to_state())
    assert again.episodes.episodes(Episode.TAMPER) == meter.episodes.episodes(Episode.TAMPER)


def test_an_overload_cut_lasts_until_the_supply_is_reconnected(pmm1220: DeviceModel) -> None:
    meter = Meter(dataclasses.replace(pmm1220.spec, wallet=None, control_mode=1), T0)
    limiter = SupervisorConfig(
        Quantity.ACTIVE_POWER, 0, 500.0, over_ms=1000, action_over=ScriptAction.DISCONNECT
    )
    meter.configure_supervisor("limiter", limiter)
    meter.advance(T0 + MINUTE, ON)
    meter.operate_relay(Transition.MANUAL_RECONNECT)  # the customer's button, at 00:01
    assert meter.episodes.episodes(Episode.OVERLOAD_CUT) == [
        (meter.clock.meter_ms(T0 + 1000), meter.clock.meter_ms(T0 + MINUTE))
    ]


def test_the_records_read_over_cosem_with_count_start_and_end() -> None:
    meter, device, ctx = management_device("pmm1220", T0)
    meter.advance(T0 + HOUR, OFF)
    meter.advance(T0 + 2 * HOUR, ON)
    power_off = AttributeDescriptor(1, Obis(0, 0, 96, 129, int(Episode.POWER_OFF)), 2)
    clock = meter.clock
    assert device.get(ctx, power_off, None) == Data.structure(
        [
            Data.double_long_unsigned(1),
            Data.array(
                [
                    Data.structure(
                        [
                            date_time_data(clock, clock.meter_ms(T0)),
                            date_time_data(clock, clock.meter_ms(T0 + HOUR)),
                        ]
                    )
                ]
            ),
        ]
    )
    meter.shift_clock(90)
    settings = device.get(ctx, AttributeDescriptor(1, Obis(0, 0, 96, 129, 0), 2), None)
    count, last = settings.as_items()
    assert count == Data.double_long_unsigned(1)
    before, after = last.as_items()[0].as_items()
    assert before == date_time_data(clock, clock.settings[-1].before_ms)
    assert after == date_time_data(clock, clock.settings[-1].after_ms)


def test_the_alarm_register_keeps_filtered_alarms_until_written_back(
    pmm1220: DeviceModel,
) -> None:
    meter = _meter(pmm1220)
    meter.alarm_filter = ~(1 << 2) & 0xFFFFFFFF  # power up not reported
    opened = dataclasses.replace(ON, faults=Fault.TERMINAL_COVER_OPEN | Fault.BATTERY_LOW)
    meter.advance(T0 + MINUTE, OFF)
    meter.advance(T0 + 2 * MINUTE, opened)
    assert meter.alarms == (1 << 13) | (1 << 3)  # fraud attempt, battery low
    meter.write_alarm_register(1 << 3)  # the head-end handled the fraud alarm
    assert meter.alarms == 1 << 3
    assert meter.event_counts[EventCode.ALARM_REGISTER_CLEARED] == 1
    with pytest.raises(ValueError, match="only set alarm bits"):
        meter.write_alarm_register((1 << 3) | (1 << 5))
    assert meter.event_counts[EventCode.BATTERY_LOW] == 1
    assert meter.event_counts[EventCode.TERMINAL_COVER_REMOVED] == 1


def test_alarms_read_and_clear_over_cosem() -> None:
    meter, device, ctx = management_device("az3p", T0)
    dark = PhysicalState((0.0,) * 3, (0.0,) * 3, (0.0,) * 3)
    meter.advance(T0 + MINUTE, dark)
    meter.advance(T0 + 2 * MINUTE, PhysicalState((230.0,) * 3, (0.0,) * 3, (0.0,) * 3))
    register = AttributeDescriptor(1, Obis(0, 0, 97, 98, 0), 2)
    assert device.get(ctx, register, None) == Data.double_long_unsigned(1 << 2)  # power up
    device.set(ctx, register, None, Data.double_long_unsigned(0))
    assert meter.alarms == 0
    with pytest.raises(CosemError) as caught:
        device.set(ctx, register, None, Data.double_long_unsigned(1))
    assert caught.value.result is DataAccessResult.TYPE_UNMATCHED
    filter_ = AttributeDescriptor(1, Obis(0, 0, 97, 98, 10), 2)
    device.set(ctx, filter_, None, Data.double_long_unsigned(0))
    meter.advance(T0 + 3 * MINUTE, dark)
    meter.advance(T0 + 4 * MINUTE, PhysicalState((230.0,) * 3, (0.0,) * 3, (0.0,) * 3))
    assert device.get(ctx, register, None) == Data.double_long_unsigned(0)
