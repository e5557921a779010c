"""The meter's IEC 62056-21 optical port: the model's ``[optical]`` section over a running meter.

:func:`optical_port` builds the sans-IO :class:`~metertwin.protocols.iec62056_21_meter.OpticalPort`
for a session: its identification from the model, the mode C readout list read from the
logical device at the instant it is asked (the same objects, values and scalers a DLMS GET
sees: one source of truth), R1 answering any item of the list by its address, W1 refused, and
the P1 password checked as the secret of the model's ``password_association`` (an LLS
association), so its failure count and lockout are the meter's (seed 002).

How an item reads (docs/optical.md, "Readout list"):

- the address is ``C.D.E`` for an electricity code ``1.0.C.D.E.255`` (``1.8.0``), else
  ``A-B:C.D.E`` (``0-0:96.1.0``), as IEC 62056-61 shortens them;
- a register (classes 3, 4) reads ``value*unit`` scaled by its scaler_unit; energy in
  watt-hours reads in kilo-units with three decimals (``001234.567*kWh``), as meter
  readouts print it;
- a data object (class 1) reads its value: text for an octet or visible string, else the
  number.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.obis import Obis
from metertwin.codec.units import UNIT_SYMBOLS
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.dlms.capabilities import IMPLEMENTED_CONFORMANCE
from metertwin.meter.security import LoginOutcome
from metertwin.models.loader import OpticalSpec
from metertwin.protocols.iec62056_21 import BAUD_RATES_MODE_C, DataSet
from metertwin.protocols.iec62056_21_meter import CommandRefused, OpticalPort, OpticalPortConfig
from metertwin.runtime.session import Session

__all__ = ["ReadoutItem", "optical_port", "readout_address", "readout_items"]

_KILO_UNITS = {"Wh": "kWh", "varh": "kvarh", "VAh": "kVAh"}


def readout_address(code: str) -> str:
    """The readout's address of an OBIS code (module docstring)."""
    a, b, c, d, e, f = Obis.parse(code).octets
    tail = "" if f == 255 else f".{f}"
    if a == 1 and b == 0 and f == 255:
        return f"{c}.{d}.{e}"
    return f"{a}-{b}:{c}.{d}.{e}{tail}"


class ReadoutItem:
    """One item of the readout list over a logical device."""

    def __init__(self, code: str, device: Callable[[], LogicalDevice]) -> None:
        self.name = Obis.parse(code)
        self.address = readout_address(code)
        self._device = device

    def read(self) -> DataSet:
        """The item now, or ``(ERROR)`` as its value when the object cannot be read."""
        device = self._device()
        obj = device.objects.get(self.name)
        if obj is None:
            return DataSet(self.address, "ERROR")
        context = _readout_context(device)
        try:
            value = device.get(context, AttributeDescriptor(obj.class_id, self.name, 2), None)
            if obj.class_id in (3, 4):
                scaler_unit = device.get(
                    context, AttributeDescriptor(obj.class_id, self.name, 3), None
                )
                return _register(self.address, value, scaler_unit)
        except (CosemError, ValueError):
            return DataSet(self.address, "ERROR")
        return DataSet(self.address, _plain(value))


def readout_items(spec: OpticalSpec, device: Callable[[], LogicalDevice]) -> list[ReadoutItem]:
    return [ReadoutItem(code, device) for code in spec.readout]


def optical_port(session: Session, device: Callable[[], LogicalDevice]) -> OpticalPort:
    """The session's optical port (the model must have an ``[optical]`` section)."""
    spec = session.model.optical
    if spec is None:
        raise ValueError(f"model {session.model.spec.name} has no [optical] section")
    items = readout_items(spec, device)
    by_address = {item.address: item for item in items}
    max_baud_char = next(c for c, rate in BAUD_RATES_MODE_C.items() if rate == spec.max_baud)
    config = OpticalPortConfig(
        manufacturer=spec.manufacturer,
        identification=spec.identification,
        max_baud_char=max_baud_char,
        mode_e=spec.mode_e,
    )

    def check_password(password: str) -> bool:
        outcome = session.meter.login(spec.password_association, password.encode("ascii"))
        session.commit()  # the failure count and a lockout survive a restart
        return outcome is LoginOutcome.ACCEPTED

    def read(address: str, parameter: str) -> DataSet:
        item = by_address.get(address)
        if item is None:
            raise CommandRefused()
        return item.read()

    return OpticalPort(
        config,
        readout=lambda: [item.read() for item in items],
        check_password=check_password,
        read=read,
    )


def _readout_context(device: LogicalDevice) -> AssociationContext:
    """The association the readout reads through: the lowest-numbered client's (the public
    client where the model has one); the model file chose the objects."""
    policy = device.policies[min(device.policies)]
    return AssociationContext(policy, policy.client_sap, 1, IMPLEMENTED_CONFORMANCE, 1024, 1024)


def _register(address: str, value: Data, scaler_unit: Data) -> DataSet:
    parts = scaler_unit.value
    if not isinstance(parts, tuple) or len(parts) != 2:
        return DataSet(address, _plain(value))
    scaler, unit_code = parts[0].value, parts[1].value
    if not isinstance(value.value, int) or not isinstance(scaler, int):
        return DataSet(address, _plain(value))
    unit = UNIT_SYMBOLS.get(unit_code, "") if isinstance(unit_code, int) else ""
    number = Decimal(value.value).scaleb(scaler)
    places = max(0, -scaler)
    if unit in _KILO_UNITS:
        number, unit, places = number.scaleb(-3), _KILO_UNITS[unit], 3
    text = f"{number:0{places + 7 if places else 6}.{places}f}"
    return DataSet(address, text, unit or None)


def _plain(value: Data) -> str:
    content = value.value
    if value.type in (DataType.OCTET_STRING, DataType.VISIBLE_STRING) and content is not None:
        raw = content if isinstance(content, bytes) else str(content).encode("latin-1")
        text = raw.decode("ascii", "replace")
        if text.isprintable() and not set(text) & set("()*/!"):
            return text
        return raw.hex().upper()
    return str(content)
