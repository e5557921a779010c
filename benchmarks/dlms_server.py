"""Server-side cost of one GET through the sans-IO stack, no socket (issue 3: <= 40 us).

The real logical device of the az3p model bound to its meter core, a real association
(reference AARQ, no security, public client), then GET 1.0.1.8.0.255 attribute 2: wrapper
decoding, APDU decoding, rights check, the register read from the core, encoding, wrapper.
Run with `python -m benchmarks.dlms_server` from the repository root.
"""

from __future__ import annotations

import time

from benchmarks.common import header
from metertwin.dlms.server.connection import ServerConnection
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.protocols.wrapper import WrapperDecoder, WrapperFrame

# Green Book AARQ without security (reference/dlms.md 5, DC test_aarq.py)
AARQ = bytes.fromhex("601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0")
GET_ENERGY = bytes.fromhex("C001C100030100010800FF0200")  # reference/dlms.md 5 "GET"
CLIENT, SERVER = 0x10, 1


def main() -> None:
    header("DLMS server: one GET through wrapper + xDLMS + logical device, no socket")
    model = load_model("az3p")
    meter = Meter(model.spec, 1_780_000_000_000)
    device = build_logical_device(model, meter, lambda: None)
    connection = ServerConnection(device, SERVER)
    answer = connection.receive(CLIENT, AARQ)
    assert answer is not None and answer[:1] == b"\x61"
    frame = WrapperFrame(CLIENT, SERVER, GET_ENERGY).encode()
    decoder = WrapperDecoder()
    best = float("inf")
    rounds = 20_000
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(rounds):
            for request in decoder.feed(frame):
                reply = connection.receive(request.source, request.payload)
                assert reply is not None
                request.reply(reply).encode()
        best = min(best, (time.perf_counter() - t0) / rounds)
    print(
        f"   one GET of 1.0.1.8.0.255: {best * 1e6:6.1f} us (best of 5 x {rounds:,}; "
        f"target <= 40 us)"
    )


if __name__ == "__main__":
    main()
