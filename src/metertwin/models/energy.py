"""The energy registers a meter shows, by OBIS code (metrology.md: value group C is the
quantity, D = 8 time integral, E = 0 total or the tariff rate; phases add 20/40/60 to C)."""

from __future__ import annotations

from metertwin.codec.units import UNIT_SYMBOLS
from metertwin.meter.core import Meter
from metertwin.meter.registers import Energy
from metertwin.models.values import energy_unit

QUANTITIES = tuple(Energy)  # every quantity exists for the total and for each phase
RATE_QUANTITIES = (
    Energy.IMPORT_ACTIVE,
    Energy.EXPORT_ACTIVE,
    Energy.IMPORT_REACTIVE,
    Energy.EXPORT_REACTIVE,
)


def energy_obis(quantity: Energy, phase: int = 0, rate: int = 0) -> str:
    return f"1.0.{int(quantity) + 20 * phase}.8.{rate}.255"


def energy_register_catalogue(phases: int, rates: int) -> list[tuple[str, Energy, int, int]]:
    """(OBIS, quantity, phase, rate) for every energy register of a meter."""
    rows = [(energy_obis(q), q, 0, 0) for q in QUANTITIES]
    rows += [(energy_obis(q, 0, r), q, 0, r) for q in RATE_QUANTITIES for r in range(1, rates + 1)]
    if phases > 1:
        rows += [(energy_obis(q, p), q, p, 0) for p in range(1, phases + 1) for q in QUANTITIES]
    return rows


def energy_register_values(meter: Meter) -> dict[str, int]:
    """Every energy register in mWh (primary side), keyed by OBIS code."""
    spec = meter.spec
    return {
        obis: meter.energy_mwh(q, phase, rate)
        for obis, q, phase, rate in energy_register_catalogue(
            spec.ratings.phases, spec.capacity.rates
        )
    }


def energy_register_units(meter: Meter) -> dict[str, str]:
    """Every energy register's unit symbol (Wh, varh, VAh), keyed by OBIS code: the unit its
    scaler_unit serves, so an export labels reactive and apparent energy as the meter does."""
    spec = meter.spec
    return {
        obis: UNIT_SYMBOLS[energy_unit(q)]
        for obis, q, _phase, _rate in energy_register_catalogue(
            spec.ratings.phases, spec.capacity.rates
        )
    }
