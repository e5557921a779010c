"""The meter side of IEC 62056-21 (issue 13, item 5): sign-on and addressing, mode C readout at
the switched rate, programming mode (P1, R1, W1, B0, the lockout), mode E, timeouts from the
injected clock, and the bad input of issue 13 (wrong baud rate, BCC error, a programming command
without the password). Messages as in protocols.md, "IEC 62056-21"."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.protocols.iec62056_21 import (
    BREAK,
    Command,
    DataSet,
    Mode,
    OptionSelect,
    ProtocolControl,
    Request,
    bcc,
)
from metertwin.protocols.iec62056_21_meter import (
    Action,
    CommandRefused,
    EnterBinaryMode,
    OpticalPort,
    OpticalPortConfig,
    PortState,
    SwitchBaudRate,
    Transmit,
)

PASSWORD = "00000000"
READOUT = [DataSet("0.0.0", "12345678"), DataSet("1.8.0", "001234.5", "kWh")]
# STX, the lines, "!" CR LF, ETX, then the BCC: the XOR of all after STX up to ETX (0x45 "E",
# computed apart from our code, and by the independent parser in test_iec62056_21_pwitab.py).
READOUT_MESSAGE = b"\x020.0.0(12345678)\r\n1.8.0(001234.5*kWh)\r\n!\r\n\x03E"
IDENTIFICATION = b"/MTW5\\2PMM1220\r\n"
ACK_READOUT = OptionSelect(ProtocolControl.NORMAL, "5", Mode.DATA_READOUT).encode()
ACK_PROGRAMMING = OptionSelect(ProtocolControl.NORMAL, "5", Mode.PROGRAMMING).encode()
ACK_MODE_E = OptionSelect(ProtocolControl.HDLC, "5", Mode.BINARY).encode()


class Meter:
    """A port over a small register store, recording lockouts."""

    def __init__(self, address: str = "12345678", mode_e: bool = True) -> None:
        self.values = {"1.8.0": ("001234.5", "kWh"), "0.9.2": ("260103", None)}
        self.lockouts = 0
        config = OpticalPortConfig("MTW", "PMM1220", device_address=address, mode_e=mode_e)
        self.port = OpticalPort(
            config,
            readout=lambda: READOUT,
            check_password=lambda password: password == PASSWORD,
            read=self.read,
            write=self.write,
            on_lockout=self.lock_out,
        )
        self.now = 100.0

    def read(self, address: str, parameter: str) -> DataSet:
        if address not in self.values:
            raise CommandRefused("NO OBJECT")
        value, unit = self.values[address]
        return DataSet(address, value, unit)

    def write(self, address: str, value: str) -> None:
        if address != "0.9.2":
            raise CommandRefused()
        self.values[address] = (value, None)

    def lock_out(self) -> None:
        self.lockouts += 1

    def send(self, data: bytes, baud: int | None = None, after: float = 0.3) -> list[Action]:
        """The HHU's message, ``after`` seconds later, at the port's rate unless told."""
        self.now += after
        return self.port.receive_data(data, self.now, self.port.baud if baud is None else baud)

    def programming(self) -> None:
        assert self.send(b"/?!\r\n") == [Transmit(IDENTIFICATION, 0.2)]
        actions = self.send(ACK_PROGRAMMING)
        p0 = b"\x01P0\x02()\x03" + bytes([bcc(b"P0\x02()\x03")])
        assert actions == [SwitchBaudRate(9600), Transmit(p0, 0.2)]
        assert self.port.state is PortState.PASSWORD


def _sent(actions: list[Action]) -> list[bytes]:
    return [action.data for action in actions if isinstance(action, Transmit)]


def test_mode_c_readout_at_the_switched_rate() -> None:
    meter = Meter()
    assert meter.send(b"/?!\r\n") == [Transmit(IDENTIFICATION, 0.2)]
    assert meter.port.state is PortState.IDENTIFIED
    assert meter.send(ACK_READOUT) == [
        SwitchBaudRate(9600),  # switch first, then send the readout at 9600
        Transmit(READOUT_MESSAGE, 0.2),
        SwitchBaudRate(300),  # after it, back to 300 and idle
    ]
    assert meter.port.state is PortState.IDLE and meter.port.baud == 300


def test_readout_at_300_needs_no_switch() -> None:
    meter = Meter()
    meter.send(b"/?!\r\n")
    ack = OptionSelect(ProtocolControl.NORMAL, "0", Mode.DATA_READOUT).encode()
    assert meter.send(ack) == [Transmit(READOUT_MESSAGE, 0.2)]


def test_the_meters_own_address_or_none_gets_an_answer_others_silence() -> None:
    meter = Meter(address="12345678")
    assert _sent(meter.send(Request("12345678").encode())) == [IDENTIFICATION]
    other = Meter(address="12345678")
    assert other.send(Request("87654321").encode()) == []
    assert other.send(ACK_READOUT) == []  # the option select was for the other meter
    assert other.port.state is PortState.IDLE


def test_two_meters_on_one_line_only_the_addressed_one_answers() -> None:
    first, second = Meter(address="1001"), Meter(address="1002")
    request = Request("1002").encode()
    assert first.send(request) == [] and _sent(second.send(request)) == [IDENTIFICATION]
    first.send(ACK_READOUT)
    assert _sent(second.send(ACK_READOUT)) == [READOUT_MESSAGE]
    assert first.port.state is PortState.IDLE


def test_a_sign_on_at_the_wrong_baud_rate_gets_silence() -> None:
    meter = Meter()
    assert meter.send(b"/?!\r\n", baud=9600) == []
    assert meter.port.state is PortState.IDLE
    assert _sent(meter.send(b"/?!\r\n", baud=300)) == [IDENTIFICATION]


def test_a_rate_above_the_offered_one_or_an_unknown_mode_gets_silence() -> None:
    for option in (
        OptionSelect(ProtocolControl.NORMAL, "6", Mode.DATA_READOUT),  # 19200 > 9600 offered
        OptionSelect(ProtocolControl.NORMAL, "5", Mode.BINARY),  # mode E needs V = 2
        OptionSelect(ProtocolControl.HDLC, "5", Mode.DATA_READOUT),
    ):
        meter = Meter()
        meter.send(b"/?!\r\n")
        assert meter.send(option.encode()) == []
        assert meter.port.state is PortState.IDLE
        assert _sent(meter.send(b"/?!\r\n")) == [IDENTIFICATION]  # and the port recovers


def test_silence_after_the_identification_returns_to_idle() -> None:
    """The HHU has 1.5 s after the last character of the identification (16 characters at
    300 baud 7E1: 0.533 s, after the 0.2 s reaction time)."""
    meter = Meter()
    meter.send(b"/?!\r\n")
    deadline = meter.port.deadline
    assert deadline is not None
    assert abs(deadline - (meter.now + 0.2 + 16 * 10 / 300 + 1.5)) < 1e-9
    assert meter.port.tick(deadline - 0.01) == []
    assert meter.port.state is PortState.IDENTIFIED
    assert meter.port.tick(deadline) == []
    assert meter.port.state is PortState.IDLE and meter.port.deadline is None
    assert meter.send(ACK_READOUT, after=0) == []


def test_more_than_1_5_s_between_characters_drops_the_message() -> None:
    meter = Meter()
    assert meter.send(b"/?") == []
    assert meter.send(b"!\r\n", after=1.6) == []
    assert _sent(meter.send(b"/?!\r\n")) == [IDENTIFICATION]
    meter.send(b"\x060")  # half an option select, then a pause of more than 1.5 s
    assert meter.send(b"50\r\n", after=1.6) == []
    assert meter.port.state is PortState.IDENTIFIED  # the HHU's 1.5 s after the ident hold
    assert _sent(meter.send(ACK_READOUT, after=0.1)) == [READOUT_MESSAGE]


def test_programming_read_write_and_break() -> None:
    meter = Meter()
    meter.programming()
    assert meter.send(Command("P", "1", b"(00000000)").encode()) == [Transmit(b"\x06", 0.2)]
    assert meter.port.state is PortState.PROGRAMMING
    answer = meter.send(Command("R", "1", b"1.8.0()").encode())
    body = b"1.8.0(001234.5*kWh)\x03"
    assert _sent(answer) == [b"\x02" + body + bytes([bcc(body)])]
    assert _sent(meter.send(Command("W", "1", b"0.9.2(260104)").encode())) == [b"\x06"]
    assert meter.values["0.9.2"] == ("260104", None)
    refused = _sent(meter.send(Command("W", "1", b"1.8.0(0)").encode()))
    assert refused == [b"\x02(ERROR)\x03" + bytes([bcc(b"(ERROR)\x03")])]
    unknown = _sent(meter.send(Command("R", "1", b"9.9.9()").encode()))
    assert unknown == [b"\x02(NO OBJECT)\x03" + bytes([bcc(b"(NO OBJECT)\x03")])]
    assert meter.send(BREAK.encode()) == [SwitchBaudRate(300)]
    assert meter.port.state is PortState.IDLE


def test_a_programming_command_without_the_password_gets_the_break() -> None:
    meter = Meter()
    meter.programming()
    actions = meter.send(Command("R", "1", b"1.8.0()").encode())
    assert actions == [Transmit(BREAK.encode(), 0.2), SwitchBaudRate(300)]
    assert meter.port.state is PortState.IDLE
    assert meter.lockouts == 0 and meter.port.wrong_passwords == 0


def test_three_wrong_passwords_in_a_row_call_the_lockout() -> None:
    meter = Meter()
    for attempt in range(1, 4):
        meter.programming()
        actions = meter.send(Command("P", "1", b"(11111111)").encode())
        assert actions == [Transmit(BREAK.encode(), 0.2), SwitchBaudRate(300)]
        assert meter.lockouts == (1 if attempt == 3 else 0)
    # A right password clears the count of wrong ones.
    meter.programming()
    meter.send(Command("P", "1", b"(22222222)").encode())
    meter.programming()
    assert _sent(meter.send(Command("P", "1", b"(00000000)").encode())) == [b"\x06"]
    assert meter.port.wrong_passwords == 0


def test_a_bcc_error_gets_nak_and_the_repeat_is_served() -> None:
    meter = Meter()
    meter.programming()
    good = Command("P", "1", b"(00000000)").encode()
    damaged = good[:-1] + bytes([good[-1] ^ 0x01])
    assert _sent(meter.send(damaged)) == [b"\x15"]
    assert meter.port.state is PortState.PASSWORD
    assert _sent(meter.send(good)) == [b"\x06"]


def test_the_hhus_nak_makes_the_meter_repeat() -> None:
    meter = Meter()
    meter.programming()
    meter.send(Command("P", "1", b"(00000000)").encode())
    [answer] = _sent(meter.send(Command("R", "1", b"1.8.0()").encode()))
    assert _sent(meter.send(b"\x15")) == [answer]


def test_programming_mode_times_out() -> None:
    meter = Meter()
    meter.programming()
    meter.send(Command("P", "1", b"(00000000)").encode())
    deadline = meter.port.deadline
    assert deadline is not None and deadline > meter.now + 60
    assert meter.port.tick(deadline) == [SwitchBaudRate(300)]
    assert meter.port.state is PortState.IDLE


def test_mode_e_hands_the_link_to_hdlc() -> None:
    meter = Meter()
    assert _sent(meter.send(b"/?!\r\n")) == [IDENTIFICATION]  # "\2": mode E offered
    assert meter.send(ACK_MODE_E) == [EnterBinaryMode(9600)]
    assert meter.port.state is PortState.BINARY
    assert meter.send(bytes.fromhex("7EA0070321931A7E"), after=30) == []  # HDLC is not ours
    assert meter.port.end_binary_mode() == [SwitchBaudRate(300)]
    assert _sent(meter.send(b"/?!\r\n")) == [IDENTIFICATION]


def test_mode_e_is_refused_by_a_meter_without_it() -> None:
    meter = Meter(mode_e=False)
    assert _sent(meter.send(b"/?!\r\n")) == [b"/MTW5PMM1220\r\n"]
    assert meter.send(ACK_MODE_E) == []
    assert meter.port.state is PortState.IDLE


def test_a_lowercase_third_letter_means_the_short_reaction_time() -> None:
    port = OpticalPort(
        OpticalPortConfig("MTw", "X"), readout=lambda: [], check_password=lambda p: False
    )
    assert port.receive_data(b"/?!\r\n", 0.0) == [Transmit(b"/MTw5\\2X\r\n", 0.02)]


_CHUNKS = st.lists(
    st.tuples(
        st.binary(max_size=24),
        st.floats(min_value=0, max_value=3),
        st.sampled_from([None, 300, 9600]),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_CHUNKS)
def test_fuzz_any_input_no_exception_and_the_port_recovers(
    chunks: list[tuple[bytes, float, int | None]],
) -> None:
    meter = Meter()
    for data, pause, baud in chunks:
        meter.now += pause
        meter.port.tick(meter.now)
        meter.port.receive_data(data, meter.now, baud)
    meter.port.end_binary_mode()
    meter.now += 200
    meter.port.tick(meter.now)
    assert meter.port.state is PortState.IDLE and meter.port.baud == 300
    assert _sent(meter.send(b"/?!\r\n")) == [IDENTIFICATION]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"/?!\r\n",
                ACK_READOUT,
                ACK_PROGRAMMING,
                b"\x15",
                BREAK.encode(),
                Command("P", "1", b"(00000000)").encode(),
                Command("R", "1", b"1.8.0()").encode(),
            ]
        ),
        max_size=12,
    )
)
def test_fuzz_valid_messages_in_any_order(messages: list[bytes]) -> None:
    """Well-formed messages out of order: answers or silence, never a crash, and the state
    machine stays in one of its states."""
    meter = Meter()
    for message in messages:
        meter.send(message)
        assert meter.port.state in set(PortState)


def test_every_message_split_at_every_byte() -> None:
    """The readout and a programming read, each HHU message arriving one octet at a time."""
    meter = Meter()

    def trickle(message: bytes) -> list[Action]:
        actions: list[Action] = []
        for octet in message:
            actions += meter.send(bytes([octet]), after=0.01)
        return actions

    assert _sent(trickle(b"/?12345678!\r\n")) == [IDENTIFICATION]
    assert _sent(trickle(ACK_PROGRAMMING))[0].startswith(b"\x01P0")
    assert _sent(trickle(Command("P", "1", b"(00000000)").encode())) == [b"\x06"]
    [answer] = _sent(trickle(Command("R", "1", b"1.8.0()").encode()))
    assert answer.startswith(b"\x021.8.0(001234.5*kWh)\x03")
    assert trickle(BREAK.encode()) == [SwitchBaudRate(300)]
    assert _sent(trickle(b"/?!\r\n")) == [IDENTIFICATION]
    assert _sent(trickle(ACK_READOUT)) == [READOUT_MESSAGE]
