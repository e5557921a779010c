"""`metertwin sms HOST:APIPORT TEXT [--from NUMBER]`: send the module an SMS (docs/sms.md).

The SMS goes to the running meter's control API (`POST /sms`); the module's reply SMS is
printed, as the sending phone would show it.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from metertwin.cli_common import EXIT_OK
from metertwin.errors import UserError

TIMEOUT_S = 30.0


def add_sms_command(commands: Any) -> None:
    sms = commands.add_parser(
        "sms",
        help="send an SMS to a running meter (MeterCom PRO commands, tokens); print its reply",
    )
    sms.add_argument("target", metavar="HOST:APIPORT", help="the meter's control API")
    sms.add_argument(
        "text", metavar="TEXT", help='the SMS, e.g. "MCP INFO PWD=HELLO", or a token\'s digits'
    )
    sms.add_argument(
        "--from", dest="sender", metavar="NUMBER", default="", help="the sending number"
    )


def api_base(target: str) -> str:
    """``HOST:PORT`` (or an http:// URL, as `metertwin api` prints it) to the API's URL."""
    if target.startswith(("http://", "https://")):
        return target.rstrip("/")
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"expected HOST:APIPORT, got {target!r}")
    return f"http://{host}:{port}"


def post_json(url: str, body: dict[str, Any], answer_key: str) -> Any:
    """POST ``body`` to the API; the JSON answer's ``answer_key`` (UserError otherwise)."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            answered = json.loads(answer.read())
            if answer_key not in answered:
                raise KeyError(answer_key)
            return answered
    except urllib.error.HTTPError as refused:
        raise UserError(f"{url}: {refused.code} {_message(refused.read())}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"{url}: no answer ({reason})") from None
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{url}: the answer has no {answer_key}") from None


def run_sms_command(args: argparse.Namespace) -> int:
    url = api_base(args.target) + "/sms"
    print(post_json(url, {"text": args.text, "from": args.sender}, "reply")["reply"])
    return EXIT_OK


def _message(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"])
    except (ValueError, KeyError, TypeError):
        return raw.decode("utf-8", "replace")[:200]
