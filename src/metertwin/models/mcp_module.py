"""The MeterCom PRO module as its SMS configuration sees it (seed 004 §4.2; docs/sms.md).

An SMS changes the very settings DLMS shows, in the same parameter memory the binder serves
(`binder._parameters`: key ``OBIS/attribute``, the A-XDR encoding of the value):

- APN: GPRS modem setup `0.0.25.4.0.255` (class 45) apn;
- DUSR, DPWD: PPP setup `0.0.25.3.0.255` (class 44) ppp_authentication, PAP (null, no
  authentication, when both are empty);
- IP: TCP client connection configuration `0.0.129.0.3.255` (class 8195) server_address;
- PORT: its server_port and TCP setup `0.0.25.0.0.255` (class 41) tcp_udp_port;
- RINT: its call_interval (hours x 3600 s; 0 disables);
- NPWD: the meter reader association's LLS secret (the DLMS password).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping

from metertwin.codec.axdr import Data, DataType, decode, encode
from metertwin.codec.obis import Obis
from metertwin.meter.core import Meter
from metertwin.models import objects_catalog as catalog
from metertwin.models.loader import DeviceModel
from metertwin.protocols.mcp_sms import ModuleInfo
from metertwin.protocols.rs485_bus import module_serial_for

SMS_FUNCTION = "sms"
TCP_SETUP = Obis(0, 0, 25, 0, 0)
IPV4_SETUP = Obis(0, 0, 25, 1, 0)
PPP_SETUP = Obis(0, 0, 25, 3, 0)
GPRS_MODEM_SETUP = Obis(0, 0, 25, 4, 0)
GSM_DIAGNOSTIC = Obis(0, 0, 25, 6, 0)
CLIENT_CONNECTION = Obis(0, 0, 129, 0, 3)  # class 8195
_CLASS = {
    TCP_SETUP: 41,
    IPV4_SETUP: 42,
    PPP_SETUP: 44,
    GPRS_MODEM_SETUP: 45,
    GSM_DIAGNOSTIC: 47,
    CLIENT_CONNECTION: 8195,
}
_UNKNOWN_SIGNAL = 99  # 3GPP TS 27.007 +CSQ: not known or not detectable
_GPRS_TECHNOLOGIES = (1, 2)  # class 47 ps_status: GPRS, EDGE (3 UMTS, 4 HSDPA...)


def reader_association(model: DeviceModel) -> str:
    """The meter reader's association: its LLS secret is the SMS password (seed 004)."""
    for association in model.dlms.associations:
        if association.rights == "reader" and association.mechanism == "lls":
            return association.name
    raise ValueError(f"model {model.spec.name} has no LLS meter reader association")


def _text(data: Data) -> str:
    """An octet- or visible-string as the SMS shows it (empty for anything else)."""
    if isinstance(data.value, str):
        return data.value
    if isinstance(data.value, bytes):
        return data.value.decode("ascii", "replace")
    return ""


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g}"


class McpModule:
    """`protocols.mcp_sms.ModuleAccess` over a meter: its settings, password and status;
    ``state`` tells the DLMS connection state (LISTEN, GSM, OPTO or 485)."""

    def __init__(
        self, meter: Meter, model: DeviceModel, state: Callable[[], str] = lambda: "LISTEN"
    ) -> None:
        self.meter = meter
        self.model = model
        self.reader = reader_association(model)
        self._state = state
        self._defaults: dict[Obis, dict[int, Data]] = {}

    def _get(self, obis: Obis, index: int) -> Data:
        raw = self.meter.parameters.get(f"{obis}/{index}")
        if raw is not None:
            return decode(raw)
        defaults = self._defaults.get(obis)
        if defaults is None:
            defaults = catalog.parameter_defaults(obis, _CLASS[obis], self.model)
            self._defaults[obis] = defaults
        return defaults[index]

    def _put(self, obis: Obis, index: int, value: Data) -> None:
        self.meter.parameters[f"{obis}/{index}"] = encode(value)

    # -- ModuleAccess --------------------------------------------------------------------

    def password_matches(self, password: str) -> bool:
        secret = self.meter.security.secrets.get(self.reader)
        return password.isascii() and secret == password.encode("ascii")

    def configure(self, settings: Mapping[str, str]) -> None:
        if "APN" in settings:
            self._put(GPRS_MODEM_SETUP, 2, Data.octet_string(settings["APN"].encode("ascii")))
        if "DUSR" in settings or "DPWD" in settings:
            now = self.settings()
            user = settings.get("DUSR", now["DUSR"]).encode("ascii")
            password = settings.get("DPWD", now["DPWD"]).encode("ascii")
            pap = Data.structure([Data.octet_string(user), Data.octet_string(password)])
            self._put(PPP_SETUP, 5, pap if user or password else Data.null())
        if "IP" in settings:
            self._put(CLIENT_CONNECTION, 2, Data.visible_string(settings["IP"]))
        if "PORT" in settings:
            port = Data.long_unsigned(int(settings["PORT"]))
            self._put(CLIENT_CONNECTION, 3, port)
            self._put(TCP_SETUP, 2, port)
        if "RINT" in settings:
            self._put(CLIENT_CONNECTION, 4, Data.double_long_unsigned(int(settings["RINT"]) * 3600))
        if "NPWD" in settings:
            self.meter.security.set_secret(self.reader, settings["NPWD"].encode("ascii"))

    def settings(self) -> dict[str, str]:
        pap = self._get(PPP_SETUP, 5)
        user, password = (
            (_text(pap.as_items()[0]), _text(pap.as_items()[1]))
            if pap.type is DataType.STRUCTURE and len(pap.as_items()) == 2
            else ("", "")
        )
        return {
            "APN": _text(self._get(GPRS_MODEM_SETUP, 2)),
            "DUSR": user,
            "DPWD": password,
            "IP": _text(self._get(CLIENT_CONNECTION, 2)),
            "PORT": str(self._get(CLIENT_CONNECTION, 3).as_int()),
            "RINT": _hours(self._get(CLIENT_CONNECTION, 4).as_int()),
        }

    def info(self) -> ModuleInfo:
        module = module_serial_for(self.meter.serial_number)
        cell = self._get(GSM_DIAGNOSTIC, 6).as_items()
        quality = cell[2].as_int()
        signal = None if quality == _UNKNOWN_SIGNAL else -113 + 2 * min(quality, 31)
        ps_status = self._get(GSM_DIAGNOSTIC, 5).as_int()
        return ModuleInfo(
            meter_id=module[2:],
            serial=f"{module[:2]}-{module[2:6]}-{module[6:]}",
            signal_dbm=signal,
            ip_address=str(ipaddress.IPv4Address(self._get(IPV4_SETUP, 3).as_int())),
            state=self._state(),
            technology="GPRS" if ps_status in _GPRS_TECHNOLOGIES else "UMTS",
        )
