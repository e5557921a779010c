"""The A-XDR type of every attribute of every (class id, version) the four models serve.

Sources: the Blue Book (DLMS UA 1000-1) interface class definitions, as collected with their
public cross-checks in /work/shared/reference/dlms.md section 6 ("ref 6" below); for the
classes that sheet does not detail, the Blue Book clause of the class is named at its entry.
Classes 8192-8196 are metertwin's own (docs/dlms.md, "Manufacturer classes").

Null-data appears only where the standard makes it a choice (:data:`NULL` inside a
:class:`OneOf`): an object_list access_selectors without selective access, the PPP setup
without authentication, a parameter monitor before any parameter changed, a script action
without a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from metertwin.codec.axdr import Data, DataType

T = DataType


@dataclass(frozen=True)
class Octets:
    """octet-string, of exactly ``size`` octets when given (logical name 6, date-time 12,
    date 5, time 4)."""

    size: int | None = None


@dataclass(frozen=True)
class Struct:
    members: tuple[Layout, ...]


@dataclass(frozen=True)
class StructOf:
    """A structure of any number of elements, each of ``element`` (a profile buffer row)."""

    element: Layout


@dataclass(frozen=True)
class ArrayOf:
    element: Layout


@dataclass(frozen=True)
class OneOf:
    """A CHOICE: any one of ``choices``."""

    choices: tuple[Layout, ...]


@dataclass(frozen=True)
class Anything:
    """Any value with no null-data in it, at any depth (a Data object's value CHOICE)."""


Layout = DataType | Octets | Struct | StructOf | ArrayOf | OneOf | Anything

NULL = T.NULL_DATA
ANY = Anything()
LN = Octets(6)
DATE_TIME = Octets(12)
DATE = Octets(5)
TIME = Octets(4)
NUMBER = OneOf(
    (
        T.DOUBLE_LONG,
        T.DOUBLE_LONG_UNSIGNED,
        T.INTEGER,
        T.LONG,
        T.UNSIGNED,
        T.LONG_UNSIGNED,
        T.LONG64,
        T.LONG64_UNSIGNED,
        T.FLOAT32,
        T.FLOAT64,
    )
)
"""A register's value: the numeric CHOICEs of the Register class (ref 6, Register)."""
SIMPLE = OneOf(
    (*NUMBER.choices, T.BOOLEAN, T.BIT_STRING, Octets(), T.VISIBLE_STRING, T.UTF8_STRING, T.ENUM)
)
"""Any simple (not null, not constructed) type: a status, a threshold, a captured value."""


def struct(*members: Layout) -> Struct:
    return Struct(members)


SCALER_UNIT = struct(T.INTEGER, T.ENUM)
VALUE_DEFINITION = struct(T.LONG_UNSIGNED, LN, T.INTEGER)  # class_id, logical_name, attribute
CAPTURE_OBJECT = struct(T.LONG_UNSIGNED, LN, T.INTEGER, T.LONG_UNSIGNED)  # + data_index
SCRIPT = struct(LN, T.LONG_UNSIGNED)  # script_logical_name, script_selector
OID = struct(*(T.UNSIGNED, T.UNSIGNED, T.LONG_UNSIGNED), *(T.UNSIGNED,) * 4)
SEASONS = ArrayOf(struct(Octets(), DATE_TIME, Octets()))
WEEKS = ArrayOf(struct(Octets(), *(T.UNSIGNED,) * 7))
DAYS = ArrayOf(struct(T.UNSIGNED, ArrayOf(struct(TIME, LN, T.LONG_UNSIGNED))))
UNIT_CHARGE = struct(
    struct(T.INTEGER, T.INTEGER),  # charge_per_unit_scaling
    VALUE_DEFINITION,  # commodity: class_id, logical_name, attribute_index
    ArrayOf(struct(Octets(), T.LONG)),  # charge_tables: index, charge_per_unit
)
QOS = struct(*(T.UNSIGNED,) * 5)  # precedence, delay, reliability, peak, mean throughput
PPP_OPTIONS = ArrayOf(struct(T.UNSIGNED, T.UNSIGNED, SIMPLE))  # type, length, data
OBJECT_LIST = ArrayOf(
    struct(
        T.LONG_UNSIGNED,  # class_id
        T.UNSIGNED,  # version
        LN,
        struct(
            ArrayOf(struct(T.INTEGER, T.ENUM, OneOf((NULL, ArrayOf(T.INTEGER))))),
            ArrayOf(struct(T.INTEGER, T.ENUM)),
        ),
    )
)

LAYOUTS: dict[tuple[int, int], dict[int, Layout]] = {
    (1, 0): {2: ANY},  # Data (ref 6)
    (3, 0): {2: NUMBER, 3: SCALER_UNIT},  # Register (ref 6)
    (4, 0): {2: NUMBER, 3: SCALER_UNIT, 4: SIMPLE, 5: DATE_TIME},  # Extended register
    (5, 0): {  # Demand register (ref 6)
        2: NUMBER,
        3: NUMBER,
        4: SCALER_UNIT,
        5: SIMPLE,
        6: DATE_TIME,
        7: DATE_TIME,
        8: T.DOUBLE_LONG_UNSIGNED,
        9: T.LONG_UNSIGNED,
    },
    (7, 1): {  # Profile generic (ref 6)
        2: ArrayOf(StructOf(SIMPLE)),
        3: ArrayOf(CAPTURE_OBJECT),
        4: T.DOUBLE_LONG_UNSIGNED,
        5: T.ENUM,
        6: CAPTURE_OBJECT,
        7: T.DOUBLE_LONG_UNSIGNED,
        8: T.DOUBLE_LONG_UNSIGNED,
    },
    (8, 0): {  # Clock (ref 6)
        2: DATE_TIME,
        3: T.LONG,
        4: T.UNSIGNED,
        5: DATE_TIME,
        6: DATE_TIME,
        7: T.INTEGER,
        8: T.BOOLEAN,
        9: T.ENUM,
    },
    (9, 0): {  # Script table (ref 6)
        2: ArrayOf(
            struct(
                T.LONG_UNSIGNED,
                ArrayOf(struct(T.ENUM, T.LONG_UNSIGNED, LN, T.INTEGER, OneOf((SIMPLE, NULL)))),
            )
        )
    },
    (11, 0): {2: ArrayOf(struct(T.LONG_UNSIGNED, DATE, T.UNSIGNED))},  # Special days (ref 6)
    (15, 1): {  # Association LN (ref 6); 7 (secret) is write-only
        2: OBJECT_LIST,
        3: struct(T.INTEGER, T.LONG_UNSIGNED),
        4: OID,
        5: struct(T.BIT_STRING, T.LONG_UNSIGNED, T.LONG_UNSIGNED, T.UNSIGNED, T.INTEGER, Octets()),
        6: OID,
        7: Octets(),
        8: T.ENUM,
        9: LN,
    },
    (17, 0): {2: ArrayOf(struct(T.LONG_UNSIGNED, Octets()))},  # SAP assignment (ref 6)
    (20, 0): {  # Activity calendar (ref 6)
        2: Octets(),
        3: SEASONS,
        4: WEEKS,
        5: DAYS,
        6: Octets(),
        7: SEASONS,
        8: WEEKS,
        9: DAYS,
        10: DATE_TIME,
    },
    (21, 0): {  # Register monitor (ref 6)
        2: ArrayOf(SIMPLE),
        3: VALUE_DEFINITION,
        4: ArrayOf(struct(SCRIPT, SCRIPT)),
    },
    (18, 0): {  # Image transfer (Blue Book 4.4.6, class_id 18 version 0)
        2: T.DOUBLE_LONG_UNSIGNED,  # image_block_size
        3: T.BIT_STRING,  # image_transferred_blocks_status
        4: T.DOUBLE_LONG_UNSIGNED,  # image_first_not_transferred_block_number
        5: T.BOOLEAN,  # image_transfer_enabled
        6: T.ENUM,  # image_transfer_status
        7: ArrayOf(struct(T.DOUBLE_LONG_UNSIGNED, Octets(), Octets())),  # image_to_activate_info
    },
    (22, 0): {2: SCRIPT, 3: T.ENUM, 4: ArrayOf(struct(TIME, DATE))},  # Single action schedule
    (23, 1): {  # IEC HDLC setup (Blue Book, class_id 23 version 1)
        2: T.ENUM,  # comm_speed
        3: T.UNSIGNED,  # window_size_transmit
        4: T.UNSIGNED,  # window_size_receive
        5: T.LONG_UNSIGNED,  # max_info_field_length_transmit
        6: T.LONG_UNSIGNED,  # max_info_field_length_receive
        7: T.LONG_UNSIGNED,  # inter_octet_time_out
        8: T.LONG_UNSIGNED,  # inactivity_time_out
        9: T.LONG_UNSIGNED,  # device_address
    },
    (41, 0): {  # TCP-UDP setup (Blue Book, class_id 41 version 0)
        2: T.LONG_UNSIGNED,  # tcp_udp_port
        3: LN,  # ip_reference
        4: T.LONG_UNSIGNED,  # mss
        5: T.UNSIGNED,  # nb_of_sim_conn
        6: T.LONG_UNSIGNED,  # inactivity_time_out
    },
    (42, 0): {  # IPv4 setup (Blue Book, class_id 42 version 0)
        2: LN,  # dl_reference
        3: T.DOUBLE_LONG_UNSIGNED,  # ip_address
        4: ArrayOf(T.DOUBLE_LONG_UNSIGNED),  # multicast_ip_address
        5: ArrayOf(struct(T.UNSIGNED, T.UNSIGNED, Octets())),  # ip_options
        6: T.DOUBLE_LONG_UNSIGNED,  # subnet_mask
        7: T.DOUBLE_LONG_UNSIGNED,  # gateway_ip_address
        8: T.BOOLEAN,  # use_dhcp_flag
        9: T.DOUBLE_LONG_UNSIGNED,  # primary_dns_address
        10: T.DOUBLE_LONG_UNSIGNED,  # secondary_dns_address
    },
    (43, 0): {2: Octets(6)},  # MAC address setup (Blue Book, class_id 43): mac_address
    (44, 0): {  # PPP setup (Blue Book, class_id 44 version 0)
        2: LN,  # phy_reference
        3: PPP_OPTIONS,  # lcp_options
        4: PPP_OPTIONS,  # ipcp_options
        5: OneOf((NULL, struct(Octets(), Octets()))),  # ppp_authentication: none, or PAP
    },
    (45, 0): {2: Octets(), 3: T.LONG_UNSIGNED, 4: struct(QOS, QOS)},  # GPRS modem setup
    (47, 1): {  # GSM diagnostic, class_id 47 version 1 (Blue Book; see test_attribute_layouts)
        2: T.VISIBLE_STRING,  # operator
        3: T.ENUM,  # status
        4: T.ENUM,  # cs_attachment
        5: T.ENUM,  # ps_status
        6: struct(  # cell_info
            T.DOUBLE_LONG_UNSIGNED,  # cell_ID
            T.LONG_UNSIGNED,  # location_ID
            T.UNSIGNED,  # signal_quality
            T.UNSIGNED,  # ber
            T.LONG_UNSIGNED,  # mcc
            T.LONG_UNSIGNED,  # mnc
            T.DOUBLE_LONG_UNSIGNED,  # channel_number
        ),
        7: ArrayOf(struct(T.DOUBLE_LONG_UNSIGNED, T.UNSIGNED)),  # adjacent_cells
        8: DATE_TIME,  # capture_time
    },
    (64, 0): {  # Security setup (ref 6, version 0)
        2: T.ENUM,  # security_policy
        3: T.ENUM,  # security_suite
        4: Octets(),  # client_system_title (empty: none known without ciphering)
        5: Octets(8),  # server_system_title (Green Book: 8 octets)
    },
    (64, 1): {  # Security setup (ref 6, version 1): the HLS associations' own
        2: T.ENUM,  # security_policy: bit flags 0x04..0x80
        3: T.ENUM,  # security_suite 0, 1, 2
        4: OneOf((Octets(0), Octets(8))),  # client_system_title: empty (any) or 8 octets
        5: Octets(8),  # server_system_title
        6: ArrayOf(ANY),  # certificates: empty until certificates exist
    },
    (65, 0): {  # Parameter monitor (Blue Book, class_id 65 version 0)
        2: struct(T.LONG_UNSIGNED, LN, T.INTEGER, OneOf((SIMPLE, NULL))),  # changed_parameter
        3: DATE_TIME,  # capture_time
        4: ArrayOf(VALUE_DEFINITION),  # parameter_list
    },
    (70, 0): {2: T.BOOLEAN, 3: T.ENUM, 4: T.ENUM},  # Disconnect control (ref 6)
    (71, 0): {  # Limiter (ref 6)
        2: VALUE_DEFINITION,
        3: SIMPLE,
        4: SIMPLE,
        5: SIMPLE,
        6: T.DOUBLE_LONG_UNSIGNED,
        7: T.DOUBLE_LONG_UNSIGNED,
        8: struct(T.LONG_UNSIGNED, DATE_TIME, T.DOUBLE_LONG_UNSIGNED),
        9: ArrayOf(T.LONG_UNSIGNED),
        10: T.BOOLEAN,
        11: struct(SCRIPT, SCRIPT),
    },
    (111, 0): {  # Account (ref 6)
        2: struct(T.ENUM, T.ENUM),
        3: T.UNSIGNED,
        4: T.BIT_STRING,
        5: T.DOUBLE_LONG,
        6: T.DOUBLE_LONG,
        7: T.DOUBLE_LONG,
        8: T.DOUBLE_LONG,
        9: ArrayOf(LN),
        10: ArrayOf(LN),
        11: ArrayOf(struct(LN, LN, T.BIT_STRING)),
        12: ArrayOf(struct(LN, T.UNSIGNED)),
        13: DATE_TIME,
        14: DATE_TIME,
        15: struct(T.UTF8_STRING, T.INTEGER, T.ENUM),
        16: T.DOUBLE_LONG,
        17: T.DOUBLE_LONG,
        18: T.LONG_UNSIGNED,  # max_provision
        19: T.DOUBLE_LONG_UNSIGNED,  # max_provision_period
    },
    (112, 0): {  # Credit (ref 6)
        2: T.DOUBLE_LONG,
        3: T.ENUM,
        4: T.UNSIGNED,
        5: T.DOUBLE_LONG,
        6: T.DOUBLE_LONG,
        7: T.BIT_STRING,
        8: T.ENUM,
        9: T.DOUBLE_LONG,
        10: T.DOUBLE_LONG,
        11: DATE_TIME,
    },
    (113, 0): {  # Charge (ref 6)
        2: T.DOUBLE_LONG,
        3: T.ENUM,
        4: T.UNSIGNED,
        5: UNIT_CHARGE,
        6: UNIT_CHARGE,
        7: DATE_TIME,
        8: T.DOUBLE_LONG_UNSIGNED,
        9: T.BIT_STRING,
        10: DATE_TIME,
        11: T.DOUBLE_LONG,
        12: T.DOUBLE_LONG,
        13: T.LONG_UNSIGNED,
    },
    (115, 0): {  # Token gateway (ref 6)
        2: Octets(),
        3: DATE_TIME,
        4: ArrayOf(Octets()),
        5: T.ENUM,
        6: struct(T.ENUM, T.BIT_STRING),
    },
    # metertwin's MeterCom PRO classes (docs/dlms.md, "Manufacturer classes")
    (8192, 0): {
        2: T.BOOLEAN,
        3: T.ENUM,
        4: T.UNSIGNED,
        5: T.DOUBLE_LONG_UNSIGNED,
        6: T.UNSIGNED,
        7: T.DOUBLE_LONG_UNSIGNED,
        8: ArrayOf(  # docs/wmbus.md: the key reads empty
            struct(
                T.VISIBLE_STRING,
                T.VISIBLE_STRING,
                T.UNSIGNED,
                T.UNSIGNED,
                Octets(0),
                T.DOUBLE_LONG_UNSIGNED,
            )
        ),
        9: ArrayOf(
            struct(
                DATE_TIME,
                T.VISIBLE_STRING,
                T.VISIBLE_STRING,
                T.UNSIGNED,
                T.UNSIGNED,
                T.UNSIGNED,
                Octets(),
            )
        ),
        10: T.LONG_UNSIGNED,
        11: StructOf(T.DOUBLE_LONG_UNSIGNED),
    },
    (8193, 0): {2: T.BOOLEAN, 3: T.ENUM, 4: T.LONG_UNSIGNED, 5: LN},
    (8194, 0): {2: T.UNSIGNED, 3: T.UNSIGNED, 4: ArrayOf(T.VISIBLE_STRING)},
    (8195, 0): {
        2: T.VISIBLE_STRING,
        3: T.LONG_UNSIGNED,
        4: T.DOUBLE_LONG_UNSIGNED,
        5: T.DOUBLE_LONG_UNSIGNED,
        6: T.UNSIGNED,
    },
    (8196, 0): {2: T.UNSIGNED, 3: T.ENUM, 4: T.UNSIGNED, 5: T.DOUBLE_LONG_UNSIGNED},
}
for _attributes in LAYOUTS.values():
    _attributes[1] = LN  # logical_name, in every class


def mismatch(value: Data, layout: Layout, path: str = "") -> str | None:
    """None when ``value`` has ``layout``; else where and how it differs."""
    if isinstance(layout, Anything):
        if value.type is NULL:
            return f"{path or 'value'}: null-data"
        if value.type in (T.ARRAY, T.STRUCTURE):
            for i, item in enumerate(value.as_items()):
                if (problem := mismatch(item, ANY, f"{path}.{i + 1}")) is not None:
                    return problem
        return None
    if isinstance(layout, OneOf):
        if any(mismatch(value, choice, path) is None for choice in layout.choices):
            return None
        return f"{path or 'value'}: {value.type.name} is none of the choices"
    if isinstance(layout, DataType):
        if value.type is layout:
            return None
        return f"{path or 'value'}: {value.type.name}, expected {layout.name}"
    if isinstance(layout, Octets):
        if value.type is not T.OCTET_STRING:
            return f"{path or 'value'}: {value.type.name}, expected octet-string"
        if layout.size is not None and len(value.as_bytes()) != layout.size:
            return f"{path or 'value'}: {len(value.as_bytes())} octets, expected {layout.size}"
        return None
    if isinstance(layout, ArrayOf):
        if value.type is not T.ARRAY:
            return f"{path or 'value'}: {value.type.name}, expected array"
        for i, item in enumerate(value.as_items()):
            if (problem := mismatch(item, layout.element, f"{path}[{i}]")) is not None:
                return problem
        return None
    if value.type is not T.STRUCTURE:
        return f"{path or 'value'}: {value.type.name}, expected structure"
    items = value.as_items()
    members = (
        [layout.element] * len(items) if isinstance(layout, StructOf) else list(layout.members)
    )
    if len(items) != len(members):
        return f"{path or 'value'}: {len(items)} elements, expected {len(members)}"
    for i, (item, member) in enumerate(zip(items, members, strict=True)):
        if (problem := mismatch(item, member, f"{path}.{i + 1}")) is not None:
            return problem
    return None
