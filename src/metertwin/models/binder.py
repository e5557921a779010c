"""The binder: builds a meter's logical device (COSEM objects) over its core.

Every attribute is a view of core state (architecture principle 2). An object's meaning
comes from its OBIS code and class (`objects_catalog`); configuration-only attributes that
the core does not interpret (communication setups, monitor thresholds, manufacturer
settings) live in the core's parameter memory with typed defaults, so a SET persists and a
GET always answers a well-typed value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from importlib import resources

from metertwin.codec.axdr import Data, DataType, decode, encode
from metertwin.codec.enums import AuthenticationMechanism, DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.access import AssociationContext, AssociationPolicy, ObjectRights
from metertwin.cosem.backend import AssociationRefusal, LoginResult
from metertwin.cosem.classes import interface_class
from metertwin.cosem.device import LogicalDevice, full_rights
from metertwin.cosem.errors import CosemError, denied, type_unmatched
from metertwin.cosem.objects import Binding, CosemObject, Method, Request
from metertwin.dlms.capabilities import IMPLEMENTED_CONFORMANCE
from metertwin.meter.core import Meter
from metertwin.meter.disconnect import RelayStuck, Transition, TransitionNotAllowed
from metertwin.meter.events import EventCode
from metertwin.meter.security import LoginOutcome
from metertwin.meter.supervision import ScriptAction, SupervisorConfig
from metertwin.models import objects_catalog as catalog
from metertwin.models.acting_settings import act_on_settings
from metertwin.models.associations import (
    CURRENT_ASSOCIATION,
    AssociationObjects,
    association_rights,
    security_setup,
    system_title,
)
from metertwin.models.calendar_objects import activity_calendar, special_days_table
from metertwin.models.clock_object import clock_object
from metertwin.models.demand_objects import demand_quantity, demand_register, maximum_demand
from metertwin.models.firmware_download_objects import download_object
from metertwin.models.firmware_objects import IMAGE_TRANSFER, image_transfer
from metertwin.models.hdlc_setup_object import HDLC_SETUP, HdlcPort, install_hdlc_setup
from metertwin.models.io_objects import BATTERY_USE_TIME
from metertwin.models.loader import AssociationSpec, DeviceModel
from metertwin.models.prepayment_objects import prepayment_object
from metertwin.models.profile_objects import (
    CaptureKey,
    MemoryProfiles,
    ProfileSource,
    capturable_channels,
    profile_object,
)
from metertwin.models.record_objects import record_object
from metertwin.models.schedule_objects import BILLING_SCHEDULE, billing_schedule, install_schedule
from metertwin.models.security_setup import SecuritySetups, setup_name
from metertwin.models.supervision_objects import limiter_config, monitor_configs
from metertwin.models.values import integer, items, same_shape, scaler_unit
from metertwin.models.wmbus_collector import WmbusCollector, has_wmbus
from metertwin.models.wmbus_objects import install_wmbus_collector

SERVER_CONFORMANCE = IMPLEMENTED_CONFORMANCE
"""Each association offers all the server implements (policies could offer less)."""

_MECHANISMS = {
    "none": AuthenticationMechanism.LOWEST,
    "lls": AuthenticationMechanism.LOW,
    "hls-gmac": AuthenticationMechanism.HIGH_GMAC,
    "hls-ecdsa": AuthenticationMechanism.HIGH_ECDSA,
}
DISCONNECT_SCRIPTS = Obis(0, 0, 10, 0, 106)
DISCONNECT_CONTROL = Obis(0, 0, 96, 3, 10)
BILLING_SCRIPTS = Obis(0, 0, 10, 0, 1)
LIMITER = Obis(0, 0, 17, 0, 0)
NO_ACTION = ScriptAction.NONE


def build_logical_device(
    model: DeviceModel,
    meter: Meter,
    commit: Callable[[], None],
    profiles: ProfileSource | None = None,
    hdlc_port: HdlcPort | None = None,
) -> LogicalDevice:
    """The logical device of ``meter`` (of type ``model``); ``commit`` makes a change durable;
    ``profiles`` reads stored profile entries (default: kept in RAM, for use without storage);
    ``hdlc_port`` is what class 23 shows and sets (default: the Green Book's values and the
    address from the serial)."""
    holder: list[LogicalDevice] = []

    def all_objects() -> dict[Obis, CosemObject]:
        return holder[0].objects

    binder = _Binder(model, meter, profiles or MemoryProfiles(meter), commit, all_objects)
    binder.hdlc_port = hdlc_port or binder.hdlc_port
    objects = binder.objects()

    def open_contexts() -> list[AssociationContext]:
        return holder[0].open_associations

    policies = [
        binder.policy(index, spec, objects)
        for index, spec in enumerate(model.dlms.associations, start=1)
    ]
    associations = AssociationObjects(meter, model.dlms.server_sap, all_objects, open_contexts)
    association_objects = associations.build(policies)
    for policy, spec in zip(policies, model.dlms.associations, strict=True):
        for obj in association_objects:
            rights = association_rights(spec.rights, obj.logical_name, policy.logical_name)
            if rights is not None:
                policy.rights[obj.logical_name] = rights
    keys = model.spec.security.dlms_keys
    setups = SecuritySetups(meter, binder.system_title(), keys.client_public_key, commit)
    security_objects = []
    for secured in (p for p in policies if p.security_setup is not None):
        setup, counter = setups.objects(secured)
        security_objects += [setup, counter]
        for policy, spec in zip(policies, model.dlms.associations, strict=True):
            policy.rights[counter.logical_name] = full_rights(counter, write=False, methods=False)
            if policy is secured or spec.rights == "management":
                methods = policy is secured  # keys and policy only through the setup's own HLS
                policy.rights[setup.logical_name] = full_rights(setup, write=False, methods=methods)
    device = LogicalDevice(
        objects + association_objects + security_objects,
        policies,
        binder.login,
        commit,
        binder.refused,
        setups,
    )
    holder.append(device)
    return device


class _Binder:
    def __init__(
        self,
        model: DeviceModel,
        meter: Meter,
        profiles: ProfileSource,
        commit: Callable[[], None],
        all_objects: Callable[[], dict[Obis, CosemObject]],
    ) -> None:
        self.model = model
        self.meter = meter
        self.profiles = profiles
        self.commit = commit
        self.all_objects = all_objects  # the logical device's, once it is built
        self.hdlc_port = HdlcPort(meter)
        self.profile_specs = {Obis.parse(spec.name): spec for spec in meter.spec.profiles}
        self._capturable: dict[CaptureKey, str] | None = None

    # -- associations ---------------------------------------------------------------------

    def policy(
        self, index: int, spec: AssociationSpec, objects: list[CosemObject]
    ) -> AssociationPolicy:
        manage = spec.rights in ("utility", "management")
        rights: dict[Obis, ObjectRights] = {
            obj.logical_name: full_rights(obj, write=manage, methods=manage)
            for obj in objects
            if spec.rights != "public" or obj.public
        }
        logical_name = Obis(0, 0, 40, 0, index)
        return AssociationPolicy(
            name=spec.name,
            logical_name=logical_name,
            client_sap=spec.client_sap,
            mechanism=_MECHANISMS[spec.mechanism],
            conformance=SERVER_CONFORMANCE,
            rights=rights,
            security_setup=None if spec.suite is None else setup_name(logical_name),
        )

    def system_title(self) -> bytes:
        """The server system title: ``[dlms] system_title``, else the logical device
        name's 3 manufacturer letters and the serial (docs/dlms.md)."""
        configured = self.model.spec.security.dlms_keys.system_title
        if configured is not None:
            return configured
        letters = catalog.logical_device_name(self.model, self.meter)[:3]
        return system_title(letters, self.meter.serial_number)

    def login(self, policy: AssociationPolicy, secret: bytes | None) -> LoginResult:
        if policy.mechanism is AuthenticationMechanism.LOWEST:
            return LoginResult.ACCEPTED
        if secret is None:
            return LoginResult.SECRET_REQUIRED
        outcome = self.meter.login(policy.name, secret)
        return {
            LoginOutcome.ACCEPTED: LoginResult.ACCEPTED,
            LoginOutcome.WRONG_SECRET: LoginResult.WRONG_SECRET,
            LoginOutcome.LOCKED: LoginResult.LOCKED,
        }[outcome]

    def refused(self, _refusal: AssociationRefusal) -> None:
        """An AARQ refused for a reason other than its secret (unknown client SAP, wrong
        mechanism, unsupported context, a bad InitiateRequest...): event 222."""
        self.meter.log_communication(EventCode.ASSOCIATION_REFUSED)

    # -- objects --------------------------------------------------------------------------

    def objects(self) -> list[CosemObject]:
        built = []
        for obis, class_id, description in self._catalogue():
            if class_id == 15 or obis == CURRENT_ASSOCIATION:
                continue  # association objects are built with the policies
            obj = self._object(obis, class_id, description)
            obj.description = description
            obj.public = catalog.is_public(obis, class_id)
            built.append(obj)
        return built

    def _catalogue(self) -> list[tuple[Obis, int, str]]:
        source = self.model.dlms.objects
        if source == "standard":
            return catalog.standard_objects(self.model.spec)
        text = (resources.files("metertwin.models") / "data" / source).read_text("utf-8")
        return [
            (catalog.csv_obis(row["obis"]), int(row["class_id"]), row["description"])
            for row in csv.DictReader(io.StringIO(text))
        ]

    def _object(self, obis: Obis, class_id: int, description: str) -> CosemObject:
        meter = self.meter
        if (prepaid := prepayment_object(obis, class_id, meter)) is not None:
            return prepaid
        if class_id == 1 and (record := record_object(obis, meter)) is not None:
            return record
        if class_id == 8:
            return clock_object(obis, meter)
        if class_id == 20:
            return activity_calendar(obis, meter)
        if class_id == 11:
            return special_days_table(obis, meter)
        if class_id == 70:
            return self._disconnect_control(obis)
        if class_id == 64:
            return security_setup(obis, self.system_title())
        if class_id == 7 and obis in self.profile_specs:
            spec = self.profile_specs[obis]
            programmable = 60 <= spec.period_s <= 3600  # the load profiles (docs/dlms.md)
            return profile_object(
                obis,
                spec,
                meter,
                self.profiles,
                self.commit,
                self._capture_channel if programmable else None,
            )
        quantity = demand_quantity(obis)
        if class_id == 5 and quantity is not None and obis.d == 4:
            return demand_register(obis, quantity, meter)
        if (
            class_id == 4
            and quantity is not None
            and obis.d == 6
            and obis.e <= meter.spec.capacity.rates
        ):
            return maximum_demand(obis, quantity, meter)
        if class_id == 9 and obis == DISCONNECT_SCRIPTS:
            return self._disconnect_scripts(obis)
        if class_id == 9 and obis == BILLING_SCRIPTS:
            return self._billing_scripts(obis)
        if class_id == 18 and obis == IMAGE_TRANSFER:
            return image_transfer(obis, meter)
        if class_id == 1 and (download := download_object(obis, meter)) is not None:
            return download
        if class_id == 22 and obis == BILLING_SCHEDULE:
            return billing_schedule(obis, meter)
        if class_id == 3 and (register := catalog.register_binding(obis, meter)) is not None:
            value, scaler, unit = register
            unit_data = scaler_unit(scaler, unit)
            counted = catalog.tamper_counter(obis)
            resets = {} if counted is None else {1: self._counter_reset(counted)}
            if obis == BATTERY_USE_TIME:
                resets = {1: self._battery_fitted()}
            return CosemObject(
                interface_class(3),
                obis,
                {
                    2: Binding(get=lambda _r: value()),
                    3: Binding(get=lambda _r: unit_data),
                },
                resets,
            )
        if class_id == 17:  # a view of the logical device name, not a setting
            listed = Binding(get=lambda _r: catalog.sap_assignment_list(self.model, meter))
            return CosemObject(interface_class(17), obis, {2: listed})
        if class_id == 1 and (data := catalog.data_binding(obis, self.model, meter)) is not None:
            return CosemObject(interface_class(1), obis, {2: data})
        return self._parameters(obis, class_id, description)

    def _capture_channel(self, definition: Data) -> str:
        """The channel a capture_object_definition written to a load profile names:
        type-unmatched for a value of another shape, object-undefined for an object this
        logical device does not have or an attribute its class lacks, other-reason for
        one the meter cannot capture (not a value it samples, not readable, a data_index)."""
        fields = items(definition, 4)
        class_id = integer(fields[0], DataType.LONG_UNSIGNED)
        if fields[1].type is not DataType.OCTET_STRING or len(fields[1].as_bytes()) != 6:
            raise type_unmatched("a logical name is an octet-string of 6")
        name = fields[1].as_bytes()
        attribute = integer(fields[2], DataType.INTEGER)
        data_index = integer(fields[3], DataType.LONG_UNSIGNED)
        obj = self.all_objects().get(Obis.from_bytes(name))
        if obj is None or obj.class_id != class_id or obj.interface.attribute(attribute) is None:
            raise CosemError(
                DataAccessResult.OBJECT_UNDEFINED, f"no attribute {attribute} of {name.hex()}"
            )
        if self._capturable is None:
            self._capturable = capturable_channels(self.meter)
        channel = self._capturable.get((class_id, name, attribute))
        if channel is None or data_index != 0:
            raise CosemError(
                DataAccessResult.OTHER_REASON,
                f"attribute {attribute} of {obj.logical_name} cannot be captured",
            )
        return channel

    def _counter_reset(self, counted: EventCode) -> Method:
        """Register class 3 method 1 of a counter: it reads 0 until the event recurs. Energy
        and instantaneous registers have no reset (read-write-denied)."""

        def reset(_request: Request, _parameters: Data | None) -> Data | None:
            self.meter.reset_counter(counted)
            return None

        return reset

    def _battery_fitted(self) -> Method:
        """Method 1 (reset) of the battery use time counter: the technician tells the meter
        a new battery is fitted, as the ``battery_replaced`` input does (docs/dlms.md)."""

        def reset(_request: Request, _parameters: Data | None) -> Data | None:
            if self.meter.battery is not None:
                self.meter.battery.replace(self.meter.now_ms)
            return None

        return reset

    def _operate(self, kind: Transition) -> None:
        try:
            self.meter.operate_relay(kind)
        except RelayStuck as exc:  # the relay answers that it could not move
            raise CosemError(DataAccessResult.HARDWARE_FAULT, str(exc)) from None
        except TransitionNotAllowed as exc:
            raise denied(str(exc)) from None

    def _disconnect_control(self, obis: Obis) -> CosemObject:
        control = self.meter.disconnect

        def transition(kind: Transition) -> Method:
            def invoke(_request: Request, parameters: Data | None) -> Data | None:
                if parameters is not None and parameters.type is not DataType.INTEGER:
                    raise type_unmatched("the method takes integer 0")
                self._operate(kind)
                return None

            return invoke

        def set_mode(_request: Request, value: Data) -> None:
            mode = integer(value, DataType.ENUM)
            if not 0 <= mode <= 6:
                raise type_unmatched("control_mode is an enum 0..6")
            control.control_mode = mode

        return CosemObject(
            interface_class(70),
            obis,
            {
                2: Binding(get=lambda _r: Data.boolean(control.output_state)),
                3: Binding(get=lambda _r: Data.enum(int(control.state))),
                4: Binding(get=lambda _r: Data.enum(control.control_mode), set=set_mode),
            },
            {
                1: transition(Transition.REMOTE_DISCONNECT),
                2: transition(Transition.REMOTE_RECONNECT),
            },
        )

    def _disconnect_scripts(self, obis: Obis) -> CosemObject:
        """Script 1 disconnects, script 2 reconnects (the limiter's and register monitors'
        actions point here)."""

        def script(identifier: int, method: int) -> Data:
            action = Data.structure(
                [
                    Data.enum(2),
                    Data.long_unsigned(70),
                    Data.octet_string(bytes(DISCONNECT_CONTROL)),
                    Data.integer(method),
                    Data.integer(0),
                ]
            )
            return Data.structure([Data.long_unsigned(identifier), Data.array([action])])

        scripts = Data.array([script(1, 1), script(2, 2)])

        def execute(_request: Request, parameters: Data | None) -> Data | None:
            if parameters is None:
                raise type_unmatched("execute takes a script identifier")
            identifier = integer(parameters, DataType.LONG_UNSIGNED)
            kinds = {1: Transition.REMOTE_DISCONNECT, 2: Transition.REMOTE_RECONNECT}
            if identifier not in kinds:
                raise CosemError(DataAccessResult.OBJECT_UNAVAILABLE, f"no script {identifier}")
            self._operate(kinds[identifier])
            return None

        return CosemObject(
            interface_class(9), obis, {2: Binding(get=lambda _r: scripts)}, {1: execute}
        )

    def _billing_scripts(self, obis: Obis) -> CosemObject:
        """Script 1 ends the billing period now (the head-end's billing reset)."""
        scripts = Data.array([Data.structure([Data.long_unsigned(1), Data.array([])])])

        def execute(_request: Request, parameters: Data | None) -> Data | None:
            if parameters is None or integer(parameters, DataType.LONG_UNSIGNED) != 1:
                raise CosemError(DataAccessResult.OBJECT_UNAVAILABLE, "only script 1 exists")
            self.meter.billing_reset()
            return None

        return CosemObject(
            interface_class(9), obis, {2: Binding(get=lambda _r: scripts)}, {1: execute}
        )

    def _power_limit(self) -> Binding:
        """The limiter's normal threshold (W) is the maximum power a token or the head-end
        sets (`Meter.power_limit_w`; 0: no limit)."""
        meter = self.meter

        def get(_request: Request) -> Data:
            return Data.double_long_unsigned(meter.power_limit_w or 0)

        def put(_request: Request, value: Data) -> None:
            watts = integer(value, DataType.DOUBLE_LONG_UNSIGNED)
            meter.set_power_limit(watts)

        return Binding(get=get, set=put)

    def _parameters(self, obis: Obis, class_id: int, description: str) -> CosemObject:
        """An object whose attributes are settings kept in parameter memory."""
        interface = interface_class(class_id)
        defaults = catalog.parameter_defaults(obis, class_id, self.model)
        meter = self.meter
        attributes: dict[int, Binding] = {}
        readers: dict[int, Callable[[], Data]] = {}
        for index, default in defaults.items():
            key = f"{obis}/{index}"

            def read(key: str = key, default: Data = default) -> Data:
                raw = meter.parameters.get(key)
                return default if raw is None else decode(raw)

            def get(_request: Request, read: Callable[[], Data] = read) -> Data:
                return read()

            readers[index] = read

            def put(
                _request: Request, value: Data, key: str = key, default: Data = default
            ) -> None:
                if not same_shape(default, value):
                    raise type_unmatched(f"{key} expects {default.type.name}")
                meter.parameters[key] = encode(value)

            writable = catalog.writable_parameter(class_id, index, description)
            attributes[index] = Binding(get=get, set=put if writable else None)
        follows = class_id == 71 and obis == LIMITER and self.meter.wallet is not None
        if follows:
            attributes[4] = self._power_limit()  # threshold_normal: the STS power limit token
            readers[4] = lambda: Data.double_long_unsigned(meter.power_limit_w or 0)
        if class_id in (21, 71):
            self._supervised(obis, class_id, attributes, readers, follows)
        if class_id == 22:
            install_schedule(obis, meter, attributes, readers)
        if class_id == 23 and obis == HDLC_SETUP:
            install_hdlc_setup(obis, self.hdlc_port, attributes)
        if class_id == 8193:  # output_state: the module relays signal the breaker
            attributes[2] = Binding(get=lambda _r: Data.boolean(meter.disconnect.output_state))
        if class_id == 8194:  # rate_count and active_rate are the tariff's, read-only
            rates = meter.spec.capacity.rates
            attributes[2] = Binding(get=lambda _r: Data.unsigned(rates))
            attributes[3] = Binding(get=lambda _r: Data.unsigned(meter.rate))
        methods: dict[int, Method] = {}  # only those that do something are advertised
        if class_id == 8192 and has_wmbus(self.model):
            collector = WmbusCollector(meter, self.model)
            methods = install_wmbus_collector(obis, collector, attributes)
        return CosemObject(interface, obis, attributes, methods)

    def _supervised(
        self,
        obis: Obis,
        class_id: int,
        attributes: dict[int, Binding],
        readers: dict[int, Callable[[], Data]],
        follows: bool,
    ) -> None:
        """A limiter or register monitor acts in the core: its settings become supervisors
        now and after every SET; a SET the meter could not act on is refused unstored."""
        meter = self.meter
        installed: list[str] = []

        def derive(values: dict[int, Data]) -> dict[str, SupervisorConfig]:
            if class_id == 71:
                return {str(obis): limiter_config(values, meter, follows)}
            configs = monitor_configs(values, meter)
            return {
                f"{obis}#{i}": config
                for i, config in enumerate(configs, start=1)
                if (config.action_over, config.action_under) != (NO_ACTION, NO_ACTION)
            }

        def install(configs: dict[str, SupervisorConfig]) -> None:
            for key in installed:
                if key not in configs:
                    meter.configure_supervisor(key, None)
            for key, config in configs.items():
                meter.configure_supervisor(key, config)
            installed[:] = list(configs)

        if class_id == 71:
            normal = attributes[4].get
            attributes[3] = Binding(get=normal)  # threshold_active: no emergency profile
        nothing: dict[str, SupervisorConfig] = {}
        act_on_settings(attributes, readers, derive, install, nothing)
