"""Class 23, IEC HDLC setup (``0.0.22.0.0.255``): the values every HDLC link of the meter uses.

:class:`HdlcSetup` is the one record of them, in the units of class 23 (Blue Book 4.7.2,
version 1): attribute 2 ``comm_speed`` (enum 0..9: 300 .. 115200 baud), 3 and 4 the window
sizes, 5 and 6 the maximum information field lengths (32..2030), 7 ``inter_octet_time_out``
(ms), 8 ``inactivity_time_out`` (s, 0: none), 9 ``device_address`` (the physical address). The
COSEM object reads and writes it; the links take their :class:`ServerLinkSettings` from it at
each SNRM (:meth:`HdlcSetup.applied_to`), so what a GET shows is what the next connection
negotiates with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from metertwin.protocols.hdlc_link import ServerLinkSettings

__all__ = ["COMM_SPEEDS", "HdlcSetup", "comm_speed_for_baud"]

COMM_SPEEDS = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
"""Class 23 attribute 2: the enum's values 0..9, baud."""
_DEFAULT_COMM_SPEED = COMM_SPEEDS.index(9600)


def comm_speed_for_baud(baud: int) -> int:
    """The ``comm_speed`` enum of a line rate; ValueError for a rate class 23 cannot name."""
    if baud not in COMM_SPEEDS:
        raise ValueError(f"{baud} baud is not a class 23 comm_speed")
    return COMM_SPEEDS.index(baud)


@dataclass(frozen=True, slots=True)
class HdlcSetup:
    """Class 23's attributes 2 to 9; the defaults are the Green Book's (9600 baud, window 1,
    128 octets, 25 ms, 120 s). Out-of-range values raise ValueError (a SET refuses them)."""

    device_address: int = 0x10
    comm_speed: int = _DEFAULT_COMM_SPEED
    window_transmit: int = 1
    window_receive: int = 1
    max_info_transmit: int = 128
    max_info_receive: int = 128
    inter_octet_ms: int = 25
    inactivity_s: int = 120

    def __post_init__(self) -> None:
        if not 0 <= self.comm_speed < len(COMM_SPEEDS):
            raise ValueError(f"comm_speed {self.comm_speed} is outside 0..{len(COMM_SPEEDS) - 1}")
        if not 0x10 <= self.device_address <= 0x3FFD:
            raise ValueError(f"device_address {self.device_address} is outside 16..16381")
        if not 1 <= self.inter_octet_ms <= 0xFFFF:
            raise ValueError(f"inter_octet_time_out {self.inter_octet_ms} is outside 1..65535 ms")
        if not 0 <= self.inactivity_s <= 0xFFFF:
            raise ValueError(f"inactivity_time_out {self.inactivity_s} is outside 0..65535 s")
        self.applied_to(ServerLinkSettings(self.device_address))  # windows, lengths: the link's

    @property
    def baud(self) -> int:
        return COMM_SPEEDS[self.comm_speed]

    def applied_to(self, link: ServerLinkSettings) -> ServerLinkSettings:
        """``link`` (how a transport serves: logical devices, address forms, APDU limit) with
        these values for the address, limits and timeouts."""
        return replace(
            link,
            physical_address=self.device_address,
            max_info_transmit=self.max_info_transmit,
            max_info_receive=self.max_info_receive,
            window_transmit=self.window_transmit,
            window_receive=self.window_receive,
            inactivity_timeout=float(self.inactivity_s),
            inter_octet_timeout=self.inter_octet_ms / 1000,
        )

    @classmethod
    def of_link(cls, link: ServerLinkSettings, comm_speed: int = _DEFAULT_COMM_SPEED) -> HdlcSetup:
        """What class 23 shows for a link serving with ``link`` (timeouts rounded to its units)."""
        inter_octet = link.inter_octet_timeout
        return cls(
            device_address=link.physical_address,
            comm_speed=comm_speed,
            window_transmit=link.window_transmit,
            window_receive=link.window_receive,
            max_info_transmit=link.max_info_transmit,
            max_info_receive=link.max_info_receive,
            inter_octet_ms=0xFFFF if inter_octet is None else max(1, round(inter_octet * 1000)),
            inactivity_s=round(link.inactivity_timeout),
        )
