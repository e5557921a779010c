"""Our mode C reader (the HHU side of IEC 62056-21) against the meter's OpticalPort, both
sans-IO: sign-on with and without an address, the rate the identification offers, the
readout with its BCC checked (NAK and the meter's repeat), and what makes no readout."""

from __future__ import annotations

import pytest
from tests.protocols.test_iec62056_21_meter import READOUT, READOUT_MESSAGE

from metertwin.protocols.iec62056_21 import DataMessage
from metertwin.protocols.iec62056_21_meter import (
    EnterBinaryMode,
    OpticalPort,
    OpticalPortConfig,
    SwitchBaudRate,
    Transmit,
)
from metertwin.protocols.iec62056_21_reader import (
    ModeCReader,
    ModeEOpener,
    ReaderStep,
    ReadoutError,
)


def port(address: str = "", max_baud_char: str = "5") -> OpticalPort:
    config = OpticalPortConfig(
        "MTW", "PMM1220", device_address=address, max_baud_char=max_baud_char
    )
    return OpticalPort(config, readout=lambda: READOUT, check_password=lambda _: False)


def carry(meter: OpticalPort, octets: bytes, now: float, spoil: bool = False) -> bytes:
    """The meter's answer to ``octets`` (its baud switches checked apart)."""
    sent = b""
    for action in meter.receive_data(octets, now):
        if isinstance(action, Transmit):
            sent += action.data
    if spoil and sent.startswith(b"\x02"):
        sent = sent[:-1] + bytes([sent[-1] ^ 0x01])
    return sent


def read(meter: OpticalPort, reader: ModeCReader, spoilt: int = 0) -> ReaderStep:
    step = reader.receive(carry(meter, reader.sign_on(), 1.0))
    now = 2.0
    for _ in range(10):
        now += 0.5
        answer = carry(meter, step.transmit, now, spoil=spoilt > 0)
        if answer.startswith(b"\x02"):
            spoilt -= 1
        step = reader.receive(answer)
        if step.readout is not None:
            return step
    raise AssertionError("no readout")


def test_a_readout_at_the_offered_rate() -> None:
    meter, reader = port(), ModeCReader()
    assert reader.sign_on() == b"/?!\r\n"
    step = reader.receive(carry(meter, b"/?!\r\n", 1.0))
    assert step == ReaderStep(b"\x06050\r\n", switch_baud=9600)  # ACK 0 Z 0: readout at '5'
    actions = meter.receive_data(step.transmit, 2.0)
    assert SwitchBaudRate(9600) in actions  # the meter switches too
    data = b"".join(a.data for a in actions if isinstance(a, Transmit))
    assert data == READOUT_MESSAGE
    readout = reader.receive(data).readout
    assert readout is not None
    assert readout.lines == ["0.0.0(12345678)", "1.8.0(001234.5*kWh)"]
    assert readout.data_sets() == READOUT
    assert readout.baud == 9600 and readout.identification.identification == "PMM1220"


def test_sign_on_with_the_device_address_and_a_rate_cap() -> None:
    meter, reader = port("12345678", "6"), ModeCReader("12345678", max_baud=4800)
    assert reader.sign_on() == b"/?12345678!\r\n"
    step = reader.receive(carry(meter, b"/?12345678!\r\n", 1.0))
    assert step == ReaderStep(b"\x06040\r\n", switch_baud=4800)


def test_after_a_wrong_bcc_the_reader_signs_on_again_at_300_baud() -> None:
    """Mode C has no repeat of a readout: the meter is idle at 300 baud once it is sent."""
    meter, reader = port(), ModeCReader()
    step = reader.receive(carry(meter, reader.sign_on(), 1.0))
    spoilt = carry(meter, step.transmit, 2.0, spoil=True)
    again = reader.receive(spoilt)
    assert again == ReaderStep(b"/?!\r\n", baud_before=300)
    assert meter.baud == 300
    step = read(port(), ModeCReader(), spoilt=1)
    assert step.readout is not None and step.readout.data_sets() == READOUT


def test_a_readout_always_wrong_is_an_error() -> None:
    with pytest.raises(ReadoutError, match="wrong BCC 3 times"):
        read(port(), ModeCReader(bcc_retries=2), spoilt=5)


def test_an_identification_without_a_mode_c_rate_is_an_error() -> None:
    reader = ModeCReader()
    reader.sign_on()
    with pytest.raises(ReadoutError, match="offers no mode C baud rate"):
        reader.receive(b"/MTWCPMM1220\r\n")  # 'C': mode B, 2400 Bd


def test_a_data_message_that_is_no_readout_is_an_error() -> None:
    reader = ModeCReader()
    reader.sign_on()
    reader.receive(b"/MTW5PMM1220\r\n")
    with pytest.raises(ReadoutError, match="readout end"):
        reader.receive(DataMessage(b"(ERROR)").encode())


def test_an_address_the_protocol_cannot_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="device address"):
        ModeCReader("a/b")


# --- mode E -------------------------------------------------------------------------------


def test_mode_e_is_opened_with_ack_2_z_2_and_the_meter_enters_binary_mode() -> None:
    meter, opener = port(), ModeEOpener()
    assert opener.sign_on() == b"/?!\r\n"
    step = opener.receive(carry(meter, opener.sign_on(), 1.0))
    # protocols.md: "Mode E: ACK '2' Z '2' CR LF, then both sides switch to 8N1"
    assert step.transmit == b"\x06252\r\n" and step.switch_baud == 9600
    assert opener.baud == 9600
    assert [a for a in meter.receive_data(step.transmit, 2.0) if isinstance(a, EnterBinaryMode)]


def test_mode_e_at_most_the_rate_asked_and_never_without_the_offer() -> None:
    meter, opener = port(), ModeEOpener(max_baud=2400)
    step = opener.receive(carry(meter, opener.sign_on(), 1.0))
    assert step.transmit == b"\x06232\r\n" and step.switch_baud == 2400
    plain = OpticalPort(
        OpticalPortConfig("MTW", "PMM1220", mode_e=False),
        readout=lambda: READOUT,
        check_password=lambda _: False,
    )
    refused = ModeEOpener()
    with pytest.raises(ReadoutError, match="does not offer mode E"):
        refused.receive(carry(plain, refused.sign_on(), 1.0))
    assert ModeEOpener().receive(b"noise\r\n") == ReaderStep()
