"""`metertwin read` and `metertwin profile` against a table-driven fake meter on 127.0.0.1,
and their refusals: one line on stderr and exit code 2 for user mistakes and unreachable
meters; 1 when the meter refuses the association or the read."""

from __future__ import annotations

import argparse
import csv
import io
import json
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.cli.running import meter_running
from tests.dlms.test_client_fakes import (
    SILENT,
    FakeMeter,
    ObjectTableMeter,
    Reply,
    object_list_data,
)

from metertwin.cli_dlms import (
    add_dlms_commands,
    parse_attribute_ref,
    parse_endpoint,
    parse_sap,
    run_dlms_command,
)
from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.dlms.client.objects import CLOCK_TIME, CaptureObject, range_access
from metertwin.errors import UserError

CURRENT_ASSOCIATION = Obis(0, 0, 40, 0, 0, 255)
ASSOCIATION = Obis(0, 0, 40, 0, 1, 255)
ENERGY = Obis(1, 0, 1, 8, 0, 255)
CLOCK = Obis(0, 0, 1, 0, 0, 255)
SERIAL = Obis(0, 0, 96, 1, 0, 255)
PROFILE = Obis(1, 0, 99, 1, 0, 255)
DISCONNECT = Obis(0, 0, 96, 3, 10, 255)

ENTRIES = [
    (15, 1, ASSOCIATION, [(1, 1), (2, 1)], [(1, 0)]),
    (3, 0, ENERGY, [(1, 1), (2, 1), (3, 1)], [(1, 0)]),
    (8, 0, CLOCK, [(1, 1), (2, 3), (3, 1)], []),
    (1, 0, SERIAL, [(1, 1), (2, 1)], []),
    (7, 1, PROFILE, [(1, 1), (2, 1), (3, 1), (4, 1)], [(1, 0), (2, 0)]),
    (70, 0, DISCONNECT, [(1, 1), (2, 1), (3, 0)], [(1, 1), (2, 1)]),
]


def stamp(hour: int, minute: int = 0) -> Data:
    return Data.octet_string(
        CosemDateTime.from_datetime(datetime(2026, 6, 1, hour, minute)).to_bytes()
    )


def meter_objects() -> dict[tuple[int, Obis, int], Data | DataAccessResult]:
    object_list = object_list_data(ENTRIES)
    objects: dict[tuple[int, Obis, int], Data | DataAccessResult] = {
        (class_id, name, 1): Data.octet_string(bytes(name))
        for class_id, _v, name, _a, _m in ENTRIES
    }
    objects.update(
        {
            (15, CURRENT_ASSOCIATION, 2): object_list,
            (15, ASSOCIATION, 2): object_list,
            (3, ENERGY, 2): Data.double_long_unsigned(12345),
            (3, ENERGY, 3): Data.structure((Data.integer(-1), Data.enum(30))),
            (8, CLOCK, 2): stamp(12, 30),
            (8, CLOCK, 3): Data.long(-60),
            (1, SERIAL, 2): Data.visible_string("MT000042"),
            (7, PROFILE, 2): Data.array(
                [
                    Data.structure((stamp(0), Data.double_long_unsigned(10000))),
                    Data.structure((stamp(0, 15), Data.double_long_unsigned(10025))),
                ]
            ),
            (7, PROFILE, 3): Data.array(
                [CLOCK_TIME.to_data(), CaptureObject(3, ENERGY, 2).to_data()]
            ),
            (7, PROFILE, 4): Data.double_long_unsigned(900),
            (70, DISCONNECT, 2): DataAccessResult.READ_WRITE_DENIED,
        }
    )
    return objects


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich lays tables out for COLUMNS; wide enough that no cell is folded."""
    monkeypatch.setenv("COLUMNS", "200")


def metertwin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Parses ``argv`` as the main CLI will (a ``command`` sub-parser) and runs it."""
    parser = argparse.ArgumentParser(prog="metertwin")
    add_dlms_commands(parser.add_subparsers(dest="command", required=True))
    code = run_dlms_command(parser.parse_args(list(argv)))
    out, err = capsys.readouterr()
    return code, out, err


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("metertwin: error: ")
    return lines[0]


# --- read one attribute -------------------------------------------------------------------


def test_read_a_register_with_scaler_and_unit(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeMeter(ObjectTableMeter(meter_objects())) as meter:
        code, out, err = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", "1.0.1.8.0.255")
    assert (code, err) == (0, "")
    assert out == "1.0.1.8.0.255:2 (Register) = 1234.5 Wh\n"


def test_read_json(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeMeter(ObjectTableMeter(meter_objects())) as meter:
        code, out, _ = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", "1-0:1.8.0", "--json")
    assert code == 0
    assert json.loads(out) == {
        "obis": "1.0.1.8.0.255",
        "attribute": 2,
        "class_id": 3,
        "class": "Register",
        "type": "double-long-unsigned",
        "value": 1234.5,
        "raw": 12345,
        "scaler": -1,
        "unit": "Wh",
    }


@pytest.mark.parametrize(
    ("item", "shown"),
    [
        ("1-0:1.8.0:3", "1.0.1.8.0.255:3 (Register) = {-1, 30}"),
        ("1.0.1.8.0.255:1", "1.0.1.8.0.255:1 (Register) = 1.0.1.8.0.255"),
        ("0.0.96.1.0.255", "0.0.96.1.0.255:2 (Data) = MT000042"),
        ("0.0.1.0.0.255:2", "0.0.1.0.0.255:2 (Clock) = 2026-06-01T12:30:00"),
    ],
)
def test_read_other_attributes(capsys: pytest.CaptureFixture[str], item: str, shown: str) -> None:
    with FakeMeter(ObjectTableMeter(meter_objects())) as meter:
        code, out, _ = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", item)
    assert (code, out) == (0, shown + "\n")


def test_read_an_object_not_in_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeMeter(ObjectTableMeter(meter_objects())) as meter:
        code, out, err = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", "1.0.2.8.0.255")
    assert (code, out) == (1, "")  # refused by the meter: it does not serve it here
    assert "1.0.2.8.0.255 is not in the object list" in one_error_line(err)


def test_read_refused_by_the_meter(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeMeter(ObjectTableMeter(meter_objects())) as meter:
        code, _, err = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", "0.0.96.3.10.255")
    assert code == 1
    assert "read-write-denied" in one_error_line(err)


def test_lls_client_with_right_and_wrong_password(capsys: pytest.CaptureFixture[str]) -> None:
    table = ObjectTableMeter(meter_objects(), password=b"HELLO")
    with FakeMeter(table, client_sap=0x20) as meter:
        target = f"127.0.0.1:{meter.port}"
        code, out, _ = metertwin(
            capsys, "read", target, "0.0.96.1.0.255", "--client", "0x20", "--password", "HELLO"
        )
        assert (code, out) == (0, "0.0.96.1.0.255:2 (Data) = MT000042\n")
        code, out, err = metertwin(
            capsys, "read", target, "0.0.96.1.0.255", "--client", "32", "--password", "nope"
        )
    assert (code, out) == (1, "")  # refused by the meter
    line = one_error_line(err)
    assert "authentication-failure" in line and "wrong password?" in line


# --- read --all ---------------------------------------------------------------------------


def test_read_all_lists_every_readable_attribute(capsys: pytest.CaptureFixture[str]) -> None:
    table = ObjectTableMeter(meter_objects())
    with FakeMeter(table) as meter:
        code, out, err = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", "--all")
    assert (code, err) == (0, "")
    for shown in (
        "Register v0",
        "1234.5 Wh",
        "MT000042",
        "2026-06-01T12:30:00",
        "read-write-denied",
        "Disconnect control v0",
        "6 objects, 15 attributes read, 1 refused",
    ):
        assert shown in out, shown
    # attribute 3 of the disconnect control is not readable for this client: never asked
    assert all(b"\x00\x46\x00\x00\x60\x03\x0a\xff\x03" not in request for request in meter.requests)


def test_read_all_json(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeMeter(ObjectTableMeter(meter_objects())) as meter:
        code, out, _ = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", "--all", "--json")
    assert code == 0
    objects = {item["obis"]: item for item in json.loads(out)}
    assert len(objects) == 6
    energy = {a["attribute"]: a for a in objects["1.0.1.8.0.255"]["attributes"]}
    assert energy[1]["value"] == "1.0.1.8.0.255"
    assert energy[2] == {
        "attribute": 2,
        "access": "read-only",
        "type": "double-long-unsigned",
        "value": 1234.5,
        "raw": 12345,
        "scaler": -1,
        "unit": "Wh",
    }
    assert energy[3]["value"] == [-1, 30]
    disconnect = objects["0.0.96.3.10.255"]
    rights = {a["attribute"]: a for a in disconnect["attributes"]}
    assert rights[2]["error"] == "read-write-denied"
    assert rights[3] == {"attribute": 3, "access": "no-access"}
    assert disconnect["methods"] == [{"method": 1, "access": 1}, {"method": 2, "access": 1}]
    assert objects["1.0.99.1.0.255"]["attributes"][1]["value"][1] == [
        "2026-06-01T00:15:00",
        10025,
    ]


# --- profile ------------------------------------------------------------------------------


def test_profile_as_csv_with_capture_objects_as_header(
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = ObjectTableMeter(meter_objects())
    with FakeMeter(table) as meter:
        code, out, err = metertwin(
            capsys,
            "profile",
            f"127.0.0.1:{meter.port}",
            "1.0.99.1.0.255",
            "--from",
            "2026-06-01T00:00",
            "--to",
            "2026-06-01T01:00",
            "--csv",
        )
    assert (code, err) == (0, "")
    assert list(csv.reader(io.StringIO(out))) == [
        ["0.0.1.0.0.255:2", "1.0.1.8.0.255:2 [Wh]"],
        ["2026-06-01T00:00:00", "1000.0"],
        ["2026-06-01T00:15:00", "1002.5"],
    ]
    # the buffer was asked for by range of the clock, local time (deviation not specified)
    expected = range_access(datetime(2026, 6, 1, 0, 0), datetime(2026, 6, 1, 1, 0))
    assert expected in table.accesses


def test_profile_as_table(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeMeter(ObjectTableMeter(meter_objects())) as meter:
        code, out, _ = metertwin(
            capsys,
            "profile",
            f"127.0.0.1:{meter.port}",
            "1-0:99.1.0",
            "--from",
            "2026-06-01T00:00+02:00",
            "--to",
            "2026-06-01T01:00+02:00",
        )
    assert code == 0
    assert "1.0.1.8.0.255:2 [Wh]" in out and "1002.5" in out and "2 rows" in out


def test_profile_times_relative_to_the_meters_clock(capsys: pytest.CaptureFixture[str]) -> None:
    """``now``, ``now-1d``: the README's example works whatever day the meter is at, because
    the window is counted from the meter's own clock (0.0.1.0.0.255:2), not the host's."""
    utc_plus_3 = timezone(timedelta(hours=3))
    present = datetime(2026, 6, 2, 12, 30, tzinfo=utc_plus_3)
    objects = meter_objects()
    objects[8, CLOCK, 2] = Data.octet_string(CosemDateTime.from_datetime(present).to_bytes())
    table = ObjectTableMeter(objects)
    with FakeMeter(table) as meter:
        target = f"127.0.0.1:{meter.port}"
        both = metertwin(capsys, "profile", target, str(PROFILE), "--from", "now-1d", "--to", "now")
        mixed = metertwin(
            capsys, "profile", target, str(PROFILE), "--from", "2026-06-01T06:00", "--to", "now-2h"
        )
        late = metertwin(
            capsys, "profile", target, str(PROFILE), "--from", "now+1h", "--to", "2026-06-02"
        )
    assert both[0] == 0 and "2 rows" in both[1]
    assert range_access(present - timedelta(days=1), present) in table.accesses
    # with an absolute bound without offset, the relative one is the meter's local wall time
    assert mixed[0] == 0
    assert range_access(datetime(2026, 6, 1, 6, 0), datetime(2026, 6, 2, 10, 30)) in table.accesses
    assert late[0] == 2 and "--to lies before --from" in one_error_line(late[2])


# --- refusals -----------------------------------------------------------------------------


def bad_invocations(port: int) -> list[tuple[list[str], str]]:
    target = f"127.0.0.1:{port}"
    return [
        (["read", "localhost", "1.0.1.8.0.255"], "expected HOST:PORT"),
        (["read", "meter:0", "1.0.1.8.0.255"], "expected HOST:PORT"),
        (["read", "meter:99999", "1.0.1.8.0.255"], "expected HOST:PORT"),
        (["read", ":4059", "1.0.1.8.0.255"], "expected HOST:PORT"),
        (["read", target, "1.0.1.8"], "not an OBIS code"),
        (["read", target, "1.0.1.8.0.256"], "not an OBIS code"),
        (["read", target, "1.0.1.8.0.255:x"], "not an attribute number"),
        (["read", target, "1.0.1.8.0.255:0"], "not an attribute number"),
        (["read", target], "name an attribute"),
        (["read", target, "1.0.1.8.0.255", "--all"], "not both"),
        (["read", target, "1.0.1.8.0.255", "--client", "abc"], "--client"),
        (["read", target, "--all", "--server", "70000"], "--server"),
        (["read", target, "--all", "--timeout", "0"], "--timeout"),
        (["profile", target, "1.0.99.1", "--from", "2026-06-01", "--to", "2026-06-02"], "OBIS"),
        (
            ["profile", target, "1.0.99.1.0.255", "--from", "yesterday", "--to", "2026-06-02"],
            "--from",
        ),
        (
            ["profile", target, "1.0.99.1.0.255", "--from", "now-1w", "--to", "now"],
            "--from",
        ),
        (
            ["profile", target, "1.0.99.1.0.255", "--from", "2026-06-02", "--to", "2026-06-01"],
            "before",
        ),
        (
            [
                "profile",
                target,
                "1.0.99.1.0.255",
                "--from",
                "2026-06-01T00:00Z",
                "--to",
                "2026-06-02",
            ],
            "UTC offset",
        ),
    ]


def test_user_mistakes_get_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    for argv, complaint in bad_invocations(port):
        code, out, err = metertwin(capsys, *argv)
        assert (code, out) == (2, ""), argv
        assert complaint in one_error_line(err), (argv, err)


def test_unreachable_meter(capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    for argv in (
        ["read", f"127.0.0.1:{port}", "1.0.1.8.0.255"],
        ["read", f"127.0.0.1:{port}", "--all"],
        [
            "profile",
            f"127.0.0.1:{port}",
            "1.0.99.1.0.255",
            "--from",
            "2026-06-01",
            "--to",
            "2026-06-02",
        ],
    ):
        code, out, err = metertwin(capsys, *argv)
        assert (code, out) == (2, "")
        assert f"cannot connect to 127.0.0.1:{port}" in one_error_line(err)


def test_silent_meter_times_out(capsys: pytest.CaptureFixture[str]) -> None:
    table = ObjectTableMeter(meter_objects())

    def respond(request: bytes) -> Reply:
        return SILENT if request.startswith(b"\xc0") else table(request)

    with FakeMeter(respond) as meter:
        code, _, err = metertwin(
            capsys, "read", f"127.0.0.1:{meter.port}", "1.0.1.8.0.255", "--timeout", "0.3"
        )
    assert code == 2
    assert "no answer" in one_error_line(err)


# --- parsing helpers ----------------------------------------------------------------------


def test_parsing_helpers() -> None:
    assert parse_endpoint("127.0.0.1:4059") == ("127.0.0.1", 4059)
    assert parse_endpoint("[::1]:4059") == ("::1", 4059)
    assert parse_endpoint("meter.local:1") == ("meter.local", 1)
    assert parse_attribute_ref("1.0.1.8.0.255") == (ENERGY, 2)
    assert parse_attribute_ref("1-0:1.8.0") == (ENERGY, 2)
    assert parse_attribute_ref("1-0:1.8.0.255:3") == (ENERGY, 3)
    assert parse_attribute_ref("1.0.1.8.0:3") == (ENERGY, 3)
    assert parse_sap("0x20", "--client") == 32
    assert parse_sap("16", "--client") == 16
    with pytest.raises(UserError):
        parse_endpoint("4059")
    with pytest.raises(UserError):
        parse_attribute_ref("1.0.1.8.0.255:128")


def test_read_all_falls_back_to_single_reads(capsys: pytest.CaptureFixture[str]) -> None:
    """A meter that garbles its with-list answers is read attribute by attribute."""
    table = ObjectTableMeter(meter_objects())

    def respond(request: bytes) -> Reply:
        return b"\xc4\x03" if request.startswith(b"\xc0\x03") else table(request)

    with FakeMeter(respond) as meter:
        code, out, err = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", "--all")
    assert (code, err) == (0, "")
    assert "1234.5 Wh" in out and "6 objects, 15 attributes read, 1 refused" in out


# --- issue 11, items 14 and 15 on a real meter ------------------------------------------------

READER = ["--client", "32", "--password", "00000001"]


def test_public_refusals_name_the_association_that_may_read(
    running_meter: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """pmm1220's public association lists neither the load profile nor the voltage
    (docs/dlms.md, rights profiles); its reader association (client 32, 00000001) does."""
    target = f"127.0.0.1:{running_meter}"
    for argv in (
        ["read", target, "1.0.99.1.0.255:2"],
        ["read", target, "1.0.32.7.0.255"],
        ["profile", target, "1.0.99.1.0.255", "--from", "2026-11-21", "--to", "2026-11-22"],
    ):
        code, out, err = metertwin(capsys, *argv)
        assert (code, out) == (1, ""), argv
        line = one_error_line(err)
        assert line.endswith("the reader association may read it: --client 32 --password 00000001")


def test_read_shows_amounts_in_the_account_currency_and_keeps_the_raw_value(
    running_meter: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Credit attribute 2 is a double-long at the scale of Account attribute 15 ``{SAR, -3,
    2}`` (docs/prepayment.md, "Over DLMS"); the cost register's unit 10 (currency) is SAR."""
    target = f"127.0.0.1:{running_meter}"
    code, out, _ = metertwin(capsys, "read", target, "0.0.19.10.0.255", *READER)
    assert code == 0
    assert out.startswith("0.0.19.10.0.255:2 (Credit) = ") and out.endswith(" SAR\n")
    code, out, _ = metertwin(capsys, "read", target, "0.0.19.10.0.255", *READER, "--json")
    found = json.loads(out)
    assert (found["scaler"], found["unit"]) == (-3, "SAR")
    assert isinstance(found["raw"], int) and found["value"] == found["raw"] / 1000
    code, out, _ = metertwin(capsys, "read", target, "0.0.96.128.3.255", *READER)
    assert code == 0 and out.endswith(" SAR\n")
    code, out, _ = metertwin(capsys, "read", target, "1.0.32.7.0.255", *READER)
    assert code == 0 and out.endswith(" V\n")


def test_read_all_never_cuts_a_value_off(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long array and a narrow terminal: every character of every value is printed."""
    objects = meter_objects()
    serials = [Data.visible_string(f"SERIAL-{n:04d}") for n in range(40)]
    objects[1, SERIAL, 2] = Data.array(serials)
    monkeypatch.setenv("COLUMNS", "60")
    with FakeMeter(ObjectTableMeter(objects)) as meter:
        code, out, _ = metertwin(capsys, "read", f"127.0.0.1:{meter.port}", "--all")
    assert code == 0 and "…" not in out
    joined = "".join(out.split())
    assert "".join(f"SERIAL-{n:04d}," for n in range(39)) + "SERIAL-0039" in joined


def test_manufacturer_classes_are_named_as_documented(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """metercom-pro's classes 8192-8196 by their names in docs/dlms.md."""
    with meter_running(tmp_path / "m", "metercom-pro") as port:
        target = f"127.0.0.1:{port}"
        reader = ["--client", "32", "--password", "HELLO"]
        code, out, _ = metertwin(capsys, "read", target, "0.0.129.0.2.255", *reader)
        assert code == 0 and out.startswith(
            "0.0.129.0.2.255:2 (Tariffication rate configuration) = "
        )
        code, out, _ = metertwin(capsys, "read", target, "--all", *reader, "--json")
    classes = {o["class_id"]: o["class"] for o in json.loads(out)}
    assert {k: v for k, v in classes.items() if k >= 8192} == {
        8192: "Wireless M-Bus collector",
        8193: "Relay output configuration",
        8194: "Tariffication rate configuration",
        8195: "TCP client connection configuration",
        8196: "MCP configuration",
    }
