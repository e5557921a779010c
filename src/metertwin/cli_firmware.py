"""`metertwin firmware`: make a manufacturer key pair and firmware images (docs/firmware.md).

- ``firmware keygen DIR [--curve p256|p384]`` writes ``manufacturer-private.pem`` and
  ``manufacturer-public.pem``: a DEMO pair for trying the upgrade; the public half goes in the
  meter's config (`[firmware] manufacturer_key`). Keep the private half off any meter.
- ``firmware build --model M --version V [--payload FILE] --key KEY -o image.bin`` signs an
  image for model M (``--image-key HEX`` encrypts the payload with AES-GCM;
  ``--fails-self-check`` marks the image as one the scenario lets fail after activation).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.cli_common import EXIT_OK
from metertwin.errors import UserError
from metertwin.meter.firmware_image import NONCE_SIZE, ImageError, build_image
from metertwin.models import builtin_model_names

_CURVES = {"p256": ec.SECP256R1, "p384": ec.SECP384R1}


def add_firmware_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    firmware = subparsers.add_parser("firmware", help="make firmware keys and images")
    actions = firmware.add_subparsers(dest="firmware_command", required=True)
    keygen = actions.add_parser("keygen", help="write a demo manufacturer key pair (PEM)")
    keygen.add_argument("directory", type=Path)
    keygen.add_argument("--curve", choices=sorted(_CURVES), default="p256")
    build = actions.add_parser("build", help="sign a firmware image for a model")
    build.add_argument("--model", required=True, help="the target model (see `metertwin models`)")
    build.add_argument("--version", required=True, help="dotted numbers, e.g. 1.2.0")
    build.add_argument("--payload", type=Path, help="the payload (default: 64 KiB of random)")
    build.add_argument("--key", type=Path, required=True, help="manufacturer private key (PEM)")
    build.add_argument("--image-key", help="hex AES key: encrypt the payload (AES-GCM)")
    build.add_argument("--fails-self-check", action="store_true", help="a 'bad' image")
    build.add_argument("-o", "--out", type=Path, required=True)


def run_firmware_command(args: argparse.Namespace) -> int:
    if args.firmware_command == "keygen":
        return _keygen(args.directory, args.curve)
    return _build(args)


def _keygen(directory: Path, curve: str) -> int:
    key = ec.generate_private_key(_CURVES[curve]())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "manufacturer-private.pem").write_bytes(private)
        (directory / "manufacturer-public.pem").write_bytes(public)
    except OSError as exc:
        raise UserError(f"{directory}: cannot write the keys ({exc.strerror})") from None
    print(f"demo key pair in {directory} (manufacturer-private.pem, manufacturer-public.pem)")
    return EXIT_OK


def _build(args: argparse.Namespace) -> int:
    if args.model not in builtin_model_names():
        raise UserError(f"firmware build: unknown model {args.model!r} (see `metertwin models`)")
    try:
        key = serialization.load_pem_private_key(args.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"{args.key}: cannot read a PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UserError(f"{args.key}: not an ECDSA key")
    try:
        payload = os.urandom(64 * 1024) if args.payload is None else args.payload.read_bytes()
    except OSError as exc:
        raise UserError(f"{args.payload}: cannot read the payload ({exc.strerror})") from None
    image_key = None
    if args.image_key:
        try:
            image_key = bytes.fromhex(args.image_key)
        except ValueError:
            raise UserError("--image-key: expected hex") from None
        if len(image_key) not in (16, 24, 32):
            raise UserError("--image-key: expected 16, 24 or 32 bytes")
    try:
        image = build_image(
            args.model,
            args.version,
            payload,
            key,
            encryption_key=image_key,
            nonce=os.urandom(NONCE_SIZE) if image_key else None,
            self_check_fails=args.fails_self_check,
        )
    except ImageError as exc:
        raise UserError(f"firmware build: {exc}") from None
    try:
        args.out.write_bytes(image)
    except OSError as exc:
        raise UserError(f"{args.out}: cannot write the image ({exc.strerror})") from None
    print(f"{args.out}: {args.model} {args.version}, {len(image)} bytes")
    return EXIT_OK
