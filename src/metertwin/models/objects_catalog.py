"""What each object of an object list means: OBIS semantics (IEC 62056-6-1) and defaults.

- energy registers C.8.E (metrology.md: C = quantity, +20/40/60 per phase; E = rate), with
  the MeterCom PRO manufacturer codes 128-133 (seed 004) mapped to combinations;
- instantaneous values C.7.0 (power, voltage, current, power factor, frequency, angles);
- Data objects the core knows (logical device name, serial, firmware, active rate, calendar
  names, supply failure counters);
- typed defaults for configuration objects kept in parameter memory.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntFlag

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.obis import Obis
from metertwin.cosem.errors import type_unmatched
from metertwin.cosem.objects import Binding, Request
from metertwin.meter.clock import ClockStatus
from metertwin.meter.core import Meter
from metertwin.meter.events import LOG_OF, EventCode
from metertwin.meter.inputs import Fault
from metertwin.meter.profiles import EntryStatus
from metertwin.meter.registers import Energy
from metertwin.meter.spec import DeviceSpec
from metertwin.models.demand_objects import set_demand_period
from metertwin.models.energy import energy_register_catalogue
from metertwin.models.io_objects import io_objects, io_register
from metertwin.models.loader import DeviceModel
from metertwin.models.power_quality_objects import power_quality_objects, power_quality_register
from metertwin.models.prepayment_objects import prepayment_rows
from metertwin.models.profile_objects import (
    EVENT_CODE,
    EVENT_COUNT,
    OPERATING_STATUS,
    capture_period_seconds,
    program_profile,
)
from metertwin.models.record_objects import RECORD_OBJECTS
from metertwin.models.values import Unit, date_time_data, energy_unit, integer, scaler_unit
from metertwin.protocols.rs485_bus import module_serial_for

_U32 = 2**32
_NOT_SPECIFIED = Data.octet_string(CosemDateTime().to_bytes())

# Printed wrongly in seed 004's table (see the note column of metercom-pro-objects.csv).
_MISPRINTS = {"1.0.114.0.255": Obis(1, 0, 1, 4, 0)}


def csv_obis(text: str) -> Obis:
    return _MISPRINTS.get(text) or Obis.parse(text)


# -- standard object lists ---------------------------------------------------------------

_INSTANT_TOTAL = (1, 2, 3, 4, 9, 10, 13, 14, 15, 16)
_INSTANT_PHASE = (1, 2, 3, 4, 9, 10, 11, 12, 13, 15, 16)  # + 20/40/60: P, Q, S, I, V, PF


def standard_objects(spec: DeviceSpec) -> list[tuple[Obis, int, str]]:
    """The objects a meter of ``spec`` implies (issue 3: energy per rate, instantaneous
    values, clock, calendar, disconnect control, limiter, communication setup...)."""
    phases = spec.ratings.phases
    rows: list[tuple[Obis, int, str]] = [
        (Obis(0, 0, 42, 0, 0), 1, "COSEM logical device name"),
        (Obis(0, 0, 96, 1, 0), 1, "Meter serial number"),
        (Obis(1, 0, 0, 2, 0), 1, "Active firmware identifier"),
        (Obis(1, 0, 0, 2, 2), 1, "Active calendar name"),
        (Obis(1, 0, 0, 2, 7), 1, "Passive calendar name"),
        (Obis(0, 0, 96, 14, 0), 1, "Active tariff rate"),
        (Obis(0, 0, 96, 10, 1), 1, "Load profile status (the status of the entry being built)"),
        (Obis(0, 0, 96, 7, 0), 1, "Number of power failures in all phases"),
        (Obis(0, 0, 97, 98, 0), 1, "Alarm register 1"),
        (Obis(0, 0, 97, 98, 10), 1, "Alarm filter 1"),
        (Obis(0, 0, 1, 0, 0), 8, "Clock"),
        (Obis(0, 0, 13, 0, 0), 20, "Activity calendar"),
        (Obis(0, 0, 11, 0, 0), 11, "Special days table"),
        (Obis(0, 0, 10, 0, 100), 9, "Tariffication script table"),
        (Obis(0, 0, 10, 0, 106), 9, "Disconnect control script table"),
        (Obis(0, 0, 10, 0, 1), 9, "End of billing period script table"),
        (Obis(0, 0, 15, 0, 0), 22, "End of billing period single action schedule"),
        (Obis(0, 0, 15, 0, 1), 22, "Disconnect control single action schedule"),
        (Obis(0, 0, 15, 0, 2), 22, "Image activation single action schedule"),
        (Obis(0, 0, 44, 0, 0), 18, "Image transfer"),
        (Obis(1, 0, 0, 2, 8), 1, "Active firmware signature (SHA-256 of the payload)"),
        (Obis(1, 0, 0, 1, 0), 1, "Billing period counter"),
        (Obis(1, 0, 0, 1, 2), 1, "Time of the last billing point"),
        (Obis(0, 0, 96, 3, 10), 70, "Disconnect control"),
        (Obis(0, 0, 17, 0, 0), 71, "Limiter"),
        (Obis(0, 0, 16, 0, 3), 21, "Register monitor: power factor (low power factor cut)"),
        (Obis(0, 0, 41, 0, 0), 17, "SAP assignment"),
        (Obis(0, 0, 25, 0, 0), 41, "TCP-UDP setup"),
        (Obis(0, 0, 25, 1, 0), 42, "IPv4 setup"),
        (Obis(0, 0, 25, 2, 0), 43, "MAC address setup (the Ethernet link the TCP port is on)"),
        (Obis(0, 0, 43, 0, 0), 64, "Security setup"),
        (Obis(0, 0, 22, 0, 0), 23, "IEC HDLC setup"),
        (Obis(0, 0, 96, 9, 0), 3, "Internal temperature"),
    ]
    rows += [(Obis.parse(p.name), 7, f"Profile every {p.period_s} s") for p in spec.profiles]
    rows += [
        (counter, 1, f"Event counter of event log {p.name}")
        for p in spec.profiles
        if (counter := event_counter(Obis.parse(p.name))) is not None
    ]
    if any(p.logs for p in spec.profiles):
        rows.append((EVENT_CODE, 1, "Event code: the last event logged"))
    if any("event_count" in p.channels for p in spec.profiles):
        rows.append((EVENT_COUNT, 1, "Event count: the last event entry's burst (metertwin)"))
    if spec.wallet is not None:
        rows += prepayment_rows(spec.wallet)
    if "bidirectional" in spec.functions:
        rows += [
            (EXPORT_ENABLED, 1, "Export energy enabled (metertwin's; seed 000)"),
            (ABSOLUTE_MODE, 1, "Absolute active energy mode (metertwin's; seed 000)"),
        ]
    rows += RECORD_OBJECTS
    demand_codes = (1, 2, 3, 4, 9)
    rows += [(Obis(1, 0, c, 4, 0), 5, f"Demand register C={c}") for c in demand_codes]
    rows += [
        (Obis(1, 0, c, 6, r), 4, f"Maximum demand C={c}" + (f" rate {r}" if r else ""))
        for c in demand_codes
        for r in range(spec.capacity.rates + 1)
    ]
    rows += [(Obis(0, 0, 96, 7, k), 1, f"Phase failures L{k}") for k in range(1, phases + 1)]
    rows += [
        (Obis(0, 0, 16, 0, k - 1), 21, f"Register monitor: voltage L{k} (over-voltage cut)")
        for k in range(1, phases + 1)
    ]
    rows += [
        (
            Obis.parse(code),
            3,
            f"Energy {quantity.name.lower()}"
            + (f" L{phase}" if phase else "")
            + (f" rate {rate}" if rate else ""),
        )
        for code, quantity, phase, rate in energy_register_catalogue(phases, spec.capacity.rates)
    ]
    rows += [(Obis(1, 0, c, 7, 0), 3, f"Instantaneous C={c}") for c in _INSTANT_TOTAL]
    if phases == 3:
        rows += [
            (Obis(1, 0, c + 20 * k, 7, 0), 3, f"Instantaneous C={c + 20 * k}")
            for k in (1, 2, 3)
            for c in _INSTANT_PHASE
        ]
        rows += [(Obis(1, 0, 81, 7, e), 3, "Phase angle") for e in (40, 51, 62)]
    else:
        rows += [(Obis(1, 0, c + 20, 7, 0), 3, f"Instantaneous C={c + 20}") for c in _INSTANT_PHASE]
        rows.append((Obis(1, 0, 81, 7, 40), 3, "Phase angle U L1 - I L1"))
    if spec.metrology.neutral_measured or phases == 3:
        rows.append((Obis(1, 0, 91, 7, 0), 3, "Neutral current"))
    rows += power_quality_objects(spec)
    rows += io_objects(spec)
    return rows


def is_public(obis: Obis, class_id: int) -> bool:
    """The read-only subset of the public client (seed 004: client 0x10 without
    authentication): identification, clock, total energies, relay state."""
    if class_id == 8:
        return True
    if obis in _PUBLIC:
        return True
    return obis.a == 1 and obis.d == 8 and obis.e == 0 and obis.c in (1, 2, 3, 4, 15, 16)


_PUBLIC = {
    Obis(0, 0, 42, 0, 0),
    Obis(0, 0, 96, 1, 0),
    Obis(1, 0, 0, 2, 0),
    Obis(0, 1, 96, 1, 0),
    Obis(1, 1, 0, 2, 0),
    Obis(0, 0, 96, 1, 5),
    Obis(0, 0, 96, 14, 0),
    Obis(0, 0, 96, 3, 10),
    Obis(0, 0, 43, 0, 0),  # every association's security_setup_reference
}


# -- registers --------------------------------------------------------------------------

RegisterBinding = tuple[Callable[[], Data], int, Unit]

_TAMPER_COUNTERS = {
    1: EventCode.TERMINAL_COVER_REMOVED,
    2: EventCode.STRONG_DC_FIELD,
    3: EventCode.RELAY_FAILURE,
}
"""Seed 004's tamper counters 1.0.82.8.1-3: terminal cover removals, DC field detections
and disconnector tampering (the relay found not obeying: contacts welded or bridged)."""


def tamper_counter(obis: Obis) -> EventCode | None:
    """The event a tamper counter counts, or None: the only registers a head-end may reset
    (docs/dlms.md, "Resets")."""
    if (obis.a, obis.b, obis.c, obis.d) == (1, 0, 82, 8):
        return _TAMPER_COUNTERS.get(obis.e)
    return None


def _energy_value(
    meter: Meter, quantities: tuple[tuple[Energy, int], ...], phase: int, rate: int, signed: bool
) -> Callable[[], Data]:
    alone = quantities[0][0] if len(quantities) == 1 and quantities[0][1] == 1 else None

    def value() -> Data:
        if alone is not None:  # the common register: no generator to sum on every GET
            total = meter.energy_mwh(alone, phase, rate) // 1000
        else:
            total = sum(sign * meter.energy_mwh(q, phase, rate) for q, sign in quantities) // 1000
        if signed:
            return Data.double_long(max(min(total, 2**31 - 1), -(2**31)))
        return Data.double_long_unsigned(total % _U32)  # rolls over like a register display

    return value


_MANUFACTURER_ENERGY: dict[int, tuple[tuple[Energy, int], ...]] = {
    # seed 004 codes >= 128 (value group C manufacturer range)
    128: ((Energy.IMPORT_ACTIVE, 1), (Energy.EXPORT_ACTIVE, 1)),  # |+A| + |-A|
    130: ((Energy.IMPORT_REACTIVE, 1), (Energy.EXPORT_REACTIVE, 1)),  # |+R| + |-R|
    131: ((Energy.IMPORT_REACTIVE, 1), (Energy.EXPORT_REACTIVE, -1)),  # |+R| - |-R|
    132: ((Energy.IMPORT_REACTIVE, 1),),
    133: ((Energy.EXPORT_REACTIVE, 1),),
}


def register_binding(obis: Obis, meter: Meter) -> RegisterBinding | None:
    if obis == Obis(0, 0, 96, 9, 0):
        return _scaled(lambda: meter.instantaneous().temperature_c, -1, Unit.CELSIUS, signed=True)
    if (io := io_register(obis, meter)) is not None:
        return io
    if obis.a != 1 or obis.b != 0:
        return None
    if (quality := power_quality_register(obis, meter)) is not None:
        return quality
    phases = meter.spec.ratings.phases
    if (counted := tamper_counter(obis)) is not None:
        return lambda: Data.double_long_unsigned(meter.counted_since_reset(counted)), 0, Unit.COUNT
    if obis.d == 8:
        rate = obis.e
        if rate > meter.spec.capacity.rates:
            return None
        if obis.c in _MANUFACTURER_ENERGY:
            parts = _MANUFACTURER_ENERGY[obis.c]
            unit = Unit.WATT_HOUR if obis.c == 128 else Unit.VAR_HOUR
            return _energy_value(meter, parts, 0, rate, obis.c == 131), 0, unit
        phase, c = divmod(obis.c, 20)
        if c == 0 or phase > phases or c not in {int(q) for q in Energy}:
            return None
        quantity = Energy(c)
        signed = quantity is Energy.NET_ACTIVE
        return _energy_value(meter, ((quantity, 1),), phase, rate, signed), 0, energy_unit(quantity)
    if obis.d == 7:
        return _instantaneous(obis, meter)
    return None


def _scaled(
    read: Callable[[], float], scaler: int, unit: Unit, *, signed: bool, wide: bool = False
) -> RegisterBinding:
    factor = 10.0**-scaler

    def value() -> Data:
        number = round(read() * factor)
        if signed:
            return Data.double_long(number) if wide else Data.long(max(min(number, 32767), -32768))
        number = max(number, 0)
        return (
            Data.double_long_unsigned(number % _U32)
            if wide
            else Data.long_unsigned(min(number, 65535))
        )

    return value, scaler, unit


def _instantaneous(obis: Obis, meter: Meter) -> RegisterBinding | None:
    phases = meter.spec.ratings.phases

    def inst_phase(k: int) -> Callable[[], object]:
        return lambda: meter.instantaneous().phases[k - 1]

    c, e = obis.c, obis.e
    if c == 81 and e in (40, 51, 62):
        k = {40: 1, 51: 2, 62: 3}[e]
        if k > phases:
            return None
        return _scaled(
            lambda: meter.instantaneous().phases[k - 1].angle_deg, -1, Unit.DEGREE, signed=False
        )
    if e != 0:
        return None
    if c == 14:
        return _scaled(lambda: meter.instantaneous().frequency_hz, -2, Unit.HERTZ, signed=False)
    if c == 91:
        return _scaled(
            lambda: meter.instantaneous().neutral_current_a or 0.0,
            -3,
            Unit.AMPERE,
            signed=False,
            wide=True,
        )
    if c == 13:
        return _scaled(lambda: meter.instantaneous().power_factor, -3, Unit.COUNT, signed=True)
    if c in (131, 151, 171, 191):  # seed 004: signed reactive power total / L1..L3
        k = (c - 131) // 20
        if k > phases:
            return None
        if k == 0:
            return _scaled(
                lambda: meter.instantaneous().reactive_var, 0, Unit.VAR, signed=True, wide=True
            )
        return _scaled(
            lambda: meter.instantaneous().phases[k - 1].reactive_var,
            0,
            Unit.VAR,
            signed=True,
            wide=True,
        )
    phase, base = divmod(c, 20)
    if phase > phases or base == 0:
        return None

    def power(kind: int) -> Callable[[], float]:
        def read() -> float:
            inst = meter.instantaneous()
            if phase:
                r = inst.phases[phase - 1]
                p, q, s = r.active_w, r.reactive_var, r.apparent_va
            else:
                p, q, s = inst.active_w, inst.reactive_var, inst.apparent_va
                if kind == 15:
                    return sum(abs(x.active_w) for x in inst.phases)
            return {
                1: max(p, 0.0),
                2: max(-p, 0.0),
                3: max(q, 0.0),
                4: max(-q, 0.0),
                9: s if p >= 0 else 0.0,
                10: s if p < 0 else 0.0,
                15: abs(p),
                16: p,
            }[kind]

        return read

    if base in (1, 2, 15):
        return _scaled(power(base), 0, Unit.WATT, signed=False, wide=True)
    if base == 16:
        return _scaled(power(16), 0, Unit.WATT, signed=True, wide=True)
    if base in (3, 4):
        return _scaled(power(base), 0, Unit.VAR, signed=False, wide=True)
    if base in (9, 10):
        return _scaled(power(base), 0, Unit.VOLT_AMPERE, signed=False, wide=True)
    if phase == 0:
        return None
    if base == 11:
        return _scaled(
            lambda: meter.instantaneous().phases[phase - 1].current_a,
            -3,
            Unit.AMPERE,
            signed=False,
            wide=True,
        )
    if base == 12:
        return _scaled(
            lambda: meter.instantaneous().phases[phase - 1].voltage_v, -1, Unit.VOLT, signed=False
        )
    if base == 13:
        return _scaled(
            lambda: meter.instantaneous().phases[phase - 1].power_factor,
            -3,
            Unit.COUNT,
            signed=True,
        )
    return None


# -- data objects -----------------------------------------------------------------------


def logical_device_name(model: DeviceModel, meter: Meter) -> bytes:
    """Up to 16 bytes (IDIS: 3-letter manufacturer id + serial)."""
    return model.dlms.logical_device_name.format(serial=meter.serial_number).encode()[:16]


def sap_assignment_list(model: DeviceModel, meter: Meter) -> Data:
    """SAP assignment (class 17) attribute 2: the one logical device of the meter, at its
    server SAP, named exactly as its ``0.0.42.0.0.255`` reads."""
    entry = [
        Data.long_unsigned(model.dlms.server_sap),
        Data.octet_string(logical_device_name(model, meter)),
    ]
    return Data.array([Data.structure(entry)])


def data_binding(obis: Obis, model: DeviceModel, meter: Meter) -> Binding | None:
    calendar = meter.calendar
    fixed: dict[Obis, Callable[[], Data]] = {
        Obis(0, 0, 42, 0, 0): lambda: Data.octet_string(logical_device_name(model, meter)),
        Obis(0, 0, 96, 1, 0): lambda: Data.octet_string(meter.serial_number.encode()),
        # The MeterCom PRO module's own serial, the 10-digit selection form on the bus.
        Obis(0, 1, 96, 1, 0): lambda: Data.octet_string(
            module_serial_for(meter.serial_number).encode()
        ),
        Obis(1, 0, 0, 2, 0): lambda: Data.octet_string(meter.firmware.active.version.encode()),
        Obis(1, 0, 0, 2, 8): lambda: Data.octet_string(meter.firmware.active.sha256),
        Obis(1, 0, 0, 2, 2): lambda: Data.octet_string(calendar.active.name.encode()),
        Obis(1, 0, 0, 2, 7): lambda: Data.octet_string(
            (calendar.passive or calendar.active).name.encode()
        ),
        Obis(0, 0, 96, 14, 0): lambda: Data.unsigned(meter.rate),
        Obis(0, 0, 96, 10, 1): lambda: Data.unsigned(profile_status(meter)),
        Obis(1, 0, 0, 1, 0): lambda: Data.unsigned(meter.billing_periods % 256),
        Obis(1, 0, 0, 1, 2): lambda: date_time_data(meter.clock, meter.last_billing_ms),
    }
    for k in range(meter.spec.ratings.phases + 1):
        fixed[Obis(0, 0, 96, 7, k)] = lambda k=k: Data.long_unsigned(
            min(meter.supply_failures[k], 65535)
        )  # type: ignore[misc]
    if obis.c == 96 and obis.d == 15:
        return _event_counter(obis, meter)
    if obis == ALARM_REGISTER:
        return _alarm_register(meter)
    if obis == EVENT_CODE:
        return Binding(get=lambda _r: Data.unsigned(last_event_entry(meter)[0] & 0xFF))
    if obis == EVENT_COUNT:
        return Binding(
            get=lambda _r: Data.long_unsigned(min(last_event_entry(meter, counted=True)[1], 65535))
        )
    if obis == OPERATING_STATUS:
        return Binding(get=lambda _r: Data.double_long_unsigned(profile_status(meter)))
    if obis in RELAY_STATES:
        return Binding(get=lambda _r: Data.boolean(meter.disconnect.output_state))
    if obis == METER_ERROR_CODE:
        return Binding(get=lambda _r: Data.double_long_unsigned(meter_error_code(meter)))
    if obis in (EXPORT_ENABLED, ABSOLUTE_MODE):
        return _metering_mode(meter, obis == EXPORT_ENABLED)
    if obis == DEMAND_PERIOD:  # class 5 attribute 8 of the demand registers, one setting
        return Binding(
            get=lambda _r: Data.double_long_unsigned(meter.demand.config.period_s),
            set=lambda _r, value: set_demand_period(meter, value),
        )
    if (profile := CAPTURE_PERIODS.get(obis)) is not None:
        name = next((n for n in meter.recorder.specs if Obis.parse(n) == profile), None)
        if name is not None:
            return _capture_period(meter, name)
    if obis == ALARM_FILTER:
        return _alarm_filter(meter)
    read = fixed.get(obis)
    if read is None:
        return None
    return Binding(get=lambda _request: read())


EXPORT_ENABLED = Obis(1, 0, 96, 131, 0)
ABSOLUTE_MODE = Obis(1, 0, 96, 131, 1)
"""metertwin's manufacturer-specific settings (boolean) for seed 000's "Export
enable/disable configuration" and "Absolute active energy" (docs/dlms.md)."""


def _metering_mode(meter: Meter, export: bool) -> Binding:
    """Export enabled (false: exported energy is not registered) or absolute mode (true:
    +A counts |P| of each phase): read and written as a boolean, acting from the instant
    it is written (`Meter.program_metrology`)."""

    def get(_request: Request) -> Data:
        config = meter.metrology.config
        return Data.boolean(config.export_enabled if export else config.absolute_mode)

    def put(_request: Request, value: Data) -> None:
        if value.type is not DataType.BOOLEAN:
            raise type_unmatched("the setting is a boolean")
        if export:
            meter.program_metrology(export_enabled=value.as_bool())
        else:
            meter.program_metrology(absolute_mode=value.as_bool())

    return Binding(get=get, set=put)


def _capture_period(meter: Meter, profile: str) -> Binding:
    """Seed 004's "Profile 1/2 capture period": the profile's capture_period (class 7
    attribute 4), the same setting read and written either way."""

    def get(_request: Request) -> Data:
        return Data.double_long_unsigned(max(meter.recorder.specs[profile].period_s, 0))

    def put(_request: Request, value: Data) -> None:
        program_profile(meter, profile, period_s=capture_period_seconds(value))

    return Binding(get=get, set=put)


def event_counter(log: Obis) -> Obis | None:
    """The event counter object 0.0.96.15.E.255 of the standard event log 0.0.99.98.E.255."""
    if (log.a, log.b, log.c, log.d) != (0, 0, 99, 98):
        return None
    return Obis(0, 0, 96, 15, log.e)


def _event_counter(obis: Obis, meter: Meter) -> Binding | None:
    """Every event the log has taken since the meter was made (its buffer keeps the last
    100): the sum of the counts of the codes it keeps."""
    spec = next((p for p in meter.spec.profiles if event_counter(Obis.parse(p.name)) == obis), None)
    if spec is None:
        return None
    codes = [int(code) for code, log in LOG_OF.items() if int(log) in spec.logs]

    def read(_request: Request) -> Data:
        total = sum(meter.event_counts.get(code, 0) for code in codes)
        return Data.double_long_unsigned(total % (1 << 32))

    return Binding(get=read)


def last_event_entry(meter: Meter, *, counted: bool = False) -> tuple[int, int]:
    """(code, burst count) of the newest entry of the event logs, (0, 0) before the first
    event: what an event log captured from the event code object (and, with ``counted``,
    from the event count object of the logs that capture it) when it took its last entry."""
    newest: tuple[int, int, int] = (-1, 0, 0)
    for spec in meter.spec.profiles:
        book = meter.event_logs.get(spec.name)
        if book is None or not book.entries or (counted and "event_count" not in spec.channels):
            continue
        entry = book.entries[-1]
        if entry.first_ms >= newest[0]:
            newest = (entry.first_ms, entry.code, entry.count)
    return newest[1], newest[2]


RELAY_STATES = (Obis(0, 0, 96, 14, 1), Obis(0, 0, 96, 14, 2))
"""Seed 004's relay 1 and 2 states: metertwin wires both module outputs to signal the
breaker, closed (true) while it supplies the load (docs/dlms.md, "Fixed and bound values")."""
METER_ERROR_CODE = Obis(0, 0, 97, 97, 0)
DEMAND_PERIOD = Obis(1, 0, 0, 8, 0)
"""Seed 004's "Demand integration period" (s): the demand register's sub-period."""
CAPTURE_PERIODS = {
    Obis(1, 0, 0, 8, 4): Obis(1, 0, 99, 1, 0),
    Obis(1, 0, 0, 8, 5): Obis(1, 0, 99, 2, 0),
}
"""Seed 004's "Profile 1/2 capture period" (s): what the profiles capture at."""


class MeterError(IntFlag):
    """Bits of seed 004's "Meter error code" 0.0.97.97.0.255 (metertwin's layout: the seed
    gives none): the self-check failures the core knows, present now."""

    CLOCK_INVALID = 0x01  # the clock lost its time and has not been set since
    BATTERY_LOW = 0x02
    RELAY_FAULT = 0x04  # the breaker's contacts cannot move
    NV_MEMORY_ERROR = 0x08
    RAM_ERROR = 0x10
    PROGRAM_MEMORY_ERROR = 0x20


_ERROR_OF_FAULT = {
    Fault.BATTERY_LOW: MeterError.BATTERY_LOW,
    Fault.RELAY_FAULT: MeterError.RELAY_FAULT,
    Fault.NV_MEMORY_ERROR: MeterError.NV_MEMORY_ERROR,
    Fault.RAM_ERROR: MeterError.RAM_ERROR,
    Fault.PROGRAM_MEMORY_ERROR: MeterError.PROGRAM_MEMORY_ERROR,
}


def meter_error_code(meter: Meter) -> int:
    """The meter error code now: a failure's bit is set while it lasts (the clock's until
    it is set again)."""
    code = MeterError(0)
    if meter.clock.status(meter.meter_time_ms()) & ClockStatus.INVALID_VALUE:
        code |= MeterError.CLOCK_INVALID
    faults = meter.faults
    for fault, error in _ERROR_OF_FAULT.items():
        if faults & fault:
            code |= error
    return int(code)


ALARM_REGISTER = Obis(0, 0, 97, 98, 0)
ALARM_FILTER = Obis(0, 0, 97, 98, 10)


def _alarm_register(meter: Meter) -> Binding:
    """Alarm register 1: read it, then write it back with the handled bits cleared."""

    def put(_request: Request, value: Data) -> None:
        try:
            meter.write_alarm_register(integer(value, DataType.DOUBLE_LONG_UNSIGNED))
        except ValueError as problem:
            raise type_unmatched(str(problem)) from None

    return Binding(get=lambda _r: Data.double_long_unsigned(meter.alarms), set=put)


def _alarm_filter(meter: Meter) -> Binding:
    """Alarm filter 1: a bit set lets its events raise that alarm (default: all)."""

    def put(_request: Request, value: Data) -> None:
        meter.alarm_filter = integer(value, DataType.DOUBLE_LONG_UNSIGNED)

    return Binding(get=lambda _r: Data.double_long_unsigned(meter.alarm_filter), set=put)


def profile_status(meter: Meter) -> int:
    """The status the next load profile entry will carry so far (IDIS AMR profile status)."""
    specs = meter.spec.profiles
    pending = meter.recorder.pending(specs[0].name) if specs else 0
    if meter.clock.is_dst(meter.meter_time_ms()):
        pending |= int(EntryStatus.DAYLIGHT_SAVING)
    return pending & 0xFF


# -- configuration kept in parameter memory -------------------------------------------------


def _ln(obis: Obis) -> Data:
    return Data.octet_string(bytes(obis))


def _u32(value: int) -> Data:
    return Data.double_long_unsigned(value)


def _capture_object(class_id: int, obis: Obis, attribute: int) -> Data:
    return Data.structure(
        [Data.long_unsigned(class_id), _ln(obis), Data.integer(attribute), Data.long_unsigned(0)]
    )


def _script(obis: Obis, selector: int) -> Data:
    return Data.structure([_ln(obis), Data.long_unsigned(selector)])


def _ipv4(a: int, b: int, c: int, d: int) -> Data:
    return _u32((a << 24) | (b << 16) | (c << 8) | d)


_GSM_DIAGNOSTIC: dict[int, Data] = {
    # GSM diagnostic, class 47 version 1 (Blue Book; docs/dlms.md "GSM diagnostic"): metertwin
    # has no modem, so these read as one modem registered on its home network would.
    2: Data.visible_string("metertwin"),  # operator
    3: Data.enum(1),  # status: registered, home network
    4: Data.enum(0),  # cs_attachment: inactive (no circuit-switched call)
    5: Data.enum(4),  # ps_status: HSDPA
    6: Data.structure(  # cell_info (version 1: 7 elements)
        [
            _u32(1),  # cell_ID
            Data.long_unsigned(1),  # location_ID
            Data.unsigned(20),  # signal_quality: -73 dBm
            Data.unsigned(0),  # ber: RXQUAL_0
            Data.long_unsigned(1),  # mcc (ITU-T E.212 test network 001)
            Data.long_unsigned(1),  # mnc
            _u32(0),  # channel_number
        ]
    ),
    7: Data.array([Data.structure([_u32(2), Data.unsigned(15)])]),  # adjacent_cells
    8: _NOT_SPECIFIED,  # capture_time
}


def parameter_defaults(obis: Obis, class_id: int, model: DeviceModel) -> dict[int, Data]:
    """Typed default values of a configuration object's attributes (a SET must match)."""
    dlms = model.dlms
    disconnect_scripts = Obis(0, 0, 10, 0, 106)
    defaults: dict[int, dict[int, Data]] = {
        1: {2: _DATA_DEFAULTS.get(obis, Data.octet_string(b""))},
        3: {2: _u32(0), 3: scaler_unit(0, Unit.COUNT)},
        4: {2: _u32(0), 3: scaler_unit(0, Unit.COUNT), 4: Data.unsigned(0), 5: _NOT_SPECIFIED},
        5: {
            2: _u32(0),
            3: _u32(0),
            4: scaler_unit(0, Unit.WATT),
            5: Data.unsigned(0),
            6: _NOT_SPECIFIED,
            7: _NOT_SPECIFIED,
            8: _u32(900),
            9: Data.long_unsigned(15),
        },
        7: {
            2: Data.array([]),
            3: Data.array([_capture_object(8, Obis(0, 0, 1, 0, 0), 2)]),
            4: _u32(900 if obis.c == 99 and obis.d in (1, 2) else 0),
            5: Data.enum(1),
            6: Data.structure(
                [
                    Data.long_unsigned(0),
                    _ln(Obis(0, 0, 0, 0, 0, 0)),
                    Data.integer(0),
                    Data.long_unsigned(0),
                ]
            ),
            7: _u32(0),
            8: _u32(35_040 if obis.c == 99 and obis.d == 1 else 1_000),
        },
        9: {2: Data.array([])},
        21: {
            2: Data.array([_monitor_threshold(obis)]),
            3: Data.structure([Data.long_unsigned(3), _ln(_monitored(obis)), Data.integer(2)]),
            # No action until the head-end arms it (e.g. scripts 1 and 2 of 0.0.10.0.106
            # for an over-voltage cut and restore; script 1 as action_down of the power
            # factor monitor for a low power factor cut).
            4: Data.array(
                [Data.structure([_script(disconnect_scripts, 0), _script(disconnect_scripts, 0)])]
            ),
        },
        22: {  # idle until the head-end writes execution times (0.0.15.0.0 is bound)
            2: _script(disconnect_scripts, 1),
            3: Data.enum(1),
            4: Data.array([]),
        },
        23: {
            2: Data.enum(5),
            3: Data.unsigned(1),
            4: Data.unsigned(1),
            5: Data.long_unsigned(128),
            6: Data.long_unsigned(128),
            7: Data.long_unsigned(25),
            8: Data.long_unsigned(120),
            9: Data.long_unsigned(16),
        },
        41: {
            2: Data.long_unsigned(4059),
            3: _ln(Obis(0, 0, 25, 1, 0)),
            4: Data.long_unsigned(1460),
            5: Data.unsigned(1 if dlms.single_connection else 4),
            6: Data.long_unsigned(dlms.inactivity_timeout_s),
        },
        42: {
            2: _ln(_ipv4_data_link(dlms.objects)),
            3: _ipv4(127, 0, 0, 1),
            4: Data.array([]),
            5: Data.array([]),
            6: _ipv4(255, 0, 0, 0),
            7: _ipv4(0, 0, 0, 0),
            8: Data.boolean(False),
            9: _ipv4(0, 0, 0, 0),
            10: _ipv4(0, 0, 0, 0),
        },
        43: {2: Data.octet_string(bytes.fromhex("020000000001"))},
        44: {2: _ln(Obis(0, 0, 25, 4, 0)), 3: Data.array([]), 4: Data.array([]), 5: Data.null()},
        45: {
            2: Data.octet_string(b"internet"),
            3: Data.long_unsigned(0),
            4: Data.structure([Data.structure([Data.unsigned(0)] * 5)] * 2),
        },
        47: _GSM_DIAGNOSTIC,
        65: {
            2: Data.structure(
                [Data.long_unsigned(0), _ln(Obis(0, 0, 0, 0, 0, 0)), Data.integer(0), Data.null()]
            ),
            3: _NOT_SPECIFIED,
            4: Data.array([]),
        },
        71: {
            2: Data.structure(
                [
                    Data.long_unsigned(3),
                    _ln(_limiter_monitored(obis, dlms.objects)),
                    Data.integer(2),
                ]
            ),
            3: _u32(0),
            4: _u32(0),
            5: _u32(0),
            6: _u32(60),
            7: _u32(60),
            8: Data.structure([Data.long_unsigned(0), _NOT_SPECIFIED, _u32(0)]),
            9: Data.array([]),
            10: Data.boolean(False),
            11: Data.structure([_script(disconnect_scripts, 1), _script(disconnect_scripts, 2)]),
        },
        8192: {
            2: Data.boolean(True),
            3: Data.enum(0),
            4: Data.unsigned(64),
            5: _u32(900),
            6: Data.unsigned(0),
            7: _u32(0),
            8: Data.array([]),  # wmbus_collector: meter list, buffer, counters
            9: Data.array([]),
            10: Data.long_unsigned(128),
            11: Data.structure([_u32(0)] * 11),
        },
        8193: {
            2: Data.boolean(False),
            3: Data.enum(0),
            4: Data.long_unsigned(0),
            5: _ln(Obis(0, 0, 10, 0, 103)),
        },
        8194: {
            2: Data.unsigned(6),
            3: Data.unsigned(1),
            4: Data.array([Data.visible_string(f"T{i}") for i in range(1, 7)]),
        },
        8195: {
            2: Data.visible_string("127.0.0.1"),
            3: Data.long_unsigned(4059),
            4: _u32(86_400),
            5: _u32(300),
            6: Data.unsigned(0),
        },
        8196: {2: Data.unsigned(1), 3: Data.enum(5), 4: Data.unsigned(1), 5: _u32(900)},
    }
    return defaults.get(class_id, {})


def _ipv4_data_link(objects: str) -> Obis:
    """The IPv4 setup's DL_reference: the MeterCom PRO's GSM/UMTS link is PPP over its
    modem (seed 004: 0.0.25.3 PPP setup, 0.0.25.4 GPRS modem setup); the other models are
    on Ethernet (0.0.25.2 MAC address setup)."""
    return Obis(0, 0, 25, 2, 0) if objects == "standard" else Obis(0, 0, 25, 3, 0)


def _monitored(obis: Obis) -> Obis:
    """Register monitors 0.0.16.0.0-2 watch the voltages of L1..L3 (seed 004), 0.0.16.0.3
    the total power factor (seed 002 5.5 k)."""
    if obis.e == 3:
        return Obis(1, 0, 13, 7, 0)
    return Obis(1, 0, 32 + 20 * (obis.e if obis.e < 3 else 0), 7, 0)


def _monitor_threshold(obis: Obis) -> Data:
    """253.0 V (230 V + 10 %, seed 004's value) or a power factor of 0.500, in the
    watched register's type and scaler."""
    return Data.long(500) if obis.e == 3 else Data.long_unsigned(2530)


def _limiter_monitored(obis: Obis, objects: str) -> Obis:
    """Seed 004 limiters 0.0.17.0.0-9: current L1..L3, energy, power (immediate/hysteresis);
    the power limiters watch the seed's "Total power" 1.0.16.7.0.255 (its object list has
    no 1.0.1.7.0.255); the one limiter of the other models watches the import active
    power."""
    if objects == "standard":
        return Obis(1, 0, 1, 7, 0)
    kind = obis.e // 2
    return {
        0: Obis(1, 0, 31, 7, 0),
        1: Obis(1, 0, 51, 7, 0),
        2: Obis(1, 0, 71, 7, 0),
        3: Obis(1, 0, 1, 8, 0),
    }.get(kind, Obis(1, 0, 16, 7, 0))


_DATA_DEFAULTS: dict[Obis, Data] = {
    Obis(1, 0, 0, 2, 1): Data.octet_string(b"CFG-0001"),
    Obis(1, 0, 0, 2, 8): Data.octet_string(bytes.fromhex("00000000")),
    Obis(0, 0, 96, 1, 1): Data.octet_string(b""),
    Obis(0, 0, 96, 1, 2): Data.octet_string(b"MTW"),
    Obis(0, 1, 96, 1, 1): Data.octet_string(b""),
    Obis(0, 0, 96, 14, 1): Data.boolean(False),
    Obis(0, 0, 96, 14, 2): Data.boolean(False),
    Obis(1, 0, 96, 5, 0): _u32(0),
    Obis(1, 1, 96, 5, 0): _u32(0),
    Obis(1, 0, 0, 8, 0): _u32(900),
    Obis(1, 0, 0, 8, 4): _u32(900),
    Obis(1, 0, 0, 8, 5): _u32(86_400),
    Obis(0, 0, 97, 97, 0): _u32(0),
    Obis(0, 1, 97, 97, 0): _u32(0),
}

_READ_ONLY = {
    (7, 2),
    (7, 7),
    (47, 2),
    (47, 3),
    (47, 4),
    (47, 5),
    (47, 6),
    (47, 7),
    (47, 8),
    (65, 2),
    (65, 3),
    (71, 3),
    (71, 10),
    (8192, 4),
    (8192, 6),
    (8192, 7),
    (8192, 9),
    (8192, 10),
    (8192, 11),
    (3, 2),
    (4, 2),
    (4, 4),
    (4, 5),
    (5, 2),
    (5, 3),
    (5, 5),
    (5, 6),
    (5, 7),
}


def writable_parameter(class_id: int, index: int, description: str) -> bool:
    """Settings are writable (by associations allowed to write); measured values and
    identities marked read-only in the object list are not."""
    if (class_id, index) in _READ_ONLY:
        return False
    return not (class_id == 1 and "read only" in description.lower())
