"""metertwin's firmware image format (docs/firmware.md): what verification refuses, and that
any damage to an image is an ImageError, never a crash nor an accepted image."""

from __future__ import annotations

import os
import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.meter.firmware_image import ImageError, build_image, verify_image

KEY = ec.generate_private_key(ec.SECP384R1())  # a throwaway test key
PAYLOAD = bytes(range(256)) * 20


def test_a_good_image_verifies_with_its_header() -> None:
    image = build_image("az3p", "2.3.4", PAYLOAD, KEY)
    checked = verify_image(image, "az3p", KEY.public_key(), None)
    assert (checked.header.model, checked.header.version, checked.header.size) == (
        "az3p",
        "2.3.4",
        len(PAYLOAD),
    )
    assert not checked.header.self_check_fails and not checked.header.encrypted


def test_refusals_name_the_first_failure() -> None:
    image = build_image("az3p", "2.3.4", PAYLOAD, KEY)
    with pytest.raises(ImageError, match="model"):
        verify_image(image, "pmm1220", KEY.public_key(), None)
    with pytest.raises(ImageError, match="no manufacturer key"):
        verify_image(image, "az3p", None, None)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ImageError, match="curve"):
        verify_image(image, "az3p", other, None)
    with pytest.raises(ImageError, match="version"):
        build_image("az3p", "v2", PAYLOAD, KEY)


def test_any_damage_is_refused_and_nothing_crashes() -> None:
    image = build_image("az3p", "2.3.4", PAYLOAD, KEY)
    spoiler = random.Random(15)
    spoilt: list[bytes] = [b"", b"MTFW", image[:40], image[:-1], image + b"\x00", os.urandom(300)]
    for _ in range(200):
        damaged = bytearray(image)
        damaged[spoiler.randrange(len(damaged))] ^= 1 << spoiler.randrange(8)
        spoilt.append(bytes(damaged))
    for bad in spoilt:
        with pytest.raises(ImageError):
            verify_image(bad, "az3p", KEY.public_key(), None)
