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
  month's consumption band, plus VAT; standing charges are taken daily, fixed charges monthly.

Costs are recorded twice: per calendar month (`month_cost`, the 12-month `cost_history`; seed
002 5.4 e and g) and per billing period (`period_cost`, which the billing profile captures at
the billing point; issue 5 item 2). The two agree when the billing point is the month start.

The wallet is pure: the core tells it the energy imported at each stop, the new days and
months, and asks it how much energy may pass before its state next changes (a low-credit
threshold, exhaustion) so that it can stop exactly there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum, IntEnum
from typing import Any

MICRO = 1_000_000
"""Micro-units in one unit of credit (one currency unit, or one kWh)."""
MICRO_J_PER_KWH = 3_600_000_000_000
PURCHASE_HISTORY = 10
COST_HISTORY_MONTHS = 12
_PPM = 1_000_000


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
    low_credit_thresholds: tuple[int, ...] = ()
    """Up to three levels, descending: warnings 1, 2, 3 as credit falls below each."""
    emergency_credit: int = 0
    emergency_auto: bool = False
    max_credit: int = 999_999 * MICRO
    initial_credit: int = 0
    friendly: FriendlyPeriods = field(default_factory=FriendlyPeriods)

    def price(self, rate: int) -> int:
        """µ per kWh of the rate before steps and VAT (energy credit: 1 kWh per kWh)."""
        if self.unit is CreditUnit.ENERGY:
            return MICRO
        if 1 <= rate < len(self.prices):
            return self.prices[rate]
        return self.prices[-1] if len(self.prices) > 1 else 0


@dataclass(frozen=True)
class Purchase:
    at_meter_ms: int
    amount: int  # µ
    tid: int | None = None


class WalletRefused(Exception):
    """A wallet operation that cannot be done now (e.g. emergency credit not offered)."""


class Wallet:
    """Credit, emergency credit, debt, charges and the purchase and cost records."""

    def __init__(self, config: WalletConfig) -> None:
        self.config = config
        self.mode = config.mode
        self.status = AccountStatus.NEW_INACTIVE
        self.activated_ms: int | None = None
        self.closed_ms: int | None = None
        self.credit = config.initial_credit
        """Token credit in µ; negative while overdrawn (debt run up in friendly periods)."""
        self.emergency_in_use = False
        self.emergency_remaining = 0
        self.emergency_owed = 0
        self.carry = 0  # numerator remainder of the energy cost, < denominator
        self.month_import_uj = 0
        self.month_cost = 0
        self.cost_history: list[tuple[str, int]] = []  # (YYYY-MM, µ), newest first
        self.period_cost = 0
        """What the present billing period has cost so far (µ): energy and charges with VAT,
        recorded in postpaid mode too, like `month_cost`."""
        self.purchases: list[Purchase] = []  # newest first
        self.purchase_count = 0
        self.purchased_total = 0
        self.energy_cost_total = 0
        self.charges_total = 0
        self.debited_total = 0
        """What prepayment took from credit and emergency credit (costs incurred while
        postpaid are counted in the totals above but not debited)."""
        self.cleared_total = 0
        self.alarm_level = self._level()

    # -- views --------------------------------------------------------------------------

    @property
    def prepaid(self) -> bool:
        """Prepayment is in force: prepaid mode on an active account."""
        return self.mode is PaymentMode.PREPAID and self.status is AccountStatus.ACTIVE

    def available(self) -> int:
        """What may still be consumed before the meter is out of credit (µ)."""
        emergency = self.emergency_remaining if self.emergency_in_use else 0
        return max(self.credit, 0) + emergency

    def exhausted(self) -> bool:
        return self.prepaid and self.available() <= 0

    def _level(self) -> int:
        """How many low-credit thresholds the available credit is at or below."""
        if not self.prepaid:
            return 0
        available = self.available()
        return sum(1 for t in self.config.low_credit_thresholds if available <= t)

    def _price_numerator(self, rate: int) -> int:
        """µ per kWh of the present band including VAT, scaled by 10^6 (VAT ppm)."""
        price = self.config.price(rate)
        if self.config.unit is CreditUnit.CURRENCY:
            price += self._step_surcharge()
            return price * (_PPM + self.config.vat_ppm)
        return price * _PPM

    def _step_surcharge(self) -> int:
        surcharge = 0
        for threshold, extra in self.config.steps:
            if self.month_import_uj >= threshold:
                surcharge = extra
        return surcharge

    def _next_step_uj(self) -> int | None:
        """Energy to the next step band this month, if steps apply."""
        if self.config.unit is not CreditUnit.CURRENCY:
            return None
        for threshold, _ in self.config.steps:
            if threshold > self.month_import_uj:
                return threshold - self.month_import_uj
        return None

    def energy_to_next_change(self, rate: int) -> int | None:
        """µJ of import after which the wallet next needs the core's attention (a threshold
        crossed, credit exhausted), or None if nothing will happen; at least 1."""
        if not self.prepaid:
            return None
        available = self.available()
        targets = [available - t for t in self.config.low_credit_thresholds if t < available]
        if available > 0:
            targets.append(available)
        if not targets:
            return None
        money = min(targets)
        numerator = self._price_numerator(rate)
        if numerator <= 0:
            return None
        denominator = MICRO_J_PER_KWH * _PPM
        energy = max(-(-(money * denominator - self.carry) // numerator), 1)
        step = self._next_step_uj()
        return energy if step is None else min(energy, step)

    # -- flows ------------------------------------------------------------------------

    def consume(self, energy_uj: int, rate: int) -> list[WalletEvent]:
        """Charge ``energy_uj`` of import at ``rate``'s price; step bands split it."""
        if energy_uj <= 0:
            return []
        denominator = MICRO_J_PER_KWH * _PPM
        cost = 0
        left = energy_uj
        while left > 0:
            step = self._next_step_uj()
            chunk = left if step is None else min(left, step)
            total = chunk * self._price_numerator(rate) + self.carry
            cost += total // denominator
            self.carry = total % denominator
            self.month_import_uj += chunk
            left -= chunk
        self.month_cost += cost
        self.period_cost += cost
        self.energy_cost_total += cost
        if not self.prepaid:
            return []
        return self._draw(cost)

    def charge(self, amount: int) -> list[WalletEvent]:
        """A standing or fixed charge (before VAT) taken from the credit."""
        with_vat = amount * (_PPM + self.config.vat_ppm) // _PPM
        self.month_cost += with_vat
        self.period_cost += with_vat
        self.charges_total += with_vat
        if not self.prepaid:
            return []
        return self._draw(with_vat)

    def balance_check(self) -> int:
        """Credit conservation: initial + purchased - debited - cleared - (credit -
        emergency owed); zero unless the wallet lost or made up a micro-unit."""
        credited = self.config.initial_credit + self.purchased_total
        spent = self.debited_total + self.cleared_total
        return credited - spent - (self.credit - self.emergency_owed)

    def _draw(self, amount: int) -> list[WalletEvent]:
        was = self._before()
        self.debited_total += amount
        from_credit = min(max(self.credit, 0), amount)
        self.credit -= from_credit
        rest = amount - from_credit
        if rest and self.emergency_in_use:
            from_emergency = min(self.emergency_remaining, rest)
            self.emergency_remaining -= from_emergency
            self.emergency_owed += from_emergency
            rest -= from_emergency
        self.credit -= rest  # overdraw: only while the meter does not disconnect
        events = []
        if (
            self.credit <= 0
            and self.config.emergency_auto
            and self.config.emergency_credit > 0
            and not self.emergency_in_use
            and self.emergency_owed == 0
        ):
            self._invoke_emergency()
            events.append(WalletEvent.EMERGENCY_CREDIT_INVOKED)
        return self._changes(was) + events

    def _before(self) -> tuple[int, int]:
        """What `_changes` compares with: the warning level and the available credit (1 when
        prepayment is not in force: it counts as not exhausted)."""
        return self._level(), (self.available() if self.prepaid else 1)

    def _changes(self, was: tuple[int, int]) -> list[WalletEvent]:
        level_was, available_was = was
        self.alarm_level = self._level()
        events = [_LOW[k] for k in range(level_was, self.alarm_level)]
        if self.prepaid and available_was > 0 and self.available() <= 0:
            events.append(WalletEvent.CREDIT_EXHAUSTED)
        elif self.prepaid and available_was <= 0 and self.available() > 0:
            events.append(WalletEvent.CREDIT_RESTORED)
        return events

    def would_overflow(self, amount: int) -> bool:
        return self.credit + amount > self.config.max_credit

    def purchase(self, amount: int, meter_ms: int, tid: int | None = None) -> list[WalletEvent]:
        """Add purchased credit: overdraw first, then the emergency credit used, then credit
        (seed 002 5.4 a). The caller checks `would_overflow` first."""
        was = self._before()
        if self.status is AccountStatus.CLOSED:
            raise WalletRefused("the account is closed")
        if self.status is AccountStatus.NEW_INACTIVE:
            self.status = AccountStatus.ACTIVE  # the first purchase opens the account
            self.activated_ms = meter_ms
        self.credit += amount
        if self.credit > 0 and self.emergency_owed:
            repay = min(self.credit, self.emergency_owed)
            self.credit -= repay
            self.emergency_owed -= repay
        if self.emergency_owed == 0 and self.emergency_in_use:
            self.emergency_in_use = False
            self.emergency_remaining = 0
        self.purchases.insert(0, Purchase(meter_ms, amount, tid))
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
        if self.config.standing_charge_per_day:
            return self.charge(self.config.standing_charge_per_day)
        return []

    def new_month(self, ended: date) -> list[WalletEvent]:
        """The first of a month at local midnight: `close_month`, then `open_month`."""
        self.close_month(ended)
        return self.open_month()

    def close_month(self, ended: date) -> None:
        """The month that ``ended`` belongs to goes to the 12-month cost history (seed 002
        5.4 g) and the step bands restart."""
        self.cost_history.insert(0, (ended.strftime("%Y-%m"), self.month_cost))
        del self.cost_history[COST_HISTORY_MONTHS:]
        self.month_cost = 0
        self.month_import_uj = 0

    def open_month(self) -> list[WalletEvent]:
        """A new month begins: its fixed charges are taken (in advance, so they count in
        the new month's cost)."""
        events: list[WalletEvent] = []
        for amount in self.config.fixed_charges_per_month:
            events += self.charge(amount)
        return events

    def end_billing_period(self) -> None:
        """The billing point (the billing profiles have captured `period_cost`): a new
        period begins at 0."""
        self.period_cost = 0

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
            "purchases": [[p.at_meter_ms, p.amount, p.tid] for p in self.purchases],
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
            Purchase(int(ms), int(amount), None if tid is None else int(tid))
            for ms, amount, tid in state["purchases"]
        ]
        wallet.alarm_level = wallet._level()
        return wallet
