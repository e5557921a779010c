"""Class 23, IEC HDLC setup (``0.0.22.0.0.255``), live: what the meter's HDLC links use.

The values come from one place, :meth:`HdlcPort.setup`: what a SET stored in parameter memory
(committed with the SET, so it survives a restart), else the transport's own (the physical
address derived from the serial, the TCP transport's 1 s inter-octet timeout, the serial
line's baud: :attr:`HdlcPort.defaults`, set by whoever runs the transports). The links read
the same function at each SNRM (``HdlcServerSettings.live_setup``), so a GET shows what the
next connection negotiates with, and a SET takes effect there; a connection in progress keeps
its values. A SET that would give values class 23 does not allow (window 0 or over 7, an
information field under 32 or over 2030 octets, a comm speed outside 0..9, ...) is refused
(type-unmatched, as every out-of-range SET of this meter) and nothing is stored.
"""

from __future__ import annotations

from dataclasses import asdict, fields

from metertwin.codec.axdr import Data, DataType, decode, encode
from metertwin.codec.obis import Obis
from metertwin.cosem.errors import type_unmatched
from metertwin.cosem.objects import Binding, Request
from metertwin.meter.core import Meter
from metertwin.models.values import integer
from metertwin.protocols.hdlc_link import physical_address_for_serial
from metertwin.protocols.hdlc_setup import HdlcSetup

__all__ = ["HDLC_SETUP", "HdlcPort", "install_hdlc_setup"]

HDLC_SETUP = Obis(0, 0, 22, 0, 0)

_FIELDS = {  # attribute: (HdlcSetup field, A-XDR type), Blue Book 4.7.2, class 23 version 1
    2: ("comm_speed", DataType.ENUM),
    3: ("window_transmit", DataType.UNSIGNED),
    4: ("window_receive", DataType.UNSIGNED),
    5: ("max_info_transmit", DataType.LONG_UNSIGNED),
    6: ("max_info_receive", DataType.LONG_UNSIGNED),
    7: ("inter_octet_ms", DataType.LONG_UNSIGNED),
    8: ("inactivity_s", DataType.LONG_UNSIGNED),
    9: ("device_address", DataType.LONG_UNSIGNED),
}
assert {name for name, _ in _FIELDS.values()} == {f.name for f in fields(HdlcSetup)}


def _key(obis: Obis, index: int) -> str:
    return f"{obis}/{index}"


class HdlcPort:
    """The meter's HDLC port: the transport's values under what a SET of class 23 stored."""

    def __init__(self, meter: Meter, defaults: HdlcSetup | None = None) -> None:
        self.meter = meter
        self.defaults = defaults or HdlcSetup(
            device_address=physical_address_for_serial(meter.serial_number)
        )
        """What the transports use unless a SET changed it (the runner sets it)."""

    def setup(self, obis: Obis = HDLC_SETUP) -> HdlcSetup:
        """The values in force: stored ones over :attr:`defaults`."""
        return self._with(obis, {})

    def _with(self, obis: Obis, changes: dict[int, int]) -> HdlcSetup:
        values = asdict(self.defaults)
        for index, (name, _kind) in _FIELDS.items():
            raw = self.meter.parameters.get(_key(obis, index))
            if index in changes:
                values[name] = changes[index]
            elif raw is not None:
                values[name] = decode(raw).as_int()
        return HdlcSetup(**values)

    def bindings(self, obis: Obis) -> dict[int, Binding]:
        """Attributes 2 to 9: GET the values in force, SET one (checked with the others)."""
        attributes: dict[int, Binding] = {}
        for index, (name, kind) in _FIELDS.items():

            def get(_request: Request, name: str = name, kind: DataType = kind) -> Data:
                return Data(kind, getattr(self.setup(obis), name))

            def put(
                _request: Request, value: Data, index: int = index, kind: DataType = kind
            ) -> None:
                number = integer(value, kind)
                try:
                    self._with(obis, {index: number})
                except ValueError as problem:
                    raise type_unmatched(str(problem)) from None
                self.meter.parameters[_key(obis, index)] = encode(value)

            attributes[index] = Binding(get=get, set=put)
        return attributes


def install_hdlc_setup(obis: Obis, port: HdlcPort, attributes: dict[int, Binding]) -> None:
    """Bind class 23's attributes 2 to 9 to ``port`` (writable where the catalogue says)."""
    for index, binding in port.bindings(obis).items():
        writable = index in attributes and attributes[index].set is not None
        attributes[index] = binding if writable else Binding(get=binding.get)
