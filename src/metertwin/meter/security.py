"""Association secrets and the programming lock (seed 002, 5.12).

"The meter will disable the programming function if wrong verification occurs for 3
consecutive times": after ``max_failures`` wrong secrets in a row on one association (one
client SAP), logins to that association are refused for ``lockout_s`` seconds of meter time,
even with the right secret. Failures are counted per association and only a success on the
same association resets its count: a meter-wide count reset by any accepted login would let
an attacker guess the utility's secret forever between a reader's logins (issue 19). Secrets
are meter state (a HES can change them), so they live here and persist with the meter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from metertwin.meter.dlms_security import DlmsKeyConfig, SetupConfig


@dataclass(frozen=True)
class SecurityConfig:
    default_secrets: dict[str, bytes]  # association name -> its LLS secret at manufacture
    max_failures: int = 3
    lockout_s: int = 1800
    setups: tuple[SetupConfig, ...] = ()  # the HLS associations' Security setups
    dlms_keys: DlmsKeyConfig = field(default_factory=DlmsKeyConfig)  # the [dlms] keys


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
        self.consecutive_failures: dict[str, int] = {}  # association -> wrong secrets in a row
        self.locked_until_ms: dict[str, int] = {}  # association -> end of its lockout
        self.failures_total = 0
        self.lockouts_total = 0
        self.events: list[SecurityEvent] = []

    def check(self, association: str, secret: bytes, meter_ms: int) -> LoginOutcome:
        """Judge a login attempt on ``association`` at meter time ``meter_ms``."""
        if self.allowed(association, meter_ms) is LoginOutcome.LOCKED:
            return LoginOutcome.LOCKED
        return self.verdict(association, self.secrets.get(association) == secret, meter_ms)

    def allowed(self, association: str, meter_ms: int) -> LoginOutcome:
        """LOCKED while ``association`` is locked out (recorded), else ACCEPTED; an expired
        lockout ends here with its failure count."""
        locked_until = self.locked_until_ms.get(association)
        if locked_until is not None:
            if meter_ms < locked_until:
                return self._record(meter_ms, association, LoginOutcome.LOCKED)
            del self.locked_until_ms[association]
            self.consecutive_failures.pop(association, None)
        return LoginOutcome.ACCEPTED

    def verdict(self, association: str, passed: bool, meter_ms: int) -> LoginOutcome:
        """Count an authentication (an LLS secret or an HLS pass 3 proof) toward the
        lockout: a success resets the association's count, a failure may start a lockout."""
        if passed:
            self.consecutive_failures.pop(association, None)
            return LoginOutcome.ACCEPTED
        self.failures_total += 1
        failures = self.consecutive_failures[association] = (
            self.consecutive_failures.get(association, 0) + 1
        )
        if failures >= self.config.max_failures:
            self.locked_until_ms[association] = meter_ms + self.config.lockout_s * 1000
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
            "failures_by_association": dict(sorted(self.consecutive_failures.items())),
            "locked_until_by_association": dict(sorted(self.locked_until_ms.items())),
            "failures_total": self.failures_total,
            "lockouts_total": self.lockouts_total,
            "events": [[e.at_meter_ms, e.association, e.outcome.value] for e in self.events],
        }

    @classmethod
    def from_state(cls, config: SecurityConfig, state: dict[str, Any]) -> AccessSecurity:
        """A state saved before per-association counts holds one meter-wide count and lock
        without saying which association failed: both then apply to every association."""
        security = cls(config)
        security.secrets.update({k: bytes.fromhex(v) for k, v in state["secrets"].items()})
        if "failures_by_association" in state:
            failures = state["failures_by_association"]
            locks = state["locked_until_by_association"]
        else:
            every = security.secrets
            failures = {name: state["consecutive_failures"] for name in every}
            locked = state["locked_until_ms"]
            locks = {} if locked is None else {name: locked for name in every}
        security.consecutive_failures = {k: int(v) for k, v in failures.items() if int(v)}
        security.locked_until_ms = {k: int(v) for k, v in locks.items()}
        security.failures_total = int(state["failures_total"])
        security.lockouts_total = int(state["lockouts_total"])
        security.events = [
            SecurityEvent(int(t), str(name), LoginOutcome(outcome))
            for t, name, outcome in state["events"]
        ]
        return security
