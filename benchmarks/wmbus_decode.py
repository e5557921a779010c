"""wM-Bus telegrams decrypted and decoded per second (issue 14 figure: >= 20,000/s), and
received by the collector (checked, stored, committed to parameter memory, not to disk).

Decoding is what the collector does with each telegram the radio hears, from meters it lists
and many it does not. Run with `python -m benchmarks.wmbus_decode` from the repository root.
"""

from __future__ import annotations

import time

from benchmarks.common import header
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.wmbus_collector import ListedMeter, WmbusCollector
from metertwin.protocols.wmbus_app import (
    CI_SHORT_HEADER,
    TransportHeader,
    decode_telegram,
    encrypt_mode5,
)
from metertwin.protocols.wmbus_link import Address, FrameFormat, encode_frame, parse_frame

COUNT = 40_000
TARGET_PER_S = 20_000
RECEIVED = 5_000
KEY = bytes(range(16))
# OMS Vol. 2 Annex N, N.1.1: a gas meter, mode 5, format A (tests/protocols/wmbus_vectors.py)
OMS_GAS = bytes.fromhex(
    "2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493B"
    "C2AD013EC4A6F6D3529B520EDFF0EA6DEFC955B29D6D69EBF3EC8A"
)
OMS_GAS_KEY = bytes.fromhex("0102030405060708090A0B0C0D0E0F11")
# a water meter's usual records: volume, fabrication number, date, volume at the due date,
# flow, error flags
RECORDS = bytes.fromhex("2F2F0413393000000C7832547698046D32371F15441339300000023B130002FD170000")


def _water(identity: int, frame_format: FrameFormat) -> bytes:
    address = Address("KAM", f"{identity:08d}", 0x1B, 0x07)
    blocks = -(-len(RECORDS) // 16)
    configuration = 0x0500 | blocks << 4
    header_ = TransportHeader(address, address.to_bytes(), identity % 256, 0, configuration)
    tpl = bytes([identity % 256, 0]) + configuration.to_bytes(2, "little")
    cipher = encrypt_mode5(header_, RECORDS, KEY)
    return encode_frame(address, CI_SHORT_HEADER, tpl + cipher, frame_format)


def main() -> None:
    header("wM-Bus: telegrams decrypted (mode 5) and decoded per second")
    kinds = [(OMS_GAS, OMS_GAS_KEY), (_water(1, "A"), KEY), (_water(2, "B"), KEY)]
    telegrams = [kinds[i % len(kinds)] for i in range(COUNT)]
    records = 0
    start = time.perf_counter()
    for raw, key in telegrams:
        records += len(decode_telegram(parse_frame(raw), key).records)
    decoded = COUNT / (time.perf_counter() - start)
    model = load_model("metercom-pro")
    meter = Meter(model.spec, 1_780_000_000_000, "11620371")
    collector = WmbusCollector(meter, model)
    for identity in range(1, 65):
        address = Address("KAM", f"{identity:08d}", 0x1B, 0x07)
        collector.add_meter(ListedMeter(address, KEY, 1).to_data())
    received = [_water(1 + i % 64, "A") for i in range(RECEIVED)]
    start = time.perf_counter()
    for number, raw in enumerate(received):
        meter.now_ms += 1000 if number % 64 == 0 else 0
        collector.receive(raw)
    stored = RECEIVED / (time.perf_counter() - start)
    print(
        f"   decode  {decoded:10,.0f} telegrams/s"
        f" (target {TARGET_PER_S:,}/s: x{decoded / TARGET_PER_S:.2f}, {records // COUNT} records"
        f" each)   collector {stored:8,.0f} telegrams/s ({RECEIVED:,}, 64 listed meters)"
    )


if __name__ == "__main__":
    main()
