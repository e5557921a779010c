"""The simulated world: resumability, determinism, energy, PV, power cuts and faults."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metertwin.meter.inputs import Fault, InputSeries
from metertwin.sim import Scenario, WorldSite, builtin_scenario_names, load_scenario

BAKU_1P = WorldSite(phases=1, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=240)
BAKU_3P = WorldSite(phases=3, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=240)
HOUR = 3_600_000
DAY = 24 * HOUR
FIELDS = (
    "voltage_v",
    "active_w",
    "reactive_var",
    "frequency_hz",
    "ambient_c",
    "earth_leakage_a",
    "faults",
)


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def local_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """UTC ms of a Baku (UTC+4) wall-clock instant."""
    return utc_ms(year, month, day, hour, minute) - 4 * HOUR


def scenario(name: str, site: WorldSite, **overrides: Any) -> Scenario:
    return load_scenario(name, site, overrides)


def values_at(series: InputSeries, times: np.ndarray) -> dict[str, np.ndarray]:
    """Every field of ``series`` at each instant of ``times``."""
    assert times.min() >= series.start and times.max() < series.end_ms
    idx = np.searchsorted(series.start_ms, times, side="right") - 1
    return {name: getattr(series, name)[idx] for name in FIELDS}


def joined(parts: list[InputSeries]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Concatenate consecutive series into one set of segments."""
    for a, b in itertools.pairwise(parts):
        assert a.end_ms == b.start
    starts = np.concatenate([p.start_ms for p in parts])
    return starts, {name: np.concatenate([getattr(p, name) for p in parts]) for name in FIELDS}


def assert_same_function(whole: InputSeries, parts: list[InputSeries]) -> None:
    """The piecewise-constant functions are equal everywhere: compare at every boundary
    of either (between boundaries both are constant)."""
    starts, fields = joined(parts)
    assert whole.start == starts[0] and whole.end_ms == parts[-1].end_ms
    times = np.union1d(whole.start_ms, starts)
    expected = values_at(whole, times)
    idx = np.searchsorted(starts, times, side="right") - 1
    for name in FIELDS:
        np.testing.assert_array_equal(fields[name][idx], expected[name], err_msg=name)


FAULTY: Mapping[str, Any] = {
    "power_cuts": [{"start": "2026-06-03T10:00:00", "duration_s": 5400.5}],
    "faults": [
        {"kind": "phase_loss", "start": "2026-06-02T23:59:30", "duration_s": 120, "phase": 2},
        {"kind": "reverse_current", "start": "2026-06-04T07:00:00", "duration_s": 7200, "phase": 3},
        {"kind": "neutral_loss", "start": "2026-06-05T18:00:00", "duration_s": 3600},
        {"kind": "magnetic_field", "start": "2026-06-06T00:00:00", "duration_s": 86400 * 3},
    ],
}
WINDOW_START = local_ms(2026, 5, 29)
WINDOW_END = local_ms(2026, 6, 14)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        st.integers(min_value=WINDOW_START, max_value=WINDOW_END),
        min_size=3,
        max_size=5,
        unique=True,
    ),
    name=st.sampled_from(["household-pv", "household", "idle", "constant"]),
    phases=st.sampled_from([1, 3]),
    resolution=st.sampled_from([60, 900, 1800]),
)
def test_any_split_gives_the_same_inputs(
    data: list[int], name: str, phases: int, resolution: int
) -> None:
    """Resumability: [a, b) equals [a, s1) + [s1, s2) + ... + [sn, b) at every instant,
    whichever scenario object (with whatever cache) computed each piece."""
    site = BAKU_3P if phases == 3 else BAKU_1P
    faults = dict(FAULTY)
    if phases == 1:
        faults["faults"] = [f for f in FAULTY["faults"] if f.get("phase", 1) == 1]
    points = sorted(data)
    whole = scenario(name, site, resolution_s=resolution, **faults).series(points[0], points[-1])
    fresh = scenario(name, site, resolution_s=resolution, **faults)
    # Compute the pieces back to front, so the caches hold different blocks than above.
    pieces = [fresh.series(a, b) for a, b in reversed(list(itertools.pairwise(points)))]
    assert_same_function(whole, pieces[::-1])


def test_segment_boundaries_are_on_the_grid_or_on_window_edges() -> None:
    s = scenario("household", BAKU_3P, resolution_s=900, **FAULTY)
    start = local_ms(2026, 6, 2, 7, 3) + 17
    series = s.series(start, local_ms(2026, 6, 6, 1))
    assert series.start == start
    edges = {
        local_ms(2026, 6, 2, 23, 59) + 30_000,  # phase loss
        local_ms(2026, 6, 3, 0, 1) + 30_000,
        local_ms(2026, 6, 3, 10),  # power cut (10:00 is on the grid anyway)
        local_ms(2026, 6, 3, 11, 30) + 500,
    } - {local_ms(2026, 6, 3, 10)}
    inner = series.start_ms[1:]
    off_grid = {int(t) for t in inner if (t + 4 * HOUR) % (900 * 1000) != 0}
    assert off_grid == edges


def test_same_seed_same_world_other_seed_other_world() -> None:
    a = scenario("household-pv", BAKU_3P).series(local_ms(2026, 4, 1), local_ms(2026, 4, 3))
    b = scenario("household-pv", BAKU_3P).series(local_ms(2026, 4, 1), local_ms(2026, 4, 3))
    c = scenario("household-pv", BAKU_3P, seed=2).series(local_ms(2026, 4, 1), local_ms(2026, 4, 3))
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert np.array_equal(a.start_ms, c.start_ms)
    assert not np.allclose(a.active_w, c.active_w)
    assert not np.allclose(a.voltage_v, c.voltage_v)


def test_household_behaviour_follows_local_time() -> None:
    """The same seed at another UTC offset gives the same load at the same wall time."""
    west = WorldSite(phases=1, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=-300)
    here = scenario("household", BAKU_1P).series(local_ms(2026, 2, 1), local_ms(2026, 2, 3))
    shift = (240 + 300) * 60_000
    there = scenario("household", west).series(
        local_ms(2026, 2, 1) + shift, local_ms(2026, 2, 3) + shift
    )
    np.testing.assert_array_equal(here.active_w, there.active_w)


def energy_kwh(series: InputSeries) -> float:
    durations_h = np.diff(np.append(series.start_ms, series.end_ms)) / HOUR
    return float((series.active_w.sum(axis=1) * durations_h).sum() / 1000.0)


@pytest.mark.parametrize(("site", "annual"), [(BAKU_1P, 3500.0), (BAKU_3P, 5200.0)])
def test_annual_energy_matches_annual_kwh(site: WorldSite, annual: float) -> None:
    series = scenario("household", site, annual_kwh=annual).series(
        local_ms(2026, 1, 1), local_ms(2027, 1, 1)
    )
    assert energy_kwh(series) == pytest.approx(annual, rel=0.05)


def test_household_looks_like_a_home() -> None:
    s = scenario("household", BAKU_1P).series(local_ms(2026, 1, 5), local_ms(2026, 3, 2))
    days = s.active_w[:, 0].reshape(-1, 24, 60).mean(axis=2)  # (days, hour) in local time
    hourly = days.mean(axis=0)
    assert hourly[18:21].mean() > 1.8 * hourly[2:5].mean()  # evening peak, night low
    supplied = s.voltage_v[:, 0] > 0  # the grid fails now and then (grid_outages_per_year)
    assert 0.99 < supplied.mean() < 1.0
    assert s.active_w[supplied].min() > 0  # some load whenever supplied
    assert s.active_w.max() > 1500  # a kettle or an oven, not a flat average
    assert 4.0 < days.sum(axis=1).mean() / 1000 < 20.0  # kWh per day
    q = s.reactive_var[supplied, 0] / s.active_w[supplied, 0]
    pf = 1 / np.sqrt(1 + q**2)
    assert 0.93 < pf.mean() < 0.97 and pf.std() > 0.001


def test_three_phase_load_is_split_unevenly() -> None:
    s = scenario("household", BAKU_3P).series(local_ms(2026, 3, 1), local_ms(2026, 4, 1))
    share = s.active_w.mean(axis=0) / s.active_w.mean(axis=0).sum()
    np.testing.assert_allclose(share, [0.45, 0.33, 0.22], atol=0.03)
    # Each phase has its own appliance events.
    assert not np.allclose(s.active_w[:, 0] / 0.45, s.active_w[:, 1] / 0.33, rtol=0.05)


def pv_output(site: WorldSite, start: int, end: int, **kw: Any) -> tuple[InputSeries, np.ndarray]:
    with_pv = scenario("household-pv", site, **kw).series(start, end)
    plain = scenario("household", site).series(start, end)
    return with_pv, plain.active_w.sum(axis=1) - with_pv.active_w.sum(axis=1)


def test_pv_is_zero_at_night_and_exports_at_noon_on_a_clear_summer_day() -> None:
    start, end = local_ms(2026, 6, 21), local_ms(2026, 6, 22)
    series, pv = pv_output(BAKU_1P, start, end, cloudiness=0.0)
    minutes = (series.start_ms - start) // 60_000
    night = (minutes < 4 * 60) | (minutes >= 21 * 60)
    assert np.all(pv[night] == 0.0)
    # Solar noon at 49.9° E in UTC+4 is about 12:40 (equation of time < 2 min in June).
    noon = (minutes >= 12 * 60 + 10) & (minutes < 13 * 60 + 10)
    assert np.all(series.active_w[noon, 0] < 0)  # exporting
    assert 3000 < pv[noon].mean() < 5000  # 5 kWp at PR 0.8, tilted 30°
    peak = minutes[np.argmax(pv)]
    assert abs(peak - (12 * 60 + 40)) < 30
    # Voltage rises while exporting.
    assert series.voltage_v[noon, 0].mean() > series.voltage_v[night, 0].mean()


def test_pv_peaks_at_local_solar_noon_of_the_longitude() -> None:
    west = WorldSite(1, 230.0, 50.0, utc_offset_minutes=240, latitude=40.4, longitude=45.0)
    start = local_ms(2026, 6, 21)
    _, pv = pv_output(west, start, start + DAY, cloudiness=0.0)
    assert abs(int(np.argmax(pv)) - (12 * 60 + 60)) < 30  # 15° west of 60° E: an hour later


def test_pv_year_has_cloudy_days_and_a_plausible_yield() -> None:
    start = local_ms(2026, 1, 1)
    _, pv = pv_output(BAKU_3P, start, local_ms(2027, 1, 1))
    daily = pv.reshape(-1, 1440).sum(axis=1) / 60 / 1000
    per_kwp = daily.sum() / 5.0
    assert 1000 < per_kwp < 1800
    assert (daily < 0.4 * np.percentile(daily, 90)).sum() > 20  # overcast days exist
    assert np.all(pv >= 0)


def test_power_cut_zeroes_voltage_exactly_between_its_edges() -> None:
    s = scenario(
        "household-pv",
        BAKU_3P,
        power_cuts=[{"start": "2026-03-01T10:00:00", "duration_s": 10800}],
    )
    cut_from, cut_to = local_ms(2026, 3, 1, 10), local_ms(2026, 3, 1, 13)
    start = cut_from - HOUR + 12_345
    series = s.series(start, cut_to + HOUR)
    assert cut_from in series.start_ms and cut_to in series.start_ms
    inside = (series.start_ms >= cut_from) & (series.start_ms < cut_to)
    assert inside.sum() == 180
    for name in ("voltage_v", "active_w", "reactive_var"):
        assert np.all(getattr(series, name)[inside] == 0.0)
    assert np.all(series.voltage_v[~inside] > 200.0)
    assert series.voltage_v[series.index_at(cut_from - 1)].min() > 200.0
    assert series.voltage_v[series.index_at(cut_to)].min() > 200.0


def test_start_with_an_explicit_offset_is_not_local_time() -> None:
    local = scenario(
        "idle", BAKU_1P, power_cuts=[{"start": "2026-03-01T10:00:00", "duration_s": 60}]
    )
    explicit = scenario(
        "idle", BAKU_1P, power_cuts=[{"start": "2026-03-01T06:00:00+00:00", "duration_s": 60}]
    )
    span = (local_ms(2026, 3, 1, 9), local_ms(2026, 3, 1, 11))
    a, b = local.series(*span), explicit.series(*span)
    np.testing.assert_array_equal(a.voltage_v, b.voltage_v)
    assert a.voltage_v[a.index_at(local_ms(2026, 3, 1, 10))][0] == 0.0


FAULT_DAY = (local_ms(2026, 5, 10, 8), local_ms(2026, 5, 10, 20))
FAULT_FROM, FAULT_TO = local_ms(2026, 5, 10, 12), local_ms(2026, 5, 10, 14)


def with_and_without(
    kind: str, site: WorldSite, phase: int = 1, name: str = "household-pv"
) -> tuple[InputSeries, InputSeries, np.ndarray]:
    fault = {"kind": kind, "start": "2026-05-10T12:00:00", "duration_s": 7200, "phase": phase}
    faulty = scenario(name, site, faults=[fault]).series(*FAULT_DAY)
    clean = scenario(name, site).series(*FAULT_DAY)
    np.testing.assert_array_equal(faulty.start_ms, clean.start_ms)  # edges on the grid
    inside = (faulty.start_ms >= FAULT_FROM) & (faulty.start_ms < FAULT_TO)
    assert inside.sum() == 120
    return faulty, clean, inside


@pytest.mark.parametrize(
    "kind",
    [
        "magnetic_field",
        "meter_cover_open",
        "terminal_cover_open",
        "module_cover_open",
        "battery_low",
        "billing_button",
        "relay_button",
        "rtc_failure",
        "relay_fault",
        "nv_memory_error",
        "ram_error",
        "program_memory_error",
        "watchdog_reset",
        "measurement_error",
    ],
)
def test_switch_and_sensor_faults_only_set_their_flag(kind: str) -> None:
    faulty, clean, inside = with_and_without(kind, BAKU_3P)
    flag = int(Fault[kind.upper()])
    assert np.all(faulty.faults[inside] == flag)
    assert np.all(faulty.faults[~inside] == 0)
    for name in FIELDS[:-1]:
        np.testing.assert_array_equal(getattr(faulty, name), getattr(clean, name))


def test_phase_loss_drops_one_phase() -> None:
    faulty, clean, inside = with_and_without("phase_loss", BAKU_3P, phase=2)
    assert np.all(faulty.faults[inside] == int(Fault.PHASE_LOSS))
    assert np.all(faulty.faults[~inside] == 0)
    for name in ("voltage_v", "active_w", "reactive_var"):
        assert np.all(getattr(faulty, name)[inside, 1] == 0.0)
        np.testing.assert_array_equal(
            getattr(faulty, name)[:, [0, 2]], getattr(clean, name)[:, [0, 2]]
        )
        np.testing.assert_array_equal(getattr(faulty, name)[~inside], getattr(clean, name)[~inside])


def test_reverse_current_flips_active_power_on_one_phase() -> None:
    faulty, clean, inside = with_and_without("reverse_current", BAKU_3P, phase=3)
    assert np.all(faulty.faults[inside] == int(Fault.REVERSE_CURRENT))
    np.testing.assert_array_equal(faulty.active_w[inside, 2], -clean.active_w[inside, 2])
    np.testing.assert_array_equal(faulty.active_w[~inside], clean.active_w[~inside])
    np.testing.assert_array_equal(faulty.active_w[:, :2], clean.active_w[:, :2])
    np.testing.assert_array_equal(faulty.reactive_var, clean.reactive_var)


def test_neutral_loss_single_phase_returns_current_through_earth() -> None:
    faulty, clean, inside = with_and_without("neutral_loss", BAKU_1P, name="household")
    assert np.all(faulty.faults[inside] == int(Fault.NEUTRAL_LOSS))
    current = np.hypot(clean.active_w[:, 0], clean.reactive_var[:, 0]) / clean.voltage_v[:, 0]
    np.testing.assert_allclose(faulty.earth_leakage_a[inside], current[inside], rtol=1e-12)
    assert np.all(faulty.earth_leakage_a[inside] > 0.3)
    assert np.all(faulty.earth_leakage_a[~inside] == 0.0)
    assert np.all(clean.earth_leakage_a == 0.0)


def test_neutral_loss_three_phase_shifts_voltage_to_the_lightly_loaded_phase() -> None:
    faulty, clean, inside = with_and_without("neutral_loss", BAKU_3P, name="household")
    assert np.all(faulty.faults[inside] == int(Fault.NEUTRAL_LOSS))
    load = np.hypot(clean.active_w, clean.reactive_var)[inside]
    rows = np.arange(inside.sum())
    light, heavy = load.argmin(axis=1), load.argmax(axis=1)
    v_faulty, v_clean = faulty.voltage_v[inside], clean.voltage_v[inside]
    assert np.all(v_faulty[rows, light] > v_clean[rows, light])
    assert np.all(v_faulty[rows, heavy] < v_clean[rows, heavy])
    assert np.all(v_faulty < np.sqrt(3) * 240)  # never beyond the line-to-line voltage
    np.testing.assert_array_equal(faulty.voltage_v[~inside], clean.voltage_v[~inside])


def test_balanced_three_phase_load_does_not_shift_the_neutral() -> None:
    fault = {"kind": "neutral_loss", "start": "2026-05-10T12:00:00", "duration_s": 7200}
    faulty = scenario("constant", BAKU_3P, faults=[fault]).series(*FAULT_DAY)
    clean = scenario("constant", BAKU_3P).series(*FAULT_DAY)
    np.testing.assert_allclose(faulty.voltage_v, clean.voltage_v, rtol=0.02)


def test_idle_and_constant_scenarios() -> None:
    span = (local_ms(2026, 7, 1), local_ms(2026, 7, 2))
    idle = scenario("idle", BAKU_3P).series(*span)
    assert np.all(idle.active_w == 0) and np.all(idle.reactive_var == 0)
    assert np.all(np.abs(idle.voltage_v / 230.0 - 1.0) < 0.03)
    assert idle.voltage_v.std() > 0.1  # some noise
    assert np.all(np.abs(idle.frequency_hz - 50.0) < 0.05)
    const = scenario("constant", BAKU_3P, power_w=2300.0, power_factor=0.8).series(*span)
    assert np.all(const.active_w == 2300.0)
    np.testing.assert_allclose(const.reactive_var, 2300.0 * 0.75)
    assert energy_kwh(const) == pytest.approx(3 * 2.3 * 24)


def test_ambient_is_seasonal_and_daily() -> None:
    s = scenario("idle", BAKU_1P)
    jan = s.series(local_ms(2026, 1, 10), local_ms(2026, 1, 31)).ambient_c.reshape(-1, 1440)
    jul = s.series(local_ms(2026, 7, 10), local_ms(2026, 7, 31)).ambient_c.reshape(-1, 1440)
    assert jul.mean() > jan.mean() + 12
    day = jan.mean(axis=0)
    assert day[14 * 60 : 16 * 60].mean() > day[2 * 60 : 4 * 60].mean() + 5


def test_builtins_all_load_and_produce_inputs() -> None:
    names = builtin_scenario_names()
    assert names[0] == "household"
    assert {"household", "household-pv", "idle", "constant"} <= set(names)
    for name in names:
        for site in (BAKU_1P, BAKU_3P):
            s = load_scenario(name, site)
            assert s.name == name and s.site == site
            series = s.series(local_ms(2026, 2, 1), local_ms(2026, 2, 1, 1))
            assert series.phases == site.phases and len(series) == 60


def test_empty_range_is_refused() -> None:
    s = scenario("idle", BAKU_1P)
    with pytest.raises(ValueError):
        s.series(utc_ms(2026, 1, 1), utc_ms(2026, 1, 1))


def test_a_millisecond_range_is_one_segment() -> None:
    s = scenario("household", BAKU_3P)
    t = local_ms(2026, 1, 1, 18, 30) + 123
    one = s.series(t, t + 1)
    assert len(one) == 1 and one.start == t and one.end_ms == t + 1
    day = s.series(local_ms(2026, 1, 1), local_ms(2026, 1, 2))
    np.testing.assert_array_equal(one.active_w[0], day.active_w[day.index_at(t)])


def test_p25_prosumer_profile_buys_less_at_midday_than_h25() -> None:
    """BDEW P25 (household with PV, grid purchase) dips at midday against H25 over a July
    month (issue 2: household load from demandlib H25 / P25)."""
    site = WorldSite(phases=1, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=60)
    start = int(datetime(2026, 6, 30, 23, tzinfo=UTC).timestamp() * 1000)  # 07-01 00:00 local
    totals = {}
    for profile in ("H25", "P25"):
        scenario = load_scenario("household", site, {"profile": profile, "seed": 7})
        july = scenario.series(start, start + 28 * 86_400_000)
        hours = (july.start_ms - start) // 3_600_000 % 24
        power = july.active_w[:, 0]
        midday = float(power[(hours >= 12) & (hours < 16)].mean())
        evening = float(power[(hours >= 20) & (hours < 23)].mean())
        totals[profile] = (midday, evening)
    h25_ratio = totals["H25"][0] / totals["H25"][1]
    p25_ratio = totals["P25"][0] / totals["P25"][1]
    assert p25_ratio < 0.5 * h25_ratio


def _outages(s: InputSeries) -> list[tuple[int, int]]:
    """(start, end) of each stretch without any voltage."""
    dark = np.concatenate(([False], ~(s.voltage_v > 0).any(axis=1), [False]))
    edges = np.flatnonzero(dark[1:] != dark[:-1])
    bounds = np.append(s.start_ms, s.end_ms)
    return [(int(bounds[a]), int(bounds[b])) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def test_the_household_grid_fails_a_few_times_a_year_on_the_time_grid() -> None:
    years = 5
    world = scenario(
        "household", BAKU_1P, grid_outages_per_year=12, grid_outage_median_s=2700, resolution_s=300
    )
    start, end = local_ms(2030, 1, 1), local_ms(2030 + years, 1, 1)
    outages = []
    for begin in range(start, end, 30 * DAY):  # in pieces, as a meter asks for them
        outages += _outages(world.series(begin, min(begin + 30 * DAY, end)))
    merged: list[tuple[int, int]] = []
    for a, b in outages:  # an outage across a piece boundary comes back in two halves
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    # 12 a year: 60 expected in 5 years (Poisson: 5 sigma is about 39).
    assert 30 <= len(merged) <= 95
    lengths = sorted(b - a for a, b in merged)
    median_min = lengths[len(lengths) // 2] / 60_000
    assert 20 <= median_min <= 100  # around 45 minutes
    assert all(a % 300_000 == 0 and b % 300_000 == 0 for a, b in merged)  # on the 5-min grid
    assert max(lengths) <= 12 * 3_600_000
    quiet = scenario("household", BAKU_1P, grid_outages_per_year=0)
    assert _outages(quiet.series(start, start + 365 * DAY)) == []
