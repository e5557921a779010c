"""The meter's DLMS security state: the keys, policy and counters of each Security setup.

Every association with HLS has its own Security setup (class 64 version 1, docs/dlms.md):
its suite, its security policy (raise-only), its global keys (EK, broadcast key, AK) and the
master key (KEK) that wraps new ones, the server's invocation counter bound and the last
invocation counter accepted from each client system title. For HLS-ECDSA the meter's own
signing key pair is generated at the first start and kept here: no private key but the Green
Book demo keys ships with metertwin. A suite 1 or 2 setup also keeps the key pairs and
certificates of its methods 4 to 8 (`CertificateStore`, created at the first of them). All of
it is meter state and persists with the meter.

The send counter bound is persisted (committed) before its first value is used
(`metertwin.security.counters.SendCounter`); the receive counters are kept in memory and
persisted with every commit of the meter (periodic commits, associations released, SET and
ACTION): after a crash a client may replay frames newer than the last commit, a trade-off
documented in docs/dlms.md ("Invocation counters").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.security.certificates import CertificateStore

GREEN_BOOK_EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
"""Green Book demo global unicast encryption key (block cipher key): a demo key, public."""
GREEN_BOOK_AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
"""Green Book demo authentication key: a demo key, public."""
DEMO_KEK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
"""metertwin's demo master key (KEK), the demo EK's octets: a demo key, public."""

KEY_LENGTH_BY_SUITE = {0: 16, 1: 16, 2: 32}
"""Suites 0 and 1 use AES-128 keys, suite 2 AES-256 (Green Book 9.2.3)."""

# key ids of key_transfer (Blue Book class 64 method 2), as in metertwin.security.keys.KeyId
UNICAST, BROADCAST, AUTHENTICATION, MASTER = 0, 1, 2, 3


def suite_key(key: bytes, suite: int) -> bytes:
    """A configured or demo key fitted to the suite's length: a 16-octet key serves suite 2
    written twice, a 32-octet one serves suites 0 and 1 with its first 16 octets (one
    ``key_ek`` for every setup of a meter; docs/dlms.md)."""
    length = KEY_LENGTH_BY_SUITE[suite]
    return (key * (length // len(key) + 1))[:length]


@dataclass(frozen=True)
class DlmsKeyConfig:
    """The ``[dlms]`` key settings: the keys a new meter starts with (16 octets for suites
    0 and 1, 32 for suite 2; None: the demo key), titles and the 0x41 client's public key."""

    key_ek: bytes | None = None
    key_ak: bytes | None = None
    key_kek: bytes | None = None
    system_title: bytes | None = None  # None: derived from the manufacturer id and serial
    client_system_title: bytes | None = None  # None: any client, learnt from the AARQ
    client_public_key: bytes | None = None  # DER SubjectPublicKeyInfo of the HLS-ECDSA client


@dataclass(frozen=True)
class SetupConfig:
    """A Security setup as the model defines it, named after its association."""

    association: str
    suite: int
    policy: int
    ecdsa: bool = False  # HLS-ECDSA: the meter needs a signing key pair


@dataclass
class SetupState:
    """One Security setup's live state."""

    suite: int
    policy: int
    client_system_title: bytes | None
    keys: dict[int, bytes]  # key id -> key
    send_bound: int = 0  # the server's invocation counter: every value below may be used
    received: dict[bytes, int] = field(default_factory=dict)  # client title -> last accepted
    signing_key: bytes | None = None  # PKCS#8 DER of the meter's ECDSA private key
    # methods 4-8: its digital signature key pair is ``signing_key`` (SecuritySetups keeps both)
    certificates: CertificateStore | None = None

    def signing_public_key(self) -> bytes | None:
        if self.signing_key is None:
            return None
        private = serialization.load_der_private_key(self.signing_key, password=None)
        return private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "policy": self.policy,
            "client_system_title": None
            if self.client_system_title is None
            else self.client_system_title.hex(),
            "keys": {str(k): v.hex() for k, v in sorted(self.keys.items())},
            "send_bound": self.send_bound,
            "received": {k.hex(): v for k, v in sorted(self.received.items())},
            "signing_key": None if self.signing_key is None else self.signing_key.hex(),
            "certificates": None if self.certificates is None else self.certificates.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SetupState:
        title = state["client_system_title"]
        signing = state["signing_key"]
        certificates = state.get("certificates")  # absent: saved before methods 4-8 existed
        return cls(
            suite=int(state["suite"]),
            policy=int(state["policy"]),
            client_system_title=None if title is None else bytes.fromhex(title),
            keys={int(k): bytes.fromhex(v) for k, v in state["keys"].items()},
            send_bound=int(state["send_bound"]),
            received={bytes.fromhex(k): int(v) for k, v in state["received"].items()},
            signing_key=None if signing is None else bytes.fromhex(signing),
            certificates=None
            if certificates is None
            else CertificateStore.from_state(certificates),
        )


def new_signing_key(suite: int) -> bytes:
    """A fresh ECDSA private key (PKCS#8 DER): P-256 for suite 1, P-384 for suite 2."""
    curve: ec.EllipticCurve = ec.SECP384R1() if suite == 2 else ec.SECP256R1()
    return ec.generate_private_key(curve).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_setup(config: SetupConfig, keys: DlmsKeyConfig) -> SetupState:
    """A setup as a new meter has it: the configured keys or the demo keys."""

    def key(configured: bytes | None, demo: bytes) -> bytes:
        return suite_key(demo if configured is None else configured, config.suite)

    return SetupState(
        suite=config.suite,
        policy=config.policy,
        client_system_title=keys.client_system_title,
        keys={
            UNICAST: key(keys.key_ek, GREEN_BOOK_EK),
            AUTHENTICATION: key(keys.key_ak, GREEN_BOOK_AK),
            MASTER: key(keys.key_kek, DEMO_KEK),
        },
        signing_key=new_signing_key(config.suite) if config.ecdsa else None,
    )


class DlmsSecurity:
    """The Security setups of one meter, by association name."""

    def __init__(self, setups: dict[str, SetupState]) -> None:
        self.setups = setups

    @classmethod
    def fresh(cls, configs: tuple[SetupConfig, ...], keys: DlmsKeyConfig) -> DlmsSecurity:
        return cls({c.association: new_setup(c, keys) for c in configs})

    def to_state(self) -> dict[str, Any]:
        return {name: setup.to_state() for name, setup in sorted(self.setups.items())}

    @classmethod
    def from_state(
        cls, configs: tuple[SetupConfig, ...], keys: DlmsKeyConfig, state: dict[str, Any]
    ) -> DlmsSecurity:
        """A setup the state does not hold (a meter saved before it existed) starts new."""
        setups = {}
        for config in configs:
            saved = state.get(config.association)
            setups[config.association] = (
                new_setup(config, keys) if saved is None else SetupState.from_state(saved)
            )
        return cls(setups)
