"""Our meter-side IEC 62056-21 against an independent implementation: the pwitab
``iec62056-21`` package (PyPI, BSD-3-Clause, test-only). Its messages drive our port, and its
parsers read what our port sends, BCC checked by its own code (issue 13, "Interop and vectors")."""

from __future__ import annotations

from iec62056_21 import messages as pwitab

from metertwin.protocols.iec62056_21 import DataSet
from metertwin.protocols.iec62056_21_meter import (
    OpticalPort,
    OpticalPortConfig,
    PortState,
    Transmit,
)

READOUT = [
    DataSet("0.0.0", "12345678"),
    DataSet("1.8.0", "001234.5", "kWh"),
    DataSet("1.8.1", "000734.1", "kWh"),
    DataSet("32.7.0", "230.1", "V"),
]


def _port() -> OpticalPort:
    values = {data_set.address: data_set for data_set in READOUT}
    return OpticalPort(
        OpticalPortConfig("MTW", "PMM1220", device_address="12345678"),
        readout=lambda: READOUT,
        check_password=lambda password: password == "00000000",
        read=lambda address, parameter: values[address],
    )


def _one_transmission(actions: list[object]) -> bytes:
    [data] = [action.data for action in actions if isinstance(action, Transmit)]
    return data


def test_their_client_reads_our_mode_c_readout() -> None:
    port = _port()
    request = pwitab.RequestMessage(device_address="12345678").to_bytes()
    identification = _one_transmission(port.receive_data(request, 0.0))
    ident = pwitab.IdentificationMessage.from_bytes(identification)
    assert (ident.manufacturer, ident.switchover_baudrate_char) == ("MTW", "5")
    # They take the backslash as a separator and keep the enhanced character "2" in front.
    assert ident.identification == "2PMM1220"
    ack = pwitab.AckOptionSelectMessage(baud_char="5", mode_char="0").to_bytes()
    readout = _one_transmission(port.receive_data(ack, 1.0))
    parsed = pwitab.ReadoutDataMessage.from_bytes(readout)  # raises on a wrong BCC
    data_sets = [s for line in parsed.data_block.data_lines for s in line.data_sets]
    assert [(s.address, s.value, s.unit) for s in data_sets] == [
        ("0.0.0", "12345678", None),
        ("1.8.0", "001234.5", "kWh"),
        ("1.8.1", "000734.1", "kWh"),
        ("32.7.0", "230.1", "V"),
    ]
    # Their BCC and ours agree on our bytes.
    assert pwitab.utils.add_bcc(readout[:-1]) == readout


def test_their_programming_commands_drive_our_port() -> None:
    port = _port()
    port.receive_data(pwitab.RequestMessage().to_bytes(), 0.0)
    ack = pwitab.AckOptionSelectMessage(baud_char="5", mode_char="1").to_bytes()
    p0 = _one_transmission(port.receive_data(ack, 1.0))
    assert pwitab.CommandMessage.from_bytes(p0).command == "P"
    password = pwitab.CommandMessage(
        command="P", command_type=1, data_set=pwitab.DataSet(address="", value="00000000")
    )
    assert _one_transmission(port.receive_data(password.to_bytes(), 2.0)) == b"\x06"
    assert port.state is PortState.PROGRAMMING
    read = pwitab.CommandMessage.for_single_read("1.8.0")
    answer = pwitab.AnswerDataMessage.from_bytes(
        _one_transmission(port.receive_data(read.to_bytes(), 3.0))
    )
    assert [(s.address, s.value, s.unit) for s in answer.data] == [("1.8.0", "001234.5", "kWh")]
    brk = pwitab.CommandMessage(command="B", command_type=0, data_set=None)
    assert brk.to_bytes() == b"\x01B0\x03q"
    port.receive_data(brk.to_bytes(), 4.0)
    assert port.state is PortState.IDLE
