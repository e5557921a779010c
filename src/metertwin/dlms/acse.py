"""Association APDUs: AARQ, AARE, RLRQ, RLRE (BER, dlms.md 3.1) and the xDLMS InitiateRequest,
InitiateResponse and ConfirmedServiceError they carry in user-information (A-XDR, dlms.md 3.3).

Only the fields DLMS uses are modelled, each as the Python value it means: AP titles and
qualifiers are the OCTET STRINGs DLMS puts there (a system title, a certificate), invocation
identifiers INTEGERs, authentication values the GraphicString CHOICE [0]. User-information is
kept as the raw xDLMS APDU octets (``decode_apdu`` reads them) so that a ciphered
glo-initiate-request passes through and a bad InitiateRequest can still get its AARE refusal.
Known context and mechanism OIDs decode to their enums; any other OID is kept as its octets,
so the server can answer it with the right diagnostic instead of a decode error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from metertwin.codec.axdr import BitString, encode_length
from metertwin.codec.enums import (
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    ApplicationContext,
    AssociationResult,
    AuthenticationMechanism,
    ConfirmedService,
    ConfirmedServiceErrorType,
    Conformance,
    InitiateError,
    ReleaseRequestReason,
    ReleaseResponseReason,
)
from metertwin.codec.errors import ApduError
from metertwin.codec.reader import AxdrReader

__all__ = [
    "Aare",
    "Aarq",
    "ConfirmedServiceError",
    "InitiateRequest",
    "InitiateResponse",
    "Rlre",
    "Rlrq",
]

_AARQ, _AARE, _RLRQ, _RLRE = 0x60, 0x61, 0x62, 0x63
_INITIATE_REQUEST, _INITIATE_RESPONSE, _CONFIRMED_SERVICE_ERROR = 0x01, 0x08, 0x0E

# BER universal tags used inside the context-specific fields.
_INTEGER, _OCTET_STRING, _OBJECT_IDENTIFIER = 0x02, 0x04, 0x06
# The acse-service-user / -provider branches of result-source-diagnostic (dlms.md 3.1).
_DIAGNOSTIC_USER, _DIAGNOSTIC_PROVIDER = 0xA1, 0xA2
# calling/responding-authentication-value: Authentication-value CHOICE charstring [0].
_CHARSTRING = 0x80
# Bit 0 of the ACSE-requirements BIT STRING: the authentication functional unit.
_AUTHENTICATION_FU = BitString(1, 1)

_E = TypeVar("_E", bound=int)
_T = TypeVar("_T")


# --- BER primitives --------------------------------------------------------------------------


def _ber_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(raw) > 4:
        raise ValueError(f"BER length {length} is too large")
    return bytes((0x80 | len(raw),)) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _ber_length(len(content)) + content


def _ber_integer(value: int) -> bytes:
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return value.to_bytes(size, "big", signed=True)


def _ber_bit_string(bits: BitString) -> bytes:
    return bytes((-bits.length % 8,)) + bits.to_bytes()


def _read_tlvs(buf: bytes, pos: int, end: int, where: str) -> list[tuple[int, bytes]]:
    """The TLVs filling ``buf[pos:end]``, each as (single-octet tag, content)."""
    found: list[tuple[int, bytes]] = []
    while pos < end:
        tag = buf[pos]
        if tag & 0x1F == 0x1F:
            raise ApduError(f"{where}: multi-octet BER tag at offset {pos}")
        if pos + 1 >= end:
            raise ApduError(f"{where}: truncated after tag 0x{tag:02X} at offset {pos}")
        first = buf[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        else:
            size = first & 0x7F
            if not 1 <= size <= 4:
                raise ApduError(f"{where}: BER length form 0x{first:02X} at offset {pos - 1}")
            if pos + size > end:
                raise ApduError(f"{where}: truncated BER length at offset {pos}")
            length = int.from_bytes(buf[pos : pos + size], "big")
            pos += size
        if length > end - pos:
            raise ApduError(f"{where}: tag 0x{tag:02X} claims {length} octets, {end - pos} remain")
        found.append((tag, buf[pos : pos + length]))
        pos += length
    return found


def _read_envelope(buf: bytes, tag: int, name: str) -> dict[int, bytes]:
    """The fields of an ACSE APDU filling ``buf``: each tag at most once."""
    found = _read_tlvs(buf, 0, len(buf), name)
    if len(found) != 1 or found[0][0] != tag:
        raise ApduError(f"{name}: not one 0x{tag:02X} TLV filling the buffer")
    content = found[0][1]
    fields: dict[int, bytes] = {}
    for field_tag, value in _read_tlvs(content, 0, len(content), name):
        if field_tag in fields:
            raise ApduError(f"{name}: field 0x{field_tag:02X} appears twice")
        fields[field_tag] = value
    return fields


def _unwrap(content: bytes, inner_tag: int, what: str) -> bytes:
    """The content of the single TLV ``inner_tag`` that fills an explicitly tagged field."""
    found = _read_tlvs(content, 0, len(content), what)
    if len(found) != 1 or found[0][0] != inner_tag:
        raise ApduError(f"{what}: expected exactly one 0x{inner_tag:02X} inside")
    return found[0][1]


def _parse_integer(content: bytes, what: str) -> int:
    if not 1 <= len(content) <= 8:
        raise ApduError(f"{what}: INTEGER of {len(content)} octets")
    return int.from_bytes(content, "big", signed=True)


def _parse_enum(content: bytes, enum: Callable[[int], _E], what: str) -> _E:
    value = _parse_integer(content, what)
    try:
        return enum(value)
    except ValueError:
        raise ApduError(f"{what}: unknown value {value}") from None


def _parse_bit_string(content: bytes, what: str) -> BitString:
    if not content or content[0] > 7 or (len(content) == 1 and content[0]):
        raise ApduError(f"{what}: malformed BIT STRING {content.hex()}")
    return BitString.from_bytes(content[1:], (len(content) - 1) * 8 - content[0])


def _parse_acse_requirements(content: bytes, what: str) -> bool:
    bits = _parse_bit_string(content, what)
    return bits.length > 0 and bits[0]


def _context_name(oid: bytes) -> ApplicationContext | bytes:
    return ApplicationContext.from_oid(oid) or oid


def _mechanism_name(oid: bytes) -> AuthenticationMechanism | bytes:
    known = AuthenticationMechanism.from_oid(oid)
    return oid if known is None else known


def _oid(name: ApplicationContext | AuthenticationMechanism | bytes) -> bytes:
    return name if isinstance(name, bytes) else name.oid


class _Fields:
    """Builds the content of an ACSE APDU in tag order, skipping absent fields."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def add(self, tag: int, content: bytes | None) -> None:
        if content is not None:
            self.parts.append(_tlv(tag, content))

    def wrapped(self, tag: int, inner_tag: int, content: bytes | None) -> None:
        if content is not None:
            self.parts.append(_tlv(tag, _tlv(inner_tag, content)))

    def integer(self, tag: int, value: int | None) -> None:
        if value is not None:
            self.wrapped(tag, _INTEGER, _ber_integer(value))

    def finish(self, tag: int) -> bytes:
        return _tlv(tag, b"".join(self.parts))


def _optional(
    fields: dict[int, bytes], tag: int, parse: Callable[[bytes, str], _T], what: str
) -> _T | None:
    content = fields.pop(tag, None)
    return None if content is None else parse(content, what)


def _octets_in(inner_tag: int) -> Callable[[bytes, str], bytes]:
    def parse(content: bytes, what: str) -> bytes:
        return _unwrap(content, inner_tag, what)

    return parse


def _integer_in(content: bytes, what: str) -> int:
    return _parse_integer(_unwrap(content, _INTEGER, what), what)


def _raw(content: bytes, what: str) -> bytes:
    return content


def _no_leftovers(fields: dict[int, bytes], name: str) -> None:
    if fields:
        unknown = ", ".join(f"0x{tag:02X}" for tag in sorted(fields))
        raise ApduError(f"{name}: unexpected field(s) {unknown}")


def _check_optional_int(name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"{name} {value} is outside {low}..{high}")


def _check_invocation_ids(*ids: int | None) -> None:
    """Invocation identifiers are INTEGERs; this codec carries up to 8 octets of them."""
    for value in ids:
        _check_optional_int("invocation identifier", value, -(2**63), 2**63 - 1)


# --- AARQ / AARE ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Aarq:
    """A-ASSOCIATE request (tag 0x60, dlms.md 3.1).

    ``acse_authentication`` is the authentication functional unit of sender-acse-requirements
    (``8A 02 07 80``); ``calling_authentication_value`` the LLS password or HLS challenge CtoS.
    """

    TAG: ClassVar[int] = _AARQ

    application_context_name: ApplicationContext | bytes = ApplicationContext.LOGICAL_NAME
    protocol_version: BitString | None = None
    called_ap_title: bytes | None = None
    called_ae_qualifier: bytes | None = None
    called_ap_invocation_id: int | None = None
    called_ae_invocation_id: int | None = None
    calling_ap_title: bytes | None = None
    calling_ae_qualifier: bytes | None = None
    calling_ap_invocation_id: int | None = None
    calling_ae_invocation_id: int | None = None
    acse_authentication: bool = False
    mechanism_name: AuthenticationMechanism | bytes | None = None
    calling_authentication_value: bytes | None = None
    implementation_information: bytes | None = None
    user_information: bytes | None = None

    def __post_init__(self) -> None:
        _check_invocation_ids(
            self.called_ap_invocation_id,
            self.called_ae_invocation_id,
            self.calling_ap_invocation_id,
            self.calling_ae_invocation_id,
        )

    def encode(self) -> bytes:
        fields = _Fields()
        if self.protocol_version is not None:
            fields.add(0x80, _ber_bit_string(self.protocol_version))
        fields.wrapped(0xA1, _OBJECT_IDENTIFIER, _oid(self.application_context_name))
        fields.wrapped(0xA2, _OCTET_STRING, self.called_ap_title)
        fields.wrapped(0xA3, _OCTET_STRING, self.called_ae_qualifier)
        fields.integer(0xA4, self.called_ap_invocation_id)
        fields.integer(0xA5, self.called_ae_invocation_id)
        fields.wrapped(0xA6, _OCTET_STRING, self.calling_ap_title)
        fields.wrapped(0xA7, _OCTET_STRING, self.calling_ae_qualifier)
        fields.integer(0xA8, self.calling_ap_invocation_id)
        fields.integer(0xA9, self.calling_ae_invocation_id)
        if self.acse_authentication:
            fields.add(0x8A, _ber_bit_string(_AUTHENTICATION_FU))
        if self.mechanism_name is not None:
            fields.add(0x8B, _oid(self.mechanism_name))
        fields.wrapped(0xAC, _CHARSTRING, self.calling_authentication_value)
        fields.add(0xBD, self.implementation_information)
        fields.wrapped(0xBE, _OCTET_STRING, self.user_information)
        return fields.finish(_AARQ)

    @classmethod
    def decode(cls, buf: bytes) -> Aarq:
        fields = _read_envelope(buf, _AARQ, "AARQ")
        context = fields.pop(0xA1, None)
        if context is None:
            raise ApduError("AARQ without application-context-name")
        mechanism = fields.pop(0x8B, None)
        aarq = cls(
            application_context_name=_context_name(
                _unwrap(context, _OBJECT_IDENTIFIER, "application-context-name")
            ),
            protocol_version=_optional(fields, 0x80, _parse_bit_string, "protocol-version"),
            called_ap_title=_optional(fields, 0xA2, _octets_in(_OCTET_STRING), "called-AP-title"),
            called_ae_qualifier=_optional(
                fields, 0xA3, _octets_in(_OCTET_STRING), "called-AE-qualifier"
            ),
            called_ap_invocation_id=_optional(fields, 0xA4, _integer_in, "called-AP-invocation"),
            called_ae_invocation_id=_optional(fields, 0xA5, _integer_in, "called-AE-invocation"),
            calling_ap_title=_optional(fields, 0xA6, _octets_in(_OCTET_STRING), "calling-AP-title"),
            calling_ae_qualifier=_optional(
                fields, 0xA7, _octets_in(_OCTET_STRING), "calling-AE-qualifier"
            ),
            calling_ap_invocation_id=_optional(fields, 0xA8, _integer_in, "calling-AP-invocation"),
            calling_ae_invocation_id=_optional(fields, 0xA9, _integer_in, "calling-AE-invocation"),
            acse_authentication=bool(
                _optional(fields, 0x8A, _parse_acse_requirements, "sender-acse-requirements")
            ),
            mechanism_name=None if mechanism is None else _mechanism_name(mechanism),
            calling_authentication_value=_optional(
                fields, 0xAC, _octets_in(_CHARSTRING), "calling-authentication-value"
            ),
            implementation_information=_optional(fields, 0xBD, _raw, "implementation-info"),
            user_information=_optional(fields, 0xBE, _octets_in(_OCTET_STRING), "user-info"),
        )
        _no_leftovers(fields, "AARQ")
        return aarq


Diagnostic = AcseServiceUserDiagnostic | AcseServiceProviderDiagnostic


@dataclass(frozen=True, slots=True, kw_only=True)
class Aare:
    """A-ASSOCIATE response (tag 0x61, dlms.md 3.1, 3.4).

    The diagnostic's class selects its branch: :class:`AcseServiceUserDiagnostic` is sent as
    ``A1``, :class:`AcseServiceProviderDiagnostic` as ``A2``.
    """

    TAG: ClassVar[int] = _AARE

    result: AssociationResult
    diagnostic: Diagnostic
    application_context_name: ApplicationContext | bytes = ApplicationContext.LOGICAL_NAME
    protocol_version: BitString | None = None
    responding_ap_title: bytes | None = None
    responding_ae_qualifier: bytes | None = None
    responding_ap_invocation_id: int | None = None
    responding_ae_invocation_id: int | None = None
    acse_authentication: bool = False
    mechanism_name: AuthenticationMechanism | bytes | None = None
    responding_authentication_value: bytes | None = None
    implementation_information: bytes | None = None
    user_information: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(
            self.diagnostic, AcseServiceUserDiagnostic | AcseServiceProviderDiagnostic
        ):
            raise TypeError("an AARE diagnostic is an acse-service-user or -provider enum")
        _check_invocation_ids(self.responding_ap_invocation_id, self.responding_ae_invocation_id)

    def encode(self) -> bytes:
        fields = _Fields()
        if self.protocol_version is not None:
            fields.add(0x80, _ber_bit_string(self.protocol_version))
        fields.wrapped(0xA1, _OBJECT_IDENTIFIER, _oid(self.application_context_name))
        fields.integer(0xA2, self.result)
        branch = (
            _DIAGNOSTIC_PROVIDER
            if isinstance(self.diagnostic, AcseServiceProviderDiagnostic)
            else _DIAGNOSTIC_USER
        )
        fields.add(0xA3, _tlv(branch, _tlv(_INTEGER, _ber_integer(self.diagnostic))))
        fields.wrapped(0xA4, _OCTET_STRING, self.responding_ap_title)
        fields.wrapped(0xA5, _OCTET_STRING, self.responding_ae_qualifier)
        fields.integer(0xA6, self.responding_ap_invocation_id)
        fields.integer(0xA7, self.responding_ae_invocation_id)
        if self.acse_authentication:
            fields.add(0x88, _ber_bit_string(_AUTHENTICATION_FU))
        if self.mechanism_name is not None:
            fields.add(0x89, _oid(self.mechanism_name))
        fields.wrapped(0xAA, _CHARSTRING, self.responding_authentication_value)
        fields.add(0xBD, self.implementation_information)
        fields.wrapped(0xBE, _OCTET_STRING, self.user_information)
        return fields.finish(_AARE)

    @classmethod
    def decode(cls, buf: bytes) -> Aare:
        fields = _read_envelope(buf, _AARE, "AARE")
        context, result, source = (
            fields.pop(0xA1, None),
            fields.pop(0xA2, None),
            fields.pop(0xA3, None),
        )
        if context is None or result is None or source is None:
            raise ApduError("AARE without application-context-name, result or diagnostic")
        mechanism = fields.pop(0x89, None)
        aare = cls(
            application_context_name=_context_name(
                _unwrap(context, _OBJECT_IDENTIFIER, "application-context-name")
            ),
            result=_parse_enum(_unwrap(result, _INTEGER, "result"), AssociationResult, "result"),
            diagnostic=_parse_diagnostic(source),
            protocol_version=_optional(fields, 0x80, _parse_bit_string, "protocol-version"),
            responding_ap_title=_optional(
                fields, 0xA4, _octets_in(_OCTET_STRING), "responding-AP-title"
            ),
            responding_ae_qualifier=_optional(
                fields, 0xA5, _octets_in(_OCTET_STRING), "responding-AE-qualifier"
            ),
            responding_ap_invocation_id=_optional(
                fields, 0xA6, _integer_in, "responding-AP-invocation"
            ),
            responding_ae_invocation_id=_optional(
                fields, 0xA7, _integer_in, "responding-AE-invocation"
            ),
            acse_authentication=bool(
                _optional(fields, 0x88, _parse_acse_requirements, "responder-acse-requirements")
            ),
            mechanism_name=None if mechanism is None else _mechanism_name(mechanism),
            responding_authentication_value=_optional(
                fields, 0xAA, _octets_in(_CHARSTRING), "responding-authentication-value"
            ),
            implementation_information=_optional(fields, 0xBD, _raw, "implementation-info"),
            user_information=_optional(fields, 0xBE, _octets_in(_OCTET_STRING), "user-info"),
        )
        _no_leftovers(fields, "AARE")
        return aare


def _parse_diagnostic(content: bytes) -> Diagnostic:
    found = _read_tlvs(content, 0, len(content), "result-source-diagnostic")
    if len(found) != 1 or found[0][0] not in (_DIAGNOSTIC_USER, _DIAGNOSTIC_PROVIDER):
        raise ApduError("result-source-diagnostic: expected one A1 or A2 branch")
    branch, inner = found[0]
    value = _unwrap(inner, _INTEGER, "result-source-diagnostic")
    if branch == _DIAGNOSTIC_USER:
        return _parse_enum(value, AcseServiceUserDiagnostic, "acse-service-user diagnostic")
    return _parse_enum(value, AcseServiceProviderDiagnostic, "acse-service-provider diagnostic")


# --- RLRQ / RLRE ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Rlrq:
    """A-RELEASE request (tag 0x62; ``6203800100`` = reason normal, dlms.md 5)."""

    TAG: ClassVar[int] = _RLRQ

    reason: ReleaseRequestReason | None = None
    user_information: bytes | None = None

    def encode(self) -> bytes:
        fields = _Fields()
        fields.add(0x80, None if self.reason is None else _ber_integer(self.reason))
        fields.wrapped(0xBE, _OCTET_STRING, self.user_information)
        return fields.finish(_RLRQ)

    @classmethod
    def decode(cls, buf: bytes) -> Rlrq:
        fields = _read_envelope(buf, _RLRQ, "RLRQ")
        reason = fields.pop(0x80, None)
        rlrq = cls(
            reason=None if reason is None else _parse_enum(reason, ReleaseRequestReason, "reason"),
            user_information=_optional(fields, 0xBE, _octets_in(_OCTET_STRING), "user-info"),
        )
        _no_leftovers(fields, "RLRQ")
        return rlrq


@dataclass(frozen=True, slots=True, kw_only=True)
class Rlre:
    """A-RELEASE response (tag 0x63, dlms.md 5)."""

    TAG: ClassVar[int] = _RLRE

    reason: ReleaseResponseReason | None = None
    user_information: bytes | None = None

    def encode(self) -> bytes:
        fields = _Fields()
        fields.add(0x80, None if self.reason is None else _ber_integer(self.reason))
        fields.wrapped(0xBE, _OCTET_STRING, self.user_information)
        return fields.finish(_RLRE)

    @classmethod
    def decode(cls, buf: bytes) -> Rlre:
        fields = _read_envelope(buf, _RLRE, "RLRE")
        reason = fields.pop(0x80, None)
        rlre = cls(
            reason=None if reason is None else _parse_enum(reason, ReleaseResponseReason, "reason"),
            user_information=_optional(fields, 0xBE, _octets_in(_OCTET_STRING), "user-info"),
        )
        _no_leftovers(fields, "RLRE")
        return rlre


# --- xDLMS initiate (A-XDR) ---------------------------------------------------------------

# Conformance is a BER [APPLICATION 31] IMPLICIT BIT STRING of 24 bits: 5F 1F 04 00 + 3 octets.
_CONFORMANCE_HEADER = bytes.fromhex("5F1F0400")


def _conformance_bytes(conformance: Conformance) -> bytes:
    return _CONFORMANCE_HEADER + int(conformance).to_bytes(3, "big")


def _read_conformance(reader: AxdrReader) -> Conformance:
    header = reader.take(4, "conformance header")
    if header != _CONFORMANCE_HEADER:
        raise ApduError(f"conformance block header {header.hex()} (expected 5f1f0400)")
    return Conformance(int.from_bytes(reader.take(3, "conformance"), "big"))


def _check_initiate(dlms_version: int, conformance: int, pdu_size: int, qos: int | None) -> None:
    _check_optional_int("DLMS version", dlms_version, 0, 0xFF)
    _check_optional_int("conformance", conformance, 0, 0xFFFFFF)
    _check_optional_int("max PDU size", pdu_size, 0, 0xFFFF)
    _check_optional_int("quality of service", qos, -128, 127)


def _qos_bytes(qos: int | None) -> bytes:
    return b"\x00" if qos is None else b"\x01" + qos.to_bytes(1, "big", signed=True)


def _read_qos(reader: AxdrReader) -> int | None:
    return reader.i8("quality of service") if reader.flag("quality-of-service flag") else None


@dataclass(frozen=True, slots=True, kw_only=True)
class InitiateRequest:
    """xDLMS InitiateRequest (tag 0x01, dlms.md 3.3), carried in AARQ user-information.

    ``response_allowed`` is a DEFAULT TRUE component: True is sent as the default marker 00.
    """

    TAG: ClassVar[int] = _INITIATE_REQUEST

    proposed_conformance: Conformance
    client_max_receive_pdu_size: int
    proposed_dlms_version: int = 6
    dedicated_key: bytes | None = None
    response_allowed: bool = True
    proposed_quality_of_service: int | None = None

    def __post_init__(self) -> None:
        _check_initiate(
            self.proposed_dlms_version,
            self.proposed_conformance,
            self.client_max_receive_pdu_size,
            self.proposed_quality_of_service,
        )
        if self.dedicated_key is not None and len(self.dedicated_key) > 0xFFFF:
            raise ValueError("dedicated key too long")

    def encode(self) -> bytes:
        key = b"\x00"
        if self.dedicated_key is not None:
            key = b"\x01" + _axdr_octets(self.dedicated_key)
        return b"".join(
            (
                bytes((_INITIATE_REQUEST,)),
                key,
                b"\x00" if self.response_allowed else b"\x01\x00",
                _qos_bytes(self.proposed_quality_of_service),
                bytes((self.proposed_dlms_version,)),
                _conformance_bytes(self.proposed_conformance),
                self.client_max_receive_pdu_size.to_bytes(2, "big"),
            )
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> InitiateRequest:
        key = reader.octet_string("dedicated-key") if reader.flag("dedicated-key flag") else None
        response_allowed = reader.boolean("response-allowed") if reader.flag("default") else True
        return cls(
            dedicated_key=key,
            response_allowed=response_allowed,
            proposed_quality_of_service=_read_qos(reader),
            proposed_dlms_version=reader.u8("proposed-dlms-version-number"),
            proposed_conformance=_read_conformance(reader),
            client_max_receive_pdu_size=reader.u16("client-max-receive-pdu-size"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InitiateResponse:
    """xDLMS InitiateResponse (tag 0x08, dlms.md 3.3); ``vaa_name`` 0x0007 = LN referencing."""

    TAG: ClassVar[int] = _INITIATE_RESPONSE

    negotiated_conformance: Conformance
    server_max_receive_pdu_size: int
    negotiated_dlms_version: int = 6
    negotiated_quality_of_service: int | None = None
    vaa_name: int = 0x0007

    def __post_init__(self) -> None:
        _check_initiate(
            self.negotiated_dlms_version,
            self.negotiated_conformance,
            self.server_max_receive_pdu_size,
            self.negotiated_quality_of_service,
        )
        _check_optional_int("VAA name", self.vaa_name, 0, 0xFFFF)

    def encode(self) -> bytes:
        return b"".join(
            (
                bytes((_INITIATE_RESPONSE,)),
                _qos_bytes(self.negotiated_quality_of_service),
                bytes((self.negotiated_dlms_version,)),
                _conformance_bytes(self.negotiated_conformance),
                self.server_max_receive_pdu_size.to_bytes(2, "big"),
                self.vaa_name.to_bytes(2, "big"),
            )
        )

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> InitiateResponse:
        return cls(
            negotiated_quality_of_service=_read_qos(reader),
            negotiated_dlms_version=reader.u8("negotiated-dlms-version-number"),
            negotiated_conformance=_read_conformance(reader),
            server_max_receive_pdu_size=reader.u16("server-max-receive-pdu-size"),
            vaa_name=reader.u16("vaa-name"),
        )


@dataclass(frozen=True, slots=True)
class ConfirmedServiceError:
    """ConfirmedServiceError (tag 0x0E, dlms.md 3.3, 4): ``0E <service> <error type> <value>``.

    The value's meaning depends on ``error_type`` (for INITIATE it is an :class:`InitiateError`).
    """

    TAG: ClassVar[int] = _CONFIRMED_SERVICE_ERROR

    service: ConfirmedService
    error_type: ConfirmedServiceErrorType
    value: int

    def __post_init__(self) -> None:
        _check_optional_int("service error value", self.value, 0, 0xFF)

    @classmethod
    def initiate(cls, error: InitiateError) -> ConfirmedServiceError:
        """The refusal of an InitiateRequest sent in AARE user-information (dlms.md 3.3)."""
        return cls(ConfirmedService.INITIATE, ConfirmedServiceErrorType.INITIATE, error)

    def encode(self) -> bytes:
        return bytes((_CONFIRMED_SERVICE_ERROR, self.service, self.error_type, self.value))

    @classmethod
    def decode_body(cls, reader: AxdrReader) -> ConfirmedServiceError:
        service = reader.enum(ConfirmedService, "confirmed service")
        error_type = reader.enum(ConfirmedServiceErrorType, "service error type")
        value: int = reader.u8("service error value")
        if error_type == ConfirmedServiceErrorType.INITIATE:
            value = reader.enum_value(InitiateError, value, "initiate error")
        return cls(service, error_type, value)


def _axdr_octets(raw: bytes) -> bytes:
    return encode_length(len(raw)) + raw
