"""Class 22 objects: the billing point schedule (0.0.15.0.0) and a scripted schedule
(0.0.15.0.1) written by a head-end act in the core; unusable settings are refused."""

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
from metertwin.meter.disconnect import ControlState
from metertwin.meter.profiles import BillingConfig

T0 = utc_ms(2026, 5, 4, 6)
BILLING = AttributeDescriptor(22, Obis(0, 0, 15, 0, 0), 4)
DISCONNECTS = Obis(0, 0, 15, 0, 1)


def _device(name: str) -> tuple[Meter, LogicalDevice, AssociationContext]:
    return management_device(name, T0)


def _times(*entries: tuple[bytes, bytes]) -> Data:
    return Data.array(
        [Data.structure([Data.octet_string(t), Data.octet_string(d)]) for t, d in entries]
    )


def test_the_billing_point_is_read_and_moved_through_its_schedule() -> None:
    meter, device, ctx = _device("az3p")
    day, hour = meter.billing.day, meter.billing.hour
    assert device.get(ctx, BILLING, None) == _times(
        (bytes([hour, 0, 0, 0]), bytes([0xFF, 0xFF, 0xFF, day, 0xFF]))
    )
    device.set(
        ctx, BILLING, None, _times((bytes([6, 0, 0, 0]), bytes([0xFF, 0xFF, 0xFF, 15, 0xFF])))
    )
    assert meter.billing == BillingConfig(15, 6)
    meter.advance(utc_ms(2026, 5, 16))
    assert meter.billing_periods == 1
    for bad in (
        _times((bytes([6, 30, 0, 0]), bytes([0xFF, 0xFF, 0xFF, 15, 0xFF]))),  # minutes
        _times((bytes([6, 0, 0, 0]), bytes([0xFF, 0xFF, 0xFF, 29, 0xFF]))),  # day 29
        _times((bytes([6, 0, 0, 0]), bytes([0x07, 0xEA, 0xFF, 15, 0xFF]))),  # a year
        _times(),
        Data.long_unsigned(3),
    ):
        with pytest.raises(CosemError) as caught:
            device.set(ctx, BILLING, None, bad)
        assert caught.value.result is DataAccessResult.TYPE_UNMATCHED
    assert meter.billing == BillingConfig(15, 6)


def test_a_head_end_schedules_a_disconnection_at_a_date_and_time() -> None:
    meter, device, ctx = _device("az3p")
    at = _times((bytes([8, 0, 0, 0]), bytes([0x07, 0xEA, 5, 5, 0xFF])))  # 2026-05-05 08:00
    device.set(ctx, AttributeDescriptor(22, DISCONNECTS, 4), None, at)
    assert device.get(ctx, AttributeDescriptor(22, DISCONNECTS, 4), None) == at
    meter.advance(utc_ms(2026, 5, 5, 2))  # 07:00 local (UTC+5)
    assert meter.disconnect.output_state
    meter.advance(utc_ms(2026, 5, 6))
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    assert meter.clock.local(meter.disconnect.changes[-1].at_true_ms).hour == 8
    unknown = Data.structure(
        [Data.octet_string(bytes(Obis(0, 0, 10, 0, 100))), Data.long_unsigned(9)]
    )
    with pytest.raises(CosemError) as caught:
        device.set(ctx, AttributeDescriptor(22, DISCONNECTS, 2), None, unknown)
    assert caught.value.result is DataAccessResult.OBJECT_UNAVAILABLE
