"""Network campaign (issue 19, "a reliability campaign the project keeps"): what a hostile
network does to `metertwin run` over real sockets on 127.0.0.1, and whether the meter keeps
its service and its evidence.

- **fuzz over TCP**: mutated wrapper frames and APDUs on many connections, then a fresh
  association and GET, timed (goal: answered within 50 ms).
- **flood**: up to ``--connections`` connections each holding a partial frame that announces
  65,535 octets; the server's memory (RSS) before and during, how many were refused, and a
  legitimate GET during the flood and after.
- **slowloris** on metercom-pro (one connection at a time, seed 004): a header announcing a
  frame the meter accepts (1,000 octets), then one octet every few seconds. A reader arriving
  meanwhile must be served at once (the slowloris gives way, docs/dlms.md "TCP limits"); then,
  alone, how long the attacker keeps the slot before the frame timeout cuts it, and whether a
  reader gets in afterwards (``--quick-slowloris``: the first check only).
- **churn**: wrong-secret logins (event 220), then thousands of plain connects and closes;
  the communication log must still hold every 220 and its counter must count all events.

`python -m benchmarks.soak_network [--connections N] [--churn N] [--fuzz-frames N]
[--quick-slowloris] [--only PHASE ...]`
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import header, start_meter
from benchmarks.soak_fuzz import Mutator, _apdu_corpus
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient, DlmsClientError
from metertwin.protocols.wrapper import encode_frame

ENERGY = Obis.parse("1.0.1.8.0.255")
METERCOM_LOG_4 = Obis.parse("1.0.99.98.3.255")  # internal states: communication
WRONG_SECRET = 220
DEFAULT_CONNECTIONS = 1_500
DEFAULT_CHURN = 2_000
DEFAULT_FUZZ_FRAMES = 20_000
SLOWLORIS_CAP_S = 120.0


@dataclass
class NetworkFigures:
    """What the phases printed; ``failures`` are service or evidence lost, ``missed`` the
    timing goals missed (both fail the campaign; the test suite checks only the first)."""

    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(f"   {line}", flush=True)

    def fail(self, line: str) -> None:
        self.failures.append(line)
        print(f"      FAIL {line}", flush=True)

    def miss(self, line: str) -> None:
        self.missed.append(line)
        print(f"      FAIL (goal) {line}", flush=True)


@contextlib.contextmanager
def running_meter(model: str, data: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`metertwin run` on a free port, stopped at the end."""
    process, port = start_meter(model, str(data), "1", subprocess.DEVNULL)
    try:
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed_get(port: int, timeout: float = 5.0) -> float | None:
    """Seconds for a fresh connection, public association and GET of +A; None if refused."""
    t0 = time.perf_counter()
    try:
        with DlmsClient(timeout=timeout).connect("127.0.0.1", port) as meter:
            meter.get(ENERGY, 3)
    except (DlmsClientError, OSError):
        return None
    return time.perf_counter() - t0


def fuzz_over_tcp(frames: int, seed: int, figures: NetworkFigures) -> None:
    rng = random.Random(seed)
    mutator = Mutator(_apdu_corpus(), rng)
    with tempfile.TemporaryDirectory() as tmp, running_meter("pmm1220", Path(tmp)) as (_, port):
        sent = 0
        t0 = time.perf_counter()
        while sent < frames:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                for _ in range(rng.randrange(1, 200)):
                    payload = mutator.one()
                    frame = encode_frame(rng.choice((16, 32, 1, 16)), 1, payload)
                    if rng.random() < 0.05:
                        frame = mutator.one()  # raw noise, framing broken
                    try:
                        sock.sendall(frame)
                        sent += 1
                    except OSError:
                        break
                    _drain(sock)
        spent = time.perf_counter() - t0
        latency = timed_get(port)
        figures.say(f"fuzz over TCP: {sent:,} frames in {spent:.1f} s")
        if latency is None:
            figures.fail("after the fuzzed frames a fresh GET was not answered")
        else:
            ms = latency * 1000
            figures.say(f"   then a fresh association + GET in {ms:.1f} ms (goal <= 50)")
            if latency > 0.050:
                figures.miss(f"fresh GET took {latency * 1000:.1f} ms")


def _drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
    except (BlockingIOError, OSError):
        pass
    finally:
        sock.setblocking(True)


def flood(connections: int, figures: NetworkFigures) -> None:
    partial = bytes.fromhex("0001001000010400") + bytes(900)  # 1,024 announced, 900 sent
    with tempfile.TemporaryDirectory() as tmp, running_meter("pmm1220", Path(tmp)) as (proc, port):
        before = rss_kib(proc.pid)
        held: list[socket.socket] = []
        refused = 0
        t0 = time.perf_counter()
        for _ in range(connections):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    sock.send(partial)
                held.append(sock)
            except OSError:
                refused += 1
        time.sleep(1.0)
        open_now = sum(1 for s in held if _still_open(s))
        during = rss_kib(proc.pid)
        latency = timed_get(port)
        figures.say(
            f"flood: {connections:,} connections each holding 900 octets of a 1 kB frame in "
            f"{time.perf_counter() - t0:.1f} s: {open_now:,} still open, {refused} refused at "
            f"connect; server RSS {before / 1024:.0f} -> {during / 1024:.0f} MB"
        )
        if latency is None:
            figures.fail("no legitimate GET was answered during the flood")
        else:
            figures.say(f"   a legitimate GET during the flood: {latency * 1000:.1f} ms")
        for sock in held:
            sock.close()
        time.sleep(0.5)
        after = timed_get(port)
        if after is None:
            figures.fail("no GET answered after the flood")
        else:
            figures.say(f"   after the flood: {after * 1000:.1f} ms")


def _still_open(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


SLOWLORIS_HEADER = bytes.fromhex("00010010000103E8")  # public client, 1,000 octets announced


def _still_held(sock: socket.socket, wait_s: float) -> bool:
    """Whether the meter leaves ``sock`` open for ``wait_s`` (False once it closes it)."""
    sock.settimeout(wait_s)
    try:
        return sock.recv(1) != b""
    except TimeoutError:
        return True
    except OSError:
        return False


def slowloris(figures: NetworkFigures, interval_s: float = 2.0, until_cut: bool = True) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_meter("metercom-pro", Path(tmp)) as (
            _,
            port,
        ),
    ):
        attacker = socket.create_connection(("127.0.0.1", port), timeout=5)
        attacker.sendall(SLOWLORIS_HEADER + b"\x00")
        time.sleep(0.2)  # the meter serves the attacker first
        latency = timed_get(port)
        held = _still_held(attacker, 2.0)
        attacker.close()
        if latency is None:
            figures.fail("a reader arriving during a slowloris was not served")
        else:
            figures.say(
                f"slowloris holding the one connection: a reader arriving is served in "
                f"{latency * 1000:.1f} ms, the slowloris "
                f"{'still connected' if held else 'given up for it'}"
            )
        if held:
            figures.fail("the slowloris kept its connection beside the reader")
        if until_cut:
            _slowloris_until_cut(port, figures, interval_s)


def _slowloris_until_cut(port: int, figures: NetworkFigures, interval_s: float) -> None:
    """A slowloris alone: how long it keeps the one connection before the frame timeout."""
    time.sleep(0.2)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(SLOWLORIS_HEADER)
    t0 = time.perf_counter()
    cut = None
    while time.perf_counter() - t0 < SLOWLORIS_CAP_S:
        time.sleep(interval_s)
        try:
            sock.sendall(b"\x00")
            sock.setblocking(False)
            try:
                if sock.recv(1) == b"":
                    cut = time.perf_counter() - t0
                    break
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
        except OSError:
            cut = time.perf_counter() - t0
            break
    sock.close()
    if cut is None:
        figures.fail(f"slowloris still held the one connection after {SLOWLORIS_CAP_S:.0f} s")
    else:
        figures.say(f"slowloris alone (one octet every {interval_s:g} s): cut after {cut:.1f} s")
    time.sleep(0.2)
    latency = timed_get(port)
    if latency is None:
        figures.fail("after the slowloris the reader could not get in")
    else:
        figures.say(f"   then a legitimate reader's GET: {latency * 1000:.1f} ms")


def churn(count: int, figures: NetworkFigures) -> None:
    """On metercom-pro (one connection at a time): two wrong reader secrets (220), then a
    reader holds the connection while ``count`` connects are refused (223 each)."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_meter("metercom-pro", Path(tmp)) as (
            _,
            port,
        ),
    ):
        wrong = 2
        for _ in range(wrong):
            with contextlib.suppress(DlmsClientError, OSError):
                DlmsClient(timeout=5).connect("127.0.0.1", port, 32, 1, password="WRONG").close()
        time.sleep(0.2)
        holder = DlmsClient(timeout=5).connect("127.0.0.1", port)
        t0 = time.perf_counter()
        for _ in range(count):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
        spent = time.perf_counter() - t0
        holder.close()
        time.sleep(1.0)
        try:
            with DlmsClient(timeout=10).connect(
                "127.0.0.1", port, 1, 1, password="UTILITY"
            ) as meter:
                buffer = meter.get(METERCOM_LOG_4, 7, 2).as_items()
        except (DlmsClientError, OSError) as exc:
            figures.fail(f"churn: the communication log could not be read ({exc})")
            return
        codes = [_event_code(entry) for entry in buffer]
        kept = codes.count(WRONG_SECRET)
        figures.say(
            f"churn: {count:,} refused connects in {spent:.1f} s; log 4 holds {len(codes)} "
            f"entries, {kept} of the {wrong} wrong-secret events (220)"
        )
        if kept < wrong:
            figures.fail(f"connection noise pushed {wrong - kept} wrong-secret events out")


def _event_code(entry: object) -> int | None:
    items = entry.as_items()  # type: ignore[attr-defined]
    for item in items[1:]:
        with contextlib.suppress(Exception):
            return int(item.as_int())
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS)
    parser.add_argument("--churn", type=int, default=DEFAULT_CHURN)
    parser.add_argument("--fuzz-frames", type=int, default=DEFAULT_FUZZ_FRAMES)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--quick-slowloris", action="store_true", help="skip waiting for the frame timeout"
    )
    parser.add_argument(
        "--only", nargs="*", default=(), choices=("fuzz", "flood", "slowloris", "churn")
    )
    args = parser.parse_args(argv)
    header("network: fuzz over TCP, flood, slowloris and connection churn on 127.0.0.1")
    figures = NetworkFigures()
    phases = {
        "fuzz": lambda: fuzz_over_tcp(args.fuzz_frames, args.seed, figures),
        "flood": lambda: flood(args.connections, figures),
        "slowloris": lambda: slowloris(figures, until_cut=not args.quick_slowloris),
        "churn": lambda: churn(args.churn, figures),
    }
    for name, phase in phases.items():
        if not args.only or name in args.only:
            phase()
    return 1 if figures.failures or figures.missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
