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
