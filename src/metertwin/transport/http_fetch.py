"""The socket under `protocols.http_download`: one connection, one GET, I/O only.

Each event the state machine yields goes to ``on_event`` as soon as its octets arrived, so
the caller commits the image as it comes; a connection that cannot open, stalls or breaks is
an `HttpRefused` another attempt may overcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from metertwin.protocols.http_download import Event, Finished, HttpDownload, HttpRefused, Redirect

READ_SIZE = 64 * 1024
IDLE_TIMEOUT_S = 30.0  # no octet for this long: the attempt has failed


async def fetch(
    download: HttpDownload,
    on_event: Callable[[Event], None],
    timeout_s: float = IDLE_TIMEOUT_S,
) -> Event:
    """Run ``download`` to its last event (`Finished` or `Redirect`), which it returns."""
    url = download.url
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(url.host, url.port), timeout_s
        )
    except (OSError, TimeoutError) as exc:
        raise HttpRefused(f"cannot connect to {url.authority} ({exc})", retryable=True) from None
    try:
        writer.write(download.request())
        await writer.drain()
        while True:
            data = await asyncio.wait_for(reader.read(READ_SIZE), timeout_s)
            for event in download.receive_data(data):
                on_event(event)
                if isinstance(event, Finished | Redirect):
                    return event
    except TimeoutError:
        raise HttpRefused(f"{url.authority} sent nothing for {timeout_s:g} s", True) from None
    except OSError as exc:
        raise HttpRefused(f"the connection to {url.authority} broke ({exc})", True) from None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
