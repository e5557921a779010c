"""The meter: one deterministic core that every function and protocol hangs on.

`advance`/`feed` move the meter from its present instant to a later one under given
physical inputs. Power is piecewise constant, so energy is integrated exactly; the core
stops at every boundary it owns (tariff switch, day change, DST change, passive calendar
activation) to act there (architecture, "Time"). Commands (clock setting, relay
transitions, configuration) apply between advances, at the present instant.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from metertwin.meter.battery import Battery
from metertwin.meter.calendar import ActivityCalendar, CalendarSet, SpecialDay
from metertwin.meter.clock import Clock, ClockConfig, TimeSetting
from metertwin.meter.demand import DEMAND_QUANTITIES, DemandConfig, DemandRegisters
from metertwin.meter.disconnect import (
    ControlState,
    DisconnectControl,
    RelayChange,
    RelayStuck,
    Transition,
    TransitionNotAllowed,
)
from metertwin.meter.dlms_security import DlmsSecurity
from metertwin.meter.episodes import RELAY_CUT, Episode, EpisodeBook
from metertwin.meter.event_logs import EventLogBook, LogEntry
from metertwin.meter.events import ALARM_BITS, LOG_OF, EventCode, EventLog
from metertwin.meter.firmware import Firmware
from metertwin.meter.inputs import ACTING, Fault, InputSeries, PhysicalState
from metertwin.meter.metrology import Instantaneous, Metrology, MetrologyConfig, PreparedSeries
from metertwin.meter.power_quality import (
    MEASUREMENT_INTERVAL_MS,
    PowerQuality,
    WaveformSource,
)
from metertwin.meter.profiles import (
    BILLING,
    DAY_S,
    EVENT,
    MAX_CHANNELS,
    BillingConfig,
    EntryStatus,
    ProfileRecord,
    ProfileRecorder,
    ProfileSpec,
)
from metertwin.meter.registers import MICRO_PER_MILLI_WH, Energy, EnergyRegisters
from metertwin.meter.schedules import ActionSchedule
from metertwin.meter.security import AccessSecurity, LoginOutcome
from metertwin.meter.spec import DeviceSpec
from metertwin.meter.supervision import (
    Firing,
    Quantity,
    ScriptAction,
    Supervision,
    SupervisorConfig,
)
from metertwin.meter.token_entry import KeypadLock, TokenResult
from metertwin.meter.wallet import (
    MICRO,
    SECOND_WALLET,
    TOKEN_WALLET,
    AccountStatus,
    ChargeKind,
    ChargeTable,
    CreditUnit,
    PaymentMode,
    Wallet,
    WalletEvent,
    WalletRefused,
)
from metertwin.sts import (
    ClearCredit,
    ClearTamperCondition,
    CreditKind,
    CreditToken,
    KeyChangeSection1,
    KeyChangeSection2,
    KeyChangeSection3,
    KeyChangeSection4,
    MeterTestToken,
    Rejection,
    SetMaximumPowerLimit,
    StsDecoder,
    Token,
    TokenError,
    TokenRejected,
)

STATE_FORMAT = 1
"""Version of the `to_state` layout; storage refuses snapshots of another version."""


_FAULT_EVENTS = {
    Fault.TERMINAL_COVER_OPEN: (EventCode.TERMINAL_COVER_REMOVED, EventCode.TERMINAL_COVER_CLOSED),
    Fault.METER_COVER_OPEN: (EventCode.METER_COVER_REMOVED, EventCode.METER_COVER_CLOSED),
    Fault.MODULE_COVER_OPEN: (EventCode.MODULE_COVER_REMOVED, EventCode.MODULE_COVER_CLOSED),
    Fault.MAGNETIC_FIELD: (EventCode.STRONG_DC_FIELD, EventCode.NO_STRONG_DC_FIELD),
    Fault.NEUTRAL_LOSS: (EventCode.NEUTRAL_FAILURE, EventCode.NEUTRAL_RESTORED),
    Fault.REVERSE_CURRENT: (EventCode.REVERSE_CURRENT, EventCode.REVERSE_CURRENT_END),
    Fault.BATTERY_LOW: (EventCode.BATTERY_LOW, None),
    Fault.RTC_FAILURE: (EventCode.CLOCK_INVALID, None),
    Fault.NV_MEMORY_ERROR: (EventCode.NV_MEMORY_ERROR, None),
    Fault.RAM_ERROR: (EventCode.RAM_ERROR, None),
    Fault.PROGRAM_MEMORY_ERROR: (EventCode.PROGRAM_MEMORY_ERROR, None),
    Fault.WATCHDOG_RESET: (EventCode.WATCHDOG_ERROR, None),
    Fault.MEASUREMENT_ERROR: (EventCode.MEASUREMENT_SYSTEM_ERROR, None),
}
_RELAY_EVENTS = {
    (Transition.REMOTE_DISCONNECT, False): EventCode.REMOTE_DISCONNECTION,
    (Transition.REMOTE_RECONNECT, True): EventCode.REMOTE_CONNECTION,
    (Transition.MANUAL_DISCONNECT, False): EventCode.MANUAL_DISCONNECTION,
    (Transition.MANUAL_RECONNECT, True): EventCode.MANUAL_CONNECTION,
    (Transition.LOCAL_DISCONNECT, False): EventCode.LOCAL_DISCONNECTION,
    (Transition.LOCAL_RECONNECT, True): EventCode.LOCAL_CONNECTION,
}

_WALLET_EVENTS = {
    WalletEvent.LOW_CREDIT_1: EventCode.LOW_CREDIT_1,
    WalletEvent.LOW_CREDIT_2: EventCode.LOW_CREDIT_2,
    WalletEvent.LOW_CREDIT_3: EventCode.LOW_CREDIT_3,
    WalletEvent.CREDIT_EXHAUSTED: EventCode.CREDIT_EXHAUSTED,
    WalletEvent.EMERGENCY_CREDIT_INVOKED: EventCode.EMERGENCY_CREDIT_INVOKED,
}
_TAMPER_EVENTS = frozenset(
    {
        EventCode.TERMINAL_COVER_REMOVED,
        EventCode.METER_COVER_REMOVED,
        EventCode.MODULE_COVER_REMOVED,
        EventCode.STRONG_DC_FIELD,
    }
)
_CUT_EPISODES = {
    Quantity.VOLTAGE: Episode.OVER_VOLTAGE_CUT,
    Quantity.POWER_FACTOR: Episode.LOW_POWER_FACTOR_CUT,
}
"""The episode a supervisor's cut begins (seed 002 5.5 f, h, k); others are overload cuts."""
_CREDIT_KINDS = {
    CreditUnit.ENERGY: CreditKind.ELECTRICITY,
    CreditUnit.CURRENCY: (CreditKind.ELECTRICITY_CURRENCY),
}
_ENERGY_OF = {int(quantity): quantity for quantity in Energy}
"""A planned channel's quantity number to its member, without the enum's call per capture."""
_DAYLIGHT_SAVING = int(EntryStatus.DAYLIGHT_SAVING)
_CLOCK_INVALID = int(EntryStatus.CLOCK_INVALID)
"""Entry status bits as plain integers: a capture's status is built without enum operators."""
TOKEN_HISTORY = 10
MAX_TOKEN_TEXT = 64
_UNSET = -1

(
    _STAMP,
    _ENERGY,
    _VOLTAGE,
    _CURRENT,
    _POWER,
    _FREQUENCY,
    _MAX_DEMAND,
    _MAX_DEMAND_TIME,
    _COST,
) = range(9)
_INSTANT_KINDS = frozenset((_VOLTAGE, _CURRENT, _POWER, _FREQUENCY))


def _plan(channel: str) -> tuple[int, int, int, int]:
    """A profile channel name compiled once into (kind, a, b, c) for fast captures."""
    kind, _, rest = channel.partition(":")
    if kind in ("clock", "status", "operating_status", "event_code", "event_count"):
        return (_STAMP, 0, 0, 0)
    if kind == "energy":
        c, phase, rate = (int(x) for x in rest.split(":"))
        return (_ENERGY, c, phase, rate)
    if kind == "voltage":
        return (_VOLTAGE, int(rest) - 1, 0, 0)
    if kind == "current":
        return (_CURRENT, int(rest) - 1, 0, 0)
    if kind == "active_power":
        return (_POWER, 0, 0, 0)
    if kind == "frequency":
        return (_FREQUENCY, 0, 0, 0)
    if kind == "cost":  # "cost": the period's cost; "cost:1"/"cost:2": what a wallet paid
        return (_COST, int(rest) if rest else 0, 0, 0)
    if kind in ("max_demand", "max_demand_time"):
        c, rate = (int(x) for x in rest.split(":"))
        return (_MAX_DEMAND if kind == "max_demand" else _MAX_DEMAND_TIME, c, rate, 0)
    raise ValueError(f"unknown profile channel {channel!r}")


class Meter:
    """A meter's complete state and behaviour. Times are UTC milliseconds of the world
    (``now_ms``); the meter's own clock may differ (drift, settings)."""

    def __init__(self, spec: DeviceSpec, start_ms: int, serial_number: str = "00000001") -> None:
        self.spec = spec
        self.serial_number = serial_number
        self.now_ms = start_ms
        self.clock = Clock(spec.clock, start_ms)
        self.calendar = ActivityCalendar(
            spec.calendar, special_days=spec.special_days, capacity=spec.capacity
        )
        self.registers = EnergyRegisters(spec.ratings.phases, spec.capacity.rates)
        self.disconnect = DisconnectControl(spec.control_mode)
        self.security = AccessSecurity(spec.security)
        self.dlms_security = DlmsSecurity.fresh(spec.security.setups, spec.security.dlms_keys)
        # Settings the meter keeps for its interfaces without interpreting them (communication
        # setups, monitor thresholds...): opaque bytes by key, owned by the binder.
        self.parameters: dict[str, bytes] = {}
        # Supply failures: [all phases lost, L1 lost, L2 lost, L3 lost] (seed 004 counters).
        self.supply_failures = [0] * (spec.ratings.phases + 1)
        self.metrology = Metrology(spec.ratings, spec.ratios, spec.metrology)
        self.inputs = PhysicalState.idle(
            spec.ratings.phases, spec.ratings.nominal_voltage_v, spec.ratings.frequency_hz
        )
        self.rate = self.calendar.rate_at(self.local_time())
        self._calendar_rate = self.rate  # the calendar's, which the tariff input overrides
        # The latest wall time the tariff schedule has acted on. When the wall clock steps
        # back (autumn DST end), switches already executed in the repeated hour do not fire
        # again: the calendar acts at switch times, like a meter executing its scripts.
        self._schedule_wall = self.local_time()
        self.recorder = ProfileRecorder(spec.profiles)
        self.firmware = Firmware(spec.name, self.log_event)
        self.demand = DemandRegisters(spec.demand, spec.capacity.rates)
        self.demand.start(self.clock.meter_ms(start_ms), self._demand_energies())
        self._demand_due = self._next_demand_end(self.clock.meter_ms(start_ms))
        self.billing_periods = 0
        self.last_billing_ms: int | None = None
        self.billing = spec.billing  # the billing point, settable (class 22 0.0.15.0.0)
        self._billing_due = self._next_billing_point(self.clock.meter_ms(start_ms))
        self._event_specs = [p for p in spec.profiles if p.period_s == EVENT]
        self.event_logs = {p.name: EventLogBook(p.depth) for p in self._event_specs}
        self.event_counts: dict[int, int] = {}
        self.counter_bases: dict[int, int] = {}  # event counts at a counter's last reset
        self.episodes = EpisodeBook()  # seed 002 5.5: last 10 with start and end
        self.alarms = 0  # alarm register 1: bits set by events (ALARM_BITS) the filter lets in
        self.alarm_filter = 0xFFFFFFFF
        self._dst_active = self.clock.is_dst(self.clock.meter_ms(start_ms))
        self._channel_plan = {
            p.name: [_plan(channel) for channel in p.channels] for p in spec.profiles
        }
        # per profile: the plan last looked at, and whether it reads the physical state
        self._plan_reads_state: dict[str, tuple[list[tuple[int, int, int, int]], bool]] = {}
        self._series: InputSeries | None = None
        self._captures: dict[str, int] = {}
        self._reschedule_captures()
        self._boundary: int | None = None
        self._schedule_boundary: int | None = None
        # Prepayment (issue 4): the wallet, the STS decoder (installed by the session from
        # the user's [sts] identity), the keypad lock and the last token results.
        self.wallet = Wallet(spec.wallet) if spec.wallet is not None else None
        self.sts: StsDecoder | None = None
        self.keypad = KeypadLock(spec.token_entry)
        self.token_results: list[TokenResult] = []  # newest first
        self.credit_cut = False  # the relay is open because credit ran out
        self.tamper_latched = False  # set by fraud events, cleared by a ClearTamper token
        self.power_limit_w: int | None = None  # set by a SetMaximumPowerLimit token
        self._wallet_day = self.local_time().date()
        self._wallet_due: int | None = None  # meter ms of the wallet's next time event
        self._prepared: PreparedSeries | None = None
        self._crossing: int | None = _UNSET  # world ms where credit crosses a level
        self.saved_sts_state: dict[str, Any] | None = None  # from storage, for the session
        # Limiters and register monitors (classes 71, 21), configured by the binder.
        self.supervision = Supervision()
        self._power_limited: dict[str, SupervisorConfig] = {}  # follow `power_limit_w`
        # Single action schedules (class 22), configured by the binder: meter ms when due.
        self.schedules: dict[str, ActionSchedule] = {}
        self._schedule_dues: dict[str, int] = {}
        # Edges of the flags that act (buttons, RTC and relay failures) ahead, in order:
        # (world ms, flags that came on, flags that went off).
        self._edges: list[tuple[int, int, int]] = []
        self.relay_failure_reported = False  # a stuck relay was reported in this fault
        # Power quality (issue 16): dips and swells watched on models with the function;
        # THD, harmonics and flicker as the scenario says (fleet) or measured (detailed).
        self.power_quality = PowerQuality(
            spec.ratings.phases, spec.ratings.nominal_voltage_v, spec.ratings.frequency_hz
        )
        self._watch_voltage = "sag-swell" in spec.functions
        self._pq_due: int | None = None  # world ms of a detailed meter's next measurement
        self._pq_from = start_ms
        self.battery = None if spec.battery is None else Battery(spec.battery, start_ms)

    # -- time -------------------------------------------------------------------------

    def advance(self, to_ms: int, inputs: PhysicalState | None = None) -> None:
        """Move to ``to_ms``; ``inputs`` (if given) hold from now on, else the present ones."""
        if to_ms < self.now_ms:
            raise ValueError("the meter cannot go back in time")
        state = self.inputs if inputs is None else inputs
        if to_ms == self.now_ms:
            if inputs is not None:  # an instant change of inputs
                self._scan_inputs(InputSeries.constant(to_ms, to_ms + 1, state))
                self.inputs = state
                self._act_on_edges()
            return
        self.feed(InputSeries.constant(self.now_ms, to_ms, state))

    def feed(self, series: InputSeries) -> None:
        """Move to ``series.end_ms`` under the series' inputs. The series must cover the
        present instant; what lies before it is ignored (already integrated)."""
        if series.start > self.now_ms:
            raise ValueError("inputs must start at or before the meter's present instant")
        end = series.end_ms
        if end <= self.now_ms:
            return
        prepared = PreparedSeries(series, self.metrology.rate_matrix(series))
        self._scan_inputs(series)
        if self.battery is not None:
            for code, at in self.battery.run(series, self.now_ms):
                self.log_event(code, self.clock.meter_ms(at))
        dark = np.concatenate(([0], np.cumsum(~(series.voltage_v > 0.0).any(axis=1))))
        unsure = series.faults & np.uint32(Fault.MEASUREMENT_ERROR) != 0
        doubtful = np.concatenate(([0], np.cumsum(unsure))) if unsure.any() else None
        ever_dark = bool(dark[-1])  # else no interval needs looking at for a supply loss
        self._series = series
        self._prepared = prepared
        self._crossing = _UNSET
        self._boundary = None
        wallet = self.wallet
        if self._edges:  # a button pressed at this very instant acts now, not 1 ms later
            self._act_on_edges()
        if self.supervision:  # the new inputs hold from now: the limiters look at once
            self.supervision.use_series(series)
            self._supervise()
        try:
            while self.now_ms < end:
                boundary = self._next_boundary()
                stop = min(boundary, end)
                imported = 0
                if self.disconnect.output_state:
                    delta = prepared.integral(self.now_ms, stop)
                    self.registers.add(delta, self.rate)
                    imported = delta[0]
                if ever_dark or doubtful is not None:
                    first, last = prepared.index_at(self.now_ms), prepared.index_at(stop - 1)
                    if dark[last + 1] - dark[max(first, 0)]:
                        self.recorder.flag(EntryStatus.POWER_DOWN)  # the supply was lost
                    if doubtful is not None and doubtful[last + 1] - doubtful[max(first, 0)]:
                        self.recorder.flag(EntryStatus.DATA_NOT_VALID)  # measured while faulty
                self.now_ms = stop
                if wallet is not None and imported:
                    wallet.at_ms = self.clock.meter_ms(stop)  # when its charges are collected
                    events = wallet.consume(imported, self.rate)
                    if events:
                        self._on_wallet(events)
                if stop == boundary:
                    self._at_boundary()
        finally:
            self._series = None
            self._prepared = None
            self.supervision.use_series(None)
            self._crossing = _UNSET
            self._boundary = None
        self.inputs = series.state_at_index(len(series) - 1)

    def _scan_inputs(self, series: InputSeries) -> None:
        """Count supply losses and log supply, phase and fault-switch changes in what
        ``series`` adds (each at the instant its segment starts)."""
        first = max(series.index_at(self.now_ms), 0)
        phase_on = series.voltage_v[first:] > 0.0
        before = np.asarray(self.inputs.voltage_v) > 0.0
        states = np.vstack([before, phase_on])
        lost = states[:-1] & ~states[1:]
        powered: NDArray[np.bool_] = np.asarray(states.any(axis=1), dtype=bool)
        self.supply_failures[0] += int(np.count_nonzero(powered[:-1] & ~powered[1:]))
        for k, count in enumerate(lost.sum(axis=0).tolist(), start=1):
            self.supply_failures[k] += int(count)
        faults = np.concatenate(([int(self.inputs.faults)], series.faults[first:]))
        moved = (
            (powered[1:] != powered[:-1])
            | (states[1:] != states[:-1]).any(axis=1)
            | (faults[1:] != faults[:-1])
        )
        quality = None
        if self._watch_voltage:
            dip, swell = self.power_quality.voltage_states(series.voltage_v[first:])
            quality = (dip, swell, series.voltage_v[first:])
            moved |= ((dip[1:] != dip[:-1]) | (swell[1:] != swell[:-1])).any(axis=1)
        changed = np.flatnonzero(moved)
        for i in changed.tolist():
            t = max(int(series.start_ms[first + i]), self.now_ms)
            came = int(faults[i + 1]) & ~int(faults[i]) & ACTING
            went = int(faults[i]) & ~int(faults[i + 1]) & ACTING
            if came or went:
                self._edges.append((t, came, went))
            self._log_changes(
                self.clock.meter_ms(t), states[i], states[i + 1], int(faults[i]), int(faults[i + 1])
            )
            if quality is not None:
                dip, swell, volts = quality
                self._log_voltage_quality(t, i, dip, swell, volts)

    def _log_voltage_quality(
        self,
        t: int,
        i: int,
        dip: NDArray[np.bool_],
        swell: NDArray[np.bool_],
        volts: NDArray[np.float64],
    ) -> None:
        """Dips and swells beginning or ending at world instant ``t`` (segment ``i`` of the
        scan): counted and timed, logged with the IDIS codes (76-81 under/over voltage,
        85-87 voltage normal; a dip ended by the phase failing logs only the failure)."""
        meter_ms = self.clock.meter_ms(t)
        pq = self.power_quality
        for k in range(pq.phases):
            ended = False
            for book, state in ((pq.dips, dip), (pq.swells, swell)):
                if state[i, k] and not state[i + 1, k]:
                    book[k].end(t)
                    ended = True
            if dip[i + 1, k] and not dip[i, k]:
                pq.dips[k].begin(t)
                self.log_event(EventCode(EventCode.UNDER_VOLTAGE_L1 + k), meter_ms)
            elif swell[i + 1, k] and not swell[i, k]:
                pq.swells[k].begin(t)
                self.log_event(EventCode(EventCode.OVER_VOLTAGE_L1 + k), meter_ms)
            elif ended and not (dip[i + 1, k] or swell[i + 1, k]) and volts[i, k] > 0.0:
                self.log_event(EventCode(EventCode.VOLTAGE_NORMAL_L1 + k), meter_ms)

    def _log_changes(
        self,
        meter_ms: int,
        was: NDArray[np.bool_],
        now: NDArray[np.bool_],
        faults_was: int,
        faults_now: int,
    ) -> None:
        if was.any() and not now.any():
            self.log_event(EventCode.POWER_DOWN, meter_ms)
        elif now.any() and not was.any():
            self.log_event(EventCode.POWER_UP, meter_ms)
        elif len(now) == 3:
            for k in range(3):
                if was[k] and not now[k]:
                    self.log_event(EventCode(EventCode.PHASE_FAILURE_L1 + k), meter_ms)
                elif now[k] and not was[k]:
                    self.log_event(EventCode(EventCode.PHASE_RESTORED_L1 + k), meter_ms)
        for flag, (on, off) in _FAULT_EVENTS.items():
            if faults_now & flag and not faults_was & flag:
                self.log_event(on, meter_ms)
            elif faults_was & flag and not faults_now & flag and off is not None:
                self.log_event(off, meter_ms)

    def _next_boundary(self) -> int:
        """The next instant (world ms) the core must stop at: the schedule's next change
        (tariff switch, day, DST, passive activation; cached, it is costly) or the next
        profile capture (cheap)."""
        if self._boundary is None:
            if self._schedule_boundary is None:
                self._schedule_boundary = self._compute_schedule_boundary()
            true_ms_for = self.clock.true_ms_for
            # Instants that may lie in the past are taken no earlier than the next ms.
            due = min(true_ms_for(self._demand_due), true_ms_for(self._billing_due))
            if self._captures:
                due = min(due, true_ms_for(min(self._captures.values())))
            if self._edges:
                due = min(due, self._edges[0][0])
            if self._pq_due is not None:
                due = min(due, self._pq_due)
            if self._schedule_dues:
                due = min(due, true_ms_for(min(self._schedule_dues.values())))
            firmware_due = self.firmware.next_due_ms()
            if firmware_due is not None:
                due = min(due, firmware_due)
            boundary = min(self._schedule_boundary, max(due, self.now_ms + 1))
            if self.wallet is not None:
                boundary = min(boundary, self._wallet_boundary())
            if self.supervision:
                watch = self.supervision.next_instant(
                    self.now_ms,
                    self.disconnect.output_state,
                    self._energy_to_go,
                    self._energy_reach,
                )
                if watch is not None:
                    boundary = min(boundary, watch)
            self._boundary = boundary
        return self._boundary

    def _wallet_boundary(self) -> int:
        """The wallet's next instant: local midnight (charges, months), a friendly period
        edge while out of credit, or where the energy imported crosses a credit level."""
        wallet = self.wallet
        assert wallet is not None
        if self._wallet_due is None:
            meter_now = self.clock.meter_ms(self.now_ms)
            wall = self.clock.local(meter_now)
            change = datetime.combine(wall.date() + timedelta(days=1), datetime.min.time())
            if wallet.exhausted():
                change = min(change, wallet.config.friendly.next_change(wall))
            self._wallet_due = self.clock.meter_ms_for_local(change, not_before=meter_now + 1)
            activation = wallet.next_activation_ms()
            if activation is not None:  # a passive charge table's activation time
                self._wallet_due = min(self._wallet_due, max(activation, meter_now + 1))
        boundary = max(self.clock.true_ms_for(self._wallet_due), self.now_ms + 1)
        if self._crossing == _UNSET:
            self._crossing = None
            prepared = self._prepared
            if prepared is not None and self.disconnect.output_state:
                energy = wallet.energy_to_next_change(self.rate)
                if energy is not None:
                    self._crossing = prepared.time_reaching(0, self.now_ms, energy)
        if self._crossing is not None:
            boundary = min(boundary, max(self._crossing, self.now_ms + 1))
        return boundary

    def _compute_schedule_boundary(self) -> int:
        clock = self.clock
        meter_now = clock.meter_ms(self.now_ms)
        wall = clock.local(meter_now)
        # not_before: in the autumn overlap a wall time occurs twice; take the coming one.
        change = self.calendar.next_change_after(max(wall, self._schedule_wall))
        candidate = clock.meter_ms_for_local(change, not_before=meter_now + 1)
        while candidate <= meter_now:
            change = self.calendar.next_change_after(change)
            candidate = clock.meter_ms_for_local(change, not_before=meter_now + 1)
        dst_change = clock.next_dst_change(meter_now)
        if dst_change is not None:
            candidate = min(candidate, dst_change)
        return max(clock.true_ms_for(candidate), self.now_ms + 1)

    def _next_capture(self, spec: ProfileSpec, meter_ms: int) -> int:
        """The first capture instant strictly after ``meter_ms``: multiples of the period on
        the meter's UTC clock, or the next local midnight for a daily profile."""
        if spec.period_s < DAY_S:
            period = spec.period_s * 1000
            return (meter_ms // period + 1) * period
        wall = self.clock.local(meter_ms)
        midnight = datetime(wall.year, wall.month, wall.day) + timedelta(days=1)
        return self.clock.meter_ms_for_local(midnight, not_before=meter_ms + 1)

    def _next_billing_point(self, meter_ms: int) -> int:
        """The next billing point after ``meter_ms``: day and hour of the meter's local
        time, this month or the next."""
        billing = self.billing
        wall = self.clock.local(meter_ms)
        year, month = wall.year, wall.month
        for _ in range(3):
            point = datetime(year, month, billing.day, billing.hour)
            instant = self.clock.meter_ms_for_local(point, not_before=meter_ms + 1)
            if instant > meter_ms:
                return instant
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        raise AssertionError("a billing point lies within two months")

    def _capture_due(self) -> None:
        meter_now = self.clock.meter_ms(self.now_ms)
        for name, due in self._captures.items():
            if due <= meter_now:
                spec = self.recorder.specs[name]
                self._capture(spec, due)
                self._captures[name] = self._next_capture(spec, meter_now)
        if self._billing_due <= meter_now:
            self._close_billing_period(self._billing_due)
            self._billing_due = self._next_billing_point(meter_now)

    def _close_billing_period(self, meter_ms: int) -> None:
        """The billing point (issue 5 item 2): the billing profiles capture the registers
        and the period's cost at ``meter_ms``, then the wallet's period cost and the maximum
        demands restart and the billing period counter advances. Capture and close are one
        act, wherever the billing point has moved."""
        for spec in self.recorder.specs.values():
            if spec.period_s == BILLING:
                self._capture(spec, meter_ms)
        if self.wallet is not None:
            self.wallet.end_billing_period()
        for quantity in DEMAND_QUANTITIES:
            for rate in range(self.spec.capacity.rates + 1):
                self.demand.reset_maximum(quantity, rate, meter_ms)
        self.billing_periods += 1
        self.last_billing_ms = meter_ms

    def log_event(self, code: EventCode, meter_ms: int | None = None) -> None:
        """Record ``code`` in the event logs that keep its kind, and count it."""
        stamp = self.clock.meter_ms(self.now_ms) if meter_ms is None else meter_ms
        self.event_counts[int(code)] = self.event_counts.get(int(code), 0) + 1
        self.episodes.on_event(code, stamp)
        bit = ALARM_BITS.get(code)
        if bit is not None and self.alarm_filter >> bit & 1:
            self.alarms |= 1 << bit
        if code in _TAMPER_EVENTS:
            self.tamper_latched = True
        log = int(LOG_OF[code])
        for spec in self._event_specs:
            if log in spec.logs:
                self._write_event(spec, int(code), stamp)

    def _write_event(self, spec: ProfileSpec, code: int, stamp: int) -> None:
        """An entry of event log ``spec``, or a burst's count grown; noise never pushes
        other entries out (meter/event_logs.py)."""
        entry, evicted = self.event_logs[spec.name].take(
            code, stamp, self.recorder.captured[spec.name] + 1
        )
        if evicted is not None:
            self.recorder.evict(spec.name, evicted)
        if entry is not None:
            values = tuple(
                entry.code if c == "event_code" else entry.count if c == "event_count" else 0
                for c in spec.channels
            )
            self.recorder.write(ProfileRecord(spec.name, entry.first_ms, 0, values, entry.seq))

    def restore_event_log(self, profile: str, records: list[ProfileRecord]) -> None:
        """The entries event log ``profile`` holds in storage, read back at start (an entry
        stored before the event_count column existed was one event)."""
        channels = self.recorder.specs[profile].channels
        code_at = channels.index("event_code") if "event_code" in channels else None
        count_at = channels.index("event_count") if "event_count" in channels else None

        def value(record: ProfileRecord, at: int | None, missing: int) -> int:
            return int(record.values[at]) if at is not None and at < len(record.values) else missing

        self.event_logs[profile].restore(
            [
                LogEntry(r.seq, r.meter_ms, value(r, code_at, 0), value(r, count_at, 1))
                for r in records
            ]
        )

    def profile_reset(self, profile: str) -> None:
        """Class 7 method 1 emptied ``profile``'s stored entries."""
        if profile in self.event_logs:
            self.event_logs[profile].clear()

    def counted_since_reset(self, code: EventCode) -> int:
        """Events ``code`` since its counter was last reset (register class 3 reset); the
        event logs' own counters keep counting from the meter's making."""
        return self.event_counts.get(int(code), 0) - self.counter_bases.get(int(code), 0)

    def reset_counter(self, code: EventCode) -> None:
        self.counter_bases[int(code)] = self.event_counts.get(int(code), 0)

    def capture_now(self, profile: str) -> None:
        """Class 7 method 2 capture: an entry of ``profile`` now, outside its schedule."""
        self._capture(self.recorder.specs[profile], self.clock.meter_ms(self.now_ms))

    def billing_reset(self) -> None:
        """End the billing period now (by script from the head-end, or the local button):
        the billing profiles capture and maximum demands restart."""
        self._close_billing_period(self.clock.meter_ms(self.now_ms))
        self._boundary = None

    def _capture(self, spec: ProfileSpec, stamp_ms: int) -> None:
        status = self.recorder.take_flags(spec.name)
        if self.clock.is_dst(stamp_ms):
            status |= _DAYLIGHT_SAVING
        if self.clock.invalid:
            status |= _CLOCK_INVALID
        plan = self._channel_plan[spec.name]
        known = self._plan_reads_state.get(spec.name)
        if known is None or known[0] is not plan:  # a plan (re)programmed since
            known = (plan, any(kind in _INSTANT_KINDS for kind, _a, _b, _c in plan))
            self._plan_reads_state[spec.name] = known
        # The physical state in force just before the capture instant, as plain floats (only
        # for a profile with a voltage, current, power or frequency channel).
        series = self._series
        volts: list[float] = []
        watts: list[float] = []
        vars_: list[float] = []
        hertz = 0.0
        reads_state = known[1]
        if reads_state and series is not None:
            prepared = self._prepared
            at = prepared.index_at if prepared is not None else series.index_at
            i = max(at(self.now_ms - 1), 0)
            volts = series.voltage_v[i].tolist()
            watts = series.active_w[i].tolist()
            vars_ = series.reactive_var[i].tolist()
            hertz = float(series.frequency_hz[i])
        elif reads_state:
            volts, watts, vars_ = (
                list(x)
                for x in (self.inputs.voltage_v, self.inputs.active_w, self.inputs.reactive_var)
            )
            hertz = self.inputs.frequency_hz
        if not self.disconnect.output_state:
            watts = [0.0] * len(watts)
            vars_ = [0.0] * len(vars_)
        values: list[int | float] = []
        registers = self.registers
        starting_a = self.spec.ratings.starting_current_a * self.spec.ratios.current
        for kind, a, b, c in plan:
            if kind == _ENERGY:
                values.append(registers.micro(_ENERGY_OF[a], b, c) // MICRO_PER_MILLI_WH)
            elif kind == _VOLTAGE:
                values.append(volts[a])
            elif kind == _CURRENT:
                amps = math.hypot(watts[a], vars_[a]) / volts[a] if volts[a] > 0 else 0.0
                values.append(amps if amps >= starting_a else 0.0)
            elif kind == _POWER:
                values.append(sum(watts))
            elif kind == _FREQUENCY:
                values.append(hertz)
            elif kind == _MAX_DEMAND:
                values.append(self.demand.maximum[Energy(a)][b].value_mw)
            elif kind == _MAX_DEMAND_TIME:
                values.append(self.demand.maximum[Energy(a)][b].at_meter_ms or 0)
            elif kind == _COST:  # µ of the wallet's unit; 0 on a meter without a wallet
                wallet = self.wallet
                if wallet is None:
                    values.append(0)
                else:
                    values.append(wallet.period_cost if a == 0 else wallet.period_paid[a - 1])
            else:
                values.append(0)  # clock and status: the record's stamp and status
        self.recorder.capture(spec.name, stamp_ms, int(status), tuple(values))

    def _at_boundary(self, resync: bool = False) -> None:
        """Act at a boundary; ``resync`` (after a command) re-derives the rate from the
        present wall time even if the clock went back."""
        self.firmware.poll(self.now_ms)
        schedule = self._schedule_boundary
        if resync or schedule is None or self.now_ms >= schedule:
            wall = self.local_time()
            if resync or wall >= self._schedule_wall:
                if self.calendar.activate_passive_if_due(wall):
                    self.log_event(EventCode.TOU_ACTIVATED)
                self._calendar_rate = self.calendar.rate_at(wall)
                self.rate = self._rate_now()
                self._schedule_wall = wall
            dst = self.clock.is_dst(self.clock.meter_ms(self.now_ms))
            if dst != self._dst_active:
                self._dst_active = dst
                self.log_event(EventCode.DST_CHANGED)
            self._schedule_boundary = None
            self._crossing = _UNSET  # the rate (and so the price) may have changed
        meter_now = self.clock.meter_ms(self.now_ms)
        if self._demand_due <= meter_now:
            if self.demand.waiting:  # a new demand setting's first sub-period begins
                self.demand.start(self._demand_due, self._demand_energies())
            else:
                self.demand.close_sub_period(self._demand_due, self._demand_energies(), self.rate)
            self._demand_due = self._next_demand_end(meter_now)
        wallet = self.wallet
        wallet_time = resync or self._wallet_due is None or meter_now >= self._wallet_due
        wallet_events: list[WalletEvent] = []
        month_begins = False
        if wallet is not None and wallet_time:
            for _kind in wallet.activate_due(meter_now):
                self.log_event(EventCode.PARAMETER_CHANGED)
            wallet_events, month_begins = self._wallet_days(wallet)
        if self._pq_due is not None and self.now_ms >= self._pq_due:
            self.power_quality.measure(self._pq_from, self._pq_due)
            self._pq_from = self._pq_due
            self._pq_due += MEASUREMENT_INTERVAL_MS
        self._capture_due()  # a billing point here captures the cost of the period it ends
        if self._edges:
            self._act_on_edges()
        if self.schedules:
            self._run_schedules(meter_now, resync)
        if wallet is not None:
            if self._crossing not in (None, _UNSET) and self.now_ms >= self._crossing:
                self._crossing = _UNSET
            if wallet_time or self._wallet_due is None:  # a press or schedule may replan it
                more, begins = self._wallet_days(wallet)
                wallet_events += more
                if month_begins or begins:
                    wallet_events += wallet.open_month()
                self._on_wallet(wallet_events)
        self._supervise()
        self._boundary = None

    # -- prepayment ---------------------------------------------------------------------

    def _wallet_days(self, wallet: Wallet) -> tuple[list[WalletEvent], bool]:
        """The days passed since the wallet last looked: each day's standing charge, taken
        at the midnight that ends the day, and the close of each calendar month. Returns the
        wallet's events (for `_on_wallet`) and whether a month begins today, whose fixed
        charges `_at_boundary` takes only after the billing profiles have captured: at a
        billing point on the 1st at 00:00 the last day's standing charge (in arrears)
        belongs to the period that ends, the new month's fixed charges (in advance) to the
        one that begins, as in the calendar month's cost."""
        self._wallet_due = None
        self._crossing = _UNSET
        wallet.at_ms = self.meter_time_ms()  # when the day's and month's charges are taken
        today = self.local_time().date()
        events: list[WalletEvent] = []
        month_begins = False
        while self._wallet_day < today:  # each day passed (a clock set forward skips some)
            day = self._wallet_day + timedelta(days=1)
            events += wallet.new_day()
            if day.month != self._wallet_day.month:
                events += wallet.close_month(self._wallet_day)
                if day == today:
                    month_begins = True
                else:  # a month the clock jumped over
                    events += wallet.open_month()
            self._wallet_day = day
        if today < self._wallet_day:
            self._wallet_day = today  # a clock set back does not charge the days twice
        return events, month_begins

    def _on_wallet(self, events: list[WalletEvent]) -> None:
        """Log what the wallet reports and let the relay follow the credit."""
        for event in events:
            code = _WALLET_EVENTS.get(event)
            if code is not None:
                self.log_event(code)
        if events:
            self._replan_wallet()
        self._settle_credit_relay()

    def _replan_wallet(self) -> None:
        """The wallet's state or the relay changed: its next instants are worked out anew."""
        self._crossing = _UNSET
        self._wallet_due = None
        self._boundary = None

    def _settle_credit_relay(self) -> None:
        """Open the relay when credit is exhausted outside friendly periods, and close it
        when credit returns (local transitions g and h of class 70; seed 002 5.4 a)."""
        wallet = self.wallet
        if wallet is None:
            return
        cut = self._credit_holds_relay_open()
        state = self.disconnect.state
        if cut and state is ControlState.CONNECTED:
            if self._local_transition(Transition.LOCAL_DISCONNECT):
                self.credit_cut = True
        elif not cut and self.credit_cut:
            if (
                state is ControlState.READY_FOR_RECONNECTION
                and not self.supervision.holds_relay_open()
            ):
                self._local_transition(Transition.LOCAL_RECONNECT)
            self.credit_cut = False

    def _credit_holds_relay_open(self) -> bool:
        wallet = self.wallet
        if wallet is None:
            return False
        return wallet.exhausted() and not wallet.config.friendly.is_friendly(self.local_time())

    def _local_transition(self, transition: Transition) -> bool:
        try:
            self._check_relay_moves(transition)
            change = self.disconnect.apply(transition, self.now_ms)
        except TransitionNotAllowed:
            return False
        if change is None:
            return False
        self._log_relay(transition, change)
        self._replan_wallet()
        self.supervision.forget_relay_plans()
        return True

    # -- limiters and register monitors ---------------------------------------------------

    def configure_supervisor(self, key: str, config: SupervisorConfig | None) -> None:
        """Install, change or remove (None, or a zero threshold) a limiter or one threshold
        of a register monitor; it acts from this instant. A supervisor that follows the
        power limit takes `power_limit_w` as its threshold, now and whenever it changes."""
        if config is not None and config.follows_power_limit:
            self._power_limited[key] = config
            config = replace(config, threshold=float(self.power_limit_w or 0))
        else:
            self._power_limited.pop(key, None)
        self._reconfigure(key, config)
        self._supervise()

    def _reconfigure(self, key: str, config: SupervisorConfig | None) -> None:
        before = self.supervision.configs.get(key)
        state = self.supervision.states.get(key)
        self.supervision.configure(key, config, self.now_ms)
        self._boundary = None
        lifted = key not in self.supervision.configs
        if before is not None and state is not None and state.tripped and lifted:
            self.run_action(before.action_under)  # lifted while its over action held

    def set_power_limit(self, watts: int | None) -> None:
        """The maximum power in W (a SetMaximumPowerLimit token, or the head-end through
        the limiter's threshold; 0 or None: no limit)."""
        self.power_limit_w = watts or None
        for key, template in self._power_limited.items():
            self._reconfigure(key, replace(template, threshold=float(watts or 0)))
        self._supervise()

    # -- single action schedules and the billing point ------------------------------------

    def set_action_schedule(self, key: str, schedule: ActionSchedule | None) -> None:
        """Install, change or remove (None) a schedule; it runs from the next time it names."""
        if schedule is None or not schedule.times:
            self.schedules.pop(key, None)
            self._schedule_dues.pop(key, None)
        else:
            self.schedules[key] = schedule
            self._plan_schedule(key, self.meter_time_ms())
        self._boundary = None

    def _plan_schedule(self, key: str, after_meter_ms: int) -> None:
        wall = self.clock.local(after_meter_ms)
        upcoming = self.schedules[key].next_after(wall)
        if upcoming is None:
            self._schedule_dues.pop(key, None)
        else:
            due = self.clock.meter_ms_for_local(upcoming, not_before=after_meter_ms + 1)
            self._schedule_dues[key] = max(due, after_meter_ms + 1)

    def _run_schedules(self, meter_now: int, resync: bool) -> None:
        """Run what is due; after a clock change the schedules continue from the new time
        (what the clock jumped over is not run, like the tariff switches)."""
        for key, due in list(self._schedule_dues.items()):
            if due <= meter_now and not resync:
                self.run_action(self.schedules[key].action)
            if due <= meter_now or resync:
                self._plan_schedule(key, meter_now if resync else due)

    def _act_on_edges(self) -> None:
        """Flags that changed by now and act: the local buttons (billing reset, seed 002
        5.1; the relay button, class 70 manual transitions e and f), the real-time clock
        failing (the clock is invalid until set) and the relay fault ending."""
        while self._edges and self._edges[0][0] <= self.now_ms:
            _, pressed, released = self._edges.pop(0)
            if pressed & Fault.RTC_FAILURE:
                self.clock.mark_invalid()
            if released & Fault.RELAY_FAULT:  # repaired: what was held back happens now
                self.relay_failure_reported = False
                self._settle_credit_relay()
            if (pressed | released) & Fault.TARIFF_INPUT:
                self.rate = self._rate_now()
                self._crossing = _UNSET  # the price may have changed
            if pressed & Fault.BATTERY_REPLACED and self.battery is not None:
                self.battery.replace(self.now_ms)
            if pressed & Fault.BILLING_BUTTON:
                self.billing_reset()
            if pressed & Fault.RELAY_BUTTON:
                manual = (
                    Transition.MANUAL_RECONNECT
                    if self.disconnect.state is ControlState.READY_FOR_RECONNECTION
                    else Transition.MANUAL_DISCONNECT
                )
                with contextlib.suppress(TransitionNotAllowed):
                    self.operate_relay(manual)
        self._boundary = None

    def use_waveforms(self, source: WaveformSource | None) -> None:
        """A detailed meter (architecture principle 8): from now on, at every 10-minute
        boundary of world time, measure the waveforms ``source`` gives for the interval
        just ended (the first one from now); None: back to the fleet's parameters."""
        self.power_quality.use_waveforms(source)
        self._pq_from = self.now_ms
        if source is None:
            self._pq_due = None
        else:
            self._pq_due = (self.now_ms // MEASUREMENT_INTERVAL_MS + 1) * MEASUREMENT_INTERVAL_MS
        self._boundary = None

    def write_alarm_register(self, value: int) -> None:
        """The head-end writes the register back with the bits it has handled cleared."""
        if value & ~self.alarms:
            raise ValueError("only set alarm bits can be written back, to clear them")
        if value != self.alarms:
            self.alarms = value
            self.log_event(EventCode.ALARM_REGISTER_CLEARED)

    def set_billing_point(self, billing: BillingConfig) -> None:
        """A new billing point (day 1-28, hour): the next one is worked out from now."""
        self.billing = billing
        self._billing_due = self._next_billing_point(self.meter_time_ms())
        self._boundary = None

    def _energy_to_go(self, threshold_wh: float) -> int:
        """µJ still to import before +A reaches ``threshold_wh``."""
        target = round(threshold_wh * 1000 * MICRO_PER_MILLI_WH)
        return target - self.registers.micro(Energy.IMPORT_ACTIVE)

    def _energy_reach(self, amount: int) -> int | None:
        prepared = self._prepared
        return None if prepared is None else prepared.time_reaching(0, self.now_ms, amount)

    def _supervise(self) -> None:
        """Let the limiters and register monitors act at the present instant. An action may
        move the relay, which changes what they see: they look again at once."""
        supervision = self.supervision
        if not supervision:
            return
        if self._series is None:  # between advances: the present inputs hold
            supervision.use_series(InputSeries.constant(self.now_ms, self.now_ms + 1, self.inputs))
        for _ in range(4):
            firings = supervision.settle(
                self.now_ms, self.disconnect.output_state, self._energy_to_go, self._energy_reach
            )
            if not firings:
                break
            for firing in firings:
                self._fire(firing)
        self._boundary = None

    def _fire(self, firing: Firing) -> None:
        if firing.limiter:
            over = EventCode.LIMITER_THRESHOLD_EXCEEDED
            self.log_event(over if firing.over else EventCode.LIMITER_THRESHOLD_OK)
        supplied = self.disconnect.output_state
        self.run_action(firing.action)
        if supplied and not self.disconnect.output_state:  # a protection cut the supply
            config = self.supervision.configs.get(firing.key)
            quantity = Quantity.ACTIVE_POWER if config is None else config.quantity
            kind = _CUT_EPISODES.get(quantity, Episode.OVERLOAD_CUT)
            self.episodes.begin(kind, RELAY_CUT, self.meter_time_ms())

    def run_action(self, action: ScriptAction) -> None:
        """Execute a script the meter's own functions reference (limiters, monitors,
        schedules): relay transitions are local ones (class 70 g and h)."""
        if action is ScriptAction.DISCONNECT:
            self._local_transition(Transition.LOCAL_DISCONNECT)
        elif action is ScriptAction.RECONNECT:
            held = self._credit_holds_relay_open() or self.supervision.holds_relay_open()
            if not held and self.disconnect.state is ControlState.READY_FOR_RECONNECTION:
                self._local_transition(Transition.LOCAL_RECONNECT)
        elif action is ScriptAction.BILLING_RESET:
            self.billing_reset()
        elif action is ScriptAction.ACTIVATE_IMAGE:
            self.firmware.schedule_activation(self.now_ms)
            self.firmware.poll(self.now_ms)

    def install_sts(self, decoder: StsDecoder) -> None:
        """Give the meter its STS identity (from the user's [sts] section, or restored)."""
        self.sts = decoder

    def enter_token(self, digits: str) -> TokenResult:
        """A token typed on the keypad or sent to the token gateway: applied fully or not at
        all, with its IEC 62055-41 result. The caller commits before showing the result."""
        meter_now = self.meter_time_ms()
        text = digits.strip()[:MAX_TOKEN_TEXT]  # what is kept of garbage in the results
        if self.keypad.locked(meter_now):
            until = self.clock.local(self.keypad.locked_until_ms or meter_now)
            return self._token_result(
                TokenResult(
                    text, meter_now, False, f"keypad locked until {until:%H:%M:%S}", locked=True
                )
            )
        try:
            if self.sts is None:
                raise TokenRejected(Rejection.FUNCTION, "this meter has no STS identity")
            token = self.sts.check(text)
            message = self._apply_token(token)
        except TokenError as error:
            self.log_event(EventCode.TOKEN_REJECTED)
            if self.keypad.failure(meter_now):
                self.log_event(EventCode.KEYPAD_LOCKED)
            return self._token_result(
                TokenResult(
                    text, meter_now, False, f"{error.rejection.value}: {error}", error.rejection
                )
            )
        self.keypad.success()
        self.log_event(EventCode.TOKEN_ACCEPTED)
        return self._token_result(TokenResult(text, meter_now, True, message, None, token))

    def _token_result(self, result: TokenResult) -> TokenResult:
        self.token_results = [result, *self.token_results[: TOKEN_HISTORY - 1]]
        return result

    def _apply_token(self, token: Token) -> str:
        """Act on a token the decoder accepted; raises TokenRejected before any change."""
        sts = self.sts
        assert sts is not None
        wallet = self.wallet
        if isinstance(token, CreditToken):
            if wallet is None or token.kind != _CREDIT_KINDS[wallet.config.unit]:
                raise TokenRejected(
                    Rejection.FUNCTION, f"this meter does not take {token.kind.name} credit"
                )
            amount = token.amount_tenths * (MICRO // 10)
            if wallet.status is AccountStatus.CLOSED:
                raise TokenRejected(Rejection.FUNCTION, "the account is closed")
            if wallet.would_overflow(amount):
                raise TokenRejected(Rejection.OVERFLOW, "the credit register would overflow")
            sts.accept(token)
            self._on_wallet(wallet.purchase(amount, self.meter_time_ms(), token.tid))
            return f"credit +{self.format_credit(amount)}"
        if isinstance(token, MeterTestToken):
            return "test token: display and relay test done"
        if isinstance(token, SetMaximumPowerLimit):
            sts.accept(token)
            self.set_power_limit(token.maximum_power_w)
            self.log_event(EventCode.LIMITER_THRESHOLD_CHANGED)
            return f"maximum power limit {token.maximum_power_w} W"
        if isinstance(token, ClearCredit):
            if wallet is None:
                raise TokenRejected(Rejection.FUNCTION, "this meter has no credit register")
            sts.accept(token)
            self._on_wallet(wallet.clear_credit())
            return "credit cleared"
        if isinstance(token, ClearTamperCondition):
            sts.accept(token)
            self.tamper_latched = False
            self.log_event(EventCode.TAMPER_CLEARED)
            return "tamper condition cleared"
        if isinstance(
            token, (KeyChangeSection1, KeyChangeSection2, KeyChangeSection3, KeyChangeSection4)
        ):
            outcome = sts.accept(token)
            if outcome is None or not outcome.complete:
                missing = sorted(outcome.missing) if outcome is not None else []
                return f"key change section accepted, waiting for 2/{missing}"
            self.log_event(EventCode.KEY_CHANGED)
            rolled = " with TID rollover" if outcome.rolled_over else ""
            return f"new key installed{rolled}"
        raise TokenRejected(
            Rejection.FUNCTION,
            f"this meter does not support class {int(token.token_class)} "
            f"subclass {token.subclass} tokens",
        )

    def format_credit(self, micro: int) -> str:
        """An amount in the wallet's unit, as a customer display shows it."""
        wallet = self.wallet
        unit = (
            "kWh"
            if wallet is None or wallet.config.unit is CreditUnit.ENERGY
            else (wallet.config.currency)
        )
        return f"{micro / MICRO:.2f} {unit}"

    def set_payment_mode(self, mode: PaymentMode) -> None:
        """Prepaid <-> postpaid, remotely (class 111) or locally."""
        if self.wallet is None:
            raise WalletRefused("this meter has no wallet")
        if self.wallet.mode is not PaymentMode(mode):
            events = self.wallet.set_mode(mode)
            self.log_event(EventCode.PAYMENT_MODE_CHANGED)
            self._wallet_due = None
            self._on_wallet(events)

    def set_account_status(self, status: AccountStatus) -> None:
        """Class 111 methods: activate, close or reset (new, inactive) the account."""
        if self.wallet is None:
            raise WalletRefused("this meter has no wallet")
        self._on_wallet(self.wallet.set_status(status, self.meter_time_ms()))

    def remote_credit(self, amount: int, into: int = TOKEN_WALLET) -> None:
        """Credit sent by the head-end (class 112 update_amount), not by token, into the
        token wallet or the second wallet."""
        wallet = self.wallet
        if wallet is None:
            raise WalletRefused("this meter has no wallet")
        if wallet.would_overflow(amount, into):
            raise WalletRefused("the credit register would overflow")
        self._on_wallet(wallet.purchase(amount, self.meter_time_ms(), wallet=into))

    def set_credit(self, amount: int, into: int = TOKEN_WALLET) -> None:
        """Class 112 set_amount_to_value: the wallet's credit register becomes ``amount``."""
        wallet = self.wallet
        if wallet is None:
            raise WalletRefused("this meter has no wallet")
        if amount > wallet.config.max_credit:
            raise WalletRefused("the credit register would overflow")
        if into == SECOND_WALLET and wallet.config.second_wallet is None:
            raise WalletRefused("this meter has one wallet")
        events = wallet.clear_second() if into == SECOND_WALLET else wallet.clear_credit()
        if amount:
            events += wallet.purchase(amount, self.meter_time_ms(), wallet=into)
        self._on_wallet(events)

    def program_charge(
        self,
        kind: ChargeKind,
        *,
        passive: ChargeTable | None = None,
        activate_at_ms: int | Literal["keep"] | None = "keep",
        activate_now: bool = False,
    ) -> None:
        """A head-end programs a charge table (class 113, issue 20 item 4): writes its
        passive table, sets (or with None clears) its activation time in meter ms, or
        activates it now; each change is logged as a parameter change (event 254), and
        the activation again when it happens; a value equal to the present one changes and
        logs nothing. ValueError says why a value is refused."""
        wallet = self.wallet
        if wallet is None:
            raise ValueError("this meter has no wallet")
        if passive is not None:
            was = wallet.passive.get(kind, ())
            wallet.set_passive(kind, passive)
            if tuple(passive) != was:
                self.log_event(EventCode.PARAMETER_CHANGED)
        if activate_at_ms != "keep":
            was_at = wallet.activation_ms.get(kind)
            wallet.schedule_activation(kind, activate_at_ms)
            if activate_at_ms != was_at:
                self.log_event(EventCode.PARAMETER_CHANGED)
        if activate_now:
            wallet.activate_passive(kind)
            self.log_event(EventCode.PARAMETER_CHANGED)
        self._replan_wallet()
        self._on_wallet([])

    def collect_charge(self, kind: ChargeKind) -> None:
        """Class 113 collect: a time-based charge taken now (`Wallet.collect`); the credit
        and its warnings follow as for any charge. WalletRefused says why not."""
        wallet = self.wallet
        if wallet is None:
            raise WalletRefused("this meter has no wallet")
        wallet.at_ms = self.meter_time_ms()
        events = wallet.collect(kind)
        self._replan_wallet()
        self._on_wallet(events)

    def take_emergency_credit(self) -> None:
        """The customer or the head-end takes emergency credit (WalletRefused if not
        offered now)."""
        if self.wallet is None:
            raise WalletRefused("this meter has no wallet")
        self._on_wallet(self.wallet.take_emergency_credit())

    # -- commands ---------------------------------------------------------------------

    def set_clock(self, new_meter_ms: int) -> TimeSetting:
        """Set the meter's clock (HES time synchronisation or local setting)."""
        setting = self.clock.set_time(self.now_ms, new_meter_ms)
        self.log_event(EventCode.CLOCK_ADJUSTED_OLD, setting.before_ms)
        self.log_event(EventCode.CLOCK_ADJUSTED_NEW, setting.after_ms)
        self.recorder.flag(EntryStatus.CLOCK_ADJUSTED | EntryStatus.DATA_NOT_VALID)
        self._restart_periods()
        self._at_boundary(resync=True)
        return setting

    def demand_next_period(self) -> None:
        """Class 5 method 2 next_period: end the running sub-period now (a new setting
        waiting for its grid starts measuring now instead)."""
        meter_now = self.clock.meter_ms(self.now_ms)
        if self.demand.waiting:
            self.demand.start(meter_now, self._demand_energies())
        else:
            self.demand.close_sub_period(meter_now, self._demand_energies(), self.rate)
        self._demand_due = self._next_demand_end(meter_now)
        self._boundary = None

    def demand_reset(self) -> None:
        """Class 5 method 1 reset: the running period ends now without an average and a
        new one starts; it ends where the running one would have (the demand grid)."""
        self.demand.reset(self.clock.meter_ms(self.now_ms), self._demand_energies())

    def reset_maximum_demand(self, quantity: Energy, rate: int) -> None:
        """Class 4 method 1 reset of one maximum demand register (rate 0: the total)."""
        self.demand.reset_maximum(quantity, rate, self.clock.meter_ms(self.now_ms))

    def _demand_energies(self) -> dict[Energy, int]:
        return {q: self.registers.micro(q) for q in DEMAND_QUANTITIES}

    def program_demand(self, config: DemandConfig) -> None:
        """A head-end's demand setting (seed 002, 5.2 b; `demand.programmed_demand`): it
        acts from the next boundary of its own sub-period grid (`DemandRegisters.reconfigure`),
        maximum demands keep their values; logged as a parameter change."""
        if config == self.demand.config:
            return
        meter_now = self.clock.meter_ms(self.now_ms)
        period = config.period_s * 1000
        first = (meter_now // period + 1) * period
        self.demand.reconfigure(config, meter_now, first)
        self._demand_due = first
        self._boundary = None
        self.log_event(EventCode.PARAMETER_CHANGED)

    def program_profile(
        self, profile: str, *, period_s: int | None = None, channels: tuple[str, ...] | None = None
    ) -> None:
        """A head-end programs load profile ``profile`` (class 7 capture_period, capture
        objects): it acts at once; new channels empty the buffer (Blue Book: a change of
        capture_objects clears it) and are captured from the next period; a new period
        keeps the entries and captures on its own grid from the next instant of it. Only
        periodic load profiles (1-60 minutes) are programmable; ValueError says why not."""
        spec = self.recorder.specs[profile]
        if not 60 <= spec.period_s <= 3600:
            raise ValueError(f"profile {profile} is not a periodic load profile")
        period = spec.period_s if period_s is None else period_s
        if not (60 <= period <= 3600 and period % 60 == 0 and 3600 % period == 0):
            raise ValueError("a load profile captures every 1-60 minutes, dividing the hour")
        wanted = spec.channels if channels is None else channels
        if not 1 <= len(wanted) <= MAX_CHANNELS:
            raise ValueError(f"a load profile captures 1-{MAX_CHANNELS} channels")
        plan = [_plan(channel) for channel in wanted]
        if (period, wanted) == (spec.period_s, spec.channels):
            return
        if wanted != spec.channels:
            self.recorder.clear(profile)
        new = self.recorder.program(profile, period, wanted)
        self._channel_plan[profile] = plan
        self._captures[profile] = self._next_capture(new, self.clock.meter_ms(self.now_ms))
        self._boundary = None
        self.log_event(EventCode.PARAMETER_CHANGED)

    def _next_demand_end(self, meter_ms: int) -> int:
        period = self.demand.config.period_s * 1000
        return (meter_ms // period + 1) * period

    def _restart_periods(self) -> None:
        """After a clock jump: captures continue from the new time and the demand
        sub-period in progress restarts there (its average would mean nothing)."""
        self._reschedule_captures()
        meter_now = self.clock.meter_ms(self.now_ms)
        self.demand.start(meter_now, self._demand_energies())
        self._demand_due = self._next_demand_end(meter_now)

    def _reschedule_captures(self) -> None:
        """After a clock jump, periodic captures continue from the new time (no burst of
        entries). Billing profiles are not among them: they capture where the billing
        period closes (`_close_billing_period`)."""
        meter_now = self.clock.meter_ms(self.now_ms)
        self._captures = {
            name: self._next_capture(spec, meter_now)
            for name, spec in self.recorder.specs.items()
            if spec.period_s not in (BILLING, EVENT)
        }

    def operate_relay(self, transition: Transition) -> RelayChange | None:
        """A remote or manual transition (class 70); `TransitionNotAllowed` when the control
        mode forbids it, `RelayStuck` when a relay fault keeps the contacts where they are."""
        self._check_relay_moves(transition)
        change = self.disconnect.apply(transition, self.now_ms)
        if change is not None:
            self._log_relay(transition, change)
            self.supervision.forget_relay_plans()
            self.credit_cut = False
            self._replan_wallet()
            self._settle_credit_relay()  # no credit: the meter opens again at once
            self._supervise()  # the monitors see the load (or its absence) at once
        return change

    def _check_relay_moves(self, transition: Transition) -> None:
        """Raise `RelayStuck` when a relay fault keeps the contacts from the move
        ``transition`` asks for. The meter sees it when it operates the relay, so the
        failure is logged then (event 229), once while the fault lasts."""
        if not self._faults_now() & Fault.RELAY_FAULT:
            return
        target = self.disconnect.target(transition)
        if target is None or (target is ControlState.CONNECTED) == self.disconnect.output_state:
            return  # the contacts would not move
        if not self.relay_failure_reported:
            self.relay_failure_reported = True
            self.log_event(EventCode.RELAY_FAILURE)
        raise RelayStuck(f"{transition.value}: the relay's contacts did not move")

    def _faults_now(self) -> Fault:
        """The switches and sensors at the present instant."""
        series = self._series
        if series is not None:
            i = series.index_at(self.now_ms)
            if i >= 0:
                return Fault(int(series.faults[i]))
        return self.inputs.faults

    def _rate_now(self) -> int:
        """The rate in force: the one the tariff input forces while it is active (seed 003
        "Dual Resource Signal (Tariff change)"), else the calendar's."""
        forced = self.spec.tariff_input_rate
        if forced is not None and self._faults_now() & Fault.TARIFF_INPUT:
            return forced
        return self._calendar_rate

    def s0_pulses(self) -> int:
        """Pulses the S0 output has given since manufacture (0 without one): floor(+A in
        Wh x imp/kWh / 1000) of the energy at the meter's terminals (the registers' primary
        energy divided by the CT and VT ratios), derived from the exact register."""
        constant = self.spec.pulse_output_imp_per_kwh
        if constant is None:
            return 0
        r = self.spec.ratios
        micro_j = self.registers.micro(Energy.IMPORT_ACTIVE)
        per_pulse = MICRO_PER_MILLI_WH * 1_000_000 * r.ct_primary * r.vt_primary
        return micro_j * constant * r.ct_secondary * r.vt_secondary // per_pulse

    def _log_relay(self, transition: Transition, change: RelayChange) -> None:
        connected = change.after is ControlState.CONNECTED
        if connected or change.before is ControlState.CONNECTED:  # the contacts moved
            self.log_event(_RELAY_EVENTS[(transition, connected)])
        if connected:
            self.episodes.end(RELAY_CUT, self.meter_time_ms())

    def set_passive_calendar(self, calendar: CalendarSet, activate_at: datetime | None) -> None:
        self.calendar.set_passive(calendar, activate_at)
        self._at_boundary(resync=True)

    def activate_passive_calendar(self) -> None:
        """Class 20 method 1: the passive calendar becomes active now (CalendarError if the
        passive set is inconsistent)."""
        self.calendar.activate_passive()
        self.log_event(EventCode.TOU_ACTIVATED)
        self._at_boundary(resync=True)

    def set_passive_activation(self, activate_at: datetime | None) -> None:
        self.calendar.activate_passive_at = activate_at
        self._at_boundary(resync=True)

    def set_clock_config(self, config: ClockConfig) -> None:
        """New time zone or DST rules (class 8 attributes 3, 5-8); the meter's UTC continues."""
        self.clock.set_config(self.now_ms, config)
        self._at_boundary(resync=True)

    def shift_clock(self, seconds: int) -> TimeSetting:
        setting = self.clock.shift(self.now_ms, seconds)
        self.log_event(EventCode.CLOCK_ADJUSTED_OLD, setting.before_ms)
        self.log_event(EventCode.CLOCK_ADJUSTED_NEW, setting.after_ms)
        self.recorder.flag(EntryStatus.CLOCK_ADJUSTED | EntryStatus.DATA_NOT_VALID)
        self._restart_periods()
        self._at_boundary(resync=True)
        return setting

    def insert_special_day(self, entry: SpecialDay) -> None:
        self.calendar.insert_special_day(entry)
        self._at_boundary(resync=True)

    def delete_special_day(self, index: int) -> None:
        self.calendar.delete_special_day(index)
        self._at_boundary(resync=True)

    def login(self, association: str, secret: bytes) -> LoginOutcome:
        """An LLS login attempt, judged at the meter's own time (lockout, seed 002 5.12).

        A wrong secret is an authentication failure (220) and a login refused during the
        lockout is 221, both in the communication log; the lockout itself (46) goes to the
        security log, after the failure that started it. An accepted login logs nothing."""
        return self._judged(lambda ms: self.security.check(association, secret, ms))

    def hls_allowed(self, association: str) -> LoginOutcome:
        """An HLS AARQ before pass 2: LOCKED (221) while the association is locked out."""
        return self._judged(lambda ms: self.security.allowed(association, ms))

    def hls_verified(self, association: str, passed: bool) -> LoginOutcome:
        """The HLS pass 3 verdict, counted like an LLS secret: a wrong proof is an
        authentication failure (220) and may start the lockout (46)."""
        return self._judged(lambda ms: self.security.verdict(association, passed, ms))

    def _judged(self, judge: Callable[[int], LoginOutcome]) -> LoginOutcome:
        locked_before = self.security.lockouts_total
        outcome = judge(self.meter_time_ms())
        if outcome is LoginOutcome.WRONG_SECRET:
            self.log_event(EventCode.AUTHENTICATION_FAILURE)
        elif outcome is LoginOutcome.LOCKED:
            self.log_event(EventCode.ASSOCIATION_LOCKED_OUT)
        if self.security.lockouts_total > locked_before:
            self.log_event(EventCode.WRONG_PASSWORDS)
        return outcome

    def log_communication(self, code: EventCode) -> None:
        """An event of the meter's communication layer (association refused, connection
        refused or closed idle), raised outside the core by the DLMS server and the
        transport, stamped with the meter's time now. Only communication log codes."""
        if LOG_OF.get(code) is not EventLog.COMMUNICATION:
            raise ValueError(f"event {code!r} is not a communication event")
        self.log_event(code)

    def set_metrology(self, config: MetrologyConfig) -> None:
        self.metrology = Metrology(self.spec.ratings, self.spec.ratios, config)
        # what was worked out from the old rates (a credit crossing) is worked out again
        self._prepared = None
        self._crossing = _UNSET
        self._boundary = None

    def program_metrology(
        self, *, export_enabled: bool | None = None, absolute_mode: bool | None = None
    ) -> None:
        """A head-end's export enable/disable or absolute active energy mode (seed 000,
        PMM1220 "Export enable/disable configuration", "Absolute active energy"): the
        registers integrate under it from this instant (energy so far stays as measured);
        logged as a parameter change."""
        config = self.metrology.config
        new = replace(
            config,
            export_enabled=config.export_enabled if export_enabled is None else export_enabled,
            absolute_mode=config.absolute_mode if absolute_mode is None else absolute_mode,
        )
        if new == config:
            return
        self.set_metrology(new)
        self.log_event(EventCode.PARAMETER_CHANGED)

    # -- readings ---------------------------------------------------------------------

    def meter_time_ms(self) -> int:
        return self.clock.meter_ms(self.now_ms)

    def local_time(self) -> datetime:
        return self.clock.local(self.clock.meter_ms(self.now_ms))

    def energy_mwh(self, quantity: Energy, phase: int = 0, rate: int = 0) -> int:
        """A register on the primary side in whole mWh (floor; exact, never decreasing)."""
        return self.registers.micro(quantity, phase, rate) // MICRO_PER_MILLI_WH

    def instantaneous(self) -> Instantaneous:
        return self.metrology.instantaneous(self.inputs, self.disconnect.output_state)

    @property
    def faults(self) -> Fault:
        return self.inputs.faults

    # -- persistence ------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything that makes this meter this meter, JSON-serialisable."""
        config = self.metrology.config
        return {
            "format": STATE_FORMAT,
            "model": self.spec.name,
            "serial_number": self.serial_number,
            "now_ms": self.now_ms,
            "rate": self.rate,
            "calendar_rate": self._calendar_rate,
            "battery": None if self.battery is None else self.battery.to_state(),
            "schedule_wall": self._schedule_wall.isoformat(),
            "captures": dict(self._captures),
            "demand": self.demand.to_state(),
            "demand_due": self._demand_due,
            "billing_periods": self.billing_periods,
            "event_counts": {str(k): v for k, v in sorted(self.event_counts.items())},
            "counter_bases": {str(k): v for k, v in sorted(self.counter_bases.items())},
            "last_billing_ms": self.last_billing_ms,
            "billing_due": self._billing_due,
            "billing_point": [self.billing.day, self.billing.hour],
            "recorder": self.recorder.to_state(),
            "clock": self.clock.to_state(),
            "calendar": self.calendar.to_state(),
            "registers": self.registers.to_state(),
            "disconnect": self.disconnect.to_state(),
            "security": self.security.to_state(),
            "dlms_security": self.dlms_security.to_state(),
            "supply_failures": list(self.supply_failures),
            "prepayment": self._prepayment_state(),
            "supervision": self.supervision.to_state(),
            "relay_failure_reported": self.relay_failure_reported,
            "episodes": self.episodes.to_state(),
            "power_quality": self.power_quality.to_state(),
            "alarms": [self.alarms, self.alarm_filter],
            "firmware": self.firmware.to_state(),
            "parameters": {key: value.hex() for key, value in sorted(self.parameters.items())},
            "metrology": {
                "export_enabled": config.export_enabled,
                "absolute_mode": config.absolute_mode,
                "neutral_measured": config.neutral_measured,
            },
            "inputs": {
                "voltage_v": list(self.inputs.voltage_v),
                "active_w": list(self.inputs.active_w),
                "reactive_var": list(self.inputs.reactive_var),
                "frequency_hz": self.inputs.frequency_hz,
                "ambient_c": self.inputs.ambient_c,
                "earth_leakage_a": self.inputs.earth_leakage_a,
                "faults": int(self.inputs.faults),
            },
        }

    @classmethod
    def from_state(cls, spec: DeviceSpec, state: dict[str, Any]) -> Meter:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"meter state format {state.get('format')!r} is not {STATE_FORMAT}")
        if state.get("model") != spec.name:
            raise ValueError(f"the state is of a {state.get('model')!r} meter, not {spec.name!r}")
        meter = cls(spec, int(state["now_ms"]), str(state["serial_number"]))
        meter.clock = Clock.from_state(state["clock"])
        meter.calendar = ActivityCalendar.from_state(state["calendar"])
        meter.registers = EnergyRegisters.from_state(state["registers"], spec.ratings.phases)
        shape = (meter.registers.phases, meter.registers.rates)
        if shape != (spec.ratings.phases, spec.capacity.rates):
            raise ValueError(f"registers for {shape[0]} phases and {shape[1]} rates do not fit")
        meter.disconnect = DisconnectControl.from_state(state["disconnect"])
        meter.security = AccessSecurity.from_state(spec.security, state["security"])
        meter.dlms_security = DlmsSecurity.from_state(
            spec.security.setups, spec.security.dlms_keys, state.get("dlms_security", {})
        )
        meter.parameters = {k: bytes.fromhex(v) for k, v in state["parameters"].items()}
        meter.supply_failures = [int(v) for v in state["supply_failures"]]
        meter.metrology = Metrology(
            spec.ratings, spec.ratios, MetrologyConfig(**state["metrology"])
        )
        inputs = state["inputs"]
        meter.inputs = PhysicalState(
            voltage_v=tuple(inputs["voltage_v"]),
            active_w=tuple(inputs["active_w"]),
            reactive_var=tuple(inputs["reactive_var"]),
            frequency_hz=float(inputs["frequency_hz"]),
            ambient_c=float(inputs["ambient_c"]),
            earth_leakage_a=float(inputs["earth_leakage_a"]),
            faults=Fault(int(inputs["faults"])),
        )
        meter.rate = int(state["rate"])
        meter._calendar_rate = int(state.get("calendar_rate", meter.rate))
        if meter.battery is not None and state.get("battery") is not None:
            meter.battery.restore(state["battery"])
        meter._schedule_wall = datetime.fromisoformat(state["schedule_wall"])
        # A state saved before billing profiles moved to the billing close lists them here.
        meter._captures = {k: int(v) for k, v in state["captures"].items() if k in meter._captures}
        meter.recorder.restore(state["recorder"])
        meter._channel_plan = {
            name: [_plan(channel) for channel in spec.channels]
            for name, spec in meter.recorder.specs.items()
        }
        meter.demand.restore(state["demand"])
        meter._demand_due = int(state["demand_due"])
        meter.billing_periods = int(state["billing_periods"])
        meter.event_counts = {int(k): int(v) for k, v in state["event_counts"].items()}
        bases = state.get("counter_bases", {})  # absent in memories older than counter resets
        meter.counter_bases = {int(k): int(v) for k, v in bases.items()}
        last = state["last_billing_ms"]
        meter.last_billing_ms = None if last is None else int(last)
        meter._billing_due = int(state["billing_due"])
        if "billing_point" in state:
            meter.billing = BillingConfig(*(int(v) for v in state["billing_point"]))
        meter._restore_prepayment(state.get("prepayment"))
        # Limiter states resume when the binder configures the limiters again.
        meter.supervision.saved = dict(state.get("supervision", {}))
        meter.relay_failure_reported = bool(state.get("relay_failure_reported", False))
        if "episodes" in state:
            meter.episodes = EpisodeBook.from_state(state["episodes"])
        if "power_quality" in state:
            meter.power_quality.restore(state["power_quality"])
        meter.alarms, meter.alarm_filter = (int(v) for v in state.get("alarms", (0, 0xFFFFFFFF)))
        meter._dst_active = meter.clock.is_dst(meter.clock.meter_ms(meter.now_ms))
        meter.firmware.restore(state.get("firmware"))
        return meter

    def _prepayment_state(self) -> dict[str, Any]:
        return {
            "wallet": None if self.wallet is None else self.wallet.to_state(),
            "sts": None if self.sts is None else self.sts.to_state(),
            "keypad": self.keypad.to_state(),
            "token_results": [r.to_state() for r in self.token_results],
            "credit_cut": self.credit_cut,
            "tamper_latched": self.tamper_latched,
            "power_limit_w": self.power_limit_w,
            "wallet_day": self._wallet_day.isoformat(),
        }

    def _restore_prepayment(self, state: dict[str, Any] | None) -> None:
        """Restore the prepayment state; a state saved before prepayment existed has none
        and the meter starts with a fresh wallet. The STS decoder is restored by the session
        (`restore_sts`), which knows where the EA07 tables are."""
        if state is None:
            return
        if state["wallet"] is not None and self.spec.wallet is not None:
            self.wallet = Wallet.from_state(self.spec.wallet, state["wallet"])
        self.keypad = KeypadLock.from_state(self.spec.token_entry, state["keypad"])
        self.token_results = [TokenResult.from_state(r) for r in state["token_results"]]
        self.credit_cut = bool(state["credit_cut"])
        self.tamper_latched = bool(state["tamper_latched"])
        limit = state["power_limit_w"]
        self.power_limit_w = None if limit is None else int(limit)
        self._wallet_day = date.fromisoformat(state["wallet_day"])
        self.saved_sts_state = state["sts"]
