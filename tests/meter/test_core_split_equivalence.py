"""The core's result does not depend on how its time is cut into `feed` calls.

The core caches per series and per boundary (the last integral's primitive, the next
boundary, the wallet's next crossing): whether a stretch of household load arrives as one
series, by the day, by odd-length pieces or one segment per `advance`, the registers,
wallet, demand, profile entries and event counts come out the same, integer for integer.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.inputs import InputSeries
from metertwin.meter.profiles import ProfileRecord
from metertwin.meter.wallet import MICRO, SECOND_WALLET
from metertwin.models import load_model
from metertwin.sim import Scenario, WorldSite, load_scenario

HOUR = 3_600_000


def _world(name: str) -> tuple[Any, Scenario]:
    model = load_model(name)
    spec = model.spec
    ratings, world, offset = spec.ratings, model.world, spec.clock.utc_offset_minutes
    volts, hertz = ratings.nominal_voltage_v, ratings.frequency_hz
    site = WorldSite(ratings.phases, volts, hertz, offset, world.latitude, world.longitude)
    return spec, load_scenario("household", site, {"annual_kwh": model.world.annual_kwh})


def _meter(spec: Any, start: int) -> Meter:
    meter = Meter(spec, start)
    if meter.wallet is not None:  # little credit: the low-credit levels are crossed
        meter.remote_credit(2 * MICRO)
        if meter.wallet.config.second_wallet is not None:
            meter.remote_credit(1 * MICRO, SECOND_WALLET)
    return meter


def _outcome(meter: Meter, records: list[ProfileRecord]) -> dict[str, Any]:
    state = meter.to_state()
    state.pop("dlms_security")  # holds a freshly generated key pair per meter
    return {"state": state, "records": records, "events": dict(meter.event_counts)}


def _piece(series: InputSeries, start: int, end: int) -> InputSeries:
    """The part of ``series`` over [start, end), its first segment starting at ``start``."""
    first = max(series.index_at(start), 0)
    last = series.index_at(end - 1)
    starts = series.start_ms[first : last + 1].copy()
    starts[0] = start
    rows = slice(first, last + 1)
    return InputSeries(
        start_ms=starts,
        end_ms=end,
        voltage_v=series.voltage_v[rows],
        active_w=series.active_w[rows],
        reactive_var=series.reactive_var[rows],
        frequency_hz=series.frequency_hz[rows],
        ambient_c=series.ambient_c[rows],
        earth_leakage_a=series.earth_leakage_a[rows],
        faults=series.faults[rows],
    )


@pytest.mark.parametrize("name", ["magno22", "az3p"])
def test_one_series_by_days_and_odd_pieces_give_the_same_meter(name: str) -> None:
    spec, scenario = _world(name)
    start = utc_ms(2026, 3, 28)  # the spring DST change and a month's end lie inside
    end = start + 4 * 24 * HOUR + 6 * HOUR
    whole = scenario.series(start, end)

    def run(cuts: list[int]) -> dict[str, Any]:
        meter = _meter(spec, start)
        records: list[ProfileRecord] = []
        for a, b in itertools.pairwise(cuts):
            meter.feed(_piece(whole, a, b))
            records += meter.recorder.drain()
        return _outcome(meter, records)

    straight = run([start, end])
    days = run([*range(start, end, 24 * HOUR), end])
    odd = np.unique(np.r_[start : end : 7 * HOUR + 13 * 60_000 + 7, end]).tolist()
    assert days == straight
    assert run(odd) == straight


def test_advancing_segment_by_segment_gives_the_fed_meter() -> None:
    spec, scenario = _world("magno22")
    start = utc_ms(2026, 1, 31, 21)  # across a month's end: fixed charges, subsidies
    end = start + 6 * HOUR
    series = scenario.series(start, end)
    fed = _meter(spec, start)
    fed.feed(series)
    stepped = _meter(spec, start)
    bounds = [*series.start_ms.tolist()[1:], end]
    for i, until in enumerate(bounds):
        stepped.advance(until, series.state_at_index(i))
    assert _outcome(stepped, stepped.recorder.drain()) == _outcome(fed, fed.recorder.drain())
    assert fed.wallet is not None and fed.wallet.balance_check() == 0
