"""Values that look live are live (issue 11, 9): a constant dressed as a measurement is
false data to a head-end. Seed 004's relay states, operating status, error code, rate and
period objects read the meter's state; every `functions` entry of a model is implemented."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from tests.helpers import utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState, Transition
from metertwin.meter.inputs import Fault, PhysicalState
from metertwin.meter.profiles import BILLING
from metertwin.models import DeviceModel, builtin_model_names, load_model
from metertwin.models.binder import build_logical_device
from metertwin.models.loader import IMPLEMENTED_FUNCTIONS
from metertwin.schema import SchemaError

ACTIVE_RATE = Obis(0, 0, 96, 14, 0)
TARIFF_RATE_CONFIGURATION = Obis(0, 0, 129, 0, 2)
RELAY_STATES = (Obis(0, 0, 96, 14, 1), Obis(0, 0, 96, 14, 2))
RELAY_CONFIGURATIONS = (Obis(0, 0, 129, 0, 0), Obis(0, 0, 129, 0, 1))
METER_ERROR_CODE = Obis(0, 0, 97, 97, 0)
OPERATING_STATUS = Obis(1, 0, 96, 5, 0)


def _metercom(start_ms: int) -> tuple[Meter, LogicalDevice, AssociationContext]:
    model = load_model("metercom-pro")
    meter = Meter(model.spec, start_ms, "12345678")
    device = build_logical_device(model, meter, lambda: None)
    policy = device.association_policy(1)  # utility-setting
    assert policy is not None
    return meter, device, AssociationContext(policy, 1, 1, policy.conformance, 1024, 1024, True)


def _get(device: LogicalDevice, ctx: AssociationContext, class_id: int, obis: Obis, a: int) -> Data:
    return device.get(ctx, AttributeDescriptor(class_id, obis, a), None)


def _idle(meter: Meter, faults: Fault = Fault.NONE) -> PhysicalState:
    return replace(PhysicalState.idle(meter.spec.ratings.phases, 230.0), faults=faults)


def test_the_tariff_rate_object_reads_the_active_rate_across_a_switch() -> None:
    """metercom-pro's weekday: rate 1 from 06:00, rate 2 from 13:00 local (CEST, UTC+2)."""
    meter, device, ctx = _metercom(utc_ms(2026, 5, 4, 8))  # Monday 10:00 local
    rates = []
    for hour_utc in (8, 11, 13, 18):  # 10:00 (1), 13:00 (2), 15:00 (1), 20:00 (2) local
        meter.advance(utc_ms(2026, 5, 4, hour_utc, 0, 1), _idle(meter))
        active = _get(device, ctx, 1, ACTIVE_RATE, 2)
        assert _get(device, ctx, 8194, TARIFF_RATE_CONFIGURATION, 3) == active
        rates.append(active.as_int())
    assert rates == [1, 2, 1, 2]
    assert _get(device, ctx, 8194, TARIFF_RATE_CONFIGURATION, 2) == Data.unsigned(6)
    rights = ctx.policy.rights[TARIFF_RATE_CONFIGURATION]
    assert not rights.attribute(3).writable  # the calendar sets the rate, not a SET


def test_the_relay_state_objects_follow_a_disconnect_and_a_reconnect() -> None:
    """Seed 004, control mode 1: remote disconnect (b), remote reconnect to ready (d), the
    customer's button connects (e)."""
    meter, device, ctx = _metercom(utc_ms(2026, 5, 4, 8))

    def states() -> list[bool]:
        read = [_get(device, ctx, 1, obis, 2) for obis in RELAY_STATES]
        read += [_get(device, ctx, 8193, obis, 2) for obis in RELAY_CONFIGURATIONS]
        return [value.as_bool() for value in read]

    assert states() == [True] * 4
    meter.operate_relay(Transition.REMOTE_DISCONNECT)
    assert meter.disconnect.state is ControlState.DISCONNECTED
    assert states() == [False] * 4
    meter.operate_relay(Transition.REMOTE_RECONNECT)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    assert states() == [False] * 4
    meter.operate_relay(Transition.MANUAL_RECONNECT)
    assert states() == [True] * 4


def test_the_meter_error_code_shows_the_failures_present() -> None:
    """A relay fault and a failed real-time clock set their bits (docs/dlms.md); the relay
    fault's clears when it is repaired, the clock's when the clock is set."""
    meter, device, ctx = _metercom(utc_ms(2026, 5, 4, 8))
    assert _get(device, ctx, 1, METER_ERROR_CODE, 2) == Data.double_long_unsigned(0)
    meter.advance(meter.now_ms + 60_000, _idle(meter, Fault.RELAY_FAULT | Fault.RTC_FAILURE))
    assert _get(device, ctx, 1, METER_ERROR_CODE, 2) == Data.double_long_unsigned(0x04 | 0x01)
    meter.advance(meter.now_ms + 60_000, _idle(meter))
    assert _get(device, ctx, 1, METER_ERROR_CODE, 2) == Data.double_long_unsigned(0x01)


@pytest.mark.parametrize(("month", "status"), [(1, 0x00), (5, 0x08)])
def test_the_operating_status_is_the_status_the_profiles_capture(month: int, status: int) -> None:
    """1.0.96.5.0.255 is the status column of metercom-pro's profiles: DST active (0x08) in
    May, nothing in January; the 15-minute profile's next entry carries the same."""
    meter, device, ctx = _metercom(utc_ms(2026, month, 5, 8))
    meter.advance(meter.now_ms + 20 * 60_000, _idle(meter))
    assert _get(device, ctx, 1, OPERATING_STATUS, 2) == Data.double_long_unsigned(status)
    columns = _get(device, ctx, 7, Obis(1, 0, 99, 1, 0), 3).as_items()
    assert columns[1].as_items()[1] == Data.octet_string(bytes(OPERATING_STATUS))
    rows = _get(device, ctx, 7, Obis(1, 0, 99, 1, 0), 2).as_items()
    assert rows[-1].as_items()[1] == Data.double_long_unsigned(status)


def test_the_period_objects_read_the_periods_the_meter_uses() -> None:
    """Seed 004: demand integration period (15 min block demand), profile 1 and 2 capture
    periods (15 min and, in metercom-pro.toml, hourly: not the 86400 s it read before)."""
    _, device, ctx = _metercom(utc_ms(2026, 5, 4, 8))
    periods = [_get(device, ctx, 1, Obis(1, 0, 0, 8, e), 2).as_int() for e in (0, 4, 5)]
    assert periods == [900, 900, 3600]


# -- functions -----------------------------------------------------------------------------


def _served(model: DeviceModel) -> set[tuple[int, Obis]]:
    meter = Meter(model.spec, utc_ms(2026, 5, 4, 8), "12345678")
    device = build_logical_device(model, meter, lambda: None)
    return {(obj.class_id, obis) for obis, obj in device.objects.items()}


def _evidence(model: DeviceModel, served: set[tuple[int, Obis]]) -> dict[str, bool]:
    """What a model must have for each function it names to be true of it."""
    spec = model.spec
    wallet = spec.wallet
    classes = {class_id for class_id, _ in served}
    periods = {p.period_s for p in spec.profiles}
    return {
        "prepayment": wallet is not None,
        "postpayment": (3, Obis(1, 0, 1, 8, 0)) in served,
        "sts": wallet is not None and (115, Obis(0, 0, 19, 40, 0)) in served,
        "emergency-credit": wallet is not None and wallet.emergency_credit > 0,
        "friendly-hours": wallet is not None
        and bool(wallet.friendly.hours or wallet.friendly.weekdays or wallet.friendly.holidays),
        "step-tariff": wallet is not None and len(wallet.steps) > 0,
        "bidirectional": (3, Obis(1, 0, 2, 8, 0)) in served,
        "four-quadrant": all((3, Obis(1, 0, c, 8, 0)) in served for c in (5, 6, 7, 8)),
        "neutral-current": (3, Obis(1, 0, 91, 7, 0)) in served,
        "tou": 20 in classes,
        "disconnect": 70 in classes,
        "limiter": 71 in classes,
        "power-quality": any(4 in p.logs for p in spec.profiles)
        and (3, Obis(1, 0, 32, 7, 124)) in served,
        "sag-swell": (3, Obis(1, 0, 32, 32, 0)) in served
        and any(4 in p.logs for p in spec.profiles),
        "load-profile": any(60 <= p <= 3600 for p in periods),
        "event-log": any(p.logs for p in spec.profiles),
        "tamper": any(1 in p.logs for p in spec.profiles),
        "billing": BILLING in periods,
        "maximum-demand": 4 in classes and 5 in classes,
        "dlms-tcp": 41 in classes,
        "sms": {41, 44, 45, 47, 8195} <= classes,  # what CNF sets and INFO reads (docs/sms.md)
        "sms-token": "sts" in spec.functions and (115, Obis(0, 0, 19, 40, 0)) in served,
        "wmbus": (8192, Obis(0, 0, 128, 0, 0)) in served,  # the collector (docs/wmbus.md)
    }


def test_the_evidence_covers_every_implemented_function() -> None:
    model = load_model("pmm1220")
    assert set(_evidence(model, _served(model))) == set(IMPLEMENTED_FUNCTIONS)


@pytest.mark.parametrize("name", builtin_model_names())
def test_every_function_a_model_names_is_implemented_and_true_of_it(name: str) -> None:
    """Before (issue 11, 9) the models named firmware-upgrade, keypad, ciu, iec62056-21,
    dlms-suite-1, dual-wallet, transformer-loss, rs485 and more that metertwin lacks."""
    model = load_model(name)
    assert model.spec.functions <= set(IMPLEMENTED_FUNCTIONS)
    evidence = _evidence(model, _served(model))
    assert sorted(f for f in model.spec.functions if not evidence[f]) == []


def test_a_function_metertwin_lacks_is_refused_by_name(tmp_path: Path) -> None:
    text = load_model("magno22").text
    path = tmp_path / "keypad.toml"
    path.write_text(text.replace('"prepayment", "postpayment",', '"keypad", "postpayment",', 1))
    with pytest.raises(SchemaError, match=r"functions\[0\].*does not implement 'keypad'"):
        load_model(str(path))


def test_a_wallet_function_without_a_wallet_is_refused(tmp_path: Path) -> None:
    text = load_model("metercom-pro").text
    path = tmp_path / "sts.toml"
    path.write_text(text.replace('"postpayment",', '"postpayment", "sts",', 1))
    with pytest.raises(SchemaError, match=r"sts need a \[prepayment\] wallet"):
        load_model(str(path))


def test_the_readme_names_exactly_the_implemented_functions() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `[model]`"))
    assert set(re.findall(r"`([a-z0-9-]+)`", row)) == set(IMPLEMENTED_FUNCTIONS)
