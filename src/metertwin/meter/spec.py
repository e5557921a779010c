"""What distinguishes one meter type from another, as plain data (architecture principle 3).

`metertwin.models` builds a `DeviceSpec` from a validated model file; the core only ever
sees this immutable value, shared by every meter of the type (per-meter state lives in
`Meter`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metertwin.meter.battery import BatteryConfig
from metertwin.meter.calendar import CalendarSet, Capacity, SpecialDay
from metertwin.meter.clock import ClockConfig
from metertwin.meter.demand import DemandConfig
from metertwin.meter.metrology import MetrologyConfig, Ratings, TransformerRatios
from metertwin.meter.profiles import BillingConfig, ProfileSpec
from metertwin.meter.security import SecurityConfig
from metertwin.meter.token_entry import TokenEntryConfig
from metertwin.meter.wallet import WalletConfig


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    description: str
    ratings: Ratings
    ratios: TransformerRatios
    metrology: MetrologyConfig
    clock: ClockConfig
    calendar: CalendarSet
    special_days: tuple[SpecialDay, ...]
    capacity: Capacity
    control_mode: int
    functions: frozenset[str]
    display: tuple[str, ...]
    security: SecurityConfig
    demand: DemandConfig
    billing: BillingConfig
    profiles: tuple[ProfileSpec, ...] = ()
    wallet: WalletConfig | None = None  # None: a meter without prepayment
    token_entry: TokenEntryConfig = field(default_factory=TokenEntryConfig)
    # Issue 20 items 8 and 9 (None: the meter has none): the backup battery, the rate the
    # tariff input forces while active, the S0 pulse output's constant (imp/kWh).
    battery: BatteryConfig | None = None
    tariff_input_rate: int | None = None
    pulse_output_imp_per_kwh: int | None = None
