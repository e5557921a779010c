"""Exit codes, the same for every command (issue 11 item 17): 0 done, 1 refused by the meter,
2 a usage or input error; and a reader that goes away (``| head``) ends a command quietly
(item 16)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from metertwin.cli import main

METERTWIN = [sys.executable, "-m", "metertwin"]


def exit_code(argv: list[str]) -> int:
    """What the shell sees of ``metertwin ARGV`` (argparse exits by itself)."""
    try:
        return main(argv)
    except SystemExit as exc:
        assert isinstance(exc.code, int)
        return exc.code


def busy_port() -> socket.socket:
    listener = socket.create_server(("127.0.0.1", 0))
    return listener


PROFILE = ["1.0.99.1.0.255", "--from", "2026-11-21T00:00", "--to", "2026-11-22T00:00"]
READER = ["--client", "32", "--password", "00000001"]


def cases(target: str, data: Path, busy: int) -> list[tuple[list[str], int]]:
    return [
        (["models"], 0),
        (["models", "show", "pmm1220"], 0),
        (["models", "show"], 2),
        (["models", "show", "no-such-model"], 2),
        (["no-such-command"], 2),
        (["simulate", "--days", "0.01", "--data", str(data / "s"), "--progress", "none"], 0),
        (["simulate", "--days", "many"], 2),
        (
            [
                "run",
                "--api-port",
                "off",
                "--data",
                str(data / "r"),
                "--port",
                "0",
                "--duration",
                "0.3",
                "--no-panel",
            ],
            0,
        ),
        (
            [
                "run",
                "--api-port",
                "off",
                "--data",
                str(data / "b"),
                "--port",
                str(busy),
                "--no-panel",
            ],
            2,
        ),
        (["read", target, "0.0.42.0.0.255"], 0),
        (["read", target, "--all"], 0),
        (["read", target, "0.0.42.0.0.255:9"], 1),  # the meter: no attribute 9
        (["read", target, "1.0.99.1.0.255:2"], 1),  # the meter: not in the public object list
        (["read", target, "0.0.42.0.0.255", "--client", "32", "--password", "wrong"], 1),
        (["read", target, "1.0.1.8"], 2),
        (["read", "127.0.0.1:1", "0.0.42.0.0.255"], 2),
        (["profile", target, *PROFILE, *READER], 0),
        (["profile", target, *PROFILE], 1),  # the meter: not in the public object list
        (["profile", target, "1.0.99.1.0.255", "--from", "2026-11-22", "--to", "2026-11-21"], 2),
        (["token", "generate", "--class", "1"], 0),
        (["token", "generate", "--class", "0"], 2),
        (["token", "generate", "--model", "metercom-pro", "--class", "0", "--amount", "1"], 2),
        (["token", "enter", target, "1234"], 1),  # the meter: format failure
        (["token", "enter", "127.0.0.1:1", "0" * 20], 2),
    ]


def test_every_command_exits_0_done_1_refused_2_usage(
    running_meter: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with busy_port() as busy:
        table = cases(f"127.0.0.1:{running_meter}", tmp_path, busy.getsockname()[1])
        for argv, expected in table:
            code = exit_code(argv)
            _out, err = capsys.readouterr()
            assert code == expected, (argv, err)
            assert "Traceback" not in err, argv
            if expected:
                assert err.strip(), f"{argv}: a failure says why"


def _with_reader_gone(argv: list[str]) -> tuple[int, str]:
    """``metertwin ARGV | head -0``: the reading end is closed before anything is written."""
    process = subprocess.Popen(
        [*METERTWIN, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def test_a_closed_pipe_ends_each_command_quietly(running_meter: int, tmp_path: Path) -> None:
    for argv in (
        [
            "run",
            "--api-port",
            "off",
            "--data",
            str(tmp_path / "r"),
            "--port",
            "0",
            "--no-panel",
            "--duration",
            "30",
        ],
        ["simulate", "--data", str(tmp_path / "s"), "--days", "3", "--progress", "jsonl"],
        ["profile", f"127.0.0.1:{running_meter}", *PROFILE, *READER, "--csv"],
        ["models"],
    ):
        code, err = _with_reader_gone(argv)
        assert (code, err) == (0, ""), argv
