"""The class 8192 Wireless M-Bus collector object `0.0.128.0.0.255` over the collector state
(`models.wmbus_collector`; docs/wmbus.md lists its attributes and methods).

The seed's object list names the object only; the attributes and methods are metertwin's
reading of seed 004 §3.5: the meter list (up to 64, keys write-only), the circular buffer read
by entry selection (selective access 2, as profile generic's entry_descriptor), deleted by the
same selection (method delete_entries), the counters of dropped telegrams.
"""

from __future__ import annotations

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.errors import CosemError, type_unmatched
from metertwin.cosem.objects import Binding, Method, Request
from metertwin.models.values import integer, items
from metertwin.models.wmbus_collector import (
    BUFFER,
    BUFFER_ENTRIES,
    INSTALLED,
    METER_LIST,
    CollectorError,
    WmbusCollector,
)

CLEAR_BUFFER, DELETE_ENTRIES, ADD_METER, REMOVE_METER = 1, 2, 3, 4
_ENTRY_SELECTOR = 2


def _refused(exc: CollectorError) -> CosemError:
    return CosemError(DataAccessResult.OTHER_REASON, str(exc))


def entry_selection(parameters: Data) -> tuple[int, int, int, int]:
    """An entry_descriptor {from_entry, to_entry, from_selected_value, to_selected_value}."""
    from_entry, to_entry, from_value, to_value = (
        integer(x, DataType.DOUBLE_LONG_UNSIGNED, DataType.LONG_UNSIGNED)
        for x in items(parameters, 4)
    )
    return from_entry, to_entry, from_value, to_value


def install_wmbus_collector(
    obis: Obis, collector: WmbusCollector, attributes: dict[int, Binding]
) -> dict[int, Method]:
    """Bind the live attributes of ``obis`` to ``collector``; its methods."""

    def buffer(request: Request) -> Data:
        entries = collector.entries()
        if request.access is None:
            return Data.array(entries)
        if request.access.selector != _ENTRY_SELECTOR:
            raise CosemError(DataAccessResult.OTHER_REASON, "the buffer is read by entry")
        from_entry, to_entry, from_value, to_value = entry_selection(request.access.parameters)
        start, stop = collector.select(from_entry, to_entry)
        selected = entries[start:stop]
        if from_value <= 1 and to_value == 0:
            return Data.array(selected)
        first = max(from_value, 1) - 1
        return Data.array(
            [Data.structure(list(e.as_items()[first : to_value or None])) for e in selected]
        )

    def meter_list(_request: Request) -> Data:
        return Data.array([m.to_data(with_key=False) for m in collector.meters()])

    def set_meter_list(_request: Request, value: Data) -> None:
        try:
            collector.set_meters(value)
        except CollectorError as exc:
            raise _refused(exc) from None

    attributes[INSTALLED] = Binding(get=lambda _r: Data.unsigned(len(collector.meters())))
    attributes[BUFFER_ENTRIES] = Binding(
        get=lambda _r: Data.double_long_unsigned(len(collector.entries()))
    )
    attributes[METER_LIST] = Binding(get=meter_list, set=set_meter_list)
    attributes[BUFFER] = Binding(get=buffer)

    def clear(_request: Request, _parameters: Data | None) -> Data | None:
        collector.clear_buffer()
        return None

    def delete(_request: Request, parameters: Data | None) -> Data | None:
        if parameters is None:
            raise type_unmatched("delete_entries takes an entry_descriptor")
        from_entry, to_entry, _, _ = entry_selection(parameters)
        return Data.double_long_unsigned(collector.delete_entries(from_entry, to_entry))

    def add(_request: Request, parameters: Data | None) -> Data | None:
        if parameters is None:
            raise type_unmatched("add_meter takes a meter structure")
        try:
            collector.add_meter(parameters)
        except CollectorError as exc:
            raise _refused(exc) from None
        return None

    def remove(_request: Request, parameters: Data | None) -> Data | None:
        if parameters is None:
            raise type_unmatched("remove_meter takes {manufacturer, identity}")
        try:
            collector.remove_meter(parameters)
        except CollectorError as exc:
            raise _refused(exc) from None
        return None

    return {CLEAR_BUFFER: clear, DELETE_ENTRIES: delete, ADD_METER: add, REMOVE_METER: remove}
