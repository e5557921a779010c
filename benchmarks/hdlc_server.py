"""Server CPU per GET over HDLC beside the wrapper's, sans-IO (issue 13, "Figures": HDLC GET
<= 1.5x the wrapper's).

The az3p logical device bound to its core, one association each way (reference AARQ, public
client), then GET 1.0.1.8.0.255 attribute 2 in a loop: for the wrapper, decoder + server +
encoder as benchmarks/dlms_server.py; for HDLC, the I-frame (N(S)/N(R) going round modulo 8)
through :class:`HdlcServerLink` (flags, HCS/FCS, addresses, sequence numbers, LLC), the same
server, and the answer's I-frame. No socket: the framing costs, not the event loop's.
Wrapper and HDLC are timed in turn, in many short rounds of the process's CPU time, best
round: on a machine shared with other work, wall time and long rounds swung the ratio by
half of itself, short CPU-time rounds in turn keep it within a few hundredths.

Then the same over a real loopback socket, as a meter's server pays it: two server processes
(benchmarks/metertwin_register_server.py, the az3p meter with its clock standing still, one
on the wrapper, one with ``--hdlc``: the event loop, the socket reads and writes, the
transport's timers and the link), one association each (public client, reference AARQ), and
GET frames made beforehand sent back to back, each once the previous answer is in, as
benchmarks/dlms_cpu_vs_gurux.py measures server CPU: the server process's user + system CPU
time (/proc/PID/stat) over the GET loop only, in windows alternating between the two, best
window and median. Run with `python -m benchmarks.hdlc_server [--rounds N] [--windows W]`
from the repository root; docs/hdlc.md "Figures" has the numbers.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable

from benchmarks.common import header
from benchmarks.dlms_cpu_vs_gurux import SERVER_MODULE, WARM_UP, Cpu, Server, start
from benchmarks.dlms_server import AARQ, CLIENT, GET_ENERGY, SERVER
from metertwin.dlms.server.connection import ServerConnection
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    control_i,
    control_u,
)
from metertwin.protocols.hdlc_link import (
    LLC_COMMAND,
    ApduReceived,
    HdlcServerLink,
    ServerLinkSettings,
)
from metertwin.protocols.wrapper import WrapperDecoder, WrapperFrame, encode_frame

PHYSICAL = 6678  # serial 12345678 (docs/hdlc.md)
ROUNDS = 400  # short rounds, taken in turn
CALLS = 8 * 32  # GETs a round: a whole number of N(S) cycles
SOCKET_ROUNDS = 8 * 1_250  # GETs per window over the socket: CPU time counts in 10 ms ticks
SOCKET_WINDOWS = 5
TARGET = 1.5
WRAPPER_HEADER = 8


def _connection() -> ServerConnection:
    model = load_model("az3p")
    device = build_logical_device(model, Meter(model.spec, 1_780_000_000_000), lambda: None)
    return ServerConnection(device, SERVER)


def wrapper_get() -> Callable[[], None]:
    connection = _connection()
    assert connection.receive(CLIENT, AARQ) is not None
    frame = WrapperFrame(CLIENT, SERVER, GET_ENERGY).encode()
    decoder = WrapperDecoder()

    def get() -> None:
        for request in decoder.feed(frame):
            reply = connection.receive(request.source, request.payload)
            assert reply is not None
            request.reply(reply).encode()

    return get


def wrapper_get_as_served() -> Callable[[], None]:
    """The wrapper as ``transport/tcp.py`` answers: the reply encoded by ``encode_frame``,
    without a :class:`WrapperFrame` (cheaper than :func:`wrapper_get`'s ``reply().encode()``)."""
    connection = _connection()
    assert connection.receive(CLIENT, AARQ) is not None
    frame = WrapperFrame(CLIENT, SERVER, GET_ENERGY).encode()
    decoder = WrapperDecoder()

    def get() -> None:
        for request in decoder.feed(frame):
            reply = connection.receive(request.source, request.payload)
            assert reply is not None
            encode_frame(request.destination, request.source, reply)

    return get


def hdlc_get() -> Callable[[], None]:
    connection = _connection()
    link = HdlcServerLink(ServerLinkSettings(physical_address=PHYSICAL))
    server, client = HdlcAddress(SERVER, PHYSICAL, 4), HdlcAddress(CLIENT)

    def frame(control: int, apdu: bytes = b"") -> bytes:
        information = LLC_COMMAND + apdu if apdu else b""
        return HdlcFrame(server, client, control, information).encode()

    def exchange(octets: bytes) -> bytes:
        output = link.receive(octets, 0.0)
        answer = output.transmit
        for event in output.events:
            if isinstance(event, ApduReceived):
                answer += link.respond(connection.receive(event.client, event.apdu))
        return answer

    assert exchange(frame(control_u(FrameType.SNRM, True)))
    assert exchange(frame(control_i(0, 0, True), AARQ))
    # GET number k goes as N(S) = N(R) = k mod 8: the server has answered k frames before it.
    gets = [frame(control_i(k, k, True), GET_ENERGY) for k in range(8)]
    turn = [1]

    def get() -> None:
        k = turn[0]
        turn[0] = (k + 1) % 8
        assert exchange(gets[k])

    return get


def best_in_turn(gets: list[Callable[[], None]]) -> list[float]:
    """The best CPU time per call of each, in short rounds taken in turn, so a busy machine
    slows them alike and a round the process lost its core in counts for nothing."""
    best = [float("inf")] * len(gets)
    for _ in range(ROUNDS):
        for index, get in enumerate(gets):
            t0 = time.process_time_ns()
            for _ in range(CALLS):
                get()
            best[index] = min(best[index], (time.process_time_ns() - t0) / CALLS / 1e9)
    return best


class WrapperPeer:
    """The public client on the wrapper: association, then the one GET frame again and again."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.round_trip(WrapperFrame(CLIENT, SERVER, AARQ).encode())
        get = WrapperFrame(CLIENT, SERVER, GET_ENERGY).encode()
        self.gets = [get] * 8

    def round_trip(self, frame: bytes) -> bytes:
        self.socket.sendall(frame)
        answer = b""
        while len(answer) < WRAPPER_HEADER or len(answer) < WRAPPER_HEADER + int.from_bytes(
            answer[6:8], "big"
        ):
            chunk = self.socket.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            answer += chunk
        return answer

    def close(self) -> None:
        self.socket.close()


class HdlcPeer(WrapperPeer):
    """The public client on HDLC: SNRM, the AARQ in an I-frame, then GET I-frames made
    beforehand, N(S) = N(R) = k mod 8 for the k-th frame the server has answered."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server, client = HdlcAddress(SERVER, PHYSICAL, 4), HdlcAddress(CLIENT)

        def frame(control: int, apdu: bytes = b"") -> bytes:
            information = LLC_COMMAND + apdu if apdu else b""
            return HdlcFrame(server, client, control, information).encode()

        ua = self.round_trip(frame(control_u(FrameType.SNRM, True)))
        assert HdlcDecoder().feed(ua)[0].kind is FrameType.UA
        self.round_trip(frame(control_i(0, 0, True), AARQ))
        self.gets = [frame(control_i(k, k, True), GET_ENERGY) for k in range(1, 8)]
        self.gets.append(frame(control_i(0, 0, True), GET_ENERGY))

    def round_trip(self, frame: bytes) -> bytes:
        """``frame`` sent; the one HDLC frame that answers it (its length field says when)."""
        self.socket.sendall(frame)
        answer = b""
        while len(answer) < 3 or len(answer) < ((answer[1] & 0x07) << 8 | answer[2]) + 2:
            chunk = self.socket.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            answer += chunk
        return answer


def cpu_per_get_over_socket(server: Server, peer: WrapperPeer, rounds: int) -> Cpu:
    """``rounds`` GETs back to back (a multiple of 8); the server process's CPU per GET."""
    gets = peer.gets
    for k in range(WARM_UP):
        peer.round_trip(gets[k % 8])
    before = server.cpu()
    for k in range(rounds):
        peer.round_trip(gets[k % 8])
    used = server.cpu() - before
    return Cpu(used.user / rounds, used.system / rounds)


def over_socket(rounds: int, windows: int) -> tuple[float, float]:
    """Best windows of the wrapper's and HDLC's server CPU per GET over loopback TCP."""
    wrapper = start("metertwin wrapper", SERVER_MODULE, "--model", "az3p")
    hdlc = start("metertwin HDLC", SERVER_MODULE, "--model", "az3p", "--hdlc")
    measured: dict[str, list[Cpu]] = {"wrapper": [], "HDLC": []}
    peers: list[WrapperPeer] = []
    try:
        peers = [WrapperPeer(wrapper.port), HdlcPeer(hdlc.port)]
        for _ in range(windows):
            measured["wrapper"].append(cpu_per_get_over_socket(wrapper, peers[0], rounds))
            measured["HDLC"].append(cpu_per_get_over_socket(hdlc, peers[1], rounds))
    finally:
        for peer in peers:
            peer.close()
        wrapper.stop()
        hdlc.stop()
    best: list[float] = []
    for name, figures in measured.items():
        top = min(figures, key=lambda cpu: cpu.total)
        median = statistics.median(cpu.total for cpu in figures) * 1e6
        print(
            f"   {name + ' GET of 1.0.1.8.0.255:':<30} {top.total * 1e6:6.1f} us (user"
            f" {top.user * 1e6:5.1f} + system {top.system * 1e6:5.1f}; median {median:6.1f})"
        )
        best.append(top.total)
    return best[0], best[1]


def verdict(wrapper: float, hdlc: float) -> str:
    met = "met" if hdlc <= TARGET * wrapper else "not met"
    return f"HDLC / wrapper: {hdlc / wrapper:.2f}x (target <= {TARGET}x: {met})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=SOCKET_ROUNDS, help="GETs per window")
    parser.add_argument("--windows", type=int, default=SOCKET_WINDOWS)
    args = parser.parse_args()
    rounds = max(8, args.rounds // 8 * 8)
    header("DLMS server: one GET over HDLC beside the wrapper, sans-IO")
    wrapper, hdlc, served = best_in_turn([wrapper_get(), hdlc_get(), wrapper_get_as_served()])
    timing = f"CPU time, best of {ROUNDS} x {CALLS}"
    print(f"   wrapper GET of 1.0.1.8.0.255: {wrapper * 1e6:6.2f} us ({timing})")
    print(f"   HDLC GET of 1.0.1.8.0.255:    {hdlc * 1e6:6.2f} us ({timing})")
    sans_io = verdict(wrapper, hdlc)
    print(f"   sans-IO {sans_io}")
    print(
        f"   (the wrapper encoded as transport/tcp.py does, encode_frame: {served * 1e6:.2f} us;"
        f" {verdict(served, hdlc)})"
    )
    header("The same, server process CPU over a loopback socket (requests made beforehand)")
    print(f"   {args.windows} windows x {rounds:,} GETs back to back, best window:")
    wrapper_socket, hdlc_socket = over_socket(rounds, args.windows)
    print(f"   over the socket {verdict(wrapper_socket, hdlc_socket)}")
    print(f"   sans-IO {sans_io}")


if __name__ == "__main__":
    main()
