"""gurux's client (PyPI ``gurux-dlms``, test-only) transfers an image with the helpers of its
``GXDLMSImageTransfer`` object (issue 15, "Interop"; docs/firmware.md).

The meter's 1024-octet APDU makes each full 1024-octet block's ACTION travel as two parameter
blocks (``C3 04`` with-first-pblock, ``C7 04`` next-pblock, ``C3 06`` last pblock, then
``C7 01``): gurux builds them itself, from the block size it read from the meter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from gurux_dlms import GXDLMSException
from gurux_dlms.objects import GXDLMSData, GXDLMSImageTransfer
from tests.interop.conftest import ServedMeter
from tests.interop.gurux_client import GuruxSession, associated

from metertwin.meter.firmware import ACTIVATE_MS, VERIFY_MS
from metertwin.meter.firmware_image import build_image

MANAGEMENT, MANAGEMENT_SECRET = 0x01, b"00000002"  # pmm1220's management (docs/dlms.md)
TEMPORARY_FAILURE = 2  # Green Book action-result temporary-failure


def _status(gurux: GuruxSession, transfer: GXDLMSImageTransfer) -> int:
    """image_transfer_status (class 18 attribute 6)."""
    return int(gurux.read(transfer, 6))


def test_gurux_transfers_verifies_and_activates_a_multi_block_image(
    serve: Callable[..., ServedMeter],
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())  # a throwaway manufacturer key
    image = build_image("pmm1220", "2.6.0", bytes(range(256)) * 10, key)
    assert 2 * 1024 < len(image) < 3 * 1024  # two full blocks and a short last one
    served = serve("pmm1220")
    firmware = served.meter.firmware
    served.call(lambda: setattr(firmware, "public_key", key.public_key()))

    def wait(ms: int) -> None:
        served.call(lambda: served.meter.advance(served.meter.now_ms + ms))

    transfer = GXDLMSImageTransfer()  # 0.0.44.0.0.255
    version = GXDLMSData("1.0.0.2.0.255")
    with associated(served.port, MANAGEMENT, MANAGEMENT_SECRET) as gurux:
        assert gurux.read(transfer, 2) == 1024  # image_block_size, which gurux's helper uses
        gurux.act(transfer.imageTransferInitiate(gurux.client, "fw-gurux", len(image)))
        assert _status(gurux, transfer) == 1  # transfer initiated
        count = [0]
        for block in transfer.imageBlockTransfer(gurux.client, image, count):
            gurux.act(block)
        assert count == [3]
        assert gurux.read(transfer, 4) == 3  # image_first_not_transferred_block_number
        with pytest.raises(GXDLMSException) as busy:
            gurux.act(transfer.imageVerify(gurux.client))
        assert busy.value.errorCode == TEMPORARY_FAILURE
        assert _status(gurux, transfer) == 2  # verification initiated
        wait(VERIFY_MS)
        assert _status(gurux, transfer) == 3  # verification successful
        gurux.act(transfer.imageVerify(gurux.client))  # verified: success now
        with pytest.raises(GXDLMSException) as busy:
            gurux.act(transfer.imageActivate(gurux.client))
        assert busy.value.errorCode == TEMPORARY_FAILURE
        wait(ACTIVATE_MS)
        assert _status(gurux, transfer) == 6  # activation successful
        assert bytes(gurux.read(version, 2)) == b"2.6.0"
    assert served.meter.firmware.active.version == "2.6.0"
