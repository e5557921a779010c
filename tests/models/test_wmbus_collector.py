"""The MeterCom PRO wireless M-Bus collector (seed 004 §3.5; `models/wmbus_collector.py`,
class 8192 in `models/wmbus_objects.py`): a listed meter's telegram is stored, the oldest
leaves a full buffer, one before the meter's minimum interval is dropped, and a bad CRC, an
unknown sender, a wrong key or a truncated payload is counted by reason and dropped; the meter
list, the buffer by entry selection and its deletion over the logical device."""

from __future__ import annotations

import pytest
from tests.helpers import utc_ms
from tests.protocols.wmbus_vectors import (
    KEY,
    OMS_GAS,
    OMS_GAS_KEY,
    WATER,
    mode5_telegram,
    plain_telegram,
)

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor, SelectiveAccess
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.models.wmbus_collector import (
    BUFFER_CAPACITY,
    MAX_METERS,
    CollectorError,
    ListedMeter,
    WmbusCollector,
)
from metertwin.protocols.wmbus_link import Address

COLLECTOR = Obis(0, 0, 128, 0, 0)
ELS = Address("ELS", "12345678", 0x33, 0x03)


def listed(address: Address, key: bytes, interval_s: int = 0) -> Data:
    """A meter as a client lists it: the 6 fields of docs/wmbus.md."""
    return Data.structure(list(ListedMeter(address, key, interval_s).to_data().as_items()[:6]))


def collector() -> WmbusCollector:
    model = load_model("metercom-pro")
    return WmbusCollector(Meter(model.spec, utc_ms(2026, 6, 1, 10), "12345678"), model)


def advance(collector: WmbusCollector, seconds: int) -> None:
    collector.meter.now_ms += seconds * 1000


def test_a_listed_meters_telegram_is_stored_with_its_records() -> None:
    wmbus = collector()
    wmbus.add_meter(listed(ELS, OMS_GAS_KEY))
    reception = wmbus.receive(OMS_GAS)
    assert (reception.outcome, reception.entry, reception.sender) == ("stored", 1, ELS)
    assert reception.records[0] == "volume: 28504.27 m3"
    (entry,) = wmbus.entries()
    assert [f.value for f in entry.as_items()[1:6]] == ["ELS", "12345678", 0x33, 3, 0x2A]
    assert entry.as_items()[6].as_bytes() == OMS_GAS  # the telegram as received
    assert wmbus.counters()["stored"] == 1


def test_bad_telegrams_are_counted_by_reason_and_dropped() -> None:
    wmbus = collector()
    wmbus.add_meter(listed(ELS, OMS_GAS_KEY))
    wmbus.add_meter(listed(WATER, bytes(16)))  # listed with a key that is not its key
    spoiled = bytearray(OMS_GAS)
    spoiled[30] ^= 0x80
    cut = mode5_telegram(frame_format="none")
    stranger = plain_telegram(Address("ABC", "00000042", 1, 7))
    outcomes = [
        wmbus.receive(bytes(spoiled)).outcome,
        wmbus.receive(stranger).outcome,
        wmbus.receive(mode5_telegram()).outcome,
        wmbus.receive(OMS_GAS[:30]).outcome,
        wmbus.receive(cut[:-16], "none").outcome,
    ]
    assert outcomes == ["bad_crc", "unknown_meter", "wrong_key", "truncated", "truncated"]
    counted = wmbus.counters()
    assert (counted["received"], counted["stored"]) == (5, 0)
    assert (counted["bad_crc"], counted["unknown_meter"]) == (1, 1)
    assert (counted["wrong_key"], counted["truncated"]) == (1, 2)
    assert wmbus.entries() == []


def test_a_telegram_before_the_minimum_interval_is_dropped() -> None:
    wmbus = collector()
    wmbus.add_meter(listed(WATER, KEY, interval_s=600))
    assert wmbus.receive(mode5_telegram(access_number=1)).outcome == "stored"
    advance(wmbus, 599)
    assert wmbus.receive(mode5_telegram(access_number=2)).outcome == "too_early"
    advance(wmbus, 1)
    assert wmbus.receive(mode5_telegram(access_number=3)).outcome == "stored"
    assert [e.as_items()[5].value for e in wmbus.entries()] == [1, 3]


def test_a_meter_without_its_own_interval_takes_the_collectors() -> None:
    """Attribute 5 min_interval (default 900 s) applies to a meter listed with 0."""
    wmbus = collector()
    wmbus.add_meter(listed(WATER, KEY))
    assert wmbus.receive(mode5_telegram()).outcome == "stored"
    advance(wmbus, 899)
    assert wmbus.receive(mode5_telegram()).outcome == "too_early"


def test_the_full_buffer_drops_its_oldest_entry() -> None:
    wmbus = collector()
    wmbus.add_meter(listed(WATER, KEY, interval_s=1))
    for number in range(BUFFER_CAPACITY + 3):
        advance(wmbus, 1)
        assert wmbus.receive(mode5_telegram(access_number=number % 256)).outcome == "stored"
    entries = wmbus.entries()
    assert len(entries) == BUFFER_CAPACITY
    assert entries[0].as_items()[5].value == 3  # entries 0, 1, 2 left
    assert wmbus.counters()["overwritten"] == 3


def test_the_meter_list_holds_64_meters_once_each() -> None:
    wmbus = collector()
    for number in range(MAX_METERS):
        wmbus.add_meter(listed(Address("KAM", f"{number:08d}", 1, 7), KEY))
    with pytest.raises(CollectorError, match="at most 64"):
        wmbus.add_meter(listed(Address("KAM", "99999999", 1, 7), KEY))
    wmbus.add_meter(listed(Address("KAM", "00000000", 1, 7), bytes(16)))  # replaces
    assert len(wmbus.meters()) == MAX_METERS
    with pytest.raises(CollectorError, match="16 bytes"):
        wmbus.add_meter(listed(WATER, b"short"))


# -- over the logical device (class 8192 as a DLMS client sees it) ---------------------------


def device_and_context() -> tuple[LogicalDevice, AssociationContext, WmbusCollector]:
    model = load_model("metercom-pro")
    meter = Meter(model.spec, utc_ms(2026, 6, 1, 10), "12345678")
    device = build_logical_device(model, meter, lambda: None)
    policy = device.policies[1]  # utility-setting, the management client
    context = AssociationContext(policy, 1, 1, policy.conformance, 1024, 1024, True)
    return device, context, WmbusCollector(meter, model)


def get(
    device: LogicalDevice,
    context: AssociationContext,
    index: int,
    access: SelectiveAccess | None = None,
) -> Data:
    return device.get(context, AttributeDescriptor(8192, COLLECTOR, index), access)


def act(
    device: LogicalDevice, context: AssociationContext, method: int, value: Data
) -> Data | None:
    return device.action(context, MethodDescriptor(8192, COLLECTOR, method), value)


def entry_descriptor(first: int, last: int, from_value: int = 1, to_value: int = 0) -> Data:
    return Data.structure(
        [
            Data.double_long_unsigned(first),
            Data.double_long_unsigned(last),
            Data.long_unsigned(from_value),
            Data.long_unsigned(to_value),
        ]
    )


def test_dlms_lists_a_meter_reads_the_buffer_by_entry_and_deletes_entries() -> None:
    device, context, wmbus = device_and_context()
    act(device, context, 3, listed(WATER, KEY, interval_s=1))  # add_meter
    assert get(device, context, 6).value == 1  # installed_meters
    (shown,) = get(device, context, 8).as_items()
    assert shown.as_items()[4].as_bytes() == b""  # the key is never read back
    for number in range(5):
        wmbus.meter.now_ms += 1000
        assert wmbus.receive(mode5_telegram(access_number=10 + number)).outcome == "stored"
    assert get(device, context, 7).value == 5  # buffer_entries
    selected = get(device, context, 9, SelectiveAccess(2, entry_descriptor(2, 3)))
    assert [e.as_items()[5].value for e in selected.as_items()] == [11, 12]
    columns = get(device, context, 9, SelectiveAccess(2, entry_descriptor(5, 0, 6, 6)))
    assert [e.as_items()[0].value for e in columns.as_items()] == [14]
    gone = act(device, context, 2, entry_descriptor(1, 2))  # delete_entries
    assert gone is not None and gone.value == 2
    assert [e.as_items()[5].value for e in get(device, context, 9).as_items()] == [12, 13, 14]
    act(device, context, 1, Data.integer(0))  # clear_buffer
    assert get(device, context, 7).value == 0
    who = Data.structure([Data.visible_string("KAM"), Data.visible_string("76543210")])
    act(device, context, 4, who)  # remove_meter
    assert get(device, context, 8).as_items() == ()


def test_dlms_refuses_a_bad_meter_and_writes_the_whole_list() -> None:
    device, context, _ = device_and_context()
    with pytest.raises(CosemError) as refused:
        act(device, context, 3, Data.structure([Data.visible_string("KAM")]))
    assert refused.value.result is DataAccessResult.OTHER_REASON
    meters = Data.array([listed(WATER, KEY), listed(ELS, OMS_GAS_KEY, 60)])
    device.set(context, AttributeDescriptor(8192, COLLECTOR, 8), None, meters)
    assert [m.as_items()[1].value for m in get(device, context, 8).as_items()] == [
        "76543210",
        "12345678",
    ]
