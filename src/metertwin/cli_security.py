"""The CLI's security options: which authentication, suite, keys and titles a command opens
its association with (issue 12, item 7; docs/dlms.md, "HLS with the CLI").

- ``--auth none|low|gmac|sha256|ecdsa``: lowest level, LLS (``--password``), HLS-GMAC
  (mechanism 5), HLS-SHA256 (6, the secret in ``--password``) or HLS-ECDSA (7).
- ``--suite 0|1|2``, ``--key-ek HEX``, ``--key-ak HEX``, ``--system-title HEX`` (ours),
  ``--security-policy N``; ``--client-key FILE`` (our PEM private key) and ``--server-key FILE``
  (the meter's PEM public key or certificate) for ECDSA.
- ``--keys FILE``: the same settings in a TOML (``.toml``) or JSON (any other name) file, keyed
  by the option names without ``--`` (``key-ek = "0001..."``); options on the command line win.
- ``--counter-file FILE``: where our invocation counter is kept between runs (a meter refuses
  a counter it has seen); ``--invocation-counter N`` starts from N instead.

Defaults: without ``--auth``, a client SAP that a built-in model serves with HLS (0x40, 0x41)
takes that association's mechanism, suite and policy from the meter's model (told over the
public client); the keys are the Green Book demo keys, our title the Green Book's example
client title. Bad values are a :class:`UserError` naming the option (exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.codec.enums import AuthenticationMechanism
from metertwin.dlms.client.security import (
    FULL_PROTECTION,
    GREEN_BOOK_AK,
    GREEN_BOOK_CLIENT_SYSTEM_TITLE,
    GREEN_BOOK_EK,
    ClientSecurity,
    suite_key,
)
from metertwin.errors import UserError
from metertwin.models import builtin_model_names, load_model
from metertwin.models.loader import AssociationSpec

__all__ = [
    "AUTH_CHOICES",
    "add_security_options",
    "hls_client_saps",
    "security_from_args",
]

AUTH_CHOICES = ("none", "low", "gmac", "sha256", "ecdsa")
_MECHANISMS = {
    "gmac": AuthenticationMechanism.HIGH_GMAC,
    "sha256": AuthenticationMechanism.HIGH_SHA256,
    "ecdsa": AuthenticationMechanism.HIGH_ECDSA,
}
_MODEL_AUTH = {"hls-gmac": "gmac", "hls-ecdsa": "ecdsa"}
_FILE_KEYS = frozenset(
    {"auth", "suite", "key-ek", "key-ak", "system-title", "security-policy", "client-key",
     "server-key"}
)  # fmt: skip
_COUNTER_FILE_ENV = "METERTWIN_COUNTER_FILE"


def add_security_options(parser: argparse.ArgumentParser) -> None:
    """The security options of every command that opens an association."""
    group = parser.add_argument_group("security (HLS and ciphering)")
    group.add_argument(
        "--auth",
        choices=AUTH_CHOICES,
        help="authentication (default: none, low with --password, or the HLS of the model's "
        "association for --client)",
    )
    group.add_argument("--suite", choices=("0", "1", "2"), help="security suite (default 0)")
    group.add_argument("--key-ek", metavar="HEX", help="global unicast encryption key")
    group.add_argument("--key-ak", metavar="HEX", help="authentication key")
    group.add_argument(
        "--system-title", metavar="HEX", help="our (the client's) system title, 8 octets"
    )
    group.add_argument(
        "--security-policy",
        metavar="N",
        help="security policy bits (default: the model's, else 0x6C: all authenticated and "
        "encrypted)",
    )
    group.add_argument("--keys", metavar="FILE", help="a TOML or JSON file with these settings")
    group.add_argument("--client-key", metavar="FILE", help="ECDSA: our PEM private key")
    group.add_argument(
        "--server-key", metavar="FILE", help="ECDSA: the meter's PEM public key or certificate"
    )
    group.add_argument(
        "--counter-file",
        metavar="FILE",
        help="where our invocation counter is kept between runs (default: "
        f"${_COUNTER_FILE_ENV}, else ~/.local/state/metertwin/invocation-counters.json)",
    )
    group.add_argument(
        "--invocation-counter", metavar="N", help="our first invocation counter this run"
    )


@cache
def hls_client_saps() -> frozenset[int]:
    """The client SAPs some built-in model serves with HLS."""
    return frozenset(
        spec.client_sap
        for name in builtin_model_names()
        for spec in load_model(name).dlms.associations
        if spec.mechanism in _MODEL_AUTH
    )


def security_from_args(
    args: argparse.Namespace,
    client_sap: int,
    model_association: Callable[[], AssociationSpec | None],
) -> ClientSecurity | None:
    """The HLS security the options ask for, None for lowest level or LLS.

    ``model_association`` tells, when asked, the association the meter's model serves at
    ``client_sap`` (it may talk to the meter, so it is called only when a default needs it).
    """
    settings = _file_settings(args.keys) if getattr(args, "keys", None) else {}
    for option in _FILE_KEYS:
        given = getattr(args, option.replace("-", "_"), None)
        if given is not None:
            settings[option] = given
    auth = settings.get("auth")
    spec: AssociationSpec | None = None
    if auth is None:
        if args.password is not None or client_sap not in hls_client_saps():
            auth = "low" if args.password is not None else "none"
        else:
            spec = model_association()
            auth = _MODEL_AUTH.get(spec.mechanism, "none") if spec is not None else "none"
    if auth not in AUTH_CHOICES:
        raise UserError(f"--auth: expected one of {', '.join(AUTH_CHOICES)}, got {auth!r}")
    if auth == "low" and args.password is None:
        raise UserError("--auth low needs --password")
    if auth in ("none", "low"):
        if auth == "none" and args.password is not None:
            raise UserError("--password goes with --auth low or sha256, not --auth none")
        return None
    return _hls(args, settings, auth, spec)


def _hls(
    args: argparse.Namespace, settings: dict[str, Any], auth: str, spec: AssociationSpec | None
) -> ClientSecurity:
    mechanism = _MECHANISMS[auth]
    same_mechanism = spec is not None and _MODEL_AUTH.get(spec.mechanism) == auth
    default_suite = spec.suite if same_mechanism and spec and spec.suite is not None else None
    if default_suite is None:
        default_suite = 1 if auth == "ecdsa" else 0
    suite = _number(settings.get("suite", default_suite), "--suite", 0, 2)
    default_policy = spec.security_policy if same_mechanism and spec else int(FULL_PROTECTION)
    policy = _number(settings.get("security-policy", default_policy), "--security-policy", 0, 255)
    ek = _hex(settings.get("key-ek"), "--key-ek") or suite_key(GREEN_BOOK_EK, suite)
    ak = _hex(settings.get("key-ak"), "--key-ak") or suite_key(GREEN_BOOK_AK, suite)
    key_length = 32 if suite == 2 else 16
    for option, key in (("--key-ek", ek), ("--key-ak", ak)):
        if len(key) != key_length:
            raise UserError(
                f"{option}: suite {suite} takes {key_length}-octet keys, got {len(key)} octets"
            )
    title = _hex(settings.get("system-title"), "--system-title") or GREEN_BOOK_CLIENT_SYSTEM_TITLE
    if len(title) != 8:
        raise UserError(f"--system-title: a system title is 8 octets, got {len(title)}")
    secret = None
    if mechanism == AuthenticationMechanism.HIGH_SHA256:
        if args.password is None:
            raise UserError("--auth sha256 needs the HLS secret in --password")
        secret = args.password.encode("utf-8")
    signing_key, server_key = None, None
    if mechanism == AuthenticationMechanism.HIGH_ECDSA:
        if settings.get("client-key") is None or settings.get("server-key") is None:
            raise UserError("--auth ecdsa needs --client-key FILE and --server-key FILE")
        signing_key = _private_key(Path(settings["client-key"]))
        server_key = _public_key(Path(settings["server-key"]))
    counters = _CounterStore(_counter_path(args), title)
    first = counters.next_value()
    if getattr(args, "invocation_counter", None) is not None:
        first = _number(args.invocation_counter, "--invocation-counter", 0, 0xFFFFFFFF)
    try:
        return ClientSecurity(
            mechanism=mechanism,
            system_title=title,
            suite=suite,
            policy=policy,
            encryption_key=ek,
            authentication_key=ak,
            secret=secret,
            signing_key=signing_key,
            server_public_key=server_key,
            first_invocation_counter=first,
            persist_counter=counters.store,
        )
    except ValueError as problem:
        raise UserError(f"--auth {auth}: {problem}") from None


def _number(value: object, option: str, low: int, high: int) -> int:
    try:
        number = value if isinstance(value, int) else int(str(value), 0)
    except ValueError:
        number = -1
    if isinstance(number, bool) or not low <= number <= high:
        raise UserError(f"{option}: expected a number {low}..{high}, got {value!r}")
    return number


def _hex(value: object, option: str) -> bytes | None:
    if value is None:
        return None
    text = str(value).strip().replace(" ", "").removeprefix("0x").removeprefix("0X")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise UserError(f"{option}: not hexadecimal octets: {value!r}") from None


def _file_settings(path_text: str) -> dict[str, Any]:
    """The settings of ``--keys FILE``; key files it names are relative to its folder."""
    path = Path(path_text)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        raise UserError(f"--keys {path}: cannot read it ({problem})") from None
    try:
        loaded = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as problem:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise UserError(f"--keys {path}: not {kind}: {problem}") from None
    if not isinstance(loaded, dict):
        raise UserError(f"--keys {path}: expected a table of settings")
    unknown = sorted(set(loaded) - _FILE_KEYS)
    if unknown:
        known = ", ".join(sorted(_FILE_KEYS))
        raise UserError(f"--keys {path}: unknown setting(s) {', '.join(unknown)} (known: {known})")
    for name in ("client-key", "server-key"):
        if name in loaded:
            loaded[name] = str(path.parent / str(loaded[name]))
    return dict(loaded)


def _read_pem(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as problem:
        raise UserError(f"{option} {path}: cannot read it ({problem.strerror})") from None


def _private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    data = _read_pem(path, "--client-key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as problem:
        raise UserError(f"--client-key {path}: not a PEM private key ({problem})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UserError(f"--client-key {path}: not an elliptic-curve key")
    return key


def _public_key(path: Path) -> ec.EllipticCurvePublicKey:
    data = _read_pem(path, "--server-key")
    key: object
    try:
        if b"CERTIFICATE" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as problem:
        raise UserError(
            f"--server-key {path}: not a PEM public key or certificate ({problem})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UserError(f"--server-key {path}: not an elliptic-curve key")
    return key


def _counter_path(args: argparse.Namespace) -> Path:
    given = getattr(args, "counter_file", None) or os.environ.get(_COUNTER_FILE_ENV)
    if given:
        return Path(given)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "metertwin" / "invocation-counters.json"


class _CounterStore:
    """Our next invocation counter per client system title, in a JSON file: every value
    below the stored one may have been used (docs/dlms.md, "HLS with the CLI")."""

    def __init__(self, path: Path, system_title: bytes) -> None:
        self.path = path
        self.key = system_title.hex().upper()

    def _all(self) -> dict[str, int]:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as problem:
            raise UserError(f"--counter-file {self.path}: unreadable ({problem})") from None
        if not isinstance(loaded, dict):
            raise UserError(f"--counter-file {self.path}: expected a JSON object")
        return {str(k): v for k, v in loaded.items() if isinstance(v, int)}

    def next_value(self) -> int:
        return min(self._all().get(self.key, 0), 0xFFFFFFFF)

    def store(self, bound: int) -> None:
        """Written (atomically) before a value below ``bound`` is used; never lowered (a run
        started lower by ``--invocation-counter`` must not give back values used before)."""
        counters = self._all()
        counters[self.key] = max(bound, counters.get(self.key, 0))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(counters, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as problem:
            raise UserError(f"--counter-file {self.path}: cannot write it ({problem})") from None
