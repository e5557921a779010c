"""The MeterCom PRO's firmware objects (seed 004 §5.2; docs/firmware.md).

- ``0.0.44.0.0.255`` (class 1) "URL for firmware upgrade": a SET of an ``http://`` URL on a
  host of the config's ``download_hosts`` starts the download (`meter.firmware_download`);
  any other URL is refused with other-reason, and nothing changes;
- ``0.0.44.0.128.255`` (class 1, metertwin's): the download's status;
- ``0.0.96.1.5.255`` "Module firmware version" and ``1.1.0.2.0.255`` "Module firmware ID":
  the active image's version.
"""

from __future__ import annotations

import logging

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import CosemError, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject
from metertwin.meter.core import Meter
from metertwin.meter.firmware import FirmwareBusy
from metertwin.protocols.http_download import HttpUrlError, allowed_url

log = logging.getLogger(__name__)

DOWNLOAD_URL = Obis(0, 0, 44, 0, 0)
DOWNLOAD_STATUS = Obis(0, 0, 44, 0, 128)
MODULE_FIRMWARE_VERSION = Obis(0, 0, 96, 1, 5)
MODULE_FIRMWARE_ID = Obis(1, 1, 0, 2, 0)
MAX_URL = 255


def download_object(obis: Obis, meter: Meter) -> CosemObject | None:
    """The class 1 object at ``obis`` when it is one of these, else None."""
    firmware = meter.firmware
    if obis in (MODULE_FIRMWARE_VERSION, MODULE_FIRMWARE_ID):
        value = Binding(get=lambda _r: Data.octet_string(firmware.active.version.encode()))
    elif obis == DOWNLOAD_URL:
        value = Binding(
            get=lambda _r: Data.octet_string(firmware.download.url.encode()),
            set=lambda _r, data: _set_url(meter, data),
        )
    elif obis == DOWNLOAD_STATUS:
        value = Binding(get=lambda _r: _status(meter))
    else:
        return None
    return CosemObject(interface_class(1), obis, {2: value})


def _set_url(meter: Meter, data: Data) -> None:
    if data.type not in (DataType.OCTET_STRING, DataType.VISIBLE_STRING):
        raise type_unmatched("the URL is an octet-string or a visible-string")
    raw = data.value
    text = raw if isinstance(raw, str) else data.as_bytes().decode("ascii", "replace")
    try:
        if len(text) > MAX_URL:
            raise HttpUrlError(f"a URL of {len(text)} characters (at most {MAX_URL})")
        allowed_url(text, meter.firmware.download_hosts)
    except HttpUrlError as problem:
        log.warning("firmware URL refused: %s", problem)
        raise CosemError(DataAccessResult.OTHER_REASON, str(problem)) from None
    try:
        meter.firmware.start_download(text, meter.now_ms)
    except FirmwareBusy as busy:
        raise CosemError(DataAccessResult.TEMPORARY_FAILURE, str(busy)) from None
    log.info("firmware download from %s requested", text)


def _status(meter: Meter) -> Data:
    """{download state, image_transfer_status (class 18's 0-7), bytes received, image size
    (0: not known yet), failed attempts in a row, last failure}."""
    download = meter.firmware.download
    return Data.structure(
        [
            Data.enum(int(download.state)),
            Data.enum(int(meter.firmware.status)),
            Data.double_long_unsigned(download.received),
            Data.double_long_unsigned(download.size),
            Data.unsigned(min(download.attempts, 255)),
            Data.visible_string(_printable(download.last_failure)),
        ]
    )


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:MAX_URL]
