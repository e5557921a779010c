"""Events come from the functions that cause them, with DLMS UA / IDIS codes, into the
logs that keep them (issue 5, item 4)."""

from __future__ import annotations

import pytest
from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.disconnect import Transition
from metertwin.meter.events import LOG_OF, EventCode, EventLog
from metertwin.meter.inputs import Fault, PhysicalState
from metertwin.meter.security import LoginOutcome
from metertwin.models import DeviceModel, load_model

HOUR = 3_600_000
STANDARD, FRAUD, DISCONNECT = "0.0.99.98.0.255", "0.0.99.98.1.255", "0.0.99.98.2.255"
POWER_QUALITY, SECURITY = "0.0.99.98.4.255", "0.0.99.98.5.255"
COMMUNICATION = "0.0.99.98.8.255"
MINUTE = 60_000


def _log(meter: Meter) -> dict[str, list[tuple[int, int]]]:
    logs: dict[str, list[tuple[int, int]]] = {}
    for record in meter.recorder.drain():
        if record.profile.startswith("0.0.99.98."):
            logs.setdefault(record.profile, []).append((record.meter_ms, int(record.values[1])))
    return logs


def test_a_three_hour_power_cut_gives_power_down_and_up_at_its_edges(az3p: DeviceModel) -> None:
    """Issue 5: a 3-hour power cut gives an event with start and end."""
    start = utc_ms(2026, 6, 1, 20)
    meter = Meter(az3p.spec, start)
    on = PhysicalState((220.0,) * 3, (500.0,) * 3, (0.0,) * 3)
    off = PhysicalState((0.0,) * 3, (0.0,) * 3, (0.0,) * 3)
    meter.advance(start + HOUR, on)
    meter.advance(start + 4 * HOUR, off)
    meter.advance(start + 5 * HOUR, on)
    assert _log(meter)[POWER_QUALITY] == [
        (start + HOUR, EventCode.POWER_DOWN),
        (start + 4 * HOUR, EventCode.POWER_UP),
    ]
    assert meter.event_counts[EventCode.POWER_DOWN] == 1


def test_covers_magnetic_field_and_phase_loss_are_logged(az3p: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 20)
    meter = Meter(az3p.spec, start)
    normal = PhysicalState((220.0,) * 3, (500.0,) * 3, (0.0,) * 3)
    opened = PhysicalState(
        (220.0, 0.0, 220.0),
        (500.0, 0.0, 500.0),
        (0.0,) * 3,
        faults=Fault.TERMINAL_COVER_OPEN | Fault.MAGNETIC_FIELD,
    )
    meter.advance(start + HOUR, normal)
    meter.advance(start + 2 * HOUR, opened)
    meter.advance(start + 3 * HOUR, normal)
    logs = _log(meter)
    assert logs[FRAUD] == [
        (start + HOUR, EventCode.TERMINAL_COVER_REMOVED),
        (start + HOUR, EventCode.STRONG_DC_FIELD),
        (start + 2 * HOUR, EventCode.TERMINAL_COVER_CLOSED),
        (start + 2 * HOUR, EventCode.NO_STRONG_DC_FIELD),
    ]
    assert logs[POWER_QUALITY] == [
        (start + HOUR, EventCode.PHASE_FAILURE_L2),
        (start + 2 * HOUR, EventCode.PHASE_RESTORED_L2),
    ]


def test_relay_clock_and_wrong_passwords_are_logged(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 21)
    meter = Meter(pmm1220.spec, start)
    meter.advance(start + HOUR)
    meter.operate_relay(Transition.REMOTE_DISCONNECT)
    meter.operate_relay(Transition.REMOTE_RECONNECT)  # mode 6: to ready, contacts still open
    meter.operate_relay(Transition.MANUAL_RECONNECT)
    before = meter.meter_time_ms()
    meter.set_clock(before + 60_000)
    for _ in range(3):
        meter.login("reader", b"wrong")
    logs = _log(meter)
    assert [code for _, code in logs[DISCONNECT]] == [
        EventCode.REMOTE_DISCONNECTION,
        EventCode.MANUAL_CONNECTION,
    ]
    assert logs[STANDARD] == [
        (before, EventCode.CLOCK_ADJUSTED_OLD),
        (before + 60_000, EventCode.CLOCK_ADJUSTED_NEW),
    ]
    assert [code for _, code in logs[SECURITY]] == [EventCode.WRONG_PASSWORDS]


def test_wrong_secrets_and_refusals_during_the_lockout_are_communication_events(
    pmm1220: DeviceModel,
) -> None:
    """Each wrong LLS secret is an authentication failure (220); the third starts the
    lockout (46, security log, seed 002 5.12); a login during the lockout, even with the
    right secret, is refused (221). Accepted logins log nothing."""
    start = utc_ms(2026, 6, 1, 21)
    meter = Meter(pmm1220.spec, start)
    right = pmm1220.spec.security.default_secrets["reader"]
    assert meter.login("reader", right) is LoginOutcome.ACCEPTED
    stamps = []
    for _ in range(3):
        meter.advance(meter.now_ms + MINUTE)
        stamps.append(meter.meter_time_ms())
        assert meter.login("reader", b"wrong") is LoginOutcome.WRONG_SECRET
    meter.advance(meter.now_ms + MINUTE)
    locked_at = meter.meter_time_ms()
    assert meter.login("reader", right) is LoginOutcome.LOCKED
    meter.advance(meter.now_ms + 30 * MINUTE)  # the lockout (30 minutes) is over
    assert meter.login("reader", right) is LoginOutcome.ACCEPTED
    logs = _log(meter)
    assert logs[COMMUNICATION] == [
        *((stamp, EventCode.AUTHENTICATION_FAILURE) for stamp in stamps),
        (locked_at, EventCode.ASSOCIATION_LOCKED_OUT),
    ]
    assert logs[SECURITY] == [(stamps[-1], EventCode.WRONG_PASSWORDS)]
    assert meter.event_counts[EventCode.AUTHENTICATION_FAILURE] == 3
    assert meter.event_counts[EventCode.ASSOCIATION_LOCKED_OUT] == 1


def test_communication_events_from_outside_the_core_are_stamped_and_counted(
    pmm1220: DeviceModel,
) -> None:
    """The server and the transport raise 222-224 through ``log_communication``; it takes
    communication codes only."""
    start = utc_ms(2026, 6, 1, 21)
    meter = Meter(pmm1220.spec, start)
    meter.set_clock(start + 5 * MINUTE)  # stamps are the meter's time, not the world's
    meter.recorder.drain()
    for code in (
        EventCode.ASSOCIATION_REFUSED,
        EventCode.CONNECTION_REFUSED,
        EventCode.CONNECTION_IDLE_CLOSED,
    ):
        meter.log_communication(code)
    assert _log(meter) == {
        COMMUNICATION: [
            (start + 5 * MINUTE, EventCode.ASSOCIATION_REFUSED),
            (start + 5 * MINUTE, EventCode.CONNECTION_REFUSED),
            (start + 5 * MINUTE, EventCode.CONNECTION_IDLE_CLOSED),
        ]
    }
    assert meter.event_counts[EventCode.CONNECTION_REFUSED] == 1
    with pytest.raises(ValueError, match="not a communication event"):
        meter.log_communication(EventCode.POWER_DOWN)


def test_codes_220_to_224_are_the_communication_log() -> None:
    communication = {code for code, log in LOG_OF.items() if log is EventLog.COMMUNICATION}
    assert communication == {EventCode(c) for c in range(220, 225)}


def test_metercom_pro_keeps_communication_events_in_its_internal_states_log() -> None:
    """Seed 004's object list has no communication log: its event log 4 (module internal
    states) keeps them; the lockout stays in event log 1 (critical states and attacks)."""
    model = load_model("metercom-pro")
    start = utc_ms(2026, 6, 1, 21)
    meter = Meter(model.spec, start)
    assert "meter-reader" in model.spec.security.default_secrets
    for _ in range(3):
        meter.login("meter-reader", b"wrong")
    meter.log_communication(EventCode.CONNECTION_REFUSED)
    logs: dict[str, list[int]] = {}
    for record in meter.recorder.drain():
        logs.setdefault(record.profile, []).append(int(record.values[1]))
    assert logs == {
        "1.0.99.98.3.255": [220, 220, 220, 223],
        "1.0.99.98.0.255": [EventCode.WRONG_PASSWORDS],
    }


def test_a_counter_reset_survives_a_restart_and_leaves_the_event_counts(
    pmm1220: DeviceModel,
) -> None:
    """A tamper counter (register class 3 reset) counts again from 0 after its reset; the
    meter's own count of the event (the event logs' counters) goes on, and both persist."""
    meter = Meter(pmm1220.spec, utc_ms(2026, 6, 1, 9))
    cover = EventCode.TERMINAL_COVER_REMOVED
    meter.log_event(cover)
    meter.log_event(cover)
    meter.reset_counter(cover)
    meter.log_event(cover)
    restored = Meter.from_state(pmm1220.spec, meter.to_state())
    assert restored.counted_since_reset(cover) == 1
    assert restored.event_counts[int(cover)] == 3
