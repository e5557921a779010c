"""Every attribute every association can read has the A-XDR type its class and version define
(issue 11, item 1): a head-end parses a value by the (class id, version) the object list
announces, so a layout of another version breaks it (gurux crashed on a version-0 cell_info
served under version 1). The table is :data:`tests.models.cosem_layouts.LAYOUTS`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.helpers import utc_ms
from tests.models.cosem_layouts import LAYOUTS, mismatch

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.meter.core import Meter
from metertwin.meter.inputs import PhysicalState
from metertwin.models import builtin_model_names, load_model
from metertwin.models.binder import build_logical_device

GSM_DIAGNOSTIC = Obis(0, 0, 25, 6, 0)


def _running_device(name: str) -> LogicalDevice:
    """A meter that has run a day under load across a month end (profiles, billing, demand
    and event logs hold entries)."""
    model = load_model(name)
    meter = Meter(model.spec, utc_ms(2026, 5, 31, 12), "12345678")
    device = build_logical_device(model, meter, lambda: None)
    phases = meter.spec.ratings.phases
    load = PhysicalState((230.0,) * phases, (1500.0,) * phases, (200.0,) * phases)
    meter.advance(meter.now_ms + 86_400_000, load)
    return device


def _served(device: LogicalDevice) -> Iterator[tuple[str, tuple[int, int], int, Data]]:
    """(where, (class id, version), attribute, value) of every readable attribute of every
    object in every association's object list."""
    for client_sap, policy in device.policies.items():
        context = AssociationContext(policy, client_sap, 1, policy.conformance, 1024, 1024, True)
        for obis, rights in policy.rights.items():
            obj = device.objects[obis]
            for index, mode in sorted(rights.attributes.items()):
                if mode.readable:
                    descriptor = AttributeDescriptor(obj.class_id, obis, index)
                    where = f"{policy.name}: {obis} (class {obj.class_id}) attribute {index}"
                    key = (obj.class_id, obj.interface.version)
                    yield where, key, index, device.get(context, descriptor, None)


@pytest.mark.parametrize("name", builtin_model_names())
def test_every_served_attribute_has_the_type_of_its_class_version(name: str) -> None:
    """Walks every association's object list; null-data passes only where the table makes
    it a choice. Found: GSM diagnostic cell_info of version 0, Account max_provision_period
    as double-long (Blue Book: double-long-unsigned)."""
    device = _running_device(name)
    problems = []
    checked = 0
    interfaces = {(o.class_id, o.interface.version): o.interface for o in device.objects.values()}
    for where, key, index, value in _served(device):
        if key not in LAYOUTS:
            problems.append(f"{where}: class {key[0]} version {key[1]} is not in the table")
            continue
        defined = {spec.index for spec in interfaces[key].attributes}
        assert set(LAYOUTS[key]) == defined, f"the table's class {key} lacks attributes"
        layout = LAYOUTS[key][index]
        if (problem := mismatch(value, layout)) is not None:
            problems.append(f"{where}: {problem}")
        checked += 1
    assert problems == []
    assert checked > 500


def test_gsm_diagnostic_serves_the_version_1_cell_info_and_adjacent_cells() -> None:
    """Blue Book, GSM diagnostic (class_id 47, version 1): cell_info ::= structure {cell_ID
    double-long-unsigned, location_ID long-unsigned, signal_quality unsigned, ber unsigned,
    mcc long-unsigned, mnc long-unsigned, channel_number double-long-unsigned};
    adjacent_cells ::= array of structure {cell_ID double-long-unsigned, signal_quality
    unsigned} (version 0 had the 4-element cell_info served before). Class text as quoted in
    EnergyICT's public GSMDiagnosticsIC (class id 47, version 1)."""
    device = _running_device("metercom-pro")
    obj = device.objects[GSM_DIAGNOSTIC]
    assert (obj.class_id, obj.interface.version) == (47, 1)
    policy = max(device.policies.values(), key=lambda p: len(p.rights))
    context = AssociationContext(policy, policy.client_sap, 1, policy.conformance, 1024, 1024)

    def read(index: int) -> Data:
        return device.get(context, AttributeDescriptor(47, GSM_DIAGNOSTIC, index), None)

    cell_info = read(6).as_items()
    assert [item.type.name for item in cell_info] == [
        "DOUBLE_LONG_UNSIGNED",
        "LONG_UNSIGNED",
        "UNSIGNED",
        "UNSIGNED",
        "LONG_UNSIGNED",
        "LONG_UNSIGNED",
        "DOUBLE_LONG_UNSIGNED",
    ]
    adjacent = read(7).as_items()
    assert adjacent  # a neighbour, so a client sees the element type
    assert all(
        [item.type.name for item in cell.as_items()] == ["DOUBLE_LONG_UNSIGNED", "UNSIGNED"]
        for cell in adjacent
    )
