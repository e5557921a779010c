"""One meter-year with 1-minute load changes, TOU and all registers: the az3p, pmm1220 and
metercom-pro models, then Magno 22 prepaid with its full tariff expense set (10 steps, 5
service charge bands, 2 subsidies, 3 fixed charges, 2 levies, 3 VAT kinds) and both wallets
(issue 20).

Target (issue "The meter core", issue 20): <= 5 s wall on a 2-core machine, >= 6,000,000 x
real time. Prints the core's own time (the scenario's inputs generated beforehand), the world
generation time, and both together, each as a ratio to real time.
The process's one-time set-up (pandas, demandlib, the load profile tables) is printed on its
own line first: a fleet pays it once, not per model-year.
Run with `python -m benchmarks.meter_year` from the repository root.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from benchmarks.common import header
from metertwin.meter.core import Meter
from metertwin.meter.registers import Energy
from metertwin.meter.wallet import MICRO, SECOND_WALLET
from metertwin.models import load_model
from metertwin.sim import WorldSite, load_scenario
from metertwin.sim.household import standard_profile_year

DAY_MS = 86_400_000
YEAR_S = 365 * 86_400


def meter_year(name: str, prepaid: bool) -> None:
    """One year of ``name``; ``prepaid``: its wallet opened with credit in both wallets
    (enough for the year, so that the relay stays closed and every charge is taken)."""
    model = load_model(name)
    spec = model.spec
    site = WorldSite(
        phases=spec.ratings.phases,
        nominal_voltage_v=spec.ratings.nominal_voltage_v,
        frequency_hz=spec.ratings.frequency_hz,
        utc_offset_minutes=spec.clock.utc_offset_minutes,
        latitude=model.world.latitude,
        longitude=model.world.longitude,
    )
    scenario = load_scenario("household", site, {"annual_kwh": model.world.annual_kwh})
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000) - 4 * 3_600_000

    t0 = time.perf_counter()
    days = [scenario.series(start + d * DAY_MS, start + (d + 1) * DAY_MS) for d in range(365)]
    world_s = time.perf_counter() - t0
    segments = sum(len(s) for s in days)

    meter = Meter(spec, start)
    wallet = meter.wallet
    if prepaid and wallet is not None:
        meter.remote_credit(20_000 * MICRO)
        if wallet.config.second_wallet is not None:
            meter.remote_credit(300 * MICRO, SECOND_WALLET)
    t0 = time.perf_counter()
    for series in days:
        meter.feed(series)
    core_s = time.perf_counter() - t0

    total = world_s + core_s
    print(f"   input segments: {segments:,} ({segments / 365:.0f} per day)")
    print(f"   +A total after a year: {meter.energy_mwh(Energy.IMPORT_ACTIVE) / 1e6:,.3f} kWh")
    if prepaid and wallet is not None:
        print(
            f"   charged: energy {wallet.energy_cost_total / MICRO:,.2f}, charges "
            f"{wallet.charges_total / MICRO:,.2f}, "
            f"subsidised {wallet.subsidised_total / MICRO:,.2f}"
            f" {wallet.config.currency}; left {wallet.credit / MICRO:,.2f} + "
            f"{wallet.second_credit / MICRO:,.2f}; conservation {wallet.balance_check()} µ"
        )
    print(f"   core:            {core_s:6.3f} s   {YEAR_S / core_s:14,.0f} x real time")
    print(f"   world inputs:    {world_s:6.3f} s")
    print(
        f"   core + world:    {total:6.3f} s   {YEAR_S / total:14,.0f} x real time"
        f"   (target <= 5 s, >= 6,000,000 x)"
    )


def process_setup() -> None:
    """What a process pays once, whatever the number of meters or years: importing pandas
    and demandlib and working out the BDEW H25 tables of the years the runs touch (cached
    per process). Timed and printed on its own, so that the first model's world time is
    that of its year, as the others' are."""
    t0 = time.perf_counter()
    for year in (2025, 2026, 2027):
        standard_profile_year("H25", year)
    print(
        f"   once per process (pandas, demandlib, H25 tables 2025-2027): "
        f"{time.perf_counter() - t0:.3f} s"
    )


def main() -> None:
    header("meter-year: set-up")
    process_setup()
    header("meter-year: az3p, 1-minute household load changes, TOU, all registers")
    meter_year("az3p", prepaid=False)
    header("meter-year: pmm1220, 1-minute household load changes, TOU, all registers")
    meter_year("pmm1220", prepaid=False)
    header("meter-year: metercom-pro, 1-minute household load changes, TOU, all registers")
    meter_year("metercom-pro", prepaid=False)
    header("meter-year: magno22 prepaid, full tariff expense set, two wallets")
    meter_year("magno22", prepaid=True)


if __name__ == "__main__":
    main()
