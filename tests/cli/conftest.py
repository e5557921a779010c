"""What the CLI tests share: a meter running as a user starts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.cli.running import meter_running


@pytest.fixture(scope="module")
def running_meter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`metertwin run` of the default model (pmm1220), as a user starts it, on a free port."""
    with meter_running(tmp_path_factory.mktemp("meter") / "pmm1220") as port:
        yield port
