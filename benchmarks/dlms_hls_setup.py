"""Server CPU per HLS association setup (issue 12: HLS-GMAC <= 2 ms, suite 1 HLS-ECDSA <= 10 ms).

A setup is the 4-pass exchange as a head-end runs it: a ciphered AARQ (glo-initiate-request)
answered by the AARE with StoC (passes 1 and 2), then reply_to_HLS_authentication in a
glo-action-request answered with f(CtoS) (passes 3 and 4). The model's own meter serves it
through the sans-IO ServerConnection, in-process, as DlmsTcpServer would: HLS-GMAC on the
0x40 association of az3p and pmm1220 (suite 0, the demo keys of docs/dlms.md), HLS-ECDSA on
the 0x41 association of magno22 (suite 1, P-256), with a head-end public key configured
(`[dlms] client_public_key`). What is measured is the server's share only: the CPU time
(process time) inside ``ServerConnection.receive`` for the AARQ and for pass 3. The client's
work (sealing, proofs, checking f(CtoS)) is done outside it, and every setup is checked: the
association must be open after pass 4. The meter's commits are a no-op here (the storage
benchmarks measure those). Each figure is the median per setup, with the best.

Run with `python -m benchmarks.dlms_hls_setup [--setups N]` from the repository root.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.dlms.test_server_security import (
    CTOS,
    Client,
    aare_of,
    hls_aarq,
    plain_initiate,
    reply_to_hls,
)

from benchmarks.common import header
from metertwin.codec.enums import AcseServiceUserDiagnostic, AuthenticationMechanism
from metertwin.cosem.backend import SecurityMaterial
from metertwin.cosem.device import LogicalDevice
from metertwin.dlms.server.connection import ServerConnection
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.security.ciphering import CipheringKeys
from metertwin.security.hls import ecdsa_proof, gmac_proof
from metertwin.security.suites import SUITES

SETUPS = 300
GMAC_SAP, ECDSA_SAP = 0x40, 0x41  # docs/dlms.md
CLIENT_TITLE = bytes.fromhex("4D4D4D0000000001")
START_MS = 1_780_000_000_000  # any instant does: the meter's clock stands still
GMAC_TARGET_S = 2e-3
ECDSA_TARGET_S = 10e-3


@dataclass
class Setups:
    """The server's CPU per setup, passes 1-2 and 3-4 apart, and the setup's suite."""

    suite: int
    aarq: list[float] = field(default_factory=list)
    pass_3: list[float] = field(default_factory=list)

    def totals(self) -> list[float]:
        return [first + second for first, second in zip(self.aarq, self.pass_3, strict=True)]


def device_of(model_name: str, dlms: dict[str, object] | None = None) -> LogicalDevice:
    model = load_model(model_name, {"dlms": dlms} if dlms else None)
    meter = Meter(model.spec, START_MS, "12345678")
    return build_logical_device(model, meter, lambda: None)


def material_of(device: LogicalDevice, client_sap: int) -> SecurityMaterial:
    policy = device.association_policy(client_sap)
    material = None if policy is None else device.security_material(policy)
    if material is None:
        raise RuntimeError(f"association 0x{client_sap:02X} has no Security setup")
    return material


def client_of(material: SecurityMaterial) -> Client:
    """The head-end, ciphering with the setup's global unicast and authentication keys."""
    keys = CipheringKeys(
        material.authentication_key or b"", global_unicast_key=material.global_unicast_key
    )
    return Client(keys, CLIENT_TITLE, material.suite, material.server_system_title)


def timed_receive(
    connection: ServerConnection, client_sap: int, apdu: bytes
) -> tuple[bytes, float]:
    """The server's answer and the process time spent producing it."""
    start = time.process_time()
    answer = connection.receive(client_sap, apdu)
    used = time.process_time() - start
    if answer is None:
        raise RuntimeError("the server did not answer")
    return answer, used


def measure(
    device: LogicalDevice,
    client_sap: int,
    client: Client,
    mechanism: AuthenticationMechanism,
    proof_of: Callable[[bytes, Client], bytes],
    setups: int,
) -> Setups:
    """``setups`` associations, each on a new connection; ``proof_of(StoC, client)`` is the
    client's pass 3 proof."""
    measured = Setups(material_of(device, client_sap).suite)
    for _ in range(setups):
        connection = ServerConnection(device, 1)
        aarq = hls_aarq(mechanism, client.seal(plain_initiate()), ciphered=True)
        answer, aarq_time = timed_receive(connection, client_sap, aarq)
        aare = aare_of(answer)
        stoc = aare.responding_authentication_value
        if aare.diagnostic != AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED or stoc is None:
            raise RuntimeError(f"the AARQ was not accepted for HLS: {aare}")
        pass_3 = client.seal(reply_to_hls(proof_of(stoc, client)))
        answer, pass_3_time = timed_receive(connection, client_sap, pass_3)
        client.open(answer)  # f(CtoS) came back sealed by the meter
        if not connection.is_associated(client_sap):
            raise RuntimeError("pass 3 did not open the association")
        connection.close()
        measured.aarq.append(aarq_time)
        measured.pass_3.append(pass_3_time)
    return measured


def gmac_setups(model_name: str, setups: int) -> Setups:
    device = device_of(model_name)
    material = material_of(device, GMAC_SAP)
    client = client_of(material)
    keys = client.keys

    def proof_of(stoc: bytes, client: Client) -> bytes:
        return gmac_proof(
            stoc,
            system_title=client.title,
            invocation_counter=client.counter + 1,  # the glo-action-request's, sealed next
            encryption_key=keys.global_unicast_key or b"",
            authentication_key=keys.authentication_key,
            suite=material.suite,
        )

    return measure(device, GMAC_SAP, client, AuthenticationMechanism.HIGH_GMAC, proof_of, setups)


def ecdsa_setups(model_name: str, setups: int) -> Setups:
    """HLS-ECDSA with a fresh head-end key pair, its public key given to the model."""
    with tempfile.TemporaryDirectory() as directory:
        probe = material_of(device_of(model_name), ECDSA_SAP)
        curve = SUITES[probe.suite].curve
        if curve is None:
            raise RuntimeError(f"{model_name} 0x41 is suite {probe.suite}, without ECDSA")
        head_end = ec.generate_private_key(curve)
        pem = Path(directory) / "head-end.pem"
        pem.write_bytes(
            head_end.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        device = device_of(model_name, {"client_public_key": str(pem)})
    material = material_of(device, ECDSA_SAP)
    client = client_of(material)

    def proof_of(stoc: bytes, client: Client) -> bytes:
        return ecdsa_proof(
            head_end,
            own_system_title=client.title,
            peer_system_title=material.server_system_title,
            peer_challenge=stoc,
            own_challenge=CTOS,
            suite=material.suite,
        )

    return measure(device, ECDSA_SAP, client, AuthenticationMechanism.HIGH_ECDSA, proof_of, setups)


def report(what: str, measured: Setups, target_s: float) -> None:
    label = f"{what}, suite {measured.suite}"
    totals = measured.totals()
    median = statistics.median(totals)
    verdict = "met" if median <= target_s else "NOT met"
    print(
        f"   {label:<42} {median * 1e3:6.3f} ms/setup (AARQ->AARE"
        f" {statistics.median(measured.aarq) * 1e3:.3f} + pass 3->4"
        f" {statistics.median(measured.pass_3) * 1e3:.3f}; best {min(totals) * 1e3:.3f})"
        f"  target <= {target_s * 1e3:g} ms: {verdict}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", type=int, default=SETUPS, help="setups per association")
    args = parser.parse_args(argv)
    header("DLMS HLS association setup: server CPU per setup (sans-IO, in-process)")
    print(f"   {args.setups:,} setups each, server time inside ServerConnection.receive only:")
    for model_name in ("az3p", "pmm1220"):
        report(f"HLS-GMAC, {model_name} 0x40", gmac_setups(model_name, args.setups), GMAC_TARGET_S)
    report("HLS-ECDSA, magno22 0x41", ecdsa_setups("magno22", args.setups), ECDSA_TARGET_S)


if __name__ == "__main__":
    main()
