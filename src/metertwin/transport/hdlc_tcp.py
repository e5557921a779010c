"""DLMS/COSEM over HDLC carried by TCP (IEC 62056-46 frames on a TCP stream), asyncio.

A thin adaptor, as ``tcp.py`` is for the wrapper: per TCP connection, one
:class:`~metertwin.protocols.hdlc_link.HdlcServerLink` (the meter's physical device, its
logical devices the server SAPs) whose delivered APDUs go through the connection's
:class:`~metertwin.transport.channel.DlmsChannel` (the HDLC upper address is the server SAP,
the client's HDLC address the client SAP) and whose answers go back through the link. The
listener, its admission policy (one connection at a time, the cap, eviction) and its
:class:`~metertwin.transport.channel.ConnectionEvent` s are the wrapper server's.

Timers: the channel's inactivity and frame timeouts, as for the wrapper, and one timer at the
link's own deadline (its inter-octet timeout, and its inactivity timeout that returns the
link to NDM), moved earlier when a read brings the deadline forward, else re-armed when it
fires. Every whole HDLC frame is activity for the channel, not only those carrying an APDU
(a client polling for the segments of a long answer is busy). When the link drops (DISC,
SNRM again, its inactivity timeout) the associations over it end (Green Book: an
association does not outlive its data link connection); the TCP connection stays open for a
new SNRM.

The inter-octet timeout is :data:`TCP_INTER_OCTET_TIMEOUT_S`, not the serial default of
25 ms: TCP may hold the rest of a frame back for a retransmission (Linux waits at least
200 ms) or a peer's Nagle delay, and a frame cut at 25 ms would be lost though nothing is
wrong. A failure inside one connection is logged and closes that connection alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from metertwin.transport.channel import ConnectionEvent, DeviceBackend
from metertwin.transport.hdlc_bridge import (
    DEFAULT_PHYSICAL_ADDRESS,
    BridgeOutput,
    HdlcBridge,
    HdlcServerSettings,
    LinkTimer,
)
from metertwin.transport.tcp import ChannelConnection, DlmsTcpServer

__all__ = [
    "DEFAULT_PHYSICAL_ADDRESS",
    "TCP_INTER_OCTET_TIMEOUT_S",
    "HdlcTcpServer",
    "HdlcTcpServerSettings",
]

_log = logging.getLogger(__name__)

TCP_INTER_OCTET_TIMEOUT_S = 1.0
"""A frame's octets may pause this long on TCP: beyond the 200 ms least retransmission
timeout of Linux and a Nagle delay, short enough that garbage mistaken for a frame's start
holds the link for a second at most."""


@dataclass(frozen=True, slots=True)
class HdlcTcpServerSettings(HdlcServerSettings):
    """:class:`HdlcServerSettings` with the inter-octet timeout of a TCP stream,
    :data:`TCP_INTER_OCTET_TIMEOUT_S`."""

    inter_octet_timeout_s: float = TCP_INTER_OCTET_TIMEOUT_S


class HdlcTcpServer(DlmsTcpServer):
    """The meter's HDLC-over-TCP listener: ``await start()``, ``await stop()``, ``port``,
    ``on_event`` as :class:`DlmsTcpServer`'s."""

    transport_name = "DLMS/COSEM over HDLC/TCP"

    def __init__(
        self,
        backend: DeviceBackend,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: HdlcTcpServerSettings | None = None,
        on_event: Callable[[ConnectionEvent], None] | None = None,
    ) -> None:
        hdlc_settings = settings or HdlcTcpServerSettings()
        super().__init__(backend, host, port, hdlc_settings, on_event)
        self.hdlc_settings = hdlc_settings
        self.link_settings = hdlc_settings.link_source()

    def _protocol(self) -> ChannelConnection:
        return _HdlcConnection(self)


class _HdlcConnection(ChannelConnection):
    """One TCP connection carrying HDLC frames to one :class:`HdlcBridge`."""

    def __init__(self, server: HdlcTcpServer) -> None:
        super().__init__(server)
        self.bridge = HdlcBridge(server.link_settings, self.channel)
        self.link = self.bridge.link
        self.link_timer = LinkTimer(self.loop, self._check_link)

    def received(self, data: memoryview) -> None:
        if not self.accepted or self.transport is None:
            return
        now = self.loop.time()
        if self.bridge.frame_since is not None and self.channel.frame_due(now):  # pending
            self._frame_timed_out()  # its last octets come too late
            return
        try:
            # bytes, not the read buffer's view: the link's fast path for a whole request
            # frame takes bytes only (a view would be overwritten by the next read).
            self._take(self.bridge.receive(bytes(data), now))
        except Exception:
            _log.exception("connection from %s failed", self.peer)
            self.close()

    def _check_link(self) -> None:
        if not self.accepted:
            return
        try:
            self._take(self.bridge.poll(self.loop.time()))
        except Exception:
            _log.exception("connection from %s failed", self.peer)
            self.close()

    def _take(self, output: BridgeOutput) -> None:
        """The bridge's octets sent in one write; then the frame and link timers."""
        transmit, close = output
        if transmit and self.transport is not None:
            self.transport.write(transmit)
        if close is not None:
            _log.info("closing %s: an APDU for a logical device not served", self.peer)
            self._close_for(close)
            return
        if self.bridge.frame_since is not None:  # a frame pending
            self._schedule_frame_timer()
        self.link_timer.arm(self.link.deadline)

    def _end(self) -> None:
        self.link_timer.cancel()
        super()._end()
