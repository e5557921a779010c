"""Non-volatile memory: embedded SQLite, crash-consistent, schema-versioned."""

from metertwin.storage.sqlite import SCHEMA_VERSION, MeterStore, StorageError, StoredMeter

__all__ = ["SCHEMA_VERSION", "MeterStore", "StorageError", "StoredMeter"]
