"""An RS-485 bus of meters reachable as one HDLC-over-TCP endpoint, asyncio.

One TCP connection is the shared line: its octets go to an
:class:`~metertwin.protocols.rs485_bus.Rs485Bus` of :class:`~metertwin.transport.hdlc_station.
HdlcMeterStation` s, one per meter (its own link, its own DLMS channel, its own backend), and
what the line carries back (one meter's answer, or a garbled stream when several talk at once)
goes back on the connection. The head-end selects a meter by its physical address (docs/hdlc.md,
"An RS-485 bus").

The listener, its admission (one connection at a time: one line) and the line's inactivity and
frame timeouts are the wrapper server's (:class:`~metertwin.transport.tcp.DlmsTcpServer`); its
:class:`~metertwin.transport.channel.ConnectionEvent` s are the master meter's (seed 004: the
meter with the modem). The line has no delay (``octet_time`` 0): TCP delivers at its own pace,
so only answers to the same frame overlap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from metertwin.protocols.hdlc_link import ServerLinkSettings
from metertwin.protocols.rs485_bus import LineOutput, Rs485Bus
from metertwin.transport.channel import ConnectionEvent, DeviceBackend, DlmsChannel
from metertwin.transport.hdlc_bridge import HdlcServerSettings
from metertwin.transport.hdlc_station import HdlcMeterStation
from metertwin.transport.hdlc_tcp import HdlcTcpServerSettings
from metertwin.transport.tcp import ChannelConnection, DlmsTcpServer

__all__ = ["BusMeter", "HdlcBusServer", "bus_link_settings"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BusMeter:
    """A meter on the bus: what answers its APDUs, its HDLC physical address, and its
    logical devices (None: the listener's server SAPs; meters of several models may differ)."""

    backend: DeviceBackend
    physical_address: int
    logical_devices: frozenset[int] | None = None


def bus_link_settings(
    settings: HdlcServerSettings,
    physical_address: int,
    logical_devices: frozenset[int] | None = None,
) -> ServerLinkSettings:
    """A bus member's link: the listener's limits at its own address; a one-octet destination
    (no physical address) is no member's, and the all-station address is every member's
    (answered when polled: on a bus of several, a collision)."""
    return replace(
        settings.link,
        physical_address=physical_address,
        logical_devices=logical_devices or settings.link.logical_devices,
        accept_one_octet_address=False,
        accept_all_station_address=True,
    )


class HdlcBusServer(DlmsTcpServer):
    """The bus's HDLC-over-TCP listener: ``await start()``, ``await stop()``, ``port``."""

    transport_name = "DLMS/COSEM over HDLC/TCP, RS-485 bus"

    def __init__(
        self,
        meters: Sequence[BusMeter],
        host: str = "127.0.0.1",
        port: int = 0,
        settings: HdlcTcpServerSettings | None = None,
        on_event: Callable[[ConnectionEvent], None] | None = None,
    ) -> None:
        if not meters:
            raise ValueError("a bus has at least one meter")
        hdlc_settings = settings or HdlcTcpServerSettings()
        super().__init__(meters[0].backend, host, port, hdlc_settings, on_event)
        self.hdlc_settings = hdlc_settings
        self.meters = tuple(meters)
        self.link_settings = [
            bus_link_settings(hdlc_settings, m.physical_address, m.logical_devices) for m in meters
        ]

    def _protocol(self) -> ChannelConnection:
        return _BusConnection(self)


class _LineChannel(DlmsChannel):
    """The line's timeouts and standing; associated while any station's channel is."""

    stations: Sequence[HdlcMeterStation] = ()

    @property
    def associated(self) -> bool:
        return any(station.channel.associated for station in self.stations)


class _BusConnection(ChannelConnection):
    """One TCP connection: the shared line of the bus."""

    def __init__(self, server: HdlcBusServer) -> None:
        super().__init__(server)
        now = self.loop.time()
        self.stations = [
            HdlcMeterStation(meter.backend, link, self.settings, now)
            for meter, link in zip(server.meters, server.link_settings, strict=True)
        ]
        self.bus = Rs485Bus(self.stations)
        line = _LineChannel({}, self.settings, now)
        line.stations = self.stations
        self.channel = line
        self.bus_timer: asyncio.TimerHandle | None = None
        self.bus_timer_at: float | None = None
        self.frame_since: float | None = None

    @property
    def _decoder_frames(self) -> int:
        return self.stations[0].link.decoder.stats.frames  # every station hears every octet

    def received(self, data: memoryview) -> None:
        if not self.accepted or self.transport is None:
            return
        now = self.loop.time()
        if self.frame_since is not None and self.channel.frame_due(now):
            self._frame_timed_out()
            return
        self._run(lambda: self.bus.send(bytes(data), now), now)

    def _check_bus(self) -> None:
        self.bus_timer = self.bus_timer_at = None
        if self.accepted:
            now = self.loop.time()
            self._run(lambda: self.bus.poll(now), now)

    def _run(self, step: Callable[[], LineOutput], now: float) -> None:
        try:
            before = self._decoder_frames
            output = step()
            completed = self._decoder_frames > before
        except Exception:
            _log.exception("bus connection from %s failed", self.peer)
            self.close()
            return
        if completed:
            self.channel.activity(now)
        if output.collided:
            _log.info("bus collision: stations %s talked at once", output.talkers)
        if output.octets and self.transport is not None:
            self.transport.write(output.octets)
        pending = self.stations[0].link.decoder.deadline is not None
        if not pending:
            self.frame_since = None
        elif completed or self.frame_since is None:
            self.frame_since = now
        self.channel.frame_pending(self.frame_since)
        if pending:
            self._schedule_frame_timer()
        self._schedule_bus_timer()

    def _schedule_bus_timer(self) -> None:
        deadline = self.bus.deadline
        if deadline is None or (self.bus_timer_at is not None and self.bus_timer_at <= deadline):
            return
        self._cancel_bus_timer()
        self.bus_timer = self.loop.call_at(deadline, self._check_bus)
        self.bus_timer_at = deadline

    def _cancel_bus_timer(self) -> None:
        if self.bus_timer is not None:
            self.bus_timer.cancel()
        self.bus_timer = self.bus_timer_at = None

    def _end(self) -> None:
        self._cancel_bus_timer()
        was_accepted = self.accepted
        super()._end()
        if was_accepted:
            for station in self.stations:
                station.close()
