"""Our DLMS client through a meter's optical port: IEC 62056-21 mode E, then HDLC on the same
line (docs/hdlc.md "Our client", docs/optical.md).

:func:`open_mode_e` opens the line at 300 baud 7E1, signs on with ``/?!``, reads the
identification, answers ``ACK 2 Z 2`` (protocols.md; IEC 62056-21 Annex E) and switches the
line to Z 8N1 once the option select has left; the :class:`~metertwin.dlms.client.hdlc.
SerialLine` it returns carries HDLC from there (:class:`~metertwin.dlms.client.hdlc.
HdlcCarrier` connects with SNRM). A meter that offers no mode E, or stays silent, is a
:class:`DlmsConnectionError`.
"""

from __future__ import annotations

import termios
import time
from typing import Any

from metertwin.dlms.client.errors import DlmsConnectionError, DlmsTimeoutError
from metertwin.dlms.client.hdlc import SerialLine
from metertwin.protocols.iec62056_21_reader import ModeEOpener, ReadoutError

__all__ = ["open_mode_e"]

_SIGN_ON_BAUD = 300
_POLL_S = 0.05
_READ_SIZE = 4096
# On a pty the two ends share one set of terminal settings and the meter reads the rate the
# sender set (docs/optical.md): the option select must be read before the rate changes. A
# UART has sent it once tcdrain returns; the pause costs a real line nothing that matters.
_SWITCH_PAUSE_S = 0.1


def open_mode_e(device: str, max_baud: int | None, timeout: float, address: str = "") -> SerialLine:
    """The optical line on ``device`` in mode E at the meter's rate (at most ``max_baud``)."""
    import serial  # pyserial

    opener = ModeEOpener(address, max_baud)
    peer = f"{device} (optical, mode E)"
    try:
        port: Any = serial.Serial(device, _SIGN_ON_BAUD, timeout=_POLL_S)
    except (serial.SerialException, OSError, ValueError) as problem:
        raise DlmsConnectionError(f"cannot open {peer}: {problem}") from None
    try:
        _character_format(port, 7, serial.PARITY_EVEN)
        port.write(opener.sign_on())
        port.flush()
        deadline = time.monotonic() + timeout
        while opener.baud is None:
            if time.monotonic() > deadline:
                raise DlmsTimeoutError(f"{peer}: no identification within {timeout:g} s")
            data = port.read(_READ_SIZE)
            if not data:
                continue
            step = opener.receive(bytes(octet & 0x7F for octet in data))  # 7E1's parity
            if step.transmit:
                port.write(step.transmit)
                port.flush()
                time.sleep(_SWITCH_PAUSE_S)
        port.baudrate = opener.baud
        _character_format(port, 8, serial.PARITY_NONE)
        port.timeout = 0
    except ReadoutError as problem:
        port.close()
        raise DlmsConnectionError(f"{peer}: {problem}") from None
    except (serial.SerialException, OSError) as problem:
        port.close()
        raise DlmsConnectionError(f"{peer}: {problem}") from None
    except BaseException:
        port.close()
        raise
    return SerialLine(device, opener.baud, opened=port)


def _character_format(port: Any, bytesize: int, parity: str) -> None:
    """7E1 for IEC 62056-21, 8N1 for HDLC. A pty keeps no character format (its termios
    refuses the change, and it carries every octet whole anyway): it stays 8N1 there."""
    import serial  # pyserial

    try:
        port.apply_settings({"bytesize": bytesize, "parity": parity})
    except (serial.SerialException, OSError, ValueError, termios.error):
        port.apply_settings({"bytesize": 8, "parity": serial.PARITY_NONE})
