"""One meter as an HDLC station: its link and the DLMS channel that answers its APDUs, sans-IO.

:class:`HdlcMeterStation` is a :class:`~metertwin.protocols.rs485_bus.BusStation`: octets in
with the caller's clock, octets out. The link's APDUs go through the station's own
:class:`~metertwin.transport.channel.DlmsChannel` (the HDLC upper address is the server SAP,
the client's address the client SAP), whose answers go back through the link; when the link
drops (DISC, SNRM again, its inactivity timeout) the associations over it end. Nothing here
does I/O: any byte transport carrying a bus (TCP, a serial line) drives it.
"""

from __future__ import annotations

from metertwin.protocols.hdlc_link import (
    ApduReceived,
    HdlcServerLink,
    LinkDisconnected,
    LinkOutput,
    ServerLinkSettings,
)
from metertwin.transport.channel import ChannelSettings, DeviceBackend, DlmsChannel

__all__ = ["HdlcMeterStation"]


class HdlcMeterStation:
    """A meter's physical device on a line (module docstring)."""

    def __init__(
        self,
        backend: DeviceBackend,
        link_settings: ServerLinkSettings,
        channel_settings: ChannelSettings,
        now: float,
    ) -> None:
        self.link = HdlcServerLink(link_settings)
        backends = dict.fromkeys(link_settings.logical_devices, backend)
        self.channel = DlmsChannel(backends, channel_settings, now)

    @property
    def physical_address(self) -> int:
        return self.link.settings.physical_address

    @property
    def deadline(self) -> float | None:
        return self.link.deadline

    def receive(self, data: bytes, now: float) -> bytes:
        return self._take(self.link.receive(data, now), now)

    def poll(self, now: float) -> bytes:
        return self._take(self.link.poll(now), now)

    def close(self) -> None:
        """The line is gone: every association released."""
        self.channel.close()

    def _take(self, output: LinkOutput, now: float) -> bytes:
        link, channel = self.link, self.channel
        transmit = bytearray(output.transmit)
        for event in output.events:
            if isinstance(event, ApduReceived):
                # Only hosted logical devices reach here (the link ignores the others), so
                # the channel never asks to close.
                answer, _closing = channel.receive(
                    event.client, event.logical_device, event.apdu, now
                )
                transmit += link.respond(answer)
            elif isinstance(event, LinkDisconnected):
                channel.release(event.logical_device)
        return bytes(transmit)
