"""`metertwin wmbus HOST:APIPORT HEX` delivers a received wM-Bus telegram to a running
MeterCom PRO (`POST /wmbus`) and prints what its collector did; `metertwin wmbus decode HEX
[--key K]` decodes one here and prints its headers and records (docs/wmbus.md)."""

from __future__ import annotations

import argparse
from typing import Any

from metertwin.cli_common import EXIT_OK
from metertwin.cli_sms import api_base, post_json
from metertwin.errors import UserError
from metertwin.protocols.wmbus_app import Telegram, decode_telegram
from metertwin.protocols.wmbus_link import FRAME_FORMATS, WmbusError, parse_frame

DECODE = "decode"


def add_wmbus_command(commands: Any) -> None:
    wmbus = commands.add_parser(
        "wmbus",
        help="deliver a wM-Bus telegram to a running MeterCom PRO, or decode one",
        description="metertwin wmbus HOST:APIPORT HEX: the collector receives the telegram "
        "(stored, or counted and dropped). metertwin wmbus decode HEX [--key K]: decode it "
        "here and print its records.",
    )
    wmbus.add_argument(
        "target", metavar="HOST:APIPORT|decode", help="the meter's control API, or decode"
    )
    wmbus.add_argument("telegram", metavar="HEX", help="the telegram from its L-field")
    wmbus.add_argument("--key", metavar="K", help="decode: the meter's AES-128 key (32 hex)")
    wmbus.add_argument(
        "--format", dest="frame_format", choices=FRAME_FORMATS, default="auto",
        help="frame format: A or B with CRCs, none without (default: by the L-field)",
    )  # fmt: skip


def _octets(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise UserError(f"{what}: not hexadecimal octets: {text!r}") from None


def run_wmbus_command(args: argparse.Namespace) -> int:
    telegram = _octets(args.telegram, "HEX")
    if args.target == DECODE:
        key = None if args.key is None else _octets(args.key, "--key")
        if key is not None and len(key) != 16:
            raise UserError("--key: an AES-128 key has 16 octets (32 hex digits)")
        try:
            decoded = decode_telegram(parse_frame(telegram, args.frame_format), key)
        except WmbusError as exc:
            raise UserError(f"telegram refused ({exc.reason}): {exc}") from None
        print("\n".join(describe(decoded)))
        return EXIT_OK
    if args.key is not None:
        raise UserError("--key is for decode; a meter's key is in its collector's meter list")
    url = api_base(args.target) + "/wmbus"
    answer = post_json(url, {"hex": telegram.hex(), "format": args.frame_format}, "outcome")
    print(f"{answer['outcome']}: {answer['detail']}")
    for record in answer.get("records", []):
        print(f"  {record}")
    return EXIT_OK


def describe(telegram: Telegram) -> list[str]:
    """The lines `wmbus decode` prints: sender, link and transport fields, records."""
    link = telegram.link
    sender = telegram.sender
    lines = [
        f"sender: {sender.manufacturer} {sender.identity} version {sender.version} "
        f"type 0x{sender.device_type:02X}",
        f"link: format {link.frame_format}, C 0x{link.control:02X}, CI 0x{link.ci:02X}",
    ]
    header = telegram.header
    if header is not None:
        lines.append(
            f"transport: access number {header.access_number}, status 0x{header.status:02X}, "
            f"security mode {header.mode}"
        )
    lines += [f"  {record.describe()}" for record in telegram.records]
    if telegram.manufacturer_data:
        lines.append(f"  manufacturer data: {telegram.manufacturer_data.hex()}")
    return lines
