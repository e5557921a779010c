"""The firmware transfer's blocks in their own table (issue 15 item 1, docs/firmware.md): a
block's commit writes that block and the small state, never the blocks before it; a kill
between blocks loses none that was answered success; verification or a new transfer drops
them."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import stored_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import MethodDescriptor
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.meter.firmware import BLOCK_SIZE

T0 = utc_ms(2026, 6, 1, 8)
IMAGE = Obis(0, 0, 44, 0, 0)
BLOCKS = 64
REPO = Path(__file__).parents[2]


def _initiate(device: LogicalDevice, ctx: AssociationContext, identifier: bytes) -> None:
    parameters = Data.structure(
        [Data.octet_string(identifier), Data.double_long_unsigned(BLOCKS * BLOCK_SIZE)]
    )
    device.action(ctx, MethodDescriptor(18, IMAGE, 1), parameters)


def _block(device: LogicalDevice, ctx: AssociationContext, number: int) -> None:
    value = bytes([number % 256]) * BLOCK_SIZE
    parameters = Data.structure([Data.double_long_unsigned(number), Data.octet_string(value)])
    device.action(ctx, MethodDescriptor(18, IMAGE, 2), parameters)


def test_a_block_commit_writes_that_block_only(tmp_path: Path) -> None:
    session, device, ctx = stored_device(tmp_path, "pmm1220", 1, T0)
    db = session.store._db  # the test watches what each commit writes
    _initiate(device, ctx, b"fw-a")
    written: dict[int, tuple[int, int]] = {}  # block: (rows changed, SQL bytes sent)
    for number in range(BLOCKS):
        statements: list[str] = []
        db.set_trace_callback(statements.append)
        changes_before = db.total_changes
        _block(device, ctx, number)
        db.set_trace_callback(None)
        written[number] = (db.total_changes - changes_before, sum(map(len, statements)))
    # the state row and the one block, whatever the number of blocks received before
    assert written[1][0] == written[BLOCKS - 1][0] == 2
    first, last = written[1][1], written[BLOCKS - 1][1]
    assert last - first < 100  # the state's counters grow by digits, not by blocks
    assert first < 2 * BLOCK_SIZE + 20_000  # one block (hex) and the state, no image
    assert len(session.store.image_blocks()) == BLOCKS
    assert "blocks" not in session.store.load().state["firmware"]
    _initiate(device, ctx, b"fw-b")  # another transfer: the old blocks leave the memory
    assert session.store.image_blocks() == {}
    session.close()


_CHILD = f"""
import sys
from tests.helpers import stored_device
from tests.storage.test_image_blocks import _block, _initiate
session, device, ctx = stored_device(__import__("pathlib").Path(sys.argv[1]), "pmm1220", 1, {T0})
_initiate(device, ctx, b"fw-k")
for number in range({BLOCKS}):
    _block(device, ctx, number)
    print(number, flush=True)  # answered success
input()
"""


def test_a_kill_between_blocks_loses_no_acknowledged_block(tmp_path: Path) -> None:
    data = tmp_path / "meter"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    acknowledged = [int(child.stdout.readline()) for _ in range(5)]
    child.send_signal(signal.SIGKILL)  # while it goes on sending: no shutdown
    child.communicate(timeout=30)
    session, _device, _ctx = stored_device(data, None, 1, T0)
    stored = session.store.image_blocks()
    assert set(acknowledged) <= set(stored)
    assert set(stored) == set(range(len(stored)))  # sent in order: a prefix survived
    assert all(value == bytes([n % 256]) * BLOCK_SIZE for n, value in stored.items())
    firmware = session.meter.firmware
    assert firmware.first_missing_block() == len(stored)  # where the upload resumes
    session.close()


def test_blocks_a_memory_kept_in_its_state_move_into_the_table(tmp_path: Path) -> None:
    """A memory written before the block table held the blocks in the state JSON."""
    session, device, ctx = stored_device(tmp_path, "pmm1220", 1, T0)
    _initiate(device, ctx, b"fw-old")
    for number in range(3):
        _block(device, ctx, number)
    state = session.store.load().state
    state["firmware"]["blocks"] = {  # as the older metertwin wrote them
        str(n): base64.b64encode(v).decode() for n, v in session.store.image_blocks().items()
    }
    session.store.commit(state, image_blocks=(True, {}))  # the table empty, as it was then
    session.close()
    session, _device, _ctx = stored_device(tmp_path, None, 1, T0)
    assert session.meter.firmware.first_missing_block() == 3
    session.commit()
    assert sorted(session.store.image_blocks()) == [0, 1, 2]
    assert "blocks" not in session.store.load().state["firmware"]
    session.close()
