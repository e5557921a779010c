"""The IEC 62056-21 message codec: golden messages both ways, BCCs, streaming, refusals, fuzz.

Golden messages: protocols.md, "IEC 62056-21", from the pwitab iec62056-21 tests
(tests/test_data.py): request ``/?45678903!``, identification ``/Els6\\2EK280``, option select
``ACK 0 5 1``, a readout with BCC ``"`` and the break ``SOH B0 ETX q``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.protocols.iec62056_21 import (
    BREAK,
    Acknowledge,
    BadBcc,
    Command,
    DataMessage,
    DataSet,
    Identification,
    Message,
    MessageDecoder,
    Mode,
    NegativeAcknowledge,
    OptionSelect,
    ProtocolControl,
    Request,
    bcc,
    encode_readout,
)

REQUEST = b"/?45678903!\r\n"
IDENTIFICATION = b"/Els6\\2EK280\r\n"
OPTION_SELECT = b"\x06051\r\n"
READOUT = b'\x023:14(314*kWh)4:15(415*kWh)\r\n!\r\n\x03"'
BREAK_RAW = b"\x01B0\x03q"


def _decode(raw: bytes, *, option_select: bool = False) -> list[Message]:
    return MessageDecoder(expect_option_select=option_select).feed(raw)


def test_request_both_ways() -> None:
    assert _decode(REQUEST) == [Request("45678903")]
    assert Request("45678903").encode() == REQUEST
    assert Request().encode() == b"/?!\r\n"
    assert _decode(b"/?!\r\n") == [Request("")]


def test_identification_with_mode_e_capability() -> None:
    """``\\2`` after the baud character: binary mode (HDLC) available (dlms.com, enhanced
    identification character); a lowercase third letter: the 20 ms reaction time."""
    ident = Identification("Els", "6", "EK280", ("2",))
    assert _decode(IDENTIFICATION) == [ident]
    assert ident.encode() == IDENTIFICATION
    assert ident.mode_e_capable and ident.short_reaction_time and ident.baud_rate == 19200
    plain = Identification("MTW", "5", "PMM1220")
    assert plain.encode() == b"/MTW5PMM1220\r\n"
    assert not plain.mode_e_capable and not plain.short_reaction_time
    assert plain.baud_rate == 9600


def test_option_select_both_ways() -> None:
    option = OptionSelect(ProtocolControl.NORMAL, "5", Mode.PROGRAMMING)
    assert _decode(OPTION_SELECT, option_select=True) == [option]
    assert option.encode() == OPTION_SELECT
    assert option.baud_rate == 9600
    mode_e = OptionSelect(ProtocolControl.HDLC, "5", Mode.BINARY)
    assert mode_e.encode() == b"\x06252\r\n"


def test_a_lone_ack_unless_an_option_select_is_expected() -> None:
    assert _decode(b"\x06") == [Acknowledge()]
    assert _decode(b"\x15") == [NegativeAcknowledge()]
    assert _decode(b"\x06", option_select=True) == []  # the rest of the option select may come


def test_readout_and_its_bcc() -> None:
    """BCC = XOR of everything after STX up to and including ETX: ``"`` (0x22) here."""
    [message] = _decode(READOUT)
    assert isinstance(message, DataMessage) and message.is_readout
    assert bcc(READOUT[1:-1]) == 0x22
    assert message.data_sets() == [DataSet("3:14", "314", "kWh"), DataSet("4:15", "415", "kWh")]
    assert message.encode() == READOUT


def test_encode_readout_lines() -> None:
    readout = encode_readout([DataSet("1.8.0", "001234.5", "kWh"), DataSet("0.0.0", "12345678")])
    body = b"1.8.0(001234.5*kWh)\r\n0.0.0(12345678)\r\n!\r\n\x03"
    assert readout == b"\x02" + body + bytes([bcc(body)])
    [message] = _decode(readout)
    assert isinstance(message, DataMessage)
    assert message.data_sets() == [
        DataSet("1.8.0", "001234.5", "kWh"),
        DataSet("0.0.0", "12345678"),
    ]


def test_break_both_ways() -> None:
    """``SOH B0 ETX q``: 'B' ^ '0' ^ ETX = 0x71 = 'q'."""
    assert _decode(BREAK_RAW) == [BREAK]
    assert BREAK.encode() == BREAK_RAW


def test_programming_commands_round_trip() -> None:
    """protocols.md: ``SOH P1 STX (password) ETX BCC``, ``SOH R5 STX 0.9.2() ETX BCC``."""
    for command in (
        Command("P", "1", b"(00000000)"),
        Command("R", "1", b"1.8.0()"),
        Command("W", "1", b"0.9.2(260103)"),
        Command("P", "0", b"()"),
    ):
        raw = command.encode()
        assert raw[0] == 0x01 and raw[3] == 0x02 and raw[-2] == 0x03
        assert raw[-1] == bcc(raw[1:-1])
        assert _decode(raw) == [command]
    assert Command("R", "1", b"1.8.0()").data_set() == DataSet("1.8.0", "", None)
    assert Command("P", "1", b"(secret)").data_set() == DataSet("", "secret", None)
    assert BREAK.data_set() is None


def test_byte_by_byte_and_glued() -> None:
    stream = REQUEST + BREAK_RAW + READOUT + b"\x15" + REQUEST
    decoder = MessageDecoder()
    one_by_one = [m for octet in stream for m in decoder.feed(bytes([octet]))]
    assert one_by_one == MessageDecoder().feed(stream)
    assert len(one_by_one) == 5


def test_bcc_error_is_reported_not_raised() -> None:
    damaged = READOUT[:-1] + b"#"
    assert _decode(damaged) == [BadBcc(damaged)]
    flipped = BREAK_RAW[:2] + b"1" + BREAK_RAW[3:]
    assert _decode(flipped) == [BadBcc(flipped)]


def test_noise_is_dropped_and_a_new_message_resynchronises() -> None:
    decoder = MessageDecoder()
    assert decoder.feed(b"xyz/?12\x00garbage/?!\r\n") == [Request("")]
    assert decoder.dropped > 0
    assert decoder.feed(b"/?a(b!\r\n") == []  # '(' is not an address character
    assert decoder.feed(REQUEST) == [Request("45678903")]


def test_an_overlong_block_is_discarded() -> None:
    decoder = MessageDecoder(max_block=32)
    assert decoder.feed(b"\x02" + b"1" * 100 + b"\x03\x00") == []
    assert decoder.feed(BREAK_RAW) == [BREAK]


def test_reset_drops_a_half_message() -> None:
    decoder = MessageDecoder()
    assert decoder.feed(REQUEST[:5]) == [] and decoder.pending
    decoder.reset()
    assert not decoder.pending
    assert decoder.feed(REQUEST[5:]) == []
    assert decoder.feed(REQUEST) == [Request("45678903")]


@pytest.mark.parametrize(
    "raw",
    [b"\x06951\r\n", b"\x060\x001\r\n", b"\x06059\r\n", b"\x0605\r\n", b"\x060511\r\n"],
)
def test_malformed_option_selects_give_nothing(raw: bytes) -> None:
    assert _decode(raw, option_select=True) == []


def test_constructors_refuse_what_cannot_be_sent() -> None:
    with pytest.raises(ValueError):
        Request("a!b")
    with pytest.raises(ValueError):
        Identification("M1W", "5", "x")
    with pytest.raises(ValueError):
        DataSet("1.8.0", "1(2")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_fuzz_never_raises(data: bytes, option_select: bool) -> None:
    """Any bytes, in any pieces: messages or nothing, never an exception."""
    whole = MessageDecoder(expect_option_select=option_select).feed(data)
    split = MessageDecoder(expect_option_select=option_select)
    pieces = [m for octet in data for m in split.feed(bytes([octet]))]
    assert pieces == whole


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.sampled_from([REQUEST, READOUT, BREAK_RAW]))
def test_fuzz_a_message_after_noise_still_decodes(noise: bytes, message: bytes) -> None:
    """After any noise and a quiet gap (the session resets the decoder on its 1.5 s timeout),
    a clean message decodes."""
    decoder = MessageDecoder()
    decoder.feed(noise)
    decoder.reset()
    assert len(decoder.feed(message)) == 1
