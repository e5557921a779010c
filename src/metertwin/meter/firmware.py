"""The meter's two firmware images and the image transfer of class 18 (docs/firmware.md).

The received blocks live in their own table of the memory, not in the meter's state: each
commit writes only the blocks received since the last one (`drain_block_changes`), in the
same transaction as the state change that acknowledges them, so a block answered success
survives a kill and a transfer resumes after a restart from the first missing block.
Verification and activation take meter time (``VERIFY_MS``, ``ACTIVATE_MS``): the method answers
temporary-failure while they run, as the Blue Book's class 18 lets a server do, and the
client polls image_transfer_status. An image runs only after it verified; after activation
its self-check runs and a failing image is rolled back to the previous one.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.meter.events import EventCode
from metertwin.meter.firmware_download import Download
from metertwin.meter.firmware_image import ImageError, verify_image

VERIFY_MS = 2_000
ACTIVATE_MS = 5_000  # the restart into the new image
MAX_IMAGE_SIZE = 1024 * 1024
BLOCK_SIZE = 1024
FACTORY_VERSION = "1.0.0"

# Codes of the event code object are unsigned (0-255) and 220-255 are taken: the failures
# are logged with the closest standard code, "program memory error" (docs/events.md).
VERIFY_FAILED_EVENT = EventCode.PROGRAM_MEMORY_ERROR
SELF_CHECK_FAILED_EVENT = EventCode.PROGRAM_MEMORY_ERROR
ACTIVATION_FAILED_EVENT = EventCode.PROGRAM_MEMORY_ERROR

# The meter-side faults a test or a scenario arms (control API `POST /faults/firmware`,
# a scenario's `firmware_faults`); each strikes once, at the next step it names:
# the next block received, or the end of the next verification or activation.
POWER_CUT_DURING_TRANSFER = "power-cut-during-transfer"
POWER_CUT_DURING_VERIFY = "power-cut-during-verify"
POWER_CUT_DURING_ACTIVATION = "power-cut-during-activation"
FAIL_SELF_CHECK = "fail-self-check"
FIRMWARE_FAULTS = (
    POWER_CUT_DURING_TRANSFER,
    POWER_CUT_DURING_VERIFY,
    POWER_CUT_DURING_ACTIVATION,
    FAIL_SELF_CHECK,
)


class TransferStatus(IntEnum):
    """image_transfer_status (class 18 attribute 6)."""

    NOT_INITIATED = 0
    INITIATED = 1
    VERIFICATION_INITIATED = 2
    VERIFICATION_SUCCESSFUL = 3
    VERIFICATION_FAILED = 4
    ACTIVATION_INITIATED = 5
    ACTIVATION_SUCCESSFUL = 6
    ACTIVATION_FAILED = 7


class FirmwareBusy(Exception):
    """Verification or activation runs: the answer is temporary-failure."""


class FirmwareRefused(Exception):
    """The step is not possible in this state or with these parameters."""


@dataclass(frozen=True)
class Slot:
    """What is known of an image in a slot: enough to show and check, not its bytes."""

    version: str
    sha256: bytes
    size: int
    self_check_fails: bool = False

    def to_state(self) -> dict[str, Any]:
        state = asdict(self)
        state["sha256"] = self.sha256.hex()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Slot:
        return cls(
            str(state["version"]),
            bytes.fromhex(state["sha256"]),
            int(state["size"]),
            bool(state["self_check_fails"]),
        )


FACTORY = Slot(FACTORY_VERSION, bytes(32), 0)


@dataclass(frozen=True)
class BlockChanges:
    """What the next commit does to the stored blocks: drop them all first (``dropped``),
    then write ``written`` (block number: value)."""

    dropped: bool
    written: dict[int, bytes]


class Firmware:
    """Active and inactive slots and the one transfer into the inactive slot."""

    def __init__(self, model: str, log: Callable[[EventCode], None]) -> None:
        self.model = model
        self.log = log
        self.public_key: ec.EllipticCurvePublicKey | None = None  # from the meter's config
        self.encryption_key: bytes | None = None
        self.active = FACTORY
        self.previous: Slot | None = None  # the image a rollback returns to
        self.verified: Slot | None = None  # the inactive slot, once verified
        self.signature = b""
        self.status = TransferStatus.NOT_INITIATED
        self.transfer_enabled = True
        self.identifier = b""
        self.image_size = 0
        self.blocks: dict[int, bytes] = {}
        # What the memory's block table lacks: written since the last commit, or all dropped.
        self._unsaved: dict[int, bytes] = {}
        self._dropped = False
        # Once verified, the blocks are let go (the slot keeps what the meter needs).
        self.all_blocks_verified = False
        self.busy_until_ms: int | None = None
        self.activate_after_verify = False
        self.activate_at_ms: int | None = None  # the image activation schedule
        self.restarts = 0  # the serving layer drops its connections when this grows
        self.last_failure = ""
        self.armed_faults: set[str] = set()  # FIRMWARE_FAULTS still to strike
        self.download = Download()  # the MeterCom PRO's HTTP download (firmware_download.py)
        self.download_hosts: frozenset[str] = frozenset()  # from the config, never saved

    # -- attributes -----------------------------------------------------------------------

    @property
    def block_count(self) -> int:
        return -(-self.image_size // BLOCK_SIZE)

    def transferred_bits(self) -> list[bool]:
        return [self.all_blocks_verified or n in self.blocks for n in range(self.block_count)]

    def first_missing_block(self) -> int:
        if self.all_blocks_verified:
            return self.block_count
        return next((n for n in range(self.block_count) if n not in self.blocks), self.block_count)

    # -- methods --------------------------------------------------------------------------

    def initiate(self, identifier: bytes, size: int, now_ms: int) -> None:
        """image_transfer_initiate: a new transfer, or the same one resumed untouched."""
        self.poll(now_ms)
        self._not_busy()
        if not self.transfer_enabled:
            raise FirmwareRefused("image transfer is disabled")
        if not 0 < size <= MAX_IMAGE_SIZE or not identifier:
            raise FirmwareRefused("the image size or identifier is not acceptable")
        if (
            identifier == self.identifier
            and size == self.image_size
            and self.status == TransferStatus.INITIATED
        ):
            return  # the HES resumes: keep the blocks already committed
        self._new_transfer(identifier, size)

    def _new_transfer(self, identifier: bytes, size: int) -> None:
        self.identifier, self.image_size = identifier, size
        self._drop_blocks()
        self.all_blocks_verified = False
        self.verified = None
        self.activate_after_verify = False
        self.status = TransferStatus.INITIATED

    # -- the MeterCom PRO download (its HTTP is done above the core) -----------------------

    def start_download(self, url: str, now_ms: int) -> None:
        """A SET of the download URL: a new transfer whose size the server tells later."""
        self.poll(now_ms)
        self._not_busy()
        if self.download.start(url, now_ms):
            self._new_transfer(url.encode(), 0)

    def restart_download(self) -> None:
        """The server sent the whole image where a part was asked: the blocks start again."""
        self._new_transfer(self.identifier, 0)
        self.download.received = 0

    def store_downloaded(self, number: int, value: bytes) -> None:
        """One block of the download, committed with the next commit like a class 18 one."""
        self.blocks[number] = value
        self._unsaved[number] = value

    def finish_download(self, size: int, now_ms: int) -> None:
        """The whole image arrived: verify it, then activate it (the module restarts)."""
        self.image_size = size
        self.status = TransferStatus.INITIATED
        self._start_verification(now_ms)
        self.activate_after_verify = True

    def block(self, number: int, value: bytes, now_ms: int) -> None:
        """image_block_transfer: a block stored (a duplicate overwrites its earlier copy)."""
        self.poll(now_ms)
        self._not_busy()
        if self.status not in (TransferStatus.INITIATED, TransferStatus.VERIFICATION_FAILED):
            raise FirmwareRefused("no transfer is initiated")
        if not 0 <= number < self.block_count:
            raise FirmwareRefused(f"block {number} is outside the image")
        expected = min(BLOCK_SIZE, self.image_size - number * BLOCK_SIZE)
        if len(value) != expected:
            raise FirmwareRefused(f"block {number} has {len(value)} bytes, not {expected}")
        if self._strikes(POWER_CUT_DURING_TRANSFER):
            self._power_cut(f"block {number} was being received: it is not stored")
            raise FirmwareRefused(self.last_failure)
        self.blocks[number] = value
        self._unsaved[number] = value
        self.status = TransferStatus.INITIATED
        self.verified = None

    def verify(self, now_ms: int) -> None:
        """image_verify: success once verified; temporary-failure while it runs."""
        self.poll(now_ms)
        self._not_busy()
        if self.status == TransferStatus.VERIFICATION_SUCCESSFUL:
            return
        if self.status != TransferStatus.INITIATED:
            raise FirmwareRefused("there is no complete transfer to verify")
        self._start_verification(now_ms)
        raise FirmwareBusy("verification started")

    def activate(self, now_ms: int) -> None:
        """image_activate: verification first when needed, then the restart into the image."""
        self.poll(now_ms)
        self._not_busy()
        if self.status == TransferStatus.ACTIVATION_SUCCESSFUL:
            return
        if self.status == TransferStatus.INITIATED:
            self._start_verification(now_ms)
            self.activate_after_verify = True
            raise FirmwareBusy("verification started before activation")
        if self.status != TransferStatus.VERIFICATION_SUCCESSFUL:
            raise FirmwareRefused("no verified image to activate")
        self._start_activation(now_ms)
        raise FirmwareBusy("activation started")

    def schedule_activation(self, at_ms: int | None) -> None:
        self.activate_at_ms = at_ms

    # -- time -----------------------------------------------------------------------------

    def next_due_ms(self) -> int | None:
        """When something falls due (the core stops there)."""
        due = [t for t in (self.busy_until_ms, self.activate_at_ms) if t is not None]
        return min(due) if due else None

    def poll(self, now_ms: int) -> None:
        """Finish what fell due by ``now_ms``: a verification, an activation, a schedule."""
        if self.busy_until_ms is not None and now_ms >= self.busy_until_ms:
            self.busy_until_ms = None
            if self.status == TransferStatus.VERIFICATION_INITIATED:
                if self._strikes(POWER_CUT_DURING_VERIFY):
                    # the image is still in the inactive slot: verified again from the start
                    self._power_cut("the verification starts again after the power-up")
                    self._start_verification(now_ms)
                else:
                    self._finish_verification(now_ms)
            elif self.status == TransferStatus.ACTIVATION_INITIATED:
                if self._strikes(POWER_CUT_DURING_ACTIVATION):
                    self._activation_cut()
                else:
                    self._finish_activation()
        if (
            self.activate_at_ms is not None
            and now_ms >= self.activate_at_ms
            and self.busy_until_ms is None
        ):
            self.activate_at_ms = None
            if self.status == TransferStatus.VERIFICATION_SUCCESSFUL:
                self._start_activation(now_ms)
            elif self.status == TransferStatus.INITIATED:
                self._start_verification(now_ms)
                self.activate_after_verify = True

    def _not_busy(self) -> None:
        if self.busy_until_ms is not None:
            raise FirmwareBusy("verification or activation is running")

    def _start_verification(self, now_ms: int) -> None:
        self.status = TransferStatus.VERIFICATION_INITIATED
        self.busy_until_ms = now_ms + VERIFY_MS

    def _start_activation(self, now_ms: int) -> None:
        self.status = TransferStatus.ACTIVATION_INITIATED
        self.busy_until_ms = now_ms + ACTIVATE_MS

    def _finish_verification(self, now_ms: int) -> None:
        try:
            if self.first_missing_block() < self.block_count:
                raise ImageError(f"block {self.first_missing_block()} was never transferred")
            image = b"".join(self.blocks[n] for n in range(self.block_count))
            checked = verify_image(image, self.model, self.public_key, self.encryption_key)
        except ImageError as failure:
            self.last_failure = str(failure)
            self.status = TransferStatus.VERIFICATION_FAILED
            self.activate_after_verify = False
            self.log(VERIFY_FAILED_EVENT)
            return
        header = checked.header
        self.verified = Slot(header.version, header.sha256, header.size, header.self_check_fails)
        self.signature = checked.signature
        self._drop_blocks()
        self.all_blocks_verified = True
        self.status = TransferStatus.VERIFICATION_SUCCESSFUL
        self.log(EventCode.FIRMWARE_READY)
        if self.activate_after_verify:
            self.activate_after_verify = False
            self._start_activation(now_ms)

    def _finish_activation(self) -> None:
        """The restart: slots switch, the new image checks itself, a failure rolls back."""
        new = self.verified
        if new is None:  # cannot happen: activation starts only from a verified image
            self.status = TransferStatus.ACTIVATION_FAILED
            return
        self.restarts += 1
        self.previous, self.active = self.active, new
        if new.self_check_fails or self._strikes(FAIL_SELF_CHECK):
            self.last_failure = f"image {new.version} failed its self-check"
            self.log(SELF_CHECK_FAILED_EVENT)
            self.active, self.previous = self.previous, None
            self.status = TransferStatus.ACTIVATION_FAILED
            self.log(EventCode.FIRMWARE_ACTIVATED)  # the previous image runs again
            return
        self.status = TransferStatus.ACTIVATION_SUCCESSFUL
        self.log(EventCode.FIRMWARE_ACTIVATED)

    # -- injected faults (docs/firmware.md, "Fault injection") ------------------------------

    def arm(self, kind: str) -> None:
        """``kind`` (one of FIRMWARE_FAULTS) strikes at the next step it names."""
        if kind not in FIRMWARE_FAULTS:
            raise ValueError(f"unknown firmware fault {kind!r} ({', '.join(FIRMWARE_FAULTS)})")
        self.armed_faults.add(kind)

    def _strikes(self, kind: str) -> bool:
        if kind not in self.armed_faults:
            return False
        self.armed_faults.discard(kind)
        return True

    def _power_cut(self, what: str) -> None:
        """The supply lost and back: the meter restarts (connections dropped) on its active
        image; what was committed is kept, the rest of the step is lost."""
        self.restarts += 1
        self.last_failure = f"power cut: {what}"
        self.log(EventCode.POWER_DOWN)
        self.log(EventCode.POWER_UP)

    def _activation_cut(self) -> None:
        """The power fails while the slots switch: the meter comes up on the image that ran
        before (a half-switched slot never runs) and the activation has failed (7)."""
        version = "?" if self.verified is None else self.verified.version
        self._power_cut(f"image {version} was being activated: the previous image runs")
        self.status = TransferStatus.ACTIVATION_FAILED
        self.log(ACTIVATION_FAILED_EVENT)

    # -- memory ---------------------------------------------------------------------------

    def _drop_blocks(self) -> None:
        self.blocks = {}
        self._unsaved = {}
        self._dropped = True

    def drain_block_changes(self) -> BlockChanges:
        """The block table's changes since the last commit (the session writes them with
        the state): one block per acknowledged block_transfer, never the whole image."""
        changes = BlockChanges(self._dropped, self._unsaved)
        self._unsaved, self._dropped = {}, False
        return changes

    def restore_blocks(self, blocks: dict[int, bytes]) -> None:
        """The blocks the memory's table holds, after `restore` (a restart)."""
        self.blocks.update(blocks)

    def to_state(self) -> dict[str, Any]:
        return {
            "active": self.active.to_state(),
            "previous": None if self.previous is None else self.previous.to_state(),
            "verified": None if self.verified is None else self.verified.to_state(),
            "signature": self.signature.hex(),
            "status": int(self.status),
            "transfer_enabled": self.transfer_enabled,
            "identifier": self.identifier.hex(),
            "image_size": self.image_size,
            "all_blocks_verified": self.all_blocks_verified,
            "busy_until_ms": self.busy_until_ms,
            "activate_after_verify": self.activate_after_verify,
            "activate_at_ms": self.activate_at_ms,
            "restarts": self.restarts,
            "last_failure": self.last_failure,
            "armed_faults": sorted(self.armed_faults),
            "download": self.download.to_state(),
        }

    def restore(self, state: dict[str, Any] | None) -> None:
        """A memory older than firmware upgrades has none: the factory image runs."""
        if state is None:
            return
        self.active = Slot.from_state(state["active"])
        self.previous = None if state["previous"] is None else Slot.from_state(state["previous"])
        self.verified = None if state["verified"] is None else Slot.from_state(state["verified"])
        self.signature = bytes.fromhex(state["signature"])
        self.status = TransferStatus(int(state["status"]))
        self.transfer_enabled = bool(state["transfer_enabled"])
        self.identifier = bytes.fromhex(state["identifier"])
        self.image_size = int(state["image_size"])
        # a memory written before the block table kept the blocks in the state: the next
        # commit moves them into the table
        legacy = {int(n): base64.b64decode(b) for n, b in state.get("blocks", {}).items()}
        self.blocks, self._unsaved = dict(legacy), dict(legacy)
        self.all_blocks_verified = bool(state["all_blocks_verified"])
        busy, at = state["busy_until_ms"], state["activate_at_ms"]
        self.busy_until_ms = None if busy is None else int(busy)
        self.activate_after_verify = bool(state["activate_after_verify"])
        self.activate_at_ms = None if at is None else int(at)
        self.restarts = int(state["restarts"])
        self.last_failure = str(state["last_failure"])
        self.armed_faults = {str(k) for k in state.get("armed_faults", ()) if k in FIRMWARE_FAULTS}
        self.download = Download.from_state(state.get("download"))
