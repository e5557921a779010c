"""End to end: HLS-ECDSA from our CLI to a meter started as a user starts it. The meter makes
its signing key pair at its first start; `metertwin run` leaves the public key in the data
directory (`DATA/ASSOCIATION-public-key.pem`, docs/dlms.md), which is the CLI's `--server-key`."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.cli.running import meter_running
from tests.cli.test_cli_dlms import metertwin

from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.runtime.public_keys import public_key_path
from metertwin.storage import MeterStore

CLOCK = "0.0.1.0.0.255"


def _head_end_key(folder: Path) -> tuple[Path, Path]:
    """A fresh P-256 head-end key pair: (private PEM for --client-key, public PEM for the
    meter's `[dlms] client_public_key`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / "hes-private.pem", folder / "hes-public.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def test_the_cli_opens_hls_ecdsa_with_the_public_key_metertwin_run_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERTWIN_COUNTER_FILE", str(tmp_path / "counters.json"))
    private, public = _head_end_key(tmp_path)
    config = tmp_path / "meter.toml"
    config.write_text(f'[dlms]\nclient_public_key = "{public}"\n')
    data = tmp_path / "magno22"
    with meter_running(data, "magno22", config) as port:
        (written,) = sorted(data.glob("*-public-key.pem"))
        code, out, err = metertwin(
            capsys, "read", f"127.0.0.1:{port}", CLOCK, "--client", "0x41", "--auth", "ecdsa",
            "--client-key", str(private), "--server-key", str(written),
        )  # fmt: skip
    assert (code, err) == (0, ""), err
    assert "2026-11-21" in out  # the meter's clock, read over the ECDSA association
    # the file is the key the meter keeps in its memory, of the association that uses it
    with MeterStore.open(data) as store:
        meter = Meter.from_state(load_model("magno22").spec, store.load().state)
    (association,) = [n for n, s in meter.dlms_security.setups.items() if s.signing_key]
    assert written == public_key_path(data, association)
    on_file = serialization.load_pem_public_key(written.read_bytes())
    kept = meter.dlms_security.setups[association].signing_public_key()
    assert (
        on_file.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == kept
    )


def test_a_meter_without_hls_ecdsa_leaves_no_key_file(tmp_path: Path) -> None:
    data = tmp_path / "az3p"
    with meter_running(data, "az3p"):
        pass
    assert list(data.glob("*-public-key.pem")) == []
