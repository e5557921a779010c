"""Scenarios: built-in or TOML files describing the world a meter lives in.

A scenario file names its ``kind`` and that kind's parameters, plus power cuts and faults
common to all kinds::

    kind = "household-pv"
    annual_kwh = 4200
    pv_kwp = 6.5
    power_cuts = [{start = "2026-03-01T10:00:00", duration_s = 10800}]
    faults = [{kind = "phase_loss", start = "2026-03-02T08:00:00", duration_s = 600, phase = 2}]
    firmware_faults = ["fail-self-check"]   # armed in the meter it creates (docs/firmware.md)

Start times are the site's local (standard) wall time unless they carry an offset. Every
mistake is refused with the file, the field path and what was expected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from metertwin.meter.firmware import FIRMWARE_FAULTS
from metertwin.schema import SchemaError, TableReader, deep_merge, load_toml, parse_toml
from metertwin.sim.base import (
    DEFAULT_PHASE_SHARES,
    KINDS,
    PowerQualityParams,
    Scenario,
    ScenarioParams,
    Window,
    WorldSite,
)
from metertwin.sim.household import STANDARD_PROFILES
from metertwin.sim.signals import DAY_S
from metertwin.sim.waveforms import APPLIANCE_HARMONICS, MAX_HARMONIC_ORDER
from metertwin.sim.world import FAULT_FLAGS, SimulatedWorld

__all__ = [
    "DEFAULT_SCENARIO",
    "Scenario",
    "ScenarioError",
    "ScenarioParams",
    "WorldSite",
    "builtin_scenario_names",
    "load_scenario",
    "parse_scenario",
]

DEFAULT_SCENARIO = "household"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


class ScenarioError(SchemaError):
    """A scenario name, file or override that cannot be used."""


def builtin_scenario_names() -> list[str]:
    """Names of the scenarios shipped in ``metertwin/sim/data``, the default first."""
    names = sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files("metertwin.sim").joinpath("data").iterdir()
        if entry.name.endswith(".toml")
    )
    return sorted(names, key=lambda n: n != DEFAULT_SCENARIO)


def load_scenario(
    name_or_path: str,
    site: WorldSite,
    overrides: Mapping[str, Any] | None = None,
    *,
    overrides_source: str = "[scenario] overrides",
) -> Scenario:
    """A built-in scenario by name, or a TOML scenario file by path.

    ``overrides`` (the parameters of the user's ``[scenario]`` config section, without
    whatever key selected the scenario) are merged over the file's; an error in one of
    them names ``overrides_source`` instead of the file.
    """
    if name_or_path in builtin_scenario_names():
        source = f"built-in scenario {name_or_path!r}"
        text = resources.files("metertwin.sim").joinpath(f"data/{name_or_path}.toml")
        data = parse_toml(text.read_text(encoding="utf-8"), source)
        default_name = name_or_path
    else:
        path = Path(name_or_path)
        if not path.is_file():
            names = ", ".join(builtin_scenario_names())
            raise ScenarioError(
                name_or_path, "", f"not a built-in scenario ({names}) nor a scenario file"
            )
        source = str(path)
        try:
            data = load_toml(path)
        except SchemaError as exc:
            raise ScenarioError(exc.source, exc.path, exc.message) from None
        default_name = path.stem
    extra = dict(overrides or {})
    params = parse_scenario(
        deep_merge(data, extra), source, site, default_name, extra, overrides_source
    )
    return SimulatedWorld(params, site)


def parse_scenario(
    data: Mapping[str, Any],
    source: str,
    site: WorldSite,
    default_name: str = "scenario",
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str = "[scenario] overrides",
) -> ScenarioParams:
    """Validate a scenario document; errors in keys taken from ``overrides`` blame them."""
    try:
        return _parse(_plain(data), source, site, default_name)
    except SchemaError as exc:
        top = exc.path.split(".", 1)[0].split("[", 1)[0]
        blame = overrides_source if overrides and top in overrides else exc.source
        raise ScenarioError(blame, exc.path, exc.message) from None


def _plain(value: Any) -> Any:
    """TOML date-times as ISO strings, so ``start = 2026-03-01T10:00:00`` (unquoted) and
    ``start = "2026-03-01T10:00:00"`` read the same way."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


def _parse(data: Mapping[str, Any], source: str, site: WorldSite, name: str) -> ScenarioParams:
    r = TableReader(data, source)
    kind = r.str("kind", choices=KINDS)
    values: dict[str, Any] = {
        "kind": kind,
        "name": r.str("name", name),
        "seed": r.int("seed", 1, low=0),
        "resolution_s": r.int("resolution_s", 60, low=1, high=3600),
    }
    r.str("description", "")
    if DAY_S % values["resolution_s"]:
        raise r.error("resolution_s", "expected a whole divisor of 86400 (one day)")
    if kind in ("household", "household-pv"):
        values["annual_kwh"] = r.float("annual_kwh", 3500.0, low=0.0, high=1e9)
        values["profile"] = r.str("profile", "H25", choices=STANDARD_PROFILES)
        values["power_factor"] = r.float("power_factor", 0.95, low=0.3, high=1.0)
        values["phase_shares"] = _shares(r)
    if kind == "household-pv":
        values["pv_kwp"] = r.float("pv_kwp", 5.0, low=0.0, high=1e6)
        values["performance_ratio"] = r.float("performance_ratio", 0.8, low=0.0, high=1.0)
        values["pv_tilt_deg"] = r.float("pv_tilt_deg", 30.0, low=0.0, high=90.0)
        if r.has("pv_azimuth_deg"):
            values["pv_azimuth_deg"] = r.float("pv_azimuth_deg", low=0.0, high=360.0)
        values["cloudiness"] = r.float("cloudiness", 0.5, low=0.0, high=1.0)
    if kind == "constant":
        values["power_w"] = r.float("power_w", 1000.0, low=-1e7, high=1e7)
        values["power_factor"] = r.float("power_factor", 1.0, low=0.05, high=1.0)
    values["grid_outages_per_year"] = r.float("grid_outages_per_year", 0.0, low=0.0, high=365.0)
    values["grid_outage_median_s"] = r.int("grid_outage_median_s", 2700, low=1, high=43_200)

    windows: list[Window] = []
    for t in r.tables("power_cuts", []):
        start, end = _span(t, site)
        windows.append(Window("power_cut", start, end))
        t.finish()
    for t in r.tables("faults", []):
        fault = t.str("kind", choices=tuple(FAULT_FLAGS))
        start, end = _span(t, site)
        phase = t.int("phase", 1, low=1, high=site.phases)
        windows.append(Window(fault, start, end, phase))
        t.finish()
    for t in r.tables("voltage_events", []):
        start, end = _span(t, site)
        phase = t.int("phase", 0, low=0, high=site.phases)
        residual = t.float("residual", low=0.0, high=2.0)
        windows.append(Window("voltage_event", start, end, phase, residual=residual))
        t.finish()
    values["windows"] = tuple(windows)
    firmware_faults = r.str_list("firmware_faults", [])
    for kind in firmware_faults:
        if kind not in FIRMWARE_FAULTS:
            raise r.error("firmware_faults", f"expected some of {', '.join(FIRMWARE_FAULTS)}")
    values["firmware_faults"] = tuple(firmware_faults)
    if r.has("power_quality"):
        values["power_quality"] = _power_quality(r.table("power_quality"))
    r.finish()
    return ScenarioParams(**values)


def _power_quality(t: TableReader) -> PowerQualityParams:
    """``[power_quality]``: harmonics as ``{order = percent}``, appliance shares by type."""
    harmonics = t.table("voltage_harmonics", {})
    lines = []
    for key in harmonics.data:
        if not key.isdigit() or not 2 <= int(key) <= MAX_HARMONIC_ORDER:
            raise harmonics.error(key, f"expected a harmonic order 2..{MAX_HARMONIC_ORDER}")
        lines.append((int(key), harmonics.float(key, low=0.0, high=100.0)))
    appliances = t.table("appliances", {"smps": 0.3, "motor": 0.7})
    shares = []
    for key in appliances.data:
        if key not in APPLIANCE_HARMONICS:
            raise appliances.error(key, f"expected one of {', '.join(APPLIANCE_HARMONICS)}")
        shares.append((key, appliances.float(key, low=0.0, high=1e6)))
    if not shares or sum(share for _, share in shares) <= 0:
        raise t.error("appliances", "expected at least one positive share")
    params = PowerQualityParams(
        waveforms=t.bool("waveforms", False),
        voltage_harmonics=tuple(sorted(lines)),
        appliances=tuple(shares),
        pst=t.float("pst", 0.0, low=0.0, high=100.0),
        plt=t.float("plt", 0.0, low=0.0, high=100.0),
        flicker_cpm=t.float("flicker_cpm", 0.0, low=0.0, high=6000.0),
        flicker_depth_percent=t.float("flicker_depth_percent", 0.0, low=0.0, high=50.0),
    )
    t.finish()
    return params


def _shares(r: TableReader) -> tuple[float, ...]:
    """Per-phase shares of a three-phase household's load (ignored for one phase)."""
    items = r.list("phase_shares", list(DEFAULT_PHASE_SHARES))
    if len(items) != 3:
        raise r.error("phase_shares", f"expected 3 numbers, got {len(items)}")
    shares: list[float] = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int | float) or item < 0:
            raise r.error(f"phase_shares[{i}]", f"expected a number >= 0, got {item!r}")
        shares.append(float(item))
    if sum(shares) <= 0:
        raise r.error("phase_shares", "expected at least one positive share")
    return tuple(shares)


def _span(t: TableReader, site: WorldSite) -> tuple[int, int]:
    """``start`` (local wall time unless it has an offset) and ``duration_s`` as UTC ms."""
    text = t.str("start")
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise t.error(
            "start", f"expected a date-time like 2026-03-01T10:00:00, got {text!r}"
        ) from None
    if when.tzinfo is None:
        local = dt.timezone(dt.timedelta(minutes=site.utc_offset_minutes))
        when = when.replace(tzinfo=local)
    start_ms = (when - _EPOCH) // _MS
    duration = t.float("duration_s")
    if not duration > 0:
        raise t.error("duration_s", f"expected a duration > 0 s, got {duration!r}")
    return start_ms, start_ms + round(duration * 1000)
