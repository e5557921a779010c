"""The meter side of an IEC 62056-21 optical (or RS-485) port, as a sans-IO state machine.

The port waits at 300 baud 7E1. A sign-on ``/?!`` or ``/?<its own address>!`` is answered with
the identification; a sign-on for another address gets silence (on a bus, another meter
answers). The option select then chooses (protocols.md, "IEC 62056-21"):

- mode C data readout (``ACK 0 Z 0``): the readout list at the rate chosen, then back to 300;
- programming mode (``ACK 0 Z 1``): the meter sends its P0 operand, the HHU must give the
  password with P1 before R1 (read) or W1 (write); B0 ends the session;
- mode E (``ACK 2 Z 2``, offered only with ``\\2`` in the identification): the link becomes
  HDLC at the rate chosen and the transport hands it to the HDLC layer.

The machine does no I/O and reads no clock: :meth:`OpticalPort.receive_data` and
:meth:`OpticalPort.tick` take the caller's ``now`` and return :data:`Action` s in the order the
transport must carry them out: a :class:`SwitchBaudRate` placed before a :class:`Transmit` means
"switch, then send"; after it, "send everything, then switch". Each :class:`Transmit` carries the
reaction time to wait first (200 ms; 20 ms when the third manufacturer letter is lowercase).

Timeouts: more than 1.5 s between two characters drops the message half received; an HHU
silent for 1.5 s after the identification, or for ``programming_timeout`` in programming mode,
finds the port back at 300 baud, idle. Deadlines count from the end of the meter's own
transmission, at 10 bits a character (7E1).

Refusals (docs/optical.md): a BCC error gets NAK (the HHU repeats); the HHU's NAK makes the
meter repeat its last message; a wrong password, or a programming command before the password,
gets the break ``B0`` and the port returns to idle; the third wrong password in a row (across
sessions) calls ``on_lockout``; an R1/W1 the meter refuses gets the error message
``STX (ERROR) ETX BCC``; an option select the meter cannot serve gets silence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from metertwin.protocols.iec62056_21 import (
    BAUD_RATES_MODE_C,
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
    encode_readout,
)

__all__ = [
    "CHARACTER_TIMEOUT",
    "INITIAL_BAUD",
    "PASSWORD_TRIES",
    "Action",
    "CommandRefused",
    "EnterBinaryMode",
    "OpticalPort",
    "OpticalPortConfig",
    "PortState",
    "SwitchBaudRate",
    "Transmit",
]

INITIAL_BAUD = 300
CHARACTER_TIMEOUT = 1.5  # seconds between two characters, and the HHU's time to answer
PASSWORD_TRIES = 3  # seed 002: the lockout after three wrong passwords
_BITS_PER_CHARACTER = 10  # 7E1: start, 7 data, parity, stop
_REACTION_TIME = 0.2
_SHORT_REACTION_TIME = 0.02


@dataclass(frozen=True, slots=True)
class Transmit:
    """Send ``data`` after waiting ``delay`` seconds (the reaction time)."""

    data: bytes
    delay: float


@dataclass(frozen=True, slots=True)
class SwitchBaudRate:
    """Change the line to ``baud`` 7E1 once everything before this action has been sent."""

    baud: int


@dataclass(frozen=True, slots=True)
class EnterBinaryMode:
    """Mode E: switch the line to ``baud`` 8N1; from now on it carries HDLC, not this port."""

    baud: int


Action = Transmit | SwitchBaudRate | EnterBinaryMode


class PortState(Enum):
    IDLE = "idle"  # 300 baud, waiting for a sign-on
    IDENTIFIED = "identified"  # identification sent, waiting for the option select
    PASSWORD = "password"  # programming mode, P0 sent, waiting for P1
    PROGRAMMING = "programming"  # password accepted: R1, W1, B0
    BINARY = "binary"  # mode E: the link belongs to HDLC until end_binary_mode()


class CommandRefused(Exception):
    """Raised by a read or write callback: the meter answers ``(error)`` (at most 32
    characters, none of ``( ) * / !``)."""

    def __init__(self, error: str = "ERROR") -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True, slots=True)
class OpticalPortConfig:
    """What the port says about itself. ``max_baud_char`` is the highest mode C rate it offers
    ('5' = 9600); ``password_seed`` is the P0 operand (None: ``P0()``)."""

    manufacturer: str
    identification: str
    device_address: str = ""
    max_baud_char: str = "5"
    mode_e: bool = True
    password_seed: str | None = None
    programming_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.max_baud_char not in BAUD_RATES_MODE_C:
            raise ValueError(f"max_baud_char {self.max_baud_char!r} is not a mode C rate 0..6")
        self.identification_message()  # checks manufacturer and identification
        if not self.programming_timeout > 0:
            raise ValueError("programming_timeout must be positive")

    def identification_message(self) -> Identification:
        enhanced = ("2",) if self.mode_e else ()
        return Identification(self.manufacturer, self.max_baud_char, self.identification, enhanced)


def _refuse_all_writes(address: str, value: str) -> None:
    raise CommandRefused()


def _refuse_all_reads(address: str, parameter: str) -> DataSet:
    raise CommandRefused()


class OpticalPort:
    """One meter's IEC 62056-21 port.

    ``readout`` gives the mode C readout list at the instant it is asked; ``check_password``
    says whether a P1 password is right (the meter core decides, lockout included); ``read``
    answers R1 ``address(parameter)`` with a data set and ``write`` carries out W1
    ``address(value)``, either raising :class:`CommandRefused`; ``on_lockout`` is called at the
    third wrong password in a row.
    """

    def __init__(
        self,
        config: OpticalPortConfig,
        *,
        readout: Callable[[], Sequence[DataSet]],
        check_password: Callable[[str], bool],
        read: Callable[[str, str], DataSet] = _refuse_all_reads,
        write: Callable[[str, str], None] = _refuse_all_writes,
        on_lockout: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self._identification = config.identification_message().encode()
        self._max_baud = BAUD_RATES_MODE_C[config.max_baud_char]
        self._reaction_time = (
            _SHORT_REACTION_TIME if config.manufacturer[2].islower() else _REACTION_TIME
        )
        self._readout = readout
        self._check_password = check_password
        self._read = read
        self._write = write
        self._on_lockout = on_lockout
        self._decoder = MessageDecoder()
        self.state = PortState.IDLE
        self.baud = INITIAL_BAUD
        self.wrong_passwords = 0  # in a row, across sessions; a right one clears it
        self._last_octet = 0.0
        self._session_deadline: float | None = None
        self._last_sent = b""

    @property
    def reaction_time(self) -> float:
        return self._reaction_time

    @property
    def deadline(self) -> float | None:
        """When :meth:`tick` has something to do (None: nothing pending)."""
        deadlines = [self._session_deadline] if self._session_deadline is not None else []
        if self._decoder.pending:
            deadlines.append(self._last_octet + CHARACTER_TIMEOUT)
        return min(deadlines, default=None)

    def tick(self, now: float) -> list[Action]:
        """Apply the timeouts due at ``now``."""
        if self._decoder.pending and now >= self._last_octet + CHARACTER_TIMEOUT:
            self._decoder.reset()
        if self._session_deadline is not None and now >= self._session_deadline:
            return self._to_idle()
        return []

    def receive_data(
        self, data: bytes | bytearray | memoryview, now: float, baud: int | None = None
    ) -> list[Action]:
        """Octets from the line at ``now``. ``baud`` is the rate they were sent at, where the
        transport knows it (a simulated line does; a pty does not): at another rate than the
        port's, a UART reads only garbled characters, so they are dropped."""
        actions = self.tick(now)
        if self.state is PortState.BINARY:
            return actions
        if baud is not None and baud != self.baud:
            self._decoder.reset()
            return actions
        self._last_octet = now
        decoder = self._decoder
        for octet in bytes(data):
            # One octet at a time: a message handled may change how the next one decodes
            # (after the identification an ACK begins an option select).
            for message in decoder.feed(octet.to_bytes(1, "big")):
                actions += self._on_message(message, now)
        return actions

    def end_binary_mode(self) -> list[Action]:
        """Mode E is over (the HDLC link closed or timed out): back to 300 baud, idle."""
        return self._to_idle() if self.state is PortState.BINARY else []

    # -- the dialogue ----------------------------------------------------------------------

    def _on_message(self, message: Message, now: float) -> list[Action]:
        state = self.state
        if isinstance(message, Request):
            if state in (PortState.IDLE, PortState.IDENTIFIED):
                return self._sign_on(message, now)
            return []
        if state is PortState.IDENTIFIED and isinstance(message, OptionSelect):
            return self._option_select(message, now)
        if state in (PortState.PASSWORD, PortState.PROGRAMMING):
            return self._programming(message, now)
        return []

    def _sign_on(self, request: Request, now: float) -> list[Action]:
        if request.device_address not in ("", self.config.device_address):
            return self._to_idle()  # addressed to another meter on the line: silence
        self.state = PortState.IDENTIFIED
        self._decoder.expect_option_select = True
        return [self._send(self._identification, now, CHARACTER_TIMEOUT)]

    def _option_select(self, option: OptionSelect, now: float) -> list[Action]:
        rate = option.baud_rate
        if rate is None or rate > self._max_baud:
            return self._to_idle()
        control, mode = option.protocol_control, option.mode
        if mode is Mode.BINARY:
            if control is not ProtocolControl.HDLC or not self.config.mode_e:
                return self._to_idle()
            self._clear_session(PortState.BINARY)
            self.baud = rate
            return [EnterBinaryMode(rate)]
        if control is ProtocolControl.HDLC:
            return self._to_idle()
        actions: list[Action] = [SwitchBaudRate(rate)] if rate != self.baud else []
        self.baud = rate
        if mode is Mode.DATA_READOUT:
            readout = encode_readout(tuple(self._readout()))
            actions.append(Transmit(readout, self._reaction_time))
            return actions + self._to_idle()
        self.state = PortState.PASSWORD
        self._decoder.expect_option_select = False
        seed = self.config.password_seed or ""
        p0 = Command("P", "0", b"(" + seed.encode("ascii") + b")").encode()
        actions.append(self._send(p0, now, self.config.programming_timeout))
        return actions

    def _programming(self, message: Message, now: float) -> list[Action]:
        timeout = self.config.programming_timeout
        if isinstance(message, BadBcc):
            return [self._send_once(NegativeAcknowledge().encode(), now, timeout)]
        if isinstance(message, NegativeAcknowledge):
            return [self._send(self._last_sent, now, timeout)]
        if not isinstance(message, Command):
            return []
        name = message.name
        if name == "B0":
            return self._to_idle()
        if name == "P1":
            return self._password(message, now)
        if self.state is PortState.PASSWORD:
            return self._break()  # a programming command before the password
        if name == "R1":
            return [self._send(self._read_answer(message), now, timeout)]
        if name == "W1":
            return [self._send(self._write_answer(message), now, timeout)]
        return [self._send(_error_message("ERROR"), now, timeout)]

    def _password(self, command: Command, now: float) -> list[Action]:
        data = command.data or b""
        inside = data[1:-1] if data.startswith(b"(") and data.endswith(b")") else None
        password = inside.decode("ascii", "replace") if inside is not None else None
        if password is not None and self._check_password(password):
            self.wrong_passwords = 0
            self.state = PortState.PROGRAMMING
            ack = Acknowledge().encode()
            return [self._send(ack, now, self.config.programming_timeout)]
        self.wrong_passwords += 1
        if self.wrong_passwords >= PASSWORD_TRIES:
            self.wrong_passwords = 0
            self._on_lockout()
        return self._break()

    def _read_answer(self, command: Command) -> bytes:
        data_set = command.data_set()
        if data_set is None or data_set.unit is not None:
            return _error_message("ERROR")
        try:
            answer = self._read(data_set.address, data_set.value)
        except CommandRefused as refused:
            return _error_message(refused.error)
        return DataMessage(answer.encode()).encode()

    def _write_answer(self, command: Command) -> bytes:
        data_set = command.data_set()
        if data_set is None:
            return _error_message("ERROR")
        value = data_set.value if data_set.unit is None else f"{data_set.value}*{data_set.unit}"
        try:
            self._write(data_set.address, value)
        except CommandRefused as refused:
            return _error_message(refused.error)
        return Acknowledge().encode()

    # -- sending and the way back to idle --------------------------------------------------

    def _send(self, data: bytes, now: float, wait: float) -> Transmit:
        """Transmit ``data`` and remember it for a NAK."""
        self._last_sent = data
        return self._send_once(data, now, wait)

    def _send_once(self, data: bytes, now: float, wait: float) -> Transmit:
        """Transmit ``data``; the HHU then has ``wait`` seconds from its last character."""
        line_time = len(data) * _BITS_PER_CHARACTER / self.baud
        self._session_deadline = now + self._reaction_time + line_time + wait
        return Transmit(data, self._reaction_time)

    def _break(self) -> list[Action]:
        return [Transmit(BREAK.encode(), self._reaction_time), *self._to_idle()]

    def _to_idle(self) -> list[Action]:
        actions: list[Action] = [] if self.baud == INITIAL_BAUD else [SwitchBaudRate(INITIAL_BAUD)]
        self.baud = INITIAL_BAUD
        self._clear_session(PortState.IDLE)
        return actions

    def _clear_session(self, state: PortState) -> None:
        self.state = state
        self._session_deadline = None
        self._last_sent = b""
        self._decoder.reset()
        self._decoder.expect_option_select = False


def _error_message(error: str) -> bytes:
    """``STX (error) ETX BCC``; an error text that cannot be sent becomes ``ERROR``."""
    try:
        inside = DataSet("", error).encode() if 0 < len(error) <= 32 else None
    except ValueError:
        inside = None
    return DataMessage(inside or b"(ERROR)").encode()
