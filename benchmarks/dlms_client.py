"""GETs per second and association setup over loopback with our client (issue 3:
>= 8,000 GET/s sequential on one association; association setup <= 1 ms).

A metercom-pro meter runs as `metertwin run` in its own process on 127.0.0.1 (real time,
its household scenario ticking); the client associates as the meter reader (LLS) and reads
1.0.1.8.0.255 attribute 2 in a loop. Run with `python -m benchmarks.dlms_client` from the
repository root.

The same client loop is timed against bare echo servers, one per event loop the meter may run
on (asyncio's, and uvloop's when installed; ``metertwin.transport.eventloop``): no server
answers a sequential client faster than its event loop echoes, so that is the floor to judge
the GET figure by.

Two placements are measured, each with its own echo floor. "Placed by the OS" first: the
scheduler tends to put the client and the meter on different CPUs while one is idle, so a
request and its answer each wake a sleeping CPU; on a virtual machine that wake-up goes through
the hypervisor and can cost more than the request itself. Then "one CPU": the client, the
meter and the echo servers pinned to one CPU, where the figure is what the two programs cost.
Within a placement, GET and echo windows alternate, so both see the same machine; a shared
host takes CPU away in bursts ("steal", printed), so each figure is the best window, printed
with the median.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from benchmarks.common import header
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient
from metertwin.transport.eventloop import EVENT_LOOP_VARIABLE

ENERGY = Obis(1, 0, 1, 8, 0)
WINDOWS = 9
ROUNDS = 2_000  # requests per window


def _start_meter(data: str) -> tuple[subprocess.Popen[str], int]:
    """`metertwin run` as a user starts it, in its own process, on a free port."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "metertwin",
            "run",
            "--api-port",
            "off",
            "--model",
            "metercom-pro",
            "--data",
            data,
            "--port",
            "0",
            "--no-panel",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # "DLMS/COSEM on 127.0.0.1:PORT"
    return process, int(first.rsplit(":", 1)[1])


def _event_loop_of(pid: int) -> str:
    """The event loop a process runs on, seen from outside: metertwin loads uvloop only to
    run its loop on it (Linux: the process's mapped files)."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return "uvloop" if "/uvloop/" in maps.read() else "asyncio"
    except OSError:
        return "unknown"


# Reads into its own buffer like the meter's connections (transport/tcp.py): with a plain
# Protocol, asyncio's selector loop allocates 256 KiB per read, and whether glibc serves that
# from the heap or from a fresh mmap depends on what the process allocated before, which moved
# this floor by a factor of two between otherwise identical runs.
_ECHO_SERVER = """
import asyncio
from metertwin.transport.eventloop import run
class Echo(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = memoryview(bytearray(16384))
    def get_buffer(self, sizehint): return self.buffer
    def buffer_updated(self, nbytes): self.transport.write(bytes(self.buffer[:nbytes]))
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
run(main())
"""


def _start_echo(loop: str) -> tuple[subprocess.Popen[str], int]:
    """A bare asyncio echo server on ``loop`` ("asyncio" or "uvloop")."""
    process = subprocess.Popen(
        [sys.executable, "-c", _ECHO_SERVER],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, EVENT_LOOP_VARIABLE: loop},
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def _echo_loops() -> list[str]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return ["asyncio"]
    return ["asyncio", "uvloop"]


def _echo_window(sock: socket.socket) -> Callable[[], None]:
    request = b"\x00\x01\x00\x20\x00\x01\x00\x0d" + bytes(13)  # a wrapped GET's size

    def window() -> None:
        for _ in range(ROUNDS):
            sock.sendall(request)
            sock.recv(64)

    return window


def _placements(pids: list[int]) -> dict[str, Callable[[], None]]:
    """How to put ``pids`` and this process as the OS likes, or all on one CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return {"placed by the OS": lambda: None}
    every = os.sched_getaffinity(0)
    one = {min(every)}

    def pin(cpus: set[int]) -> Callable[[], None]:
        def apply() -> None:
            for pid in [0, *pids]:
                os.sched_setaffinity(pid, cpus)

        return apply

    return {"placed by the OS": pin(every), f"all on CPU {min(every)}": pin(one)}


def _steal_ticks() -> int | None:
    """CPU time the hypervisor gave to others (/proc/stat "steal"), in clock ticks."""
    try:
        with open("/proc/stat") as stat:
            return int(stat.readline().split()[8])
    except (OSError, IndexError, ValueError):
        return None


def _rates(seconds: list[float]) -> tuple[float, float]:
    """(best, median) per second over windows of ROUNDS."""
    return ROUNDS / min(seconds), ROUNDS / statistics.median(seconds)


def main() -> None:
    header("DLMS over loopback: sequential GETs and association setup with our client")
    echoes = {loop: _start_echo(loop) for loop in _echo_loops()}
    echo_sockets: dict[str, socket.socket] = {}
    try:
        for loop, (_, port) in echoes.items():
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            echo_sockets[loop] = sock
        with tempfile.TemporaryDirectory() as tmp:
            process, port = _start_meter(tmp)
            try:
                meter_loop = _event_loop_of(process.pid)
                setups = []
                for _ in range(50):
                    t0 = time.perf_counter()
                    client = DlmsClient().connect(
                        "127.0.0.1", port, client_sap=0x20, password=b"HELLO"
                    )
                    setups.append(time.perf_counter() - t0)
                    client.release()
                    client.close()
                with DlmsClient().connect(
                    "127.0.0.1", port, client_sap=0x20, password=b"HELLO"
                ) as meter:

                    def get_window() -> None:
                        for _ in range(ROUNDS):
                            meter.get(ENERGY, 3, 2)

                    windows = {"GET": get_window} | {
                        loop: _echo_window(sock) for loop, sock in echo_sockets.items()
                    }
                    placements = _placements(
                        [process.pid, *(echo.pid for echo, _ in echoes.values())]
                    )
                    seconds: dict[tuple[str, str], list[float]] = {}
                    steal_before, wall_before = _steal_ticks(), time.perf_counter()
                    for placement, place in placements.items():
                        place()
                        for window in windows.values():  # warm up
                            window()
                        for _ in range(WINDOWS):
                            for name, window in windows.items():
                                t0 = time.perf_counter()
                                window()
                                elapsed = time.perf_counter() - t0
                                seconds.setdefault((placement, name), []).append(elapsed)
                    steal_after, wall = _steal_ticks(), time.perf_counter() - wall_before
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(10)
    finally:
        for sock in echo_sockets.values():
            sock.close()
        for echo, _ in echoes.values():
            echo.kill()
            echo.wait()
    setups.sort()
    print(
        f"   association setup (TCP connect + AARQ/AARE with LLS): median "
        f"{setups[len(setups) // 2] * 1000:.2f} ms, best {setups[0] * 1000:.2f} ms "
        f"(target <= 1 ms)"
    )
    print(
        f"   sequential GET of 1.0.1.8.0.255, meter on the {meter_loop} event loop "
        f"(target >= 8,000 GET/s); best (median) of {WINDOWS} windows of {ROUNDS:,}:"
    )
    for placement in placements:
        best, median = _rates(seconds[placement, "GET"])
        floors = []
        for loop in echo_sockets:
            floor, floor_median = _rates(seconds[placement, loop])
            ratio = f", GET/echo {best / floor:.2f}" if loop == meter_loop else ""
            floors.append(f"{loop} {floor:,.0f} ({floor_median:,.0f}){ratio}")
        print(
            f"     {placement + ':':18} {best:7,.0f} ({median:,.0f}) GET/s; "
            f"bare echo server, round trips/s: {'; '.join(floors)}"
        )
    if steal_before is not None and steal_after is not None:
        ticks = (steal_after - steal_before) / os.sysconf("SC_CLK_TCK")
        share = ticks / (wall * (os.cpu_count() or 1))
        print(f"   CPU time taken by the host (steal) during the windows: {share:.0%}")


if __name__ == "__main__":
    main()
