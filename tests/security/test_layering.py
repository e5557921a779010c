"""metertwin.security stays layer-independent: it imports no DLMS, COSEM or model code, so the
association and service layers can wire it in unchanged (issue 12)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import metertwin.security

PACKAGE = Path(metertwin.security.__file__).parent
ALLOWED_THIRD_PARTY = {"cryptography"}


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_security_imports_only_itself_the_standard_library_and_cryptography() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert {f.stem for f in files} >= {
        "suites",
        "ciphering",
        "hls",
        "keys",
        "counters",
        "key_agreement",
        "general_header",
        "general_signing",
        "general_ciphering",
        "certificates",
    }
    for path in files:
        for module in _imported_modules(path):
            top = module.split(".")[0]
            if top == "metertwin":
                assert module.startswith("metertwin.security"), f"{path.name} imports {module}"
            else:
                assert top in sys.stdlib_module_names | ALLOWED_THIRD_PARTY | {"__future__"}, (
                    f"{path.name} imports {module}"
                )
