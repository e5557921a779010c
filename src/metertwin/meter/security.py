"""Association secrets and the programming lock (seed 002, 5.12).

"The meter will disable the programming function if wrong verification occurs for 3
consecutive times": after ``max_failures`` wrong secrets in a row, logins with a secret are
refused for ``lockout_s`` seconds of meter time, even with the right secret. Secrets are
meter state (a HES can change them), so they live here and persist with the meter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


@dataclass(frozen=True)
class SecurityConfig:
    default_secrets: dict[str, bytes]  # association name -> its LLS secret at manufacture
    max_failures: int = 3
    lockout_s: int = 1800


class LoginOutcome(Enum):
    ACCEPTED = "accepted"
    WRONG_SECRET = "wrong_secret"
    LOCKED = "locked"


@dataclass(frozen=True)
class SecurityEvent:
    at_meter_ms: int
    association: str
    outcome: LoginOutcome


class AccessSecurity:
    HISTORY = 10

    def __init__(self, config: SecurityConfig) -> None:
        self.config = config
        self.secrets = dict(config.default_secrets)
        self.consecutive_failures = 0
        self.locked_until_ms: int | None = None
        self.failures_total = 0
        self.lockouts_total = 0
        self.events: list[SecurityEvent] = []

    def check(self, association: str, secret: bytes, meter_ms: int) -> LoginOutcome:
        """Judge a login attempt at meter time ``meter_ms``."""
        if self.locked_until_ms is not None:
            if meter_ms < self.locked_until_ms:
                return self._record(meter_ms, association, LoginOutcome.LOCKED)
            self.locked_until_ms = None
            self.consecutive_failures = 0
        if self.secrets.get(association) == secret:
            self.consecutive_failures = 0
            return LoginOutcome.ACCEPTED
        self.failures_total += 1
        self.consecutive_failures += 1
        if self.consecutive_failures >= self.config.max_failures:
            self.locked_until_ms = meter_ms + self.config.lockout_s * 1000
            self.lockouts_total += 1
        return self._record(meter_ms, association, LoginOutcome.WRONG_SECRET)

    def _record(self, meter_ms: int, association: str, outcome: LoginOutcome) -> LoginOutcome:
        self.events = [
            *self.events[-(self.HISTORY - 1) :],
            SecurityEvent(meter_ms, association, outcome),
        ]
        return outcome

    def set_secret(self, association: str, secret: bytes) -> None:
        if association not in self.secrets:
            raise KeyError(f"association {association!r} has no secret")
        self.secrets[association] = secret

    def to_state(self) -> dict[str, Any]:
        return {
            "secrets": {name: secret.hex() for name, secret in self.secrets.items()},
            "consecutive_failures": self.consecutive_failures,
            "locked_until_ms": self.locked_until_ms,
            "failures_total": self.failures_total,
            "lockouts_total": self.lockouts_total,
            "events": [[e.at_meter_ms, e.association, e.outcome.value] for e in self.events],
        }

    @classmethod
    def from_state(cls, config: SecurityConfig, state: dict[str, Any]) -> AccessSecurity:
        security = cls(config)
        security.secrets.update({k: bytes.fromhex(v) for k, v in state["secrets"].items()})
        security.consecutive_failures = int(state["consecutive_failures"])
        locked = state["locked_until_ms"]
        security.locked_until_ms = None if locked is None else int(locked)
        security.failures_total = int(state["failures_total"])
        security.lockouts_total = int(state["lockouts_total"])
        security.events = [
            SecurityEvent(int(t), str(name), LoginOutcome(outcome))
            for t, name, outcome in state["events"]
        ]
        return security
