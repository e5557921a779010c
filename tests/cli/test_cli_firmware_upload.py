"""`metertwin firmware upload` against `metertwin run` over a real socket (issue 15, item 6):
the whole transfer, verify and activate, the restart dropping the open connections; a meter
killed mid-transfer keeps every block it answered and the next upload sends only the rest."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.running import meter_running

from metertwin.cli import main
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.errors import DlmsConnectionError
from metertwin.dlms.client.image_transfer import send_image

BLOCKS = 40  # a 40 KiB image in 1 KiB blocks


class _Cut(Exception):
    pass


def _setup(tmp_path: Path, blocks: int = BLOCKS) -> tuple[Path, Path]:
    """A signed 4.2.0 image of ``blocks`` blocks (the payload one block short, the header
    and signature fill the last) and a meter config holding the manufacturer key."""
    assert main(["firmware", "keygen", str(tmp_path / "keys")]) == 0
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 4 * (blocks - 1))
    image = tmp_path / "image.bin"
    key = str(tmp_path / "keys" / "manufacturer-private.pem")
    build = ["firmware", "build", "--model", "pmm1220", "--version", "4.2.0", "--key", key]
    assert main([*build, "--payload", str(payload), "-o", str(image)]) == 0
    config = tmp_path / "meter.toml"
    config.write_text(
        '[firmware]\nmanufacturer_key = "keys/manufacturer-public.pem"\n', encoding="utf-8"
    )
    return image, config


def test_an_upload_resumes_after_the_meter_was_killed_and_then_activates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, config = _setup(tmp_path)
    data = tmp_path / "meter"

    def cut_after_ten(done: int, _total: int) -> None:
        if done == 10:
            raise _Cut

    command = [
        sys.executable, "-m", "metertwin", "run", "--api-port", "off", "--model", "pmm1220",
        "--data", str(data),
        "--port", "0", "--start", "2026-11-21T10:00", "--no-panel", "--config", str(config),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().decode().rsplit(":", 1)[1])
        client = DlmsClient().connect("127.0.0.1", port, client_sap=1, password=b"00000002")
        with pytest.raises(_Cut):
            send_image(client, image.read_bytes(), cut_after_ten)
        process.kill()  # SIGKILL: no shutdown, the memory holds what was committed
    finally:
        process.kill()
        process.communicate(timeout=30)
    with meter_running(data, config=config) as port:
        watcher = DlmsClient().connect("127.0.0.1", port)  # a connection open before
        assert watcher.get(Obis(1, 0, 0, 2, 0), 1, 2).as_bytes() == b"1.0.0"
        assert main(["firmware", "upload", f"127.0.0.1:{port}", str(image)]) == 0
        with pytest.raises(DlmsConnectionError):  # the restart dropped it
            watcher.get(Obis(1, 0, 0, 2, 0), 1, 2)
        watcher.close()
        out = capsys.readouterr().out
        sent = int(re.search(r"(\d+) blocks sent", out).group(1))  # type: ignore[union-attr]
        assert sent == BLOCKS - 10
        assert "activated: firmware 4.2.0" in out
        with DlmsClient().connect("127.0.0.1", port) as reader:
            assert reader.get(Obis(1, 0, 0, 2, 0), 1, 2).as_bytes() == b"4.2.0"
