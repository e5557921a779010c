"""An RS-485 bus of meters on a serial line (a pty or a UART), asyncio.

The line is the bus: what the head-end writes goes to an
:class:`~metertwin.protocols.rs485_bus.Rs485Bus` of :class:`~metertwin.transport.hdlc_station.
HdlcMeterStation` s (the same stations as the TCP bus, :mod:`~metertwin.transport.hdlc_bus`),
and what the bus carries back (one meter's answer, or a garbled stream when several talk at
once) is written on the line.

Timing: a transmission lasts its line time at the line's baud, 10 bits an octet
(:attr:`~metertwin.transport.serial_line.LineFormat.octet_time`), wherever the line really
takes that time: a UART, or a pty paced at its rate (``--pace-line``). The bus's octets then
go out as they would leave a UART (:class:`_Transmitter`: each octet once its time on the
line is over, a few milliseconds' worth per write), so a meter still talking when another
begins (the head-end did not wait for the answer, or two meters were polled back to back)
garbles both from that octet on: the head-end hears the first talker's octets before the
overlap as sent, then the garbled mix, and neither frame checks. An unpaced pty moves octets
at once, like TCP: the line has no delay there, and only answers to the same frame overlap
(were the transmissions timed at the baud anyway, a head-end quicker than the line time
would hear collisions no real line has).

Like the point-to-point serial port (:mod:`~metertwin.transport.hdlc_serial`) the line is
always there: nothing is admitted or refused, and a station's link drops back to NDM on its
own inactivity timeout. The line's events (a collision) are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from metertwin.protocols.rs485_bus import LineOutput, Rs485Bus
from metertwin.transport.hdlc_bridge import HdlcServerSettings
from metertwin.transport.hdlc_bus import BusMeter, bus_link_settings
from metertwin.transport.hdlc_station import HdlcMeterStation
from metertwin.transport.serial_line import SerialLine

__all__ = ["HdlcBusSerialServer", "line_octet_time"]

_log = logging.getLogger(__name__)

WRITE_EVERY_S = 0.01
"""How often a timed line writes the octets whose time is over (or every octet, when one
octet takes longer)."""


def line_octet_time(line: SerialLine) -> float:
    """How long one octet lasts on the bus on ``line`` (module docstring): its line time
    where the line takes it (a device, a paced pty), else 0."""
    takes_line_time = line.paced or line.is_device
    return line.format.octet_time if takes_line_time else 0.0


class HdlcBusSerialServer:
    """The bus on ``line``: :meth:`start`, :meth:`stop`; ``bus`` is the medium."""

    transport_name = "DLMS/COSEM over HDLC, RS-485 bus on a serial line"

    def __init__(
        self,
        meters: Sequence[BusMeter],
        line: SerialLine,
        settings: HdlcServerSettings | None = None,
    ) -> None:
        if not meters:
            raise ValueError("a bus has at least one meter")
        self.line = line
        self.settings = settings or HdlcServerSettings()
        self.meters = tuple(meters)
        self.stations: list[HdlcMeterStation] = []
        self.bus: Rs485Bus | None = None
        self.transmitter = _Transmitter(line, line_octet_time(line))
        line.pace_writes = False  # the transmitter times the bus's octets itself
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    async def start(self) -> None:
        """Serve the bus on the line, reading it."""
        self._loop = asyncio.get_running_loop()
        self._fresh_stations(self._loop.time())
        self.line.start(self.received)
        _log.info("%s on %s", self.transport_name, self.line.path)

    async def stop(self) -> None:
        """Stop serving: every association ends and the line closes."""
        self._cancel_timer()
        self.transmitter.stop()
        for station in self.stations:
            station.close()
        self.bus = None
        self.line.close()

    def received(self, data: bytes, now: float) -> None:
        """Octets from the head-end, arrived at ``now``: every station hears them."""
        bus = self.bus
        if bus is not None:
            self._run(lambda: bus.send(data, now))

    # -- inside ----------------------------------------------------------------------------

    def _run(self, step: Callable[[], LineOutput]) -> None:
        try:
            output = step()
        except Exception:
            _log.exception("bus on %s failed; its stations reset", self.line.path)
            self._reset()
            return
        if output.collided:
            _log.info("bus collision on %s: stations %s", self.line.path, output.talkers)
        if self._loop is not None:
            self.transmitter.send(output, self._loop)
        self._schedule()

    def _reset(self) -> None:
        """A failure of ours: fresh stations, so the next SNRM finds every meter in NDM."""
        for station in self.stations:
            station.close()
        self._cancel_timer()
        self.transmitter.stop()
        if self._loop is not None:
            self._fresh_stations(self._loop.time())

    def _fresh_stations(self, now: float) -> None:
        self.stations = [
            HdlcMeterStation(
                meter.backend,
                bus_link_settings(self.settings, meter.physical_address, meter.logical_devices),
                self.settings,
                now,
            )
            for meter in self.meters
        ]
        self.bus = Rs485Bus(self.stations, line_octet_time(self.line))

    def _poll(self) -> None:
        self._timer = self._timer_at = None
        bus, loop = self.bus, self._loop
        if bus is not None and loop is not None:
            now = loop.time()
            self._run(lambda: bus.poll(now))

    def _schedule(self) -> None:
        bus, loop = self.bus, self._loop
        deadline = None if bus is None else bus.deadline
        if loop is None or deadline is None:
            return
        if self._timer_at is not None and self._timer_at <= deadline:
            return
        self._cancel_timer()
        self._timer = loop.call_at(deadline, self._poll)
        self._timer_at = deadline

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None


class _Transmitter:
    """What the bus sends, put on the line as a UART would send it: octet by octet at
    ``octet_time`` (0: at once). A collision replaces the octets not yet sent by the garbled
    stream from then on (:meth:`~metertwin.protocols.rs485_bus.Rs485Bus.send` gives it so)."""

    def __init__(self, line: SerialLine, octet_time: float) -> None:
        self.line = line
        self.octet_time = octet_time
        self._unsent = bytearray()
        self._next_at = 0.0  # when the first unsent octet begins on the line
        self._timer: asyncio.TimerHandle | None = None

    def send(self, output: LineOutput, loop: asyncio.AbstractEventLoop) -> None:
        if self.octet_time <= 0:
            self.line.write(output.octets)
            return
        now = loop.time()
        self._write_due(now)
        if output.collided:
            del self._unsent[:]  # the rest of the earlier talker is in the mix
        if not output.octets:
            return
        if not self._unsent:
            self._next_at = now
        self._unsent += output.octets
        self._arm(loop)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        del self._unsent[:]

    def _write_due(self, now: float) -> None:
        """Write the octets whose time on the line is over by ``now``."""
        if not self._unsent:
            return
        due = min(len(self._unsent), int((now - self._next_at) / self.octet_time + 1e-9))
        if due > 0:
            self.line.write(bytes(self._unsent[:due]))
            del self._unsent[:due]
            self._next_at += due * self.octet_time

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None or not self._unsent:
            return
        step = max(self.octet_time, WRITE_EVERY_S)
        count = min(len(self._unsent), max(1, round(step / self.octet_time)))
        self._timer = loop.call_at(self._next_at + count * self.octet_time, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._write_due(loop.time())
        self._arm(loop)
