"""Small helpers shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """UTC milliseconds of a calendar instant."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)
