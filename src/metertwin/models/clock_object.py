"""The Clock object (class 8) over the meter's clock (reference/dlms.md 6, class 8).

time_zone uses the sign of the date-time deviation (minutes UTC - local standard time);
the DST begin/end attributes are date-times with wildcards: month, day of month (0xFE last
day), day of week (1 Monday .. 7 Sunday, 0xFF any), hour and minute of the switch.
"""

from __future__ import annotations

import dataclasses

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.cosem_datetime import CosemDateTime, SpecialDay
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import CosemError, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Method, Request
from metertwin.meter.clock import ClockConfig, ClockRangeError, DstConfig, DstRule
from metertwin.meter.core import Meter
from metertwin.models.values import date_time_data, integer, meter_ms_from, octets

CLOCK_BASE_CRYSTAL = 1
_DEFAULT_RULE = DstRule(month=3, day=-1, weekday=6, minute_of_day=120)


def _rule_data(rule: DstRule | None) -> Data:
    if rule is None:
        return Data.octet_string(CosemDateTime().to_bytes())
    stamp = CosemDateTime(
        year=None,
        month=rule.month,
        day=int(SpecialDay.LAST) if rule.day == -1 else rule.day,
        weekday=None if rule.weekday is None else rule.weekday + 1,
        hour=rule.minute_of_day // 60,
        minute=rule.minute_of_day % 60,
        second=0,
        hundredths=0,
        deviation=None,
        clock_status=None,
    )
    return Data.octet_string(stamp.to_bytes())


def _rule_from(data: Data) -> DstRule:
    try:
        stamp = CosemDateTime.from_bytes(octets(data, 12))
    except ValueError as exc:
        raise type_unmatched(f"not a date-time: {exc}") from None
    if stamp.month is None or stamp.month > 12 or stamp.day is None or stamp.hour is None:
        raise type_unmatched("a DST switch needs month, day and hour")
    if stamp.day == SpecialDay.LAST:
        day = -1
    elif 1 <= stamp.day <= 31:
        day = stamp.day
    else:
        raise type_unmatched("day of month 1..31 or last")
    weekday = None if stamp.weekday is None else stamp.weekday - 1
    try:
        return DstRule(stamp.month, day, weekday, stamp.hour * 60 + (stamp.minute or 0))
    except ValueError as exc:
        raise type_unmatched(str(exc)) from None


def clock_object(obis: Obis, meter: Meter) -> CosemObject:
    def now(_request: Request) -> Data:
        return date_time_data(meter.clock, meter.meter_time_ms())

    def set_time(_request: Request, value: Data) -> None:
        try:
            meter.set_clock(meter_ms_from(value, meter.clock))
        except ClockRangeError as exc:  # an instant the meter could not run on from
            raise type_unmatched(str(exc)) from None

    def config() -> ClockConfig:
        return meter.clock.config

    def dst() -> DstConfig | None:
        return config().dst

    def reconfigure(new: ClockConfig) -> None:
        try:
            meter.set_clock_config(new)
        except ValueError as exc:
            raise type_unmatched(str(exc)) from None

    def set_time_zone(_request: Request, value: Data) -> None:
        minutes = integer(value, DataType.LONG)
        reconfigure(dataclasses.replace(config(), utc_offset_minutes=-minutes))

    def with_dst(**changes: object) -> DstConfig:
        current = dst() or DstConfig(
            False,
            _DEFAULT_RULE,
            dataclasses.replace(_DEFAULT_RULE, month=10, minute_of_day=180),
            60,
        )
        return dataclasses.replace(current, **changes)  # type: ignore[arg-type]

    def set_begin(_request: Request, value: Data) -> None:
        reconfigure(dataclasses.replace(config(), dst=with_dst(begin=_rule_from(value))))

    def set_end(_request: Request, value: Data) -> None:
        reconfigure(dataclasses.replace(config(), dst=with_dst(end=_rule_from(value))))

    def set_deviation(_request: Request, value: Data) -> None:
        minutes = integer(value, DataType.INTEGER)
        reconfigure(dataclasses.replace(config(), dst=with_dst(deviation_minutes=minutes)))

    def set_enabled(_request: Request, value: Data) -> None:
        if value.type is not DataType.BOOLEAN:
            raise type_unmatched("daylight_savings_enabled is a boolean")
        reconfigure(dataclasses.replace(config(), dst=with_dst(enabled=value.as_bool())))

    def adjust(period_s: int) -> None:
        """Round the clock to the nearest multiple of ``period_s`` (class 8 methods 1-3)."""
        now_ms = meter.meter_time_ms()
        period = period_s * 1000
        try:
            meter.set_clock((now_ms + period // 2) // period * period)
        except ClockRangeError as exc:  # rounded past the last instant the clock keeps
            raise CosemError(DataAccessResult.OTHER_REASON, str(exc)) from None

    def shift_time(_request: Request, parameters: Data | None) -> Data | None:
        if parameters is None:
            raise type_unmatched("shift_time takes long seconds")
        seconds = integer(parameters, DataType.LONG)
        try:
            meter.shift_clock(seconds)
        except ValueError as exc:
            raise CosemError(DataAccessResult.OTHER_REASON, str(exc)) from None
        return None

    def method(period_s: int) -> Method:
        def invoke(_request: Request, _parameters: Data | None) -> Data | None:
            adjust(period_s)
            return None

        return invoke

    def get_begin(_request: Request) -> Data:
        rules = dst()
        return _rule_data(rules.begin if rules else None)

    def get_end(_request: Request) -> Data:
        rules = dst()
        return _rule_data(rules.end if rules else None)

    def get_deviation(_request: Request) -> Data:
        rules = dst()
        return Data.integer(rules.deviation_minutes if rules else 0)

    def get_enabled(_request: Request) -> Data:
        rules = dst()
        return Data.boolean(rules is not None and rules.enabled)

    def get_status(_request: Request) -> Data:
        return Data.unsigned(int(meter.clock.status(meter.meter_time_ms())))

    return CosemObject(
        interface_class(8),
        obis,
        {
            2: Binding(get=now, set=set_time),
            3: Binding(get=lambda _r: Data.long(-config().utc_offset_minutes), set=set_time_zone),
            4: Binding(get=get_status),
            5: Binding(get=get_begin, set=set_begin),
            6: Binding(get=get_end, set=set_end),
            7: Binding(get=get_deviation, set=set_deviation),
            8: Binding(get=get_enabled, set=set_enabled),
            9: Binding(get=lambda _r: Data.enum(CLOCK_BASE_CRYSTAL)),
        },
        {
            1: method(900),  # adjust_to_quarter
            2: method(900),  # adjust_to_measuring_period (15 min)
            3: method(60),  # adjust_to_minute
            6: shift_time,
        },
    )
