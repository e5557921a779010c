"""Single action schedules (class 22), the settable billing point and the local buttons,
in the core.

Schedules act on the meter's local wall time, so the tests compare local times.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState, Transition
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import Fault, InputSeries, PhysicalState
from metertwin.meter.profiles import BillingConfig
from metertwin.meter.schedules import LAST_DAY, ActionSchedule, ExecutionTime
from metertwin.meter.supervision import ScriptAction
from metertwin.models import DeviceModel

T0 = utc_ms(2026, 1, 10)
DAY = 86_400_000


def test_execution_time_wildcards_and_month_ends() -> None:
    every_day_6 = ExecutionTime(6, 0)
    assert every_day_6.next_after(datetime(2026, 1, 10, 5, 59)) == datetime(2026, 1, 10, 6, 0)
    assert every_day_6.next_after(datetime(2026, 1, 10, 6, 0)) == datetime(2026, 1, 11, 6, 0)
    month_end = ExecutionTime(23, 30, day=LAST_DAY)
    assert month_end.next_after(datetime(2026, 2, 1)) == datetime(2026, 2, 28, 23, 30)
    assert month_end.next_after(datetime(2028, 2, 1)) == datetime(2028, 2, 29, 23, 30)
    mondays = ExecutionTime(None, 15, weekday=1)  # every hour at :15 on Mondays
    assert mondays.next_after(datetime(2026, 1, 10, 12)) == datetime(2026, 1, 12, 0, 15)
    assert mondays.next_after(datetime(2026, 1, 12, 0, 15)) == datetime(2026, 1, 12, 1, 15)
    once = ExecutionTime(12, 0, year=2026, month=3, day=1)
    assert once.next_after(datetime(2026, 3, 1, 12)) is None
    with pytest.raises(ValueError):
        ExecutionTime(24, 0)


@given(
    hour=st.none() | st.integers(0, 23),
    minute=st.none() | st.integers(0, 59),
    day=st.none() | st.integers(1, 28) | st.just(LAST_DAY),
    weekday=st.none() | st.integers(1, 7),
    start=st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1)),
)
def test_next_after_is_later_and_matches(
    hour: int | None, minute: int | None, day: int | None, weekday: int | None, start: datetime
) -> None:
    entry = ExecutionTime(hour, minute, day=day, weekday=weekday)
    found = entry.next_after(start)
    assert found is not None and found > start
    assert hour is None or found.hour == hour
    assert minute is None or found.minute == minute
    assert weekday is None or found.isoweekday() == weekday
    assert found.second == 0


def _meter(model: DeviceModel) -> Meter:
    return Meter(dataclasses.replace(model.spec, wallet=None, control_mode=6), T0)


def test_a_nightly_disconnect_schedule_runs_at_local_time(pmm1220: DeviceModel) -> None:
    meter = _meter(pmm1220)
    meter.set_action_schedule(
        "night", ActionSchedule(ScriptAction.DISCONNECT, (ExecutionTime(22, 0),))
    )
    meter.set_action_schedule(
        "morning", ActionSchedule(ScriptAction.RECONNECT, (ExecutionTime(6, 30),))
    )
    cuts: list[datetime] = []
    for _ in range(3 * 24 * 4 + 4 * 4):  # until 4 h after the start, 3 days later
        was = meter.disconnect.output_state
        meter.advance(meter.now_ms + 15 * 60_000)
        if was and not meter.disconnect.output_state:
            cuts.append(meter.local_time())
    assert [c.time().isoformat() for c in cuts] == ["22:00:00"] * 3
    assert meter.disconnect.state is ControlState.CONNECTED  # 06:30 reconnected
    disconnections = meter.event_counts[EventCode.LOCAL_DISCONNECTION]
    assert disconnections == 3 and meter.event_counts[EventCode.LOCAL_CONNECTION] == 3


def test_the_billing_point_moves_to_day_15_at_06_00(pmm1220: DeviceModel) -> None:
    meter = _meter(pmm1220)
    meter.set_billing_point(BillingConfig(15, 6))
    meter.advance(T0 + 40 * DAY)
    assert meter.billing_periods == 2  # 15 Jan and 15 Feb
    assert meter.last_billing_ms is not None
    assert meter.clock.local(meter.last_billing_ms) == datetime(2026, 2, 15, 6, 0)
    again = Meter.from_state(meter.spec, meter.to_state())
    assert again.billing == BillingConfig(15, 6)


def test_the_local_buttons_reset_billing_and_reconnect_at_the_press(
    pmm1220: DeviceModel,
) -> None:
    """Seed 002 5.1: a billing reset by the local button; the customer's relay button."""
    meter = Meter(dataclasses.replace(pmm1220.spec, wallet=None, control_mode=1), T0)
    idle = PhysicalState((230.0,), (1000.0,), (0.0,))
    billing = dataclasses.replace(idle, faults=Fault.BILLING_BUTTON)
    press = T0 + 3 * 3_600_000 + 1234
    meter.feed(
        InputSeries.from_states([T0, press, press + 800], T0 + DAY // 2, [idle, billing, idle])
    )
    assert meter.billing_periods == 1
    assert meter.last_billing_ms == meter.clock.meter_ms(press)
    snapshot = [r for r in meter.recorder.outbox if r.profile == "1.0.98.1.0.255"]
    assert [r.meter_ms for r in snapshot] == [meter.clock.meter_ms(press)]
    assert snapshot[0].values[2] == 1_000_000 * (press - T0) // 3_600_000  # +A, mWh, at press
    meter.operate_relay(Transition.REMOTE_DISCONNECT)
    meter.operate_relay(Transition.REMOTE_RECONNECT)  # mode 1: ready for the customer
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    relay = dataclasses.replace(idle, faults=Fault.RELAY_BUTTON)
    meter.advance(meter.now_ms, relay)
    assert meter.disconnect.output_state
    meter.advance(meter.now_ms + 500)  # held down: one press, one transition
    assert meter.disconnect.output_state
    pressed_at = meter.now_ms + 60_000
    meter.advance(pressed_at, idle)
    meter.advance(pressed_at + 1000, billing)  # pressed exactly as a new advance begins
    assert meter.last_billing_ms == meter.clock.meter_ms(pressed_at)
