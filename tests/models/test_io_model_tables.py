"""The model file's ``[battery]`` and ``[io]`` tables (issue 20, items 8 and 9): the built-in
models carry what their seeds name, and a mistake is refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from metertwin.models import load_model
from metertwin.schema import SchemaError


def test_each_model_has_the_parts_its_seed_names() -> None:
    parts = {
        name: (
            (spec := load_model(name).spec).battery is not None,
            spec.tariff_input_rate,
            spec.pulse_output_imp_per_kwh,
        )
        for name in ("pmm1220", "magno22", "metercom-pro", "az3p")
    }
    assert parts == {
        "pmm1220": (True, None, None),  # seed 000: battery monitoring, change battery alarm
        "magno22": (True, 4, 1000),  # seed 003: lithium battery, tariff input, 1000 imp/kWh
        "metercom-pro": (False, None, 1000),  # seed 004: super-capacitor, S0 of the E350
        "az3p": (False, None, None),
    }


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"battery": {"low_v": 3.0, "replace_v": 3.2}}, "nominal_v > low_v > replace_v"),
        ({"battery": {"capacity_mah": 0}}, "battery.capacity_mah"),
        ({"battery": {"volts": 3.6}}, "battery.volts"),
        ({"io": {"tariff_input_rate": 9}}, "io.tariff_input_rate"),  # magno22 has 8 rates
        ({"io": {"tariff_input_rate": "peak"}}, "io.tariff_input_rate: expected an integer"),
        ({"io": {"pulse_output_imp_per_kwh": 0}}, "io.pulse_output_imp_per_kwh"),
    ],
)
def test_a_mistake_is_refused_naming_its_field(overrides: dict[str, Any], names: str) -> None:
    with pytest.raises(SchemaError) as refused:
        load_model("magno22", overrides)
    assert names in str(refused.value)
