"""Each model's optical port over a fresh meter (``runtime/optical.py``, the ``[optical]``
section of the model files): the identification, the mode C readout of the model's list
read by the pwitab ``iec62056-21`` parser (test-only) with every item a value and the unit
its register's scaler_unit gives, the clock as 0.9.1 and 0.9.2, the values those of the meter's
core, R1 by address, P1 checked as the association's LLS secret, three wrong ones locking it
(seed 002), and W1 with that association's rights: read back over DLMS and by R1, the clock's
SET logged, refusals answered ``(ERROR)``, kept through a restart."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest
from iec62056_21 import messages as pwitab
from tests.storage.test_storage_faults import DiskFull, disk_full  # noqa: F401 (a fixture)
from tests.transport.pty_peer import PtyPeer
from tests.transport.test_hdlc_serial import settings
from tests.transport.test_optical_serial import send_then_switch, sign_on

from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.config import load_config
from metertwin.cosem.access import AssociationContext
from metertwin.dlms.capabilities import IMPLEMENTED_CONFORMANCE
from metertwin.meter.events import EventCode
from metertwin.meter.registers import Energy
from metertwin.meter.security import LoginOutcome
from metertwin.models import builtin_model_names, load_model, model_from_text
from metertwin.protocols.iec62056_21 import bcc
from metertwin.protocols.iec62056_21_meter import OpticalPort, PortState, Transmit
from metertwin.runtime.optical import CLOCK, optical_port, parse_value, readout_address
from metertwin.runtime.serving import SessionBackend
from metertwin.runtime.session import WALL, Session, open_session
from metertwin.schema import SchemaError
from metertwin.transport import eventloop
from metertwin.transport.hdlc_serial import HdlcSerialServer
from metertwin.transport.optical_serial import OpticalSerialPort
from metertwin.transport.serial_line import SerialLine

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

        def p1(password: str, now: float) -> bytes:
            return _programming(port, password, now)

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


# -- programming mode: W1 -------------------------------------------------------------------

ALARM_FILTER = Obis.parse("0.0.97.98.10.255")  # class 1, double-long-unsigned, utility may SET
BREAK = b"\x01B0\x03q"
ERROR = b"\x02(ERROR)\x03" + bytes([bcc(b"(ERROR)\x03")])  # STX (ERROR) ETX BCC


def _programming(port: OpticalPort, password: str | None, now: float = 0.0) -> bytes:
    """Sign on, ask for programming mode, give ``password`` (None: none); what P1 got."""
    port.receive_data(pwitab.RequestMessage().to_bytes(), now)
    ack = pwitab.AckOptionSelectMessage(baud_char="5", mode_char="1").to_bytes()
    port.receive_data(ack, now + 0.5)
    if password is None:
        return b""
    p1 = pwitab.CommandMessage(
        command="P", command_type=1, data_set=pwitab.DataSet(address="", value=password)
    )
    return _sent(port.receive_data(p1.to_bytes(), now + 1.0))


def _w1(port: OpticalPort, address: str, value: str, now: float = 2.0) -> bytes:
    command = pwitab.CommandMessage.for_single_write(address, value)
    return _sent(port.receive_data(command.to_bytes(), now))


def _r1(port: OpticalPort, address: str, now: float = 3.0) -> bytes:
    command = pwitab.CommandMessage.for_single_read(address)
    return _sent(port.receive_data(command.to_bytes(), now))


def _dlms_get(session: Session, class_id: int, name: Obis, attribute: int = 2) -> Data:
    """The attribute as the P1 association reads it over DLMS."""
    backend = SessionBackend(session)
    device = backend.current()
    policy = next(p for p in device.policies.values() if p.name == "utility")
    context = AssociationContext(policy, policy.client_sap, 1, IMPLEMENTED_CONFORMANCE, 1024, 1024)
    return backend.get(context, AttributeDescriptor(class_id, name, attribute), None)


def test_w1_sets_a_writable_object_read_back_over_dlms_and_by_r1_and_kept_after_restart(
    tmp_path: Path,
) -> None:
    session = _session(tmp_path, "pmm1220")
    try:
        port = optical_port(session, SessionBackend(session).current)
        assert _programming(port, "00000002") == b"\x06"
        assert _dlms_get(session, 1, ALARM_FILTER).value == 0xFFFFFFFF
        assert _w1(port, "0-0:97.98.10", "255") == b"\x06"  # ACK
        assert port.state is PortState.PROGRAMMING
        assert _dlms_get(session, 1, ALARM_FILTER) == Data.double_long_unsigned(255)
        assert _r1(port, "0-0:97.98.10") == b"\x020-0:97.98.10(255)\x03" + bytes(
            [bcc(b"0-0:97.98.10(255)\x03")]
        )
        assert _w1(port, "1-0:96.131.1", "1") == b"\x06"  # a boolean
        assert _dlms_get(session, 1, Obis.parse("1.0.96.131.1.255")) == Data.boolean(True)
    finally:
        session.close()
    reopened = _session(tmp_path, "pmm1220")  # the same memory, a new process
    try:
        assert _dlms_get(reopened, 1, ALARM_FILTER) == Data.double_long_unsigned(255)
        assert _dlms_get(reopened, 1, Obis.parse("1.0.96.131.1.255")) == Data.boolean(True)
    finally:
        reopened.close()


def test_w1_of_a_string_follows_the_attributes_type(tmp_path: Path) -> None:
    session = _session(tmp_path, "metercom-pro")
    try:
        port = optical_port(session, SessionBackend(session).current)
        assert _programming(port, "UTILITY") == b"\x06"
        assert _w1(port, "0.2.1", "CFG-0042") == b"\x06"  # 1-0:0.2.1, an octet string
        assert b"(CFG-0042)" in _r1(port, "0.2.1")
    finally:
        session.close()


@pytest.mark.parametrize(
    ("address", "value"),
    [
        ("1.8.0", "000001.000*kWh"),  # the import register: read-only for every association
        ("0-0:96.1.0", "87654321"),  # the serial number: read-only
        ("0-0:97.98.10", "12a"),  # malformed integer
        ("0-0:97.98.10", "1.5"),  # not a whole number
        ("0-0:97.98.10", "4294967296"),  # outside double-long-unsigned
        ("0-0:97.98.10", "255*kWh"),  # a unit for a value without one
        ("1-0:96.131.1", "maybe"),  # not a boolean
        ("0.9.1", "25:00:00"),  # no such hour
        ("0.9.1", "12:00"),  # malformed time
        ("0.9.1", "12:0000"),  # separators mixed
        ("0.9.2", "26-02-30"),  # no such day
        ("9-9:9.9.9", "1"),  # no such object
        ("not an address", "1"),
    ],
)
def test_a_refused_w1_answers_error_and_the_port_stays_in_programming_mode(
    tmp_path: Path, address: str, value: str
) -> None:
    session = _session(tmp_path, "pmm1220")
    try:
        port = optical_port(session, SessionBackend(session).current)
        _programming(port, "00000002")
        clock_before = _dlms_get(session, 8, CLOCK)
        assert _w1(port, address, value) == ERROR
        assert port.state is PortState.PROGRAMMING
        assert _dlms_get(session, 8, CLOCK) == clock_before  # nothing moved
        assert _dlms_get(session, 1, ALARM_FILTER).value == 0xFFFFFFFF
        assert _w1(port, "0-0:97.98.10", "7", now=4.0) == b"\x06"  # the session goes on
    finally:
        session.close()


def test_w1_before_the_password_gets_the_break_and_writes_nothing(tmp_path: Path) -> None:
    session = _session(tmp_path, "pmm1220")
    try:
        port = optical_port(session, SessionBackend(session).current)
        _programming(port, None)
        assert _w1(port, "0-0:97.98.10", "255") == BREAK
        assert port.state is PortState.IDLE
        assert _programming(port, "wrong", now=10.0) == BREAK
        assert _dlms_get(session, 1, ALARM_FILTER).value == 0xFFFFFFFF
    finally:
        session.close()


def test_w1_of_the_clock_time_and_date_sets_it_keeps_the_other_half_and_logs_the_adjustment(
    tmp_path: Path,
) -> None:
    session = _session(tmp_path, "pmm1220")
    try:
        port = optical_port(session, SessionBackend(session).current)
        _programming(port, "00000002")
        before = session.meter.local_time()
        assert _w1(port, "0.9.1", "01:02:03") == b"\x06"
        after_time = session.meter.local_time()
        assert (after_time.hour, after_time.minute, after_time.second) == (1, 2, 3)
        assert after_time.date() == before.date()
        assert _w1(port, "0.9.2", "270615", now=2.5) == b"\x06"  # YYMMDD
        local = session.meter.local_time()
        assert (local.year, local.month, local.day) == (2027, 6, 15)
        assert (local.hour, local.minute, local.second) == (1, 2, 3)
        # the DLMS clock and R1 answer the new time
        stamp = CosemDateTime.from_bytes(_dlms_get(session, 8, CLOCK).as_bytes())
        assert (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute) == (
            2027, 6, 15, 1, 2,
        )  # fmt: skip
        assert b"0.9.1(01:02:03)" in _r1(port, "0.9.1")
        assert b"0.9.2(27-06-15)" in _r1(port, "0.9.2", now=3.5)
        # both SETs are in the standard event log, as a DLMS SET of the clock logs them
        log = _dlms_get(session, 7, Obis.parse("0.0.99.98.0.255")).as_items()
        codes = [entry.as_items()[1].value for entry in log]  # (clock, event code) rows
        adjusted = [int(EventCode.CLOCK_ADJUSTED_OLD), int(EventCode.CLOCK_ADJUSTED_NEW)]
        assert codes[-4:] == adjusted * 2
    finally:
        session.close()


def test_parse_value_reads_a_register_in_the_readouts_units_exactly() -> None:
    energy = Data.structure([Data.integer(0), Data.enum(30)])  # Wh, read as kWh
    volts = Data.structure([Data.integer(-1), Data.enum(35)])  # 0.1 V
    present = Data.double_long_unsigned(0)
    assert parse_value("000012.345*kWh", present, energy) == Data.double_long_unsigned(12345)
    assert parse_value("230.1*V", Data.long_unsigned(0), volts) == Data.long_unsigned(2301)
    for refused, scaler_unit in [
        ("12.3456*kWh", energy),  # between two watt-hours
        ("12345*Wh", energy),  # the readout prints kWh
        ("12.345", energy),  # no unit
        ("230.15*V", volts),  # between two steps of 0.1 V
        ("-1*kWh", energy),  # below double-long-unsigned
    ]:
        with pytest.raises(ValueError):
            parse_value(refused, present, scaler_unit)


def test_programming_mode_on_a_pty_p1_w1_r1_at_9600_then_b0(tmp_path: Path) -> None:
    """The whole dialogue on a real pty (transport/optical_serial.py), the HHU's UART set as
    in tests/transport/test_optical_serial.py: W1 committed and read back, a refusal, B0."""
    session = _session(tmp_path, "pmm1220")

    async def block(peer: PtyPeer) -> bytes:
        """One ``STX ... ETX BCC`` answer."""
        return await peer.read_until(b"\x03") + await peer.read_count(1)

    def command(peer: PtyPeer, message: pwitab.CommandMessage) -> None:
        peer.send(message.to_bytes())

    async def main() -> None:
        backend = SessionBackend(session)
        line = SerialLine.open_pty(300)
        optical = OpticalSerialPort(
            optical_port(session, backend.current),
            line,
            HdlcSerialServer(backend, line, settings()),
        )
        await optical.start()
        peer = PtyPeer(line.path)
        try:
            await sign_on(peer)
            ack = pwitab.AckOptionSelectMessage(baud_char="5", mode_char="1").to_bytes()
            await send_then_switch(peer, ack, 9600)
            assert (await block(peer)).startswith(b"\x01P0")
            p1 = pwitab.DataSet(address="", value="00000002")
            command(peer, pwitab.CommandMessage(command="P", command_type=1, data_set=p1))
            assert await peer.read_count(1) == b"\x06"
            command(peer, pwitab.CommandMessage.for_single_write("0-0:97.98.10", "255"))
            assert await peer.read_count(1) == b"\x06"
            command(peer, pwitab.CommandMessage.for_single_read("0-0:97.98.10"))
            assert (await block(peer))[:-1] == b"\x020-0:97.98.10(255)\x03"
            command(peer, pwitab.CommandMessage.for_single_write("1.8.0", "0*kWh"))
            assert await block(peer) == ERROR
            assert optical.port.state is PortState.PROGRAMMING
            command(peer, pwitab.CommandMessage(command="B", command_type=0, data_set=None))
            await asyncio.sleep(0.3)
            assert optical.port.state is PortState.IDLE and optical.line.format.baud == 300
        finally:
            peer.close()
            await optical.stop()

    try:
        eventloop.run(asyncio.wait_for(main(), 30))
        assert _dlms_get(session, 1, ALARM_FILTER) == Data.double_long_unsigned(255)
    finally:
        session.close()


def test_a_memory_that_takes_no_commit_refuses_w1_and_keeps_p1_working(
    tmp_path: Path,
    disk_full: type[DiskFull],  # noqa: F811 (the fixture imported above)
) -> None:
    """Nothing the memory cannot keep is acknowledged (issue 19 item 8): the W1 whose commit
    fails is undone and answers (ERROR), later ones are refused before they act; P1 is
    still judged, in RAM."""
    session = _session(tmp_path, "pmm1220")
    try:
        port = optical_port(session, SessionBackend(session).current)
        _programming(port, "00000002")
        disk_full.full = True
        assert _w1(port, "0-0:97.98.10", "255") == ERROR
        assert session.read_only
        assert _dlms_get(session, 1, ALARM_FILTER).value == 0xFFFFFFFF  # back to the commit
        assert _w1(port, "0-0:97.98.10", "255", now=4.0) == ERROR
        port.receive_data(
            pwitab.CommandMessage(command="B", command_type=0, data_set=None).to_bytes(), 5.0
        )
        assert _programming(port, "00000002", now=10.0) == b"\x06"
    finally:
        session.close()
