"""`--serial`: the meter's serial number, and with `run` the issue's `--serial pty` /
`--serial /dev/ttyUSB0` serial line (docs/hdlc.md), kept apart so both can be given."""

from __future__ import annotations

import pytest

from metertwin.cli import build_parser, serial_line_of_serial
from metertwin.errors import UserError


def _parsed(*argv: str) -> object:
    args = build_parser().parse_args(list(argv))
    serial_line_of_serial(args)
    return args


def test_a_serial_number_and_a_pty_line_are_both_taken_from_serial() -> None:
    args = _parsed("run", "--serial", "12345678", "--serial", "pty")
    assert (args.serial, args.serial_line) == ("12345678", "pty")  # type: ignore[attr-defined]


def test_a_device_path_given_to_serial_is_the_line_and_leaves_the_number_unset() -> None:
    args = _parsed("run", "--serial", "/dev/ttyUSB0", "--baud", "9600")
    assert args.serial is None  # type: ignore[attr-defined]
    assert args.serial_line == "/dev/ttyUSB0"  # type: ignore[attr-defined]
    assert args.baud == 9600  # type: ignore[attr-defined]


def test_serial_and_serial_line_naming_two_lines_are_refused() -> None:
    with pytest.raises(UserError, match="give one line"):
        _parsed("run", "--serial", "pty", "--serial-line", "/dev/ttyUSB0")


def test_a_serial_line_outside_run_is_refused_by_name() -> None:
    with pytest.raises(UserError, match="served by `metertwin run` or `bus`"):
        _parsed("simulate", "--days", "1", "--serial", "pty")


def test_a_serial_number_that_is_not_printable_ascii_is_still_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        _parsed("run", "--serial", "n\u00famero")
    assert "argument --serial" in capsys.readouterr().err


def test_the_bus_takes_its_serial_line_from_serial_too() -> None:
    """`metertwin bus --serial pty`: the bus on a pty, its first meter's serial the default."""
    args = _parsed("bus", "--meters", "3", "--serial", "/dev/ttyUSB1", "--baud", "19200")
    assert (args.serial, args.serial_line) == ("11620371", "/dev/ttyUSB1")  # type: ignore[attr-defined]
    assert args.baud == 19200  # type: ignore[attr-defined]
    args = _parsed("bus", "--meters", "2", "--serial", "40000001", "--serial", "pty")
    assert (args.serial, args.serial_line) == ("40000001", "pty")  # type: ignore[attr-defined]
