"""Server CPU per GET over HDLC beside the wrapper's, sans-IO (issue 13, "Figures": HDLC GET
<= 1.5x the wrapper's).

The az3p logical device bound to its core, one association each way (reference AARQ, public
client), then GET 1.0.1.8.0.255 attribute 2 in a loop: for the wrapper, decoder + server +
encoder as benchmarks/dlms_server.py; for HDLC, the I-frame (N(S)/N(R) going round modulo 8)
through :class:`HdlcServerLink` (flags, HCS/FCS, addresses, sequence numbers, LLC), the same
server, and the answer's I-frame. No socket: the framing costs, not the event loop's.
Wrapper and HDLC are timed in turn, best of 7, so a busy machine slows both alike. Run with
`python -m benchmarks.hdlc_server` from the repository root; docs/hdlc.md "Figures" has the numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.common import header
from benchmarks.dlms_server import AARQ, CLIENT, GET_ENERGY, SERVER
from metertwin.dlms.server.connection import ServerConnection
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.protocols.hdlc_frame import FrameType, HdlcAddress, HdlcFrame, control_i, control_u
from metertwin.protocols.hdlc_link import (
    LLC_COMMAND,
    ApduReceived,
    HdlcServerLink,
    ServerLinkSettings,
)
from metertwin.protocols.wrapper import WrapperDecoder, WrapperFrame

PHYSICAL = 6678  # serial 12345678 (docs/hdlc.md)
ROUNDS = 8 * 2_500  # a whole number of N(S) cycles


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


def best_of_7(gets: list[Callable[[], None]]) -> list[float]:
    """The best time per call of each, in rounds taken in turn, so a busy machine slows them
    alike."""
    best = [float("inf")] * len(gets)
    for _ in range(7):
        for index, get in enumerate(gets):
            t0 = time.perf_counter()
            for _ in range(ROUNDS):
                get()
            best[index] = min(best[index], (time.perf_counter() - t0) / ROUNDS)
    return best


def main() -> None:
    header("DLMS server: one GET over HDLC beside the wrapper, sans-IO")
    wrapper, hdlc = best_of_7([wrapper_get(), hdlc_get()])
    print(f"   wrapper GET of 1.0.1.8.0.255: {wrapper * 1e6:6.1f} us (best of 7 x {ROUNDS:,})")
    print(f"   HDLC GET of 1.0.1.8.0.255:    {hdlc * 1e6:6.1f} us (best of 7 x {ROUNDS:,})")
    verdict = "met" if hdlc <= 1.5 * wrapper else "not met"
    print(f"   HDLC / wrapper: {hdlc / wrapper:.2f}x (target <= 1.5x: {verdict})")


if __name__ == "__main__":
    main()
