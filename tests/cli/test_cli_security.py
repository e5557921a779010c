"""The CLI's security options (cli_security): what they build, and the refusal of bad values
with exit 2 before anything is asked of the meter."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.cli.test_cli_dlms import closed_port, metertwin, one_error_line

from metertwin.cli_dlms import add_connection_options
from metertwin.cli_security import security_from_args
from metertwin.codec.enums import AuthenticationMechanism
from metertwin.dlms.client.security import GREEN_BOOK_AK, GREEN_BOOK_EK
from metertwin.errors import UserError
from metertwin.models import load_model
from metertwin.models.loader import AssociationSpec


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_options(parser)
    return parser.parse_args(list(argv))


def no_model() -> AssociationSpec | None:
    raise AssertionError("the meter's model is not needed here")


def test_gmac_defaults_are_the_green_book_keys_and_full_protection(tmp_path: Path) -> None:
    args = parsed("--auth", "gmac", "--counter-file", str(tmp_path / "ic.json"))
    security = security_from_args(args, 0x40, no_model)
    assert security is not None
    assert security.mechanism == AuthenticationMechanism.HIGH_GMAC
    assert (security.suite, security.policy) == (0, 0x6C)
    assert (security.encryption_key, security.authentication_key) == (GREEN_BOOK_EK, GREEN_BOOK_AK)
    assert security.system_title == bytes.fromhex("4D4D4D0000000001")


def test_suite_2_doubles_the_demo_keys(tmp_path: Path) -> None:
    args = parsed("--auth", "gmac", "--suite", "2", "--counter-file", str(tmp_path / "ic"))
    security = security_from_args(args, 0x40, no_model)
    assert security is not None and security.encryption_key == GREEN_BOOK_EK * 2


def test_without_auth_the_models_hls_association_is_used(tmp_path: Path) -> None:
    """magno22's 0x41 is HLS-ECDSA suite 1 (docs/dlms.md): --auth, --suite come from it."""
    spec = next(a for a in load_model("magno22").dlms.associations if a.client_sap == 0x41)
    key_files = _ecdsa_files(tmp_path, ec.SECP256R1())
    args = parsed("--counter-file", str(tmp_path / "ic"), *key_files)
    security = security_from_args(args, 0x41, lambda: spec)
    assert security is not None
    assert (security.mechanism, security.suite) == (AuthenticationMechanism.HIGH_ECDSA, 1)


def test_public_and_lls_clients_need_no_model() -> None:
    assert security_from_args(parsed(), 0x10, no_model) is None
    assert security_from_args(parsed("--password", "HELLO"), 0x20, no_model) is None


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_keys_file(tmp_path: Path, suffix: str) -> None:
    settings = {"auth": "gmac", "key-ek": "11" * 16, "system-title": "4D54570000000001"}
    path = tmp_path / f"keys{suffix}"
    if suffix == ".toml":
        path.write_text("".join(f'{key} = "{value}"\n' for key, value in settings.items()))
    else:
        path.write_text(json.dumps(settings))
    args = parsed("--keys", str(path), "--key-ak", "22" * 16, "--counter-file", str(tmp_path / "c"))
    security = security_from_args(args, 0x40, no_model)
    assert security is not None
    assert security.encryption_key == bytes.fromhex("11" * 16)
    assert security.authentication_key == bytes.fromhex("22" * 16)  # the command line wins
    assert security.system_title == bytes.fromhex("4D54570000000001")


def test_the_counter_file_resumes_above_what_a_run_reserved(tmp_path: Path) -> None:
    counters = tmp_path / "state" / "ic.json"
    args = parsed("--auth", "gmac", "--counter-file", str(counters))
    first = security_from_args(args, 0x40, no_model)
    assert first is not None and first.first_invocation_counter == 0
    channel_counter = first.send_counter()
    used = [channel_counter.take() for _ in range(3)]
    again = security_from_args(args, 0x40, no_model)
    assert again is not None and again.first_invocation_counter > max(used)
    assert json.loads(counters.read_text()) == {"4D4D4D0000000001": again.first_invocation_counter}
    again.send_counter().take()  # reserves up to 128
    assert json.loads(counters.read_text()) == {"4D4D4D0000000001": 128}
    lower = security_from_args(parsed(*vars_of(args), "--invocation-counter", "0"), 0x40, no_model)
    assert lower is not None and lower.first_invocation_counter == 0
    lower.send_counter().take()  # would store 64: the store keeps the higher 128
    assert json.loads(counters.read_text()) == {"4D4D4D0000000001": 128}


def vars_of(args: argparse.Namespace) -> list[str]:
    return ["--auth", args.auth, "--counter-file", args.counter_file]


def _ecdsa_files(folder: Path, curve: ec.EllipticCurve) -> list[str]:
    ours, meters = ec.generate_private_key(curve), ec.generate_private_key(curve)
    client_key, server_key = folder / "client.pem", folder / "meter.pub.pem"
    client_key.write_bytes(
        ours.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_key.write_bytes(
        meters.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ["--client-key", str(client_key), "--server-key", str(server_key)]


def test_ecdsa_key_on_the_wrong_curve_is_refused(tmp_path: Path) -> None:
    args = parsed("--auth", "ecdsa", "--suite", "2", *_ecdsa_files(tmp_path, ec.SECP256R1()))
    with pytest.raises(UserError, match="secp384r1"):
        security_from_args(args, 0x41, no_model)


def test_bad_security_values_exit_2_naming_the_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = f"127.0.0.1:{closed_port()}"
    bad_keys = tmp_path / "bad.toml"
    bad_keys.write_text('key_ek = "00"\n')
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    read = ["read", target, "0.0.1.0.0.255:2", "--client", "0x40"]
    cases = [
        (["--auth", "gmac", "--key-ek", "0011"], "--key-ek: suite 0 takes 16-octet keys"),
        (["--auth", "gmac", "--key-ak", "zz" * 16], "--key-ak: not hexadecimal"),
        (["--auth", "gmac", "--suite", "2", "--key-ek", "00" * 16], "32-octet"),
        (["--auth", "gmac", "--system-title", "0102"], "--system-title"),
        (["--auth", "gmac", "--security-policy", "0x1FF"], "--security-policy"),
        (["--auth", "gmac", "--security-policy", "0x7C"], "signed"),
        (["--auth", "gmac", "--invocation-counter", "-1"], "--invocation-counter"),
        (["--auth", "low"], "--auth low needs --password"),
        (["--auth", "sha256"], "--password"),
        (["--auth", "ecdsa"], "--client-key"),
        (["--auth", "ecdsa", "--client-key", str(not_pem), "--server-key", str(not_pem)], "PEM"),
        (["--keys", str(bad_keys)], "unknown setting(s) key_ek"),
        (["--keys", str(tmp_path / "missing.json")], "cannot read"),
    ]
    for options, complaint in cases:
        code, out, err = metertwin(capsys, *read, *options)
        assert (code, out) == (2, ""), options
        assert complaint in one_error_line(err), (options, err)
