"""IEC 62056-21 (formerly IEC 1107) direct local data exchange: the message codec, sans-IO.

The optical port and the RS-485 readout port speak it (protocols.md, "IEC 62056-21"). Messages:

- request ``/ ? [device address] ! CR LF`` (the HHU signs on, at 300 baud 7E1);
- identification ``/ XXX Z [\\W...] ident CR LF``: the manufacturer's three letters, the baud-rate
  character Z (the highest rate offered; mode C and E '0'..'6' = 300..19200, mode B 'A'..'F'
  = 600..19200), then enhanced identification sequences ``\\W``: ``\\2`` says the meter can
  switch to the binary mode E (HDLC) (dlms.com, "Enhanced identification character");
- acknowledgement / option select ``ACK V Z Y CR LF``: V the protocol control character ('0'
  normal, '1' secondary, '2' HDLC procedure), Z the rate chosen, Y the mode ('0' data readout,
  '1' programming, '2' binary mode E);
- data message ``STX data ETX BCC``: a readout ends its data with ``! CR LF``; an answer in
  programming mode does not; a partial block ends with EOT instead of ETX;
- command ``SOH C D [STX data] ETX BCC``: P password, R read, W write, E execute, B break,
  D the command type (P1, R1, W1, B0, ...);
- the single characters ACK and NAK (NAK: "repeat your last message").

BCC is the XOR of every character after the first SOH or STX up to and including ETX (or EOT).

:class:`MessageDecoder` is fed bytes as they come, one at a time or many, and returns whole
messages. It never raises: a message with a wrong BCC comes out as :class:`BadBcc` (the
receiver answers NAK and the sender repeats), bytes that fit no message are dropped and counted,
and a message longer than the decoder's bound is discarded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "ACK",
    "BAUD_RATES_MODE_B",
    "BAUD_RATES_MODE_C",
    "BREAK",
    "CRLF",
    "EOT",
    "ETX",
    "NAK",
    "SOH",
    "STX",
    "Acknowledge",
    "BadBcc",
    "Command",
    "DataMessage",
    "DataSet",
    "Identification",
    "Message",
    "MessageDecoder",
    "Mode",
    "NegativeAcknowledge",
    "OptionSelect",
    "ProtocolControl",
    "Request",
    "bcc",
    "encode_readout",
    "parse_data_sets",
]

SOH = 0x01
STX = 0x02
ETX = 0x03
EOT = 0x04
ACK = 0x06
NAK = 0x15
CRLF = b"\r\n"
_END_OF_READOUT = b"!\r\n"

# Baud-rate characters (IEC 62056-21 6.3.14 item 14; protocols.md).
BAUD_RATES_MODE_C: dict[str, int] = {
    "0": 300,
    "1": 600,
    "2": 1200,
    "3": 2400,
    "4": 4800,
    "5": 9600,
    "6": 19200,
}
BAUD_RATES_MODE_B: dict[str, int] = {
    "A": 600,
    "B": 1200,
    "C": 2400,
    "D": 4800,
    "E": 9600,
    "F": 19200,
}

# Characters a device address, a data set's address, value or unit never holds.
_ADDRESS_FORBIDDEN = frozenset("()/!*")
_MAX_DEVICE_ADDRESS = 32  # 6.3.14 item 18
_MAX_IDENT = 16  # 6.3.14 item 15, without the \W sequences
_MAX_LINE = 64  # a request or identification longer than this is noise


def _printable(text: str, forbidden: frozenset[str]) -> bool:
    return all(" " <= char <= "~" and char not in forbidden for char in text)


def bcc(data: bytes | bytearray | memoryview) -> int:
    """The block check character: the XOR of ``data`` (the characters after SOH/STX up to and
    including ETX). In 7E1 every character is 7 bits, so the result is too."""
    check = 0
    for octet in data:
        check ^= octet
    return check


class ProtocolControl(Enum):
    """V in the option select message."""

    NORMAL = "0"
    SECONDARY = "1"
    HDLC = "2"


class Mode(Enum):
    """Y in the option select message."""

    DATA_READOUT = "0"
    PROGRAMMING = "1"
    BINARY = "2"  # mode E: HDLC from here on


@dataclass(frozen=True, slots=True)
class Request:
    """``/?address!``: the sign-on; an empty address asks whoever listens."""

    device_address: str = ""

    def __post_init__(self) -> None:
        if len(self.device_address) > _MAX_DEVICE_ADDRESS or not _printable(
            self.device_address, _ADDRESS_FORBIDDEN
        ):
            raise ValueError(f"device address {self.device_address!r} is not 0..32 printable")

    def encode(self) -> bytes:
        return b"/?" + self.device_address.encode("ascii") + b"!" + CRLF


@dataclass(frozen=True, slots=True)
class Identification:
    """``/XXXZ\\W..ident``: the meter's answer to a sign-on.

    ``enhanced`` holds the characters of the leading ``\\W`` sequences ('2': mode E capable).
    A lowercase third manufacturer letter promises the 20 ms reaction time instead of 200 ms.
    """

    manufacturer: str
    baud_char: str
    identification: str
    enhanced: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.manufacturer) != 3 or not self.manufacturer.isascii():
            raise ValueError(f"manufacturer {self.manufacturer!r} is not three letters")
        if not self.manufacturer.isalpha():
            raise ValueError(f"manufacturer {self.manufacturer!r} is not three letters")
        if len(self.baud_char) != 1 or not _printable(self.baud_char, _ADDRESS_FORBIDDEN):
            raise ValueError(f"baud character {self.baud_char!r} is not one character")
        if len(self.identification) > _MAX_IDENT or not _printable(
            self.identification, frozenset("/!")
        ):
            raise ValueError(f"identification {self.identification!r} is not 0..16 printable")
        for char in self.enhanced:
            if len(char) != 1 or not _printable(char, frozenset("/!\\")):
                raise ValueError(f"enhanced identification character {char!r}")

    @property
    def mode_e_capable(self) -> bool:
        return "2" in self.enhanced

    @property
    def short_reaction_time(self) -> bool:
        return self.manufacturer[2].islower()

    @property
    def baud_rate(self) -> int | None:
        """The highest rate offered (mode C/E or B), None for another character (mode A)."""
        return BAUD_RATES_MODE_C.get(self.baud_char) or BAUD_RATES_MODE_B.get(self.baud_char)

    def encode(self) -> bytes:
        enhanced = "".join("\\" + char for char in self.enhanced)
        text = "/" + self.manufacturer + self.baud_char + enhanced + self.identification
        return text.encode("ascii") + CRLF


@dataclass(frozen=True, slots=True)
class OptionSelect:
    """``ACK V Z Y CR LF``: the HHU's choice of procedure, baud rate and mode."""

    protocol_control: ProtocolControl
    baud_char: str
    mode: Mode

    @property
    def baud_rate(self) -> int | None:
        return BAUD_RATES_MODE_C.get(self.baud_char)

    def encode(self) -> bytes:
        text = self.protocol_control.value + self.baud_char + self.mode.value
        return bytes([ACK]) + text.encode("ascii") + CRLF


@dataclass(frozen=True, slots=True)
class DataMessage:
    """``STX data ETX BCC``. ``data`` excludes STX, ETX and BCC; a readout's data ends with
    ``! CR LF``; ``partial`` marks a block ended by EOT (more blocks follow)."""

    data: bytes
    partial: bool = False

    @property
    def is_readout(self) -> bool:
        return self.data.endswith(_END_OF_READOUT)

    def encode(self) -> bytes:
        body = self.data + bytes([EOT if self.partial else ETX])
        return bytes([STX]) + body + bytes([bcc(body)])

    def data_sets(self) -> list[DataSet] | None:
        """The data sets of the block (the readout end ``!`` left out); None if malformed."""
        data = self.data[: -len(_END_OF_READOUT)] if self.is_readout else self.data
        return parse_data_sets(data)


@dataclass(frozen=True, slots=True)
class Command:
    """``SOH C D [STX data] ETX BCC``: a programming-mode command (``data`` None: no STX part,
    as in the break ``B0``)."""

    command: str
    command_type: str
    data: bytes | None = None

    def __post_init__(self) -> None:
        for char in (self.command, self.command_type):
            if len(char) != 1 or not _printable(char, frozenset()):
                raise ValueError(f"command characters {self.command!r}{self.command_type!r}")

    @property
    def name(self) -> str:
        """``P1``, ``R1``, ``W1``, ``B0``, ..."""
        return self.command + self.command_type

    def data_set(self) -> DataSet | None:
        """The one data set the command carries (``1.8.0()``, ``(password)``), None if none."""
        if self.data is None:
            return None
        sets = parse_data_sets(self.data)
        return sets[0] if sets is not None and len(sets) == 1 else None

    def encode(self) -> bytes:
        head = (self.command + self.command_type).encode("ascii")
        body = head + (b"" if self.data is None else bytes([STX]) + self.data) + bytes([ETX])
        return bytes([SOH]) + body + bytes([bcc(body)])


BREAK = Command("B", "0")


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """A lone ACK: the command was carried out (W1, P1 accepted)."""

    def encode(self) -> bytes:
        return bytes([ACK])


@dataclass(frozen=True, slots=True)
class NegativeAcknowledge:
    """A lone NAK: the last message arrived damaged; repeat it."""

    def encode(self) -> bytes:
        return bytes([NAK])


@dataclass(frozen=True, slots=True)
class BadBcc:
    """A block (data or command) whose BCC did not match; ``raw`` is what arrived."""

    raw: bytes


Message = (
    Request
    | Identification
    | OptionSelect
    | DataMessage
    | Command
    | Acknowledge
    | NegativeAcknowledge
    | BadBcc
)


@dataclass(frozen=True, slots=True)
class DataSet:
    """``address(value*unit)``: one value of a readout or a command. ``unit`` None: no ``*``."""

    address: str
    value: str
    unit: str | None = None

    def __post_init__(self) -> None:
        forbidden = _ADDRESS_FORBIDDEN
        for part in (self.address, self.value, self.unit or ""):
            if not _printable(part, forbidden):
                raise ValueError(f"data set part {part!r} holds a character ( ) / ! * or a control")

    def encode(self) -> bytes:
        unit = "" if self.unit is None else "*" + self.unit
        return (self.address + "(" + self.value + unit + ")").encode("ascii")


def encode_readout(data_sets: list[DataSet] | tuple[DataSet, ...]) -> bytes:
    """The mode C data readout message: one data set a line, then ``! CR LF``, ETX and BCC."""
    lines = b"".join(data_set.encode() + CRLF for data_set in data_sets)
    return DataMessage(lines + _END_OF_READOUT).encode()


def parse_data_sets(data: bytes) -> list[DataSet] | None:
    """Every ``address(value[*unit])`` in ``data`` (lines separated by CR LF), None if any part
    of it is no data set. A data set with several values (``a(1)(2)``) is not parsed yet."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    sets: list[DataSet] = []
    for line in text.split("\r\n"):
        rest = line
        while rest:
            open_at = rest.find("(")
            close_at = rest.find(")", open_at + 1)
            if open_at < 0 or close_at < 0:
                return None
            address, inside = rest[:open_at], rest[open_at + 1 : close_at]
            value, star, unit = inside.partition("*")
            if "(" in inside or not _printable(address, _ADDRESS_FORBIDDEN):
                return None
            if not _printable(value, _ADDRESS_FORBIDDEN) or not _printable(
                unit, _ADDRESS_FORBIDDEN
            ):
                return None
            sets.append(DataSet(address, value, unit if star else None))
            rest = rest[close_at + 1 :]
    return sets


class _Frame(Enum):
    """What the decoder is inside."""

    NOTHING = 0
    LINE = 1  # '/' ... CR LF
    OPTION = 2  # ACK V Z Y CR LF
    BLOCK = 3  # SOH/STX ... ETX/EOT
    BCC = 4  # the one character after ETX/EOT


@dataclass(slots=True)
class MessageDecoder:
    """Reassembles IEC 62056-21 messages from bytes arriving in any pieces; never raises.

    A lone ACK and the option select both begin with ACK; which one the peer sends depends on
    the dialogue, so the receiver says: with ``expect_option_select`` an ACK begins an option
    select (after an identification), otherwise it is a message of its own. ``max_block``
    bounds a data or command block. :meth:`reset` drops a message half received (the session
    calls it when the 1.5 s inter-character time runs out).
    """

    expect_option_select: bool = False
    max_block: int = 16384
    dropped: int = 0  # octets that fit no message, for diagnostics
    _buffer: bytearray = field(default_factory=bytearray)
    _frame: _Frame = _Frame.NOTHING

    @property
    def pending(self) -> bool:
        """Whether part of a message has arrived."""
        return self._frame is not _Frame.NOTHING

    def reset(self) -> None:
        self.dropped += len(self._buffer)
        self._buffer.clear()
        self._frame = _Frame.NOTHING

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        messages: list[Message] = []
        for octet in bytes(data):
            message = self._octet(octet)
            if message is not None:
                messages.append(message)
        return messages

    def _octet(self, octet: int) -> Message | None:
        frame = self._frame
        buffer = self._buffer
        if frame is _Frame.NOTHING:
            return self._start(octet)
        buffer.append(octet)
        if frame is _Frame.BLOCK:
            if octet in (ETX, EOT):
                self._frame = _Frame.BCC
            elif len(buffer) > self.max_block:
                self.reset()
            return None
        if frame is _Frame.BCC:
            return self._finish(self._block(bytes(buffer)))
        if frame is _Frame.LINE and (octet == ord("/") or (octet < 0x20 and octet not in b"\r\n")):
            # No line holds '/' or a control character: a new message begins here.
            buffer.pop()
            self.reset()
            return self._start(octet)
        # A line or an option select: both end with CR LF.
        if octet == 0x0A and buffer.endswith(CRLF):
            text = bytes(buffer)
            return self._finish(_line(text) if frame is _Frame.LINE else _option(text))
        if len(buffer) > _MAX_LINE or (frame is _Frame.OPTION and len(buffer) > 6):
            self.reset()
        return None

    def _start(self, octet: int) -> Message | None:
        if octet == ord("/"):
            self._frame = _Frame.LINE
        elif octet in (SOH, STX):
            self._frame = _Frame.BLOCK
        elif octet == ACK and self.expect_option_select:
            self._frame = _Frame.OPTION
        elif octet == ACK:
            return Acknowledge()
        elif octet == NAK:
            return NegativeAcknowledge()
        else:
            self.dropped += 1
            return None
        self._buffer.append(octet)
        return None

    def _finish(self, message: Message | None) -> Message | None:
        if message is None:
            self.reset()
        else:
            self._buffer.clear()
            self._frame = _Frame.NOTHING
        return message

    @staticmethod
    def _block(raw: bytes) -> Message | None:
        """A whole ``SOH|STX ... ETX|EOT BCC``."""
        body, check = raw[1:-1], raw[-1]
        if bcc(body) != check:
            return BadBcc(raw)
        end = body[-1]
        if raw[0] == STX:
            return DataMessage(body[:-1], partial=end == EOT)
        return _command(body)


def _command(body: bytes) -> Command | None:
    """``C D [STX data] ETX`` (after SOH); None if it is not shaped so."""
    if len(body) < 3 or body[-1] != ETX:
        return None
    head = body[:2]
    if not all(0x20 < char < 0x7F for char in head):
        return None
    command, command_type = chr(head[0]), chr(head[1])
    if len(body) == 3:
        return Command(command, command_type)
    if body[2] != STX:
        return None
    return Command(command, command_type, body[3:-1])


def _line(raw: bytes) -> Request | Identification | None:
    """``/?address!CRLF`` or ``/XXXZ...CRLF``."""
    try:
        text = raw[1:-2].decode("ascii")
    except UnicodeDecodeError:
        return None
    try:
        if text.startswith("?"):
            if not text.endswith("!"):
                return None
            return Request(text[1:-1])
        if len(text) < 4:
            return None
        rest = text[4:]
        enhanced: list[str] = []
        while len(rest) >= 2 and rest[0] == "\\":
            enhanced.append(rest[1])
            rest = rest[2:]
        return Identification(text[:3], text[3], rest, tuple(enhanced))
    except ValueError:
        return None


def _option(raw: bytes) -> OptionSelect | None:
    """``ACK V Z Y CR LF``."""
    if len(raw) != 6:
        return None
    try:
        control = ProtocolControl(chr(raw[1]))
        mode = Mode(chr(raw[3]))
    except ValueError:
        return None
    baud_char = chr(raw[2])
    if not " " < baud_char <= "~":
        return None
    return OptionSelect(control, baud_char, mode)
