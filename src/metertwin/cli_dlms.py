"""`metertwin read` and `metertwin profile`: a head-end's view of any DLMS/COSEM meter over TCP
(IEC 62056-47 wrapper), through our own client (issue 3, item 7).

- ``read HOST:PORT OBIS[:ATTR]``: one attribute (2 by default); the class comes from the
  association's object list, and a register's value is shown scaled, with its unit.
- ``read HOST:PORT --all``: discovery as a head-end does it: the object list, then every
  attribute the access rights let this client read; refusals are shown per attribute.
- ``profile HOST:PORT OBIS --from T --to T``: the rows of a load profile between two instants
  (range selective access), as a table or as CSV with the capture objects as header.

User mistakes and unreachable meters end with one line on stderr and exit code 2; a refusal by
the meter (an association, a read) with 1 (cli_common). Never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from metertwin.cli_common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from metertwin.cosem.obis import Obis
from metertwin.dlms.axdr import Data, DataType
from metertwin.dlms.client import (
    DEFAULT_TIMEOUT,
    CaptureObject,
    ConfirmedServiceErrorResponse,
    DataAccessError,
    DlmsClient,
    DlmsClientError,
    DlmsConnectionError,
    DlmsProtocolError,
    ExceptionResponseError,
    ObjectListEntry,
    ScalerUnit,
    format_value,
    scaler_unit_attribute,
    to_python,
)
from metertwin.dlms.client_errors import code_name
from metertwin.dlms.enums import DataAccessResult
from metertwin.errors import UserError

__all__ = [
    "DLMS_COMMANDS",
    "add_dlms_commands",
    "complain",
    "connect_from_args",
    "parse_attribute_ref",
    "parse_endpoint",
    "parse_instant",
    "parse_obis",
    "parse_sap",
    "parse_timeout",
    "run_dlms_command",
]

DLMS_COMMANDS = ("read", "profile")
BATCH_SIZE = 16
"""Attributes per get-request-with-list during discovery."""
MAX_CELL = 80
SHOWN_ITEMS = 4

# The errors after which the meter may still answer other requests: kept per attribute.
_PER_ATTRIBUTE_ERRORS = (
    DataAccessError,
    ExceptionResponseError,
    ConfirmedServiceErrorResponse,
    DlmsProtocolError,
)


def add_dlms_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers ``read`` and ``profile``; :func:`run_dlms_command` runs them."""
    read = subparsers.add_parser(
        "read",
        help="read attributes of a DLMS/COSEM meter over TCP",
        description="Read one attribute (OBIS[:ATTR], attribute 2 by default) or, with --all, "
        "every readable attribute of every object in the association's object list.",
    )
    read.add_argument("target", metavar="HOST:PORT", help="the meter, e.g. 127.0.0.1:4059")
    read.add_argument(
        "item", nargs="?", metavar="OBIS[:ATTR]", help="e.g. 1.0.1.8.0.255 or 1-0:1.8.0:3"
    )
    read.add_argument(
        "--all", action="store_true", help="discover the object list and read everything readable"
    )
    read.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_connection_options(read)
    read.set_defaults(dlms_command="read")

    profile = subparsers.add_parser(
        "profile",
        help="read the rows of a load profile between two instants",
        description="Read a Profile generic buffer by range (the clock between --from and --to).",
    )
    profile.add_argument("target", metavar="HOST:PORT", help="the meter, e.g. 127.0.0.1:4059")
    profile.add_argument("obis", metavar="OBIS", help="the profile, e.g. 1.0.99.1.0.255")
    profile.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="T",
        help="ISO date-time; without a UTC offset it is the meter's local time",
    )
    profile.add_argument("--to", dest="end", required=True, metavar="T", help="ISO date-time")
    profile.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    _add_connection_options(profile)
    profile.set_defaults(dlms_command="profile")


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client", default="0x10", metavar="N", help="client SAP (default 0x10, public client)"
    )
    parser.add_argument(
        "--server", default="1", metavar="N", help="server SAP (default 1, management device)"
    )
    parser.add_argument(
        "--password", metavar="P", help="LLS password (without one: no authentication)"
    )
    parser.add_argument(
        "--timeout",
        default=str(DEFAULT_TIMEOUT),
        metavar="S",
        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT:g})",
    )


def run_dlms_command(args: argparse.Namespace) -> int:
    """Runs ``read`` or ``profile``; returns the exit code, having printed any error as one
    line on stderr."""
    try:
        if args.dlms_command == "profile":
            return _profile(args)
        return _read(args)
    except (UserError, DlmsConnectionError) as problem:
        complain(str(problem))
        return EXIT_USAGE
    except DlmsClientError as problem:
        complain(str(problem))
        return EXIT_REFUSED


def complain(message: str) -> None:
    print(f"metertwin: error: {message}", file=sys.stderr)


# --- argument parsing -------------------------------------------------------------------------


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:4059`` for IPv6) -> (host, port)."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"expected HOST:PORT with a port 1..65535, got {text!r}")
    return host, int(port)


def parse_obis(text: str) -> Obis:
    try:
        return Obis.parse(text)
    except ValueError:
        raise UserError(
            f"not an OBIS code: {text!r} (expected e.g. 1.0.1.8.0.255 or 1-0:1.8.0)"
        ) from None


def parse_attribute_ref(text: str) -> tuple[Obis, int]:
    """``OBIS[:ATTR]`` -> (logical name, attribute), attribute 2 when not given. The OBIS may
    itself hold a colon (``1-0:1.8.0``), so the whole text is tried as OBIS first."""
    try:
        return Obis.parse(text), 2
    except ValueError:
        pass
    name, colon, attribute = text.rpartition(":")
    if not colon:
        return parse_obis(text), 2
    obis = parse_obis(name)
    try:
        number = int(attribute)
    except ValueError:
        number = 0
    if not 1 <= number <= 127:
        raise UserError(f"not an attribute number 1..127: {attribute!r} in {text!r}")
    return obis, number


def parse_sap(text: str, option: str) -> int:
    """A SAP / wPort, decimal or 0x-hexadecimal."""
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFF:
        raise UserError(f"{option}: expected a number 0..65535 (e.g. 16 or 0x10), got {text!r}")
    return value


def parse_instant(text: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{option}: not an ISO date-time: {text!r} (e.g. 2026-06-01T00:00)"
        ) from None


def parse_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise UserError(f"--timeout: expected seconds > 0 and <= 3600, got {text!r}")
    return value


def connect_from_args(args: argparse.Namespace) -> DlmsClient:
    host, port = parse_endpoint(args.target)
    client_sap = parse_sap(args.client, "--client")
    server_sap = parse_sap(args.server, "--server")
    timeout = parse_timeout(args.timeout)
    client = DlmsClient(timeout=timeout)
    return client.connect(host, port, client_sap, server_sap, password=args.password)


# --- read ---------------------------------------------------------------------------------


def _read(args: argparse.Namespace) -> int:
    parse_endpoint(args.target)  # refuse a bad target before anything else
    if args.all and args.item:
        raise UserError("read: give either OBIS[:ATTR] or --all, not both")
    if args.all:
        return _read_all(args)
    if not args.item:
        raise UserError("read: name an attribute (OBIS[:ATTR]) or use --all")
    obis, attribute = parse_attribute_ref(args.item)
    with connect_from_args(args) as meter:
        entry = _find(meter.object_list(), obis)
        if entry is None:
            raise UserError(f"{obis} is not in the object list of this association")
        value = meter.get(obis, entry.class_id, attribute)
        scaler = _read_scaler(meter, entry, attribute)
    if args.json:
        print(json.dumps(_attribute_json(entry, attribute, value, scaler), ensure_ascii=False))
    else:
        print(f"{obis}:{attribute} ({entry.class_name}) = {_value_text(attribute, value, scaler)}")
    return EXIT_OK


def _find(entries: Sequence[ObjectListEntry], obis: Obis) -> ObjectListEntry | None:
    return next((entry for entry in entries if entry.logical_name == obis), None)


def _read_scaler(meter: DlmsClient, entry: ObjectListEntry, attribute: int) -> ScalerUnit | None:
    """The scaler_unit that applies to ``attribute``, or None (not scaled, or unreadable)."""
    where = scaler_unit_attribute(entry.class_id, attribute)
    if where is None:
        return None
    try:
        return ScalerUnit.from_data(meter.get(entry.logical_name, entry.class_id, where))
    except _PER_ATTRIBUTE_ERRORS:
        if not meter.connected:
            raise
        return None


def _value_text(attribute: int, value: Data, scaler: ScalerUnit | None) -> str:
    if attribute == 1 and value.type == DataType.OCTET_STRING and len(value.as_bytes()) == 6:
        return str(Obis.from_bytes(value.as_bytes()))
    return format_value(value, scaler)


def _plain(attribute: int, value: Data, scaler: ScalerUnit | None) -> Any:
    if attribute == 1 and value.type == DataType.OCTET_STRING and len(value.as_bytes()) == 6:
        return str(Obis.from_bytes(value.as_bytes()))
    return to_python(value, scaler)


def _type_name(value: Data) -> str:
    return code_name(value.type)


def _attribute_json(
    entry: ObjectListEntry, attribute: int, value: Data, scaler: ScalerUnit | None
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "obis": str(entry.logical_name),
        "attribute": attribute,
        "class_id": entry.class_id,
        "class": entry.class_name,
        "type": _type_name(value),
        "value": _plain(attribute, value, scaler),
    }
    if scaler is not None and value.type != DataType.NULL_DATA:
        found.update(raw=to_python(value), scaler=scaler.scaler, unit=scaler.symbol)
    return found


_Outcome = Data | DataAccessResult | str
"""What discovery found for one attribute: its value, the meter's refusal, or an error text."""


def _read_all(args: argparse.Namespace) -> int:
    with connect_from_args(args) as meter:
        entries = meter.object_list()
        targets = [
            (entry.logical_name, entry.class_id, attribute)
            for entry in entries
            for attribute in entry.readable_attributes()
        ]
        outcomes = _read_attributes(meter, targets)
    scalers = {
        (obis, where): _scaler_of(outcomes.get((obis, where)))
        for obis, class_id, attribute in targets
        if (where := scaler_unit_attribute(class_id, attribute)) is not None
    }
    if args.json:
        print(json.dumps(_objects_json(entries, outcomes, scalers), ensure_ascii=False, indent=2))
    else:
        _print_objects(entries, outcomes, scalers)
    return EXIT_OK


def _read_attributes(
    meter: DlmsClient, targets: Sequence[tuple[Obis, int, int]]
) -> dict[tuple[Obis, int], _Outcome]:
    """Every target read, in batches of get-request-with-list; a batch the meter cannot serve
    as a whole is read again attribute by attribute, so one bad attribute only marks itself."""
    outcomes: dict[tuple[Obis, int], _Outcome] = {}
    for start in range(0, len(targets), BATCH_SIZE):
        batch = targets[start : start + BATCH_SIZE]
        try:
            results: list[_Outcome] = list(meter.get_many(batch))
        except _PER_ATTRIBUTE_ERRORS:
            if not meter.connected:
                raise
            results = []
            for obis, class_id, attribute in batch:
                try:
                    results.append(meter.get(obis, class_id, attribute))
                except DataAccessError as refused:
                    results.append(refused.result)
                except _PER_ATTRIBUTE_ERRORS as problem:
                    if not meter.connected:
                        raise
                    results.append(str(problem))
        for (obis, _class_id, attribute), result in zip(batch, results, strict=True):
            outcomes[obis, attribute] = result
    return outcomes


def _scaler_of(outcome: _Outcome | None) -> ScalerUnit | None:
    if not isinstance(outcome, Data):
        return None
    try:
        return ScalerUnit.from_data(outcome)
    except DlmsProtocolError:
        return None


def _error_text(outcome: DataAccessResult | str) -> str:
    if isinstance(outcome, DataAccessResult):
        return code_name(outcome)
    return outcome


def _scaler_for(
    entry: ObjectListEntry, attribute: int, scalers: dict[tuple[Obis, int], ScalerUnit | None]
) -> ScalerUnit | None:
    where = scaler_unit_attribute(entry.class_id, attribute)
    return None if where is None else scalers.get((entry.logical_name, where))


def _objects_json(
    entries: Sequence[ObjectListEntry],
    outcomes: dict[tuple[Obis, int], _Outcome],
    scalers: dict[tuple[Obis, int], ScalerUnit | None],
) -> list[dict[str, Any]]:
    objects = []
    for entry in entries:
        attributes = []
        for right in entry.attributes:
            item: dict[str, Any] = {"attribute": right.attribute, "access": right.access_name}
            outcome = outcomes.get((entry.logical_name, right.attribute))
            if isinstance(outcome, Data):
                scaler = _scaler_for(entry, right.attribute, scalers)
                item["type"] = _type_name(outcome)
                item["value"] = _plain(right.attribute, outcome, scaler)
                if scaler is not None and outcome.type != DataType.NULL_DATA:
                    item.update(raw=to_python(outcome), scaler=scaler.scaler, unit=scaler.symbol)
            elif outcome is not None:
                item["error"] = _error_text(outcome)
            attributes.append(item)
        objects.append(
            {
                "obis": str(entry.logical_name),
                "class_id": entry.class_id,
                "class": entry.class_name,
                "version": entry.version,
                "attributes": attributes,
                "methods": [
                    {"method": right.method, "access": right.access_mode} for right in entry.methods
                ],
            }
        )
    return objects


def _print_objects(
    entries: Sequence[ObjectListEntry],
    outcomes: dict[tuple[Obis, int], _Outcome],
    scalers: dict[tuple[Obis, int], ScalerUnit | None],
) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("OBIS", no_wrap=True)
    table.add_column("class", no_wrap=True)
    table.add_column("attr", justify="right", no_wrap=True)
    table.add_column("value", overflow="fold")
    read = refused = 0
    for entry in entries:
        label = Text(f"{entry.class_name} v{entry.version}")
        readable = entry.readable_attributes()
        if not readable:
            table.add_row(
                Text(str(entry.logical_name)), label, Text("-"), Text("(nothing readable)")
            )
        for attribute in readable:
            outcome = outcomes.get((entry.logical_name, attribute), "not read")
            if isinstance(outcome, Data):
                read += 1
                scaler = _scaler_for(entry, attribute, scalers)
                cell = Text(_cell_text(attribute, outcome, scaler))
            else:
                refused += 1
                cell = Text(_error_text(outcome), style="red")
            table.add_row(Text(str(entry.logical_name)), label, Text(str(attribute)), cell)
            label = Text("")
    console = Console()
    console.print(table)
    console.print(
        f"{len(entries)} objects, {read} attributes read, {refused} refused", highlight=False
    )


def _cell_text(attribute: int, value: Data, scaler: ScalerUnit | None) -> str:
    """A table cell: long arrays (an object list, a year of profile) as their first element
    and their length, so the table stays readable and cheap to build; then clipped."""
    if value.type in (DataType.ARRAY, DataType.COMPACT_ARRAY):
        items = value.as_items()
        if len(items) > SHOWN_ITEMS:
            text = f"[{format_value(items[0])}, … {len(items)} entries]"
            return _clip(text)
    return _clip(_value_text(attribute, value, scaler))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


# --- profile ------------------------------------------------------------------------------


def _profile(args: argparse.Namespace) -> int:
    parse_endpoint(args.target)
    obis = parse_obis(args.obis)
    start = parse_instant(args.start, "--from")
    end = parse_instant(args.end, "--to")
    if (start.utcoffset() is None) != (end.utcoffset() is None):
        raise UserError("--from and --to: give both with a UTC offset or both without")
    if end < start:
        raise UserError("--to lies before --from")
    with connect_from_args(args) as meter:
        columns = meter.capture_objects(obis)
        rows = meter.profile(obis, start, end)
        scalers = _column_scalers(meter, columns)
    width = max([len(columns), *(len(row) for row in rows)])
    header = [_column_header(columns, scalers, index) for index in range(width)]
    cells = [
        [
            _cell(value, scalers[index] if index < len(scalers) else None)
            for index, value in enumerate(row)
        ]
        for row in rows
    ]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(cells)
    else:
        _print_rows(header, cells)
    return EXIT_OK


def _column_scalers(meter: DlmsClient, columns: Sequence[CaptureObject]) -> list[ScalerUnit | None]:
    """The scaler_unit of each column that has one (read with one list GET), else None."""
    wanted = sorted(
        {
            (column.logical_name, column.class_id, where)
            for column in columns
            if (where := scaler_unit_attribute(column.class_id, column.attribute)) is not None
        },
        key=str,
    )
    found: dict[tuple[Obis, int], ScalerUnit | None] = {}
    if wanted:
        try:
            results = meter.get_many(wanted)
        except _PER_ATTRIBUTE_ERRORS:
            if not meter.connected:
                raise
            results = [DataAccessResult.OTHER_REASON] * len(wanted)
        for (name, _class_id, where), result in zip(wanted, results, strict=True):
            found[name, where] = _scaler_of(result)
    scalers = []
    for column in columns:
        where = scaler_unit_attribute(column.class_id, column.attribute)
        scalers.append(None if where is None else found.get((column.logical_name, where)))
    return scalers


def _column_header(
    columns: Sequence[CaptureObject], scalers: Sequence[ScalerUnit | None], index: int
) -> str:
    if index >= len(columns):
        return f"column {index + 1}"
    scaler = scalers[index]
    unit = scaler.symbol if scaler is not None else ""
    return f"{columns[index]} [{unit}]" if unit else str(columns[index])


def _cell(value: Data, scaler: ScalerUnit | None) -> str:
    if value.type in (DataType.NULL_DATA, DataType.DONT_CARE):
        return ""
    return format_value(value, scaler, unit=False)


def _print_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    for title in header:
        table.add_column(Text(title), no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console = Console()
    console.print(table)
    console.print(f"{len(rows)} rows", highlight=False)
