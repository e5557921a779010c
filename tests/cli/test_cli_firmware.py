"""`metertwin firmware keygen | build` and the `[firmware]` config section: an image built
with the demo pair verifies with the public half the config names; bad input exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from metertwin.cli import main
from metertwin.config import load_config
from metertwin.firmware_identity import install_firmware_keys
from metertwin.meter.firmware import Firmware
from metertwin.meter.firmware_image import ImageError, verify_image
from metertwin.schema import SchemaError


def _meter_firmware(tmp_path: Path, section: str) -> Firmware:
    config = tmp_path / "meter.toml"
    config.write_text(section, encoding="utf-8")
    loaded = load_config(config)
    firmware = Firmware("pmm1220", lambda _code: None)
    install_firmware_keys(firmware, loaded.firmware, loaded.source, tmp_path)
    return firmware


def test_a_built_image_verifies_with_the_configured_manufacturer_key(tmp_path: Path) -> None:
    assert main(["firmware", "keygen", str(tmp_path / "keys"), "--curve", "p384"]) == 0
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"\x5a" * 3000)
    image = tmp_path / "image.bin"
    key = str(tmp_path / "keys" / "manufacturer-private.pem")
    args = ["firmware", "build", "--model", "pmm1220", "--version", "2.1.0", "--key", key]
    assert main([*args, "--payload", str(payload), "--image-key", "00" * 16, "-o", str(image)]) == 0
    firmware = _meter_firmware(
        tmp_path,
        '[firmware]\nmanufacturer_key = "keys/manufacturer-public.pem"\n'
        f'image_key = "{"00" * 16}"\n',
    )
    checked = verify_image(
        image.read_bytes(), "pmm1220", firmware.public_key, firmware.encryption_key
    )
    assert (checked.header.version, checked.header.size) == ("2.1.0", 3000)
    assert checked.header.encrypted
    with pytest.raises(ImageError, match="no firmware key"):
        verify_image(image.read_bytes(), "pmm1220", firmware.public_key, None)
    assert b"PRIVATE" not in image.read_bytes()


def test_bad_build_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["firmware", "keygen", str(tmp_path)])
    key = str(tmp_path / "manufacturer-private.pem")
    out = str(tmp_path / "i.bin")
    base = ["firmware", "build", "--key", key, "-o", out]
    assert main([*base, "--model", "nosuch", "--version", "1.0.0"]) == 2
    assert main([*base, "--model", "pmm1220", "--version", "one"]) == 2
    assert main([*base, "--model", "pmm1220", "--version", "1.0", "--image-key", "zz"]) == 2
    public = str(tmp_path / "manufacturer-public.pem")
    assert (
        main(
            [
                "firmware",
                "build",
                "--key",
                public,
                "-o",
                out,
                "--model",
                "pmm1220",
                "--version",
                "1.0",
            ]
        )
        == 2
    )
    assert "metertwin: error:" in capsys.readouterr().err


def test_an_unusable_firmware_section_is_refused_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "not.pem").write_text("nothing", encoding="utf-8")
    with pytest.raises(SchemaError, match="manufacturer_key"):
        _meter_firmware(tmp_path, '[firmware]\nmanufacturer_key = "not.pem"\n')
    with pytest.raises(SchemaError, match="image_key"):
        _meter_firmware(tmp_path, '[firmware]\nimage_key = "0011"\n')
    assert _meter_firmware(tmp_path, "").public_key is None
