"""`metertwin set | action | clock | relay | billing`: a head-end that acts, not only reads
(issue 11, item 18).

- ``set HOST:PORT OBIS:ATTR VALUE``: writes one attribute. Its current value is read first, so
  VALUE is read as that type (metertwin.dlms.client.user_input): ``230`` for a long-unsigned, an ISO
  date-time for a clock, JSON for a structure or array, typed JSON for what cannot be read.
- ``action HOST:PORT OBIS:METHOD [VALUE]``: invokes a method; the parameter type comes from the
  Blue Book for the methods user_input knows, and the parameterless ones are sent integer(0).
- ``clock set HOST:PORT [ISO-TIME]`` / ``clock sync HOST:PORT``: clock ``0.0.1.0.0.255``
  attribute 2, to the time given (without an offset: the meter's local time) or the host's.
- ``relay connect|disconnect HOST:PORT``: disconnect control ``0.0.96.3.10.255`` methods 2
  remote_reconnect and 1 remote_disconnect.
- ``billing reset HOST:PORT``: script 1 of the end of billing period script table
  ``0.0.10.0.1.255`` (docs/dlms.md, "Billing").

Without ``--client``, the meter's model is told by its logical device name (public client), and
the model's least privileged association that may do it is used, with its default secret; a
meter of no built-in model needs ``--client`` and ``--password``. Every command reads the result
back and prints it. Exit codes as everywhere (cli_common): 0 done, 1 refused by the meter (its
DLMS result named), 2 a usage or input error (a bad OBIS, a value that cannot be converted).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from metertwin.cli_common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    LOGICAL_DEVICE_NAME,
    PUBLIC_CLIENT,
    acting_association,
    model_of_meter,
    writing_association,
)
from metertwin.cli_dlms import (
    RefusedByMeter,
    add_connection_options,
    complain,
    connect_from_args,
    parse_obis,
)
from metertwin.cli_target import TARGET_HELP, parse_target
from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.dlms.client import (
    DataAccessError,
    DlmsClient,
    DlmsClientError,
    DlmsConnectionError,
    DlmsProtocolError,
)
from metertwin.dlms.client.errors import code_name
from metertwin.dlms.client.user_input import (
    INTEGER_ZERO,
    ValueInputError,
    method_parameter,
    parse_typed,
    parse_value,
    type_name,
    value_text,
)
from metertwin.errors import UserError
from metertwin.models import DeviceModel
from metertwin.models.loader import AssociationSpec

__all__ = ["ACT_COMMANDS", "add_act_commands", "run_act_command"]

ACT_COMMANDS = ("set", "action", "clock", "relay", "billing")
CLOCK = Obis(0, 0, 1, 0, 0)
CLOCK_TIME = 2
DISCONNECT_CONTROL = Obis(0, 0, 96, 3, 10)
REMOTE_DISCONNECT, REMOTE_RECONNECT = 1, 2
CONTROL_STATE, CONTROL_MODE = 3, 4
READY_FOR_RECONNECTION = 2
CONTROL_STATES = {0: "disconnected", 1: "connected", 2: "ready_for_reconnection"}
BILLING_SCRIPTS = Obis(0, 0, 10, 0, 1)
BILLING_RESET_SCRIPT = 1
EXECUTE = 1
BILLING_PERIOD_COUNTER = Obis(1, 0, 0, 1, 0)


def add_act_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the acting commands; :func:`run_act_command` runs them."""
    write = subparsers.add_parser(
        "set",
        help="write one attribute of a DLMS/COSEM meter",
        description="Write OBIS:ATTR. VALUE is read as the attribute's type (its current value "
        "is read first): a number, true/false, text, an ISO date-time for a clock, hex octets "
        '(0x...), JSON for a structure or array, or typed JSON ({"long-unsigned": 5}) for an '
        "attribute that cannot be read. Numbers are raw, before the scaler.",
    )
    _target(write)
    write.add_argument("item", metavar="OBIS:ATTR", help="e.g. 0.0.1.0.0.255:2")
    write.add_argument("value", metavar="VALUE", help="e.g. 2026-12-02T10:00:00 or 230")
    _connection_options(write)
    write.set_defaults(act=_set_command)

    act = subparsers.add_parser(
        "action",
        help="invoke a method of a DLMS/COSEM meter",
        description="Invoke OBIS:METHOD. Methods that take no parameter are sent integer(0); "
        "VALUE is read as the method's parameter type (script execute: long-unsigned, "
        'shift_time: long, token enter: octet-string), or give it typed: {"enum": 1}.',
    )
    _target(act)
    act.add_argument("item", metavar="OBIS:METHOD", help="e.g. 0.0.10.0.1.255:1")
    act.add_argument("value", nargs="?", metavar="VALUE", help="the method's parameter")
    _connection_options(act)
    act.set_defaults(act=_action_command)

    clock = subparsers.add_parser("clock", help="set the meter's clock")
    clock_actions = clock.add_subparsers(dest="clock_command", required=True)
    clock_set = clock_actions.add_parser(
        "set", help="set the clock to ISO-TIME (default: the host's time)"
    )
    _target(clock_set)
    clock_set.add_argument(
        "time",
        nargs="?",
        metavar="ISO-TIME",
        help="e.g. 2026-12-02T10:00:00 (the meter's local time) or with a UTC offset",
    )
    _connection_options(clock_set)
    clock_sync = clock_actions.add_parser("sync", help="set the clock to the host's time")
    _target(clock_sync)
    _connection_options(clock_sync)
    clock.set_defaults(act=_clock_command)

    relay = subparsers.add_parser("relay", help="connect or disconnect the meter's relay")
    relay_actions = relay.add_subparsers(dest="relay_command", required=True)
    for name, text in (("connect", "remote_reconnect"), ("disconnect", "remote_disconnect")):
        command = relay_actions.add_parser(name, help=f"{text} (0.0.96.3.10.255)")
        _target(command)
        _connection_options(command)
    relay.set_defaults(act=_relay_command)

    billing = subparsers.add_parser("billing", help="end the meter's billing period")
    billing_actions = billing.add_subparsers(dest="billing_command", required=True)
    reset = billing_actions.add_parser(
        "reset", help="end the billing period now (script 1 of 0.0.10.0.1.255)"
    )
    _target(reset)
    _connection_options(reset)
    billing.set_defaults(act=_billing_command)


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET", help=TARGET_HELP)


def _connection_options(parser: argparse.ArgumentParser) -> None:
    add_connection_options(
        parser,
        client_default=None,
        client_help="client SAP (default: the association of the meter's model that may do it)",
        password_help="LLS password (default: that association's secret)",
    )


def run_act_command(args: argparse.Namespace) -> int:
    """Runs one acting command; returns the exit code, any error printed as one line."""
    try:
        parse_target(args.target)  # a bad target is refused before anything is asked
        command: Callable[[argparse.Namespace], int] = args.act
        return command(args)
    except (UserError, ValueInputError, DlmsConnectionError) as problem:
        complain(str(problem))
        return EXIT_USAGE
    except (DlmsClientError, RefusedByMeter) as problem:
        complain(str(problem))
        return EXIT_REFUSED


# --- which association ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Want:
    """What the command will do, to choose the association that may do it."""

    obis: Obis
    number: int
    is_method: bool

    def association(self, model: DeviceModel) -> AssociationSpec:
        if self.is_method:
            found = acting_association(model, self.obis, self.number)
        else:
            found = writing_association(model, self.obis, self.number)
        # None: no association may; the most privileged one opened with the model's own
        # secrets (HLS keys are the deployment's: named with --client 0x40) lets the meter
        # say why.
        openable = [a for a in model.dlms.associations if a.mechanism in ("none", "lls")]
        return found or openable[-1]


def _connect(args: argparse.Namespace, want: _Want) -> DlmsClient:
    """The association named by --client, or the one the meter's model says may do it."""
    if args.client is not None:
        return connect_from_args(args)
    spec = _association_for(args, want)
    secret = None if spec.secret is None else spec.secret.decode("utf-8")  # as the loader
    chosen = argparse.Namespace(**vars(args))
    chosen.client = str(spec.client_sap)
    chosen.password = args.password if args.password is not None else secret
    return connect_from_args(chosen)


def connect_for_method(args: argparse.Namespace, obis: Obis, method: int) -> DlmsClient:
    """For other commands (`firmware upload`): the association that may invoke ``method``."""
    return _connect(args, _Want(obis, method, True))


def _association_for(args: argparse.Namespace, want: _Want) -> AssociationSpec:
    public = argparse.Namespace(**vars(args))
    public.client, public.password, public.auth = str(PUBLIC_CLIENT), None, "none"
    with connect_from_args(public) as meter:
        model = model_of_meter(meter)
    if model is None:
        raise UserError(
            f"the meter's logical device name ({LOGICAL_DEVICE_NAME}) is of no built-in model: "
            "name the association with --client N --password P"
        )
    return want.association(model)


def _class_of(meter: DlmsClient, obis: Obis) -> int:
    found = _classes(meter).get(obis)
    if found is None:
        raise RefusedByMeter(f"{obis} is not in the object list of this association")
    return found


def _classes(meter: DlmsClient) -> dict[Obis, int]:
    """The class of each object the association lists."""
    return {entry.logical_name: entry.class_id for entry in meter.object_list()}


# --- set ------------------------------------------------------------------------------------


def _set_command(args: argparse.Namespace) -> int:
    obis, attribute = _parse_reference(args.item, "attribute")
    return _set(args, obis, attribute, args.value)


def _set(args: argparse.Namespace, obis: Obis, attribute: int, text: str) -> int:
    with _connect(args, _Want(obis, attribute, is_method=False)) as meter:
        class_id = _class_of(meter, obis)
        value = _value_for(meter, obis, class_id, attribute, text)
        meter.set(obis, class_id, attribute, value)
        print(_read_back(meter, obis, class_id, attribute))
    return EXIT_OK


def _value_for(meter: DlmsClient, obis: Obis, class_id: int, attribute: int, text: str) -> Data:
    """``text`` as the attribute's type, known from its current value (or typed JSON)."""
    if text.lstrip().startswith("{"):
        return parse_typed(text)
    try:
        current = meter.get(obis, class_id, attribute)
    except DataAccessError as refused:
        raise UserError(
            f"{obis}:{attribute} cannot be read ({code_name(refused.result)}), so its type is "
            'unknown: give VALUE typed, e.g. {"octet-string": "NEW-SECRET"}'
        ) from None
    return parse_value(text, current)


def _read_back(meter: DlmsClient, obis: Obis, class_id: int, attribute: int) -> str:
    try:
        return f"{obis}:{attribute} = {value_text(meter.get(obis, class_id, attribute))}"
    except (DataAccessError, ValueInputError):  # write-only, or no command-line form
        return f"{obis}:{attribute} written"


def _parse_reference(text: str, what: str) -> tuple[Obis, int]:
    """``OBIS:N`` -> (logical name, attribute or method number 1..127)."""
    name, colon, number = text.rpartition(":")
    if not colon or not (number.isascii() and number.isdigit()):
        raise UserError(f"expected OBIS:{what.upper()} (e.g. 0.0.1.0.0.255:2), got {text!r}")
    obis = parse_obis(name)
    if not 1 <= int(number) <= 127:
        raise UserError(f"{what} number {number} in {text!r} is outside 1..127")
    return obis, int(number)


# --- action ---------------------------------------------------------------------------------


def _action_command(args: argparse.Namespace) -> int:
    obis, method = _parse_reference(args.item, "method")
    with _connect(args, _Want(obis, method, is_method=True)) as meter:
        class_id = _class_of(meter, obis)
        answer = meter.action(obis, class_id, method, _parameter(class_id, method, args.value))
    shown = "" if answer is None else f": {value_text(answer)}"
    print(f"{obis}:{method} done{shown}")
    return EXIT_OK


def _parameter(class_id: int, method: int, text: str | None) -> Data | None:
    if text is not None and text.lstrip().startswith("{"):
        return parse_typed(text)
    template = method_parameter(class_id, method)
    if text is None:
        if template is None or template == INTEGER_ZERO:
            return template
        raise UserError(
            f"method {method} of class {class_id} takes a {type_name(template.type)}: give VALUE"
        )
    if template is None:
        raise UserError(
            f"the parameter type of method {method} of class {class_id} is not known here: "
            'give VALUE typed, e.g. {"long-unsigned": 1}'
        )
    return parse_value(text, template)


# --- shortcuts ------------------------------------------------------------------------------


def _clock_command(args: argparse.Namespace) -> int:
    text = getattr(args, "time", None)
    if args.clock_command == "sync" or text is None:
        text = datetime.now().astimezone().isoformat()  # the host's time, with its offset
    return _set(args, CLOCK, CLOCK_TIME, text)


def _enum_value(value: Data, what: str) -> int:
    """An enum the meter answered, or a protocol error naming what it sent instead."""
    try:
        return value.as_int()
    except (TypeError, ValueError):
        raise DlmsProtocolError(
            f"{DISCONNECT_CONTROL} {what} reads a {value.type.name.lower()}, not an enum"
        ) from None


def _relay_command(args: argparse.Namespace) -> int:
    method = REMOTE_RECONNECT if args.relay_command == "connect" else REMOTE_DISCONNECT
    with _connect(args, _Want(DISCONNECT_CONTROL, method, is_method=True)) as meter:
        class_id = _class_of(meter, DISCONNECT_CONTROL)
        meter.action(DISCONNECT_CONTROL, class_id, method, INTEGER_ZERO)
        state = _enum_value(meter.get(DISCONNECT_CONTROL, class_id, CONTROL_STATE), "control_state")
        mode = _enum_value(meter.get(DISCONNECT_CONTROL, class_id, CONTROL_MODE), "control_mode")
    note = ""
    if state == READY_FOR_RECONNECTION:  # class 70 transition d, control modes 1, 3, 5, 6
        note = f" (control mode {mode}: the customer's relay button closes it)"
    print(f"relay: {CONTROL_STATES.get(state, f'control state {state}')}{note}")
    return EXIT_OK


def _billing_command(args: argparse.Namespace) -> int:
    with _connect(args, _Want(BILLING_SCRIPTS, EXECUTE, is_method=True)) as meter:
        classes = _classes(meter)
        if BILLING_SCRIPTS not in classes:
            raise UserError(
                f"{BILLING_SCRIPTS} (end of billing period script table) is not in the object "
                "list of this association: this meter has no billing reset by DLMS"
            )
        script = Data.long_unsigned(BILLING_RESET_SCRIPT)
        meter.action(BILLING_SCRIPTS, classes[BILLING_SCRIPTS], EXECUTE, script)
        counter_class = classes.get(BILLING_PERIOD_COUNTER)
        counter = None
        if counter_class is not None:
            counter = meter.get(BILLING_PERIOD_COUNTER, counter_class, 2)
    shown = "" if counter is None else f"; billing period counter {value_text(counter)}"
    print(f"billing period ended{shown}")
    return EXIT_OK
