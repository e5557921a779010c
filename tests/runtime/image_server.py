"""A local web server serving firmware images for the MeterCom PRO download tests, on
127.0.0.1 and a free port, with the behaviours a real one may have."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1000


@dataclass
class Served:
    """What the server serves and what it was asked."""

    images: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # path, Range
    drop_after: int | None = None  # the first whole answer stops after this many bytes
    stall_after: int | None = None  # ... or stalls there until ``release`` is set
    release: threading.Event = field(default_factory=threading.Event)
    chunked: bool = False
    statuses: dict[str, int] = field(default_factory=dict)  # path: an error status
    redirects: dict[str, str] = field(default_factory=dict)  # path: Location

    def ranges(self) -> list[str | None]:
        return [asked for _path, asked in self.requests]


def _handler(served: Served, version: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = version

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked = self.headers.get("Range")
            served.requests.append((self.path, asked))
            if self.path in served.redirects:
                self._empty(302, {"Location": served.redirects[self.path]})
            elif self.path in served.statuses:
                self._empty(served.statuses[self.path], {})
            elif self.path in served.images:
                self._image(served.images[self.path], asked)
            else:
                self._empty(404, {})

        def _empty(self, status: int, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": "0"}.items():
                self.send_header(name, value)
            self.end_headers()

        def _image(self, image: bytes, asked: str | None) -> None:
            start = 0
            found = re.fullmatch(r"bytes=(\d+)-", asked or "")
            if found is not None:
                start = int(found.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(image) - 1}/{len(image)}")
            else:
                self.send_response(200)
            body = image[start:]
            if served.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = served.drop_after if served.drop_after is not None else served.stall_after
            if cut is not None and start == 0:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                if served.stall_after is not None:
                    served.release.wait(30)
                self.close_connection = True
                return
            if not served.chunked:
                self.wfile.write(body)
                return
            for at in range(0, len(body), CHUNK):
                piece = body[at : at + CHUNK]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

    return Handler


@contextmanager
def image_server(served: Served, version: str = "HTTP/1.1") -> Iterator[int]:
    """Serve ``served`` on 127.0.0.1 (``version`` the status line's); yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served, version))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        served.release.set()
        server.shutdown()
        server.server_close()
