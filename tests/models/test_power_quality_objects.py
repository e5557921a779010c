"""The PMM1220's power quality registers over the in-process DLMS path (seed 000: "Harmonics
up to 50th order, THD, Sag / Swell / Dip, Flicker PLT & PST"; docs/power-quality.md)."""

from __future__ import annotations

import pytest
from tests.helpers import management_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.errors import CosemError
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.power_quality import PhaseQuality, harmonics_percent
from metertwin.models import load_model
from metertwin.models.objects_catalog import standard_objects
from metertwin.models.values import Unit

T0 = utc_ms(2026, 3, 2, 6)


def _get(device: object, ctx: object, obis: Obis, attribute: int = 2) -> Data:
    return device.get(ctx, AttributeDescriptor(3, obis, attribute), None)  # type: ignore[attr-defined]


def _scaler_unit(scaler: int, unit: Unit) -> Data:
    return Data.structure([Data.integer(scaler), Data.enum(int(unit))])


def test_the_object_list_has_harmonics_to_the_50th_thd_flicker_and_dip_counters() -> None:
    listed = {obis for obis, class_id, _ in standard_objects(load_model("pmm1220").spec)}
    for c in (31, 32):
        assert {Obis(1, 0, c, 7, n) for n in range(1, 51)} <= listed
        assert Obis(1, 0, c, 7, 124) in listed
    for d in (31, 32, 33, 35, 36, 37, 128, 129):
        assert Obis(1, 0, 32, d, 0) in listed
    assert Obis(1, 0, 52, 7, 124) not in listed  # a single-phase meter
    assert not any(o.d == 7 and o.e == 124 for o, _, _ in standard_objects(load_model("az3p").spec))


def test_the_magno22_has_the_dip_and_swell_registers_but_no_harmonics() -> None:
    """Seed 003 names under/over voltage (sag/swell) in its power quality log, not
    harmonics or flicker: function sag-swell without power-quality."""
    listed = {obis for obis, _, _ in standard_objects(load_model("magno22").spec)}
    assert {Obis(1, 0, 32, d, 0) for d in (31, 32, 33, 35, 36, 37)} <= listed
    assert Obis(1, 0, 32, 7, 124) not in listed and Obis(1, 0, 32, 128, 0) not in listed
    meter, device, ctx = management_device("magno22", T0)
    # 230 V declared: 205 V is below 207 V (90 %).
    states = [PhysicalState((v,), (500.0,), (0.0,)) for v in (230.0, 205.0, 230.0)]
    meter.feed(InputSeries.from_states([T0, T0 + 1_000, T0 + 4_000], T0 + 9_000, states))
    assert _get(device, ctx, Obis(1, 0, 32, 32, 0)) == Data.double_long_unsigned(1)
    assert _get(device, ctx, Obis(1, 0, 32, 33, 0)) == Data.double_long_unsigned(3)
    with pytest.raises(CosemError):
        _get(device, ctx, Obis(1, 0, 32, 7, 124))


def test_thd_harmonics_and_flicker_read_as_the_meter_holds_them() -> None:
    meter, device, ctx = management_device("pmm1220", T0)
    voltage = harmonics_percent({3: 2.0, 5: 4.0, 7: 1.0})  # THD sqrt(4 + 16 + 1) = 4.583 %
    current = harmonics_percent({3: 30.0, 5: 40.0})  # THD 50 %
    meter.power_quality.set_readings([PhaseQuality(voltage, current, 0.731, 0.682)])
    assert _get(device, ctx, Obis(1, 0, 32, 7, 124)) == Data.long_unsigned(458)
    assert _get(device, ctx, Obis(1, 0, 32, 7, 124), 3) == _scaler_unit(-2, Unit.PERCENT)
    assert _get(device, ctx, Obis(1, 0, 31, 7, 124)) == Data.long_unsigned(5000)
    assert _get(device, ctx, Obis(1, 0, 32, 7, 5)) == Data.long_unsigned(400)
    assert _get(device, ctx, Obis(1, 0, 32, 7, 1)) == Data.long_unsigned(10000)
    assert _get(device, ctx, Obis(1, 0, 31, 7, 3)) == Data.long_unsigned(3000)
    assert _get(device, ctx, Obis(1, 0, 32, 7, 50)) == Data.long_unsigned(0)
    assert _get(device, ctx, Obis(1, 0, 32, 128, 0)) == Data.long_unsigned(731)
    assert _get(device, ctx, Obis(1, 0, 32, 129, 0)) == Data.long_unsigned(682)
    assert _get(device, ctx, Obis(1, 0, 32, 128, 0), 3) == _scaler_unit(-3, Unit.COUNT)


def test_dip_and_swell_counters_and_durations_after_a_dip() -> None:
    meter, device, ctx = management_device("pmm1220", T0)
    states = [PhysicalState((v,), (500.0,), (0.0,)) for v in (220.0, 150.0, 220.0, 250.0)]
    starts = [T0, T0 + 10_000, T0 + 12_500, T0 + 20_000]
    meter.feed(InputSeries.from_states(starts, T0 + 27_000, states))
    assert _get(device, ctx, Obis(1, 0, 32, 32, 0)) == Data.double_long_unsigned(1)
    assert _get(device, ctx, Obis(1, 0, 32, 33, 0)) == Data.double_long_unsigned(2)  # 2.5 s
    assert _get(device, ctx, Obis(1, 0, 32, 33, 0), 3) == _scaler_unit(0, Unit.SECOND)
    assert _get(device, ctx, Obis(1, 0, 32, 36, 0)) == Data.double_long_unsigned(1)
    assert _get(device, ctx, Obis(1, 0, 32, 37, 0)) == Data.double_long_unsigned(7)  # going on
    assert _get(device, ctx, Obis(1, 0, 32, 31, 0)) == Data.long_unsigned(1980)  # 198.0 V
    assert _get(device, ctx, Obis(1, 0, 32, 35, 0)) == Data.long_unsigned(2420)


def test_the_power_quality_registers_are_read_only() -> None:
    _meter, device, ctx = management_device("pmm1220", T0)
    with pytest.raises(CosemError) as refused:
        device.set(
            ctx, AttributeDescriptor(3, Obis(1, 0, 32, 7, 124), 2), None, Data.long_unsigned(0)
        )
    assert refused.value.result is DataAccessResult.READ_WRITE_DENIED


@pytest.mark.parametrize("level", [Data.long(-10), Data.double_long_unsigned(10**9)])
def test_an_out_of_range_voltage_threshold_keeps_the_standard_refusal(level: Data) -> None:
    """The programmable voltage thresholds stay the register monitors 0.0.16.0.x: a level
    outside the watched register's long-unsigned (negative, or needing 32 bits) is refused
    type-unmatched, and the threshold in force is unchanged."""
    _meter, device, ctx = management_device("pmm1220", T0)
    monitor = AttributeDescriptor(21, Obis(0, 0, 16, 0, 0), 2)
    before = device.get(ctx, monitor, None)
    with pytest.raises(CosemError) as refused:
        device.set(ctx, monitor, None, Data.array([level]))
    assert refused.value.result is DataAccessResult.TYPE_UNMATCHED
    assert device.get(ctx, monitor, None) == before
