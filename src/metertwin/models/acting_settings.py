"""Settings in parameter memory that the meter acts on (limiters, monitors, schedules).

Every SET is first interpreted together with the other stored settings; only if the meter
can act on the result is the value stored and the result installed in the core, so what a
head-end reads back is what the meter does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from metertwin.codec.axdr import Data
from metertwin.cosem.errors import CosemError
from metertwin.cosem.objects import Binding, Request, Setter

T = TypeVar("T")


def act_on_settings(
    attributes: dict[int, Binding],
    readers: dict[int, Callable[[], Data]],
    derive: Callable[[dict[int, Data]], T],
    install: Callable[[T], None],
    idle: T,
) -> None:
    """Wrap the writable ``attributes`` so each SET goes through ``derive`` (which raises
    CosemError to refuse) before it is stored and ``install``ed; install the stored settings
    now, or ``idle`` when they cannot be acted on."""

    def current() -> dict[int, Data]:
        return {index: read() for index, read in readers.items()}

    for index, binding in list(attributes.items()):
        if binding.set is None:
            continue

        def put(
            request: Request, value: Data, index: int = index, inner: Setter = binding.set
        ) -> None:
            values = current()
            values[index] = value
            derived = derive(values)  # refuses what the meter could not act on
            inner(request, value)
            install(derived)

        attributes[index] = Binding(get=binding.get, set=put)
    try:
        derived = derive(current())
    except CosemError:  # stored settings it cannot act on: it stays idle
        derived = idle
    install(derived)
