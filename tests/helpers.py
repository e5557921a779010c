"""Small helpers shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime

from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """UTC milliseconds of a calendar instant."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def management_device(name: str, start_ms: int) -> tuple[Meter, LogicalDevice, AssociationContext]:
    """A built-in model's meter, its logical device and an open management association
    (client 1), for tests that drive objects without a socket."""
    model = load_model(name)
    meter = Meter(model.spec, start_ms, "12345678")
    device = build_logical_device(model, meter, lambda: None)
    policy = device.association_policy(1)
    assert policy is not None
    return meter, device, AssociationContext(policy, 1, 1, policy.conformance, 1024, 1024, True)
