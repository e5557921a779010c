"""Events come from the functions that cause them, with DLMS UA / IDIS codes, into the
logs that keep them (issue 5, item 4)."""

from __future__ import annotations

from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.disconnect import Transition
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import Fault, PhysicalState
from metertwin.models import DeviceModel

HOUR = 3_600_000
STANDARD, FRAUD, DISCONNECT = "0.0.99.98.0.255", "0.0.99.98.1.255", "0.0.99.98.2.255"
POWER_QUALITY, SECURITY = "0.0.99.98.4.255", "0.0.99.98.5.255"


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
