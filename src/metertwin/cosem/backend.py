"""What the DLMS service layer needs from a meter: the contract between `dlms.server` and
the logical device (`cosem.device.LogicalDevice` implements it).

The service layer owns the protocol (ACSE, xDLMS services, block transfer, PDU sizes); the
backend owns the objects, their values, the access rights and the secrets. Every refusal
is a `CosemError` carrying its Data-Access-Result. A backend commits any state change to
non-volatile memory before `set` or `action` returns, so the answer built afterwards never
acknowledges something that could be lost.

A backend may also be a `RefusalListener`: the service layer then tells it of every AARQ it
refused on its own account (the meter logs them, docs/events.md), and a `SecurityBackend`:
the service layer then runs HLS and ciphering for the associations whose policy names a
Security setup, with the material and counters the backend keeps (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

from metertwin.codec.axdr import Data
from metertwin.codec.enums import (
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    InitiateError,
)
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor, SelectiveAccess
from metertwin.cosem.access import AssociationContext, AssociationPolicy, SecurityPolicy


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


@runtime_checkable
class PlainReaders(Protocol):
    """What a backend implements, optionally, so that a head-end polling the same register
    costs the meter little: the server asks once per association and GET, then calls the
    reader on every repetition instead of ``get``.

    ``plain_reader`` returns, for a GET of ``attribute`` without selective access that
    ``get`` has already served to an association of ``context``'s policy, the very getter
    ``get`` would call, bound to ``context``: it reads the value afresh at every call, so a
    SET or the meter's own progress shows at the next GET. None when the backend cannot say
    so (not read yet, refused, or no such shortcut): the server then calls ``get``. The
    checks it skips must hold for the association's whole life (the policy's rights, the
    object and its class).
    """

    def plain_reader(
        self, context: AssociationContext, attribute: AttributeDescriptor
    ) -> Callable[[], Data] | None: ...


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


@dataclass(frozen=True, slots=True)
class SecurityMaterial:
    """One association's Security setup (class 64) as it stands now: what the service layer
    needs to run HLS and to protect and open APDUs. Keys are raw octets (16 for suites 0 and
    1, 32 for suite 2); the ECDSA keys are DER (PKCS#8 private, SubjectPublicKeyInfo public).
    A key that is not set is None: a mechanism or protection that needs it is refused."""

    suite: int  # 0, 1 or 2
    policy: SecurityPolicy
    server_system_title: bytes  # 8 octets
    client_system_title: bytes | None  # None: any, learnt from the AARQ calling-AP-title
    global_unicast_key: bytes | None = None  # EK, key id 0
    broadcast_key: bytes | None = None  # key id 1
    authentication_key: bytes | None = None  # AK, key id 2
    hls_secret: bytes | None = None  # mechanisms 2 and 6
    server_signing_key: bytes | None = None  # mechanism 7, general-signing (suites 1, 2)
    client_signing_public_key: bytes | None = None  # the client's, to verify its signatures


class SecurityEvent(Enum):
    """What the service layer tells a `SecurityBackend` it refused, for the security log."""

    HLS_FAILED = "hls_failed"  # pass 3 proof wrong (also counted through hls_verified)
    DECIPHERING_FAILED = "deciphering_failed"  # wrong tag, length, key, authentication tag
    REPLAY = "replay"  # invocation counter not above the last accepted one
    BELOW_POLICY = "below_policy"  # less protection than the security policy requires
    UNKNOWN_SYSTEM_TITLE = "unknown_system_title"  # not the Security setup's client title
    BAD_SIGNATURE = "bad_signature"  # general-signing or ECDSA proof that does not verify


@runtime_checkable
class SecurityBackend(Protocol):
    """What a backend implements to serve associations with a Security setup.

    The service layer calls ``security_material`` at every AARQ of such an association and
    again after every SET or ACTION (a key_transfer or security_activate may have changed
    it); it never keeps keys longer than that. Counters belong to the backend because they
    must survive a restart: ``next_invocation_counter`` persists before it returns (a value
    handed out is never handed out again, even after a crash).
    """

    def security_material(self, policy: AssociationPolicy) -> SecurityMaterial | None:
        """The live material of the policy's Security setup (None: the setup is missing,
        and the AARQ is refused)."""
        ...

    def hls_allowed(self, policy: AssociationPolicy) -> LoginResult:
        """At an HLS AARQ, before pass 2: ACCEPTED, or LOCKED while a lockout is in force."""
        ...

    def hls_verified(self, policy: AssociationPolicy, passed: bool) -> LoginResult:
        """The pass 3 verdict, counted toward the lockout like a wrong LLS secret (a failure
        is logged, 220): ACCEPTED when passed, WRONG_SECRET or LOCKED when not."""
        ...

    def next_invocation_counter(self, policy: AssociationPolicy) -> int:
        """The server's next invocation counter for the setup's global keys, persisted first
        (0.0.43.1.e.255 shows it)."""
        ...

    def accept_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes, counter: int
    ) -> bool:
        """A request's invocation counter under a global key, after the APDU opened: True
        and remembered when above the last accepted one from that client, False (a replay:
        nothing remembered) otherwise."""
        ...

    def last_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes
    ) -> int | None:
        """The last invocation counter accepted from that client under the setup's global
        keys (None: none yet), so that a replay is answered with the counter expected next."""
        ...

    def security_refused(self, policy: AssociationPolicy, event: SecurityEvent) -> None:
        """A protected APDU or HLS proof was refused; the meter logs it (security log)."""
        ...


class InvocationCounters(Protocol):
    """The invocation counters of one Security setup, bound by an association at its AARQ
    and again after each of its SETs and ACTIONs (a new key brings new counters), so that
    every protected APDU reaches them in one call, not through the backend's lookups by
    policy. Same contract as the `SecurityBackend` methods of the same names."""

    def next_invocation_counter(self) -> int: ...

    def accept_invocation_counter(self, client_system_title: bytes, counter: int) -> bool: ...

    def last_invocation_counter(self, client_system_title: bytes) -> int | None: ...


@runtime_checkable
class CounterBinder(Protocol):
    """A `SecurityBackend` that binds a setup's counters itself (optional)."""

    def invocation_counters(self, policy: AssociationPolicy) -> InvocationCounters: ...


class PolicyCounters:
    """`InvocationCounters` through a `SecurityBackend`'s own methods (one that binds none)."""

    def __init__(self, backend: SecurityBackend, policy: AssociationPolicy) -> None:
        self.backend = backend
        self.policy = policy

    def next_invocation_counter(self) -> int:
        return self.backend.next_invocation_counter(self.policy)

    def accept_invocation_counter(self, client_system_title: bytes, counter: int) -> bool:
        return self.backend.accept_invocation_counter(self.policy, client_system_title, counter)

    def last_invocation_counter(self, client_system_title: bytes) -> int | None:
        return self.backend.last_invocation_counter(self.policy, client_system_title)


def bound_counters(backend: SecurityBackend, policy: AssociationPolicy) -> InvocationCounters:
    """The counters of ``policy``'s setup: the backend's own binding, or its methods."""
    if isinstance(backend, CounterBinder):
        return backend.invocation_counters(policy)
    return PolicyCounters(backend, policy)
