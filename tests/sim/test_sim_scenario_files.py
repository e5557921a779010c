"""Scenario files and overrides: valid ones load, mistakes name file, field and expectation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from metertwin.schema import SchemaError
from metertwin.sim import ScenarioError, WorldSite, load_scenario

SITE = WorldSite(phases=1, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=240)
SITE3 = WorldSite(phases=3, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=240)


def write(tmp_path: Path, text: str, name: str = "my-home.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path | str, site: WorldSite = SITE, **overrides: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path), site, overrides or None)
    assert isinstance(info.value, SchemaError)
    return info.value


def test_a_full_scenario_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
kind = "household-pv"
name = "roof"
description = "a test home"
annual_kwh = 4200
power_factor = 0.9
phase_shares = [0.5, 0.3, 0.2]
pv_kwp = 6.5
performance_ratio = 0.85
pv_tilt_deg = 25
pv_azimuth_deg = 170
cloudiness = 0.2
seed = 7
resolution_s = 300
power_cuts = [{start = 2026-03-01T10:00:00, duration_s = 10800}]
[[faults]]
kind = "phase_loss"
start = "2026-03-02T08:00:00"
duration_s = 600
phase = 2
""",
    )
    s = load_scenario(str(path), SITE3)
    assert s.name == "roof" and s.kind == "household-pv"
    series = s.series(0, 86_400_000)
    assert len(series) == 288 and series.phases == 3


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    assert load_scenario(str(write(tmp_path, 'kind = "idle"\n')), SITE).name == "my-home"


def test_unknown_top_level_key_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'kind = "household"\nannual_kwhh = 3000\n')
    err = refusal(path)
    assert err.source == str(path) and err.path == "annual_kwhh"
    assert str(path) in str(err) and "unknown key" in str(err)


def test_a_key_of_another_kind_is_unknown(tmp_path: Path) -> None:
    err = refusal(write(tmp_path, 'kind = "household"\npv_kwp = 3.0\n'))
    assert err.path == "pv_kwp" and "unknown key" in err.message


def test_wrong_type_names_field_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, 'kind = "household"\nannual_kwh = "lots"\n')
    err = refusal(path)
    assert err.path == "annual_kwh" and "expected a number" in err.message
    assert str(err).startswith(f"{path}: annual_kwh: expected a number")


def test_unknown_key_inside_a_fault_names_its_index(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'kind = "idle"\n'
        'faults = [{kind = "battery_low", start = "2026-01-01T00:00:00", duration_s = 5},\n'
        '          {kind = "battery_low", start = "2026-01-02T00:00:00", duration_s = 5,'
        " phse = 1}]\n",
    )
    err = refusal(path)
    assert err.path == "faults[1].phse" and "unknown key" in err.message


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        ('kind = "garden"', "kind", "expected one of household, household-pv, idle, constant"),
        ("annual_kwh = 3000", "kind", "missing"),
        ('kind = "idle"\nresolution_s = 7', "resolution_s", "divisor of 86400"),
        ('kind = "idle"\nseed = 1.5', "seed", "expected an integer"),
        ('kind = "household"\npower_factor = 1.2', "power_factor", "<= 1.0"),
        ('kind = "idle"\ngrid_outages_per_year = -1', "grid_outages_per_year", ">= 0.0"),
        ('kind = "idle"\ngrid_outage_median_s = 0', "grid_outage_median_s", ">= 1"),
        ('kind = "household"\nphase_shares = [0.5, 0.5]', "phase_shares", "3 numbers"),
        ('kind = "household"\nphase_shares = [0.5, "a", 0.2]', "phase_shares[1]", "number"),
        (
            'kind = "idle"\npower_cuts = [{start = "yesterday", duration_s = 1}]',
            "power_cuts[0].start",
            "date-time like 2026-03-01T10:00:00",
        ),
        (
            'kind = "idle"\npower_cuts = [{start = "2026-01-01T00:00:00", duration_s = 0}]',
            "power_cuts[0].duration_s",
            "> 0",
        ),
        ('kind = "idle"\npower_cuts = [{duration_s = 10}]', "power_cuts[0].start", "missing"),
        ('kind = "idle"\npower_cuts = "never"', "power_cuts", "expected an array"),
        (
            'kind = "idle"\nfaults = [{kind = "gremlins", start = "2026-01-01T00:00:00",'
            " duration_s = 1}]",
            "faults[0].kind",
            "expected one of phase_loss",
        ),
        (
            'kind = "idle"\nfaults = [{kind = "phase_loss", start = "2026-01-01T00:00:00",'
            " duration_s = 1, phase = 2}]",
            "faults[0].phase",
            "<= 1",
        ),
    ],
)
def test_bad_values_are_refused_with_path_and_expectation(
    tmp_path: Path, text: str, path: str, expected: str
) -> None:
    file = write(tmp_path, text + "\n")
    err = refusal(file)
    assert err.source == str(file)
    assert err.path == path
    assert expected in err.message


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    err = refusal(write(tmp_path, "kind = \n"))
    assert "not valid TOML" in err.message


def test_unknown_name_or_missing_file(tmp_path: Path) -> None:
    err = refusal("houshold")
    assert "household" in err.message and err.source == "houshold"
    refusal(tmp_path / "nope.toml")


def test_overrides_merge_over_the_builtin() -> None:
    base = load_scenario("household", SITE)
    more = load_scenario("household", SITE, {"annual_kwh": 7000})
    span = (1_767_225_600_000, 1_767_225_600_000 + 7 * 86_400_000)
    ratio = more.series(*span).active_w.mean() / base.series(*span).active_w.mean()
    assert 1.6 < ratio < 2.4
    same = load_scenario("household", SITE, {"seed": 1})
    np.testing.assert_array_equal(same.series(*span).active_w, base.series(*span).active_w)


def test_errors_in_overrides_name_the_overrides_not_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'kind = "household"\n')
    err = refusal(path, annual_kwh="many")
    assert err.source == "[scenario] overrides" and err.path == "annual_kwh"
    err = refusal(path, colour="blue")
    assert err.source == "[scenario] overrides" and err.path == "colour"
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path), SITE, {"annual_kwh": -1}, overrides_source="metertwin.toml")
    assert str(info.value).startswith("metertwin.toml: annual_kwh: expected a value >= 0")
    # A mistake in the file itself still blames the file.
    bad = write(tmp_path, 'kind = "household"\nseed = "x"\n', "bad.toml")
    assert refusal(bad, annual_kwh=10).source == str(bad)


def test_builtin_errors_name_the_builtin() -> None:
    err = refusal("idle", SITE, annual_kwh=5)
    assert err.source == "[scenario] overrides" and err.path == "annual_kwh"


def test_site_is_validated() -> None:
    with pytest.raises(ValueError):
        WorldSite(phases=2, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=0)
