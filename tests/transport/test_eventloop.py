"""Which event loop the transports run on (``metertwin.transport.eventloop``): uvloop's when it
is installed, asyncio's own when asked for or when uvloop is missing."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from metertwin.transport import eventloop
from metertwin.transport.eventloop import EVENT_LOOP_VARIABLE, loop_name, new_event_loop, run


async def running_loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVENT_LOOP_VARIABLE, "asyncio")
    assert loop_name() == "asyncio"
    assert run(running_loop_module()).startswith("asyncio")


def test_uvloop_by_default_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(EVENT_LOOP_VARIABLE, raising=False)
    assert loop_name() == "uvloop"
    assert run(running_loop_module()).startswith("uvloop")
    monkeypatch.setenv(EVENT_LOOP_VARIABLE, " UVLOOP ")
    loop = new_event_loop()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()


def test_asyncio_when_uvloop_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        eventloop.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "uvloop" else real_find_spec(name, *args),
    )
    monkeypatch.delenv(EVENT_LOOP_VARIABLE, raising=False)
    assert loop_name() == "asyncio"
    assert run(running_loop_module()).startswith("asyncio")
    monkeypatch.setenv(EVENT_LOOP_VARIABLE, "uvloop")
    with pytest.raises(ValueError, match="uvloop is not installed"):
        loop_name()


def test_an_unknown_loop_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVENT_LOOP_VARIABLE, "trio")
    with pytest.raises(ValueError, match="METERTWIN_EVENT_LOOP='trio'"):
        loop_name()


def test_run_returns_the_result_and_closes_its_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVENT_LOOP_VARIABLE, raising=False)
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> int:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return 42

    assert run(main()) == 42
    assert loops[0].is_closed()
