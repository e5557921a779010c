"""Inputs and faults set while the meter runs (the control API): scenario windows from now on.

A change opens a window at the meter's present instant (open-ended, or one meter-second for a
button press) or closes the open one; the world applies them as it applies a scenario file's
power cuts and faults (sim/world.py), so the meter's detection sees exactly what a scenario
would give it. The windows still in force are kept in the meter's memory (meta key
``live_inputs``) in the same commit that acknowledges the change, so a restart resumes them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from metertwin.meter.spec import DeviceSpec
from metertwin.sim.base import Window
from metertwin.sim.world import FAULT_FLAGS, SimulatedWorld

META_KEY = "live_inputs"
OPEN_END_MS = 1 << 62
"""The end of a window nobody has closed yet (far beyond any meter's life)."""
PRESS_MS = 1000
"""A button press holds the button down for one meter-second (the meter acts on the press)."""

OUTAGE = "outage"
LOAD = "load"
MAX_LOAD_W = 1e7
BUTTONS = ("billing_button", "relay_button", "battery_replaced")
PER_PHASE = ("phase_loss", "reverse_current")
INPUT_NAMES: tuple[str, ...] = (OUTAGE, LOAD, *FAULT_FLAGS)
"""What the API may change: the supply, the load, and every fault a scenario file names."""

_KIND_OF = {OUTAGE: "power_cut"}


class InputError(ValueError):
    """A change the meter cannot take: ``status`` is the HTTP status that refuses it."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InputChange:
    """One change asked for: ``active`` on or off, ``phase`` for per-phase faults (1-based),
    ``power_w`` for the load override (import > 0, export < 0)."""

    name: str
    active: bool = True
    phase: int | None = None
    power_w: float | None = None


def absent_inputs(spec: DeviceSpec) -> dict[str, str]:
    """Inputs of parts the model lacks (issue 20 items 8, 9), with what it lacks."""
    absent = {}
    if spec.battery is None:
        absent["battery_replaced"] = "battery ([battery])"
    if spec.tariff_input_rate is None:
        absent["tariff_input"] = "tariff input ([io] tariff_input_rate)"
    return absent


class LiveInputs:
    """The windows set through the API over one scenario (a `SimulatedWorld`);
    ``absent``: inputs the model has no part for (refused 404, naming what it lacks)."""

    def __init__(
        self, world: SimulatedWorld, phases: int, absent: dict[str, str] | None = None
    ) -> None:
        self.world = world
        self.phases = phases
        self.absent = absent or {}

    @property
    def windows(self) -> tuple[Window, ...]:
        return self.world.live_windows

    def restore(self, text: str | None) -> None:
        """The windows a previous run committed (meta ``live_inputs``); none if absent."""
        if not text:
            return
        try:
            items = json.loads(text)
            self.world.live_windows = tuple(Window(**item) for item in items)
        except (ValueError, TypeError) as exc:
            raise InputError(f"the stored live inputs are unreadable ({exc})") from None

    def to_meta(self) -> dict[str, str]:
        return {META_KEY: json.dumps([asdict(w) for w in self.windows])}

    def changed(self, change: InputChange, now_ms: int) -> tuple[Window, ...]:
        """The windows after ``change`` at ``now_ms`` (not yet in force: see `apply`)."""
        name = change.name
        if name not in INPUT_NAMES:
            known = ", ".join(INPUT_NAMES)
            raise InputError(f"unknown input {name!r} (known: {known})", 404)
        self._check_present(name)
        kind = _KIND_OF.get(name, name)
        phase = self._phase(name, change.phase)
        power_w = 0.0
        if name == LOAD and change.active:
            if change.power_w is None:
                raise InputError("load: power_w (W, import > 0, export < 0) is required")
            if not -MAX_LOAD_W <= change.power_w <= MAX_LOAD_W:
                raise InputError(f"power_w: expected -1e7..1e7 W, got {change.power_w!r}")
            power_w = float(change.power_w)
        elif change.power_w is not None and name != LOAD:
            raise InputError(f"{name}: power_w applies to the load only")
        # the windows still in force; the one this change replaces (same input) is closed
        kept: list[Window] = []
        for window in self.windows:
            if window.end_ms <= now_ms:
                continue
            if window.kind == kind and window.phase == phase:
                window = replace(window, end_ms=now_ms)
                if window.end_ms <= window.start_ms:
                    continue
            kept.append(window)
        if change.active:
            kept.append(Window(kind, now_ms, OPEN_END_MS, phase=phase, power_w=power_w))
        return tuple(kept)

    def press(self, name: str, now_ms: int) -> tuple[Window, ...]:
        """A button pressed now and released one meter-second later."""
        if name not in BUTTONS:
            raise InputError(f"unknown button {name!r} (known: {', '.join(BUTTONS)})", 404)
        self._check_present(name)
        kept = [w for w in self.windows if w.end_ms > now_ms and w.kind != name]
        return (*kept, Window(name, now_ms, now_ms + PRESS_MS))

    def apply(self, windows: tuple[Window, ...]) -> tuple[Window, ...]:
        """Put ``windows`` in force; returns the previous ones (to undo a refused commit)."""
        previous = self.world.live_windows
        self.world.live_windows = windows
        return previous

    def active(self, now_ms: int) -> list[dict[str, object]]:
        """The inputs in force at ``now_ms``, as the API shows them."""
        shown: list[dict[str, object]] = []
        for window in self.windows:
            if not window.start_ms <= now_ms < window.end_ms:
                continue
            name = OUTAGE if window.kind == "power_cut" else window.kind
            item: dict[str, object] = {"input": name, "since_ms": window.start_ms}
            if name in PER_PHASE:
                item["phase"] = window.phase
            if name == LOAD:
                item["power_w"] = window.power_w
            if window.end_ms != OPEN_END_MS:
                item["until_ms"] = window.end_ms
            shown.append(item)
        return shown

    def _check_present(self, name: str) -> None:
        if name in self.absent:
            raise InputError(f"{name}: this model has no {self.absent[name]}", 404)

    def _phase(self, name: str, phase: int | None) -> int:
        if name not in PER_PHASE:
            if phase is not None:
                raise InputError(f"{name}: phase applies to {' and '.join(PER_PHASE)} only")
            return 1
        if phase is None:
            raise InputError(f"{name}: phase (1..{self.phases}) is required")
        if not 1 <= phase <= self.phases:
            raise InputError(f"phase: expected 1..{self.phases}, got {phase}")
        return phase
