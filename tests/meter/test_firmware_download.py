"""The MeterCom PRO download's state in the core (docs/firmware.md): attempts on meter time,
a dropped connection that made progress resumed at once, a refusal for good, the same URL
set again, and the state through the memory."""

from __future__ import annotations

from metertwin.meter.firmware_download import (
    MAX_ATTEMPTS,
    RETRY_DELAY_MS,
    Download,
    DownloadState,
)

URL = "http://127.0.0.1:8080/fw.bin"


def test_failed_attempts_wait_on_meter_time_and_the_last_one_fails() -> None:
    download = Download()
    assert download.start(URL, 1_000)
    now = 1_000
    for attempt in range(1, MAX_ATTEMPTS):
        assert download.due(now)
        download.failed_attempt("HTTP 500", retryable=True, progressed=False, now_ms=now)
        assert download.state is DownloadState.WAITING
        assert not download.due(now + RETRY_DELAY_MS - 1)
        now += RETRY_DELAY_MS
        assert download.attempts == attempt
    download.failed_attempt("HTTP 500", retryable=True, progressed=False, now_ms=now)
    assert download.state is DownloadState.FAILED
    assert not download.due(now + 10 * RETRY_DELAY_MS)
    assert download.last_failure == f"HTTP 500 ({MAX_ATTEMPTS} attempts)"


def test_progress_resumes_at_once_and_a_refusal_ends_it() -> None:
    download = Download()
    download.start(URL, 0)
    download.failed_attempt("refused", retryable=True, progressed=False, now_ms=0)
    download.failed_attempt("dropped", retryable=True, progressed=True, now_ms=5)
    assert (download.state, download.attempts, download.due(5)) == (
        DownloadState.DOWNLOADING,
        0,
        True,
    )
    download.failed_attempt("HTTP/1.0", retryable=False, progressed=False, now_ms=6)
    assert download.state is DownloadState.FAILED


def test_the_same_url_set_again_keeps_the_download_and_another_starts_anew() -> None:
    download = Download()
    assert download.start(URL, 0)
    download.received = 4096
    download.failed_attempt("refused", retryable=True, progressed=False, now_ms=0)
    assert not download.start(URL, 10)  # due now, the 4096 bytes kept
    assert (download.received, download.due(10)) == (4096, True)
    generation = download.generation
    assert download.start(URL + "?v=2", 20)
    assert (download.received, download.generation) == (0, generation + 1)


def test_the_state_goes_through_the_memory() -> None:
    download = Download()
    download.start(URL, 7)
    download.received, download.size = 3072, 20_000
    download.failed_attempt("HTTP 404 Not Found", retryable=True, progressed=False, now_ms=9)
    assert Download.from_state(download.to_state()) == download
    assert Download.from_state(None) == Download()  # a memory from before the download
