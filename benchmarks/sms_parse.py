"""SMS commands parsed per second (issue 14 figure: >= 50,000/s), and executed on a meter.

Parsing is what the module does with each received SMS; a fleet of modules receives many.
Run with `python -m benchmarks.sms_parse` from the repository root.
"""

from __future__ import annotations

import contextlib
import time

from benchmarks.common import header
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.mcp_module import McpModule
from metertwin.protocols.mcp_sms import SmsRefused, handle, parse

COUNT = 50_000
TARGET_PER_S = 50_000
TEXTS = [
    "MCP INFO PWD=HELLO",
    "MCP CNF PWD=HELLO APN=internet.t-mobile.cz; DUSR=internet; DPWD=; IP=10.0.25.30;"
    " PORT=58600; RINT=2;",
    "MCP CNF PWD=HELLO APN=(my apn) RINT=25",
    "MCP RESET PWD=HELLO",
    "mcp info pwd=hello",
]


def _parse_all(texts: list[str]) -> None:
    for text in texts:
        with contextlib.suppress(SmsRefused):
            parse(text)


def main() -> None:
    header("SMS configuration: commands parsed, and executed on a meter, per second")
    texts = [TEXTS[i % len(TEXTS)] for i in range(COUNT)]
    start = time.perf_counter()
    _parse_all(texts)
    parsed = COUNT / (time.perf_counter() - start)
    model = load_model("metercom-pro")
    module = McpModule(Meter(model.spec, 1_780_000_000_000, "11620371"), model)
    start = time.perf_counter()
    for text in texts:
        handle(text, module)
    handled = COUNT / (time.perf_counter() - start)
    print(
        f"   parse   {parsed:10,.0f} SMS/s"
        f" (target {TARGET_PER_S:,}/s: x{parsed / TARGET_PER_S:.2f})"
        f"   execute {handled:10,.0f} SMS/s   ({COUNT:,} SMS, {len(TEXTS)} kinds)"
    )


if __name__ == "__main__":
    main()
