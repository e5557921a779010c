"""DLMS/COSEM over HDLC on a serial line (a pty or a UART), asyncio.

The same wiring as HDLC over TCP (:class:`~metertwin.transport.hdlc_bridge.HdlcBridge`: one
link in front of one :class:`~metertwin.transport.channel.DlmsChannel`), on a
:class:`~metertwin.transport.serial_line.SerialLine` instead of a TCP connection. A line is
point to point and always there, so nothing is admitted or refused; where a TCP connection
would close (the channel's inactivity or frame timeout, an APDU for a logical device not
served) the line's associations end, its link goes back to NDM and a fresh link and channel
serve the next SNRM; the event goes to ``on_event`` as over TCP. The inter-octet timeout is
the serial default, 25 ms (:data:`~metertwin.transport.hdlc_bridge.SERIAL_INTER_OCTET_TIMEOUT_S`).

``on_link_down`` (optional) is told when the link returns to NDM (DISC, its inactivity
timeout, a reset): the optical port ends mode E then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from metertwin.protocols.hdlc_link import LinkState
from metertwin.transport.channel import ConnectionEvent, DeviceBackend, DlmsChannel
from metertwin.transport.hdlc_bridge import BridgeOutput, HdlcBridge, HdlcServerSettings, LinkTimer
from metertwin.transport.serial_line import SerialLine

__all__ = ["HdlcSerialServer"]

_log = logging.getLogger(__name__)


class HdlcSerialServer:
    """The meter's HDLC port on ``line``: :meth:`start` (reads the line) or :meth:`attach`
    (another protocol reads it and hands HDLC octets to :meth:`received`), :meth:`stop`."""

    transport_name = "DLMS/COSEM over HDLC on a serial line"

    def __init__(
        self,
        backend: DeviceBackend,
        line: SerialLine,
        settings: HdlcServerSettings | None = None,
        on_event: Callable[[ConnectionEvent], None] | None = None,
        on_link_down: Callable[[], None] | None = None,
    ) -> None:
        self.line = line
        self.settings = settings or HdlcServerSettings()
        self.link_settings = self.settings.link_source()
        self.backends = dict.fromkeys(self.settings.server_saps, backend)
        self.on_event = on_event
        self.on_link_down = on_link_down
        self._loop: asyncio.AbstractEventLoop | None = None
        self.bridge: HdlcBridge | None = None
        self._link_timer: LinkTimer | None = None
        self._channel_timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Serve HDLC on the line, reading it."""
        self.attach()
        self.line.start(self.received)
        _log.info("%s on %s", self.transport_name, self.line.path)

    def attach(self) -> None:
        """Serve HDLC on the line while another protocol reads it (the optical port)."""
        self._loop = asyncio.get_running_loop()
        self._link_timer = LinkTimer(self._loop, self._poll)
        self._fresh(self._loop.time())

    async def stop(self) -> None:
        """Stop serving: the associations end and the line closes."""
        self.detach()
        self.line.close()

    def detach(self) -> None:
        """Stop serving without closing the line: the associations end."""
        if self._link_timer is not None:
            self._link_timer.cancel()
        if self._channel_timer is not None:
            self._channel_timer.cancel()
            self._channel_timer = None
        if self.bridge is not None:
            self.bridge.channel.close()
            self.bridge = None

    def received(self, data: bytes, now: float) -> None:
        """Octets from the line, arrived at ``now``."""
        bridge = self.bridge
        if bridge is None:
            return
        if bridge.frame_pending and bridge.channel.frame_due(now):
            self._restart(ConnectionEvent.CLOSED_FRAME_TIMEOUT, now)  # its rest comes too late
            bridge = self.bridge
            assert bridge is not None
        self._guarded(lambda: bridge.receive(data, now), now)

    @property
    def link_connected(self) -> bool:
        """Whether a client holds the link (NRM, or its frame reject condition)."""
        return self.bridge is not None and self.bridge.link.state is not LinkState.NDM

    # -- inside ----------------------------------------------------------------------------

    def _fresh(self, now: float) -> None:
        self.bridge = HdlcBridge(self.link_settings, DlmsChannel(self.backends, self.settings, now))
        self._arm_channel_timer()

    def _restart(self, event: ConnectionEvent | None, now: float) -> None:
        """Where a TCP connection would close: the associations end, a new link and channel
        serve the next SNRM, the event (if any: a failure of ours is none) is reported."""
        reason = "a failure" if event is None else event.name
        _log.info("serial line %s: %s; link and associations reset", self.line.path, reason)
        was_connected = self.link_connected
        if self.bridge is not None:
            self.bridge.channel.close()
        self._fresh(now)
        if was_connected:
            self._link_down()
        if event is not None and self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                _log.exception("the connection event handler failed on %s", event.name)

    def _guarded(self, step: Callable[[], BridgeOutput], now: float) -> None:
        bridge = self.bridge
        assert bridge is not None
        was_connected = self.link_connected
        try:
            output = step()
        except Exception:
            _log.exception("serial line %s: HDLC failed; link reset", self.line.path)
            self._restart(None, now)
            return
        self.line.write(output.transmit)
        if output.close is not None:
            self._restart(output.close, now)
            return
        if was_connected and not self.link_connected:
            self._link_down()
        if self._link_timer is not None:
            self._link_timer.arm(bridge.link.deadline)
        self._arm_channel_timer()

    def _link_down(self) -> None:
        if self.on_link_down is not None:
            self.on_link_down()

    def _poll(self) -> None:
        if self.bridge is None or self._loop is None:
            return
        bridge, now = self.bridge, self._loop.time()
        self._guarded(lambda: bridge.poll(now), now)

    def _arm_channel_timer(self) -> None:
        """One timer at the channel's sooner deadline (inactivity, or the frame pending)."""
        if self._loop is None or self.bridge is None:
            return
        channel = self.bridge.channel
        deadlines = [d for d in (channel.inactivity_deadline, channel.frame_deadline) if d]
        if self._channel_timer is not None:
            self._channel_timer.cancel()
            self._channel_timer = None
        if deadlines:
            self._channel_timer = self._loop.call_at(min(deadlines), self._check_channel)

    def _check_channel(self) -> None:
        self._channel_timer = None
        if self._loop is None or self.bridge is None:
            return
        now, channel = self._loop.time(), self.bridge.channel
        if channel.frame_due(now):
            self._restart(ConnectionEvent.CLOSED_FRAME_TIMEOUT, now)
        elif channel.inactivity_due(now) and channel.completed_frame:
            self._restart(ConnectionEvent.CLOSED_IDLE, now)
        elif channel.inactivity_due(now):  # nobody spoke: nothing to end, nothing to log
            self._fresh(now)
        else:
            self._arm_channel_timer()
