"""Events the meter's functions raise, with their codes and the log each belongs to.

Codes 1-18, 40-46, 60-67, 76-81, 85-87 and 255 are the DLMS UA / IDIS (DSMR) standard event codes as
deployed in public head-end software (e.g. "Power Down" 1, "Terminal cover removed" 40,
"Remote disconnection" 62). Codes 220-254 are metertwin's for what those tables lack (the
communication layer's refusals, phase and neutral failures, reverse current, relay failure and
protections); docs/events.md lists them all.
Event logs are stored like load profiles (clock + code entries, FIFO), so a head-end reads
them as Profile generic buffers.
"""

from __future__ import annotations

from enum import IntEnum


class EventCode(IntEnum):
    POWER_DOWN = 1
    POWER_UP = 2
    DST_CHANGED = 3
    CLOCK_ADJUSTED_OLD = 4
    CLOCK_ADJUSTED_NEW = 5
    CLOCK_INVALID = 6
    REPLACE_BATTERY = 7
    BATTERY_LOW = 8
    TOU_ACTIVATED = 9
    ERROR_REGISTER_CLEARED = 10
    ALARM_REGISTER_CLEARED = 11
    PROGRAM_MEMORY_ERROR = 12
    RAM_ERROR = 13
    NV_MEMORY_ERROR = 14
    WATCHDOG_ERROR = 15
    MEASUREMENT_SYSTEM_ERROR = 16
    FIRMWARE_READY = 17
    FIRMWARE_ACTIVATED = 18
    TERMINAL_COVER_REMOVED = 40
    TERMINAL_COVER_CLOSED = 41
    STRONG_DC_FIELD = 42
    NO_STRONG_DC_FIELD = 43
    METER_COVER_REMOVED = 44
    METER_COVER_CLOSED = 45
    WRONG_PASSWORDS = 46
    MANUAL_DISCONNECTION = 60
    MANUAL_CONNECTION = 61
    REMOTE_DISCONNECTION = 62
    REMOTE_CONNECTION = 63
    LOCAL_DISCONNECTION = 64
    LIMITER_THRESHOLD_EXCEEDED = 65
    LIMITER_THRESHOLD_OK = 66
    LIMITER_THRESHOLD_CHANGED = 67
    # IDIS power quality event log: a phase's voltage under (a dip) or over (a swell) its
    # limit, and back to normal (the end of either).
    UNDER_VOLTAGE_L1 = 76
    UNDER_VOLTAGE_L2 = 77
    UNDER_VOLTAGE_L3 = 78
    OVER_VOLTAGE_L1 = 79
    OVER_VOLTAGE_L2 = 80
    OVER_VOLTAGE_L3 = 81
    VOLTAGE_NORMAL_L1 = 85
    VOLTAGE_NORMAL_L2 = 86
    VOLTAGE_NORMAL_L3 = 87
    # metertwin codes (220-254) for events the standard tables above do not name.
    # 220-224: the communication layer refusing or ending a session.
    AUTHENTICATION_FAILURE = 220
    ASSOCIATION_LOCKED_OUT = 221
    ASSOCIATION_REFUSED = 222
    CONNECTION_REFUSED = 223
    CONNECTION_IDLE_CLOSED = 224
    # 225-228: DLMS security (Security setup class 64 v1, docs/events.md); an HLS pass 3
    # failure is an authentication failure, 220, like a wrong LLS secret.
    SECURITY_KEY_CHANGED = 225  # key_transfer/key_agreement changed a key; generate_key_pair
    SECURITY_POLICY_CHANGED = 226  # security_activate raised a security policy
    REPLAY_REFUSED = 227  # an invocation counter not above the last accepted one
    PROTECTED_APDU_REFUSED = 228  # deciphering failed, less than the policy, unknown title
    RELAY_FAILURE = 229
    PHASE_FAILURE_L1 = 230
    PHASE_FAILURE_L2 = 231
    PHASE_FAILURE_L3 = 232
    PHASE_RESTORED_L1 = 233
    PHASE_RESTORED_L2 = 234
    PHASE_RESTORED_L3 = 235
    NEUTRAL_FAILURE = 236
    NEUTRAL_RESTORED = 237
    REVERSE_CURRENT = 238
    REVERSE_CURRENT_END = 239
    MODULE_COVER_REMOVED = 240
    MODULE_COVER_CLOSED = 241
    LOCAL_CONNECTION = 242
    TOKEN_ACCEPTED = 243
    TOKEN_REJECTED = 244
    KEYPAD_LOCKED = 245
    KEY_CHANGED = 246
    LOW_CREDIT_1 = 247
    LOW_CREDIT_2 = 248
    LOW_CREDIT_3 = 249
    CREDIT_EXHAUSTED = 250
    EMERGENCY_CREDIT_INVOKED = 251
    TAMPER_CLEARED = 252
    PAYMENT_MODE_CHANGED = 253
    # seed 003 (Magno 22): "Security event log (Parameters change, ...)": a head-end
    # programmed a setting the meter acts on (load profiles, demand)
    PARAMETER_CHANGED = 254
    EVENT_LOG_CLEARED = 255


class EventLog(IntEnum):
    """The logs of seed 003 (fraud, failure, power quality, security, standard) plus the
    disconnect control, firmware and communication logs (issue 5, item 4); values are used
    as the log's E in 0.0.99.98.E."""

    STANDARD = 0
    FRAUD = 1
    DISCONNECT = 2
    LIMITER = 3  # kept with the disconnect control log by models without a limiter log
    POWER_QUALITY = 4
    SECURITY = 5
    FIRMWARE = 6
    FAILURE = 7
    COMMUNICATION = 8


_C = EventCode
LOG_OF: dict[EventCode, EventLog] = {
    **{
        c: EventLog.STANDARD
        for c in (
            _C.DST_CHANGED,
            _C.CLOCK_ADJUSTED_OLD,
            _C.CLOCK_ADJUSTED_NEW,
            _C.TOU_ACTIVATED,
            _C.ERROR_REGISTER_CLEARED,
            _C.ALARM_REGISTER_CLEARED,
            _C.EVENT_LOG_CLEARED,
            _C.TOKEN_ACCEPTED,
            _C.LOW_CREDIT_1,
            _C.LOW_CREDIT_2,
            _C.LOW_CREDIT_3,
            _C.CREDIT_EXHAUSTED,
            _C.EMERGENCY_CREDIT_INVOKED,
            _C.PAYMENT_MODE_CHANGED,
        )
    },
    **{
        c: EventLog.POWER_QUALITY
        for c in (
            _C.POWER_DOWN,
            _C.POWER_UP,
            _C.PHASE_FAILURE_L1,
            _C.PHASE_FAILURE_L2,
            _C.PHASE_FAILURE_L3,
            _C.PHASE_RESTORED_L1,
            _C.PHASE_RESTORED_L2,
            _C.PHASE_RESTORED_L3,
            _C.UNDER_VOLTAGE_L1,
            _C.UNDER_VOLTAGE_L2,
            _C.UNDER_VOLTAGE_L3,
            _C.OVER_VOLTAGE_L1,
            _C.OVER_VOLTAGE_L2,
            _C.OVER_VOLTAGE_L3,
            _C.VOLTAGE_NORMAL_L1,
            _C.VOLTAGE_NORMAL_L2,
            _C.VOLTAGE_NORMAL_L3,
        )
    },
    **{
        c: EventLog.FRAUD
        for c in (
            _C.TERMINAL_COVER_REMOVED,
            _C.TERMINAL_COVER_CLOSED,
            _C.STRONG_DC_FIELD,
            _C.NO_STRONG_DC_FIELD,
            _C.METER_COVER_REMOVED,
            _C.METER_COVER_CLOSED,
            _C.MODULE_COVER_REMOVED,
            _C.MODULE_COVER_CLOSED,
            _C.NEUTRAL_FAILURE,
            _C.NEUTRAL_RESTORED,
            _C.REVERSE_CURRENT,
            _C.REVERSE_CURRENT_END,
            _C.TAMPER_CLEARED,
        )
    },
    **{
        c: EventLog.DISCONNECT
        for c in (
            _C.MANUAL_DISCONNECTION,
            _C.MANUAL_CONNECTION,
            _C.REMOTE_DISCONNECTION,
            _C.REMOTE_CONNECTION,
            _C.LOCAL_DISCONNECTION,
            _C.LOCAL_CONNECTION,
        )
    },
    **{
        c: EventLog.LIMITER
        for c in (
            _C.LIMITER_THRESHOLD_EXCEEDED,
            _C.LIMITER_THRESHOLD_OK,
            _C.LIMITER_THRESHOLD_CHANGED,
        )
    },
    **{
        c: EventLog.SECURITY
        for c in (
            _C.WRONG_PASSWORDS,
            _C.TOKEN_REJECTED,
            _C.KEYPAD_LOCKED,
            _C.KEY_CHANGED,
            _C.SECURITY_KEY_CHANGED,
            _C.SECURITY_POLICY_CHANGED,
            _C.REPLAY_REFUSED,
            _C.PROTECTED_APDU_REFUSED,
            _C.PARAMETER_CHANGED,
        )
    },
    **{c: EventLog.FIRMWARE for c in (_C.FIRMWARE_READY, _C.FIRMWARE_ACTIVATED)},
    **{
        c: EventLog.FAILURE
        for c in (
            _C.CLOCK_INVALID,
            _C.REPLACE_BATTERY,
            _C.BATTERY_LOW,
            _C.PROGRAM_MEMORY_ERROR,
            _C.RAM_ERROR,
            _C.NV_MEMORY_ERROR,
            _C.WATCHDOG_ERROR,
            _C.MEASUREMENT_SYSTEM_ERROR,
            _C.RELAY_FAILURE,
        )
    },
    **{
        c: EventLog.COMMUNICATION
        for c in (
            _C.AUTHENTICATION_FAILURE,
            _C.ASSOCIATION_LOCKED_OUT,
            _C.ASSOCIATION_REFUSED,
            _C.CONNECTION_REFUSED,
            _C.CONNECTION_IDLE_CLOSED,
        )
    },
}


ALARM_BITS: dict[EventCode, int] = {
    _C.CLOCK_INVALID: 0,
    _C.REPLACE_BATTERY: 1,
    _C.POWER_UP: 2,
    _C.BATTERY_LOW: 3,
    _C.PROGRAM_MEMORY_ERROR: 8,
    _C.RAM_ERROR: 9,
    _C.NV_MEMORY_ERROR: 10,
    _C.WATCHDOG_ERROR: 11,
    _C.MEASUREMENT_SYSTEM_ERROR: 12,
    _C.TERMINAL_COVER_REMOVED: 13,
    _C.METER_COVER_REMOVED: 13,
    _C.MODULE_COVER_REMOVED: 13,
    _C.STRONG_DC_FIELD: 13,
    _C.LOCAL_DISCONNECTION: 14,
    _C.CREDIT_EXHAUSTED: 15,
    _C.LOW_CREDIT_1: 16,
    _C.LOW_CREDIT_2: 16,
    _C.LOW_CREDIT_3: 16,
    _C.LIMITER_THRESHOLD_EXCEEDED: 17,
    _C.WRONG_PASSWORDS: 18,
    _C.NEUTRAL_FAILURE: 19,
    _C.PHASE_FAILURE_L1: 20,
    _C.PHASE_FAILURE_L2: 20,
    _C.PHASE_FAILURE_L3: 20,
    _C.REVERSE_CURRENT: 21,
    _C.RELAY_FAILURE: 22,
}
"""Alarm register 1 (0.0.97.98.0.255): the bit an event sets (docs/events.md). Bits 0-2
and 8-12 follow the IDIS / DSMR alarm register; 13 is the fraud attempt; 14-22 are
metertwin's for the prepayment and protection functions."""
