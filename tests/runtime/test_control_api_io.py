"""The battery, the tariff input and the S0 pulse output through the control API (issue 20,
items 8 and 9; docs/api.md): a magno22 `metertwin run --api-port 0` as a user starts it, the
inputs posted and deleted, /state read, the meter restarted on its memory."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.runtime.test_control_api import START, WAIT_S, Running, meter_with_api, request

from metertwin.config import UserConfig
from metertwin.runtime.control_api import MeterControl
from metertwin.runtime.live_inputs import InputChange, InputError
from metertwin.runtime.session import SIMULATED, open_session

IMPORT = "1.0.1.8.0.255"


def _state_when(meter: Running, holds: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """/state once the running meter has ticked past a change (it acts at its next tick)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        status, state = request("GET", meter.api + "/state")
        assert status == 200
        if holds(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def _pulses_agree(state: dict[str, Any]) -> None:
    """floor(Wh x imp/kWh / 1000) of the import register shown in the same answer."""
    s0 = state["s0"]
    mwh = state["registers"][IMPORT]["value_mwh"]
    assert s0["pulses"] == mwh * s0["imp_per_kwh"] // 1_000_000


def test_the_tariff_input_battery_and_pulses_through_the_api_and_a_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "meter"
    with meter_with_api(data, model="magno22") as meter:
        status, state = request("GET", meter.api + "/state")
        assert status == 200
        assert state["tariff_input"] == {"active": False, "rate": 4}
        assert state["battery"]["voltage_v"] == 3.6 and state["battery"]["use_time_s"] == 0
        assert state["s0"]["imp_per_kwh"] == 1000
        _pulses_agree(state)

        status, answer = request("POST", meter.api + "/inputs/tariff_input", b"{}")
        assert (status, [i["input"] for i in answer["inputs"]]) == (200, ["tariff_input"])
        state = _state_when(meter, lambda s: s["tariff_input"]["active"])
        assert state["tariff_input"]["active"] is True and state["rate"] == 4
        _pulses_agree(state)

        status, answer = request("POST", meter.api + "/buttons/battery_replaced/press")
        assert status == 200
        pressed = next(i for i in answer["inputs"] if i["input"] == "battery_replaced")
        fitted = _state_when(
            meter, lambda s: s["battery"]["installed"] != state["battery"]["installed"]
        )
        assert fitted["battery"]["installed"] != state["battery"]["installed"]
        assert pressed["until_ms"] - pressed["since_ms"] == 1000  # held one meter-second

    with meter_with_api(data, model="magno22") as again:  # the input held survives the restart
        state = _state_when(again, lambda s: s["tariff_input"]["active"])
        assert state["tariff_input"]["active"] is True and state["rate"] == 4
        assert fitted["battery"]["installed"] == state["battery"]["installed"]
        status, answer = request("POST", again.api + "/inputs/tariff_input", b'{"active": false}')
        assert (status, answer["inputs"]) == (200, [])
        state = _state_when(again, lambda s: not s["tariff_input"]["active"])
        assert state["tariff_input"]["active"] is False
        _pulses_agree(state)


def test_a_model_without_the_part_refuses_its_input(tmp_path: Path) -> None:
    """metercom-pro has a pulse output, but no battery and no tariff input."""
    session = open_session(
        tmp_path / "m", "metercom-pro", UserConfig(), "constant", START, lambda _m: 0, SIMULATED
    )
    try:
        control = MeterControl.of(session)
        for name in ("tariff_input", "battery_replaced"):
            with pytest.raises(InputError, match=f"{name}: this model has no") as refused:
                control.inputs.changed(InputChange(name), session.meter.now_ms)
            assert refused.value.status == 404
        with pytest.raises(InputError, match="battery"):
            control.inputs.press("battery_replaced", session.meter.now_ms)
        state = control.state()
        assert (state["battery"], state["tariff_input"]) == (None, None)
        assert state["s0"]["imp_per_kwh"] == 1000
    finally:
        session.close()
