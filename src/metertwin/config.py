"""The user's config file (`metertwin run --config FILE`): per-meter settings in TOML.

Sections: ``[meter]`` (identity), ``[scenario]`` (parameters of the simulated world),
``[sts]`` (the STS identity, read by the prepayment functions), ``[firmware]`` (the
manufacturer key images are verified with, firmware_identity.py), and any device-model
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
    "dlms",
    "profiles",
    "demand",
    "billing",
    "prepayment",
)


@dataclass(frozen=True)
class UserConfig:
    source: str = "(no config file)"
    serial_number: str | None = None
    model: str | None = None
    scenario: dict[str, Any] = field(default_factory=dict)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    sts: dict[str, Any] = field(default_factory=dict)
    firmware: dict[str, Any] = field(default_factory=dict)


def check_serial(text: str) -> str:
    """A meter serial number: 1 to 32 printable ASCII characters (it goes on displays,
    in logical device names and in reports)."""
    if not (0 < len(text) <= 32 and text.isascii() and text.isprintable()):
        raise ValueError(f"a serial number is 1-32 printable ASCII characters, got {text!r}")
    return text


def load_config(path: Path | None) -> UserConfig:
    if path is None:
        return UserConfig()
    source = str(path)
    root = TableReader(load_toml(path), source)
    meter = root.table("meter", None)
    serial = meter.str("serial_number", "") or None
    if serial is not None:
        try:
            check_serial(serial)
        except ValueError as exc:
            raise meter.error("serial_number", str(exc)) from None
    model = meter.str("model", "") or None
    meter.finish()
    scenario = dict(root.table("scenario", None).data)
    sts = dict(root.table("sts", None).data)
    firmware = dict(root.table("firmware", None).data)
    overrides = {}
    for name in MODEL_SECTIONS:
        if root.has(name):
            value = root.value(name)
            if not isinstance(value, dict):
                raise SchemaError(source, name, "expected a table")
            overrides[name] = value
    root.finish()
    return UserConfig(source, serial, model, scenario, overrides, sts, firmware)
