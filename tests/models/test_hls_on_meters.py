"""HLS and ciphering on the models' own meters (issue 12): the 0x40 association opened with the
demo keys of docs/dlms.md through the sans-IO server, its failures counted toward the lockout
and logged (220, 46, 221), replays and tampered APDUs logged (227, 228), and HLS-ECDSA on the
0x41 association once the head-end's public key is configured."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.dlms.test_server_security import (
    CTOS,
    Client,
    aare_of,
    clock_of,
    exception_of,
    get_clock,
    hls_aarq,
    plain_initiate,
    reply_to_hls,
)
from tests.helpers import utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import (
    AcseServiceUserDiagnostic,
    ActionResult,
    AssociationResult,
    AuthenticationMechanism,
    ServiceError,
)
from metertwin.cosem.device import LogicalDevice
from metertwin.dlms.apdu import (
    ActionRequestNormal,
    ActionResponseNormal,
    InvokeIdAndPriority,
    MethodDescriptor,
    decode_apdu,
)
from metertwin.dlms.server.connection import AssociationState, ServerConnection
from metertwin.meter.core import Meter
from metertwin.meter.dlms_security import GREEN_BOOK_AK, GREEN_BOOK_EK
from metertwin.meter.events import EventCode
from metertwin.models import builtin_model_names, load_model
from metertwin.models.binder import build_logical_device
from metertwin.security.ciphering import CipheringKeys
from metertwin.security.hls import ecdsa_proof, gmac_proof, verify_ecdsa_proof
from metertwin.security.key_agreement import (
    agreed_key,
    new_ephemeral_key,
    open_signed_ephemeral_key,
    signed_ephemeral_key,
)
from metertwin.security.suites import SUITES, security_suite

HLS_SAP, ECDSA_SAP = 0x40, 0x41
CLIENT_TITLE = bytes.fromhex("4D4D4D0000000001")
DEMO_KEYS = CipheringKeys(GREEN_BOOK_AK, global_unicast_key=GREEN_BOOK_EK)
T0 = utc_ms(2026, 6, 1, 8)


def _meter(name: str, dlms: dict[str, object] | None = None) -> tuple[Meter, LogicalDevice]:
    model = load_model(name, {"dlms": dlms} if dlms else None)
    meter = Meter(model.spec, T0, "12345678")
    return meter, build_logical_device(model, meter, lambda: None)


def _server_title(device: LogicalDevice, sap: int) -> bytes:
    policy = device.association_policy(sap)
    assert policy is not None
    material = device.security_material(policy)
    assert material is not None
    return material.server_system_title


def _open_gmac(
    connection: ServerConnection, device: LogicalDevice, client: Client, *, right: bool = True
) -> bytes | None:
    """AARQ then pass 3 on 0x40 (the proof made wrong when ``right`` is false)."""
    aare = aare_of(
        connection.receive(
            HLS_SAP,
            hls_aarq(
                AuthenticationMechanism.HIGH_GMAC, client.seal(plain_initiate()), ciphered=True
            ),
        )
    )
    if aare.result != AssociationResult.ACCEPTED:
        return None
    stoc = aare.responding_authentication_value
    assert stoc is not None and len(stoc) == 16
    proof = gmac_proof(
        stoc if right else bytes(16),
        system_title=client.title,
        invocation_counter=client.counter + 1,
        encryption_key=GREEN_BOOK_EK,
        authentication_key=GREEN_BOOK_AK,
    )
    return client.open(connection.receive(HLS_SAP, client.seal(reply_to_hls(proof))))


def _events(meter: Meter) -> dict[EventCode, int]:
    return {code: count for code, count in meter.event_counts.items() if count}


@pytest.mark.parametrize("name", builtin_model_names())
def test_every_model_opens_0x40_with_the_demo_keys_and_serves_ciphered(name: str) -> None:
    meter, device = _meter(name)
    connection = ServerConnection(device, 1)
    client = Client(DEMO_KEYS, CLIENT_TITLE, server_title=_server_title(device, HLS_SAP))
    answer = _open_gmac(connection, device, client)
    assert answer is not None
    response = decode_apdu(answer)
    assert isinstance(response, ActionResponseNormal) and response.result == ActionResult.SUCCESS
    assert connection.is_associated(HLS_SAP)
    clock = clock_of(client, connection.receive(HLS_SAP, client.seal(get_clock())))
    assert len(clock.value) == 12  # type: ignore[arg-type]
    assert _events(meter) == {}


def test_wrong_proofs_are_logged_and_lock_the_hls_association() -> None:
    """docs/dlms.md: a wrong pass 3 proof is an authentication failure (220); three in a row
    lock the association (46); an AARQ during the lockout is refused transiently (221)."""
    meter, device = _meter("pmm1220")
    connection = ServerConnection(device, 1)
    client = Client(DEMO_KEYS, CLIENT_TITLE, server_title=_server_title(device, HLS_SAP))
    for _ in range(3):
        answer = _open_gmac(connection, device, client, right=False)
        assert answer is not None
        response = decode_apdu(answer)
        assert isinstance(response, ActionResponseNormal)
        assert response.result == ActionResult.READ_WRITE_DENIED
        assert connection.state(HLS_SAP) is AssociationState.IDLE
    aare = aare_of(
        connection.receive(
            HLS_SAP,
            hls_aarq(
                AuthenticationMechanism.HIGH_GMAC, client.seal(plain_initiate()), ciphered=True
            ),
        )
    )
    assert aare.result == AssociationResult.REJECTED_TRANSIENT
    assert aare.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE
    assert _events(meter) == {
        EventCode.AUTHENTICATION_FAILURE: 3,
        EventCode.WRONG_PASSWORDS: 1,
        EventCode.ASSOCIATION_LOCKED_OUT: 1,
    }


def test_a_replay_and_a_tampered_apdu_are_refused_and_logged() -> None:
    meter, device = _meter("magno22")
    connection = ServerConnection(device, 1)
    client = Client(DEMO_KEYS, CLIENT_TITLE, server_title=_server_title(device, HLS_SAP))
    assert _open_gmac(connection, device, client) is not None
    request = client.seal(get_clock())
    clock_of(client, connection.receive(HLS_SAP, request))
    refused = exception_of(connection.receive(HLS_SAP, request))
    assert refused.service_error == ServiceError.INVOCATION_COUNTER_ERROR
    assert refused.invocation_counter == client.counter + 1
    tampered = request[:-1] + bytes([request[-1] ^ 0xFF])
    client.counter += 1
    assert exception_of(connection.receive(HLS_SAP, tampered)).service_error == (
        ServiceError.DECIPHERING_ERROR
    )
    assert _events(meter) == {EventCode.REPLAY_REFUSED: 1, EventCode.PROTECTED_APDU_REFUSED: 1}
    clock_of(client, connection.receive(HLS_SAP, client.seal(get_clock())))  # still serving


@dataclass
class EcdsaSession:
    """0x41 opened with HLS-ECDSA: the meter's device, the connection, our client's side."""

    device: LogicalDevice
    connection: ServerConnection
    client: Client
    head_end: ec.EllipticCurvePrivateKey
    meter_key: ec.EllipticCurvePublicKey
    server_title: bytes

    def ask(self, request: bytes) -> bytes:
        return self.client.open(self.connection.receive(ECDSA_SAP, self.client.seal(request)))


def _open_ecdsa(tmp_path: Path, name: str, suite: int) -> EcdsaSession:
    """The head-end's public key in `[dlms] client_public_key` checks its pass 3 signature;
    the meter's f(CtoS), signed with the key pair it made at its first start, is verified."""
    curve = SUITES[suite].curve
    assert curve is not None
    head_end = ec.generate_private_key(curve)
    pem = tmp_path / "head-end.pem"
    pem.write_bytes(
        head_end.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    _, device = _meter(name, {"client_public_key": str(pem)})
    policy = device.association_policy(ECDSA_SAP)
    assert policy is not None
    material = device.security_material(policy)
    assert material is not None and material.server_signing_key is not None
    assert len(material.global_unicast_key or b"") == SUITES[suite].key_length
    keys = CipheringKeys(
        material.authentication_key or b"", global_unicast_key=material.global_unicast_key
    )
    connection = ServerConnection(device, 1)
    client = Client(keys, CLIENT_TITLE, suite, material.server_system_title)
    aare = aare_of(
        connection.receive(
            ECDSA_SAP,
            hls_aarq(
                AuthenticationMechanism.HIGH_ECDSA, client.seal(plain_initiate()), ciphered=True
            ),
        )
    )
    assert aare.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED
    stoc = aare.responding_authentication_value
    assert stoc is not None
    proof = ecdsa_proof(
        head_end,
        own_system_title=CLIENT_TITLE,
        peer_system_title=material.server_system_title,
        peer_challenge=stoc,
        own_challenge=CTOS,
        suite=suite,
    )
    meter_key = serialization.load_der_private_key(material.server_signing_key, None)
    assert isinstance(meter_key, ec.EllipticCurvePrivateKey)
    session = EcdsaSession(
        device, connection, client, head_end, meter_key.public_key(), material.server_system_title
    )
    response = decode_apdu(session.ask(reply_to_hls(proof)))
    assert isinstance(response, ActionResponseNormal) and response.result == ActionResult.SUCCESS
    assert isinstance(response.return_parameters, Data)
    server_proof = response.return_parameters.value
    assert isinstance(server_proof, bytes)
    verify_ecdsa_proof(
        server_proof,
        session.meter_key,
        own_system_title=CLIENT_TITLE,
        peer_system_title=material.server_system_title,
        own_challenge=CTOS,
        peer_challenge=stoc,
        suite=suite,
    )
    return session


@pytest.mark.parametrize(("name", "suite"), [("magno22", 1), ("pmm1220", 2)])
def test_hls_ecdsa_opens_0x41_once_the_head_end_key_is_configured(
    tmp_path: Path, name: str, suite: int
) -> None:
    session = _open_ecdsa(tmp_path, name, suite)
    clock_of(
        session.client, session.connection.receive(ECDSA_SAP, session.client.seal(get_clock()))
    )


def test_key_agreement_over_0x41_derives_the_new_ek_with_the_calling_title(
    tmp_path: Path,
) -> None:
    """Security setup method 3 over the opened, ciphered 0x41 of magno22, whose setup names no
    client title: party U of the KDF is the AARQ's calling-AP-title. The answer still goes
    under the old EK; the next request must use the key both sides derived."""
    session = _open_ecdsa(tmp_path, "magno22", 1)
    suite = security_suite(1)
    ephemeral = new_ephemeral_key(suite)
    entry = signed_ephemeral_key(0, ephemeral.public_key(), session.head_end, suite)
    policy = session.device.association_policy(ECDSA_SAP)
    assert policy is not None and policy.security_setup is not None
    request = ActionRequestNormal(
        invoke=InvokeIdAndPriority(1),
        method=MethodDescriptor(64, policy.security_setup, 3),
        parameters=Data.array([Data.structure([Data.enum(0), Data.octet_string(entry)])]),
    ).encode()
    response = decode_apdu(session.ask(request))
    assert isinstance(response, ActionResponseNormal) and response.result == ActionResult.SUCCESS
    assert isinstance(response.return_parameters, Data)
    (answer,) = response.return_parameters.as_items()
    key_data = answer.as_items()[1].as_bytes()
    server_ephemeral = open_signed_ephemeral_key(0, key_data, session.meter_key, suite)
    new_ek = agreed_key(
        suite,
        ephemeral,
        server_ephemeral,
        initiator_system_title=CLIENT_TITLE,
        responder_system_title=session.server_title,
    )
    material = session.device.security_material(policy)
    assert material is not None and material.global_unicast_key == new_ek
    session.client.keys = CipheringKeys(
        material.authentication_key or b"", global_unicast_key=new_ek
    )
    session.client.last_server_counter = 0  # a new EK restarts the meter's counter
    clock_of(
        session.client, session.connection.receive(ECDSA_SAP, session.client.seal(get_clock()))
    )


def test_without_the_head_end_key_0x41_is_refused() -> None:
    _, device = _meter("magno22")
    connection = ServerConnection(device, 1)
    client = Client(DEMO_KEYS, CLIENT_TITLE, 1)
    aare = aare_of(
        connection.receive(
            ECDSA_SAP,
            hls_aarq(
                AuthenticationMechanism.HIGH_ECDSA, client.seal(plain_initiate()), ciphered=True
            ),
        )
    )
    assert aare.result == AssociationResult.REJECTED_PERMANENT
    assert aare.diagnostic == AcseServiceUserDiagnostic.NO_REASON_GIVEN
