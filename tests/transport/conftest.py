"""The transports run on uvloop's event loop when it is installed and on asyncio's own
otherwise (``metertwin.transport.eventloop``): the socket tests run on both."""

from __future__ import annotations

import pytest

from metertwin.transport.eventloop import EVENT_LOOP_VARIABLE


@pytest.fixture(params=["asyncio", "uvloop"])
def event_loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Selects the loop that ``eventloop.run`` makes for this test."""
    kind: str = request.param
    if kind == "uvloop":
        pytest.importorskip("uvloop")
    monkeypatch.setenv(EVENT_LOOP_VARIABLE, kind)
    return kind
