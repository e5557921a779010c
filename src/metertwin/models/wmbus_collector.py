"""The MeterCom PRO wireless M-Bus collector (seed 004 §3.5; docs/wmbus.md).

"You can define up to 64 meters for data collection. Having received a WM-bus message from a
meter defined in the meter list, 2N MeterCom PRO stores the message into the circular buffer
in its internal memory. Use selective access to retrieve and delete such data. When the memory
is full, the oldest data will be deleted automatically [...] You can define the minimum
reading interval for each meter. No reading coming before the end of this timeout will be
saved."

Its state is module settings like the others: A-XDR values in the meter's parameter memory
under the class 8192 object's attributes (meter list, buffer, counters), so it persists with
the meter's commit. A telegram is checked by `protocols.wmbus_link` and `protocols.wmbus_app`
with the listed meter's key; what is refused is counted by reason and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from metertwin.codec.axdr import Data, DataType, decode, encode
from metertwin.codec.obis import Obis
from metertwin.meter.core import Meter
from metertwin.models import objects_catalog as catalog
from metertwin.models.loader import DeviceModel
from metertwin.models.values import date_time_data
from metertwin.protocols.wmbus_app import decode_telegram, transport_header
from metertwin.protocols.wmbus_link import (
    BAD_CRC,
    MALFORMED,
    TRUNCATED,
    UNSUPPORTED,
    WRONG_KEY,
    Address,
    WmbusError,
    identity_field,
    manufacturer_field,
    parse_frame,
)

WMBUS_FUNCTION = "wmbus"
COLLECTOR = Obis(0, 0, 128, 0, 0)  # class 8192 (seed 004 object list)
MAX_METERS = 64  # seed 004 §3.5
BUFFER_CAPACITY = 128  # metertwin's choice: the seed gives no size
ENABLED, MODE, MAX_METERS_ATTR, MIN_INTERVAL = 2, 3, 4, 5
INSTALLED, BUFFER_ENTRIES, METER_LIST, BUFFER, CAPACITY, COUNTERS = 6, 7, 8, 9, 10, 11
UNKNOWN_METER = "unknown_meter"
TOO_EARLY = "too_early"
DISABLED = "disabled"
COUNTER_NAMES = (
    "received",
    "stored",
    BAD_CRC,
    TRUNCATED,
    MALFORMED,
    UNSUPPORTED,
    UNKNOWN_METER,
    WRONG_KEY,
    TOO_EARLY,
    DISABLED,
    "overwritten",
)


class CollectorError(ValueError):
    """A meter-list entry or a buffer selection the collector cannot take."""


@dataclass(frozen=True)
class ListedMeter:
    """One entry of the meter list; ``last_stored_s`` is when its last telegram was kept
    (meter seconds, 0: never), kept with the entry for the minimum interval."""

    address: Address
    key: bytes  # 16 bytes, or empty for a meter that does not encrypt
    min_interval_s: int
    last_stored_s: int = 0

    def to_data(self, with_key: bool = True) -> Data:
        fields = [
            Data.visible_string(self.address.manufacturer),
            Data.visible_string(self.address.identity),
            Data.unsigned(self.address.version),
            Data.unsigned(self.address.device_type),
            Data.octet_string(self.key if with_key else b""),
            Data.double_long_unsigned(self.min_interval_s),
        ]
        if with_key:
            fields.append(Data.double_long_unsigned(self.last_stored_s))
        return Data.structure(fields)

    @classmethod
    def from_data(cls, data: Data) -> ListedMeter:
        """From a client's structure (6 fields) or the stored one (7)."""
        if data.type is not DataType.STRUCTURE or len(data.as_items()) not in (6, 7):
            raise CollectorError("a meter is a structure of 6: manufacturer, identity, "
                                 "version, device_type, key, min_interval")  # fmt: skip
        fields = data.as_items()
        kinds = (
            DataType.VISIBLE_STRING,
            DataType.VISIBLE_STRING,
            DataType.UNSIGNED,
            DataType.UNSIGNED,
            DataType.OCTET_STRING,
            DataType.DOUBLE_LONG_UNSIGNED,
            DataType.DOUBLE_LONG_UNSIGNED,
        )
        for index, (value, kind) in enumerate(zip(fields, kinds, strict=False), start=1):
            if value.type is not kind:
                raise CollectorError(f"meter field {index} is a {kind.name}")
        manufacturer = str(fields[0].value).upper()
        identity = str(fields[1].value).upper()
        try:
            manufacturer_field(manufacturer)
            identity_field(identity)
        except ValueError as exc:
            raise CollectorError(str(exc)) from None
        key = fields[4].as_bytes()
        if len(key) not in (0, 16):
            raise CollectorError("an AES-128 key has 16 bytes (or none for a plain meter)")
        address = Address(manufacturer, identity, fields[2].as_int(), fields[3].as_int())
        last = fields[6].as_int() if len(fields) == 7 else 0
        return cls(address, key, fields[5].as_int(), last)


@dataclass(frozen=True)
class Reception:
    """What the collector did with one telegram: ``outcome`` is ``stored`` or the reason
    it was dropped (a counter name); ``records`` the decoded records when it decrypted."""

    outcome: str
    detail: str
    sender: Address | None = None
    entry: int | None = None  # its buffer entry (1 = oldest) when stored
    records: tuple[str, ...] = ()


class WmbusCollector:
    """The collector's state in ``meter``'s parameter memory (see the module docstring)."""

    def __init__(self, meter: Meter, model: DeviceModel) -> None:
        self.meter = meter
        self.model = model
        self._defaults = catalog.parameter_defaults(COLLECTOR, 8192, model)

    # -- stored values ---------------------------------------------------------------------

    def _get(self, index: int) -> Data:
        raw = self.meter.parameters.get(f"{COLLECTOR}/{index}")
        return self._defaults[index] if raw is None else decode(raw)

    def _put(self, index: int, value: Data) -> None:
        self.meter.parameters[f"{COLLECTOR}/{index}"] = encode(value)

    def meters(self) -> list[ListedMeter]:
        return [ListedMeter.from_data(item) for item in self._get(METER_LIST).as_items()]

    def _put_meters(self, meters: list[ListedMeter]) -> None:
        self._put(METER_LIST, Data.array([m.to_data() for m in meters]))

    def entries(self) -> list[Data]:
        return list(self._get(BUFFER).as_items())

    def _put_entries(self, entries: list[Data]) -> None:
        self._put(BUFFER, Data.array(entries))

    def counters(self) -> dict[str, int]:
        values = self._get(COUNTERS).as_items()
        return {name: value.as_int() for name, value in zip(COUNTER_NAMES, values, strict=True)}

    def _count(self, *names: str) -> None:
        counted = self.counters()
        for name in names:
            counted[name] += 1
        self._put(
            COUNTERS,
            Data.structure([Data.double_long_unsigned(counted[n]) for n in COUNTER_NAMES]),
        )

    # -- the meter list --------------------------------------------------------------------

    def set_meters(self, listed: Data) -> None:
        """A SET of the whole meter list (keys as given: the list reads them back empty)."""
        if listed.type is not DataType.ARRAY:
            raise CollectorError("the meter list is an array of meters")
        meters = [ListedMeter.from_data(item) for item in listed.as_items()]
        self._check_list(meters)
        self._put_meters(meters)

    def add_meter(self, entry: Data) -> None:
        """Method add_meter: a meter already listed (same manufacturer and identity) is
        replaced."""
        new = ListedMeter.from_data(entry)
        kept = [m for m in self.meters() if not _same_meter(m.address, new.address)]
        self._check_list([*kept, new])
        self._put_meters([*kept, new])

    def remove_meter(self, who: Data) -> None:
        """Method remove_meter: structure {manufacturer, identity}."""
        if who.type is not DataType.STRUCTURE or len(who.as_items()) != 2:
            raise CollectorError("remove_meter takes a structure {manufacturer, identity}")
        manufacturer, identity = (str(field.value).upper() for field in who.as_items())
        meters = self.meters()
        kept = [
            m
            for m in meters
            if (m.address.manufacturer, m.address.identity) != (manufacturer, identity)
        ]
        if len(kept) == len(meters):
            raise CollectorError(f"{manufacturer} {identity} is not in the meter list")
        self._put_meters(kept)

    @staticmethod
    def _check_list(meters: list[ListedMeter]) -> None:
        if len(meters) > MAX_METERS:
            raise CollectorError(f"at most {MAX_METERS} meters can be listed")
        seen = {(m.address.manufacturer, m.address.identity) for m in meters}
        if len(seen) != len(meters):
            raise CollectorError("a meter is listed twice")

    # -- the buffer ------------------------------------------------------------------------

    def clear_buffer(self) -> None:
        self._put_entries([])

    def select(self, from_entry: int, to_entry: int) -> tuple[int, int]:
        """Entries ``from_entry..to_entry`` (1-based, 0 as "to" = the last) as a slice."""
        count = len(self.entries())
        last = count if to_entry == 0 else min(to_entry, count)
        return max(from_entry, 1) - 1, last

    def delete_entries(self, from_entry: int, to_entry: int) -> int:
        """Deletion by the entry selection; the entries after them move up. How many went."""
        entries = self.entries()
        start, stop = self.select(from_entry, to_entry)
        gone = max(0, stop - start)
        self._put_entries(entries[:start] + entries[stop:] if gone else entries)
        return gone

    # -- reception -------------------------------------------------------------------------

    def receive(self, raw: bytes, frame_format: str = "auto") -> Reception:
        """One telegram as the radio delivered it: stored, or counted and dropped."""
        self._count("received")
        try:
            frame = parse_frame(raw, frame_format)
            header, _ = transport_header(frame)
        except WmbusError as exc:
            return self._dropped(exc.reason, str(exc))
        sender = header.address if header is not None else frame.address
        meters = self.meters()
        index = next((i for i, m in enumerate(meters) if m.address == sender), None)
        if index is None:
            return self._dropped(UNKNOWN_METER, "not in the meter list", sender)
        listed = meters[index]
        try:
            telegram = decode_telegram(frame, listed.key or None)
        except WmbusError as exc:
            return self._dropped(exc.reason, str(exc), sender)
        records = tuple(record.describe() for record in telegram.records)
        if not self._get(ENABLED).value:
            return self._dropped(DISABLED, "the collector is disabled", sender)
        now_s = self.meter.now_ms // 1000
        interval = listed.min_interval_s or self._get(MIN_INTERVAL).as_int()
        if listed.last_stored_s and now_s < listed.last_stored_s + interval:
            wait = listed.last_stored_s + interval - now_s
            return self._dropped(TOO_EARLY, f"{wait} s before its minimum interval ends", sender)
        entries = self.entries()
        overwritten = max(0, len(entries) + 1 - BUFFER_CAPACITY)
        entries = entries[overwritten:]
        access_number = 0 if telegram.header is None else telegram.header.access_number
        entries.append(
            Data.structure(
                [
                    date_time_data(self.meter.clock, self.meter.meter_time_ms()),
                    Data.visible_string(sender.manufacturer),
                    Data.visible_string(sender.identity),
                    Data.unsigned(sender.version),
                    Data.unsigned(sender.device_type),
                    Data.unsigned(access_number),
                    Data.octet_string(raw),
                ]
            )
        )
        self._put_entries(entries)
        meters[index] = ListedMeter(listed.address, listed.key, listed.min_interval_s, now_s)
        self._put_meters(meters)
        self._count("stored", *(["overwritten"] * overwritten))
        return Reception("stored", f"buffer entry {len(entries)}", sender, len(entries), records)

    def _dropped(self, reason: str, detail: str, sender: Address | None = None) -> Reception:
        self._count(reason)
        return Reception(reason, detail, sender)


def _same_meter(a: Address, b: Address) -> bool:
    return (a.manufacturer, a.identity) == (b.manufacturer, b.identity)


def has_wmbus(model: DeviceModel) -> bool:
    return WMBUS_FUNCTION in model.spec.functions
