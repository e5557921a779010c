"""An RS-485 bus: one shared half-duplex line, a master (the head-end) and up to 32 meters, sans-IO.

Seed 004 (MeterCom PRO): "Up to 31 additional devices can be connected to the bus" beside the
master meter; "If you do not select the opponent at the beginning, all the devices will answer
you at the same time ... the received data will be mixed up and nonsensical. ... Enter the
device address (serial number) to select a device", 8 or 10 digits (docs/hdlc.md, "An RS-485
bus").

:class:`Rs485Bus` is the line. What the master sends reaches every station
(:class:`BusStation`: a meter's HDLC link and what answers its APDUs); each decides alone
whether a frame is its own (its physical address, or the all-station address). What the
stations send back is what the master hears: one talker's octets as sent, two or more talkers
whose transmissions overlap in time a garbled stream (:func:`garble`) whose check sequences
fail, so nothing decodes. Time is the caller's (``now``, seconds on one clock): a transmission
lasts ``len(octets) * octet_time``; ``octet_time`` 0 is a line as fast as its transport (HDLC
over TCP), where only answers to the same frame overlap.

The bus knows no framing: it moves octets between the master and :class:`BusStation` s, so any
byte transport (a TCP connection, a serial port or pty) can carry it.

Selection by serial number (seed 004's "8 or 10 digits"): a bus member has two numbers, the
meter's serial (8 digits, "Landis+Gyr E350 No.: 11620371") and its communication module's
(10 digits, "2N MeterCom PRO SN: 5010080020"); "both options can be used for one device and are
thus equivalent". :func:`select_member` maps either to the member, whose HDLC physical address
is the one the IDIS rule derives from the meter's serial
(:func:`~metertwin.protocols.hdlc_link.physical_address_for_serial`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from metertwin.protocols.hdlc_link import physical_address_for_serial

__all__ = [
    "MAX_STATIONS",
    "METER_SERIAL_DIGITS",
    "MODULE_SERIAL_DIGITS",
    "BusMember",
    "BusStation",
    "LineOutput",
    "Rs485Bus",
    "Transmission",
    "garble",
    "meter_serial_entered",
    "module_serial_for",
    "select_member",
]

MAX_STATIONS = 32
"""RS-485's unit loads without repeaters (seed 004: "the maximum count of nodes ... is 32")."""
METER_SERIAL_DIGITS = 8
MODULE_SERIAL_DIGITS = 10
MODULE_SERIAL_PREFIX = "50"
"""The MeterCom PRO serials of seed 004 begin so (SN 5010080020, 50-1008-0004)."""


class BusStation(Protocol):
    """One station on the line: it hears every octet and answers only what is its own."""

    def receive(self, data: bytes, now: float) -> bytes:
        """Octets from the line at ``now``; the octets this station transmits in answer."""
        ...

    def poll(self, now: float) -> bytes:
        """Its timeouts at ``now``; what it transmits then (usually nothing)."""
        ...

    @property
    def deadline(self) -> float | None:
        """When :meth:`poll` has something to do, None: never."""
        ...


@dataclass(frozen=True, slots=True)
class Transmission:
    station: int
    start: float
    end: float
    octets: bytes


@dataclass(frozen=True, slots=True)
class LineOutput:
    """What the master hears after a send or a poll: ``octets`` (garbled when ``collided``),
    and which stations (by index) transmitted."""

    octets: bytes = b""
    talkers: tuple[int, ...] = ()
    collided: bool = False


def garble(transmissions: Sequence[Transmission], octet_time: float) -> bytes:
    """The stream a receiver makes of overlapping transmissions: each octet position where two
    or more talkers drive the line at once is the complement of the XOR of their octets, the
    rest passes as sent. Two UARTs are not bit-aligned, so the true result is noise; this is
    a deterministic stand-in that never leaves a frame whole, even when the talkers send the
    same octets (meters sharing an address answer an SNRM with the same UA): two identical
    answers read as 0xFF throughout, three as the complement of one, flags included."""
    if not transmissions:
        return b""
    first = min(t.start for t in transmissions)
    out = bytearray()
    talkers = bytearray()  # how many drive each octet position
    for t in transmissions:
        offset = round((t.start - first) / octet_time) if octet_time > 0 else 0
        if len(out) < offset + len(t.octets):
            grow = offset + len(t.octets) - len(out)
            out.extend(bytes(grow))
            talkers.extend(bytes(grow))
        for index, octet in enumerate(t.octets):
            out[offset + index] ^= octet
            talkers[offset + index] += 1
    return bytes(o ^ 0xFF if n > 1 else o for o, n in zip(out, talkers, strict=True))


class Rs485Bus:
    """The shared line (module docstring). ``stations`` in bus order; ``octet_time``: seconds
    one octet takes on the line (10 bits at the baud on our serial lines; 0: no line delay)."""

    def __init__(self, stations: Sequence[BusStation], octet_time: float = 0.0) -> None:
        if not 1 <= len(stations) <= MAX_STATIONS:
            raise ValueError(f"a bus has 1..{MAX_STATIONS} stations, not {len(stations)}")
        if octet_time < 0:
            raise ValueError("octet_time must be 0 or positive")
        self.stations = tuple(stations)
        self.octet_time = octet_time
        self.collisions = 0
        self._on_air: list[Transmission] = []

    @property
    def deadline(self) -> float | None:
        """The earliest station deadline (when to call :meth:`poll`)."""
        deadlines = [d for d in (s.deadline for s in self.stations) if d is not None]
        return min(deadlines) if deadlines else None

    def send(self, data: bytes, now: float) -> LineOutput:
        """The master transmits ``data`` at ``now``: every station hears it."""
        return self._answers([s.receive(data, now) for s in self.stations], now)

    def poll(self, now: float) -> LineOutput:
        """Every station's timeouts at ``now`` (a station with nothing due is not asked)."""
        answers = []
        for station in self.stations:
            deadline = station.deadline
            answers.append(station.poll(now) if deadline is not None and deadline <= now else b"")
        return self._answers(answers, now)

    def _answers(self, answers: Sequence[bytes], now: float) -> LineOutput:
        starting = [
            Transmission(index, now, now + len(octets) * self.octet_time, octets)
            for index, octets in enumerate(answers)
            if octets
        ]
        if not starting:
            return LineOutput()
        # A talker still on the line from before overlaps whoever starts now (its octets
        # were handed over already: only the newcomers' are lost with it).
        still = [t for t in self._on_air if t.end > now] if self.octet_time > 0 else []
        self._on_air = still + starting
        talkers = tuple(t.station for t in starting)
        if len(self._on_air) == 1:
            return LineOutput(starting[0].octets, talkers)
        self.collisions += 1
        mixed = garble(self._on_air, self.octet_time)
        first = min(t.start for t in self._on_air)
        heard = round((now - first) / self.octet_time) if self.octet_time > 0 else 0
        return LineOutput(mixed[heard:], talkers, collided=True)


# -- selection by serial number ----------------------------------------------------------


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isdigit())


def module_serial_for(meter_serial: str) -> str:
    """The 10-digit serial of the communication module fitted to the meter ``meter_serial``:
    ``50`` and the meter serial's last 8 digits (zero-padded). Our choice, so that a simulated
    module needs no number of its own in memory: distinct meters' 8-digit forms give distinct
    modules, and the prefix is that of seed 004's MeterCom PRO serials."""
    return MODULE_SERIAL_PREFIX + _digits(meter_serial)[-METER_SERIAL_DIGITS:].zfill(
        METER_SERIAL_DIGITS
    )


def meter_serial_entered(entered: str) -> str:
    """The meter serial a head-end means by ``entered`` without a list of members (our
    client's ``address=``): 10 digits beginning ``50`` (separators ignored) are a module's
    serial (:func:`module_serial_for`), so the meter's is their last 8; anything else is the
    meter's own serial, as given (8 digits on a bus; a meter alone may have any serial)."""
    digits = _digits(entered)
    if len(digits) == MODULE_SERIAL_DIGITS and digits.startswith(MODULE_SERIAL_PREFIX):
        return digits[len(MODULE_SERIAL_PREFIX) :]
    return entered


@dataclass(frozen=True, slots=True)
class BusMember:
    """A meter on the bus as a head-end selects it: its serial, its module's, its address."""

    meter_serial: str

    @property
    def eight_digits(self) -> str:
        """The meter serial as seed 004's 8-digit form (its last 8 digits, zero-padded)."""
        return _digits(self.meter_serial)[-METER_SERIAL_DIGITS:].zfill(METER_SERIAL_DIGITS)

    @property
    def module_serial(self) -> str:
        return module_serial_for(self.meter_serial)

    @property
    def physical_address(self) -> int:
        return physical_address_for_serial(self.meter_serial)


def select_member(entered: str, members: Sequence[BusMember]) -> BusMember:
    """The member a head-end means by ``entered``: 8 digits, the meter's serial; 10 digits,
    its module's (seed 004). Separators (``50-1008-0004``) and spaces are ignored. Raises
    ValueError for any other count of digits, or digits that name no member."""
    digits = _digits(entered)
    if len(digits) == METER_SERIAL_DIGITS:
        found = [m for m in members if m.eight_digits == digits]
    elif len(digits) == MODULE_SERIAL_DIGITS:
        found = [m for m in members if m.module_serial == digits]
    else:
        raise ValueError(f"enter 8 or 10 digits (meter or module serial), got {entered!r}")
    if not found:
        raise ValueError(f"no meter on the bus has the serial {entered!r}")
    return found[0]
