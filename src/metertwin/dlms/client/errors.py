"""What can go wrong for our DLMS client, one family under :class:`DlmsClientError`.

Each refusal carries the protocol's own code (AARE diagnostic, data-access-result, action-result,
exception-response errors; dlms.md 3.4, 4) and a message that names it, so a head-end script or
the CLI can print one readable line (STYLE.md, "Errors").
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from metertwin.codec.enums import (
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    ActionResult,
    AssociationResult,
    ConfirmedService,
    ConfirmedServiceErrorType,
    DataAccessResult,
    InitiateError,
    ServiceError,
    StateError,
)

__all__ = [
    "ActionFailedError",
    "AssociationRejectedError",
    "ConfirmedServiceErrorResponse",
    "DataAccessError",
    "DlmsClientError",
    "DlmsConnectionError",
    "DlmsProtocolError",
    "DlmsSecurityError",
    "DlmsTimeoutError",
    "ExceptionResponseError",
    "NotAssociatedError",
    "code_name",
]


def code_name(code: IntEnum) -> str:
    """The Blue Book spelling of an enum member: ``READ_WRITE_DENIED`` -> ``read-write-denied``."""
    return code.name.lower().replace("_", "-")


class DlmsClientError(Exception):
    """The root of every error our DLMS client raises."""


class DlmsConnectionError(DlmsClientError):
    """The TCP connection could not be opened, broke, or was closed by the meter."""


class DlmsTimeoutError(DlmsConnectionError):
    """No answer within the timeout; the connection is closed, since a late answer would be
    taken for the next request's."""


class DlmsProtocolError(DlmsClientError):
    """The meter answered with bytes that are malformed or not an answer to our request."""


class DlmsSecurityError(DlmsProtocolError):
    """A secured association or answer that fails a check (docs/security.md): a pass 4 proof
    that does not verify, an answer that does not decipher or carries less protection than
    the policy, a replayed counter, another system title. The association is not trusted."""


class NotAssociatedError(DlmsClientError):
    """A service was asked for before an association was opened (or after its release)."""


class AssociationRejectedError(DlmsClientError):
    """The AARE refused the association (dlms.md 3.4), or accepted it with a condition this
    client cannot meet (HLS, short-name referencing).

    ``initiate_error`` is set when the AARE's user-information held a ConfirmedServiceError
    refusing the InitiateRequest (dlms.md 3.3).
    """

    _HINTS: ClassVar[dict[AcseServiceUserDiagnostic, str]] = {
        AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE: "wrong password?",
        AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED: "this client needs a password",
        AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED: (
            "this client needs a password"
        ),
        AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED: "unknown client",
    }

    def __init__(
        self,
        result: AssociationResult,
        diagnostic: AcseServiceUserDiagnostic | AcseServiceProviderDiagnostic,
        initiate_error: InitiateError | None = None,
        detail: str = "",
    ) -> None:
        self.result = result
        self.diagnostic = diagnostic
        self.initiate_error = initiate_error
        branch = (
            "acse-service-provider"
            if isinstance(diagnostic, AcseServiceProviderDiagnostic)
            else "acse-service-user"
        )
        message = (
            f"association refused ({code_name(result)}): {branch} diagnostic "
            f"{int(diagnostic)} {code_name(diagnostic)}"
        )
        if initiate_error is not None:
            message += f", initiate error {int(initiate_error)} {code_name(initiate_error)}"
        hint = detail
        if not hint and self.locked:
            hint = "locked after wrong passwords: try again later"
        elif not hint and isinstance(diagnostic, AcseServiceUserDiagnostic):
            hint = self._HINTS.get(diagnostic, "")
        if hint:
            message += f" ({hint})"
        super().__init__(message)

    @property
    def wrong_password(self) -> bool:
        """Refused for its secret, permanently: the secret is wrong (dlms.md 3.4)."""
        return (
            self.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE
            and self.result == AssociationResult.REJECTED_PERMANENT
        )

    @property
    def locked(self) -> bool:
        """Refused for its secret, for now: a meter that locks logins after wrong secrets
        answers rejected-transient, authentication-failure while locked (docs/dlms.md)."""
        return (
            self.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE
            and self.result == AssociationResult.REJECTED_TRANSIENT
        )


class DataAccessError(DlmsClientError):
    """A GET or SET refused with a data-access-result (dlms.md 4)."""

    def __init__(self, result: DataAccessResult, what: str) -> None:
        self.result = result
        self.what = what
        super().__init__(f"{what}: {code_name(result)} (data-access-result {int(result)})")


class ActionFailedError(DlmsClientError):
    """An ACTION answered with an action-result other than success (dlms.md 4)."""

    def __init__(self, result: ActionResult, what: str) -> None:
        self.result = result
        self.what = what
        super().__init__(f"{what}: {code_name(result)} (action-result {int(result)})")


class ExceptionResponseError(DlmsClientError):
    """The meter answered with an exception-response ``D8`` (dlms.md 2.4, 4)."""

    _HINTS: ClassVar[dict[ServiceError, str]] = {
        ServiceError.DECIPHERING_ERROR: (
            "the meter could not open our ciphered request: wrong EK, AK, suite or system title?"
        ),
        ServiceError.INVOCATION_COUNTER_ERROR: (
            "the meter refused our invocation counter as a replay"
        ),
    }

    def __init__(
        self,
        state_error: StateError,
        service_error: ServiceError,
        what: str,
        invocation_counter: int | None = None,
    ) -> None:
        self.state_error = state_error
        self.service_error = service_error
        self.what = what
        self.invocation_counter = invocation_counter
        message = f"{what}: exception-response {code_name(state_error)}, {code_name(service_error)}"
        hint = self._HINTS.get(service_error)
        if hint and invocation_counter is not None:
            hint += f"; it expects a counter of at least {invocation_counter}"
        super().__init__(f"{message} ({hint})" if hint else message)


class ConfirmedServiceErrorResponse(DlmsClientError):
    """The meter answered with a ConfirmedServiceError ``0E`` (dlms.md 4)."""

    def __init__(
        self,
        service: ConfirmedService,
        error_type: ConfirmedServiceErrorType,
        value: int,
        what: str,
    ) -> None:
        self.service = service
        self.error_type = error_type
        self.value = value
        self.what = what
        detail = f"{code_name(error_type)} {value}"
        if isinstance(value, IntEnum):
            detail = f"{code_name(error_type)} {code_name(value)}"
        super().__init__(f"{what}: confirmed-service-error ({code_name(service)}: {detail})")
