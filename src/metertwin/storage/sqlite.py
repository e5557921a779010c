"""The meter's non-volatile memory in one SQLite file (WAL, synchronous=FULL).

A commit is one transaction holding the meter's whole state, so a process killed at any
instant restarts from the last commit, never from half of one (architecture principle 5).
A file that is not ours, is corrupt, or was written by another schema version is refused
with a clear message and never written to.

A directory that has ever held a meter (`EVIDENCE`: the database of any size, its WAL or
shared-memory file, exported registers) must load, or it is refused: an empty or missing
database must never silently become a new meter, whose empty TID store would accept spent
tokens again (issue 19). A new meter is built under `CREATING_NAME` and renamed into place
once whole, so a process killed while creating one leaves no evidence. `--new-meter`
(``new_meter``) moves the evidence aside, never deleting it. A commit the disk refuses raises
`CommitError` and every later commit is refused too: the memory stays at its last commit.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metertwin.meter.profiles import ProfileRecord

SCHEMA_VERSION = 1
APPLICATION_ID = 0x4D54574E  # "MTWN": marks the file as a metertwin meter memory
DB_NAME = "meter.db"
LOCK_NAME = "meter.lock"
CREATING_NAME = "meter.db.new"  # a new meter's memory until it is whole
EXPORT_NAMES = ("registers.csv", "registers.parquet")  # written by `simulate`
EVIDENCE = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", *EXPORT_NAMES)
"""Files that show a directory has held a meter. Not meter.lock: every open creates it first,
also one killed before its new meter was whole."""
SET_ASIDE_PREFIX = "replaced-"
RECOVERY_HINT = (
    f"restore {DB_NAME} together with its {DB_NAME}-wal from a backup, "
    "or pass --new-meter to start a new meter here"
)

# The received blocks of the image being transferred (class 18), one row each, written as
# they are acknowledged: the meter's state keeps only their count and bit-string. Added to
# schema version 1 without a new version: a memory made before it gains the empty table
# when opened (an older metertwin ignores it).
_IMAGE_BLOCKS = """
CREATE TABLE IF NOT EXISTS image_blocks (number INTEGER PRIMARY KEY, value BLOB NOT NULL);
"""

_SCHEMA = (
    """
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
    + _IMAGE_BLOCKS
)


class StorageError(Exception):
    """The data directory cannot be used; the message says why and what to do."""


class CommitError(StorageError):
    """The memory took no commit (disk full, read-only, I/O error): it holds the meter as of
    its last commit, and refuses every later commit of this process."""


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

    def __init__(
        self, directory: Path, connection: sqlite3.Connection, lock_fd: int, creating: bool
    ) -> None:
        self.directory = directory
        self._db = connection
        self._lock_fd = lock_fd
        self._creating = creating  # connected to CREATING_NAME until `create` installs it
        self.failure: str | None = None  # why the memory takes no commit, once it does not

    # -- opening ----------------------------------------------------------------------

    @staticmethod
    def evidence(directory: Path) -> list[str]:
        """The files in ``directory`` that show it has held a meter."""
        return [name for name in EVIDENCE if os.path.lexists(directory / name)]

    @classmethod
    def open(cls, directory: Path, new_meter: bool = False) -> MeterStore:
        """Open the meter's memory in ``directory``; in a directory that has never held a
        meter, a new empty one. ``new_meter``: set aside a missing or damaged memory (refused
        when the memory loads) and start a new one."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"{directory}: cannot create data directory ({exc.strerror})"
            ) from None
        lock_fd = cls._lock(directory)
        try:
            found = cls.evidence(directory)
            if found and new_meter:
                cls._refuse_a_loading_memory(directory)
                cls._set_aside(directory, found)
                found = []
            if not found:
                return cls(directory, cls._connect_new(directory / CREATING_NAME), lock_fd, True)
            return cls(directory, cls._connect_existing(directory, found), lock_fd, False)
        except BaseException:
            os.close(lock_fd)
            raise

    @staticmethod
    def _lock(directory: Path) -> int:
        try:
            fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(
                f"{directory / LOCK_NAME}: cannot open the meter's lock file ({exc.strerror})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StorageError(
                f"{directory}: another metertwin process is using this meter's memory"
            ) from None
        return fd

    @staticmethod
    def _connect_new(path: Path) -> sqlite3.Connection:
        """A new memory at ``path`` (rollback journal until installed): the schema, in one
        transaction; what a killed creation left there before is discarded."""
        for leftover in (path, path.with_name(f"{path.name}-journal")):
            with suppress(FileNotFoundError):
                leftover.unlink()
        try:
            db = sqlite3.connect(f"file:{path}?mode=rwc", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: cannot create ({exc})") from None
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(
                f"BEGIN; PRAGMA application_id={APPLICATION_ID};"
                f" PRAGMA user_version={SCHEMA_VERSION}; {_SCHEMA} COMMIT;"
            )
        except sqlite3.Error as exc:
            db.close()
            raise StorageError(f"{path}: cannot create a new memory ({exc})") from None
        return db

    @classmethod
    def _connect_existing(cls, directory: Path, found: list[str]) -> sqlite3.Connection:
        """The memory in ``directory``, checked first through a read-only connection so that
        a refused one is left exactly as found (a read-write close would checkpoint its WAL)."""
        path = directory / DB_NAME
        if DB_NAME not in found:
            raise StorageError(
                f"{directory}: holds {', '.join(found)} but no {DB_NAME}: it held a meter whose "
                f"memory is gone; refused ({RECOVERY_HINT})"
            )
        cls._inspect(path)
        try:
            db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: cannot open ({exc})") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            # SQLite opens a file it may not write read-only without a word: find out now,
            # with a write rolled back (BEGIN IMMEDIATE alone passes on a read-only WAL file).
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            finally:
                db.execute("ROLLBACK")
            db.execute(_IMAGE_BLOCKS)
        except sqlite3.Error as exc:
            db.close()
            raise StorageError(f"{path}: cannot be written ({exc}); left untouched") from None
        return db

    @classmethod
    def _inspect(cls, path: Path) -> None:
        """Refuse ``path`` unless it is a whole metertwin memory holding a meter."""
        if path.is_file() and path.stat().st_size == 0 and not _has_frames(path):
            raise StorageError(f"{path}: empty (0 bytes); refused ({RECOVERY_HINT})")
        sidecars = [path.with_name(f"{path.name}-{suffix}") for suffix in ("wal", "shm")]
        absent = [sidecar for sidecar in sidecars if not os.path.lexists(sidecar)]
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: cannot open ({exc})") from None
        try:
            cls._check(db, path)
            if db.execute("SELECT COUNT(*) FROM core_state").fetchone()[0] == 0:
                raise StorageError(f"{path}: holds no meter; refused ({RECOVERY_HINT})")
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"{path}: not a readable metertwin memory ({exc}); left untouched ({RECOVERY_HINT})"
            ) from None
        finally:
            db.close()
            _remove_made_sidecars(absent)

    @classmethod
    def _refuse_a_loading_memory(cls, directory: Path) -> None:
        if (directory / DB_NAME).exists():
            try:
                cls._inspect(directory / DB_NAME)
            except StorageError:
                return
            raise StorageError(
                f"{directory}: holds a meter that loads; --new-meter only replaces a missing "
                "or damaged memory (choose another --data for a new meter)"
            )

    @staticmethod
    def _set_aside(directory: Path, found: list[str]) -> None:
        """Move what a damaged memory left into a dated subdirectory: nothing is deleted."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = directory / f"{SET_ASIDE_PREFIX}{stamp}"
        try:
            aside.mkdir()
            for name in found:
                os.replace(directory / name, aside / name)
        except OSError as exc:
            raise StorageError(
                f"{aside}: cannot set the old memory aside ({exc.strerror})"
            ) from None

    @staticmethod
    def _check(db: sqlite3.Connection, path: Path) -> None:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise StorageError(
                f"{path}: not a metertwin meter memory; left untouched ({RECOVERY_HINT})"
            )
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StorageError(
                f"{path}: written with schema version {version}, this metertwin reads version "
                f"{SCHEMA_VERSION}; left untouched (use a metertwin that matches, or a new --data)"
            )
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise StorageError(f"{path}: corrupt ({verdict}); left untouched ({RECOVERY_HINT})")

    def close(self) -> None:
        self._db.close()
        if self._creating:  # never given a meter: nothing to keep
            with suppress(FileNotFoundError):
                (self.directory / CREATING_NAME).unlink()
        os.close(self._lock_fd)

    def __enter__(self) -> MeterStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- contents ---------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self._creating

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
        self._install()

    def _install(self) -> None:
        """The new memory is whole: rename it into place and continue in WAL mode."""
        self._db.close()
        path = self.directory / DB_NAME
        try:
            os.replace(self.directory / CREATING_NAME, path)
            directory_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory_fd)
            finally:
                os.close(directory_fd)
            self._creating = False
            self._db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
        except (OSError, sqlite3.Error) as exc:
            self.failure = f"{path}: cannot install the new meter's memory ({exc})"
            raise CommitError(self.failure) from None

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
        cleared: list[tuple[str, int]] | None = None,
        image_blocks: tuple[bool, dict[int, bytes]] | None = None,
    ) -> None:
        """Make ``state`` durable in one transaction, with an optional register snapshot
        (now_ms, local time, registers), metadata changes and new or rewritten profile
        entries (each profile in ``depths`` trimmed to its depth, oldest first: FIFO), then
        the (profile, seq) entries the core ``evicted`` deleted, then each (profile, seq) of
        ``cleared`` (a programmed load profile emptied): its entries up to seq deleted, in
        the same transaction as the setting that emptied it. ``image_blocks`` (drop all
        first, then these blocks) changes the firmware transfer's block table."""
        with self._transaction():
            if image_blocks is not None:
                dropped, written = image_blocks
                if dropped:
                    self._db.execute("DELETE FROM image_blocks")
                self._db.executemany(
                    "INSERT OR REPLACE INTO image_blocks (number, value) VALUES (?, ?)",
                    sorted(written.items()),
                )
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
            if cleared:
                self._db.executemany(
                    "DELETE FROM profile_entries WHERE profile = ? AND seq <= ?", cleared
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

    def image_blocks(self) -> dict[int, bytes]:
        """The firmware transfer's committed blocks (block number: value)."""
        rows = self._db.execute("SELECT number, value FROM image_blocks").fetchall()
        return {int(number): bytes(value) for number, value in rows}

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

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; a commit the database
        refuses makes this memory refuse every later one (`failure`)."""
        if self.failure is not None:
            raise CommitError(self.failure)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):  # a failed COMMIT may have rolled back already
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.failure = (
                f"{self.directory / DB_NAME}: cannot commit ({exc}); "
                "the memory keeps the meter as of its last commit"
            )
            raise CommitError(self.failure) from None


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


def _has_frames(path: Path) -> bool:
    """A WAL beside ``path`` with content: an empty database may still be whole in it."""
    wal = path.with_name(f"{path.name}-wal")
    return wal.is_file() and wal.stat().st_size > 0


def _remove_made_sidecars(absent: list[Path]) -> None:
    """Reading a WAL-mode database creates its -wal and -shm files: remove those the read
    made, so a refused memory is left exactly as found (and a later look finds no WAL that
    was never the meter's)."""
    for sidecar in absent:
        with suppress(FileNotFoundError):
            if sidecar.name.endswith("-shm") or sidecar.stat().st_size == 0:
                sidecar.unlink()
