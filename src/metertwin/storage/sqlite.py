"""The meter's non-volatile memory in one SQLite file (WAL, synchronous=FULL).

A commit is one transaction holding the meter's whole state, so a process killed at any
instant restarts from the last commit, never from half of one (architecture principle 5).
A file that is not ours, is corrupt, or was written by another schema version is refused
with a clear message and never written to.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metertwin.meter.profiles import ProfileRecord

SCHEMA_VERSION = 1
APPLICATION_ID = 0x4D54574E  # "MTWN": marks the file as a metertwin meter memory
DB_NAME = "meter.db"
LOCK_NAME = "meter.lock"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE model (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    overrides TEXT NOT NULL
);
CREATE TABLE core_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    now_ms INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE profile_entries (
    profile TEXT NOT NULL,
    seq INTEGER NOT NULL,
    meter_ms INTEGER NOT NULL,
    status INTEGER NOT NULL,
    vals TEXT NOT NULL,
    PRIMARY KEY (profile, seq)
) WITHOUT ROWID;
CREATE INDEX profile_time ON profile_entries (profile, meter_ms);
CREATE TABLE register_snapshots (
    now_ms INTEGER PRIMARY KEY,
    local_time TEXT NOT NULL,
    registers TEXT NOT NULL
);
"""


class StorageError(Exception):
    """The data directory cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class StoredMeter:
    model_source: str
    model_text: str
    model_overrides: dict[str, Any]
    state: dict[str, Any]
    meta: dict[str, str]


class MeterStore:
    """One meter's memory in ``directory``. Holds an exclusive lock while open, so two
    processes never drive the same meter."""

    def __init__(self, directory: Path, connection: sqlite3.Connection, lock_fd: int) -> None:
        self.directory = directory
        self._db = connection
        self._lock_fd = lock_fd

    # -- opening ----------------------------------------------------------------------

    @staticmethod
    def holds_meter(directory: Path) -> bool:
        return (directory / DB_NAME).exists()

    @classmethod
    def open(cls, directory: Path) -> MeterStore:
        """Open the memory in ``directory``, creating an empty one if there is none."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"{directory}: cannot create data directory ({exc.strerror})"
            ) from None
        lock_fd = cls._lock(directory)
        path = directory / DB_NAME
        fresh = not path.exists()
        try:
            connection = cls._connect(path, fresh)
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(directory, connection, lock_fd)

    @staticmethod
    def _lock(directory: Path) -> int:
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StorageError(
                f"{directory}: another metertwin process is using this meter's memory"
            ) from None
        return fd

    @staticmethod
    def _connect(path: Path, fresh: bool) -> sqlite3.Connection:
        mode = "rwc" if fresh else "rw"
        try:
            db = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: cannot open ({exc})") from None
        try:
            if not fresh and MeterStore._blank(db):
                fresh = True  # created, then killed before its schema was committed
            if fresh:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(
                    f"BEGIN; PRAGMA application_id={APPLICATION_ID};"
                    f" PRAGMA user_version={SCHEMA_VERSION}; {_SCHEMA} COMMIT;"
                )
            else:
                MeterStore._check(db, path)
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StorageError(
                f"{path}: not a readable metertwin memory ({exc}); left untouched"
            ) from None
        except StorageError:
            db.close()
            raise
        return db

    @staticmethod
    def _blank(db: sqlite3.Connection) -> bool:
        """An empty database file: no tables and no application id."""
        tables: int = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        app_id: int = db.execute("PRAGMA application_id").fetchone()[0]
        return tables == 0 and app_id == 0

    @staticmethod
    def _check(db: sqlite3.Connection, path: Path) -> None:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise StorageError(f"{path}: not a metertwin meter memory; left untouched")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StorageError(
                f"{path}: written with schema version {version}, this metertwin reads version "
                f"{SCHEMA_VERSION}; left untouched (use a metertwin that matches, or a new --data)"
            )
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise StorageError(f"{path}: corrupt ({verdict}); left untouched")

    def close(self) -> None:
        self._db.close()
        os.close(self._lock_fd)

    def __enter__(self) -> MeterStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- contents ---------------------------------------------------------------------

    def is_empty(self) -> bool:
        count: int = self._db.execute("SELECT COUNT(*) FROM core_state").fetchone()[0]
        return count == 0

    def create(
        self,
        model_source: str,
        model_text: str,
        model_overrides: dict[str, Any],
        state: dict[str, Any],
        meta: dict[str, str],
    ) -> None:
        """Store a new meter: its model file and the config's overrides of it (both fixed
        for the meter's life), its first state and descriptive metadata."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO model (id, source, text, overrides) VALUES (1, ?, ?, ?)",
                (model_source, model_text, _json(model_overrides)),
            )
            self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items())
            )
            self._db.execute(
                "INSERT INTO core_state (id, now_ms, state) VALUES (1, ?, ?)",
                (int(state["now_ms"]), _json(state)),
            )

    def load(self) -> StoredMeter:
        row = self._db.execute("SELECT source, text, overrides FROM model WHERE id = 1").fetchone()
        state_row = self._db.execute("SELECT state FROM core_state WHERE id = 1").fetchone()
        if row is None or state_row is None:
            raise StorageError(f"{self.directory}: holds no meter yet")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        try:
            state = json.loads(state_row[0])
            overrides = json.loads(row[2])
        except json.JSONDecodeError:
            raise StorageError(
                f"{self.directory}: meter state unreadable; left untouched"
            ) from None
        return StoredMeter(row[0], row[1], overrides, state, meta)

    def commit(
        self,
        state: dict[str, Any],
        snapshot: tuple[int, str, dict[str, int]] | None = None,
        meta: dict[str, str] | None = None,
        records: list[ProfileRecord] | None = None,
        depths: dict[str, int] | None = None,
        evicted: list[tuple[str, int]] | None = None,
    ) -> None:
        """Make ``state`` durable in one transaction, with an optional register snapshot
        (now_ms, local time, registers), metadata changes and new or rewritten profile
        entries (each profile in ``depths`` trimmed to its depth, oldest first: FIFO), then
        the (profile, seq) entries the core ``evicted`` deleted."""
        with self._transaction():
            if records:
                self._db.executemany(
                    "INSERT OR REPLACE INTO profile_entries VALUES (?, ?, ?, ?, ?)",
                    [
                        (r.profile, r.seq, r.meter_ms, r.status, _json(list(r.values)))
                        for r in records
                    ],
                )
                newest: dict[str, int] = {}
                for r in records:
                    newest[r.profile] = max(newest.get(r.profile, 0), r.seq)
                for profile, seq in newest.items():
                    depth = (depths or {}).get(profile)
                    if depth is not None:
                        self._db.execute(
                            "DELETE FROM profile_entries WHERE profile = ? AND seq <= ?",
                            (profile, seq - depth),
                        )
            if evicted:
                self._db.executemany(
                    "DELETE FROM profile_entries WHERE profile = ? AND seq = ?", evicted
                )
            self._db.execute(
                "UPDATE core_state SET now_ms = ?, state = ? WHERE id = 1",
                (int(state["now_ms"]), _json(state)),
            )
            if snapshot is not None:
                now_ms, local, registers = snapshot
                self._db.execute(
                    "INSERT OR REPLACE INTO register_snapshots VALUES (?, ?, ?)",
                    (now_ms, local, _json(registers)),
                )
            if meta:
                self._db.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", sorted(meta.items())
                )

    def profile_count(self, profile: str) -> int:
        count: int = self._db.execute(
            "SELECT COUNT(*) FROM profile_entries WHERE profile = ?", (profile,)
        ).fetchone()[0]
        return count

    def profile_between(self, profile: str, first_ms: int, last_ms: int) -> list[ProfileRecord]:
        """Entries captured from ``first_ms`` to ``last_ms`` (meter UTC, both included)."""
        rows = self._db.execute(
            "SELECT seq, meter_ms, status, vals FROM profile_entries "
            "WHERE profile = ? AND meter_ms BETWEEN ? AND ? ORDER BY seq",
            (profile, first_ms, last_ms),
        ).fetchall()
        return [_record(profile, row) for row in rows]

    def profile_entries(self, profile: str, first: int, last: int) -> list[ProfileRecord]:
        """Entries ``first`` to ``last`` (1-based, oldest stored entry first; last inclusive)."""
        rows = self._db.execute(
            "SELECT seq, meter_ms, status, vals FROM profile_entries WHERE profile = ? "
            "ORDER BY seq LIMIT ? OFFSET ?",
            (profile, max(last - first + 1, 0), max(first - 1, 0)),
        ).fetchall()
        return [_record(profile, row) for row in rows]

    def reset_profile(self, profile: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM profile_entries WHERE profile = ?", (profile,))

    def snapshots(self) -> list[tuple[int, str, dict[str, int]]]:
        rows = self._db.execute(
            "SELECT now_ms, local_time, registers FROM register_snapshots ORDER BY now_ms"
        ).fetchall()
        return [(int(t), str(local), json.loads(regs)) for t, local, regs in rows]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


def _record(profile: str, row: tuple[Any, ...]) -> ProfileRecord:
    seq, meter_ms, status, values = row
    return ProfileRecord(profile, int(meter_ms), int(status), tuple(json.loads(values)), int(seq))


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), default=_toml_value)


def _toml_value(value: object) -> str:
    """TOML date-times in config overrides are kept as ISO text."""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"{type(value).__name__} cannot be stored")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
