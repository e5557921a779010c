"""xDLMS APDUs outside the request/response pairs (dlms.md 2.4): the exception-response a server
sends when it cannot even parse or serve a request, and the two unsolicited notifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from metertwin.codec.axdr import Data, encode
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import ServiceError, StateError
from metertwin.codec.reader import AxdrReader
from metertwin.codec.xdlms_types import AttributeDescriptor, LongInvokeIdAndPriority, check_range

__all__ = ["DataNotification", "EventNotificationRequest", "ExceptionResponse"]

_EXCEPTION_RESPONSE, _EVENT_NOTIFICATION, _DATA_NOTIFICATION = 0xD8, 0xC2, 0x0F
_DATE_TIME_SIZE = 12


@dataclass(frozen=True, slots=True)
class ExceptionResponse:
    """exception-response ``D8 <state-error> <service-error>`` (dlms.md 2.4, 4).

    ``invocation_counter`` (the counter the server expects) follows only service-error 6
    invocation-counter-error, and is required exactly then.
    """

    TAG: ClassVar[int] = _EXCEPTION_RESPONSE
    CHOICE: ClassVar[None] = None

    state_error: StateError
    service_error: ServiceError
    invocation_counter: int | None = None

    def __post_init__(self) -> None:
        counted = self.service_error == ServiceError.INVOCATION_COUNTER_ERROR
        if counted != (self.invocation_counter is not None):
            raise ValueError("an invocation counter goes with invocation-counter-error only")
        if self.invocation_counter is not None:
            check_range("invocation counter", self.invocation_counter, 0, 0xFFFFFFFF)

    def encode(self) -> bytes:
        head = bytes((_EXCEPTION_RESPONSE, self.state_error, self.service_error))
        if self.invocation_counter is None:
            return head
        return head + self.invocation_counter.to_bytes(4, "big")

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ExceptionResponse:
        state_error = reader.enum(StateError, "state-error")
        service_error = reader.enum(ServiceError, "service-error")
        counter = None
        if service_error == ServiceError.INVOCATION_COUNTER_ERROR:
            counter = reader.u32("invocation counter")
        return cls(state_error, service_error, counter)


def _read_date_time(reader: AxdrReader) -> CosemDateTime | None:
    """A date-time sent as an untagged octet-string: empty (not given) or 12 octets."""
    size = reader.length("date-time")
    if size == 0:
        return None
    if size != _DATE_TIME_SIZE:
        raise reader.error(f"notification date-time of {size} octets (expected 0 or 12)")
    return CosemDateTime.from_bytes(reader.take(_DATE_TIME_SIZE, "date-time"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EventNotificationRequest:
    """event-notification-request ``C2`` (dlms.md 2.4): optional time (``01 0C <12>``), the
    attribute that changed and its value; unconfirmed, so no invoke-id-and-priority."""

    TAG: ClassVar[int] = _EVENT_NOTIFICATION
    CHOICE: ClassVar[None] = None

    time: CosemDateTime | None = None
    attribute: AttributeDescriptor
    value: Data

    def encode(self) -> bytes:
        time = b"\x00" if self.time is None else b"\x01\x0c" + self.time.to_bytes()
        return bytes((_EVENT_NOTIFICATION,)) + time + self.attribute.to_bytes() + encode(self.value)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> EventNotificationRequest:
        time = None
        if reader.flag("time flag"):
            time = _read_date_time(reader)
            if time is None:
                raise reader.error("event-notification time present but empty")
        return cls(time=time, attribute=AttributeDescriptor.read(reader), value=reader.data())


@dataclass(frozen=True, slots=True, kw_only=True)
class DataNotification:
    """data-notification ``0F`` (dlms.md 2.4): long invoke-id, date-time as an octet-string
    without tag (``00`` empty or ``0C <12>``), then the notification body."""

    TAG: ClassVar[int] = _DATA_NOTIFICATION
    CHOICE: ClassVar[None] = None

    long_invoke: LongInvokeIdAndPriority
    time: CosemDateTime | None = None
    body: Data

    def encode(self) -> bytes:
        time = b"\x00" if self.time is None else b"\x0c" + self.time.to_bytes()
        head = bytes((_DATA_NOTIFICATION,)) + self.long_invoke.to_int().to_bytes(4, "big")
        return head + time + encode(self.body)

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> DataNotification:
        long_invoke = LongInvokeIdAndPriority.from_int(reader.u32("long-invoke-id-and-priority"))
        time = _read_date_time(reader)
        return cls(long_invoke=long_invoke, time=time, body=reader.data())
