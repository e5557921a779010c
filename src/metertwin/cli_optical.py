"""``metertwin optical readout serial:///dev/ttyUSB0``: an IEC 62056-21 mode C readout, as a
hand-held unit reads a meter's optical port (docs/optical.md, "Our reader").

The line opens at 300 baud 7E1; the sans-IO :class:`~metertwin.protocols.iec62056_21_reader.
ModeCReader` signs on, chooses the rate the identification offers, and the line is switched
once the option select has left (``tcdrain``). The readout lines are printed as they came.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any
from urllib.parse import urlsplit

from metertwin.cli_common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from metertwin.cli_dlms import complain, parse_timeout
from metertwin.errors import UserError
from metertwin.protocols.iec62056_21_reader import ModeCReader, Readout, ReadoutError

__all__ = ["add_optical_command", "read_mode_c", "run_optical_command"]

_SIGN_ON_BAUD = 300
_POLL_S = 0.05
_READ_SIZE = 4096


def add_optical_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    optical = subparsers.add_parser(
        "optical", help="talk IEC 62056-21 to a meter's optical (or RS-485) port"
    )
    actions = optical.add_subparsers(dest="optical_action", required=True)
    readout = actions.add_parser(
        "readout",
        help="mode C data readout: sign on, switch to the offered rate, print the readout",
    )
    readout.add_argument("target", metavar="serial:///DEV", help="e.g. serial:///dev/ttyUSB0")
    readout.add_argument(
        "--address", default="", metavar="A", help="the meter's device address (/?A!)"
    )
    readout.add_argument(
        "--max-baud", type=int, default=None, metavar="BD", help="never switch above this rate"
    )
    readout.add_argument(
        "--timeout", default="10", metavar="S", help="seconds to wait for each answer (10)"
    )


def run_optical_command(args: argparse.Namespace) -> int:
    try:
        device = _device(args.target)
        try:
            reader = ModeCReader(args.address, args.max_baud)
        except ValueError as problem:
            raise UserError(f"--address: {problem}") from None
        readout = read_mode_c(device, reader, parse_timeout(args.timeout))
    except (UserError, ConnectionError) as problem:
        complain(str(problem))
        return EXIT_USAGE
    except ReadoutError as problem:
        complain(str(problem))
        return EXIT_REFUSED
    ident = readout.identification
    print(f"/{ident.manufacturer}{ident.baud_char}{ident.identification} at {readout.baud} Bd")
    for line in readout.lines:
        print(line)
    return EXIT_OK


def _device(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme != "serial" or parts.netloc or not parts.path or parts.query:
        raise UserError(f"expected serial:///DEVICE (e.g. serial:///dev/ttyUSB0), got {target!r}")
    return parts.path


def read_mode_c(device: str, reader: ModeCReader, timeout: float) -> Readout:
    """The readout of the meter on ``device``; ConnectionError when the line cannot be opened
    or stays silent, ReadoutError when the answers make no readout."""
    import serial  # pyserial

    try:
        port: Any = serial.Serial(
            device,
            _SIGN_ON_BAUD,
            bytesize=7,
            parity=serial.PARITY_EVEN,
            stopbits=1,
            timeout=_POLL_S,  # fixed: a pty refuses 7E1 settings changed after opening
        )
    except (serial.SerialException, OSError, ValueError) as problem:
        raise ConnectionError(f"cannot open {device}: {problem}") from None
    try:
        port.write(reader.sign_on())
        port.flush()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectionError(
                    f"no answer from the meter on {device} within {timeout:g} s "
                    f"({reader.state.value})"
                )
            data = port.read(_READ_SIZE)  # returns after _POLL_S at the latest
            if not data:
                continue
            step = reader.receive(data)
            if step.baud_before is not None:
                port.baudrate = step.baud_before
            if step.transmit:
                port.write(step.transmit)
                port.flush()  # tcdrain: every octet has left before the rate changes
                deadline = time.monotonic() + timeout
            if step.switch_baud is not None:
                port.baudrate = step.switch_baud
            if step.readout is not None:
                return step.readout
    finally:
        with contextlib.suppress(OSError):
            port.close()
