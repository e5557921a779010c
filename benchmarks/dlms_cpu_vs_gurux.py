"""Server process CPU per GET of a register, metertwin against a minimal gurux-dlms server
(issue 12: unciphered <= 1/3 of gurux's; ciphered suite 0 <= 1/2 of gurux's unciphered).

Two servers, each in its own process on 127.0.0.1: a minimal server built on gurux-dlms
serving one register 1.0.1.8.0.255 (benchmarks/gurux_register_server.py; GPL, benchmark-only)
and an az3p meter served by metertwin's DlmsTcpServer with its clock standing still
(benchmarks/metertwin_register_server.py). The same gurux client (tests/interop/
gurux_client.py) associates once as the public client 0x10, sends GETs of 1.0.1.8.0.255
attribute 2 one after the other, and releases. What is measured is the server process's CPU
time, user and system (utime, stime of /proc/PID/stat), over the GET loop only.

Each server's I/O floor is measured too: the same GET frame sent to an echo server on the
same I/O (gurux's blocking socket loop; metertwin's event loop, uvloop when installed). The
windows alternate between the four servers so all see the same machine; each figure is the
best window, with the median. The ciphered row associates on client 0x40 with HLS-GMAC and
suite 0 (authenticated and encrypted, the Green Book keys) and prints "not available" while
the meter refuses it.

Run with `python -m benchmarks.dlms_cpu_vs_gurux [--rounds N] [--windows W]` from the
repository root; `--profile` instead runs the workload once against metertwin under cProfile
(on CPU time, so its overhead inflates the totals: read the shares) and prints the hotspots.
"""

from __future__ import annotations

import argparse
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gurux_dlms import GXDLMSException
from gurux_dlms.objects import GXDLMSRegister
from tests.interop.gurux_client import (
    Gmac,
    GuruxSession,
    ProtocolError,
    associated,
    continued,
    make_client,
)

from benchmarks.common import header

REGISTER = "1.0.1.8.0.255"
PUBLIC, HLS_GMAC = 0x10, 0x40  # docs/dlms.md; issue 12's HLS-GMAC suite 0 client
MODEL = "az3p"
ROUNDS = 5_000  # GETs per window: CPU time counts in 10 ms ticks, ~3 % of 5,000 x 66 us
WINDOWS = 5
WARM_UP = 200
UNCIPHERED_TARGET = 1 / 3
CIPHERED_TARGET = 1 / 2
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
SERVER_MODULE = "benchmarks.metertwin_register_server"


@dataclass(frozen=True)
class Cpu:
    """CPU time of a process: user and system (the kernel's TCP work on loopback included)."""

    user: float
    system: float

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.user - other.user, self.system - other.system)

    @property
    def total(self) -> float:
        return self.user + self.system


@dataclass
class Server:
    """A server process and the port it printed on its first line."""

    name: str
    process: subprocess.Popen[str]
    port: int

    def cpu(self) -> Cpu:
        """utime and stime of the process, every thread (fields 14, 15 of /proc/PID/stat)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return Cpu(int(fields[11]) * TICK_S, int(fields[12]) * TICK_S)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start(name: str, module: str, *options: str) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", module, *options], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # "NAME on 127.0.0.1:PORT"
    if " on 127.0.0.1:" not in first:
        process.kill()
        process.wait(10)
        raise RuntimeError(f"{name} did not start: {first!r}")
    return Server(name, process, int(first.rsplit(":", 1)[1]))


def get_loop(opened: GuruxSession, rounds: int) -> None:
    register = GXDLMSRegister(REGISTER)
    for _ in range(rounds):
        opened.read_raw(register, 2)


class Ciphering:
    """HLS-GMAC suite 0 for client 0x40 across associations: each one's invocation counter
    goes on from the last one's, as the meter refuses a replayed counter."""

    def __init__(self) -> None:
        self.gmac = Gmac()

    @contextmanager
    def associated(self, port: int) -> Iterator[GuruxSession]:
        with associated(port, HLS_GMAC, gmac=self.gmac) as opened:
            try:
                yield opened
            finally:
                self.gmac = continued(self.gmac, opened)


def cpu_per_get(server: Server, rounds: int, ciphering: Ciphering | None = None) -> Cpu:
    """One association: warm-up GETs, then ``rounds`` GETs; the server's CPU per GET."""
    with (
        associated(server.port, PUBLIC) if ciphering is None else ciphering.associated(server.port)
    ) as opened:
        get_loop(opened, WARM_UP)
        before = server.cpu()
        get_loop(opened, rounds)
        used = server.cpu() - before
    return Cpu(used.user / rounds, used.system / rounds)


def cpu_per_echo(server: Server, rounds: int) -> Cpu:
    """The same GET frame, echoed by a bare server: its CPU per round trip."""
    frame = bytes(make_client(PUBLIC).read(GXDLMSRegister(REGISTER), 2)[0])
    with socket.create_connection(("127.0.0.1", server.port)) as peer:
        peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def round_trips(count: int) -> None:
            for _ in range(count):
                peer.sendall(frame)
                got = 0
                while got < len(frame):
                    chunk = peer.recv(len(frame) - got)
                    if not chunk:
                        raise ProtocolError("the echo server closed the connection")
                    got += len(chunk)

        round_trips(WARM_UP)
        before = server.cpu()
        round_trips(rounds)
        used = server.cpu() - before
    return Cpu(used.user / rounds, used.system / rounds)


def ciphered_refusal(server: Server, ciphering: Ciphering) -> str | None:
    """Why the meter refuses HLS-GMAC on 0x40 today, or None when it associates."""
    try:
        cpu_per_get(server, 1, ciphering)
    except (GXDLMSException, ProtocolError, ValueError, OSError) as refusal:
        return " ".join(str(refusal).split())
    except Exception as refusal:  # gurux raises a bare Exception when pass 4 does not verify
        return f"{type(refusal).__name__}: {' '.join(str(refusal).split())}"
    return None


def row(label: str, figures: list[Cpu]) -> float:
    """Prints the best window (user + system) and the median; returns the best total."""
    best = min(figures, key=lambda cpu: cpu.total)
    median = statistics.median(cpu.total for cpu in figures) * 1e6
    print(
        f"   {label:<40} {best.total * 1e6:6.1f} us/GET (user {best.user * 1e6:5.1f}"
        f" + system {best.system * 1e6:5.1f}; median {median:6.1f})"
    )
    return best.total


def compare(rounds: int, windows: int) -> None:
    servers = {
        "gurux": start("gurux", "benchmarks.gurux_register_server"),
        "metertwin": start("metertwin", SERVER_MODULE, "--model", MODEL),
        "gurux echo": start("gurux echo", "benchmarks.gurux_register_server", "--echo"),
        "metertwin echo": start("metertwin echo", SERVER_MODULE, "--echo"),
    }
    measured: dict[str, list[Cpu]] = {name: [] for name in [*servers, "ciphered"]}
    try:
        ciphering = Ciphering()
        refusal = ciphered_refusal(servers["metertwin"], ciphering)
        for _ in range(windows):
            for name, server in servers.items():
                measure = cpu_per_echo if name.endswith("echo") else cpu_per_get
                measured[name].append(measure(server, rounds))
            if refusal is None:
                measured["ciphered"].append(cpu_per_get(servers["metertwin"], rounds, ciphering))
    finally:
        for server in servers.values():
            server.stop()
    print(f"   server CPU per GET of {REGISTER} attr 2, {windows} windows x {rounds:,} GETs:")
    reference = row("gurux-dlms minimal server, unciphered", measured["gurux"])
    unciphered = row(f"metertwin ({MODEL}), unciphered", measured["metertwin"])
    row("floor: gurux's socket loop echoing", measured["gurux echo"])
    row("floor: metertwin's event loop echoing", measured["metertwin echo"])
    ratio = unciphered / reference
    verdict = "met" if ratio <= UNCIPHERED_TARGET else "NOT met"
    print(f"   ratio metertwin/gurux unciphered: {ratio:.2f} (target <= 1/3 = 0.33: {verdict})")
    if refusal is not None:
        print(f"   metertwin ciphered suite 0 (HLS-GMAC, 0x40): not available ({refusal})")
        return
    ciphered = row(f"metertwin ({MODEL}), ciphered suite 0", measured["ciphered"])
    ratio = ciphered / reference
    verdict = "met" if ratio <= CIPHERED_TARGET else "NOT met"
    print(f"   ratio metertwin ciphered/gurux unciphered: {ratio:.2f} (target <= 0.50: {verdict})")


def profile(rounds: int, ciphered: bool, top: int = 30) -> None:
    """The same workload once against metertwin under cProfile: the hotspots."""
    with tempfile.TemporaryDirectory() as directory:
        stats_file = os.path.join(directory, "metertwin.prof")
        ours = start("metertwin", SERVER_MODULE, "--model", MODEL, "--profile", stats_file)
        try:
            cpu_per_get(ours, rounds, Ciphering() if ciphered else None)
        finally:
            ours.stop()
        print(f"   metertwin under cProfile, {rounds:,} GETs (+{WARM_UP} warm-up), by cumtime:")
        stats = pstats.Stats(stats_file, stream=sys.stdout).strip_dirs()
        stats.sort_stats("cumulative").print_stats(top)
        print("   ... and by own time (C calls of uvloop's transport are in their callers'):")
        stats.sort_stats("tottime").print_stats(top // 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="GETs per window")
    parser.add_argument("--windows", type=int, default=WINDOWS)
    parser.add_argument("--profile", action="store_true", help="cProfile metertwin instead")
    parser.add_argument(
        "--ciphered", action="store_true", help="with --profile: the ciphered suite 0 GETs"
    )
    args = parser.parse_args(argv)
    header("DLMS server CPU per GET: metertwin vs a minimal gurux-dlms server (same client)")
    if args.profile:
        profile(args.rounds, args.ciphered)
    else:
        compare(args.rounds, args.windows)


if __name__ == "__main__":
    main()
