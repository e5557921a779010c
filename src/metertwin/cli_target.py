"""The meter a head-end command talks to, as the user names it (README, docs/hdlc.md
"Our client"):

- ``HOST:PORT``: DLMS/COSEM over the IEC 62056-47 TCP wrapper (``metertwin run --port``);
- ``hdlc://HOST:PORT?server=1&address=SERIAL``: HDLC over TCP (``metertwin run --hdlc-port``);
- ``serial:///dev/ttyUSB0?baud=9600&address=SERIAL``: HDLC over a serial line (or a pty);
- ``optical:///dev/ttyUSB0?baud=9600``: the meter's optical port: IEC 62056-21 mode E opened
  at 300 baud (``/?!``, ``ACK 2 Z 2``), then HDLC on the same line at the rate the meter
  offers (``baud=``: at most this rate).

``server`` is the server's upper HDLC address, the logical device (``--server`` when absent,
default 1). ``address`` is the meter's serial number (8 digits on a bus) or its communication
module's (10 digits beginning 50: seed 004's two forms, ``meter_serial_entered``), turned into
its physical address by the same IDIS rule the meter uses (1000 + the last four digits of the
meter serial); ``physical=N`` gives it directly.
With neither, the all-station address 0x3FFF is called, which a meter alone on its link takes
as its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.hdlc import HdlcCarrier, server_address
from metertwin.dlms.client.optical import open_mode_e
from metertwin.dlms.client.security import ClientSecurity
from metertwin.errors import UserError
from metertwin.protocols.hdlc_link import physical_address_for_serial
from metertwin.protocols.rs485_bus import meter_serial_entered

__all__ = ["ALL_STATIONS", "TARGET_HELP", "MeterTarget", "open_meter", "parse_target"]

ALL_STATIONS = 0x3FFF
"""The four-octet all-station physical address (Green Book 8.4.2.5)."""
DEFAULT_BAUD = 9600
_MAX_HDLC_ADDRESS = 0x3FFF
TARGET_HELP = (
    "the meter: HOST:PORT (TCP wrapper, e.g. 127.0.0.1:4059), "
    "hdlc://HOST:PORT?server=1&address=SERIAL (HDLC over TCP) or "
    "serial:///dev/ttyUSB0?baud=9600&address=SERIAL (HDLC on a serial line), "
    "optical:///dev/ttyUSB0 (the optical port: mode E, then HDLC); "
    "address= takes the meter's serial or its module's (10 digits, 50...); "
    "physical=N instead of address= gives the HDLC physical address"
)


@dataclass(frozen=True, slots=True)
class MeterTarget:
    """A parsed target; ``scheme`` is ``tcp`` (the wrapper), ``hdlc``, ``serial`` or
    ``optical`` (``baud`` there is the highest rate to choose, 0: the meter's offer)."""

    scheme: str
    host: str = ""
    port: int = 0
    device: str = ""
    baud: int = DEFAULT_BAUD
    logical: int | None = None
    physical: int = ALL_STATIONS


def parse_target(text: str) -> MeterTarget:
    """``HOST:PORT``, ``hdlc://...`` or ``serial://...`` -> a target; a UserError naming the
    mistake otherwise."""
    if "://" not in text:
        host, port = parse_endpoint(text)
        return MeterTarget("tcp", host, port)
    parts = urlsplit(text)
    query = _query(parts.query, text)
    logical = _address(query.pop("server", None), "server", text)
    physical = _physical(query, text)
    if parts.scheme == "hdlc":
        _no_more(query, text)
        try:
            hostname, number = parts.hostname, parts.port
        except ValueError:  # a port that is not a number 0..65535
            hostname, number = None, None
        if not hostname or not number:
            raise UserError(f"expected hdlc://HOST:PORT with a port 1..65535, got {text!r}")
        return MeterTarget("hdlc", hostname, number, logical=logical, physical=physical)
    if parts.scheme in ("serial", "optical"):
        default = str(DEFAULT_BAUD) if parts.scheme == "serial" else None
        baud_text = query.pop("baud", default)
        _no_more(query, text)
        if baud_text is not None and (
            not baud_text.isdigit() or not 50 <= int(baud_text) <= 4_000_000
        ):
            raise UserError(f"baud: expected a rate such as 9600, got {baud_text!r} in {text!r}")
        if parts.netloc or not parts.path:
            raise UserError(f"expected {parts.scheme}:///dev/DEVICE (three slashes), got {text!r}")
        return MeterTarget(
            parts.scheme,
            device=parts.path,
            baud=0 if baud_text is None else int(baud_text),
            logical=logical,
            physical=physical,
        )
    raise UserError(
        f"unknown target scheme {parts.scheme!r} in {text!r} (hdlc://, serial:// or optical://)"
    )


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:4059`` for IPv6) -> (host, port)."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"expected HOST:PORT with a port 1..65535, got {text!r}")
    return host, int(port)


def _query(query: str, text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise UserError(f"not a query of NAME=VALUE pairs: {query!r} in {text!r}") from None
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in found:
            raise UserError(f"{name}= given twice in {text!r}")
        found[name] = value
    return found


def _address(value: str | None, name: str, text: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value, 0)
    except ValueError:
        number = -1
    if not 0 <= number <= _MAX_HDLC_ADDRESS:
        raise UserError(f"{name}: expected an HDLC address 0..16383, got {value!r} in {text!r}")
    return number


def _physical(query: dict[str, str], text: str) -> int:
    serial = query.pop("address", None)
    physical = _address(query.pop("physical", None), "physical", text)
    if serial is not None and physical is not None:
        raise UserError(f"give address= (the serial) or physical=, not both, in {text!r}")
    if serial is not None:
        if not serial:
            raise UserError(f"address: expected the meter's serial number in {text!r}")
        return physical_address_for_serial(meter_serial_entered(serial))
    return ALL_STATIONS if physical is None else physical


def _no_more(query: dict[str, str], text: str) -> None:
    if query:
        names = ", ".join(f"{name}=" for name in query)
        raise UserError(f"unknown {names} in {text!r} (server=, address=, physical=, baud=)")


def open_meter(
    target: MeterTarget,
    timeout: float,
    client_sap: int,
    server_sap: int,
    password: bytes | str | None = None,
    security: ClientSecurity | None = None,
) -> DlmsClient:
    """An association with the meter at ``target``; ``server_sap`` is the wrapper's wPort or,
    over HDLC, the logical device when the URL names no ``server=``."""
    client = DlmsClient(timeout=timeout)
    if target.scheme == "tcp":
        return client.connect(
            target.host, target.port, client_sap, server_sap, password=password, security=security
        )
    logical = server_sap if target.logical is None else target.logical
    if logical > _MAX_HDLC_ADDRESS:
        raise UserError(f"--server {server_sap} is no HDLC logical device address (0..16383)")
    if client_sap > 0x7F:
        raise UserError(f"--client {client_sap} does not fit an HDLC client address (0..127)")
    server = server_address(logical, target.physical)
    if target.scheme == "hdlc":
        carrier = HdlcCarrier.over_tcp(target.host, target.port, server, client_sap, timeout)
    elif target.scheme == "optical":
        line = open_mode_e(target.device, target.baud or None, timeout)
        carrier = HdlcCarrier(line, server, client_sap, timeout)
    else:
        carrier = HdlcCarrier.over_serial(target.device, target.baud, server, client_sap, timeout)
    return client.open(carrier, password, security=security)
