"""Load profile 1 in the meter's memory (issue 5): what one capture costs, and what a year of
it weighs on disk.

Profile 1 is the default model's (pmm1220) `1.0.99.1.0.255`: every 15 minutes, 8 channels
(clock, status, +A, -A, +R, -R, voltage, current); a year is 35,040 rows.

(a) The cost of one capture, in µs:
    - the core producing the record: on demand (`Meter.capture_now`, class 7 method 2) and
      as scheduled inside `Meter.feed` over 91 days of household load (the time spent in
      `Meter._capture`, where both end up; the stop every 15 minutes is the block demand's
      as much as the profile's, so it is not counted);
    - storage writing it the way the runtime does (`Session.commit`: the recorder's outbox
      drained into `MeterStore.commit`, one transaction with the whole state): a day of
      captures in one commit (`metertwin simulate` commits at every local midnight) and one
      capture in a tick's commit (`metertwin run` commits every tick).
(b) The disk size of a year of profile 1: the core's records of a simulated year written day
    by day into a fresh memory (bytes per row, table and index apart when SQLite has the
    dbstat table), and the memory a user gets from `metertwin simulate` of a year.
Run with `python -m benchmarks.profile_store` from the repository root.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import header, simulate
from metertwin.meter.core import Meter
from metertwin.meter.profiles import ProfileRecord, ProfileSpec
from metertwin.models import DeviceModel, load_model
from metertwin.sim import Scenario, WorldSite, load_scenario
from metertwin.storage import MeterStore
from metertwin.storage.sqlite import DB_NAME

MODEL = "pmm1220"
PROFILE_1 = "1.0.99.1.0.255"
DAY_MS = 86_400_000
QUARTER_MS = 900_000
START = datetime(2025, 12, 31, 21, 0, tzinfo=UTC)  # 2026-01-01 00:00 on the meter (UTC+3)
START_MS = int(START.timestamp() * 1000)
FEED_DAYS = 91
REPEATS = 3
DIRECT_CAPTURES = 20_000
TICK_COMMITS = 300


def _scenario(model: DeviceModel) -> Scenario:
    spec = model.spec
    site = WorldSite(
        phases=spec.ratings.phases,
        nominal_voltage_v=spec.ratings.nominal_voltage_v,
        frequency_hz=spec.ratings.frequency_hz,
        utc_offset_minutes=spec.clock.utc_offset_minutes,
        latitude=model.world.latitude,
        longitude=model.world.longitude,
    )
    return load_scenario("household", site, {"annual_kwh": model.world.annual_kwh})


def core_capture(model: DeviceModel, scenario: Scenario) -> None:
    spec = model.spec
    days = [
        scenario.series(START_MS + d * DAY_MS, START_MS + (d + 1) * DAY_MS)
        for d in range(FEED_DAYS)
    ]
    meter = Meter(spec, START_MS)
    meter.feed(days[0])
    meter.recorder.drain()
    direct = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(DIRECT_CAPTURES):
            meter.capture_now(PROFILE_1)
        direct = min(direct, (time.perf_counter() - t0) / DIRECT_CAPTURES)
        assert len(meter.recorder.drain()) == DIRECT_CAPTURES

    # The scheduled captures inside feed, timed where the core makes them (Meter._capture,
    # wrapped on this instance only), so the figure is not lost in the noise of a whole feed.
    spent: list[float] = []
    meter = Meter(spec, START_MS)
    capture = meter._capture

    def timed(profile: ProfileSpec, stamp_ms: int) -> None:
        t0 = time.perf_counter()
        capture(profile, stamp_ms)
        if profile.name == PROFILE_1:
            spent.append(time.perf_counter() - t0)

    meter._capture = timed  # type: ignore[method-assign]
    t0 = time.perf_counter()
    for series in days:
        meter.feed(series)
        meter.recorder.drain()
    feed_s = time.perf_counter() - t0
    scheduled = statistics.median(spent)
    print(
        f"   core, one record on demand (Meter.capture_now, best of {REPEATS} x "
        f"{DIRECT_CAPTURES:,}): {direct * 1e6:5.1f} µs"
    )
    print(
        f"   core, scheduled captures in feed ({FEED_DAYS} days of household load, "
        f"{len(spent):,} captures): median {scheduled * 1e6:5.1f} µs, mean "
        f"{statistics.fmean(spent) * 1e6:5.1f} µs  ({sum(spent) / feed_s:.0%} of the feed)"
    )


def _year_of_records(
    model: DeviceModel, scenario: Scenario
) -> tuple[list[list[ProfileRecord]], Meter]:
    """Profile 1's records of a simulated year, day by day, as the recorder produced them."""
    meter = Meter(model.spec, START_MS)
    days: list[list[ProfileRecord]] = []
    for d in range(365):
        meter.feed(scenario.series(START_MS + d * DAY_MS, START_MS + (d + 1) * DAY_MS))
        days.append([r for r in meter.recorder.drain() if r.profile == PROFILE_1])
    return days, meter


def _new_store(directory: Path, model: DeviceModel, meter: Meter) -> MeterStore:
    store = MeterStore.open(directory)
    store.create(model.source, model.text, {}, meter.to_state(), {"model": model.spec.name})
    return store


def _sizes(path: Path) -> dict[str, int]:
    """Bytes per table and index (dbstat), or {} when SQLite was built without it."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:
        rows = []
    finally:
        db.close()
    return {str(name): int(size) for name, size in rows}


def storage(model: DeviceModel, scenario: Scenario) -> None:
    days, meter = _year_of_records(model, scenario)
    rows = sum(len(day) for day in days)
    state = meter.to_state()
    depths = {p.name: p.depth for p in model.spec.profiles}
    with tempfile.TemporaryDirectory() as tmp:
        empty_dir, year_dir = Path(tmp) / "empty", Path(tmp) / "year"
        _new_store(empty_dir, model, meter).close()
        empty = (empty_dir / DB_NAME).stat().st_size

        store = _new_store(year_dir, model, meter)
        t0 = time.perf_counter()
        for records in days:  # Session.commit at each local midnight of `simulate`
            store.commit(state, None, None, records, depths)
        year_s = time.perf_counter() - t0
        store.close()  # the last connection checkpoints the WAL into meter.db
        full = (year_dir / DB_NAME).stat().st_size
        sizes = _sizes(year_dir / DB_NAME)

        # `run`: a commit every tick; one tick in 900 carries a capture.
        store = MeterStore.open(year_dir)
        last = days[-1][-1]
        bare: list[float] = []
        carrying: list[float] = []
        for i in range(1, TICK_COMMITS + 1):
            t0 = time.perf_counter()
            store.commit(state)
            bare.append(time.perf_counter() - t0)
            record = ProfileRecord(
                PROFILE_1, last.meter_ms + i * QUARTER_MS, 0, last.values, last.seq + i
            )
            t0 = time.perf_counter()
            store.commit(state, None, None, [record], depths)
            carrying.append(time.perf_counter() - t0)
        store.close()

    per_day = year_s / len(days)
    bare_ms, carrying_ms = statistics.median(bare) * 1e3, statistics.median(carrying) * 1e3
    print(
        f"   storage, a day in one commit (simulate): {per_day * 1e3:5.2f} ms per commit of "
        f"{rows // len(days)} records = {year_s / rows * 1e6:5.1f} µs per capture"
    )
    print(
        f"   storage, a tick's commit (run, median of {TICK_COMMITS}): {bare_ms:5.2f} ms bare, "
        f"{carrying_ms:5.2f} ms with one capture = {(carrying_ms - bare_ms) * 1e3:5.0f} µs "
        f"per capture"
    )
    print(
        f"   disk, a year of profile 1 ({rows:,} rows) written by the runtime's commits: "
        f"{full - empty:,} bytes = {(full - empty) / 1e6:.2f} MB, {(full - empty) / rows:.0f} "
        f"bytes per row (empty memory {empty:,} bytes)"
    )
    if sizes:
        table, index = sizes.get("profile_entries", 0), sizes.get("profile_time", 0)
        print(
            f"      of which the table {table / rows:.0f} and the time index "
            f"{index / rows:.0f} bytes per row (SQLite dbstat)"
        )


def user_year(model: DeviceModel) -> None:
    """A year of the default model as a user makes it: `metertwin simulate`."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / MODEL
        t0 = time.perf_counter()
        simulate(MODEL, str(data), "2026-01-01T00:00", "2027-01-01T00:00")
        elapsed = time.perf_counter() - t0
        path = data / DB_NAME
        size = path.stat().st_size
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT COUNT(*) FROM profile_entries WHERE profile = ?", (PROFILE_1,)
            ).fetchone()[0]
        finally:
            db.close()
        sizes = _sizes(path)
    print(
        f"   disk, `metertwin simulate` of a year ({elapsed:.1f} s): meter.db {size:,} bytes = "
        f"{size / 1e6:.2f} MB with {rows:,} rows of profile 1, the other profiles, the daily "
        f"register snapshots and the state"
    )
    if sizes:
        snapshots = sizes.get("register_snapshots", 0)
        entries = sizes.get("profile_entries", 0) + sizes.get("profile_time", 0)
        print(
            f"      profile entries (all profiles) {entries / 1e6:.2f} MB, "
            f"register snapshots {snapshots / 1e6:.2f} MB"
        )


def main() -> None:
    header("profile store: cost of a capture, disk size of a year of profile 1 (15 min, 8 ch)")
    model = load_model(MODEL)
    scenario = _scenario(model)
    core_capture(model, scenario)
    storage(model, scenario)
    user_year(model)


if __name__ == "__main__":
    main()
