"""The meter's IEC 62056-21 optical port: the model's ``[optical]`` section over a running meter.

:func:`optical_port` builds the sans-IO :class:`~metertwin.protocols.iec62056_21_meter.OpticalPort`
for a session: its identification from the model, the mode C readout list read from the
logical device at the instant it is asked (the same objects, values and scalers a DLMS GET
sees: one source of truth), the P1 password checked as the secret of the model's
``password_association`` (an LLS association), so its failure count and lockout are the
meter's (seed 002), and after it R1 and W1 with that association's rights: a write it may not
do over DLMS is refused here too.

How an item reads (docs/optical.md, "Readout list"):

- the address is ``C.D.E`` for an electricity code ``1.0.C.D.E.255`` (``1.8.0``), else
  ``A-B:C.D.E`` (``0-0:96.1.0``), as IEC 62056-61 shortens them;
- a register (classes 3, 4) reads ``value*unit`` scaled by its scaler_unit; energy in
  watt-hours reads in kilo-units with three decimals (``001234.567*kWh``), as meter
  readouts print it;
- a data object (class 1) reads its value: text for an octet or visible string, else the
  number;
- the clock (``0.0.1.0.0.255``) reads as the two classic items ``0.9.1(hh:mm:ss)``, the local
  time, and ``0.9.2(YY-MM-DD)``, the local date.

W1 ``address(value)`` SETs attribute 2 of the object, the value text parsed by the type the
attribute has now (see :func:`parse_value`); ``0.9.1`` and ``0.9.2`` SET the clock's time or
date and keep the other half, as a DLMS SET of the clock does (its clock-adjusted events).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal

from metertwin.codec.axdr import INTEGER_TYPES, Data, DataType
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.obis import Obis
from metertwin.codec.units import UNIT_SYMBOLS
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.access import AssociationContext, AssociationPolicy
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError, undefined
from metertwin.dlms.capabilities import IMPLEMENTED_CONFORMANCE
from metertwin.meter.security import LoginOutcome
from metertwin.models.loader import OpticalSpec
from metertwin.protocols.iec62056_21 import BAUD_RATES_MODE_C, DataSet
from metertwin.protocols.iec62056_21_meter import CommandRefused, OpticalPort, OpticalPortConfig
from metertwin.runtime.session import Session
from metertwin.storage.sqlite import CommitError

__all__ = [
    "CLOCK",
    "DATE_ADDRESS",
    "TIME_ADDRESS",
    "ReadoutItem",
    "optical_port",
    "parse_address",
    "parse_value",
    "readout_address",
    "readout_items",
]

CLOCK = Obis(0, 0, 1, 0, 0)
TIME_ADDRESS = "0.9.1"  # the local time, hh:mm:ss (IEC 62056-61: 1-0:0.9.1)
DATE_ADDRESS = "0.9.2"  # the local date, YY-MM-DD (1-0:0.9.2)
_CLOCK_ATTRIBUTE = AttributeDescriptor(8, CLOCK, 2)
_KILO_UNITS = {"Wh": "kWh", "varh": "kvarh", "VAh": "kVAh"}
_ADDRESS = re.compile(r"(?:(\d{1,3})-(\d{1,3}):)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_TRUE, _FALSE = ("1", "true"), ("0", "false")

Contexts = Callable[[LogicalDevice], AssociationContext]


def readout_address(code: str) -> str:
    """The readout's address of an OBIS code (module docstring)."""
    a, b, c, d, e, f = Obis.parse(code).octets
    tail = "" if f == 255 else f".{f}"
    if a == 1 and b == 0 and f == 255:
        return f"{c}.{d}.{e}"
    return f"{a}-{b}:{c}.{d}.{e}{tail}"


def parse_address(address: str) -> Obis | None:
    """The OBIS code an address names: ``C.D.E`` is ``1.0.C.D.E.255``, ``A-B:C.D.E[.F]`` is
    itself (F 255 when absent); None for anything else."""
    match = _ADDRESS.fullmatch(address)
    if match is None:
        return None
    a, b, c, d, e, f = (None if g is None else int(g) for g in match.groups())
    groups = (1 if a is None else a, 0 if b is None else b, c, d, e, 255 if f is None else f)
    if any(g is None or g > 255 for g in groups):
        return None
    return Obis(*(int(g or 0) for g in groups))


class ReadoutItem:
    """One item of the readout (or an R1) over a logical device, read with the rights of
    the association ``context`` gives."""

    def __init__(
        self,
        name: Obis,
        address: str,
        device: Callable[[], LogicalDevice],
        context: Contexts | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self._device = device
        self._context = context or _readout_context

    def read(self) -> DataSet:
        """The item now, or ``(ERROR)`` as its value when the object cannot be read."""
        device = self._device()
        try:
            return self._read(device, self._context(device))
        except (CosemError, ValueError):
            return DataSet(self.address, "ERROR")

    def _read(self, device: LogicalDevice, context: AssociationContext) -> DataSet:
        obj = device.objects.get(self.name)
        if obj is None:
            raise undefined(f"no object {self.name}")
        value = device.get(context, AttributeDescriptor(obj.class_id, self.name, 2), None)
        if obj.class_id in (3, 4):
            scaler_unit = device.get(context, AttributeDescriptor(obj.class_id, self.name, 3), None)
            return _register(self.address, value, scaler_unit)
        return DataSet(self.address, _plain(value))


class ClockItem(ReadoutItem):
    """``0.9.1(hh:mm:ss)`` or ``0.9.2(YY-MM-DD)``: one half of the clock's local date-time."""

    def _read(self, device: LogicalDevice, context: AssociationContext) -> DataSet:
        stamp = _clock_now(device, context)
        if self.address == TIME_ADDRESS:
            text = f"{stamp.hour:02}:{stamp.minute:02}:{stamp.second:02}"
        else:
            text = f"{(stamp.year or 0) % 100:02}-{stamp.month:02}-{stamp.day:02}"
        return DataSet(self.address, text)


def readout_items(spec: OpticalSpec, device: Callable[[], LogicalDevice]) -> list[ReadoutItem]:
    """The readout list: each code an item, the clock two (its time, then its date)."""
    items: list[ReadoutItem] = []
    for code in spec.readout:
        name = Obis.parse(code)
        if name == CLOCK:
            items += [
                ClockItem(CLOCK, TIME_ADDRESS, device),
                ClockItem(CLOCK, DATE_ADDRESS, device),
            ]
        else:
            items.append(ReadoutItem(name, readout_address(code), device))
    return items


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

    def password_context(current: LogicalDevice) -> AssociationContext:
        """The P1 association, as a DLMS client that gave its secret would hold it."""
        policy = _policy_named(current, spec.password_association)
        return AssociationContext(
            policy, policy.client_sap, 1, IMPLEMENTED_CONFORMANCE, 1024, 1024, authenticated=True
        )

    def check_password(password: str) -> bool:
        secret = password.encode("ascii")
        outcome = session.meter.login(spec.password_association, secret)
        if not session.read_only:
            try:
                session.commit()  # the failure count and a lockout survive a restart
            except CommitError:  # logged; judged again on the last commit, kept in RAM
                outcome = session.meter.login(spec.password_association, secret)
        return outcome is LoginOutcome.ACCEPTED

    def read(address: str, parameter: str) -> DataSet:
        """An item of the readout list as the readout reads it; another object with the
        rights of the P1 association."""
        item = by_address.get(address)
        if item is not None:
            return item.read()
        if address in (TIME_ADDRESS, DATE_ADDRESS):
            return ClockItem(CLOCK, address, device, password_context).read()
        name = parse_address(address)
        if name is None:
            raise CommandRefused()
        return ReadoutItem(name, address, device, password_context).read()

    def write(address: str, text: str) -> None:
        """W1: a SET with the rights of the P1 association, committed (by the device, as
        every SET is) before the port answers ACK; any refusal is ``(ERROR)``."""
        if session.read_only:
            raise CommandRefused()  # acknowledge nothing the memory cannot keep
        current = device()
        try:
            context = password_context(current)
            if address in (TIME_ADDRESS, DATE_ADDRESS):
                _write_clock(current, context, address == TIME_ADDRESS, text)
                return
            name = parse_address(address)
            if name is None:
                raise CommandRefused()
            _write_value(current, context, name, text)
        except (CosemError, ValueError, KeyError, CommitError):
            raise CommandRefused() from None

    return OpticalPort(
        config,
        readout=lambda: [item.read() for item in items],
        check_password=check_password,
        read=read,
        write=write,
    )


def _policy_named(device: LogicalDevice, association: str) -> AssociationPolicy:
    for policy in device.policies.values():
        if policy.name == association:
            return policy
    raise KeyError(f"no association {association}")


def _readout_context(device: LogicalDevice) -> AssociationContext:
    """The association the readout reads through: the lowest-numbered client's (the public
    client where the model has one); the model file chose the objects."""
    policy = device.policies[min(device.policies)]
    return AssociationContext(policy, policy.client_sap, 1, IMPLEMENTED_CONFORMANCE, 1024, 1024)


# -- W1 -------------------------------------------------------------------------------------


def _write_value(device: LogicalDevice, context: AssociationContext, name: Obis, text: str) -> None:
    """SET attribute 2 of ``name`` to ``text`` read as the type it holds now (a
    write-only attribute, whose type cannot be read, is refused)."""
    obj = device.objects.get(name)
    if obj is None:
        raise undefined(f"no object {name}")
    attribute = AttributeDescriptor(obj.class_id, name, 2)
    present = device.get(context, attribute, None)
    scaler_unit = None
    if obj.class_id in (3, 4):
        scaler_unit = device.get(context, AttributeDescriptor(obj.class_id, name, 3), None)
    device.set(context, attribute, None, parse_value(text, present, scaler_unit))


def parse_value(text: str, present: Data, scaler_unit: Data | None = None) -> Data:
    """A W1 value ``text`` (``number[*unit]``) as ``present``'s type, or ValueError.

    - an integer (or enum): a whole number; a register's (with ``scaler_unit``) in the
      readout's units, ``*unit`` the unit the readout prints (``12.345*kWh``), converted
      back through the scaler exactly: a value between two steps of the register is refused;
    - a boolean: ``1``/``0`` or ``true``/``false``;
    - an octet string: its text, or hex where the readout prints it as hex; a visible
      string: its text.
    """
    body, star, unit = text.partition("*")
    given_unit = unit if star else None
    kind = present.type
    if kind in INTEGER_TYPES:
        scale = _readout_scale(scaler_unit) if scaler_unit is not None else None
        exponent, expected_unit = (0, None) if scale is None else scale[:2]
        if given_unit != expected_unit:
            raise ValueError(f"unit {given_unit!r}, the readout prints {expected_unit!r}")
        if _NUMBER.fullmatch(body) is None:
            raise ValueError(f"not a number: {body!r}")
        raw = Decimal(body).scaleb(-exponent)
        if raw != raw.to_integral_value():
            raise ValueError(f"{body} is no whole step of the register")
        return Data(kind, int(raw))
    if given_unit is not None:
        raise ValueError("a unit for a value that has none")
    if kind is DataType.BOOLEAN:
        word = body.lower()
        if word not in _TRUE + _FALSE:
            raise ValueError(f"not a boolean: {body!r}")
        return Data.boolean(word in _TRUE)
    if kind is DataType.VISIBLE_STRING:
        return Data.visible_string(body)
    if kind is DataType.OCTET_STRING:
        as_text = _plain(present) == present.as_bytes().decode("ascii", "replace")
        return Data.octet_string(body.encode("ascii") if as_text else bytes.fromhex(body))
    raise ValueError(f"W1 does not write a {kind.name}")


def _clock_now(device: LogicalDevice, context: AssociationContext) -> CosemDateTime:
    stamp = CosemDateTime.from_bytes(device.get(context, _CLOCK_ATTRIBUTE, None).as_bytes())
    if None in (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second):
        raise ValueError("the clock reads no complete date-time")
    return stamp


def _write_clock(
    device: LogicalDevice, context: AssociationContext, time_half: bool, text: str
) -> None:
    """SET the clock's local time (``hh:mm:ss`` or ``hhmmss``) or date (``YY-MM-DD`` or
    ``YYMMDD``, the years 2000-2099), the other half as it reads now: the clock's own SET,
    its clock-adjusted events logged as for a DLMS SET."""
    first, second, third = _three_pairs(text, ":" if time_half else "-")
    stamp = _clock_now(device, context)
    if time_half:
        stamp = dataclasses.replace(stamp, hour=first, minute=second, second=third, hundredths=0)
    else:
        stamp = dataclasses.replace(stamp, year=2000 + first, month=second, day=third)
    # local wall time: no deviation, so the meter reads it in its own time zone and DST
    stamp = dataclasses.replace(stamp, weekday=None, deviation=None, clock_status=None)
    device.set(context, _CLOCK_ATTRIBUTE, None, Data.octet_string(stamp.to_bytes()))


def _three_pairs(text: str, separator: str) -> tuple[int, int, int]:
    match = re.fullmatch(rf"(\d\d){separator}(\d\d){separator}(\d\d)", text) or re.fullmatch(
        r"(\d\d)(\d\d)(\d\d)", text
    )
    if match is None:
        raise ValueError(f"not {separator.join(['nn'] * 3)}: {text!r}")
    first, second, third = (int(g) for g in match.groups())
    return first, second, third


# -- how a value reads ----------------------------------------------------------------------


def _readout_scale(scaler_unit: Data) -> tuple[int, str | None, int] | None:
    """How a register's raw value reads: the power of ten to apply, the unit printed (None:
    none) and the decimal places; None when ``scaler_unit`` is no scaler and unit."""
    parts = scaler_unit.value
    if not isinstance(parts, tuple) or len(parts) != 2:
        return None
    scaler, unit_code = parts[0].value, parts[1].value
    if not isinstance(scaler, int):
        return None
    unit = UNIT_SYMBOLS.get(unit_code, "") if isinstance(unit_code, int) else ""
    if unit in _KILO_UNITS:
        return scaler - 3, _KILO_UNITS[unit], 3
    return scaler, unit or None, max(0, -scaler)


def _register(address: str, value: Data, scaler_unit: Data) -> DataSet:
    scale = _readout_scale(scaler_unit)
    if scale is None or not isinstance(value.value, int):
        return DataSet(address, _plain(value))
    exponent, unit, places = scale
    number = Decimal(value.value).scaleb(exponent)
    text = f"{number:0{places + 7 if places else 6}.{places}f}"
    return DataSet(address, text, unit)


def _plain(value: Data) -> str:
    content = value.value
    if value.type in (DataType.OCTET_STRING, DataType.VISIBLE_STRING) and content is not None:
        raw = content if isinstance(content, bytes) else str(content).encode("latin-1")
        text = raw.decode("ascii", "replace")
        if text.isprintable() and not set(text) & set("()*/!"):
            return text
        return raw.hex().upper()
    return str(content)
