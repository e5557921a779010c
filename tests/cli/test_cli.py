"""The command line as a user runs it: real processes, real files, exit codes and messages."""

from __future__ import annotations

import csv
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.protocols.hdlc_vectors import AARQ_APDU, CLIENT

from metertwin.dlms.client import DlmsClient
from metertwin.meter.core import Meter
from metertwin.meter.registers import Energy
from metertwin.models import load_model
from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    control_i,
    control_u,
)
from metertwin.protocols.hdlc_link import LLC_COMMAND
from metertwin.storage import MeterStore


def metertwin(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metertwin", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def _meter(data: Path) -> Meter:
    with MeterStore.open(data) as store:
        stored = store.load()
    return Meter.from_state(load_model(stored.model_source).spec, stored.state)


def test_models_lists_the_built_ins_and_show_prints_a_loadable_copy(tmp_path: Path) -> None:
    listing = metertwin("models")
    assert listing.returncode == 0
    for name in ("az3p", "magno22", "metercom-pro", "pmm1220"):
        assert name in listing.stdout
    shown = metertwin("models", "show", "az3p")
    copy = tmp_path / "mine.toml"
    copy.write_text(shown.stdout.replace('name = "az3p"', 'name = "mine"'))
    assert load_model(str(copy)).spec.name == "mine"


def test_simulate_writes_registers_and_run_resumes_the_same_meter(tmp_path: Path) -> None:
    data = tmp_path / "meter"
    done = metertwin(
        "simulate",
        "--model",
        "az3p",
        "--days",
        "3",
        "--data",
        str(data),
        "--start",
        "2026-06-01T00:00",
        "--scenario",
        "constant",
        "--progress",
        "none",
    )
    assert done.returncode == 0, done.stderr
    meter = _meter(data)
    # constant scenario: 1000 W on each of 3 phases for exactly 72 hours
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE) == 3 * 72 * 1_000_000
    rows = list(csv.reader((data / "registers.csv").open()))
    header = rows[0]
    assert header[:2] == ["utc_ms", "local_time"]
    column = header.index("1.0.1.8.0.255 [Wh]")
    assert [r[1] for r in rows[1:]] == [
        "2026-06-02T00:00:00",
        "2026-06-03T00:00:00",
        "2026-06-04T00:00:00",
    ]
    assert [r[column] for r in rows[1:]] == ["72000.000", "144000.000", "216000.000"]
    # every energy column names the unit its register serves (OBIS value group C, IEC 62056-6-1
    # 7.5.3 / Blue Book 7.5.3: 3, 4, 5-8 reactive in varh; 9, 10 apparent in VAh; unit codes
    # 32 varh and 31 VAh of Blue Book 4.3.2 scaler_unit), not "Wh" for all of them
    units = {name.partition(" [")[0]: name.partition(" [")[2] for name in header[2:]}
    assert units["1.0.1.8.0.255"] == "Wh]"
    assert units["1.0.3.8.0.255"] == units["1.0.4.8.0.255"] == "varh]"
    assert all(units[f"1.0.{c}.8.0.255"] == "varh]" for c in (5, 6, 7, 8, 23, 24, 43, 64))
    assert units["1.0.9.8.0.255"] == units["1.0.10.8.0.255"] == units["1.0.29.8.0.255"] == "VAh]"
    assert units["1.0.3.8.1.255"] == "varh]"

    ran = metertwin(
        "run",
        "--api-port",
        "off",
        "--data",
        str(data),
        "--speed",
        "3600",
        "--duration",
        "2",
        "--port",
        "0",
        "--no-panel",
        "--scenario",
        "constant",
        "--port",
        "0",
    )
    assert ran.returncode == 0, ran.stderr
    assert "relay=connected" in ran.stdout
    resumed = _meter(data)
    assert resumed.now_ms > meter.now_ms
    hours = (resumed.now_ms - meter.now_ms) / 3_600_000
    gained = resumed.energy_mwh(Energy.IMPORT_ACTIVE) - meter.energy_mwh(Energy.IMPORT_ACTIVE)
    assert gained == pytest.approx(3_000_000 * hours, abs=3)  # 3 kW for the hours it ran


def test_run_shows_the_live_panel(tmp_path: Path) -> None:
    ran = metertwin(
        "run",
        "--api-port",
        "off",
        "--model",
        "magno22",
        "--data",
        str(tmp_path / "m"),
        "--duration",
        "1.5",
        "--speed",
        "60",
        "--start",
        "2026-07-01T12:00",
        "--port",
        "0",
    )
    assert ran.returncode == 0, ran.stderr
    for label in ("magno22", "Instantaneous", "+A import", "relay", "connected", "T4"):
        assert label in ran.stdout


@contextmanager
def _metercom_running(data: Path, *options: str) -> Iterator[subprocess.Popen[str]]:
    """`metertwin run --model metercom-pro` on free ports for a minute; Ctrl-C at the end of
    the block must stop it cleanly."""
    command = [
        sys.executable,
        "-m",
        "metertwin",
        "run",
        "--api-port",
        "off",
        "--model",
        "metercom-pro",
    ]
    command += ["--data", str(data), "--port", "0", "--no-panel", "--duration", "60"]
    process = subprocess.Popen(
        [*command, "--scenario", "idle", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
        process.send_signal(signal.SIGINT)  # Ctrl-C: stops cleanly
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _connection_events(data: Path) -> dict[int, int]:
    """The meter's counts of the communication events 220..229."""
    return {c: n for c, n in _meter(data).event_counts.items() if 220 <= c <= 229}


def test_run_logs_a_refused_second_connection_in_the_communication_log(tmp_path: Path) -> None:
    """`metertwin run` wires the TCP server's events to the meter: metercom-pro serves one
    connection at a time (seed 004), and the one it refuses is event 223 in its event log 4
    (module internal states), committed at once; the served connection, associated (so it
    does not give way, docs/dlms.md "TCP limits"), logs nothing."""
    data = tmp_path / "m"
    with _metercom_running(data) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("DLMS/COSEM on 127.0.0.1:"), process.stderr
        port = int(line.rsplit(":", 1)[1])
        with (
            DlmsClient(timeout=10).connect("127.0.0.1", port),  # a public association
            socket.create_connection(("127.0.0.1", port), timeout=10) as refused,
        ):
            assert refused.recv(16) == b""  # closed by the meter at once
    assert _connection_events(data) == {223: 1}
    with MeterStore.open(data) as store:
        log = store.profile_entries("1.0.99.98.3.255", 1, 100)
    assert [int(record.values[1]) for record in log] == [223]


def test_run_over_hdlc_logs_a_refused_second_connection_too(tmp_path: Path) -> None:
    """`--hdlc-port` feeds the same events to the meter: metercom-pro's one connection at a
    time holds over HDLC (an associated link, reached at the serial's physical address, as
    announced), and the refused one is event 223 in its log."""
    data = tmp_path / "m"
    server = HdlcAddress(1, 6678, 4)  # docs/hdlc.md: 1000 + 5678
    with _metercom_running(data, "--hdlc-port", "0", "--serial", "12345678") as process:
        assert process.stdout is not None
        process.stdout.readline()
        line = process.stdout.readline()
        assert line.endswith(" physical address 6678 server SAP 1\n"), process.stderr
        port = int(line.split()[2].rsplit(":", 1)[1])
        snrm = HdlcFrame(server, CLIENT, control_u(FrameType.SNRM, True)).encode()
        aarq = HdlcFrame(server, CLIENT, control_i(0, 0, True), LLC_COMMAND + AARQ_APDU).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as served:
            decoder = HdlcDecoder()
            served.sendall(snrm + aarq)
            answers: list[HdlcFrame] = []
            while len(answers) < 2:
                answers += decoder.feed(served.recv(4096))
            assert [frame.kind for frame in answers] == [FrameType.UA, FrameType.I]
            assert answers[1].information[3] == 0x61  # the AARE
            with socket.create_connection(("127.0.0.1", port), timeout=10) as refused:
                assert refused.recv(16) == b""  # closed by the meter at once
    assert _connection_events(data) == {223: 1}


def test_run_refuses_an_hdlc_port_in_use_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = metertwin(
            "run", "--api-port", "off",
            "--data", str(tmp_path / "m"), "--port", "0", "--hdlc-port", str(port),
            "--no-panel", "--duration", "5",
        )  # fmt: skip
    assert ran.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in ran.stderr


def test_a_model_belongs_to_its_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "meter"
    assert (
        metertwin(
            "simulate",
            "--model",
            "az3p",
            "--days",
            "0.1",
            "--data",
            str(data),
            "--progress",
            "none",
        ).returncode
        == 0
    )
    refused = metertwin("simulate", "--model", "pmm1220", "--days", "1", "--data", str(data))
    assert refused.returncode == 2
    assert "holds a 'az3p' meter, not 'pmm1220'" in refused.stderr


def test_a_broken_model_file_stops_with_file_field_and_expectation(tmp_path: Path) -> None:
    model = tmp_path / "broken.toml"
    model.write_text(
        load_model("pmm1220").text.replace("max_current_a = 80.0", "max_current_a = -1")
    )
    result = metertwin(
        "run",
        "--api-port",
        "off",
        "--model",
        str(model),
        "--data",
        str(tmp_path / "d"),
        "--duration",
        "1",
        "--port",
        "0",
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"metertwin: error: {model}: ratings.max_current_a: expected")
    assert "Traceback" not in result.stderr


def test_a_broken_config_or_scenario_names_itself(tmp_path: Path) -> None:
    config = tmp_path / "meter.toml"
    config.write_text('[scenario]\nannual_kwh = "lots"\n')
    result = metertwin(
        "simulate", "--days", "1", "--data", str(tmp_path / "d"), "--config", str(config)
    )
    assert result.returncode == 2
    assert str(config) in result.stderr and "annual_kwh" in result.stderr
    scenario = tmp_path / "world.toml"
    scenario.write_text('kind = "household"\npower_cuts = [{start = "soon", duration_s = 60}]\n')
    result = metertwin(
        "simulate", "--days", "1", "--data", str(tmp_path / "e"), "--scenario", str(scenario)
    )
    assert result.returncode == 2
    assert f"{scenario}: power_cuts[0].start" in result.stderr


def test_a_corrupt_data_directory_is_refused_and_left_untouched(tmp_path: Path) -> None:
    data = tmp_path / "meter"
    data.mkdir()
    junk = bytes(range(256)) * 64
    (data / "meter.db").write_bytes(junk)
    result = metertwin(
        "run", "--api-port", "off", "--data", str(data), "--duration", "1", "--port", "0"
    )
    assert result.returncode == 2
    assert "left untouched" in result.stderr and "Traceback" not in result.stderr
    assert (data / "meter.db").read_bytes() == junk


def test_power_cut_in_a_scenario_file_stops_accumulation(tmp_path: Path) -> None:
    scenario = tmp_path / "cut.toml"
    scenario.write_text(
        'kind = "constant"\npower_w = 500\n'
        'power_cuts = [{start = "2026-06-01T06:00:00", duration_s = 10800}]\n'
    )
    data = tmp_path / "meter"
    done = metertwin(
        "simulate",
        "--model",
        "pmm1220",
        "--scenario",
        str(scenario),
        "--data",
        str(data),
        "--start",
        "2026-06-01T00:00",
        "--days",
        "1",
        "--progress",
        "none",
    )
    assert done.returncode == 0, done.stderr
    # 24 h minus a 3-hour cut at 500 W
    assert _meter(data).energy_mwh(Energy.IMPORT_ACTIVE) == 21 * 500_000


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["simulate", "--days", "inf"], "--days: expected a number > 0"),
        (["simulate", "--days", "1e300"], "--days: expected a number > 0"),
        (["simulate", "--days", "40000"], "--days: expected at most 36525 days"),
        (["run", "--speed", "inf"], "--speed: expected a number > 0"),
        (["run", "--speed", "0"], "--speed: expected a number > 0"),
        (["run", "--serial", "x" * 40], "serial number is 1-32 printable ASCII"),
        (["run", "--start", "0001-01-01T00:00"], "a meter lives between 1971 and 2199"),
        (["simulate", "--days", "1", "--until", "2026-01-01"], "not allowed with argument"),
        (["simulate", "--until", "yesterday"], "expected an ISO date-time"),
    ],
)
def test_odd_options_are_refused_with_exit_code_2(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = metertwin(*args, "--data", str(tmp_path / "d"))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("under", ["", "sub"], ids=["a-file", "under-a-file"])
def test_out_pointing_at_a_file_is_refused_before_the_run(tmp_path: Path, under: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = blocker / under if under else blocker
    data = tmp_path / "d"
    result = metertwin(
        "simulate", "--days", "0.01", "--data", str(data), "--out", str(out), "--progress", "none"
    )
    assert result.returncode == 2
    assert f"{out}: cannot write the registers there" in result.stderr
    assert "Traceback" not in result.stderr
    assert not data.exists()  # refused before any meter was made or moved


def test_a_config_cannot_change_the_model_of_an_existing_meter(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert (
        metertwin(
            "simulate", "--days", "0.01", "--data", str(data), "--progress", "none"
        ).returncode
        == 0
    )
    config = tmp_path / "c.toml"
    config.write_text("[clock]\nutc_offset_minutes = 600\n")
    result = metertwin("simulate", "--days", "0.01", "--data", str(data), "--config", str(config))
    assert result.returncode == 2
    assert "[clock] would change the model of the meter" in result.stderr
