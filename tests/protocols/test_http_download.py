"""The MeterCom PRO's HTTP/1.1 GET, sans-IO (seed 004 §5.2: "Lower HTTP versions are not
supported"): the request it makes, the answers it takes (whole, ranged, chunked, redirected)
and those it refuses, fed octet by octet where framing matters (RFC 9112 framing, RFC 9110
§14 ranges)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metertwin.protocols.http_download import (
    Body,
    Event,
    Finished,
    HttpDownload,
    HttpRefused,
    HttpUrlError,
    Redirect,
    Start,
    allowed_url,
    parse_http_url,
)

URL = parse_http_url("http://127.0.0.1:8080/fw/upgrade.bin")


def _feed(download: HttpDownload, answer: bytes, step: int | None = None) -> list[Event]:
    events: list[Event] = []
    pieces = (
        [answer] if step is None else [answer[i : i + step] for i in range(0, len(answer), step)]
    )
    for piece in pieces:
        events += download.receive_data(piece)
    return events


def _body(events: list[Event]) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, Body))


def test_the_request_is_http_1_1_with_host_and_asks_a_range_only_when_resuming() -> None:
    fresh = HttpDownload(URL).request()
    assert fresh.startswith(b"GET /fw/upgrade.bin HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:8080\r\n" in fresh.lower()
    assert b"range" not in fresh.lower()
    resumed = HttpDownload(URL, offset=10240).request()
    assert b"\r\nrange: bytes=10240-\r\n" in resumed.lower()
    assert resumed.endswith(b"\r\n\r\n")


def test_the_manuals_example_url_and_the_refused_ones() -> None:
    """Seed 004 §5.2's example URL; https, ftp, no host, user info, spaces are refused."""
    example = parse_http_url("http://194.134.27.147:95/metercom_pro_fw/upgrade.bin")
    assert (example.host, example.port, example.target) == (
        "194.134.27.147",
        95,
        "/metercom_pro_fw/upgrade.bin",
    )
    assert parse_http_url("http://updates.example/x?v=2").target == "/x?v=2"
    assert str(parse_http_url("http://[::1]:8080/x")) == "http://[::1]:8080/x"
    for bad in ("https://h/x", "ftp://h/x", "http:///x", "http://u:p@h/x", "http://h/a b", ""):
        with pytest.raises(HttpUrlError):
            parse_http_url(bad)


def test_only_the_configured_hosts_are_allowed() -> None:
    assert allowed_url("http://127.0.0.1:9/x", frozenset({"127.0.0.1"})).port == 9
    assert allowed_url("http://Fw.Example:81/x", frozenset({"fw.example:81"})).host == "fw.example"
    with pytest.raises(HttpUrlError):
        allowed_url("http://10.0.0.1/x", frozenset({"127.0.0.1"}))
    with pytest.raises(HttpUrlError):
        allowed_url("http://fw.example:82/x", frozenset({"fw.example:81"}))


@given(st.integers(min_value=1, max_value=40))
def test_a_whole_answer_in_any_pieces(step: int) -> None:
    image = bytes(range(256)) * 3
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 768\r\n\r\n" + image
    events = _feed(HttpDownload(URL), answer, step)
    assert events[0] == Start(0, 768)
    assert _body(events) == image
    assert events[-1] == Finished()


@given(st.integers(min_value=1, max_value=40))
def test_chunked_encoding_is_undone(step: int) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n"
    )
    events = _feed(HttpDownload(URL), answer, step)
    assert events[0] == Start(0, None)
    assert _body(events) == b"hello world!"
    assert events[-1] == Finished()


def test_a_ranged_answer_starts_where_it_was_asked() -> None:
    answer = (
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 4-9/10\r\nContent-Length: 6\r\n\r\n"
    )
    events = _feed(HttpDownload(URL, offset=4), answer + b"456789")
    assert events[0] == Start(4, 10)
    assert _body(events) == b"456789"


def test_a_range_the_server_ignored_starts_from_zero() -> None:
    events = _feed(HttpDownload(URL, offset=4), b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab")
    assert events[0] == Start(0, 2)


def test_a_ranged_answer_for_another_range_is_refused() -> None:
    answer = (
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/10\r\nContent-Length: 10\r\n\r\n"
    )
    with pytest.raises(HttpRefused) as refused:
        _feed(HttpDownload(URL, offset=4), answer)
    assert refused.value.retryable


def test_an_http_1_0_server_is_refused_for_good() -> None:
    """The manual: "Make sure that the web server ... supports the HTTP version 1.1!"."""
    with pytest.raises(HttpRefused) as refused:
        _feed(HttpDownload(URL), b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nab")
    assert not refused.value.retryable
    assert "HTTP/1.0" in refused.value.reason


@pytest.mark.parametrize("status", [404, 500, 503])
def test_an_error_status_may_be_retried(status: int) -> None:
    with pytest.raises(HttpRefused) as refused:
        _feed(HttpDownload(URL), f"HTTP/1.1 {status} Oops\r\nContent-Length: 0\r\n\r\n".encode())
    assert refused.value.retryable
    assert str(status) in refused.value.reason


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_names_an_absolute_location(status: int) -> None:
    answer = f"HTTP/1.1 {status} Moved\r\nLocation: ../v2/fw.bin\r\nContent-Length: 0\r\n\r\n"
    assert _feed(HttpDownload(URL), answer.encode()) == [
        Redirect("http://127.0.0.1:8080/v2/fw.bin")
    ]


def test_a_connection_dropped_mid_body_is_a_retryable_failure() -> None:
    download = HttpDownload(URL)
    events = download.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
    assert _body(events) == b"12345"
    with pytest.raises(HttpRefused) as refused:
        download.receive_data(b"")
    assert refused.value.retryable
    assert "mid-body" in refused.value.reason


@pytest.mark.parametrize(
    "answer",
    [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", b"\x00" * 64],
)
def test_what_is_not_http_is_refused_never_raised_otherwise(answer: bytes) -> None:
    download = HttpDownload(URL)
    with pytest.raises(HttpRefused):
        download.receive_data(answer)
        download.receive_data(b"")


@given(st.binary(max_size=200))
def test_any_octets_end_in_events_or_a_refusal(answer: bytes) -> None:
    download = HttpDownload(URL)
    try:
        download.receive_data(answer)
        download.receive_data(b"")
    except HttpRefused:
        pass


@given(st.text(max_size=80))
def test_any_text_is_a_url_or_refused_as_one(text: str) -> None:
    """What a SET may carry: parsed, or HttpUrlError (the SET's other-reason), nothing else."""
    try:
        url = parse_http_url(text)
    except HttpUrlError:
        return
    assert HttpDownload(url).request().startswith(b"GET /")
