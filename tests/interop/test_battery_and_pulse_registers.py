"""The battery and pulse output registers read over a real socket with our client (issue 20,
items 8 and 9): 0.0.96.6.3.255 battery voltage and 0.0.96.6.0.255 battery use time on
pmm1220 (reader association, client 32), 1.0.0.3.3.255 the pulse output's meter constant
on magno22. OBIS: Blue Book "battery entries" 0.b.96.6.e (e = 0 use time counter, 3
voltage) and "meter constants" 1.b.0.3.e (e = 3 the active energy pulse output); unit 35 V,
7 s, 45 1/(Wh) (reference/dlms.md, unit enum)."""

from __future__ import annotations

from collections.abc import Callable

from tests.interop.conftest import START_MS, ServedMeter

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient
from metertwin.meter.inputs import PhysicalState

VOLTAGE, USE_TIME, PULSE_CONSTANT = "0.0.96.6.3.255", "0.0.96.6.0.255", "1.0.0.3.3.255"
VOLT, SECOND, PER_WH = 35, 7, 45


def _scaler_unit(scaler: int, unit: int) -> Data:
    return Data.structure([Data.integer(scaler), Data.enum(unit)])


def test_the_battery_voltage_and_use_time_are_read_as_registers(
    serve: Callable[..., ServedMeter],
) -> None:
    served = serve("pmm1220", overrides={"battery": {"capacity_mah": 0.01}})  # a tiny cell
    with DlmsClient(timeout=10).connect(
        "127.0.0.1", served.port, 32, password=b"00000001"
    ) as client:
        listed = {(e.class_id, e.logical_name) for e in client.object_list()}
        assert {(3, Obis.parse(VOLTAGE)), (3, Obis.parse(USE_TIME))} <= listed
        assert client.get(VOLTAGE, 3, 2) == Data.long_unsigned(360)  # 3.60 V: a new cell
        assert client.get(VOLTAGE, 3, 3) == _scaler_unit(-2, VOLT)
        assert client.get(USE_TIME, 3, 2) == Data.double_long_unsigned(0)
        assert client.get(USE_TIME, 3, 3) == _scaler_unit(0, SECOND)

        # 40 minutes without supply: 12 µA x 2/3 h = 0.008 mAh of the 0.01 mAh cell
        forty_minutes = 40 * 60_000
        dark = PhysicalState((0.0,), (0.0,), (0.0,))
        served.call(lambda: served.meter.advance(START_MS + forty_minutes, dark))
        expected = round((3.6 - 1.1 * 0.8**4) * 100)
        assert expected == 315  # below pmm1220's low_v 3.3 V: event 8 was raised
        assert client.get(VOLTAGE, 3, 2) == Data.long_unsigned(expected)
        assert client.get(USE_TIME, 3, 2) == Data.double_long_unsigned(forty_minutes // 1000)


def test_the_pulse_constant_is_read_where_the_model_has_a_pulse_output(
    serve: Callable[..., ServedMeter],
) -> None:
    served = serve("magno22")
    with DlmsClient(timeout=10).connect(
        "127.0.0.1", served.port, 32, password=b"11111111"
    ) as client:
        assert client.get(PULSE_CONSTANT, 3, 2) == Data.double_long_unsigned(1000)
        assert client.get(PULSE_CONSTANT, 3, 3) == _scaler_unit(-3, PER_WH)  # 1 imp/Wh


def test_a_reset_of_the_use_time_counter_is_a_new_battery(
    serve: Callable[..., ServedMeter],
) -> None:
    """Class 3 method 1 on 0.0.96.6.0.255 by the management association (client 1): the
    technician tells the meter a new battery is in; it reads full again."""
    served = serve("pmm1220", overrides={"battery": {"capacity_mah": 0.01}})
    dark = PhysicalState((0.0,), (0.0,), (0.0,))
    served.call(lambda: served.meter.advance(START_MS + 40 * 60_000, dark))
    with DlmsClient(timeout=10).connect(
        "127.0.0.1", served.port, 1, password=b"00000002"
    ) as client:
        assert client.get(VOLTAGE, 3, 2) == Data.long_unsigned(315)
        client.action(USE_TIME, 3, 1, Data.integer(0))
        assert client.get(USE_TIME, 3, 2) == Data.double_long_unsigned(0)
        assert client.get(VOLTAGE, 3, 2) == Data.long_unsigned(360)
    battery = served.meter.battery
    assert battery is not None and battery.installed_ms == START_MS + 40 * 60_000
