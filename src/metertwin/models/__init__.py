"""Device models as data: one validated TOML file per meter type (architecture principle 3)."""

from metertwin.models.loader import (
    DEFAULT_MODEL,
    AssociationSpec,
    DeviceModel,
    DlmsSpec,
    WorldDefaults,
    builtin_model_names,
    load_model,
    model_from_text,
)

__all__ = [
    "DEFAULT_MODEL",
    "AssociationSpec",
    "DeviceModel",
    "DlmsSpec",
    "WorldDefaults",
    "builtin_model_names",
    "load_model",
    "model_from_text",
]
