"""`metertwin read | set | profile` over HDLC (issue 13, item 6): ``hdlc://`` targets against
`metertwin run --hdlc-port` as a user starts it, the meter found by its serial number (the
IDIS rule of docs/hdlc.md) or its physical address; and the target forms, good and bad."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.running import hdlc_meter_running
from tests.cli.test_cli_act import metertwin

from metertwin.cli_target import ALL_STATIONS, MeterTarget, parse_target
from metertwin.errors import UserError

SERIAL = "12345678"  # physical address 1000 + 5678 = 6678
CLOCK = "0.0.1.0.0.255"
READER = ("--client", "32", "--password", "00000001")


@pytest.fixture(scope="module")
def hdlc_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with hdlc_meter_running(tmp_path_factory.mktemp("hdlc") / "pmm1220", SERIAL) as port:
        yield port


@pytest.fixture(scope="module")
def counters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Our HLS invocation counters, never in the user's home."""
    path = tmp_path_factory.mktemp("counters") / "invocation-counters.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("METERTWIN_COUNTER_FILE", str(path))
        yield path


def test_read_a_register_and_the_clock_by_serial_number(
    capsys: pytest.CaptureFixture[str], hdlc_port: int
) -> None:
    target = f"hdlc://127.0.0.1:{hdlc_port}?server=1&address={SERIAL}"
    code, out, err = metertwin(capsys, "read", target, "1.0.1.8.0.255")
    assert (code, err) == (0, "")
    assert out.startswith("1.0.1.8.0.255:2 (Register) = ") and out.rstrip().endswith("Wh")
    code, out, err = metertwin(capsys, "read", target, CLOCK)
    assert (code, err) == (0, "")
    assert out.startswith(f"{CLOCK}:2 (Clock) = 2026-11-21T")


def test_read_by_physical_address_and_the_logical_device_name(
    capsys: pytest.CaptureFixture[str], hdlc_port: int
) -> None:
    code, out, err = metertwin(
        capsys, "read", f"hdlc://127.0.0.1:{hdlc_port}?physical=6678", "0.0.42.0.0.255"
    )
    assert (code, err) == (0, "")
    assert out == f"0.0.42.0.0.255:2 (Data) = PMM{SERIAL}\n"
    # Neither address nor physical: the all-station address, which a meter alone on its
    # link (HDLC over TCP) takes as its own.
    code, out, err = metertwin(capsys, "read", f"hdlc://127.0.0.1:{hdlc_port}", "0.0.42.0.0.255")
    assert (code, out) == (0, f"0.0.42.0.0.255:2 (Data) = PMM{SERIAL}\n"), err


def test_read_everything_takes_segmented_answers(
    capsys: pytest.CaptureFixture[str], hdlc_port: int
) -> None:
    """The object list and a batch of reads are longer than one 128-octet frame."""
    target = f"hdlc://127.0.0.1:{hdlc_port}?address={SERIAL}"
    code, out, err = metertwin(capsys, "read", target, "--all", *READER)
    assert (code, err) == (0, "")
    assert len(out.splitlines()) > 20 and f"PMM{SERIAL}" in out


def test_set_over_hdlc_writes_and_reads_back(
    capsys: pytest.CaptureFixture[str], hdlc_port: int
) -> None:
    target = f"hdlc://127.0.0.1:{hdlc_port}?address={SERIAL}"
    code, out, err = metertwin(capsys, "set", target, f"{CLOCK}:2", "2026-12-02T10:00:00")
    assert (code, err) == (0, ""), err
    code, out, _ = metertwin(capsys, "read", target, CLOCK)
    assert out.startswith(f"{CLOCK}:2 (Clock) = 2026-12-02T10:00")


def test_profile_over_hdlc(capsys: pytest.CaptureFixture[str], hdlc_port: int) -> None:
    target = f"hdlc://127.0.0.1:{hdlc_port}?address={SERIAL}"
    code, out, err = metertwin(
        capsys, "profile", target, "1.0.99.1.0.255", "--from", "now-1d", "--to", "now",
        "--csv", *READER,
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    header = out.splitlines()[0]  # the capture objects, the clock first
    assert header.startswith(f"{CLOCK}:2,") and "1.0.1.8.0.255:2 [Wh]" in header


def test_read_the_clock_over_hls_gmac(
    capsys: pytest.CaptureFixture[str], hdlc_port: int, counters: Path
) -> None:
    target = f"hdlc://127.0.0.1:{hdlc_port}?address={SERIAL}"
    code, out, err = metertwin(capsys, "read", target, CLOCK, "--client", "0x40", "--auth", "gmac")
    assert (code, err) == (0, ""), err
    assert f"{CLOCK}:2 (Clock) = " in out


def test_another_serial_gets_no_answer_and_the_error_names_the_address(
    capsys: pytest.CaptureFixture[str], hdlc_port: int
) -> None:
    """Serial 87654321 is physical address 5321: not this meter's, so it stays silent."""
    target = f"hdlc://127.0.0.1:{hdlc_port}?address=87654321"
    code, out, err = metertwin(capsys, "read", target, CLOCK, "--timeout", "0.6")
    assert (code, out) == (2, "")
    assert "no answer from server 1/5321 while SNRM sent" in err


def test_a_client_address_too_big_for_hdlc_is_refused(
    capsys: pytest.CaptureFixture[str], hdlc_port: int
) -> None:
    target = f"hdlc://127.0.0.1:{hdlc_port}?address={SERIAL}"
    code, _, err = metertwin(capsys, "read", target, CLOCK, "--client", "300")
    assert code == 2 and "HDLC client address (0..127)" in err


# --- the target forms ----------------------------------------------------------------------


def test_target_forms() -> None:
    assert parse_target("127.0.0.1:4059") == MeterTarget("tcp", "127.0.0.1", 4059)
    assert parse_target("hdlc://meter.local:4061?server=17&address=ISK1030777764366") == (
        MeterTarget("hdlc", "meter.local", 4061, logical=17, physical=5366)
    )
    assert parse_target("hdlc://[::1]:4061?physical=0x20") == MeterTarget(
        "hdlc", "::1", 4061, physical=0x20
    )
    assert parse_target("hdlc://127.0.0.1:1") == MeterTarget(
        "hdlc", "127.0.0.1", 1, physical=ALL_STATIONS
    )
    assert parse_target("serial:///dev/pts/4?baud=19200&address=12345678") == MeterTarget(
        "serial", device="/dev/pts/4", baud=19200, physical=6678
    )
    assert parse_target("serial:///dev/ttyUSB0").baud == 9600
    # The optical port: baud= caps the rate the meter offers; without it, the offer (0).
    assert parse_target("optical:///dev/pts/7?baud=4800&server=1") == MeterTarget(
        "optical", device="/dev/pts/7", baud=4800, logical=1
    )
    assert parse_target("optical:///dev/ttyUSB0").baud == 0
    # Seed 004's two forms of a bus member: the meter serial (8 digits) or its module's (10).
    for entered in ("11620371", "5011620371", "50-1162-0371", "1162 0371"):
        assert parse_target(f"hdlc://h:1?address={entered}").physical == 1371, entered


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("hdlc://127.0.0.1", "hdlc://HOST:PORT"),
        ("hdlc://127.0.0.1:99999", "hdlc://HOST:PORT"),
        ("hdlc://h:1?address=1&physical=2", "not both"),
        ("hdlc://h:1?physical=70000", "physical: expected an HDLC address"),
        ("hdlc://h:1?server=x", "server: expected an HDLC address"),
        ("hdlc://h:1?baud=9600", "unknown baud="),
        ("hdlc://h:1?address=", "serial number"),
        ("hdlc://h:1?server=1&server=2", "given twice"),
        ("serial://dev/pts/3", "three slashes"),
        ("serial:///dev/pts/3?baud=fast", "baud: expected a rate"),
        ("optical://dev/pts/3", "optical:///dev/DEVICE"),
        ("optical:///dev/pts/3?baud=10", "baud: expected a rate"),
        ("ftp://h:1", "unknown target scheme"),
        ("4059", "HOST:PORT"),
    ],
)
def test_bad_targets_are_refused_naming_the_mistake(text: str, named: str) -> None:
    with pytest.raises(UserError, match=named):
        parse_target(text)


def test_action_over_hdlc_runs_the_method(
    capsys: pytest.CaptureFixture[str], hdlc_port: int
) -> None:
    """Script 1 of 0.0.10.0.1.255 is the billing reset: the billing period counter counts one
    more period (as over the wrapper, tests/cli/test_cli_act.py)."""
    target = f"hdlc://127.0.0.1:{hdlc_port}?address={SERIAL}"
    counter = ("read", target, "1.0.0.1.0.255", "--json", *READER)
    code, before, err = metertwin(capsys, *counter)
    assert code == 0, err
    code, out, err = metertwin(capsys, "action", target, "0.0.10.0.1.255:1", "1")
    assert (code, out, err) == (0, "0.0.10.0.1.255:1 done\n", "")
    code, after, _ = metertwin(capsys, *counter)
    assert json.loads(after)["value"] == json.loads(before)["value"] + 1
