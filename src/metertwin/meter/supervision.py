"""Limiters and register monitors: the meter watching one of its own values.

A *supervisor* compares a monitored quantity with a threshold and runs an action when the
value has stayed above it for ``over_ms`` (the limiter's min_over_threshold_duration) and
another when it has come back below for ``under_ms`` (min_under_threshold_duration). A
DLMS Limiter (class 71) is one supervisor; a Register monitor (class 21) is one per
threshold, with no durations: it acts on each crossing, up and down.

Sans-IO and exact: inputs are piecewise constant, so whether a value is over its threshold
changes only at segment starts (or, for an energy register, at the instant the energy
reaches it). For each input series the supervisor works out those *flip* instants once, for
the relay closed and for the relay open (a load quantity reads zero when the relay is open;
a voltage does not), and the core stops exactly where an action falls due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from metertwin.meter.inputs import InputSeries


class Quantity(Enum):
    """What a supervisor can watch (OBIS C of the instantaneous value; phase 0: total)."""

    ACTIVE_POWER = "active_power"  # W, import positive (1.0.1.7.0; L1..L3 21/41/61.7.0)
    CURRENT = "current"  # A per phase (1.0.31/51/71.7.0)
    VOLTAGE = "voltage"  # V per phase (1.0.32/52/72.7.0)
    IMPORT_ENERGY = "import_energy"  # Wh, +A total (1.0.1.8.0)
    POWER_FACTOR = "power_factor"  # P/S, signed like P (1.0.13.7.0; L1..L3 33/53/73.7.0)

    @property
    def through_relay(self) -> bool:
        """A quantity of the load, zero while the relay is open (a voltage is measured on
        the supply side)."""
        return self is not Quantity.VOLTAGE

    @property
    def idle_value(self) -> float:
        """What the meter reads while no load current flows (the relay open): zero, or a
        power factor of 1 (metrology's convention for P/S without S)."""
        return 1.0 if self is Quantity.POWER_FACTOR else 0.0


class ScriptAction(Enum):
    """What a script referenced by a supervisor or a schedule does in the core."""

    NONE = "none"
    DISCONNECT = "disconnect"  # local disconnection (class 70 transition g)
    RECONNECT = "reconnect"  # local reconnection (transition h, control modes 5 and 6)
    BILLING_RESET = "billing_reset"  # end the billing period
    ACTIVATE_IMAGE = "activate_image"  # activate the transferred image (class 18)


_PHASES = {
    Quantity.ACTIVE_POWER: (0, 1, 2, 3),
    Quantity.CURRENT: (1, 2, 3),
    Quantity.VOLTAGE: (1, 2, 3),
    Quantity.IMPORT_ENERGY: (0,),
    Quantity.POWER_FACTOR: (0, 1, 2, 3),
}


@dataclass(frozen=True)
class SupervisorConfig:
    """One watched value. ``threshold`` is in the quantity's SI unit; a limiter's threshold 0
    disables it (the meter leaves the supply alone until a threshold is set)."""

    quantity: Quantity
    phase: int
    threshold: float
    over_ms: int = 0
    under_ms: int = 0
    action_over: ScriptAction = ScriptAction.NONE
    action_under: ScriptAction = ScriptAction.NONE
    limiter: bool = False  # a limiter logs threshold exceeded / ok (events 65 / 66)
    follows_power_limit: bool = False  # the threshold is the meter's power limit (STS)

    def __post_init__(self) -> None:
        if self.over_ms < 0 or self.under_ms < 0:
            raise ValueError("durations are not negative")
        phase_ok = self.phase in _PHASES[self.quantity]
        if not phase_ok:
            raise ValueError(f"{self.quantity.value} has no phase {self.phase}")


@dataclass
class SupervisorState:
    over: bool = False  # the value is above the threshold now
    since_ms: int = 0  # world ms when ``over`` last changed
    tripped: bool = False  # the over action ran; the under action is awaited


@dataclass(frozen=True)
class Firing:
    """An action due now: which supervisor, whether it is the over or the under action."""

    key: str
    over: bool
    action: ScriptAction
    limiter: bool


@dataclass(frozen=True)
class _Plan:
    """Over/under along an input series from ``origin``: the state at ``origin`` and the
    sorted world instants where it flips."""

    origin: int
    over_at_origin: bool
    flips: NDArray[np.int64]

    def over_at(self, t_ms: int) -> bool:
        count = int(np.searchsorted(self.flips, t_ms, side="right"))
        return self.over_at_origin ^ bool(count & 1)

    def next_flip(self, t_ms: int) -> int | None:
        i = int(np.searchsorted(self.flips, t_ms, side="right"))
        return int(self.flips[i]) if i < len(self.flips) else None


_NO_FLIPS: NDArray[np.int64] = np.zeros(0, dtype=np.int64)

EnergyReach = Callable[[int], int | None]
"""Given µJ still to import, the world instant the import register reaches it (or None)."""


def segment_values(series: InputSeries, quantity: Quantity, phase: int) -> NDArray[np.float64]:
    """The monitored value during each segment of ``series``, relay closed."""
    volts = series.voltage_v
    if quantity is Quantity.VOLTAGE:
        return np.asarray(volts[:, phase - 1], dtype=np.float64)
    live = volts > 0.0
    if quantity is Quantity.POWER_FACTOR:
        return _power_factor(series, live, phase)
    if quantity is Quantity.ACTIVE_POWER:
        watts = np.where(live, series.active_w, 0.0)
        column = watts.sum(axis=1) if phase == 0 else watts[:, phase - 1]
        return np.asarray(column, dtype=np.float64)
    k = phase - 1
    apparent = np.hypot(series.active_w[:, k], series.reactive_var[:, k])
    with np.errstate(divide="ignore", invalid="ignore"):
        amps = np.where(live[:, k], apparent / np.where(live[:, k], volts[:, k], 1.0), 0.0)
    return np.asarray(amps, dtype=np.float64)


def _power_factor(series: InputSeries, live: NDArray[np.bool_], phase: int) -> NDArray[np.float64]:
    """P/S as the meter shows it (1.0.13.7.0: the total over the arithmetic sum of the
    phases' S), 1 where no current flows."""
    watts = np.where(live, series.active_w, 0.0)
    apparent = np.hypot(watts, np.where(live, series.reactive_var, 0.0))
    if phase == 0:
        p, s = watts.sum(axis=1), apparent.sum(axis=1)
    else:
        p, s = watts[:, phase - 1], apparent[:, phase - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(s > 0.0, p / np.where(s > 0.0, s, 1.0), 1.0), np.float64)


class Supervision:
    """All the meter's supervisors, their states, and their plans for the present series."""

    def __init__(self) -> None:
        self.configs: dict[str, SupervisorConfig] = {}
        self.states: dict[str, SupervisorState] = {}
        self.saved: dict[str, list[int]] = {}  # states from storage, taken on configure
        self._plans: dict[tuple[str, bool], _Plan] = {}
        self._series: InputSeries | None = None

    def __bool__(self) -> bool:
        return bool(self.configs)

    def configure(self, key: str, config: SupervisorConfig | None, now_ms: int) -> None:
        """Install, change or (None) remove a supervisor; a changed one starts afresh,
        keeping whether its over action has run."""
        self._plans = {k: p for k, p in self._plans.items() if k[0] != key}
        active = config is not None and (config.threshold > 0 or not config.limiter)
        if not active:
            self.configs.pop(key, None)
            self.states.pop(key, None)
            return
        assert config is not None
        self.configs[key] = config
        if key in self.saved:  # configured again after a restart: resume where it was
            over, since, tripped = self.saved.pop(key)
            self.states[key] = SupervisorState(bool(over), int(since), bool(tripped))
            return
        state = self.states.setdefault(key, SupervisorState(since_ms=now_ms))
        state.since_ms = now_ms
        state.over = False

    def use_series(self, series: InputSeries | None) -> None:
        """The inputs from now on (None: between series); plans are worked out anew."""
        self._series = series
        self._plans = {}

    def forget_relay_plans(self) -> None:
        """The relay or the registers changed: energy crossings move."""
        self._plans = {
            k: p
            for k, p in self._plans.items()
            if self.configs[k[0]].quantity is not Quantity.IMPORT_ENERGY
        }

    def _plan(
        self,
        key: str,
        now_ms: int,
        connected: bool,
        energy_to_go: Callable[[float], int],
        reach: EnergyReach | None,
    ) -> _Plan:
        plan = self._plans.get((key, connected))
        if plan is not None and plan.origin <= now_ms:
            return plan
        config = self.configs[key]
        if config.quantity is Quantity.IMPORT_ENERGY:
            to_go = energy_to_go(config.threshold)
            crossing = reach(to_go) if reach is not None and connected and to_go > 0 else None
            flips = _NO_FLIPS if crossing is None else np.asarray([crossing], dtype=np.int64)
            plan = _Plan(now_ms, to_go <= 0, flips)
        elif config.quantity.through_relay and not connected:
            plan = _Plan(now_ms, config.quantity.idle_value > config.threshold, _NO_FLIPS)
        else:
            series = self._series
            assert series is not None, "the core gives the inputs before asking"
            first = max(series.index_at(now_ms), 0)
            over = segment_values(series, config.quantity, config.phase)[first:] > config.threshold
            changes = np.flatnonzero(over[1:] != over[:-1]) + 1 + first
            flips = series.start_ms[changes].astype(np.int64)
            plan = _Plan(now_ms, bool(over[0]), flips)
        self._plans[(key, connected)] = plan
        return plan

    def settle(
        self,
        now_ms: int,
        connected: bool,
        energy_to_go: Callable[[float], int],
        reach: EnergyReach | None,
    ) -> list[Firing]:
        """Bring every supervisor to ``now_ms`` and return the actions due now."""
        firings: list[Firing] = []
        for key, config in self.configs.items():
            state = self.states[key]
            over = self._plan(key, now_ms, connected, energy_to_go, reach).over_at(now_ms)
            if over != state.over:
                state.over = over
                state.since_ms = now_ms
            held = now_ms - state.since_ms
            if state.over and not state.tripped and held >= config.over_ms:
                state.tripped = True
                firings.append(Firing(key, True, config.action_over, config.limiter))
            elif not state.over and state.tripped and held >= config.under_ms:
                state.tripped = False
                firings.append(Firing(key, False, config.action_under, config.limiter))
        return firings

    def next_instant(
        self,
        now_ms: int,
        connected: bool,
        energy_to_go: Callable[[float], int],
        reach: EnergyReach | None,
    ) -> int | None:
        """The next world instant (> now) where a supervisor's state or action changes."""
        best: int | None = None
        for key, config in self.configs.items():
            state = self.states[key]
            plan = self._plan(key, now_ms, connected, energy_to_go, reach)
            candidates = [plan.next_flip(now_ms)]
            if state.over and not state.tripped:
                candidates.append(state.since_ms + config.over_ms)
            elif not state.over and state.tripped:
                candidates.append(state.since_ms + config.under_ms)
            for t in candidates:
                if t is not None and t > now_ms and (best is None or t < best):
                    best = t
        return best

    def holds_relay_open(self) -> bool:
        """A supervisor disconnected the supply and its under action is still awaited."""
        return any(
            self.states[key].tripped and config.action_over is ScriptAction.DISCONNECT
            for key, config in self.configs.items()
        )

    def to_state(self) -> dict[str, list[int]]:
        return {key: [int(s.over), s.since_ms, int(s.tripped)] for key, s in self.states.items()}
