"""Rooftop PV: pvlib clear-sky irradiance on the module plane, dimmed by seeded clouds.

Clear-sky is the expensive part, so it is computed on 15-minute UTC points in fixed
64-day spans, cached, and interpolated to the simulation grid. Clouds are drawn per day
(clear, broken or overcast) from the block's seeded generator.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np

from metertwin.sim.signals import (
    BLOCK_DAYS,
    BLOCK_S,
    DAY_S,
    STREAM_CLOUD,
    FloatArray,
    block_rng,
    render_events,
)

_POINT_S = 900
_SKY_POINTS = 96 * 64  # 64 days of 15-minute points per pvlib call


@functools.lru_cache(maxsize=64)
def clear_sky_span(
    latitude: float, longitude: float, tilt_deg: float, azimuth_deg: float, span: int
) -> FloatArray:
    """Clear-sky plane-of-array irradiance (W/m²) at the 15-minute UTC points of one span.

    Cached per process and shared by every plant with the same geometry, so a fleet on
    one site pays for pvlib once. Read-only.
    """
    import pandas as pd
    import pvlib
    from pvlib.location import Location

    start = pd.Timestamp(span * _SKY_POINTS * _POINT_S, unit="s", tz="UTC")
    # One point past the span's end so interpolation never needs the next span.
    times = pd.date_range(start, periods=_SKY_POINTS + 1, freq="15min")
    with warnings.catch_warnings():
        # pvlib 0.16 still calls pandas accessors that newer pandas deprecates.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        site = Location(latitude, longitude)
        # The ephemeris position is arc-minute accurate and ~7x faster than the SPA default.
        sun = pvlib.solarposition.ephemeris(times, latitude, longitude)
        sky = site.get_clearsky(times, solar_position=sun)
        poa = pvlib.irradiance.get_total_irradiance(
            tilt_deg,
            azimuth_deg,
            sun["apparent_zenith"],
            sun["azimuth"],
            sky["dni"],
            sky["ghi"],
            sky["dhi"],
        )["poa_global"]
    values = np.maximum(np.nan_to_num(np.asarray(poa, dtype=np.float64), nan=0.0), 0.0)
    values.flags.writeable = False
    return values


@dataclass
class PvPlant:
    """A PV array with its inverter at unity power factor."""

    kwp: float
    performance_ratio: float
    tilt_deg: float
    azimuth_deg: float
    cloudiness: float
    latitude: float
    longitude: float
    seed: int
    step_s: int

    def clear_sky_poa(self, t_s: FloatArray) -> FloatArray:
        """Clear-sky plane-of-array irradiance (W/m²) at UTC epoch seconds ``t_s``."""
        span_s = _SKY_POINTS * _POINT_S
        spans = np.floor_divide(t_s, span_s).astype(np.int64)
        out = np.empty_like(t_s)
        for b in np.unique(spans):
            mask = spans == b
            grid = clear_sky_span(
                self.latitude, self.longitude, self.tilt_deg, self.azimuth_deg, int(b)
            )
            xs = (t_s[mask] - float(b) * span_s) / _POINT_S
            out[mask] = np.interp(xs, np.arange(len(grid), dtype=np.float64), grid)
        return out

    def clouds(self, block: int) -> FloatArray:
        """Fraction of clear-sky irradiance that gets through, per grid step of the block.

        Each day is clear, overcast (low, slowly varying) or broken (cloud shadows of a
        few minutes passing over the array); cloudier in winter.
        """
        steps_day = DAY_S // self.step_s
        steps = BLOCK_DAYS * steps_day
        rng = block_rng(self.seed, STREAM_CLOUD, block)
        days = block * BLOCK_DAYS + np.arange(BLOCK_DAYS)
        season = np.cos(2.0 * np.pi * (days % 365.2425 / 365.2425 - 0.04))
        if self.latitude < 0:
            season = -season
        chance = np.minimum(1.0, self.cloudiness * (1.0 + 0.5 * season))
        weather = rng.uniform(size=BLOCK_DAYS)
        clear = weather >= chance
        overcast = weather < 0.4 * chance
        day_of_step = np.repeat(np.arange(BLOCK_DAYS), steps_day)
        mids = (np.arange(steps) + 0.5) * self.step_s

        haze = rng.uniform(0.96, 1.0, BLOCK_DAYS)
        hours = np.arange(BLOCK_DAYS * 24 + 2) * 3600.0 - 3600.0
        level = np.repeat(rng.uniform(0.12, 0.35, BLOCK_DAYS), 24)
        level = np.concatenate((level[:1], level, level[-1:]))
        dull = np.interp(mids, hours, level * rng.uniform(0.7, 1.3, len(hours)))

        cover = rng.uniform(0.2, 0.7, BLOCK_DAYS)
        mean_shadow_s = rng.uniform(120.0, 900.0, BLOCK_DAYS)
        count = rng.poisson(cover * DAY_S / mean_shadow_s)
        day = np.repeat(np.arange(BLOCK_DAYS), count)
        starts = (day + rng.uniform(size=len(day))) * DAY_S
        ends = starts + rng.exponential(mean_shadow_s[day])
        depth = rng.uniform(0.5, 0.85, len(day))
        shade = render_events(starts, ends, depth, steps, self.step_s)[0]
        broken = np.clip(1.0 - shade, 0.1, 1.0)

        result: FloatArray = np.where(
            clear[day_of_step],
            haze[day_of_step],
            np.where(overcast[day_of_step], dull, broken),
        )
        return result

    def block(self, block: int, utc_offset_s: int) -> FloatArray:
        """AC output (W, >= 0) per grid step of the block."""
        steps = BLOCK_S // self.step_s
        local = block * BLOCK_S + (np.arange(steps, dtype=np.float64) + 0.5) * self.step_s
        poa = self.clear_sky_poa(local - utc_offset_s)
        power = poa * (self.kwp * self.performance_ratio) * self.clouds(block)
        result: FloatArray = np.minimum(power, self.kwp * 1000.0)
        return result
