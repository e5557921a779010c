"""Shared fixtures: built-in models and small helpers for exact register checks."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

import pytest

from metertwin.models import DeviceModel, load_model


@pytest.fixture(scope="session")
def az3p() -> DeviceModel:
    return load_model("az3p")


@pytest.fixture(scope="session")
def pmm1220() -> DeviceModel:
    return load_model("pmm1220")


DEFAULT_PORTS = (4059, 8059)
"""`make run`'s DLMS port and the wrapper port of the docs: no test may bind either."""
HOLD_PORTS_VARIABLE = "METERTWIN_HOLD_DEFAULT_PORTS"


@pytest.fixture(scope="session", autouse=True)
def default_ports_taken() -> Iterator[list[int]]:
    """In CI (``METERTWIN_HOLD_DEFAULT_PORTS=1``, set by .ci/run), hold the default ports on
    every address for the whole run, as a `make run` beside `make test` would (issue 11 item
    11): a test or a `metertwin run` started without `--port 0` then fails at once instead of
    only on a busy machine. A port already taken (by a running meter) is the same proof.
    Elsewhere nothing is held, so a `make run` started during the tests can listen."""
    held: list[socket.socket] = []
    ports = DEFAULT_PORTS if os.environ.get(HOLD_PORTS_VARIABLE) == "1" else ()
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("0.0.0.0", port))
            listener.listen(1)
        except OSError:
            listener.close()
            continue
        held.append(listener)
    yield [s.getsockname()[1] for s in held]
    for listener in held:
        with contextlib.suppress(OSError):
            listener.close()
