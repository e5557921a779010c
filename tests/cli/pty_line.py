"""A pty whose far end a test drives in a thread: the meter side of a serial line, for
`serial://` targets (the CLI opens the pty's slave path as a user opens /dev/ttyUSB0)."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Serve = Callable[[bytes], bytes]
"""The meter side: octets read from the line -> octets to write back (may be empty)."""


@contextmanager
def pty_served(serve: Serve, idle: Callable[[], bytes] = lambda: b"") -> Iterator[str]:
    """A pty in raw mode; a thread reads its master end, hands what came to ``serve`` and
    writes the answer (``idle`` runs when 20 ms pass without octets). Yields the slave path."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.02)
            data = b""
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # the client closed its end: wait for the next one
                    continue
            answer = serve(data) if data else idle()
            if answer:
                os.write(master, answer)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        thread.join(timeout=5)
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)
