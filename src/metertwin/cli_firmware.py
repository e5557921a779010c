"""`metertwin firmware`: make a manufacturer key pair and firmware images (docs/firmware.md).

- ``firmware keygen DIR [--curve p256|p384]`` writes ``manufacturer-private.pem`` and
  ``manufacturer-public.pem``: a DEMO pair for trying the upgrade; the public half goes in the
  meter's config (`[firmware] manufacturer_key`). Keep the private half off any meter.
- ``firmware build --model M --version V [--payload FILE] --key KEY -o image.bin`` signs an
  image for model M (``--image-key HEX`` encrypts the payload with AES-GCM;
  ``--fails-self-check`` marks the image as one the scenario lets fail after activation).
- ``firmware upload TARGET image.bin [--activate-at T | --no-activate]`` transfers the image
  as a head-end would (class 18 on 0.0.44.0.0.255), sending only the blocks the meter lacks
  (a broken upload resumes), verifies, then activates now or programs the image activation
  schedule 0.0.15.0.2.255 for T (the meter's local time). Exit 0 done, 1 refused or failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.cli_act import connect_for_method
from metertwin.cli_common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from metertwin.cli_dlms import add_connection_options, complain
from metertwin.cli_target import TARGET_HELP, parse_target
from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.errors import DlmsClientError, DlmsConnectionError
from metertwin.dlms.client.image_transfer import (
    IMAGE_TRANSFER,
    ImageTransferFailed,
    activate,
    send_image,
    verify,
)
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
    upload = actions.add_parser("upload", help="transfer, verify and activate an image")
    upload.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    upload.add_argument("image", type=Path)
    when = upload.add_mutually_exclusive_group()
    when.add_argument("--activate-at", metavar="ISO-TIME", help="the meter's local time")
    when.add_argument("--no-activate", action="store_true", help="stop after verification")
    add_connection_options(
        upload,
        client_default=None,
        client_help="client SAP (default: the association of the model that may do it)",
        password_help="LLS password (default: that association's secret)",
    )


def run_firmware_command(args: argparse.Namespace) -> int:
    if args.firmware_command == "keygen":
        return _keygen(args.directory, args.curve)
    if args.firmware_command == "upload":
        return _upload(args)
    return _build(args)


ACTIVATION_SCHEDULE = Obis(0, 0, 15, 0, 2)
ACTIVATION_SCRIPT = Obis(0, 0, 10, 0, 107)


def _upload(args: argparse.Namespace) -> int:
    try:
        parse_target(args.target)
        image = args.image.read_bytes()
        at = None if args.activate_at is None else datetime.fromisoformat(args.activate_at)
    except OSError as exc:
        complain(f"{args.image}: cannot read the image ({exc.strerror})")
        return EXIT_USAGE
    except (ValueError, UserError) as exc:
        complain(str(exc))
        return EXIT_USAGE
    try:
        with connect_for_method(args, IMAGE_TRANSFER, 2) as meter:
            sent = send_image(meter, image, _progress)
            print(file=sys.stderr)
            verify(meter)
            print(f"{args.image}: {sent} blocks sent, verified")
            if args.no_activate:
                return EXIT_OK
            if at is not None:
                _schedule_activation(meter, at)
                print(f"activation scheduled at {at.isoformat()} (0.0.15.0.2.255)")
                return EXIT_OK
            with contextlib.suppress(DlmsConnectionError):  # the restart drops connections
                activate(meter)
        with _reconnect(args) as meter:
            status = meter.get(IMAGE_TRANSFER, 18, 6).as_int()
            version = meter.get(Obis(1, 0, 0, 2, 0), 1, 2).as_bytes().decode(errors="replace")
            if status != ACTIVATION_SUCCESSFUL:
                complain(f"activation failed (image_transfer_status {status}): firmware {version}")
                return EXIT_REFUSED
            print(f"activated: firmware {version}")
    except (UserError, DlmsConnectionError) as problem:
        complain(str(problem))
        return EXIT_USAGE
    except (DlmsClientError, ImageTransferFailed) as problem:
        complain(str(problem))
        return EXIT_REFUSED
    return EXIT_OK


ACTIVATION_INITIATED, ACTIVATION_SUCCESSFUL = 5, 6
RECONNECT_TRIES = 20


def _reconnect(args: argparse.Namespace) -> DlmsClient:
    """The association again, once the restarted meter is done (its status no longer 5)."""
    for attempt in range(RECONNECT_TRIES):
        try:
            meter = connect_for_method(args, IMAGE_TRANSFER, 2)
        except DlmsConnectionError:
            if attempt == RECONNECT_TRIES - 1:
                raise
            time.sleep(0.5)
            continue
        if meter.get(IMAGE_TRANSFER, 18, 6).as_int() != ACTIVATION_INITIATED:
            return meter
        meter.close()
        time.sleep(0.5)
    raise ImageTransferFailed("the meter did not finish its activation")


def _progress(done: int, total: int) -> None:
    width = 40
    filled = width * done // max(total, 1)
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} blocks", end="", file=sys.stderr
    )


def _schedule_activation(meter: DlmsClient, at: datetime) -> None:
    """One execution time: the date and time ``at`` (the meter's local time)."""
    script = Data.structure([Data.octet_string(bytes(ACTIVATION_SCRIPT)), Data.long_unsigned(1)])
    entry = Data.structure(
        [
            Data.octet_string(bytes([at.hour, at.minute, at.second, 0])),
            Data.octet_string(bytes([at.year >> 8, at.year & 0xFF, at.month, at.day, 0xFF])),
        ]
    )
    meter.set(ACTIVATION_SCHEDULE, 22, 2, script)
    meter.set(ACTIVATION_SCHEDULE, 22, 3, Data.enum(1))
    meter.set(ACTIVATION_SCHEDULE, 22, 4, Data.array([entry]))


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
