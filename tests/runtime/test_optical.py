"""Each model's optical port over a fresh meter (``runtime/optical.py``, the ``[optical]``
section of the model files): the identification, the mode C readout of the model's list
read by the pwitab ``iec62056-21`` parser (test-only) with every item a value and the unit
its register's scaler_unit gives, the clock as 0.9.1 and 0.9.2, the values those of the meter's
core, R1 by address, P1 checked as the association's LLS secret, three wrong ones locking it
(seed 002), and W1 with that association's rights: read back over DLMS and by R1, the clock's
SET logged, refusals answered ``(ERROR)``, kept through a restart."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
from iec62056_21 import messages as pwitab

from metertwin.config import load_config
from metertwin.meter.registers import Energy
from metertwin.meter.security import LoginOutcome
from metertwin.models import builtin_model_names, load_model, model_from_text
from metertwin.protocols.iec62056_21_meter import PortState, Transmit
from metertwin.runtime.optical import optical_port, readout_address
from metertwin.runtime.serving import SessionBackend
from metertwin.runtime.session import WALL, Session, open_session
from metertwin.schema import SchemaError

SERIAL = "12345678"


def _session(tmp_path: Path, model: str) -> Session:
    now = int(time.time()) * 1000
    return open_session(
        tmp_path / model, model, load_config(None), "constant", None, lambda _: now, WALL, SERIAL
    )


def _sent(actions: list[object]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Transmit))


@pytest.mark.parametrize("model", builtin_model_names())
def test_each_models_readout_is_its_list_with_values_and_units_parsed_by_pwitab(
    tmp_path: Path, model: str
) -> None:
    session = _session(tmp_path, model)
    try:
        spec = session.model.optical
        assert spec is not None, f"{model} has no [optical] section"
        session.advance_to(session.meter.now_ms + 6 * 3_600_000)  # six hours of the world
        port = optical_port(session, SessionBackend(session).current)
        identification = _sent(port.receive_data(pwitab.RequestMessage().to_bytes(), 0.0))
        ident = pwitab.IdentificationMessage.from_bytes(identification)
        assert (ident.manufacturer, ident.identification) == ("MTW", "2" + spec.identification)
        ack = pwitab.AckOptionSelectMessage(baud_char="5", mode_char="0").to_bytes()
        readout = pwitab.ReadoutDataMessage.from_bytes(_sent(port.receive_data(ack, 1.0)))
        data_sets = [s for line in readout.data_block.data_lines for s in line.data_sets]
        clock = ["0.9.1", "0.9.2"]  # the clock reads as its time and date lines
        expected = [a for c in spec.readout for a in (clock if c == "0.0.1.0.0.255" else [c])]
        assert [s.address for s in data_sets] == [
            a if a in clock else readout_address(a) for a in expected
        ]
        assert all(s.value and s.value != "ERROR" for s in data_sets)
        values = {s.address: s.value for s in data_sets}
        local = session.meter.local_time()
        assert values["0.9.1"] == local.strftime("%H:%M:%S")
        assert values["0.9.2"] == local.strftime("%y-%m-%d")
        energy = next(s for s in data_sets if s.address == "1.8.0")
        imported_wh = session.meter.energy_mwh(Energy.IMPORT_ACTIVE) // 1000
        assert energy.unit == "kWh" and Decimal(energy.value) == Decimal(imported_wh) / 1000
        assert imported_wh > 0
        assert any(SERIAL in s.value for s in data_sets)  # the serial number (or the LDN)
    finally:
        session.close()


def test_p1_is_the_associations_lls_secret_and_three_wrong_ones_lock_it(tmp_path: Path) -> None:
    session = _session(tmp_path, "pmm1220")
    try:
        port = optical_port(session, SessionBackend(session).current)
        programming = pwitab.AckOptionSelectMessage(baud_char="5", mode_char="1").to_bytes()

        def p1(password: str, now: float) -> bytes:
            port.receive_data(pwitab.RequestMessage().to_bytes(), now)
            port.receive_data(programming, now + 0.5)
            command = pwitab.CommandMessage(
                command="P", command_type=1, data_set=pwitab.DataSet(address="", value=password)
            )
            return _sent(port.receive_data(command.to_bytes(), now + 1.0))

        assert p1("00000002", 0.0) == b"\x06"  # the utility association's secret
        assert port.state is PortState.PROGRAMMING
        read = pwitab.CommandMessage.for_single_read("1.8.0").to_bytes()
        answer = _sent(port.receive_data(read, 2.0))
        assert b"1.8.0(" in answer and b"*kWh)" in answer
        port.receive_data(
            pwitab.CommandMessage(command="B", command_type=0, data_set=None).to_bytes(), 3.0
        )
        for attempt in range(3):
            assert p1("wrong", 10.0 + attempt * 5) == b"\x01B0\x03q"  # the break
        assert session.meter.login("utility", b"00000002") is LoginOutcome.LOCKED
        assert p1("00000002", 30.0) == b"\x01B0\x03q"  # locked: the right one refused too
    finally:
        session.close()


def test_a_readout_item_that_is_not_an_obis_code_is_refused_with_its_path() -> None:
    text = load_model("pmm1220").text.replace('"0.0.96.1.0.255", "0.0.1.0.0.255"', '"1.8.0"', 1)
    with pytest.raises(SchemaError, match=r"optical\.readout\[0\]"):
        model_from_text(text, "bad.toml")
