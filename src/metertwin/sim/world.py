"""The world engine: blocks of whole local days of load, PV and grid, cut to a range.

Values are computed per block of local days (see `metertwin.sim.signals`) from the block's
seeded generators and absolute time, on a fixed grid of ``resolution_s`` steps from local
midnight. Asking for ``[a, b)`` or for ``[a, s)`` then ``[s, b)`` therefore yields the same
piecewise-constant function; only the first segment's start and the last one's end follow
the request, plus boundaries at fault and power-cut edges.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from metertwin.meter.inputs import Fault, InputSeries
from metertwin.sim.base import Scenario, ScenarioParams, Window, WorldSite
from metertwin.sim.household import HouseholdLoad
from metertwin.sim.pv import PvPlant
from metertwin.sim.signals import (
    BLOCK_S,
    DAY_S,
    STREAM_NOISE,
    FloatArray,
    SmoothNoise,
    step_noise,
)

FAULT_FLAGS: dict[str, Fault] = {
    "phase_loss": Fault.PHASE_LOSS,
    "neutral_loss": Fault.NEUTRAL_LOSS,
    "reverse_current": Fault.REVERSE_CURRENT,
    "magnetic_field": Fault.MAGNETIC_FIELD,
    "meter_cover_open": Fault.METER_COVER_OPEN,
    "terminal_cover_open": Fault.TERMINAL_COVER_OPEN,
    "module_cover_open": Fault.MODULE_COVER_OPEN,
    "battery_low": Fault.BATTERY_LOW,
    "billing_button": Fault.BILLING_BUTTON,
    "relay_button": Fault.RELAY_BUTTON,
    "rtc_failure": Fault.RTC_FAILURE,
    "relay_fault": Fault.RELAY_FAULT,
    "nv_memory_error": Fault.NV_MEMORY_ERROR,
    "ram_error": Fault.RAM_ERROR,
    "program_memory_error": Fault.PROGRAM_MEMORY_ERROR,
    "watchdog_reset": Fault.WATCHDOG_RESET,
    "measurement_error": Fault.MEASUREMENT_ERROR,
    "battery_replaced": Fault.BATTERY_REPLACED,  # a new battery fitted (its window's start)
    "tariff_input": Fault.TARIFF_INPUT,  # the tariff input active: the model's rate forced
}

# Service-cable impedance seen by the meter: what makes voltage sag under a kettle and
# rise while exporting.
_SUPPLY_R_OHM = 0.15
_SUPPLY_X_OHM = 0.08
_BLOCK_CACHE = 2  # consecutive requests straddle at most two blocks
_DAY_MS = 86_400_000
_LONGEST_OUTAGE_MS = 12 * 3_600_000
_OUTAGE_STREAM = 0x6F757461  # keeps the outage draws apart from the load's random streams
_BLOCK_MS = BLOCK_S * 1000


@dataclass(frozen=True)
class _Block:
    voltage_v: FloatArray
    active_w: FloatArray
    reactive_var: FloatArray
    frequency_hz: FloatArray
    ambient_c: FloatArray


class SimulatedWorld(Scenario):
    """One scenario on one site; the last blocks computed are cached."""

    def __init__(self, params: ScenarioParams, site: WorldSite) -> None:
        self.params = params
        self.name = params.name
        self.kind = params.kind
        self.site = site
        self._step_s = params.resolution_s
        self._offset_s = site.utc_offset_minutes * 60
        self._blocks: OrderedDict[int, _Block] = OrderedDict()
        self._load: HouseholdLoad | None = None
        if params.kind in ("household", "household-pv"):
            shares = (1.0,) if site.phases == 1 else params.phase_shares
            self._load = HouseholdLoad(
                annual_kwh=params.annual_kwh,
                shares=tuple(s / sum(shares) for s in shares),
                seed=params.seed,
                step_s=params.resolution_s,
                profile=params.profile,
            )
        self._pv: PvPlant | None = None
        if params.kind == "household-pv":
            azimuth = params.pv_azimuth_deg
            if azimuth is None:
                azimuth = 180.0 if site.latitude >= 0 else 0.0
            self._pv = PvPlant(
                kwp=params.pv_kwp,
                performance_ratio=params.performance_ratio,
                tilt_deg=params.pv_tilt_deg,
                azimuth_deg=azimuth,
                cloudiness=params.cloudiness,
                latitude=site.latitude,
                longitude=site.longitude,
                seed=params.seed,
                step_s=params.resolution_s,
            )
        seed = params.seed
        self._v_noise = SmoothNoise.make(seed, 1, 1200.0, 6 * 3600.0)
        self._f_noise = SmoothNoise.make(seed, 2, 900.0, 3 * 3600.0, terms=4)
        self._weather = SmoothNoise.make(seed, 3, 2 * 86400.0, 20 * 86400.0, terms=4)
        bias = np.random.default_rng([seed, 99]).uniform(-0.004, 0.004, site.phases)
        self._phase_bias = bias
        self.live_windows: tuple[Window, ...] = ()
        """Windows set while the meter runs (the control API, runtime/live_inputs.py),
        applied as the scenario's own."""

    def __repr__(self) -> str:
        return f"SimulatedWorld({self.name!r}, kind={self.kind!r}, phases={self.site.phases})"

    # -- blocks of local days -------------------------------------------------------------

    def _block(self, block: int) -> _Block:
        cached = self._blocks.get(block)
        if cached is not None:
            self._blocks.move_to_end(block)
            return cached
        result = self._compute_block(block)
        self._blocks[block] = result
        if len(self._blocks) > _BLOCK_CACHE:
            self._blocks.popitem(last=False)
        return result

    def _compute_block(self, block: int) -> _Block:
        site = self.site
        phases = site.phases
        steps = BLOCK_S // self._step_s
        step_index = block * steps + np.arange(steps, dtype=np.int64)
        local_s = (step_index.astype(np.float64) + 0.5) * self._step_s
        utc_s: FloatArray = local_s - self._offset_s
        hour = (local_s % DAY_S) / 3600.0
        jitter = step_noise(self.params.seed, STREAM_NOISE, step_index, 2 * phases + 1)

        tan_phi = float(np.tan(np.arccos(self.params.power_factor)))
        if self._load is not None:
            active = self._load.block(block)
            # A power factor that wobbles a little around the nominal one.
            reactive = active * (tan_phi * np.maximum(1.0 + 0.1 * jitter[:, phases:-1], 0.0))
        elif self.kind == "constant":
            p = self.params.power_w
            active = np.full((steps, phases), p)
            reactive = np.full((steps, phases), abs(p) * tan_phi)
        else:
            active = np.zeros((steps, phases))
            reactive = np.zeros((steps, phases))
        if self._pv is not None:
            active = active - (self._pv.block(block, self._offset_s) / phases)[:, None]

        vn = site.nominal_voltage_v
        # Feeders sag in the evening peak and recover at night, plus slow wander and jitter.
        common = -0.008 * np.cos(2.0 * np.pi * (hour - 19.0) / 24.0)
        common += 0.005 * self._v_noise.sampled(utc_s, 300.0)
        rel = common[:, None] + self._phase_bias + 0.001 * jitter[:, :phases]
        voltage = vn * (1.0 + rel) - (active * _SUPPLY_R_OHM + reactive * _SUPPLY_X_OHM) / vn
        freq = site.frequency_hz + 0.012 * self._f_noise.sampled(utc_s, 180.0)
        freq += 0.003 * jitter[:, -1]

        year = (local_s / DAY_S % 365.2425) / 365.2425
        season = -10.0 * np.cos(2.0 * np.pi * (year - 20.0 / 365.0))
        if site.latitude < 0:
            season = -season
        ambient = 15.0 + season - 4.0 * np.cos(2.0 * np.pi * (hour - 3.0) / 24.0)
        ambient += 2.5 * self._weather.sampled(utc_s, 3600.0)
        return _Block(voltage, active, reactive, freq, ambient)

    # -- a range -------------------------------------------------------------------------

    def series(self, start_ms: int, end_ms: int) -> InputSeries:
        start_ms = int(start_ms)
        end_ms = int(end_ms)
        if end_ms <= start_ms:
            raise ValueError(f"empty range: end_ms {end_ms} <= start_ms {start_ms}")
        offset_ms = self._offset_s * 1000
        step_ms = self._step_s * 1000
        first = (start_ms + offset_ms) // _BLOCK_MS
        last = (end_ms - 1 + offset_ms) // _BLOCK_MS
        blocks = [self._block(b) for b in range(first, last + 1)]
        grid0 = first * _BLOCK_MS - offset_ms
        i0 = (start_ms - grid0) // step_ms
        i1 = -(-(end_ms - grid0) // step_ms)
        starts = grid0 + np.arange(i0, i1, dtype=np.int64) * step_ms
        starts[0] = start_ms

        size = BLOCK_S // self._step_s
        pieces = [
            (b, max(i0 - j * size, 0), min(i1 - j * size, size)) for j, b in enumerate(blocks)
        ]

        def cut(name: str) -> FloatArray:
            # Always a fresh array: the windows below modify it, the cache must not.
            parts = [getattr(b, name)[lo:hi] for b, lo, hi in pieces]
            piece: FloatArray = np.array(parts[0]) if len(parts) == 1 else np.concatenate(parts)
            return piece

        voltage = cut("voltage_v")
        active = cut("active_w")
        reactive = cut("reactive_var")
        freq = cut("frequency_hz")
        ambient = cut("ambient_c")

        windows = [
            w
            for w in (
                *self.params.windows,
                *self.live_windows,
                *self._grid_outages(start_ms, end_ms),
            )
            if w.start_ms < end_ms and w.end_ms > start_ms
        ]
        edges = sorted(
            {e for w in windows for e in (w.start_ms, w.end_ms) if start_ms < e < end_ms}
        )
        if edges:
            merged = np.union1d(starts, np.asarray(edges, dtype=np.int64))
            index = np.searchsorted(starts, merged, side="right") - 1
            starts = merged
            voltage, active, reactive = voltage[index], active[index], reactive[index]
            freq, ambient = freq[index], ambient[index]
        leakage = np.zeros(len(starts))
        faults = np.zeros(len(starts), dtype=np.uint32)
        if windows:
            self._apply(windows, starts, voltage, active, reactive, leakage, faults)
        return InputSeries(
            start_ms=starts,
            end_ms=end_ms,
            voltage_v=voltage,
            active_w=active,
            reactive_var=reactive,
            frequency_hz=freq,
            ambient_c=ambient,
            earth_leakage_a=leakage,
            faults=faults,
        )

    def _grid_outages(self, start_ms: int, end_ms: int) -> list[Window]:
        """Unplanned interruptions of the supply: on each UTC day one begins with
        probability ``grid_outages_per_year`` / 365.25, at a random instant, lasting a
        log-normal time around ``grid_outage_median_s`` (at most 12 h), both on the
        scenario's time grid. Drawn per day from the seed, so any split of a range sees
        the same outages."""
        params = self.params
        chance = params.grid_outages_per_year / 365.25
        if chance <= 0.0:
            return []
        step_ms = self._step_s * 1000
        offset_ms = self._offset_s * 1000
        outages = []
        first = (start_ms - _LONGEST_OUTAGE_MS) // _DAY_MS
        for day in range(first, (end_ms - 1) // _DAY_MS + 1):
            draw = np.random.default_rng((params.seed, _OUTAGE_STREAM, day + (1 << 32)))
            if draw.random() >= chance:
                continue
            begin = day * _DAY_MS + int(draw.integers(0, _DAY_MS // step_ms)) * step_ms
            begin -= (begin + offset_ms) % step_ms  # on the series' grid
            length = params.grid_outage_median_s * 1000 * math.exp(0.9 * draw.standard_normal())
            steps = max(1, round(min(length, _LONGEST_OUTAGE_MS) / step_ms))
            outages.append(Window("power_cut", begin, begin + steps * step_ms))
        return outages

    def _apply(
        self,
        windows: list[Window],
        starts: np.ndarray[tuple[int], np.dtype[np.int64]],
        voltage: FloatArray,
        active: FloatArray,
        reactive: FloatArray,
        leakage: FloatArray,
        faults: np.ndarray[tuple[int], np.dtype[np.uint32]],
    ) -> None:
        """Faults in a fixed order: a load override first, wiring faults next, then the
        floating neutral, which depends on the loads left, then power cuts, which override
        everything."""

        def mask(w: Window) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
            result: np.ndarray[tuple[int], np.dtype[np.bool_]] = (starts >= w.start_ms) & (
                starts < w.end_ms
            )
            return result

        phase_count = self.site.phases
        tan_phi = float(np.tan(np.arccos(self.params.power_factor)))
        for w in windows:
            if w.kind == "load":
                m = mask(w)
                active[m] = w.power_w / phase_count
                reactive[m] = abs(w.power_w / phase_count) * tan_phi
        for kind in ("reverse_current", "phase_loss"):
            for w in windows:
                if w.kind != kind:
                    continue
                m = mask(w)
                p = w.phase - 1
                if kind == "reverse_current":
                    active[m, p] = -active[m, p]
                else:
                    voltage[m, p] = active[m, p] = reactive[m, p] = 0.0
        for w in windows:
            if w.kind == "neutral_loss":
                self._neutral_loss(mask(w), voltage, active, reactive, leakage)
        for w in windows:
            if w.kind == "voltage_event":  # a dip or swell: constant-impedance loads follow
                m = mask(w)
                phases = slice(None) if w.phase == 0 else slice(w.phase - 1, w.phase)
                voltage[m, phases] *= w.residual
                active[m, phases] *= w.residual**2
                reactive[m, phases] *= w.residual**2
        for w in windows:
            if w.kind == "power_cut":
                m = mask(w)
                voltage[m] = active[m] = reactive[m] = 0.0
                leakage[m] = 0.0
            elif w.kind in FAULT_FLAGS:
                faults[mask(w)] |= np.uint32(FAULT_FLAGS[w.kind])

    def _neutral_loss(
        self,
        m: np.ndarray[tuple[int], np.dtype[np.bool_]],
        voltage: FloatArray,
        active: FloatArray,
        reactive: FloatArray,
        leakage: FloatArray,
    ) -> None:
        if not m.any():
            return
        v = voltage[m]
        p = active[m]
        q = reactive[m]
        if self.site.phases == 1:
            # The load current finds its way back through the protective earth.
            with np.errstate(divide="ignore", invalid="ignore"):
                current = np.where(v[:, 0] > 0, np.hypot(p[:, 0], q[:, 0]) / v[:, 0], 0.0)
            leakage[m] = current
            return
        # Floating star point: each phase is a constant impedance drawing its present
        # power; the star point moves toward the heavily loaded phases, so the lightly
        # loaded ones see more voltage (up to the line-to-line voltage).
        angles = np.array([0.0, -2.0 * np.pi / 3.0, 2.0 * np.pi / 3.0])
        phasors = v * np.exp(1j * angles)
        with np.errstate(divide="ignore", invalid="ignore"):
            admittance = np.where(v > 0, (np.abs(p) - 1j * q) / np.maximum(v, 1e-9) ** 2, 0.0)
            total = admittance.sum(axis=1)
            star = np.where(np.abs(total) > 1e-12, (admittance * phasors).sum(axis=1) / total, 0.0)
        shifted = np.abs(phasors - star[:, None])
        shifted = np.where(v > 0, shifted, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(v > 0, (shifted / np.maximum(v, 1e-9)) ** 2, 0.0)
        voltage[m] = shifted
        active[m] = p * scale
        reactive[m] = q * scale
