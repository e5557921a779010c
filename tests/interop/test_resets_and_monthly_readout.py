"""Issue 11, items 5 and 8, as an independent head-end sees them: dlms-cosem (test-only) over a
real socket to an in-process metertwin server on an ephemeral port.

Blue Book semantics (reference/dlms.md 6): class 5 reset ends the current period, sets both
averages to their default and capture_time and start_time_current to the reset instant;
class 4 reset sets the value to its default and capture_time to the reset instant; class 3
reset sets the value to its default, which metertwin allows only for counters (docs/dlms.md,
"Resets").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from dlms_cosem import dlms_data
from dlms_cosem import time as dlms_time
from dlms_cosem.client import ActionError, DlmsClient
from dlms_cosem.cosem import CosemMethod, Obis
from dlms_cosem.enumerations import CosemInterface
from tests.interop.conftest import START_MS, ServedMeter
from tests.interop.test_dlms_cosem import (
    CET,
    IMPORT_ACTIVE,
    ONE_HOUR_MS,
    UTILITY,
    UTILITY_SECRET,
    associated,
    get,
    load,
)

from metertwin.meter.events import EventCode
from metertwin.meter.registers import Energy

MINUTE_MS = 60_000
DAY_MS = 86_400_000
DEMAND = Obis(1, 0, 1, 4, 0)  # metercom-pro 1.0.114.0.255, served as the +A demand register
MAXIMUM_DEMAND = Obis(1, 0, 1, 6, 0)  # pmm1220 +A maximum demand, total
COVER_COUNTER = Obis(1, 0, 82, 8, 1)  # seed 004: terminal cover removals
MONTHLY_READOUT = Obis(1, 0, 99, 4, 0)  # seed 004: "Periodic readout - monthly"
PMM1220_MANAGEMENT = b"00000002"  # docs/dlms.md, "Addresses and associations"
ZERO = dlms_data.IntegerData(0).to_bytes()  # Blue Book: reset (data ::= integer(0))


def _reset(client: DlmsClient, interface: CosemInterface, obis: Obis) -> None:
    client.action(CosemMethod(interface, obis, 1), ZERO)


def _date_time(client: DlmsClient, interface: CosemInterface, obis: Obis, index: int) -> datetime:
    when, _status = dlms_time.datetime_from_bytes(bytes(get(client, interface, obis, index)))
    return when


def test_demand_register_reset_ends_the_current_period(metercom: ServedMeter) -> None:
    """2 kW for 20 minutes of 15-minute blocks: the last average is 2000 W, a third of the
    second block has run. A reset at 11:20 (CET) zeroes both averages and stamps capture_time
    and start_time_current; five minutes later the running average holds only those five
    minutes (2000 W x 5/15), not the ten since the block began."""
    meter, demand = metercom.meter, CosemInterface.DEMAND_REGISTER
    metercom.call(lambda: meter.advance(START_MS + 20 * MINUTE_MS, load(3, 1000, 500, 500)))
    with associated(metercom.port, UTILITY, UTILITY_SECRET) as client:
        assert get(client, demand, DEMAND, 3) == 2000
        assert get(client, demand, DEMAND, 2) == 666
        _reset(client, demand, DEMAND)
        assert get(client, demand, DEMAND, 2) == 0
        assert get(client, demand, DEMAND, 3) == 0
        reset_at = datetime(2026, 3, 2, 11, 20, tzinfo=CET)
        assert _date_time(client, demand, DEMAND, 6) == reset_at  # capture_time
        assert _date_time(client, demand, DEMAND, 7) == reset_at  # start_time_current
    metercom.call(lambda: meter.advance(START_MS + 25 * MINUTE_MS, load(3, 1000, 500, 500)))
    with associated(metercom.port, UTILITY, UTILITY_SECRET) as client:
        assert get(client, demand, DEMAND, 2) == 666
        assert get(client, demand, DEMAND, 3) == 0  # no block has ended since the reset


def test_maximum_demand_reset_stamps_the_reset_instant(serve: Callable[..., ServedMeter]) -> None:
    served = serve("pmm1220")
    meter, maximum = served.meter, CosemInterface.EXTENDED_REGISTER
    served.call(lambda: meter.advance(START_MS + 20 * MINUTE_MS, load(1, 2000)))
    with associated(served.port, 1, PMM1220_MANAGEMENT) as client:
        assert get(client, maximum, MAXIMUM_DEMAND, 2) == 2000
        _reset(client, maximum, MAXIMUM_DEMAND)
        assert get(client, maximum, MAXIMUM_DEMAND, 2) == 0
        stamp = _date_time(client, maximum, MAXIMUM_DEMAND, 5)
    assert stamp.replace(tzinfo=None) == served.call(meter.local_time)


def test_register_reset_clears_a_counter_and_never_the_energy(metercom: ServedMeter) -> None:
    """A tamper counter may be reset by the utility (after the inspection); an energy register
    is the meter's cumulative energy and refuses with read-write-denied, unchanged."""
    meter, register = metercom.meter, CosemInterface.REGISTER
    metercom.call(lambda: meter.advance(START_MS + ONE_HOUR_MS, load(3, 1000, 0, 0)))
    metercom.call(lambda: meter.log_event(EventCode.TERMINAL_COVER_REMOVED))
    with associated(metercom.port, UTILITY, UTILITY_SECRET) as client:
        assert get(client, register, COVER_COUNTER, 2) == 1
        _reset(client, register, COVER_COUNTER)
        assert get(client, register, COVER_COUNTER, 2) == 0
        with pytest.raises(ActionError, match="READ_WRITE_DENIED"):
            _reset(client, register, IMPORT_ACTIVE)
        assert get(client, register, IMPORT_ACTIVE, 2) == 1000
    assert metercom.call(lambda: meter.energy_mwh(Energy.IMPORT_ACTIVE)) == 1_000_000


def test_metercom_pro_monthly_readout_captures_each_billing_point(
    metercom: ServedMeter,
) -> None:
    """400 days of 900 W from 2 March 2026 10:00 UTC: 13 billing points (1 April 2026 ..
    1 April 2027, 00:00 local), each an entry of the monthly readout, as the other models'
    billing profiles. The first holds +A at 1 April 00:00 CEST (31 March 22:00 UTC): 708 h
    of 900 W, 637,200 Wh."""
    meter = metercom.meter
    for day in range(10, 401, 10):  # ten days per call, each well within the call's timeout
        until = START_MS + day * DAY_MS
        metercom.call(lambda until=until: meter.advance(until, load(3, 300, 300, 300)))
    with associated(metercom.port, UTILITY, UTILITY_SECRET) as client:
        rows = get(client, CosemInterface.PROFILE_GENERIC, MONTHLY_READOUT, 2)
        entries = get(client, CosemInterface.PROFILE_GENERIC, MONTHLY_READOUT, 7)
    assert metercom.call(lambda: meter.billing_periods) == 13
    assert len(rows) == entries == 13
    assert rows[0][2] == 637_200  # energy:1:0:0, +A total in Wh
    stamps = [dlms_time.datetime_from_bytes(bytes(row[0]))[0] for row in rows]
    assert [(s.year, s.month, s.day, s.hour) for s in stamps[:2]] == [
        (2026, 4, 1, 0),
        (2026, 5, 1, 0),
    ]
