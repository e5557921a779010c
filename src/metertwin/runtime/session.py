"""A meter with its memory and its world: open or create, advance, commit.

This is where the pure core meets storage and the simulated world. Every advance ends in
a commit, and nothing outside sees a state that was not committed first. A commit the memory
refuses puts the meter back to its last commit and makes the session read-only
(`Session.read_only`): it keeps what it can show, and acknowledges nothing it cannot keep.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from metertwin.config import UserConfig
from metertwin.errors import UserError
from metertwin.firmware_identity import install_firmware_keys
from metertwin.meter.clock import EARLIEST_CLOCK_MS, LATEST_CLOCK_MS, Clock
from metertwin.meter.core import Meter
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.profiles import EVENT, ProfileRecord
from metertwin.models import DEFAULT_MODEL, DeviceModel, WorldDefaults, load_model, model_from_text
from metertwin.models.energy import energy_register_values
from metertwin.sim import (
    DEFAULT_SCENARIO,
    Scenario,
    WorldSite,
    builtin_scenario_names,
    load_scenario,
)
from metertwin.sim.power_quality import install_power_quality
from metertwin.storage import MeterStore, StorageError
from metertwin.storage.sqlite import CommitError
from metertwin.sts import StsDecoder
from metertwin.sts_identity import meter_key_from_config

log = logging.getLogger(__name__)

FIRST_YEAR = datetime.fromtimestamp(EARLIEST_CLOCK_MS / 1000, UTC).year
LAST_YEAR = datetime.fromtimestamp((LATEST_CLOCK_MS - 1) / 1000, UTC).year
"""The years a meter clock can be set to (1971..2199): a new meter starts inside them."""

InputSource = Callable[[int, int], InputSeries]
"""Inputs over [start_ms, end_ms): a scenario's `series`, or a fixed state."""

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
        raise UserError(f"expected an ISO date-time, got {text!r}") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise UserError(f"{text}: a meter lives between {FIRST_YEAR} and {LAST_YEAR}")
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
    config: UserConfig = field(default_factory=UserConfig)
    announce_read_only: bool = True
    """Log a first failed commit as the meter turning read-only: true for a meter that goes on
    serving; a run that ends on the failure (``simulate``) reports it once, itself."""
    record_listeners: list[Callable[[list[ProfileRecord]], None]] = field(default_factory=list)
    """Called after each commit with the profile and event-log entries it stored (the
    control API's event stream): only what the memory holds is ever shown."""

    def close(self) -> None:
        self.store.close()

    @property
    def read_only(self) -> bool:
        """The memory refused a commit: the meter stays at its last commit until restarted."""
        return self.store.failure is not None

    # -- time ---------------------------------------------------------------------------

    def next_local_midnight(self) -> int:
        """World time of the meter's next local midnight (where daily snapshots are taken)."""
        clock = self.meter.clock
        now = self.meter.now_ms
        wall = self.meter.local_time()
        midnight = datetime(wall.year, wall.month, wall.day) + timedelta(days=1)
        # not_before: a DST end that steps back over midnight shows it twice; take the next.
        meter_midnight = clock.meter_ms_for_local(midnight, not_before=clock.meter_ms(now) + 1)
        return max(clock.true_ms_for(meter_midnight), now + 1)

    def advance_to(
        self,
        target_ms: int,
        inputs: InputSource | None = None,
        on_commit: Callable[[Meter], None] | None = None,
    ) -> None:
        """Advance under ``inputs`` (default: the scenario), committing at each local
        midnight (with a register snapshot) and at ``target_ms``; ``on_commit`` sees each
        committed state."""
        source = inputs or self.scenario.series
        meter = self.meter
        while meter.now_ms < target_ms:
            midnight = self.next_local_midnight()
            stop = min(midnight, target_ms)
            meter.feed(source(meter.now_ms, stop))
            self.commit(snapshot=stop == midnight)
            if on_commit is not None:
                on_commit(meter)

    def pass_outage(self, target_ms: int) -> None:
        """The process was down: the meter had no supply until ``target_ms``."""
        ratings = self.meter.spec.ratings
        zeros = (0.0,) * ratings.phases
        dark = PhysicalState(zeros, zeros, zeros, frequency_hz=ratings.frequency_hz)
        self.advance_to(target_ms, lambda start, end: InputSeries.constant(start, end, dark))

    def commit(self, snapshot: bool = False, meta: dict[str, str] | None = None) -> None:
        meter = self.meter
        registers = None
        if snapshot:
            registers = (
                meter.now_ms,
                meter.local_time().isoformat(),
                energy_register_values(meter),
            )
        records = meter.recorder.drain()
        # event logs are kept to their depth by the core, which chooses what leaves
        depths = {spec.name: spec.depth for spec in meter.spec.profiles if spec.period_s != EVENT}
        evicted = meter.recorder.drain_evicted()
        cleared = meter.recorder.drain_cleared()
        blocks = meter.firmware.drain_block_changes()
        first_failure = not self.read_only
        try:
            self.store.commit(
                meter.to_state(),
                registers,
                meta,
                records,
                depths,
                evicted,
                cleared,
                (blocks.dropped, blocks.written),
            )
        except CommitError as failure:
            if first_failure and self.announce_read_only:
                log.error("%s; the meter is read-only until restarted", failure)
                self._back_to_last_commit()
            raise
        if records:
            for listener in self.record_listeners:
                listener(records)

    def _back_to_last_commit(self) -> None:
        """Replace the meter by the one the memory holds, so that nothing it shows from now
        on was not committed (a new object: whatever was bound to the old one must follow)."""
        try:
            stored = self.store.load()
            meter = Meter.from_state(self.model.spec, stored.state)
            meter.firmware.restore_blocks(self.store.image_blocks())
            install_sts(meter, self.config)
        except (StorageError, sqlite3.Error, KeyError, TypeError, ValueError) as exc:
            # the memory cannot even be read back: keep what is in RAM
            log.error("%s: the last commit cannot be read back (%s)", self.store.directory, exc)
            return
        self.meter = meter


def install_sts(meter: Meter, config: UserConfig) -> None:
    """Give ``meter`` its STS decoder: the one it saved (key changes and remembered TIDs
    survive restarts), or a new one from the config's `[sts]` identity (issue 4 item 3);
    and the firmware keys of its `[firmware]` section (never saved in the memory)."""
    base = Path(config.source).parent if config.source != UserConfig().source else None
    key = meter_key_from_config(config.sts, config.source, meter.serial_number, base=base)
    saved = meter.saved_sts_state
    if saved is None:
        decoder = StsDecoder(key, tid_capacity=meter.spec.token_entry.tid_store)
    else:
        try:
            decoder = StsDecoder.from_state(saved, ea07_tables=key.ea07_tables)
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(f"the meter's saved STS state is unusable ({exc})") from None
    meter.install_sts(decoder)
    install_firmware_keys(meter.firmware, config.firmware, config.source, base)


def open_session(
    data_dir: Path,
    model_arg: str | None,
    config: UserConfig,
    scenario_arg: str | None,
    start: str | None,
    default_start: Callable[[DeviceModel], int],
    new_timeline: str,
    serial_number: str | None = None,
    new_meter: bool = False,
) -> Session:
    """Resume the meter in ``data_dir``, or create one there from ``model_arg`` (in a
    directory that has held a meter only with ``new_meter``, `MeterStore.open`).

    ``start`` (ISO) places a new meter in time. On an existing meter a ``start`` ahead of
    its present instant is reached without supply (the meter was unplugged); one at or
    before it changes nothing, so the same command resumes an interrupted run.
    """
    store = MeterStore.open(data_dir, new_meter)
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
                config.model_overrides,
                meter.to_state(),
                {"model": model.spec.name, TIMELINE_KEY: timeline},
            )
            created = True
            outage_until: int | None = None
        else:
            stored = store.load()
            if config.model_overrides and config.model_overrides != stored.model_overrides:
                sections = ", ".join(f"[{name}]" for name in sorted(config.model_overrides))
                raise StorageError(
                    f"{config.source}: {sections} would change the model of the meter in "
                    f"{data_dir}; a meter's model is fixed when it is created (use a new --data)"
                )
            model = model_from_text(stored.model_text, stored.model_source, stored.model_overrides)
            if wanted is not None and wanted not in (model.spec.name, stored.model_source):
                raise StorageError(
                    f"{data_dir}: holds a {model.spec.name!r} meter, not {wanted!r} "
                    "(choose another --data for a new meter)"
                )
            try:
                meter = Meter.from_state(model.spec, stored.state)
                meter.firmware.restore_blocks(store.image_blocks())
            except (KeyError, TypeError, ValueError) as exc:
                raise StorageError(
                    f"{data_dir}: meter state unreadable ({exc}); left untouched"
                ) from None
            for spec in model.spec.profiles:
                if spec.period_s == EVENT:  # what each event log holds decides what leaves it
                    entries = store.profile_entries(spec.name, 1, store.profile_count(spec.name))
                    meter.restore_event_log(spec.name, entries)
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
        install_sts(meter, config)
        install_power_quality(meter, scenario)
        if created:  # a scenario's firmware faults strike the meter it creates, once each
            for kind in getattr(getattr(scenario, "params", None), "firmware_faults", ()):
                meter.firmware.arm(kind)
        session = Session(model, meter, store, scenario, timeline, created, config)
        if outage_until is not None and outage_until > meter.now_ms:
            session.pass_outage(outage_until)
        return session
    except BaseException:
        store.close()
        raise
