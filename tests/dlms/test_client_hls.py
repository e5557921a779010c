"""Our client's HLS and ciphering, sans-IO, against a scripted meter built from the security
primitives (metertwin.security), not from our DLMS server.

The Green Book HLS-GMAC example (Table 43; reference dlms.md 3.5) fixes the keys, titles,
challenges and both proofs: EK 000102..0F, AK D0..DF, client ST 4D4D4D0000000001, server ST
4D4D4D0000BC614E, CtoS ``K56iVagY``, StoC ``P6wRJ21F``, f(StoC) with IC 1 =
``10 00000001 1A52FE7DD3E72748973C1E28``, f(CtoS) with IC 01234567 =
``10 01234567 FE1466AFB3DBCD4F9389E2B7``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from metertwin.codec.axdr import Data
from metertwin.codec.enums import (
    AcseServiceUserDiagnostic,
    ActionResult,
    ApplicationContext,
    AssociationResult,
    AuthenticationMechanism,
    Conformance,
    ServiceError,
    StateError,
)
from metertwin.codec.obis import Obis
from metertwin.dlms.acse import Aare, Aarq, InitiateRequest, InitiateResponse
from metertwin.dlms.apdu import decode_apdu
from metertwin.dlms.client import (
    AssociationRejectedError,
    ClientAssociation,
    DlmsSecurityError,
    ExceptionResponseError,
    Exchange,
)
from metertwin.dlms.client.security import (
    AUTHENTICATED_REQUEST,
    AUTHENTICATED_RESPONSE,
    FULL_PROTECTION,
    GREEN_BOOK_AK,
    GREEN_BOOK_CLIENT_SYSTEM_TITLE,
    GREEN_BOOK_EK,
    ClientSecurity,
)
from metertwin.dlms.reports import ExceptionResponse
from metertwin.dlms.xdlms import (
    ActionRequestNormal,
    ActionResponseNormal,
    GetRequestNormal,
    GetResponseNormal,
)
from metertwin.security import hls
from metertwin.security.ciphering import (
    CipheringKeys,
    SecurityControl,
    protect,
    protect_general,
    unprotect,
)

SERVER_TITLE = bytes.fromhex("4D4D4D0000BC614E")
CTOS = b"K56iVagY"
STOC = b"P6wRJ21F"
F_STOC = bytes.fromhex("10000000011A52FE7DD3E72748973C1E28")
F_CTOS = bytes.fromhex("1001234567FE1466AFB3DBCD4F9389E2B7")
CLOCK = Obis.parse("0.0.1.0.0.255")
KEYS = CipheringKeys(authentication_key=GREEN_BOOK_AK, global_unicast_key=GREEN_BOOK_EK)
FULL = SecurityControl(suite=0, authenticated=True, encrypted=True)


def _ctos(length: int) -> bytes:
    assert length == len(CTOS)
    return CTOS


def gmac_client(**changes: object) -> ClientAssociation:
    """HLS-GMAC, suite 0, policy 0x6C, the Green Book's keys, title and CtoS."""
    options: dict[str, object] = {
        "mechanism": AuthenticationMechanism.HIGH_GMAC,
        "encryption_key": GREEN_BOOK_EK,
        "authentication_key": GREEN_BOOK_AK,
        "challenge_length": len(CTOS),
    }
    options.update(changes)
    return ClientAssociation(security=ClientSecurity(**options), random_bytes=_ctos)  # type: ignore[arg-type]


@dataclass
class ScriptedMeter:
    """Answers one HLS-GMAC association the way the wire contract says (docs/dlms.md),
    with knobs to misbehave. Its counter starts at 01234566 (the glo-initiate-response), so
    that its pass 4 proof, numbered next, is the Green Book's."""

    counter: int = 0x01234565
    title: bytes = SERVER_TITLE
    keys: CipheringKeys = KEYS
    wrong_pass4: bool = False
    replay_after_association: bool = False
    general_title: bytes | None = None  # answer GETs with general-glo-ciphering from this title
    refuse_get: ExceptionResponse | None = None
    mechanism: AuthenticationMechanism = AuthenticationMechanism.HIGH_GMAC
    signing_key: ec.EllipticCurvePrivateKey | None = None
    client_public_key: ec.EllipticCurvePublicKey | None = None
    suite: int = 0
    require_encrypted: bool = True
    seen: list[bytes] = field(default_factory=list)
    client_title: bytes = b""
    ctos: bytes = b""
    pass3_proof: bytes = b""

    def _next_counter(self) -> int:
        self.counter += 1
        return self.counter

    def _protect(self, plain: bytes) -> bytes:
        control = SecurityControl(suite=self.suite, authenticated=True, encrypted=True)
        if self.general_title is not None and plain[0] == GetResponseNormal.TAG:
            return protect_general(
                plain,
                control=control,
                invocation_counter=self._next_counter(),
                system_title=self.general_title,
                keys=self.keys,
            )
        counter = self.counter if self.replay_after_association else self._next_counter()
        return protect(
            plain,
            control=control,
            invocation_counter=counter,
            system_title=self.title,
            keys=self.keys,
        )

    def answer(self, request: bytes) -> bytes:
        self.seen.append(request)
        if request[0] == Aarq.TAG:
            return self._aare(Aarq.decode(request))
        opened = unprotect(
            request,
            keys=self.keys,
            system_title=self.client_title,
            require_encrypted=self.require_encrypted,
        )
        plain = decode_apdu(opened.plaintext)
        if isinstance(plain, ActionRequestNormal):
            assert plain.parameters is not None
            self.pass3_proof = plain.parameters.value
            return self._protect(self._pass4(plain).encode())
        assert isinstance(plain, GetRequestNormal)
        if self.refuse_get is not None:
            return self.refuse_get.encode()
        value = Data.octet_string(bytes(range(12)))
        return self._protect(GetResponseNormal(invoke=plain.invoke, result=value).encode())

    def _aare(self, aarq: Aarq) -> bytes:
        assert aarq.calling_ap_title is not None and aarq.user_information is not None
        self.client_title = aarq.calling_ap_title
        self.ctos = aarq.calling_authentication_value or b""
        opened = unprotect(aarq.user_information, keys=self.keys, system_title=self.client_title)
        request = decode_apdu(opened.plaintext)
        assert isinstance(request, InitiateRequest)
        response = InitiateResponse(
            negotiated_conformance=request.proposed_conformance
            & ~Conformance.ATTRIBUTE0_SUPPORTED_WITH_GET,
            server_max_receive_pdu_size=1024,
        )
        return Aare(
            result=AssociationResult.ACCEPTED,
            diagnostic=AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED,
            application_context_name=ApplicationContext.LOGICAL_NAME_WITH_CIPHERING,
            responding_ap_title=self.title,
            acse_authentication=True,
            mechanism_name=self.mechanism,
            responding_authentication_value=STOC,
            user_information=self._protect(response.encode()),
        ).encode()

    def _pass4(self, request: ActionRequestNormal) -> ActionResponseNormal:
        if self.mechanism == AuthenticationMechanism.HIGH_GMAC:
            hls.verify_gmac_proof(
                self.pass3_proof,
                STOC,
                peer_system_title=self.client_title,
                encryption_key=GREEN_BOOK_EK,
                authentication_key=GREEN_BOOK_AK,
            )
            proof = hls.gmac_proof(
                self.ctos,
                system_title=self.title,
                invocation_counter=self._next_counter(),
                encryption_key=GREEN_BOOK_EK,
                authentication_key=GREEN_BOOK_AK,
            )
        else:
            assert self.signing_key is not None and self.client_public_key is not None
            hls.verify_ecdsa_proof(
                self.pass3_proof,
                self.client_public_key,
                own_system_title=self.title,
                peer_system_title=self.client_title,
                own_challenge=STOC,
                peer_challenge=self.ctos,
                suite=self.suite,
            )
            proof = hls.ecdsa_proof(
                self.signing_key,
                own_system_title=self.title,
                peer_system_title=self.client_title,
                peer_challenge=self.ctos,
                own_challenge=STOC,
                suite=self.suite,
            )
        if self.wrong_pass4:
            proof = proof[:-1] + bytes([proof[-1] ^ 1])
        return ActionResponseNormal(
            invoke=request.invoke,
            result=ActionResult.SUCCESS,
            return_parameters=Data.octet_string(proof),
        )


def associated(**changes: object) -> tuple[ScriptedMeter, ClientAssociation]:
    """A scripted meter and a client with the HLS-GMAC association open between them."""
    meter, client = ScriptedMeter(), gmac_client(**changes)
    drive(client.associate(), meter.answer)
    return meter, client


def drive(exchange: Exchange[object], answer: Callable[[bytes], bytes]) -> object:
    request = next(exchange)
    try:
        while True:
            request = exchange.send(answer(request))
    except StopIteration as done:
        return done.value


def test_aarq_octets_hls_gmac_with_ciphering() -> None:
    """The AARQ of 0x40 written out field by field (Green Book AARQ layout, reference dlms.md
    3.1), the glo-initiate-request checked with AES-GCM directly (IV = ST-C || IC 0, AAD =
    SC 30 || AK, tag cut to 12 octets; Green Book 9.2.7.2)."""
    aarq = gmac_client().aarq().encode()
    initiate = bytes.fromhex("01000000065F1F0400007E1F" + "FFFF")
    sealed = AESGCM(GREEN_BOOK_EK).encrypt(
        GREEN_BOOK_CLIENT_SYSTEM_TITLE + bytes(4), initiate, b"\x30" + GREEN_BOOK_AK
    )
    glo = bytes([0x21, 1 + 4 + len(initiate) + 12, 0x30]) + bytes(4) + sealed[:-4]
    content = (
        bytes.fromhex("A109060760857405080103")  # LN with ciphering
        + bytes.fromhex("A60A0408")
        + GREEN_BOOK_CLIENT_SYSTEM_TITLE  # calling-AP-title
        + bytes.fromhex("8A020780")  # sender-acse-requirements: authentication
        + bytes.fromhex("8B0760857405080205")  # mechanism 5, HLS-GMAC
        + bytes.fromhex("AC0A8008")
        + CTOS  # calling-authentication-value
        + bytes([0xBE, len(glo) + 2, 0x04, len(glo)])
        + glo
    )
    assert aarq == bytes([0x60, len(content)]) + content


def test_gmac_association_pass3_is_the_green_book_proof_and_get_is_ciphered() -> None:
    meter = ScriptedMeter()
    client = gmac_client()
    negotiated = drive(client.associate(), meter.answer)
    assert isinstance(negotiated, InitiateResponse) and client.associated
    # IC 0 took the glo-initiate-request, the proof IC 1 (the Green Book's), and the
    # action-request carrying it IC 2: no GCM IV is used twice.
    assert meter.pass3_proof == F_STOC
    assert meter.seen[1][0] == 0xCB  # glo-action-request
    value = drive(client.get(CLOCK, 8, 2), meter.answer)
    assert value == Data.octet_string(bytes(range(12)))
    assert meter.seen[2][0] == 0xC8 and meter.seen[2][2:7] == bytes.fromhex("3000000003")


def test_the_meters_golden_pass4_proof_is_accepted() -> None:
    """The scripted meter's pass 4 proof uses IC 01234567: exactly the Green Book f(CtoS)."""
    proofs: list[bytes] = []
    meter = ScriptedMeter()

    def watching(request: bytes) -> bytes:
        answer = meter.answer(request)
        if meter.pass3_proof and not proofs:
            opened = unprotect(answer, keys=KEYS, system_title=SERVER_TITLE)
            action = decode_apdu(opened.plaintext)
            assert isinstance(action, ActionResponseNormal) and action.return_parameters
            proofs.append(action.return_parameters.value)
        return answer

    drive(gmac_client().associate(), watching)
    assert proofs == [F_CTOS]


def test_a_wrong_pass4_proof_refuses_the_association() -> None:
    client = gmac_client()
    with pytest.raises(DlmsSecurityError, match="pass 4"):
        drive(client.associate(), ScriptedMeter(wrong_pass4=True).answer)
    assert not client.associated


def test_a_replayed_server_counter_is_refused() -> None:
    meter, client = associated()
    meter.replay_after_association = True
    with pytest.raises(DlmsSecurityError, match="replayed"):
        drive(client.get(CLOCK, 8, 2), meter.answer)


def test_an_answer_from_another_system_title_is_refused() -> None:
    meter, client = associated()
    meter.general_title = bytes.fromhex("4D4D4D0000000099")
    with pytest.raises(DlmsSecurityError, match="system title"):
        drive(client.get(CLOCK, 8, 2), meter.answer)


def test_general_glo_answer_from_the_meter_opens() -> None:
    meter, client = associated()
    meter.general_title = SERVER_TITLE
    assert drive(client.get(CLOCK, 8, 2), meter.answer) == Data.octet_string(bytes(range(12)))


def test_an_aare_from_another_meter_than_expected_is_refused() -> None:
    client = gmac_client(server_system_title=bytes.fromhex("4D4D4D0000000007"))
    with pytest.raises(DlmsSecurityError, match="4D4D4D0000BC614E"):
        drive(client.associate(), ScriptedMeter().answer)


def test_a_plain_answer_below_the_policy_is_refused() -> None:
    _, client = associated()
    plain = GetResponseNormal(invoke=client.invoke, result=Data.octet_string(b"x")).encode()
    with pytest.raises(DlmsSecurityError, match="decipher"):
        drive(client.get(CLOCK, 8, 2), lambda request: plain)


@pytest.mark.parametrize(
    ("service_error", "counter", "hint"),
    [
        (ServiceError.DECIPHERING_ERROR, None, "could not open our ciphered request"),
        (ServiceError.INVOCATION_COUNTER_ERROR, 77, "at least 77"),
    ],
)
def test_exception_responses_from_the_meter_are_named(
    service_error: ServiceError, counter: int | None, hint: str
) -> None:
    meter, client = associated()
    meter.refuse_get = ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, service_error, counter)
    with pytest.raises(ExceptionResponseError, match=hint) as refused:
        drive(client.get(CLOCK, 8, 2), meter.answer)
    assert refused.value.service_error == service_error


def test_a_meter_that_skips_pass3_is_not_trusted() -> None:
    client = gmac_client()
    meter = ScriptedMeter()

    def no_hls(request: bytes) -> bytes:
        aare = Aare.decode(meter.answer(request))
        return replace(aare, diagnostic=AcseServiceUserDiagnostic.NULL).encode()

    with pytest.raises(DlmsSecurityError, match="proved nothing"):
        drive(client.associate(), no_hls)


def test_a_refused_pass3_is_an_authentication_failure() -> None:
    meter = ScriptedMeter()

    def refusing(request: bytes) -> bytes:
        if request[0] == Aarq.TAG:
            return meter.answer(request)
        opened = decode_apdu(
            unprotect(request, keys=KEYS, system_title=meter.client_title).plaintext
        )
        assert isinstance(opened, ActionRequestNormal)
        refusal = ActionResponseNormal(invoke=opened.invoke, result=ActionResult.OTHER_REASON)
        return meter._protect(refusal.encode())

    with pytest.raises(AssociationRejectedError) as refused:
        drive(gmac_client().associate(), refusing)
    assert refused.value.wrong_password


def test_persisted_counter_resumes_above_every_value_used() -> None:
    stored: list[int] = []
    client = gmac_client(first_invocation_counter=500, persist_counter=stored.append)
    drive(client.associate(), ScriptedMeter().answer)
    # the initiate took 500, the pass 3 proof 501 and the request carrying it 502
    assert stored and stored[-1] > 502
    assert client.channel is not None and client.channel.next_invocation_counter == 503


def test_authentication_only_policy_sends_readable_requests() -> None:
    """Policy 0x24: requests and answers authenticated, not encrypted: SC 0x10 and the plain
    APDU visible inside (docs/security.md, "Ciphered APDUs")."""
    meter = ScriptedMeter(require_encrypted=False)
    client = gmac_client(policy=AUTHENTICATED_REQUEST | AUTHENTICATED_RESPONSE)
    drive(client.associate(), meter.answer)
    request = meter.seen[1]
    assert request[2] == 0x10 and bytes.fromhex("000F0000280000FF01") in request


@pytest.mark.parametrize(("suite", "curve"), [(1, ec.SECP256R1()), (2, ec.SECP384R1())])
def test_ecdsa_association(suite: int, curve: ec.EllipticCurve) -> None:
    client_key, meter_key = ec.generate_private_key(curve), ec.generate_private_key(curve)
    keys = CipheringKeys(
        authentication_key=GREEN_BOOK_AK * (suite // 2 + 1),
        global_unicast_key=GREEN_BOOK_EK * (suite // 2 + 1),
    )
    meter = ScriptedMeter(
        mechanism=AuthenticationMechanism.HIGH_ECDSA,
        signing_key=meter_key,
        client_public_key=client_key.public_key(),
        suite=suite,
        keys=keys,
    )
    options = {
        "mechanism": AuthenticationMechanism.HIGH_ECDSA,
        "suite": suite,
        "encryption_key": keys.global_unicast_key,
        "authentication_key": keys.authentication_key,
        "signing_key": client_key,
        "server_public_key": meter_key.public_key(),
    }
    client = gmac_client(**options)
    drive(client.associate(), meter.answer)
    assert client.associated
    meter.wrong_pass4 = True
    with pytest.raises(DlmsSecurityError, match="pass 4"):
        drive(gmac_client(**options).associate(), meter.answer)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"encryption_key": bytes(15)}, "16-octet"),
        ({"system_title": bytes(7)}, "8 octets"),
        ({"suite": 3}, "suite 3"),
        ({"policy": 0x6D}, "bits 0 and 1"),
        ({"policy": FULL_PROTECTION | 0x10}, "signed"),
        ({"mechanism": AuthenticationMechanism.HIGH_SHA256}, "secret"),
        ({"mechanism": AuthenticationMechanism.HIGH_ECDSA, "suite": 1}, "private key"),
        ({"mechanism": AuthenticationMechanism.LOW}, "not HLS"),
    ],
)
def test_bad_security_is_refused_before_anything_is_sent(
    changes: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        gmac_client(**changes)
