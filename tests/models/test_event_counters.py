"""Event counters 0.0.96.15.E.255 beside each standard event log 0.0.99.98.E.255 (issue 5:
"each with counters and a FIFO of >= 100 entries"): the counter keeps counting after the
log's 100-entry buffer starts dropping its oldest entries."""

from __future__ import annotations

import dataclasses

from tests.helpers import management_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.meter.inputs import Fault, PhysicalState

T0 = utc_ms(2026, 6, 1, 6)
MINUTE = 60_000
ON = PhysicalState((230.0,), (500.0,), (0.0,))
FRAUD_LOG, FRAUD_COUNTER = Obis(0, 0, 99, 98, 1), Obis(0, 0, 96, 15, 1)


def test_a_log_counter_counts_past_its_hundred_entries() -> None:
    meter, device, client = management_device("pmm1220", T0)
    opened = dataclasses.replace(ON, faults=Fault.TERMINAL_COVER_OPEN)
    for k in range(60):  # 60 openings and 60 closings: 120 fraud events
        meter.advance(T0 + (2 * k + 1) * MINUTE, opened)
        meter.advance(T0 + (2 * k + 2) * MINUTE, ON)

    def read(cid: int, obis: Obis, attribute: int) -> Data:
        return device.get(client, AttributeDescriptor(cid, obis, attribute), None)

    assert read(1, FRAUD_COUNTER, 2) == Data.double_long_unsigned(120)
    assert read(1, Obis(0, 0, 96, 15, 7), 2) == Data.double_long_unsigned(0)  # failure log
    assert read(7, FRAUD_LOG, 7) == Data.double_long_unsigned(100)  # entries_in_use: full
