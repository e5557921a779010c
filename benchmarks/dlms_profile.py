"""A year of a 15-minute, 8-channel load profile (35,040 rows) read by range over loopback
with our client (issues 3 and 5: <= 1.5 s).

Simulates a year of a pmm1220 meter (its profile 1.0.99.1.0.255: clock, status, +A, -A,
+R, -R, voltage, current), resumes it with `metertwin run` in its own process, and reads the
whole year with selective access by range. Run with `python -m benchmarks.dlms_profile`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime

from benchmarks.common import header, simulate
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient

PROFILE = Obis(1, 0, 99, 1, 0)


def main() -> None:
    header("DLMS: a year of load profile (15 min, 8 channels) read by range over loopback")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "pmm1220")
        t0 = time.perf_counter()
        simulate("pmm1220", data, "2025-01-01T00:00", "2026-01-01T00:00")
        size = sum(f.stat().st_size for f in os.scandir(data)) / 1e6
        print(
            f"   simulated a year in {time.perf_counter() - t0:.1f} s; memory {size:.1f} MB "
            f"(profiles in SQLite)"
        )
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "metertwin",
                "run",
                "--api-port",
                "off",
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
        port = int(process.stdout.readline().rsplit(":", 1)[1])
        try:
            with DlmsClient(timeout=60).connect(
                "127.0.0.1", port, client_sap=32, password=b"00000001"
            ) as meter:
                t0 = time.perf_counter()
                rows = meter.profile(
                    PROFILE, datetime(2025, 1, 1, 0, 15), datetime(2026, 1, 1, 0, 0)
                )
                elapsed = time.perf_counter() - t0
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
    print(
        f"   {len(rows):,} rows x {len(rows[0]) if rows else 0} columns in {elapsed:.2f} s "
        f"(target <= 1.5 s)"
    )


if __name__ == "__main__":
    main()
