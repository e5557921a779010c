"""The event loop the meter's servers run on: uvloop's when it is installed, asyncio's otherwise.

uvloop (MIT/Apache-2.0, a dependency of metertwin on Linux) implements the asyncio event loop,
its sockets and its transports in C over libuv. A head-end reading a meter waits for every
answer, so each GET pays one pass through the loop: on the 2-core reference VM, with client and
meter on one CPU, sequential GETs went from about 15,000 to 17,000 a second on uvloop
(``benchmarks/dlms_client.py``, which prints both loops' echo floors).

Nothing in metertwin depends on uvloop: the transports are written against asyncio's
interfaces only and their tests run on both loops. ``METERTWIN_EVENT_LOOP=asyncio`` chooses
asyncio's own loop even when uvloop is installed; ``uvloop`` insists on uvloop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["EVENT_LOOP_VARIABLE", "LoopName", "loop_name", "new_event_loop", "run"]

T = TypeVar("T")

LoopName = Literal["uvloop", "asyncio"]
EVENT_LOOP_VARIABLE = "METERTWIN_EVENT_LOOP"
"""Environment variable naming the loop: ``uvloop``, ``asyncio``, or unset for the best one."""


def loop_name() -> LoopName:
    """The loop :func:`new_event_loop` makes: uvloop when installed, unless the environment
    variable asks for asyncio's."""
    asked = os.environ.get(EVENT_LOOP_VARIABLE, "").strip().lower()
    if asked not in ("", "uvloop", "asyncio"):
        raise ValueError(
            f"{EVENT_LOOP_VARIABLE}={asked!r}: expected 'uvloop', 'asyncio' or nothing"
        )
    if asked == "asyncio":
        return "asyncio"
    if importlib.util.find_spec("uvloop") is not None:
        return "uvloop"
    if asked == "uvloop":
        raise ValueError(f"{EVENT_LOOP_VARIABLE}=uvloop, but uvloop is not installed")
    return "asyncio"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the kind :func:`loop_name` names."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on a loop from :func:`new_event_loop`."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
