"""`metertwin run | simulate | models`: the command line.

User mistakes (a bad model, config or scenario file, an unusable data directory) end with
one line naming the problem and exit code 2, never a traceback (exit codes: cli_common).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metertwin import __version__
from metertwin.cli_act import ACT_COMMANDS, add_act_commands, run_act_command
from metertwin.cli_api import DEFAULT_API_PORT, add_api_command, api_port, run_api_command
from metertwin.cli_bus import add_bus_command, bus_args_of_run, meter_count, run_bus_command
from metertwin.cli_common import EXIT_OK, EXIT_USAGE
from metertwin.cli_dlms import add_dlms_commands, run_dlms_command
from metertwin.cli_firmware import add_firmware_command, run_firmware_command
from metertwin.cli_optical import add_optical_command, run_optical_command
from metertwin.cli_sms import add_sms_command, run_sms_command
from metertwin.cli_token import add_token_command, run_token_command
from metertwin.cli_wmbus import add_wmbus_command, run_wmbus_command
from metertwin.config import check_serial, load_config
from metertwin.errors import UserError
from metertwin.meter.clock import Clock
from metertwin.meter.core import Meter
from metertwin.models import DEFAULT_MODEL, DeviceModel, builtin_model_names, load_model
from metertwin.models.energy import energy_register_units, energy_register_values
from metertwin.schema import SchemaError
from metertwin.storage import StorageError
from metertwin.storage.sqlite import EXPORT_NAMES
from metertwin.transport import run as run_event_loop

if TYPE_CHECKING:
    from metertwin.models.loader import DlmsSpec
    from metertwin.protocols.hdlc_setup import HdlcSetup
    from metertwin.runtime.control_api import ControlApi
    from metertwin.runtime.serving import SessionBackend
    from metertwin.runtime.session import Session
    from metertwin.runtime.sms import SmsModem
    from metertwin.transport.channel import ConnectionEvent
    from metertwin.transport.hdlc_bridge import HdlcServerSettings
    from metertwin.transport.hdlc_serial import HdlcSerialServer
    from metertwin.transport.hdlc_tcp import HdlcTcpServerSettings
    from metertwin.transport.optical_serial import OpticalSerialPort
    from metertwin.transport.serial_line import SerialLine
    from metertwin.transport.tcp import DlmsTcpServer, TcpServerSettings

REGISTERS_CSV, REGISTERS_PARQUET = EXPORT_NAMES  # also what shows a directory held a meter
MAX_DAYS = 36_525  # a century of meter life in one simulate call


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1e7:
        raise argparse.ArgumentTypeError(f"expected a number > 0 and <= 1e7, got {text!r}")
    return value


def _days(text: str) -> float:
    value = _positive_float(text)
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_DAYS} days, got {text!r}")
    return value


def _serial(text: str) -> str:
    try:
        return check_serial(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def is_line_name(text: str) -> bool:
    """What `--serial` takes as a serial line rather than a serial number: "pty" or a path."""
    return text == "pty" or text.startswith("/")


class _SerialOption(argparse.Action):
    """`--serial`: the meter's serial number, or (the issue's `--serial pty`, `--serial
    /dev/ttyUSB0`) the serial line; each kept apart so `--serial N --serial pty` gives both."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        text = str(values)
        if is_line_name(text):
            namespace.serial_line_of_serial = text
            return
        try:
            setattr(namespace, self.dest, check_serial(text))
        except ValueError as exc:
            parser.error(f"argument --serial: {exc}")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a TCP port 0..65535, got {text!r}")
    return int(text)


def _baud(text: str) -> int:
    from metertwin.transport.serial_line import LineFormat

    try:
        return LineFormat(int(text)).baud
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_meter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", help=f"built-in model name or model file (default {DEFAULT_MODEL})"
    )
    parser.add_argument(
        "--config", type=Path, help="TOML config file ([meter], [scenario], [sts], model overrides)"
    )
    parser.add_argument("--data", type=Path, help="the meter's memory (default ./data/MODEL)")
    parser.add_argument(
        "--scenario", help="household (default), household-pv, idle, constant, or a scenario file"
    )
    parser.add_argument(
        "--start", help="ISO date-time at which a new meter starts (local wall time without offset)"
    )
    parser.add_argument(
        "--serial",
        action=_SerialOption,
        help="serial number of a new meter; with `run`, 'pty' or a device path (/dev/...)"
        " is the serial line instead, as --serial-line (both may be given: --serial N"
        " --serial pty)",
    )
    parser.add_argument(
        "--new-meter",
        action="store_true",
        help="start a new meter in a --data whose memory is missing or damaged "
        "(its files are moved aside, never deleted)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metertwin", description="A software smart electricity meter."
    )
    parser.add_argument("--version", action="version", version=f"metertwin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a meter in real (or sped-up) time with a live panel")
    _add_meter_options(run)
    run.add_argument(
        "--host", default="127.0.0.1", help="address for the DLMS server (default 127.0.0.1)"
    )
    run.add_argument(
        "--port", type=_port, default=4059, help="DLMS TCP port (default 4059; 0: any free port)"
    )
    run.add_argument(
        "--api-port",
        type=api_port,
        default=DEFAULT_API_PORT,
        help=f"the control API's HTTP port on --host (default {DEFAULT_API_PORT}; 0: any free"
        " port; off: none; docs/api.md)",
    )
    run.add_argument(
        "--hdlc-port",
        type=_port,
        help="also serve DLMS/COSEM over HDLC on this TCP port (0: any free port; docs/hdlc.md)",
    )
    run.add_argument(
        "--serial-line",
        metavar="pty|DEVICE",
        help="also serve DLMS/COSEM over HDLC on a serial line: 'pty' makes a pty pair and"
        " prints its path, else a device such as /dev/ttyUSB0 (docs/hdlc.md)",
    )
    run.add_argument(
        "--optical",
        metavar="pty|DEVICE",
        help="run the IEC 62056-21 optical port on a pty or device: 300 baud sign-on,"
        " mode C readout, programming, mode E to HDLC (docs/optical.md)",
    )
    run.add_argument(
        "--baud", type=_baud, default=9600, help="the --serial-line rate (default 9600)"
    )
    run.add_argument(
        "--pace-line",
        action="store_true",
        help="pace the serial lines at their rate, 10 bits an octet, as a UART would",
    )
    run.add_argument(
        "--bus",
        type=meter_count,
        metavar="N",
        help="run an RS-485 bus of N meters on --hdlc-port and/or --serial-line instead"
        " (`metertwin bus`)",
    )
    run.add_argument(
        "--speed", type=_positive_float, default=1.0, help="meter seconds per real second"
    )
    run.add_argument("--duration", type=_positive_float, help="stop after this many real seconds")
    run.add_argument(
        "--no-panel", action="store_true", help="print a line per second instead of the panel"
    )

    sim = commands.add_parser(
        "simulate", help="run a meter in accelerated time and write its registers"
    )
    _add_meter_options(sim)
    span = sim.add_mutually_exclusive_group(required=True)
    span.add_argument(
        "--days",
        type=_days,
        help="how many days to simulate from the meter's present instant",
    )
    span.add_argument("--until", help="simulate until this ISO date-time (resumable)")
    sim.add_argument(
        "--out", type=Path, help="where registers.csv goes (default: the data directory)"
    )
    sim.add_argument(
        "--progress",
        choices=("bar", "jsonl", "none"),
        default="bar",
        help="progress bar, a JSON line per committed day, or nothing",
    )

    add_dlms_commands(commands)
    add_token_command(commands)
    add_act_commands(commands)
    add_optical_command(commands)
    add_bus_command(commands)
    add_api_command(commands)
    add_sms_command(commands)
    add_wmbus_command(commands)
    add_firmware_command(commands)

    models = commands.add_parser("models", help="list the built-in device models, or print one")
    models.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    models.add_argument("name", nargs="?", help="model to print with `show`")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command's exit code. A reader that goes away (`| head`) ends any command quietly:
    stdout is pointed at /dev/null so that no later write, nor the interpreter's last flush,
    can complain (the Python documentation's recipe for SIGPIPE)."""
    try:
        try:
            return _command(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def serial_line_of_serial(args: argparse.Namespace) -> None:
    """`--serial pty|/dev/...` is `run`'s and `bus`'s serial line (docs/hdlc.md); elsewhere,
    a mistake."""
    value = getattr(args, "serial_line_of_serial", None)
    if value is None:
        return
    if args.command not in ("run", "bus"):
        raise UserError(f"--serial {value}: a serial line is served by `metertwin run` or `bus`")
    if args.serial_line is not None and args.serial_line != value:
        raise UserError(f"--serial {value} and --serial-line {args.serial_line}: give one line")
    args.serial_line = value


def _command(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        serial_line_of_serial(args)
        if args.command == "models":
            return _models(args)
        if args.command == "simulate":
            return _simulate(args)
        if args.command in ("read", "profile"):
            return run_dlms_command(args)
        if args.command == "token":
            return run_token_command(args)
        if args.command in ACT_COMMANDS:
            return run_act_command(args)
        if args.command == "optical":
            return run_optical_command(args)
        if args.command == "bus":
            return run_bus_command(args)
        if args.command == "api":
            return run_api_command(args)
        if args.command == "sms":
            return run_sms_command(args)
        if args.command == "wmbus":
            return run_wmbus_command(args)
        if args.command == "run" and args.bus is not None:
            return run_bus_command(bus_args_of_run(args))
        if args.command == "firmware":
            return run_firmware_command(args)
        return _run(args)
    except (SchemaError, StorageError, UserError) as exc:
        print(f"metertwin: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OverflowError as exc:
        print(f"metertwin: error: a value is out of range ({exc})", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


# -- models -----------------------------------------------------------------------------


def _models(args: argparse.Namespace) -> int:
    if args.action == "show":
        if not args.name:
            raise UserError("models show: name a model (see `metertwin models`)")
        print(load_model(args.name).text, end="")
        return 0
    for name in builtin_model_names():
        model = load_model(name)
        print(f"{name:14} {model.spec.description}")
    print(
        "\nCopy one with `metertwin models show NAME > my.toml`, edit it, then use --model my.toml."
    )
    return 0


# -- sessions ---------------------------------------------------------------------------


def _open(
    args: argparse.Namespace, default_start: Callable[[DeviceModel], int], timeline: str
) -> Session:
    from metertwin.runtime.session import open_session

    config = load_config(args.config)
    model_name = args.model or config.model
    data_dir = args.data
    if data_dir is None:
        data_dir = Path("data") / (Path(model_name).stem if model_name else DEFAULT_MODEL)
    return open_session(
        data_dir,
        model_name,
        config,
        args.scenario,
        args.start,
        default_start,
        timeline,
        args.serial,
        args.new_meter,
    )


def _run(args: argparse.Namespace) -> int:
    from metertwin.runtime.public_keys import write_public_keys
    from metertwin.runtime.session import SIMULATED, TIMELINE_KEY, WALL

    now_ms = int(time.time()) * 1000
    session = _open(args, lambda _model: now_ms, WALL)
    try:
        write_public_keys(session.meter, session.store.directory)  # for a head-end's HLS-ECDSA
        if session.timeline == WALL:
            if args.speed != 1.0:
                session.commit(meta={TIMELINE_KEY: SIMULATED})
                session.timeline = SIMULATED
            elif not session.created and session.meter.now_ms < now_ms:
                session.pass_outage(now_ms)
        run_event_loop(_serve(session, args))
        session.commit()
    finally:
        session.close()
    return 0


def connection_event_logger(
    meter: Meter, commit: Callable[[], None]
) -> Callable[[ConnectionEvent], None]:
    """What the TCP server's ``on_event`` does: log the transport's event in the meter's
    communication log (223 refused, one connection at a time or too many; 224 closed idle,
    seed 004, a frame too slow to complete, or an idle-incomplete connection given up for a
    newcomer; 222 a frame for a logical device the meter does not have) at the meter's time,
    and commit it, as the logical device commits after a login."""
    from metertwin.meter.events import EventCode
    from metertwin.transport.channel import ConnectionEvent

    codes = {
        ConnectionEvent.REFUSED_ONE_AT_A_TIME: EventCode.CONNECTION_REFUSED,
        ConnectionEvent.CLOSED_IDLE: EventCode.CONNECTION_IDLE_CLOSED,
        ConnectionEvent.REFUSED_TOO_MANY: EventCode.CONNECTION_REFUSED,
        ConnectionEvent.CLOSED_FRAME_TIMEOUT: EventCode.CONNECTION_IDLE_CLOSED,
        ConnectionEvent.CLOSED_UNKNOWN_WPORT: EventCode.ASSOCIATION_REFUSED,
        ConnectionEvent.EVICTED_IDLE: EventCode.CONNECTION_IDLE_CLOSED,
    }

    def on_event(event: ConnectionEvent) -> None:
        meter.log_communication(codes[event])
        commit()

    return on_event


def tcp_settings(dlms: DlmsSpec) -> TcpServerSettings:
    """The TCP server's settings from the model's ``[dlms]`` section."""
    from metertwin.transport.tcp import TcpServerSettings

    return TcpServerSettings(**_connection_rules(dlms))


def _connection_rules(dlms: DlmsSpec) -> dict[str, Any]:
    """The ``[dlms]`` connection rules every listener of the meter keeps."""
    return {
        "server_saps": frozenset({dlms.server_sap}),
        "single_connection": dlms.single_connection,
        "inactivity_timeout_s": float(dlms.inactivity_timeout_s),
        "frame_timeout_s": float(dlms.frame_timeout_s),
        "max_connections": dlms.max_connections,
    }


def hdlc_tcp_settings(dlms: DlmsSpec, serial_number: str) -> HdlcTcpServerSettings:
    """The HDLC-over-TCP server's settings: the wrapper's rules, and the physical address
    derived from the serial number (docs/hdlc.md, "Addressing")."""
    from metertwin.transport.hdlc_tcp import HdlcTcpServerSettings

    return HdlcTcpServerSettings(**_hdlc_rules(dlms, serial_number))


def hdlc_serial_settings(dlms: DlmsSpec, serial_number: str) -> HdlcServerSettings:
    """HDLC on a serial line: as over TCP, with the serial line's 25 ms inter-octet timeout."""
    from metertwin.transport.hdlc_bridge import HdlcServerSettings

    return HdlcServerSettings(**_hdlc_rules(dlms, serial_number))


def _hdlc_rules(dlms: DlmsSpec, serial_number: str) -> dict[str, Any]:
    from metertwin.protocols.hdlc_link import physical_address_for_serial

    rules = _connection_rules(dlms)
    rules["physical_address"] = physical_address_for_serial(serial_number)
    return rules


def _hdlc_port_defaults(session: Session, device: SessionBackend, args: argparse.Namespace) -> None:
    """Class 23 shows what the HDLC transports use unless a SET changed it: the serial line's
    (its ``--baud``, the Green Book's 25 ms) or the optical port's mode E when there is one,
    else HDLC over TCP's (1 s)."""
    from metertwin.protocols.hdlc_setup import comm_speed_for_baud

    dlms, serial = session.model.dlms, session.meter.serial_number
    if args.serial_line is not None:
        setup = hdlc_serial_settings(dlms, serial).setup
        try:
            speed = comm_speed_for_baud(args.baud)
        except ValueError as problem:  # a rate termios knows and class 23 does not
            raise UserError(f"--baud: {problem}") from None
        device.hdlc_port.defaults = replace(setup, comm_speed=speed)
    elif args.optical is not None:  # mode E: HDLC on the optical line
        device.hdlc_port.defaults = hdlc_serial_settings(dlms, serial).setup
    else:
        device.hdlc_port.defaults = hdlc_tcp_settings(dlms, serial).setup


def _live_setup(device: SessionBackend, beside_serial_line: bool) -> Callable[[], HdlcSetup]:
    """HDLC over TCP's class 23 values: the port's; beside a serial line (which class 23 then
    describes) with TCP's own inter-octet timeout, which a UART's would break (docs/hdlc.md)."""
    from metertwin.transport.hdlc_tcp import TCP_INTER_OCTET_TIMEOUT_S

    if not beside_serial_line:
        return device.hdlc_port.setup
    tcp_ms = round(TCP_INTER_OCTET_TIMEOUT_S * 1000)
    return lambda: replace(device.hdlc_port.setup(), inter_octet_ms=tcp_ms)


def _open_line(where: str, baud: int, paced: bool, option: str) -> SerialLine:
    """``pty`` (a new pty pair) or a device path, refused as one line when it cannot open."""
    from metertwin.transport.serial_line import SerialLine

    try:
        if where == "pty":
            return SerialLine.open_pty(baud, paced=paced)
        return SerialLine.open_device(where, baud, paced=paced)
    except (OSError, ValueError) as exc:  # pyserial's SerialException is an OSError
        raise UserError(f"{option} {where}: cannot open ({exc})") from None


async def _serve(session: Session, args: argparse.Namespace) -> None:
    """The meter in real time with its DLMS/COSEM server on the same event loop: protocol
    answers always see a committed state (every tick commits before yielding)."""
    from rich.console import Console
    from rich.live import Live

    from metertwin.panel import render, summary_line
    from metertwin.runtime.firmware_download import FirmwareDownloader
    from metertwin.runtime.realtime import run_realtime
    from metertwin.runtime.serving import SessionBackend
    from metertwin.storage.sqlite import CommitError
    from metertwin.transport.hdlc_tcp import HdlcTcpServer
    from metertwin.transport.tcp import DlmsTcpServer

    dlms = session.model.dlms
    device = SessionBackend(session)
    settings = tcp_settings(dlms)

    def on_event(event: ConnectionEvent) -> None:
        with contextlib.suppress(CommitError):  # logged by the session, now read-only
            connection_event_logger(session.meter, device.commit)(event)

    server = DlmsTcpServer(device, args.host, args.port, settings, on_event)
    listeners: list[tuple[DlmsTcpServer, int]] = [(server, args.port)]
    hdlc: HdlcTcpServer | None = None
    _hdlc_port_defaults(session, device, args)
    if args.hdlc_port is not None:
        hdlc_settings = replace(
            hdlc_tcp_settings(dlms, session.meter.serial_number),
            live_setup=_live_setup(device, (args.serial_line, args.optical) != (None, None)),
        )
        hdlc = HdlcTcpServer(device, args.host, args.hdlc_port, hdlc_settings, on_event)
        listeners.append((hdlc, args.hdlc_port))
    lines = _serial_ports(session, device, args, on_event)
    modem = _sms_modem(session, device, [listener for listener, _ in listeners], args)
    api = _control_api(session, args, modem)
    downloader = FirmwareDownloader(session)  # the MeterCom PRO's download (docs/firmware.md)
    try:
        for listener, asked in listeners:
            try:
                await listener.start()
            except OSError as exc:
                raise UserError(f"cannot listen on {args.host}:{asked} ({exc.strerror})") from None
        for port, _announce in lines:
            await port.start()
        if api is not None:
            await api.start()
        status = (
            f"data {session.store.directory}  speed x{args.speed:g}"
            f"  scenario {session.scenario.name}"
            f"  DLMS/COSEM on {args.host}:{server.port}"
        )
        hdlc_line = ""
        if hdlc is not None:
            hdlc_line = (
                f"HDLC on {args.host}:{hdlc.port} physical address"
                f" {device.hdlc_port.setup().device_address} server SAP {dlms.server_sap}"
            )
            status += f"  {hdlc_line}"
        for _port, announce in lines:
            status += f"  {announce}"
        if api is not None:
            status += f"  API on {api.url}"
        status += "  Ctrl-C stops"
        restarts = [session.meter.firmware.restarts]

        def restart_drops(s: Session) -> None:
            """A firmware activation restarted the meter: its connections are dropped (an
            SMS RESET due restarts the module, which drops them too)."""
            if modem is not None:
                modem.tick()
            downloader.tick()
            if s.meter.firmware.restarts != restarts[0]:
                restarts[0] = s.meter.firmware.restarts
                for listener, _ in listeners:
                    listener.drop_connections()

        if args.no_panel:
            print(f"DLMS/COSEM on {args.host}:{server.port}", flush=True)
            if hdlc_line:
                print(hdlc_line, flush=True)
            for _port, announce in lines:
                print(announce, flush=True)
            if api is not None:
                print(f"API on {api.url}", flush=True)
            last = [0.0]

            def log(s: Session) -> None:
                restart_drops(s)
                if time.monotonic() - last[0] >= 1.0:
                    last[0] = time.monotonic()
                    print(summary_line(s.meter), flush=True)

            await run_realtime(session, args.speed, log, args.duration)
            print(summary_line(session.meter), flush=True)
        else:
            if api is not None:
                print(f"API on {api.url}", flush=True)

            def show(live: Live, s: Session) -> None:
                restart_drops(s)
                live.update(render(s.meter, status))

            with Live(
                render(session.meter, status), console=Console(), refresh_per_second=4
            ) as live:
                await run_realtime(
                    session,
                    args.speed,
                    lambda s: show(live, s),
                    args.duration,
                )
    finally:
        await downloader.stop()
        if api is not None:
            await api.stop()
        for listener, _ in listeners:
            await listener.stop()
        for port, _announce in lines:
            await port.stop()


def _control_api(
    session: Session, args: argparse.Namespace, modem: SmsModem | None
) -> ControlApi | None:
    """The control API on ``--api-port`` (None with ``--api-port off``; docs/api.md)."""
    if args.api_port is None:
        return None
    from metertwin.runtime.control_api import ControlApi, MeterControl

    return ControlApi(MeterControl.of(session, modem), args.host, args.api_port)


def _sms_modem(
    session: Session,
    device: SessionBackend,
    listeners: Sequence[DlmsTcpServer],
    args: argparse.Namespace,
) -> SmsModem | None:
    """The module's SMS modem on models with ``sms`` (docs/sms.md): STAT is GSM while a
    TCP connection is served, OPTO or 485 while an association is open on the optical
    port or the serial line; a RESET drops the TCP connections."""
    from metertwin.runtime.sms import SmsModem, has_sms

    if not has_sms(session):
        return None
    local = "485" if args.serial_line is not None else "OPTO"

    def state() -> str:
        if any(listener.connection_count for listener in listeners):
            return "GSM"
        return local if device.current().open_associations else "LISTEN"

    modem = SmsModem(session, state)
    modem.on_restart += [listener.drop_connections for listener in listeners]
    return modem


def _serial_ports(
    session: Session,
    device: SessionBackend,
    args: argparse.Namespace,
    on_event: Callable[[ConnectionEvent], None],
) -> list[tuple[HdlcSerialServer | OpticalSerialPort, str]]:
    """The ``--serial-line`` and ``--optical`` ports, each with the line that announces it."""
    from metertwin.runtime.optical import optical_port
    from metertwin.transport.hdlc_serial import HdlcSerialServer
    from metertwin.transport.optical_serial import OpticalSerialPort

    dlms = session.model.dlms
    settings = replace(
        hdlc_serial_settings(dlms, session.meter.serial_number),
        live_setup=device.hdlc_port.setup,
    )
    setup = device.hdlc_port.setup()
    address = f"physical address {setup.device_address} server SAP {dlms.server_sap}"
    ports: list[tuple[HdlcSerialServer | OpticalSerialPort, str]] = []
    if args.serial_line is not None:
        line = _open_line(args.serial_line, setup.baud, args.pace_line, "--serial-line")
        hdlc = HdlcSerialServer(device, line, settings, on_event)
        ports.append((hdlc, f"HDLC on {line.path} {setup.baud} baud {address}"))
    if args.optical is not None:
        if session.model.optical is None:
            raise UserError(f"model {session.model.spec.name} has no [optical] section")
        line = _open_line(args.optical, 300, args.pace_line, "--optical")
        mode_e = HdlcSerialServer(device, line, settings, on_event)
        port = OpticalSerialPort(optical_port(session, device.current), line, mode_e)
        ports.append((port, f"IEC 62056-21 optical port on {line.path} (mode E: HDLC {address})"))
    return ports


def _simulate(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from metertwin.runtime.session import SIMULATED, TIMELINE_KEY, parse_start

    today = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)

    def local_midnight(model: DeviceModel) -> int:
        """A new meter without --start begins at today's local midnight."""
        return Clock(model.spec.clock, 0).meter_ms_for_local(today)

    if args.out is not None:
        _check_writable(args.out)  # before the meter moves: a refusal changes nothing
    session = _open(args, local_midnight, SIMULATED)
    session.announce_read_only = False  # a failed commit ends the run: one line, from main
    try:
        meter = session.meter
        if session.timeline != SIMULATED:  # a meter that followed the host clock no longer does
            session.commit(meta={TIMELINE_KEY: SIMULATED})
            session.timeline = SIMULATED
        begin = meter.now_ms
        if args.until:
            until = parse_start(args.until, session.model)
        else:
            until = begin + int(timedelta(days=args.days).total_seconds() * 1000)
        if until < begin:
            raise UserError("--until lies before the meter's present instant")
        total = max(until - begin, 1)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TimeElapsedColumn(),
            disable=args.progress != "bar",
        ) as progress:
            task = progress.add_task(f"simulating {session.model.spec.name}", total=total)

            def committed(meter: Meter) -> None:
                progress.update(task, completed=meter.now_ms - begin)
                if args.progress == "jsonl":
                    record = {
                        "now_ms": meter.now_ms,
                        "local": meter.local_time().isoformat(),
                        "registers": energy_register_values(meter),
                    }
                    if meter.spec.pulse_output_imp_per_kwh is not None:
                        record["s0_pulses"] = meter.s0_pulses()  # issue 20 item 9
                    print(json.dumps(record), flush=True)

            session.advance_to(until, on_commit=committed)
        out = args.out or session.store.directory
        written = _export(session, out)
        if args.progress != "jsonl":
            print(
                f"{session.model.spec.name}: meter at {meter.local_time():%Y-%m-%d %H:%M:%S}, "
                f"memory in {session.store.directory}, registers in {', '.join(map(str, written))}"
            )
    finally:
        session.close()
    return 0


def _check_writable(out: Path) -> None:
    """``out`` is, or can be made, a directory a file can be written in (tried, not asked:
    permission bits say nothing to root)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise _unwritable(out, exc) from None


def _unwritable(out: Path, exc: OSError) -> UserError:
    return UserError(f"{out}: cannot write the registers there ({exc.strerror})")


def _export(session: Session, out: Path) -> list[Path]:
    """Daily register snapshots plus the present state, as CSV (and Parquet if available)."""
    try:
        return _write_registers(session, out)
    except OSError as exc:
        raise _unwritable(out, exc) from None


def _write_registers(session: Session, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rows = session.store.snapshots()
    meter = session.meter
    if not rows or rows[-1][0] != meter.now_ms:
        rows.append((meter.now_ms, meter.local_time().isoformat(), energy_register_values(meter)))
    codes = list(rows[-1][2])
    units = energy_register_units(meter)
    path = out / REGISTERS_CSV
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["utc_ms", "local_time", *(f"{c} [{units[c]}]" for c in codes)])
        for now_ms, local, registers in rows:
            writer.writerow([now_ms, local, *(_wh(registers[c]) for c in codes)])
    written = [path]
    if importlib.util.find_spec("pyarrow") is not None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "utc_ms": [r[0] for r in rows],
                "local_time": [r[1] for r in rows],
                **{f"{c}_m{units[c]}": [r[2][c] for r in rows] for c in codes},
            }
        )
        parquet = out / REGISTERS_PARQUET
        pq.write_table(table, parquet)
        written.append(parquet)
    return written


def _wh(mwh: int) -> str:
    sign = "-" if mwh < 0 else ""
    return f"{sign}{abs(mwh) // 1000}.{abs(mwh) % 1000:03d}"
