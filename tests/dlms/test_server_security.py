"""The server's HLS 4-pass exchange and APDU protection (issue 12): the golden exchanges of
reference/dlms.md 3.5 and 5 (Green Book HLS-GMAC example, ciphered AARQ, glo-get-request) to
the byte, then every mechanism, the security policy, replay, tampering, dedicated keys,
general ciphering and signing, and ciphered blocks, with a fake ``SecurityBackend``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.dlms.test_server import BLOB, CLOCK, SERVER_SAP, FakeBackend, policy

from metertwin.codec.axdr import Data, DataType, decode
from metertwin.codec.enums import (
    AcseServiceUserDiagnostic,
    ActionResult,
    ApplicationContext,
    AssociationResult,
    AuthenticationMechanism,
    Conformance,
    InitiateError,
    ServiceError,
    StateError,
)
from metertwin.codec.obis import Obis
from metertwin.codec.reader import AxdrReader
from metertwin.cosem.access import AssociationPolicy, SecurityPolicy
from metertwin.cosem.backend import LoginResult, SecurityEvent, SecurityMaterial
from metertwin.dlms.apdu import (
    Aare,
    Aarq,
    ActionRequestNormal,
    ActionResponseNormal,
    AttributeDescriptor,
    ConfirmedServiceError,
    ExceptionResponse,
    GetRequestNormal,
    GetResponseNormal,
    InitiateRequest,
    InitiateResponse,
    InvokeIdAndPriority,
    MethodDescriptor,
    Rlre,
    Rlrq,
    decode_apdu,
)
from metertwin.dlms.server.connection import AssociationState, ServerConnection
from metertwin.security.ciphering import (
    CipheringKeys,
    SecurityControl,
    protect,
    protect_general,
    unprotect,
)
from metertwin.security.general_header import GeneralHeader
from metertwin.security.general_signing import sign_general, verify_general_signing
from metertwin.security.hls import (
    ecdsa_proof,
    gmac_proof,
    secret_proof,
    sha256_proof,
    verify_ecdsa_proof,
    verify_gmac_proof,
)
from metertwin.security.suites import SUITES

H = bytes.fromhex

# Green Book HLS-GMAC example (Table 43), as quoted in reference/dlms.md 3.5.
EK = H("000102030405060708090A0B0C0D0E0F")
AK = H("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
CLIENT_TITLE = H("4D4D4D0000000001")
SERVER_TITLE = H("4D4D4D0000BC614E")
CTOS, STOC = b"K56iVagY", b"P6wRJ21F"
FIRST_SERVER_COUNTER = 0x01234567
KEYS = CipheringKeys(AK, global_unicast_key=EK)

GMAC_SAP = 0x40  # HLS-GMAC, suite 0, authenticated and encrypted both ways (policy 0x6C)
ECDSA_SAP = 0x41  # HLS-ECDSA, suite 1, ciphered and signed both ways
SHA_SAP = 0x42  # HLS-SHA256, no APDU protection
SECRET_SAP = 0x43  # HLS mechanism 2, no APDU protection
CIPHERED_LLS_SAP = 0x44  # LLS "12345678" with ciphering (reference/dlms.md 5), policy 0
GMAC_CLEAR_SAP = 0x45  # HLS-GMAC without APDU protection: the Green Book example as it stands
HLS_SECRET = b"HLS secret 16 oc"
LLS_PASSWORD = b"12345678"
PROTECTED = SecurityPolicy(0x6C)
BOTH_WAYS_SIGNED = SecurityPolicy(0xFC)

CURRENT_ASSOCIATION = Obis(0, 0, 40, 0, 0, 255)
SC_AUTH_ENC = SecurityControl(0, authenticated=True, encrypted=True)


def _der_private(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _der_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


CLIENT_SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
SERVER_SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())

_MECHANISMS = {
    GMAC_SAP: AuthenticationMechanism.HIGH_GMAC,
    ECDSA_SAP: AuthenticationMechanism.HIGH_ECDSA,
    SHA_SAP: AuthenticationMechanism.HIGH_SHA256,
    SECRET_SAP: AuthenticationMechanism.HIGH,
    CIPHERED_LLS_SAP: AuthenticationMechanism.LOW,
    GMAC_CLEAR_SAP: AuthenticationMechanism.HIGH_GMAC,
}


def _material(client_sap: int) -> SecurityMaterial:
    if client_sap == ECDSA_SAP:
        return SecurityMaterial(
            suite=1,
            policy=BOTH_WAYS_SIGNED,
            server_system_title=SERVER_TITLE,
            client_system_title=CLIENT_TITLE,
            global_unicast_key=EK,
            authentication_key=AK,
            server_signing_key=_der_private(SERVER_SIGNING_KEY),
            client_signing_public_key=_der_public(CLIENT_SIGNING_KEY),
        )
    security_policy = PROTECTED if client_sap == GMAC_SAP else SecurityPolicy.NONE
    return SecurityMaterial(
        suite=0,
        policy=security_policy,
        server_system_title=SERVER_TITLE,
        client_system_title=None,
        global_unicast_key=EK,
        authentication_key=AK,
        hls_secret=HLS_SECRET if client_sap in (SHA_SAP, SECRET_SAP) else None,
    )


@dataclass
class SecureBackend(FakeBackend):
    """FakeBackend with the associations above, each with a Security setup; it keeps the
    receive counters, hands out server counters from the Green Book's 0x01234567 and records
    what the server told it."""

    password: bytes = LLS_PASSWORD
    materials: dict[int, SecurityMaterial] = field(default_factory=dict)
    received: dict[bytes, int] = field(default_factory=dict)
    next_counter: int = FIRST_SERVER_COUNTER
    events: list[SecurityEvent] = field(default_factory=list)
    verdicts: list[bool] = field(default_factory=list)
    locked: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for sap in _MECHANISMS:
            self.materials.setdefault(sap, _material(sap))

    def association_policy(self, client_sap: int) -> AssociationPolicy | None:
        mechanism = _MECHANISMS.get(client_sap)
        if mechanism is None:
            return super().association_policy(client_sap)
        base = policy(f"hls{client_sap:x}", client_sap, mechanism)
        return AssociationPolicy(
            name=base.name,
            logical_name=Obis(0, 0, 40, 0, client_sap - 0x3D, 255),
            client_sap=client_sap,
            mechanism=mechanism,
            conformance=base.conformance,
            rights={},
            security_setup=Obis(0, 0, 43, 0, client_sap - 0x3D, 255),
        )

    def login(self, policy: AssociationPolicy, secret: bytes | None) -> LoginResult:
        return LoginResult.ACCEPTED if secret == self.password else LoginResult.WRONG_SECRET

    def security_material(self, policy: AssociationPolicy) -> SecurityMaterial | None:
        return self.materials.get(policy.client_sap)

    def hls_allowed(self, policy: AssociationPolicy) -> LoginResult:
        return LoginResult.LOCKED if self.locked else LoginResult.ACCEPTED

    def hls_verified(self, policy: AssociationPolicy, passed: bool) -> LoginResult:
        self.verdicts.append(passed)
        return LoginResult.ACCEPTED if passed else LoginResult.WRONG_SECRET

    def next_invocation_counter(self, policy: AssociationPolicy) -> int:
        counter = self.next_counter
        self.next_counter += 1
        return counter

    def accept_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes, counter: int
    ) -> bool:
        last = self.received.get(client_system_title)
        if last is not None and counter <= last:
            return False
        self.received[client_system_title] = counter
        return True

    def last_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes
    ) -> int | None:
        return self.received.get(client_system_title)

    def security_refused(self, policy: AssociationPolicy, event: SecurityEvent) -> None:
        self.events.append(event)


def fixed(challenge: bytes) -> Callable[[int], bytes]:
    return lambda _length: challenge


def plain_initiate(pdu: int = 0xFFFF, dedicated_key: bytes | None = None) -> bytes:
    return InitiateRequest(
        proposed_conformance=Conformance(0x001E1D),
        client_max_receive_pdu_size=pdu,
        dedicated_key=dedicated_key,
    ).encode()


class Client:
    """The client's half, built from the security primitives: counters, keys, titles."""

    def __init__(
        self,
        keys: CipheringKeys = KEYS,
        title: bytes = CLIENT_TITLE,
        suite: int = 0,
        server_title: bytes = SERVER_TITLE,
    ) -> None:
        self.keys = keys
        self.title = title
        self.server_title = server_title
        self.control = SecurityControl(suite, authenticated=True, encrypted=True)
        self.counter = 0
        self.last_server_counter = -1

    def seal(self, plain: bytes, *, dedicated: bool = False, general: bool = False) -> bytes:
        self.counter += 1
        sealer = protect_general if general else protect
        return sealer(
            plain,
            control=self.control,
            invocation_counter=self.counter,
            system_title=self.title,
            keys=self.keys,
            dedicated=dedicated,
        )

    def open(self, apdu: bytes | None) -> bytes:
        assert apdu is not None
        opened = unprotect(
            apdu, keys=self.keys, system_title=self.server_title, require_encrypted=True
        )
        assert opened.invocation_counter > self.last_server_counter
        self.last_server_counter = opened.invocation_counter
        return opened.plaintext


def hls_aarq(
    mechanism: AuthenticationMechanism,
    user_information: bytes,
    *,
    ciphered: bool = False,
    title: bytes | None = CLIENT_TITLE,
    ctos: bytes | None = CTOS,
) -> bytes:
    return Aarq(
        application_context_name=(
            ApplicationContext.LOGICAL_NAME_WITH_CIPHERING
            if ciphered
            else ApplicationContext.LOGICAL_NAME
        ),
        calling_ap_title=title,
        acse_authentication=True,
        mechanism_name=mechanism,
        calling_authentication_value=ctos,
        user_information=user_information,
    ).encode()


def reply_to_hls(proof: bytes, invoke: int = 1) -> bytes:
    return ActionRequestNormal(
        invoke=InvokeIdAndPriority(invoke),
        method=MethodDescriptor(15, CURRENT_ASSOCIATION, 1),
        parameters=Data.octet_string(proof),
    ).encode()


def get_clock(invoke: int = 1) -> bytes:
    return GetRequestNormal(
        invoke=InvokeIdAndPriority(invoke), attribute=AttributeDescriptor(8, CLOCK, 2)
    ).encode()


def aare_of(answer: bytes | None) -> Aare:
    assert answer is not None
    aare = decode_apdu(answer)
    assert isinstance(aare, Aare)
    return aare


def exception_of(answer: bytes | None) -> ExceptionResponse:
    assert answer is not None
    response = decode_apdu(answer)
    assert isinstance(response, ExceptionResponse), answer.hex()
    return response


def gmac_associate(
    backend: SecureBackend | None = None, pdu: int = 0xFFFF
) -> tuple[ServerConnection, SecureBackend, Client]:
    """The 0x40 association opened the way a head-end opens it: ciphered AARQ, GMAC pass 3
    in a glo-action-request, f(CtoS) checked from the glo-action-response."""
    backend = backend or SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP, random_bytes=fixed(STOC))
    client = Client()
    aare = aare_of(
        connection.receive(
            GMAC_SAP,
            hls_aarq(
                AuthenticationMechanism.HIGH_GMAC,
                client.seal(plain_initiate(pdu)),
                ciphered=True,
            ),
        )
    )
    assert aare.result == AssociationResult.ACCEPTED
    assert aare.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED
    assert aare.responding_ap_title == SERVER_TITLE
    assert aare.user_information is not None and aare.user_information[0] == 0x28
    assert isinstance(decode_apdu(client.open(aare.user_information)), InitiateResponse)
    assert connection.state(GMAC_SAP) is AssociationState.HLS_PENDING
    client.counter += 1
    proof = gmac_proof(
        STOC,
        system_title=CLIENT_TITLE,
        invocation_counter=client.counter,
        encryption_key=EK,
        authentication_key=AK,
    )
    client.counter -= 1
    answer = connection.receive(GMAC_SAP, client.seal(reply_to_hls(proof)))
    assert answer is not None and answer[0] == 0xCF  # glo-action-response
    response = decode_apdu(client.open(answer))
    assert isinstance(response, ActionResponseNormal)
    assert response.result == ActionResult.SUCCESS
    assert isinstance(response.return_parameters, Data)
    server_proof = response.return_parameters.value
    assert isinstance(server_proof, bytes)
    verify_gmac_proof(
        server_proof,
        CTOS,
        peer_system_title=SERVER_TITLE,
        encryption_key=EK,
        authentication_key=AK,
    )
    assert connection.is_associated(GMAC_SAP)
    return connection, backend, client


def clock_of(client: Client, answer: bytes | None) -> Data:
    assert answer is not None and answer[0] == 0xCC, answer  # glo-get-response
    response = decode_apdu(client.open(answer))
    assert isinstance(response, GetResponseNormal)
    assert isinstance(response.result, Data)
    return response.result


# --- the Green Book HLS-GMAC example, to the byte ----------------------------------------------


def test_hls_gmac_four_pass_gives_the_green_book_proofs() -> None:
    """reference/dlms.md 3.5 (Green Book Table 43): CtoS K56iVagY, StoC P6wRJ21F; the client
    proves itself with IC 1, the meter answers f(CtoS) with IC 0x01234567, and both proofs are
    the example's octets. Only then is the association open, and the backend hears of it."""
    backend = SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP, random_bytes=fixed(STOC))
    answer = connection.receive(
        GMAC_CLEAR_SAP, hls_aarq(AuthenticationMechanism.HIGH_GMAC, plain_initiate())
    )
    aare = aare_of(answer)
    assert aare.result == AssociationResult.ACCEPTED
    assert aare.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED
    assert aare.mechanism_name == AuthenticationMechanism.HIGH_GMAC
    assert aare.acse_authentication
    assert aare.responding_authentication_value == STOC
    assert aare.responding_ap_title == SERVER_TITLE
    assert connection.state(GMAC_CLEAR_SAP) is AssociationState.HLS_PENDING
    assert backend.associated_calls == []

    answer = connection.receive(
        GMAC_CLEAR_SAP,
        H("C301C1000F0000280000FF0101091110000000011A52FE7DD3E72748973C1E28"),
    )
    assert answer == H("C701C100010009111001234567FE1466AFB3DBCD4F9389E2B7")
    assert connection.is_associated(GMAC_CLEAR_SAP)
    (context,) = backend.associated_calls
    assert context.authenticated
    assert backend.verdicts == [True]
    clock = connection.receive(GMAC_CLEAR_SAP, get_clock())
    assert clock is not None and clock[:4] == H("C401C100")


def test_a_wrong_pass_3_proof_is_denied_logged_and_ends_the_association() -> None:
    backend = SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP, random_bytes=fixed(STOC))
    connection.receive(
        GMAC_CLEAR_SAP, hls_aarq(AuthenticationMechanism.HIGH_GMAC, plain_initiate())
    )
    wrong = H("10000000011A52FE7DD3E72748973C1E29")  # last octet of the tag changed
    answer = connection.receive(GMAC_CLEAR_SAP, reply_to_hls(wrong))
    assert answer == H("C701C10300")  # read-write-denied, no data
    assert backend.verdicts == [False]
    assert backend.events == [SecurityEvent.HLS_FAILED]
    assert connection.state(GMAC_CLEAR_SAP) is AssociationState.IDLE
    assert backend.associated_calls == []
    refused = exception_of(connection.receive(GMAC_CLEAR_SAP, get_clock()))
    assert (refused.state_error, refused.service_error) == (
        StateError.SERVICE_NOT_ALLOWED,
        ServiceError.OPERATION_NOT_POSSIBLE,
    )


@pytest.mark.parametrize(
    "request_apdu",
    [
        get_clock(),
        ActionRequestNormal(
            invoke=InvokeIdAndPriority(1),
            method=MethodDescriptor(15, CURRENT_ASSOCIATION, 2),  # change_HLS_secret
            parameters=Data.octet_string(b"new secret"),
        ).encode(),
        ActionRequestNormal(  # reply_to_HLS on another association's object
            invoke=InvokeIdAndPriority(1),
            method=MethodDescriptor(15, Obis(0, 0, 40, 0, 1, 255), 1),
            parameters=Data.octet_string(b"x" * 17),
        ).encode(),
    ],
    ids=["get", "change-hls-secret", "reply-on-another-association"],
)
def test_while_pending_only_reply_to_hls_authentication_is_served(request_apdu: bytes) -> None:
    backend = SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP, random_bytes=fixed(STOC))
    connection.receive(
        GMAC_CLEAR_SAP, hls_aarq(AuthenticationMechanism.HIGH_GMAC, plain_initiate())
    )
    refused = exception_of(connection.receive(GMAC_CLEAR_SAP, request_apdu))
    assert refused.service_error == ServiceError.OPERATION_NOT_POSSIBLE
    assert connection.state(GMAC_CLEAR_SAP) is AssociationState.HLS_PENDING
    assert backend.actions == [] and backend.reads == 0
    answer = connection.receive(
        GMAC_CLEAR_SAP,
        H("C301C1000F0000280000FF0101091110000000011A52FE7DD3E72748973C1E28"),
    )
    assert answer is not None and answer[:5] == H("C701C10001")
    assert connection.is_associated(GMAC_CLEAR_SAP)


@pytest.mark.parametrize(
    ("ctos", "title", "diagnostic"),
    [
        (None, CLIENT_TITLE, AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED),
        (b"7 bytes", CLIENT_TITLE, AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE),
        (b"x" * 65, CLIENT_TITLE, AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE),
        (CTOS, None, AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED),
        (CTOS, b"short", AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED),
    ],
    ids=["no-ctos", "ctos-too-short", "ctos-too-long", "no-title", "title-not-8-octets"],
)
def test_an_hls_aarq_without_a_fitting_challenge_or_title_is_refused(
    ctos: bytes | None, title: bytes | None, diagnostic: AcseServiceUserDiagnostic
) -> None:
    connection = ServerConnection(SecureBackend(), SERVER_SAP)
    aare = aare_of(
        connection.receive(
            GMAC_CLEAR_SAP,
            hls_aarq(AuthenticationMechanism.HIGH_GMAC, plain_initiate(), title=title, ctos=ctos),
        )
    )
    assert aare.result == AssociationResult.REJECTED_PERMANENT
    assert aare.diagnostic == diagnostic
    assert connection.state(GMAC_CLEAR_SAP) is AssociationState.IDLE


def test_a_client_title_other_than_the_setups_is_refused_and_logged() -> None:
    backend = SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    other = H("4D4D4D0000000002")
    aare = aare_of(
        connection.receive(
            ECDSA_SAP,
            hls_aarq(AuthenticationMechanism.HIGH_ECDSA, plain_initiate(), title=other),
        )
    )
    assert aare.diagnostic == AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED
    assert backend.events == [SecurityEvent.UNKNOWN_SYSTEM_TITLE]


def test_during_a_lockout_an_hls_aarq_is_refused_transiently() -> None:
    backend = SecureBackend(locked=True)
    connection = ServerConnection(backend, SERVER_SAP)
    aare = aare_of(
        connection.receive(
            GMAC_CLEAR_SAP, hls_aarq(AuthenticationMechanism.HIGH_GMAC, plain_initiate())
        )
    )
    assert aare.result == AssociationResult.REJECTED_TRANSIENT
    assert aare.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE


def test_md5_and_sha1_are_not_served() -> None:
    connection = ServerConnection(SecureBackend(), SERVER_SAP)
    for mechanism in (AuthenticationMechanism.HIGH_MD5, AuthenticationMechanism.HIGH_SHA1):
        aare = aare_of(connection.receive(GMAC_CLEAR_SAP, hls_aarq(mechanism, plain_initiate())))
        assert (
            aare.diagnostic
            == AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED
        )


# --- the other mechanisms ------------------------------------------------------------------------


def _pass_3(connection: ServerConnection, client_sap: int, proof: bytes) -> bytes:
    answer = connection.receive(client_sap, reply_to_hls(proof))
    assert answer is not None
    response = decode_apdu(answer)
    assert isinstance(response, ActionResponseNormal)
    assert response.result == ActionResult.SUCCESS, response
    assert isinstance(response.return_parameters, Data)
    assert isinstance(response.return_parameters.value, bytes)
    return response.return_parameters.value


def test_hls_sha256_both_proofs() -> None:
    """Mechanism 6 (reference/dlms.md 3.5): the client hashes secret, ST-C, ST-S, StoC, CtoS;
    the meter answers with the titles and challenges the other way round."""
    connection = ServerConnection(SecureBackend(), SERVER_SAP, random_bytes=fixed(STOC))
    connection.receive(SHA_SAP, hls_aarq(AuthenticationMechanism.HIGH_SHA256, plain_initiate()))
    proof = hashlib.sha256(HLS_SECRET + CLIENT_TITLE + SERVER_TITLE + STOC + CTOS).digest()
    server_proof = _pass_3(connection, SHA_SAP, proof)
    assert (
        server_proof
        == hashlib.sha256(HLS_SECRET + SERVER_TITLE + CLIENT_TITLE + CTOS + STOC).digest()
    )
    assert server_proof == sha256_proof(
        HLS_SECRET,
        own_system_title=SERVER_TITLE,
        peer_system_title=CLIENT_TITLE,
        peer_challenge=CTOS,
        own_challenge=STOC,
    )
    assert connection.is_associated(SHA_SAP)


def test_hls_mechanism_2_with_the_secret() -> None:
    connection = ServerConnection(SecureBackend(), SERVER_SAP, random_bytes=fixed(STOC))
    connection.receive(SECRET_SAP, hls_aarq(AuthenticationMechanism.HIGH, plain_initiate()))
    server_proof = _pass_3(connection, SECRET_SAP, secret_proof(STOC, HLS_SECRET))
    assert server_proof == secret_proof(CTOS, HLS_SECRET)
    assert connection.is_associated(SECRET_SAP)


def test_hls_ecdsa_suite_1_signs_and_checks_with_the_setup_keys() -> None:
    """Mechanism 7 on P-256: the client signs ST-C ‖ ST-S ‖ StoC ‖ CtoS with its key, the
    meter answers a signature of ST-S ‖ ST-C ‖ CtoS ‖ StoC that the client's public copy of
    the meter's key verifies. Requests and responses of this setup are also signed."""
    backend = SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP, random_bytes=fixed(STOC))
    client = Client(suite=1)
    signer = Signer(client)
    aare = aare_of(
        connection.receive(
            ECDSA_SAP,
            hls_aarq(
                AuthenticationMechanism.HIGH_ECDSA,
                client.seal(plain_initiate()),
                ciphered=True,
            ),
        )
    )
    assert aare.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED
    proof = ecdsa_proof(
        CLIENT_SIGNING_KEY,
        own_system_title=CLIENT_TITLE,
        peer_system_title=SERVER_TITLE,
        peer_challenge=STOC,
        own_challenge=CTOS,
        suite=1,
    )
    answer = connection.receive(ECDSA_SAP, signer.sign(client.seal(reply_to_hls(proof))))
    response = decode_apdu(client.open(signer.verify(answer)))
    assert isinstance(response, ActionResponseNormal) and response.result == ActionResult.SUCCESS
    assert isinstance(response.return_parameters, Data)
    server_proof = response.return_parameters.value
    assert isinstance(server_proof, bytes)
    verify_ecdsa_proof(
        server_proof,
        SERVER_SIGNING_KEY.public_key(),
        own_system_title=CLIENT_TITLE,
        peer_system_title=SERVER_TITLE,
        own_challenge=CTOS,
        peer_challenge=STOC,
        suite=1,
    )
    assert connection.is_associated(ECDSA_SAP)
    clock = clock_of(
        client, signer.verify(connection.receive(ECDSA_SAP, signer.sign(client.seal(get_clock()))))
    )
    assert clock.type is DataType.OCTET_STRING
    # a ciphered request without its signature is below this setup's policy
    refused = exception_of(connection.receive(ECDSA_SAP, client.seal(get_clock())))
    assert refused.service_error == ServiceError.DECIPHERING_ERROR
    # and one signed by another key is refused as a bad signature
    stranger = Signer(client, ec.generate_private_key(ec.SECP256R1()))
    refused = exception_of(connection.receive(ECDSA_SAP, stranger.sign(client.seal(get_clock()))))
    assert refused.service_error == ServiceError.DECIPHERING_ERROR
    assert backend.events == [SecurityEvent.BELOW_POLICY, SecurityEvent.BAD_SIGNATURE]


class Signer:
    """general-signing on the client's side (suite 1)."""

    def __init__(self, client: Client, key: ec.EllipticCurvePrivateKey = CLIENT_SIGNING_KEY):
        self.client = client
        self.key = key
        self.transactions = 0

    def sign(self, apdu: bytes) -> bytes:
        self.transactions += 1
        header = GeneralHeader(
            transaction_id=self.transactions.to_bytes(8, "big"),
            originator_system_title=self.client.title,
            recipient_system_title=SERVER_TITLE,
        )
        return sign_general(apdu, header=header, signing_key=self.key, suite=SUITES[1])

    def verify(self, answer: bytes | None) -> bytes:
        assert answer is not None and answer[0] == 0xDF, answer
        signing = verify_general_signing(
            answer,
            peer_signing_key=SERVER_SIGNING_KEY.public_key(),
            suite=1,
            peer_system_title=SERVER_TITLE,
            own_system_title=self.client.title,
        )
        assert signing.header.transaction_id == self.transactions.to_bytes(8, "big")
        return signing.content


# --- ciphered AARQ and APDUs ---------------------------------------------------------------------


def test_the_reference_ciphered_aarq_opens_with_its_dedicated_key() -> None:
    """reference/dlms.md 5 (dlms-cosem test_parse_ciphered_low_security2): LN with ciphering,
    LLS 12345678, calling-AP-title 4D4D4D0000BC614E and a glo-initiate-request (IC 0x01234567)
    carrying a dedicated key. The meter accepts it, answers a glo-initiate-response, and
    afterwards serves ded- requests under that dedicated key."""
    backend = SecureBackend()
    backend.materials[CIPHERED_LLS_SAP] = SecurityMaterial(
        suite=0,
        policy=SecurityPolicy.NONE,
        server_system_title=H("4D4D4D0000000099"),
        client_system_title=None,
        global_unicast_key=EK,
        authentication_key=AK,
    )
    connection = ServerConnection(backend, SERVER_SAP)
    aare = aare_of(
        connection.receive(
            CIPHERED_LLS_SAP,
            H(
                "6066A109060760857405080103A60A04084D4D4D0000BC614E8A0207808B0760857405080201"
                "AC0A80083132333435363738BE34043221303001234567801302FF8A7874133D414CED25B425"
                "34D28DB0047720606B175BD52211BE6841DB204D39EE6FDB8E356855"
            ),
        )
    )
    assert aare.result == AssociationResult.ACCEPTED
    assert aare.application_context_name == ApplicationContext.LOGICAL_NAME_WITH_CIPHERING
    assert aare.user_information is not None
    opened = unprotect(aare.user_information, keys=KEYS, system_title=H("4D4D4D0000000099"))
    assert opened.tag == 0x28
    assert isinstance(decode_apdu(opened.plaintext), InitiateResponse)
    assert backend.received == {H("4D4D4D0000BC614E"): 0x01234567}
    inner = unprotect(
        H(
            "21303001234567801302FF8A7874133D414CED25B42534D28DB0047720606B175BD52211BE6841"
            "DB204D39EE6FDB8E356855"
        ),
        keys=KEYS,
        system_title=H("4D4D4D0000BC614E"),
    )
    request = decode_apdu(inner.plaintext)
    assert isinstance(request, InitiateRequest) and request.dedicated_key is not None
    dedicated = CipheringKeys(AK, dedicated_key=request.dedicated_key)
    client = Client(dedicated, H("4D4D4D0000BC614E"))
    answer = connection.receive(CIPHERED_LLS_SAP, client.seal(get_clock(), dedicated=True))
    assert answer is not None and answer[0] == 0xD4  # ded-get-response
    reply = unprotect(answer, keys=dedicated, system_title=H("4D4D4D0000000099"))
    assert reply.dedicated and reply.plaintext[:4] == H("C401C100")


def test_the_reference_glo_get_request_is_opened_and_answered_in_kind() -> None:
    """reference/dlms.md 5 (dlms-cosem test_encrypt_authenticated): the Green Book
    glo-get-request of the clock, SC 30, IC 0x01234567, system title 4D4D4D0000BC614E."""
    backend = SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    title = H("4D4D4D0000BC614E")
    aare = aare_of(
        connection.receive(
            CIPHERED_LLS_SAP,
            Aarq(
                application_context_name=ApplicationContext.LOGICAL_NAME_WITH_CIPHERING,
                calling_ap_title=title,
                acse_authentication=True,
                mechanism_name=AuthenticationMechanism.LOW,
                calling_authentication_value=LLS_PASSWORD,
                user_information=plain_initiate(),
            ).encode(),
        )
    )
    assert aare.result == AssociationResult.ACCEPTED
    answer = connection.receive(
        CIPHERED_LLS_SAP,
        H("C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"),
    )
    assert answer is not None and answer[0] == 0xCC
    opened = unprotect(answer, keys=KEYS, system_title=SERVER_TITLE)
    assert opened.control.authenticated and opened.control.encrypted
    assert opened.invocation_counter == FIRST_SERVER_COUNTER
    assert opened.plaintext[:4] == H("C4010000")  # invoke-id-and-priority 00 echoed
    assert backend.received == {title: 0x01234567}


def test_a_protected_association_serves_glo_and_general_glo_requests() -> None:
    connection, backend, client = gmac_associate()
    assert clock_of(client, connection.receive(GMAC_SAP, client.seal(get_clock()))).type is (
        DataType.OCTET_STRING
    )
    answer = connection.receive(GMAC_SAP, client.seal(get_clock(), general=True))
    assert answer is not None and answer[:2] == H("DB08")
    assert answer[2:10] == SERVER_TITLE
    assert client.open(answer)[:4] == H("C401C100")
    assert backend.events == []


def test_a_plain_request_is_below_the_policy_and_refused() -> None:
    connection, backend, _client = gmac_associate()
    refused = exception_of(connection.receive(GMAC_SAP, get_clock()))
    assert (refused.state_error, refused.service_error) == (
        StateError.SERVICE_NOT_ALLOWED,
        ServiceError.DECIPHERING_ERROR,
    )
    assert backend.events == [SecurityEvent.BELOW_POLICY]
    assert backend.reads == 0


def test_an_authenticated_only_request_is_below_a_policy_asking_encryption() -> None:
    connection, backend, client = gmac_associate()
    client.counter += 1
    request = protect(
        get_clock(),
        control=SecurityControl(0, authenticated=True, encrypted=False),
        invocation_counter=client.counter,
        system_title=CLIENT_TITLE,
        keys=KEYS,
    )
    assert exception_of(connection.receive(GMAC_SAP, request)).service_error == (
        ServiceError.DECIPHERING_ERROR
    )
    assert backend.events == [SecurityEvent.BELOW_POLICY]


def test_a_replayed_request_is_refused_with_the_counter_expected() -> None:
    """Green Book: invocation-counter-error carries the counter the server expects next."""
    connection, backend, client = gmac_associate()
    request = client.seal(get_clock())
    clock_of(client, connection.receive(GMAC_SAP, request))
    reads = backend.reads
    refused = exception_of(connection.receive(GMAC_SAP, request))
    assert refused.service_error == ServiceError.INVOCATION_COUNTER_ERROR
    assert refused.invocation_counter == client.counter + 1
    assert backend.events == [SecurityEvent.REPLAY]
    assert backend.reads == reads
    # the replay changed nothing: the next fresh request is served
    clock_of(client, connection.receive(GMAC_SAP, client.seal(get_clock())))


def test_a_replayed_aarq_is_refused() -> None:
    backend = SecureBackend()
    client = Client()
    request = hls_aarq(
        AuthenticationMechanism.HIGH_GMAC, client.seal(plain_initiate()), ciphered=True
    )
    first = ServerConnection(backend, SERVER_SAP, random_bytes=fixed(STOC))
    assert aare_of(first.receive(GMAC_SAP, request)).result == AssociationResult.ACCEPTED
    second = ServerConnection(backend, SERVER_SAP, random_bytes=fixed(STOC))
    aare = aare_of(second.receive(GMAC_SAP, request))
    assert aare.result == AssociationResult.REJECTED_PERMANENT
    assert aare.user_information == ConfirmedServiceError.initiate(InitiateError.OTHER).encode()
    assert backend.events == [SecurityEvent.REPLAY]


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda apdu: apdu[:-1] + bytes([apdu[-1] ^ 1]), "authentication tag"),
        (lambda apdu: apdu[:8] + bytes([apdu[8] ^ 0x80]) + apdu[9:], "ciphertext"),
        (lambda apdu: apdu[:2] + bytes([0x31]) + apdu[3:], "suite 1 in a suite 0 setup"),
        (lambda apdu: apdu[:-3], "truncated"),
        (lambda apdu: apdu[:1] + bytes([apdu[1] + 4]) + apdu[2:], "length"),
    ],
    ids=["tag", "ciphertext", "suite", "truncated", "length"],
)
def test_a_tampered_request_is_refused_as_deciphering_error(
    tamper: Callable[[bytes], bytes], reason: str
) -> None:
    connection, backend, client = gmac_associate()
    reads = backend.reads
    refused = exception_of(connection.receive(GMAC_SAP, tamper(client.seal(get_clock()))))
    assert refused.service_error == ServiceError.DECIPHERING_ERROR, reason
    assert backend.events == [SecurityEvent.DECIPHERING_FAILED]
    assert backend.reads == reads
    clock_of(client, connection.receive(GMAC_SAP, client.seal(get_clock())))  # still serving


def test_a_request_under_the_wrong_key_or_title_is_refused() -> None:
    connection, backend, client = gmac_associate()
    wrong_key = Client(CipheringKeys(AK, global_unicast_key=bytes(16)))
    wrong_key.counter = 100
    assert exception_of(
        connection.receive(GMAC_SAP, wrong_key.seal(get_clock()))
    ).service_error == (ServiceError.DECIPHERING_ERROR)
    other_title = Client(title=H("4D4D4D0000000002"))
    other_title.counter = 200
    refused = connection.receive(GMAC_SAP, other_title.seal(get_clock(), general=True))
    assert exception_of(refused).service_error == ServiceError.DECIPHERING_ERROR
    assert backend.events == [SecurityEvent.DECIPHERING_FAILED] * 2
    assert backend.received[CLIENT_TITLE] == client.counter  # nothing moved


def test_a_ciphered_aarq_with_a_plain_initiate_is_below_the_policy() -> None:
    backend = SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    aare = aare_of(
        connection.receive(
            GMAC_SAP, hls_aarq(AuthenticationMechanism.HIGH_GMAC, plain_initiate(), ciphered=True)
        )
    )
    assert aare.result == AssociationResult.REJECTED_PERMANENT
    assert aare.user_information == ConfirmedServiceError.initiate(InitiateError.OTHER).encode()
    assert backend.events == [SecurityEvent.BELOW_POLICY]


def test_a_protected_policy_refuses_the_context_without_ciphering() -> None:
    connection = ServerConnection(SecureBackend(), SERVER_SAP)
    aare = aare_of(
        connection.receive(
            GMAC_SAP, hls_aarq(AuthenticationMechanism.HIGH_GMAC, Client().seal(plain_initiate()))
        )
    )
    assert aare.diagnostic == AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED


def test_a_dedicated_key_in_the_clear_or_of_the_wrong_length_is_refused() -> None:
    backend = SecureBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    clear = Aarq(
        application_context_name=ApplicationContext.LOGICAL_NAME_WITH_CIPHERING,
        calling_ap_title=CLIENT_TITLE,
        acse_authentication=True,
        mechanism_name=AuthenticationMechanism.LOW,
        calling_authentication_value=LLS_PASSWORD,
        user_information=plain_initiate(dedicated_key=bytes(16)),
    ).encode()
    aare = aare_of(connection.receive(CIPHERED_LLS_SAP, clear))
    assert aare.user_information == ConfirmedServiceError.initiate(InitiateError.OTHER).encode()
    short = hls_aarq(
        AuthenticationMechanism.HIGH_GMAC,
        Client().seal(plain_initiate(dedicated_key=bytes(15))),
        ciphered=True,
    )
    aare = aare_of(connection.receive(GMAC_SAP, short))
    assert aare.user_information == ConfirmedServiceError.initiate(InitiateError.OTHER).encode()


def test_ciphered_blocks_each_fit_the_clients_pdu_size() -> None:
    """A 1024-octet value to a client receiving at most 128 octets: every glo-get-response
    fits 128 octets with its protection, and the blocks rebuild the value."""
    connection, _backend, client = gmac_associate(pdu=128)
    request = GetRequestNormal(
        invoke=InvokeIdAndPriority(1), attribute=AttributeDescriptor(1, BLOB, 2)
    ).encode()
    answer = connection.receive(GMAC_SAP, client.seal(request))
    raw = b""
    for block_number in range(1, 100):
        assert answer is not None and len(answer) <= 128
        plain = client.open(answer)
        assert plain[:2] == H("C402")
        last, number = plain[3], int.from_bytes(plain[4:8], "big")
        assert number == block_number and plain[8] == 0
        reader = AxdrReader(plain[9:])
        raw += reader.take(reader.length("raw"), "raw data")
        if last:
            break
        answer = connection.receive(GMAC_SAP, client.seal(H("C002C1") + number.to_bytes(4, "big")))
    assert decode(raw) == Data.octet_string(bytes(range(256)) * 4)


def test_a_ciphered_rlrq_gets_a_ciphered_rlre() -> None:
    connection, backend, client = gmac_associate()
    answer = connection.receive(
        GMAC_SAP, Rlrq(user_information=client.seal(plain_initiate())).encode()
    )
    assert answer is not None
    rlre = decode_apdu(answer)
    assert isinstance(rlre, Rlre) and rlre.user_information is not None
    assert isinstance(decode_apdu(client.open(rlre.user_information)), InitiateResponse)
    assert connection.state(GMAC_SAP) is AssociationState.IDLE
    assert len(backend.released_calls) == 1


def test_new_keys_take_effect_after_the_request_that_set_them() -> None:
    """security_material is read again after a SET or ACTION: a key_transfer's answer still
    goes under the old key, the next request must use the new one."""
    connection, backend, client = gmac_associate()
    new_key = bytes(range(16, 32))
    material = backend.materials[GMAC_SAP]
    backend.materials[GMAC_SAP] = SecurityMaterial(
        suite=0,
        policy=material.policy,
        server_system_title=SERVER_TITLE,
        client_system_title=None,
        global_unicast_key=new_key,
        authentication_key=AK,
    )
    echo = ActionRequestNormal(
        invoke=InvokeIdAndPriority(1),
        method=MethodDescriptor(8192, BLOB, 1),
        parameters=Data.unsigned(7),
    ).encode()
    answer = connection.receive(GMAC_SAP, client.seal(echo))
    assert client.open(answer)[:4] == H("C701C100")  # under the old key
    client.keys = CipheringKeys(AK, global_unicast_key=new_key)
    clock_of(client, connection.receive(GMAC_SAP, client.seal(get_clock())))


# --- fuzz ----------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_octets_on_a_protected_association_get_a_refusal_never_a_crash(
    octets: bytes,
) -> None:
    assume(octets[:1] not in (b"\x60", b"\x62"))  # an AARQ or RLRQ ends the association
    connection, _backend, client = gmac_associate()
    answer = connection.receive(GMAC_SAP, octets)
    if answer is not None:
        assert answer[0] in (0xD8, 0x61, 0x63), answer.hex()  # exception, AARE, RLRE
    clock_of(client, connection.receive(GMAC_SAP, client.seal(get_clock())))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_flipped_bit_in_a_protected_request_is_always_refused(data: st.DataObject) -> None:
    connection, backend, client = gmac_associate()
    request = bytearray(client.seal(get_clock()))
    bit = data.draw(st.integers(0, len(request) * 8 - 1))
    request[bit // 8] ^= 1 << (bit % 8)
    answer = connection.receive(GMAC_SAP, bytes(request))
    assert answer is not None and answer[0] == 0xD8, answer.hex()
    assert backend.reads == 0
