"""Failures the meter's self-checks detect (issue 5 item 4: memory, relay, battery low,
clock invalid): each logged in the failure log with its alarm bit, and each acting where a
real meter acts: a lost real-time clock marks the time invalid until it is set, a stuck relay
refuses to move, a failed measuring system marks the profile data not valid.

Times worked by hand on a 15-minute profile starting 2026-06-01 00:00 UTC (pmm1220's clock
is UTC+4 without DST; profile instants are the meter's UTC ms).
"""

from __future__ import annotations

import dataclasses

import pytest
from tests.helpers import management_device, utc_ms

from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor
from metertwin.cosem.errors import CosemError
from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState, RelayStuck, Transition
from metertwin.meter.events import ALARM_BITS, LOG_OF, EventCode, EventLog
from metertwin.meter.inputs import Fault, InputSeries, PhysicalState
from metertwin.meter.profiles import EntryStatus
from metertwin.meter.registers import Energy
from metertwin.models import DeviceModel

T0 = utc_ms(2026, 6, 1)
HOUR, MINUTE = 3_600_000, 60_000
ON = PhysicalState((230.0,), (1000.0,), (0.0,))
LOAD_PROFILE = "1.0.99.1.0.255"
FAILURE_LOG = "0.0.99.98.7.255"


def _meter(model: DeviceModel) -> Meter:
    return Meter(dataclasses.replace(model.spec, wallet=None), T0)


def _with(fault: Fault) -> PhysicalState:
    return dataclasses.replace(ON, faults=fault)


def _entries(meter: Meter, profile: str, flag: EntryStatus) -> list[int]:
    return [
        r.meter_ms
        for r in meter.recorder.outbox
        if r.profile == profile and r.status & flag and r.meter_ms
    ]


def _logged(meter: Meter, profile: str) -> list[tuple[int, int]]:
    return [(r.meter_ms, r.values[1]) for r in meter.recorder.outbox if r.profile == profile]


@pytest.mark.parametrize(
    ("fault", "code", "bit"),
    [
        (Fault.PROGRAM_MEMORY_ERROR, EventCode.PROGRAM_MEMORY_ERROR, 8),
        (Fault.RAM_ERROR, EventCode.RAM_ERROR, 9),
        (Fault.NV_MEMORY_ERROR, EventCode.NV_MEMORY_ERROR, 10),
        (Fault.WATCHDOG_RESET, EventCode.WATCHDOG_ERROR, 11),
        (Fault.MEASUREMENT_ERROR, EventCode.MEASUREMENT_SYSTEM_ERROR, 12),
        (Fault.RTC_FAILURE, EventCode.CLOCK_INVALID, 0),
    ],
)
def test_each_failure_is_logged_once_in_the_failure_log_with_its_alarm_bit(
    pmm1220: DeviceModel, fault: Fault, code: EventCode, bit: int
) -> None:
    meter = _meter(pmm1220)
    start = T0 + 10 * HOUR + 7 * MINUTE
    meter.feed(
        InputSeries.from_states(
            [T0, start, start + HOUR], T0 + 12 * HOUR, [ON, _with(fault), _with(fault)]
        )
    )
    assert LOG_OF[code] is EventLog.FAILURE and ALARM_BITS[code] == bit
    assert _logged(meter, FAILURE_LOG) == [(start, int(code))]  # once, at its onset
    assert meter.event_counts[int(code)] == 1
    assert meter.alarms == 1 << bit


def test_a_lost_clock_marks_every_entry_invalid_until_the_clock_is_set(
    pmm1220: DeviceModel,
) -> None:
    lost = T0 + 10 * HOUR + 7 * MINUTE
    meter = _meter(pmm1220)
    meter.feed(
        InputSeries.from_states(
            [T0, lost, lost + 1000], T0 + 12 * HOUR, [ON, _with(Fault.RTC_FAILURE), ON]
        )
    )
    quarter = 15 * MINUTE
    invalid = _entries(meter, LOAD_PROFILE, EntryStatus.CLOCK_INVALID)
    # The clock stays invalid after the failure signal ends: 10:15 .. 12:00 all flagged.
    assert invalid == [T0 + 10 * HOUR + k * quarter for k in range(1, 9)]
    assert meter.clock.status(meter.meter_time_ms()) & 0x01
    # The state survives a restart; setting the clock is what clears it.
    meter = Meter.from_state(meter.spec, meter.to_state())
    assert meter.clock.status(meter.meter_time_ms()) & 0x01
    meter.set_clock(meter.meter_time_ms())
    meter.recorder.outbox.clear()
    meter.feed(InputSeries.from_states([T0 + 12 * HOUR], T0 + 13 * HOUR, [ON]))
    assert _entries(meter, LOAD_PROFILE, EntryStatus.CLOCK_INVALID) == []
    assert meter.event_counts[EventCode.CLOCK_INVALID] == 1


def test_a_failed_measuring_system_marks_its_entries_data_not_valid(
    pmm1220: DeviceModel,
) -> None:
    meter = _meter(pmm1220)
    begin, end = T0 + 10 * HOUR + 7 * MINUTE, T0 + 10 * HOUR + 37 * MINUTE
    meter.feed(
        InputSeries.from_states(
            [T0, begin, end], T0 + 12 * HOUR, [ON, _with(Fault.MEASUREMENT_ERROR), ON]
        )
    )
    quarter = 15 * MINUTE
    # Intervals ending 10:15, 10:30 and 10:45 contain faulty time; 10:00 and 11:00 do not.
    assert _entries(meter, LOAD_PROFILE, EntryStatus.DATA_NOT_VALID) == [
        T0 + 10 * HOUR + k * quarter for k in (1, 2, 3)
    ]


def test_a_stuck_relay_refuses_to_move_and_is_reported_once_per_fault(
    pmm1220: DeviceModel,
) -> None:
    meter = _meter(pmm1220)
    meter.disconnect.set_control_mode(2)
    meter.advance(T0 + HOUR, _with(Fault.RELAY_FAULT))
    for _ in range(2):
        with pytest.raises(RelayStuck):
            meter.operate_relay(Transition.REMOTE_DISCONNECT)
    assert meter.disconnect.state is ControlState.CONNECTED
    assert meter.event_counts[EventCode.RELAY_FAILURE] == 1
    assert meter.alarms & 1 << 22
    # The supply still flows through the welded contacts.
    meter.advance(T0 + 2 * HOUR, _with(Fault.RELAY_FAULT))
    assert meter.registers.micro(Energy.IMPORT_ACTIVE) == 1_000_000 * 2 * HOUR
    # Repaired: the relay obeys; a new fault is reported again.
    meter.advance(T0 + 2 * HOUR, ON)
    meter.operate_relay(Transition.REMOTE_DISCONNECT)
    assert meter.disconnect.state is ControlState.DISCONNECTED
    meter.advance(T0 + 3 * HOUR, _with(Fault.RELAY_FAULT))
    with pytest.raises(RelayStuck):
        meter.operate_relay(Transition.REMOTE_RECONNECT)
    assert meter.disconnect.state is ControlState.DISCONNECTED
    assert meter.event_counts[EventCode.RELAY_FAILURE] == 2
    assert [code for _, code in _logged(meter, FAILURE_LOG)] == [229, 229]


def test_a_stuck_relay_answers_hardware_fault_to_the_head_end(pmm1220: DeviceModel) -> None:
    meter, device, client = management_device("pmm1220", T0)
    meter.advance(T0 + MINUTE, _with(Fault.RELAY_FAULT))
    remote_disconnect = MethodDescriptor(70, Obis.parse("0.0.96.3.10.255"), 1)
    with pytest.raises(CosemError) as refused:
        device.action(client, remote_disconnect, None)
    assert refused.value.result is DataAccessResult.HARDWARE_FAULT
    assert meter.disconnect.output_state


def test_credit_running_out_behind_a_stuck_relay_cuts_once_the_relay_is_repaired(
    pmm1220: DeviceModel,
) -> None:
    start = T0 + 6 * HOUR  # Monday 10:00 local: outside pmm1220's friendly periods
    meter = Meter(pmm1220.spec, start)
    meter.set_credit(1)  # an active account with next to nothing: it runs out at once
    meter.advance(start + MINUTE, _with(Fault.RELAY_FAULT))
    meter.advance(start + HOUR, _with(Fault.RELAY_FAULT))
    assert meter.wallet is not None and meter.wallet.exhausted()
    assert meter.disconnect.output_state  # welded: still supplying
    assert meter.event_counts[EventCode.RELAY_FAILURE] == 1
    repaired = start + HOUR + 5 * MINUTE
    meter.feed(
        InputSeries.from_states(
            [start + HOUR, repaired], start + 2 * HOUR, [_with(Fault.RELAY_FAULT), ON]
        )
    )
    assert not meter.disconnect.output_state  # opened at the repair
    assert meter.disconnect.changes[-1].at_true_ms == repaired
    assert meter.event_counts[EventCode.RELAY_FAILURE] == 1


def test_seed_004_tamper_counters_count_their_events() -> None:
    """1.0.82.8.1-3 (seed 004 object list): terminal cover removals, DC field detections and
    disconnector tampering, the counts of events 40, 42 and 229."""
    meter, device, client = management_device("metercom-pro", T0)
    three = PhysicalState((230.0,) * 3, (500.0,) * 3, (0.0,) * 3)
    opened = dataclasses.replace(three, faults=Fault.TERMINAL_COVER_OPEN | Fault.MAGNETIC_FIELD)
    for k in range(3):
        meter.advance(T0 + (2 * k + 1) * MINUTE, opened)
        meter.advance(T0 + (2 * k + 2) * MINUTE, three)
    meter.advance(T0 + HOUR, dataclasses.replace(three, faults=Fault.RELAY_FAULT))
    with pytest.raises(RelayStuck):
        meter.operate_relay(Transition.REMOTE_DISCONNECT)

    def count(e: int) -> int:
        value = device.get(client, AttributeDescriptor(3, Obis(1, 0, 82, 8, e), 2), None)
        return value.as_int()

    assert (count(1), count(2), count(3)) == (3, 3, 1)
