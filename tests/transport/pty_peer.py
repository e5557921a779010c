"""The client's end of a pty: what a head-end or an HHU would open (``/dev/pts/N``)."""

from __future__ import annotations

import asyncio
import os
import termios
import tty

from metertwin.protocols.hdlc_frame import HdlcDecoder, HdlcFrame

TIMEOUT = 5.0


class PtyPeer:
    """The slave side of a pty opened by path, raw, read on the running loop."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd, termios.TCSANOW)
        self.loop = asyncio.get_running_loop()
        self.received = bytearray()
        self.arrived = asyncio.Event()
        self.loop.add_reader(self.fd, self._readable)
        self.decoder = HdlcDecoder()
        self.frames: list[HdlcFrame] = []

    def _readable(self) -> None:
        try:
            self.received += os.read(self.fd, 4096)
        except BlockingIOError:
            return
        self.arrived.set()

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    async def read_until(self, end: bytes, timeout: float = TIMEOUT) -> bytes:
        """The octets up to and including ``end`` (taken out of what was received)."""
        async with asyncio.timeout(timeout):
            while end not in self.received:
                self.arrived.clear()
                await self.arrived.wait()
        index = self.received.index(end) + len(end)
        data = bytes(self.received[:index])
        del self.received[:index]
        return data

    async def read_count(self, count: int, timeout: float = TIMEOUT) -> bytes:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        data = bytes(self.received[:count])
        del self.received[:count]
        return data

    async def silence(self, seconds: float) -> bytes:
        """What arrives within ``seconds`` (expected: nothing)."""
        await asyncio.sleep(seconds)
        data = bytes(self.received)
        self.received.clear()
        return data

    async def frame(self) -> HdlcFrame:
        """The next whole HDLC frame (the meter's octets must be clean)."""
        async with asyncio.timeout(TIMEOUT):
            while not self.frames:
                if not self.received:
                    self.arrived.clear()
                    await self.arrived.wait()
                self.frames += self.decoder.feed(bytes(self.received))
                self.received.clear()
        assert self.decoder.stats.malformed == self.decoder.stats.bad_fcs == 0
        return self.frames.pop(0)

    def close(self) -> None:
        """Close this end (once; a second call does nothing)."""
        if self.fd < 0:
            return
        self.loop.remove_reader(self.fd)
        os.close(self.fd)
        self.fd = -1
