"""Entering a token, the way a keypad (CIU) or the DLMS token gateway does: the result the
customer sees, and the keypad lock after repeated failures (issue 4 "Bad input").

The lock grows: after ``failures`` wrong tokens in a row the keypad is locked for
``lockout_s``; each further lockout before a token is accepted doubles the time (up to a day),
which defeats guessing. An accepted token resets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metertwin.sts import Rejection, Token

MAX_LOCKOUT_S = 86_400


@dataclass(frozen=True)
class TokenEntryConfig:
    tid_store: int = 50
    lockout_failures: int = 5
    lockout_s: int = 60


@dataclass(frozen=True)
class TokenResult:
    """What the meter answers to a token: accepted or the IEC 62055-41 rejection, and a
    line of text for a display or a head-end."""

    digits: str
    at_meter_ms: int
    accepted: bool
    message: str
    rejection: Rejection | None = None
    token: Token | None = None
    locked: bool = False

    def to_state(self) -> list[Any]:
        rejection = None if self.rejection is None else self.rejection.value
        return [self.digits, self.at_meter_ms, self.accepted, self.message, rejection, self.locked]

    @classmethod
    def from_state(cls, state: list[Any]) -> TokenResult:
        digits, at, accepted, message, rejection, locked = state
        return cls(
            str(digits),
            int(at),
            bool(accepted),
            str(message),
            None if rejection is None else Rejection(rejection),
            None,
            bool(locked),
        )


class KeypadLock:
    def __init__(self, config: TokenEntryConfig) -> None:
        self.config = config
        self.consecutive_failures = 0
        self.lockouts = 0  # since the last accepted token
        self.locked_until_ms: int | None = None

    def locked(self, meter_ms: int) -> bool:
        if self.locked_until_ms is None:
            return False
        if meter_ms < self.locked_until_ms:
            return True
        self.locked_until_ms = None
        return False

    def failure(self, meter_ms: int) -> bool:
        """Count a refused token; True when this failure locks the keypad."""
        self.consecutive_failures += 1
        if self.consecutive_failures < self.config.lockout_failures:
            return False
        seconds = min(self.config.lockout_s * 2**self.lockouts, MAX_LOCKOUT_S)
        self.locked_until_ms = meter_ms + seconds * 1000
        self.lockouts += 1
        self.consecutive_failures = 0
        return True

    def success(self) -> None:
        self.consecutive_failures = 0
        self.lockouts = 0

    def to_state(self) -> dict[str, Any]:
        return {
            "consecutive_failures": self.consecutive_failures,
            "lockouts": self.lockouts,
            "locked_until_ms": self.locked_until_ms,
        }

    @classmethod
    def from_state(cls, config: TokenEntryConfig, state: dict[str, Any]) -> KeypadLock:
        lock = cls(config)
        lock.consecutive_failures = int(state["consecutive_failures"])
        lock.lockouts = int(state["lockouts"])
        until = state["locked_until_ms"]
        lock.locked_until_ms = None if until is None else int(until)
        return lock
