"""The MeterCom PRO's firmware download in a running meter (seed 004 §5.2; docs/firmware.md).

`tick` is called by the serving loop after every advance: when the core says an attempt is
due, one runs as a task of the meter's event loop. The image's blocks go into the core as
they arrive and are committed at once, so the block table holds every whole block received
and a later attempt, or the meter after a kill, asks ``Range: bytes=N-`` from the first
missing byte. Redirects are followed (to configured hosts only, at most `MAX_REDIRECTS`);
what an attempt could not do goes back to the core (`Download.failed_attempt`), which decides
on meter time when the next one runs. Once the image is whole, the core verifies it (the
class 18 checks) and activates it: the restart, the new version in 0.0.96.1.5.255.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from metertwin.meter.firmware import BLOCK_SIZE, MAX_IMAGE_SIZE, Firmware
from metertwin.meter.firmware_download import DownloadState
from metertwin.protocols.http_download import (
    Body,
    Event,
    HttpDownload,
    HttpRefused,
    HttpUrlError,
    Redirect,
    Start,
    allowed_url,
)
from metertwin.runtime.session import Session
from metertwin.storage.sqlite import CommitError
from metertwin.transport.http_fetch import IDLE_TIMEOUT_S, fetch

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5


class _Superseded(Exception):
    """A new SET started another download while this attempt ran."""


class FirmwareDownloader:
    """Runs the attempts the core of ``session`` asks for, one at a time."""

    def __init__(self, session: Session, timeout_s: float = IDLE_TIMEOUT_S) -> None:
        self.session = session
        self.timeout_s = timeout_s
        self.task: asyncio.Task[None] | None = None
        self._running: tuple[object, int] = (None, 0)  # the firmware and SET it works for

    def tick(self) -> None:
        """Start an attempt if one is due (from the running event loop); stop one that a
        new SET (or a meter put back to its last commit) made pointless, even mid-read."""
        firmware = self.session.meter.firmware
        if self.task is not None:
            if self._running != (firmware, firmware.download.generation):
                self.task.cancel()
            return
        if self.session.read_only:
            return
        if firmware.download.due(self.session.meter.now_ms):
            self._running = (firmware, firmware.download.generation)
            self.task = asyncio.get_running_loop().create_task(self._attempt())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _attempt(self) -> None:
        firmware = self.session.meter.firmware
        download = firmware.download
        generation, before = download.generation, download.received
        try:
            await self._follow(firmware, generation)
        except _Superseded:
            pass
        except CommitError:
            pass  # logged by the session, now read-only: nothing more is acknowledged
        except HttpRefused as refused:
            if download.generation == generation and not self.session.read_only:
                log.warning("firmware download from %s: %s", download.url, refused.reason)
                progressed = download.received > before
                download.failed_attempt(
                    refused.reason, refused.retryable, progressed, self.session.meter.now_ms
                )
                with contextlib.suppress(CommitError):
                    self.session.commit()
        finally:
            self.task = None

    async def _follow(self, firmware: Firmware, generation: int) -> None:
        url = firmware.download.url
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                parsed = allowed_url(url, firmware.download_hosts)
            except HttpUrlError as problem:
                raise HttpRefused(str(problem), retryable=False) from None
            http = HttpDownload(parsed, firmware.download.received)
            log.info("firmware download: GET %s from byte %d", parsed, http.offset)
            sink = _Sink(self.session, firmware, generation)
            last = await fetch(http, sink.on_event, self.timeout_s)
            if not isinstance(last, Redirect):
                sink.finish()
                return
            url = last.location
        raise HttpRefused(f"more than {MAX_REDIRECTS} redirects", retryable=False)


class _Sink:
    """One response's body into the core's blocks, each read committed before the next."""

    def __init__(self, session: Session, firmware: Firmware, generation: int) -> None:
        self.session = session
        self.firmware = firmware
        self.generation = generation
        self.pending = b""  # past the last whole block: kept until the block is whole

    def on_event(self, event: Event) -> None:
        download = self.firmware.download
        if download.generation != self.generation or self.session.meter.firmware is not (
            self.firmware
        ):
            raise _Superseded
        if isinstance(event, Start):
            if event.offset != download.received:  # the whole image where a part was asked
                self.firmware.restart_download()
            if event.total is not None:
                if event.total > MAX_IMAGE_SIZE:
                    raise HttpRefused(f"the image has {event.total} bytes (> 1 MiB)", False)
                download.size = event.total
        elif isinstance(event, Body):
            self.pending += event.data
            if download.received + len(self.pending) > MAX_IMAGE_SIZE:
                raise HttpRefused("the image is larger than 1 MiB", retryable=False)
            whole = len(self.pending) - len(self.pending) % BLOCK_SIZE
            for at in range(0, whole, BLOCK_SIZE):
                number = (download.received + at) // BLOCK_SIZE
                self.firmware.store_downloaded(number, self.pending[at : at + BLOCK_SIZE])
            if whole:
                download.received += whole
                self.pending = self.pending[whole:]
                self.session.commit()

    def finish(self) -> None:
        """The body ended: the last (short) block, the size checked, verification next."""
        download = self.firmware.download
        size = download.received + len(self.pending)
        if download.size and size != download.size:
            raise HttpRefused(f"{size} bytes arrived, the server announced {download.size}", True)
        if size == 0:
            raise HttpRefused("the server sent an empty image", retryable=True)
        if self.pending:
            self.firmware.store_downloaded(download.received // BLOCK_SIZE, self.pending)
        download.received = download.size = size
        download.state = DownloadState.INSTALLING
        self.firmware.finish_download(size, self.session.meter.now_ms)
        self.session.commit()
        log.info("firmware download from %s: %d bytes, verifying", download.url, size)
