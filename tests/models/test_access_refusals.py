"""Issue 11 item 7: what the logical device answers for an attribute or method the interface
class defines but this association may not use (docs/dlms.md, "What a refusal looks like")."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.helpers import management_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor
from metertwin.cosem.access import AssociationContext, AttributeAccess
from metertwin.cosem.errors import CosemError

CURRENT_ASSOCIATION = Obis(0, 0, 40, 0, 0)
SECRET = 7  # class 15 attribute 7: the LLS secret, write-only
T0 = utc_ms(2026, 6, 1, 9)


def _refusal(call: Callable[[], object]) -> DataAccessResult:
    with pytest.raises(CosemError) as caught:
        call()
    return caught.value.result


@pytest.mark.parametrize("client_sap", [1, 0x20, 0x10])
def test_reading_the_association_secret_is_denied(client_sap: int) -> None:
    """Write-only for the management and reader clients, no access for the public one: either
    way the attribute exists and a GET answers read-write-denied, not object-undefined."""
    _, device, _ = management_device("metercom-pro", T0)
    policy = device.association_policy(client_sap)
    assert policy is not None
    context = AssociationContext(policy, client_sap, 1, policy.conformance, 1024, 1024, True)
    mode = device.rights(context, CURRENT_ASSOCIATION).attribute(SECRET)
    assert mode in (AttributeAccess.WRITE_ONLY, AttributeAccess.NO_ACCESS)
    secret = AttributeDescriptor(15, CURRENT_ASSOCIATION, SECRET)
    assert _refusal(lambda: device.get(context, secret, None)) is (
        DataAccessResult.READ_WRITE_DENIED
    )
    # An attribute the class does not define is still undefined.
    beyond = AttributeDescriptor(15, CURRENT_ASSOCIATION, 12)
    assert _refusal(lambda: device.get(context, beyond, None)) is DataAccessResult.OBJECT_UNDEFINED


def test_a_method_the_object_does_not_offer_is_denied() -> None:
    """Register reset (class 3 method 1) of an energy register is not offered (its object list
    entry says no access) and is refused with read-write-denied; method 2 does not exist."""
    _, device, context = management_device("pmm1220", T0)
    energy = Obis(1, 0, 1, 8, 0)
    assert device.rights(context, energy).method(1) == 0
    reset = MethodDescriptor(3, energy, 1)
    assert _refusal(lambda: device.action(context, reset, Data.integer(0))) is (
        DataAccessResult.READ_WRITE_DENIED
    )
    missing = MethodDescriptor(3, energy, 2)
    assert _refusal(lambda: device.action(context, missing, Data.integer(0))) is (
        DataAccessResult.OBJECT_UNDEFINED
    )


def test_a_read_that_succeeded_leaves_every_refusal_as_it_was() -> None:
    """The logical device remembers what an association may read of an object after its
    first successful GET (cosem/device.py); the refusals around it must not change: the
    association LN's readable logical name is read first, then its write-only secret, an
    attribute its class lacks, the wrong class id, and the same object from the public
    client, which sees its own association object but not this one's secret."""
    _, device, context = management_device("metercom-pro", T0)
    name = AttributeDescriptor(15, CURRENT_ASSOCIATION, 1)
    for _ in range(2):  # the first read fills what the second one uses
        assert device.get(context, name, None) == Data.octet_string(bytes(CURRENT_ASSOCIATION))
    secret = AttributeDescriptor(15, CURRENT_ASSOCIATION, SECRET)
    assert _refusal(lambda: device.get(context, secret, None)) is (
        DataAccessResult.READ_WRITE_DENIED
    )
    beyond = AttributeDescriptor(15, CURRENT_ASSOCIATION, 12)
    assert _refusal(lambda: device.get(context, beyond, None)) is DataAccessResult.OBJECT_UNDEFINED
    wrong_class = AttributeDescriptor(1, CURRENT_ASSOCIATION, 1)
    assert _refusal(lambda: device.get(context, wrong_class, None)) is (
        DataAccessResult.OBJECT_CLASS_INCONSISTENT
    )
    public = device.association_policy(0x10)
    assert public is not None
    other = AssociationContext(public, 0x10, 1, public.conformance, 1024, 1024, True)
    assert _refusal(lambda: device.get(other, secret, None)) is DataAccessResult.READ_WRITE_DENIED
    # Another association's rights are its own: a register the management client has read,
    # which the public client does not list, stays undefined for the public client.
    unlisted = next(
        obis
        for obis, obj in device.objects.items()
        if obj.class_id == 3 and obis in context.policy.rights and obis not in public.rights
    )
    register = AttributeDescriptor(3, unlisted, 2)
    device.get(context, register, None)
    assert _refusal(lambda: device.get(other, register, None)) is DataAccessResult.OBJECT_UNDEFINED
