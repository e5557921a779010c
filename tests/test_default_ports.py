"""In CI the suite runs as if `make run` were open beside it (issue 11 item 11): the default
ports are held for the whole session (tests/conftest.py), so a test that binds one fails."""

from __future__ import annotations

import asyncio
import os

import pytest
from tests.conftest import DEFAULT_PORTS, HOLD_PORTS_VARIABLE


@pytest.mark.skipif(
    os.environ.get(HOLD_PORTS_VARIABLE) != "1", reason="the ports are held in CI (.ci/run)"
)
@pytest.mark.parametrize("port", DEFAULT_PORTS)
def test_a_default_port_cannot_be_bound_during_the_suite(port: int) -> None:
    """Bound as asyncio's server binds (SO_REUSEADDR), on the loopback address the tests use."""

    async def bind() -> None:
        server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", port)
        server.close()
        await server.wait_closed()

    with pytest.raises(OSError):
        asyncio.run(bind())
