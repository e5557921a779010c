"""Limiter (class 71) and Register monitor (class 21) settings read as the core's supervisors.

The settings stay in parameter memory as the head-end wrote them; this module says what they
mean: which register is watched (its scaler turns thresholds into SI units), which threshold
applies, for how long, and which script runs. A setting the meter cannot act on is refused
when written, so what a head-end reads back is what the meter does.
"""

from __future__ import annotations

from collections.abc import Mapping

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.errors import CosemError, type_unmatched, unavailable
from metertwin.meter.core import Meter
from metertwin.meter.supervision import Quantity, ScriptAction, SupervisorConfig
from metertwin.models import objects_catalog as catalog
from metertwin.models.values import integer, items, octets

DISCONNECT_SCRIPTS = Obis(0, 0, 10, 0, 106)
BILLING_SCRIPTS = Obis(0, 0, 10, 0, 1)
IMAGE_ACTIVATION_SCRIPTS = Obis(0, 0, 10, 0, 107)
SCRIPT_ACTIONS: dict[tuple[Obis, int], ScriptAction] = {
    (DISCONNECT_SCRIPTS, 1): ScriptAction.DISCONNECT,
    (DISCONNECT_SCRIPTS, 2): ScriptAction.RECONNECT,
    (BILLING_SCRIPTS, 1): ScriptAction.BILLING_RESET,
    (IMAGE_ACTIVATION_SCRIPTS, 1): ScriptAction.ACTIVATE_IMAGE,
}
"""Scripts the meter's own functions may run (script 0 of any table: no action)."""

_INTEGERS = (
    DataType.INTEGER,
    DataType.LONG,
    DataType.DOUBLE_LONG,
    DataType.LONG64,
    DataType.UNSIGNED,
    DataType.LONG_UNSIGNED,
    DataType.DOUBLE_LONG_UNSIGNED,
    DataType.LONG64_UNSIGNED,
)


def script_action(data: Data) -> ScriptAction:
    """A script reference: structure {script table logical name, script selector}."""
    table, selector = items(data, 2)
    name = Obis.from_bytes(octets(table, 6))
    number = integer(selector, DataType.LONG_UNSIGNED)
    if number == 0:
        return ScriptAction.NONE
    action = SCRIPT_ACTIONS.get((name, number))
    if action is None:
        raise unavailable(f"script {number} of {name} is not one this meter can run")
    return action


def monitored_quantity(data: Data, meter: Meter) -> tuple[Quantity, int, int]:
    """The watched attribute {class_id, logical_name, attribute_index}: the quantity, its
    phase and the register's scaler."""
    class_field, name_field, index_field = items(data, 3)
    class_id = integer(class_field, DataType.LONG_UNSIGNED)
    obis = Obis.from_bytes(octets(name_field, 6))
    index = integer(index_field, DataType.INTEGER)
    known = _QUANTITIES.get((obis.a, obis.b, obis.c, obis.d, obis.e))
    binding = catalog.register_binding(obis, meter)
    if class_id != 3 or index != 2 or known is None or binding is None:
        raise CosemError(
            DataAccessResult.OBJECT_UNAVAILABLE,
            f"cannot monitor attribute {index} of class {class_id} at {obis}",
        )
    quantity, phase = known
    return quantity, phase, binding[1]


_QUANTITIES: dict[tuple[int, int, int, int, int], tuple[Quantity, int]] = {
    (1, 0, 1, 7, 0): (Quantity.ACTIVE_POWER, 0),
    # seed 004's "Total power": the same signed sum of the phases' P (import positive)
    (1, 0, 16, 7, 0): (Quantity.ACTIVE_POWER, 0),
    (1, 0, 21, 7, 0): (Quantity.ACTIVE_POWER, 1),
    (1, 0, 41, 7, 0): (Quantity.ACTIVE_POWER, 2),
    (1, 0, 61, 7, 0): (Quantity.ACTIVE_POWER, 3),
    (1, 0, 31, 7, 0): (Quantity.CURRENT, 1),
    (1, 0, 51, 7, 0): (Quantity.CURRENT, 2),
    (1, 0, 71, 7, 0): (Quantity.CURRENT, 3),
    (1, 0, 32, 7, 0): (Quantity.VOLTAGE, 1),
    (1, 0, 52, 7, 0): (Quantity.VOLTAGE, 2),
    (1, 0, 72, 7, 0): (Quantity.VOLTAGE, 3),
    (1, 0, 1, 8, 0): (Quantity.IMPORT_ENERGY, 0),
    (1, 0, 13, 7, 0): (Quantity.POWER_FACTOR, 0),
    (1, 0, 33, 7, 0): (Quantity.POWER_FACTOR, 1),
    (1, 0, 53, 7, 0): (Quantity.POWER_FACTOR, 2),
    (1, 0, 73, 7, 0): (Quantity.POWER_FACTOR, 3),
}


def threshold(data: Data, scaler: int) -> float:
    """A threshold in the watched register's units, as an SI value."""
    if data.type in _INTEGERS:
        return data.as_int() * 10.0**scaler
    if data.type in (DataType.FLOAT32, DataType.FLOAT64):
        value = data.value
        assert isinstance(value, float)
        return value * 10.0**scaler
    raise type_unmatched(f"a threshold is a number, not {data.type.name}")


def limiter_config(
    values: Mapping[int, Data], meter: Meter, follows_power_limit: bool
) -> SupervisorConfig:
    """Class 71 attributes 2 (monitored value), 4 (threshold normal, the active one: no
    emergency profile is in force), 6 and 7 (durations, s), 11 (actions)."""
    quantity, phase, scaler = monitored_quantity(values[2], meter)
    over, under = items(values[11], 2)
    return SupervisorConfig(
        quantity,
        phase,
        0.0 if follows_power_limit else max(threshold(values[4], scaler), 0.0),
        over_ms=1000 * integer(values[6], DataType.DOUBLE_LONG_UNSIGNED),
        under_ms=1000 * integer(values[7], DataType.DOUBLE_LONG_UNSIGNED),
        action_over=script_action(over),
        action_under=script_action(under),
        limiter=True,
        follows_power_limit=follows_power_limit,
    )


def monitor_configs(values: Mapping[int, Data], meter: Meter) -> list[SupervisorConfig]:
    """Class 21 attributes 2 (thresholds), 3 (monitored value), 4 (an up/down action set
    per threshold): one supervisor per threshold, acting on each crossing."""
    quantity, phase, scaler = monitored_quantity(values[3], meter)
    thresholds = items(values[2])
    actions = items(values[4])
    if len(actions) != len(thresholds):
        raise type_unmatched(f"{len(thresholds)} thresholds need as many action sets")
    configs = []
    for level, action_set in zip(thresholds, actions, strict=True):
        up, down = items(action_set, 2)
        config = SupervisorConfig(
            quantity,
            phase,
            threshold(level, scaler),
            action_over=script_action(up),
            action_under=script_action(down),
        )
        _refuse_flapping(config)
        configs.append(config)
    return configs


def _refuse_flapping(config: SupervisorConfig) -> None:
    """A monitor of the load that disconnects on one side of its threshold and reconnects
    on the side an open relay reads (no current: 0 W, 0 A, power factor 1) would reconnect
    the load it has just cut, and cut it again, at the same instant for ever."""
    if not config.quantity.through_relay:
        return
    idle_over = config.quantity.idle_value > config.threshold
    on_opening, other = (
        (config.action_over, config.action_under)
        if idle_over
        else (config.action_under, config.action_over)
    )
    if on_opening is ScriptAction.RECONNECT and other is ScriptAction.DISCONNECT:
        raise unavailable(
            f"a {config.quantity.value} monitor at {config.threshold:g} would reconnect the "
            "load it cut at once (no current flows through an open relay)"
        )
