"""Golden APDUs of dlms.md 5 (and 3.3): each decodes to the stated structure and that structure
encodes back to the exact bytes. Sources are named as the reference names them."""

from __future__ import annotations

import pytest

from metertwin.codec.axdr import BitString, Data, decode
from metertwin.codec.cosem_datetime import ClockStatus, CosemDateTime
from metertwin.codec.enums import (
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    ActionResult,
    ApplicationContext,
    AssociationResult,
    AuthenticationMechanism,
    ConfirmedService,
    ConfirmedServiceErrorType,
    Conformance,
    DataAccessResult,
    InitiateError,
    ReleaseRequestReason,
    ReleaseResponseReason,
    ServiceError,
    StateError,
)
from metertwin.codec.errors import ApduError, UnsupportedApduError
from metertwin.codec.obis import Obis
from metertwin.dlms.apdu import (
    Aare,
    Aarq,
    ActionRequestNormal,
    ActionResponseNextPblock,
    ActionResponseNormal,
    Apdu,
    AttributeDescriptor,
    AttributeWithSelection,
    ConfirmedServiceError,
    DataNotification,
    EventNotificationRequest,
    ExceptionResponse,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    InitiateRequest,
    InitiateResponse,
    InvokeIdAndPriority,
    LongInvokeIdAndPriority,
    MethodDescriptor,
    Rlre,
    Rlrq,
    SelectiveAccess,
    SetRequestNormal,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseNormal,
    decode_apdu,
)

C1 = InvokeIdAndPriority(1, confirmed=True, high_priority=True)
C0 = InvokeIdAndPriority(0, confirmed=True, high_priority=True)
LN = ApplicationContext.LOGICAL_NAME

# Conformance blocks of the vectors (dlms.md 3.3): 007E1F proposed by DC/Green Book clients,
# 00501F answered by DC's server, 181F/101400/100080/1E1D from the GS and HDLC traces.
CLIENT_7E1F = Conformance(0x007E1F)
assert CLIENT_7E1F == (
    Conformance.PRIORITY_MGMT_SUPPORTED
    | Conformance.ATTRIBUTE0_SUPPORTED_WITH_GET
    | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
    | Conformance.BLOCK_TRANSFER_WITH_SET_OR_WRITE
    | Conformance.BLOCK_TRANSFER_WITH_ACTION
    | Conformance.MULTIPLE_REFERENCES
    | Conformance.GET
    | Conformance.SET
    | Conformance.SELECTIVE_ACCESS
    | Conformance.EVENT_NOTIFICATION
    | Conformance.ACTION
)
SERVER_501F = (
    Conformance.PRIORITY_MGMT_SUPPORTED
    | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
    | Conformance.GET
    | Conformance.SET
    | Conformance.SELECTIVE_ACCESS
    | Conformance.EVENT_NOTIFICATION
    | Conformance.ACTION
)
INITIATE_7E1F_1200 = InitiateRequest(
    proposed_conformance=CLIENT_7E1F, client_max_receive_pdu_size=1200
)
INITIATE_RESPONSE_501F = InitiateResponse(
    negotiated_conformance=SERVER_501F, server_max_receive_pdu_size=500
)


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def _date_time(hex_bytes: str) -> Data:
    return Data.octet_string(_hex(hex_bytes))


def capture_object(class_id: int, name: str, attribute: int) -> Data:
    return Data.structure(
        [
            Data.long_unsigned(class_id),
            Data.octet_string(bytes(Obis.parse(name))),
            Data.integer(attribute),
            Data.long_unsigned(0),
        ]
    )


def attr(class_id: int, name: str, attribute: int) -> AttributeDescriptor:
    return AttributeDescriptor(class_id, Obis.parse(name), attribute)


VECTORS: list[tuple[str, str, Apdu]] = [
    # --- association ------------------------------------------------------------------------
    (
        "DC test_aarq.py::TestParseAARQ::test_parse_no_ciphering_no_sercurity (Green Book v10)",
        "601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0",
        Aarq(application_context_name=LN, user_information=INITIATE_7E1F_1200.encode()),
    ),
    (
        "DC test_aare.py::TestDecodeAARE::test_no_ciphering_no_security_ok_association",
        "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000501F01F40007",
        Aare(
            result=AssociationResult.ACCEPTED,
            diagnostic=AcseServiceUserDiagnostic.NULL,
            user_information=INITIATE_RESPONSE_501F.encode(),
        ),
    ),
    (
        "DC test_aarq.py::test_parse_no_ciphering_low_security",
        "6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
        "BE10040E01000000065F1F0400007E1F04B0",
        Aarq(
            acse_authentication=True,
            mechanism_name=AuthenticationMechanism.LOW,
            calling_authentication_value=b"12345678",
            user_information=INITIATE_7E1F_1200.encode(),
        ),
    ),
    (
        "GS pkg/hdlc/hdlc_test.go::TestHDLC_SendAndReceive (AARQ, LLS 00000001)",
        "6036A1090607608574050801018A0207808B0760857405080201AC0A80083030303030303031"
        "BE10040E01000000065F1F040000181F0200",
        Aarq(
            acse_authentication=True,
            mechanism_name=AuthenticationMechanism.LOW,
            calling_authentication_value=b"00000001",
            user_information=InitiateRequest(
                proposed_conformance=Conformance(0x00181F), client_max_receive_pdu_size=512
            ).encode(),
        ),
    ),
    (
        "GS pkg/hdlc/hdlc_test.go::TestHDLC_SendAndReceive (AARE accepted)",
        "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000101400F00007",
        Aare(
            result=AssociationResult.ACCEPTED,
            diagnostic=AcseServiceUserDiagnostic.NULL,
            user_information=InitiateResponse(
                negotiated_conformance=Conformance(0x001014), server_max_receive_pdu_size=0xF0
            ).encode(),
        ),
    ),
    (
        "GS client_test.go::TestClient_InvalidPassword",
        "6129A109060760857405080101A203020101A305A10302010DBE10040E0800065F1F040000101400800007",
        Aare(
            result=AssociationResult.REJECTED_PERMANENT,
            diagnostic=AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE,
            user_information=InitiateResponse(
                negotiated_conformance=Conformance(0x001014), server_max_receive_pdu_size=0x80
            ).encode(),
        ),
    ),
    (
        "GS client_test.go::TestClient_InvalidPasswordLGZ (minimal AARE)",
        "6117A109060760857405080101A203020101A305A10302010D",
        Aare(
            result=AssociationResult.REJECTED_PERMANENT,
            diagnostic=AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE,
        ),
    ),
    (
        "DC test_aare.py::test_no_cipher_no_security_incorrect_dlms_version",
        "611FA109060760857405080101A203020101A305A103020101BE0604040E010601",
        Aare(
            result=AssociationResult.REJECTED_PERMANENT,
            diagnostic=AcseServiceUserDiagnostic.NO_REASON_GIVEN,
            user_information=ConfirmedServiceError.initiate(
                InitiateError.DLMS_VERSION_TOO_LOW
            ).encode(),
        ),
    ),
    (
        "DC test_aarq.py::test_parse_no_ciphering_high_security (HLS-GMAC CtoS K56iVagY)",
        "6036A1090607608574050801018A0207808B0760857405080205AC0A80084B35366956616759"
        "BE10040E01000000065F1F0400007E1F04B0",
        Aarq(
            acse_authentication=True,
            mechanism_name=AuthenticationMechanism.HIGH_GMAC,
            calling_authentication_value=b"K56iVagY",
            user_information=INITIATE_7E1F_1200.encode(),
        ),
    ),
    (
        "DC test_aare.py::test_no_ciher_hls_ok (authentication-required, StoC P6wRJ21F)",
        "6142A109060760857405080101A203020100A305A10302010E88020780890760857405080205"
        "AA0A8008503677524A323146BE10040E0800065F1F040000501F01F40007",
        Aare(
            result=AssociationResult.ACCEPTED,
            diagnostic=AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED,
            acse_authentication=True,
            mechanism_name=AuthenticationMechanism.HIGH_GMAC,
            responding_authentication_value=b"P6wRJ21F",
            user_information=INITIATE_RESPONSE_501F.encode(),
        ),
    ),
    (
        "DC test_parse_ciphered_low_security2 (glo-initiate-request kept as user-information)",
        "6066A109060760857405080103A60A04084D4D4D0000BC614E8A0207808B0760857405080201"
        "AC0A80083132333435363738BE34043221303001234567801302FF8A7874133D414CED25B42534"
        "D28DB0047720606B175BD52211BE6841DB204D39EE6FDB8E356855",
        Aarq(
            application_context_name=ApplicationContext.LOGICAL_NAME_WITH_CIPHERING,
            calling_ap_title=_hex("4D4D4D0000BC614E"),
            acse_authentication=True,
            mechanism_name=AuthenticationMechanism.LOW,
            calling_authentication_value=b"12345678",
            user_information=_hex(
                "21303001234567801302FF8A7874133D414CED25B42534D28DB0047720606B175BD52211BE"
                "6841DB204D39EE6FDB8E356855"
            ),
        ),
    ),
    (
        "protocols.md HDLC AARQ (dlms-cosem tests/test_hdlc/test_hdlc.py), LLC header removed",
        "601DA109060760857405080101BE10040E01000000065F1F0400001E1DFFFF",
        Aarq(
            user_information=InitiateRequest(
                proposed_conformance=Conformance(0x001E1D), client_max_receive_pdu_size=0xFFFF
            ).encode()
        ),
    ),
    ("DC test_rlrq.py::test_simple", "6203800100", Rlrq(reason=ReleaseRequestReason.NORMAL)),
    ("DC test_rlre.py", "6303800100", Rlre(reason=ReleaseResponseReason.NORMAL)),
    (
        "DC test_rlre.py (with InitiateResponse)",
        "6316800100BE11040F080100065F1F0400001E1D04C80007",
        Rlre(
            reason=ReleaseResponseReason.NORMAL,
            user_information=InitiateResponse(
                negotiated_quality_of_service=0,
                negotiated_conformance=Conformance(0x001E1D),
                server_max_receive_pdu_size=1224,
            ).encode(),
        ),
    ),
    ("GS TestClient_CloseAssociation", "6200", Rlrq()),
    ("GS TestClient_CloseAssociation", "6300", Rlre()),
    # --- initiate (dlms.md 3.3, DC test_initiate.py) ----------------------------------------
    ("DC test_initiate.py", "01000000065F1F0400007E1F04B0", INITIATE_7E1F_1200),
    (
        "DC test_initiate.py (dedicated key)",
        "01011000112233445566778899AABBCCDDEEFF0000065F1F0400007E1F04B0",
        InitiateRequest(
            dedicated_key=_hex("00112233445566778899AABBCCDDEEFF"),
            proposed_conformance=CLIENT_7E1F,
            client_max_receive_pdu_size=1200,
        ),
    ),
    ("DC test_initiate.py", "0800065F1F040000501F01F40007", INITIATE_RESPONSE_501F),
    (
        "DC test_initiate.py (QoS present)",
        "080100065F1F0400001E1D04C80007",
        InitiateResponse(
            negotiated_quality_of_service=0,
            negotiated_conformance=Conformance(0x001E1D),
            server_max_receive_pdu_size=1224,
        ),
    ),
    (
        "GS confirmedServiceError_test.go",
        "0E010601",
        ConfirmedServiceError(
            ConfirmedService.INITIATE,
            ConfirmedServiceErrorType.INITIATE,
            InitiateError.DLMS_VERSION_TOO_LOW,
        ),
    ),
    (
        "GXT decode quoted in dlms.md 4 (initiateError / service / service-unsupported)",
        "0E010302",
        ConfirmedServiceError(ConfirmedService.INITIATE, ConfirmedServiceErrorType.SERVICE, 2),
    ),
    (
        "GS set_test.go::TestClient_SetRequestFail (vde-state-error 3)",
        "0E010203",
        ConfirmedServiceError(
            ConfirmedService.INITIATE, ConfirmedServiceErrorType.VDE_STATE_ERROR, 3
        ),
    ),
    # --- GET --------------------------------------------------------------------------------
    (
        "public HDLC traces; IoTCom.Net DlmsCodecTests (low authority); GXT OK",
        "C001C100030100010800FF0200",
        GetRequestNormal(invoke=C1, attribute=attr(3, "1.0.1.8.0.255", 2)),
    ),
    (
        "IoTCom.Net DlmsCodecTests.Get_request_and_responses_round_trip; GXT OK",
        "C401C1000600003039",
        GetResponseNormal(invoke=C1, result=Data.double_long_unsigned(12345)),
    ),
    (
        "DC test_get.py::TestGetRequestNormal::test_transform_bytes",
        "C001C1000100002B0100FF0200",
        GetRequestNormal(invoke=C1, attribute=attr(1, "0.0.43.1.0.255", 2)),
    ),
    (
        "DC test_get.py::TestGetResponseNormal::test_from_bytes",
        "C401C1000600001391",
        GetResponseNormal(invoke=C1, result=Data.double_long_unsigned(5009)),
    ),
    (
        "GS get_test.go::TestClient_GetRequest (clock time zone)",
        "C001C100080000010000FF0300",
        GetRequestNormal(invoke=C1, attribute=attr(8, "0.0.1.0.0.255", 3)),
    ),
    (
        "GS get_test.go::TestClient_GetRequest (long 60)",
        "C401C10010003C",
        GetResponseNormal(invoke=C1, result=Data.long(60)),
    ),
    (
        "GS hdlc_test.go (firmware 1.0.0.2.0.255)",
        "C001C100010100000200FF0200",
        GetRequestNormal(invoke=C1, attribute=attr(1, "1.0.0.2.0.255", 2)),
    ),
    (
        'GS hdlc_test.go ("V0411")',
        "C401C10009055630343131",
        GetResponseNormal(invoke=C1, result=Data.octet_string(b"V0411")),
    ),
    (
        "DC TestGetRequestNormalWithError (hardware-fault)",
        "C401C10101",
        GetResponseNormal(invoke=C1, result=DataAccessResult.HARDWARE_FAULT),
    ),
    (
        "DC TestGetRequestWithList",
        "C003C102000100002A0000FF020000080000010000FF0200",
        GetRequestWithList(
            invoke=C1,
            attributes=(
                AttributeWithSelection(attr(1, "0.0.42.0.0.255", 2)),
                AttributeWithSelection(attr(8, "0.0.1.0.0.255", 2)),
            ),
        ),
    ),
    (
        "DC TestGetResponseWithList",
        "C403C10200091049534B3130333037373737363433363600090C07E50603040E091700FFC400",
        GetResponseWithList(
            invoke=C1,
            results=(
                Data.octet_string(b"ISK1030777764366"),
                _date_time("07E50603040E091700FFC400"),
            ),
        ),
    ),
    (
        "GS get_test.go::TestClient_GetRequestWithDataBlock (request)",
        "C001C100070100630100FF0200",
        GetRequestNormal(invoke=C1, attribute=attr(7, "1.0.99.1.0.255", 2)),
    ),
    (
        "GS get_test.go::TestClient_GetRequestWithDataBlock (block 1)",
        "C402C10000000001000C010506000000010600000002",
        GetResponseWithDatablock(
            invoke=C1,
            last_block=False,
            block_number=1,
            result=_hex("010506000000010600000002"),
        ),
    ),
    (
        "GS get_test.go::TestClient_GetRequestWithDataBlock (next 1)",
        "C002C100000001",
        GetRequestNext(invoke=C1, block_number=1),
    ),
    (
        "GS get_test.go::TestClient_GetRequestWithDataBlock (block 2)",
        "C402C10000000002000A06000000030600000004",
        GetResponseWithDatablock(
            invoke=C1, last_block=False, block_number=2, result=_hex("06000000030600000004")
        ),
    ),
    (
        "GS get_test.go::TestClient_GetRequestWithDataBlock (next 2)",
        "C002C100000002",
        GetRequestNext(invoke=C1, block_number=2),
    ),
    (
        "GS get_test.go::TestClient_GetRequestWithDataBlock (last block 3)",
        "C402C1010000000300050600000005",
        GetResponseWithDatablock(
            invoke=C1, last_block=True, block_number=3, result=_hex("0600000005")
        ),
    ),
    (
        "DC TestGetResponseFactory (last-block error)",
        "C402C101000000130101",
        GetResponseWithDatablock(
            invoke=C1,
            last_block=True,
            block_number=0x13,
            result=DataAccessResult.HARDWARE_FAULT,
        ),
    ),
    (
        "DC test_selective_access.py::test_parse_range_descriptor",
        "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000"
        "090C07E10A010700000000FFC480090C07E10A010701000000FFC4800100",
        GetRequestNormal(
            invoke=C1,
            attribute=attr(7, "1.0.99.1.0.255", 2),
            access=SelectiveAccess(
                1,
                Data.structure(
                    [
                        capture_object(8, "0.0.1.0.0.255", 2),
                        _date_time("07E10A010700000000FFC480"),
                        _date_time("07E10A010701000000FFC480"),
                        Data.array([]),
                    ]
                ),
            ),
        ),
    ),
    (
        "GS get_test.go::TestClient_GetRequestRequestWithSelectiveAccess (request)",
        "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000"
        "090C07E40101030A000000000000090C07E40101030B0000000000000100",
        GetRequestNormal(
            invoke=C1,
            attribute=attr(7, "1.0.99.1.0.255", 2),
            access=SelectiveAccess(
                1,
                Data.structure(
                    [
                        capture_object(8, "0.0.1.0.0.255", 2),
                        _date_time("07E40101030A000000000000"),
                        _date_time("07E40101030B000000000000"),
                        Data.array([]),
                    ]
                ),
            ),
        ),
    ),
    (
        "GS get_test.go::TestClient_GetRequestRequestWithSelectiveAccess (response)",
        "C401C100010206000000010600000002",
        GetResponseNormal(
            invoke=C1,
            result=Data.array([Data.double_long_unsigned(1), Data.double_long_unsigned(2)]),
        ),
    ),
    # --- SET / ACTION / errors / notifications -------------------------------------------
    (
        "DC test_set.py::TestSetRequestNormal (clock time)",
        "C101C100080000010000FF0200090C07E50118FF0E303950FFC400",
        SetRequestNormal(
            invoke=C1,
            attribute=attr(8, "0.0.1.0.0.255", 2),
            value=_date_time("07E50118FF0E303950FFC400"),
        ),
    ),
    (
        "DC test_set.py::TestSetResponseNormal; GS set_test.go::TestClient_SetRequest",
        "C501C100",
        SetResponseNormal(invoke=C1, result=DataAccessResult.SUCCESS),
    ),
    (
        "GS set_test.go::TestClient_SetRequest (register 0-1:94.35.11.255, 10000)",
        "C101C1000300015E230BFF02000600002710",
        SetRequestNormal(
            invoke=C1,
            attribute=attr(3, "0.1.94.35.11.255", 2),
            value=Data.double_long_unsigned(10000),
        ),
    ),
    (
        "GS set_test.go::TestClient_SetRequestWithStructOfElementsWithFail (read-write-denied)",
        "C501C103",
        SetResponseNormal(invoke=C1, result=DataAccessResult.READ_WRITE_DENIED),
    ),
    (
        "GS TestClient_SetRequestWithDataBlock",
        "C502C100000001",
        SetResponseDatablock(invoke=C1, block_number=1),
    ),
    (
        "GS TestClient_SetRequestWithDataBlock",
        "C502C100000002",
        SetResponseDatablock(invoke=C1, block_number=2),
    ),
    (
        "GS TestClient_SetRequestWithDataBlock",
        "C503C10000000003",
        SetResponseLastDatablock(invoke=C1, result=DataAccessResult.SUCCESS, block_number=3),
    ),
    (
        "GS action_test.go::TestClient_ActionRequest (remote_disconnect)",
        "C301C10046000060030AFF01010F00",
        ActionRequestNormal(
            invoke=C1,
            method=MethodDescriptor(70, Obis.parse("0.0.96.3.10.255"), 1),
            parameters=Data.integer(0),
        ),
    ),
    (
        "GS action_test.go::TestClient_ActionRequest (response)",
        "C701C10000",
        ActionResponseNormal(invoke=C1, result=ActionResult.SUCCESS),
    ),
    (
        "DC test_action.py::test_transform_bytes_without_data",
        "C301C0000F0000280000FF0100",
        ActionRequestNormal(
            invoke=C0, method=MethodDescriptor(15, Obis.parse("0.0.40.0.0.255"), 1)
        ),
    ),
    (
        "DC TestActionResponseWithError (other-reason as return parameter)",
        "C701C0000101FA",
        ActionResponseNormal(
            invoke=C0,
            result=ActionResult.SUCCESS,
            return_parameters=DataAccessResult.OTHER_REASON,
        ),
    ),
    (
        "DC TestActionRequestNormal (reply_to_HLS_authentication)",
        "C301C0000F0000280000FF010109111000001A90E6D2221FA2FD85EED61ACC22",
        ActionRequestNormal(
            invoke=C0,
            method=MethodDescriptor(15, Obis.parse("0.0.40.0.0.255"), 1),
            parameters=Data.octet_string(_hex("1000001A90E6D2221FA2FD85EED61ACC22")),
        ),
    ),
    (
        "DC TestActionResponseNormalWithData",
        "C701C000010009111000001AFDE8857B728A3499106AA665D1",
        ActionResponseNormal(
            invoke=C0,
            result=ActionResult.SUCCESS,
            return_parameters=Data.octet_string(_hex("1000001AFDE8857B728A3499106AA665D1")),
        ),
    ),
    (
        "GS exceptionResponse_test.go",
        "D80102",
        ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.SERVICE_NOT_SUPPORTED),
    ),
    (
        "GS client_test.go",
        "D80101",
        ExceptionResponse(StateError.SERVICE_NOT_ALLOWED, ServiceError.OPERATION_NOT_POSSIBLE),
    ),
    (
        "GS eventNotificationRequest_test.go (with time)",
        "C2010C05DC0101010000000000000000010100000300FF020301",
        EventNotificationRequest(
            time=CosemDateTime(
                year=1500,
                month=1,
                day=1,
                weekday=1,
                hour=0,
                minute=0,
                second=0,
                hundredths=0,
                deviation=0,
                clock_status=ClockStatus(0),
            ),
            attribute=attr(1, "1.0.0.3.0.255", 2),
            value=Data.boolean(True),
        ),
    ),
    (
        "GS eventNotificationRequest_test.go (without time)",
        "C20000010100000300FF020301",
        EventNotificationRequest(attribute=attr(1, "1.0.0.3.0.255", 2), value=Data.boolean(True)),
    ),
    (
        "GS dataNotification_test.go (2023-01-31 18:34:23)",
        "0F0063D76A0C07E7011F02122217000000000301",
        DataNotification(
            long_invoke=LongInvokeIdAndPriority(0x63D76A),
            time=CosemDateTime(
                year=2023,
                month=1,
                day=31,
                weekday=2,
                hour=18,
                minute=34,
                second=23,
                hundredths=0,
                deviation=0,
                clock_status=ClockStatus(0),
            ),
            body=Data.boolean(True),
        ),
    ),
    (
        "GS dataNotification_test.go (without date-time)",
        "0F0063D76A000301",
        DataNotification(long_invoke=LongInvokeIdAndPriority(0x63D76A), body=Data.boolean(True)),
    ),
    (
        "protocols.md Data-Notification (dlms-cosem tests), body an octet-string of 34 octets",
        "0f000001db000922125a8591360000000049000000110000000a5a8513d014800000000d0000000a0100",
        DataNotification(
            long_invoke=LongInvokeIdAndPriority(0x1DB),
            body=Data.octet_string(
                _hex("125a8591360000000049000000110000000a5a8513d014800000000d0000000a0100")
            ),
        ),
    ),
]


@pytest.mark.parametrize(
    ("source", "hex_bytes", "expected"), VECTORS, ids=[v[1][:24] for v in VECTORS]
)
def test_golden_vector(source: str, hex_bytes: str, expected: Apdu) -> None:
    raw = _hex(hex_bytes)
    decoded = decode_apdu(raw)
    assert type(decoded) is type(expected), source
    assert decoded == expected, source
    assert expected.encode() == raw, source


def test_user_information_decodes_to_initiate_apdus() -> None:
    """AARQ/AARE user-information is an xDLMS APDU the same dispatcher reads (dlms.md 3.1)."""
    aarq = decode_apdu(_hex("601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0"))
    assert isinstance(aarq, Aarq) and aarq.user_information is not None
    request = decode_apdu(aarq.user_information)
    assert request == INITIATE_7E1F_1200
    assert isinstance(request, InitiateRequest)
    assert request.proposed_dlms_version == 6 and request.response_allowed
    assert request.dedicated_key is None and request.proposed_quality_of_service is None


def test_diagnostic_branches_are_kept_apart() -> None:
    """User (A1) and provider (A2) diagnostics share values; their class picks the branch."""
    user = Aare(
        result=AssociationResult.REJECTED_PERMANENT, diagnostic=AcseServiceUserDiagnostic(2)
    )
    provider = Aare(
        result=AssociationResult.REJECTED_PERMANENT,
        diagnostic=AcseServiceProviderDiagnostic.NO_COMMON_ACSE_VERSION,
    )
    assert b"\xa3\x05\xa1\x03\x02\x01\x02" in user.encode()
    assert b"\xa3\x05\xa2\x03\x02\x01\x02" in provider.encode()
    decoded = decode_apdu(provider.encode())
    assert isinstance(decoded, Aare)
    assert type(decoded.diagnostic) is AcseServiceProviderDiagnostic


def test_application_context_name_wrong_vector() -> None:
    """DC test_no_ciphering_no_security_app_context_name_wrong: result 1, diagnostic 2."""
    aare = Aare(
        result=AssociationResult.REJECTED_PERMANENT,
        diagnostic=AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED,
    )
    assert _hex("A203020101A305A103020102") in aare.encode()


def test_unknown_context_and_mechanism_are_kept_for_the_diagnostic() -> None:
    """An AARQ naming an OID we do not know still decodes, so the server can answer it with
    diagnostic 2 or 11 rather than abort (dlms.md 3.4)."""
    raw = _hex("6014A1090607608574050801098B0760857405080209")
    aarq = decode_apdu(raw)
    assert isinstance(aarq, Aarq)
    assert aarq.application_context_name == _hex("60857405080109")
    assert aarq.mechanism_name == _hex("60857405080209")
    assert aarq.encode() == raw


def test_protocol_version_field() -> None:
    """``80 02 07 80`` (dlms.md 3.1): ACSE protocol version 1, a one-bit BIT STRING."""
    aarq = Aarq(protocol_version=BitString(1, 1))
    raw = aarq.encode()
    assert raw.startswith(_hex("600F 80020780 A109"))
    assert decode_apdu(raw) == aarq


def test_ciphered_user_information_is_unsupported_here() -> None:
    """glo-initiate-request (0x21) passes through the AARQ but is not decoded by this layer."""
    user_information = _hex("21303001234567801302FF8A")
    with pytest.raises(UnsupportedApduError) as raised:
        decode_apdu(user_information)
    assert raised.value.tag == 0x21


def test_glo_get_request_is_unsupported() -> None:
    """Green Book glo-get-request of dlms.md 5 (DC test_security.py::test_encrypt_authenticated)."""
    with pytest.raises(UnsupportedApduError):
        decode_apdu(_hex("C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"))


def test_trailing_octet_of_gs_set_failure_vector_is_refused() -> None:
    """dlms.md 5 quotes ``C501C10102`` (GS set_test.go::TestClient_SetRequestFail) as a
    temporary-failure. Set-Response-Normal is iip + one Data-Access-Result, so those five
    octets are hardware-fault (01) plus a stray 02; gosem accepts it leniently, we refuse it."""
    with pytest.raises(ApduError, match="1 octets after"):
        decode_apdu(_hex("C501C10102"))
    assert decode_apdu(_hex("C501C101")) == SetResponseNormal(
        invoke=C1, result=DataAccessResult.HARDWARE_FAULT
    )
    assert SetResponseNormal(invoke=C1, result=DataAccessResult.TEMPORARY_FAILURE).encode() == (
        _hex("C501C102")
    )


def test_datablock_sequence_reassembles_the_value() -> None:
    """GS TestClient_GetRequestWithDataBlock: the raw blocks concatenate to an array of five
    double-long-unsigned."""
    raw = b""
    for hex_bytes in (
        "C402C10000000001000C010506000000010600000002",
        "C402C10000000002000A06000000030600000004",
        "C402C1010000000300050600000005",
    ):
        block = decode_apdu(_hex(hex_bytes))
        assert isinstance(block, GetResponseWithDatablock) and isinstance(block.result, bytes)
        raw += block.result
    assert decode(raw) == Data.array([Data.double_long_unsigned(n) for n in range(1, 6)])


def test_large_block_headers() -> None:
    """DC TestGetResponseWithBlock: block 1 with 1182 raw octets (``82 049E``) starting an
    array of 1440 structures (``01 8205A0 02 04``); last block 0x13 with 380 (``82 017C``)."""
    first = _hex("018205A00204") + bytes(1176)
    encoded = GetResponseWithDatablock(
        invoke=C1, last_block=False, block_number=1, result=first
    ).encode()
    assert encoded.startswith(_hex("C402C1 00 00000001 00 82049E 01 8205A0 02 04"))
    assert decode_apdu(encoded) == GetResponseWithDatablock(
        invoke=C1, last_block=False, block_number=1, result=first
    )
    last = GetResponseWithDatablock(
        invoke=C1, last_block=True, block_number=0x13, result=bytes(380)
    )
    assert last.encode().startswith(_hex("C402C1 01 00000013 00 82017C"))


def test_exception_response_with_invocation_counter() -> None:
    """service-error 6 carries the expected invocation counter as u32 (dlms.md 2.4, per DC)."""
    response = ExceptionResponse(
        StateError.SERVICE_UNKNOWN, ServiceError.INVOCATION_COUNTER_ERROR, 0x01234567
    )
    assert response.encode() == _hex("D8020601234567")
    assert decode_apdu(_hex("D8020601234567")) == response
    with pytest.raises(ApduError, match="needs 4 octets"):
        decode_apdu(_hex("D80206"))
    with pytest.raises(ValueError, match="invocation counter"):
        ExceptionResponse(StateError.SERVICE_UNKNOWN, ServiceError.INVOCATION_COUNTER_ERROR)


def test_invoke_id_and_priority_bits() -> None:
    """dlms.md 2.2: C1 = high, confirmed, id 1; C0 = id 0; 81 = high, unconfirmed, id 1;
    GS broadcast action uses 87."""
    assert InvokeIdAndPriority.from_byte(0xC1) == InvokeIdAndPriority(1, True, True)
    assert InvokeIdAndPriority.from_byte(0x81) == InvokeIdAndPriority(1, False, True)
    assert InvokeIdAndPriority.from_byte(0x87) == InvokeIdAndPriority(7, False, True)
    assert InvokeIdAndPriority(0, True, False).to_byte() == 0x40
    assert InvokeIdAndPriority.from_byte(0xF1).to_byte() == 0xC1  # reserved bits dropped


def test_long_invoke_id_and_priority_bits() -> None:
    """dlms.md 2.2: bits 0-23 id, 28 self-descriptive, 29 break-on-error, 30 confirmed,
    31 high priority."""
    value = LongInvokeIdAndPriority(0xABCDEF, True, False, True, True)
    assert value.to_int() == 0xD0ABCDEF
    assert LongInvokeIdAndPriority.from_int(0xD0ABCDEF) == value


def test_action_response_next_pblock_is_tag_choice_invoke_and_a_u32_block_number() -> None:
    """IEC 62056-5-3 (Green Book) ACTION-Response ::= CHOICE { ..., action-response-next-pblock
    [4] }, Action-Response-Next-Pblock ::= SEQUENCE { invoke-id-and-priority, block-number
    Unsigned32 }: ``C7 04``, one octet, then the block number in four octets (A-XDR, no type
    tag). gurux-dlms reads the same layout (and accepts it from this server)."""
    answer = ActionResponseNextPblock(invoke=InvokeIdAndPriority(1, True, True), block_number=1)
    assert answer.encode() == _hex("C704C100000001")
    assert decode_apdu(_hex("C704C100000001")) == answer
