"""A head-end's image transfer (class 18) over any connected client: initiate, the missing
blocks only (a broken transfer resumes), verify and activate, polling image_transfer_status
while the meter answers temporary-failure (docs/firmware.md)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

from metertwin.codec.axdr import BitString, Data
from metertwin.codec.enums import ActionResult
from metertwin.codec.obis import Obis
from metertwin.dlms.client.errors import ActionFailedError

IMAGE_TRANSFER = Obis(0, 0, 44, 0, 0)
_VERIFYING, _VERIFIED, _VERIFY_FAILED = 2, 3, 4
_ACTIVATING, _ACTIVATED, _ACTIVATE_FAILED = 5, 6, 7


class ImageTransferClient(Protocol):
    def get(self, obis: Obis | str, class_id: int, attribute: int = 2) -> Data: ...

    def action(
        self, obis: Obis | str, class_id: int, method: int, parameters: Data | None = None
    ) -> Data | None: ...


class ImageTransferFailed(Exception):
    """The meter ended the transfer in a failed state (verification or activation)."""


def image_identifier(image: bytes) -> bytes:
    """The same image always gets the same identifier, so a new upload resumes an old one."""
    return b"mt-" + hashlib.sha256(image).hexdigest()[:16].encode()


def send_image(
    meter: ImageTransferClient,
    image: bytes,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> int:
    """Initiate (or resume) and send every block the meter lacks; the blocks sent. An image
    the meter has already verified (its image_to_activate_info names it: an upload cut off
    while the meter verified) is not sent again."""
    size = meter.get(IMAGE_TRANSFER, 18, 2).as_int()
    identifier = image_identifier(image)
    total = -(-len(image) // size)
    if meter.get(IMAGE_TRANSFER, 18, 6).as_int() == _VERIFIED and _to_activate(meter) == (
        len(image),
        identifier,
    ):
        progress(total, total)
        return 0
    parameters = Data.structure(
        [Data.octet_string(identifier), Data.double_long_unsigned(len(image))]
    )
    meter.action(IMAGE_TRANSFER, 18, 1, parameters)
    status = meter.get(IMAGE_TRANSFER, 18, 3).value
    have = status.bits if isinstance(status, BitString) and status.length == total else 0
    missing = [n for n in range(total) if not have >> (total - 1 - n) & 1]
    done = total - len(missing)
    progress(done, total)
    for number in missing:
        block = Data.structure(
            [
                Data.double_long_unsigned(number),
                Data.octet_string(image[number * size : (number + 1) * size]),
            ]
        )
        meter.action(IMAGE_TRANSFER, 18, 2, block)
        done += 1
        progress(done, total)
    return len(missing)


def _to_activate(meter: ImageTransferClient) -> tuple[int, bytes] | None:
    """Size and identification of the verified image (attribute 7), None when none."""
    try:
        entries = meter.get(IMAGE_TRANSFER, 18, 7).as_items()
        if len(entries) != 1:
            return None
        fields = entries[0].as_items()
        return fields[0].as_int(), fields[1].as_bytes()
    except (TypeError, ValueError, IndexError):  # not the class's structure: nothing to reuse
        return None


def wait_for(
    meter: ImageTransferClient, method: int, busy: int, ok: int, failed: int, poll_s: float
) -> None:
    """Invoke verify (3) or activate (4) until the status leaves ``busy``."""
    try:
        meter.action(IMAGE_TRANSFER, 18, method, Data.integer(0))
        return
    except ActionFailedError as refused:
        if refused.result is not ActionResult.TEMPORARY_FAILURE:
            raise
    while True:
        status = meter.get(IMAGE_TRANSFER, 18, 6).as_int()
        if status == ok:
            return
        if status == failed:
            raise ImageTransferFailed(f"image_transfer_status {status}")
        if status not in (busy, _VERIFYING, _VERIFIED):
            raise ImageTransferFailed(f"unexpected image_transfer_status {status}")
        time.sleep(poll_s)


def verify(meter: ImageTransferClient, poll_s: float = 0.2) -> None:
    wait_for(meter, 3, _VERIFYING, _VERIFIED, _VERIFY_FAILED, poll_s)


def activate(meter: ImageTransferClient, poll_s: float = 0.2) -> None:
    wait_for(meter, 4, _ACTIVATING, _ACTIVATED, _ACTIVATE_FAILED, poll_s)
