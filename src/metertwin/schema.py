"""Typed, path-aware reading of TOML documents (device models, config and scenario files).

Every mistake becomes a `SchemaError` that names the file, the field path and what was
expected, so the CLI can print one clear line and exit with code 2 instead of a traceback.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

_MISSING: Any = object()

# TableReader's methods are named after the TOML types they read (int, float, str...);
# these aliases keep the builtin types nameable inside the class body.
Int = int
Float = float
Bool = bool
Str = str
List = list


class SchemaError(ValueError):
    """A document does not have the shape its reader expects."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {message}")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax errors into `SchemaError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(str(path), "", f"cannot read file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SchemaError(str(path), "", "expected a UTF-8 text file") from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(source, "", f"not valid TOML ({exc})") from None


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


class TableReader:
    """Reads one TOML table; remembers which keys were read so `finish` can refuse typos."""

    def __init__(self, data: Mapping[Str, Any], source: Str, path: Str = "") -> None:
        if not isinstance(data, Mapping):
            raise SchemaError(source, path, f"expected a table, got {_describe(data)}")
        self.data = data
        self.source = source
        self.path = path
        self._seen: set[Str] = set()

    def _sub(self, key: Str) -> Str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: Str, message: Str) -> SchemaError:
        return SchemaError(self.source, self._sub(key) if key else self.path, message)

    def has(self, key: Str) -> Bool:
        return key in self.data

    def _get(self, key: Str, default: Any) -> Any:
        self._seen.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.error(key, "missing (required)")
        return default

    def value(self, key: Str, default: Any = _MISSING) -> Any:
        """The raw value, for fields that accept more than one type."""
        return self._get(key, default)

    def int(
        self, key: Str, default: Int = _MISSING, *, low: Int | None = None, high: Int | None = None
    ) -> Int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_describe(value)}")
        self._check_range(key, value, low, high)
        return value

    def float(
        self,
        key: Str,
        default: Float = _MISSING,
        *,
        low: Float | None = None,
        high: Float | None = None,
    ) -> Float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise self.error(key, f"expected a finite number, got {value!r}")
        self._check_range(key, value, low, high)
        return float(value)

    def _check_range(self, key: Str, value: Float, low: Float | None, high: Float | None) -> None:
        if low is not None and value < low:
            raise self.error(key, f"expected a value >= {low}, got {value!r}")
        if high is not None and value > high:
            raise self.error(key, f"expected a value <= {high}, got {value!r}")

    def bool(self, key: Str, default: Bool = _MISSING) -> Bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_describe(value)}")
        return value

    def str(
        self, key: Str, default: Str = _MISSING, *, choices: tuple[Str, ...] | None = None
    ) -> Str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_describe(value)}")
        if choices is not None and value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}; got {value!r}")
        return value

    def list(self, key: Str, default: List[Any] = _MISSING) -> List[Any]:
        value = self._get(key, default)
        if not isinstance(value, list):
            raise self.error(key, f"expected an array, got {_describe(value)}")
        return value

    def int_list(
        self,
        key: Str,
        default: List[Int] = _MISSING,
        *,
        length: Int | None = None,
        low: Int | None = None,
        high: Int | None = None,
    ) -> List[Int]:
        items = self.list(key, default)
        for i, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, int):
                raise self.error(f"{key}[{i}]", f"expected an integer, got {_describe(item)}")
            self._check_range(f"{key}[{i}]", item, low, high)
        if length is not None and len(items) != length:
            raise self.error(key, f"expected {length} integers, got {len(items)}")
        return items

    def float_list(
        self, key: Str, default: List[Float] = _MISSING, *, low: Float = 0.0, high: Float = 1e6
    ) -> List[Float]:
        """Numbers within [low, high] (amounts, prices)."""
        items = self.list(key, default)
        for i, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise self.error(f"{key}[{i}]", f"expected a number, got {_describe(item)}")
            if not math.isfinite(item):
                raise self.error(f"{key}[{i}]", f"expected a finite number, got {item!r}")
            self._check_range(f"{key}[{i}]", item, low, high)
        return [float(x) for x in items]

    def str_list(self, key: Str, default: List[Str] = _MISSING) -> List[Str]:
        items = self.list(key, default)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.error(f"{key}[{i}]", f"expected a string, got {_describe(item)}")
        return items

    def table(self, key: Str, default: Mapping[Str, Any] | None = _MISSING) -> TableReader:
        value = self._get(key, default)
        if value is None:
            value = {}
        return TableReader(value, self.source, self._sub(key))

    def tables(self, key: Str, default: List[Any] = _MISSING) -> Iterator[TableReader]:
        """The elements of an array of tables (``[[key]]``), each with its indexed path."""
        for i, item in enumerate(self.list(key, default)):
            yield TableReader(item, self.source, f"{self._sub(key)}[{i}]")

    def finish(self) -> None:
        """Refuse keys nobody read: a misspelt key must not pass silently."""
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            raise self.error(unknown[0], "unknown key")


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`overlay` on top of `base`: tables merge key by key, everything else is replaced."""
    merged: dict[str, Any] = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
