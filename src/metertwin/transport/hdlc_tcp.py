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

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from metertwin.protocols.hdlc_link import (
    ApduReceived,
    HdlcServerLink,
    LinkDisconnected,
    LinkOutput,
    ServerLinkSettings,
)
from metertwin.transport.channel import ConnectionEvent, DeviceBackend
from metertwin.transport.tcp import ChannelConnection, DlmsTcpServer, TcpServerSettings

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
DEFAULT_PHYSICAL_ADDRESS = 0x10
"""The lowest physical address not reserved (Green Book 8.4.2.5); ``metertwin run`` derives
the meter's own from its serial number
(:func:`~metertwin.protocols.hdlc_link.physical_address_for_serial`)."""


@dataclass(frozen=True, slots=True)
class HdlcTcpServerSettings(TcpServerSettings):
    """The wrapper server's rules (:class:`TcpServerSettings`; ``max_frame_length`` bounds the
    APDU the HDLC frames may carry) and the link's, as class 23 holds them:

    ``physical_address``: the meter's lower HDLC address. ``max_info_*``, ``window_*``: the
    most the server accepts in the SNRM/UA negotiation. ``link_inactivity_timeout_s``: the
    link returns to NDM after so long without a frame (class 23 attribute 8; 0: never).
    ``inter_octet_timeout_s``: a frame whose octets stop this long is given up.
    """

    physical_address: int = DEFAULT_PHYSICAL_ADDRESS
    max_info_transmit: int = 128
    max_info_receive: int = 128
    window_transmit: int = 1
    window_receive: int = 1
    link_inactivity_timeout_s: float = 120.0
    inter_octet_timeout_s: float = TCP_INTER_OCTET_TIMEOUT_S

    def __post_init__(self) -> None:
        super(HdlcTcpServerSettings, self).__post_init__()  # slots: no zero-argument super()
        _ = self.link  # checks the link's own limits now, not at the first connection

    @property
    def link(self) -> ServerLinkSettings:
        """One connection's link settings: every server SAP a logical device of the physical
        device; the all-station physical address taken as its own (point-to-point)."""
        return ServerLinkSettings(
            physical_address=self.physical_address,
            logical_devices=self.server_saps,
            max_info_transmit=self.max_info_transmit,
            max_info_receive=self.max_info_receive,
            window_transmit=self.window_transmit,
            window_receive=self.window_receive,
            inactivity_timeout=self.link_inactivity_timeout_s,
            inter_octet_timeout=self.inter_octet_timeout_s,
            accept_one_octet_address=True,
            accept_all_station_address=True,
            max_apdu_length=self.frame_length_limit,
        )


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
        self.link_settings = hdlc_settings.link

    def _protocol(self) -> ChannelConnection:
        return _HdlcConnection(self)


class _HdlcConnection(ChannelConnection):
    """One TCP connection carrying HDLC frames to one :class:`HdlcServerLink`."""

    def __init__(self, server: HdlcTcpServer) -> None:
        super().__init__(server)
        self.link = HdlcServerLink(server.link_settings)
        self.link_timer: asyncio.TimerHandle | None = None
        self.link_timer_at: float | None = None
        self.frame_since: float | None = None

    def received(self, data: memoryview) -> None:
        if not self.accepted or self.transport is None:
            return
        now = self.loop.time()
        if self.frame_since is not None and self.channel.frame_due(now):
            self._frame_timed_out()  # its last octets come too late
            return
        try:
            frames_before = self.link.decoder.stats.frames
            self._take(self.link.receive(data, now), now, frames_before)
        except Exception:
            _log.exception("connection from %s failed", self.peer)
            self.close()

    def _check_link(self) -> None:
        self.link_timer = self.link_timer_at = None
        if not self.accepted:
            return
        now = self.loop.time()
        try:
            frames_before = self.link.decoder.stats.frames
            self._take(self.link.poll(now), now, frames_before)
        except Exception:
            _log.exception("connection from %s failed", self.peer)
            self.close()

    def _take(self, output: LinkOutput, now: float, frames_before: int) -> None:
        """The link's output: APDUs through the channel, answers back through the link, its
        octets sent in one write; then the frame and link timers."""
        link, channel = self.link, self.channel
        completed = link.decoder.stats.frames > frames_before
        if completed:
            channel.activity(now)
        transmit = bytearray(output.transmit)
        closing: ConnectionEvent | None = None
        for event in output.events:
            if isinstance(event, ApduReceived):
                answer, closing = channel.receive(
                    event.client, event.logical_device, event.apdu, now
                )
                transmit += link.respond(answer)
                if closing is not None:
                    break
            elif isinstance(event, LinkDisconnected):
                channel.release(event.logical_device)
        if transmit and self.transport is not None:
            self.transport.write(bytes(transmit))
        if closing is not None:
            _log.info("closing %s: an APDU for a logical device not served", self.peer)
            self._close_for(closing)
            return
        pending = link.decoder.deadline is not None  # a frame begun, not yet whole
        if not pending:
            self.frame_since = None
        elif completed or self.frame_since is None:
            self.frame_since = now
        channel.frame_pending(self.frame_since)
        if pending:
            self._schedule_frame_timer()
        self._schedule_link_timer()

    def _schedule_link_timer(self) -> None:
        """The link timer at the link's deadline, unless it is set for sooner (firing early
        costs a poll that finds nothing due, and then it is re-armed)."""
        deadline = self.link.deadline
        if deadline is None or (self.link_timer_at is not None and self.link_timer_at <= deadline):
            return
        self._cancel_link_timer()
        self.link_timer = self.loop.call_at(deadline, self._check_link)
        self.link_timer_at = deadline

    def _cancel_link_timer(self) -> None:
        timer = self.link_timer
        if timer is not None:
            timer.cancel()
        self.link_timer = self.link_timer_at = None

    def _end(self) -> None:
        self._cancel_link_timer()
        super()._end()
