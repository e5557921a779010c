"""The meter's HLS-ECDSA public keys as PEM files in its data directory.

A head-end needs the meter's signing public key to check pass 4 of HLS-ECDSA (our CLI's
``--server-key``), and the meter makes its key pair itself at its first start (no private key
ships with metertwin). ``metertwin run`` writes each setup's public key at every start as
``DATA/ASSOCIATION-public-key.pem`` (SubjectPublicKeyInfo): public material, so a plain file.
A key pair made later by generate_key_pair shows at the next start (or through
generate_certificate_request over the association).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization

from metertwin.meter.core import Meter

__all__ = ["public_key_path", "write_public_keys"]


def public_key_path(directory: Path, association: str) -> Path:
    return directory / f"{association}-public-key.pem"


def write_public_keys(meter: Meter, directory: Path) -> list[Path]:
    """Each HLS-ECDSA setup's public key written (replacing an older file); the paths."""
    written = []
    for association, setup in sorted(meter.dlms_security.setups.items()):
        der = setup.signing_public_key()
        if der is None:
            continue
        pem = serialization.load_der_public_key(der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        path = public_key_path(directory, association)
        partial = path.with_suffix(".pem.partial")
        partial.write_bytes(pem)
        partial.replace(path)  # a reader sees the old key or the new one, never half
        written.append(path)
    return written
