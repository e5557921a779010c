"""A 256 KiB firmware image over the wrapper on loopback, block size 1024 (issue 15: <= 2 s).

A pmm1220 meter runs as `metertwin run` in its own process on 127.0.0.1 with a demo
manufacturer key in its config; our client opens the management association and sends the
257 blocks (image_block_transfer, each answered only after the meter committed it), then
verifies. The verification and activation times are the meter's simulated ones (VERIFY_MS,
ACTIVATE_MS in meter/firmware.py), printed for what they are. Each block costs one durable
SQLite commit (WAL, synchronous=FULL: an fsync), so the same number of bare commits (a
block and a state row each) is timed in the same directory first: the floor the disk sets
at that moment. Run with `python -m benchmarks.firmware_transfer` from the repository root.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from benchmarks.common import header
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.image_transfer import send_image, verify
from metertwin.meter.firmware_image import build_image

PAYLOAD = 256 * 1024
BLOCK = 1024


def durable_commits(directory: Path, count: int) -> float:
    """Seconds for ``count`` commits of one block and a state row each (the meter's state
    JSON is about 7 kB), as durable as the meter's."""
    db = sqlite3.connect(directory / "floor.db", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE blocks (number INTEGER PRIMARY KEY, value BLOB)")
        db.execute("CREATE TABLE state (id INTEGER PRIMARY KEY, state TEXT)")
        db.execute("INSERT INTO state VALUES (1, '')")
        value, state = os.urandom(BLOCK), "s" * 7_000
        t0 = time.perf_counter()
        for number in range(count):
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE state SET state = ? WHERE id = 1", (f"{number}{state}",))
            db.execute("INSERT INTO blocks VALUES (?, ?)", (number, value))
            db.execute("COMMIT")
        return time.perf_counter() - t0
    finally:
        db.close()


def meter_config(directory: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    """A meter config in ``directory`` naming ``key``'s public half as the manufacturer's."""
    public = directory / "manufacturer-public.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    config = directory / "meter.toml"
    config.write_text(f'[firmware]\nmanufacturer_key = "{public}"\n', encoding="utf-8")
    return config


def main() -> None:
    header("Firmware: a 256 KiB image over the wrapper on loopback, block size 1024")
    key = ec.generate_private_key(ec.SECP256R1())  # a throwaway demo key
    image = build_image("pmm1220", "9.9.9", os.urandom(PAYLOAD), key)
    blocks_in_image = -(-len(image) // BLOCK)
    with tempfile.TemporaryDirectory() as work:
        floor = durable_commits(Path(work), blocks_in_image)
        config = meter_config(Path(work), key)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "metertwin",
                "run",
                "--api-port",
                "off",
                "--model",
                "pmm1220",
                "--data",
                str(Path(work) / "meter"),
                "--port",
                "0",
                "--no-panel",
                "--config",
                str(config),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline().rsplit(":", 1)[1])
            with DlmsClient().connect(
                "127.0.0.1", port, client_sap=1, password=b"00000002"
            ) as meter:
                t0 = time.perf_counter()
                blocks = send_image(meter, image)
                transfer = time.perf_counter() - t0
                t1 = time.perf_counter()
                verify(meter, poll_s=0.05)
                verifying = time.perf_counter() - t1
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
    print(
        f"   {len(image):,} bytes in {blocks} blocks: {transfer:.2f} s "
        f"({len(image) / transfer / 1024:.0f} KiB/s; target <= 2 s)"
    )
    print(
        f"   floor: {blocks_in_image} bare commits (block + state), same directory: {floor:.2f} s"
    )
    print(f"   verify (simulated {2.0:.1f} s in meter time, polled): {verifying:.2f} s")


if __name__ == "__main__":
    main()
