"""A week of a 15-minute, 8-channel load profile (672 rows) read over HDLC on a pty paced at
9600 baud, beside the line-rate minimum for the octets exchanged (issue 13, "Figures":
within 1.2x).

Simulates a week of a pmm1220 meter (profile 1.0.99.1.0.255: clock, status, +A, -A, +R, -R,
voltage, current), resumes it with `metertwin run --serial-line pty --pace-line` in its own
process, and reads the week with selective access by range through gurux's GXDLMSClient
(GPL, benchmark-only: it builds and parses the frames; the octets go over the pty here). The
meter's end paces both ways at 10 bits an octet (serial_line.py), so the minimum is
``octets both ways x 10 / 9600``: the time the line itself needs, with no turnaround. The
elapsed time counts from SNRM to the UA of DISC. Run with `python -m benchmarks.hdlc_pty_profile`.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import tty
from datetime import datetime
from typing import Any

from gurux_dlms import GXByteBuffer, GXDLMSClient, GXReplyData
from gurux_dlms.enums import Authentication, InterfaceType
from gurux_dlms.objects import GXDLMSProfileGeneric

from benchmarks.common import header

BAUD = 9600
BITS_PER_OCTET = 10
PROFILE = "1.0.99.1.0.255"
TARGET = 1.2


class PtyClient:
    """gurux's client on the pty's slave, counting the octets each way."""

    def __init__(self, path: str, physical_address: int) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.client = GXDLMSClient(
            True, 0x20, GXDLMSClient.getServerAddress(1, physical_address), Authentication.LOW,
            b"00000001", InterfaceType.HDLC,
        )  # fmt: skip
        self.sent = self.received = 0

    def exchange(self, frames: Any) -> GXReplyData:
        reply = GXReplyData()
        for frame in frames if isinstance(frames, list) else [frames]:
            self._round_trip(frame, reply)
        while reply.isMoreData():
            self._round_trip(self.client.receiverReady(reply), reply)
        return reply

    def _round_trip(self, frame: bytes | bytearray, reply: GXReplyData) -> None:
        data = bytes(frame)
        self.sent += len(data)
        os.write(self.fd, data)
        incoming = GXByteBuffer()
        while not self.client.getData(incoming, reply, None):
            ready, _, _ = select.select([self.fd], [], [], 30)
            if not ready:
                raise TimeoutError("no answer on the pty")
            chunk = os.read(self.fd, 4096)
            self.received += len(chunk)
            incoming.set(chunk)


def main() -> None:
    header("HDLC on a pty paced at 9600 baud: a week of load profile (15 min, 8 channels)")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "pmm1220")
        # The constant scenario: no power cut leaves a gap, every one of the 672 rows is there.
        subprocess.run(
            [
                sys.executable, "-m", "metertwin", "simulate", "--model", "pmm1220", "--data",
                data, "--scenario", "constant", "--start", "2026-01-05T00:00",
                "--until", "2026-01-12T00:00", "--progress", "none",
            ],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        process = subprocess.Popen(
            [
                sys.executable, "-m", "metertwin", "run", "--api-port", "off",
                "--data", data, "--port", "0",
                "--serial-line", "pty", "--baud", str(BAUD), "--pace-line", "--no-panel",
            ],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        process.stdout.readline()  # DLMS/COSEM on ...
        match = re.match(r"HDLC on (\S+) .* physical address (\d+) ", process.stdout.readline())
        assert match is not None, "no HDLC line"
        try:
            line = PtyClient(match.group(1), int(match.group(2)))
            client = line.client
            profile = GXDLMSProfileGeneric(PROFILE)
            t0 = time.perf_counter()
            client.parseUAResponse(line.exchange(client.snrmRequest()).data)
            client.parseAareResponse(line.exchange(client.aarqRequest()).data)
            reply = line.exchange(client.read(profile, 3))
            client.updateValue(profile, 3, reply.value)
            # A range around the week (gurux sends it in its own time zone): every row stored.
            start, end = datetime(2026, 1, 4), datetime(2026, 1, 13)
            reply = line.exchange(client.readRowsByRange(profile, start, end))
            client.updateValue(profile, 2, reply.value)
            rows = profile.buffer
            line.exchange(client.releaseRequest())
            line.exchange(client.disconnectRequest())
            elapsed = time.perf_counter() - t0
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
    octets = line.sent + line.received
    minimum = octets * BITS_PER_OCTET / BAUD
    columns = len(rows[0]) if rows else 0
    print(
        f"   rows from {rows[0][0]} to {rows[-1][0]} (as gurux shows them)"
        if rows
        else "   no rows"
    )
    print(
        f"   {len(rows)} rows x {columns} columns; {line.sent:,} octets sent,"
        f" {line.received:,} received (max info field 128, window 1)"
    )
    ratio = elapsed / minimum
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(
        f"   elapsed {elapsed:.2f} s; line-rate minimum {minimum:.2f} s at {BAUD} baud:"
        f" {ratio:.3f}x (target <= {TARGET}x: {verdict})"
    )


if __name__ == "__main__":
    main()
