"""metertwin's side of benchmarks/dlms_cpu_vs_gurux.py: a meter of a built-in model served by
:class:`DlmsTcpServer` on 127.0.0.1, as ``metertwin run`` serves it (same server, same
logical device, same event loop), but with no real-time simulation: the meter's clock stands
still, so the process's CPU time is what answering requests costs.

Run as ``python -m benchmarks.metertwin_register_server [--model az3p] [--profile FILE]``
(``--echo``: a bare echo server on the same event loop instead, the floor of any server;
``--hdlc``: HDLC over TCP, :class:`HdlcTcpServer` at the serial's physical address 6678);
the first stdout line is ``metertwin on 127.0.0.1:PORT``. It serves until SIGTERM or SIGINT;
with ``--profile`` it runs under cProfile from the moment it listens and writes the stats to
FILE when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import signal
import time
from typing import cast

from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.protocols.hdlc_link import physical_address_for_serial
from metertwin.transport import eventloop
from metertwin.transport.hdlc_tcp import HdlcTcpServer, HdlcTcpServerSettings
from metertwin.transport.tcp import DlmsTcpServer, TcpServerSettings

START_MS = 1_780_000_000_000  # 2026-05-28 20:26:40 UTC; any instant does
SERIAL = "12345678"


class Echo(asyncio.BufferedProtocol):
    """Sends back what it reads, reading into its own buffer as metertwin's connections do
    (transport/tcp.py): the floor of any server on this event loop (``--echo``)."""

    def __init__(self) -> None:
        self.buffer = memoryview(bytearray(4096))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's is no subclass

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.transport.write(bytes(self.buffer[:nbytes]))


async def serve(
    model_name: str, profiler: cProfile.Profile | None, echo: bool, hdlc: bool = False
) -> None:
    loop = asyncio.get_running_loop()
    if echo:
        echo_server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = echo_server.sockets[0].getsockname()[1]
    else:
        model = load_model(model_name)
        meter = Meter(model.spec, START_MS, SERIAL)
        device = build_logical_device(model, meter, commit=lambda: None)
        saps = frozenset({model.dlms.server_sap})
        server: DlmsTcpServer
        if hdlc:
            physical = physical_address_for_serial(SERIAL)
            hdlc_settings = HdlcTcpServerSettings(server_saps=saps, physical_address=physical)
            server = HdlcTcpServer(device, "127.0.0.1", 0, hdlc_settings)
        else:
            server = DlmsTcpServer(device, "127.0.0.1", 0, TcpServerSettings(server_saps=saps))
        await server.start()
        port = server.port
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"metertwin on 127.0.0.1:{port}", flush=True)
    if profiler is not None:
        profiler.enable()
    try:
        await stop.wait()
    finally:
        if profiler is not None:
            profiler.disable()
        if echo:
            echo_server.close()
        else:
            await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="az3p")
    parser.add_argument("--profile", metavar="FILE", help="cProfile stats written here at exit")
    parser.add_argument("--echo", action="store_true", help="an echo server on the same loop")
    parser.add_argument("--hdlc", action="store_true", help="HDLC over TCP, not the wrapper")
    args = parser.parse_args()
    # CPU time, not wall time: a send on loopback can hand the CPU to the client mid-call.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    eventloop.run(serve(args.model, profiler, args.echo, args.hdlc))
    if profiler is not None:
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
