"""The IEC 62056-21 optical port on a serial line (a pty or a UART), asyncio.

A thin adaptor carrying out what the sans-IO
:class:`~metertwin.protocols.iec62056_21_meter.OpticalPort` asks, in order: each
:class:`Transmit` after its reaction time, each :class:`SwitchBaudRate` once what came before
has been sent (7E1 at the new rate), and :class:`EnterBinaryMode` (mode E): the line goes to
8N1 at the rate chosen and to an :class:`~metertwin.transport.hdlc_serial.HdlcSerialServer`,
which serves DLMS/COSEM over HDLC on it until its link returns to NDM (DISC, its inactivity
timeout) or no SNRM came within the link inactivity timeout; the port is then back at 300
baud, waiting for a sign-on.

The line starts at 300 baud 7E1. Octets read have their eighth bit cleared (7E1 on a pty
carries no parity to strip; a UART strips it itself) and go to the port with the rate the
sender set where the line can tell (:meth:`SerialLine.sender_baud`): a sign-on at another rate
than the port's is dropped, as a UART would read garbage. The port's timers (1.5 s between
characters and for the HHU's answer, the programming timeout) run on the loop's clock.
"""

from __future__ import annotations

import asyncio
import logging

from metertwin.protocols.iec62056_21_meter import (
    INITIAL_BAUD,
    Action,
    EnterBinaryMode,
    OpticalPort,
    PortState,
    SwitchBaudRate,
    Transmit,
)
from metertwin.transport.hdlc_serial import HdlcSerialServer
from metertwin.transport.serial_line import LineFormat, SerialLine

__all__ = ["OpticalSerialPort"]

_log = logging.getLogger(__name__)

_PARITY_BIT_CLEARED = bytes(octet & 0x7F for octet in range(256))


class OpticalSerialPort:
    """``port`` on ``line``; mode E hands the line to ``hdlc`` (None: mode E unserved, the
    option select for it gets silence as the port decides). :meth:`start`, :meth:`stop`."""

    transport_name = "IEC 62056-21 optical port"

    def __init__(
        self, port: OpticalPort, line: SerialLine, hdlc: HdlcSerialServer | None = None
    ) -> None:
        self.port = port
        self.line = line
        self.hdlc = hdlc
        if hdlc is not None:
            hdlc.on_link_down = self._link_down
        self._loop: asyncio.AbstractEventLoop | None = None
        self._actions: asyncio.Queue[Action | LineFormat] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._snrm_wait: asyncio.TimerHandle | None = None

    @property
    def binary(self) -> bool:
        """Whether the line is in mode E, carrying HDLC."""
        return self.port.state is PortState.BINARY

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.line.set_format(LineFormat(INITIAL_BAUD, seven_even=True))
        self._worker = self._loop.create_task(self._carry_out())
        self.line.start(self.received)
        _log.info("%s on %s", self.transport_name, self.line.path)

    async def stop(self) -> None:
        for timer in (self._tick, self._snrm_wait):
            if timer is not None:
                timer.cancel()
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        if self.hdlc is not None:
            self.hdlc.detach()
        self.line.close()

    def received(self, data: bytes, now: float) -> None:
        """Octets from the line: to HDLC in mode E, else to the port."""
        if self.binary:
            if self.hdlc is not None:
                self.hdlc.received(data, now)
            return
        octets = data.translate(_PARITY_BIT_CLEARED)
        self._queue(self.port.receive_data(octets, now, self.line.sender_baud()))

    # -- inside ----------------------------------------------------------------------------

    def _queue(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, EnterBinaryMode):  # HDLC from the next octet on
                self._enter_binary(action.baud)
            else:
                self._actions.put_nowait(action)
        self._arm_tick()

    def _arm_tick(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        deadline = self.port.deadline
        if deadline is not None and self._loop is not None:
            self._tick = self._loop.call_at(deadline, self._ticked)

    def _ticked(self) -> None:
        self._tick = None
        if self._loop is not None:
            self._queue(self.port.tick(self._loop.time()))

    async def _carry_out(self) -> None:
        while True:
            action = await self._actions.get()
            try:
                if isinstance(action, Transmit):
                    await asyncio.sleep(action.delay)
                    self.line.write(action.data)
                elif isinstance(action, SwitchBaudRate):
                    self.line.set_format(LineFormat(action.baud, seven_even=True))
                elif isinstance(action, LineFormat):
                    self.line.set_format(action)
            except Exception:
                _log.exception("%s on %s: %s failed", self.transport_name, self.line.path, action)

    def _enter_binary(self, baud: int) -> None:
        hdlc, loop = self.hdlc, self._loop
        if hdlc is None or loop is None:
            for action in self.port.end_binary_mode():
                self._actions.put_nowait(action)
            return
        self._actions.put_nowait(LineFormat(baud))  # after what the port sent before
        hdlc.attach()
        link = hdlc.bridge.link if hdlc.bridge is not None else None  # class 23's values now
        wait = (link.settings.inactivity_timeout if link is not None else 0.0) or 120.0
        self._snrm_wait = loop.call_later(wait, self._no_snrm)
        _log.info("%s on %s: mode E, HDLC at %d baud", self.transport_name, self.line.path, baud)

    def _no_snrm(self) -> None:
        self._snrm_wait = None
        if self.binary and self.hdlc is not None and not self.hdlc.link_connected:
            self._end_binary()

    def _link_down(self) -> None:
        if self._loop is not None and self.binary:
            self._loop.call_soon(self._end_binary)

    def _end_binary(self) -> None:
        if not self.binary:
            return
        if self._snrm_wait is not None:
            self._snrm_wait.cancel()
            self._snrm_wait = None
        if self.hdlc is not None:
            self.hdlc.detach()
        self._queue(self.port.end_binary_mode())
