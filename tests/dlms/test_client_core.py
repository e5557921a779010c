"""The sans-IO client core driven with the golden vectors of reference/dlms.md section 5.

Each test walks an exchange through (expected request, canned answer) pairs: the request bytes
our client builds must equal the reference bytes exactly, and the reference answers must be
interpreted as stated. Sources are named as dlms.md names them (DC = dlms-cosem tests, GS =
gosem tests, Green Book examples quoted there).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.dlms.strategies import data_trees
from tests.dlms.test_client_fakes import accepted_aare

from metertwin.codec.axdr import Data, encode
from metertwin.codec.cosem_datetime import ClockStatus, CosemDateTime
from metertwin.codec.enums import (
    AcseServiceUserDiagnostic,
    ActionResult,
    AssociationResult,
    Conformance,
    DataAccessResult,
    InitiateError,
    ServiceError,
    StateError,
)
from metertwin.codec.obis import Obis
from metertwin.dlms.apdu import (
    ActionRequestNextPblock,
    ActionRequestWithFirstPblock,
    ActionRequestWithPblock,
    ActionResponseNextPblock,
    ActionResponseNormal,
    ActionResponseWithPblock,
    DataBlock,
    DataNotification,
    GetResponseNormal,
    GetResponseWithDatablock,
    InvokeIdAndPriority,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    decode_apdu,
)
from metertwin.dlms.client.association import (
    DEFAULT_CONFORMANCE,
    ClientAssociation,
    Exchange,
    WrapperLink,
    is_unsolicited,
)
from metertwin.dlms.client.errors import (
    ActionFailedError,
    AssociationRejectedError,
    ConfirmedServiceErrorResponse,
    DataAccessError,
    DlmsProtocolError,
    ExceptionResponseError,
    NotAssociatedError,
)
from metertwin.dlms.client.objects import CLOCK_TIME, CaptureObject

T = TypeVar("T")

# dlms.md 5, DC test_aare.py::test_no_ciphering_no_security_ok_association
AARE_ACCEPTED = (
    "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000501F01F40007"
)


def converse(exchange: Exchange[T], *steps: tuple[str, str]) -> T:
    """Drives ``exchange``: each step is (the request it must send, the answer it gets), in hex;
    the exchange must finish on the last answer."""
    request = next(exchange)
    for index, (expected, answer) in enumerate(steps):
        assert request.hex().upper() == expected.replace(" ", "").upper(), f"step {index}"
        try:
            request = exchange.send(bytes.fromhex(answer.replace(" ", "")))
        except StopIteration as done:
            assert index == len(steps) - 1, f"finished after step {index} of {len(steps)}"
            result: T = done.value
            return result
    raise AssertionError(f"the exchange wants to send more: {request.hex()}")


def answer_only(exchange: Exchange[T], *answers: str) -> T:
    """Drives ``exchange`` with ``answers`` whatever it sends."""
    next(exchange)
    for index, answer in enumerate(answers):
        try:
            exchange.send(bytes.fromhex(answer))
        except StopIteration as done:
            assert index == len(answers) - 1
            result: T = done.value
            return result
    raise AssertionError("the exchange wants to send more")


def associated(
    conformance: Conformance = DEFAULT_CONFORMANCE,
    server_max_receive_pdu_size: int = 0x0400,
    invoke_id: int = 1,
) -> ClientAssociation:
    association = ClientAssociation(invoke_id=invoke_id)
    association.accept_aare(accepted_aare(conformance, server_max_receive_pdu_size))
    return association


# --- association ----------------------------------------------------------------------------


def test_aarq_without_security_is_the_green_book_example() -> None:
    """DC test_aarq.py::test_parse_no_ciphering_no_sercurity (Green Book v10 example)."""
    association = ClientAssociation(max_receive_pdu_size=1200)
    assert association.aarq().encode().hex().upper() == (
        "601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0"
    )


def test_aarq_with_lls_password_12345678() -> None:
    """DC test_aarq.py::test_parse_no_ciphering_low_security."""
    association = ClientAssociation(password=b"12345678", max_receive_pdu_size=1200)
    assert association.aarq().encode().hex().upper() == (
        "6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
        "BE10040E01000000065F1F0400007E1F04B0"
    )
    assert ClientAssociation(password="12345678", max_receive_pdu_size=1200).aarq() == (
        association.aarq()
    )


def test_accepted_aare_records_the_negotiated_parameters() -> None:
    association = ClientAssociation(max_receive_pdu_size=1200)
    negotiated = converse(
        association.associate(),
        ("601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0", AARE_ACCEPTED),
    )
    assert association.associated
    assert negotiated.server_max_receive_pdu_size == 500
    assert association.conformance == Conformance(0x00501F)
    assert association.server_max_receive_pdu_size == 500


def test_lls_association_of_gosem() -> None:
    """GS pkg/hdlc/hdlc_test.go::TestHDLC_SendAndReceive: LLS "00000001", conformance 00181F,
    max PDU 0x0200, accepted with conformance 001014 and server max PDU 240."""
    association = ClientAssociation(
        password=b"00000001", conformance=Conformance(0x00181F), max_receive_pdu_size=0x0200
    )
    converse(
        association.associate(),
        (
            "6036A1090607608574050801018A0207808B0760857405080201AC0A80083030303030303031"
            "BE10040E01000000065F1F040000181F0200",
            "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000101400F00007",
        ),
    )
    assert association.conformance == Conformance(0x001014)
    assert association.server_max_receive_pdu_size == 240


@pytest.mark.parametrize(
    "aare",
    [
        "6129A109060760857405080101A203020101A305A10302010DBE10040E0800065F1F040000101400800007",
        "6117A109060760857405080101A203020101A305A10302010D",
    ],
    ids=["full", "minimal"],
)
def test_wrong_password_names_the_diagnostic(aare: str) -> None:
    """GS client_test.go::TestClient_InvalidPassword and the LGZ minimal variant."""
    association = ClientAssociation(password=b"wrong")
    with pytest.raises(AssociationRejectedError) as refused:
        answer_only(association.associate(), aare)
    assert refused.value.result == AssociationResult.REJECTED_PERMANENT
    assert refused.value.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE
    assert "13 authentication-failure" in str(refused.value)
    assert "rejected-permanent" in str(refused.value)
    assert not association.associated


def test_initiate_error_is_reported() -> None:
    """DC test_aare.py::test_no_cipher_no_security_incorrect_dlms_version."""
    association = ClientAssociation()
    with pytest.raises(AssociationRejectedError) as refused:
        answer_only(
            association.associate(),
            "611FA109060760857405080101A203020101A305A103020101BE0604040E010601",
        )
    assert refused.value.initiate_error == InitiateError.DLMS_VERSION_TOO_LOW
    assert "dlms-version-too-low" in str(refused.value)


def test_unsupported_application_context_is_reported() -> None:
    """DC test_no_ciphering_no_security_app_context_name_wrong (diagnostic 2), written here in
    the minimal AARE form of GS."""
    with pytest.raises(AssociationRejectedError) as refused:
        answer_only(
            ClientAssociation().associate(), "6117A109060760857405080101A203020101A305A103020102"
        )
    assert (
        refused.value.diagnostic == AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED
    )
    assert "application-context-name-not-supported" in str(refused.value)


def test_hls_challenge_is_refused_clearly() -> None:
    """DC test_aare.py::test_no_ciher_hls_ok: accepted pending HLS (diagnostic 14)."""
    association = ClientAssociation(password=b"K56iVagY")
    with pytest.raises(AssociationRejectedError, match="HLS"):
        answer_only(
            association.associate(),
            "6142A109060760857405080101A203020100A305A10302010E88020780890760857405080205"
            "AA0A8008503677524A323146BE10040E0800065F1F040000501F01F40007",
        )
    assert not association.associated


def test_services_need_an_association() -> None:
    with pytest.raises(NotAssociatedError):
        next(ClientAssociation().get("1.0.1.8.0.255", 3))


def test_release() -> None:
    """DC test_rlrq.py::test_simple, test_rlre.py; GS bare RLRE ``6300``."""
    association = associated()
    converse(association.release(), ("6203800100", "6303800100"))
    assert not association.associated
    association = associated()
    converse(association.release(), ("6203800100", "6300"))
    assert not association.associated


# --- GET ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obis", "class_id", "attribute", "request_hex", "answer", "value"),
    [
        # IoTCom.Net DlmsCodecTests (low authority), GXT OK
        (
            "1.0.1.8.0.255",
            3,
            2,
            "C001C100030100010800FF0200",
            "C401C1000600003039",
            Data.double_long_unsigned(12345),
        ),
        # DC test_get.py::TestGetRequestNormal / TestGetResponseNormal
        (
            "0.0.43.1.0.255",
            1,
            2,
            "C001C1000100002B0100FF0200",
            "C401C1000600001391",
            Data.double_long_unsigned(5009),
        ),
        # GS get_test.go::TestClient_GetRequest: clock time_zone
        ("0.0.1.0.0.255", 8, 3, "C001C100080000010000FF0300", "C401C10010003C", Data.long(60)),
        # GS hdlc_test.go: firmware version
        (
            "1.0.0.2.0.255",
            1,
            2,
            "C001C100010100000200FF0200",
            "C401C10009055630343131",
            Data.octet_string(b"V0411"),
        ),
    ],
)
def test_get_normal(
    obis: str, class_id: int, attribute: int, request_hex: str, answer: str, value: Data
) -> None:
    assert converse(associated().get(obis, class_id, attribute), (request_hex, answer)) == value


def test_get_refused_with_data_access_result() -> None:
    """DC TestGetRequestNormalWithError: ``C401C10101`` = hardware-fault."""
    with pytest.raises(DataAccessError) as refused:
        converse(associated().get("1.0.1.8.0.255", 3), ("C001C100030100010800FF0200", "C401C10101"))
    assert refused.value.result == DataAccessResult.HARDWARE_FAULT
    assert str(refused.value) == (
        "GET 1.0.1.8.0.255 class 3 attribute 2: hardware-fault (data-access-result 1)"
    )


def test_get_with_datablocks_asks_for_each_next_block() -> None:
    """GS get_test.go::TestClient_GetRequestWithDataBlock: three blocks concatenate to an array
    of five double-long-unsigned."""
    value = converse(
        associated().get(Obis(1, 0, 99, 1, 0, 255), 7),
        ("C001C100070100630100FF0200", "C402C10000000001000C010506000000010600000002"),
        ("C002C100000001", "C402C10000000002000A06000000030600000004"),
        ("C002C100000002", "C402C1010000000300050600000005"),
    )
    assert value == Data.array(Data.double_long_unsigned(n) for n in range(1, 6))


def test_get_datablock_ending_in_an_error() -> None:
    """DC TestGetResponseFactory: last block with data-access-result hardware-fault."""
    with pytest.raises(DataAccessError) as refused:
        answer_only(associated().get("1.0.99.1.0.255", 7), "C402C101000000130101")
    assert refused.value.result == DataAccessResult.HARDWARE_FAULT


def test_get_datablocks_out_of_sequence_are_refused() -> None:
    with pytest.raises(DlmsProtocolError, match="block 3 after block 1"):
        answer_only(
            associated().get("1.0.99.1.0.255", 7),
            "C402C10000000001000C010506000000010600000002",
            "C402C1010000000300050600000005",
        )


def test_get_with_list() -> None:
    """DC TestGetRequestWithList / TestGetResponseWithList."""
    results = converse(
        associated().get_many([("0.0.42.0.0.255", 1, 2), ("0.0.1.0.0.255", 8, 2)]),
        (
            "C003C102000100002A0000FF020000080000010000FF0200",
            "C403C10200091049534B3130333037373737363433363600090C07E50603040E091700FFC400",
        ),
    )
    assert results == [
        Data.octet_string(b"ISK1030777764366"),
        Data.octet_string(bytes.fromhex("07E50603040E091700FFC400")),
    ]


def test_get_many_without_multiple_references_reads_one_by_one() -> None:
    """The accepted AARE of DC negotiates 00501F, without multiple-references."""
    association = ClientAssociation()
    association.accept_aare(bytes.fromhex(AARE_ACCEPTED))
    results = converse(
        association.get_many([("0.0.42.0.0.255", 1, 2), ("0.0.1.0.0.255", 8, 2)]),
        ("C001C1000100002A0000FF0200", "C401C100091049534B31303330373737373634333636"),
        ("C001C100080000010000FF0200", "C401C10101"),
    )
    assert results == [Data.octet_string(b"ISK1030777764366"), DataAccessResult.HARDWARE_FAULT]


def test_get_with_list_answered_in_datablocks() -> None:
    raw = bytes.fromhex("02" + "00" + "0600000005" + "01" + "03")
    first = GetResponseWithDatablock(
        invoke=InvokeIdAndPriority(), last_block=False, block_number=1, result=raw[:4]
    )
    last = GetResponseWithDatablock(
        invoke=InvokeIdAndPriority(), last_block=True, block_number=2, result=raw[4:]
    )
    results = answer_only(
        associated().get_many([("1.0.1.8.0.255", 3, 2), ("1.0.2.8.0.255", 3, 2)]),
        first.encode().hex(),
        last.encode().hex(),
    )
    assert results == [Data.double_long_unsigned(5), DataAccessResult.READ_WRITE_DENIED]


@pytest.mark.parametrize(
    ("answer", "state", "service"),
    [
        ("D80102", StateError.SERVICE_NOT_ALLOWED, ServiceError.SERVICE_NOT_SUPPORTED),
        ("D80101", StateError.SERVICE_NOT_ALLOWED, ServiceError.OPERATION_NOT_POSSIBLE),
    ],
)
def test_exception_response_is_a_typed_error(
    answer: str, state: StateError, service: ServiceError
) -> None:
    """GS exceptionResponse_test.go, client_test.go."""
    with pytest.raises(ExceptionResponseError) as refused:
        answer_only(associated().get("1.0.1.8.0.255", 3), answer)
    assert (refused.value.state_error, refused.value.service_error) == (state, service)
    assert "exception-response service-not-allowed" in str(refused.value)
    assert service.name.lower().replace("_", "-") in str(refused.value)


def test_confirmed_service_error_is_a_typed_error() -> None:
    """GS confirmedServiceError_test.go: ``0E010601``."""
    with pytest.raises(ConfirmedServiceErrorResponse, match="dlms-version-too-low"):
        answer_only(associated().get("1.0.1.8.0.255", 3), "0E010601")


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        ("C401C2000600003039", "invoke id 2, expected 1"),
        ("C401C1", "malformed"),
        ("C501C100", "expected get-response-normal or get-response-with-datablock"),
        ("FF", "malformed"),
        ("C401C1000600003039FF", "malformed"),  # an octet after the value
        ("C401C10006000030", "malformed"),  # the value cut short
        ("C401C10007", "malformed"),  # no such data type
    ],
)
def test_answers_that_do_not_fit_are_protocol_errors(answer: str, complaint: str) -> None:
    with pytest.raises(DlmsProtocolError, match=complaint):
        answer_only(associated().get("1.0.1.8.0.255", 3), answer)


@settings(max_examples=200, deadline=None)
@given(value=data_trees, invoke_octet=st.integers(0, 255))
def test_get_values_read_without_the_apdu_decoder_are_the_decoders_values(
    value: Data, invoke_octet: int
) -> None:
    """The client reads ``C4 01 <invoke> 00 <Data>`` straight from the octets (the answer to
    nearly every GET); what it returns must be what the APDU decoder reads, and an answer to
    another invoke id is still refused. The priority bits do not matter, as before."""
    answer = bytes((0xC4, 0x01, invoke_octet, 0x00)) + encode(value)
    if invoke_octet & 0x0F != 1:
        with pytest.raises(DlmsProtocolError, match="invoke id"):
            answer_only(associated().get("1.0.1.8.0.255", 3), answer.hex())
        return
    got = answer_only(associated().get("1.0.1.8.0.255", 3), answer.hex())
    decoded = decode_apdu(answer)
    assert isinstance(decoded, GetResponseNormal)
    assert isinstance(decoded.result, Data)
    assert encode(got) == encode(decoded.result) == encode(value)  # NaN-proof equality


# --- SET ----------------------------------------------------------------------------------


def test_set_clock_time() -> None:
    """DC test_set.py::TestSetRequestNormal, TestSetResponseNormal."""
    value = Data.octet_string(bytes.fromhex("07E50118FF0E303950FFC400"))
    converse(
        associated().set("0.0.1.0.0.255", 8, 2, value),
        ("C101C100080000010000FF0200090C07E50118FF0E303950FFC400", "C501C100"),
    )


def test_set_refused() -> None:
    """GS set_test.go::TestClient_SetRequestFail: the request bytes, and temporary-failure.
    dlms.md quotes the answer as ``C501C10102``, which has a stray octet (see
    test_apdu_vectors: our codec refuses it); the well-formed answer is ``C501C102``."""
    with pytest.raises(DataAccessError) as refused:
        converse(
            associated().set(Obis(0, 1, 94, 35, 11, 255), 3, 2, Data.double_long_unsigned(10000)),
            ("C101C1000300015E230BFF02000600002710", "C501C102"),
        )
    assert refused.value.result == DataAccessResult.TEMPORARY_FAILURE


def test_set_with_datablocks_when_the_value_is_too_long() -> None:
    """GS TestClient_SetRequestWithDataBlock acknowledgements; blocks fit the meter's 64."""
    value = Data.octet_string(bytes(range(100)))
    exchange = associated(server_max_receive_pdu_size=64).set("0.0.96.1.0.255", 1, 2, value)
    sent = [next(exchange)]
    sent.append(exchange.send(bytes.fromhex("C502C100000001")))
    sent.append(exchange.send(bytes.fromhex("C502C100000002")))
    with pytest.raises(StopIteration):
        exchange.send(bytes.fromhex("C503C10000000003"))
    first, second, third = (decode_apdu(request) for request in sent)
    assert isinstance(first, SetRequestWithFirstDatablock)
    assert isinstance(second, SetRequestWithDatablock)
    assert isinstance(third, SetRequestWithDatablock)
    blocks = [first.block, second.block, third.block]
    assert [(b.block_number, b.last_block) for b in blocks] == [(1, False), (2, False), (3, True)]
    assert b"".join(block.raw_data for block in blocks) == encode(value)
    assert all(len(request) <= 64 for request in sent)


def test_set_with_datablocks_refused_at_the_end() -> None:
    value = Data.octet_string(bytes(100))
    with pytest.raises(DataAccessError) as refused:
        answer_only(
            associated(server_max_receive_pdu_size=64).set("0.0.96.1.0.255", 1, 2, value),
            "C502C100000001",
            "C502C100000002",
            "C503C10300000003",
        )
    assert refused.value.result == DataAccessResult.READ_WRITE_DENIED


# --- ACTION -------------------------------------------------------------------------------


def test_action_remote_disconnect() -> None:
    """GS action_test.go::TestClient_ActionRequest: disconnect control method 1 (integer 0)."""
    returned = converse(
        associated().action("0.0.96.3.10.255", 70, 1, Data.integer(0)),
        ("C301C10046000060030AFF01010F00", "C701C10000"),
    )
    assert returned is None


def test_action_without_parameters_and_refused_return_data() -> None:
    """DC test_action.py::test_transform_bytes_without_data, TestActionResponseWithError."""
    with pytest.raises(DataAccessError) as refused:
        converse(
            associated(invoke_id=0).action("0.0.40.0.0.255", 15, 1),
            ("C301C0000F0000280000FF0100", "C701C0000101FA"),
        )
    assert refused.value.result == DataAccessResult.OTHER_REASON


def test_action_returning_data() -> None:
    """DC TestActionRequestNormal, TestActionResponseNormalWithData (reply_to_HLS)."""
    returned = converse(
        associated(invoke_id=0).action(
            "0.0.40.0.0.255",
            15,
            1,
            Data.octet_string(bytes.fromhex("1000001A90E6D2221FA2FD85EED61ACC22")),
        ),
        (
            "C301C0000F0000280000FF010109111000001A90E6D2221FA2FD85EED61ACC22",
            "C701C000010009111000001AFDE8857B728A3499106AA665D1",
        ),
    )
    assert returned == Data.octet_string(bytes.fromhex("1000001AFDE8857B728A3499106AA665D1"))


def test_action_failure_names_the_result() -> None:
    with pytest.raises(ActionFailedError) as refused:
        answer_only(associated().action("0.0.96.3.10.255", 70, 1, Data.integer(0)), "C701C10300")
    assert refused.value.result == ActionResult.READ_WRITE_DENIED
    assert "read-write-denied (action-result 3)" in str(refused.value)


@pytest.mark.parametrize("form", ["action-response", "bare-data"])
def test_action_return_data_in_pblocks(form: str) -> None:
    """The blocks carry Action-Response-With-Optional-Data (success, data present, Data), as
    our server sends them; a bare encoded Data is accepted too."""
    returned = Data.octet_string(bytes(range(40)))
    raw = encode(returned) if form == "bare-data" else b"\x00\x01\x00" + encode(returned)
    invoke = InvokeIdAndPriority()
    exchange = associated().action("0.0.40.0.0.255", 15, 1, Data.integer(0))
    next(exchange)
    follow_up = exchange.send(
        ActionResponseWithPblock(invoke=invoke, block=DataBlock(False, 1, raw[:20])).encode()
    )
    assert decode_apdu(follow_up) == ActionRequestNextPblock(invoke=invoke, block_number=1)
    with pytest.raises(StopIteration) as done:
        exchange.send(
            ActionResponseWithPblock(invoke=invoke, block=DataBlock(True, 2, raw[20:])).encode()
        )
    assert done.value.value == returned


def test_action_long_parameters_go_in_pblocks() -> None:
    parameters = Data.octet_string(bytes(range(100)))
    invoke = InvokeIdAndPriority()
    exchange = associated(server_max_receive_pdu_size=64).action(
        "0.0.44.0.0.255", 18, 2, parameters
    )
    sent = [next(exchange)]
    sent.append(exchange.send(ActionResponseNextPblock(invoke=invoke, block_number=1).encode()))
    sent.append(exchange.send(ActionResponseNextPblock(invoke=invoke, block_number=2).encode()))
    with pytest.raises(StopIteration) as done:
        exchange.send(ActionResponseNormal(invoke=invoke, result=ActionResult.SUCCESS).encode())
    assert done.value.value is None
    first, second, third = (decode_apdu(request) for request in sent)
    assert isinstance(first, ActionRequestWithFirstPblock)
    assert isinstance(second, ActionRequestWithPblock)
    assert isinstance(third, ActionRequestWithPblock)
    assert third.block.last_block and not second.block.last_block
    raw = first.block.raw_data + second.block.raw_data + third.block.raw_data
    assert raw == encode(parameters)
    assert all(len(request) <= 64 for request in sent)


# --- profiles by range -------------------------------------------------------------------


def test_profile_by_range_of_gosem() -> None:
    """GS get_test.go::TestClient_GetRequestRequestWithSelectiveAccess: clock from 2020-01-01
    10:00 to 11:00 (deviation 0), all columns; two rows answered."""
    rows = converse(
        associated().profile(
            "1.0.99.1.0.255",
            datetime(2020, 1, 1, 10, tzinfo=UTC),
            datetime(2020, 1, 1, 11, tzinfo=UTC),
        ),
        (
            "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000"
            "090C07E40101030A000000000000090C07E40101030B0000000000000100",
            "C401C100010206000000010600000002",
        ),
    )
    assert rows == [(Data.double_long_unsigned(1),), (Data.double_long_unsigned(2),)]


def test_profile_by_range_with_selected_columns_of_gosem() -> None:
    """GS ...ByDateAndValues: the same range, columns clock time and 0.0.96.10.7.255 value."""
    columns = [CLOCK_TIME, CaptureObject(1, Obis(0, 0, 96, 10, 7, 255), 2)]
    rows = converse(
        associated().profile(
            "1.0.99.1.0.255",
            datetime(2020, 1, 1, 10, tzinfo=UTC),
            datetime(2020, 1, 1, 11, tzinfo=UTC),
            columns,
        ),
        (
            "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000"
            "090C07E40101030A000000000000090C07E40101030B000000000000"
            "0102020412000809060000010000FF0F02120000020412000109060000600A07FF0F02120000",
            "C401C1000101020209 0C07E40101030A000000000000 0600000007",
        ),
    )
    stamp = CosemDateTime.from_datetime(datetime(2020, 1, 1, 10, tzinfo=UTC))
    assert rows == [(Data.octet_string(stamp.to_bytes()), Data.double_long_unsigned(7))]


def test_profile_range_descriptor_of_dlms_cosem() -> None:
    """DC test_selective_access.py::test_parse_range_descriptor: 2017-10-01 00:00 to 01:00,
    deviation -60, clock status DST active."""

    def stamp(hour: int) -> CosemDateTime:
        return CosemDateTime(2017, 10, 1, 7, hour, 0, 0, 0, -60, ClockStatus.DAYLIGHT_SAVING_ACTIVE)

    exchange = associated().profile("1.0.99.1.0.255", stamp(0), stamp(1))
    assert next(exchange).hex().upper() == (
        "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000"
        "090C07E10A010700000000FFC480090C07E10A010701000000FFC4800100"
    )


# --- wrapper link -------------------------------------------------------------------------


def test_wrapper_link_frames_and_checks_the_wports() -> None:
    """protocols.md: public client wPort 16 to management logical device 1."""
    request = bytes.fromhex("C001C1000100002B0100FF0200")
    answer = bytes.fromhex("C401C1000600001391")
    link = WrapperLink(0x10, 1)
    assert link.wrap(request) == bytes.fromhex("000100100001000D") + request
    stream = bytes.fromhex("0001000100100009") + answer
    assert link.feed(stream[:5]) == []
    assert link.feed(stream[5:] + stream) == [answer, answer]
    with pytest.raises(DlmsProtocolError, match="wPort 1 to 32"):
        WrapperLink(0x10, 1).feed(bytes.fromhex("0001000100200009") + answer)
    with pytest.raises(DlmsProtocolError, match="version"):
        WrapperLink().feed(bytes.fromhex("0002000100100009") + answer)


def test_notifications_are_recognised_as_unsolicited() -> None:
    """GS dataNotification_test.go and eventNotificationRequest_test.go vectors."""
    notification = bytes.fromhex("0F0063D76A000301")
    assert isinstance(decode_apdu(notification), DataNotification)
    assert is_unsolicited(notification)
    assert is_unsolicited(bytes.fromhex("C20000010100000300FF020301"))
    assert not is_unsolicited(bytes.fromhex("C401C1000600001391"))
    assert not is_unsolicited(b"")


def test_action_pblocks_carrying_a_failure() -> None:
    invoke = InvokeIdAndPriority()
    exchange = associated().action("0.0.40.0.0.255", 15, 1, Data.integer(0))
    next(exchange)
    with pytest.raises(ActionFailedError) as refused:
        exchange.send(
            ActionResponseWithPblock(invoke=invoke, block=DataBlock(True, 1, b"\x02\x00")).encode()
        )
    assert refused.value.result == ActionResult.TEMPORARY_FAILURE
