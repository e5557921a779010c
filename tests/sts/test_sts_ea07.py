"""The EA07 engine against a literal reading of its description, and the table file format.

The engine runs on metertwin's generated test tables only; the production tables are not shipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.sts.sts_fixtures import OTHER_TABLES, TEST_TABLES

from metertwin.sts import Ea07, Ea07Tables, Ea07TablesError, load_ea07_tables, parse_ea07_tables

MASK64 = (1 << 64) - 1
blocks = st.integers(min_value=0, max_value=MASK64)
keys = st.binary(min_size=8, max_size=8)


def literal_ea07_encrypt(block: int, key: bytes, tables: Ea07Tables) -> int:
    """EA07 exactly as reference/sts.md words it, one bit at a time (slow, obviously right)."""
    inverted = int.from_bytes(key, "big") ^ MASK64
    round_key = ((inverted >> 12) | (inverted << 52)) & MASK64
    for _ in range(16):
        substituted = 0
        for n in range(16):
            box = tables.s2 if round_key >> (4 * n + 3) & 1 else tables.s1
            substituted |= box[block >> (4 * n) & 0xF] << (4 * n)
        block = 0
        for bit in range(64):
            if substituted >> bit & 1:
                block |= 1 << tables.permutation[bit]
        round_key = ((round_key << 1) | (round_key >> 63)) & MASK64
    return block


@given(blocks, keys)
def test_engine_matches_the_literal_description(block: int, key: bytes) -> None:
    assert Ea07(key, TEST_TABLES).encrypt_block(block) == literal_ea07_encrypt(
        block, key, TEST_TABLES
    )


@given(blocks, keys)
def test_decryption_is_the_exact_inverse(block: int, key: bytes) -> None:
    cipher = Ea07(key, TEST_TABLES)
    assert cipher.decrypt_block(cipher.encrypt_block(block)) == block
    assert cipher.encrypt_block(cipher.decrypt_block(block)) == block


def test_identity_tables_leave_the_data_unchanged() -> None:
    identity = Ea07Tables(s1=tuple(range(16)), s2=tuple(range(16)), permutation=tuple(range(64)))
    cipher = Ea07(bytes(8), identity)
    assert cipher.encrypt_block(0x05599863000119E6) == 0x05599863000119E6


def test_key_and_tables_both_change_the_ciphertext() -> None:
    block = 0x05599863000119E6
    a = Ea07(bytes.fromhex("e653341f9d5bf36f"), TEST_TABLES).encrypt_block(block)
    b = Ea07(bytes.fromhex("e653341f9d5bf36e"), TEST_TABLES).encrypt_block(block)
    c = Ea07(bytes.fromhex("e653341f9d5bf36f"), OTHER_TABLES).encrypt_block(block)
    assert len({a, b, c, block}) == 4


def test_engine_needs_a_64_bit_key() -> None:
    with pytest.raises(ValueError, match="8-byte key"):
        Ea07(bytes(16), TEST_TABLES)


# --- generated test tables -------------------------------------------------------------------


def test_generated_tables_are_deterministic_and_labelled_as_test_tables() -> None:
    assert Ea07Tables.generate_for_tests(2024) == TEST_TABLES
    assert Ea07Tables.generate_for_tests("2024") != Ea07Tables.generate_for_tests(2024)
    assert Ea07Tables.generate_for_tests(7) != TEST_TABLES
    assert "TEST" in TEST_TABLES.label and "not the STS production tables" in TEST_TABLES.label


def test_generated_tables_are_fixed_forever() -> None:
    # A regression pin: changing the generator would orphan table files and demo tokens.
    tables = Ea07Tables.generate_for_tests(0)
    assert tables.s1 == (7, 5, 11, 12, 14, 8, 10, 9, 4, 2, 0, 3, 1, 13, 15, 6)
    assert tables.permutation[:8] == (57, 36, 11, 1, 23, 15, 22, 59)


@given(st.integers())
def test_generated_tables_are_valid_permutations(seed: int) -> None:
    tables = Ea07Tables.generate_for_tests(seed)
    assert sorted(tables.s1) == sorted(tables.s2) == list(range(16))
    assert sorted(tables.permutation) == list(range(64))
    assert all(tables.s1_inverse[tables.s1[v]] == v for v in range(16))
    assert all(tables.permutation_inverse[tables.permutation[i]] == i for i in range(64))


# --- table file ------------------------------------------------------------------------------


@given(st.integers(), st.text())
def test_table_text_round_trips(seed: int, label: str) -> None:
    generated = Ea07Tables.generate_for_tests(seed)
    tables = Ea07Tables(
        s1=generated.s1, s2=generated.s2, permutation=generated.permutation, label=label
    )
    parsed = parse_ea07_tables(tables.to_text())
    assert parsed == tables and parsed.label == label


def test_table_file_loads_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "tables.toml"
    path.write_text(TEST_TABLES.to_text(), encoding="utf-8")
    assert load_ea07_tables(path) == TEST_TABLES
    assert load_ea07_tables(str(path)) == TEST_TABLES


def test_missing_table_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(Ea07TablesError, match=r"absent\.toml: cannot read"):
        load_ea07_tables(path)


def _text_with(**changes: str) -> str:
    lines = TEST_TABLES.to_text().replace("permutation = [\n", "permutation = [").splitlines()
    joined = "\n".join(lines)
    # Collapse the multi-line permutation into one line so keys can be replaced line by line.
    head, _, tail = joined.partition("permutation = [")
    body = "permutation = [" + tail.replace("\n", " ")
    entries = {line.split(" = ", 1)[0]: line for line in head.splitlines() if " = " in line}
    entries["permutation"] = body
    for key, value in changes.items():
        if value == "":
            entries.pop(key)
        else:
            entries[key] = f"{key} = {value}"
    return "\n".join(entries.values()) + "\n"


def test_text_helper_reproduces_the_tables() -> None:
    assert parse_ea07_tables(_text_with()) == TEST_TABLES


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"s1": "[1, 2, 3]"}, "s1: 16 entries expected, found 3"),
        ({"s2": "[" + ", ".join(["0"] * 16) + "]"}, "s2: not a permutation of 0..15: 0 appears"),
        ({"s1": "[" + ", ".join(str(v) for v in range(1, 17)) + "]"}, "s1: entry 15 is 16"),
        ({"s1": "[true" + ", 1" * 15 + "]"}, "s1: entry 0 is True, not an integer"),
        ({"s1": '"0123"'}, "s1 must be an array of integers"),
        ({"permutation": "[" + ", ".join(str(v) for v in range(63)) + "]"}, "64 entries"),
        ({"permutation": ""}, "missing key permutation"),
        ({"format": '"sts-tables"'}, 'format must be "metertwin-ea07-tables"'),
        ({"version": "2"}, "version must be 1, found 2"),
        ({"label": "3"}, "label must be a string"),
        ({"extra": "1"}, "unknown key"),
        ({"s1": "[1, 2"}, "not valid TOML"),
    ],
)
def test_invalid_table_text_names_the_problem(changes: dict[str, str], problem: str) -> None:
    with pytest.raises(Ea07TablesError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        parse_ea07_tables(_text_with(**changes), source="utility.toml")
    with pytest.raises(Ea07TablesError, match=r"^utility\.toml: "):
        parse_ea07_tables(_text_with(**changes), source="utility.toml")


def test_tables_built_in_code_are_validated_too() -> None:
    with pytest.raises(Ea07TablesError, match="permutation: not a permutation"):
        Ea07Tables(s1=tuple(range(16)), s2=tuple(range(16)), permutation=(0,) * 64)
