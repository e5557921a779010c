"""Issue 19.1 over real TCP: a clock SET the meter cannot keep never bricks `metertwin run`.

A head-end on the utility association (client SAP 1; docs/dlms.md, associations) writes the
clock `0.0.1.0.0.255` attribute 2 with well-formed date-times in year 1, 2, 9998, 9999 and
9999-12-31 23:58 (which raised OverflowError on pmm1220). Each is refused with the clock's
own result (type-unmatched; docs/dlms.md "Date-times": the clock keeps 1971..2199 UTC), the
running meter goes on answering past its next ticks, and after a commit and a restart of the
process on the same memory it loads and runs: a memory that loads must always be able to run.
"""

from __future__ import annotations

import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest
from benchmarks.common import start_meter

from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import DataAccessResult
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.errors import DataAccessError
from metertwin.models import load_model

CLOCK = "0.0.1.0.0.255"
UTILITY_SAP = 1


def date_time(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> bytes:
    """A well-formed 12-octet date-time (Blue Book 4.1.6.1): day of week not specified,
    deviation as given by the test (UTC+3 written -180), clock status 0."""
    return struct.pack(">HBBBBBBBhB", year, month, day, 0xFF, hour, minute, 0, 0, -180, 0)


UNKEEPABLE = {
    "year 1": date_time(1, 1, 1),
    "year 2": date_time(2, 1, 1),
    "year 9998": date_time(9998, 1, 1),
    "year 9999": date_time(9999, 1, 1),
    "9999-12-31 23:58": date_time(9999, 12, 31, 23, 58),
}


def utility_secret(model: str) -> str:
    spec = load_model(model)
    utility = next(a for a in spec.dlms.associations if a.client_sap == UTILITY_SAP)
    return spec.spec.security.default_secrets[utility.name]


def read_clock(port: int, secret: str) -> CosemDateTime:
    with DlmsClient(timeout=10).connect("127.0.0.1", port, UTILITY_SAP, 1, password=secret) as m:
        return CosemDateTime.from_bytes(m.get(CLOCK, 8, 2).as_bytes())


def stop(process: subprocess.Popen[bytes]) -> str:
    """Ctrl-C, as a user stops it (the meter commits on the way out); its stderr."""
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    return err.decode(errors="replace")


@pytest.mark.parametrize("model", ["pmm1220", "metercom-pro"])
def test_clock_sets_the_meter_cannot_keep_are_refused_and_it_restarts(
    model: str, tmp_path: Path
) -> None:
    secret = utility_secret(model)
    data = str(tmp_path / model)
    process, port = start_meter(model, data, "60")
    try:
        with DlmsClient(timeout=10).connect(
            "127.0.0.1", port, UTILITY_SAP, 1, password=secret
        ) as meter:
            for label, raw in UNKEEPABLE.items():
                with pytest.raises(DataAccessError) as refused:
                    meter.set(CLOCK, 8, 2, Data.octet_string(raw))
                assert refused.value.result is DataAccessResult.TYPE_UNMATCHED, label
        before = read_clock(port, secret)
        time.sleep(1.2)  # past the meter's next ticks: the process died there before
        assert process.poll() is None
        after = read_clock(port, secret)
        assert before.year is not None and 2026 <= before.year == after.year <= 2027
    finally:
        err = stop(process) if process.poll() is None else process.communicate()[1].decode()
    assert process.returncode == 0, err
    assert "Traceback" not in err

    again, again_port = start_meter(model, data, "60")  # its memory loads ...
    try:
        first = read_clock(again_port, secret)
        time.sleep(1.2)
        assert again.poll() is None  # ... and runs
        assert read_clock(again_port, secret).year == first.year
    finally:
        err = stop(again)
    assert again.returncode == 0, err
