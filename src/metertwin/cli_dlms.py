"""`metertwin read` and `metertwin profile`: a head-end's view of any DLMS/COSEM meter over TCP
(IEC 62056-47 wrapper), through our own client (issue 3, item 7).

- ``read HOST:PORT OBIS[:ATTR]``: one attribute (2 by default); the class comes from the
  association's object list, and a register's value is shown scaled, with its unit (its
  scaler_unit read in the same request); the amounts of Account, Credit and Charge at the
  scale and in the currency of the account (Account attribute 15). ``--json`` keeps the raw
  value beside the scaled one.
- ``read HOST:PORT --all``: discovery as a head-end does it: the object list, then every
  attribute the access rights let this client read; refusals are shown per attribute.
- ``profile HOST:PORT OBIS --from T --to T``: the rows of a load profile between two instants
  (range selective access), as a table or as CSV with the capture objects as header.

User mistakes and unreachable meters end with one line on stderr and exit code 2; a refusal by
the meter (an association, a read, an object it does not serve to this association) with 1
(cli_common), naming the association that may read it when the meter's model tells (issue 11,
item 14). Tables never cut a value off: long values wrap. Never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from metertwin.cli_common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    LOGICAL_DEVICE_NAME,
    association_of,
    association_refusal_text,
    client_options,
    model_of_device_name,
    model_of_meter,
    probe_model,
    reading_association,
)
from metertwin.cli_security import add_security_options, security_from_args
from metertwin.cli_target import TARGET_HELP, open_meter, parse_endpoint, parse_target
from metertwin.codec.axdr import Data, DataType
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import INTERFACE_CLASSES
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
    class_name,
    format_value,
    scaler_unit_attribute,
    to_python,
)
from metertwin.dlms.client.errors import AssociationRejectedError, code_name
from metertwin.errors import UserError
from metertwin.models import DeviceModel
from metertwin.models.loader import AssociationSpec

__all__ = [
    "DLMS_COMMANDS",
    "add_connection_options",
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
ACCOUNT_CLASS, CURRENCY_ATTRIBUTE = 111, 15
"""Account attribute 15 ``currency {name, scale, unit}``: the scale and currency of every
amount of the prepayment classes (docs/prepayment.md, "Over DLMS")."""
MONETARY_ATTRIBUTES: dict[int, frozenset[int]] = {
    111: frozenset({5, 6, 7, 8, 16, 17}),  # available_credit, amount_to_clear, clearance
    # threshold, aggregated_debt, low_credit_threshold, next_credit_available_threshold
    112: frozenset({2, 5, 6, 9, 10}),  # current_credit_amount, warning_threshold, limit,
    # preset_credit_amount, credit_available_threshold
    113: frozenset({2, 11, 12}),  # total_amount_paid, last_collection_amount, total remaining
}
"""The double-long amounts of Account, Credit and Charge (Blue Book classes 111-113), in the
account's currency at its scale."""
CURRENCY_UNIT = 10
"""scaler_unit unit 10: currency (dlms.md 1.4), shown as the account's currency name."""
_REFUSED_READS = (DataAccessResult.READ_WRITE_DENIED, DataAccessResult.OBJECT_UNDEFINED)

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
    read.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    read.add_argument(
        "item", nargs="?", metavar="OBIS[:ATTR]", help="e.g. 1.0.1.8.0.255 or 1-0:1.8.0:3"
    )
    read.add_argument(
        "--all", action="store_true", help="discover the object list and read everything readable"
    )
    read.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_connection_options(read)
    read.set_defaults(dlms_command="read")

    profile = subparsers.add_parser(
        "profile",
        help="read the rows of a load profile between two instants",
        description="Read a Profile generic buffer by range (the clock between --from and --to).",
    )
    profile.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    profile.add_argument("obis", metavar="OBIS", help="the profile, e.g. 1.0.99.1.0.255")
    profile.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="T",
        help="ISO date-time (without a UTC offset it is the meter's local time), or relative to "
        "the meter's clock: now, now-1d, now-6h, now-30m",
    )
    profile.add_argument(
        "--to", dest="end", required=True, metavar="T", help="like --from (e.g. now)"
    )
    profile.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    add_connection_options(profile)
    profile.set_defaults(dlms_command="profile")


def add_connection_options(
    parser: argparse.ArgumentParser,
    client_default: str | None = "0x10",
    client_help: str = "client SAP (default 0x10, public client)",
    password_help: str = "LLS password (without one: no authentication)",
) -> None:
    """--client, --server, --password, --timeout and the security options (cli_security),
    shared by every command that talks to a meter; the acting commands default --client to
    the association the meter's model names."""
    parser.add_argument("--client", default=client_default, metavar="N", help=client_help)
    parser.add_argument(
        "--server", default="1", metavar="N", help="server SAP (default 1, management device)"
    )
    parser.add_argument("--password", metavar="P", help=password_help)
    parser.add_argument(
        "--timeout",
        default=str(DEFAULT_TIMEOUT),
        metavar="S",
        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT:g})",
    )
    add_security_options(parser)


class RefusedByMeter(Exception):
    """The meter does not serve what was asked to this association (not in its object list):
    a refusal by the meter, exit 1, like a data-access-result."""


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
    except AssociationRejectedError as refused:
        complain(explain_association_refusal(args, refused))
        return EXIT_REFUSED
    except (DlmsClientError, RefusedByMeter) as problem:
        complain(str(problem))
        return EXIT_REFUSED


def explain_association_refusal(args: argparse.Namespace, refused: AssociationRejectedError) -> str:
    """A refused AARE in the terms of the meter's model (its lockout), the model told over the
    public client when the meter answers it."""
    if not (refused.locked or refused.wrong_password):
        return str(refused)
    target = parse_target(args.target)
    server_sap = parse_sap(args.server, "--server")
    try:
        model = probe_model(target, server_sap, parse_timeout(args.timeout))
    except DlmsConnectionError:
        model = None
    return association_refusal_text(refused, model, parse_sap(args.client, "--client"))


def complain(message: str) -> None:
    print(f"metertwin: error: {message}", file=sys.stderr)


# --- argument parsing -------------------------------------------------------------------------


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


_RELATIVE = re.compile(r"now(?:([+-])(\d{1,6})([mhd]))?")
_RELATIVE_UNIT_S = {"m": 60, "h": 3600, "d": 86400}
CLOCK = Obis.parse("0.0.1.0.0.255")
"""The Clock object (class 8): relative --from/--to count from its time attribute."""


def parse_relative(text: str) -> timedelta | None:
    """``now``, ``now-1d``, ``now+2h``, ``now-30m`` -> the shift from the meter's clock; None
    for anything else (an ISO date-time, or a mistake :func:`parse_instant` names)."""
    match = _RELATIVE.fullmatch(text.strip().lower())
    if match is None:
        return None
    sign, amount, unit = match.groups()
    if sign is None:
        return timedelta(0)
    seconds = int(amount) * _RELATIVE_UNIT_S[unit]
    return timedelta(seconds=seconds if sign == "+" else -seconds)


def meter_present(meter: DlmsClient) -> datetime:
    """The meter's clock (0.0.1.0.0.255 attribute 2) as an aware local date-time."""
    value = meter.get(CLOCK, 8, 2).value
    try:
        if isinstance(value, bytes):
            value = CosemDateTime.from_bytes(value)
        if isinstance(value, CosemDateTime):
            return value.to_datetime()
        problem = f"a {type(value).__name__}"
    except ValueError as error:
        problem = str(error)
    raise DlmsProtocolError(
        f"{CLOCK}:2 reads no usable date-time for now-relative times ({problem})"
    )


def _check_range(start: datetime, end: datetime) -> None:
    if (start.utcoffset() is None) != (end.utcoffset() is None):
        raise UserError("--from and --to: give both with a UTC offset or both without")
    if end < start:
        raise UserError("--to lies before --from")


def _resolve(shift: timedelta, present: datetime, other: datetime | None) -> datetime:
    """``present + shift``, in the meter's local time; naive when the other bound is."""
    moment = present + shift
    if other is not None and other.utcoffset() is None:
        return moment.replace(tzinfo=None)
    return moment


def parse_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise UserError(f"--timeout: expected seconds > 0 and <= 3600, got {text!r}")
    return value


def connect_from_args(args: argparse.Namespace) -> DlmsClient:
    target = parse_target(args.target)
    client_sap = parse_sap(args.client, "--client")
    server_sap = parse_sap(args.server, "--server")
    timeout = parse_timeout(args.timeout)

    def model_association() -> AssociationSpec | None:
        try:
            model = probe_model(target, server_sap, timeout)
        except DlmsConnectionError:
            return None
        return None if model is None else association_of(model, client_sap)

    security = security_from_args(args, client_sap, model_association)
    password = args.password if security is None else None
    return open_meter(target, timeout, client_sap, server_sap, password, security)


# --- read ---------------------------------------------------------------------------------


def _read(args: argparse.Namespace) -> int:
    parse_target(args.target)  # refuse a bad target before anything else
    if args.all and args.item:
        raise UserError("read: give either OBIS[:ATTR] or --all, not both")
    if args.all:
        return _read_all(args)
    if not args.item:
        raise UserError("read: name an attribute (OBIS[:ATTR]) or use --all")
    obis, attribute = parse_attribute_ref(args.item)
    client_sap = parse_sap(args.client, "--client")
    with connect_from_args(args) as meter:
        entries = meter.object_list()
        entry = _find(entries, obis)
        if entry is None:
            raise RefusedByMeter(
                f"{obis} is not in the object list of this association (client {client_sap})"
                + _who_may_read(meter, obis, attribute, client_sap)
            )
        try:
            value, scaler = _read_scaled(meter, entries, entry, attribute)
        except DataAccessError as refused:
            if refused.result not in _REFUSED_READS:
                raise
            raise RefusedByMeter(
                str(refused) + _who_may_read(meter, obis, attribute, client_sap)
            ) from None
        model = model_of_meter(meter) if entry.class_id >= 8192 else None
    name = _class_name(entry.class_id, model)
    if args.json:
        found = _attribute_json(entry, attribute, value, scaler)
        print(json.dumps({**found, "class": name}, ensure_ascii=False))
    else:
        print(f"{obis}:{attribute} ({name}) = {_value_text(attribute, value, scaler)}")
    return EXIT_OK


def _find(entries: Sequence[ObjectListEntry], obis: Obis) -> ObjectListEntry | None:
    return next((entry for entry in entries if entry.logical_name == obis), None)


def _who_may_read(meter: DlmsClient, obis: Obis, attribute: int, client_sap: int) -> str:
    """Which association of the meter's model may read it (the model data's object lists),
    as the options that open it; nothing when the model cannot be told."""
    model = model_of_meter(meter)
    if model is None:
        return ""
    spec = reading_association(model, obis, attribute)
    if spec is None:
        return f"; no association of {model.spec.name} may read {obis}:{attribute}"
    if spec.client_sap == client_sap:
        return ""
    return f"; the {spec.name} association may read it: {client_options(spec)}"


@dataclass(frozen=True, slots=True)
class CurrencyScale(ScalerUnit):
    """A scaler_unit whose unit is the account's currency, shown by its name (``SAR``)."""

    currency: str

    @property
    def symbol(self) -> str:
        return self.currency


def _currency_of(outcome: object) -> CurrencyScale | None:
    """Account attribute 15 ``{name, scale, unit}`` as a scale, or None if it is not one."""
    if not isinstance(outcome, Data) or outcome.type != DataType.STRUCTURE:
        return None
    items = outcome.as_items()
    if len(items) != 3:
        return None
    name, scale = items[0].value, items[1].value
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    if not isinstance(name, str) or not isinstance(scale, int) or isinstance(scale, bool):
        return None
    return CurrencyScale(scale, CURRENCY_UNIT, name)


def _scaling(
    class_id: int,
    attribute: int,
    scaler: ScalerUnit | None,
    currency: CurrencyScale | None,
) -> ScalerUnit | None:
    """What scales ``attribute``: its scaler_unit (a currency unit named by the account), or
    for an amount of Account, Credit or Charge the account's currency."""
    if attribute in MONETARY_ATTRIBUTES.get(class_id, ()):
        return currency
    if scaler is not None and scaler.unit == CURRENCY_UNIT and currency is not None:
        return CurrencyScale(scaler.scaler, scaler.unit, currency.currency)
    return scaler


def _account(entries: Sequence[ObjectListEntry]) -> ObjectListEntry | None:
    """The account whose currency the amounts are in: the (first) Account of the list."""
    return next((entry for entry in entries if entry.class_id == ACCOUNT_CLASS), None)


def _read_scaled(
    meter: DlmsClient,
    entries: Sequence[ObjectListEntry],
    entry: ObjectListEntry,
    attribute: int,
) -> tuple[Data, ScalerUnit | None]:
    """The attribute and what scales it, in one request: its scaler_unit, or the account's
    currency for an amount; a scale the meter refuses leaves the value unscaled."""
    wanted = [(entry.logical_name, entry.class_id, attribute)]
    where = scaler_unit_attribute(entry.class_id, attribute)
    if where is not None:
        wanted.append((entry.logical_name, entry.class_id, where))
    account = _account(entries)
    if account is not None and (
        attribute in MONETARY_ATTRIBUTES.get(entry.class_id, ()) or where is not None
    ):
        wanted.append((account.logical_name, ACCOUNT_CLASS, CURRENCY_ATTRIBUTE))
    results = meter.get_many(wanted)
    value = results[0]
    if isinstance(value, DataAccessResult):
        raise DataAccessError(
            value, f"GET {entry.logical_name} class {entry.class_id} attribute {attribute}"
        )
    scaler = _scaler_of(results[1]) if where is not None else None
    currency = _currency_of(results[-1]) if len(results) > 1 + (where is not None) else None
    return value, _scaling(entry.class_id, attribute, scaler, currency)


def _class_name(class_id: int, model: DeviceModel | None) -> str:
    """The interface class's name; a manufacturer class (8192 and above) by metertwin's
    definition (docs/dlms.md, "Manufacturer classes") when the meter is one of its models."""
    known = INTERFACE_CLASSES.get(class_id)
    if class_id >= 8192 and model is not None and known is not None:
        return known.name
    return class_name(class_id)


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
    account = _account(entries)
    scales = _Scales(
        {
            (obis, where): _scaler_of(outcomes.get((obis, where)))
            for obis, class_id, attribute in targets
            if (where := scaler_unit_attribute(class_id, attribute)) is not None
        },
        None
        if account is None
        else _currency_of(outcomes.get((account.logical_name, CURRENCY_ATTRIBUTE))),
        _model_of_name(outcomes.get((LOGICAL_DEVICE_NAME, 2))),
    )
    if args.json:
        print(json.dumps(_objects_json(entries, outcomes, scales), ensure_ascii=False, indent=2))
    else:
        _print_objects(entries, outcomes, scales)
    return EXIT_OK


@dataclass(frozen=True)
class _Scales:
    """What discovery learnt that shows its values: the scaler_units read, the account's
    currency, and the meter's model (for the names of manufacturer classes)."""

    scalers: dict[tuple[Obis, int], ScalerUnit | None]
    currency: CurrencyScale | None
    model: DeviceModel | None

    def of(self, entry: ObjectListEntry, attribute: int) -> ScalerUnit | None:
        where = scaler_unit_attribute(entry.class_id, attribute)
        scaler = None if where is None else self.scalers.get((entry.logical_name, where))
        return _scaling(entry.class_id, attribute, scaler, self.currency)


def _model_of_name(outcome: _Outcome | None) -> DeviceModel | None:
    if isinstance(outcome, Data) and isinstance(outcome.value, bytes | str):
        name = outcome.value
        return model_of_device_name(
            name.encode("latin-1", "replace") if isinstance(name, str) else name
        )
    return None


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


def _objects_json(
    entries: Sequence[ObjectListEntry],
    outcomes: dict[tuple[Obis, int], _Outcome],
    scales: _Scales,
) -> list[dict[str, Any]]:
    objects = []
    for entry in entries:
        attributes = []
        for right in entry.attributes:
            item: dict[str, Any] = {"attribute": right.attribute, "access": right.access_name}
            outcome = outcomes.get((entry.logical_name, right.attribute))
            if isinstance(outcome, Data):
                scaler = scales.of(entry, right.attribute)
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
                "class": _class_name(entry.class_id, scales.model),
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
    scales: _Scales,
) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    # Every column folds: a narrow terminal wraps a value, never cuts it off.
    table.add_column("OBIS", overflow="fold")
    table.add_column("class", overflow="fold")
    table.add_column("attr", justify="right", overflow="fold")
    table.add_column("value", overflow="fold")
    read = refused = 0
    for entry in entries:
        label = Text(f"{_class_name(entry.class_id, scales.model)} v{entry.version}")
        readable = entry.readable_attributes()
        if not readable:
            table.add_row(
                Text(str(entry.logical_name)), label, Text("-"), Text("(nothing readable)")
            )
        for attribute in readable:
            outcome = outcomes.get((entry.logical_name, attribute), "not read")
            if isinstance(outcome, Data):
                read += 1
                cell = Text(_value_text(attribute, outcome, scales.of(entry, attribute)))
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


# --- profile ------------------------------------------------------------------------------


def _profile(args: argparse.Namespace) -> int:
    parse_target(args.target)
    obis = parse_obis(args.obis)
    start_shift = parse_relative(args.start)
    end_shift = parse_relative(args.end)
    given_start = None if start_shift is not None else parse_instant(args.start, "--from")
    given_end = None if end_shift is not None else parse_instant(args.end, "--to")
    if given_start is not None and given_end is not None:
        _check_range(given_start, given_end)
    client_sap = parse_sap(args.client, "--client")
    with connect_from_args(args) as meter:
        if given_start is None or given_end is None:
            present = meter_present(meter)
        start = given_start or _resolve(start_shift or timedelta(0), present, given_end)
        end = given_end or _resolve(end_shift or timedelta(0), present, given_start)
        _check_range(start, end)
        try:
            columns = meter.capture_objects(obis)
        except DataAccessError as refused:
            if refused.result not in _REFUSED_READS:
                raise
            raise RefusedByMeter(str(refused) + _who_may_read(meter, obis, 2, client_sap)) from None
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
        table.add_column(Text(title), overflow="fold")  # wrapped, never cut off
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console = Console()
    console.print(table)
    console.print(f"{len(rows)} rows", highlight=False)
