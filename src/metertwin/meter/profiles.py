"""Load profiles in the core: when to capture, what to capture, and the status of an entry.

The core decides capture instants (every ``period_s`` of meter UTC time, so a DST day has 92
or 100 quarter-hours; daily profiles at local midnight) and produces records; storage keeps
them (architecture: profiles live in SQLite, not in RAM), drained from ``outbox`` in the same
transaction as the state. Channels name core quantities; the COSEM binder maps them to
capture objects.

Status bits follow the DLMS UA / IDIS AMR profile status: 0x80 power down, 0x20 clock
adjusted, 0x08 daylight saving active, 0x04 data not valid, 0x02 clock invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntFlag
from typing import Any

DAY_S = 86_400
BILLING = 0
EVENT = -1  # an event log: entries are written when events happen
"""``period_s`` of a profile captured at the billing point instead of periodically."""
MAX_CHANNELS = 60
"""Seed 003 (Magno 22): "Up to 60 channels" in a load profile."""


@dataclass(frozen=True)
class BillingConfig:
    """The billing point (seed 002, 5.1 c: any hour of day 1-28 each month; seed 003: 13
    months of billing data)."""

    day: int = 1
    hour: int = 0

    def __post_init__(self) -> None:
        if not (1 <= self.day <= 28 and 0 <= self.hour <= 23):
            raise ValueError("the billing point is an hour 0-23 of a day 1-28")


class EntryStatus(IntFlag):
    NONE = 0
    CRITICAL_ERROR = 0x01
    CLOCK_INVALID = 0x02
    DATA_NOT_VALID = 0x04
    DAYLIGHT_SAVING = 0x08
    CLOCK_ADJUSTED = 0x20
    POWER_DOWN = 0x80


@dataclass(frozen=True)
class ProfileSpec:
    """A profile's definition: ``channels`` are core quantities ("clock", "status" or
    "operating_status" (the same entry status, as seed 004's 1.0.96.5.0.255),
    "energy:C:phase:rate", "voltage:k", "current:k", "active_power", "frequency",
    "max_demand:C:rate", "max_demand_time:C:rate", "cost": the wallet's cost of the present
    billing period in µ, so at a billing point the cost of the period it ends); ``period_s``
    BILLING: captured at each billing point."""

    name: str
    period_s: int
    depth: int
    channels: tuple[str, ...]
    logs: tuple[int, ...] = ()  # for an event log (period EVENT): the EventLog values it keeps

    def __post_init__(self) -> None:
        if not (60 <= self.period_s <= 3600 and 3600 % self.period_s == 0) and (
            self.period_s not in (DAY_S, BILLING, EVENT)
        ):
            raise ValueError(
                "a capture period is 1-60 minutes dividing an hour, one day, or billing"
            )
        if self.depth < 1:
            raise ValueError("a profile keeps at least one entry")


@dataclass(frozen=True)
class ProfileRecord:
    profile: str
    meter_ms: int  # the capture instant on the meter's clock (UTC)
    status: int
    values: tuple[int | float, ...]  # one per channel; clock and status channels hold 0
    seq: int = 0  # 1, 2, ... per profile, for the whole life of the meter


class ProfileRecorder:
    """Capture schedule and status accumulation for every profile of a meter."""

    def __init__(self, specs: tuple[ProfileSpec, ...]) -> None:
        self.model_specs = {spec.name: spec for spec in specs}
        # what each profile captures now: the model's, or as a head-end programmed it
        self.specs = dict(self.model_specs)
        # (profile, seq): a programming change emptied the profile's entries up to seq
        self.cleared: list[tuple[str, int]] = []
        self.outbox: list[ProfileRecord] = []
        # (profile, seq) of entries an event log gave up (meter/event_logs.py), applied
        # after the outbox's records
        self.evicted: list[tuple[str, int]] = []
        self.captured = {spec.name: 0 for spec in specs}
        # status flags gathered since each profile's last capture
        self._pending = {spec.name: 0 for spec in specs}

    def flag(self, status: EntryStatus) -> None:
        """Something happened that the next entry of every profile must show."""
        for name in self._pending:
            self._pending[name] |= int(status)

    def pending(self, name: str) -> int:
        """The flags gathered so far for ``name``'s next entry."""
        return self._pending[name]

    def take_flags(self, name: str) -> int:
        flags, self._pending[name] = self._pending[name], 0
        return flags

    def record(self, record: ProfileRecord) -> None:
        self.capture(record.profile, record.meter_ms, record.status, record.values)

    def capture(
        self, profile: str, meter_ms: int, status: int, values: tuple[int | float, ...]
    ) -> None:
        """A scheduled or requested capture, numbered next in its profile."""
        seq = self.captured[profile] = self.captured[profile] + 1
        self.outbox.append(ProfileRecord(profile, meter_ms, status, values, seq))

    def write(self, record: ProfileRecord) -> None:
        """An event log's entry with the seq the core gave it: a new one, or one written
        before whose burst count grew (it replaces the stored entry)."""
        self.captured[record.profile] = max(self.captured[record.profile], record.seq)
        self.outbox.append(record)

    def evict(self, profile: str, seq: int) -> None:
        self.evicted.append((profile, seq))

    def drain(self) -> list[ProfileRecord]:
        records, self.outbox = self.outbox, []
        return records

    def drain_evicted(self) -> list[tuple[str, int]]:
        evicted, self.evicted = self.evicted, []
        return evicted

    def clear(self, profile: str) -> None:
        """Every entry of ``profile`` captured so far leaves (storage deletes them in the
        commit that holds the change; entries captured later stay)."""
        self.cleared.append((profile, self.captured[profile]))

    def drain_cleared(self) -> list[tuple[str, int]]:
        cleared, self.cleared = self.cleared, []
        return cleared

    def program(self, profile: str, period_s: int, channels: tuple[str, ...]) -> ProfileSpec:
        """``profile`` captures ``channels`` every ``period_s`` from now on (validated as a
        model's profile is); returns the new definition."""
        spec = replace(self.specs[profile], period_s=period_s, channels=channels)
        self.specs[profile] = spec
        return spec

    def to_state(self) -> dict[str, Any]:
        programmed = {
            name: {"period_s": spec.period_s, "channels": list(spec.channels)}
            for name, spec in self.specs.items()
            if spec != self.model_specs[name]
        }
        return {
            "captured": dict(self.captured),
            "pending": dict(self._pending),
            "programmed": programmed,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """A state saved before profiles were programmable has no ``programmed``: the
        model's definitions."""
        self.captured.update({k: int(v) for k, v in state["captured"].items()})
        self._pending.update({k: int(v) for k, v in state["pending"].items()})
        for name, settings in state.get("programmed", {}).items():
            if name in self.specs:
                self.program(name, int(settings["period_s"]), tuple(settings["channels"]))
