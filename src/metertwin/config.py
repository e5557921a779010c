"""The user's config file (`metertwin run --config FILE`): per-meter settings in TOML.

Sections: ``[meter]`` (identity), ``[scenario]`` (parameters of the simulated world),
``[sts]`` (the STS identity, read by the prepayment functions), and any device-model
section (``[clock]``, ``[metrology]``, ``[tariffs]``, ...) to override the model's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metertwin.schema import SchemaError, TableReader, load_toml

MODEL_SECTIONS = (
    "ratings",
    "transformer",
    "metrology",
    "clock",
    "disconnect",
    "tariffs",
    "display",
    "world",
)


@dataclass(frozen=True)
class UserConfig:
    source: str = "(no config file)"
    serial_number: str | None = None
    model: str | None = None
    scenario: dict[str, Any] = field(default_factory=dict)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    sts: dict[str, Any] = field(default_factory=dict)


def load_config(path: Path | None) -> UserConfig:
    if path is None:
        return UserConfig()
    source = str(path)
    root = TableReader(load_toml(path), source)
    meter = root.table("meter", None)
    serial = meter.str("serial_number", "") or None
    if serial is not None and not (serial.isascii() and serial.isprintable() and len(serial) <= 32):
        raise meter.error("serial_number", "expected up to 32 printable ASCII characters")
    model = meter.str("model", "") or None
    meter.finish()
    scenario = dict(root.table("scenario", None).data)
    sts = dict(root.table("sts", None).data)
    overrides = {}
    for name in MODEL_SECTIONS:
        if root.has(name):
            value = root.value(name)
            if not isinstance(value, dict):
                raise SchemaError(source, name, "expected a table")
            overrides[name] = value
    root.finish()
    return UserConfig(source, serial, model, scenario, overrides, sts)
