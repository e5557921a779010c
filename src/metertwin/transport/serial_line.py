"""A serial line for the event loop: a pty pair or a real device (pyserial), asyncio.

The meter holds one end. :meth:`SerialLine.open_pty` makes a pseudo-terminal pair in raw mode
and keeps both ends open: the meter reads and writes the master, and a client opens
:attr:`SerialLine.path`, the slave (``/dev/pts/N``). The slave stays open in this process too,
so a client may close and reopen it without the master reading EOF. :meth:`SerialLine.open_device`
opens a UART (``/dev/ttyUSB0``) through pyserial.

Line speed and character format change at run time (:meth:`SerialLine.set_format`, the
IEC 62056-21 switch from 300 baud 7E1 to the chosen rate, and to 8N1 for mode E). They apply
once everything written before has left: writes and format changes go out in order. On a pty
the speed is only recorded in the terminal settings (harmless: a pty moves octets as fast as
they are read) and there is no parity bit to add or strip (the optical port strips bit 8
itself).

``paced``: the line behaves as a UART at its rate would, for benchmarks: a write reaches the
peer when its last octet would have left (10 bits an octet: start, 8 or 7+parity, stop), after
what was written before; what the peer writes reaches the meter likewise, one chunk after the
other. Off, octets pass as fast as the pty moves them.

Nothing here knows a protocol: the line hands what it reads, with the loop time it arrives,
to its ``on_data`` callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import termios
import tty
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["BITS_PER_OCTET", "LineFormat", "SerialLine"]

_log = logging.getLogger(__name__)

BITS_PER_OCTET = 10
"""A start bit, 8 data bits (or 7 and parity), a stop bit."""
READ_SIZE = 4096

_TERMIOS_SPEEDS: dict[int, int] = {
    rate: getattr(termios, f"B{rate}")
    for rate in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
}

_BAUD_OF_SPEED = {speed: rate for rate, speed in _TERMIOS_SPEEDS.items()}


@dataclass(frozen=True, slots=True)
class LineFormat:
    """A line's speed and character format: ``seven_even`` 7E1 (IEC 62056-21 modes A-C),
    else 8N1 (HDLC, mode E)."""

    baud: int
    seven_even: bool = False

    def __post_init__(self) -> None:
        if self.baud not in _TERMIOS_SPEEDS:
            raise ValueError(f"unsupported baud rate {self.baud}; one of {sorted(_TERMIOS_SPEEDS)}")

    @property
    def octet_time(self) -> float:
        """Seconds one octet takes on the line."""
        return BITS_PER_OCTET / self.baud


class SerialLine:
    """The meter's end of a serial line: :meth:`start` with an ``on_data(data, now)``
    callback, :meth:`write`, :meth:`set_format`, :meth:`close`."""

    def __init__(
        self,
        fd: int,
        path: str,
        line_format: LineFormat,
        *,
        paced: bool = False,
        keep_open: int | None = None,
        device: Any = None,
    ) -> None:
        self.fd = fd
        self.path = path
        """What a client opens: the pty's slave, or the device."""
        self.format = line_format
        self.paced = paced
        self.pace_writes = paced
        """Off when the user of the line times its own writes (the RS-485 bus)."""
        self._keep_open = keep_open  # the pty's slave, held so the master never reads EOF
        self._device = device  # the pyserial Serial of a real device
        self._on_data: Callable[[bytes, float], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[bytes | LineFormat] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._sent_until = 0.0  # paced: when the last octet written leaves
        self._received_until = 0.0  # paced: when the last octet read has arrived
        self.octets_sent = 0
        self.octets_received = 0

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open_pty(cls, baud: int = 9600, *, paced: bool = False) -> SerialLine:
        """A new pty pair in raw mode at ``baud`` 8N1; :attr:`path` is the slave."""
        line_format = LineFormat(baud)
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            _set_termios(slave, line_format)
            os.set_blocking(master, False)
            path = os.ttyname(slave)
        except OSError:
            os.close(master)
            os.close(slave)
            raise
        return cls(master, path, line_format, paced=paced, keep_open=slave)

    @classmethod
    def open_device(cls, path: str, baud: int = 9600, *, paced: bool = False) -> SerialLine:
        """A real serial device (pyserial) at ``baud`` 8N1, raw, non-blocking."""
        import serial  # pyserial ships no type hints (mypy: ignore_missing_imports)

        line_format = LineFormat(baud)
        device = serial.Serial(path, baud, timeout=0, exclusive=True)
        return cls(device.fileno(), path, line_format, paced=paced, device=device)

    # -- running ---------------------------------------------------------------------------

    def start(self, on_data: Callable[[bytes, float], None]) -> None:
        """Read the line on the running loop, handing each chunk to ``on_data``."""
        if self._loop is not None:
            raise RuntimeError("the serial line is already started")
        self._loop = asyncio.get_running_loop()
        self._on_data = on_data
        self._loop.add_reader(self.fd, self._readable)
        self._pump = self._loop.create_task(self._send_in_order())

    def write(self, data: bytes) -> None:
        """Send ``data`` after everything written before."""
        if data:
            self._queue.put_nowait(bytes(data))

    def set_format(self, line_format: LineFormat) -> None:
        """Speed and character format for what is written after this call (and read once
        what was written before has left)."""
        self._queue.put_nowait(line_format)

    def close(self) -> None:
        """Stop reading and writing and close the line (what is still queued is dropped)."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.remove_reader(self.fd)
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        if self._device is not None:
            self._device.close()
        else:
            for fd in (self.fd, self._keep_open):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        self._keep_open = None

    @property
    def is_device(self) -> bool:
        """A real device (a UART, which takes its line time), not a pty."""
        return self._device is not None

    def sender_baud(self) -> int | None:
        """The rate the peer sends at, where the line can tell: on a pty, the speed last set
        in the terminal settings the two ends share (an HHU sets its rate there, as the
        meter does at a switch), so a peer at another rate than the meter's shows; a UART
        cannot tell (octets at a wrong rate arrive garbled instead): None."""
        if self._device is not None or self._keep_open is None:
            return None
        try:
            speed = termios.tcgetattr(self._keep_open)[5]
        except termios.error:
            return None
        return _BAUD_OF_SPEED.get(speed)

    # -- inside ----------------------------------------------------------------------------

    def _readable(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: a device unplugged; the line is gone
            _log.warning("serial line %s: %s; no longer read", self.path, exc)
            loop.remove_reader(self.fd)
            return
        if not data:
            return
        self.octets_received += len(data)
        now = loop.time()
        if not self.paced:
            self._deliver(data)
            return
        arrives = max(now, self._received_until) + len(data) * self.format.octet_time
        self._received_until = arrives
        loop.call_at(arrives, self._deliver, data)

    def _deliver(self, data: bytes) -> None:
        if self._loop is None or self._on_data is None:
            return
        try:
            self._on_data(data, self._loop.time())
        except Exception:
            _log.exception("serial line %s: its protocol failed", self.path)

    async def _send_in_order(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            if isinstance(item, LineFormat):
                await self._drain()
                self.format = item
                self._apply_format(item)
                continue
            if self.pace_writes:
                leaves = max(loop.time(), self._sent_until) + len(item) * self.format.octet_time
                self._sent_until = leaves
                await asyncio.sleep(max(0.0, leaves - loop.time()))
            await self._write_all(item)

    async def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                written = 0
            except OSError as exc:
                _log.warning("serial line %s: %s; %d octets dropped", self.path, exc, len(view))
                return
            self.octets_sent += written
            view = view[written:]
            if view:
                await self._writable()

    async def _writable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_writer(self.fd, ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_writer(self.fd)

    async def _drain(self) -> None:
        """Wait until the octets written have left a real UART (a pty has nothing to wait
        for; paced, the writes already waited their line time)."""
        if self._device is not None:
            await asyncio.get_running_loop().run_in_executor(None, termios.tcdrain, self.fd)

    def _apply_format(self, line_format: LineFormat) -> None:
        device = self._device
        if device is None:
            if self._keep_open is not None:
                _set_termios(self._keep_open, line_format)
            return
        import serial

        device.baudrate = line_format.baud
        device.bytesize = serial.SEVENBITS if line_format.seven_even else serial.EIGHTBITS
        device.parity = serial.PARITY_EVEN if line_format.seven_even else serial.PARITY_NONE


def _set_termios(fd: int, line_format: LineFormat) -> None:
    """The speed in a terminal's settings (on a pty, a record only)."""
    attributes = termios.tcgetattr(fd)
    speed = _TERMIOS_SPEEDS[line_format.baud]
    attributes[4] = attributes[5] = speed
    termios.tcsetattr(fd, termios.TCSANOW, attributes)
