"""The latching relay as the DLMS Disconnect control (class 70) state machine.

It is the single actuator: remote commands, the customer's button, prepayment and the
protections all ask it for a transition, and the control mode decides what is allowed
(reference/dlms.md, class 70: transitions a..h and modes 0..6).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any


class ControlState(IntEnum):
    DISCONNECTED = 0
    CONNECTED = 1
    READY_FOR_RECONNECTION = 2


class Transition(Enum):
    """Who asks: the head-end (remote), the customer's button (manual), or the meter's own
    functions such as prepayment and limiters (local)."""

    REMOTE_DISCONNECT = "remote_disconnect"
    REMOTE_RECONNECT = "remote_reconnect"
    MANUAL_DISCONNECT = "manual_disconnect"
    MANUAL_RECONNECT = "manual_reconnect"
    LOCAL_DISCONNECT = "local_disconnect"
    LOCAL_RECONNECT = "local_reconnect"


class TransitionNotAllowed(Exception):
    """The control mode forbids this transition; the relay stays as it is."""


class RelayStuck(TransitionNotAllowed):
    """The relay's contacts cannot move (a relay fault); the relay stays as it is."""


_S = ControlState
_T = Transition
_ALL_MODES = frozenset(range(1, 7))

# transition -> (allowed control modes, {from_state: to_state}); remote_reconnect differs by mode.
_RULES: dict[Transition, tuple[frozenset[int], dict[ControlState, ControlState]]] = {
    # b: connected -> disconnected, c: ready -> disconnected
    _T.REMOTE_DISCONNECT: (
        _ALL_MODES,
        {_S.CONNECTED: _S.DISCONNECTED, _S.READY_FOR_RECONNECTION: _S.DISCONNECTED},
    ),
    # f: connected -> ready
    _T.MANUAL_DISCONNECT: (frozenset({1, 2, 5}), {_S.CONNECTED: _S.READY_FOR_RECONNECTION}),
    # e: ready -> connected
    _T.MANUAL_RECONNECT: (_ALL_MODES, {_S.READY_FOR_RECONNECTION: _S.CONNECTED}),
    # g: connected -> ready
    _T.LOCAL_DISCONNECT: (_ALL_MODES, {_S.CONNECTED: _S.READY_FOR_RECONNECTION}),
    # h: ready -> connected
    _T.LOCAL_RECONNECT: (frozenset({5, 6}), {_S.READY_FOR_RECONNECTION: _S.CONNECTED}),
}
_REMOTE_RECONNECT_DIRECT = frozenset({2, 4})  # a: disconnected -> connected
_REMOTE_RECONNECT_VIA_READY = frozenset({1, 3, 5, 6})  # d: disconnected -> ready


@dataclass(frozen=True)
class RelayChange:
    at_true_ms: int
    transition: Transition
    before: ControlState
    after: ControlState


class DisconnectControl:
    """Relay state and control mode. Mode 0 means always connected: every request is
    refused."""

    HISTORY = 10

    def __init__(self, control_mode: int, state: ControlState = ControlState.CONNECTED) -> None:
        if not 0 <= control_mode <= 6:
            raise ValueError(f"control_mode {control_mode} is outside 0..6")
        self.control_mode = control_mode
        self.state = ControlState.CONNECTED if control_mode == 0 else state
        self.changes: list[RelayChange] = []
        self.operations = 0

    @property
    def output_state(self) -> bool:
        """True while the load is supplied (class 70 attribute 2)."""
        return self.state is ControlState.CONNECTED

    def set_control_mode(self, mode: int) -> None:
        if not 0 <= mode <= 6:
            raise ValueError(f"control_mode {mode} is outside 0..6")
        self.control_mode = mode
        if mode == 0:
            self.state = ControlState.CONNECTED

    def target(self, transition: Transition) -> ControlState | None:
        """The state `transition` leads to from here; None when it does not apply to the
        present state (a no-op). Raises `TransitionNotAllowed` when the mode forbids it."""
        mode = self.control_mode
        if transition is Transition.REMOTE_RECONNECT:
            if mode in _REMOTE_RECONNECT_DIRECT:
                table = {ControlState.DISCONNECTED: ControlState.CONNECTED}
            elif mode in _REMOTE_RECONNECT_VIA_READY:
                table = {ControlState.DISCONNECTED: ControlState.READY_FOR_RECONNECTION}
            else:
                raise TransitionNotAllowed(f"{transition.value} in control mode {mode}")
        else:
            modes, table = _RULES[transition]
            if mode not in modes:
                raise TransitionNotAllowed(f"{transition.value} in control mode {mode}")
        return table.get(self.state)

    def apply(self, transition: Transition, at_true_ms: int) -> RelayChange | None:
        """Perform `transition`; returns the change, or None if the relay did not move."""
        after = self.target(transition)
        if after is None or after is self.state:
            return None
        change = RelayChange(at_true_ms, transition, self.state, after)
        if change.before is ControlState.CONNECTED or after is ControlState.CONNECTED:
            self.operations += 1  # the contacts moved
        self.state = after
        self.changes = [*self.changes[-(self.HISTORY - 1) :], change]
        return change

    def to_state(self) -> dict[str, Any]:
        return {
            "control_mode": self.control_mode,
            "state": int(self.state),
            "operations": self.operations,
            "changes": [
                [c.at_true_ms, c.transition.value, int(c.before), int(c.after)]
                for c in self.changes
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DisconnectControl:
        control = cls(int(state["control_mode"]), ControlState(int(state["state"])))
        control.operations = int(state["operations"])
        control.changes = [
            RelayChange(int(t), Transition(name), ControlState(b), ControlState(a))
            for t, name, b, a in state["changes"]
        ]
        return control
