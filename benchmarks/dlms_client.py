"""GETs per second and association setup over loopback with our client (issue 3:
>= 8,000 GET/s sequential on one association; association setup <= 1 ms).

A metercom-pro meter runs as `metertwin run` in its own process on 127.0.0.1 (real time,
its household scenario ticking); the client associates as the meter reader (LLS) and reads
1.0.1.8.0.255 attribute 2 in a loop. Run with `python -m benchmarks.dlms_client` from the
repository root.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time

from benchmarks.common import header
from metertwin.cosem.obis import Obis
from metertwin.dlms.client import DlmsClient

ENERGY = Obis(1, 0, 1, 8, 0)


def _start_meter(data: str) -> tuple[subprocess.Popen[str], int]:
    """`metertwin run` as a user starts it, in its own process, on a free port."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "metertwin",
            "run",
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


_ECHO_SERVER = """
import asyncio
class Echo(asyncio.Protocol):
    def connection_made(self, transport): self.transport = transport
    def data_received(self, data): self.transport.write(data)
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def echo_floor(rounds: int = 5_000) -> float:
    """Round trips per second to a bare asyncio echo server on this machine: the ceiling for
    any asyncio server here, whatever it computes."""
    process = subprocess.Popen(
        [sys.executable, "-c", _ECHO_SERVER], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t0 = time.perf_counter()
            for _ in range(rounds):
                sock.sendall(b"\x00\x01\x00\x10\x00\x01\x00\x0d" + bytes(13))
                sock.recv(64)
            return rounds / (time.perf_counter() - t0)
    finally:
        process.kill()
        process.wait()


def main() -> None:
    header("DLMS over loopback: sequential GETs and association setup with our client")
    with tempfile.TemporaryDirectory() as tmp:
        process, port = _start_meter(tmp)
        try:
            setups = []
            for _ in range(50):
                t0 = time.perf_counter()
                client = DlmsClient().connect("127.0.0.1", port, client_sap=0x20, password=b"HELLO")
                setups.append(time.perf_counter() - t0)
                client.release()
                client.close()
            with DlmsClient().connect(
                "127.0.0.1", port, client_sap=0x20, password=b"HELLO"
            ) as meter:
                count, best = 5_000, 0.0
                for _ in range(3):
                    t0 = time.perf_counter()
                    for _ in range(count):
                        meter.get(ENERGY, 3, 2)
                    best = max(best, count / (time.perf_counter() - t0))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
    setups.sort()
    print(
        f"   association setup (TCP connect + AARQ/AARE with LLS): median "
        f"{setups[len(setups) // 2] * 1000:.2f} ms, best {setups[0] * 1000:.2f} ms "
        f"(target <= 1 ms)"
    )
    floor = echo_floor()
    print(f"   sequential GET of 1.0.1.8.0.255: {best:,.0f} GET/s (target >= 8,000)")
    print(
        f"   same loop against a bare asyncio echo server: {floor:,.0f} round trips/s "
        f"(GET/echo ratio {best / floor:.2f})"
    )


if __name__ == "__main__":
    main()
