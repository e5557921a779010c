"""What the DLMS service layer needs from a meter: the contract between `dlms.server` and
the logical device (`cosem.device.LogicalDevice` implements it).

The service layer owns the protocol (ACSE, xDLMS services, block transfer, PDU sizes); the
backend owns the objects, their values, the access rights and the secrets. Every refusal
is a `CosemError` carrying its Data-Access-Result. A backend commits any state change to
non-volatile memory before `set` or `action` returns, so the answer built afterwards never
acknowledges something that could be lost.

A backend may also be a `RefusalListener`: the service layer then tells it of every AARQ it
refused on its own account (the meter logs them, docs/events.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

from metertwin.cosem.access import AssociationContext, AssociationPolicy
from metertwin.dlms.axdr import Data
from metertwin.dlms.enums import (
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    InitiateError,
)
from metertwin.dlms.xdlms_types import AttributeDescriptor, MethodDescriptor, SelectiveAccess


class LoginResult(Enum):
    ACCEPTED = "accepted"
    WRONG_SECRET = "wrong_secret"  # AARE: rejected-permanent, diagnostic 13 authentication-failure
    SECRET_REQUIRED = "secret_required"  # no calling-authentication-value: diagnostic 14
    LOCKED = "locked"  # too many wrong secrets (seed 002, 5.12): rejected-transient, diagnostic 13


class DeviceBackend(Protocol):
    def association_policy(self, client_sap: int) -> AssociationPolicy | None:
        """The association a client SAP may open, or None (AARE: rejected-permanent,
        diagnostic 3, calling-AP-title not recognised is what many meters answer; the
        server picks the diagnostic)."""
        ...

    def login(self, policy: AssociationPolicy, secret: bytes | None) -> LoginResult:
        """Check an LLS secret (or none for the lowest level); counts failures and locks."""
        ...

    def associated(self, context: AssociationContext) -> None:
        """An association was accepted (for association_status; not an event of any log,
        docs/events.md)."""
        ...

    def released(self, context: AssociationContext) -> None:
        """An association ended: released, aborted, or its connection closed."""
        ...

    def get(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
    ) -> Data:
        """An attribute's value as seen by this association; raises CosemError."""
        ...

    def set(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
        value: Data,
    ) -> None:
        """Write an attribute, committed before returning; raises CosemError."""
        ...

    def action(
        self,
        context: AssociationContext,
        method: MethodDescriptor,
        parameters: Data | None,
    ) -> Data | None:
        """Invoke a method, committed before returning; its return data or None; raises
        CosemError (the service layer maps it to an Action-Result)."""
        ...


@dataclass(frozen=True, slots=True)
class AssociationRefusal:
    """An AARQ the service layer refused by itself: what its AARE said."""

    client_sap: int
    diagnostic: AcseServiceUserDiagnostic | AcseServiceProviderDiagnostic
    initiate_error: InitiateError | None = None


@runtime_checkable
class RefusalListener(Protocol):
    """What a backend implements, optionally, to hear of refused associations.

    Called for every AARQ refused for a reason other than its secret (malformed AARQ, ACSE
    version, application context, unknown client SAP, mechanism, missing password,
    InitiateRequest), after the refusal is decided and before the AARE is sent. Not called
    for a wrong or locked secret (``login`` said so and has counted it) nor when the backend
    itself failed (a transient refusal). A failure here is logged; the AARE stays the same.
    """

    def association_refused(self, refusal: AssociationRefusal) -> None: ...
