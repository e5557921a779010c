"""The logical device: the objects of one meter, seen through each association's rights.

Implements `DeviceBackend` for the DLMS service layer. Checks follow the Blue Book order a
HES expects: unknown object, or an attribute or method its class does not define ->
object-undefined; class id not matching -> object-class-inconsistent; an attribute or method
of the class that this object or association does not serve (not readable, not writable,
not callable, e.g. a write-only secret) -> read-write-denied; a value of the wrong type ->
type-unmatched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor, SelectiveAccess
from metertwin.cosem.access import (
    AssociationContext,
    AssociationPolicy,
    AttributeAccess,
    MethodAccess,
    ObjectRights,
)
from metertwin.cosem.backend import (
    AssociationRefusal,
    InvocationCounters,
    LoginResult,
    PolicyCounters,
    SecurityBackend,
    SecurityEvent,
    SecurityMaterial,
    bound_counters,
)
from metertwin.cosem.classes import AttributeSpec
from metertwin.cosem.errors import CosemError, denied, undefined
from metertwin.cosem.objects import CosemObject, Getter, Request

log = logging.getLogger(__name__)

Login = Callable[[AssociationPolicy, bytes | None], LoginResult]
Refused = Callable[[AssociationRefusal], None]
Readers = tuple[int, dict[int, Getter]]
"""What one association may read of one object without selective access: the object's
class id and the getters of its readable attributes, by attribute index."""


class LogicalDevice:
    """Objects by logical name plus the association policies, with hooks into the meter:
    ``login`` (secrets and lockout live in the core), ``refused`` (an association the server
    refused, for the communication log; optional), ``commit`` (called after every login,
    refusal heard, successful SET and ACTION, before the answer exists) and ``security``
    (the Security setups of its HLS associations: it is then a `SecurityBackend`; without
    it no material exists and every HLS association is refused).

    The objects, their bindings and each policy's rights are fixed once the device is built
    (the values behind them change, not which attribute is readable by whom): a GET without
    selective access of an attribute the association may read is answered from
    :meth:`_readers_of`, remembered on its first success, without repeating the checks.
    """

    def __init__(
        self,
        objects: Iterable[CosemObject],
        policies: Iterable[AssociationPolicy],
        login: Login,
        commit: Callable[[], None],
        refused: Refused | None = None,
        security: SecurityBackend | None = None,
    ) -> None:
        self.objects: dict[Obis, CosemObject] = {}
        for obj in objects:
            if obj.logical_name in self.objects:
                raise ValueError(f"two objects named {obj.logical_name}")
            self.objects[obj.logical_name] = obj
        self.policies = {p.client_sap: p for p in policies}
        self._login = login
        self._commit = commit
        self._refused = refused
        self._security = security
        self.open_associations: list[AssociationContext] = []
        # id(policy) -> the policy (kept alive, so the id stays its own) and its Readers by name
        # by policy, then by the object's six octets (hashed in C, unlike an Obis)
        self._readers: dict[int, tuple[AssociationPolicy, dict[bytes, Readers]]] = {}
        self._plain_request: Request | None = None  # the last context's Request(context)

    # -- associations -------------------------------------------------------------------

    def association_policy(self, client_sap: int) -> AssociationPolicy | None:
        return self.policies.get(client_sap)

    def login(self, policy: AssociationPolicy, secret: bytes | None) -> LoginResult:
        result = self._login(policy, secret)
        self._commit()  # failure counters and lockouts survive a restart
        return result

    def association_refused(self, refusal: AssociationRefusal) -> None:
        """The server refused an AARQ by itself (`RefusalListener`): the meter logs it."""
        if self._refused is not None:
            self._refused(refusal)
            self._commit()

    def associated(self, context: AssociationContext) -> None:
        self.open_associations.append(context)

    def released(self, context: AssociationContext) -> None:
        if context in self.open_associations:
            self.open_associations.remove(context)
        if context.policy.security_setup is not None:
            self._commit()  # the receive counters it accepted survive a restart

    # -- SecurityBackend: the Security setups' material, HLS lockout and counters ---------

    def security_material(self, policy: AssociationPolicy) -> SecurityMaterial | None:
        return None if self._security is None else self._security.security_material(policy)

    def hls_allowed(self, policy: AssociationPolicy) -> LoginResult:
        if self._security is None:
            return LoginResult.LOCKED
        return self._security.hls_allowed(policy)

    def hls_verified(self, policy: AssociationPolicy, passed: bool) -> LoginResult:
        if self._security is None:
            return LoginResult.LOCKED
        return self._security.hls_verified(policy, passed)

    def invocation_counters(self, policy: AssociationPolicy) -> InvocationCounters:
        """The setup's counters, bound by its backend (`CounterBinder`)."""
        if self._security is None:
            return PolicyCounters(self, policy)
        return bound_counters(self._security, policy)

    def next_invocation_counter(self, policy: AssociationPolicy) -> int:
        if self._security is None:
            raise KeyError(f"association {policy.name} has no Security setup")
        return self._security.next_invocation_counter(policy)

    def accept_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes, counter: int
    ) -> bool:
        if self._security is None:
            return False
        return self._security.accept_invocation_counter(policy, client_system_title, counter)

    def last_invocation_counter(
        self, policy: AssociationPolicy, client_system_title: bytes
    ) -> int | None:
        if self._security is None:
            return None
        return self._security.last_invocation_counter(policy, client_system_title)

    def security_refused(self, policy: AssociationPolicy, event: SecurityEvent) -> None:
        if self._security is not None:
            self._security.security_refused(policy, event)

    # -- services -----------------------------------------------------------------------

    def _object(self, context: AssociationContext, class_id: int, name: Obis) -> CosemObject:
        obj = self.objects.get(name)
        if obj is None or name not in context.policy.rights:
            raise undefined(f"no object {name} in association {context.policy.name}")
        if obj.class_id != class_id:
            raise CosemError(
                DataAccessResult.OBJECT_CLASS_INCONSISTENT,
                f"{name} is class {obj.class_id}, not {class_id}",
            )
        return obj

    @staticmethod
    def _attribute_spec(obj: CosemObject, index: int) -> AttributeSpec:
        """The class's attribute ``index``: object-undefined if the class has none. One it
        has but this object or association does not serve is read-write-denied (the object
        list shows it as no access), never undefined."""
        spec = obj.interface.attribute(index)
        if spec is None:
            raise undefined(f"{obj.interface.name} has no attribute {index}")
        return spec

    def rights(self, context: AssociationContext, name: Obis) -> ObjectRights:
        return context.policy.rights.get(name, ObjectRights())

    def get(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
    ) -> Data:
        if access is None:
            getter = self._known_getter(context.policy, attribute)
            if getter is not None:
                request = self._plain_request
                if request is None or request.context is not context:
                    request = self._plain_request = Request(context)
                return getter(request)
        return self._checked_get(context, attribute, access)

    def plain_reader(
        self, context: AssociationContext, attribute: AttributeDescriptor
    ) -> Callable[[], Data] | None:
        """The getter :meth:`get` calls for ``attribute`` without selective access, bound
        to ``context`` (`PlainReaders`), once :meth:`_checked_get` has served it to this
        policy; None before. Every call reads the value afresh."""
        getter = self._known_getter(context.policy, attribute)
        if getter is None:
            return None
        return partial(getter, Request(context))

    def _known_getter(
        self, policy: AssociationPolicy, attribute: AttributeDescriptor
    ) -> Getter | None:
        """The getter of ``attribute`` remembered for ``policy`` (None: not remembered)."""
        known = self._readers.get(id(policy))
        if known is None:
            return None
        readers = known[1].get(attribute.instance.octets)
        if readers is None or readers[0] != attribute.class_id:
            return None
        return readers[1].get(attribute.attribute_id)

    def _readers_of(self, policy: AssociationPolicy) -> dict[bytes, Readers]:
        """The Readers of ``policy`` found so far; filled by :meth:`_checked_get`."""
        known = self._readers.get(id(policy))
        if known is None:
            known = self._readers[id(policy)] = (policy, {})
        return known[1]

    def _checked_get(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
    ) -> Data:
        """A GET with every check in the Blue Book order; remembers the object's Readers
        for the association once one attribute of it has been read."""
        obj = self._object(context, attribute.class_id, attribute.instance)
        spec = self._attribute_spec(obj, attribute.attribute_id)
        binding = obj.attributes.get(attribute.attribute_id)
        mode = self.rights(context, obj.logical_name).attribute(attribute.attribute_id)
        if binding is None or binding.get is None or not mode.readable:
            raise denied(f"attribute {attribute.attribute_id} of {obj.logical_name} not readable")
        if access is not None and access.selector not in spec.selectors:
            raise CosemError(DataAccessResult.OTHER_REASON, "selective access not supported")
        readers = self._readers_of(context.policy)
        if obj.logical_name not in readers:
            readers[obj.logical_name.octets] = (obj.class_id, self._getters(context.policy, obj))
        return binding.get(Request(context, access))

    @staticmethod
    def _getters(policy: AssociationPolicy, obj: CosemObject) -> dict[int, Getter]:
        """The getters of every attribute of ``obj`` that ``policy`` may read (an object it
        lists): the ones :meth:`_checked_get` would call without selective access."""
        rights = policy.rights[obj.logical_name]
        return {
            index: binding.get
            for index, binding in obj.attributes.items()
            if binding.get is not None
            and obj.interface.attribute(index) is not None
            and rights.attribute(index).readable
        }

    def set(
        self,
        context: AssociationContext,
        attribute: AttributeDescriptor,
        access: SelectiveAccess | None,
        value: Data,
    ) -> None:
        obj = self._object(context, attribute.class_id, attribute.instance)
        self._attribute_spec(obj, attribute.attribute_id)
        binding = obj.attributes.get(attribute.attribute_id)
        mode = self.rights(context, obj.logical_name).attribute(attribute.attribute_id)
        if binding is None or binding.set is None or not mode.writable:
            raise denied(f"attribute {attribute.attribute_id} of {obj.logical_name} not writable")
        if access is not None:
            raise CosemError(DataAccessResult.OTHER_REASON, "selective access not supported")
        binding.set(Request(context), value)
        self._commit()

    def action(
        self,
        context: AssociationContext,
        method: MethodDescriptor,
        parameters: Data | None,
    ) -> Data | None:
        obj = self._object(context, method.class_id, method.instance)
        if obj.interface.method(method.method_id) is None:
            raise undefined(f"{obj.interface.name} has no method {method.method_id}")
        implementation = obj.methods.get(method.method_id)
        mode = self.rights(context, obj.logical_name).method(method.method_id)
        if implementation is None or mode is MethodAccess.NO_ACCESS:
            raise denied(f"method {method.method_id} of {obj.logical_name} not allowed")
        result = implementation(Request(context), parameters)
        self._commit()
        return result


def full_rights(obj: CosemObject, *, write: bool, methods: bool) -> ObjectRights:
    """Rights an association gets on ``obj``: read everything readable, write what the
    binding can write (when ``write``), invoke the methods (when ``methods``)."""
    attributes: dict[int, AttributeAccess] = {}
    for index, binding in obj.attributes.items():
        readable = binding.get is not None
        writable = write and binding.set is not None
        if readable and writable:
            attributes[index] = AttributeAccess.READ_WRITE
        elif writable:
            attributes[index] = AttributeAccess.WRITE_ONLY
        elif readable:
            attributes[index] = AttributeAccess.READ_ONLY
    method_rights = {i: MethodAccess.ACCESS for i in obj.methods} if methods else {}
    return ObjectRights(attributes, method_rights)
