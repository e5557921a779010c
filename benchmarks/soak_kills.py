"""SIGKILL campaign (issue 19, "a reliability campaign the project keeps"): `metertwin run`
accumulating energy at speed 3600 while a head-end enters tokens over DLMS, killed at random
instants, restarted on the same memory, again and again.

After every kill the memory must hold every token the meter acknowledged (lost = 0), no
token twice and no token it was never sent (doubled = 0: the purchase counter and the credit
bought are exactly those of the applied tokens), and no energy register, nor the meter's
present, may be behind what the previous run left (regressions = 0).

Tokens go in one at a time, so at a kill at most one token is "in flight": sent, not
acknowledged; it may be in or out, but whole.

`python -m benchmarks.soak_kills [--kills N] [--seconds S] [--seed X]`
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import header, start_meter
from metertwin.codec.axdr import Data
from metertwin.dlms.client import DlmsClient, DlmsClientError
from metertwin.meter.wallet import MICRO
from metertwin.models.prepayment_objects import TOKEN_GATEWAY
from metertwin.storage import MeterStore
from metertwin.sts import BaseDate, CreditKind, CreditToken, encode_token, tid_from_datetime
from metertwin.sts_identity import meter_key_from_config

KEY = meter_key_from_config({}, "(demo)", "00000001")  # the demo identity of a new meter
FIRST_TID = tid_from_datetime(datetime(2026, 11, 1, tzinfo=UTC), BaseDate.Y2014)
AMOUNT_TENTHS = 10  # 1.0 SAR a token
MANAGEMENT_SECRET = "00000002"  # pmm1220's management association (docs/dlms.md)
DEFAULT_KILLS = 1_000
DEFAULT_SECONDS = 1_800.0


@dataclass
class KillFigures:
    kills: int = 0
    runs: int = 0
    tokens_sent: int = 0
    tokens_acknowledged: int = 0
    lost: int = 0
    doubled: int = 0
    regressions: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def token(index: int) -> str:
    credit = CreditToken(
        kind=CreditKind.ELECTRICITY_CURRENCY, tid=FIRST_TID + index, amount_tenths=AMOUNT_TENTHS
    )
    return encode_token(credit, KEY)


def _start(data: Path) -> tuple[subprocess.Popen[bytes], int]:
    return start_meter("pmm1220", str(data), "3600")


def _enter(port: int, digits: str) -> int:
    """The token gateway's status after `enter` (3 accepted, 6 validation failure)."""
    with DlmsClient(timeout=5.0).connect(
        "127.0.0.1", port, 1, 1, password=MANAGEMENT_SECRET
    ) as meter:
        meter.action(TOKEN_GATEWAY, 115, 1, Data.octet_string(digits.encode()))
        return meter.get(TOKEN_GATEWAY, 115, 6).as_items()[0].as_int()


def _stored(data: Path) -> dict[str, Any] | None:
    if not (data / "meter.db").exists():
        return None
    with MeterStore.open(data) as store:
        return store.load().state


def _registers(state: dict[str, Any]) -> list[int]:
    registers = state["registers"]
    return [*registers["totals"], *(v for rate in registers["per_rate"] for v in rate)]


class _Feeder(threading.Thread):
    """Enters tokens one after another until stopped or the meter dies under it."""

    def __init__(self, port: int, first_index: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.next_index = first_index
        self.acknowledged: list[int] = []
        self.in_flight: int | None = None
        self.refused: list[tuple[int, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            index = self.next_index
            self.in_flight = index
            self.next_index += 1
            try:
                code = _enter(self.port, token(index))
            except (DlmsClientError, OSError):
                return  # killed under us: this token may be in or out
            self.in_flight = None
            if code == 3:
                self.acknowledged.append(index)
            else:
                self.refused.append((index, code))
            time.sleep(0.02)  # a vending pace: the credit stays far from any overflow


def run(kills: int, seconds: float, seed: int) -> KillFigures:
    figures = KillFigures()
    rng = random.Random(seed)
    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "meter"
        acknowledged: set[int] = set()
        maybe: set[int] = set()  # sent, never acknowledged: in or out, but whole
        next_index = 0
        previous: dict[str, Any] | None = None
        while figures.kills < kills and time.perf_counter() < deadline:
            process, port = _start(data)
            figures.runs += 1
            feeder = _Feeder(port, next_index)
            feeder.start()
            time.sleep(rng.uniform(0.05, 1.2))
            process.send_signal(signal.SIGKILL)
            process.communicate()
            feeder.stop.set()
            feeder.join(timeout=10)
            if process.returncode == -signal.SIGKILL:
                figures.kills += 1
            next_index = feeder.next_index
            figures.tokens_sent = next_index
            acknowledged.update(feeder.acknowledged)
            if feeder.in_flight is not None:
                maybe.add(feeder.in_flight)
            for index, code in feeder.refused:
                figures.failures.append(f"token {index} refused with status {code}")
            state = _stored(data)
            if state is None:
                continue
            _check(state, previous, acknowledged, maybe, figures)
            previous = state
        figures.tokens_acknowledged = len(acknowledged)
    figures.seconds = time.perf_counter() - t0
    return figures


def _check(
    state: dict[str, Any],
    previous: dict[str, Any] | None,
    acknowledged: set[int],
    maybe: set[int],
    figures: KillFigures,
) -> None:
    wallet = state["prepayment"]["wallet"]
    count, total = int(wallet["purchase_count"]), int(wallet["purchased_total"])
    unit = AMOUNT_TENTHS * MICRO // 10
    if total != count * unit:
        figures.doubled += 1
        figures.failures.append(f"credit bought {total} is not {count} tokens of {unit}")
    if count < len(acknowledged):
        figures.lost += len(acknowledged) - count
        figures.failures.append(f"{count} purchases kept, {len(acknowledged)} acknowledged")
    if count > len(acknowledged) + len(maybe):
        figures.doubled += count - len(acknowledged) - len(maybe)
        figures.failures.append(f"{count} purchases kept, at most {len(acknowledged)} + {maybe}")
    if previous is not None:
        before, after = _registers(previous), _registers(state)
        behind = sum(a < b for a, b in zip(after, before, strict=True))
        if behind or state["now_ms"] < previous["now_ms"]:
            figures.regressions += 1
            figures.failures.append(f"{behind} registers behind the previous run")


def print_figures(figures: KillFigures, goal: int) -> None:
    print(
        f"   {figures.kills:,} SIGKILLs ({figures.kills / goal:.1%} of {goal:,}) in "
        f"{figures.seconds:.0f} s; tokens sent {figures.tokens_sent:,}, acknowledged "
        f"{figures.tokens_acknowledged:,}"
    )
    print(
        f"   lost {figures.lost}, doubled {figures.doubled}, register regressions "
        f"{figures.regressions} (goal 0, 0, 0)"
    )
    for failure in figures.failures[:10]:
        print(f"      FAIL {failure}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=DEFAULT_KILLS)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="time cap")
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args(argv)
    header("SIGKILL: a running meter killed while tokens go in and energy accumulates")
    figures = run(args.kills, args.seconds, args.seed)
    print_figures(figures, args.kills)
    return 1 if figures.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
