"""Class 23 over `metertwin run --hdlc-port 0` as a user starts it: `metertwin set hdlc://...`
by the management client changes what the next SNRM's UA negotiates, and a restart on the
same data keeps it (issue 13 item 1)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.running import hdlc_meter_running
from tests.cli.test_cli_act import metertwin

from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    LinkParameters,
    control_u,
    decode_parameters,
    encode_parameters,
)

SERIAL = "12345678"  # physical address 6678
SETUP = "0.0.22.0.0.255"
UTILITY = ("--client", "1", "--password", "00000002")  # pmm1220's management association
READER = ("--client", "32", "--password", "00000001")


def negotiated(port: int) -> LinkParameters | None:
    """SNRM proposing the most class 23 allows, then DISC: the UA's parameters."""
    server, client = HdlcAddress(1, 6678, 4), HdlcAddress(0x10)
    snrm = HdlcFrame(
        server,
        client,
        control_u(FrameType.SNRM, True),
        encode_parameters(LinkParameters(2030, 2030, 7, 7)),
    )
    decoder = HdlcDecoder()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as line:
        line.sendall(snrm.encode())
        frames: list[HdlcFrame] = []
        while not frames:
            data = line.recv(4096)
            assert data, "the meter closed the connection"
            frames += decoder.feed(data)
        line.sendall(HdlcFrame(server, client, control_u(FrameType.DISC, True)).encode())
    assert frames[0].kind is FrameType.UA
    return decode_parameters(frames[0].information)


def test_a_set_over_hdlc_changes_the_next_ua_and_survives_a_restart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "pmm1220"
    with hdlc_meter_running(data, SERIAL) as port:
        assert negotiated(port) == LinkParameters(128, 128, 1, 1)
        target = f"hdlc://127.0.0.1:{port}?address={SERIAL}"
        for attribute, value in ((3, "3"), (5, "256"), (6, "512")):
            code, _out, err = metertwin(
                capsys, "set", target, f"{SETUP}:{attribute}", value, *UTILITY
            )
            assert (code, err) == (0, ""), err
        code, _out, err = metertwin(capsys, "set", target, f"{SETUP}:4", "0", *UTILITY)
        assert code != 0 and "type-unmatched" in err  # window 0: refused
        assert negotiated(port) == LinkParameters(256, 512, 3, 1)
    with hdlc_meter_running(data, SERIAL) as port:
        assert negotiated(port) == LinkParameters(256, 512, 3, 1)
        target = f"hdlc://127.0.0.1:{port}?address={SERIAL}"
        code, out, err = metertwin(capsys, "read", target, f"{SETUP}:7", *UTILITY)
        assert (code, err) == (0, ""), err
        assert out.rstrip().endswith("= 1000")  # HDLC over TCP's inter-octet timeout, ms


def test_on_a_serial_line_class_23_shows_its_baud_and_25_ms(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "metertwin", "run", "--api-port", "off",
        "--data", str(tmp_path / "m"), "--port", "0",
        "--serial", SERIAL, "--serial-line", "pty", "--baud", "19200", "--no-panel",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        assert process.stdout.readline().startswith("DLMS/COSEM on ")
        line = process.stdout.readline()
        assert line.startswith("HDLC on /dev/") and " 19200 baud physical address 6678 " in line
        target = f"serial://{line.split()[2]}?baud=19200&address={SERIAL}"
        shown = {}
        for attribute in (2, 7, 9):
            code, out, err = metertwin(capsys, "read", target, f"{SETUP}:{attribute}", *READER)
            assert (code, err) == (0, ""), err
            shown[attribute] = out.rstrip().rsplit("= ", 1)[1]
        assert shown == {2: "6", 7: "25", 9: "6678"}  # comm_speed 6: 19200 baud
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
