"""Load and validate device model files into `DeviceSpec` values.

A model names the meter's ratings, functions, clock rules, default tariffs, relay control
mode, display list and the world its default scenario simulates. Mistakes stop with the
file, the field path and what was expected (`SchemaError`), never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from metertwin.meter.battery import BatteryConfig
from metertwin.meter.calendar import (
    CalendarError,
    CalendarSet,
    Capacity,
    DayProfile,
    Season,
    SpecialDay,
    Switch,
    WeekProfile,
)
from metertwin.meter.clock import ClockConfig, DstConfig, DstRule
from metertwin.meter.demand import DemandConfig
from metertwin.meter.dlms_security import KEY_LENGTH_BY_SUITE, DlmsKeyConfig, SetupConfig
from metertwin.meter.events import EventLog
from metertwin.meter.metrology import MetrologyConfig, Ratings, TransformerRatios
from metertwin.meter.profiles import BILLING, EVENT, BillingConfig, ProfileSpec
from metertwin.meter.registers import Energy
from metertwin.meter.security import SecurityConfig
from metertwin.meter.spec import DeviceSpec
from metertwin.meter.token_entry import TokenEntryConfig
from metertwin.meter.wallet import (
    LEVY_PER_KWH,
    LEVY_PERCENT,
    MICRO_J_PER_WH,
    SUBSIDY_AMOUNT,
    SUBSIDY_UNITS,
    CreditUnit,
    FriendlyPeriods,
    PaymentMode,
    SecondWallet,
    WalletConfig,
    table_error,
    to_micro,
)
from metertwin.schema import SchemaError, TableReader, deep_merge, parse_toml

T = TypeVar("T")
DEFAULT_MODEL = "pmm1220"  # the default meter of `make run`: a prepayment household meter
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MODE_C_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200)  # IEC 62056-21 baud characters 0..6
_OBIS = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_HHMM = re.compile(r"^(\d{2}):(\d{2})$")
_HOLIDAY = re.compile(r"^(\d{4}-)?(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_SPECIAL_DATE = re.compile(r"^(\*|\d{4})-(\*|\d{2})-(\d{2})$")


@dataclass(frozen=True)
class WorldDefaults:
    """The installation a model's default scenario simulates (not part of the meter)."""

    annual_kwh: float
    pv_kwp: float
    latitude: float
    longitude: float


RIGHTS_PROFILES = ("public", "reader", "utility", "management")
MECHANISMS = ("none", "lls", "hls-gmac", "hls-ecdsa")
HLS_MECHANISMS = ("hls-gmac", "hls-ecdsa")


@dataclass(frozen=True)
class AssociationSpec:
    """One association of the model (seed 004: public client 0x10 without authentication,
    meter reader 0x20 with LLS; seed 003: three LLS levels)."""

    name: str
    client_sap: int
    mechanism: str  # "none", "lls", "hls-gmac" or "hls-ecdsa"
    rights: str  # a rights profile: public, reader, utility, management
    secret: bytes | None = None
    suite: int | None = None  # HLS: its Security setup's suite (0, 1 or 2)
    security_policy: int = 0  # HLS: the setup's initial security_policy (class 64 v1 bits)


@dataclass(frozen=True)
class DlmsSpec:
    """The meter's DLMS/COSEM face: its logical device, object list and associations."""

    server_sap: int
    logical_device_name: str  # may contain {serial}
    objects: str  # "standard" (built from the meter's functions) or a CSV object list
    associations: tuple[AssociationSpec, ...]
    single_connection: bool
    inactivity_timeout_s: int
    frame_timeout_s: int  # a frame must be complete this long after its first octet
    max_connections: int  # served at once (1 with single_connection)


@dataclass(frozen=True)
class OpticalSpec:
    """The IEC 62056-21 optical port (docs/optical.md): the identification ``/XXXZ\\2ident``,
    the highest rate offered, whether mode E (HDLC) is, the association whose secret the P1
    password is (its lockout applies), and the mode C readout list: OBIS codes read as
    value and unit, in order."""

    manufacturer: str  # three letters, the flag ID
    identification: str
    max_baud: int
    mode_e: bool
    password_association: str
    readout: tuple[str, ...]


@dataclass(frozen=True)
class DeviceModel:
    spec: DeviceSpec
    world: WorldDefaults
    source: str  # built-in name or file path
    text: str  # the model file as read, stored with each meter's memory
    seed: str
    manufacturer: str
    dlms: DlmsSpec
    optical: OpticalSpec | None = None


def builtin_model_names() -> list[str]:
    folder = resources.files("metertwin.models") / "data"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def _builtin_text(name: str) -> str:
    return (resources.files("metertwin.models") / "data" / f"{name}.toml").read_text("utf-8")


def load_model(
    name_or_path: str, overrides: Mapping[str, Any] | None = None, overrides_source: str = "config"
) -> DeviceModel:
    """A built-in model by name, or a model file by path; `overrides` (a config file's
    tables) are merged over it before validation."""
    if name_or_path in builtin_model_names():
        text, source = _builtin_text(name_or_path), name_or_path
    else:
        path = Path(name_or_path)
        if not path.is_file():
            known = ", ".join(builtin_model_names())
            raise SchemaError(name_or_path, "", f"no such model file or built-in model ({known})")
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(name_or_path, "", f"cannot read model file ({exc})") from None
        source = str(path)
    return model_from_text(text, source, overrides, overrides_source)


def model_from_text(
    text: str,
    source: str,
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str = "config",
) -> DeviceModel:
    document = parse_toml(text, source)
    if overrides:
        _check_overrides(document, overrides, overrides_source)
        document = deep_merge(document, overrides)
    return _ModelReader(document, source).read(text)


def _check_overrides(
    document: Mapping[str, Any], overrides: Mapping[str, Any], source: str, path: str = ""
) -> None:
    """An override may only change what the model schema knows; name the config file."""
    for key, value in overrides.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, Mapping):
            if key in document and not isinstance(document[key], Mapping):
                raise SchemaError(source, where, "expected a value, got a table")
            _check_overrides(document.get(key, {}), value, source, where)
        elif key in document and isinstance(document[key], Mapping):
            raise SchemaError(source, where, "expected a table")


def _built(reader: TableReader, factory: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A core value built from a table, its own checks reported at the table's path."""
    try:
        return factory(*args, **kwargs)
    except ValueError as exc:  # CalendarError and the core's other checks
        raise reader.error("", str(exc)) from None


IMPLEMENTED_FUNCTIONS: dict[str, str] = {
    "prepayment": "the wallet: credit drawn by consumption, cut at zero (meter/wallet.py)",
    "postpayment": "metering without credit: energy registers, billing (payment mode)",
    "sts": "STS token decoding and the token gateway (sts/, 0.0.19.40.0.255)",
    "emergency-credit": "emergency credit taken by the customer or the head-end",
    "friendly-hours": "no cut-off in friendly hours, weekdays and holidays",
    "step-tariff": "monthly consumption bands priced on top of the TOU price",
    "bidirectional": "import and export energy registers (-A, 1.0.2.8.x)",
    "four-quadrant": "reactive energy by quadrant Q1-Q4 (1.0.5-8.8.x)",
    "neutral-current": "the neutral current measured (1.0.91.7.0.255)",
    "tou": "the activity calendar switching rates (0.0.13.0.0.255)",
    "disconnect": "the relay as disconnect control (class 70, 0.0.96.3.10.255)",
    "limiter": "limiters and register monitors acting on the relay (classes 71, 21)",
    "power-quality": (
        "supply, phase and neutral failures in their log; dips and swells (IDIS 76-87), "
        "THD, harmonics to the 50th, Pst/Plt (docs/power-quality.md)"
    ),
    "sag-swell": "voltage dips and swells counted, timed and logged (IDIS 76-81, 85-87)",
    "load-profile": "load profiles captured on the meter's clock (class 7)",
    "event-log": "event logs with their codes and counters (docs/events.md)",
    "tamper": "cover, magnetic field and relay tamper detection and counters",
    "billing": "the billing point, billing profile and billing reset",
    "maximum-demand": "demand registers and maximum demand per rate (classes 5, 4)",
    "dlms-tcp": "DLMS/COSEM over TCP with the IEC 62056-47 wrapper",
    "sms": "the MeterCom PRO module's SMS configuration: INFO, CNF, RESET (docs/sms.md)",
    "sms-token": "STS tokens by SMS, entered as from the keypad, answered by SMS (docs/sms.md)",
    "wmbus": "the MeterCom PRO wireless M-Bus collector, class 8192 (docs/wmbus.md)",
}
"""What a model's ``[model] functions`` may name: what metertwin implements, and where.
A function a meter's documents name but metertwin does not have yet (a keypad, a CIU,
IEC 62056-21, firmware upgrade, wM-Bus...) is refused until it exists."""

_WALLET_FUNCTIONS = frozenset(
    {"prepayment", "sts", "emergency-credit", "friendly-hours", "step-tariff"}
)


def _wallets(config: WalletConfig | None) -> int:
    if config is None:
        return 0
    return 1 if config.second_wallet is None else 2


def _channel_problem(channel: str, phases: int, rates: int, wallets: int) -> str | None:
    """Why a profile channel name is not usable, or None (``wallets``: the meter's credit
    wallets, 0 without a [prepayment] wallet)."""
    kind, _, rest = channel.partition(":")
    stamped = ("clock", "status", "operating_status", "event_code", "event_count")
    if kind in (*stamped, "active_power", "frequency") and not rest:
        return None
    if kind == "cost" and rest in ("", "1", "2"):
        # the cost of the present billing period (issue 5 item 2), or what the token (1) or
        # second (2) wallet paid of it (issue 20 item 7): a wallet's record
        if not wallets:
            return "the cost channel needs a [prepayment] wallet"
        return "cost:2 needs [prepayment.second_wallet]" if int(rest or 0) > wallets else None
    if kind in ("max_demand", "max_demand_time"):
        parts = rest.split(":")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            c, rate = (int(p) for p in parts)
            if c in (1, 2, 3, 4, 9) and rate <= rates:
                return None
        return f"expected {kind}:C:rate (C = 1, 2, 3, 4 or 9), got {channel!r}"
    if kind in ("voltage", "current"):
        if rest.isdigit() and 1 <= int(rest) <= phases:
            return None
        return f"expected {kind}:1..{phases}, got {channel!r}"
    if kind == "energy":
        parts = rest.split(":")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            c, phase, rate = (int(p) for p in parts)
            if c in {int(q) for q in Energy} and phase <= phases and rate <= rates:
                return None
        return f"expected energy:C:phase:rate (C an OBIS energy quantity), got {channel!r}"
    return (
        "expected clock, status, operating_status, energy:C:phase:rate, voltage:k, current:k, "
        "active_power, "
        f"frequency, max_demand:C:rate, max_demand_time:C:rate or cost[:1|2], got {channel!r}"
    )


def _bands(t: TableReader, key: str, what: str, most: int) -> list[tuple[int, int]]:
    """``[[monthly kWh from, amount], ...]``, ascending, up to ``most`` (seed 003: up to 10
    steps, up to 5 service charge steps); thresholds in whole Wh."""
    bands = []
    for i, band in enumerate(t.list(key, [])):
        if not (
            isinstance(band, list)
            and len(band) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in band)
            and 0 <= band[0] <= 1_000_000
            and 0 <= band[1] <= 1000
        ):
            raise t.error(f"{key}[{i}]", f"expected [monthly kWh from, {what}], got {band!r}")
        bands.append((round(band[0] * 1000) * MICRO_J_PER_WH, to_micro(band[1])))
    if [s for s, _ in bands] != sorted({s for s, _ in bands}):
        raise t.error(key, "expected ascending monthly kWh thresholds")
    if len(bands) > most:
        raise t.error(key, f"expected up to {most} bands")
    return bands


def _kinds(t: TableReader, key: str, kinds: dict[str, int]) -> list[tuple[int, int]]:
    """``[{kind = ..., value = ...}, ...]``, up to 5 (seed 003: 5 subsidies, 5 levies);
    a percent is kept as ppm, anything else as micro-units."""
    out = []
    for item in t.tables(key, []):
        kind = item.str("kind", choices=tuple(kinds))
        value = item.float("value", low=0.0, high=1000.0)
        out.append((kinds[kind], round(value * 10_000) if kind == "percent" else to_micro(value)))
        item.finish()
    if len(out) > 5:
        raise t.error(key, "expected up to 5")
    return out


def _minutes(reader: TableReader, key: str, text: str) -> int:
    match = _HHMM.match(text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise reader.error(key, f"expected a time of day HH:MM, got {text!r}")
    return int(match[1]) * 60 + int(match[2])


class _ModelReader:
    def __init__(self, document: Mapping[str, Any], source: str) -> None:
        self.root = TableReader(document, source)
        self.source = source

    def read(self, text: str) -> DeviceModel:
        root = self.root
        model = root.table("model")
        name = model.str("name")
        description = model.str("description")
        seed = model.str("seed", "")
        manufacturer = model.str("manufacturer", "")
        function_list = model.str_list("functions", [])
        for i, function in enumerate(function_list):
            if function not in IMPLEMENTED_FUNCTIONS:
                raise model.error(
                    f"functions[{i}]",
                    f"metertwin does not implement {function!r}; known: "
                    + ", ".join(sorted(IMPLEMENTED_FUNCTIONS)),
                )
        functions = frozenset(function_list)
        model.finish()
        ratings = self._ratings(root.table("ratings"))
        ratios = self._transformer(root.table("transformer", None))
        metrology = self._metrology(root.table("metrology", None))
        clock = self._clock(root.table("clock"))
        control = root.table("disconnect", None)
        control_mode = control.int("control_mode", 1, low=0, high=6)
        control.finish()
        capacity, calendar, special_days = self._tariffs(root.table("tariffs"))
        display = root.table("display", None)
        display_list = display.str_list("list", [])
        for i, code in enumerate(display_list):
            if not _OBIS.match(code):
                raise display.error(
                    f"list[{i}]", f"expected an OBIS code A.B.C.D.E.F, got {code!r}"
                )
        display.finish()
        world = self._world(root.table("world", None))
        dlms, security = self._dlms(root.table("dlms", None))
        optical = self._optical(root.table("optical", None), root.has("optical"), dlms)
        demand = self._demand(root.table("demand", None))
        billing = self._billing(root.table("billing", None))
        wallet, token_entry = self._prepayment(
            root.table("prepayment", None), root.has("prepayment"), capacity.rates
        )
        if wallet is None and (needing := sorted(functions & _WALLET_FUNCTIONS)):
            raise root.error("model.functions", f"{', '.join(needing)} need a [prepayment] wallet")
        battery = self._battery(root.table("battery", None), root.has("battery"))
        tariff_input_rate, pulse_constant = self._io(root.table("io", None), capacity.rates)
        if "sms-token" in functions and "sts" not in functions:
            raise root.error("model.functions", "sms-token needs sts (a token decoder)")
        profiles = tuple(
            self._profile(p, ratings, capacity, _wallets(wallet))
            for p in root.tables("profiles", [])
        )
        if len({p.name for p in profiles}) != len(profiles):
            raise root.error("profiles", "two profiles share a logical name")
        root.finish()
        spec = DeviceSpec(
            name=name,
            description=description,
            ratings=ratings,
            ratios=ratios,
            metrology=metrology,
            clock=clock,
            calendar=calendar,
            special_days=special_days,
            capacity=capacity,
            control_mode=control_mode,
            functions=functions,
            display=tuple(display_list),
            security=security,
            demand=demand,
            billing=billing,
            profiles=profiles,
            wallet=wallet,
            token_entry=token_entry,
            battery=battery,
            tariff_input_rate=tariff_input_rate,
            pulse_output_imp_per_kwh=pulse_constant,
        )
        return DeviceModel(spec, world, self.source, text, seed, manufacturer, dlms, optical)

    def _optical(self, t: TableReader, present: bool, dlms: DlmsSpec) -> OpticalSpec | None:
        if not present:
            t.finish()
            return None
        manufacturer = t.str("manufacturer")
        if not re.fullmatch(r"[A-Za-z]{3}", manufacturer):
            raise t.error("manufacturer", f"expected three letters, got {manufacturer!r}")
        identification = t.str("identification")
        if not re.fullmatch(r"[\x21-\x7e]{1,16}", identification) or "/" in identification:
            raise t.error("identification", "expected 1..16 printable characters, no / or space")
        max_baud = t.int("max_baud", 9600)
        if max_baud not in _MODE_C_RATES:
            raise t.error("max_baud", f"expected one of {', '.join(map(str, _MODE_C_RATES))}")
        mode_e = t.bool("mode_e", True)
        names = [a.name for a in dlms.associations if a.mechanism == "lls"]
        password_association = t.str("password_association", choices=tuple(names))
        readout = t.str_list("readout")
        for i, code in enumerate(readout):
            if not _OBIS.match(code):
                raise t.error(f"readout[{i}]", f"expected an OBIS code A.B.C.D.E.F, got {code!r}")
        t.finish()
        return OpticalSpec(
            manufacturer, identification, max_baud, mode_e, password_association, tuple(readout)
        )

    def _profile(
        self, t: TableReader, ratings: Ratings, capacity: Capacity, wallets: int
    ) -> ProfileSpec:
        obis = t.str("obis")
        if not _OBIS.match(obis):
            raise t.error("obis", f"expected an OBIS code A.B.C.D.E.F, got {obis!r}")
        period = t.value("period_minutes")
        if period == "daily":
            period_s = 86_400
        elif period == "billing":
            period_s = BILLING
        elif period == "events":
            period_s = EVENT
        elif isinstance(period, int) and not isinstance(period, bool) and 1 <= period <= 60:
            if 60 % period:
                raise t.error("period_minutes", 'expected a divisor of 60 (1-60) or "daily"')
            period_s = period * 60
        else:
            raise t.error(
                "period_minutes", f'expected 1-60, "daily", "billing" or "events", got {period!r}'
            )
        depth = t.int("depth", low=1, high=1_000_000)
        if period_s == EVENT:
            channels = t.str_list("channels", ["clock", "event_code"])
        else:
            channels = t.str_list("channels")
        log_names = t.str_list("logs", [])
        logs = []
        for i, log_name in enumerate(log_names):
            if log_name.upper() not in EventLog.__members__:
                names = ", ".join(n.lower() for n in EventLog.__members__)
                raise t.error(f"logs[{i}]", f"expected one of {names}; got {log_name!r}")
            logs.append(int(EventLog[log_name.upper()]))
        if (period_s == EVENT) != bool(logs):
            raise t.error(
                "logs",
                'an event log ("events") names the logs it keeps, and only an event log does',
            )
        for i, channel in enumerate(channels):
            problem = _channel_problem(channel, ratings.phases, capacity.rates, wallets)
            if problem:
                raise t.error(f"channels[{i}]", problem)
        t.finish()
        return ProfileSpec(obis, period_s, depth, tuple(channels), tuple(logs))

    def _billing(self, t: TableReader) -> BillingConfig:
        """Seed 002, 5.1 c: the billing point, any hour of day 1-28 (or the month end)."""
        raw_day = t.value("day", 1)
        if raw_day == "month_end":
            day, hour = 1, 0  # the end of the last day is 00:00 of the first
            if t.has("hour"):
                raise t.error("hour", "the month end has no hour")
        elif isinstance(raw_day, int) and not isinstance(raw_day, bool) and 1 <= raw_day <= 28:
            day, hour = raw_day, t.int("hour", 0, low=0, high=23)
        else:
            raise t.error("day", f'expected a day 1-28 or "month_end", got {raw_day!r}')
        t.finish()
        return BillingConfig(day, hour)

    def _prepayment(
        self, t: TableReader, present: bool, rates: int
    ) -> tuple[WalletConfig | None, TokenEntryConfig]:
        """Issue 4 item 4 (seeds 000, 002 5.4, 003 "Prepayment", "Tariff expense"): the wallet
        and the keypad; amounts are in the wallet's unit (currency, or kWh)."""
        entry = TokenEntryConfig(
            tid_store=t.int("tid_store", 50, low=50, high=10_000),
            lockout_failures=t.int("keypad_lockout_failures", 5, low=1, high=100),
            lockout_s=t.int("keypad_lockout_seconds", 60, low=1, high=86_400),
        )
        if not present:
            t.finish()
            return None, entry
        mode = t.str("mode", "prepaid", choices=("prepaid", "postpaid"))
        unit = CreditUnit(t.str("unit", "currency", choices=("currency", "energy")))
        amount = {"low": 0.0, "high": 999_999.0}
        prices = t.list("prices", [])
        if unit is CreditUnit.CURRENCY and not 1 <= len(prices) <= rates:
            raise t.error("prices", f"expected 1-{rates} prices per kWh (rate 1, 2, ...)")
        price_micro = [0]
        for i, price in enumerate(prices):
            if (
                isinstance(price, bool)
                or not isinstance(price, int | float)
                or not (0 <= price <= 1000)
            ):
                raise t.error(f"prices[{i}]", f"expected a price 0-1000 per kWh, got {price!r}")
            price_micro.append(to_micro(price))
        steps = _bands(t, "steps", "surcharge per kWh", 10)
        service = _bands(t, "service_charge_steps", "service charge per month", 5)
        subsidies = _kinds(t, "subsidies", {"units": SUBSIDY_UNITS, "amount": SUBSIDY_AMOUNT})
        levies = _kinds(t, "levies", {"percent": LEVY_PERCENT, "per_kwh": LEVY_PER_KWH})
        second = None
        if t.has("second_wallet"):
            w = t.table("second_wallet")
            second = SecondWallet(
                name=w.str("name", "remote credit"),
                priority=w.int("priority", 1, low=1, high=2),
                pays_charges=w.bool("pays_charges", False),
            )
            w.finish()
        thresholds = [to_micro(x) for x in t.float_list("low_credit_thresholds", [], high=999_999)]
        if len(thresholds) > 3 or thresholds != sorted(thresholds, reverse=True):
            raise t.error("low_credit_thresholds", "expected up to 3 levels, highest first")
        fixed = [to_micro(x) for x in t.float_list("fixed_charges_per_month", [], high=999_999)]
        if len(fixed) > 3:
            raise t.error("fixed_charges_per_month", "expected up to 3 fixed charges")
        standing = to_micro(t.float("standing_charge_per_day", 0.0, **amount))
        vat = round(t.float("vat_percent", 0.0, low=0.0, high=100.0) * 10_000)
        vat_kinds = [
            round(t.float(key, 0.0, low=0.0, high=100.0) * 10_000) if t.has(key) else None
            for key in ("vat_charges_percent", "vat_levies_percent")
        ]
        if unit is CreditUnit.ENERGY and (
            steps or fixed or standing or vat or service or subsidies or levies or second
        ):
            raise t.error(
                "unit",
                "steps, charges, subsidies, levies, VAT and a second wallet need a currency wallet",
            )
        friendly_table = t.table("friendly", None)
        hours = []
        for i, window in enumerate(friendly_table.str_list("hours", [])):
            start, sep, end = window.partition("-")
            where = f"friendly.hours[{i}]"
            if not sep:
                raise t.error(where, f'expected "HH:MM-HH:MM", got {window!r}')
            a, b = (_minutes(t, where, x.strip()) for x in (start, end))
            hours.append((time(a // 60, a % 60), time(b // 60, b % 60)))
        weekdays = friendly_table.int_list("weekdays", [], low=1, high=7)
        holidays = friendly_table.str_list("holidays", [])
        for i, day in enumerate(holidays):
            if not _HOLIDAY.match(day):
                raise friendly_table.error(
                    f"holidays[{i}]", f'expected "MM-DD" or "YYYY-MM-DD", got {day!r}'
                )
        friendly_table.finish()
        config = WalletConfig(
            mode=PaymentMode.PREPAID if mode == "prepaid" else PaymentMode.POSTPAID,
            unit=unit,
            currency=t.str("currency", "EUR"),
            prices=tuple(price_micro),
            steps=tuple(steps),
            standing_charge_per_day=standing,
            fixed_charges_per_month=tuple(fixed),
            vat_ppm=vat,
            vat_charges_ppm=vat_kinds[0],
            vat_levies_ppm=vat_kinds[1],
            service_steps=tuple(service),
            subsidies=tuple(subsidies),
            levies=tuple(levies),
            second_wallet=second,
            low_credit_thresholds=tuple(thresholds),
            emergency_credit=to_micro(t.float("emergency_credit", 0.0, **amount)),
            emergency_auto=t.bool("emergency_auto", False),
            max_credit=to_micro(t.float("max_credit", 999_999.0, low=1.0, high=999_999.0)),
            initial_credit=to_micro(t.float("initial_credit", 0.0, **amount)),
            friendly=FriendlyPeriods(tuple(hours), frozenset(weekdays), frozenset(holidays)),
        )
        for kind, table in config.charge_tables().items():
            problem = table_error(kind, table)
            if problem is not None:
                raise t.error(kind.value, problem)
        t.finish()
        return config, entry

    def _demand(self, t: TableReader) -> DemandConfig:
        """Seed 002, 5.2: block (one sub-period) or sliding demand."""
        period = t.int("sub_period_minutes", 15, low=1, high=60)
        count = t.int("number_of_periods", 1, low=1, high=60)
        t.finish()
        return _built(t, DemandConfig, period * 60, count)

    def _dlms(self, t: TableReader) -> tuple[DlmsSpec, SecurityConfig]:
        associations = []
        for a in t.tables("associations", []):
            mechanism = a.str("mechanism", choices=MECHANISMS)
            secret_text = a.str("secret", "")
            if mechanism == "lls" and not secret_text:
                raise a.error("secret", "an LLS association needs a secret (its default password)")
            if mechanism == "none" and secret_text:
                raise a.error("secret", "an association without authentication has no secret")
            if mechanism in HLS_MECHANISMS and secret_text:
                raise a.error("secret", "an HLS association has no secret: its keys are in [dlms]")
            if len(secret_text.encode()) > 64:
                raise a.error("secret", "expected at most 64 bytes")
            suite, policy = self._setup(a, mechanism)
            association = AssociationSpec(
                name=a.str("name"),
                client_sap=a.int("client_sap", low=1, high=0x7F),
                mechanism=mechanism,
                rights=a.str("rights", choices=RIGHTS_PROFILES),
                secret=secret_text.encode() if secret_text else None,
                suite=suite,
                security_policy=policy,
            )
            a.finish()
            associations.append(association)
        if not associations:
            associations = [AssociationSpec("public", 0x10, "none", "public")]
        for field_name in ("name", "client_sap"):
            values = [getattr(a, field_name) for a in associations]
            if len(set(values)) != len(values):
                raise t.error("associations", f"two associations share a {field_name}")
        single_connection = t.bool("single_connection", False)
        max_connections = t.int("max_connections", 1 if single_connection else 4, low=1, high=1024)
        if single_connection and max_connections != 1:
            raise t.error("max_connections", "single_connection serves one connection only")
        dlms = DlmsSpec(
            server_sap=t.int("server_sap", 1, low=1, high=0x3FFF),
            logical_device_name=t.str("logical_device_name", "MTW{serial}"),
            objects=t.str("objects", "standard"),
            associations=tuple(associations),
            single_connection=single_connection,
            inactivity_timeout_s=t.int("inactivity_timeout_s", 300, low=1, high=86_400),
            frame_timeout_s=t.int("frame_timeout_s", 30, low=1, high=3600),
            max_connections=max_connections,
        )
        setups = tuple(
            SetupConfig(a.name, a.suite, a.security_policy, a.mechanism == "hls-ecdsa")
            for a in associations
            if a.suite is not None
        )
        security = SecurityConfig(
            default_secrets={a.name: a.secret for a in associations if a.secret is not None},
            max_failures=t.int("lockout_failures", 3, low=1, high=100),
            lockout_s=t.int("lockout_minutes", 30, low=0, high=10_080) * 60,
            setups=setups,
            dlms_keys=self._dlms_keys(t),
        )
        t.finish()
        return dlms, security

    @staticmethod
    def _setup(a: TableReader, mechanism: str) -> tuple[int | None, int]:
        """An HLS association's suite and initial security policy (docs/dlms.md)."""
        if mechanism not in HLS_MECHANISMS:
            for key in ("suite", "security_policy"):
                if a.has(key):
                    raise a.error(key, "only an HLS association has a Security setup")
            return None, 0
        suite = a.int("suite", low=0, high=2)
        if mechanism == "hls-ecdsa" and suite == 0:
            raise a.error("suite", "HLS-ECDSA needs suite 1 (P-256) or 2 (P-384)")
        policy = a.int("security_policy", 0, low=0, high=0xFF)
        if policy & 0x03:
            raise a.error("security_policy", "bits 0 and 1 of a security policy are unused")
        if policy & 0x90 and suite == 0:
            raise a.error("security_policy", "signing (bits 4 and 7) needs suite 1 or 2")
        return suite, policy

    @staticmethod
    def _dlms_keys(t: TableReader) -> DlmsKeyConfig:
        """The [dlms] keys and titles (docs/config.md); absent: the demo keys."""

        def octets(key: str, lengths: tuple[int, ...]) -> bytes | None:
            text = t.str(key, "")
            if not text:
                return None
            try:
                value = bytes.fromhex(text)
            except ValueError:
                raise t.error(key, f"expected hexadecimal octets, got {text!r}") from None
            if len(value) not in lengths:
                wanted = " or ".join(str(n) for n in lengths)
                raise t.error(key, f"expected {wanted} octets, got {len(value)}")
            return value

        key_lengths = tuple(sorted(set(KEY_LENGTH_BY_SUITE.values())))
        return DlmsKeyConfig(
            key_ek=octets("key_ek", key_lengths),
            key_ak=octets("key_ak", key_lengths),
            key_kek=octets("key_kek", key_lengths),
            system_title=octets("system_title", (8,)),
            client_system_title=octets("client_system_title", (8,)),
            client_public_key=_public_key_file(t, "client_public_key"),
        )

    def _ratings(self, t: TableReader) -> Ratings:
        phases = t.int("phases")
        if phases not in (1, 3):
            raise t.error("phases", f"expected 1 (single-phase) or 3 (three-phase), got {phases}")
        basic = t.float("basic_current_a", low=0.001, high=100_000.0)
        ratings = _built(
            t,
            Ratings,
            phases,
            nominal_voltage_v=t.float("nominal_voltage_v", low=1.0, high=1_000_000.0),
            basic_current_a=basic,
            max_current_a=t.float("max_current_a", low=basic, high=100_000.0),
            frequency_hz=t.float("frequency_hz", low=1.0, high=1000.0),
            starting_current_ratio=t.float("starting_current_percent", 0.4, low=0.0, high=10.0)
            / 100.0,
            meter_constant_imp_per_kwh=t.int("meter_constant_imp_per_kwh", 1000, low=1),
        )
        t.str("accuracy_class_active", "")
        t.str("accuracy_class_reactive", "")
        t.finish()
        return ratings

    def _battery(self, t: TableReader, present: bool) -> BatteryConfig | None:
        """``[battery]``: the backup cell (absent: the meter has none, e.g. a super-capacitor)."""
        if not present:
            t.finish()
            return None
        d = BatteryConfig()
        config = _built(
            t,
            BatteryConfig,
            nominal_v=t.float("nominal_v", d.nominal_v, low=0.1, high=100.0),
            low_v=t.float("low_v", d.low_v, low=0.1, high=100.0),
            replace_v=t.float("replace_v", d.replace_v, low=0.1, high=100.0),
            end_v=t.float("end_v", d.end_v, low=0.1, high=100.0),
            capacity_mah=t.float("capacity_mah", d.capacity_mah, low=0.001, high=1e6),
            backup_ua=t.float("backup_ua", d.backup_ua, low=0.001, high=1e6),
            standby_ua=t.float("standby_ua", d.standby_ua, low=0.0, high=1e6),
        )
        t.finish()
        return config

    def _io(self, t: TableReader, rates: int) -> tuple[int | None, int | None]:
        """``[io]`` (seed 003 "Input/Output Ports"): the rate the tariff input forces while
        active and the S0 pulse output's constant; each absent: no such port."""
        rate = pulses = None
        if t.has("tariff_input_rate"):
            rate = t.int("tariff_input_rate", low=1, high=rates)
        if t.has("pulse_output_imp_per_kwh"):
            pulses = t.int("pulse_output_imp_per_kwh", low=1, high=1_000_000)
        t.finish()
        return rate, pulses

    def _transformer(self, t: TableReader) -> TransformerRatios:
        ct = t.int_list("ct", [1, 1], length=2)
        vt = t.int_list("vt", [1, 1], length=2)
        for key, pair in (("ct", ct), ("vt", vt)):
            if min(pair) < 1 or max(pair) > 1_000_000:
                raise t.error(
                    key, f"expected two integers 1..1000000 [primary, secondary], got {pair}"
                )
        t.finish()
        return _built(t, TransformerRatios, ct[0], ct[1], vt[0], vt[1])

    def _metrology(self, t: TableReader) -> MetrologyConfig:
        config = MetrologyConfig(
            export_enabled=t.bool("export_enabled", True),
            absolute_mode=t.bool("absolute_mode", False),
            neutral_measured=t.bool("neutral_measured", False),
        )
        t.finish()
        return config

    def _clock(self, t: TableReader) -> ClockConfig:
        offset = t.int("utc_offset_minutes", low=-720, high=840)
        drift = t.float("drift_ppm", 0.0, low=-1000.0, high=1000.0)
        dst: DstConfig | None = None
        if t.has("dst"):
            d = t.table("dst")
            enabled = d.bool("enabled", True)
            deviation = d.int("deviation_minutes", 60, low=-120, high=120)
            begin, end = self._dst_rule(d.table("begin")), self._dst_rule(d.table("end"))
            dst = _built(d, DstConfig, enabled, begin, end, deviation)
            d.finish()
        t.finish()
        return _built(t, ClockConfig, offset, dst, drift)

    def _dst_rule(self, t: TableReader) -> DstRule:
        month = t.int("month", low=1, high=12)
        raw_day = t.value("day", None)
        if raw_day == "last":
            day = -1
        elif isinstance(raw_day, int) and not isinstance(raw_day, bool) and 1 <= raw_day <= 31:
            day = raw_day
        else:
            raise t.error("day", f'expected a day of month 1..31 or "last", got {raw_day!r}')
        weekday_name = t.str("weekday", "", choices=("", *WEEKDAYS))
        weekday = WEEKDAYS.index(weekday_name) if weekday_name else None
        minute = _minutes(t, "time", t.str("time"))
        t.finish()
        return _built(t, DstRule, month, day, weekday, minute)

    def _tariffs(self, t: TableReader) -> tuple[Capacity, CalendarSet, tuple[SpecialDay, ...]]:
        c = t.table("capacity", None)
        defaults = Capacity()
        capacity = Capacity(
            seasons=c.int("seasons", defaults.seasons, low=1, high=64),
            week_profiles=c.int("week_profiles", defaults.week_profiles, low=1, high=64),
            day_profiles=c.int("day_profiles", defaults.day_profiles, low=1, high=255),
            switches_per_day=c.int("switches_per_day", defaults.switches_per_day, low=1, high=255),
            rates=c.int("rates", defaults.rates, low=1, high=64),
            special_days=c.int("special_days", defaults.special_days, low=0, high=10000),
        )
        c.finish()
        name = t.str("calendar_name", "default")
        seasons = []
        for s in t.tables("seasons"):
            match = _MONTH_DAY.match(s.str("start"))
            if not match:
                raise s.error("start", "expected a start date MM-DD")
            seasons.append(
                _built(s, Season, s.str("name"), int(match[1]), int(match[2]), s.str("week"))
            )
            s.finish()
        weeks = []
        for w in t.tables("weeks"):
            days = w.int_list("days", length=7)
            week = (days[0], days[1], days[2], days[3], days[4], days[5], days[6])
            weeks.append(_built(w, WeekProfile, w.str("name"), week))
            w.finish()
        day_profiles = []
        for d in t.tables("days"):
            switches = []
            for i, item in enumerate(d.list("switches")):
                key = f"switches[{i}]"
                if (
                    not isinstance(item, list)
                    or len(item) != 2
                    or not isinstance(item[0], str)
                    or isinstance(item[1], bool)
                    or not isinstance(item[1], int)
                ):
                    raise d.error(key, f'expected ["HH:MM", rate], got {item!r}')
                switches.append(_built(d, Switch, _minutes(d, key, item[0]), item[1]))
            day_id = d.int("id", low=0, high=255)
            day_profiles.append(_built(d, DayProfile, day_id, tuple(switches)))
            d.finish()
        special = []
        for s in t.tables("special_days", []):
            match = _SPECIAL_DATE.match(s.str("date"))
            if not match:
                raise s.error("date", "expected YYYY-MM-DD, with * for any year or month")
            year = None if match[1] == "*" else int(match[1])
            month = None if match[2] == "*" else int(match[2])
            index = s.int("index", low=0, high=65535)
            day_id = s.int("day", low=0, high=255)
            special.append(_built(s, SpecialDay, index, year, month, int(match[3]), day_id))
            s.finish()
        t.finish()
        try:
            calendar = CalendarSet(name, tuple(seasons), tuple(weeks), tuple(day_profiles))
            calendar.validate(capacity)
            if len(special) > capacity.special_days:
                raise CalendarError(
                    f"{len(special)} special days exceed the capacity of {capacity.special_days}"
                )
            known = {d.day_id for d in day_profiles}
            for entry in special:
                if entry.day_id not in known:
                    raise CalendarError(
                        f"special day {entry.index} names unknown day {entry.day_id}"
                    )
        except CalendarError as exc:
            raise t.error("", str(exc)) from None
        return capacity, calendar, tuple(special)

    def _world(self, t: TableReader) -> WorldDefaults:
        world = WorldDefaults(
            annual_kwh=t.float("annual_kwh", 3500.0, low=0.0),
            pv_kwp=t.float("pv_kwp", 0.0, low=0.0),
            latitude=t.float("latitude", 40.4, low=-90.0, high=90.0),
            longitude=t.float("longitude", 49.9, low=-180.0, high=180.0),
        )
        t.finish()
        return world


def _public_key_file(t: TableReader, key: str) -> bytes | None:
    """An EC public key from a PEM file (a path relative to the working directory), as
    DER SubjectPublicKeyInfo; refused with its name when unreadable or not an EC key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = t.str(key, "")
    if not path:
        return None
    try:
        loaded = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise t.error(key, f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise t.error(key, f"{path} holds no PEM public key") from None
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise t.error(key, f"{path} holds no elliptic-curve public key")
    return loaded.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
