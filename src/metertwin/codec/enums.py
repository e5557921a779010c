"""Result codes, diagnostics and names used on the wire by xDLMS and ACSE.

Values from dlms.md 3.2-3.4 and 4 (Blue Book names, agreed by dlms-cosem and Gurux). Each enum
is exactly the set of values the reference names; decoding any other value is an error.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "AcseServiceProviderDiagnostic",
    "AcseServiceUserDiagnostic",
    "ActionResult",
    "ApplicationContext",
    "AssociationResult",
    "AuthenticationMechanism",
    "ConfirmedService",
    "ConfirmedServiceErrorType",
    "Conformance",
    "DataAccessResult",
    "InitiateError",
    "ReleaseRequestReason",
    "ReleaseResponseReason",
    "SecurityPolicy",
    "ServiceError",
    "StateError",
]

# 2.16.756.5.8 (joint-iso-ccitt country(16) ch(756) identified-organization(5) DLMS-UA(8)),
# BER-encoded; application contexts add 1.x, mechanisms 2.x (dlms.md 3.2).
_DLMS_UA_OID = bytes.fromhex("6085740508")


class DataAccessResult(IntEnum):
    """Data-Access-Result of GET and SET (dlms.md 4)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    LONG_SET_ABORTED = 17
    NO_LONG_SET_IN_PROGRESS = 18
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class ActionResult(IntEnum):
    """Action-Result of ACTION (dlms.md 4)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_ACTION_ABORTED = 15
    NO_LONG_ACTION_IN_PROGRESS = 16
    OTHER_REASON = 250


class StateError(IntEnum):
    """exception-response state-error (dlms.md 4)."""

    SERVICE_NOT_ALLOWED = 1
    SERVICE_UNKNOWN = 2


class ServiceError(IntEnum):
    """exception-response service-error (dlms.md 4); 6 carries the expected counter."""

    OPERATION_NOT_POSSIBLE = 1
    SERVICE_NOT_SUPPORTED = 2
    OTHER_REASON = 3
    PDU_TOO_LONG = 4
    DECIPHERING_ERROR = 5
    INVOCATION_COUNTER_ERROR = 6


class ConfirmedService(IntEnum):
    """The service a ConfirmedServiceError reports on (dlms.md 4: 1 initiate, 5 read, 6 write)."""

    INITIATE = 1
    READ = 5
    WRITE = 6


class ConfirmedServiceErrorType(IntEnum):
    """The ServiceError CHOICE of a ConfirmedServiceError (dlms.md 4)."""

    APPLICATION_REFERENCE = 0
    HARDWARE_RESOURCE = 1
    VDE_STATE_ERROR = 2
    SERVICE = 3
    DEFINITION = 4
    ACCESS = 5
    INITIATE = 6
    LOAD_DATA_SET = 7
    CHANGE_SCOPE = 8
    TASK = 9
    OTHER = 10


class InitiateError(IntEnum):
    """ServiceError ``initiate`` values, sent when an InitiateRequest is refused (dlms.md 3.3)."""

    OTHER = 0
    DLMS_VERSION_TOO_LOW = 1
    INCOMPATIBLE_CONFORMANCE = 2
    PDU_SIZE_TOO_SHORT = 3
    REFUSED_BY_THE_VDE_HANDLER = 4


class AssociationResult(IntEnum):
    """AARE result (dlms.md 3.4)."""

    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class AcseServiceUserDiagnostic(IntEnum):
    """AARE result-source-diagnostic, acse-service-user branch (dlms.md 3.4)."""

    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AP_TITLE_NOT_RECOGNIZED = 3
    CALLING_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 4
    CALLING_AE_QUALIFIER_NOT_RECOGNIZED = 5
    CALLING_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 6
    CALLED_AP_TITLE_NOT_RECOGNIZED = 7
    CALLED_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 8
    CALLED_AE_QUALIFIER_NOT_RECOGNIZED = 9
    CALLED_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 10
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED = 11
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


class AcseServiceProviderDiagnostic(IntEnum):
    """AARE result-source-diagnostic, acse-service-provider branch (dlms.md 3.4)."""

    NULL = 0
    NO_REASON_GIVEN = 1
    NO_COMMON_ACSE_VERSION = 2


class ReleaseRequestReason(IntEnum):
    """RLRQ reason (dlms.md 3.4)."""

    NORMAL = 0
    URGENT = 1
    USER_DEFINED = 30


class ReleaseResponseReason(IntEnum):
    """RLRE reason (dlms.md 3.4)."""

    NORMAL = 0
    NOT_FINISHED = 1
    USER_DEFINED = 30


class ApplicationContext(IntEnum):
    """Application context names 2.16.756.5.8.1.x (dlms.md 3.2)."""

    LOGICAL_NAME = 1
    SHORT_NAME = 2
    LOGICAL_NAME_WITH_CIPHERING = 3
    SHORT_NAME_WITH_CIPHERING = 4

    @property
    def oid(self) -> bytes:
        """The BER content octets of the OBJECT IDENTIFIER (after ``06 07``)."""
        return _DLMS_UA_OID + bytes((1, self.value))

    @classmethod
    def from_oid(cls, oid: bytes) -> ApplicationContext | None:
        """The named context, or None for an OID this enum does not know."""
        if len(oid) == 7 and oid[:6] == _DLMS_UA_OID + b"\x01" and oid[6] in _CONTEXT_VALUES:
            return cls(oid[6])
        return None


class AuthenticationMechanism(IntEnum):
    """Authentication mechanism names 2.16.756.5.8.2.x (dlms.md 3.2)."""

    LOWEST = 0
    LOW = 1
    HIGH = 2
    HIGH_MD5 = 3
    HIGH_SHA1 = 4
    HIGH_GMAC = 5
    HIGH_SHA256 = 6
    HIGH_ECDSA = 7

    @property
    def oid(self) -> bytes:
        """The BER content octets of the OBJECT IDENTIFIER (after ``8B 07``)."""
        return _DLMS_UA_OID + bytes((2, self.value))

    @classmethod
    def from_oid(cls, oid: bytes) -> AuthenticationMechanism | None:
        """The named mechanism, or None for an OID this enum does not know."""
        if len(oid) == 7 and oid[:6] == _DLMS_UA_OID + b"\x02" and oid[6] in _MECHANISM_VALUES:
            return cls(oid[6])
        return None


_CONTEXT_VALUES = frozenset(int(member) for member in ApplicationContext)
_MECHANISM_VALUES = frozenset(int(member) for member in AuthenticationMechanism)


class SecurityPolicy(IntFlag):
    """security_policy of Security setup (class 64 version 1, attribute 2; Blue Book 4.4.7):
    the least protection every APDU of each direction must carry. Bits 0 and 1 are unused."""

    NONE = 0
    AUTHENTICATED_REQUEST = 0x04
    ENCRYPTED_REQUEST = 0x08
    SIGNED_REQUEST = 0x10
    AUTHENTICATED_RESPONSE = 0x20
    ENCRYPTED_RESPONSE = 0x40
    SIGNED_RESPONSE = 0x80


class Conformance(IntFlag):
    """The 24-bit xDLMS conformance block (dlms.md 3.3).

    Bit 0 of the standard is the most significant bit of the three bytes, so each mask is the
    value of the big-endian 3-byte integer; all 24 bits are named, so every block decodes.
    """

    RESERVED_ZERO = 0x800000
    GENERAL_PROTECTION = 0x400000
    GENERAL_BLOCK_TRANSFER = 0x200000
    READ = 0x100000
    WRITE = 0x080000
    UNCONFIRMED_WRITE = 0x040000
    DELTA_VALUE_ENCODING = 0x020000
    RESERVED_SEVEN = 0x010000
    ATTRIBUTE0_SUPPORTED_WITH_SET = 0x008000
    PRIORITY_MGMT_SUPPORTED = 0x004000
    ATTRIBUTE0_SUPPORTED_WITH_GET = 0x002000
    BLOCK_TRANSFER_WITH_GET_OR_READ = 0x001000
    BLOCK_TRANSFER_WITH_SET_OR_WRITE = 0x000800
    BLOCK_TRANSFER_WITH_ACTION = 0x000400
    MULTIPLE_REFERENCES = 0x000200
    INFORMATION_REPORT = 0x000100
    DATA_NOTIFICATION = 0x000080
    ACCESS = 0x000040
    PARAMETERIZED_ACCESS = 0x000020
    GET = 0x000010
    SET = 0x000008
    SELECTIVE_ACCESS = 0x000004
    EVENT_NOTIFICATION = 0x000002
    ACTION = 0x000001
