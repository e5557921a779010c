"""A local upgrade through the optical port (issue 15, item 5): `metertwin run --optical pty`
as a user starts it, then `metertwin read` and `metertwin firmware upload` on the pty it
prints, each opening IEC 62056-21 mode E (``/?!``, ``ACK 2 Z 2``) and speaking DLMS over
HDLC on the same line: the same class 18 transfer, verify, activate and the new version
read back after the restart."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.test_cli_firmware_upload import _setup

from metertwin.cli import main
from metertwin.cli_target import open_meter, parse_target
from metertwin.codec.obis import Obis

FIRMWARE_VERSION = "1.0.0.2.0.255"


def test_read_and_a_firmware_upload_over_mode_e_on_the_optical_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, config = _setup(tmp_path, blocks=3)
    command = [
        sys.executable, "-m", "metertwin", "run", "--api-port", "off", "--model", "pmm1220",
        "--data", str(tmp_path / "meter"), "--port", "0", "--optical", "pty",
        "--start", "2026-11-21T10:00", "--no-panel", "--config", str(config),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().decode().startswith("DLMS/COSEM on ")
        announced = process.stdout.readline().decode()
        found = re.match(r"IEC 62056-21 optical port on (/dev/\S+) ", announced)
        assert found is not None, announced
        target = f"optical://{found.group(1)}"
        assert main(["read", target, FIRMWARE_VERSION]) == 0
        assert "= 1.0.0" in capsys.readouterr().out
        assert main(["firmware", "upload", target, str(image)]) == 0
        out = capsys.readouterr().out
        assert "3 blocks sent, verified" in out and "activated: firmware 4.2.0" in out
        # a third mode E session: the port went back to 300 baud after each DISC
        with open_meter(parse_target(target), 10, 16, 1) as meter:
            assert meter.get(Obis.parse(FIRMWARE_VERSION), 1, 2).as_bytes() == b"4.2.0"
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
