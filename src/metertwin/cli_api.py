"""`metertwin api`: the URL of a running meter's control API (docs/api.md).

A running meter writes its API's URL to ``api.url`` in its data directory when the API is up
and removes it when it stops; `metertwin api --data DIR` prints that URL. With ``--host`` or
``--api-port`` the URL is made from them instead (a meter on another machine or port).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from metertwin.cli_common import EXIT_OK
from metertwin.errors import UserError
from metertwin.models import DEFAULT_MODEL

API_URL_FILE = "api.url"  # the same name as runtime.control_api's (kept free of FastAPI here)
DEFAULT_API_PORT = 8059
OFF = ("off", "none")


def api_port(text: str) -> int | None:
    """`--api-port`: a TCP port (0: any free port), or off/none for no API."""
    if text.lower() in OFF:
        return None
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a TCP port 0..65535 or off, got {text!r}")
    return int(text)


def add_api_command(commands: Any) -> None:
    api = commands.add_parser("api", help="print the URL of a running meter's control API")
    api.add_argument(
        "--data",
        type=Path,
        help=f"the running meter's data directory (default data/{DEFAULT_MODEL})",
    )
    api.add_argument("--host", help="the meter's host (with --api-port; default 127.0.0.1)")
    api.add_argument(
        "--api-port", type=int, help=f"the meter's API port (default {DEFAULT_API_PORT})"
    )


def run_api_command(args: argparse.Namespace) -> int:
    if args.host is not None or args.api_port is not None:
        if args.data is not None:
            raise UserError("give --data, or --host/--api-port, not both")
        port = DEFAULT_API_PORT if args.api_port is None else args.api_port
        if not 0 < port < 65536:
            raise UserError(f"--api-port: expected 1..65535, got {port}")
        host = args.host or "127.0.0.1"
        print(f"http://{f'[{host}]' if ':' in host else host}:{port}")
        return EXIT_OK
    data = args.data if args.data is not None else Path("data") / DEFAULT_MODEL
    where = data / API_URL_FILE
    try:
        url = where.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise UserError(
            f"{data}: no running meter serves an API there ({API_URL_FILE} is missing;"
            " is `metertwin run --data` this directory, with its API on?)"
        ) from None
    except OSError as exc:
        raise UserError(f"{where}: {exc.strerror}") from None
    print(url)
    return EXIT_OK
