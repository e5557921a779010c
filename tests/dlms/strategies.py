"""Hypothesis strategies for DLMS values and every APDU class (shared by the dlms tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from metertwin.codec.axdr import BitString, Data, DataType, TypeDescription
from metertwin.codec.cosem_datetime import (
    ClockStatus,
    CosemDate,
    CosemDateTime,
    CosemTime,
    SpecialDay,
    SpecialMonth,
)
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
from metertwin.codec.obis import Obis
from metertwin.dlms import apdu as a


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _field(low: int, high: int, *special: int) -> st.SearchStrategy[int | None]:
    values: st.SearchStrategy[int] = st.integers(low, high)
    if special:
        values = values | st.sampled_from(special)
    return _maybe(values)


clock_statuses = _maybe(st.integers(0, 0xFE).map(ClockStatus))

cosem_dates = st.builds(
    CosemDate,
    year=_field(0, 0xFFFE),
    month=_field(1, 12, SpecialMonth.DST_END, SpecialMonth.DST_BEGIN),
    day=_field(1, 31, SpecialDay.SECOND_LAST, SpecialDay.LAST),
    weekday=_field(1, 7),
)
cosem_times = st.builds(
    CosemTime,
    hour=_field(0, 23),
    minute=_field(0, 59),
    second=_field(0, 59),
    hundredths=_field(0, 99),
)
cosem_date_times = st.builds(
    lambda date, time, deviation, status: CosemDateTime(
        year=date.year,
        month=date.month,
        day=date.day,
        weekday=date.weekday,
        hour=time.hour,
        minute=time.minute,
        second=time.second,
        hundredths=time.hundredths,
        deviation=deviation,
        clock_status=status,
    ),
    cosem_dates,
    cosem_times,
    _field(-720, 720),
    clock_statuses,
)

bit_strings = st.integers(0, 80).flatmap(
    lambda length: st.builds(BitString, st.integers(0, (1 << length) - 1), st.just(length))
)


def _int_data(data_type: DataType, low: int, high: int) -> st.SearchStrategy[Data]:
    return st.integers(low, high).map(lambda value: Data(data_type, value))


INTEGER_RANGES = {  # the A-XDR integer types and their ranges (reference/dlms.md 1.1)
    DataType.DOUBLE_LONG: (-(2**31), 2**31 - 1),
    DataType.DOUBLE_LONG_UNSIGNED: (0, 2**32 - 1),
    DataType.INTEGER: (-128, 127),
    DataType.LONG: (-(2**15), 2**15 - 1),
    DataType.UNSIGNED: (0, 255),
    DataType.LONG_UNSIGNED: (0, 0xFFFF),
    DataType.LONG64: (-(2**63), 2**63 - 1),
    DataType.LONG64_UNSIGNED: (0, 2**64 - 1),
    DataType.ENUM: (0, 255),
    DataType.BCD: (0, 255),
}

# Simple types a compact array can describe, with a value strategy each.
_COMPACT_SIMPLE: dict[DataType, st.SearchStrategy[Data]] = {
    DataType.BOOLEAN: st.booleans().map(Data.boolean),
    DataType.BIT_STRING: bit_strings.map(Data.bit_string),
    DataType.OCTET_STRING: st.binary(max_size=20).map(Data.octet_string),
    DataType.VISIBLE_STRING: st.text(st.characters(max_codepoint=255), max_size=10).map(
        Data.visible_string
    ),
    DataType.UTF8_STRING: st.text(st.characters(codec="utf-8"), max_size=10).map(Data.utf8_string),
    DataType.FLOAT32: st.floats(width=32, allow_nan=False).map(Data.float32),
    DataType.FLOAT64: st.floats(allow_nan=False).map(Data.float64),
    DataType.DATE_TIME: cosem_date_times.map(Data.date_time),
    DataType.DATE: cosem_dates.map(Data.date),
    DataType.TIME: cosem_times.map(Data.time),
    **{t: _int_data(t, low, high) for t, (low, high) in INTEGER_RANGES.items()},
}

type_descriptions: st.SearchStrategy[TypeDescription] = st.recursive(
    st.sampled_from(sorted(_COMPACT_SIMPLE)).map(TypeDescription.simple),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3).map(lambda m: TypeDescription.structure(*m))
        | st.builds(TypeDescription.array, st.integers(1, 3), inner)
    ),
    max_leaves=6,
)


def data_matching(description: TypeDescription) -> st.SearchStrategy[Data]:
    """A value of exactly the shape ``description`` gives."""
    if description.type == DataType.STRUCTURE:
        return st.tuples(*(data_matching(m) for m in description.members)).map(Data.structure)
    if description.type == DataType.ARRAY:
        element = data_matching(description.members[0])
        return st.lists(element, min_size=description.count, max_size=description.count).map(
            Data.array
        )
    return _COMPACT_SIMPLE[description.type]


compact_arrays = type_descriptions.flatmap(
    lambda description: st.lists(data_matching(description), max_size=4).map(
        lambda elements: Data.compact_array(description, elements)
    )
)

data_leaves = st.one_of(
    st.just(Data.null()),
    st.just(Data.dont_care()),
    *_COMPACT_SIMPLE.values(),
    st.binary(min_size=120, max_size=300).map(Data.octet_string),  # 0x81 / 0x82 lengths
    compact_arrays,
)

data_trees: st.SearchStrategy[Data] = st.recursive(
    data_leaves,
    lambda children: (
        st.lists(children, max_size=5).map(Data.array)
        | st.lists(children, max_size=5).map(Data.structure)
    ),
    max_leaves=15,
)

# --- APDUs -------------------------------------------------------------------------------

obis_codes = st.builds(Obis, *(st.integers(0, 255) for _ in range(6)))
invokes = st.builds(a.InvokeIdAndPriority, st.integers(0, 15), st.booleans(), st.booleans())
long_invokes = st.builds(
    a.LongInvokeIdAndPriority,
    st.integers(0, 0xFFFFFF),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
attributes = st.builds(
    a.AttributeDescriptor, st.integers(0, 0xFFFF), obis_codes, st.integers(-128, 127)
)
methods = st.builds(a.MethodDescriptor, st.integers(0, 0xFFFF), obis_codes, st.integers(-128, 127))
accesses = _maybe(st.builds(a.SelectiveAccess, st.integers(0, 255), data_trees))
selections = st.builds(a.AttributeWithSelection, attributes, accesses)
block_numbers = st.integers(0, 0xFFFFFFFF)
blocks = st.builds(a.DataBlock, st.booleans(), block_numbers, st.binary(max_size=300))
data_access_results = st.sampled_from(DataAccessResult)
get_data_results = data_trees | data_access_results
outcomes = st.builds(a.ActionOutcome, st.sampled_from(ActionResult), _maybe(get_data_results))


def _tuples(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(strategy, max_size=4).map(tuple)


def _unknown_oid(known: Any) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=1, max_size=12).filter(lambda oid: known.from_oid(oid) is None)


contexts = st.sampled_from(ApplicationContext) | _unknown_oid(ApplicationContext)
mechanisms = _maybe(
    st.sampled_from(AuthenticationMechanism) | _unknown_oid(AuthenticationMechanism)
)
octets = _maybe(st.binary(max_size=200))
invocation_ids = _maybe(st.integers(-(2**63), 2**63 - 1))
conformances = st.integers(0, 0xFFFFFF).map(Conformance)

APDU_STRATEGIES: dict[type, st.SearchStrategy[Any]] = {
    a.Aarq: st.builds(
        a.Aarq,
        application_context_name=contexts,
        protocol_version=_maybe(bit_strings),
        called_ap_title=octets,
        called_ae_qualifier=octets,
        called_ap_invocation_id=invocation_ids,
        called_ae_invocation_id=invocation_ids,
        calling_ap_title=octets,
        calling_ae_qualifier=octets,
        calling_ap_invocation_id=invocation_ids,
        calling_ae_invocation_id=invocation_ids,
        acse_authentication=st.booleans(),
        mechanism_name=mechanisms,
        calling_authentication_value=octets,
        implementation_information=octets,
        user_information=octets,
    ),
    a.Aare: st.builds(
        a.Aare,
        result=st.sampled_from(AssociationResult),
        diagnostic=st.sampled_from(AcseServiceUserDiagnostic)
        | st.sampled_from(AcseServiceProviderDiagnostic),
        application_context_name=contexts,
        protocol_version=_maybe(bit_strings),
        responding_ap_title=octets,
        responding_ae_qualifier=octets,
        responding_ap_invocation_id=invocation_ids,
        responding_ae_invocation_id=invocation_ids,
        acse_authentication=st.booleans(),
        mechanism_name=mechanisms,
        responding_authentication_value=octets,
        implementation_information=octets,
        user_information=octets,
    ),
    a.Rlrq: st.builds(
        a.Rlrq, reason=_maybe(st.sampled_from(ReleaseRequestReason)), user_information=octets
    ),
    a.Rlre: st.builds(
        a.Rlre, reason=_maybe(st.sampled_from(ReleaseResponseReason)), user_information=octets
    ),
    a.InitiateRequest: st.builds(
        a.InitiateRequest,
        proposed_conformance=conformances,
        client_max_receive_pdu_size=st.integers(0, 0xFFFF),
        proposed_dlms_version=st.integers(0, 255),
        dedicated_key=octets,
        response_allowed=st.booleans(),
        proposed_quality_of_service=_maybe(st.integers(-128, 127)),
    ),
    a.InitiateResponse: st.builds(
        a.InitiateResponse,
        negotiated_conformance=conformances,
        server_max_receive_pdu_size=st.integers(0, 0xFFFF),
        negotiated_dlms_version=st.integers(0, 255),
        negotiated_quality_of_service=_maybe(st.integers(-128, 127)),
        vaa_name=st.integers(0, 0xFFFF),
    ),
    a.ConfirmedServiceError: st.builds(
        a.ConfirmedServiceError,
        st.sampled_from(ConfirmedService),
        st.sampled_from(
            [t for t in ConfirmedServiceErrorType if t != ConfirmedServiceErrorType.INITIATE]
        ),
        st.integers(0, 255),
    )
    | st.builds(a.ConfirmedServiceError.initiate, st.sampled_from(InitiateError)),
    a.GetRequestNormal: st.builds(
        a.GetRequestNormal, invoke=invokes, attribute=attributes, access=accesses
    ),
    a.GetRequestNext: st.builds(a.GetRequestNext, invoke=invokes, block_number=block_numbers),
    a.GetRequestWithList: st.builds(
        a.GetRequestWithList, invoke=invokes, attributes=_tuples(selections)
    ),
    a.GetResponseNormal: st.builds(a.GetResponseNormal, invoke=invokes, result=get_data_results),
    a.GetResponseWithDatablock: st.builds(
        a.GetResponseWithDatablock,
        invoke=invokes,
        last_block=st.booleans(),
        block_number=block_numbers,
        result=st.binary(max_size=300) | data_access_results,
    ),
    a.GetResponseWithList: st.builds(
        a.GetResponseWithList, invoke=invokes, results=_tuples(get_data_results)
    ),
    a.SetRequestNormal: st.builds(
        a.SetRequestNormal, invoke=invokes, attribute=attributes, access=accesses, value=data_trees
    ),
    a.SetRequestWithFirstDatablock: st.builds(
        a.SetRequestWithFirstDatablock,
        invoke=invokes,
        attribute=attributes,
        access=accesses,
        block=blocks,
    ),
    a.SetRequestWithDatablock: st.builds(a.SetRequestWithDatablock, invoke=invokes, block=blocks),
    a.SetRequestWithList: st.builds(
        a.SetRequestWithList,
        invoke=invokes,
        attributes=_tuples(selections),
        values=_tuples(data_trees),
    ),
    a.SetRequestWithListAndFirstDatablock: st.builds(
        a.SetRequestWithListAndFirstDatablock,
        invoke=invokes,
        attributes=_tuples(selections),
        block=blocks,
    ),
    a.SetResponseNormal: st.builds(a.SetResponseNormal, invoke=invokes, result=data_access_results),
    a.SetResponseDatablock: st.builds(
        a.SetResponseDatablock, invoke=invokes, block_number=block_numbers
    ),
    a.SetResponseLastDatablock: st.builds(
        a.SetResponseLastDatablock,
        invoke=invokes,
        result=data_access_results,
        block_number=block_numbers,
    ),
    a.SetResponseLastDatablockWithList: st.builds(
        a.SetResponseLastDatablockWithList,
        invoke=invokes,
        results=_tuples(data_access_results),
        block_number=block_numbers,
    ),
    a.SetResponseWithList: st.builds(
        a.SetResponseWithList, invoke=invokes, results=_tuples(data_access_results)
    ),
    a.ActionRequestNormal: st.builds(
        a.ActionRequestNormal, invoke=invokes, method=methods, parameters=_maybe(data_trees)
    ),
    a.ActionRequestNextPblock: st.builds(
        a.ActionRequestNextPblock, invoke=invokes, block_number=block_numbers
    ),
    a.ActionRequestWithList: st.builds(
        a.ActionRequestWithList,
        invoke=invokes,
        methods=_tuples(methods),
        parameters=_tuples(data_trees),
    ),
    a.ActionRequestWithFirstPblock: st.builds(
        a.ActionRequestWithFirstPblock, invoke=invokes, method=methods, block=blocks
    ),
    a.ActionRequestWithListAndFirstPblock: st.builds(
        a.ActionRequestWithListAndFirstPblock,
        invoke=invokes,
        methods=_tuples(methods),
        block=blocks,
    ),
    a.ActionRequestWithPblock: st.builds(a.ActionRequestWithPblock, invoke=invokes, block=blocks),
    a.ActionResponseNormal: st.builds(
        a.ActionResponseNormal,
        invoke=invokes,
        result=st.sampled_from(ActionResult),
        return_parameters=_maybe(get_data_results),
    ),
    a.ActionResponseWithPblock: st.builds(a.ActionResponseWithPblock, invoke=invokes, block=blocks),
    a.ActionResponseWithList: st.builds(
        a.ActionResponseWithList, invoke=invokes, results=_tuples(outcomes)
    ),
    a.ActionResponseNextPblock: st.builds(
        a.ActionResponseNextPblock, invoke=invokes, block_number=block_numbers
    ),
    a.ExceptionResponse: st.builds(
        a.ExceptionResponse,
        st.sampled_from(StateError),
        st.sampled_from([e for e in ServiceError if e != ServiceError.INVOCATION_COUNTER_ERROR]),
    )
    | st.builds(
        a.ExceptionResponse,
        st.sampled_from(StateError),
        st.just(ServiceError.INVOCATION_COUNTER_ERROR),
        block_numbers,
    ),
    a.EventNotificationRequest: st.builds(
        a.EventNotificationRequest,
        time=_maybe(cosem_date_times),
        attribute=attributes,
        value=data_trees,
    ),
    a.DataNotification: st.builds(
        a.DataNotification, long_invoke=long_invokes, time=_maybe(cosem_date_times), body=data_trees
    ),
}

apdus = st.one_of(*APDU_STRATEGIES.values())
