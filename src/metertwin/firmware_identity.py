"""The meter's firmware keys from the `[firmware]` section of the user's config file.

Keys: ``manufacturer_key`` (path of the manufacturer's PEM public key, P-256 or P-384,
relative to the config file) that every image's signature must verify with;
``image_key`` (hex, 16/24/32 bytes) opening encrypted images (AES-GCM); ``download_hosts``
(host or host:port names) the MeterCom PRO may download images from over HTTP (none: every
URL is refused). Without a ``manufacturer_key`` the meter holds none and refuses every image
at verification: there is no built-in key (docs/firmware.md: `metertwin firmware keygen`
makes a demo pair).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.meter.firmware import Firmware
from metertwin.schema import TableReader


def install_firmware_keys(
    firmware: Firmware, section: dict[str, Any], source: str, base: Path | None
) -> None:
    reader = TableReader(section, source, "firmware")
    key_path = reader.str("manufacturer_key", "")
    image_key = reader.str("image_key", "").replace(" ", "")
    hosts = reader.str_list("download_hosts", [])
    reader.finish()
    firmware.download_hosts = frozenset(host.lower() for host in hosts)
    if key_path:
        path = Path(key_path)
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            problem = f"cannot read a PEM public key ({exc})"
            raise reader.error("manufacturer_key", problem) from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
            key.curve, ec.SECP256R1 | ec.SECP384R1
        ):
            raise reader.error("manufacturer_key", "expected an ECDSA P-256 or P-384 public key")
        firmware.public_key = key
    if image_key:
        try:
            raw = bytes.fromhex(image_key)
        except ValueError:
            raise reader.error("image_key", "expected hex") from None
        if len(raw) not in (16, 24, 32):
            raise reader.error("image_key", "expected 16, 24 or 32 bytes (AES-GCM)")
        firmware.encryption_key = raw
