"""`metertwin sms HOST:APIPORT TEXT [--from NUMBER]` and `POST /sms` against `metertwin run
--model metercom-pro --api-port 0 --port 0`, as a user runs them (docs/sms.md): the reply SMS
is printed; a CNF is then what a DLMS client reads over TCP, also after the meter restarts; the
password is the meter reader's; refusals are JSON 4xx."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.runtime.test_control_api import cli

WAIT_S = 60.0
UTILITY = ("--client", "1", "--password", "UTILITY")  # metercom-pro's management client


@dataclass
class Running:
    dlms: str  # HOST:PORT
    api: str  # HOST:PORT


@contextmanager
def metercom(data: Path, *extra: str, model: str = "metercom-pro") -> Iterator[Running]:
    command = [
        sys.executable, "-m", "metertwin", "run", "--model", model, "--data", str(data),
        "--start", "2026-06-01T10:00", "--no-panel", "--port", "0", "--api-port", "0", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
        dlms = re.fullmatch(r"DLMS/COSEM on (127\.0\.0\.1:\d+)\n", first)
        api = re.fullmatch(r"API on http://(127\.0\.0\.1:\d+)\n", second)
        assert dlms and api, (first, second)
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield Running(dlms.group(1), api.group(1))
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=WAIT_S)
    assert process.returncode == 0


def metertwin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metertwin", *args], capture_output=True, text=True, timeout=WAIT_S
    )


def sms(api: str, text: str, *extra: str) -> str:
    return cli("sms", api, text, *extra)


def post(url: str, body: bytes) -> tuple[int, Any]:
    ask = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(ask, timeout=WAIT_S) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def read(dlms: str, what: str) -> str:
    return cli("read", dlms, what, *UTILITY)


def test_sms_over_the_cli_configures_what_dlms_reads_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "meter"
    with metercom(data) as meter:
        info = sms(meter.api, "MCP INFO PWD=HELLO", "--from", "+420603000000")
        assert re.fullmatch(
            r"EM_ID=\d{8} SN=50-\d{4}-\d{4} SIG=-73dBm LIP=127\.0\.0\.1 STAT=LISTEN TECH=UMTS\n",
            info,
        ), info
        assert sms(meter.api, "MCP INFO PWD=WRONG") == "Password incorrect\n"
        assert sms(meter.api, "MCP CNF PWD=HELLO IP=10.0.25.30 RINT=2") == (
            "APN=internet DUSR= DPWD= IP=10.0.25.30 PORT=4059 RINT=2\n"
        )
        assert "10.0.25.30" in read(meter.dlms, "0.0.129.0.3.255:2")
        assert "7200" in read(meter.dlms, "0.0.129.0.3.255:4")
    with metercom(data) as meter:
        assert "10.0.25.30" in read(meter.dlms, "0.0.129.0.3.255:2")
        assert sms(meter.api, "MCP RESET PWD=HELLO") == "OK\n"


def test_reset_drops_the_dlms_connection_after_its_ok(tmp_path: Path) -> None:
    """At 60x the module restarts half a second after the OK (30 s of meter time)."""
    with metercom(tmp_path / "meter", "--speed", "60") as meter:
        host, port = meter.dlms.split(":")
        with socket.create_connection((host, int(port)), timeout=WAIT_S) as connection:
            assert " STAT=GSM " in sms(meter.api, "MCP INFO PWD=HELLO")
            assert sms(meter.api, "MCP RESET PWD=HELLO") == "OK\n"
            assert connection.recv(1) == b""  # closed by the module's restart
        assert " STAT=LISTEN " in sms(meter.api, "MCP INFO PWD=HELLO")


def test_post_sms_answers_the_reply_and_refuses_bad_requests_in_json(tmp_path: Path) -> None:
    with metercom(tmp_path / "meter") as meter:
        url = f"http://{meter.api}/sms"
        status, answer = post(url, b'{"text": "MCP RESET PWD=HELLO", "from": "+420"}')
        assert (status, answer["reply"], answer["to"]) == (200, "OK", "+420")
        assert answer["restart_at"] is not None
        status, answer = post(url, b'{"text": "MCP INFO PWD=HELLO", "udh": "050003010201"}')
        assert (status, answer["reply"]) == (200, "Unknown command")
        status, answer = post(url, b'{"text": "MCP INFO PWD=HELLO", "coding": "ucs2"}')
        assert (status, answer["reply"]) == (200, "Unknown command")
        for body, code, names in [
            (b"{", 400, "bad JSON"),
            (b"[]", 400, "JSON object"),
            (b"{}", 422, "text"),
            (b'{"text": "x", "sms": 1}', 422, "sms"),
            (b'{"text": "x", "coding": "7bit"}', 422, "coding"),
        ]:
            status, answer = post(url, body)
            assert status == code and names in answer["error"], answer


def test_metertwin_sms_refuses_a_bad_target_and_an_absent_meter() -> None:
    bad = metertwin("sms", "nohostport", "MCP INFO PWD=HELLO")
    assert bad.returncode == 2 and "HOST:APIPORT" in bad.stderr
    absent = metertwin("sms", "127.0.0.1:1", "MCP INFO PWD=HELLO")
    assert absent.returncode == 2 and "no answer" in absent.stderr
    assert "Traceback" not in bad.stderr + absent.stderr


def test_a_model_without_sms_has_no_modem(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "metertwin", "run", "--model", "pmm1220", "--data",
        str(tmp_path / "m"), "--no-panel", "--port", "0", "--api-port", "0",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        process.stdout.readline()
        api = re.fullmatch(r"API on http://(127\.0\.0\.1:\d+)\n", process.stdout.readline())
        assert api
        threading.Thread(target=process.stdout.read, daemon=True).start()
        ran = metertwin("sms", api.group(1), "MCP INFO PWD=HELLO")
        assert ran.returncode == 2 and "404" in ran.stderr and "no SMS modem" in ran.stderr
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=WAIT_S)
