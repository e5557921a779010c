"""Charge objects (class 113) over the wallet's charge tables (issue 20 items 4 and 6; Blue
Book 4.6 Charge, attribute types as in docs/dlms.md; seed 003 "Tariff Expense").

Each table of the wallet (`ChargeKind`) is one Charge object: unit_charge_active (attribute 5)
reads the table the wallet charges from, unit_charge_passive (6) the table written for later,
unit_charge_activation_time (7) when the passive table becomes active, method 1
update_unit_charge writes the passive table too and method 2 activate_passive_unit_charge
makes it active now. A table is `{charge_per_unit_scaling {commodity_scale, price_scale},
commodity {class_id, logical_name, attribute}, charge_tables [{index, charge_per_unit}]}`;
each object's scaling and index width are fixed (`_LAYOUT`), values are `long` counts.

last_collection_time and last_collection_amount (10, 11) are the charge's last collection,
total_amount_remaining (12) what a head-end set (method 5) or added (method 4) less what was
collected since; method 3 collect takes a time-based charge now. Steps, levies and VAT are
collected inside the consumption charge (0.0.19.20.0, whose amounts include them), so they
show no collection of their own and refuse methods 4 and 5. proportion (13) is for
payment-event-based charges (charge_type 2), which none of these is: 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from metertwin.codec.axdr import BitString, Data, DataType
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import CosemError, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Method, Request
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.meter.registers import Energy
from metertwin.meter.wallet import (
    LEVY_PERCENT,
    ChargeKind,
    ChargeTable,
    CreditUnit,
    Wallet,
    WalletRefused,
)
from metertwin.models.values import date_time_data, items, logical_name, meter_ms_from, octets

AMOUNT_SCALE = -3
PER_COUNT = 1000  # µ per double-long count at scale -3


def amount_counts(micro: int) -> int:
    """µ as the counts of a double-long at scale -3 (floor), clamped to the type's range."""
    return max(min(micro // PER_COUNT, 2**31 - 1), -(2**31))


def amount(micro: int) -> Data:
    """µ as double-long at scale -3 (floor), clamped to the type's range."""
    return Data.double_long(amount_counts(micro))


def bits(*flags: bool) -> Data:
    return Data.bit_string(BitString.from_bools(flags))


@dataclass(frozen=True)
class _Layout:
    """How one kind's table looks on the wire."""

    obis: Obis
    description: str
    index_octets: int
    price_scale: int
    consumption: bool  # charge_type 0 (consumption-based) or 1 (time-based)
    period_s: int
    priority: int
    percentage: bool = False


_IMPORT = Obis(1, 0, int(Energy.IMPORT_ACTIVE), 8, 0)
_CLOCK = Obis(0, 0, 1, 0, 0)
_LAYOUT: dict[ChargeKind, _Layout] = {
    ChargeKind.SUBSIDY: _Layout(
        Obis(0, 0, 19, 20, 5), "Subsidies (free kWh or amount per month)", 2, -2, False, 0, 1
    ),
    ChargeKind.ENERGY: _Layout(
        Obis(0, 0, 19, 20, 0), "Consumption charge by TOU rate", 1, -3, True, 0, 2
    ),
    ChargeKind.STEPS: _Layout(
        Obis(0, 0, 19, 20, 2), "Step surcharge by monthly consumption band", 4, -3, True, 0, 3
    ),
    ChargeKind.LEVY: _Layout(
        Obis(0, 0, 19, 20, 6), "Levies (percent or per kWh)", 2, -3, True, 0, 4
    ),
    ChargeKind.VAT: _Layout(
        Obis(0, 0, 19, 20, 7), "VAT on energy, charges, levies", 1, -3, True, 0, 5, True
    ),
    ChargeKind.STANDING: _Layout(
        Obis(0, 0, 19, 20, 1), "Standing charge per day", 1, -3, False, 86_400, 6
    ),
    ChargeKind.FIXED: _Layout(Obis(0, 0, 19, 20, 4), "Fixed charges per month", 1, -3, False, 0, 7),
    ChargeKind.SERVICE: _Layout(
        Obis(0, 0, 19, 20, 3), "Monthly service charge by consumption band", 4, -3, False, 0, 8
    ),
}
CHARGE_OBJECTS: dict[Obis, ChargeKind] = {layout.obis: kind for kind, layout in _LAYOUT.items()}
FOLDED = frozenset({ChargeKind.STEPS, ChargeKind.LEVY, ChargeKind.VAT})
"""Collected as part of the consumption charge (ENERGY): no collection of their own."""
MAX_AMOUNT_COUNTS = 2**31 - 1


def charge_rows(wallet_unit: CreditUnit) -> list[tuple[Obis, int, str]]:
    """The object list's Charge objects: all tables for a currency wallet; an energy wallet
    (credit in kWh, no prices) keeps the two it always had."""
    kinds = (
        list(_LAYOUT)
        if wallet_unit is CreditUnit.CURRENCY
        else [ChargeKind.ENERGY, ChargeKind.STANDING]
    )
    return [(_LAYOUT[k].obis, 113, _LAYOUT[k].description) for k in kinds]


def _unit(kind: ChargeKind, index: int) -> int:
    """What one count of ``kind``'s charge_per_unit is internally: µ (amounts, µ of a kWh)
    or ppm (percentages, counted in thousandths of a percent)."""
    if kind is ChargeKind.VAT or (kind is ChargeKind.LEVY and index >> 8 == LEVY_PERCENT):
        return 10
    if kind is ChargeKind.SUBSIDY:
        return 10_000
    return PER_COUNT


def unit_charge(kind: ChargeKind, table: ChargeTable) -> Data:
    layout = _LAYOUT[kind]
    commodity = _IMPORT if layout.consumption else _CLOCK
    return Data.structure(
        [
            Data.structure(
                [Data.integer(3 if layout.consumption else 0), Data.integer(layout.price_scale)]
            ),
            Data.structure(
                [
                    Data.long_unsigned(3 if layout.consumption else 8),
                    logical_name(commodity),
                    Data.integer(2),
                ]
            ),
            Data.array(
                [
                    Data.structure(
                        [
                            Data.octet_string(index.to_bytes(layout.index_octets, "big")),
                            Data.long(min(value // _unit(kind, index), 2**15 - 1)),
                        ]
                    )
                    for index, value in table
                ]
            ),
        ]
    )


def parse_unit_charge(kind: ChargeKind, value: Data) -> ChargeTable:
    """A unit_charge a head-end sent, as the wallet's table: a wrong shape, type, scaling or
    index width is type-unmatched; values the wallet refuses are other-reason (by the
    caller). Negative charges are refused: a subsidy is its own table."""
    layout = _LAYOUT[kind]
    scaling, _commodity, tables = items(value, 3)
    scales = [s.as_int() for s in items(scaling, 2) if s.type is DataType.INTEGER]
    if scales != [3 if layout.consumption else 0, layout.price_scale]:
        raise type_unmatched(f"charge_per_unit_scaling must be {scales!r} for this charge")
    if tables.type is not DataType.ARRAY:
        raise type_unmatched("charge_tables must be an array")
    table = []
    for entry in tables.as_items():
        index_data, per_unit = items(entry, 2)
        index = int.from_bytes(octets(index_data, layout.index_octets), "big")
        if per_unit.type is not DataType.LONG:
            raise type_unmatched("charge_per_unit must be a long")
        if per_unit.as_int() < 0:
            raise CosemError(DataAccessResult.OTHER_REASON, "a negative charge")
        table.append((index, per_unit.as_int() * _unit(kind, index)))
    return tuple(table)


def charge_object(obis: Obis, meter: Meter, wallet: Wallet) -> CosemObject:
    kind = CHARGE_OBJECTS[obis]
    layout = _LAYOUT[kind]
    written_key = f"charge-activation:{kind.value}"

    def program(**change: object) -> None:
        try:
            meter.program_charge(kind, **change)  # type: ignore[arg-type]
        except ValueError as error:
            raise CosemError(DataAccessResult.OTHER_REASON, str(error)) from None

    def set_passive(_r: Request, value: Data) -> None:
        program(passive=parse_unit_charge(kind, value))

    def update_unit_charge(_r: Request, parameters: Data | None) -> Data | None:
        if parameters is None:
            raise type_unmatched("update_unit_charge takes a unit_charge")
        set_passive(_r, parameters)
        return None

    def activate(_r: Request, parameters: Data | None) -> Data | None:
        if parameters is not None and parameters.type not in (
            DataType.INTEGER,
            DataType.NULL_DATA,
        ):
            raise type_unmatched("activate_passive_unit_charge takes integer(0)")
        program(activate_now=True)
        return None

    def get_activation(_r: Request) -> Data:
        due = wallet.activation_ms.get(kind)
        written = meter.parameters.get(written_key)
        if due is not None and written is not None:
            return Data.octet_string(written)  # as written (wildcards and deviation kept)
        return date_time_data(meter.clock, due)

    def set_activation(_r: Request, value: Data) -> None:
        raw = octets(value, 12)
        unspecified = raw == CosemDateTime().to_bytes()
        program(activate_at_ms=None if unspecified else meter_ms_from(value, meter.clock))
        meter.parameters[written_key] = raw

    def paid(_r: Request) -> Data:
        """Consumption: energy with steps, levies and VAT; standing: every time-based
        charge with its VAT; subsidy: what subsidies paid; the others are in these."""
        if kind is ChargeKind.ENERGY:
            return amount(wallet.energy_cost_total)
        if kind is ChargeKind.STANDING:
            return amount(wallet.charges_total)
        if kind is ChargeKind.SUBSIDY:
            return amount(wallet.subsidised_total)
        return amount(0)

    def amount_parameter(parameters: Data | None, what: str) -> int:
        """A method's double-long amount (counts at scale -3), as µ."""
        if parameters is None or parameters.type is not DataType.DOUBLE_LONG:
            raise type_unmatched(f"{what} takes a double-long amount")
        return parameters.as_int() * PER_COUNT

    def own_remaining() -> None:
        if kind in FOLDED:
            raise CosemError(
                DataAccessResult.OTHER_REASON, "collected as part of the consumption charge"
            )

    def set_remaining(micro: int) -> None:
        if not 0 <= micro <= MAX_AMOUNT_COUNTS * PER_COUNT:
            raise CosemError(DataAccessResult.OTHER_REASON, "total_amount_remaining out of range")
        if wallet.remaining.get(kind, 0) != micro:
            wallet.set_remaining(kind, micro)
            meter.log_event(EventCode.PARAMETER_CHANGED)

    def collect(_r: Request, parameters: Data | None) -> Data | None:
        if parameters is not None and parameters.type not in (
            DataType.INTEGER,
            DataType.NULL_DATA,
        ):
            raise type_unmatched("collect takes integer(0)")
        try:
            meter.collect_charge(kind)
        except WalletRefused as refused:
            raise CosemError(DataAccessResult.OTHER_REASON, str(refused)) from None
        return None

    def update_remaining(_r: Request, parameters: Data | None) -> Data | None:
        added = amount_parameter(parameters, "update_total_amount_remaining")
        own_remaining()
        set_remaining(wallet.remaining.get(kind, 0) + added)
        return None

    def set_total_remaining(_r: Request, parameters: Data | None) -> Data | None:
        amount_given = amount_parameter(parameters, "set_total_amount_remaining")
        own_remaining()
        set_remaining(amount_given)
        return None

    def last_collection() -> tuple[int, int] | None:
        return None if kind in FOLDED else wallet.collections.get(kind)

    attributes = {
        2: Binding(get=paid),
        3: Binding(get=lambda _r: Data.enum(0 if layout.consumption else 1)),
        4: Binding(get=lambda _r: Data.unsigned(layout.priority)),
        5: Binding(get=lambda _r: unit_charge(kind, wallet.tables.get(kind, ()))),
        6: Binding(get=lambda _r: unit_charge(kind, wallet.passive.get(kind, ()))),
        7: Binding(get=get_activation),
        8: Binding(get=lambda _r: Data.double_long_unsigned(layout.period_s)),
        9: Binding(get=lambda _r: bits(layout.percentage, layout.consumption)),
        10: Binding(
            get=lambda _r: date_time_data(meter.clock, c[0] if (c := last_collection()) else None)
        ),
        11: Binding(get=lambda _r: amount(c[1] if (c := last_collection()) else 0)),
        12: Binding(get=lambda _r: amount(wallet.remaining.get(kind, 0))),
        13: Binding(get=lambda _r: Data.long_unsigned(0)),
    }
    methods: dict[int, Method] = {3: collect, 4: update_remaining, 5: set_total_remaining}
    if wallet.config.unit is CreditUnit.CURRENCY:
        attributes[6] = Binding(get=attributes[6].get, set=set_passive)
        attributes[7] = Binding(get=get_activation, set=set_activation)
        methods |= {1: update_unit_charge, 2: activate}
    return CosemObject(interface_class(113), obis, attributes, methods)
