"""The HHU (reader) side of an IEC 62056-21 mode C data readout, sans-IO (docs/optical.md).

:class:`ModeCReader` is the counterpart of :class:`~metertwin.protocols.iec62056_21_meter.
OpticalPort`: :meth:`ModeCReader.sign_on` gives ``/?!`` (or ``/?address!``) to send at 300 baud
7E1; :meth:`ModeCReader.receive` takes what the line brings and returns a :class:`ReaderStep`:
octets to send, a baud rate to switch to once they have left, and at the end the readout.

- The identification ``/XXXZ...`` offers rate Z; the reader answers ``ACK 0 Z 0`` (normal
  protocol, that rate, or ``max_baud`` if lower, data readout) and switches after sending it,
  as the meter does after receiving it.
- The data message ``STX ... ! CR LF ETX BCC`` is the readout. Mode C has no repeat of a
  readout (the meter is back at 300 baud, idle, once it is sent), so after a wrong BCC the
  reader signs on again at 300 baud, ``bcc_retries`` times, then :class:`ReadoutError`.
- An identification that offers no mode C rate (mode A or B) is a :class:`ReadoutError`.

Timeouts are the transport's: it knows how long a line may stay silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from metertwin.protocols import FramingError
from metertwin.protocols.iec62056_21 import (
    BAUD_RATES_MODE_C,
    BadBcc,
    DataMessage,
    DataSet,
    Identification,
    MessageDecoder,
    Mode,
    OptionSelect,
    ProtocolControl,
    Request,
)

_SIGN_ON_BAUD = 300

__all__ = ["ModeCReader", "ModeEOpener", "ReaderState", "ReaderStep", "Readout", "ReadoutError"]


class ReadoutError(FramingError):
    """The meter's answers do not make a mode C readout."""


class ReaderState(Enum):
    IDLE = "not signed on"
    IDENTIFYING = "waiting for the identification"
    READING = "waiting for the data message"
    DONE = "readout complete"


@dataclass(frozen=True, slots=True)
class Readout:
    """A readout: the meter's identification and its data block (``! CR LF`` excluded)."""

    identification: Identification
    data: bytes
    baud: int

    @property
    def lines(self) -> list[str]:
        """The data block's lines as the meter sent them."""
        return [line for line in self.data.decode("ascii", "replace").split("\r\n") if line]

    def data_sets(self) -> list[DataSet] | None:
        return DataMessage(self.data + b"!\r\n").data_sets()


@dataclass(frozen=True, slots=True)
class ReaderStep:
    """Switch the line to ``baud_before`` (None: stay), send ``transmit``, then switch it to
    ``switch_baud`` (None: stay)."""

    transmit: bytes = b""
    switch_baud: int | None = None
    readout: Readout | None = None
    baud_before: int | None = None


class ModeCReader:
    """One mode C readout (see the module docstring)."""

    def __init__(self, address: str = "", max_baud: int | None = None, bcc_retries: int = 2):
        self.request = Request(address)  # ValueError for an address the protocol cannot carry
        self.max_baud = max_baud
        self.bcc_retries = bcc_retries
        self.state = ReaderState.IDLE
        self.identification: Identification | None = None
        self.baud = _SIGN_ON_BAUD
        self._decoder = MessageDecoder()
        self._bad_bcc = 0

    def sign_on(self) -> bytes:
        self.state = ReaderState.IDENTIFYING
        return self.request.encode()

    def receive(self, data: bytes) -> ReaderStep:
        """Octets from the meter; a :class:`ReadoutError` when they cannot make a readout."""
        step = ReaderStep()
        for message in self._decoder.feed(data):
            if self.state is ReaderState.IDENTIFYING and isinstance(message, Identification):
                step = self._on_identification(message)
            elif self.state is ReaderState.READING and isinstance(message, DataMessage):
                step = self._on_data(message)
            elif self.state is ReaderState.READING and isinstance(message, BadBcc):
                self._bad_bcc += 1
                if self._bad_bcc > self.bcc_retries:
                    raise ReadoutError(
                        f"the readout arrived with a wrong BCC {self._bad_bcc} times"
                    )
                self.state = ReaderState.IDENTIFYING
                self.baud = _SIGN_ON_BAUD
                self._decoder = MessageDecoder()
                step = ReaderStep(self.request.encode(), baud_before=_SIGN_ON_BAUD)
        return step

    def _on_identification(self, identification: Identification) -> ReaderStep:
        offered = BAUD_RATES_MODE_C.get(identification.baud_char)
        if offered is None:
            raise ReadoutError(
                f"the meter /{identification.manufacturer}{identification.baud_char}"
                f"{identification.identification} offers no mode C baud rate "
                f"({identification.baud_char!r})"
            )
        offered, char = _at_most(offered, identification.baud_char, self.max_baud)
        self.identification = identification
        self.state = ReaderState.READING
        self.baud = offered
        option = OptionSelect(ProtocolControl.NORMAL, char, Mode.DATA_READOUT)
        return ReaderStep(option.encode(), switch_baud=offered)

    def _on_data(self, message: DataMessage) -> ReaderStep:
        if not message.is_readout:
            raise ReadoutError("the data message does not end with the readout end '!'")
        assert self.identification is not None
        self.state = ReaderState.DONE
        return ReaderStep(readout=Readout(self.identification, message.data[:-3], self.baud))


class ModeEOpener:
    """The HHU's opening of mode E (protocols.md; IEC 62056-21 Annex E): sign on at 300 baud,
    read the identification, answer ``ACK 2 Z 2`` (HDLC, rate Z, binary mode) and switch to Z
    8N1 once it has left; the line then carries HDLC. An identification without ``\\2`` or
    without a mode C/E rate is a :class:`ReadoutError`: the meter cannot do mode E."""

    def __init__(self, address: str = "", max_baud: int | None = None) -> None:
        self.request = Request(address)  # ValueError for an address the protocol cannot carry
        self.max_baud = max_baud
        self.identification: Identification | None = None
        self.baud: int | None = None  # the rate chosen, once the option select is out
        self._decoder = MessageDecoder()

    def sign_on(self) -> bytes:
        return self.request.encode()

    def receive(self, data: bytes) -> ReaderStep:
        """Octets from the meter: the option select to send and the rate to switch to after
        it, once the identification has come; nothing before."""
        for message in self._decoder.feed(data):
            if self.baud is None and isinstance(message, Identification):
                return self._choose(message)
        return ReaderStep()

    def _choose(self, identification: Identification) -> ReaderStep:
        name = (
            f"/{identification.manufacturer}{identification.baud_char}"
            f"{identification.identification}"
        )
        if not identification.mode_e_capable:
            raise ReadoutError(f"the meter {name} does not offer mode E (no \\2)")
        offered = BAUD_RATES_MODE_C.get(identification.baud_char)
        if offered is None:
            raise ReadoutError(f"the meter {name} offers no mode E baud rate")
        offered, char = _at_most(offered, identification.baud_char, self.max_baud)
        self.identification, self.baud = identification, offered
        option = OptionSelect(ProtocolControl.HDLC, char, Mode.BINARY)
        return ReaderStep(option.encode(), switch_baud=offered)


def _at_most(offered: int, char: str, max_baud: int | None) -> tuple[int, str]:
    """The rate offered, or the highest mode C/E rate at or below ``max_baud`` (300 at least:
    every meter speaks the sign-on rate)."""
    if max_baud is None or offered <= max_baud:
        return offered, char
    slower = [(rate, c) for c, rate in BAUD_RATES_MODE_C.items() if rate <= max_baud]
    return max(slower, default=(_SIGN_ON_BAUD, "0"))
