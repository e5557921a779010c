"""The "last 10" records of seed 002 5.5 as Data objects (class 1), one per kind.

``0.0.96.129.E.255`` holds structure {count double-long-unsigned, array of the last ten
(newest first) structure {start date-time, end date-time}}: E = 0 time settings (the meter
time before and after each setting), E = 1.. the episodes of `metertwin.meter.episodes`
(an episode still going ends "not specified"). Purchases are the prepayment records
(0.0.96.128.0-1.255).
"""

from __future__ import annotations

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.objects import Binding, CosemObject, Request
from metertwin.meter.core import Meter
from metertwin.meter.episodes import Episode
from metertwin.models.values import date_time_data

TIME_SETTINGS = 0
_NAMES = {
    TIME_SETTINGS: "time settings: before, after",
    Episode.METER_COVER_OPEN: "meter cover openings",
    Episode.TERMINAL_COVER_OPEN: "terminal cover openings",
    Episode.TAMPER: "tampering (magnetic field)",
    Episode.OVERLOAD_CUT: "overload cuts",
    Episode.POWER_OFF: "power off",
    Episode.OVER_VOLTAGE_CUT: "over-voltage cuts",
    Episode.PHASE_FAILURE: "phase failures",
    Episode.NEUTRAL_FAILURE: "neutral failures",
    Episode.LOW_POWER_FACTOR_CUT: "low power factor cuts",
}
RECORD_OBJECTS: tuple[tuple[Obis, int, str], ...] = tuple(
    (Obis(0, 0, 96, 129, int(e)), 1, f"Count and last 10 {name}") for e, name in _NAMES.items()
)


def record_object(obis: Obis, meter: Meter) -> CosemObject | None:
    if obis.c != 96 or obis.d != 129 or obis.e not in _NAMES or obis.a != 0:
        return None
    kind = obis.e
    clock = meter.clock

    def pairs() -> tuple[int, list[tuple[int, int | None]]]:
        if kind == TIME_SETTINGS:
            settings: list[tuple[int, int | None]] = [
                (s.before_ms, s.after_ms) for s in reversed(clock.settings)
            ]
            return clock.settings_count, settings
        episode = Episode(kind)
        return meter.episodes.counts[episode], meter.episodes.episodes(episode)

    def get(_request: Request) -> Data:
        count, last = pairs()
        return Data.structure(
            [
                Data.double_long_unsigned(count % 2**32),
                Data.array(
                    [
                        Data.structure([date_time_data(clock, start), date_time_data(clock, end)])
                        for start, end in last
                    ]
                ),
            ]
        )

    return CosemObject(interface_class(1), obis, {2: Binding(get=get)})
