"""The prepayment wallet: credit in, consumption and charges out, exactly (issue 4 item 4).

Money (or energy credit) is held in integer micro-units (µ of the currency, or µkWh), and
every deduction is an integer: the cost of an energy interval is floor((µJ x price + carry) /
denominator) with the remainder carried to the next interval, so credit bought always equals
credit used plus credit left, to the last micro-unit (tests check it over a month).

Credit flows (seed 002 5.4, seed 003 "Prepayment" and "Tariff expense"):
- a purchase first clears overdraw (negative credit run up in friendly periods), then repays
  the emergency credit used, and the rest becomes credit;
- consumption draws from credit, then from emergency credit when it is in use, then (only
  when the meter does not disconnect, e.g. in friendly periods) runs credit negative;
- the price of an interval is the active TOU rate's price plus the step surcharge of this
  month's consumption band, plus levies (percent of the energy charge or per kWh), each with
  its own VAT (energy, charges, levies: seed 003's three VAT kinds); standing charges are
  taken daily, fixed charges monthly (in advance), the monthly service charge of the month's
  consumption band at the month's end; subsidies (free units, or an amount per month) pay
  first (seed 003 "Tariff Expense", issue 20 item 6);
- the charges come from charge tables (`ChargeKind`), each with an active and a passive
  table the head-end writes and activates now or at a time (class 113; issue 20 item 4);
- a second credit wallet (seed 003 "Dual wallet", issue 20 item 7), topped up remotely, is
  consumed before or after the token wallet by its priority and pays consumption, and
  charges only when configured so;
- each charge's last collection (time and amount) and a total amount remaining that each
  collection counts down (class 113 attributes 10-12): a head-end sets or adds to it, and asks
  for a time-based charge to be collected now (`collect`); collections never stop at 0 (every
  table is collected continuously), so the remaining amount only tells a head-end how much of
  what it set is still to come.

Costs are recorded twice: per calendar month (`month_cost`, the 12-month `cost_history`; seed
002 5.4 e and g) and per billing period (`period_cost`, which the billing profile captures at
the billing point; issue 5 item 2). The two agree when the billing point is the month start.

The wallet is pure: the core tells it the energy imported at each stop, the new days and
months, and asks it how much energy may pass before its state next changes (a low-credit
threshold, exhaustion) so that it can stop exactly there.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum, IntEnum
from typing import Any

MICRO = 1_000_000
"""Micro-units in one unit of credit (one currency unit, or one kWh)."""
MICRO_J_PER_KWH = 3_600_000_000_000
MICRO_J_PER_WH = 3_600_000_000
PURCHASE_HISTORY = 10
COST_HISTORY_MONTHS = 12
_PPM = 1_000_000
_DENOMINATOR = MICRO_J_PER_KWH * _PPM * _PPM
"""The energy cost numerator's unit: µJ x (µ per kWh x 10^12)."""


class PaymentMode(IntEnum):
    """As class 111 (Account) payment_mode: 1 credit (postpaid), 2 prepayment."""

    POSTPAID = 1
    PREPAID = 2


class AccountStatus(IntEnum):
    """As class 111 account_status. A new meter's account is inactive (no deduction, no
    cut-off) until the first credit token or the head-end's activate_account."""

    NEW_INACTIVE = 1
    ACTIVE = 2
    CLOSED = 3


class CreditUnit(Enum):
    CURRENCY = "currency"
    ENERGY = "energy"


class WalletEvent(Enum):
    """Changes the core acts on (events, alarms, the relay)."""

    LOW_CREDIT_1 = "low_credit_1"
    LOW_CREDIT_2 = "low_credit_2"
    LOW_CREDIT_3 = "low_credit_3"
    CREDIT_EXHAUSTED = "credit_exhausted"
    EMERGENCY_CREDIT_INVOKED = "emergency_credit_invoked"
    CREDIT_RESTORED = "credit_restored"


_LOW = (WalletEvent.LOW_CREDIT_1, WalletEvent.LOW_CREDIT_2, WalletEvent.LOW_CREDIT_3)


def to_micro(value: float) -> int:
    """A configured amount (units, e.g. 12.5) as micro-units, rounded to the nearest."""
    return round(value * MICRO)


class ChargeKind(Enum):
    """The charge tables of a currency wallet (seed 003 "Tariff Expense"). Entries are
    (index, value) pairs; what index and value mean:

    - ENERGY: (TOU rate, µ per kWh);
    - STEPS: (monthly Wh from, µ per kWh surcharge), up to 10 bands;
    - SERVICE: (monthly Wh from, µ per month), the monthly service charge in up to 5 bands;
    - STANDING: (0, µ per day);
    - FIXED: (1-3, µ per month);
    - SUBSIDY: (kind << 8 | n, value), kind 1 free units (µ of a kWh per month), kind 2 an
      amount (µ per month); up to 5, applied before anything is paid;
    - LEVY: (kind << 8 | n, value), kind 1 percent of the energy charge (ppm), kind 2 per kWh
      (µ); up to 5;
    - VAT: (1 on energy, 2 on charges, 3 on levies; ppm).
    """

    ENERGY = "energy"
    STEPS = "steps"
    SERVICE = "service"
    STANDING = "standing"
    FIXED = "fixed"
    SUBSIDY = "subsidy"
    LEVY = "levy"
    VAT = "vat"


ChargeTable = tuple[tuple[int, int], ...]
SUBSIDY_UNITS, SUBSIDY_AMOUNT = 1, 2
LEVY_PERCENT, LEVY_PER_KWH = 1, 2
VAT_ENERGY, VAT_CHARGES, VAT_LEVIES = 1, 2, 3
_MAX_ENTRIES = {
    ChargeKind.ENERGY: 8,
    ChargeKind.STEPS: 10,
    ChargeKind.SERVICE: 5,
    ChargeKind.STANDING: 1,
    ChargeKind.FIXED: 3,
    ChargeKind.SUBSIDY: 5,
    ChargeKind.LEVY: 5,
    ChargeKind.VAT: 3,
}
_MAX_VALUE = 1_000 * MICRO  # per kWh, per day, per month or ppm: far beyond any tariff


def table_error(kind: ChargeKind, table: ChargeTable) -> str | None:
    """Why ``table`` is not a valid ``kind`` table, or None (the loader and a head-end's
    write refuse the same tables)."""
    limit = _MAX_ENTRIES[kind]
    if len(table) > limit:
        return f"{kind.value}: at most {limit} entries"
    indexes = [index for index, _ in table]
    if len(set(indexes)) != len(indexes):
        return f"{kind.value}: an index appears twice"
    if any(not 0 <= value <= _MAX_VALUE for _, value in table):
        return f"{kind.value}: a value out of range"
    if kind in (ChargeKind.STEPS, ChargeKind.SERVICE) and indexes != sorted(indexes):
        return f"{kind.value}: bands must ascend"
    if kind is ChargeKind.ENERGY and any(not 1 <= i <= 255 for i in indexes):
        return "energy: the index is a TOU rate 1-255"
    if kind is ChargeKind.STANDING and indexes not in ([], [0]):
        return "standing: one entry, index 0"
    if kind is ChargeKind.FIXED and any(not 1 <= i <= 3 for i in indexes):
        return "fixed: the index is 1-3"
    kinds = {
        ChargeKind.SUBSIDY: (SUBSIDY_UNITS, SUBSIDY_AMOUNT),
        ChargeKind.LEVY: (LEVY_PERCENT, LEVY_PER_KWH),
    }.get(kind)
    if kinds is not None and any(i >> 8 not in kinds or not 1 <= i & 0xFF <= 5 for i in indexes):
        return f"{kind.value}: the index is kind {kinds} x 256 + 1-5"
    if kind is ChargeKind.VAT and any(i not in (1, 2, 3) for i in indexes):
        return "vat: the index is 1 (energy), 2 (charges) or 3 (levies)"
    if kind in (ChargeKind.VAT, ChargeKind.LEVY) and any(
        value > _PPM for index, value in table if kind is ChargeKind.VAT or index >> 8 == 1
    ):
        return f"{kind.value}: a percentage above 100 %"
    return None


@dataclass(frozen=True)
class _Tariff:
    """The active tables, worked out once per change for the cost of each interval."""

    energy: dict[int, int]
    steps: tuple[tuple[int, int], ...]  # (µJ from, µ per kWh)
    service: tuple[tuple[int, int], ...]  # (µJ from, µ per month)
    standing: int
    fixed: tuple[int, ...]
    free_uj: int
    subsidy_amount: int
    levy_ppm: int
    levy_per_kwh: int
    vat_energy: int
    vat_charges: int
    vat_levies: int

    @classmethod
    def of(cls, tables: dict[ChargeKind, ChargeTable]) -> _Tariff:
        def entries(kind: ChargeKind) -> ChargeTable:
            return tables.get(kind, ())

        def by_kind(kind: ChargeKind, which: int) -> int:
            return sum(v for i, v in entries(kind) if i >> 8 == which)

        vat = dict(entries(ChargeKind.VAT))
        free_units = by_kind(ChargeKind.SUBSIDY, SUBSIDY_UNITS)
        return cls(
            energy=dict(entries(ChargeKind.ENERGY)),
            steps=tuple((wh * MICRO_J_PER_WH, v) for wh, v in entries(ChargeKind.STEPS)),
            service=tuple((wh * MICRO_J_PER_WH, v) for wh, v in entries(ChargeKind.SERVICE)),
            standing=sum(v for _, v in entries(ChargeKind.STANDING)),
            fixed=tuple(v for _, v in sorted(entries(ChargeKind.FIXED))),
            free_uj=free_units * MICRO_J_PER_KWH // MICRO,
            subsidy_amount=by_kind(ChargeKind.SUBSIDY, SUBSIDY_AMOUNT),
            levy_ppm=by_kind(ChargeKind.LEVY, LEVY_PERCENT),
            levy_per_kwh=by_kind(ChargeKind.LEVY, LEVY_PER_KWH),
            vat_energy=vat.get(VAT_ENERGY, 0),
            vat_charges=vat.get(VAT_CHARGES, 0),
            vat_levies=vat.get(VAT_LEVIES, 0),
        )

    @property
    def edges(self) -> tuple[int, ...]:
        """The monthly imports (µJ) where the price per kWh changes, ascending."""
        return tuple(sorted({t for t, _ in self.steps} | ({self.free_uj} - {0})))

    def price(self, rate: int) -> int:
        """µ per kWh of ``rate``; a rate without a price pays the highest rate's."""
        if rate in self.energy:
            return self.energy[rate]
        return self.energy[max(self.energy)] if self.energy else 0


@dataclass(frozen=True)
class SecondWallet:
    """The second credit wallet (seed 003 "Dual wallet"): credit the head-end sends
    (class 112 update_amount on its own Credit object, e.g. a social or remotely bought
    credit), consumed first (priority 1, the token wallet then 2) or after the token wallet
    (priority 2); it always pays consumption, and standing, fixed and service charges only
    when ``pays_charges``."""

    name: str = "remote credit"
    priority: int = 1
    pays_charges: bool = False


@dataclass(frozen=True)
class FriendlyPeriods:
    """When the meter does not disconnect for lack of credit (seed 000 "Friendly Hours",
    seed 002 5.4 d): wall-clock windows each day, whole weekdays (1 Monday .. 7 Sunday) and
    holidays ("MM-DD" every year, or "YYYY-MM-DD")."""

    hours: tuple[tuple[time, time], ...] = ()
    weekdays: frozenset[int] = frozenset()
    holidays: frozenset[str] = frozenset()

    def is_friendly(self, wall: datetime) -> bool:
        if wall.isoweekday() in self.weekdays:
            return True
        day = wall.date()
        if day.isoformat() in self.holidays or day.strftime("%m-%d") in self.holidays:
            return True
        now = wall.time()
        for start, end in self.hours:
            inside = start <= now < end if start <= end else (now >= start or now < end)
            if inside:
                return True
        return False

    def next_change(self, wall: datetime) -> datetime:
        """The next wall time after ``wall`` at which `is_friendly` may change: a window
        edge or the next midnight (weekdays and holidays change there)."""
        midnight = datetime.combine(wall.date() + timedelta(days=1), time())
        candidates = [midnight]
        for edge in {t for window in self.hours for t in window}:
            at = datetime.combine(wall.date(), edge)
            if at <= wall:
                at += timedelta(days=1)
            candidates.append(at)
        return min(candidates)


@dataclass(frozen=True)
class WalletConfig:
    """A model's payment configuration (`[prepayment]` of the model file), in micro-units."""

    mode: PaymentMode = PaymentMode.PREPAID
    unit: CreditUnit = CreditUnit.CURRENCY
    currency: str = "EUR"
    prices: tuple[int, ...] = ()
    """µ per kWh by rate; index 0 unused so rate numbers index directly."""
    steps: tuple[tuple[int, int], ...] = ()
    """(monthly import threshold in µJ, surcharge in µ per kWh), ascending, first at 0."""
    standing_charge_per_day: int = 0
    fixed_charges_per_month: tuple[int, ...] = ()
    vat_ppm: int = 0
    """VAT on energy (and on charges and levies unless their own rates are given)."""
    vat_charges_ppm: int | None = None
    vat_levies_ppm: int | None = None
    service_steps: tuple[tuple[int, int], ...] = ()
    """(monthly import threshold in µJ, service charge in µ for the month), ascending."""
    subsidies: tuple[tuple[int, int], ...] = ()
    """(SUBSIDY_UNITS, µ of a kWh free per month) or (SUBSIDY_AMOUNT, µ per month)."""
    levies: tuple[tuple[int, int], ...] = ()
    """(LEVY_PERCENT, ppm of the energy charge) or (LEVY_PER_KWH, µ per kWh)."""
    second_wallet: SecondWallet | None = None
    low_credit_thresholds: tuple[int, ...] = ()
    """Up to three levels, descending: warnings 1, 2, 3 as credit falls below each."""
    emergency_credit: int = 0
    emergency_auto: bool = False
    max_credit: int = 999_999 * MICRO
    initial_credit: int = 0
    friendly: FriendlyPeriods = field(default_factory=FriendlyPeriods)

    def charge_tables(self) -> dict[ChargeKind, ChargeTable]:
        """The tables a new meter starts with (its model's tariff); empty for an energy
        wallet, which has no prices."""
        if self.unit is CreditUnit.ENERGY:
            return {}

        def numbered(pairs: tuple[tuple[int, int], ...]) -> ChargeTable:
            seen: dict[int, int] = {}
            out = []
            for kind, value in pairs:
                seen[kind] = seen.get(kind, 0) + 1
                out.append((kind << 8 | seen[kind], value))
            return tuple(out)

        vat = (
            (VAT_ENERGY, self.vat_ppm),
            (VAT_CHARGES, self.vat_ppm if self.vat_charges_ppm is None else self.vat_charges_ppm),
            (VAT_LEVIES, self.vat_ppm if self.vat_levies_ppm is None else self.vat_levies_ppm),
        )
        return {
            ChargeKind.ENERGY: tuple((r, p) for r, p in enumerate(self.prices) if r >= 1),
            ChargeKind.STEPS: tuple((uj // MICRO_J_PER_WH, v) for uj, v in self.steps),
            ChargeKind.SERVICE: tuple((uj // MICRO_J_PER_WH, v) for uj, v in self.service_steps),
            ChargeKind.STANDING: ((0, self.standing_charge_per_day),)
            if self.standing_charge_per_day
            else (),
            ChargeKind.FIXED: tuple(enumerate(self.fixed_charges_per_month, start=1)),
            ChargeKind.SUBSIDY: numbered(self.subsidies),
            ChargeKind.LEVY: numbered(self.levies),
            ChargeKind.VAT: tuple((i, v) for i, v in vat if v),
        }


TOKEN_WALLET, SECOND_WALLET = 1, 2


@dataclass(frozen=True)
class Purchase:
    at_meter_ms: int
    amount: int  # µ
    tid: int | None = None
    wallet: int = TOKEN_WALLET


class WalletRefused(Exception):
    """A wallet operation that cannot be done now (e.g. emergency credit not offered)."""


class Wallet:
    """Credit (two wallets), emergency credit, debt, charges and the purchase and cost
    records."""

    def __init__(self, config: WalletConfig) -> None:
        self.config = config
        self.mode = config.mode
        self.status = AccountStatus.NEW_INACTIVE
        self.activated_ms: int | None = None
        self.closed_ms: int | None = None
        self.credit = config.initial_credit
        """Token credit in µ; negative while overdrawn (debt run up in friendly periods)."""
        self.second_credit = 0
        """The second wallet's credit in µ (never negative)."""
        self.emergency_in_use = False
        self.emergency_remaining = 0
        self.emergency_owed = 0
        self.carry = 0  # numerator remainder of the energy cost, < denominator
        self.month_import_uj = 0
        self.month_cost = 0
        self.cost_history: list[tuple[str, int]] = []  # (YYYY-MM, µ), newest first
        self.period_cost = 0
        """What the present billing period has cost so far (µ): energy and charges with VAT,
        after subsidies, recorded in postpaid mode too, like `month_cost`."""
        self.period_paid = [0, 0]
        """What the token and the second wallet paid of this billing period's cost (µ)."""
        self.purchases: list[Purchase] = []  # newest first
        self.purchase_count = 0
        self.purchased_total = 0
        self.energy_cost_total = 0
        self.charges_total = 0
        self.debited_total = 0
        """What prepayment took from the wallets and emergency credit (costs incurred while
        postpaid are counted in the totals above but not debited)."""
        self.cleared_total = 0
        self.subsidy_left = 0
        """This month's amount subsidy not yet spent (µ)."""
        self.subsidised_total = 0
        self.tables: dict[ChargeKind, ChargeTable] = config.charge_tables()
        self.passive: dict[ChargeKind, ChargeTable] = dict(self.tables)
        self.activation_ms: dict[ChargeKind, int] = {}
        """Passive tables waiting for their activation time (meter ms)."""
        self.collections: dict[ChargeKind, tuple[int, int]] = {}
        """Each charge's last collection: (meter ms, µ with its VAT)."""
        self.remaining: dict[ChargeKind, int] = {}
        """Each charge's total amount remaining (µ), counted down by its collections."""
        self.at_ms = 0
        """The meter time of the flow in progress (set by the core before it runs one)."""
        self._use_tables()
        self.subsidy_left = self.tariff.subsidy_amount
        self.alarm_level = self._level()

    def _use_tables(self) -> None:
        """The active tables changed: the tariff and what is worked out from it."""
        self.tariff = _Tariff.of(self.tables)
        self._edges = self.tariff.edges if self.config.unit is CreditUnit.CURRENCY else ()
        self._numerators: dict[tuple[int, int], int] = {}  # (rate, band) -> numerator

    # -- views --------------------------------------------------------------------------

    @property
    def prepaid(self) -> bool:
        """Prepayment is in force: prepaid mode on an active account."""
        return self.mode is PaymentMode.PREPAID and self.status is AccountStatus.ACTIVE

    def available(self) -> int:
        """What may still be consumed before the meter is out of credit (µ)."""
        emergency = self.emergency_remaining if self.emergency_in_use else 0
        return max(self.credit, 0) + self.second_credit + emergency

    def exhausted(self) -> bool:
        return self.prepaid and self.available() <= 0

    def _level(self) -> int:
        """How many low-credit thresholds the available credit is at or below."""
        if not self.prepaid:
            return 0
        return self._level_at(self.available())

    def _level_at(self, available: int) -> int:
        level = 0
        for threshold in self.config.low_credit_thresholds:
            if available <= threshold:
                level += 1
        return level

    def price(self, rate: int) -> int:
        """µ per kWh of the rate before steps, levies and VAT (energy credit: 1 kWh)."""
        if self.config.unit is CreditUnit.ENERGY:
            return MICRO
        return self.tariff.price(rate)

    def _price_numerator(self, rate: int) -> int:
        """µ per kWh of the present band with levies and VAT, scaled by 10^12 (the VAT and
        percent levies are ppm); 0 while the month's free units last."""
        key = (rate, bisect_right(self._edges, self.month_import_uj))
        numerator = self._numerators.get(key)
        if numerator is None:
            numerator = self._numerators[key] = self._work_out_numerator(rate)
        return numerator

    def _work_out_numerator(self, rate: int) -> int:
        if self.config.unit is not CreditUnit.CURRENCY:
            return MICRO * _PPM * _PPM
        tariff = self.tariff
        if self.month_import_uj < tariff.free_uj:
            return 0
        energy = tariff.price(rate) + self._step_surcharge()
        levied = _PPM + tariff.vat_levies
        return (
            energy * (_PPM + tariff.vat_energy) * _PPM
            + tariff.levy_per_kwh * levied * _PPM
            + energy * tariff.levy_ppm * levied
        )

    def _step_surcharge(self) -> int:
        surcharge = 0
        for threshold, extra in self.tariff.steps:
            if self.month_import_uj >= threshold:
                surcharge = extra
        return surcharge

    def _next_step_uj(self) -> int | None:
        """Energy to the next price change this month (a step band, the end of the free
        units), if any."""
        edges = self._edges
        at = bisect_right(edges, self.month_import_uj)
        return edges[at] - self.month_import_uj if at < len(edges) else None

    def energy_to_next_change(self, rate: int) -> int | None:
        """µJ of import after which the wallet next needs the core's attention (a threshold
        crossed, credit exhausted, a new price band), or None if nothing will happen; >= 1."""
        if not self.prepaid:
            return None
        step = self._next_step_uj()
        available = self.available()
        targets = [available - t for t in self.config.low_credit_thresholds if t < available]
        if available > 0:
            targets.append(available)
        numerator = self._price_numerator(rate)
        if not targets or numerator <= 0:
            return step
        money = min(targets)
        energy = max(-(-(money * _DENOMINATOR - self.carry) // numerator), 1)
        return energy if step is None else min(energy, step)

    # -- charge tables (class 113) ------------------------------------------------------

    def set_passive(self, kind: ChargeKind, table: ChargeTable) -> None:
        """A head-end writes ``kind``'s passive table (ValueError if invalid)."""
        problem = self._kind_error(kind) or table_error(kind, table)
        if problem is not None:
            raise ValueError(problem)
        self.passive[kind] = tuple(table)

    def schedule_activation(self, kind: ChargeKind, meter_ms: int | None) -> None:
        """The passive table of ``kind`` becomes active at ``meter_ms`` (None: not planned)."""
        problem = self._kind_error(kind)
        if problem is not None:
            raise ValueError(problem)
        if meter_ms is None:
            self.activation_ms.pop(kind, None)
        else:
            self.activation_ms[kind] = meter_ms

    def activate_passive(self, kind: ChargeKind) -> None:
        """Class 113 activate_passive_unit_charge: the passive table becomes active; what
        was consumed before was charged at the old table."""
        problem = self._kind_error(kind)
        if problem is not None:
            raise ValueError(problem)
        self.tables[kind] = self.passive.get(kind, ())
        self.activation_ms.pop(kind, None)
        was_amount = self.tariff.subsidy_amount
        self._use_tables()
        if kind is ChargeKind.SUBSIDY:  # the month's allowance follows the new amount
            spent = was_amount - self.subsidy_left
            self.subsidy_left = max(self.tariff.subsidy_amount - spent, 0)

    def next_activation_ms(self) -> int | None:
        return min(self.activation_ms.values(), default=None)

    def activate_due(self, meter_ms: int) -> list[ChargeKind]:
        """Activate the tables whose time has come; returns their kinds."""
        due = [k for k, at in self.activation_ms.items() if at <= meter_ms]
        for kind in due:
            self.activate_passive(kind)
        return due

    def _kind_error(self, kind: ChargeKind) -> str | None:
        if self.config.unit is not CreditUnit.CURRENCY:
            return "an energy wallet has no charge tables"
        return None

    # -- flows ------------------------------------------------------------------------

    def consume(self, energy_uj: int, rate: int) -> list[WalletEvent]:
        """Charge ``energy_uj`` of import at ``rate``'s price; price bands split it."""
        if energy_uj <= 0:
            return []
        cost = 0
        left = energy_uj
        while left > 0:
            step = self._next_step_uj()
            chunk = left if step is None else min(left, step)
            total = chunk * self._price_numerator(rate) + self.carry
            cost += total // _DENOMINATOR
            self.carry = total % _DENOMINATOR
            self.month_import_uj += chunk
            left -= chunk
        self.energy_cost_total += cost
        if cost:
            self._collected(ChargeKind.ENERGY, cost)
        return self._pay(cost, charges=False)

    def charge(self, amount: int, kind: ChargeKind = ChargeKind.STANDING) -> list[WalletEvent]:
        """A standing, fixed or service charge (before VAT) taken from the credit."""
        with_vat = amount * (_PPM + self.tariff.vat_charges) // _PPM
        self.charges_total += with_vat
        self._collected(kind, with_vat)
        return self._pay(with_vat, charges=True)

    def _collected(self, kind: ChargeKind, amount: int) -> None:
        self.collections[kind] = (self.at_ms, amount)
        left = self.remaining.get(kind)
        if left:
            self.remaining[kind] = max(left - amount, 0)

    def collect(self, kind: ChargeKind) -> list[WalletEvent]:
        """Class 113 collect: a time-based charge taken now, as at its due time (a day's
        standing charge, this month's fixed charges, the service charge of this month's
        band so far); a consumption-based one is collected as energy is used, so nothing
        more is. WalletRefused for a subsidy (it pays, it is not collected)."""
        if kind is ChargeKind.SUBSIDY:
            raise WalletRefused("a subsidy pays charges; it is not collected")
        if kind is ChargeKind.STANDING and self.tariff.standing:
            return self.charge(self.tariff.standing)
        if kind is ChargeKind.FIXED and self.tariff.fixed:
            return self._fixed_charges()
        if kind is ChargeKind.SERVICE and (service := self._service_due()):
            return self.charge(service, ChargeKind.SERVICE)
        return []

    def set_remaining(self, kind: ChargeKind, amount: int) -> None:
        """Class 113 set_total_amount_remaining (µ, not negative)."""
        if amount < 0:
            raise WalletRefused("a total amount remaining is not negative")
        self.remaining[kind] = amount

    def _service_due(self) -> int:
        """The monthly service charge of this month's consumption band so far."""
        service = 0
        for threshold, amount in self.tariff.service:
            if self.month_import_uj >= threshold:
                service = amount
        return service

    def _fixed_charges(self) -> list[WalletEvent]:
        """The month's fixed charges, one collection of their sum (with VAT)."""
        events: list[WalletEvent] = []
        taken = 0
        for amount in self.tariff.fixed:
            events += self.charge(amount, ChargeKind.FIXED)
            taken += self.collections[ChargeKind.FIXED][1]
        self.collections[ChargeKind.FIXED] = (self.at_ms, taken)
        return events

    def _pay(self, cost: int, charges: bool) -> list[WalletEvent]:
        """The amount subsidy pays first; the rest is recorded and, when prepaid, drawn."""
        subsidised = min(self.subsidy_left, cost)
        self.subsidy_left -= subsidised
        self.subsidised_total += subsidised
        if subsidised:
            self._collected(ChargeKind.SUBSIDY, subsidised)
        cost -= subsidised
        self.month_cost += cost
        self.period_cost += cost
        if not self.prepaid:
            return []
        return self._draw(cost, charges)

    def balance_check(self) -> int:
        """Credit conservation: initial + purchased - debited - cleared - (credit +
        second wallet - emergency owed); zero unless a micro-unit was lost or made up."""
        credited = self.config.initial_credit + self.purchased_total
        spent = self.debited_total + self.cleared_total
        return credited - spent - (self.credit + self.second_credit - self.emergency_owed)

    def _draw(self, amount: int, charges: bool = False) -> list[WalletEvent]:
        was = self._before()
        self.debited_total += amount
        second = self.config.second_wallet
        second_pays = second is not None and (second.pays_charges or not charges)
        rest = amount
        if second_pays and second is not None and second.priority == 1:
            rest = self._from_second(rest)
        from_credit = min(max(self.credit, 0), rest)
        self.credit -= from_credit
        self.period_paid[0] += from_credit
        rest -= from_credit
        if second_pays and second is not None and second.priority != 1:
            rest = self._from_second(rest)
        if rest and self.emergency_in_use:
            from_emergency = min(self.emergency_remaining, rest)
            self.emergency_remaining -= from_emergency
            self.emergency_owed += from_emergency
            self.period_paid[0] += from_emergency
            rest -= from_emergency
        self.credit -= rest  # overdraw: only while the meter does not disconnect
        self.period_paid[0] += rest
        events = []
        if (
            self.config.emergency_auto
            and self.config.emergency_credit > 0
            and not self.emergency_in_use
            and self.emergency_owed == 0
            and self.available() <= 0
        ):
            self._invoke_emergency()
            events.append(WalletEvent.EMERGENCY_CREDIT_INVOKED)
        return self._changes(was) + events

    def _from_second(self, amount: int) -> int:
        taken = min(self.second_credit, amount)
        self.second_credit -= taken
        self.period_paid[1] += taken
        return amount - taken

    def _before(self) -> tuple[int, int]:
        """What `_changes` compares with: the warning level and the available credit (1 when
        prepayment is not in force: it counts as not exhausted)."""
        if not self.prepaid:
            return 0, 1
        available = self.available()
        return self._level_at(available), available

    def _changes(self, was: tuple[int, int]) -> list[WalletEvent]:
        level_was, available_was = was
        prepaid = self.prepaid
        available = self.available() if prepaid else 0
        level = self.alarm_level = self._level_at(available) if prepaid else 0
        events = [_LOW[k] for k in range(level_was, level)] if level > level_was else []
        if prepaid:
            if available_was > 0 and available <= 0:
                events.append(WalletEvent.CREDIT_EXHAUSTED)
            elif available_was <= 0 and available > 0:
                events.append(WalletEvent.CREDIT_RESTORED)
        return events

    def would_overflow(self, amount: int, wallet: int = TOKEN_WALLET) -> bool:
        held = self.second_credit if wallet == SECOND_WALLET else self.credit
        return held + amount > self.config.max_credit

    def clear_second(self) -> list[WalletEvent]:
        """The second wallet to 0 (class 112 set_amount_to_value 0 on its Credit)."""
        was = self._before()
        self.cleared_total += self.second_credit
        self.second_credit = 0
        return self._changes(was)

    def purchase(
        self, amount: int, meter_ms: int, tid: int | None = None, wallet: int = TOKEN_WALLET
    ) -> list[WalletEvent]:
        """Add purchased credit: overdraw first, then the emergency credit used, then credit
        (seed 002 5.4 a); credit for the second wallet goes to it whole. The caller checks
        `would_overflow` first."""
        was = self._before()
        if self.status is AccountStatus.CLOSED:
            raise WalletRefused("the account is closed")
        if wallet == SECOND_WALLET and self.config.second_wallet is None:
            raise WalletRefused("this meter has one wallet")
        if self.status is AccountStatus.NEW_INACTIVE:
            self.status = AccountStatus.ACTIVE  # the first purchase opens the account
            self.activated_ms = meter_ms
        if wallet == SECOND_WALLET:
            self.second_credit += amount
        else:
            self.credit += amount
        if self.credit > 0 and self.emergency_owed:
            repay = min(self.credit, self.emergency_owed)
            self.credit -= repay
            self.emergency_owed -= repay
        if self.emergency_owed == 0 and self.emergency_in_use:
            self.emergency_in_use = False
            self.emergency_remaining = 0
        self.purchases.insert(0, Purchase(meter_ms, amount, tid, wallet))
        del self.purchases[PURCHASE_HISTORY:]
        self.purchase_count += 1
        self.purchased_total += amount
        return self._changes(was)

    def clear_credit(self) -> list[WalletEvent]:
        """STS class 2/1 ClearCredit: the credit register (and any emergency credit) to 0."""
        was = self._before()
        self.cleared_total += self.credit - self.emergency_owed
        self.credit = 0
        self.emergency_in_use = False
        self.emergency_remaining = 0
        self.emergency_owed = 0
        return self._changes(was)

    def emergency_offered(self) -> bool:
        """Emergency credit can be taken: configured, not in use nor owed, and credit at or
        below the lowest warning level (or exhausted when no levels are set)."""
        config = self.config
        if not self.prepaid or config.emergency_credit <= 0:
            return False
        if self.emergency_in_use or self.emergency_owed:
            return False
        limit = min(config.low_credit_thresholds, default=0)
        return self.available() <= limit

    def take_emergency_credit(self) -> list[WalletEvent]:
        """The customer (keypad) or head-end (class 112 invoke_credit) asks for it."""
        if not self.emergency_offered():
            raise WalletRefused("emergency credit is not offered now")
        was = self._before()
        self._invoke_emergency()
        return [WalletEvent.EMERGENCY_CREDIT_INVOKED, *self._changes(was)]

    def _invoke_emergency(self) -> None:
        self.emergency_in_use = True
        self.emergency_remaining = self.config.emergency_credit

    def set_mode(self, mode: PaymentMode) -> list[WalletEvent]:
        was = self._before()
        self.mode = PaymentMode(mode)
        return self._changes(was)

    def set_status(self, status: AccountStatus, meter_ms: int) -> list[WalletEvent]:
        """Class 111 activate_account / close_account / reset_account."""
        was = self._before()
        self.status = AccountStatus(status)
        if self.status is AccountStatus.ACTIVE:
            self.activated_ms, self.closed_ms = meter_ms, None
        elif self.status is AccountStatus.CLOSED:
            self.closed_ms = meter_ms
        else:
            self.activated_ms = self.closed_ms = None
        return self._changes(was)

    def new_day(self) -> list[WalletEvent]:
        """Local midnight: the daily standing charge."""
        if self.tariff.standing:
            return self.charge(self.tariff.standing)
        return []

    def new_month(self, ended: date) -> list[WalletEvent]:
        """The first of a month at local midnight: `close_month`, then `open_month`."""
        events = self.close_month(ended)
        return events + self.open_month()

    def close_month(self, ended: date) -> list[WalletEvent]:
        """The month that ``ended`` belongs to pays its service charge (the band of its
        consumption, seed 003 "monthly service charge"), goes to the 12-month cost history
        (seed 002 5.4 g) and the step bands restart. Returns the charge's events."""
        events: list[WalletEvent] = []
        service = self._service_due()
        if service:
            events = self.charge(service, ChargeKind.SERVICE)
        self.cost_history.insert(0, (ended.strftime("%Y-%m"), self.month_cost))
        del self.cost_history[COST_HISTORY_MONTHS:]
        self.month_cost = 0
        self.month_import_uj = 0
        return events

    def open_month(self) -> list[WalletEvent]:
        """A new month begins: its amount subsidy is granted and its fixed charges are
        taken (in advance, so they count in the new month's cost, after the subsidy)."""
        self.subsidy_left = self.tariff.subsidy_amount
        return self._fixed_charges() if self.tariff.fixed else []

    def end_billing_period(self) -> None:
        """The billing point (the billing profiles have captured `period_cost` and what
        each wallet paid): a new period begins at 0."""
        self.period_cost = 0
        self.period_paid = [0, 0]

    # -- persistence ------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "mode": int(self.mode),
            "status": int(self.status),
            "activated_ms": self.activated_ms,
            "closed_ms": self.closed_ms,
            "credit": self.credit,
            "emergency_in_use": self.emergency_in_use,
            "emergency_remaining": self.emergency_remaining,
            "emergency_owed": self.emergency_owed,
            "carry": self.carry,
            "month_import_uj": self.month_import_uj,
            "month_cost": self.month_cost,
            "cost_history": [list(item) for item in self.cost_history],
            "period_cost": self.period_cost,
            "purchases": [[p.at_meter_ms, p.amount, p.tid, p.wallet] for p in self.purchases],
            "carry_scale": _PPM * _PPM,
            "second_credit": self.second_credit,
            "period_paid": list(self.period_paid),
            "subsidy_left": self.subsidy_left,
            "subsidised_total": self.subsidised_total,
            "tables": {k.value: [list(e) for e in t] for k, t in self.tables.items()},
            "passive": {k.value: [list(e) for e in t] for k, t in self.passive.items()},
            "activation_ms": {k.value: at for k, at in self.activation_ms.items()},
            "collections": {k.value: list(c) for k, c in self.collections.items()},
            "remaining": {k.value: left for k, left in self.remaining.items()},
            "purchase_count": self.purchase_count,
            "purchased_total": self.purchased_total,
            "energy_cost_total": self.energy_cost_total,
            "charges_total": self.charges_total,
            "debited_total": self.debited_total,
            "cleared_total": self.cleared_total,
        }

    @classmethod
    def from_state(cls, config: WalletConfig, state: dict[str, Any]) -> Wallet:
        wallet = cls(config)
        wallet.mode = PaymentMode(int(state["mode"]))
        wallet.status = AccountStatus(int(state["status"]))
        for name in ("activated_ms", "closed_ms"):
            value = state[name]
            setattr(wallet, name, None if value is None else int(value))
        for name in (
            "credit",
            "emergency_remaining",
            "emergency_owed",
            "carry",
            "month_import_uj",
            "month_cost",
            "purchase_count",
            "purchased_total",
            "energy_cost_total",
            "charges_total",
            "debited_total",
            "cleared_total",
        ):
            setattr(wallet, name, int(state[name]))
        wallet.emergency_in_use = bool(state["emergency_in_use"])
        wallet.cost_history = [(str(m), int(c)) for m, c in state["cost_history"]]
        # A wallet saved before billing periods were costed counts from its restart.
        wallet.period_cost = int(state.get("period_cost", 0))
        wallet.purchases = [
            Purchase(int(p[0]), int(p[1]), None if p[2] is None else int(p[2]), int(p[3]))
            if len(p) > 3
            else Purchase(int(p[0]), int(p[1]), None if p[2] is None else int(p[2]))
            for p in state["purchases"]
        ]
        if "carry_scale" not in state:  # saved when VAT alone scaled the numerator
            wallet.carry *= _PPM
        wallet.second_credit = int(state.get("second_credit", 0))
        wallet.period_paid = [int(v) for v in state.get("period_paid", (0, 0))]
        wallet.subsidised_total = int(state.get("subsidised_total", 0))
        if "tables" in state:  # else the model's tables, as when the meter was made

            def tables(saved: dict[str, Any]) -> dict[ChargeKind, ChargeTable]:
                return {
                    ChargeKind(k): tuple((int(i), int(v)) for i, v in t) for k, t in saved.items()
                }

            wallet.tables = tables(state["tables"])
            wallet.passive = tables(state["passive"])
            wallet.activation_ms = {
                ChargeKind(k): int(at) for k, at in state["activation_ms"].items()
            }
            wallet._use_tables()
        wallet.collections = {
            ChargeKind(k): (int(at), int(amount))
            for k, (at, amount) in state.get("collections", {}).items()
        }
        wallet.remaining = {ChargeKind(k): int(v) for k, v in state.get("remaining", {}).items()}
        wallet.subsidy_left = int(state.get("subsidy_left", wallet.tariff.subsidy_amount))
        wallet.alarm_level = wallet._level()
        return wallet
