"""Device models: every built-in loads, mistakes name file, field path and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from metertwin.config import load_config
from metertwin.meter.calendar import MAX_SPECIAL_DAYS
from metertwin.models import builtin_model_names, load_model
from metertwin.schema import SchemaError


def test_the_four_seed_models_are_built_in() -> None:
    assert builtin_model_names() == ["az3p", "magno22", "metercom-pro", "pmm1220"]


@pytest.mark.parametrize(
    ("name", "phases", "volts", "imax", "ct"),
    [
        ("pmm1220", 1, 220.0, 80.0, 1),  # seed 000: 220 V 5(80) A
        ("magno22", 1, 230.0, 100.0, 1),  # seed 003: 5(100) A
        ("az3p", 3, 220.0, 6.0, 30),  # seed 002: 3x220/380 V 5(6) A through CTs
        ("metercom-pro", 3, 230.0, 85.0, 1),  # seed 004: 3x230/400 V
    ],
)
def test_ratings_follow_the_seeds(
    name: str, phases: int, volts: float, imax: float, ct: int
) -> None:
    spec = load_model(name).spec
    assert spec.ratings.phases == phases
    assert spec.ratings.nominal_voltage_v == volts
    assert spec.ratings.max_current_a == imax
    assert spec.ratings.starting_current_ratio == pytest.approx(0.004)
    assert spec.ratios.current == ct
    assert spec.name == name


def test_tariff_capacities_meet_the_seeds() -> None:
    magno = load_model("magno22").spec.capacity  # seed 003: 8 tariffs, 12 seasons, 24 periods
    assert (magno.rates, magno.seasons, magno.switches_per_day) == (8, 12, 24)
    assert magno.special_days == MAX_SPECIAL_DAYS == 200
    az = load_model("az3p").spec.capacity  # seed 002: 12 zones, 12 periods, 4 rates
    assert (az.seasons, az.switches_per_day, az.rates) == (12, 12, 4)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = load_model("az3p").text
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "path", "expected"),
    [
        ("phases = 3", "phases = 2", "ratings.phases", "expected 1 (single-phase) or 3"),
        ("phases = 3", 'phases = "three"', "ratings.phases", "expected an integer"),
        ("control_mode = 6", "control_mode = 9", "disconnect.control_mode", "<= 6"),
        ("ct = [150, 5]", "ct = [150]", "transformer.ct", "expected 2 integers"),
        ('time = "04:00"', 'time = "25:00"', "clock.dst.begin.time", "HH:MM"),
        ('["07:00", 1]', '["07:00", 9]', "tariffs", "rate"),
        ('week = "summer"', 'week = "autumn"', "tariffs", "autumn"),
        ("nominal_voltage_v = 220.0", "nominal_voltge_v = 220.0", "ratings.nominal_volt", ""),
        ('"1.0.1.8.1.255"', '"1.0.1.8.1"', "display.list[2]", "OBIS"),
        # found by tests/models/test_model_fuzz.py: an empty day profile escaped as CalendarError
        (
            'switches = [["00:00", 3], ["08:00", 4], ["23:00", 3]]',
            "switches = []",
            "tariffs.days[2]",
            "no switches",
        ),
    ],
)
def test_model_mistakes_name_the_file_the_field_and_the_expectation(
    tmp_path: Path, old: str, new: str, path: str, expected: str
) -> None:
    broken = _broken(tmp_path, old, new)
    with pytest.raises(SchemaError) as caught:
        load_model(str(broken))
    message = str(caught.value)
    assert message.startswith(str(broken))
    assert path in message
    assert expected in message


def test_not_toml_and_missing_file_are_refused_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nname=")
    with pytest.raises(SchemaError, match="not valid TOML"):
        load_model(str(bad))
    with pytest.raises(SchemaError, match="no such model file or built-in model"):
        load_model(str(tmp_path / "missing.toml"))


def test_a_copied_model_can_be_changed(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'name = "az3p"', 'name = "my-az3p"')
    path.write_text(path.read_text().replace("ct = [150, 5]", "ct = [400, 5]"))
    spec = load_model(str(path)).spec
    assert spec.name == "my-az3p" and spec.ratios.ct_primary == 400


def test_config_file_overrides_model_sections_and_names_itself_on_error(tmp_path: Path) -> None:
    config_path = tmp_path / "meter.toml"
    config_path.write_text(
        '[meter]\nserial_number = "PMM-0001"\n[metrology]\nexport_enabled = false\n'
        "[clock]\nutc_offset_minutes = 240\n"
    )
    config = load_config(config_path)
    assert config.serial_number == "PMM-0001"
    spec = load_model("pmm1220", config.model_overrides, config.source).spec
    assert not spec.metrology.export_enabled
    assert spec.clock.utc_offset_minutes == 240
    config_path.write_text("[metrology]\nexport_enabled = 3\n")
    config = load_config(config_path)
    with pytest.raises(SchemaError, match=r"metrology\.export_enabled: expected true or false"):
        load_model("pmm1220", config.model_overrides, config.source)
    config_path.write_text("[meter]\nserial = 1\n")
    with pytest.raises(SchemaError) as caught:
        load_config(config_path)
    assert str(caught.value) == f"{config_path}: meter.serial: unknown key"
    config_path.write_text("[nonsense]\nx = 1\n")
    with pytest.raises(SchemaError, match="nonsense: unknown key"):
        load_config(config_path)


def test_the_cost_column_needs_a_wallet(tmp_path: Path) -> None:
    """metercom-pro has no [prepayment]: a billing profile with the cost column is refused."""
    text = load_model("metercom-pro").text
    old = '"energy:16:0:0"]'
    assert text.count(old) == 1
    path = tmp_path / "costly.toml"
    path.write_text(text.replace(old, '"energy:16:0:0", "cost"]'))
    with pytest.raises(SchemaError, match=r"channels\[19\].*needs a \[prepayment\] wallet"):
        load_model(str(path))


def test_dlms_connection_limits_are_read_and_checked(tmp_path: Path) -> None:
    """Issues 19.6 and 19.7: ``[dlms] frame_timeout_s`` and ``max_connections`` (defaults 30 s
    and 4; 1 with seed 004's single connection, which allows no other number)."""
    default = load_model("az3p").dlms
    assert (default.frame_timeout_s, default.max_connections) == (30, 4)
    assert load_model("metercom-pro").dlms.max_connections == 1
    anchor = 'logical_device_name = "AZE{serial}"'  # in az3p's [dlms]

    def with_dlms(lines: str) -> str:
        return str(_broken(tmp_path, anchor, f"{anchor}\n{lines}"))

    changed = load_model(with_dlms("frame_timeout_s = 5\nmax_connections = 2")).dlms
    assert (changed.frame_timeout_s, changed.max_connections) == (5, 2)
    for lines, expected in [
        ("max_connections = 0", r"dlms\.max_connections: expected a value >= 1, got 0"),
        ("frame_timeout_s = 0", r"dlms\.frame_timeout_s: expected a value >= 1, got 0"),
        (
            "single_connection = true\nmax_connections = 2",
            r"dlms\.max_connections: single_connection serves one connection only",
        ),
    ]:
        with pytest.raises(SchemaError, match=expected):
            load_model(with_dlms(lines))
