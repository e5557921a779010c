"""The low power factor cut of seed 002 (5.5 k: "cut off the power supply when the power
factor is low, and record the total number of times of the cutting, as well as the starting
and ending time of the last 10 actions"), as the az3p's power factor register monitor
0.0.16.0.3.255 armed by a head-end.

Loads worked by hand, per phase of the three-phase az3p: P = 960 W, Q = 280 var gives
S = 1000 VA and PF = 0.96; a motor P = 280 W, Q = 960 var gives PF = 0.28. The monitor's
threshold 500 (scaler -3 of 1.0.13.7.0) is 0.5.
"""

from __future__ import annotations

import pytest
from tests.helpers import management_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.errors import CosemError
from metertwin.meter.disconnect import ControlState, Transition
from metertwin.meter.episodes import Episode
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.registers import Energy

T0 = utc_ms(2026, 5, 4, 6)
MINUTE = 60_000
HOUR = 60 * MINUTE
PF_MONITOR = Obis(0, 0, 16, 0, 3)
SCRIPTS = Obis(0, 0, 10, 0, 106)
GOOD = PhysicalState((230.0,) * 3, (960.0,) * 3, (280.0,) * 3)
MOTOR = PhysicalState((230.0,) * 3, (280.0,) * 3, (960.0,) * 3)


def _script(number: int) -> Data:
    return Data.structure([Data.octet_string(bytes(SCRIPTS)), Data.long_unsigned(number)])


def _actions(up: int, down: int) -> Data:
    return Data.array([Data.structure([_script(up), _script(down)])])


def test_a_low_power_factor_cuts_the_supply_and_records_each_cut() -> None:
    meter, device, ctx = management_device("az3p", T0)
    monitored = device.get(ctx, AttributeDescriptor(21, PF_MONITOR, 3), None).as_items()
    assert monitored[1] == Data.octet_string(bytes(Obis(1, 0, 13, 7, 0)))
    device.set(ctx, AttributeDescriptor(21, PF_MONITOR, 4), None, _actions(0, 1))

    motor_on, motor_off = T0 + 7 * MINUTE, T0 + 40 * MINUTE
    meter.feed(InputSeries.from_states([T0, motor_on, motor_off], T0 + HOUR, [GOOD, MOTOR, GOOD]))
    change = meter.disconnect.changes[-1]
    assert (change.at_true_ms, change.transition) == (motor_on, Transition.LOCAL_DISCONNECT)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    # Energy flowed only before the cut: 3 x 960 W for 7 minutes.
    assert meter.registers.micro(Energy.IMPORT_ACTIVE) == 3 * 960 * 1000 * 7 * MINUTE
    assert meter.episodes.counts[Episode.LOW_POWER_FACTOR_CUT] == 1
    assert meter.episodes.episodes(Episode.LOW_POWER_FACTOR_CUT) == [
        (meter.clock.meter_ms(motor_on), None)
    ]
    assert meter.event_counts[EventCode.LOCAL_DISCONNECTION] == 1

    # The customer reconnects while the motor runs again: cut at once, a second episode.
    again = T0 + HOUR
    meter.feed(InputSeries.from_states([again], again + 10 * MINUTE, [MOTOR]))
    meter.operate_relay(Transition.MANUAL_RECONNECT)
    assert not meter.disconnect.output_state
    assert meter.episodes.counts[Episode.LOW_POWER_FACTOR_CUT] == 2
    stamp = meter.clock.meter_ms(again + 10 * MINUTE)
    assert meter.episodes.episodes(Episode.LOW_POWER_FACTOR_CUT)[0] == (stamp, None)
    assert meter.episodes.episodes(Episode.LOW_POWER_FACTOR_CUT)[1] == (
        meter.clock.meter_ms(motor_on),
        stamp,
    )
    # With a good load the reconnection holds and the second episode ends.
    later = again + 20 * MINUTE
    meter.feed(InputSeries.from_states([again + 10 * MINUTE], later, [GOOD]))
    meter.operate_relay(Transition.MANUAL_RECONNECT)
    assert meter.disconnect.output_state
    assert meter.episodes.episodes(Episode.LOW_POWER_FACTOR_CUT)[0] == (
        stamp,
        meter.clock.meter_ms(later),
    )
    record = device.get(ctx, AttributeDescriptor(1, Obis(0, 0, 96, 129, 9), 2), None)
    assert record.as_items()[0] == Data.double_long_unsigned(2)


def test_a_monitor_that_would_reconnect_the_load_it_cut_is_refused() -> None:
    meter, device, ctx = management_device("az3p", T0)
    before = device.get(ctx, AttributeDescriptor(21, PF_MONITOR, 4), None)
    with pytest.raises(CosemError) as refused:  # up: reconnect, down: disconnect
        device.set(ctx, AttributeDescriptor(21, PF_MONITOR, 4), None, _actions(2, 1))
    assert refused.value.result is DataAccessResult.OBJECT_UNAVAILABLE
    assert device.get(ctx, AttributeDescriptor(21, PF_MONITOR, 4), None) == before
    meter.advance(T0 + HOUR, MOTOR)
    assert meter.disconnect.output_state  # nothing armed
