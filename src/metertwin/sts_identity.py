"""The meter's STS identity from the `[sts]` section of the user's config file (issue 4 item 3).

Keys: ``dkga`` ("02"/"04"), ``ea`` ("07"/"11"), ``vending_key`` (hex: the decoder key is
derived with the DKGA) or ``decoder_key`` (hex, used as it is), ``iin``, ``drn``, ``key_type``,
``sgc``, ``ti``, ``krn``, ``ken``, ``base_date`` ("1993"/"2014"/"2035") and ``ea07_tables``
(path of the user's EA07 table file, docs/sts-tables.md; relative to the config file).

Without an `[sts]` section a meter gets the DEMO identity below (EA11, DKGA04, base date
2014) so that `make run` and `metertwin token generate` work out of the box. The demo vending
key is metertwin's own, public and worthless: it is no STS Association secret.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from metertwin.schema import SchemaError, TableReader
from metertwin.sts import (
    BaseDate,
    Dkga,
    Ea07Tables,
    Ea07TablesError,
    EncryptionAlgorithm,
    KeyType,
    MeterKey,
    load_ea07_tables,
)

DEMO_VENDING_KEY = bytes.fromhex("6d657465727477696e2d64656d6f2d6b65792121")
"""b"metertwin-demo-key!!": the demo identity's 160-bit vending key (public, for demos)."""
DEMO_SGC = 100001
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_KEYS = (
    "dkga",
    "ea",
    "vending_key",
    "decoder_key",
    "iin",
    "drn",
    "key_type",
    "sgc",
    "ti",
    "krn",
    "ken",
    "base_date",
    "ea07_tables",
)


def default_drn(serial_number: str) -> str:
    """The demo DRN: the serial number padded to 11 digits when it is numeric."""
    if serial_number.isdigit() and len(serial_number) <= 11:
        return serial_number.zfill(11)
    return "00000000001"


def _hex(reader: TableReader, key: str) -> bytes:
    text = reader.str(key).replace(" ", "")
    if not text or len(text) % 2 or not _HEX.match(text):
        raise reader.error(key, "expected an even number of hex digits")
    return bytes.fromhex(text)


def _digits(reader: TableReader, key: str, default: str, lengths: tuple[int, ...]) -> str:
    value = reader.value(key, default)
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit() or len(text) not in lengths:
        sizes = " or ".join(str(n) for n in lengths)
        raise reader.error(key, f"expected a string of {sizes} digits, got {value!r}")
    return text


def _choice(reader: TableReader, key: str, default: str, choices: tuple[str, ...]) -> str:
    value = reader.value(key, default)
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if text not in choices:
        raise reader.error(key, f"expected one of {', '.join(choices)}; got {value!r}")
    return str(text)


def meter_key_from_config(
    sts: dict[str, Any], source: str, serial_number: str, *, base: Path | None = None
) -> MeterKey:
    """The meter key the `[sts]` table describes (or the demo identity for an empty one).

    Raises `SchemaError` naming the field for every mistake, including an unreadable EA07
    table file and an inconsistent combination (e.g. DKGA02 with EA11).
    """
    reader = TableReader(sts, source, "sts")
    for key in sts:
        if key not in _KEYS:
            raise reader.error(key, f"unknown key; expected one of {', '.join(_KEYS)}")
    dkga = Dkga(_choice(reader, "dkga", "04", ("02", "04")))
    ea = EncryptionAlgorithm(_choice(reader, "ea", "11", ("07", "11")))
    base_date = BaseDate(int(_choice(reader, "base_date", "2014", ("1993", "2014", "2035"))))
    iin = _digits(reader, "iin", "600727", (4, 6))
    drn_default = default_drn(serial_number)
    drn = _digits(reader, "drn", drn_default, (11, 13))
    key_type = reader.int("key_type", int(KeyType.DUTK), low=0, high=3)
    sgc = reader.int("sgc", DEMO_SGC, low=0, high=999_999)
    ti = reader.int("ti", 1, low=0, high=99)
    krn = reader.int("krn", 1, low=1, high=9)
    ken = reader.int("ken", 255, low=0, high=255)
    tables: Ea07Tables | None = None
    if reader.has("ea07_tables"):
        path = Path(reader.str("ea07_tables"))
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            tables = load_ea07_tables(path)
        except Ea07TablesError as exc:
            raise reader.error("ea07_tables", str(exc)) from None
    if reader.has("vending_key") and reader.has("decoder_key"):
        raise reader.error("decoder_key", "give vending_key or decoder_key, not both")
    common: dict[str, Any] = {
        "iin": iin,
        "drn": drn,
        "key_type": KeyType(key_type),
        "sgc": sgc,
        "ti": ti,
        "krn": krn,
        "ken": ken,
        "base_date": base_date,
        "ea": ea,
        "dkga": dkga,
        "ea07_tables": tables,
    }
    try:
        if reader.has("decoder_key"):
            return MeterKey(decoder_key=_hex(reader, "decoder_key"), **common)
        if reader.has("vending_key"):
            vending_key = _hex(reader, "vending_key")
        elif sts:
            raise reader.error("vending_key", "missing: give vending_key or decoder_key")
        else:
            vending_key = DEMO_VENDING_KEY
        return MeterKey.from_vending_key(vending_key, **common)
    except ValueError as exc:
        if isinstance(exc, SchemaError):
            raise
        raise reader.error("", str(exc)) from None
