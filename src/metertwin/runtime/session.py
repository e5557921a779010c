"""A meter with its memory and its world: open or create, advance, commit.

This is where the pure core meets storage and the simulated world. Every advance ends in
a commit, and nothing outside sees a state that was not committed first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from metertwin.config import UserConfig
from metertwin.meter.clock import Clock
from metertwin.meter.core import Meter
from metertwin.meter.inputs import PhysicalState
from metertwin.models import DEFAULT_MODEL, DeviceModel, WorldDefaults, load_model, model_from_text
from metertwin.models.energy import energy_register_values
from metertwin.sim import (
    DEFAULT_SCENARIO,
    Scenario,
    WorldSite,
    builtin_scenario_names,
    load_scenario,
)
from metertwin.storage import MeterStore, StorageError

TIMELINE_KEY = "timeline"
WALL = "wall"  # the meter's world time follows the host's clock (run at speed 1, no --start)
SIMULATED = "simulated"


def _world_defaults(scenario: str, world: WorldDefaults) -> dict[str, float]:
    """A built-in household scenario takes the model's installation (annual energy, PV)."""
    if scenario not in builtin_scenario_names() or not scenario.startswith("household"):
        return {}
    defaults = {"annual_kwh": world.annual_kwh}
    if scenario == "household-pv":
        defaults["pv_kwp"] = world.pv_kwp
    return defaults


def parse_start(text: str, model: DeviceModel) -> int:
    """An ISO date-time to UTC ms; without an offset it is the meter's local wall time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise StorageError(f"--start: expected an ISO date-time, got {text!r}") from None
    if moment.tzinfo is not None:
        return int(moment.timestamp() * 1000)
    return Clock(model.spec.clock, 0).meter_ms_for_local(moment)


@dataclass
class Session:
    model: DeviceModel
    meter: Meter
    store: MeterStore
    scenario: Scenario
    timeline: str
    created: bool

    def close(self) -> None:
        self.store.close()

    # -- time ---------------------------------------------------------------------------

    def next_local_midnight(self) -> int:
        """World time of the meter's next local midnight (where daily snapshots are taken)."""
        clock = self.meter.clock
        wall = self.meter.local_time()
        midnight = datetime(wall.year, wall.month, wall.day) + timedelta(days=1)
        return max(clock.true_ms_for(clock.meter_ms_for_local(midnight)), self.meter.now_ms + 1)

    def advance_to(self, target_ms: int) -> None:
        """Advance under the scenario's inputs, committing at each local midnight (with a
        register snapshot) and at ``target_ms``."""
        meter = self.meter
        while meter.now_ms < target_ms:
            midnight = self.next_local_midnight()
            stop = min(midnight, target_ms)
            meter.feed(self.scenario.series(meter.now_ms, stop))
            self.commit(snapshot=stop == midnight)

    def pass_outage(self, target_ms: int) -> None:
        """The process was down: the meter had no supply until ``target_ms``."""
        meter = self.meter
        phases = meter.spec.ratings.phases
        dark = PhysicalState(
            (0.0,) * phases,
            (0.0,) * phases,
            (0.0,) * phases,
            frequency_hz=meter.spec.ratings.frequency_hz,
        )
        while meter.now_ms < target_ms:
            midnight = self.next_local_midnight()
            stop = min(midnight, target_ms)
            meter.advance(stop, dark)
            self.commit(snapshot=stop == midnight)

    def commit(self, snapshot: bool = False, meta: dict[str, str] | None = None) -> None:
        meter = self.meter
        registers = None
        if snapshot:
            registers = (
                meter.now_ms,
                meter.local_time().isoformat(),
                energy_register_values(meter),
            )
        self.store.commit(meter.to_state(), registers, meta)


def open_session(
    data_dir: Path,
    model_arg: str | None,
    config: UserConfig,
    scenario_arg: str | None,
    start: str | None,
    default_start: Callable[[DeviceModel], int],
    new_timeline: str,
    serial_number: str | None = None,
) -> Session:
    """Resume the meter in ``data_dir``, or create one there from ``model_arg``.

    ``start`` (ISO) places a new meter in time. On an existing meter a ``start`` ahead of
    its present instant is reached without supply (the meter was unplugged); one at or
    before it changes nothing, so the same command resumes an interrupted run.
    """
    store = MeterStore.open(data_dir)
    try:
        wanted = model_arg or config.model
        if store.is_empty():
            model = load_model(wanted or DEFAULT_MODEL, config.model_overrides, config.source)
            first_ms = default_start(model) if start is None else parse_start(start, model)
            serial = serial_number or config.serial_number or "00000001"
            meter = Meter(model.spec, first_ms, serial)
            timeline = new_timeline if start is None else SIMULATED
            store.create(
                model.source,
                model.text,
                meter.to_state(),
                {"model": model.spec.name, TIMELINE_KEY: timeline},
            )
            created = True
            outage_until: int | None = None
        else:
            stored = store.load()
            model = model_from_text(
                stored.model_text, stored.model_source, config.model_overrides, config.source
            )
            if wanted is not None and wanted not in (model.spec.name, stored.model_source):
                raise StorageError(
                    f"{data_dir}: holds a {model.spec.name!r} meter, not {wanted!r} "
                    "(choose another --data for a new meter)"
                )
            try:
                meter = Meter.from_state(model.spec, stored.state)
            except (KeyError, TypeError, ValueError) as exc:
                raise StorageError(
                    f"{data_dir}: meter state unreadable ({exc}); left untouched"
                ) from None
            timeline = stored.meta.get(TIMELINE_KEY, SIMULATED)
            created = False
            # --start places a new meter; an existing one only moves ahead to it.
            outage_until = None if start is None else parse_start(start, model)
        world = model.world
        site = WorldSite(
            phases=model.spec.ratings.phases,
            nominal_voltage_v=model.spec.ratings.nominal_voltage_v,
            frequency_hz=model.spec.ratings.frequency_hz,
            utc_offset_minutes=model.spec.clock.utc_offset_minutes,
            latitude=world.latitude,
            longitude=world.longitude,
        )
        scenario = load_scenario(
            scenario_arg or DEFAULT_SCENARIO,
            site,
            {**_world_defaults(scenario_arg or DEFAULT_SCENARIO, world), **config.scenario},
            overrides_source=f"{config.source} [scenario]",
        )
        session = Session(model, meter, store, scenario, timeline, created)
        if outage_until is not None and outage_until > meter.now_ms:
            session.pass_outage(outage_until)
        return session
    except BaseException:
        store.close()
        raise
