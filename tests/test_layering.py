"""The layers of docs/architecture.md, checked on the imports of every module: ``codec`` at the
bottom, ``cosem`` (the object model) and the DLMS APDUs on it, the server and our client side by
side above them, neither knowing the other (issue 12, "First, the layers")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import metertwin

ROOT = Path(metertwin.__file__).parent

# A module of the package on the left may import metertwin modules starting with these only.
ALLOWED: dict[str, tuple[str, ...]] = {
    "codec": ("metertwin.codec",),
    "cosem": ("metertwin.codec", "metertwin.cosem"),
    "dlms": (
        "metertwin.codec",
        "metertwin.dlms.acse",
        "metertwin.dlms.apdu",
        "metertwin.dlms.capabilities",
        "metertwin.dlms.reports",
        "metertwin.dlms.xdlms",
    ),
    "dlms/server": (
        "metertwin.codec",
        "metertwin.cosem.access",
        "metertwin.cosem.backend",
        "metertwin.cosem.errors",
        "metertwin.dlms.acse",
        "metertwin.dlms.apdu",
        "metertwin.dlms.capabilities",
        "metertwin.dlms.reports",
        "metertwin.dlms.server",
        "metertwin.dlms.xdlms",
        "metertwin.security",
    ),
    "dlms/client": (
        "metertwin.codec",
        "metertwin.dlms.acse",
        "metertwin.dlms.apdu",
        "metertwin.dlms.capabilities",
        "metertwin.dlms.client",
        "metertwin.dlms.reports",
        "metertwin.dlms.xdlms",
        "metertwin.protocols",
        "metertwin.security",
    ),
    "protocols": ("metertwin.protocols",),
    # Measurement from waveforms: numpy and scipy only, no other metertwin package.
    "power_quality": ("metertwin.power_quality",),
    # The transports move octets and frames; the DLMS server is reached through the channel.
    "transport": ("metertwin.protocols", "metertwin.transport"),
}

# A module that may import more than the rest of its package: these, besides.
ALSO_ALLOWED: dict[str, tuple[str, ...]] = {
    # The one sans-IO layer between every transport and the DLMS server (routing, timeouts).
    "transport/channel.py": ("metertwin.cosem.backend", "metertwin.dlms.server"),
}


def _metertwin_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name.split(".")[0] == "metertwin"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(package: str) -> None:
    folder = ROOT / package
    files = sorted(folder.glob("*.py"))
    assert files, f"no modules in {folder}"
    for path in files:
        allowed = ALLOWED[package] + ALSO_ALLOWED.get(f"{package}/{path.name}", ())
        for module in _metertwin_imports(path):
            assert module.startswith(allowed), f"{package}/{path.name} imports {module}"


def test_every_module_given_more_exists() -> None:
    """An exception for a module renamed or gone would silently allow nothing, or the wrong
    module later."""
    assert [name for name in ALSO_ALLOWED if not (ROOT / name).is_file()] == []


def test_the_dlms_package_proper_holds_only_the_shared_apdus() -> None:
    """Everything of one side lives in ``server/`` or ``client/``, nothing of a side above."""
    modules = {path.stem for path in (ROOT / "dlms").glob("*.py")}
    assert modules == {"__init__", "acse", "apdu", "capabilities", "reports", "xdlms"}
