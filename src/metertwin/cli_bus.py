"""`metertwin bus`: an RS-485 bus of N meters (seed 004: up to 32) as one HDLC-over-TCP endpoint,
on a serial line (a pty or a device), or both.

Each meter is a whole meter with its own memory (``DIR/meter-01`` ... under ``--data``, one
SQLite each) and its own serial (new meters: ``--serial`` and the next ones, by default seed
004's E350 number 11620371 on); ``--model a,b`` gives the models in turn. One TCP connection,
or the serial line (``--serial-line pty|DEVICE``, or ``--serial pty|/dev/...`` as for
`metertwin run`), is the shared line; a head-end selects a meter by its physical address
(docs/hdlc.md, "An RS-485 bus"), which the start lines print with both serials a head-end may
enter.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from metertwin.config import load_config
from metertwin.errors import UserError
from metertwin.models import DEFAULT_MODEL
from metertwin.protocols.rs485_bus import MAX_STATIONS, BusMember

if TYPE_CHECKING:
    from metertwin.runtime.session import Session
    from metertwin.transport.channel import ConnectionEvent

DEFAULT_FIRST_SERIAL = "11620371"  # seed 004: "Landis+Gyr E350 No.: 11620371"
SUMMARY_EVERY_S = 5.0


def meter_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_STATIONS:
        raise argparse.ArgumentTypeError(f"expected 1..{MAX_STATIONS} meters, got {text!r}")
    return int(text)


def add_bus_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from metertwin.cli import _baud, _port, _positive_float, _SerialOption

    bus = commands.add_parser(
        "bus", help="run an RS-485 bus of N meters on one HDLC-over-TCP line or a serial line"
    )
    bus.add_argument(
        "--meters", type=meter_count, required=True, help=f"meters on the bus (1..{MAX_STATIONS})"
    )
    bus.add_argument("--model", help=f"models, comma-separated, in turn (default {DEFAULT_MODEL})")
    bus.add_argument("--hdlc-port", type=_port, help="TCP port of the line (0: any free port)")
    bus.add_argument(
        "--serial-line",
        metavar="pty|DEVICE",
        help="the bus on a serial line: 'pty' makes a pty pair and prints its path, else a"
        " device such as /dev/ttyUSB0 (docs/hdlc.md)",
    )
    bus.add_argument("--baud", type=_baud, default=9600, help="the serial line's rate (9600)")
    bus.add_argument(
        "--pace-line",
        action="store_true",
        help="pace the serial line at its rate, 10 bits an octet, as a UART would",
    )
    bus.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    bus.add_argument(
        "--data", type=Path, default=Path("data/bus"), help="the meters' memories (meter-01 ...)"
    )
    bus.add_argument("--config", type=Path, help="TOML config file, for every meter")
    bus.add_argument(
        "--scenario", help="household (default), household-pv, idle, constant, or a file"
    )
    bus.add_argument("--start", help="ISO date-time at which new meters start")
    bus.add_argument(
        "--serial",
        action=_SerialOption,
        default=DEFAULT_FIRST_SERIAL,
        help=f"serial of a new first meter; the next count up (default {DEFAULT_FIRST_SERIAL});"
        " pty or a /dev/ path: the serial line (--serial-line)",
    )
    bus.add_argument("--speed", type=_positive_float, default=1.0, help="meter seconds per second")
    bus.add_argument("--duration", type=_positive_float, help="stop after this many real seconds")


def bus_args_of_run(args: argparse.Namespace) -> argparse.Namespace:
    """``metertwin run --bus N`` as ``metertwin bus --meters N``: the same options (the
    wrapper's ``--port`` has no part in a bus)."""
    if args.optical is not None:
        raise UserError("--bus has no optical port (--optical): run the meter alone for it")
    bus = argparse.Namespace(**vars(args))
    bus.meters = args.bus
    bus.serial = args.serial or DEFAULT_FIRST_SERIAL
    bus.data = args.data or Path("data/bus")
    return bus


def bus_serials(first: str, count: int) -> list[str]:
    """``first`` and the serials after it: its trailing digits counted up, width kept."""
    stem = first.rstrip("0123456789")
    digits = first[len(stem) :] or "0"
    return [f"{stem}{int(digits) + i:0{len(digits)}d}" for i in range(count)]


def run_bus_command(args: argparse.Namespace) -> int:
    from metertwin.runtime.session import WALL, open_session
    from metertwin.transport import run as run_event_loop

    if args.hdlc_port is None and args.serial_line is None:
        raise UserError(
            "a bus needs its line: --hdlc-port P (TCP; 0: any free port) and/or"
            " --serial-line pty|DEVICE"
        )
    config = load_config(args.config)
    names = [n.strip() for n in (args.model or config.model or DEFAULT_MODEL).split(",")]
    if not all(names):
        raise UserError(f"--model {args.model!r}: an empty model name")
    now_ms = int(time.time()) * 1000
    sessions: list[Session] = []
    try:
        for index, serial in enumerate(bus_serials(args.serial, args.meters)):
            session = open_session(
                args.data / f"meter-{index + 1:02d}",
                names[index % len(names)],
                config,
                args.scenario,
                args.start,
                lambda _model: now_ms,
                WALL,
                serial,
            )
            sessions.append(session)
        _check_distinct(sessions)
        run_event_loop(_serve_bus(sessions, args))
        for session in sessions:
            session.commit()
    finally:
        for session in sessions:
            session.close()
    return 0


def _check_distinct(sessions: Sequence[Session]) -> None:
    """Meters resumed from memory keep their serials: two alike would share an address."""
    seen: dict[int, str] = {}
    for session in sessions:
        member = BusMember(session.meter.serial_number)
        other = seen.setdefault(member.physical_address, member.meter_serial)
        if other != member.meter_serial:
            raise UserError(
                f"serials {other} and {member.meter_serial} give the same HDLC address "
                f"{member.physical_address}: they would collide on the bus"
            )


async def _serve_bus(sessions: Sequence[Session], args: argparse.Namespace) -> None:
    from metertwin.cli import (
        _connection_rules,
        _open_line,
        connection_event_logger,
        hdlc_serial_settings,
    )
    from metertwin.panel import summary_line
    from metertwin.runtime.realtime import run_realtime_all
    from metertwin.runtime.serving import SessionBackend
    from metertwin.storage.sqlite import CommitError
    from metertwin.transport.hdlc_bus import BusMeter, HdlcBusServer
    from metertwin.transport.hdlc_bus_serial import HdlcBusSerialServer
    from metertwin.transport.hdlc_tcp import HdlcTcpServerSettings

    backends = [SessionBackend(session) for session in sessions]
    meters = [
        BusMeter(
            backend,
            BusMember(session.meter.serial_number).physical_address,
            frozenset({session.model.dlms.server_sap}),
        )
        for session, backend in zip(sessions, backends, strict=True)
    ]
    master = sessions[0]  # seed 004: the meter with the modem logs the line's events
    settings = HdlcTcpServerSettings(**_connection_rules(master.model.dlms))
    for backend, meter in zip(backends, meters, strict=True):  # class 23: its bus link's
        backend.hdlc_port.defaults = replace(settings.setup, device_address=meter.physical_address)

    def on_event(event: ConnectionEvent) -> None:
        with contextlib.suppress(CommitError):  # logged by the session, now read-only
            connection_event_logger(master.meter, backends[0].commit)(event)

    server = None
    if args.hdlc_port is not None:
        server = HdlcBusServer(meters, args.host, args.hdlc_port, settings, on_event)
    serial_bus = None
    if args.serial_line is not None:
        line = _open_line(args.serial_line, args.baud, args.pace_line, "--serial-line")
        # The serial line's rules (25 ms inter-octet timeout); each station's own address.
        rules = hdlc_serial_settings(master.model.dlms, master.meter.serial_number)
        serial_bus = HdlcBusSerialServer(meters, line, rules)
    try:
        if server is not None:
            try:
                await server.start()
            except OSError as exc:
                where = f"{args.host}:{args.hdlc_port}"
                raise UserError(f"cannot listen on {where} ({exc.strerror})") from None
            print(f"HDLC bus of {len(sessions)} meters on {args.host}:{server.port}", flush=True)
        if serial_bus is not None:
            await serial_bus.start()
            print(
                f"HDLC bus of {len(sessions)} meters on {serial_bus.line.path} {args.baud} baud",
                flush=True,
            )
        for index, session in enumerate(sessions):
            member = BusMember(session.meter.serial_number)
            print(
                f"meter {index + 1} {session.model.spec.name} serial {member.meter_serial}"
                f" module {member.module_serial} physical address {member.physical_address}"
                f" server SAP {session.model.dlms.server_sap} data {session.store.directory}",
                flush=True,
            )
        last = [time.monotonic()]

        def log(all_sessions: Sequence[Session]) -> None:
            if time.monotonic() - last[0] >= SUMMARY_EVERY_S:
                last[0] = time.monotonic()
                for index, session in enumerate(all_sessions):
                    print(f"meter {index + 1}: {summary_line(session.meter)}", flush=True)

        await run_realtime_all(sessions, args.speed, log, args.duration)
    finally:
        if server is not None:
            await server.stop()
        if serial_bus is not None:
            await serial_bus.stop()
