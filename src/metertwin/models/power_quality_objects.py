"""The power quality registers (class 3) of models with the "power-quality" function (THD,
harmonics, flicker) and the "sag-swell" function (dips and swells).

OBIS codes of IEC 62056-6-1 (docs/power-quality.md, "Objects"), per phase k with the voltage
at C = 32 / 52 / 72 and the current at C = 31 / 51 / 71:

- ``1.0.C.7.124``: instantaneous THD (percent, THDS of the last measurement);
- ``1.0.C.7.n``, n = 1..50: harmonic n in percent of the fundamental (n = 1 reads 100 %);
- ``1.0.C.31.0`` / ``1.0.C.35.0`` (voltage): the under / over limit thresholds the dips and
  swells are detected with (V, read only);
- ``1.0.C.32.0`` / ``1.0.C.36.0``: under / over limit occurrence counters (dips / swells);
- ``1.0.C.33.0`` / ``1.0.C.37.0``: under / over limit durations (s, every episode's time,
  the one going on included);
- ``1.0.C.128.0`` / ``1.0.C.129.0`` (voltage): Pst and Plt. metertwin's codes (value group
  D 128-254 is manufacturer specific): no standard OBIS code for flicker severity was
  found in the object lists consulted.
"""

from __future__ import annotations

from collections.abc import Callable

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.meter.core import Meter
from metertwin.meter.power_quality import ORDERS, PhaseQuality
from metertwin.meter.spec import DeviceSpec
from metertwin.models.values import Unit

FUNCTION = "power-quality"  # THD, harmonics, flicker
SAG_SWELL = "sag-swell"  # dip and swell thresholds, counters, durations
THD = 124
PST = 128
PLT = 129
UNDER_THRESHOLD, UNDER_COUNT, UNDER_DURATION = 31, 32, 33
OVER_THRESHOLD, OVER_COUNT, OVER_DURATION = 35, 36, 37

_SAG_SWELL_D = (
    UNDER_THRESHOLD,
    OVER_THRESHOLD,
    UNDER_COUNT,
    OVER_COUNT,
    UNDER_DURATION,
    OVER_DURATION,
)

PowerQualityBinding = tuple[Callable[[], Data], int, Unit]


def _voltage_c(phase: int) -> int:
    return 32 + 20 * (phase - 1)


def power_quality_objects(spec: DeviceSpec) -> list[tuple[Obis, int, str]]:
    """The rows the object list gets for a model with the functions."""
    rows: list[tuple[Obis, int, str]] = []
    for k in range(1, spec.ratings.phases + 1):
        u, i = _voltage_c(k), _voltage_c(k) - 1
        if FUNCTION in spec.functions:
            rows += [
                (Obis(1, 0, u, 7, THD), 3, f"THD voltage L{k} (%)"),
                (Obis(1, 0, i, 7, THD), 3, f"THD current L{k} (%)"),
                (Obis(1, 0, u, PST, 0), 3, f"Flicker Pst L{k} (metertwin's)"),
                (Obis(1, 0, u, PLT, 0), 3, f"Flicker Plt L{k} (metertwin's)"),
            ]
            rows += [(Obis(1, 0, u, 7, n), 3, f"Harmonic {n} voltage L{k} (%)") for n in _ORDERS]
            rows += [(Obis(1, 0, i, 7, n), 3, f"Harmonic {n} current L{k} (%)") for n in _ORDERS]
        if SAG_SWELL not in spec.functions:
            continue
        rows += [
            (Obis(1, 0, u, UNDER_THRESHOLD, 0), 3, f"Dip threshold L{k}"),
            (Obis(1, 0, u, OVER_THRESHOLD, 0), 3, f"Swell threshold L{k}"),
            (Obis(1, 0, u, UNDER_COUNT, 0), 3, f"Number of voltage dips L{k}"),
            (Obis(1, 0, u, UNDER_DURATION, 0), 3, f"Duration of voltage dips L{k}"),
            (Obis(1, 0, u, OVER_COUNT, 0), 3, f"Number of voltage swells L{k}"),
            (Obis(1, 0, u, OVER_DURATION, 0), 3, f"Duration of voltage swells L{k}"),
        ]
    return rows


_ORDERS = range(1, ORDERS + 1)


def _unsigned(read: Callable[[], float], scaler: int, unit: Unit) -> PowerQualityBinding:
    factor = 10.0**-scaler

    def value() -> Data:
        return Data.long_unsigned(min(max(round(read() * factor), 0), 65535))

    return value, scaler, unit


def _counter(read: Callable[[], int], unit: Unit) -> PowerQualityBinding:
    return lambda: Data.double_long_unsigned(read() % (1 << 32)), 0, unit


def power_quality_register(obis: Obis, meter: Meter) -> PowerQualityBinding | None:
    """The register at ``obis``, or None if it is not one of the power quality registers."""
    functions = meter.spec.functions
    if (obis.a, obis.b) != (1, 0) or not functions & {FUNCTION, SAG_SWELL}:
        return None
    phase, rest = divmod(obis.c - 31, 20)
    phase += 1
    if not 1 <= phase <= meter.spec.ratings.phases or rest not in (0, 1):
        return None
    voltage = rest == 1
    pq = meter.power_quality
    k = phase - 1

    def reading() -> PhaseQuality:
        return pq.readings[k]

    d, e = obis.d, obis.e
    if d in (7, PST, PLT) and FUNCTION not in functions:
        return None
    if d in _SAG_SWELL_D and SAG_SWELL not in functions:
        return None
    if d == 7 and e == THD:
        if voltage:
            return _unsigned(lambda: reading().voltage_thd, -2, Unit.PERCENT)
        return _unsigned(lambda: reading().current_thd, -2, Unit.PERCENT)
    if d == 7 and e in _ORDERS:
        if voltage:
            return _unsigned(lambda: reading().voltage_harmonics[e - 1], -2, Unit.PERCENT)
        return _unsigned(lambda: reading().current_harmonics[e - 1], -2, Unit.PERCENT)
    if not voltage or e != 0:
        return None
    if d == PST:
        return _unsigned(lambda: reading().pst, -3, Unit.COUNT)
    if d == PLT:
        return _unsigned(lambda: reading().plt, -3, Unit.COUNT)
    if d == UNDER_THRESHOLD:
        return _unsigned(lambda: pq.dip_v, -1, Unit.VOLT)
    if d == OVER_THRESHOLD:
        return _unsigned(lambda: pq.swell_v, -1, Unit.VOLT)
    if d == UNDER_COUNT:
        return _counter(lambda: pq.dips[k].count, Unit.COUNT)
    if d == OVER_COUNT:
        return _counter(lambda: pq.swells[k].count, Unit.COUNT)
    if d == UNDER_DURATION:
        return _counter(lambda: pq.dips[k].duration_ms(meter.now_ms) // 1000, Unit.SECOND)
    if d == OVER_DURATION:
        return _counter(lambda: pq.swells[k].duration_ms(meter.now_ms) // 1000, Unit.SECOND)
    return None
