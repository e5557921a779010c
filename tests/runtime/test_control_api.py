"""The control API of `metertwin run` (issue 14, "A control API for the running meter";
docs/api.md): a change commits before it answers, the event stream shows what the event logs
hold (read back over DLMS by our client), the state agrees with DLMS, refusals are JSON 4xx."""

from __future__ import annotations

import csv
import io
import json
import queue
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

import pytest

from metertwin.config import UserConfig
from metertwin.runtime.control_api import MeterControl
from metertwin.runtime.live_inputs import InputChange, InputError
from metertwin.runtime.session import SIMULATED, Session, open_session
from metertwin.storage.sqlite import CommitError

START = "2026-06-01T10:00"
POWER_QUALITY_LOG = "0.0.99.98.4.255"
POWER_DOWN = 1  # EventCode.POWER_DOWN (docs/events.md)
READER = ("--client", "32", "--password", "00000001")  # pmm1220's reader association
WAIT_S = 60.0


@dataclass
class Running:
    process: subprocess.Popen[str]
    dlms: str
    api: str


@contextmanager
def meter_with_api(data: Path, *options: str, model: str = "pmm1220") -> Iterator[Running]:
    """`metertwin run --api-port 0` at 60x on a constant 1 kW load, as a user starts it
    (``options`` added to its command line)."""
    command = [
        sys.executable, "-m", "metertwin", "run", "--model", model, "--data", str(data),
        "--scenario", "constant", "--start", START, "--speed", "60", "--no-panel",
        "--port", "0", "--api-port", "0", *options,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        dlms = re.fullmatch(r"DLMS/COSEM on (127\.0\.0\.1:\d+)\n", first)
        api = re.fullmatch(r"API on (http://127\.0\.0\.1:\d+)\n", second)
        assert dlms and api, (first, second, process.stderr and process.stderr.read())
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield Running(process, dlms.group(1), api.group(1))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0


def request(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    """The status and JSON body of one HTTP request (errors included)."""
    ask = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(ask, timeout=WAIT_S) as answer:
            assert answer.headers["content-type"].startswith("application/json")
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        assert refused.headers["content-type"].startswith("application/json")
        return refused.code, json.loads(refused.read())


def watch(url: str, into: queue.Queue[dict[str, Any]]) -> None:
    """Reads the server-sent event stream, putting each meter event into ``into``."""
    with urllib.request.urlopen(url + "/events/stream", timeout=WAIT_S) as stream:
        into.put({"opened": True})
        for line in stream:
            text = line.decode()
            if text.startswith("data: "):
                into.put(json.loads(text.removeprefix("data: ")))


def cli(*args: str) -> str:
    ran = subprocess.run(
        [sys.executable, "-m", "metertwin", *args], capture_output=True, text=True, timeout=WAIT_S
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def test_an_outage_posted_is_streamed_logged_read_over_dlms_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "meter"
    with meter_with_api(data) as meter:
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=watch, args=(meter.api, events), daemon=True).start()
        assert events.get(timeout=WAIT_S) == {"opened": True}
        assert cli("api", "--data", str(data)).strip() == meter.api

        status, answer = request("POST", meter.api + "/inputs/outage", b'{"active": true}')
        assert (status, answer["committed"]) == (200, True)
        assert [i["input"] for i in answer["inputs"]] == ["outage"]
        event = events.get(timeout=WAIT_S)
        while event["code"] != POWER_DOWN:
            event = events.get(timeout=WAIT_S)
        assert (event["name"], event["log"]) == ("power_down", POWER_QUALITY_LOG)

        window = ("--from", "2020-01-01", "--to", "now+1d")
        table = cli("profile", meter.dlms, POWER_QUALITY_LOG, "--csv", *READER, *window)
        rows = list(csv.reader(io.StringIO(table)))
        assert [int(row[1]) for row in rows[1:]] == [POWER_DOWN]

        # without supply the registers stand still: the API and DLMS agree exactly
        status, state = request("GET", meter.api + "/state")
        assert status == 200 and state["instantaneous"]["powered"] is False
        read = json.loads(cli("read", meter.dlms, "1.0.1.8.0.255", "--json"))
        mwh = state["registers"]["1.0.1.8.0.255"]["value_mwh"]
        assert mwh > 0
        assert read["raw"] * 10 ** read["scaler"] == mwh // 1000
        assert state["inputs"] == [{"input": "outage", "since_ms": event["meter_ms"]}]

    assert not (data / "api.url").exists()
    with meter_with_api(data) as again:
        status, inputs = request("GET", again.api + "/inputs")
        assert status == 200 and [i["input"] for i in inputs["inputs"]] == ["outage"]
        status, answer = request("POST", again.api + "/inputs/outage", b'{"active": false}')
        assert (status, answer["inputs"]) == (200, [])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "names"),
    [
        ("POST", "/inputs/earthquake", b"{}", 404, "unknown input 'earthquake'"),
        ("POST", "/inputs/outage", b"{not json", 400, "bad JSON"),
        ("POST", "/inputs/outage", b"[1, 2]", 400, "JSON object"),
        ("POST", "/inputs/outage", b'{"active": "maybe"}', 422, "active"),
        ("POST", "/inputs/outage", b'{"activ": true}', 422, "activ"),
        ("POST", "/inputs/phase_loss", b'{"phase": 2}', 422, "phase: expected 1..1, got 2"),
        ("POST", "/inputs/phase_loss", b"{}", 422, "phase (1..1) is required"),
        ("POST", "/inputs/load", b'{"power_w": 1e12}', 422, "power_w"),
        ("POST", "/inputs/load", b"{}", 422, "power_w"),
        ("POST", "/buttons/panic/press", None, 404, "unknown button 'panic'"),
        ("GET", "/nowhere", None, 404, "no such endpoint: /nowhere"),
        ("PUT", "/state", b"{}", 405, "PUT is not allowed"),
    ],
)
def test_bad_requests_get_json_4xx_naming_the_problem(
    api_meter: Running, method: str, path: str, body: bytes | None, status: int, names: str
) -> None:
    got, answer = request(method, api_meter.api + path, body)
    assert got == status and names in answer["error"], answer


@pytest.fixture(scope="module")
def api_meter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with meter_with_api(tmp_path_factory.mktemp("api") / "meter") as meter:
        yield meter


def test_the_openapi_description_lists_the_endpoints(api_meter: Running) -> None:
    status, description = request("GET", api_meter.api + "/openapi.json")
    assert status == 200
    assert {
        "/state",
        "/inputs",
        "/inputs/{name}",
        "/buttons/{name}/press",
        "/events/stream",
        "/sms",
        "/faults/firmware",
    } <= set(description["paths"])


# -- in process: the live inputs over a session ---------------------------------------------


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    opened = open_session(
        tmp_path / "m", "az3p", UserConfig(), "constant", START, lambda _m: 0, SIMULATED
    )
    yield opened
    opened.close()


def test_a_phase_loss_and_a_load_override_reach_the_meter_as_a_scenario_would(
    session: Session,
) -> None:
    control = MeterControl.of(session)
    now = session.meter.now_ms
    control.commit(control.inputs.changed(InputChange("load", power_w=3000.0), now))
    control.commit(control.inputs.changed(InputChange("phase_loss", phase=2), now))
    session.advance_to(now + 60_000)
    phases = session.meter.instantaneous().phases
    assert [round(p.active_w) for p in phases] == [1000, 0, 1000]
    assert phases[1].voltage_v == 0.0 and phases[0].voltage_v > 200
    shown = {item["input"]: item for item in control.state()["inputs"]}
    assert shown["phase_loss"]["phase"] == 2 and shown["load"]["power_w"] == 3000.0

    later = session.meter.now_ms
    control.commit(control.inputs.changed(InputChange("phase_loss", False, 2), later))
    session.advance_to(later + 60_000)
    assert [round(p.active_w) for p in session.meter.instantaneous().phases] == [1000] * 3
    assert [i["input"] for i in control.state()["inputs"]] == ["load"]  # the load stays


def test_a_refused_commit_answers_503_and_changes_nothing(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = MeterControl.of(session)

    def refuse(*_args: object, **_kwargs: object) -> None:
        session.store.failure = "disk full"  # as the store marks a memory that failed
        raise CommitError("disk full")

    monkeypatch.setattr(session.store, "commit", refuse)
    answer = control.commit(control.inputs.changed(InputChange("outage"), session.meter.now_ms))
    assert answer.status_code == 503
    assert "disk full" in json.loads(answer.body)["error"]
    assert control.inputs.windows == ()
    again = control.commit(control.inputs.changed(InputChange("outage"), session.meter.now_ms))
    assert again.status_code == 503 and "read-only" in json.loads(again.body)["error"]


def test_a_per_phase_fault_needs_its_phase_and_others_refuse_one(session: Session) -> None:
    inputs = MeterControl.of(session).inputs
    with pytest.raises(InputError, match="phase applies to"):
        inputs.changed(InputChange("neutral_loss", phase=1), 0)
    with pytest.raises(InputError, match="power_w applies to the load only"):
        inputs.changed(InputChange("outage", power_w=5.0), 0)


def test_a_taken_api_port_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = subprocess.run(
            [sys.executable, "-m", "metertwin", "run", "--data", str(tmp_path / "m"),
             "--port", "0", "--api-port", str(port), "--no-panel", "--duration", "5"],
            capture_output=True, text=True, timeout=WAIT_S,
        )  # fmt: skip
    assert ran.returncode == 2
    assert f"cannot serve the API on 127.0.0.1:{port}" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_metertwin_api_without_a_running_meter_says_so(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "metertwin", "api", "--data", str(tmp_path)],
        capture_output=True, text=True, timeout=WAIT_S,
    )  # fmt: skip
    assert ran.returncode == 2 and "api.url is missing" in ran.stderr
    given = cli("api", "--host", "10.0.0.7", "--api-port", "9000")
    assert given == "http://10.0.0.7:9000\n"
