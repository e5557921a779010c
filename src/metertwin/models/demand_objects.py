"""Demand register (class 5, OBIS C.4) and maximum demand (class 4, OBIS C.6.rate) objects
over the core's demand (metrology.md: D = 4 current average, D = 6 maximum demand)."""

from __future__ import annotations

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.objects import Binding, CosemObject, Request
from metertwin.meter.core import Meter
from metertwin.meter.demand import DEMAND_QUANTITIES
from metertwin.meter.registers import Energy
from metertwin.models.values import Unit, date_time_data, scaler_unit

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
            8: Binding(get=lambda _r: Data.double_long_unsigned(demand.config.period_s)),
            9: Binding(get=lambda _r: Data.long_unsigned(demand.config.number_of_periods)),
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
