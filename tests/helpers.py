"""Small helpers shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from metertwin.config import UserConfig
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.runtime.session import SIMULATED, Session, open_session


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


def stored_device(
    directory: Path, model: str | None, client_sap: int, start_ms: int
) -> tuple[Session, LogicalDevice, AssociationContext]:
    """A meter in its SQLite memory (``model`` None: the one there), its logical device as
    `metertwin run` serves it (every SET/ACTION committed before the answer) and an open
    association of ``client_sap``, for tests that program a meter and restart it."""
    session = open_session(
        directory, model, UserConfig(), "idle", None, lambda _m: start_ms, SIMULATED, "12345678"
    )
    device = build_logical_device(session.model, session.meter, session.commit, session.store)
    policy = device.association_policy(client_sap)
    assert policy is not None
    context = AssociationContext(policy, client_sap, 1, policy.conformance, 1024, 1024, True)
    return session, device, context
