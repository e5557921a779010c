"""Account, Credit, Charge and Token gateway over the wallet (issue 4 item 5): a head-end's
view, through the logical device with the utility association's rights."""

from __future__ import annotations

import pytest
from tests.helpers import management_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.errors import CosemError
from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState
from metertwin.meter.inputs import PhysicalState
from metertwin.meter.registers import Energy
from metertwin.meter.wallet import PaymentMode
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.sts import StsDecoder, encode_token
from metertwin.sts.tokens import CreditKind, CreditToken
from metertwin.sts_identity import meter_key_from_config

ACCOUNT, TOKEN_CREDIT, EMERGENCY = "0.0.19.0.0.255", "0.0.19.10.0.255", "0.0.19.10.1.255"
GATEWAY = "0.0.19.40.0.255"
PERIOD_COST = "0.0.96.128.3.255"
KEY = meter_key_from_config({}, "(demo)", "12345678")


def _setup() -> tuple[Meter, object, AssociationContext]:
    model = load_model("pmm1220")
    meter = Meter(model.spec, utc_ms(2026, 6, 1, 9), "12345678")  # Monday 12:00 local
    meter.install_sts(StsDecoder(KEY))
    device = build_logical_device(model, meter, lambda: None)
    policy = device.association_policy(1)
    assert policy is not None
    return meter, device, AssociationContext(policy, 1, 1, policy.conformance, 1024, 1024, True)


def _get(device: object, ctx: AssociationContext, class_id: int, obis: str, attr: int) -> Data:
    return device.get(ctx, AttributeDescriptor(class_id, Obis.parse(obis), attr), None)  # type: ignore[attr-defined]


def _act(device: object, ctx: AssociationContext, class_id: int, obis: str, method: int,
         parameters: Data | None) -> None:  # fmt: skip
    device.action(ctx, MethodDescriptor(class_id, Obis.parse(obis), method), parameters)  # type: ignore[attr-defined]


def _token(tenths: int, tid: int) -> bytes:
    token = CreditToken(kind=CreditKind.ELECTRICITY_CURRENCY, tid=tid, amount_tenths=tenths)
    return encode_token(token, KEY).encode()


def test_enter_a_token_through_the_gateway_and_read_the_account() -> None:
    _meter, device, ctx = _setup()
    assert _get(device, ctx, 111, ACCOUNT, 2) == Data.structure([Data.enum(2), Data.enum(1)])
    _act(device, ctx, 115, GATEWAY, 1, Data.octet_string(_token(255, 6_900_000)))
    assert _get(device, ctx, 115, GATEWAY, 6).as_items()[0] == Data.enum(3)
    assert _get(device, ctx, 115, GATEWAY, 4) == Data.array(
        [Data.octet_string(b"credit +25.50 SAR")]
    )
    assert _get(device, ctx, 111, ACCOUNT, 2) == Data.structure([Data.enum(2), Data.enum(2)])
    assert _get(device, ctx, 111, ACCOUNT, 5) == Data.double_long(25_500)  # scale -3
    assert _get(device, ctx, 112, TOKEN_CREDIT, 2) == Data.double_long(25_500)
    assert _get(device, ctx, 111, ACCOUNT, 15) == Data.structure(
        [Data.utf8_string("SAR"), Data.integer(-3), Data.enum(2)]
    )
    # the same token again: validation failure, nothing added
    _act(device, ctx, 115, GATEWAY, 1, Data.octet_string(_token(255, 6_900_000)))
    assert _get(device, ctx, 115, GATEWAY, 6).as_items()[0] == Data.enum(6)
    assert _get(device, ctx, 111, ACCOUNT, 5) == Data.double_long(25_500)
    # the 66-bit number in 9 octets is accepted too
    number = int(_token(10, 6_900_001))
    _act(device, ctx, 115, GATEWAY, 1, Data.octet_string(number.to_bytes(9, "big")))
    assert _get(device, ctx, 111, ACCOUNT, 5) == Data.double_long(26_500)
    purchases = _get(device, ctx, 1, "0.0.96.128.0.255", 2).as_items()
    assert [p.as_items()[1] for p in purchases] == [
        Data.double_long(1000),
        Data.double_long(25_500),
    ]
    assert _get(device, ctx, 1, "0.0.96.128.1.255", 2) == Data.structure(
        [Data.double_long_unsigned(2), Data.double_long(26_500)]
    )


def test_remote_switch_to_postpaid_reconnects_and_back_to_prepaid_cuts() -> None:
    meter, device, ctx = _setup()
    _act(device, ctx, 112, TOKEN_CREDIT, 1, Data.double_long(500))  # remote top-up 0.5
    meter.advance(meter.now_ms + 3 * 3_600_000, PhysicalState((230.0,), (2000.0,), (0.0,)))
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    attribute = AttributeDescriptor(111, Obis.parse(ACCOUNT), 2)
    device.set(ctx, attribute, None, Data.structure([Data.enum(1), Data.enum(2)]))  # type: ignore[attr-defined]
    assert meter.wallet is not None and meter.wallet.mode is PaymentMode.POSTPAID
    assert meter.disconnect.state is ControlState.CONNECTED
    device.set(ctx, attribute, None, Data.structure([Data.enum(2), Data.enum(2)]))  # type: ignore[attr-defined]
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    with pytest.raises(CosemError) as caught:
        device.set(ctx, attribute, None, Data.structure([Data.enum(3), Data.enum(2)]))  # type: ignore[attr-defined]
    assert caught.value.result is DataAccessResult.TYPE_UNMATCHED


def test_emergency_credit_is_invoked_over_dlms_only_when_offered() -> None:
    meter, device, ctx = _setup()
    _act(device, ctx, 112, TOKEN_CREDIT, 1, Data.double_long(50_000))  # 50: not low
    with pytest.raises(CosemError) as caught:
        _act(device, ctx, 112, EMERGENCY, 3, Data.integer(0))
    assert caught.value.result is DataAccessResult.READ_WRITE_DENIED
    assert _get(device, ctx, 112, EMERGENCY, 8) == Data.enum(0)
    _act(device, ctx, 112, TOKEN_CREDIT, 2, Data.double_long(1_000))  # set to 1.0: below 5
    assert _get(device, ctx, 112, EMERGENCY, 8) == Data.enum(1)  # selectable
    _act(device, ctx, 112, EMERGENCY, 3, Data.integer(0))
    assert _get(device, ctx, 112, EMERGENCY, 8) == Data.enum(3)  # in use
    assert _get(device, ctx, 111, ACCOUNT, 5) == Data.double_long(11_000)
    assert meter.wallet is not None and meter.wallet.balance_check() == 0


def test_a_meter_without_a_wallet_lists_no_payment_objects() -> None:
    model = load_model("metercom-pro")
    meter = Meter(model.spec, utc_ms(2026, 6, 1), "1")
    device = build_logical_device(model, meter, lambda: None)
    assert Obis.parse(ACCOUNT) not in device.objects
    pmm = load_model("pmm1220")
    listed = build_logical_device(pmm, Meter(pmm.spec, utc_ms(2026, 6, 1)), lambda: None)
    assert listed.objects[Obis.parse(GATEWAY)].class_id == 115
    assert listed.objects[Obis.parse(ACCOUNT)].class_id == 111


def test_a_power_limit_token_sets_the_limiter_threshold() -> None:
    """Issue 4 item 4: management tokens act on the meter (power limit -> limiter)."""
    from metertwin.sts import SetMaximumPowerLimit

    meter, device, ctx = _setup()
    limit = encode_token(SetMaximumPowerLimit(tid=6_900_010, maximum_power_w=3500), KEY)
    _act(device, ctx, 115, GATEWAY, 1, Data.octet_string(limit.encode()))
    assert meter.power_limit_w == 3500
    assert _get(device, ctx, 71, "0.0.17.0.0.255", 4) == Data.double_long_unsigned(3500)


def test_an_energy_wallet_states_the_billing_period_cost_in_wh() -> None:
    """az3p's wallet counts kWh at scale -3: its cost register 0.0.96.128.3 reads Wh (scaler
    0, unit 30). 3 kW for an hour uses 3 kWh of credit; a billing reset restarts it."""
    meter, device, ctx = management_device("az3p", utc_ms(2026, 6, 1, 9))
    meter.advance(meter.now_ms + 3_600_000, PhysicalState((220.0,) * 3, (1000.0,) * 3, (0.0,) * 3))
    assert _get(device, ctx, 3, PERIOD_COST, 3) == Data.structure([Data.integer(0), Data.enum(30)])
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE) == 3_000_000
    assert _get(device, ctx, 3, PERIOD_COST, 2) == Data.double_long(3000)
    _act(device, ctx, 9, "0.0.10.0.1.255", 1, Data.long_unsigned(1))  # billing reset
    assert _get(device, ctx, 3, PERIOD_COST, 2) == Data.double_long(0)
    row = _get(device, ctx, 7, "1.0.98.1.0.255", 2).as_items()[0]
    assert row.as_items()[-1] == Data.double_long(3000)
