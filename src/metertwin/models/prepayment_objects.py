"""Payment metering objects over the core's wallet and token entry (issue 4 item 5; Blue Book
4.6, attribute types as in docs/dlms.md): Account (class 111), Credit (112), Charge (113) and
Token gateway (115), at their standard logical names.

Amounts are double-long in the account's currency with scale -3 (attribute 15): a value of
12345 is 12.345 currency units, or 12.345 kWh for an energy wallet. The cost of the present
billing period is also a Register (class 3), so that the billing profile can capture it.
"""

from __future__ import annotations

from metertwin.codec.axdr import BitString, Data, DataType
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import denied, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Method, Request
from metertwin.meter.core import Meter
from metertwin.meter.registers import Energy
from metertwin.meter.token_entry import TokenResult
from metertwin.meter.wallet import AccountStatus, CreditUnit, PaymentMode, Wallet, WalletRefused
from metertwin.models.values import Unit, date_time_data, logical_name, scaler_unit
from metertwin.sts import Rejection

ACCOUNT = Obis(0, 0, 19, 0, 0)
TOKEN_CREDIT = Obis(0, 0, 19, 10, 0)
EMERGENCY_CREDIT = Obis(0, 0, 19, 10, 1)
CONSUMPTION_CHARGE = Obis(0, 0, 19, 20, 0)
STANDING_CHARGE = Obis(0, 0, 19, 20, 1)
TOKEN_GATEWAY = Obis(0, 0, 19, 40, 0)
PURCHASES = Obis(0, 0, 96, 128, 0)
PURCHASE_COUNTERS = Obis(0, 0, 96, 128, 1)
MONTHLY_COST = Obis(0, 0, 96, 128, 2)
BILLING_PERIOD_COST = Obis(0, 0, 96, 128, 3)

PREPAYMENT_OBJECTS: tuple[tuple[Obis, int, str], ...] = (
    (ACCOUNT, 111, "Account"),
    (TOKEN_CREDIT, 112, "Token credit"),
    (EMERGENCY_CREDIT, 112, "Emergency credit"),
    (CONSUMPTION_CHARGE, 113, "Consumption charge (TOU price, steps, VAT)"),
    (STANDING_CHARGE, 113, "Standing and fixed charges"),
    (TOKEN_GATEWAY, 115, "Token gateway"),
    (PURCHASES, 1, "Last 10 purchases: date-time, amount"),
    (PURCHASE_COUNTERS, 1, "Purchases: count, total amount"),
    (MONTHLY_COST, 1, "Consumption cost of the last 12 months"),
    (BILLING_PERIOD_COST, 3, "Consumption cost of this billing period"),
)

AMOUNT_SCALE = -3
_PER_COUNT = 1000  # µ per double-long count at scale -3
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


def amount_counts(micro: int) -> int:
    """µ as the counts of a double-long at scale -3 (floor), clamped to the type's range."""
    return max(min(micro // _PER_COUNT, 2**31 - 1), -(2**31))


def amount(micro: int) -> Data:
    """µ as double-long at scale -3 (floor), clamped to the type's range."""
    return Data.double_long(amount_counts(micro))


def amount_scaler_unit(wallet: Wallet) -> Data:
    """A Register's scaler_unit for amounts of the wallet: currency (unit 10) at scale -3,
    or for an energy wallet kWh at scale -3, which a Register states as Wh (unit 30)."""
    if wallet.config.unit is CreditUnit.ENERGY:
        return scaler_unit(0, Unit.WATT_HOUR)
    return scaler_unit(AMOUNT_SCALE, Unit.CURRENCY)


def _bits(*flags: bool) -> Data:
    return Data.bit_string(BitString.from_bools(flags))


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
        return _token_credit(meter, wallet)
    if class_id == 112 and obis == EMERGENCY_CREDIT:
        return _emergency_credit(meter, wallet)
    if class_id == 113 and obis in (CONSUMPTION_CHARGE, STANDING_CHARGE):
        return _charge(obis, meter, wallet)
    if class_id == 115 and obis == TOKEN_GATEWAY:
        return _token_gateway(meter)
    if class_id == 1 and obis in (PURCHASES, PURCHASE_COUNTERS, MONTHLY_COST):
        return _records(obis, meter, wallet)
    if class_id == 3 and obis == BILLING_PERIOD_COST:
        return _billing_period_cost(wallet)
    return None


def _billing_period_cost(wallet: Wallet) -> CosemObject:
    """What the billing period has cost since the last billing point (energy and charges
    with VAT); the billing profile captures it at the billing point, before it restarts."""
    unit = amount_scaler_unit(wallet)
    return CosemObject(
        interface_class(3),
        BILLING_PERIOD_COST,
        {
            2: Binding(get=lambda _r: amount(wallet.period_cost)),
            3: Binding(get=lambda _r: unit),
        },
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
    charges = [CONSUMPTION_CHARGE, STANDING_CHARGE]
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


def _token_credit(meter: Meter, wallet: Wallet) -> CosemObject:
    config = wallet.config

    def update_amount(_r: Request, parameters: Data | None) -> Data | None:
        counts = _double_long(parameters)
        if counts <= 0:
            raise type_unmatched("update_amount adds a positive amount")
        try:
            meter.remote_credit(counts * _PER_COUNT)
        except WalletRefused as error:
            raise _refused(error) from None
        return None

    def set_amount_to_value(_r: Request, parameters: Data | None) -> Data | None:
        counts = _double_long(parameters)
        if counts < 0:
            raise type_unmatched("set_amount_to_value takes an amount >= 0")
        try:
            meter.set_credit(counts * _PER_COUNT)
        except WalletRefused as error:
            raise _refused(error) from None
        return None

    return CosemObject(
        interface_class(112),
        TOKEN_CREDIT,
        {
            2: Binding(get=lambda _r: amount(wallet.credit)),
            3: Binding(get=lambda _r: Data.enum(0)),  # token credit
            4: Binding(get=lambda _r: Data.unsigned(1)),
            5: Binding(
                get=lambda _r: amount(
                    config.low_credit_thresholds[0] if config.low_credit_thresholds else 0
                )
            ),
            6: Binding(get=lambda _r: amount(0)),
            7: Binding(get=lambda _r: _bits(True, False, False, True, True)),
            8: Binding(get=lambda _r: Data.enum(3 if wallet.credit > 0 else 4)),
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
            4: Binding(get=lambda _r: Data.unsigned(2)),
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


def _charge(obis: Obis, meter: Meter, wallet: Wallet) -> CosemObject:
    config = wallet.config
    consumption = obis == CONSUMPTION_CHARGE
    if consumption:
        table = [
            Data.structure(
                [Data.octet_string(bytes([rate])), Data.long(config.price(rate) // _PER_COUNT)]
            )
            for rate in range(1, max(len(config.prices), 2))
        ]
        reference = Data.structure(
            [
                Data.long_unsigned(3),
                logical_name(Obis(1, 0, int(Energy.IMPORT_ACTIVE), 8, 0)),
                Data.integer(2),
            ]
        )
    else:
        table = [
            Data.structure(
                [Data.octet_string(b"day"), Data.long(config.standing_charge_per_day // 1000)]
            )
        ]
        reference = Data.structure(
            [Data.long_unsigned(8), logical_name(Obis(0, 0, 1, 0, 0)), Data.integer(2)]
        )
    unit_charge = Data.structure(
        [
            Data.structure([Data.integer(3 if consumption else 0), Data.integer(AMOUNT_SCALE)]),
            reference,
            Data.array(table),
        ]
    )

    def paid(_r: Request) -> Data:
        return amount(wallet.energy_cost_total if consumption else wallet.charges_total)

    return CosemObject(
        interface_class(113),
        obis,
        {
            2: Binding(get=paid),
            3: Binding(get=lambda _r: Data.enum(0 if consumption else 1)),
            4: Binding(get=lambda _r: Data.unsigned(1 if consumption else 2)),
            5: Binding(get=lambda _r: unit_charge),
            6: Binding(get=lambda _r: unit_charge),
            7: Binding(get=lambda _r: date_time_data(meter.clock, None)),
            8: Binding(get=lambda _r: Data.double_long_unsigned(0 if consumption else 86_400)),
            9: Binding(get=lambda _r: _bits(False, consumption)),
            10: Binding(get=lambda _r: date_time_data(meter.clock, meter.meter_time_ms())),
            11: Binding(get=lambda _r: amount(0)),
            12: Binding(get=lambda _r: amount(0)),
            13: Binding(get=lambda _r: Data.long_unsigned(0)),
        },
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
    def purchases(_r: Request) -> Data:
        return Data.array(
            [
                Data.structure([date_time_data(meter.clock, p.at_meter_ms), amount(p.amount)])
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
