"""Class 18 Image transfer on 0.0.44.0.0 through the logical device (issue 15, items 1-3 and
the fault list): blocks, verify and activate with their temporary-failure answers, two slots,
self-check and rollback, restarts at every step; an unverified image never runs."""

from __future__ import annotations

import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tests.helpers import management_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import ActionResult, DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.meter.firmware import (
    ACTIVATE_MS,
    BLOCK_SIZE,
    FACTORY_VERSION,
    VERIFY_MS,
    TransferStatus,
)
from metertwin.meter.firmware_image import build_image
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device

T0 = utc_ms(2026, 6, 1, 8)
IMAGE = Obis(0, 0, 44, 0, 0)
KEY = ec.generate_private_key(ec.SECP256R1())  # a test key, made fresh for each run
FIRMWARE_VERSION = Obis(1, 0, 0, 2, 0)
FIRMWARE_SIGNATURE = Obis(1, 0, 0, 2, 8)


class Head:
    """A head-end's view of one meter: its logical device and management association."""

    def __init__(self, meter: Meter, device: LogicalDevice, ctx: AssociationContext) -> None:
        self.meter, self.device, self.ctx = meter, device, ctx

    def get(self, obis: Obis, attribute: int, class_id: int = 18) -> Data:
        return self.device.get(self.ctx, AttributeDescriptor(class_id, obis, attribute), None)

    def act(self, method: int, parameters: Data) -> ActionResult:
        try:
            self.device.action(self.ctx, MethodDescriptor(18, IMAGE, method), parameters)
        except CosemError as refused:
            return refused.action_result
        return ActionResult.SUCCESS

    def status(self) -> TransferStatus:
        return TransferStatus(self.get(IMAGE, 6).as_int())

    def initiate(self, image: bytes, identifier: bytes = b"fw-2") -> ActionResult:
        return self.act(
            1,
            Data.structure([Data.octet_string(identifier), Data.double_long_unsigned(len(image))]),
        )

    def block(self, image: bytes, number: int, value: bytes | None = None) -> ActionResult:
        chunk = image[number * BLOCK_SIZE : (number + 1) * BLOCK_SIZE] if value is None else value
        return self.act(
            2, Data.structure([Data.double_long_unsigned(number), Data.octet_string(chunk)])
        )

    def send_all(self, image: bytes) -> None:
        assert self.initiate(image) is ActionResult.SUCCESS
        for number in range(-(-len(image) // BLOCK_SIZE)):
            assert self.block(image, number) is ActionResult.SUCCESS

    def wait(self, ms: int) -> None:
        self.meter.advance(self.meter.now_ms + ms)

    def version(self) -> bytes:
        return self.get(FIRMWARE_VERSION, 2, 1).as_bytes()


def _head(meter: Meter | None = None) -> Head:
    if meter is None:
        meter, device, ctx = management_device("pmm1220", T0)
    else:
        _, _, ctx = management_device("pmm1220", T0)
        device = build_logical_device(load_model("pmm1220"), meter, lambda: None)
    meter.firmware.public_key = KEY.public_key()
    return Head(meter, device, ctx)


def _restarted(head: Head) -> Head:
    """The process killed and started again from the last commit: the JSON state and the
    block table (each commit writes the blocks drained since the last one)."""
    state = json.loads(json.dumps(head.meter.to_state()))
    blocks = head.meter.firmware.blocks  # what the drained commits would have stored
    meter = Meter.from_state(load_model("pmm1220").spec, state)
    meter.firmware.restore_blocks(dict(blocks))
    return _head(meter)


def _image(version: str = "1.2.0", size: int = 5 * BLOCK_SIZE + 100, **options: object) -> bytes:
    payload = os.urandom(size)
    return build_image("pmm1220", version, payload, KEY, **options)  # type: ignore[arg-type]


def _firmware_log(meter: Meter) -> list[EventCode]:
    return [EventCode(code) for code in meter.event_counts for _ in range(meter.event_counts[code])]


def test_an_image_is_transferred_verified_and_activated() -> None:
    head = _head()
    assert head.version() == FACTORY_VERSION.encode()
    image = _image()
    head.send_all(image)
    assert head.get(IMAGE, 4).as_int() == -(-len(image) // BLOCK_SIZE)
    assert head.act(3, Data.integer(0)) is ActionResult.TEMPORARY_FAILURE
    assert head.status() is TransferStatus.VERIFICATION_INITIATED
    assert head.act(3, Data.integer(0)) is ActionResult.TEMPORARY_FAILURE  # still busy
    head.wait(VERIFY_MS)
    assert head.status() is TransferStatus.VERIFICATION_SUCCESSFUL
    assert head.act(3, Data.integer(0)) is ActionResult.SUCCESS
    assert head.meter.firmware.blocks == {}  # let go once verified
    assert head.meter.firmware.drain_block_changes().dropped  # and from the memory
    blocks = -(-len(image) // BLOCK_SIZE)
    assert head.get(IMAGE, 3).value.bits == (1 << blocks) - 1
    assert head.get(IMAGE, 4).as_int() == blocks
    info = head.get(IMAGE, 7).as_items()[0].as_items()
    assert info[0].as_int() == len(image) and info[1].as_bytes() == b"fw-2"
    assert head.act(4, Data.integer(0)) is ActionResult.TEMPORARY_FAILURE
    assert head.version() == FACTORY_VERSION.encode()  # not before the restart
    head.wait(ACTIVATE_MS)
    assert head.status() is TransferStatus.ACTIVATION_SUCCESSFUL
    assert head.version() == b"1.2.0"
    assert head.meter.firmware.previous is not None
    assert len(head.get(FIRMWARE_SIGNATURE, 2, 1).as_bytes()) == 32
    assert head.meter.event_counts[int(EventCode.FIRMWARE_READY)] == 1
    assert head.meter.event_counts[int(EventCode.FIRMWARE_ACTIVATED)] == 1


def test_activate_verifies_first_when_the_client_skipped_verify() -> None:
    head = _head()
    head.send_all(_image())
    assert head.act(4, Data.integer(0)) is ActionResult.TEMPORARY_FAILURE
    head.wait(VERIFY_MS + ACTIVATE_MS)
    assert head.status() is TransferStatus.ACTIVATION_SUCCESSFUL
    assert head.version() == b"1.2.0"


def test_lost_duplicated_and_out_of_order_blocks() -> None:
    head = _head()
    image = _image()
    assert head.initiate(image) is ActionResult.SUCCESS
    for number in (4, 0, 2, 2, 5, 0):  # out of order, duplicated; 1 and 3 lost
        assert head.block(image, number) is ActionResult.SUCCESS
    bits = head.get(IMAGE, 3).value
    assert bits.length == 6 and bits.bits == 0b101011
    assert head.get(IMAGE, 4).as_int() == 1
    head.act(3, Data.integer(0))
    head.wait(VERIFY_MS)
    assert head.status() is TransferStatus.VERIFICATION_FAILED  # incomplete image
    assert head.meter.event_counts[int(EventCode.PROGRAM_MEMORY_ERROR)] == 1
    for number in (1, 3):  # the missing blocks sent, the transfer goes on
        assert head.block(image, number) is ActionResult.SUCCESS
    assert head.act(3, Data.integer(0)) is ActionResult.TEMPORARY_FAILURE
    head.wait(VERIFY_MS)
    assert head.status() is TransferStatus.VERIFICATION_SUCCESSFUL


@pytest.mark.parametrize(
    "spoil",
    [
        "corrupted block",
        "wrong signature",
        "wrong model",
        "encrypted without the key",
    ],
)
def test_a_bad_image_fails_verification_and_never_runs(spoil: str) -> None:
    head = _head()
    payload = os.urandom(3 * BLOCK_SIZE)
    if spoil == "wrong signature":
        image = build_image("pmm1220", "2.0.0", payload, ec.generate_private_key(ec.SECP256R1()))
    elif spoil == "wrong model":
        image = build_image("magno22", "2.0.0", payload, KEY)
    elif spoil == "encrypted without the key":
        image = build_image(
            "pmm1220", "2.0.0", payload, KEY, encryption_key=bytes(16), nonce=bytes(12)
        )
    else:
        image = build_image("pmm1220", "2.0.0", payload, KEY)
    head.send_all(image)
    if spoil == "corrupted block":
        spoilt = bytearray(image[BLOCK_SIZE : 2 * BLOCK_SIZE])
        spoilt[17] ^= 0x40
        assert head.block(image, 1, bytes(spoilt)) is ActionResult.SUCCESS
    head.act(3, Data.integer(0))
    head.wait(VERIFY_MS)
    assert head.status() is TransferStatus.VERIFICATION_FAILED
    assert head.act(4, Data.integer(0)) is ActionResult.OTHER_REASON
    head.wait(ACTIVATE_MS)
    assert head.version() == FACTORY_VERSION.encode()
    assert head.meter.firmware.restarts == 0
    assert EventCode.FIRMWARE_ACTIVATED not in _firmware_log(head.meter)


def test_an_encrypted_image_opens_with_the_meters_key() -> None:
    head = _head()
    key = os.urandom(16)
    head.meter.firmware.encryption_key = key
    head.send_all(_image("3.0.1", encryption_key=key, nonce=os.urandom(12)))
    head.act(4, Data.integer(0))
    head.wait(VERIFY_MS + ACTIVATE_MS)
    assert head.version() == b"3.0.1"


def test_a_failing_self_check_rolls_back_to_the_previous_image() -> None:
    head = _head()
    head.send_all(_image("1.5.0"))
    head.act(4, Data.integer(0))
    head.wait(VERIFY_MS + ACTIVATE_MS)
    assert head.version() == b"1.5.0"
    head.send_all(_image("1.6.0", self_check_fails=True))
    head.act(4, Data.integer(0))
    head.wait(VERIFY_MS + ACTIVATE_MS)
    assert head.status() is TransferStatus.ACTIVATION_FAILED
    assert head.version() == b"1.5.0"
    assert head.meter.firmware.restarts == 2  # it did start, checked itself and went back
    assert head.meter.event_counts[int(EventCode.PROGRAM_MEMORY_ERROR)] == 1


def test_a_transfer_survives_a_restart_and_resumes_from_the_first_missing_block() -> None:
    head = _head()
    image = _image()
    head.initiate(image)
    for number in range(3):
        head.block(image, number)
    head = _restarted(head)
    assert head.status() is TransferStatus.INITIATED
    assert head.get(IMAGE, 4).as_int() == 3
    assert head.initiate(image) is ActionResult.SUCCESS  # the same transfer: blocks kept
    assert head.get(IMAGE, 4).as_int() == 3
    for number in range(3, 6):
        head.block(image, number)
    head.act(4, Data.integer(0))
    head.wait(VERIFY_MS + ACTIVATE_MS)
    assert head.version() == b"1.2.0"


@pytest.mark.parametrize("moment", ["mid-verify", "mid-activation"])
def test_a_restart_mid_verify_or_mid_activation_finishes_the_step(moment: str) -> None:
    head = _head()
    head.send_all(_image())
    if moment == "mid-activation":
        head.act(3, Data.integer(0))
        head.wait(VERIFY_MS)
    head.act(4 if moment == "mid-activation" else 3, Data.integer(0))
    head.wait(500)
    head = _restarted(head)
    assert head.act(3, Data.integer(0)) is ActionResult.TEMPORARY_FAILURE  # still busy
    head.wait(ACTIVATE_MS)
    expected = (
        TransferStatus.ACTIVATION_SUCCESSFUL
        if moment == "mid-activation"
        else TransferStatus.VERIFICATION_SUCCESSFUL
    )
    assert head.status() is expected
    assert head.version() == (b"1.2.0" if moment == "mid-activation" else FACTORY_VERSION.encode())


def test_the_image_activation_schedule_activates_at_its_time() -> None:
    head = _head()
    head.send_all(_image())
    head.act(3, Data.integer(0))
    head.wait(VERIFY_MS)
    schedule = Obis(0, 0, 15, 0, 2)
    script = Data.structure(
        [Data.octet_string(bytes(Obis(0, 0, 10, 0, 107))), Data.long_unsigned(1)]
    )
    local = head.meter.local_time()
    at = Data.structure(
        [
            Data.octet_string(bytes([local.hour + 2, 0, 0, 0])),
            Data.octet_string(
                bytes([local.year >> 8, local.year & 0xFF, local.month, local.day, 0xFF])
            ),
        ]
    )
    for attribute, value in ((2, script), (3, Data.enum(1)), (4, Data.array([at]))):
        head.device.set(head.ctx, AttributeDescriptor(22, schedule, attribute), None, value)
    head.wait(3600_000)
    assert head.version() == FACTORY_VERSION.encode()
    head.wait(2 * 3600_000)
    assert head.status() is TransferStatus.ACTIVATION_SUCCESSFUL
    assert head.version() == b"1.2.0"


def test_bad_parameters_are_refused_not_crashed() -> None:
    head = _head()
    image = _image()
    assert head.block(image, 0) is ActionResult.OTHER_REASON  # nothing initiated
    assert head.initiate(image) is ActionResult.SUCCESS
    assert head.block(image, 99) is ActionResult.OTHER_REASON
    assert head.block(image, 0, b"short") is ActionResult.OTHER_REASON
    assert head.act(1, Data.long_unsigned(3)) is ActionResult.TYPE_UNMATCHED
    assert head.act(2, Data.structure([Data.octet_string(b"x")])) is ActionResult.TYPE_UNMATCHED
    with pytest.raises(CosemError) as caught:
        head.device.set(head.ctx, AttributeDescriptor(18, IMAGE, 5), None, Data.unsigned(1))
    assert caught.value.result is DataAccessResult.TYPE_UNMATCHED
    head.device.set(head.ctx, AttributeDescriptor(18, IMAGE, 5), None, Data.boolean(False))
    assert head.initiate(image, b"other") is ActionResult.OTHER_REASON


# --- meter-side faults armed as the control API and a scenario arm them ---------------------


def test_a_power_cut_during_transfer_loses_that_block_only_and_the_transfer_resumes() -> None:
    head = _head()
    image = _image()
    head.initiate(image)
    for number in range(2):
        assert head.block(image, number) is ActionResult.SUCCESS
    head.meter.firmware.arm("power-cut-during-transfer")
    assert head.block(image, 2) is ActionResult.OTHER_REASON  # the answer of a dying meter
    assert head.meter.firmware.restarts == 1  # the serving layer drops the connections
    head = _restarted(head)
    assert head.status() is TransferStatus.INITIATED
    assert head.get(IMAGE, 4).as_int() == 2  # block 2 never stored
    assert head.initiate(image) is ActionResult.SUCCESS  # the HES resumes
    for number in range(2, 6):
        assert head.block(image, number) is ActionResult.SUCCESS
    head.act(4, Data.integer(0))
    head.wait(VERIFY_MS + ACTIVATE_MS)
    assert head.status() is TransferStatus.ACTIVATION_SUCCESSFUL
    assert head.version() == b"1.2.0"
    log = _firmware_log(head.meter)
    assert log.count(EventCode.POWER_DOWN) == log.count(EventCode.POWER_UP) == 1


def test_a_power_cut_during_verify_verifies_again_after_the_power_up() -> None:
    head = _head()
    head.send_all(_image())
    head.meter.firmware.arm("power-cut-during-verify")
    assert head.act(3, Data.integer(0)) is ActionResult.TEMPORARY_FAILURE
    head.wait(VERIFY_MS)
    assert head.meter.firmware.restarts == 1
    assert head.status() is TransferStatus.VERIFICATION_INITIATED  # started over
    assert "power cut" in head.meter.firmware.last_failure
    assert EventCode.FIRMWARE_READY not in _firmware_log(head.meter)
    head = _restarted(head)  # what the memory holds is what the restarted meter has
    head.wait(VERIFY_MS)
    assert head.status() is TransferStatus.VERIFICATION_SUCCESSFUL
    assert head.version() == FACTORY_VERSION.encode()
    assert _firmware_log(head.meter).count(EventCode.FIRMWARE_READY) == 1


def _upgrade(head: Head, version: str, fault: str | None = None) -> None:
    """Send ``version``, activate it (verifying first) and let both steps run, with
    ``fault`` armed first."""
    if fault is not None:
        head.meter.firmware.arm(fault)
    head.send_all(_image(version))
    head.act(4, Data.integer(0))
    head.wait(VERIFY_MS + ACTIVATE_MS)


def test_a_power_cut_during_activation_comes_up_on_the_previous_image() -> None:
    head = _head()
    _upgrade(head, "1.2.0", "power-cut-during-activation")
    assert head.status() is TransferStatus.ACTIVATION_FAILED
    assert head.version() == FACTORY_VERSION.encode()
    assert head.meter.firmware.restarts == 1
    log = _firmware_log(head.meter)
    assert EventCode.FIRMWARE_ACTIVATED not in log
    assert log.count(EventCode.PROGRAM_MEMORY_ERROR) == 1  # the activation failure
    assert log.count(EventCode.POWER_DOWN) == 1
    # the HES starts again: a new transfer, this time activated
    _upgrade(head, "1.3.0")
    assert head.status() is TransferStatus.ACTIVATION_SUCCESSFUL
    assert head.version() == b"1.3.0"


def test_an_armed_self_check_failure_rolls_a_good_image_back_once() -> None:
    head = _head()
    head.meter.firmware.arm("fail-self-check")
    head = _restarted(head)  # armed faults are in the meter's state
    _upgrade(head, "2.0.0")
    assert head.status() is TransferStatus.ACTIVATION_FAILED
    assert head.version() == FACTORY_VERSION.encode()
    assert head.meter.firmware.restarts == 1
    log = _firmware_log(head.meter)
    assert log.count(EventCode.PROGRAM_MEMORY_ERROR) == 1
    assert log.count(EventCode.FIRMWARE_ACTIVATED) == 1  # the previous image runs again
    _upgrade(head, "2.0.1")  # the fault struck once: the next one runs
    assert head.version() == b"2.0.1"


def test_an_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown firmware fault"):
        _head().meter.firmware.arm("meteor-strike")
