"""The shapes shared by scenario loading and the world engine: site, parameters, windows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import KW_ONLY, dataclass

from metertwin.meter.inputs import InputSeries

KINDS = ("household", "household-pv", "idle", "constant")
DEFAULT_PHASE_SHARES = (0.45, 0.33, 0.22)


@dataclass(frozen=True)
class WorldSite:
    """Where the meter is and what the grid looks like.

    ``utc_offset_minutes`` is the site's local standard time: household habits follow it
    (DST is ignored for behaviour, people get up with the sun more than with the clock).
    """

    phases: int
    nominal_voltage_v: float
    frequency_hz: float
    utc_offset_minutes: int
    latitude: float = 40.4
    longitude: float = 49.9

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ValueError(f"phases must be 1 or 3, got {self.phases}")
        if not self.nominal_voltage_v > 0:
            raise ValueError("nominal_voltage_v must be positive")
        if not self.frequency_hz > 0:
            raise ValueError("frequency_hz must be positive")
        if not -18 * 60 <= self.utc_offset_minutes <= 18 * 60:
            raise ValueError("utc_offset_minutes must be within ±18 h")
        if not (-90.0 <= self.latitude <= 90.0 and -180.0 <= self.longitude <= 180.0):
            raise ValueError("latitude/longitude out of range")


@dataclass(frozen=True)
class Window:
    """A power cut or fault from ``start_ms`` (inclusive) to ``end_ms`` (exclusive), UTC.

    ``kind`` is ``"power_cut"``, a fault kind, or ``"load"`` (the installation draws
    ``power_w`` in all, shared equally by the phases, instead of the scenario's load: the
    control API's override); ``phase`` is 1-based.
    """

    kind: str
    start_ms: int
    end_ms: int
    phase: int = 1  # 0: every phase (voltage events)
    _: KW_ONLY  # what only some kinds carry is named, never placed
    residual: float = 1.0  # a voltage event's voltage, as a fraction of the normal one
    power_w: float = 0.0  # a load window's power (the control API's load override)


@dataclass(frozen=True)
class PowerQualityParams:
    """The scenario's ``[power_quality]`` table (docs/power-quality.md, "Two fidelities").

    A fleet meter reports these as they are; with ``waveforms`` the meter synthesises its
    phases' waveforms from them every 10 minutes and measures THD, harmonics and flicker.
    """

    waveforms: bool = False
    voltage_harmonics: tuple[tuple[int, float], ...] = ()  # (order, % of the fundamental)
    appliances: tuple[tuple[str, float], ...] = (("smps", 0.3), ("motor", 0.7))
    pst: float = 0.0  # fleet: reported as is
    plt: float = 0.0
    flicker_cpm: float = 0.0  # detailed: rectangular modulation, changes per minute
    flicker_depth_percent: float = 0.0


@dataclass(frozen=True)
class ScenarioParams:
    """Validated scenario parameters; only those of the scenario's kind matter."""

    kind: str
    name: str
    seed: int = 1
    resolution_s: int = 60
    annual_kwh: float = 3500.0
    profile: str = "H25"
    power_factor: float = 0.95
    phase_shares: tuple[float, ...] = DEFAULT_PHASE_SHARES
    power_w: float = 1000.0
    pv_kwp: float = 5.0
    performance_ratio: float = 0.8
    pv_tilt_deg: float = 30.0
    pv_azimuth_deg: float | None = None  # None: facing the equator
    cloudiness: float = 0.5
    grid_outages_per_year: float = 0.0  # unplanned supply interruptions, at random
    grid_outage_median_s: int = 2700  # their typical length (log-normal around it)
    windows: tuple[Window, ...] = ()
    power_quality: PowerQualityParams = PowerQualityParams()
    firmware_faults: tuple[str, ...] = ()  # armed once in the meter the scenario creates


class Scenario(ABC):
    """A simulated world: the meter's physical inputs as a pure function of time."""

    name: str
    kind: str
    site: WorldSite

    @abstractmethod
    def series(self, start_ms: int, end_ms: int) -> InputSeries:
        """Inputs over ``[start_ms, end_ms)``; any split of a range gives the same values."""
