"""The sans-IO DLMS server (``metertwin.dlms.server.connection``) against the golden exchanges of
reference/dlms.md 5 (exact bytes where the reference gives both sides), with a small fake
backend. Block transfer and fuzzing are in ``test_server_blocks.py`` and ``test_server_fuzz.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from metertwin.codec.axdr import Data
from metertwin.codec.enums import (
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    ApplicationContext,
    AssociationResult,
    AuthenticationMechanism,
    Conformance,
    DataAccessResult,
    InitiateError,
    ReleaseRequestReason,
    ServiceError,
    StateError,
)
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeWithSelection
from metertwin.cosem.access import AssociationContext, AssociationPolicy
from metertwin.cosem.backend import AssociationRefusal, LoginResult
from metertwin.cosem.errors import CosemError, undefined
from metertwin.dlms.apdu import (
    Aare,
    Aarq,
    AttributeDescriptor,
    ExceptionResponse,
    GetRequestNormal,
    InitiateRequest,
    InvokeIdAndPriority,
    MethodDescriptor,
    Rlrq,
    SelectiveAccess,
    SetRequestNormal,
    SetRequestWithList,
    decode_apdu,
)
from metertwin.dlms.capabilities import IMPLEMENTED_CONFORMANCE
from metertwin.dlms.server.connection import ServerConnection, ServerSettings

H = bytes.fromhex

CLOCK = Obis(0, 0, 1, 0, 0, 255)
DEVICE_NAME = Obis(0, 0, 42, 0, 0, 255)
ENERGY = Obis(1, 0, 1, 8, 0, 255)
SECURITY_COUNTER = Obis(0, 0, 43, 1, 0, 255)
FIRMWARE = Obis(1, 0, 0, 2, 0, 255)
PROFILE = Obis(1, 0, 99, 1, 0, 255)
SETTABLE_REGISTER = Obis(0, 1, 94, 35, 11, 255)
DISCONNECT = Obis(0, 0, 96, 3, 10, 255)
BLOB = Obis(0, 0, 96, 99, 0, 255)  # a long octet-string, readable and writable
BROKEN = Obis(0, 0, 96, 98, 0, 255)  # its getter, setter and methods raise RuntimeError
ECHO_CLASS = 8192  # manufacturer class: method 1 returns its parameters

PUBLIC_SAP, READER_SAP, UNKNOWN_SAP = 0x10, 0x20, 0x30
SERVER_SAP = 1
READER_PASSWORD = b"00000001"


def policy(
    name: str,
    client_sap: int,
    mechanism: AuthenticationMechanism,
    conformance: Conformance = IMPLEMENTED_CONFORMANCE,
) -> AssociationPolicy:
    return AssociationPolicy(
        name=name,
        logical_name=Obis(0, 0, 40, 0, client_sap >> 4, 255),
        client_sap=client_sap,
        mechanism=mechanism,
        conformance=conformance,
        rights={},
    )


@dataclass
class FakeBackend:
    """A few objects of dlms.md 5 with the values of its vectors. The public client reads only;
    the reader (LLS) may also write and act. It records what the server asked of it."""

    reader_conformance: Conformance = IMPLEMENTED_CONFORMANCE
    public_conformance: Conformance = Conformance.GET | Conformance.SELECTIVE_ACCESS
    password: bytes = READER_PASSWORD
    values: dict[tuple[int, Obis, int], Data] = field(default_factory=dict)
    set_failure: DataAccessResult | None = None
    associated_calls: list[AssociationContext] = field(default_factory=list)
    released_calls: list[AssociationContext] = field(default_factory=list)
    logins: list[bytes | None] = field(default_factory=list)
    writes: list[tuple[AttributeDescriptor, Data]] = field(default_factory=list)
    actions: list[tuple[MethodDescriptor, Data | None]] = field(default_factory=list)
    reads: int = 0

    def __post_init__(self) -> None:
        defaults = {
            (8, CLOCK, 2): Data.octet_string(H("07E50603040E091700FFC400")),
            (8, CLOCK, 3): Data.long(60),
            (1, DEVICE_NAME, 2): Data.octet_string(b"ISK1030777764366"),
            (3, ENERGY, 2): Data.double_long_unsigned(12345),
            (1, SECURITY_COUNTER, 2): Data.double_long_unsigned(5009),
            (1, FIRMWARE, 2): Data.octet_string(b"V0411"),
            (7, PROFILE, 2): Data.array(Data.double_long_unsigned(n) for n in range(1, 6)),
            (3, SETTABLE_REGISTER, 2): Data.double_long_unsigned(0),
            (1, BLOB, 2): Data.octet_string(bytes(range(256)) * 4),
        }
        for key, value in defaults.items():
            self.values.setdefault(key, value)

    def association_policy(self, client_sap: int) -> AssociationPolicy | None:
        if client_sap == PUBLIC_SAP:
            return policy(
                "public", PUBLIC_SAP, AuthenticationMechanism.LOWEST, self.public_conformance
            )
        if client_sap == READER_SAP:
            return policy(
                "reader", READER_SAP, AuthenticationMechanism.LOW, self.reader_conformance
            )
        return None

    def login(self, policy: AssociationPolicy, secret: bytes | None) -> LoginResult:
        self.logins.append(secret)
        if policy.mechanism == AuthenticationMechanism.LOWEST:
            return LoginResult.ACCEPTED
        if secret is None:
            return LoginResult.SECRET_REQUIRED
        return LoginResult.ACCEPTED if secret == self.password else LoginResult.WRONG_SECRET

    def associated(self, context: AssociationContext) -> None:
        self.associated_calls.append(context)

    def released(self, context: AssociationContext) -> None:
        self.released_calls.append(context)

    def _check(self, class_id: int, instance: Obis) -> None:
        if instance == BROKEN:
            raise RuntimeError("a bug in the logical device")
        known = {(c, o) for c, o, _ in self.values} | {(70, DISCONNECT), (ECHO_CLASS, BLOB)}
        if (class_id, instance) not in known:
            if any(o == instance for _, o in known):
                raise CosemError(DataAccessResult.OBJECT_CLASS_INCONSISTENT)
            raise undefined(str(instance))

    def get(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
    ) -> Data:
        self.reads += 1
        self._check(attribute.class_id, attribute.instance)
        value = self.values.get((attribute.class_id, attribute.instance, attribute.attribute_id))
        if value is None:
            raise undefined("attribute")
        return value

    def set(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
        value: Data,
    ) -> None:
        self._check(attribute.class_id, attribute.instance)
        if context.policy.mechanism == AuthenticationMechanism.LOWEST:
            raise CosemError(DataAccessResult.READ_WRITE_DENIED)
        if self.set_failure is not None:
            raise CosemError(self.set_failure)
        key = (attribute.class_id, attribute.instance, attribute.attribute_id)
        if key not in self.values:
            raise undefined("attribute")
        if value.type != self.values[key].type:
            raise CosemError(DataAccessResult.TYPE_UNMATCHED)
        self.values[key] = value
        self.writes.append((attribute, value))

    def action(
        self,
        context: AssociationContext,
        method: MethodDescriptor,
        parameters: Data | None,
    ) -> Data | None:
        self._check(method.class_id, method.instance)
        if context.policy.mechanism == AuthenticationMechanism.LOWEST:
            raise CosemError(DataAccessResult.READ_WRITE_DENIED)
        self.actions.append((method, parameters))
        if method.class_id == ECHO_CLASS and method.method_id == 1:
            return parameters
        if method.class_id == 70 and method.method_id in (1, 2):
            return None
        raise undefined("method")


def initiate(
    conformance: int = 0x001E1D, pdu: int = 0xFFFF, version: int = 6, qos: int | None = None
) -> bytes:
    return InitiateRequest(
        proposed_conformance=Conformance(conformance),
        client_max_receive_pdu_size=pdu,
        proposed_dlms_version=version,
        proposed_quality_of_service=qos,
    ).encode()


def aarq(
    mechanism: AuthenticationMechanism | bytes | None = None,
    password: bytes | None = None,
    user_information: bytes | None = None,
    context: ApplicationContext | bytes = ApplicationContext.LOGICAL_NAME,
) -> bytes:
    return Aarq(
        application_context_name=context,
        acse_authentication=mechanism is not None,
        mechanism_name=mechanism,
        calling_authentication_value=password,
        user_information=initiate() if user_information is None else user_information,
    ).encode()


def connect(
    backend: FakeBackend | None = None,
    client_sap: int = READER_SAP,
    pdu: int = 0xFFFF,
    conformance: int = 0x001E1D,
    settings: ServerSettings | None = None,
) -> tuple[ServerConnection, FakeBackend]:
    """A connection with an accepted association of ``client_sap``."""
    backend = backend or FakeBackend()
    connection = ServerConnection(backend, SERVER_SAP, settings)
    if client_sap == READER_SAP:
        request = aarq(AuthenticationMechanism.LOW, backend.password, initiate(conformance, pdu))
    else:
        request = aarq(user_information=initiate(conformance, pdu))
    answer = connection.receive(client_sap, request)
    assert answer is not None
    assert decode_apdu(answer).result == AssociationResult.ACCEPTED  # type: ignore[union-attr]
    return connection, backend


def rejection(answer: bytes | None) -> tuple[AssociationResult, object]:
    assert answer is not None
    aare = decode_apdu(answer)
    assert isinstance(aare, Aare)
    return aare.result, aare.diagnostic


# --- association (dlms.md 3, 5 "Association") ---------------------------------------------------


def test_aarq_no_security_gets_the_reference_aare() -> None:
    """protocols.md HDLC vectors (dlms-cosem tests/test_hdlc): AARQ proposing 001E1D and a
    client PDU of 65535, AARE accepting 001E1D with server PDU 1224 (04C8)."""
    backend = FakeBackend(public_conformance=IMPLEMENTED_CONFORMANCE)
    connection = ServerConnection(backend, SERVER_SAP, ServerSettings(max_receive_pdu_size=1224))
    answer = connection.receive(
        PUBLIC_SAP, H("601DA109060760857405080101BE10040E01000000065F1F0400001E1DFFFF")
    )
    assert answer == H(
        "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400001E1D04C80007"
    )
    assert connection.is_associated(PUBLIC_SAP)
    (context,) = backend.associated_calls
    assert context.client_max_receive_pdu_size == 0xFFFF
    assert context.server_sap == SERVER_SAP
    assert not context.authenticated


def test_green_book_aarq_negotiates_what_is_implemented() -> None:
    """dlms.md 5: the Green Book AARQ (DC test_aarq) proposes 007E1F; the server keeps only
    what it implements (001E1D: no priority-mgmt, no attribute0-with-get, no event-notification),
    and announces its default PDU size 1024 and vaa-name 0007."""
    connection = ServerConnection(FakeBackend(public_conformance=IMPLEMENTED_CONFORMANCE), 1)
    answer = connection.receive(
        PUBLIC_SAP,
        H("601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0"),
    )
    assert answer == H(
        "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F0400001E1D04000007"
    )
    context = connection.associations[PUBLIC_SAP]
    assert context.client_max_receive_pdu_size == 1200
    assert context.conformance == 0x001E1D
    # the default public policy offers GET and selective access only
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    connection.receive(PUBLIC_SAP, aarq(user_information=initiate(0x007E1F)))
    assert connection.associations[PUBLIC_SAP].conformance == Conformance(0x000014)


def test_lls_accepted_gets_the_reference_aare() -> None:
    """dlms.md 5, gosem hdlc_test TestHDLC_SendAndReceive: LLS "00000001", conformance 00181F
    proposed, the meter answering 001014 with PDU 240 (00F0)."""
    backend = FakeBackend(reader_conformance=Conformance(0x001014))
    connection = ServerConnection(backend, SERVER_SAP, ServerSettings(max_receive_pdu_size=240))
    answer = connection.receive(
        READER_SAP,
        H(
            "6036A1090607608574050801018A0207808B0760857405080201AC0A80083030303030303031"
            "BE10040E01000000065F1F040000181F0200"
        ),
    )
    assert answer == H(
        "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000101400F00007"
    )
    assert backend.logins == [b"00000001"]
    assert backend.associated_calls[0].authenticated


def test_lls_wrong_password_gets_the_minimal_reference_aare() -> None:
    """dlms.md 5, gosem client_test TestClient_InvalidPassword (minimal variant): rejected-
    permanent, 13 authentication-failure; the DC LLS AARQ carries "12345678"."""
    backend = FakeBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    answer = connection.receive(
        READER_SAP,
        H(
            "6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
            "BE10040E01000000065F1F0400007E1F04B0"
        ),
    )
    assert answer == H("6117A109060760857405080101A203020101A305A10302010D")
    assert not connection.is_associated(READER_SAP)
    assert backend.associated_calls == []
    assert connection.receive(READER_SAP, H("C001C100080000010000FF0300")) == H("D80101")


def test_dlms_version_too_low_gets_the_reference_aare() -> None:
    """dlms.md 5, DC test_aare test_no_cipher_no_security_incorrect_dlms_version."""
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(PUBLIC_SAP, aarq(user_information=initiate(version=5)))
    assert answer == H("611FA109060760857405080101A203020101A305A103020101BE0604040E010601")


@pytest.mark.parametrize(
    ("user_information", "error"),
    [
        (initiate(pdu=11), 3),  # pdu-size-too-short
        (initiate(conformance=0x000100), 2),  # incompatible-conformance: no get/set/action
        (H("0E010601"), 0),  # not an InitiateRequest: other
        (H("01000000"), 0),  # truncated InitiateRequest: other
        (H("21303001234567"), 0),  # glo-initiate-request without ciphering context: other
    ],
)
def test_initiate_errors_go_in_the_aare(user_information: bytes, error: int) -> None:
    """dlms.md 3.3: initiate errors travel as ConfirmedServiceError 0E 01 06 <x>."""
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(PUBLIC_SAP, aarq(user_information=user_information))
    assert answer == H(
        "611FA109060760857405080101A203020101A305A103020101BE0604040E0106" + f"{error:02X}"
    )


def test_aarq_without_user_information_is_refused() -> None:
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(PUBLIC_SAP, H("600BA109060760857405080101"))
    assert answer == H("611FA109060760857405080101A203020101A305A103020101BE0604040E010600")


def test_a_dlms_version_above_6_is_answered_with_6() -> None:
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(PUBLIC_SAP, aarq(user_information=initiate(version=7)))
    assert rejection(answer)[0] == AssociationResult.ACCEPTED
    assert answer is not None and H("0800065F1F04") in answer


@pytest.mark.parametrize(
    "request_hex",
    [
        # DC test_parse_ciphered_low_security2: LN with ciphering
        "6066A109060760857405080103A60A04084D4D4D0000BC614E8A0207808B0760857405080201AC0A80083132"
        "333435363738BE34043221303001234567801302FF8A7874133D414CED25B42534D28DB0047720606B175BD5"
        "2211BE6841DB204D39EE6FDB8E356855",
        # SN referencing, no ciphering
        "601DA109060760857405080102BE10040E01000000065F1F0400007E1F04B0",
        # an OID outside the DLMS UA arc
        "601DA109060760857405080901BE10040E01000000065F1F0400007E1F04B0",
    ],
)
def test_unsupported_application_context_gets_diagnostic_2(request_hex: str) -> None:
    """dlms.md 5, DC test_no_ciphering_no_security_app_context_name_wrong: result 1, diag 2."""
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(READER_SAP, H(request_hex))
    assert answer == H("6117A109060760857405080101A203020101A305A103020102")


@pytest.mark.parametrize(
    ("client_sap", "aarq_bytes", "diagnostic"),
    [
        # the public association opens without authentication: LLS is not its mechanism
        (PUBLIC_SAP, aarq(AuthenticationMechanism.LOW, b"x"), 11),
        # the reader needs LLS: no mechanism, or lowest named explicitly
        (READER_SAP, aarq(), 12),
        (READER_SAP, aarq(AuthenticationMechanism.LOWEST), 12),
        # LLS without a password
        (READER_SAP, aarq(AuthenticationMechanism.LOW), 14),
        # HLS is not implemented; an unknown mechanism OID is not recognised
        (READER_SAP, aarq(AuthenticationMechanism.HIGH_GMAC, b"K56iVagY"), 11),
        (PUBLIC_SAP, aarq(AuthenticationMechanism.HIGH_GMAC, b"K56iVagY"), 11),
        (READER_SAP, aarq(H("60857405080209"), b"x"), 11),
        # wrong password
        (READER_SAP, aarq(AuthenticationMechanism.LOW, b"HELLO"), 13),
    ],
)
def test_mechanism_mismatches_get_their_diagnostic(
    client_sap: int, aarq_bytes: bytes, diagnostic: int
) -> None:
    """dlms.md 3.4: 11 mechanism not recognised, 12 required, 13 failure, 14 required auth."""
    backend = FakeBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    answer = connection.receive(client_sap, aarq_bytes)
    assert rejection(answer) == (
        AssociationResult.REJECTED_PERMANENT,
        AcseServiceUserDiagnostic(diagnostic),
    )
    assert answer is not None and b"\xbe" not in answer[-20:]  # no user-information
    assert backend.associated_calls == []


def test_hls_gmac_reference_aarq_is_refused_with_11() -> None:
    """dlms.md 5, DC test_parse_no_ciphering_high_security: HLS is not supported yet."""
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(
        READER_SAP,
        H(
            "6036A1090607608574050801018A0207808B0760857405080205AC0A80084B35366956616759"
            "BE10040E01000000065F1F0400007E1F04B0"
        ),
    )
    assert answer == H("6117A109060760857405080101A203020101A305A10302010B")


def test_unknown_client_sap_is_refused_with_no_reason_given() -> None:
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(UNKNOWN_SAP, aarq())
    assert answer == H("6117A109060760857405080101A203020101A305A103020101")


def test_a_password_is_not_checked_when_the_initiate_request_is_refused() -> None:
    """A refused InitiateRequest must not count as a login attempt (seed 002, 5.12 lockout)."""
    backend = FakeBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    connection.receive(READER_SAP, aarq(AuthenticationMechanism.LOW, b"bad", initiate(version=5)))
    assert backend.logins == []


@pytest.mark.parametrize(
    "raw",
    ["60", "6003A10106", "6005A1030401FF", "601DA109060760857405080101BE10040E01000000065F1F04"],
)
def test_malformed_aarq_gets_a_provider_rejection(raw: str) -> None:
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(PUBLIC_SAP, H(raw))
    assert rejection(answer) == (
        AssociationResult.REJECTED_PERMANENT,
        AcseServiceProviderDiagnostic.NO_REASON_GIVEN,
    )


def test_protocol_version_without_version1_is_refused() -> None:
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    answer = connection.receive(
        PUBLIC_SAP,
        H("602180020600A109060760857405080101BE10040E01000000065F1F0400007E1F04B0"),
    )
    assert rejection(answer) == (
        AssociationResult.REJECTED_PERMANENT,
        AcseServiceProviderDiagnostic.NO_COMMON_ACSE_VERSION,
    )
    answer = connection.receive(
        PUBLIC_SAP,
        H("602180020780A109060760857405080101BE10040E01000000065F1F0400007E1F04B0"),
    )
    assert rejection(answer)[0] == AssociationResult.ACCEPTED


def test_a_second_aarq_re_associates_after_releasing_the_first() -> None:
    connection, backend = connect()
    assert connection.receive(READER_SAP, aarq(AuthenticationMechanism.LOW, b"wrong")) == H(
        "6117A109060760857405080101A203020101A305A10302010D"
    )
    assert len(backend.released_calls) == 1
    assert not connection.is_associated(READER_SAP)
    connect(backend)


def test_associations_of_different_clients_are_independent() -> None:
    connection, _ = connect()
    connection.receive(PUBLIC_SAP, aarq())
    assert set(connection.associations) == {PUBLIC_SAP, READER_SAP}
    connection.receive(PUBLIC_SAP, H("6203800100"))
    assert set(connection.associations) == {READER_SAP}
    assert connection.receive(READER_SAP, H("C001C100080000010000FF0300")) == H("C401C10010003C")


def test_backend_failures_during_association_refuse_transiently() -> None:
    class Failing(FakeBackend):
        def associated(self, context: AssociationContext) -> None:
            raise RuntimeError("storage unavailable")

    connection = ServerConnection(Failing(), SERVER_SAP)
    answer = connection.receive(PUBLIC_SAP, aarq())
    assert rejection(answer) == (
        AssociationResult.REJECTED_TRANSIENT,
        AcseServiceUserDiagnostic.NO_REASON_GIVEN,
    )
    assert not connection.is_associated(PUBLIC_SAP)


@dataclass
class ListeningBackend(FakeBackend):
    """A backend that is also a RefusalListener: it records the refusals it hears of."""

    refusals: list[AssociationRefusal] = field(default_factory=list)

    def association_refused(self, refusal: AssociationRefusal) -> None:
        self.refusals.append(refusal)


def test_the_backend_hears_of_refusals_other_than_a_wrong_secret() -> None:
    """Every AARQ refused by the server's own checks reaches ``association_refused`` with the
    AARE's diagnostic (the meter logs it as event 222); the AARE is the same as without it."""
    user = AcseServiceUserDiagnostic
    refused = [
        (UNKNOWN_SAP, aarq(), user.NO_REASON_GIVEN, None),
        (PUBLIC_SAP, H("60"), AcseServiceProviderDiagnostic.NO_REASON_GIVEN, None),
        (
            READER_SAP,
            aarq(context=H("60857405080102")),
            user.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED,
            None,
        ),
        (READER_SAP, aarq(), user.AUTHENTICATION_MECHANISM_NAME_REQUIRED, None),
        (READER_SAP, aarq(AuthenticationMechanism.LOW), user.AUTHENTICATION_REQUIRED, None),
        (
            READER_SAP,
            aarq(AuthenticationMechanism.LOW, READER_PASSWORD, initiate(version=5)),
            user.NO_REASON_GIVEN,
            InitiateError.DLMS_VERSION_TOO_LOW,
        ),
    ]
    backend = ListeningBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    for client_sap, request, _, _ in refused:
        heard = len(backend.refusals)
        answer = connection.receive(client_sap, request)
        assert answer == ServerConnection(FakeBackend(), SERVER_SAP).receive(client_sap, request)
        assert rejection(answer)[0] == AssociationResult.REJECTED_PERMANENT
        assert len(backend.refusals) == heard + 1
    assert backend.refusals == [
        AssociationRefusal(client_sap, diagnostic, error)
        for client_sap, _, diagnostic, error in refused
    ]
    assert backend.logins == []  # none of them got as far as the password


def test_wrong_secrets_accepted_associations_and_backend_failures_are_not_reported() -> None:
    """A wrong secret is the backend's own verdict (its login counted it: events 220/221);
    an accepted association, a release and a GET are no refusals; a backend failure is a
    transient refusal of the backend's making."""
    backend = ListeningBackend()
    connection = ServerConnection(backend, SERVER_SAP)
    answer = connection.receive(READER_SAP, aarq(AuthenticationMechanism.LOW, b"wrong"))
    assert rejection(answer)[1] == AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE
    connect(backend)
    connection.receive(PUBLIC_SAP, aarq())
    assert connection.receive(PUBLIC_SAP, H("C001C100080000010000FF0300")) == H("C401C10010003C")
    connection.receive(PUBLIC_SAP, H("6203800100"))

    class Failing(ListeningBackend):
        def associated(self, context: AssociationContext) -> None:
            raise RuntimeError("storage unavailable")

    failing = Failing()
    answer = ServerConnection(failing, SERVER_SAP).receive(PUBLIC_SAP, aarq())
    assert rejection(answer)[0] == AssociationResult.REJECTED_TRANSIENT
    assert backend.refusals == failing.refusals == []


def test_a_failing_refusal_listener_does_not_change_the_aare() -> None:
    class Broken(FakeBackend):
        def association_refused(self, refusal: AssociationRefusal) -> None:
            raise RuntimeError("the event log is full of bugs")

    answer = ServerConnection(Broken(), SERVER_SAP).receive(UNKNOWN_SAP, aarq())
    assert answer == H("6117A109060760857405080101A203020101A305A103020101")


# --- release -------------------------------------------------------------------------------------


def test_rlrq_normal_gets_rlre_normal() -> None:
    """dlms.md 5, DC test_rlrq/test_rlre: 6203800100 -> 6303800100."""
    connection, backend = connect()
    assert connection.receive(READER_SAP, H("6203800100")) == H("6303800100")
    assert not connection.is_associated(READER_SAP)
    assert len(backend.released_calls) == 1
    assert connection.receive(READER_SAP, H("C001C100080000010000FF0300")) == H("D80101")


def test_bare_rlrq_gets_bare_rlre() -> None:
    """dlms.md 5, gosem TestClient_CloseAssociation: 6200 -> 6300."""
    connection, _ = connect()
    assert connection.receive(READER_SAP, H("6200")) == H("6300")


def test_rlrq_with_initiate_request_gets_initiate_response() -> None:
    """dlms.md 5, DC test_rlre: RLRE with InitiateResponse (QoS present, 001E1D, 04C8)."""
    connection, _ = connect(settings=ServerSettings(max_receive_pdu_size=1224))
    rlrq = Rlrq(reason=ReleaseRequestReason.NORMAL, user_information=initiate(qos=0)).encode()
    assert connection.receive(READER_SAP, rlrq) == H(
        "6316800100BE11040F080100065F1F0400001E1D04C80007"
    )


def test_rlrq_without_association_is_answered() -> None:
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    assert connection.receive(PUBLIC_SAP, H("6203800100")) == H("6303800100")


def test_malformed_rlrq_keeps_the_association() -> None:
    connection, _ = connect()
    assert connection.receive(READER_SAP, H("620380")) == H("D80203")
    assert connection.is_associated(READER_SAP)


def test_close_releases_every_association() -> None:
    connection, backend = connect()
    connection.receive(PUBLIC_SAP, aarq())
    connection.close()
    assert {c.client_sap for c in backend.released_calls} == {PUBLIC_SAP, READER_SAP}
    assert connection.associations == {}
    connection.close()
    assert len(backend.released_calls) == 2


# --- GET -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_hex", "response_hex"),
    [
        # gosem get_test TestClient_GetRequest: clock time_zone
        ("C001C100080000010000FF0300", "C401C10010003C"),
        # DC test_get: Data 0.0.43.1.0.255
        ("C001C1000100002B0100FF0200", "C401C1000600001391"),
        # public HDLC traces / IoTCom.Net: +A total
        ("C001C100030100010800FF0200", "C401C1000600003039"),
        # gosem hdlc_test: firmware
        ("C001C100010100000200FF0200", "C401C10009055630343131"),
        # DC TestGetRequestWithList / TestGetResponseWithList
        (
            "C003C102000100002A0000FF020000080000010000FF0200",
            "C403C10200091049534B3130333037373737363433363600090C07E50603040E091700FFC400",
        ),
    ],
)
def test_get_reference_exchanges(request_hex: str, response_hex: str) -> None:
    connection, _ = connect()
    assert connection.receive(READER_SAP, H(request_hex)) == H(response_hex)


def test_get_errors_are_data_access_results() -> None:
    """dlms.md 5, DC TestGetRequestNormalWithError: C401C10101 is hardware-fault, which is what
    a backend bug (an exception that is not a CosemError) becomes."""
    connection, _ = connect()
    broken = GetRequestNormal(
        invoke=InvokeIdAndPriority(1), attribute=AttributeDescriptor(1, BROKEN, 2)
    ).encode()
    assert connection.receive(READER_SAP, broken) == H("C401C10101")
    # object-undefined, attribute undefined, class inconsistent
    assert connection.receive(READER_SAP, H("C001C100010000600000FF0200")) == H("C401C10104")
    assert connection.receive(READER_SAP, H("C001C100080000010000FF6300")) == H("C401C10104")
    assert connection.receive(READER_SAP, H("C001C100030000010000FF0200")) == H("C401C10109")
    # the association is still there
    assert connection.receive(READER_SAP, H("C001C100080000010000FF0300")) == H("C401C10010003C")


def test_get_with_list_mixes_values_and_refusals() -> None:
    connection, _ = connect()
    answer = connection.receive(READER_SAP, H("C003C10200080000010000FF030000010000600000FF0200"))
    assert answer == H("C403C102" + "0010003C" + "0104")


def test_invoke_id_and_priority_are_echoed() -> None:
    connection, _ = connect()
    for iip in (0x40, 0x47, 0xCF, 0xC0, 0x4A):
        request = bytes((0xC0, 0x01, iip)) + H("00080000010000FF0300")
        assert connection.receive(READER_SAP, request) == bytes((0xC4, 0x01, iip)) + H("0010003C")


def test_get_with_selective_access_reaches_the_backend() -> None:
    """dlms.md 5, DC test_parse_range_descriptor: range access on a profile."""
    connection, _ = connect()
    answer = connection.receive(
        READER_SAP,
        H(
            "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000090C07E10A0107"
            "00000000FFC480090C07E10A010701000000FFC4800100"
        ),
    )
    assert answer == H("C401C100" + "0105" + "06000000010600000002060000000306000000040600000005")


def test_a_repeated_get_reads_the_value_afresh() -> None:
    """A poll repeats the same GET octet for octet; the server remembers the decoded request,
    never the answer."""
    connection, backend = connect()
    request = H("C001C100030100010800FF0200")
    assert connection.receive(READER_SAP, request) == H("C401C1000600003039")
    backend.values[3, ENERGY, 2] = Data.double_long_unsigned(12346)
    assert connection.receive(READER_SAP, bytes(request)) == H("C401C100060000303A")
    assert backend.reads == 2


def test_a_remembered_get_is_judged_for_the_association_that_sends_it() -> None:
    backend = FakeBackend(public_conformance=Conformance.SET)  # the public client may not GET
    connection, _ = connect(backend)
    answer = connection.receive(PUBLIC_SAP, aarq(user_information=initiate()))
    assert rejection(answer)[0] == AssociationResult.ACCEPTED
    request = H("C001C100030100010800FF0200")
    assert connection.receive(READER_SAP, request) == H("C401C1000600003039")
    assert connection.receive(PUBLIC_SAP, request) == H("D80102")  # GET not negotiated
    assert connection.receive(READER_SAP, H("6203800100")) == H("6303800100")
    assert connection.receive(READER_SAP, request) == H("D80101")  # no association any more
    assert backend.reads == 1


def test_remembered_gets_are_few_and_without_selective_access() -> None:
    connection, _ = connect()
    for attribute in range(1, 128):
        request = GetRequestNormal(
            invoke=InvokeIdAndPriority(1), attribute=AttributeDescriptor(3, ENERGY, attribute)
        ).encode()
        expected = H("C401C1000600003039") if attribute == 2 else H("C401C10104")
        assert connection.receive(READER_SAP, request) == expected
    assert 0 < len(connection._decoded_gets) <= 64
    ranged = GetRequestNormal(
        invoke=InvokeIdAndPriority(1),
        attribute=AttributeDescriptor(7, PROFILE, 2),
        access=SelectiveAccess(2, Data.structure([Data.double_long_unsigned(1)] * 4)),
    ).encode()
    connection.receive(READER_SAP, ranged)
    assert ranged not in connection._decoded_gets


# --- SET -----------------------------------------------------------------------------------------


def test_set_clock_reference_exchange() -> None:
    """dlms.md 5, DC test_set TestSetRequestNormal / TestSetResponseNormal."""
    connection, backend = connect()
    answer = connection.receive(
        READER_SAP, H("C101C100080000010000FF0200090C07E50118FF0E303950FFC400")
    )
    assert answer == H("C501C100")
    assert backend.values[(8, CLOCK, 2)] == Data.octet_string(H("07E50118FF0E303950FFC400"))


def test_set_register_reference_exchanges() -> None:
    """dlms.md 5, gosem set_test TestClient_SetRequest. Its ...Fail vector ``C501C10102`` has
    one octet more than set-response-normal (iip, then one Data-Access-Result); gosem's own
    TestClient_SetRequestWithStructOfElementsWithFail uses the 4-octet form ``C501C103``, so
    temporary-failure is ``C501C102`` here."""
    connection, backend = connect()
    request = H("C101C1000300015E230BFF02000600002710")
    assert connection.receive(READER_SAP, request) == H("C501C100")
    assert backend.values[(3, SETTABLE_REGISTER, 2)] == Data.double_long_unsigned(10000)
    backend.set_failure = DataAccessResult.TEMPORARY_FAILURE
    assert connection.receive(READER_SAP, request) == H("C501C102")


def test_set_refusals() -> None:
    connection, _ = connect()
    # type unmatched, undefined, backend bug
    assert connection.receive(READER_SAP, H("C101C1000300015E230BFF0200120001")) == H("C501C10C")
    assert connection.receive(READER_SAP, H("C101C100010000600000FF0200120001")) == H("C501C104")
    broken = SetRequestNormal(
        invoke=InvokeIdAndPriority(1),
        attribute=AttributeDescriptor(1, BROKEN, 2),
        value=Data.null(),
    ).encode()
    assert connection.receive(READER_SAP, broken) == H("C501C101")


def test_set_with_list_answers_each_attribute() -> None:
    connection, backend = connect()
    request = SetRequestWithList(
        invoke=InvokeIdAndPriority(2),
        attributes=(
            AttributeWithSelection(AttributeDescriptor(3, SETTABLE_REGISTER, 2)),
            AttributeWithSelection(AttributeDescriptor(8, CLOCK, 3)),
            AttributeWithSelection(AttributeDescriptor(1, BLOB, 9)),
        ),
        values=(Data.double_long_unsigned(7), Data.long(-60), Data.null()),
    ).encode()
    assert connection.receive(READER_SAP, request) == H("C505C203000004")
    assert backend.values[(8, CLOCK, 3)] == Data.long(-60)


def test_set_with_list_with_a_value_count_mismatch_writes_nothing() -> None:
    connection, backend = connect()
    request = SetRequestWithList(
        invoke=InvokeIdAndPriority(2),
        attributes=(
            AttributeWithSelection(AttributeDescriptor(3, SETTABLE_REGISTER, 2)),
            AttributeWithSelection(AttributeDescriptor(8, CLOCK, 3)),
        ),
        values=(Data.double_long_unsigned(7),),
    ).encode()
    assert connection.receive(READER_SAP, request) == H("C505C202FAFA")
    assert backend.writes == []


def test_public_client_may_not_write() -> None:
    """The backend refuses with read-write-denied; SET itself was not negotiated."""
    connection, backend = connect(client_sap=PUBLIC_SAP)
    request = H("C101C1000300015E230BFF02000600002710")
    assert connection.receive(PUBLIC_SAP, request) == H("D80102")
    backend.public_conformance |= Conformance.SET
    connection, _ = connect(backend, client_sap=PUBLIC_SAP)
    assert connection.receive(PUBLIC_SAP, request) == H("C501C103")


def test_unconfirmed_set_is_done_without_answer() -> None:
    connection, backend = connect()
    request = H("C101810003" + "00015E230BFF02000600002710")  # iip 0x81: unconfirmed
    assert connection.receive(READER_SAP, request) is None
    assert backend.values[(3, SETTABLE_REGISTER, 2)] == Data.double_long_unsigned(10000)


# --- ACTION --------------------------------------------------------------------------------------


def test_remote_disconnect_reference_exchange() -> None:
    """dlms.md 5, gosem action_test TestClient_ActionRequest: remote_disconnect(integer 0)."""
    connection, backend = connect()
    assert connection.receive(READER_SAP, H("C301C10046000060030AFF01010F00")) == H("C701C10000")
    method, parameters = backend.actions[0]
    assert (method.class_id, method.instance, method.method_id) == (70, DISCONNECT, 1)
    assert parameters == Data.integer(0)


def test_action_refusals_and_return_data() -> None:
    connection, _ = connect()
    # no such method, object, backend bug
    assert connection.receive(READER_SAP, H("C301C10046000060030AFF09010F00")) == H("C701C10400")
    assert connection.receive(READER_SAP, H("C301C10046000060030BFF0100")) == H("C701C10400")
    broken = MethodDescriptor(1, BROKEN, 1).to_bytes()
    assert connection.receive(READER_SAP, H("C301C1") + broken + H("00")) == H("C701C10100")
    # return data: Action-Response-With-Optional-Data with Get-Data-Result data
    echo = MethodDescriptor(ECHO_CLASS, BLOB, 1).to_bytes()
    assert connection.receive(READER_SAP, H("C301C1") + echo + H("01110A")) == H("C701C1000100110A")


def test_action_with_list() -> None:
    connection, _ = connect()
    disconnect = MethodDescriptor(70, DISCONNECT, 2).to_bytes()
    echo = MethodDescriptor(ECHO_CLASS, BLOB, 1).to_bytes()
    request = H("C303C102") + disconnect + echo + H("02") + H("0F00") + H("0903414243")
    assert connection.receive(READER_SAP, request) == H("C703C102" + "0000" + "0001000903414243")
    mismatch = H("C303C102") + disconnect + echo + H("01") + H("0F00")
    assert connection.receive(READER_SAP, mismatch) == H("C703C102FA00FA00")


def test_unconfirmed_action_is_done_without_answer() -> None:
    """gosem's broadcast action uses iip 87 (high priority, unconfirmed, id 7)."""
    connection, backend = connect()
    assert connection.receive(READER_SAP, H("C301870046000060030AFF01010F00")) is None
    assert len(backend.actions) == 1


# --- exception-response --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_hex", "response_hex"),
    [
        ("C001C100080000010000FF0300", "D80101"),  # GET before association
        ("C101C1000300015E230BFF02000600002710", "D80101"),
        ("C301C10046000060030AFF01010F00", "D80101"),
        ("C002C100000001", "D80101"),
        ("C8", "D80202"),  # glo-get-request: ciphered APDUs are not served
        ("C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B", "D80202"),
        ("", "D80203"),
        ("FF", "D80202"),
        ("C0", "D80203"),
        ("C009C1", "D80202"),  # unknown GET CHOICE
        ("C001C100080000010000FF03", "D80203"),  # truncated
        ("C001C100080000010000FF030000", "D80203"),  # trailing octet
        ("C401C10010003C", "D80202"),  # a response sent to the server
        ("D80101", "D80202"),
        ("0F0063D76A000301", "D80202"),  # data-notification
        ("6117A109060760857405080101A203020101A305A10302010D", "D80202"),  # AARE
    ],
)
def test_exception_responses_before_association(request_hex: str, response_hex: str) -> None:
    """dlms.md 4 and 5 (gosem exceptionResponse_test D80101 / D80102)."""
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    assert connection.receive(PUBLIC_SAP, H(request_hex)) == H(response_hex)


def test_unconfirmed_requests_before_association_get_no_answer() -> None:
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    assert connection.receive(PUBLIC_SAP, H("C301870046000060030AFF01010F00")) is None


@pytest.mark.parametrize(
    "request_hex",
    [
        "C101C1000300015E230BFF02000600002710",  # SET: public has GET only
        "C301C10046000060030AFF01010F00",  # ACTION
        "C003C102000100002A0000FF020000080000010000FF0200",  # with-list: no multiple-references
        "C002C100000001",  # GET next: no block transfer
    ],
)
def test_services_outside_the_conformance_are_refused(request_hex: str) -> None:
    connection, _ = connect(client_sap=PUBLIC_SAP)
    assert connection.receive(PUBLIC_SAP, H(request_hex)) == H("D80102")


def test_selective_access_needs_its_conformance_bit() -> None:
    connection, backend = connect(conformance=0x001E19)  # all but selective-access
    request = H("C001C100070100630100FF020102020406000000000600000000120000120000")
    assert connection.receive(READER_SAP, request) == H("D80102")
    assert backend.reads == 0


def test_a_request_longer_than_the_server_pdu_is_refused() -> None:
    connection, backend = connect(settings=ServerSettings(max_receive_pdu_size=64))
    request = SetRequestNormal(
        invoke=InvokeIdAndPriority(1),
        attribute=AttributeDescriptor(1, BLOB, 2),
        value=Data.octet_string(bytes(100)),
    ).encode()
    assert connection.receive(READER_SAP, request) == H("D80104")
    assert backend.writes == []
    assert connection.is_associated(READER_SAP)


def test_exception_response_constants_decode() -> None:
    for raw in ("D80101", "D80102", "D80202", "D80203", "D80104", "D80103"):
        assert isinstance(decode_apdu(H(raw)), ExceptionResponse)
    assert ExceptionResponse(StateError.SERVICE_UNKNOWN, ServiceError.OTHER_REASON).encode() == H(
        "D80203"
    )


def test_a_fault_inside_the_server_is_answered_and_survived(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection, _ = connect()
    session = connection._sessions[READER_SAP]

    def explode(request: object) -> bytes:
        raise AssertionError("a bug")

    monkeypatch.setattr(session, "serve", explode)
    assert connection.receive(READER_SAP, H("C001C100080000010000FF0300")) == H("D80103")
    monkeypatch.undo()
    assert connection.receive(READER_SAP, H("C001C100080000010000FF0300")) == H("C401C10010003C")


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        ServerSettings(max_receive_pdu_size=11)
    with pytest.raises(ValueError):
        ServerSettings(max_receive_pdu_size=0x10000)
    with pytest.raises(ValueError):
        ServerSettings(max_long_transfer_size=-1)
