"""One HTTP/1.1 GET of a firmware image, sans-IO, on h11 (the MeterCom PRO download, seed 004 §5.2).

`HttpDownload` makes the request (with ``Range: bytes=N-`` when resuming from byte N) and
turns the octets the server sends into events: where the body starts in the image and how big
the image is (`Start`), the body's octets (`Body`, chunked encoding already undone),
its end (`Finished`), or a redirect (`Redirect`). What the module does not accept raises
`HttpRefused`, saying whether another attempt may succeed: an HTTP/1.0 answer (the manual:
"Lower HTTP versions are not supported"), an error status, a connection dropped mid-body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import h11

USER_AGENT = b"metertwin-metercom-pro"
REDIRECTS = (301, 302, 303, 307, 308)
_CONTENT_RANGE = re.compile(rb"^bytes (\d+)-(\d+)/(\d+|\*)$")
MAX_HEADER_BYTES = 16 * 1024


class HttpUrlError(ValueError):
    """A URL the module cannot download from."""


class HttpRefused(Exception):
    """An attempt that did not bring the image; ``retryable``: another attempt may."""

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class HttpUrl:
    host: str
    port: int
    target: str  # path and query, what the request line asks for

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return host if self.port == 80 else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"http://{self.authority}{self.target}"


def parse_http_url(text: str) -> HttpUrl:
    """An ``http://host[:port]/path`` URL; anything else (https, no host, user info, spaces)
    is refused: the module speaks plain HTTP only."""
    try:
        parts = urlsplit(text)
        port = parts.port or 80
    except ValueError as exc:
        raise HttpUrlError(f"{text!r} is not a URL ({exc})") from None
    if parts.scheme.lower() != "http":
        raise HttpUrlError(f"{text!r}: only http:// URLs are downloaded")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise HttpUrlError(f"{text!r}: expected http://host[:port]/path")
    if not text.isascii() or any(c.isspace() or not c.isprintable() for c in text):
        raise HttpUrlError(f"{text!r}: a URL is printable ASCII without spaces")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return HttpUrl(parts.hostname, port, target)


def allowed_url(text: str, hosts: frozenset[str]) -> HttpUrl:
    """``text`` parsed, when its host (or host:port) is one the user allows downloads from."""
    url = parse_http_url(text)
    if url.host.lower() not in hosts and f"{url.host}:{url.port}".lower() not in hosts:
        raise HttpUrlError(f"{url.host} is not one of the hosts downloads are allowed from")
    return url


@dataclass(frozen=True)
class Start:
    offset: int  # where the body's first octet is in the image
    total: int | None  # the image's size, when the server says it


@dataclass(frozen=True)
class Body:
    data: bytes


@dataclass(frozen=True)
class Finished:
    pass


@dataclass(frozen=True)
class Redirect:
    location: str  # absolute


Event = Start | Body | Finished | Redirect


class HttpDownload:
    """A GET of ``url`` from byte ``offset`` on one connection (``Connection: close``)."""

    def __init__(self, url: HttpUrl, offset: int = 0) -> None:
        self.url = url
        self.offset = offset
        self._connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
        self._started = False
        self._request: bytes | None = None

    def request(self) -> bytes:
        """The request's octets (the same ones however often asked)."""
        if self._request is None:
            self._request = self._make_request()
        return self._request

    def _make_request(self) -> bytes:
        headers = [
            (b"Host", self.url.authority.encode()),
            (b"User-Agent", USER_AGENT),
            (b"Accept", b"*/*"),
            (b"Connection", b"close"),
        ]
        if self.offset:
            headers.append((b"Range", f"bytes={self.offset}-".encode()))
        request = h11.Request(method="GET", target=self.url.target.encode(), headers=headers)
        return self._connection.send(request) + (self._connection.send(h11.EndOfMessage()) or b"")

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed what the socket read (``b""``: the server closed); the events it completes."""
        self._connection.receive_data(data)
        events: list[Event] = []
        while True:
            try:
                event = self._connection.next_event()
            except h11.RemoteProtocolError as exc:
                raise self._broken(f"the server's answer is not HTTP ({exc})") from None
            if event is h11.NEED_DATA:
                if not data:  # closed and nothing more will come
                    raise self._broken("the server closed the connection")
                return events
            if event is h11.PAUSED:
                return events
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                answered = self._response(event)
                events.append(answered)
                if isinstance(answered, Redirect):
                    return events
            elif isinstance(event, h11.Data):
                events.append(Body(bytes(event.data)))
            elif isinstance(event, h11.EndOfMessage):
                events.append(Finished())
                return events
            elif isinstance(event, h11.ConnectionClosed):
                raise self._broken("the server closed the connection")

    def _broken(self, reason: str) -> HttpRefused:
        where = "mid-body" if self._started else "before answering"
        return HttpRefused(f"{reason} {where}", retryable=True)

    def _response(self, response: h11.Response) -> Start | Redirect:
        if response.http_version != b"1.1":
            version = response.http_version.decode("ascii", "replace")
            raise HttpRefused(f"the server speaks HTTP/{version}, not HTTP/1.1", retryable=False)
        headers = {name.lower(): value for name, value in response.headers}
        status = response.status_code
        if status in REDIRECTS:
            location = headers.get(b"location")
            if location is None:
                raise HttpRefused(f"HTTP {status} without a Location", retryable=True)
            return Redirect(urljoin(str(self.url), location.decode("ascii", "replace")))
        if status == 200:
            self._started = True
            return Start(0, _length(headers.get(b"content-length")))
        if status == 206:
            self._started = True
            return self._partial(headers.get(b"content-range"))
        reason = response.reason.decode("ascii", "replace")
        raise HttpRefused(f"HTTP {status} {reason}".strip(), retryable=True)

    def _partial(self, content_range: bytes | None) -> Start:
        found = _CONTENT_RANGE.match(content_range or b"")
        if found is None or int(found.group(1)) != self.offset:
            raise HttpRefused("HTTP 206 for another range than the one asked", retryable=True)
        total = found.group(3)
        return Start(self.offset, None if total == b"*" else int(total))


def _length(value: bytes | None) -> int | None:
    return None if value is None else int(value)  # h11 checked it is digits
