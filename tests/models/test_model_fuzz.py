"""Fuzzing the model loader: any change to a model file loads or is refused with a
SchemaError naming the file; nothing else escapes (architecture principle 7)."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.meter.core import Meter
from metertwin.models import load_model, model_from_text
from metertwin.schema import SchemaError

BASE = tomllib.loads(load_model("az3p").text)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["last", "sunday", "25:00", "00:00", "02-30", "*-02-30", "13-01", "1.0.1.8.0"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


PATHS = _paths(BASE)


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value


def _toml(value: Any) -> str:
    """A tiny TOML writer for the fuzzed document (inline tables and arrays)."""
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"


def _document(doc: dict[str, Any]) -> str:
    return "\n".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in doc.items())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_mutated_models_load_or_are_refused_cleanly(mutations: list[tuple[Any, Any]]) -> None:
    document = copy.deepcopy(BASE)
    for path, value in mutations:
        try:
            _set(document, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    text = _document(document)
    try:
        model = model_from_text(text, "fuzzed.toml")
    except SchemaError as exc:
        assert str(exc).startswith("fuzzed.toml")
        return
    Meter(model.spec, 1_780_000_000_000).advance(1_780_000_000_000 + 86_400_000)


def test_the_fuzz_writer_round_trips_the_unmutated_model() -> None:
    """The fuzz is only meaningful if an untouched document still loads."""
    assert model_from_text(_document(BASE), "fuzzed.toml").spec == load_model("az3p").spec
