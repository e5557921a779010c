"""Acceptance of issue 5 ("Done when"): after `metertwin simulate --days 400 --data DIR` and
`metertwin run --data DIR`, a head-end reading the meter finds 13 billing periods, a year of
load profile and consistent event logs, all matching the energy registers exactly.

Done as a user does it: the CLI in its own processes, the meter read over TCP by the
independent client dlms-cosem (the stopped meter also by our own `metertwin.dlms.client`),
with the reader association of docs/dlms.md (client SAP 32, LLS "00000001").

"Exactly" is checked three ways, none of which depends on when the test runs:

- against the register snapshots the simulation wrote (`registers.csv`, the energy registers
  in mWh at every local midnight): every billing entry, every daily entry and every midnight
  entry of the load profile equals the register floored to the Wh the profile shows;
- within the meter: each billing entry equals the load-profile entry of the same instant,
  and its maximum demand is the largest quarter-hour of the load profile in that month;
- live: a copy of the memory resumed with `--speed 1e-6` (the meter's clock stands still)
  answers register GETs equal to its newest load-profile and daily entries.

A second memory, simulated with power cuts and tamper windows, checks that the event logs,
the status bits of the profiles and the supply failure counter tell the same story.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from dlms_cosem import time as dlms_time
from dlms_cosem.client import DlmsClient as CosemClient
from dlms_cosem.cosem import CosemAttribute, Obis
from dlms_cosem.cosem.capture_object import CaptureObject as CosemCaptureObject
from dlms_cosem.cosem.selective_access import RangeDescriptor
from dlms_cosem.enumerations import AssociationResult, CosemInterface
from dlms_cosem.io import TcpTransport
from dlms_cosem.parsers import ProfileGenericBufferParser
from dlms_cosem.security import LowLevelSecurityAuthentication
from dlms_cosem.utils import parse_as_dlms_data
from tests.interop.conftest import TcpIO

from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.dlms.client import DlmsClient
from metertwin.meter.events import LOG_OF, EventCode, EventLog
from metertwin.meter.profiles import EVENT, EntryStatus
from metertwin.models import load_model

# dlms-cosem logs every APDU through structlog at INFO; keep the test output readable.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

READER_SAP, READER_SECRET = 32, b"00000001"  # pmm1220 reader (docs/dlms.md)
TIMEOUT_S = 60.0
STARTUP_TIMEOUT_S = 30.0
DAYS = 400
QUARTER = timedelta(minutes=15)
DAY = timedelta(days=1)
YEAR_OF_QUARTERS = 365 * 96  # 35,040 rows: a year of 15-minute entries

CLOCK = "0.0.1.0.0.255"
BILLING_COUNTER = "1.0.0.1.0.255"
LAST_BILLING = "1.0.0.1.2.255"
SUPPLY_FAILURES = "0.0.96.7.0.255"
QUALITY_EVENTS = "0.0.96.15.4.255"  # the event counter of the power quality log
LOAD_PROFILE = "1.0.99.1.0.255"
DAILY_PROFILE = "1.0.99.2.0.255"
BILLING_PROFILE = "1.0.98.1.0.255"
EVENT_LOG_SPECS = [p for p in load_model("pmm1220").spec.profiles if p.period_s == EVENT]
EVENT_LOGS = {spec.name: frozenset(EventLog(log) for log in spec.logs) for spec in EVENT_LOG_SPECS}
"""The event logs of pmm1220 (0.0.99.98.E.255) and the kinds of events each keeps."""
POWER_QUALITY_LOG, FRAUD_LOG = "0.0.99.98.4.255", "0.0.99.98.1.255"
FAILURE_LOG = "0.0.99.98.7.255"
PLUS_A, MINUS_A, PLUS_R, MINUS_R = (f"1.0.{c}.8.0.255" for c in (1, 2, 3, 4))
NET_A = "1.0.16.8.0.255"
QUADRANT_TOTALS = (PLUS_A, MINUS_A, PLUS_R, MINUS_R)
MAX_DEMAND = "1.0.1.6.0.255"
MAX_DEMAND_TIME = "1.0.1.6.0.255:5"
STATUS = "0.0.96.10.1.255"
VOLTAGE = "1.0.32.7.0.255"
EVENT_CODE = "0.0.96.11.0.255"
PERIOD_COST = "0.0.96.128.3.255"
MONTHLY_COST = "0.0.96.128.2.255"

EVENT_SCENARIO = """\
kind = "household"
annual_kwh = 4000
power_cuts = [
    # across the billing point of 1 June (the meter captures on its battery-backed clock)
    {start = "2026-05-31T23:10:00", duration_s = 3600},
    # on quarter-hour edges
    {start = "2026-12-10T14:00:00", duration_s = 7200},
]
faults = [
    {kind = "terminal_cover_open", start = "2026-08-15T10:00:00", duration_s = 600},
    {kind = "magnetic_field", start = "2026-09-01T12:00:00", duration_s = 300},
    # self-check failures: the clock stays invalid until a head-end sets it
    {kind = "nv_memory_error", start = "2026-10-05T03:00:00", duration_s = 60},
    {kind = "rtc_failure", start = "2027-01-20T08:07:00", duration_s = 60},
]
"""
CLOCK_LOST = datetime(2027, 1, 20, 8, 7)
EVENT_START = "2026-01-01T00:00"
CUTS = [
    (datetime(2026, 5, 31, 23, 10), datetime(2026, 6, 1, 0, 10)),
    (datetime(2026, 12, 10, 14, 0), datetime(2026, 12, 10, 16, 0)),
]


# -- the meter as a user runs it ----------------------------------------------------------------


def _metertwin(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "metertwin", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass(frozen=True)
class Memory:
    """A meter memory left by `metertwin simulate`, and the scenario file it was made with."""

    data: Path
    scenario: Path | None = None

    def copy(self, to: Path) -> Memory:
        shutil.copytree(self.data, to)
        return Memory(to, self.scenario)


@pytest.fixture(scope="module")
def memories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Memory]:
    """Two 400-day simulations, side by side: the command of the issue as it stands, and the
    same household with power cuts and tamper windows (placed in time by --start)."""
    root = tmp_path_factory.mktemp("acceptance")
    scenario = root / "cuts.toml"
    scenario.write_text(EVENT_SCENARIO)
    commands = {
        "household": ["simulate", "--days", str(DAYS), "--data", str(root / "household")],
        "events": [
            "simulate", "--days", str(DAYS), "--data", str(root / "events"),
            "--scenario", str(scenario), "--start", EVENT_START,
        ],
    }  # fmt: skip
    running = {name: _metertwin(*args, "--progress", "none") for name, args in commands.items()}
    result: dict[str, Memory] = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert "registers in" in out
        result[name] = Memory(root / name, scenario if name == "events" else None)
    return result


@contextmanager
def serving(memory: Memory, *options: str) -> Iterator[int]:
    """`metertwin run --data DIR --port 0 --no-panel`; yields the port of its first line and
    expects a clean stop (exit 0) on Ctrl-C."""
    command = [
        sys.executable,
        "-m",
        "metertwin",
        "run",
        "--api-port",
        "off",
        "--data",
        str(memory.data),
    ]
    if memory.scenario is not None:
        command += ["--scenario", str(memory.scenario)]
    command += ["--port", "0", "--no-panel", *options]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        stdout, stderr = process.stdout, process.stderr
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(STARTUP_TIMEOUT_S)
        match = re.fullmatch(r"DLMS/COSEM on 127\.0\.0\.1:(\d+)\n", first[0] if first else "")
        if match is None:
            process.kill()
            process.wait(10)
            raise AssertionError(f"first line {first!r}; stderr: {stderr.read()}")
        for stream in (stdout, stderr):  # a summary line every second: never let it block
            threading.Thread(target=stream.read, daemon=True).start()
        yield int(match.group(1))
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


# -- the head-end: dlms-cosem ----------------------------------------------------------------


@contextmanager
def head_end(port: int) -> Iterator[CosemClient]:
    io_ = TcpIO(host="127.0.0.1", port=port, timeout=TIMEOUT_S)
    transport = TcpTransport(
        client_logical_address=READER_SAP, server_logical_address=1, io=io_, timeout=TIMEOUT_S
    )
    client = CosemClient(
        transport=transport,
        authentication=LowLevelSecurityAuthentication(READER_SECRET),
        timeout=TIMEOUT_S,
    )
    client.connect()
    try:
        assert client.associate().result is AssociationResult.ACCEPTED
        yield client
        client.release_association()
    finally:
        client.disconnect()


def _obis(text: str) -> Obis:
    return Obis(*(int(x) for x in text.split(".")))


def _get(client: CosemClient, interface: CosemInterface, obis: str, attribute: int = 2) -> Any:
    return parse_as_dlms_data(client.get(CosemAttribute(interface, _obis(obis), attribute)))


def _date_time(raw: bytes) -> datetime:
    when, _status = dlms_time.datetime_from_bytes(bytes(raw))
    assert isinstance(when, datetime)
    return when


@dataclass(frozen=True)
class Entry:
    """One profile entry: its capture time (aware), status and values by column key (the
    OBIS code of the captured attribute 2, or "OBIS:attribute" for other attributes)."""

    at: datetime
    status: int
    values: dict[str, Any]

    @property
    def local(self) -> datetime:
        """The meter's wall time (pmm1220 has no DST: the deviation is always UTC+3)."""
        return self.at.replace(tzinfo=None)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


@dataclass(frozen=True)
class Profile:
    entries: list[Entry]
    in_use: int
    depth: int
    period_s: int

    def at(self, when: datetime) -> Entry:
        """The entry captured at ``when`` (local wall time)."""
        stamps = [e.local for e in self.entries]
        i = bisect.bisect_left(stamps, when)
        assert i < len(stamps) and stamps[i] == when, f"no entry at {when}"
        return self.entries[i]


def read_profile(
    client: CosemClient, obis: str, span: tuple[datetime, datetime] | None = None
) -> Profile:
    """A whole Profile generic buffer, or the entries from/to ``span`` (selector 1 range)."""
    interface = CosemInterface.PROFILE_GENERIC
    capture = _get(client, interface, obis, 3)
    period_s = _get(client, interface, obis, 4)
    columns = [
        CosemAttribute(CosemInterface(class_id), Obis.from_bytes(bytes(ln)), attribute)
        for class_id, ln, attribute, _index in capture
    ]
    keys = [
        ".".join(str(b) for b in bytes(ln)) + ("" if attribute == 2 else f":{attribute}")
        for _class, ln, attribute, _index in capture
    ]
    selection = None
    if span is not None:
        restricting = CosemCaptureObject(CosemAttribute(CosemInterface.CLOCK, _obis(CLOCK), 2))
        selection = RangeDescriptor(
            restricting_object=restricting, from_value=span[0], to_value=span[1]
        )
    raw = client.get(CosemAttribute(interface, _obis(obis), 2), access_descriptor=selection)
    rows = ProfileGenericBufferParser(columns, max(period_s // 60, 1)).parse_bytes(raw)
    entries = []
    for row in rows:
        values = {key: column.value for key, column in zip(keys, row, strict=True)}
        entries.append(Entry(values[CLOCK], values.get(STATUS, 0), values))
    return Profile(
        entries,
        in_use=_get(client, interface, obis, 7),
        depth=_get(client, interface, obis, 8),
        period_s=period_s,
    )


# -- what the simulation wrote -------------------------------------------------------------------


def register_snapshots(memory: Memory) -> dict[datetime, dict[str, int]]:
    """registers.csv: local wall time -> OBIS -> mWh (exact: the file has three decimals)."""
    snapshots: dict[datetime, dict[str, int]] = {}
    with (memory.data / "registers.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            local = datetime.fromisoformat(row.pop("local_time"))
            row.pop("utc_ms")
            snapshots[local] = {
                key.partition(" [")[0]: int(Decimal(value) * 1000) for key, value in row.items()
            }
    return snapshots


def wh(mwh: int) -> int:
    """What a profile column or register shows (docs/dlms.md: floored to the Wh)."""
    return mwh // 1000


# -- reading the 400-day meter at speed 1, as the issue says -------------------------------------


@dataclass(frozen=True)
class Reading:
    clock_before: datetime
    clock_after: datetime
    billing_periods: int
    last_billing: datetime
    supply_failures: int
    quality_events: int
    registers: dict[str, int]
    load: Profile
    daily: Profile
    billing: Profile
    logs: dict[str, Profile]
    monthly_cost: list[tuple[str, int]]
    seconds: float


def read_meter(port: int) -> Reading:
    t0 = time.monotonic()
    with head_end(port) as client:
        clock = _date_time(_get(client, CosemInterface.CLOCK, CLOCK))
        load = read_profile(client, LOAD_PROFILE, (clock - 367 * DAY, clock))
        daily = read_profile(client, DAILY_PROFILE)
        billing = read_profile(client, BILLING_PROFILE)
        logs = {obis: read_profile(client, obis) for obis in EVENT_LOGS}
        registers = {
            obis: _get(client, CosemInterface.REGISTER, obis)
            for obis in (*QUADRANT_TOTALS, NET_A, *(f"1.0.1.8.{r}.255" for r in range(1, 9)))
        }
        reading = Reading(
            clock_before=clock,
            clock_after=_date_time(_get(client, CosemInterface.CLOCK, CLOCK)),
            billing_periods=_get(client, CosemInterface.DATA, BILLING_COUNTER),
            last_billing=_date_time(_get(client, CosemInterface.DATA, LAST_BILLING)),
            supply_failures=_get(client, CosemInterface.DATA, SUPPLY_FAILURES),
            quality_events=_get(client, CosemInterface.DATA, QUALITY_EVENTS),
            registers=registers,
            load=load,
            daily=daily,
            billing=billing,
            logs=logs,
            monthly_cost=[
                (str(month), int(cost))
                for month, cost in _get(client, CosemInterface.DATA, MONTHLY_COST)
            ],
            seconds=time.monotonic() - t0,
        )
    return reading


@pytest.fixture(scope="module")
def household(memories: dict[str, Memory], tmp_path_factory: pytest.TempPathFactory) -> Memory:
    return memories["household"].copy(tmp_path_factory.mktemp("run") / "household")


@pytest.fixture(scope="module")
def reading(household: Memory) -> Reading:
    with serving(household) as port:  # `metertwin run --data DIR`: speed 1, the resumed meter
        return read_meter(port)


@pytest.fixture(scope="module")
def snapshots(household: Memory) -> dict[datetime, dict[str, int]]:
    return register_snapshots(household)


def _end(snapshots: dict[datetime, dict[str, int]]) -> datetime:
    """Where the simulation left the meter: its last snapshot (400 days end at a midnight)."""
    return max(snapshots)


def _first_of_months(after: datetime, until: datetime) -> list[datetime]:
    """The billing points of pmm1220 ([billing] day 1, hour 0) in (after, until]."""
    points = []
    month = datetime(after.year, after.month, 1)
    while month <= until:
        if month > after:
            points.append(month)
        month = (month + 32 * DAY).replace(day=1)
    return points


def test_simulating_400_days_leaves_400_days_of_snapshots(
    snapshots: dict[datetime, dict[str, int]],
) -> None:
    midnights = sorted(snapshots)
    assert len(midnights) == DAYS  # one per local midnight; the end is itself a midnight
    assert all(b - a == DAY for a, b in itertools.pairwise(midnights))
    assert all(m.time() == datetime.min.time() for m in midnights)


def test_run_resumes_the_meter_where_the_simulation_left_it(
    reading: Reading, snapshots: dict[datetime, dict[str, int]]
) -> None:
    end = _end(snapshots)
    before, after = reading.clock_before.replace(tzinfo=None), reading.clock_after
    assert end <= before <= after.replace(tzinfo=None)
    # Speed 1 on the simulated timeline: the meter goes on from there, not from the host clock.
    assert after.replace(tzinfo=None) - end <= timedelta(seconds=reading.seconds + 30)
    assert reading.clock_before.utcoffset() == timedelta(hours=3)  # pmm1220: UTC+3, no DST
    # The registers go on from the last snapshot: never back, never more than the rated
    # maximum (80 A at 253 V) could add meanwhile.
    seconds = (after.replace(tzinfo=None) - end).total_seconds() + 1
    for obis in QUADRANT_TOTALS:
        last = wh(snapshots[end][obis])
        assert last <= reading.registers[obis] <= last + 80 * 253 * seconds / 3600 + 1


def test_billing_profile_holds_13_billing_periods(
    reading: Reading, snapshots: dict[datetime, dict[str, int]]
) -> None:
    end = _end(snapshots)
    points = _first_of_months(end - DAYS * DAY, end)
    assert len(points) >= 13  # 400 days always hold 13 first-of-months
    assert reading.billing_periods == len(points)
    billing = reading.billing
    assert len(billing.entries) == billing.in_use == min(len(points), billing.depth) >= 13
    assert [e.local for e in billing.entries] == points[-len(billing.entries) :]
    assert reading.last_billing == billing.entries[-1].at
    # The household world's grid fails now and then; nothing else marks an entry.
    assert all(e.status & ~EntryStatus.POWER_DOWN == 0 for e in billing.entries)


def test_load_profile_holds_a_year_of_quarter_hours(
    reading: Reading, snapshots: dict[datetime, dict[str, int]]
) -> None:
    load = reading.load
    entries = load.entries
    assert load.period_s == 900
    assert len(entries) >= YEAR_OF_QUARTERS
    assert len(entries) == load.in_use == load.depth  # 400 days fill it; FIFO since
    assert entries[-1].local == _end(snapshots)  # the newest is the last quarter-hour
    for previous, entry in itertools.pairwise(entries):
        # Contiguous quarter-hours; a gap would have to be flagged (power down, clock set).
        flagged = entry.status & (EntryStatus.POWER_DOWN | EntryStatus.CLOCK_ADJUSTED)
        assert entry.at - previous.at == QUARTER or flagged, (previous.at, entry.at)
        for obis in QUADRANT_TOTALS:
            assert entry[obis] >= previous[obis]  # registers never decrease
    # No DST (pmm1220) and no clock setting: only the grid's outages mark entries.
    assert {e.status for e in entries} == {0, int(EntryStatus.POWER_DOWN)}
    assert sum(e[PLUS_A] > p[PLUS_A] for p, e in itertools.pairwise(entries)) > (
        len(entries) // 2
    )  # a household: energy flows in most quarter-hours


def test_billing_entries_equal_the_load_profile_at_the_billing_point(reading: Reading) -> None:
    covered = [e for e in reading.billing.entries if e.at >= reading.load.entries[0].at]
    assert len(covered) >= 12  # a year of load profile spans a year of billing points
    for entry in covered:
        quarter = reading.load.at(entry.local)
        assert {o: entry[o] for o in QUADRANT_TOTALS} == {o: quarter[o] for o in QUADRANT_TOTALS}


def test_billing_cost_is_the_cost_of_the_month_it_closes(reading: Reading) -> None:
    """pmm1220 bills on the 1st at 00:00, where its wallet's month ends: the cost column of
    each billing entry (0.0.96.128.3.255) is the cost of the month before in
    0.0.96.128.2.255 (this month and the 12 before; costs are recorded before any credit)."""
    months = dict(reading.monthly_cost)
    assert len(months) == 13
    closed = [e for e in reading.billing.entries if (e.local - DAY).strftime("%Y-%m") in months]
    assert len(closed) == 12
    for entry in closed:
        assert entry[PERIOD_COST] == months[(entry.local - DAY).strftime("%Y-%m")] > 0


def test_profiles_equal_the_register_snapshots_exactly(
    reading: Reading, snapshots: dict[datetime, dict[str, int]]
) -> None:
    """Every entry captured at a local midnight shows the registers of that midnight's
    snapshot, floored to the Wh: billing (energy per rate, net), daily and load profile."""
    checked = 0
    for profile in (reading.billing, reading.daily, reading.load):
        midnights = [e for e in profile.entries if e.local.time() == datetime.min.time()]
        assert midnights
        for entry in midnights:
            registers = snapshots[entry.local]
            energy = {k: v for k, v in entry.values.items() if ".8." in k}
            assert energy
            assert energy == {k: wh(registers[k]) for k in energy}, entry.local
            checked += len(energy)
    assert checked > 366 * len(QUADRANT_TOTALS)


def test_billing_rates_and_net_energy_add_up(
    reading: Reading, snapshots: dict[datetime, dict[str, int]]
) -> None:
    for entry in reading.billing.entries:
        # Rates 1-3 are all the TOU of pmm1220 uses; the others stay at zero.
        assert all(snapshots[entry.local][f"1.0.1.8.{r}.255"] == 0 for r in range(4, 9))
        rates = sum(entry[f"1.0.1.8.{r}.255"] for r in (1, 2, 3))
        assert 0 <= entry[PLUS_A] - rates <= 2  # three registers, each floored to the Wh
        assert abs(entry[NET_A] - (entry[PLUS_A] - entry[MINUS_A])) <= 1


def test_billing_maximum_demand_is_the_largest_quarter_hour_of_its_month(
    reading: Reading,
) -> None:
    """Block demand over 15 minutes: the maximum of a billing period is the largest
    quarter-hour of +A in the load profile (x4, W), ending in that period."""
    load = reading.load.entries
    billing = reading.billing.entries
    months = 0
    for previous, entry in itertools.pairwise(billing):
        if previous.at <= load[0].at:
            continue  # that month began before the oldest quarter-hour kept
        quarters = [
            (4 * (e[PLUS_A] - p[PLUS_A]), e.at)
            for p, e in itertools.pairwise(load)
            if previous.at < e.at <= entry.at
        ]
        largest = max(w for w, _at in quarters)
        # Each profile value is floored to the Wh: a quarter-hour is known to +-1 Wh = 4 W.
        assert abs(entry[MAX_DEMAND] - largest) <= 4, entry.local
        at = _date_time(entry[MAX_DEMAND_TIME])
        assert previous.at < at <= entry.at
        assert abs(dict((t, w) for w, t in quarters)[at] - entry[MAX_DEMAND]) <= 4
        months += 1
    assert months >= 11


def _check_event_log(obis: str, profile: Profile, since: datetime, until: datetime) -> None:
    """Readable, FIFO within its depth, time-ordered and in the meter's life, and holding only
    the codes docs/events.md puts in this log."""
    assert len(profile.entries) == profile.in_use <= profile.depth == 100
    assert profile.period_s == 0
    stamps = [e.at for e in profile.entries]
    assert stamps == sorted(stamps)
    assert all(since <= s.replace(tzinfo=None) <= until for s in stamps)
    for entry in profile.entries:
        assert LOG_OF[EventCode(entry[EVENT_CODE])] in EVENT_LOGS[obis]


def test_event_logs_are_readable_and_consistent(
    reading: Reading, snapshots: dict[datetime, dict[str, int]]
) -> None:
    end = _end(snapshots)
    assert reading.logs.keys() == EVENT_LOGS.keys()
    for obis, profile in reading.logs.items():
        _check_event_log(obis, profile, end - DAYS * DAY, reading.clock_after.replace(tzinfo=None))
    # The household world's grid failed a few times (scenario grid_outages_per_year): the
    # power quality log, the supply failure counter and the power-down bits of the
    # profiles tell the same story.
    quality = [(e.local, e[EVENT_CODE]) for e in reading.logs[POWER_QUALITY_LOG].entries]
    codes = [code for _, code in quality]
    assert codes == [EventCode.POWER_DOWN, EventCode.POWER_UP] * (len(codes) // 2)
    outages = [(quality[i][0], quality[i + 1][0]) for i in range(0, len(quality), 2)]
    assert reading.supply_failures == len(outages) >= 1
    assert reading.quality_events == len(quality)
    for profile in (reading.load, reading.daily):
        period = QUARTER if profile is reading.load else DAY
        flagged = {e.local for e in profile.entries if e.status & EntryStatus.POWER_DOWN}
        assert flagged == {
            e.local
            for e in profile.entries
            if any(down < e.local and up > e.local - period for down, up in outages)
        }
    assert any(e.status & EntryStatus.POWER_DOWN for e in reading.load.entries)
    # No relay operation, clock setting, token or tamper.
    assert all(not p.entries for obis, p in reading.logs.items() if obis != POWER_QUALITY_LOG)


# -- the same memory with its clock standing still: registers against the newest entries ------


def test_a_stopped_meter_shows_its_newest_entries_in_its_registers(
    memories: dict[str, Memory], tmp_path: Path
) -> None:
    """Resumed with --speed 1e-6 (a meter millisecond every 1000 real seconds), the meter
    stays at the instant the simulation ended, a quarter-hour and a midnight: the registers
    read over DLMS (our own client) equal the newest load-profile and daily entries and the
    last register snapshot, to the Wh."""
    memory = memories["household"].copy(tmp_path / "stopped")
    snapshots = register_snapshots(memory)
    end = _end(snapshots)
    with (
        serving(memory, "--speed", "1e-6") as port,
        DlmsClient(timeout=TIMEOUT_S).connect(
            "127.0.0.1", port, client_sap=READER_SAP, password=READER_SECRET
        ) as meter,
    ):
        clock = _stamp(meter.get(CLOCK, 8))
        registers = {obis: meter.get(obis, 3).value for obis in snapshots[end]}
        newest = {
            obis: (meter.capture_objects(obis), meter.profile(obis, end - 2 * QUARTER, end)[-1])
            for obis in (LOAD_PROFILE, DAILY_PROFILE)
        }
        assert _stamp(meter.get(CLOCK, 8)) == clock  # still standing
    assert clock == end
    # Every energy register of the meter (totals, rates, quadrants, net) to the Wh.
    assert registers == {obis: wh(mwh) for obis, mwh in snapshots[end].items()}
    for obis, (columns, row) in newest.items():
        assert _stamp(row[0]) == end
        captured = {
            str(column.logical_name): value.value
            for column, value in zip(columns, row, strict=True)
            if column.logical_name.d == 8
        }
        assert set(captured) >= {PLUS_A, MINUS_A}
        assert captured == {k: registers[k] for k in captured}, obis


def _stamp(data: Data) -> datetime:
    """A date-time sent as octet-string(12), as the meter's local wall time."""
    assert isinstance(data.value, bytes)
    return CosemDateTime.from_bytes(data.value).to_datetime().replace(tzinfo=None)


# -- power cuts and tamper: the logs, the status bits and the counters agree ----------------------


@pytest.fixture(scope="module")
def with_events(memories: dict[str, Memory]) -> Reading:
    with serving(memories["events"], "--speed", "1e-6") as port:
        return read_meter(port)


def _overlaps(stamp: datetime, cut: tuple[datetime, datetime]) -> bool:
    """The quarter-hour ending at ``stamp`` saw the supply off for some time."""
    return cut[0] < stamp and cut[1] > stamp - QUARTER


def test_power_cuts_are_logged_flagged_and_counted_alike(with_events: Reading) -> None:
    reading = with_events
    start = datetime.fromisoformat(EVENT_START)
    for obis, profile in reading.logs.items():
        _check_event_log(obis, profile, start, start + DAYS * DAY)
    quality = [(e.local, e[EVENT_CODE]) for e in reading.logs[POWER_QUALITY_LOG].entries]
    expected = [
        (when, code)
        for cut in CUTS
        for when, code in ((cut[0], EventCode.POWER_DOWN), (cut[1], EventCode.POWER_UP))
    ]
    assert quality == expected
    assert reading.supply_failures == len(CUTS)

    load = reading.load
    flagged = {e.local for e in load.entries if e.status & EntryStatus.POWER_DOWN}
    assert flagged == {
        e.local for e in load.entries if any(_overlaps(e.local, cut) for cut in CUTS)
    }
    assert len(flagged) == 5 + 8  # 23:15..00:15 and 14:15..16:00
    for entry in load.entries:
        if any(cut[0] <= entry.local - QUARTER and entry.local <= cut[1] for cut in CUTS):
            before = load.at(entry.local - QUARTER)  # a whole quarter-hour without supply
            assert {o: entry[o] for o in QUADRANT_TOTALS} == {o: before[o] for o in QUADRANT_TOTALS}
            assert entry[VOLTAGE] == 0
    # The billing point fell in the first cut: captured all the same, flagged, and equal to
    # the load profile's entry of that instant.
    june = reading.billing.at(datetime(2026, 6, 1))
    assert june.status & EntryStatus.POWER_DOWN
    assert {o: june[o] for o in QUADRANT_TOTALS} == {
        o: load.at(june.local)[o] for o in QUADRANT_TOTALS
    }
    daily_flagged = {e.local for e in reading.daily.entries if e.status & EntryStatus.POWER_DOWN}
    in_daily = {datetime(2026, 12, 11)} & {e.local for e in reading.daily.entries}
    assert daily_flagged == in_daily == {datetime(2026, 12, 11)}


def test_tamper_windows_are_logged_in_the_fraud_log(with_events: Reading) -> None:
    fraud = [(e.local, e[EVENT_CODE]) for e in with_events.logs[FRAUD_LOG].entries]
    assert fraud == [
        (datetime(2026, 8, 15, 10, 0), EventCode.TERMINAL_COVER_REMOVED),
        (datetime(2026, 8, 15, 10, 10), EventCode.TERMINAL_COVER_CLOSED),
        (datetime(2026, 9, 1, 12, 0), EventCode.STRONG_DC_FIELD),
        (datetime(2026, 9, 1, 12, 5), EventCode.NO_STRONG_DC_FIELD),
    ]
    for obis, profile in with_events.logs.items():
        if obis not in (FRAUD_LOG, POWER_QUALITY_LOG, FAILURE_LOG):
            assert not profile.entries, obis


def test_failures_are_logged_and_a_lost_clock_marks_every_entry_after_it(
    with_events: Reading,
) -> None:
    failures = [(e.local, e[EVENT_CODE]) for e in with_events.logs[FAILURE_LOG].entries]
    assert failures == [
        (datetime(2026, 10, 5, 3, 0), EventCode.NV_MEMORY_ERROR),
        (CLOCK_LOST, EventCode.CLOCK_INVALID),
    ]
    for profile in (with_events.load, with_events.daily, with_events.billing):
        invalid = [e.local > CLOCK_LOST for e in profile.entries]
        assert invalid == [bool(e.status & EntryStatus.CLOCK_INVALID) for e in profile.entries]
        assert any(invalid)
