"""Profile generic objects (class 7) over the meter's stored profile entries.

Buffer rows come from non-volatile memory (`ProfileSource`), read by range (selector 1:
restricting object the clock, from/to date-times, optional column subset) or by entry
(selector 2: entries and columns 1-based, 0 as "to" meaning the last) per
reference/dlms.md 2.3. Channels map to capture objects and typed values like the registers
they sample.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from metertwin.codec.axdr import Data, DataType, EncodedItems
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import CosemError, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Request
from metertwin.meter.core import Meter
from metertwin.meter.profiles import ProfileRecord, ProfileSpec
from metertwin.models.charge_objects import amount_counts
from metertwin.models.energy import energy_register_catalogue
from metertwin.models.prepayment_objects import (
    BILLING_PERIOD_COST,
    SECOND_WALLET_PAID,
    TOKEN_WALLET_PAID,
)
from metertwin.models.values import date_time_bytes, integer, items, meter_ms_from

CLOCK = Obis(0, 0, 1, 0, 0)
PROFILE_STATUS = Obis(0, 0, 96, 10, 1)
EVENT_CODE = Obis(0, 0, 96, 11, 0)
EVENT_COUNT = Obis(0, 0, 96, 130, 0)  # metertwin's: an event entry's burst count
OPERATING_STATUS = Obis(1, 0, 96, 5, 0)
"""Seed 004's "Meter internal operating status": the status word its profiles capture
(its object list has no 0.0.96.10.1.255), double-long-unsigned."""
_U32 = 2**32


class ProfileSource(Protocol):
    def profile_count(self, profile: str) -> int: ...

    def profile_between(self, profile: str, first_ms: int, last_ms: int) -> list[ProfileRecord]: ...

    def profile_entries(self, profile: str, first: int, last: int) -> list[ProfileRecord]: ...

    def reset_profile(self, profile: str) -> None: ...


class MemoryProfiles:
    """Profile entries in RAM, for a meter run without storage (tests, in-process use):
    takes what the meter's recorder produced whenever it is read."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.entries: dict[str, list[ProfileRecord]] = {s.name: [] for s in meter.spec.profiles}

    def _sync(self, profile: str) -> list[ProfileRecord]:
        for record in self.meter.recorder.drain():
            kept = self.entries.setdefault(record.profile, [])
            if kept and kept[-1].seq >= record.seq:  # an event burst's entry, its count grown
                at = next(i for i, r in enumerate(kept) if r.seq == record.seq)
                kept[at] = record
                continue
            kept.append(record)
            if record.profile in self.meter.event_logs:
                continue  # the core keeps event logs to their depth (drain_evicted)
            depth = next(s.depth for s in self.meter.spec.profiles if s.name == record.profile)
            del kept[: max(len(kept) - depth, 0)]
        for name, seq in self.meter.recorder.drain_evicted():
            self.entries[name] = [r for r in self.entries[name] if r.seq != seq]
        for name, seq in self.meter.recorder.drain_cleared():
            self.entries[name] = [r for r in self.entries[name] if r.seq > seq]
        return self.entries.get(profile, [])

    def profile_count(self, profile: str) -> int:
        return len(self._sync(profile))

    def profile_between(self, profile: str, first_ms: int, last_ms: int) -> list[ProfileRecord]:
        return [r for r in self._sync(profile) if first_ms <= r.meter_ms <= last_ms]

    def profile_entries(self, profile: str, first: int, last: int) -> list[ProfileRecord]:
        return self._sync(profile)[max(first - 1, 0) : max(last, 0)]

    def reset_profile(self, profile: str) -> None:
        self._sync(profile)
        self.entries[profile] = []


def _capture_definition(class_id: int, obis: Obis, attribute: int) -> Data:
    return Data.structure(
        [
            Data.long_unsigned(class_id),
            Data.octet_string(bytes(obis)),
            Data.integer(attribute),
            Data.long_unsigned(0),
        ]
    )


ColumnEncoder = Callable[[ProfileRecord, int | float], bytes]
_DOUBLE_LONG_UNSIGNED = struct.Struct(">BI")
_DOUBLE_LONG = struct.Struct(">Bi")
_LONG_UNSIGNED = struct.Struct(">BH")


def _u32(value: int) -> bytes:
    return _DOUBLE_LONG_UNSIGNED.pack(DataType.DOUBLE_LONG_UNSIGNED, value % _U32)


def _i32(value: int) -> bytes:
    return _DOUBLE_LONG.pack(DataType.DOUBLE_LONG, max(min(value, 2**31 - 1), -(2**31)))


def _u16(value: int) -> bytes:
    return _LONG_UNSIGNED.pack(DataType.LONG_UNSIGNED, max(min(value, 65535), 0))


def channel_column(channel: str, meter: Meter) -> tuple[Data, ColumnEncoder]:
    """A channel's capture object definition and how a stored value becomes its A-XDR
    octets (typed like the register it samples: Wh, 0.1 V, mA, W, 0.01 Hz, and amounts at
    scale -3 of the wallet's unit)."""
    kind, _, rest = channel.partition(":")
    if kind == "clock":
        clock = meter.clock
        return _capture_definition(8, CLOCK, 2), (
            lambda r, _v: b"\x09\x0c" + date_time_bytes(clock, r.meter_ms)
        )
    if kind == "event_code":
        return _capture_definition(1, EVENT_CODE, 2), (
            lambda _r, v: bytes((DataType.UNSIGNED, int(v) & 0xFF))
        )
    if kind == "event_count":  # how many times the entry's event came in its burst
        return _capture_definition(1, EVENT_COUNT, 2), lambda _r, v: _u16(int(v))
    if kind == "operating_status":
        return _capture_definition(1, OPERATING_STATUS, 2), lambda r, _v: _u32(r.status)
    if kind == "status":
        return _capture_definition(1, PROFILE_STATUS, 2), (
            lambda r, _v: bytes((DataType.UNSIGNED, r.status & 0xFF))
        )
    if kind == "energy":
        c, phase, rate = (int(x) for x in rest.split(":"))
        obis = Obis(1, 0, c + 20 * phase, 8, rate)
        if c == 16:
            return _capture_definition(3, obis, 2), lambda _r, v: _i32(int(v) // 1000)
        return _capture_definition(3, obis, 2), lambda _r, v: _u32(int(v) // 1000)
    if kind == "voltage":
        obis = Obis(1, 0, 12 + 20 * int(rest), 7, 0)
        return _capture_definition(3, obis, 2), lambda _r, v: _u16(round(float(v) * 10))
    if kind == "current":
        obis = Obis(1, 0, 11 + 20 * int(rest), 7, 0)
        return _capture_definition(3, obis, 2), lambda _r, v: _u32(round(float(v) * 1000))
    if kind == "active_power":
        return _capture_definition(3, Obis(1, 0, 16, 7, 0), 2), (
            lambda _r, v: _i32(round(float(v)))
        )
    if kind == "frequency":
        return _capture_definition(3, Obis(1, 0, 14, 7, 0), 2), (
            lambda _r, v: _u16(round(float(v) * 100))
        )
    if kind == "cost":  # µ stored, read like the register 0.0.96.128.3 (double-long, -3)
        register = {"": BILLING_PERIOD_COST, "1": TOKEN_WALLET_PAID, "2": SECOND_WALLET_PAID}
        return _capture_definition(3, register[rest], 2), (
            lambda _r, v: _DOUBLE_LONG.pack(DataType.DOUBLE_LONG, amount_counts(int(v)))
        )
    if kind in ("max_demand", "max_demand_time"):
        c, rate = (int(x) for x in rest.split(":"))
        obis = Obis(1, 0, c, 6, rate)
        if kind == "max_demand":
            return _capture_definition(4, obis, 2), lambda _r, v: _u32(int(v) // 1000)
        clock = meter.clock
        unspecified = b"\x09\x0c" + CosemDateTime().to_bytes()

        def stamp(_r: ProfileRecord, v: int | float) -> bytes:
            return b"\x09\x0c" + date_time_bytes(clock, int(v)) if v else unspecified

        return _capture_definition(4, obis, 5), stamp
    raise ValueError(f"unknown channel {channel!r}")


def encoded_rows(
    columns: list[tuple[Data, ColumnEncoder]], records: list[ProfileRecord], selected: list[int]
) -> Data:
    """The buffer rows encoded directly (a year is 35,040 rows): structures of the
    selected columns, wrapped as an already-encoded array."""
    head = bytes((DataType.STRUCTURE, len(selected)))
    if any(len(r.values) < len(columns) for r in records):
        # event entries stored before the event_count column: one event each
        records = [replace(r, values=(*r.values, 1)) for r in records]
    encoders = [(i, columns[i][1]) for i in selected]
    body = b"".join(
        head + b"".join(encode(record, record.values[i]) for i, encode in encoders)
        for record in records
    )
    return Data(DataType.ARRAY, EncodedItems(len(records), body))


def capture_period_seconds(value: Data) -> int:
    """A capture_period written: double-long-unsigned seconds (else type-unmatched)."""
    return integer(value, DataType.DOUBLE_LONG_UNSIGNED)


CaptureKey = tuple[int, bytes, int]
"""(class_id, logical name, attribute index) of a capture object definition."""


def capturable_channels(meter: Meter) -> dict[CaptureKey, str]:
    """Every value a load profile of ``meter`` can capture, by the capture object
    definition that names it (the inverse of `channel_column`): clock, the statuses,
    every energy register, voltages and currents per phase, power, frequency, maximum
    demands with their times, and the billing period's cost on a prepayment meter."""
    spec = meter.spec
    phases, rates = spec.ratings.phases, spec.capacity.rates
    channels = ["clock", "status", "operating_status", "active_power", "frequency"]
    channels += [
        f"energy:{int(q)}:{phase}:{rate}"
        for _obis, q, phase, rate in energy_register_catalogue(phases, rates)
    ]
    channels += [f"{kind}:{k}" for kind in ("voltage", "current") for k in range(1, phases + 1)]
    channels += [
        f"{kind}:{c}:{rate}"
        for kind in ("max_demand", "max_demand_time")
        for c in (1, 2, 3, 4, 9)
        for rate in range(rates + 1)
    ]
    if meter.wallet is not None:
        channels += ["cost", "cost:1"]
        if meter.wallet.config.second_wallet is not None:
            channels.append("cost:2")
    found: dict[CaptureKey, str] = {}
    for channel in channels:
        class_id, name, attribute, _index = channel_column(channel, meter)[0].as_items()
        found[(class_id.as_int(), name.as_bytes(), attribute.as_int())] = channel
    return found


def program_profile(
    meter: Meter,
    profile: str,
    *,
    period_s: int | None = None,
    channels: tuple[str, ...] | None = None,
) -> None:
    """`Meter.program_profile`, a value the meter refuses answered other-reason."""
    try:
        meter.program_profile(profile, period_s=period_s, channels=channels)
    except ValueError as problem:
        raise CosemError(DataAccessResult.OTHER_REASON, str(problem)) from None


def profile_object(
    obis: Obis,
    spec: ProfileSpec,
    meter: Meter,
    source: ProfileSource,
    commit: Callable[[], None],
    capturable: Callable[[Data], str] | None = None,
) -> CosemObject:
    """``capturable`` (a load profile a head-end may program) names the channel a
    capture_object_definition asks for, or raises the CosemError refusing it."""
    name = spec.name
    built: list[tuple[tuple[str, ...], list[tuple[Data, ColumnEncoder]]]] = []

    def current_columns() -> list[tuple[Data, ColumnEncoder]]:
        """The columns of what the profile captures now (programming may change it)."""
        channels = meter.recorder.specs[name].channels
        if not built or built[0][0] != channels:
            built[:] = [(channels, [channel_column(c, meter) for c in channels])]
        return built[0][1]

    def rows(records: list[ProfileRecord], selected: list[int]) -> Data:
        return encoded_rows(current_columns(), records, selected)

    def buffer(request: Request) -> Data:
        columns = current_columns()
        every = list(range(len(columns)))
        access = request.access
        if access is None:
            count = source.profile_count(spec.name)
            return rows(source.profile_entries(spec.name, 1, count), every)
        if access.selector == 1:
            return by_range(access.parameters, every)
        return by_entry(access.parameters, every)

    def by_range(parameters: Data, every: list[int]) -> Data:
        definitions = [definition for definition, _ in current_columns()]
        restricting, start, end, selected_values = items(parameters, 4)
        if (
            restricting != definitions[0]
            and restricting.as_items()[:3] != (definitions[0].as_items()[:3])
        ):
            raise CosemError(
                DataAccessResult.OTHER_REASON, "range access restricts on the clock column only"
            )
        first = meter_ms_from(start, meter.clock)
        last = meter_ms_from(end, meter.clock)
        selected = every
        wanted = items(selected_values)
        if wanted:
            keys = [d.as_items()[:3] for d in definitions]
            try:
                selected = [keys.index(w.as_items()[:3]) for w in wanted]
            except ValueError:
                raise CosemError(
                    DataAccessResult.OTHER_REASON, "a selected column is not captured"
                ) from None
        return rows(source.profile_between(spec.name, first, last), selected)

    def by_entry(parameters: Data, every: list[int]) -> Data:
        from_entry, to_entry, from_value, to_value = (
            integer(x, DataType.DOUBLE_LONG_UNSIGNED, DataType.LONG_UNSIGNED)
            for x in items(parameters, 4)
        )
        count = source.profile_count(spec.name)
        last_entry = count if to_entry == 0 else min(to_entry, count)
        last_column = len(every) if to_value == 0 else min(to_value, len(every))
        selected = every[max(from_value, 1) - 1 : last_column]
        return rows(source.profile_entries(spec.name, max(from_entry, 1), last_entry), selected)

    def reset(_request: Request, _parameters: Data | None) -> Data | None:
        source.reset_profile(spec.name)
        meter.profile_reset(spec.name)
        return None

    def capture(_request: Request, _parameters: Data | None) -> Data | None:
        meter.capture_now(spec.name)
        return None

    def capture_objects(_request: Request) -> Data:
        return Data.array([definition for definition, _ in current_columns()])

    def capture_period(_request: Request) -> Data:
        # 0 for a profile not captured periodically (billing, events)
        return Data.double_long_unsigned(max(meter.recorder.specs[name].period_s, 0))

    def set_capture_objects(_request: Request, value: Data) -> None:
        assert capturable is not None
        if value.type is not DataType.ARRAY:
            raise type_unmatched("capture_objects is an array of capture_object_definition")
        channels = tuple(capturable(definition) for definition in items(value))
        program_profile(meter, name, channels=channels)

    def set_capture_period(_request: Request, value: Data) -> None:
        program_profile(meter, name, period_s=capture_period_seconds(value))

    programmable = capturable is not None
    return CosemObject(
        interface_class(7),
        obis,
        {
            2: Binding(get=buffer),
            3: Binding(get=capture_objects, set=set_capture_objects if programmable else None),
            4: Binding(get=capture_period, set=set_capture_period if programmable else None),
            5: Binding(get=lambda _r: Data.enum(1)),  # FIFO
            6: Binding(get=lambda _r: _capture_definition(0, Obis(0, 0, 0, 0, 0, 0), 0)),
            7: Binding(get=lambda _r: Data.double_long_unsigned(source.profile_count(spec.name))),
            8: Binding(get=lambda _r: Data.double_long_unsigned(spec.depth)),
        },
        {1: reset, 2: capture},
    )
