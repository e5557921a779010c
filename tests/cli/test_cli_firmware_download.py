"""The MeterCom PRO way end to end (issue 15 item 4, seed 004 §5.2): `metertwin run --model
metercom-pro`; our client SETs the URL of a local HTTP/1.1 server in 0.0.44.0.0.255 over
DLMS; the module downloads the image, verifies it, restarts (dropping the connection) and a
new connection reads the new version in 0.0.96.1.5.255."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.runtime.image_server import Served, image_server

from metertwin.cli import main
from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.errors import DlmsConnectionError

MODULE_VERSION = Obis(0, 0, 96, 1, 5)


def _read_version(port: int) -> bytes | None:
    """The module's version, or None while it restarts (connection refused or dropped)."""
    try:
        with DlmsClient().connect("127.0.0.1", port) as reader:
            return reader.get(MODULE_VERSION, 1, 2).as_bytes()
    except DlmsConnectionError:
        return None


def test_a_url_set_over_dlms_upgrades_the_running_module(tmp_path: Path) -> None:
    assert main(["firmware", "keygen", str(tmp_path / "keys")]) == 0
    image = tmp_path / "upgrade.bin"
    key = str(tmp_path / "keys" / "manufacturer-private.pem")
    build = ["firmware", "build", "--model", "metercom-pro", "--version", "3.0.1", "--key", key]
    assert main([*build, "-o", str(image)]) == 0
    config = tmp_path / "meter.toml"
    config.write_text(
        '[firmware]\nmanufacturer_key = "keys/manufacturer-public.pem"\n'
        'download_hosts = ["127.0.0.1"]\n',
        encoding="utf-8",
    )
    served = Served({"/metercom_pro_fw/upgrade.bin": image.read_bytes()})
    command = [
        sys.executable, "-m", "metertwin", "run", "--model", "metercom-pro", "--port", "0",
        "--api-port", "off", "--data", str(tmp_path / "meter"), "--config", str(config),
        "--start", "2026-11-21T10:00", "--speed", "20", "--no-panel",
    ]  # fmt: skip
    with image_server(served) as http_port:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert process.stdout is not None
            first = process.stdout.readline().decode()
            assert first.startswith("DLMS/COSEM on "), first
            port = int(first.rsplit(":", 1)[1])
            url = f"http://127.0.0.1:{http_port}/metercom_pro_fw/upgrade.bin"
            with DlmsClient().connect("127.0.0.1", port, client_sap=1, password=b"UTILITY") as hes:
                assert hes.get(MODULE_VERSION, 1, 2).as_bytes() == b"1.0.0"
                hes.set(Obis(0, 0, 44, 0, 0), 1, 2, Data.octet_string(url.encode()))
                assert hes.get(Obis(0, 0, 44, 0, 0), 1, 2).as_bytes() == url.encode()
            seen = []
            for _ in range(300):  # a bound on the polls, not a timing
                seen.append(_read_version(port))
                if seen[-1] == b"3.0.1":
                    break
                time.sleep(0.1)
            assert seen[-1] == b"3.0.1", seen[-5:]
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
    assert served.requests == [("/metercom_pro_fw/upgrade.bin", None)]
