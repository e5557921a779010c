"""Limiter (class 71) and Register monitor (class 21) objects drive the core's supervisors.

A head-end arms seed 004's "Power limiter for disconnection with hysteresis" (0.0.17.0.9)
by writing its threshold; the meter then cuts the supply at the instant worked out by hand
and logs it in event log 6 (1.0.99.98.5, limiter). Settings the meter could not act on are
refused and not stored.
"""

from __future__ import annotations

import pytest
from tests.helpers import management_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState, Transition
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import PhysicalState

T0 = utc_ms(2026, 5, 4, 6)
SECOND = 1000
POWER_LIMITER = Obis(0, 0, 17, 0, 9)
VOLTAGE_MONITOR = Obis(0, 0, 16, 0, 0)
HEAVY = PhysicalState((230.0,) * 3, (1500.0,) * 3, (0.0,) * 3)  # 4.5 kW


def _device(name: str) -> tuple[Meter, LogicalDevice, AssociationContext]:
    return management_device(name, T0)


def _set(
    device: LogicalDevice, ctx: AssociationContext, cid: int, obis: Obis, i: int, v: Data
) -> None:
    device.set(ctx, AttributeDescriptor(cid, obis, i), None, v)


def _get(device: LogicalDevice, ctx: AssociationContext, cid: int, obis: Obis, i: int) -> Data:
    return device.get(ctx, AttributeDescriptor(cid, obis, i), None)


def _events(meter: Meter, log: str) -> list[tuple[int, int]]:
    return [
        (record.meter_ms, int(record.values[-1]))
        for record in meter.recorder.outbox
        if record.profile == log
    ]


def test_a_head_end_arms_the_power_limiter_and_the_meter_cuts_on_time() -> None:
    meter, device, ctx = _device("metercom-pro")
    assert _get(device, ctx, 71, POWER_LIMITER, 2).as_items()[1] == Data.octet_string(
        bytes(Obis(1, 0, 16, 7, 0))  # seed 004 "Total power"
    )
    _set(device, ctx, 71, POWER_LIMITER, 4, Data.double_long_unsigned(4000))  # W, scaler 0
    _set(device, ctx, 71, POWER_LIMITER, 6, Data.double_long_unsigned(30))
    assert _get(device, ctx, 71, POWER_LIMITER, 3) == Data.double_long_unsigned(4000)
    meter.advance(T0 + 30 * SECOND - 1, HEAVY)
    assert meter.disconnect.output_state
    meter.advance(T0 + 30 * SECOND)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION  # mode 1: the button
    assert _events(meter, "1.0.99.98.5.255") == [
        (T0 + 30 * SECOND, EventCode.LIMITER_THRESHOLD_EXCEEDED)
    ]
    assert (T0 + 30 * SECOND, EventCode.LOCAL_DISCONNECTION) in _events(meter, "1.0.99.98.4.255")
    # 60 s after the cut nothing flows through the open relay: the limiter is satisfied.
    meter.advance(T0 + 90 * SECOND)
    assert _events(meter, "1.0.99.98.5.255")[-1] == (
        T0 + 90 * SECOND,
        EventCode.LIMITER_THRESHOLD_OK,
    )
    meter.operate_relay(Transition.MANUAL_RECONNECT)
    assert meter.disconnect.output_state
    # Disarmed (threshold 0): the same load no longer trips it.
    _set(device, ctx, 71, POWER_LIMITER, 4, Data.double_long_unsigned(0))
    meter.advance(T0 + 600 * SECOND)
    assert meter.disconnect.output_state


def test_an_unusable_limiter_setting_is_refused_and_not_stored() -> None:
    meter, device, ctx = _device("metercom-pro")
    clock = Data.structure(
        [Data.long_unsigned(8), Data.octet_string(bytes(Obis(0, 0, 1, 0, 0))), Data.integer(2)]
    )
    with pytest.raises(CosemError) as caught:
        _set(device, ctx, 71, POWER_LIMITER, 2, clock)
    assert caught.value.result is DataAccessResult.OBJECT_UNAVAILABLE
    unknown_script = Data.structure(
        [
            Data.structure(
                [Data.octet_string(bytes(Obis(0, 0, 10, 0, 100))), Data.long_unsigned(7)]
            ),
            Data.structure(
                [Data.octet_string(bytes(Obis(0, 0, 10, 0, 106))), Data.long_unsigned(2)]
            ),
        ]
    )
    with pytest.raises(CosemError) as caught:
        _set(device, ctx, 71, POWER_LIMITER, 11, unknown_script)
    assert caught.value.result is DataAccessResult.OBJECT_UNAVAILABLE
    assert f"{POWER_LIMITER}/2" not in meter.parameters
    assert f"{POWER_LIMITER}/11" not in meter.parameters
    with pytest.raises(CosemError) as caught:
        _set(device, ctx, 71, POWER_LIMITER, 3, Data.double_long_unsigned(5))
    assert caught.value.result is DataAccessResult.READ_WRITE_DENIED  # threshold_active


def test_an_armed_voltage_monitor_cuts_on_over_voltage_and_restores() -> None:
    meter, device, ctx = _device("metercom-pro")
    meter.operate_relay(Transition.REMOTE_DISCONNECT)
    meter.operate_relay(Transition.REMOTE_RECONNECT)
    meter.operate_relay(Transition.MANUAL_RECONNECT)
    assert meter.disconnect.output_state
    scripts = Obis(0, 0, 10, 0, 106)
    actions = Data.array(
        [
            Data.structure(
                [
                    Data.structure([Data.octet_string(bytes(scripts)), Data.long_unsigned(1)]),
                    Data.structure([Data.octet_string(bytes(scripts)), Data.long_unsigned(2)]),
                ]
            )
        ]
    )
    _set(device, ctx, 21, VOLTAGE_MONITOR, 4, actions)
    _set(device, ctx, 70, Obis(0, 0, 96, 3, 10), 4, Data.enum(6))  # local reconnection allowed
    high = PhysicalState((260.0, 230.0, 230.0), (500.0,) * 3, (0.0,) * 3)
    normal = PhysicalState((230.0,) * 3, (500.0,) * 3, (0.0,) * 3)
    meter.advance(T0 + 10 * SECOND, normal)
    assert meter.disconnect.output_state
    meter.advance(T0 + 20 * SECOND, high)  # 260 V > 253.0 V (2530, scaler -1) from 10 s
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    meter.advance(T0 + 30 * SECOND, normal)
    assert meter.disconnect.output_state
    disconnect_log = _events(meter, "1.0.99.98.4.255")
    assert (T0 + 10 * SECOND, EventCode.LOCAL_DISCONNECTION) in disconnect_log
    assert (T0 + 20 * SECOND, EventCode.LOCAL_CONNECTION) in disconnect_log


def test_the_prepaid_limiter_threshold_is_the_sts_power_limit() -> None:
    meter, device, ctx = _device("pmm1220")
    limiter = Obis(0, 0, 17, 0, 0)
    _set(device, ctx, 71, limiter, 4, Data.double_long_unsigned(1000))
    assert meter.power_limit_w == 1000
    assert _get(device, ctx, 71, limiter, 3) == Data.double_long_unsigned(1000)
    meter.set_power_limit(2000)  # as a SetMaximumPowerLimit token does
    assert _get(device, ctx, 71, limiter, 4) == Data.double_long_unsigned(2000)
    assert meter.supervision.configs[str(limiter)].threshold == 2000.0
