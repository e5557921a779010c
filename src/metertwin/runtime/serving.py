"""The logical device of a running meter, through a memory that may stop taking commits.

`DeviceBackend` promises that a SET or ACTION is committed before its answer (cosem.backend):
when the memory refuses a commit (disk full, read-only, I/O error) the session puts the meter
back to its last commit and turns read-only, and this backend then answers every SET and
ACTION temporary-failure without touching the meter, and serves GETs from that last commit
(issue 19 item 8). Logins are still checked; their failure counters are kept in RAM only.
"""

from __future__ import annotations

import contextlib

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor, SelectiveAccess
from metertwin.cosem.access import AssociationContext, AssociationPolicy
from metertwin.cosem.backend import (
    AssociationRefusal,
    InvocationCounters,
    LoginResult,
    SecurityEvent,
    SecurityMaterial,
)
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.models.binder import build_logical_device
from metertwin.models.hdlc_setup_object import HdlcPort
from metertwin.runtime.session import Session
from metertwin.storage.sqlite import CommitError

READ_ONLY = "the meter's memory takes no commit; the meter is read-only"


class SessionBackend:
    """`DeviceBackend` (and `RefusalListener`, `SecurityBackend`) over the session's current
    logical device."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._meter = session.meter
        self.hdlc_port = HdlcPort(session.meter)
        """Class 23's values: the runner sets its defaults to what its transports use."""
        self.device = self._build()

    def _build(self) -> LogicalDevice:
        session = self.session
        self.hdlc_port.meter = session.meter
        return build_logical_device(
            session.model, session.meter, self.commit, session.store, self.hdlc_port
        )

    def current(self) -> LogicalDevice:
        """The device of the session's meter: rebuilt, with its open associations, when a
        failed commit replaced the meter by its last committed state."""
        if self.session.meter is not self._meter:
            associations = self.device.open_associations
            self._meter = self.session.meter
            self.device = self._build()
            self.device.open_associations.extend(associations)
        return self.device

    def commit(self) -> None:
        """The device's commit: nothing to do once read-only (SETs and ACTIONs are refused
        before they act; what else commits, logins and logged refusals, stays in RAM)."""
        if not self.session.read_only:
            self.session.commit()

    # -- DeviceBackend -----------------------------------------------------------------

    def association_policy(self, client_sap: int) -> AssociationPolicy | None:
        return self.current().association_policy(client_sap)

    def login(self, policy: AssociationPolicy, secret: bytes | None) -> LoginResult:
        try:
            return self.current().login(policy, secret)
        except CommitError:  # logged by the session: check again on the last commit, in RAM
            return self.current().login(policy, secret)

    def association_refused(self, refusal: AssociationRefusal) -> None:
        with contextlib.suppress(CommitError):  # logged; the meter is back at its last commit
            self.current().association_refused(refusal)

    def associated(self, context: AssociationContext) -> None:
        self.current().associated(context)

    def released(self, context: AssociationContext) -> None:
        self.current().released(context)

    def get(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
    ) -> Data:
        return self.current().get(context, attribute, access)

    def set(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
        value: Data,
    ) -> None:
        self._refuse_when_read_only()
        try:
            self.current().set(context, attribute, access, value)
        except CommitError:
            raise CosemError(DataAccessResult.TEMPORARY_FAILURE, READ_ONLY) from None

    def action(
        self,
        context: AssociationContext,
        method: MethodDescriptor,
        parameters: Data | None,
    ) -> Data | None:
        self._refuse_when_read_only()
        try:
            return self.current().action(context, method, parameters)
        except CommitError:
            raise CosemError(DataAccessResult.TEMPORARY_FAILURE, READ_ONLY) from None

    # -- SecurityBackend (the HLS associations' Security setups) -------------------------

    def security_material(self, policy: AssociationPolicy) -> SecurityMaterial | None:
        return self.current().security_material(policy)

    def hls_allowed(self, policy: AssociationPolicy) -> LoginResult:
        try:
            return self.current().hls_allowed(policy)
        except CommitError:  # like login: checked again on the last commit, in RAM
            return self.current().hls_allowed(policy)

    def hls_verified(self, policy: AssociationPolicy, passed: bool) -> LoginResult:
        try:
            return self.current().hls_verified(policy, passed)
        except CommitError:
            return self.current().hls_verified(policy, passed)

    def invocation_counters(self, policy: AssociationPolicy) -> InvocationCounters:
        """`CounterBinder`: the setup's counters on the current device, bound afresh when
        the device is rebuilt."""
        return _CurrentCounters(self, policy)

    def next_invocation_counter(self, policy: AssociationPolicy) -> int:
        """A CommitError propagates: a counter not persisted must not be used."""
        return self.current().next_invocation_counter(policy)

    def accept_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes, counter: int
    ) -> bool:
        return self.current().accept_invocation_counter(policy, client_system_title, counter)

    def last_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes
    ) -> int | None:
        return self.current().last_invocation_counter(policy, client_system_title)

    def security_refused(self, policy: AssociationPolicy, event: SecurityEvent) -> None:
        with contextlib.suppress(CommitError):  # logged; the meter is back at its last commit
            self.current().security_refused(policy, event)

    def _refuse_when_read_only(self) -> None:
        if self.session.read_only:
            raise CosemError(DataAccessResult.TEMPORARY_FAILURE, READ_ONLY)


class _CurrentCounters:
    """A setup's counters bound on the session's current device, and bound again once a
    failed commit has rebuilt the device: the old device's counters are no longer the
    meter's, and a send counter persisted there would not be committed."""

    def __init__(self, backend: SessionBackend, policy: AssociationPolicy) -> None:
        self._backend = backend
        self._policy = policy
        self._device = backend.current()
        self._counters = self._device.invocation_counters(policy)

    def _current(self) -> InvocationCounters:
        device = self._backend.current()
        if device is not self._device:
            self._device = device
            self._counters = device.invocation_counters(self._policy)
        return self._counters

    def next_invocation_counter(self) -> int:
        """A CommitError propagates: a counter not persisted must not be used."""
        return self._current().next_invocation_counter()

    def accept_invocation_counter(self, client_system_title: bytes, counter: int) -> bool:
        return self._current().accept_invocation_counter(client_system_title, counter)

    def last_invocation_counter(self, client_system_title: bytes) -> int | None:
        return self._current().last_invocation_counter(client_system_title)
