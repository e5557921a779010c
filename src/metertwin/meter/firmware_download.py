"""The MeterCom PRO's firmware download (seed 004 §5.2; docs/firmware.md): its state in the core.

A SET of the URL in ``0.0.44.0.0.255`` starts a download; the serving layer does the HTTP
(`runtime/firmware_download.py`) and hands the image here block by block, into the same
block table the class 18 transfer fills, so a kill resumes from the first byte not committed.
What is decided here, on meter time: whether an attempt is due, how many failed attempts a
download may take, and how long it waits before the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

MAX_ATTEMPTS = 4  # a failing server is tried 4 times, then the download has failed
RETRY_DELAY_MS = 60_000  # meter time between two failed attempts


class DownloadState(IntEnum):
    """What the download status object shows first (docs/firmware.md)."""

    IDLE = 0
    DOWNLOADING = 1  # an attempt is due or running
    WAITING = 2  # the last attempt failed: the next one is due at ``next_attempt_ms``
    INSTALLING = 3  # the whole image arrived: verification and activation (class 18 status)
    FAILED = 4  # refused or out of attempts: ``last_failure`` says why


@dataclass
class Download:
    """One download at a time; the URL stays readable after it ended."""

    url: str = ""
    state: DownloadState = DownloadState.IDLE
    received: int = 0  # bytes committed in the block table, from the image's first byte
    size: int = 0  # the image's size once the server told it (0: not known yet)
    attempts: int = 0  # failed attempts in a row without progress
    next_attempt_ms: int = 0
    last_failure: str = ""
    generation: int = 0  # grows with each SET: an attempt of an older one stops

    def start(self, url: str, now_ms: int) -> bool:
        """A SET of ``url``: True when this begins a new download (the blocks are dropped);
        the URL being downloaded set again only makes its next attempt due now."""
        if url == self.url and self.state in (DownloadState.DOWNLOADING, DownloadState.WAITING):
            self.state, self.next_attempt_ms = DownloadState.DOWNLOADING, now_ms
            return False
        self.url = url
        self.state = DownloadState.DOWNLOADING
        self.received = self.size = self.attempts = 0
        self.next_attempt_ms = now_ms
        self.last_failure = ""
        self.generation += 1
        return True

    def due(self, now_ms: int) -> bool:
        return self.state in (DownloadState.DOWNLOADING, DownloadState.WAITING) and (
            now_ms >= self.next_attempt_ms
        )

    def failed_attempt(self, reason: str, retryable: bool, progressed: bool, now_ms: int) -> None:
        """An attempt ended without the whole image. One that committed bytes (a dropped
        connection) is resumed at once; others wait, and the last allowed one fails it."""
        self.last_failure = reason
        if not retryable:
            self.state = DownloadState.FAILED
            return
        if progressed:
            self.attempts = 0
            self.state, self.next_attempt_ms = DownloadState.DOWNLOADING, now_ms
            return
        self.attempts += 1
        if self.attempts >= MAX_ATTEMPTS:
            self.state = DownloadState.FAILED
            self.last_failure = f"{reason} ({self.attempts} attempts)"
            return
        self.state, self.next_attempt_ms = DownloadState.WAITING, now_ms + RETRY_DELAY_MS

    def to_state(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "state": int(self.state),
            "received": self.received,
            "size": self.size,
            "attempts": self.attempts,
            "next_attempt_ms": self.next_attempt_ms,
            "last_failure": self.last_failure,
            "generation": self.generation,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> Download:
        """A memory older than the download has none: no download."""
        if state is None:
            return cls()
        return cls(
            str(state["url"]),
            DownloadState(int(state["state"])),
            int(state["received"]),
            int(state["size"]),
            int(state["attempts"]),
            int(state["next_attempt_ms"]),
            str(state["last_failure"]),
            int(state["generation"]),
        )
