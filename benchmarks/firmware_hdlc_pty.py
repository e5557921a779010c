"""A firmware image over HDLC on a pty paced at 9600 baud, beside the line-rate minimum for
the octets exchanged (issue 15, "Figures": a 256 KiB image within 1.2x).

A pmm1220 meter runs as `metertwin run --serial-line pty --baud 9600 --pace-line` in its own
process (the meter's end paces both ways at 10 bits an octet, serial_line.py). A first
HDLC connection of the management association SETs the meter's class 23 (0.0.22.0.0.255)
to offer information fields of 2030 octets and a window of 7 both ways (a SET takes effect
at the next SNRM, docs/hdlc.md); a second one, proposing the same, transfers the image
(`send_image`: every 1024-octet block in one ACTION, which the server's 1024-octet APDU
limit splits into two parameter blocks, each answered after the meter committed it) and
verifies it. The octets are counted on the client's end of the line, both ways, from the
SNRM of the transfer's connection to the end of the transfer; the minimum is ``octets x 10 /
9600``, the time the line itself needs with no turnaround; the payload's own minimum (the
image's octets alone) is printed beside it. Run with
`python -m benchmarks.firmware_hdlc_pty [--kib N]` (256 KiB takes about 5 minutes).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from benchmarks.common import header
from benchmarks.firmware_transfer import meter_config
from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.hdlc import HdlcCarrier, SerialLine, server_address
from metertwin.dlms.client.image_transfer import send_image, verify
from metertwin.meter.firmware_image import build_image

BAUD = 9600
BITS_PER_OCTET = 10
TARGET = 1.2
MAX_INFO = 2030  # the most class 23 allows (Blue Book 4.7.2): one I-frame per APDU
WINDOW = 7
HDLC_SETUP = Obis(0, 0, 22, 0, 0)
ALL_STATIONS = 0x3FFF  # the meter alone on its line takes it as its own
MANAGEMENT = 1  # pmm1220's management association, its default secret
SECRET = b"00000002"


class CountingLine:
    """The client's end of the pty, counting the octets each way."""

    def __init__(self, device: str) -> None:
        self.line = SerialLine(device, BAUD)
        self.peer = self.line.peer
        self.sent = self.received = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)
        self.line.write(data)

    def read(self, wait: float) -> bytes:
        data = self.line.read(wait)
        self.received += len(data)
        return data

    def close(self) -> None:
        self.line.close()


def offer_large_frames(device: str) -> None:
    """SET class 23: information fields of MAX_INFO and windows of WINDOW, both ways."""
    carrier = HdlcCarrier(SerialLine(device, BAUD), server_address(1, ALL_STATIONS), MANAGEMENT)
    with DlmsClient().open(carrier, SECRET) as meter:
        for attribute in (3, 4):
            meter.set(HDLC_SETUP, 23, attribute, Data.unsigned(WINDOW))
        for attribute in (5, 6):
            meter.set(HDLC_SETUP, 23, attribute, Data.long_unsigned(MAX_INFO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kib", type=int, default=256, help="the payload in KiB (256)")
    kib = parser.parse_args().kib
    header(f"Firmware: a {kib} KiB image over HDLC on a pty paced at {BAUD} baud")
    key = ec.generate_private_key(ec.SECP256R1())  # a throwaway demo key
    image = build_image("pmm1220", "9.9.9", os.urandom(kib * 1024), key)
    with tempfile.TemporaryDirectory() as work:
        config = meter_config(Path(work), key)
        process = subprocess.Popen(
            [
                sys.executable, "-m", "metertwin", "run", "--api-port", "off",
                "--model", "pmm1220", "--data", str(Path(work) / "meter"), "--port", "0",
                "--serial-line", "pty", "--baud", str(BAUD), "--pace-line", "--no-panel",
                "--config", str(config),
            ],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            process.stdout.readline()  # DLMS/COSEM on ...
            found = re.match(r"HDLC on (\S+) ", process.stdout.readline())
            assert found is not None, "no HDLC line"
            device = found.group(1)
            offer_large_frames(device)
            line = CountingLine(device)
            t0 = time.perf_counter()
            carrier = HdlcCarrier(
                line, server_address(1, ALL_STATIONS), MANAGEMENT, 30.0, MAX_INFO, WINDOW
            )
            with DlmsClient(timeout=30.0).open(carrier, SECRET) as meter:
                t1 = time.perf_counter()
                blocks = send_image(meter, image)
                transfer = time.perf_counter() - t0
                octets = line.sent + line.received
                association = t1 - t0
                negotiated = carrier.link.parameters
                verify(meter, poll_s=0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    minimum = octets * BITS_PER_OCTET / BAUD
    payload = len(image) * BITS_PER_OCTET / BAUD
    ratio = transfer / minimum
    verdict = "met" if ratio <= TARGET else "NOT met"
    assert negotiated is not None
    print(
        f"   {len(image):,} bytes in {blocks} blocks; {line.sent:,} octets sent,"
        f" {line.received:,} received; the UA's information fields"
        f" {negotiated.max_info_transmit}/{negotiated.max_info_receive},"
        f" windows {negotiated.window_transmit}/{negotiated.window_receive}"
    )
    print(
        f"   elapsed {transfer:.1f} s (SNRM, AARQ {association:.2f} s, blocks); line-rate"
        f" minimum {minimum:.1f} s at {BAUD} baud: {ratio:.3f}x"
        f" (target <= {TARGET}x: {verdict})"
    )
    print(
        f"   the image's octets alone need {payload:.1f} s: elapsed is"
        f" {transfer / payload:.3f}x that (framing, A-XDR, answers and turnaround)"
    )


if __name__ == "__main__":
    main()
