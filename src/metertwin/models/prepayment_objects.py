"""Payment metering objects over the core's wallet and token entry (issue 4 item 5; Blue Book
4.6, attribute types as in docs/dlms.md): Account (class 111), Credit (112), Charge (113) and
Token gateway (115), at their standard logical names.

Amounts are double-long in the account's currency with scale -3 (attribute 15): a value of
12345 is 12.345 currency units, or 12.345 kWh for an energy wallet. The cost of the present
billing period is also a Register (class 3), so that the billing profile can capture it.
"""

from __future__ import annotations

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import denied, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Method, Request
from metertwin.meter.core import Meter
from metertwin.meter.token_entry import TokenResult
from metertwin.meter.wallet import (
    SECOND_WALLET,
    TOKEN_WALLET,
    AccountStatus,
    CreditUnit,
    PaymentMode,
    Wallet,
    WalletConfig,
    WalletRefused,
)
from metertwin.models.charge_objects import (
    AMOUNT_SCALE,
    CHARGE_OBJECTS,
    PER_COUNT,
    amount,
    bits,
    charge_object,
    charge_rows,
)
from metertwin.models.values import Unit, date_time_data, logical_name, scaler_unit
from metertwin.sts import Rejection

ACCOUNT = Obis(0, 0, 19, 0, 0)
TOKEN_CREDIT = Obis(0, 0, 19, 10, 0)
EMERGENCY_CREDIT = Obis(0, 0, 19, 10, 1)
SECOND_CREDIT = Obis(0, 0, 19, 10, 2)
CONSUMPTION_CHARGE = Obis(0, 0, 19, 20, 0)
STANDING_CHARGE = Obis(0, 0, 19, 20, 1)
TOKEN_GATEWAY = Obis(0, 0, 19, 40, 0)
PURCHASES = Obis(0, 0, 96, 128, 0)
PURCHASE_COUNTERS = Obis(0, 0, 96, 128, 1)
MONTHLY_COST = Obis(0, 0, 96, 128, 2)
BILLING_PERIOD_COST = Obis(0, 0, 96, 128, 3)
TOKEN_WALLET_PAID = Obis(0, 0, 96, 128, 4)
SECOND_WALLET_PAID = Obis(0, 0, 96, 128, 5)

_PREPAYMENT_OBJECTS: tuple[tuple[Obis, int, str], ...] = (
    (ACCOUNT, 111, "Account"),
    (TOKEN_CREDIT, 112, "Token credit"),
    (EMERGENCY_CREDIT, 112, "Emergency credit"),
    (TOKEN_GATEWAY, 115, "Token gateway"),
    (PURCHASES, 1, "Last 10 purchases: date-time, amount"),
    (PURCHASE_COUNTERS, 1, "Purchases: count, total amount"),
    (MONTHLY_COST, 1, "Consumption cost of the last 12 months"),
    (BILLING_PERIOD_COST, 3, "Consumption cost of this billing period"),
    (TOKEN_WALLET_PAID, 3, "Paid by the token wallet this billing period"),
)


def prepayment_rows(config: WalletConfig) -> list[tuple[Obis, int, str]]:
    """The object list's payment objects for a wallet of ``config``."""
    rows = list(_PREPAYMENT_OBJECTS)
    rows[3:3] = charge_rows(config.unit)
    if config.second_wallet is not None:
        rows.insert(3, (SECOND_CREDIT, 112, f"Second wallet: {config.second_wallet.name}"))
        rows.append((SECOND_WALLET_PAID, 3, "Paid by the second wallet this billing period"))
    return rows


_PER_COUNT = PER_COUNT
_STATUS_CODE = {
    Rejection.FORMAT: 4,
    Rejection.CRC: 5,
    Rejection.OLD: 6,
    Rejection.USED: 6,
    Rejection.KEY_EXPIRED: 6,
    Rejection.DDTK: 6,
    Rejection.KEY_TYPE: 6,
    Rejection.OVERFLOW: 7,
    Rejection.RANGE: 7,
    Rejection.FUNCTION: 7,
}
"""Token gateway status_code: 3 execution OK, 4 format, 5 authentication, 6 validation,
7 execution failure."""


def amount_scaler_unit(wallet: Wallet) -> Data:
    """A Register's scaler_unit for amounts of the wallet: currency (unit 10) at scale -3,
    or for an energy wallet kWh at scale -3, which a Register states as Wh (unit 30)."""
    if wallet.config.unit is CreditUnit.ENERGY:
        return scaler_unit(0, Unit.WATT_HOUR)
    return scaler_unit(AMOUNT_SCALE, Unit.CURRENCY)


_bits = bits


def _no_parameter(parameters: Data | None) -> None:
    if parameters is not None and parameters.type not in (
        DataType.INTEGER,
        DataType.NULL_DATA,
        DataType.UNSIGNED,
        DataType.ENUM,
    ):
        raise type_unmatched("expected integer(0)")


def _refused(error: WalletRefused) -> Exception:
    return denied(str(error))


def prepayment_object(obis: Obis, class_id: int, meter: Meter) -> CosemObject | None:
    """The object at ``obis`` for a meter with a wallet, or None if it is not one of ours."""
    wallet = meter.wallet
    if wallet is None:
        return None
    if class_id == 111 and obis == ACCOUNT:
        return _account(meter, wallet)
    if class_id == 112 and obis == TOKEN_CREDIT:
        return _token_credit(meter, wallet, TOKEN_WALLET)
    if class_id == 112 and obis == SECOND_CREDIT and wallet.config.second_wallet is not None:
        return _token_credit(meter, wallet, SECOND_WALLET)
    if class_id == 112 and obis == EMERGENCY_CREDIT:
        return _emergency_credit(meter, wallet)
    if class_id == 113 and obis in CHARGE_OBJECTS:
        return charge_object(obis, meter, wallet)
    if class_id == 115 and obis == TOKEN_GATEWAY:
        return _token_gateway(meter)
    if class_id == 1 and obis in (PURCHASES, PURCHASE_COUNTERS, MONTHLY_COST):
        return _records(obis, meter, wallet)
    if class_id == 3 and obis in _PAID_BY:
        return _billing_period_cost(obis, wallet)
    return None


_PAID_BY = {BILLING_PERIOD_COST: None, TOKEN_WALLET_PAID: 0, SECOND_WALLET_PAID: 1}


def _billing_period_cost(obis: Obis, wallet: Wallet) -> CosemObject:
    """What the billing period has cost since the last billing point (energy and charges
    with VAT, after subsidies), or the part of it one wallet paid; the billing profile
    captures them at the billing point, before they restart."""
    unit = amount_scaler_unit(wallet)
    which = _PAID_BY[obis]

    def value(_r: Request) -> Data:
        return amount(wallet.period_cost if which is None else wallet.period_paid[which])

    return CosemObject(
        interface_class(3), obis, {2: Binding(get=value), 3: Binding(get=lambda _r: unit)}
    )


def _account(meter: Meter, wallet: Wallet) -> CosemObject:
    config = wallet.config

    def mode_and_status(_r: Request) -> Data:
        return Data.structure([Data.enum(int(wallet.mode)), Data.enum(int(wallet.status))])

    def set_mode(_r: Request, value: Data) -> None:
        elements = value.as_items() if value.type is DataType.STRUCTURE else ()
        if len(elements) != 2 or any(e.type is not DataType.ENUM for e in elements):
            raise type_unmatched("expected structure {payment_mode enum, account_status enum}")
        mode, status = (e.as_int() for e in elements)
        if mode not in (1, 2):
            raise type_unmatched(f"payment_mode {mode} is not 1 (credit) or 2 (prepayment)")
        if status != int(wallet.status):
            raise denied("account_status changes by the activate/close/reset methods")
        meter.set_payment_mode(PaymentMode(mode))

    def credit_status(_r: Request) -> Data:
        available = wallet.available()
        return _bits(
            available > 0,
            wallet.alarm_level > 0,
            config.emergency_credit > 0,
            wallet.emergency_offered(),
            wallet.emergency_in_use,
            wallet.emergency_in_use,
            wallet.exhausted(),
            False,
        )

    def debt(_r: Request) -> Data:
        return amount(max(-wallet.credit, 0) + wallet.emergency_owed)

    def status_method(status: AccountStatus) -> Method:
        def invoke(_r: Request, parameters: Data | None) -> Data | None:
            _no_parameter(parameters)
            meter.set_account_status(status)
            return None

        return invoke

    credits = [TOKEN_CREDIT, EMERGENCY_CREDIT]
    if config.second_wallet is not None:
        credits.insert(0 if config.second_wallet.priority == 1 else 1, SECOND_CREDIT)
    charges = [obis for obis, _c, _d in charge_rows(config.unit)]
    currency = (
        Data.structure([Data.utf8_string("kWh"), Data.integer(AMOUNT_SCALE), Data.enum(1)])
        if config.unit is CreditUnit.ENERGY
        else Data.structure(
            [Data.utf8_string(config.currency), Data.integer(AMOUNT_SCALE), Data.enum(2)]
        )
    )
    thresholds = config.low_credit_thresholds
    return CosemObject(
        interface_class(111),
        ACCOUNT,
        {
            2: Binding(get=mode_and_status, set=set_mode),
            3: Binding(
                get=lambda _r: Data.unsigned(
                    1 if wallet.emergency_in_use and wallet.credit <= 0 else 0
                )
            ),
            4: Binding(get=credit_status),
            5: Binding(get=lambda _r: amount(wallet.available())),
            6: Binding(get=debt),
            7: Binding(get=lambda _r: amount(0)),
            8: Binding(get=debt),
            9: Binding(get=lambda _r: Data.array([logical_name(o) for o in credits])),
            10: Binding(get=lambda _r: Data.array([logical_name(o) for o in charges])),
            11: Binding(
                get=lambda _r: Data.array(
                    [
                        Data.structure(
                            [logical_name(c), logical_name(g), _bits(False, False, True)]
                        )
                        for c in credits
                        for g in charges
                    ]
                )
            ),
            12: Binding(
                get=lambda _r: Data.array(
                    [Data.structure([logical_name(TOKEN_CREDIT), Data.unsigned(100)])]
                )
            ),
            13: Binding(get=lambda _r: date_time_data(meter.clock, wallet.activated_ms)),
            14: Binding(get=lambda _r: date_time_data(meter.clock, wallet.closed_ms)),
            15: Binding(get=lambda _r: currency),
            16: Binding(get=lambda _r: amount(thresholds[0] if thresholds else 0)),
            17: Binding(get=lambda _r: amount(min(thresholds, default=0))),
            18: Binding(get=lambda _r: Data.long_unsigned(0)),
            19: Binding(get=lambda _r: Data.double_long_unsigned(0)),
        },
        {
            1: status_method(AccountStatus.ACTIVE),
            2: status_method(AccountStatus.CLOSED),
            3: status_method(AccountStatus.NEW_INACTIVE),
        },
    )


def _double_long(parameters: Data | None) -> int:
    if parameters is None or parameters.type is not DataType.DOUBLE_LONG:
        raise type_unmatched("expected a double-long amount (scale -3)")
    return parameters.as_int()


def _token_credit(meter: Meter, wallet: Wallet, which: int) -> CosemObject:
    """The token wallet (0-0:19.10.0.255) or the second wallet (0-0:19.10.2.255): both take
    the head-end's update_amount and set_amount_to_value; only the token wallet takes
    tokens and runs negative (overdraw)."""
    config = wallet.config
    second = config.second_wallet
    token = which == TOKEN_WALLET

    def update_amount(_r: Request, parameters: Data | None) -> Data | None:
        counts = _double_long(parameters)
        if counts <= 0:
            raise type_unmatched("update_amount adds a positive amount")
        try:
            meter.remote_credit(counts * _PER_COUNT, which)
        except WalletRefused as error:
            raise _refused(error) from None
        return None

    def set_amount_to_value(_r: Request, parameters: Data | None) -> Data | None:
        counts = _double_long(parameters)
        if counts < 0:
            raise type_unmatched("set_amount_to_value takes an amount >= 0")
        try:
            meter.set_credit(counts * _PER_COUNT, which)
        except WalletRefused as error:
            raise _refused(error) from None
        return None

    def held() -> int:
        return wallet.credit if token else wallet.second_credit

    if second is None:
        priority = 1
    else:
        priority = (2 if second.priority == 1 else 1) if token else second.priority
    return CosemObject(
        interface_class(112),
        TOKEN_CREDIT if token else SECOND_CREDIT,
        {
            2: Binding(get=lambda _r: amount(held())),
            3: Binding(get=lambda _r: Data.enum(0)),  # token credit
            4: Binding(get=lambda _r: Data.unsigned(priority)),
            5: Binding(
                get=lambda _r: amount(
                    config.low_credit_thresholds[0] if config.low_credit_thresholds else 0
                )
            ),
            6: Binding(get=lambda _r: amount(0)),
            7: Binding(get=lambda _r: _bits(True, False, False, True, token)),
            8: Binding(get=lambda _r: Data.enum(3 if held() > 0 else 4)),
            9: Binding(get=lambda _r: amount(0)),
            10: Binding(get=lambda _r: amount(0)),
            11: Binding(get=lambda _r: date_time_data(meter.clock, None)),
        },
        {1: update_amount, 2: set_amount_to_value},
    )


def _emergency_credit(meter: Meter, wallet: Wallet) -> CosemObject:
    config = wallet.config

    def status(_r: Request) -> Data:
        if wallet.emergency_in_use:
            return Data.enum(3 if wallet.emergency_remaining > 0 else 4)
        if wallet.emergency_owed:
            return Data.enum(4)
        return Data.enum(1 if wallet.emergency_offered() else 0)

    def invoke(_r: Request, parameters: Data | None) -> Data | None:
        try:
            meter.take_emergency_credit()
        except WalletRefused as error:
            raise _refused(error) from None
        return None

    def current(_r: Request) -> Data:
        return amount(
            wallet.emergency_remaining if wallet.emergency_in_use else config.emergency_credit
        )

    return CosemObject(
        interface_class(112),
        EMERGENCY_CREDIT,
        {
            2: Binding(get=current),
            3: Binding(get=lambda _r: Data.enum(2)),  # emergency credit
            4: Binding(get=lambda _r: Data.unsigned(2 if config.second_wallet is None else 3)),
            5: Binding(get=lambda _r: amount(0)),
            6: Binding(get=lambda _r: amount(0)),
            7: Binding(get=lambda _r: _bits(True, not config.emergency_auto, True, False, False)),
            8: Binding(get=status),
            9: Binding(get=lambda _r: amount(config.emergency_credit)),
            10: Binding(get=lambda _r: amount(min(config.low_credit_thresholds, default=0))),
            11: Binding(get=lambda _r: date_time_data(meter.clock, None)),
        },
        {3: invoke},
    )


def token_digits(parameters: Data | None) -> str:
    """The token an `enter` carries: 20 ASCII digits (octet- or visible-string), or the
    66-bit token number in 9 octets."""
    if parameters is None or parameters.type not in (
        DataType.OCTET_STRING,
        DataType.VISIBLE_STRING,
    ):
        raise type_unmatched("enter takes the token as an octet-string")
    value = parameters.value
    if isinstance(value, str):
        return value
    raw = bytes(value) if isinstance(value, bytes | bytearray | memoryview) else b""
    if len(raw) == 9:
        return f"{int.from_bytes(raw, 'big'):020d}"
    return raw.decode("latin-1")


def _token_gateway(meter: Meter) -> CosemObject:
    def last() -> TokenResult | None:
        return meter.token_results[0] if meter.token_results else None

    def status(_r: Request) -> Data:
        result = last()
        if result is None:
            code = 0
        elif result.accepted:
            code = 3
        elif result.rejection is None:
            code = 7  # keypad locked
        else:
            code = _STATUS_CODE[result.rejection]
        return Data.structure([Data.enum(code), _bits()])

    def enter(_r: Request, parameters: Data | None) -> Data | None:
        meter.enter_token(token_digits(parameters))
        return None

    return CosemObject(
        interface_class(115),
        TOKEN_GATEWAY,
        {
            2: Binding(
                get=lambda _r: Data.octet_string(
                    (r.digits if (r := last()) else "").encode("latin-1", "replace")
                )
            ),
            3: Binding(
                get=lambda _r: date_time_data(meter.clock, r.at_meter_ms if (r := last()) else None)
            ),
            4: Binding(
                get=lambda _r: Data.array(
                    [Data.octet_string(r.message.encode()) for r in meter.token_results[:1]]
                )
            ),
            5: Binding(get=lambda _r: Data.enum(0)),  # via remote communications
            6: Binding(get=status),
        },
        {1: enter},
    )


def _records(obis: Obis, meter: Meter, wallet: Wallet) -> CosemObject:
    second = wallet.config.second_wallet  # with two wallets a purchase names its wallet

    def purchases(_r: Request) -> Data:
        return Data.array(
            [
                Data.structure(
                    [date_time_data(meter.clock, p.at_meter_ms), amount(p.amount)]
                    + ([Data.unsigned(p.wallet)] if second is not None else [])
                )
                for p in wallet.purchases
            ]
        )

    def counters(_r: Request) -> Data:
        return Data.structure(
            [Data.double_long_unsigned(wallet.purchase_count), amount(wallet.purchased_total)]
        )

    def costs(_r: Request) -> Data:
        months = [(month, cost) for month, cost in wallet.cost_history]
        months.insert(0, (meter.local_time().strftime("%Y-%m"), wallet.month_cost))
        return Data.array(
            [
                Data.structure([Data.visible_string(month), amount(cost)])
                for month, cost in months[:13]
            ]
        )

    getter = {PURCHASES: purchases, PURCHASE_COUNTERS: counters, MONTHLY_COST: costs}[obis]
    return CosemObject(interface_class(1), obis, {2: Binding(get=getter)})
