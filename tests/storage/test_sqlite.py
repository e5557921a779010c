"""The meter's memory: commits are whole, foreign or incompatible files are refused untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.inputs import PhysicalState
from metertwin.models import DeviceModel
from metertwin.storage import SCHEMA_VERSION, MeterStore, StorageError
from metertwin.storage.sqlite import DB_NAME


def _new_store(directory: Path, model: DeviceModel) -> tuple[MeterStore, Meter]:
    meter = Meter(model.spec, utc_ms(2026, 1, 1), "AZ000042")
    store = MeterStore.open(directory)
    store.create(model.source, model.text, {}, meter.to_state(), {"model": model.spec.name})
    return store, meter


def test_commit_and_reload_gives_the_same_meter(tmp_path: Path, az3p: DeviceModel) -> None:
    store, meter = _new_store(tmp_path, az3p)
    inputs = PhysicalState((220.0,) * 3, (900.0, 600.0, 300.0), (100.0,) * 3)
    meter.advance(meter.now_ms + 86_400_000, inputs)
    store.commit(meter.to_state(), (meter.now_ms, "2026-01-02T00:00", {"1.0.1.8.0.255": 42}))
    store.close()
    with MeterStore.open(tmp_path) as reopened:
        stored = reopened.load()
        assert stored.model_text == az3p.text
        assert stored.meta["model"] == "az3p"
        restored = Meter.from_state(az3p.spec, stored.state)
        assert restored.to_state() == meter.to_state()
        assert reopened.snapshots() == [(meter.now_ms, "2026-01-02T00:00", {"1.0.1.8.0.255": 42})]


def test_a_second_process_cannot_open_the_same_memory(tmp_path: Path, az3p: DeviceModel) -> None:
    store, _ = _new_store(tmp_path, az3p)
    try:
        with pytest.raises(StorageError, match="another metertwin process"):
            MeterStore.open(tmp_path)
    finally:
        store.close()


def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    garbage = b"this is not sqlite" * 100
    (tmp_path / DB_NAME).write_bytes(garbage)
    with pytest.raises(StorageError, match="not a readable metertwin memory"):
        MeterStore.open(tmp_path)
    assert (tmp_path / DB_NAME).read_bytes() == garbage


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = (tmp_path / DB_NAME).read_bytes()
    with pytest.raises(StorageError, match="not a metertwin meter memory"):
        MeterStore.open(tmp_path)
    assert (tmp_path / DB_NAME).read_bytes() == before


def test_a_newer_schema_version_is_refused(tmp_path: Path, az3p: DeviceModel) -> None:
    store, _ = _new_store(tmp_path, az3p)
    store.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match=f"schema version {SCHEMA_VERSION + 1}"):
        MeterStore.open(tmp_path)


def test_a_failed_commit_leaves_the_previous_state(tmp_path: Path, az3p: DeviceModel) -> None:
    store, meter = _new_store(tmp_path, az3p)
    before = store.load().state
    bad_state = meter.to_state()
    bad_state["now_ms"] = 1
    bad_state["unserialisable"] = object()
    with pytest.raises(TypeError):
        store.commit(bad_state)
    assert store.load().state == before
    store.close()


def test_a_programmed_profile_is_emptied_in_the_commit_that_holds_the_change(
    tmp_path: Path, az3p: DeviceModel
) -> None:
    """New capture objects empty the buffer (issue 20): entries committed before, and those
    captured but not yet committed, leave in the same transaction as the new setting; entries
    captured after it stay. A commit that fails removes nothing."""
    store, meter = _new_store(tmp_path, az3p)
    profile = "1.0.99.1.0.255"
    inputs = PhysicalState((220.0,) * 3, (900.0, 600.0, 300.0), (100.0,) * 3)
    meter.advance(meter.now_ms + 30 * 60_000, inputs)  # two entries, committed
    store.commit(meter.to_state(), records=meter.recorder.drain())
    meter.advance(meter.now_ms + 15 * 60_000, inputs)  # a third, not yet committed
    meter.program_profile(profile, channels=("clock", "energy:1:0:0"))
    meter.advance(meter.now_ms + 15 * 60_000, inputs)  # the first with the new channels
    records, cleared = meter.recorder.drain(), meter.recorder.drain_cleared()
    assert [r.seq for r in records if r.profile == profile] == [3, 4] and cleared == [(profile, 3)]
    bad_state = meter.to_state()
    bad_state["unserialisable"] = object()
    with pytest.raises(TypeError):
        store.commit(bad_state, records=records, cleared=cleared)
    assert store.profile_count(profile) == 2
    store.commit(meter.to_state(), records=records, cleared=cleared)
    (entry,) = store.profile_entries(profile, 1, 10)
    assert (entry.seq, len(entry.values)) == (4, 2)
    restored = Meter.from_state(az3p.spec, store.load().state)
    assert restored.recorder.specs[profile].channels == ("clock", "energy:1:0:0")
    store.close()
