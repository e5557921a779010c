"""Security setup objects (class 64 version 1) of the HLS associations, their invocation
counters (0.0.43.1.e.255) and the `SecurityBackend` the DLMS server runs HLS and ciphering
with (cosem/backend.py).

Each HLS association e (its Association LN 0.0.40.0.e.255) has the setup 0.0.43.0.e.255,
named by its security_setup_reference, and the frame counter 0.0.43.1.e.255 (class 1,
double-long-unsigned: the invocation counter the server uses next, IDIS practice: a client
reads it in the public association before it ciphers). Key and policy changes are committed
before the answer (LogicalDevice commits after every ACTION) and logged (docs/events.md).
"""

from __future__ import annotations

from collections.abc import Callable

from metertwin.codec.axdr import Data, DataType
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.access import AssociationPolicy, SecurityPolicy
from metertwin.cosem.backend import LoginResult, SecurityEvent, SecurityMaterial
from metertwin.cosem.classes import AttributeSpec, InterfaceClass, MethodSpec, interface_class
from metertwin.cosem.errors import CosemError, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Method, Request
from metertwin.meter.core import Meter
from metertwin.meter.dlms_security import (
    AUTHENTICATION,
    BROADCAST,
    KEY_LENGTH_BY_SUITE,
    MASTER,
    UNICAST,
    SetupState,
)
from metertwin.meter.events import EventCode
from metertwin.meter.security import LoginOutcome
from metertwin.security.counters import SendCounter
from metertwin.security.errors import KeyWrapError
from metertwin.security.keys import unwrap_key

SECURITY_SETUP_V1 = InterfaceClass(
    64,
    1,
    "Security setup",
    (
        AttributeSpec(1, "logical_name", static=True),
        AttributeSpec(2, "security_policy", static=True),
        AttributeSpec(3, "security_suite", static=True),
        AttributeSpec(4, "client_system_title", static=True),
        AttributeSpec(5, "server_system_title", static=True),
        AttributeSpec(6, "certificates", static=True),
    ),
    tuple(
        MethodSpec(index, name)
        for index, name in enumerate(
            (
                "security_activate",
                "key_transfer",
                "key_agreement",
                "generate_key_pair",
                "generate_certificate_request",
                "import_certificate",
                "export_certificate",
                "remove_certificate",
            ),
            start=1,
        )
    ),
)
"""Blue Book 4.4.7, version 1 (interface_class(64) stays version 0 for 0.0.43.0.0.255)."""

SIGNING_BITS = SecurityPolicy.SIGNED_REQUEST | SecurityPolicy.SIGNED_RESPONSE
_TRANSFERABLE = (UNICAST, BROADCAST, AUTHENTICATION, MASTER)
_OUTCOMES = {
    LoginOutcome.ACCEPTED: LoginResult.ACCEPTED,
    LoginOutcome.WRONG_SECRET: LoginResult.WRONG_SECRET,
    LoginOutcome.LOCKED: LoginResult.LOCKED,
}
_EVENTS = {
    SecurityEvent.REPLAY: EventCode.REPLAY_REFUSED,
    SecurityEvent.DECIPHERING_FAILED: EventCode.PROTECTED_APDU_REFUSED,
    SecurityEvent.BELOW_POLICY: EventCode.PROTECTED_APDU_REFUSED,
    SecurityEvent.UNKNOWN_SYSTEM_TITLE: EventCode.PROTECTED_APDU_REFUSED,
    SecurityEvent.BAD_SIGNATURE: EventCode.PROTECTED_APDU_REFUSED,
}
"""HLS_FAILED is not here: ``hls_verified`` has counted and logged it (220)."""


def setup_name(association: Obis) -> Obis:
    """0.0.40.0.e.255 -> its Security setup 0.0.43.0.e.255."""
    return Obis(0, 0, 43, 0, association.e)


def counter_name(association: Obis) -> Obis:
    """0.0.40.0.e.255 -> its invocation counter 0.0.43.1.e.255."""
    return Obis(0, 0, 43, 1, association.e)


class SecuritySetups:
    """The Security setups of one logical device: its objects and its `SecurityBackend`."""

    def __init__(
        self,
        meter: Meter,
        server_system_title: bytes,
        client_public_key: bytes | None,
        commit: Callable[[], None],
    ) -> None:
        self.meter = meter
        self.server_system_title = server_system_title
        self.client_public_key = client_public_key
        self.commit = commit
        self._senders: dict[str, SendCounter] = {}

    def state(self, policy: AssociationPolicy) -> SetupState | None:
        if policy.security_setup is None:
            return None
        return self.meter.dlms_security.setups.get(policy.name)

    def _require(self, policy: AssociationPolicy) -> SetupState:
        state = self.state(policy)
        if state is None:
            raise KeyError(f"association {policy.name} has no Security setup")
        return state

    def sender(self, policy: AssociationPolicy) -> SendCounter:
        """The setup's send counter, resumed from its persisted bound."""
        counter = self._senders.get(policy.name)
        if counter is None:
            state = self._require(policy)

            def persist(bound: int) -> None:
                state.send_bound = bound
                self.commit()

            # A new key's first counter is 1, not 0: clients such as dlms-cosem keep 0 as
            # "nothing received yet" and refuse a counter that is not above it.
            first = max(state.send_bound, 1)
            counter = self._senders[policy.name] = SendCounter(first, persist)
        return counter

    # -- SecurityBackend ------------------------------------------------------------------

    def security_material(self, policy: AssociationPolicy) -> SecurityMaterial | None:
        state = self.state(policy)
        if state is None:
            return None
        return SecurityMaterial(
            suite=state.suite,
            policy=SecurityPolicy(state.policy),
            server_system_title=self.server_system_title,
            client_system_title=state.client_system_title,
            global_unicast_key=state.keys.get(UNICAST),
            broadcast_key=state.keys.get(BROADCAST),
            authentication_key=state.keys.get(AUTHENTICATION),
            server_signing_key=state.signing_key,
            client_signing_public_key=self.client_public_key if state.signing_key else None,
        )

    def hls_allowed(self, policy: AssociationPolicy) -> LoginResult:
        result = _OUTCOMES[self.meter.hls_allowed(policy.name)]
        self.commit()  # a lockout ending, or 221, survives a restart
        return result

    def hls_verified(self, policy: AssociationPolicy, passed: bool) -> LoginResult:
        result = _OUTCOMES[self.meter.hls_verified(policy.name, passed)]
        self.commit()
        return result

    def next_invocation_counter(self, policy: AssociationPolicy) -> int:
        return self.sender(policy).take()

    def accept_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes, counter: int
    ) -> bool:
        """In memory only: persisted with the meter's next commit (module docstring)."""
        state = self._require(policy)
        title = bytes(client_system_title)
        last = state.received.get(title)
        if last is not None and counter <= last:
            return False
        state.received[title] = counter
        return True

    def last_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes
    ) -> int | None:
        return self._require(policy).received.get(bytes(client_system_title))

    def security_refused(self, policy: AssociationPolicy, event: SecurityEvent) -> None:
        code = _EVENTS.get(event)
        if code is not None:
            self.meter.log_event(code)
            self.commit()

    # -- objects --------------------------------------------------------------------------

    def objects(self, policy: AssociationPolicy) -> list[CosemObject]:
        """The setup and the counter object of an HLS association."""
        assert policy.security_setup is not None
        return [self._setup(policy), self._counter(policy)]

    def _counter(self, policy: AssociationPolicy) -> CosemObject:
        def value(_request: Request) -> Data:
            return Data.double_long_unsigned(self.sender(policy).next_value)

        counter = CosemObject(
            interface_class(1), counter_name(policy.logical_name), {2: Binding(get=value)}
        )
        counter.description = f"Invocation counter of association {policy.name}"
        counter.public = True
        return counter

    def _setup(self, policy: AssociationPolicy) -> CosemObject:
        assert policy.security_setup is not None

        def state() -> SetupState:
            return self._require(policy)

        def title(_request: Request) -> Data:
            return Data.octet_string(state().client_system_title or b"")

        attributes = {
            2: Binding(get=lambda _r: Data.enum(state().policy)),
            3: Binding(get=lambda _r: Data.enum(state().suite)),
            4: Binding(get=title),
            5: Binding(get=lambda _r: Data.octet_string(self.server_system_title)),
            6: Binding(get=lambda _r: Data.array([])),
        }
        methods: dict[int, Method] = {
            1: self._security_activate(policy),
            2: self._key_transfer(policy),
        }
        for index in range(3, 9):
            methods[index] = _not_implemented
        setup = CosemObject(SECURITY_SETUP_V1, policy.security_setup, attributes, methods)
        setup.description = f"Security setup of association {policy.name}"
        return setup

    def _security_activate(self, policy: AssociationPolicy) -> Method:
        """Raise-only (Blue Book 4.4.7): a policy that drops a bit in force is refused with
        other-reason and nothing changes; signing needs suite 1 or 2."""

        def activate(_request: Request, parameters: Data | None) -> Data | None:
            if parameters is None or parameters.type not in (DataType.ENUM, DataType.UNSIGNED):
                raise type_unmatched("security_activate takes the security_policy (enum)")
            wanted = parameters.as_int()
            if wanted & 0x03:
                raise type_unmatched("bits 0 and 1 of a security policy are unused")
            state = self._require(policy)
            if wanted & state.policy != state.policy:
                raise CosemError(DataAccessResult.OTHER_REASON, "a policy is only strengthened")
            if wanted & SIGNING_BITS and state.suite == 0:
                raise CosemError(DataAccessResult.OTHER_REASON, "suite 0 has no signing")
            if wanted != state.policy:
                state.policy = wanted
                self.meter.log_event(EventCode.SECURITY_POLICY_CHANGED)
            return None

        return activate

    def _key_transfer(self, policy: AssociationPolicy) -> Method:
        """Every key is unwrapped with the current KEK (RFC 3394) before any is changed: one
        bad entry refuses the whole transfer. A new EK restarts both invocation counters of
        the setup (Green Book: a counter belongs to its key)."""

        def transfer(_request: Request, parameters: Data | None) -> Data | None:
            state = self._require(policy)
            entries = _key_entries(parameters)
            length = KEY_LENGTH_BY_SUITE[state.suite]
            kek = state.keys[MASTER]
            try:
                keys = {
                    key_id: unwrap_key(kek, blob, key_length=length) for key_id, blob in entries
                }
            except KeyWrapError as exc:
                raise CosemError(DataAccessResult.OTHER_REASON, str(exc)) from None
            state.keys.update(keys)
            if UNICAST in keys:
                state.send_bound = 0
                state.received.clear()
                self._senders.pop(policy.name, None)
            self.meter.log_event(EventCode.SECURITY_KEY_CHANGED)
            return None

        return transfer


def _key_entries(parameters: Data | None) -> list[tuple[int, bytes]]:
    """array of structure {key_id enum, key_wrapped octet-string}, each key id once."""
    if parameters is None or parameters.type is not DataType.ARRAY or not parameters.as_items():
        raise type_unmatched("key_transfer takes an array of {key_id, key_wrapped}")
    entries: list[tuple[int, bytes]] = []
    for entry in parameters.as_items():
        fields = entry.as_items() if entry.type is DataType.STRUCTURE else None
        if (
            fields is None
            or len(fields) != 2
            or fields[0].type is not DataType.ENUM
            or fields[1].type is not DataType.OCTET_STRING
        ):
            raise type_unmatched("a key_transfer entry is {key_id enum, key_wrapped octet-string}")
        key_id = fields[0].as_int()
        if key_id not in _TRANSFERABLE or any(key_id == seen for seen, _ in entries):
            raise type_unmatched(f"key id {key_id} unknown or repeated")
        entries.append((key_id, fields[1].as_bytes()))
    return entries


def _not_implemented(_request: Request, _parameters: Data | None) -> Data | None:
    """key_agreement and the certificate methods: no ECDH or certificates yet."""
    raise CosemError(DataAccessResult.OTHER_REASON, "not implemented")
