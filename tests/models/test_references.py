"""Every reference an object makes is served to whoever can read the object (issue 11, 2).

A head-end that reads a profile's capture_objects, a limiter's or monitor's monitored_value,
a script, schedule or calendar action, a DL_reference or an association's
security_setup_reference follows it to the object it names: that object must be in the same
association's object list, of the class named, with the referenced attribute readable.
Blue Book (DLMS UA 1000-1) 4.3.6 profile generic capture_objects, 4.5.6 register monitor
monitored_value, 4.5.9 limiter monitored_value, 4.5.2 script table actions, 4.9.x TCP-UDP
setup / IPv4 setup / PPP setup DL_reference, 4.4.3 association LN security_setup_reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from tests.helpers import utc_ms

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.access import AssociationContext, AssociationPolicy
from metertwin.cosem.device import LogicalDevice
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.models import builtin_model_names, load_model
from metertwin.models.binder import build_logical_device

NO_OBJECT = Obis(0, 0, 0, 0, 0, 0)
"""Blue Book: class 0 and logical name 0.0.0.0.0.0 mean "no object" (e.g. sort_object)."""

# (class, attribute) whose value is a bare logical name, and the classes it may name.
_NAME_ATTRIBUTES: dict[tuple[int, int], tuple[int, ...]] = {
    (15, 9): (64,),  # association LN security_setup_reference -> Security setup
    (41, 3): (42, 48),  # TCP-UDP setup IP_reference -> IPv4 / IPv6 setup
    (42, 2): (43, 44, 45),  # IPv4 setup DL_reference -> MAC / PPP / GPRS modem setup
    (44, 2): (43, 45, 47),  # PPP setup PHY_reference -> MAC / GPRS modem / GSM diagnostic
    (8193, 5): (9,),  # MeterCom relay configuration -> its script table
}


@dataclass(frozen=True)
class Reference:
    """A reference found in ``source`` attribute ``attribute``: ``class_id`` (None: any
    of ``classes``) and ``target`` with the attribute it names (None: the object)."""

    source: Obis
    attribute: int
    class_ids: tuple[int, ...]
    target: Obis
    target_attribute: int | None


def _octets6(value: Data) -> Obis | None:
    if value.type is DataType.OCTET_STRING and len(value.as_bytes()) == 6:
        return Obis.from_bytes(value.as_bytes())
    return None


def references(source: Obis, class_id: int, attribute: int, value: Data) -> list[Reference]:
    """Every object reference inside one attribute value, found by its A-XDR shape:
    {long-unsigned class_id, octet-string(6) logical_name[, integer attribute]} (capture
    objects, monitored values, script actions, parameter lists) and {octet-string(6)
    script_logical_name, long-unsigned script_selector} (action items of monitors,
    limiters, schedules, calendars), plus the attributes that hold a bare logical name."""
    found: list[Reference] = []
    classes = _NAME_ATTRIBUTES.get((class_id, attribute))
    if classes is not None and (name := _octets6(value)) is not None:
        found.append(Reference(source, attribute, classes, name, None))

    def walk(data: Data) -> None:
        if data.type not in (DataType.STRUCTURE, DataType.ARRAY):
            return
        elements = data.as_items()
        for i, (first, second) in enumerate(pairwise(elements)):
            name = _octets6(second)
            if first.type is DataType.LONG_UNSIGNED and name is not None:
                referenced = first.as_int()
                if referenced == 0 and name == NO_OBJECT:
                    continue
                index = elements[i + 2] if i + 2 < len(elements) else None
                script_action = len(elements) == 5 and elements[0].type is DataType.ENUM
                wants = (
                    index.as_int()
                    if index is not None
                    and index.type is DataType.INTEGER
                    and index.as_int() > 0
                    and not (script_action and elements[0].as_int() == 2)  # a method
                    else None
                )
                found.append(Reference(source, attribute, (referenced,), name, wants))
            name = _octets6(first)
            if name is not None and second.type is DataType.LONG_UNSIGNED:
                found.append(Reference(source, attribute, (9,), name, None))
        for element in elements:
            walk(element)

    walk(value)
    return found


def _device(name: str) -> tuple[Meter, LogicalDevice]:
    model = load_model(name)
    meter = Meter(model.spec, utc_ms(2026, 5, 4, 6), "12345678")
    return meter, build_logical_device(model, meter, lambda: None)


def _served_references(
    device: LogicalDevice, policy: AssociationPolicy
) -> tuple[list[Reference], list[str]]:
    """Every reference in every attribute ``policy`` can read, and what is wrong with each."""
    context = AssociationContext(policy, policy.client_sap, 1, policy.conformance, 1024, 1024, True)
    found: list[Reference] = []
    problems: list[str] = []
    for obis, rights in policy.rights.items():
        obj = device.objects[obis]
        for index, mode in rights.attributes.items():
            if not mode.readable or (obj.class_id, index) == (15, 2):
                continue  # the object list itself is checked by its own tests
            value = device.get(context, AttributeDescriptor(obj.class_id, obis, index), None)
            for reference in references(obis, obj.class_id, index, value):
                found.append(reference)
                where = f"{policy.name}: {obis} attribute {index} -> {reference.target}"
                target_rights = policy.rights.get(reference.target)
                target = device.objects.get(reference.target)
                if target_rights is None or target is None:
                    problems.append(f"{where}: not in the object list")
                elif target.class_id not in reference.class_ids:
                    problems.append(f"{where}: class {target.class_id}, not {reference.class_ids}")
                elif (
                    reference.target_attribute is not None
                    and not target_rights.attribute(reference.target_attribute).readable
                ):
                    problems.append(f"{where}: attribute {reference.target_attribute} unreadable")
    return found, problems


@pytest.mark.parametrize("name", builtin_model_names())
def test_every_reference_of_every_association_is_served_to_it(name: str) -> None:
    """Known before (issue 11, 2): metercom-pro's power limiters watched 1.0.1.7.0.255 and
    its profiles captured 0.0.96.10.1.255, neither served there; every event log captured
    0.0.96.11.0.255, listed by no association; 0.0.25.1.0.255 named an absent data link."""
    _, device = _device(name)
    seen = 0
    all_problems: list[str] = []
    for policy in device.policies.values():
        found, problems = _served_references(device, policy)
        seen += len(found)
        all_problems += problems
    assert all_problems == []
    assert seen > 50  # the walk reached capture objects, monitors, scripts and links


def test_the_walk_finds_each_kind_of_reference() -> None:
    """The shapes the walk recognises: a capture object with its attribute, a limiter's
    monitored value, a script reference, a DL_reference and a security setup reference."""
    _, device = _device("metercom-pro")
    policy = max(device.policies.values(), key=lambda p: len(p.rights))
    found, _ = _served_references(device, policy)
    by_source = {(r.source, r.attribute): r for r in found}
    clock = Reference(Obis(1, 0, 99, 1, 0), 3, (8,), Obis(0, 0, 1, 0, 0), 2)
    assert clock in found
    limiter = by_source[(Obis(0, 0, 17, 0, 8), 2)]
    assert (limiter.class_ids, limiter.target_attribute) == ((3,), 2)
    assert by_source[(Obis(0, 0, 17, 0, 8), 11)].class_ids == (9,)
    assert by_source[(Obis(0, 0, 25, 0, 0), 3)].target == Obis(0, 0, 25, 1, 0)
    assert by_source[(Obis(0, 0, 25, 1, 0), 2)].class_ids == (43, 44, 45)
    assert by_source[(Obis(0, 0, 40, 0, 0), 9)].class_ids == (64,)


def test_metercom_pro_power_limiters_watch_its_total_power() -> None:
    """Seed 004 serves no 1.0.1.7.0.255; its total active power is 1.0.16.7.0.255 ("Total
    power"), which the power limiters 0.0.17.0.8/9 watch."""
    _, device = _device("metercom-pro")
    policy = max(device.policies.values(), key=lambda p: len(p.rights))
    context = AssociationContext(policy, policy.client_sap, 1, policy.conformance, 1024, 1024, True)
    for e in (8, 9):
        value = device.get(context, AttributeDescriptor(71, Obis(0, 0, 17, 0, e), 2), None)
        class_id, name, index = value.as_items()
        assert (class_id.as_int(), Obis.from_bytes(name.as_bytes()), index.as_int()) == (
            3,
            Obis(1, 0, 16, 7, 0),
            2,
        )


@pytest.mark.parametrize("name", builtin_model_names())
def test_the_event_code_object_reads_what_the_event_logs_captured(name: str) -> None:
    """0.0.96.11.0.255 (IEC 62056-6-1 event code object) holds the code of the last event
    logged, the value each event log's event_code column took when it captured it."""
    meter, device = _device(name)
    policy = max(device.policies.values(), key=lambda p: len(p.rights))
    context = AssociationContext(policy, policy.client_sap, 1, policy.conformance, 1024, 1024, True)
    code = AttributeDescriptor(1, Obis(0, 0, 96, 11, 0), 2)
    assert device.get(context, code, None) == Data.unsigned(0)
    meter.log_event(EventCode.TERMINAL_COVER_REMOVED)
    assert device.get(context, code, None) == Data.unsigned(int(EventCode.TERMINAL_COVER_REMOVED))
