"""Demand register (class 5, OBIS C.4) and maximum demand (class 4, OBIS C.6.rate) objects
over the core's demand (metrology.md: D = 4 current average, D = 6 maximum demand)."""

from __future__ import annotations

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import CosemError
from metertwin.cosem.objects import Binding, CosemObject, Request
from metertwin.meter.core import Meter
from metertwin.meter.demand import DEMAND_QUANTITIES, DemandConfig, programmed_demand
from metertwin.meter.registers import Energy
from metertwin.models.values import Unit, date_time_data, integer, scaler_unit

_UNITS = {
    Energy.IMPORT_ACTIVE: Unit.WATT,
    Energy.EXPORT_ACTIVE: Unit.WATT,
    Energy.IMPORT_REACTIVE: Unit.VAR,
    Energy.EXPORT_REACTIVE: Unit.VAR,
    Energy.IMPORT_APPARENT: Unit.VOLT_AMPERE,
}
_U32 = 2**32


def demand_quantity(obis: Obis) -> Energy | None:
    if obis.a == 1 and obis.b == 0 and obis.c in {int(q) for q in DEMAND_QUANTITIES}:
        return Energy(obis.c)
    return None


def _watts(milliwatts: int) -> Data:
    return Data.double_long_unsigned((milliwatts // 1000) % _U32)


def _program(meter: Meter, period_s: int, number_of_periods: int) -> None:
    try:
        config = programmed_demand(period_s, number_of_periods)
    except ValueError as problem:
        raise CosemError(DataAccessResult.OTHER_REASON, str(problem)) from None
    meter.program_demand(config)


def set_demand_period(meter: Meter, value: Data) -> None:
    """Class 5 attribute 8 (and seed 004's 1.0.0.8.0.255): the sub-period in seconds, the
    number of sub-periods kept (block demand stays block over the new cycle; sliding
    demand slides by the new period). Seed 002 5.2 b's combinations only, else
    other-reason; a value that is not double-long-unsigned is type-unmatched."""
    config: DemandConfig = meter.demand.config
    _program(meter, integer(value, DataType.DOUBLE_LONG_UNSIGNED), config.number_of_periods)


def set_number_of_periods(meter: Meter, value: Data) -> None:
    """Class 5 attribute 9: how many sub-periods make the window, the interval kept (1:
    block demand over it; n: sliding by interval / n), so block <-> sliding is one SET
    and every setting is reached from any other by SETs that are each valid
    (docs/dlms.md, "Programmable load profiles, demand and metering mode")."""
    count = integer(value, DataType.LONG_UNSIGNED)
    interval = meter.demand.config.interval_s
    if count < 1 or interval % count:
        raise CosemError(
            DataAccessResult.OTHER_REASON, f"{interval} s is not {count} whole sub-periods"
        )
    _program(meter, interval // count, count)


def demand_register(obis: Obis, quantity: Energy, meter: Meter) -> CosemObject:
    demand = meter.demand
    unit = scaler_unit(0, _UNITS[quantity])

    def current(_request: Request) -> Data:
        return _watts(demand.current_average_mw(quantity, meter.registers.micro(quantity)))

    def reset(_request: Request, _parameters: Data | None) -> Data | None:
        meter.demand_reset()
        return None

    def next_period(_request: Request, _parameters: Data | None) -> Data | None:
        meter.demand_next_period()
        return None

    return CosemObject(
        interface_class(5),
        obis,
        {
            2: Binding(get=current),
            3: Binding(get=lambda _r: _watts(demand.last_average_mw[quantity])),
            4: Binding(get=lambda _r: unit),
            5: Binding(get=lambda _r: Data.unsigned(0)),
            6: Binding(get=lambda _r: date_time_data(meter.clock, demand.capture_ms)),
            7: Binding(get=lambda _r: date_time_data(meter.clock, demand.sub_period_start_ms)),
            8: Binding(
                get=lambda _r: Data.double_long_unsigned(meter.demand.config.period_s),
                set=lambda _r, value: set_demand_period(meter, value),
            ),
            9: Binding(
                get=lambda _r: Data.long_unsigned(meter.demand.config.number_of_periods),
                set=lambda _r, value: set_number_of_periods(meter, value),
            ),
        },
        {1: reset, 2: next_period},
    )


def maximum_demand(obis: Obis, quantity: Energy, meter: Meter) -> CosemObject:
    rate = obis.e
    demand = meter.demand
    unit = scaler_unit(0, _UNITS[quantity])

    def reset(_request: Request, _parameters: Data | None) -> Data | None:
        meter.reset_maximum_demand(quantity, rate)
        return None

    return CosemObject(
        interface_class(4),
        obis,
        {
            2: Binding(get=lambda _r: _watts(demand.maximum[quantity][rate].value_mw)),
            3: Binding(get=lambda _r: unit),
            4: Binding(get=lambda _r: Data.unsigned(0)),
            5: Binding(
                get=lambda _r: date_time_data(
                    meter.clock, demand.maximum[quantity][rate].at_meter_ms
                )
            ),
        },
        {1: reset},
    )
