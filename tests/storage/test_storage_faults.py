"""A memory that cannot be trusted or written is refused in one line, never replaced (issue 19).

A directory that has held a meter must load: an empty or missing meter.db must never quietly
become a new meter, whose empty TID store would take spent tokens again. Disk faults are
injected in-process (tests run as root, for whom file permissions stop nothing).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.config import UserConfig
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.errors import CosemError
from metertwin.meter.core import Meter
from metertwin.models import DeviceModel
from metertwin.runtime.serving import SessionBackend
from metertwin.runtime.session import SIMULATED, open_session
from metertwin.storage import MeterStore, StorageError
from metertwin.storage.sqlite import CREATING_NAME, DB_NAME, LOCK_NAME, CommitError

WAL, SHM = f"{DB_NAME}-wal", f"{DB_NAME}-shm"
DISK_FULL = "database or disk is full"
APN = AttributeDescriptor(45, Obis(0, 0, 25, 4, 0), 2)  # metercom-pro, settable by client 1


def _files(directory: Path) -> dict[str, bytes]:
    """Every file in ``directory`` (recursively) and its bytes, to show nothing changed."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def _new_meter(directory: Path, model: DeviceModel) -> Meter:
    """A meter created and committed in ``directory``, the store closed again."""
    meter = Meter(model.spec, utc_ms(2026, 1, 1), "AZ000042")
    with MeterStore.open(directory) as store:
        store.create(model.source, model.text, {}, meter.to_state(), {"model": model.spec.name})
    return meter


class DiskFull(sqlite3.Connection):
    """A connection whose COMMIT the disk refuses once `full` is set, as SQLite reports it."""

    full = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if DiskFull.full and sql == "COMMIT":
            raise sqlite3.OperationalError(DISK_FULL)
        return super().execute(sql, *args)


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[DiskFull]]:
    """Every connection opened from now on is a `DiskFull`; set ``.full`` to fill the disk."""
    connect = sqlite3.connect

    def connect_disk_full(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(*args, factory=DiskFull, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect_disk_full)
    DiskFull.full = False
    yield DiskFull
    DiskFull.full = False


# -- what a directory holds ----------------------------------------------------------------


@pytest.mark.parametrize("with_wal", [False, True], ids=["alone", "with-empty-wal"])
def test_an_empty_meter_db_is_refused_by_name_and_left_as_found(
    tmp_path: Path, with_wal: bool
) -> None:
    (tmp_path / DB_NAME).write_bytes(b"")
    if with_wal:
        (tmp_path / WAL).write_bytes(b"")
    before = _files(tmp_path)
    with pytest.raises(StorageError, match=rf"{DB_NAME}: empty \(0 bytes\); refused") as caught:
        MeterStore.open(tmp_path)
    assert "\n" not in str(caught.value) and "--new-meter" in str(caught.value)
    assert _files(tmp_path) == before | {LOCK_NAME: b""}  # only the lock, as every open makes


def test_a_wal_without_its_database_is_refused(tmp_path: Path, az3p: DeviceModel) -> None:
    _new_meter(tmp_path, az3p)
    (tmp_path / WAL).write_bytes(b"frames of a lost meter")
    (tmp_path / DB_NAME).unlink()
    with pytest.raises(StorageError, match=rf"holds {WAL} but no {DB_NAME}"):
        MeterStore.open(tmp_path)
    assert not (tmp_path / DB_NAME).exists()
    assert (tmp_path / WAL).read_bytes() == b"frames of a lost meter"


def test_exported_registers_alone_show_the_directory_held_a_meter(tmp_path: Path) -> None:
    (tmp_path / "registers.csv").write_text("utc_ms,local_time\n")
    with pytest.raises(StorageError, match=rf"holds registers.csv but no {DB_NAME}"):
        MeterStore.open(tmp_path)
    assert not (tmp_path / DB_NAME).exists()


def test_a_database_killed_before_its_meter_was_stored_is_refused(tmp_path: Path) -> None:
    """Whole schema, no meter: from before atomic creation, or a meter.db emptied by hand."""
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA application_id=0x4D54574E")
    db.execute("PRAGMA user_version=1")
    db.execute("CREATE TABLE core_state (id INTEGER PRIMARY KEY, now_ms INTEGER, state TEXT)")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match="holds no meter; refused"):
        MeterStore.open(tmp_path)


@pytest.mark.parametrize("owner", ["foreign", "metertwin"])
def test_a_refused_wal_mode_database_gets_no_wal_or_shm_beside_it(
    tmp_path: Path, owner: str
) -> None:
    """Reading a WAL-mode file makes its -wal and -shm: a refusal must take them away again,
    or the directory holds a 'WAL' that was never a meter's."""
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA journal_mode=WAL")
    if owner == "metertwin":
        db.execute("PRAGMA application_id=0x4D54574E")
        db.execute("PRAGMA user_version=1")
        db.execute("CREATE TABLE core_state (id INTEGER PRIMARY KEY, now_ms INTEGER, state TEXT)")
    else:
        db.execute("CREATE TABLE photos (name TEXT)")
    db.commit()
    db.close()
    before = _files(tmp_path)
    assert WAL not in before and SHM not in before
    with pytest.raises(StorageError):
        MeterStore.open(tmp_path)
    assert _files(tmp_path) == before | {LOCK_NAME: b""}


@pytest.mark.parametrize("make", [lambda d: d / "new", lambda d: d])
def test_a_fresh_directory_gets_a_new_meter_without_any_option(
    tmp_path: Path, az3p: DeviceModel, make: Any
) -> None:
    directory: Path = make(tmp_path)
    with MeterStore.open(directory) as store:
        assert store.is_empty()
        meter = Meter(az3p.spec, utc_ms(2026, 1, 1), "AZ000042")
        store.create(az3p.source, az3p.text, {}, meter.to_state(), {})
    assert not (directory / CREATING_NAME).exists()  # built aside, renamed into place
    with MeterStore.open(directory) as store:
        assert Meter.from_state(az3p.spec, store.load().state).to_state() == meter.to_state()


def test_a_memory_never_given_a_meter_leaves_no_trace(tmp_path: Path) -> None:
    """A process that opens a new memory and stops before creating a meter (as one killed
    while creating) leaves nothing that would refuse the next open."""
    MeterStore.open(tmp_path).close()
    assert MeterStore.evidence(tmp_path) == []
    MeterStore.open(tmp_path).close()


# -- --new-meter ---------------------------------------------------------------------------


def test_new_meter_sets_a_damaged_memory_aside_and_starts_a_new_one(
    tmp_path: Path, az3p: DeviceModel
) -> None:
    (tmp_path / DB_NAME).write_bytes(b"")
    (tmp_path / WAL).write_bytes(b"")
    (tmp_path / "registers.csv").write_text("old export\n")
    with MeterStore.open(tmp_path, new_meter=True) as store:
        assert store.is_empty()
        meter = Meter(az3p.spec, utc_ms(2026, 1, 1), "1")
        store.create(az3p.source, az3p.text, {}, meter.to_state(), {})
    (aside,) = tmp_path.glob("replaced-*")
    assert _files(aside) == {DB_NAME: b"", WAL: b"", "registers.csv": b"old export\n"}
    assert not (tmp_path / "registers.csv").exists()
    with MeterStore.open(tmp_path) as store:  # the new meter loads without the option
        assert store.load().state["serial_number"] == "1"


def test_new_meter_refuses_to_replace_a_memory_that_loads(
    tmp_path: Path, az3p: DeviceModel
) -> None:
    _new_meter(tmp_path, az3p)
    before = (tmp_path / DB_NAME).read_bytes()
    with pytest.raises(StorageError, match="holds a meter that loads; --new-meter only"):
        MeterStore.open(tmp_path, new_meter=True)
    assert (tmp_path / DB_NAME).read_bytes() == before
    assert list(tmp_path.glob("replaced-*")) == []


# -- the disk ------------------------------------------------------------------------------


def test_a_lock_file_that_cannot_be_opened_is_one_storage_error(tmp_path: Path) -> None:
    # A directory in the lock's place: chmod would not do, the tests run as root.
    (tmp_path / LOCK_NAME).mkdir()
    with pytest.raises(StorageError, match=rf"{LOCK_NAME}: cannot open the meter's lock file"):
        MeterStore.open(tmp_path)


def test_a_read_only_database_is_refused_before_anything_runs(
    tmp_path: Path, az3p: DeviceModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite opens a file it may not write read-only without a word; the store finds out on
    opening. Every connection is made read-only here (root ignores a read-only file)."""
    _new_meter(tmp_path, az3p)
    before = (tmp_path / DB_NAME).read_bytes()
    connect = sqlite3.connect

    def read_only(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(database.split("?")[0] + "?mode=ro", *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    with pytest.raises(StorageError, match=rf"{DB_NAME}: cannot be written .*left untouched"):
        MeterStore.open(tmp_path)
    assert (tmp_path / DB_NAME).read_bytes() == before


def test_a_commit_the_disk_refuses_keeps_the_last_commit(
    tmp_path: Path, az3p: DeviceModel, disk_full: type[DiskFull]
) -> None:
    meter = _new_meter(tmp_path, az3p)
    committed = json.loads(json.dumps(meter.to_state()))  # as stored: keys are strings
    store = MeterStore.open(tmp_path)
    later = dict(committed, now_ms=committed["now_ms"] + 60_000)
    disk_full.full = True
    with pytest.raises(CommitError, match=rf"cannot commit \({DISK_FULL}\)"):
        store.commit(later)
    disk_full.full = False
    with pytest.raises(CommitError):  # once refused, refused until restarted
        store.commit(later)
    assert store.load().state == committed
    store.close()
    with MeterStore.open(tmp_path) as reopened:
        assert reopened.load().state == committed


def test_a_running_meter_whose_commit_fails_turns_read_only(
    tmp_path: Path, disk_full: type[DiskFull], caplog: pytest.LogCaptureFixture
) -> None:
    session = open_session(
        tmp_path, "metercom-pro", UserConfig(), "idle", None, lambda _m: 0, SIMULATED
    )
    try:
        backend = SessionBackend(session)
        policy = backend.association_policy(1)
        assert policy is not None
        context = AssociationContext(policy, 1, 1, policy.conformance, 1024, 1024, True)
        old = backend.get(context, APN, None)
        disk_full.full = True
        with caplog.at_level(logging.ERROR):
            for apn in (b"m2m.operator", b"other.operator"):
                with pytest.raises(CosemError) as caught:
                    backend.set(context, APN, None, Data.octet_string(apn))
                assert caught.value.result is DataAccessResult.TEMPORARY_FAILURE
            assert session.read_only
            assert backend.get(context, APN, None) == old
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and DISK_FULL in errors[0].getMessage()
        assert "read-only" in errors[0].getMessage()
    finally:
        session.close()
    disk_full.full = False
    with MeterStore.open(tmp_path) as store:
        assert "0.0.25.4.0.255/2" not in store.load().state.get("parameters", {})


def test_simulate_on_a_full_disk_says_so_in_one_line_and_exits_2(
    tmp_path: Path,
    disk_full: type[DiskFull],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first midnight's commit fails: one line from main, not also the serving meter's
    'read-only until restarted' (simulate does not go on)."""
    from metertwin.cli import main

    assert main(["simulate", "--data", str(tmp_path), "--days", "0.01", "--progress", "none"]) == 0
    capsys.readouterr()
    disk_full.full = True
    code = main(["simulate", "--data", str(tmp_path), "--days", "2", "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"metertwin: error: {tmp_path / DB_NAME}: cannot commit ({DISK_FULL}); "
        "the memory keeps the meter as of its last commit"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
