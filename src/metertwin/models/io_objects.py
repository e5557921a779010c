"""The battery and the input/output ports as COSEM registers (issue 20, items 8 and 9).

OBIS (Blue Book, "battery entries" 0.b.96.6.e and "meter constants" 1.b.0.3.e):

- 0.0.96.6.3.255 battery voltage (class 3, V, scaler -2), 0.0.96.6.0.255 battery use time
  counter (class 3, s: the time the battery has kept the meter, the supply off, since it was
  fitted), for a model with a ``[battery]``;
- 1.0.0.3.3.255 active energy meter constant of the pulse output (class 3, 1/(Wh), scaler
  -3: 1000 imp/kWh reads 1000 x 10^-3 imp/Wh), for a model with an S0 pulse output.

The S0 pulse count itself has no standard object: the control API and `Meter.s0_pulses`
give it. The tariff input shows in the active rate 0.0.96.14.0.255 it forces.
"""

from __future__ import annotations

from collections.abc import Callable

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.meter.core import Meter
from metertwin.meter.spec import DeviceSpec
from metertwin.models.values import Unit

BATTERY_VOLTAGE = Obis(0, 0, 96, 6, 3)
BATTERY_USE_TIME = Obis(0, 0, 96, 6, 0)
PULSE_CONSTANT = Obis(1, 0, 0, 3, 3)


def io_objects(spec: DeviceSpec) -> list[tuple[Obis, int, str]]:
    """The rows a model's battery and pulse output add to its standard object list."""
    rows: list[tuple[Obis, int, str]] = []
    if spec.battery is not None:
        rows += [
            (BATTERY_VOLTAGE, 3, "Battery voltage"),
            (BATTERY_USE_TIME, 3, "Battery use time counter (on battery since fitted)"),
        ]
    if spec.pulse_output_imp_per_kwh is not None:
        rows.append((PULSE_CONSTANT, 3, "Meter constant of the active energy pulse output"))
    return rows


def io_register(obis: Obis, meter: Meter) -> tuple[Callable[[], Data], int, Unit] | None:
    """The value, scaler and unit of one of these registers, or None (not one of them, or
    the model has no such part)."""
    battery = meter.battery
    if obis == BATTERY_VOLTAGE and battery is not None:
        return lambda: Data.long_unsigned(round(battery.voltage_v * 100)), -2, Unit.VOLT
    if obis == BATTERY_USE_TIME and battery is not None:
        return (
            lambda: Data.double_long_unsigned(battery.on_battery_ms // 1000 % 2**32),
            0,
            Unit.SECOND,
        )
    constant = meter.spec.pulse_output_imp_per_kwh
    if obis == PULSE_CONSTANT and constant is not None:
        return lambda: Data.double_long_unsigned(constant), -3, Unit.PER_WATT_HOUR
    return None
