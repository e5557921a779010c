"""`metertwin token`: vend a token for a meter, and enter one into a running meter.

- ``token generate --config FILE --class 0 --amount 25 [--time T]`` prints the 20 digits of a
  token for the meter the config's `[sts]` section (or the demo identity) describes: class 0
  credit (subclass from the model's wallet: currency 4, energy 0), class 1 test, or class 2
  management (``--subclass 0`` power limit ``--value W``, ``1`` clear credit, ``5`` clear
  tamper). The TID is the minute of ``--time`` (default now, UTC when no offset is given).
- ``token enter HOST:PORT TOKEN`` sends it to the meter's Token gateway (0-0:19.40.0.255,
  method 1 ``enter``) over DLMS, as a CIU keypad would, then prints the meter's answer and
  credit. Exit 0 when accepted, 1 when the meter refused the token, 2 for a usage problem.
  Without ``--client``/``--password`` it opens the association the meter's model lets enter
  tokens (``--model``, or the model its logical device name tells, read over the public
  client) with the model's default secret; a meter whose model cannot be told is refused
  before any secret is tried, so no lockout try is spent on a guess (issue 11, item 12).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from metertwin.cli_common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    acting_association,
    association_of,
    association_refusal_text,
    client_options,
    probe_model,
)
from metertwin.cli_dlms import (
    complain,
    connect_from_args,
    parse_sap,
    parse_timeout,
)
from metertwin.cli_security import add_security_options
from metertwin.cli_target import TARGET_HELP, MeterTarget, parse_target
from metertwin.codec.axdr import Data, DataType
from metertwin.config import load_config
from metertwin.dlms.client import DlmsClientError, DlmsConnectionError
from metertwin.dlms.client.errors import AssociationRejectedError
from metertwin.errors import UserError
from metertwin.meter.wallet import CreditUnit, WalletConfig
from metertwin.models import DEFAULT_MODEL, DeviceModel, builtin_model_names, load_model
from metertwin.models.prepayment_objects import ACCOUNT, TOKEN_GATEWAY
from metertwin.sts import (
    MAX_AMOUNT_TENTHS,
    ClearCredit,
    ClearTamperCondition,
    CreditKind,
    CreditToken,
    MeterTestToken,
    SetMaximumPowerLimit,
    Token,
    decode_amount,
    encode_amount,
    encode_token,
    tid_from_datetime,
)
from metertwin.sts_identity import meter_key_from_config

_STATUS = {
    0: "format OK",
    1: "authentication OK",
    2: "validation OK",
    3: "accepted",
    4: "format failure",
    5: "authentication failure",
    6: "validation failure",
    7: "execution failure",
    8: "not yet processed",
}


def add_token_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = subparsers.add_parser("token", help="generate an STS token, or enter one into a meter")
    actions = token.add_subparsers(dest="token_command", required=True)
    generate = actions.add_parser("generate", help="print the 20 digits of a token (vending)")
    generate.add_argument("--config", type=Path, help="config file with the meter's [sts]")
    generate.add_argument("--model", help="the meter's model (default: config's, or pmm1220)")
    generate.add_argument("--serial", help="serial number (demo identity's DRN)")
    generate.add_argument("--class", dest="token_class", type=int, choices=(0, 1, 2), required=True)
    generate.add_argument("--subclass", type=int, help="class 0: from the wallet; class 2: 0/1/5")
    generate.add_argument("--amount", help="class 0: units of credit (kWh or currency), e.g. 25")
    generate.add_argument("--value", type=int, help="class 2/0: the power limit in W")
    generate.add_argument("--time", help="ISO date-time of the token's TID (default now)")
    generate.add_argument("--rnd", type=int, default=0, help="the 4-bit random field")
    enter = actions.add_parser("enter", help="enter a token into a meter over DLMS")
    enter.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    enter.add_argument("token", metavar="TOKEN", help="the 20 digits (spaces and dashes ignored)")
    enter.add_argument(
        "--model", help="the meter's model (default: told by its logical device name)"
    )
    enter.add_argument(
        "--client", metavar="N", help="client SAP (default: the model's token association)"
    )
    enter.add_argument("--server", default="1", metavar="N", help="server SAP (default 1)")
    enter.add_argument(
        "--password", metavar="P", help="LLS password (default: the model's default secret)"
    )
    enter.add_argument("--timeout", default="5", metavar="S", help="seconds per answer")
    add_security_options(enter)


def run_token_command(args: argparse.Namespace) -> int:
    if args.token_command == "generate":
        digits, note = generate_token(args)
        print(digits)
        if note:
            print(f"metertwin: {note}", file=sys.stderr)
        return EXIT_OK
    return _enter(args)


def _tid_time(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--time: expected an ISO date-time, got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _amount_tenths(text: str | None) -> int:
    if text is None:
        raise UserError("--amount is needed for a class 0 token")
    try:
        tenths = round(float(text) * 10)
    except ValueError:
        raise UserError(f"--amount: expected a number, got {text!r}") from None
    if abs(float(text) * 10 - tenths) > 1e-6 or not 0 < tenths <= MAX_AMOUNT_TENTHS:
        raise UserError(
            f"--amount: expected 0.1 to {MAX_AMOUNT_TENTHS / 10:.1f} in steps of 0.1, got {text}"
        )
    return tenths


def _carried(requested: str, tenths: int, wallet: WalletConfig) -> str:
    """What a credit token carries: the amount field rounds up to its resolution (IEC
    62055-41: 0.1 up to 1638.3, then 1, 10, 100), so say the amount the meter will add."""
    unit = "kWh" if wallet.unit is CreditUnit.ENERGY else wallet.currency
    carried = decode_amount(encode_amount(tenths))
    note = f"the token carries {carried // 10}.{carried % 10} {unit}"
    return note + (f" (--amount {requested} rounded up)" if carried != tenths else "")


def generate_token(args: argparse.Namespace) -> tuple[str, str]:
    """The token ``args`` describe, as 20 digits, and a note for the vending side (what a
    credit token carries); raises UserError for a bad request."""
    config = load_config(args.config)
    model = load_model(
        args.model or config.model or DEFAULT_MODEL, config.model_overrides, config.source
    )
    wallet = model.spec.wallet
    if wallet is None:
        raise UserError(f"{model.spec.name} has no wallet and no token gateway: it takes no tokens")
    serial = args.serial or config.serial_number or "00000001"
    base = args.config.parent if args.config is not None else None
    key = meter_key_from_config(config.sts, config.source, serial, base=base)
    if not 0 <= args.rnd <= 15:
        raise UserError("--rnd: expected 0-15")
    token: Token
    if args.token_class == 1:
        token = MeterTestToken(subclass=0, control=(1 << 36) - 1)
        return encode_token(token, key), ""
    try:
        tid = tid_from_datetime(_tid_time(args.time), key.base_date)
    except ValueError as exc:
        raise UserError(f"--time: {exc}") from None
    if args.token_class == 0:
        if args.subclass is not None:
            kind = CreditKind(args.subclass) if 0 <= args.subclass <= 7 else None
            if kind is None:
                raise UserError("--subclass: class 0 subclasses are 0-7")
        elif wallet.unit is CreditUnit.ENERGY:
            kind = CreditKind.ELECTRICITY
        else:
            kind = CreditKind.ELECTRICITY_CURRENCY
        amount = _amount_tenths(args.amount)
        token = CreditToken(kind=kind, tid=tid, rnd=args.rnd, amount_tenths=amount)
        return encode_token(token, key), _carried(args.amount, amount, wallet)
    elif args.subclass == 0:
        if args.value is None or not 0 <= args.value <= 0xFFFF:
            raise UserError("--value: the power limit in W, 0-65535, is needed")
        token = SetMaximumPowerLimit(tid=tid, rnd=args.rnd, maximum_power_w=args.value)
    elif args.subclass == 1:
        token = ClearCredit(tid=tid, rnd=args.rnd, register=0xFFFF)
    elif args.subclass == 5:
        token = ClearTamperCondition(tid=tid, rnd=args.rnd)
    else:
        raise UserError(
            "--subclass: class 2 tokens here are 0 (power limit), 1 (clear "
            "credit) and 5 (clear tamper)"
        )
    return encode_token(token, key), ""


class _NoTokens(Exception):
    """The meter's model has no association that may enter tokens: it takes none."""


def _token_association(
    args: argparse.Namespace, model: DeviceModel | None
) -> tuple[str, str | None]:
    """The ``--client`` and ``--password`` to enter a token with: as given, else from the
    model's association that may invoke the gateway's ``enter`` and its default secret."""
    if args.client is not None and args.password is not None:
        return args.client, args.password
    if model is None:
        known = "; ".join(
            f"{name}: {client_options(spec)}"
            for name in builtin_model_names()
            if (spec := acting_association(load_model(name), TOKEN_GATEWAY, 1)) is not None
        )
        raise UserError(
            "token enter: the meter's logical device name (0.0.42.0.0.255) fits no built-in "
            f"model: give --model, or the --client/--password that may enter tokens ({known})"
        )
    if args.client is not None:
        spec = association_of(model, parse_sap(args.client, "--client"))
        if spec is None:
            saps = ", ".join(str(a.client_sap) for a in model.dlms.associations)
            raise UserError(f"--client {args.client}: {model.spec.name} has clients {saps}")
    else:
        found = acting_association(model, TOKEN_GATEWAY, 1)
        if found is None:
            raise _NoTokens(
                f"{model.spec.name} has no wallet and no token gateway: it takes no tokens"
            )
        spec = found
    password = args.password
    if password is None and spec.secret is not None:
        password = spec.secret.decode("utf-8", "replace")
    return str(spec.client_sap), password


def _model_or_none(target: MeterTarget, server_sap: int, timeout: float) -> DeviceModel | None:
    try:
        return probe_model(target, server_sap, timeout)
    except DlmsConnectionError:
        return None


def _enter(args: argparse.Namespace) -> int:
    digits = "".join(ch for ch in args.token if ch not in " -")
    target = parse_target(args.target)
    server_sap = parse_sap(args.server, "--server")
    timeout = parse_timeout(args.timeout)
    model = load_model(args.model) if args.model else None
    try:
        if model is None and (args.client is None or args.password is None):
            model = probe_model(target, server_sap, timeout)
        client, password = _token_association(args, model)
    except _NoTokens as refused:
        complain(str(refused))
        return EXIT_REFUSED
    except DlmsConnectionError as problem:
        complain(str(problem))
        return EXIT_USAGE
    args = argparse.Namespace(**{**vars(args), "client": client, "password": password})
    try:
        with connect_from_args(args) as meter:
            meter.action(TOKEN_GATEWAY, 115, 1, Data.octet_string(digits.encode("latin-1")))
            status = meter.get(TOKEN_GATEWAY, 115, 6)
            description = meter.get(TOKEN_GATEWAY, 115, 4)
            available = meter.get(ACCOUNT, 111, 5)
            currency = meter.get(ACCOUNT, 111, 15)
    except UserError:
        raise
    except (DlmsConnectionError, UnicodeEncodeError) as problem:
        complain(str(problem))
        return EXIT_USAGE
    except AssociationRejectedError as refused:
        if model is None:
            model = _model_or_none(target, server_sap, timeout)
        complain(association_refusal_text(refused, model, parse_sap(client, "--client")))
        return EXIT_REFUSED
    except DlmsClientError as problem:
        complain(str(problem))
        return EXIT_REFUSED
    code = status.as_items()[0].as_int()
    texts = [
        bytes(d.value).decode("utf-8", "replace")
        for d in description.as_items()
        if d.type is DataType.OCTET_STRING and isinstance(d.value, bytes)
    ]
    name, scale, _unit = currency.as_items()
    credit = available.as_int() * 10.0 ** scale.as_int()
    print(f"{_STATUS.get(code, str(code))}: {'; '.join(texts)}")
    print(f"available credit: {credit:.2f} {name.value!s}")
    if code != 3:
        print("metertwin: the meter refused the token", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK
