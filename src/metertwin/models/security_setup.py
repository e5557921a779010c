"""Security setup objects (class 64 version 1) of the HLS associations, their invocation
counters (0.0.43.1.e.255) and the `SecurityBackend` the DLMS server runs HLS and ciphering
with (cosem/backend.py).

Each HLS association e (its Association LN 0.0.40.0.e.255) has the setup 0.0.43.0.e.255,
named by its security_setup_reference, and the frame counter 0.0.43.1.e.255 (class 1,
double-long-unsigned: the invocation counter the server uses next, IDIS practice: a client
reads it in the public association before it ciphers). Key and policy changes are committed
before the answer (LogicalDevice commits after every ACTION) and logged (docs/events.md).
Methods 3 to 8 (suites 1 and 2) run on `metertwin.security` (`answer_key_agreement`, the
setup's `CertificateStore`); their A-XDR is in `security_setup_parameters`.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
from metertwin.models.security_setup_parameters import (
    ByEntity,
    certificate_der,
    certificate_identification,
    certificate_infos,
    key_entries,
    key_entries_data,
    key_pair_type,
)
from metertwin.security.certificates import CertificateEntity, CertificateStore, CertificateType
from metertwin.security.counters import SendCounter, SetupCounters
from metertwin.security.errors import CertificateError, KeyAgreementError, KeyWrapError
from metertwin.security.key_agreement import AGREEABLE_KEYS, answer_key_agreement
from metertwin.security.keys import unwrap_key
from metertwin.security.suites import security_suite

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
        AttributeSpec(6, "certificates"),  # changed by methods 4, 6 and 8
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
            client_signing_public_key=self._client_signing_key(state, state.client_system_title)
            if state.signing_key
            else None,
        )

    def hls_allowed(self, policy: AssociationPolicy) -> LoginResult:
        result = _OUTCOMES[self.meter.hls_allowed(policy.name)]
        self.commit()  # a lockout ending, or 221, survives a restart
        return result

    def hls_verified(self, policy: AssociationPolicy, passed: bool) -> LoginResult:
        result = _OUTCOMES[self.meter.hls_verified(policy.name, passed)]
        self.commit()
        return result

    def invocation_counters(self, policy: AssociationPolicy) -> SetupCounters:
        """The setup's counters as they stand (`CounterBinder`): the send counter of its
        current key and the receive counters, in memory only (persisted with the meter's
        next commit, module docstring)."""
        return SetupCounters(self.sender(policy), self._require(policy).received)

    def next_invocation_counter(self, policy: AssociationPolicy) -> int:
        return self.sender(policy).take()

    def accept_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes, counter: int
    ) -> bool:
        counters = self.invocation_counters(policy)
        return counters.accept_invocation_counter(client_system_title, counter)

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

        def certificates(_request: Request) -> Data:
            store = state().certificates
            return certificate_infos(() if store is None else store.certificates())

        attributes = {
            2: Binding(get=lambda _r: Data.enum(state().policy)),
            3: Binding(get=lambda _r: Data.enum(state().suite)),
            4: Binding(get=title),
            5: Binding(get=lambda _r: Data.octet_string(self.server_system_title)),
            6: Binding(get=certificates),
        }
        methods: dict[int, Method] = {
            1: self._security_activate(policy),
            2: self._key_transfer(policy),
            3: self._key_agreement(policy),
            4: self._generate_key_pair(policy),
            5: self._certificate_request(policy),
            6: self._import_certificate(policy),
            7: self._certificate_method(policy, "export_certificate", _export),
            8: self._certificate_method(policy, "remove_certificate", _remove),
        }
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
        bad entry refuses the whole transfer."""

        def transfer(_request: Request, parameters: Data | None) -> Data | None:
            state = self._require(policy)
            entries = key_entries(parameters, "key_transfer", _TRANSFERABLE)
            length = KEY_LENGTH_BY_SUITE[state.suite]
            kek = state.keys[MASTER]
            try:
                keys = {
                    key_id: unwrap_key(kek, blob, key_length=length) for key_id, blob in entries
                }
            except KeyWrapError as exc:
                raise CosemError(DataAccessResult.OTHER_REASON, str(exc)) from None
            self._install(policy, state, keys)
            return None

        return transfer

    def _install(
        self, policy: AssociationPolicy, state: SetupState, keys: dict[int, bytes]
    ) -> None:
        """New global keys (key_transfer, key_agreement), logged (225). A new EK restarts both
        invocation counters of the setup (Green Book: a counter belongs to its key)."""
        state.keys.update(keys)
        if UNICAST in keys:
            state.send_bound = 0
            state.received.clear()
            self._senders.pop(policy.name, None)
        self.meter.log_event(EventCode.SECURITY_KEY_CHANGED)

    # -- methods 3 to 8: suites 1 and 2 ---------------------------------------------------

    def _client_signing_key(self, state: SetupState, title: bytes | None) -> bytes | None:
        """The client's ECDSA public key (DER): its imported digital signature certificate
        (entity client, the client's system title), else ``[dlms] client_public_key``."""
        if state.certificates is not None and title is not None:
            try:
                key = state.certificates.public_key(
                    CertificateEntity.CLIENT, CertificateType.DIGITAL_SIGNATURE, title
                )
            except CertificateError:
                pass
            else:
                return key.public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
        return self.client_public_key

    def _ecc_state(self, policy: AssociationPolicy, method: str) -> SetupState:
        """Methods 3 to 8 need suite 1 or 2: a suite 0 setup refuses them with other-reason
        (the method exists and its parameters may be right: the setup cannot)."""
        state = self._require(policy)
        if state.suite == 0:
            raise CosemError(DataAccessResult.OTHER_REASON, f"{method}: suite 0 has no ECC")
        return state

    def _store(self, state: SetupState) -> CertificateStore:
        """The setup's store; a new one (holding the HLS-ECDSA signing key pair) is only
        kept once a method succeeds with it."""
        if state.certificates is not None:
            return state.certificates
        store = CertificateStore(state.suite, self.server_system_title)
        if state.signing_key is not None:
            store.adopt_key_pair(CertificateType.DIGITAL_SIGNATURE, _private_key(state.signing_key))
        return store

    def _certificate_method(
        self,
        policy: AssociationPolicy,
        method: str,
        operation: Callable[[CertificateStore, Data | None], Data | None],
    ) -> Method:
        """A method on the store: a CertificateError (no such key pair or certificate, a
        certificate refused) answers other-reason and changes nothing. The store's
        operations check everything before they change anything."""

        def invoke(_request: Request, parameters: Data | None) -> Data | None:
            state = self._ecc_state(policy, method)
            store = self._store(state)
            try:
                result = operation(store, parameters)
            except CertificateError as refused:
                raise CosemError(DataAccessResult.OTHER_REASON, f"{method}: {refused}") from None
            state.certificates = store
            return result

        return invoke

    def _generate_key_pair(self, policy: AssociationPolicy) -> Method:
        """A new key pair of the type; a digital signature one becomes the setup's HLS-ECDSA
        and signing key (the server re-reads security_material after the ACTION). Logged
        as a key change (225)."""

        def generate(store: CertificateStore, parameters: Data | None) -> Data | None:
            kind = key_pair_type(parameters)
            store.generate_key_pair(kind)
            if kind == CertificateType.DIGITAL_SIGNATURE:
                key = store.private_key(kind)
                assert key is not None
                self._require(policy).signing_key = key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            self.meter.log_event(EventCode.SECURITY_KEY_CHANGED)
            return None

        return self._certificate_method(policy, "generate_key_pair", generate)

    def _certificate_request(self, policy: AssociationPolicy) -> Method:
        def request(store: CertificateStore, parameters: Data | None) -> Data | None:
            return Data.octet_string(store.certificate_signing_request(key_pair_type(parameters)))

        return self._certificate_method(policy, "generate_certificate_request", request)

    def _import_certificate(self, policy: AssociationPolicy) -> Method:
        def store_certificate(store: CertificateStore, parameters: Data | None) -> Data | None:
            store.import_certificate(certificate_der(parameters))
            return None

        return self._certificate_method(policy, "import_certificate", store_certificate)

    def _key_agreement(self, policy: AssociationPolicy) -> Method:
        """C(2e, 0s) for each {key_id, key_data} entry (`answer_key_agreement`): the client's
        ephemeral keys are signed with its signing key, ours with the setup's. Every entry is
        checked and agreed before any key changes: one wrong signature or off-curve point
        refuses them all with other-reason. The new keys are installed like key_transfer's
        (225, a new EK restarts the counters); the answer is our array of signed keys."""

        def agree(request: Request, parameters: Data | None) -> Data | None:
            state = self._ecc_state(policy, "key_agreement")
            entries = key_entries(parameters, "key_agreement", AGREEABLE_KEYS)
            calling_title = request.context.client_system_title
            server_key, client_key, client_title = self._agreement_parties(state, calling_title)
            suite = security_suite(state.suite)
            try:
                answers = [
                    answer_key_agreement(
                        suite,
                        key_id,
                        key_data,
                        client_signing_key=client_key,
                        server_signing_key=server_key,
                        client_system_title=client_title,
                        server_system_title=self.server_system_title,
                    )
                    for key_id, key_data in entries
                ]
            except KeyAgreementError as refused:
                raise CosemError(DataAccessResult.OTHER_REASON, str(refused)) from None
            self._install(policy, state, {int(a.key_id): a.agreed_key for a in answers})
            return key_entries_data((int(a.key_id), a.key_data) for a in answers)

        return agree

    def _agreement_parties(
        self, state: SetupState, calling_title: bytes | None
    ) -> tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey, bytes]:
        """Our signing key, the client's and its system title (party U of the KDF: the
        setup's attribute 4, else the calling-AP-title of the association's AARQ); without
        one of them key_agreement answers other-reason."""
        title = state.client_system_title or calling_title
        client_key = self._client_signing_key(state, title)
        if state.signing_key is None:
            raise CosemError(DataAccessResult.OTHER_REASON, "no signing key pair of ours")
        if client_key is None:
            raise CosemError(DataAccessResult.OTHER_REASON, "the client's signing key is unknown")
        if title is None:
            raise CosemError(DataAccessResult.OTHER_REASON, "the client system title is unknown")
        return _private_key(state.signing_key), _public_key(client_key), title


def _export(store: CertificateStore, parameters: Data | None) -> Data | None:
    wanted = certificate_identification(parameters)
    if isinstance(wanted, ByEntity):
        der = store.export_by_entity(wanted.entity, wanted.certificate_type, wanted.system_title)
    else:
        der = store.export_by_serial(wanted.serial_number, wanted.issuer)
    return Data.octet_string(der)


def _remove(store: CertificateStore, parameters: Data | None) -> Data | None:
    wanted = certificate_identification(parameters)
    if isinstance(wanted, ByEntity):
        store.remove_by_entity(wanted.entity, wanted.certificate_type, wanted.system_title)
    else:
        store.remove_by_serial(wanted.serial_number, wanted.issuer)
    return None


def _private_key(pkcs8: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(pkcs8, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # only ours, made by new_signing_key
    return key


def _public_key(der: bytes) -> ec.EllipticCurvePublicKey:
    """The client's key; the loader checked the config's is an EC key, a certificate's is
    checked at import."""
    key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CosemError(DataAccessResult.OTHER_REASON, "the client's key is not an EC key")
    return key
