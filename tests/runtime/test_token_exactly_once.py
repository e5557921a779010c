"""Exactly once (issue 4 item 7): tokens entered over DLMS into `metertwin run` while it is
killed (SIGKILL) at random moments. An accepted token's credit and TID are committed before
the answer; killed at any instant, the meter has applied a token fully or not at all, and a
token it did not apply can be entered again.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from metertwin.codec.axdr import Data
from metertwin.dlms.client import DlmsClient, DlmsClientError
from metertwin.meter.wallet import MICRO
from metertwin.models.prepayment_objects import TOKEN_GATEWAY
from metertwin.storage import MeterStore
from metertwin.sts import BaseDate, CreditKind, CreditToken, encode_token, tid_from_datetime
from metertwin.sts_identity import meter_key_from_config

KEY = meter_key_from_config({}, "(demo)", "00000001")  # the demo identity of a new meter
MAX_TOKENS = 45  # below the 50 TIDs the meter remembers
FIRST_TID = tid_from_datetime(datetime(2026, 11, 1, tzinfo=UTC), BaseDate.Y2014)


def _token(index: int) -> str:
    token = CreditToken(
        kind=CreditKind.ELECTRICITY_CURRENCY, tid=FIRST_TID + index, amount_tenths=10 + index
    )
    return encode_token(token, KEY)


def _start(data: Path) -> tuple[subprocess.Popen[bytes], int]:
    command = [
        sys.executable, "-m", "metertwin", "run", "--api-port", "off",
        "--model", "pmm1220", "--data", str(data),
        "--start", "2026-11-01T00:00", "--speed", "60", "--no-panel", "--port", "0",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    first = process.stdout.readline().decode()
    assert first.startswith("DLMS/COSEM on "), first
    return process, int(first.rsplit(":", 1)[1])


def _enter(port: int, digits: str) -> int:
    """Status code of the token gateway after `enter` (3 accepted, 6 validation failure)."""
    with DlmsClient(timeout=5.0).connect("127.0.0.1", port, 1, 1, password="00000002") as meter:
        meter.action(TOKEN_GATEWAY, 115, 1, Data.octet_string(digits.encode()))
        return meter.get(TOKEN_GATEWAY, 115, 6).as_items()[0].as_int()


def _stored(data: Path) -> tuple[set[int], int, int]:
    with MeterStore.open(data) as store:
        prepayment = store.load().state["prepayment"]
    wallet = prepayment["wallet"]
    return set(prepayment["sts"]["tids"]), wallet["purchased_total"], wallet["purchase_count"]


def test_tokens_are_applied_exactly_once_across_kills(tmp_path: Path) -> None:
    data = tmp_path / "meter"
    rng = random.Random(62055)
    acknowledged: set[int] = set()
    sent = 0
    for _ in range(4):
        process, port = _start(data)
        stop = threading.Event()

        def feed(port: int = port, stop: threading.Event = stop) -> None:
            nonlocal sent
            while not stop.is_set() and sent < MAX_TOKENS:
                index = sent
                sent += 1
                try:
                    code = _enter(port, _token(index))
                except (DlmsClientError, OSError):
                    return  # the meter died under us: this token may or may not be in
                assert code == 3
                acknowledged.add(index)
                time.sleep(0.05)

        worker = threading.Thread(target=feed)
        worker.start()
        time.sleep(rng.uniform(0.5, 1.5))
        process.send_signal(signal.SIGKILL)
        process.communicate()
        stop.set()
        worker.join(timeout=10)
        tids, total, count = _stored(data)
        applied = {tid - FIRST_TID for tid in tids}
        assert acknowledged <= applied, "an acknowledged token was lost"
        assert applied <= set(range(sent))
        # all or nothing: the credit and the counter are exactly those of the remembered TIDs
        assert count == len(applied)
        assert total == sum((10 + i) * MICRO // 10 for i in applied)
    assert len(acknowledged) >= 4, "the meter should have accepted tokens between kills"
    # The tokens not applied are entered again and accepted; applied ones are Used (only a
    # few of those: five refusals in a row would lock the keypad).
    tids, _, _ = _stored(data)
    applied = {tid - FIRST_TID for tid in tids}
    process, port = _start(data)
    try:
        for index in sorted(applied)[:3]:
            assert _enter(port, _token(index)) == 6
        for index in sorted(set(range(sent)) - applied):
            assert _enter(port, _token(index)) == 3
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    tids, total, count = _stored(data)
    assert count == sent == len(tids)
    assert total == sum((10 + i) * MICRO // 10 for i in range(sent))
