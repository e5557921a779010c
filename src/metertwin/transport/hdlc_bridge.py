"""One HDLC link in front of one DlmsChannel: the wiring every HDLC transport shares.

HDLC over TCP (``hdlc_tcp.py``) and over a serial line (``hdlc_serial.py``) differ only in how
octets arrive and leave and what "closing" means (a TCP connection closes; a serial line stays
and its link and channel start again). What happens between is here, loop-free: the link's
delivered APDUs go through the channel (the HDLC upper address is the server SAP, the client's
HDLC address the client SAP), the answers back through the link; every whole HDLC frame counts
as activity (a client polling for the segments of a long answer is busy); a link that drops
(DISC, SNRM again, its inactivity timeout) ends the associations over it; and the channel is
told when a frame is begun and not yet whole (its frame timeout).

:class:`LinkTimer` is the one asyncio piece: a timer at the link's deadline, moved earlier
when a read brings the deadline forward, else left to fire (a poll that finds nothing due
costs little) and re-armed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from metertwin.protocols.hdlc_link import (
    ApduReceived,
    HdlcServerLink,
    LinkDisconnected,
    LinkOutput,
    ServerLinkSettings,
)
from metertwin.protocols.hdlc_setup import HdlcSetup
from metertwin.transport.channel import ConnectionEvent, DlmsChannel
from metertwin.transport.tcp import TcpServerSettings

__all__ = [
    "DEFAULT_PHYSICAL_ADDRESS",
    "SERIAL_INTER_OCTET_TIMEOUT_S",
    "BridgeOutput",
    "HdlcBridge",
    "HdlcServerSettings",
    "LinkTimer",
]

DEFAULT_PHYSICAL_ADDRESS = 0x10
"""The lowest physical address not reserved (Green Book 8.4.2.5); ``metertwin run`` derives
the meter's own from its serial number
(:func:`~metertwin.protocols.hdlc_link.physical_address_for_serial`)."""
SERIAL_INTER_OCTET_TIMEOUT_S: float = (
    ServerLinkSettings(DEFAULT_PHYSICAL_ADDRESS).inter_octet_timeout or 0.025
)
"""The link settings' default, the Green Book's 25 ms: some 24 character times at 9600 baud."""


@dataclass(frozen=True, slots=True)
class HdlcServerSettings(TcpServerSettings):
    """The wrapper server's rules (:class:`TcpServerSettings`; ``max_frame_length`` bounds the
    APDU the HDLC frames may carry) and the link's, as class 23 holds them:

    ``physical_address``: the meter's lower HDLC address. ``max_info_*``, ``window_*``: the
    most the server accepts in the SNRM/UA negotiation. ``link_inactivity_timeout_s``: the
    link returns to NDM after so long without a frame (class 23 attribute 8; 0: never).
    ``inter_octet_timeout_s``: a frame whose octets stop this long is given up (the Green
    Book's 25 ms of a serial line by default; TCP needs longer, ``hdlc_tcp.py``).
    """

    physical_address: int = DEFAULT_PHYSICAL_ADDRESS
    max_info_transmit: int = 128
    max_info_receive: int = 128
    window_transmit: int = 1
    window_receive: int = 1
    link_inactivity_timeout_s: float = 120.0
    inter_octet_timeout_s: float = SERIAL_INTER_OCTET_TIMEOUT_S
    live_setup: Callable[[], HdlcSetup] | None = None
    """Class 23's values in force (the meter's ``0.0.22.0.0.255``): given, each link takes its
    address, limits and timeouts from it at every SNRM, the fields above being only what
    :attr:`setup` shows as the transport's own (the meter's defaults)."""

    def __post_init__(self) -> None:
        super(HdlcServerSettings, self).__post_init__()  # slots: no zero-argument super()
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

    @property
    def setup(self) -> HdlcSetup:
        """The fields above as class 23 values: what the transport uses unless class 23 was set."""
        return HdlcSetup.of_link(self.link)

    def link_source(self) -> ServerLinkSettings | Callable[[], ServerLinkSettings]:
        """What a link is built with: the fixed :attr:`link`, or, with :attr:`live_setup`, a
        function giving the link settings in force now (one object per class 23 value, so the
        link sees no change unless there was one)."""
        live, base = self.live_setup, self.link
        if live is None:
            return base
        last: list[tuple[HdlcSetup, ServerLinkSettings]] = []

        def current() -> ServerLinkSettings:
            setup = live()
            if not last or last[0][0] != setup:
                last[:] = [(setup, setup.applied_to(base))]
            return last[0][1]

        return current


class BridgeOutput(NamedTuple):
    """Octets to send (in one write), then, when ``close`` is not None, the event for which
    the transport ends the connection (an APDU for a logical device not served)."""

    transmit: bytes
    close: ConnectionEvent | None


class HdlcBridge:
    """An :class:`HdlcServerLink` and the :class:`DlmsChannel` its APDUs go through."""

    def __init__(
        self,
        link_settings: ServerLinkSettings | Callable[[], ServerLinkSettings],
        channel: DlmsChannel,
    ) -> None:
        self.link = HdlcServerLink(link_settings)
        self.channel = channel
        self.frame_since: float | None = None
        """The first octet of the frame begun and not yet whole (None: none pending)."""

    def receive(self, data: bytes | bytearray | memoryview, now: float) -> BridgeOutput:
        """Octets from the line at ``now``."""
        link = self.link
        frames_before = link.decoder.stats.frames
        output = link.receive(data, now)
        events = output.events
        if len(events) == 1 and not output.transmit and link.decoder.idle:
            event = events[0]
            if event.__class__ is ApduReceived:  # a whole request: the common case, at speed
                assert isinstance(event, ApduReceived)
                return self._answer_request(event, now)
        return self._take(output, now, frames_before)

    def _answer_request(self, request: ApduReceived, now: float) -> BridgeOutput:
        """What :meth:`_take` does for one APDU in a read that leaves no frame begun (the
        APDU's frame is activity, as the channel's :meth:`DlmsChannel.receive` counts it)."""
        channel = self.channel
        answer, closing = channel.receive(request.client, request.logical_device, request.apdu, now)
        transmit = self.link.respond(answer)
        if self.frame_since is not None:  # the decoder is idle: nothing begun
            self.frame_since = None
            channel.frame_pending(None)
        return BridgeOutput(transmit, closing)

    def poll(self, now: float) -> BridgeOutput:
        """The link's timers at ``now`` (its inter-octet and inactivity timeouts)."""
        frames_before = self.link.decoder.stats.frames
        return self._take(self.link.poll(now), now, frames_before)

    @property
    def frame_pending(self) -> bool:
        """Whether a frame is begun and not yet whole (the transport's frame timer)."""
        return self.frame_since is not None

    def _take(self, output: LinkOutput, now: float, frames_before: int) -> BridgeOutput:
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
        if link.decoder.deadline is None:  # nothing begun
            self.frame_since = None
        elif completed or self.frame_since is None:
            self.frame_since = now
        channel.frame_pending(self.frame_since)
        return BridgeOutput(bytes(transmit), closing)


class LinkTimer:
    """A timer at an HDLC link's deadline calling ``fire`` (which polls the link)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[], None]) -> None:
        self.loop = loop
        self.fire = fire
        self.handle: asyncio.TimerHandle | None = None
        self.at: float | None = None

    def arm(self, deadline: float | None) -> None:
        """At ``deadline``, unless the timer is set for sooner (firing early costs a poll that
        finds nothing due, and then it is armed again)."""
        if deadline is None or (self.at is not None and self.at <= deadline):
            return
        self.cancel()
        self.handle = self.loop.call_at(deadline, self._fired)
        self.at = deadline

    def _fired(self) -> None:
        self.handle = self.at = None
        self.fire()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.handle = self.at = None
