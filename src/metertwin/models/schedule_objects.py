"""Single action schedules (class 22) over the core: the billing point and scripted actions.

0.0.15.0.0 "End of billing period" is a view of the meter's billing point: writing its
execution time moves the billing point (seed 002 5.1 c: any hour of day 1-28). Any other
schedule keeps its settings in parameter memory and runs its script in the core at the
times they name (e.g. 0.0.15.0.1 disconnecting the supply every night).
"""

from __future__ import annotations

from collections.abc import Callable

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.cosem_datetime import (
    CosemDate,
    CosemTime,
    SpecialDay,
    SpecialMonth,
)
from metertwin.codec.errors import CosemDateTimeError
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Request
from metertwin.meter.core import Meter
from metertwin.meter.profiles import BillingConfig
from metertwin.meter.schedules import LAST_DAY, SECOND_LAST_DAY, ActionSchedule, ExecutionTime
from metertwin.models.acting_settings import act_on_settings
from metertwin.models.supervision_objects import BILLING_SCRIPTS, script_action
from metertwin.models.values import integer, items, octets

BILLING_SCHEDULE = Obis(0, 0, 15, 0, 0)
_SPECIAL_DAYS = {SpecialDay.LAST: LAST_DAY, SpecialDay.SECOND_LAST: SECOND_LAST_DAY}


def execution_times(data: Data) -> tuple[ExecutionTime, ...]:
    """Class 22 attribute 4: array of {time octet-string(4), date octet-string(5)}."""
    entries = []
    for entry in items(data):
        time_field, date_field = items(entry, 2)
        try:
            at = CosemTime.from_bytes(octets(time_field, 4))
            on = CosemDate.from_bytes(octets(date_field, 5))
        except CosemDateTimeError as problem:
            raise type_unmatched(str(problem)) from None
        if isinstance(on.month, SpecialMonth):
            raise type_unmatched("DST begin/end months are not execution dates")
        day = on.day
        if isinstance(day, SpecialDay):
            day = _SPECIAL_DAYS[day]
        try:
            entries.append(
                ExecutionTime(at.hour, at.minute, at.second, on.year, on.month, day, on.weekday)
            )
        except ValueError as problem:
            raise type_unmatched(str(problem)) from None
    return tuple(entries)


def _entry(hour: int, day: int) -> Data:
    return Data.structure(
        [
            Data.octet_string(CosemTime(hour, 0, 0, 0).to_bytes()),
            Data.octet_string(CosemDate(None, None, day, None).to_bytes()),
        ]
    )


def billing_schedule(obis: Obis, meter: Meter) -> CosemObject:
    """The billing point as a schedule of the billing script, once a month."""
    script = Data.structure([Data.octet_string(bytes(BILLING_SCRIPTS)), Data.long_unsigned(1)])

    def get_times(_request: Request) -> Data:
        return Data.array([_entry(meter.billing.hour, meter.billing.day)])

    def set_times(_request: Request, value: Data) -> None:
        entries = execution_times(value)
        only = entries[0] if len(entries) == 1 else None
        monthly = only is not None and (only.year, only.month, only.weekday) == (None,) * 3
        if (
            only is None
            or not monthly
            or only.hour is None
            or (only.minute, only.second) != (0, 0)
            or only.day is None
            or not 1 <= only.day <= 28
        ):
            raise type_unmatched("the billing point is one entry: hour:00:00 of day 1-28, monthly")
        meter.set_billing_point(BillingConfig(only.day, only.hour))

    return CosemObject(
        interface_class(22),
        obis,
        {
            2: Binding(get=lambda _r: script),
            3: Binding(get=lambda _r: Data.enum(1)),
            4: Binding(get=get_times, set=set_times),
        },
    )


def schedule_from(values: dict[int, Data]) -> ActionSchedule:
    """Attributes 2 (executed script), 3 (type 1-5) and 4 (execution times)."""
    kind = integer(values[3], DataType.ENUM)
    if not 1 <= kind <= 5:
        raise type_unmatched("the schedule type is an enum 1..5")
    return ActionSchedule(script_action(values[2]), execution_times(values[4]))


def install_schedule(
    obis: Obis,
    meter: Meter,
    attributes: dict[int, Binding],
    readers: dict[int, Callable[[], Data]],
) -> None:
    """A scripted schedule acts in the core from its stored settings and after each SET;
    a SET it could not act on is refused unstored."""
    key = str(obis)

    def install(schedule: ActionSchedule | None) -> None:
        meter.set_action_schedule(key, schedule)

    act_on_settings(attributes, readers, schedule_from, install, None)
