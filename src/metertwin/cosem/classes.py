"""COSEM interface classes declared as data: attributes and methods, by class id.

Definitions follow reference/dlms.md section 6 (Blue Book attributes as agreed by the public
implementations it cites). The protocol code only looks things up here; what an attribute
*means* for a given object is bound in `metertwin.models.binder`. Classes 8192-8196 are
metertwin's definitions of the MeterCom PRO manufacturer classes (seed 004), documented in
docs/dlms.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttributeSpec:
    index: int
    name: str
    static: bool = False  # configuration (changes rarely) rather than a measured value
    selectors: tuple[int, ...] = ()  # selective access selectors accepted (profile buffer)


@dataclass(frozen=True)
class MethodSpec:
    index: int
    name: str


@dataclass(frozen=True)
class InterfaceClass:
    class_id: int
    version: int
    name: str
    attributes: tuple[AttributeSpec, ...]
    methods: tuple[MethodSpec, ...] = ()

    def attribute(self, index: int) -> AttributeSpec | None:
        for spec in self.attributes:
            if spec.index == index:
                return spec
        return None

    def method(self, index: int) -> MethodSpec | None:
        for spec in self.methods:
            if spec.index == index:
                return spec
        return None

    def attribute_index(self, name: str) -> int:
        for spec in self.attributes:
            if spec.name == name:
                return spec.index
        raise KeyError(f"class {self.name} has no attribute {name!r}")


def _cls(
    class_id: int,
    version: int,
    name: str,
    attributes: str,
    methods: str = "",
    static: str = "",
    selective: dict[str, tuple[int, ...]] | None = None,
) -> InterfaceClass:
    """Attributes 2.. and methods 1.. as space-separated names (attribute 1 is always
    logical_name, static)."""
    statics = set(static.split())
    selective = selective or {}
    attrs = [AttributeSpec(1, "logical_name", static=True)]
    attrs += [
        AttributeSpec(i, n, n in statics, selective.get(n, ()))
        for i, n in enumerate(attributes.split(), start=2)
    ]
    meths = tuple(MethodSpec(i, n) for i, n in enumerate(methods.split(), start=1))
    return InterfaceClass(class_id, version, name, tuple(attrs), meths)


_ALL = [
    _cls(1, 0, "Data", "value"),
    _cls(3, 0, "Register", "value scaler_unit", "reset", static="scaler_unit"),
    _cls(
        4,
        0,
        "Extended register",
        "value scaler_unit status capture_time",
        "reset",
        static="scaler_unit",
    ),
    _cls(
        5,
        0,
        "Demand register",
        "current_average_value last_average_value scaler_unit status capture_time "
        "start_time_current period number_of_periods",
        "reset next_period",
        static="scaler_unit period number_of_periods",
    ),
    _cls(
        7,
        1,
        "Profile generic",
        "buffer capture_objects capture_period sort_method sort_object entries_in_use "
        "profile_entries",
        "reset capture",
        static="capture_objects capture_period sort_method sort_object profile_entries",
        selective={"buffer": (1, 2)},
    ),
    _cls(
        8,
        0,
        "Clock",
        "time time_zone status daylight_savings_begin daylight_savings_end "
        "daylight_savings_deviation daylight_savings_enabled clock_base",
        "adjust_to_quarter adjust_to_measuring_period adjust_to_minute adjust_to_preset_time "
        "preset_adjusting_time shift_time",
        static="time_zone daylight_savings_begin daylight_savings_end "
        "daylight_savings_deviation daylight_savings_enabled clock_base",
    ),
    _cls(9, 0, "Script table", "scripts", "execute", static="scripts"),
    _cls(11, 0, "Special days table", "entries", "insert delete", static="entries"),
    _cls(
        15,
        1,
        "Association LN",
        "object_list associated_partners_id application_context_name xdlms_context_info "
        "authentication_mechanism_name secret association_status security_setup_reference",
        "reply_to_hls_authentication change_hls_secret add_object remove_object",
        static="object_list associated_partners_id application_context_name "
        "xdlms_context_info authentication_mechanism_name secret security_setup_reference",
    ),
    _cls(
        17,
        0,
        "SAP assignment",
        "sap_assignment_list",
        "connect_logical_device",
        static="sap_assignment_list",
    ),
    _cls(
        20,
        0,
        "Activity calendar",
        "calendar_name_active season_profile_active week_profile_table_active "
        "day_profile_table_active calendar_name_passive season_profile_passive "
        "week_profile_table_passive day_profile_table_passive activate_passive_calendar_time",
        "activate_passive_calendar",
        static="calendar_name_active season_profile_active week_profile_table_active "
        "day_profile_table_active calendar_name_passive season_profile_passive "
        "week_profile_table_passive day_profile_table_passive activate_passive_calendar_time",
    ),
    _cls(
        21,
        0,
        "Register monitor",
        "thresholds monitored_value actions",
        static="thresholds monitored_value actions",
    ),
    _cls(
        18,
        0,
        "Image transfer",
        "image_block_size image_transferred_blocks_status "
        "image_first_not_transferred_block_number image_transfer_enabled "
        "image_transfer_status image_to_activate_info",
        "image_transfer_initiate image_block_transfer image_verify image_activate",
        static="image_block_size",
    ),
    _cls(
        22,
        0,
        "Single action schedule",
        "executed_script type execution_time",
        static="executed_script type execution_time",
    ),
    _cls(
        23,
        1,
        "IEC HDLC setup",
        "comm_speed window_size_transmit window_size_receive max_info_field_length_transmit "
        "max_info_field_length_receive inter_octet_time_out inactivity_time_out device_address",
        static="comm_speed window_size_transmit window_size_receive "
        "max_info_field_length_transmit max_info_field_length_receive inter_octet_time_out "
        "inactivity_time_out device_address",
    ),
    _cls(
        41,
        0,
        "TCP-UDP setup",
        "tcp_udp_port ip_reference mss nb_of_sim_conn inactivity_time_out",
        static="tcp_udp_port ip_reference mss nb_of_sim_conn inactivity_time_out",
    ),
    _cls(
        42,
        0,
        "IPv4 setup",
        "dl_reference ip_address multicast_ip_address ip_options subnet_mask "
        "gateway_ip_address use_dhcp_flag primary_dns_address secondary_dns_address",
        "add_mc_ip_address delete_mc_ip_address get_nbof_mc_ip_addresses",
        static="dl_reference multicast_ip_address ip_options subnet_mask gateway_ip_address "
        "use_dhcp_flag primary_dns_address secondary_dns_address",
    ),
    _cls(43, 0, "MAC address setup", "mac_address", static="mac_address"),
    _cls(
        44,
        0,
        "PPP setup",
        "phy_reference lcp_options ipcp_options ppp_authentication",
        static="phy_reference lcp_options ipcp_options ppp_authentication",
    ),
    _cls(
        45,
        0,
        "GPRS modem setup",
        "apn pin_code quality_of_service",
        static="apn pin_code quality_of_service",
    ),
    _cls(
        47,
        1,
        "GSM diagnostic",
        "operator status cs_attachment ps_status cell_info adjacent_cells capture_time",
    ),
    _cls(
        65,
        0,
        "Parameter monitor",
        "changed_parameter capture_time parameter_list",
        "add_parameter delete_parameter",
        static="parameter_list",
    ),
    # Blue Book 4.4.7, version 0: security_policy 0 = no security; no method is offered.
    _cls(
        64,
        0,
        "Security setup",
        "security_policy security_suite client_system_title server_system_title",
        "security_activate global_key_transfer",
        static="security_suite server_system_title",
    ),
    _cls(
        70,
        0,
        "Disconnect control",
        "output_state control_state control_mode",
        "remote_disconnect remote_reconnect",
        static="control_mode",
    ),
    _cls(
        71,
        0,
        "Limiter",
        "monitored_value threshold_active threshold_normal threshold_emergency "
        "min_over_threshold_duration min_under_threshold_duration emergency_profile "
        "emergency_profile_group_id_list emergency_profile_active actions",
        static="monitored_value threshold_normal threshold_emergency "
        "min_over_threshold_duration min_under_threshold_duration emergency_profile "
        "emergency_profile_group_id_list actions",
    ),
    # Payment metering (Blue Book 4.6): Account, Credit, Charge, Token gateway.
    _cls(
        111,
        0,
        "Account",
        "account_mode_and_status current_credit_in_use current_credit_status available_credit "
        "amount_to_clear clearance_threshold aggregated_debt credit_reference_list "
        "charge_reference_list credit_charge_configuration token_gateway_configuration "
        "account_activation_time account_closure_time currency low_credit_threshold "
        "next_credit_available_threshold max_provision max_provision_period",
        "activate_account close_account reset_account",
        static="clearance_threshold credit_reference_list charge_reference_list "
        "credit_charge_configuration token_gateway_configuration account_activation_time "
        "account_closure_time currency max_provision max_provision_period",
    ),
    _cls(
        112,
        0,
        "Credit",
        "current_credit_amount credit_type priority warning_threshold limit "
        "credit_configuration credit_status preset_credit_amount credit_available_threshold "
        "period",
        "update_amount set_amount_to_value invoke_credit",
        static="credit_type priority warning_threshold limit credit_configuration "
        "preset_credit_amount credit_available_threshold period",
    ),
    _cls(
        113,
        0,
        "Charge",
        "total_amount_paid charge_type priority unit_charge_active unit_charge_passive "
        "unit_charge_activation_time period charge_configuration last_collection_time "
        "last_collection_amount total_amount_remaining proportion",
        "update_unit_charge activate_passive_unit_charge collect update_total_amount_remaining "
        "set_total_amount_remaining",
        static="charge_type priority unit_charge_active unit_charge_passive "
        "unit_charge_activation_time period charge_configuration proportion",
    ),
    _cls(
        115,
        0,
        "Token gateway",
        "token token_time token_description token_delivery_method token_status",
        "enter",
    ),
    # MeterCom PRO manufacturer classes (seed 004), metertwin's definitions (docs/dlms.md).
    _cls(
        8192,
        0,
        "Wireless M-Bus collector",
        "enabled mode max_meters min_interval installed_meters buffer_entries meter_list "
        "buffer buffer_capacity telegram_counters",
        "clear_buffer delete_entries add_meter remove_meter",
        static="enabled mode max_meters min_interval meter_list buffer_capacity",
        selective={"buffer": (2,)},
    ),
    _cls(
        8193,
        0,
        "Relay output configuration",
        "output_state control_source pulse_length calendar_script",
        "switch_on switch_off",
        static="control_source pulse_length calendar_script",
    ),
    _cls(
        8194,
        0,
        "Tariffication rate configuration",
        "rate_count active_rate rate_names",
        static="rate_count rate_names",
    ),
    _cls(
        8195,
        0,
        "TCP client connection configuration",
        "server_address server_port call_interval retry_interval retries",
        "connect_now",
        static="server_address server_port call_interval retry_interval retries",
    ),
    _cls(
        8196,
        0,
        "MCP configuration",
        "bus_address bus_speed attached_meters polling_interval",
        static="bus_address bus_speed polling_interval",
    ),
]

INTERFACE_CLASSES: dict[int, InterfaceClass] = {c.class_id: c for c in _ALL}


def interface_class(class_id: int) -> InterfaceClass:
    try:
        return INTERFACE_CLASSES[class_id]
    except KeyError:
        raise KeyError(f"interface class {class_id} is not implemented") from None
