"""Limiters and register monitors in the core (issue 3 item 2: classes 71 and 21 act).

Times are worked out by hand from piecewise-constant loads: a limiter of 2 kW with 60 s
over and 30 s under durations, fed 3 kW from 00:10:00, disconnects at 00:11:00 exactly,
and with nothing flowing through the open relay it reconnects at 00:11:30 (control mode 6
allows local reconnection), then trips again at 00:12:30 while the 3 kW persists.
"""

from __future__ import annotations

import dataclasses

from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState, Transition
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.registers import MICRO_PER_MILLI_WH, Energy
from metertwin.meter.supervision import Quantity, ScriptAction, SupervisorConfig
from metertwin.models import DeviceModel

T0 = utc_ms(2026, 3, 2)
SECOND, MINUTE = 1000, 60_000
IDLE = PhysicalState((230.0,), (300.0,), (0.0,))
HEAVY = PhysicalState((230.0,), (3000.0,), (0.0,))
LIMITER = SupervisorConfig(
    Quantity.ACTIVE_POWER,
    0,
    2000.0,
    over_ms=60 * SECOND,
    under_ms=30 * SECOND,
    action_over=ScriptAction.DISCONNECT,
    action_under=ScriptAction.RECONNECT,
    limiter=True,
)


def _meter(model: DeviceModel, control_mode: int = 6) -> Meter:
    spec = dataclasses.replace(model.spec, wallet=None, control_mode=control_mode)
    return Meter(spec, T0)


def _relay_log(meter: Meter) -> list[tuple[int, int]]:
    """(world ms, event code) of relay and limiter events, in order."""
    codes = {
        EventCode.LOCAL_DISCONNECTION,
        EventCode.LOCAL_CONNECTION,
        EventCode.LIMITER_THRESHOLD_EXCEEDED,
        EventCode.LIMITER_THRESHOLD_OK,
    }
    out = []
    for record in meter.recorder.outbox:
        if record.values and record.values[-1] in codes and record.profile == "0.0.99.98.2.255":
            out.append((meter.clock.true_ms_for(record.meter_ms), int(record.values[-1])))
    return out


def test_power_limiter_cuts_after_the_over_duration_and_restores_after_the_under(
    pmm1220: DeviceModel,
) -> None:
    meter = _meter(pmm1220)
    meter.configure_supervisor("limiter", LIMITER)
    series = InputSeries.from_states(
        [T0, T0 + 10 * MINUTE, T0 + 13 * MINUTE], T0 + 20 * MINUTE, [IDLE, HEAVY, IDLE]
    )
    meter.feed(series)
    cut, back = T0 + 11 * MINUTE, T0 + 11 * MINUTE + 30 * SECOND
    again = back + MINUTE  # 3 kW still drawn: over for another 60 s
    # 3 kW from 12:30 until 13:00 is only 30 s over: no further trip; restored 30 s later.
    assert _relay_log(meter) == [
        (cut, EventCode.LIMITER_THRESHOLD_EXCEEDED),
        (cut, EventCode.LOCAL_DISCONNECTION),
        (back, EventCode.LIMITER_THRESHOLD_OK),
        (back, EventCode.LOCAL_CONNECTION),
        (again, EventCode.LIMITER_THRESHOLD_EXCEEDED),
        (again, EventCode.LOCAL_DISCONNECTION),
        (again + 30 * SECOND, EventCode.LIMITER_THRESHOLD_OK),
        (again + 30 * SECOND, EventCode.LOCAL_CONNECTION),
    ]
    assert meter.disconnect.state is ControlState.CONNECTED
    # Energy flowed only while connected: exact to the millisecond of each transition.
    heavy_ms = (cut - (T0 + 10 * MINUTE)) + (again - back)
    idle_ms = 20 * MINUTE - 3 * MINUTE
    expected_uj = 3_000_000 * heavy_ms + 300_000 * idle_ms
    assert meter.registers.micro(Energy.IMPORT_ACTIVE) == expected_uj


def test_a_short_peak_below_the_over_duration_does_not_trip(pmm1220: DeviceModel) -> None:
    meter = _meter(pmm1220)
    meter.configure_supervisor("limiter", LIMITER)
    series = InputSeries.from_states(
        [T0, T0 + MINUTE, T0 + MINUTE + 59 * SECOND], T0 + 5 * MINUTE, [IDLE, HEAVY, IDLE]
    )
    meter.feed(series)
    assert _relay_log(meter) == []
    assert meter.disconnect.output_state


def test_in_a_mode_without_local_reconnection_the_customer_presses_the_button(
    pmm1220: DeviceModel,
) -> None:
    meter = _meter(pmm1220, control_mode=1)
    meter.configure_supervisor("limiter", LIMITER)
    meter.advance(T0 + 5 * MINUTE, HEAVY)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    meter.advance(T0 + 10 * MINUTE, HEAVY)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION  # waits for the button
    meter.operate_relay(Transition.MANUAL_RECONNECT)
    assert meter.disconnect.output_state
    meter.advance(T0 + 10 * MINUTE + 59 * SECOND, HEAVY)
    assert meter.disconnect.output_state
    meter.advance(T0 + 11 * MINUTE, HEAVY)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION


def test_the_power_limit_token_value_drives_a_limiter_that_follows_it(
    pmm1220: DeviceModel,
) -> None:
    meter = _meter(pmm1220)
    follows = dataclasses.replace(LIMITER, threshold=0.0, follows_power_limit=True)
    meter.configure_supervisor("limiter", follows)
    meter.advance(T0 + 5 * MINUTE, HEAVY)
    assert meter.disconnect.output_state  # no limit set yet
    meter.set_power_limit(2500)
    meter.advance(T0 + 6 * MINUTE - 1, HEAVY)
    assert meter.disconnect.output_state
    meter.advance(T0 + 6 * MINUTE, HEAVY)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    meter.set_power_limit(None)  # lifting the limit gives the supply back at once
    assert meter.disconnect.output_state


def test_a_register_monitor_acts_on_each_crossing_of_the_voltage(pmm1220: DeviceModel) -> None:
    meter = _meter(pmm1220)
    monitor = SupervisorConfig(
        Quantity.VOLTAGE,
        1,
        253.0,
        action_over=ScriptAction.DISCONNECT,
        action_under=ScriptAction.RECONNECT,
    )
    meter.configure_supervisor("monitor#1", monitor)
    high = PhysicalState((260.0,), (300.0,), (0.0,))
    series = InputSeries.from_states(
        [T0, T0 + MINUTE, T0 + 2 * MINUTE], T0 + 3 * MINUTE, [IDLE, high, IDLE]
    )
    meter.feed(series)
    assert _relay_log(meter) == [
        (T0 + MINUTE, EventCode.LOCAL_DISCONNECTION),
        (T0 + 2 * MINUTE, EventCode.LOCAL_CONNECTION),
    ]


def test_an_energy_limiter_trips_where_the_import_register_reaches_its_threshold(
    pmm1220: DeviceModel,
) -> None:
    meter = _meter(pmm1220)
    energy = SupervisorConfig(
        Quantity.IMPORT_ENERGY, 0, 100.0, action_over=ScriptAction.DISCONNECT, limiter=True
    )
    meter.configure_supervisor("energy", energy)
    meter.advance(T0 + 3 * 3_600_000, HEAVY)  # 3 kW reaches 100 Wh after 120 s
    assert _relay_log(meter)[0] == (T0 + 120 * SECOND, EventCode.LIMITER_THRESHOLD_EXCEEDED)
    assert meter.registers.micro(Energy.IMPORT_ACTIVE) == 100_000 * MICRO_PER_MILLI_WH
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION


def test_limiter_state_survives_a_restart(pmm1220: DeviceModel) -> None:
    meter = _meter(pmm1220)
    meter.configure_supervisor("limiter", LIMITER)
    meter.advance(T0 + 70 * SECOND, HEAVY)  # tripped at 60 s; restored 30 s later
    assert meter.supervision.holds_relay_open()
    again = Meter.from_state(meter.spec, meter.to_state())
    again.configure_supervisor("limiter", LIMITER)
    assert again.supervision.holds_relay_open()
    again.advance(T0 + 90 * SECOND - 1)
    assert not again.disconnect.output_state
    again.advance(T0 + 90 * SECOND)
    assert again.disconnect.output_state
