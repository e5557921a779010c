"""SMS configuration of the MeterCom PRO module (seed 004 §4.2), sans-IO.

A received SMS is text in; the reply SMS is text out. ``MCP <command> PWD=<password>
[PARAM=value ...]``: commands INFO, CNF and RESET; CNF sets APN, DUSR, DPWD, IP, PORT, NPWD
and RINT; a value containing a space is closed in brackets, ``APN=(my apn)``; a parameter may
end with ``;`` as in the manual's own CNF example. Only one 7-bit SMS is read: GSM 03.38
characters (3GPP TS 23.038 §6.2.1, the default alphabet and its extension table), at most 160
septets, no user data header, no UCS-2. Anything else gets one of the manual's six error
replies, word for word, and changes nothing. What the module *is* (its password, settings,
status) comes in through :class:`ModuleAccess`, so this file knows no meter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple, Protocol

DEVICE_NAME = "MCP"
MAX_SEPTETS = 160
OK = "OK"


class SmsError(Enum):
    """The manual's error replies (seed 004 §4.2 "Error Replies"), value = the reply text."""

    UNKNOWN_COMMAND = "Unknown command"
    PASSWORD_MISSING = "Password missing"
    PASSWORD_INCORRECT = "Password incorrect"
    TOO_MANY_PARAMETERS = "Too many parameters"
    UNKNOWN_PARAMETER = "Unknown parameter"
    PARAMETER_VALUE_INCORRECT = "Parameter value incorrect"


class Command(Enum):
    INFO = "INFO"
    CNF = "CNF"
    RESET = "RESET"


class SmsRefused(Exception):
    def __init__(self, error: SmsError) -> None:
        super().__init__(error.value)
        self.error = error


# 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet (position 0x1B is the escape to the
# extension table, not a character) and the extension table's characters (two septets each).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\x0c^{}\\[~]|€"
_SEPTETS = {c: 1 for c in GSM_BASIC if c != "\x1b"} | {c: 2 for c in GSM_EXTENSION}
_SEPARATORS = " \n\r"


_NOT_GSM = re.compile("[^" + re.escape("".join(_SEPTETS)) + "]")
_EXTENDED = re.compile("[" + re.escape(GSM_EXTENSION) + "]")


def septets(text: str) -> int | None:
    """How many septets ``text`` takes in one GSM 7-bit SMS; None if a character is not in
    GSM 03.38 (a phone would send it as UCS-2)."""
    if _NOT_GSM.search(text):
        return None
    return len(text) + len(_EXTENDED.findall(text))


# -- the parameters of CNF, in the order the reply echoes them ---------------------------

PARAMETERS = ("APN", "DUSR", "DPWD", "IP", "PORT", "NPWD", "RINT")
ECHOED = ("APN", "DUSR", "DPWD", "IP", "PORT", "RINT")  # the manual's reply: no NPWD
APN_MAX = 50  # metertwin's limits: with them the CNF echo always fits one SMS
CREDENTIAL_MAX = 24  # DUSR, DPWD
PASSWORD_MAX = 64  # NPWD: an LLS secret is 1..64 octets
RINT_MAX = 24  # seed 004: 1-24 hours, 0 disabled


_PRINTABLE = re.compile("[ -~]*")


def _printable(value: str, low: int, high: int) -> bool:
    return low <= len(value) <= high and _PRINTABLE.fullmatch(value) is not None


def _number(value: str, low: int, high: int) -> bool:
    return 0 < len(value) <= 5 and value.isascii() and value.isdigit() and low <= int(value) <= high


_DOTTED_QUAD = re.compile(r"(0|[1-9][0-9]{0,2})(?:\.(0|[1-9][0-9]{0,2})){3}")


def _ipv4(value: str) -> bool:
    """A direct IPv4 address (seed 004: "The domain name cannot be used"), not 0.0.0.0."""
    if _DOTTED_QUAD.fullmatch(value) is None:
        return False
    octets = [int(part) for part in value.split(".")]
    return all(octet <= 255 for octet in octets) and any(octets)


def valid_value(name: str, value: str) -> bool:
    """Whether ``value`` is within the limits of parameter ``name`` (docs/sms.md)."""
    if name == "APN":
        return _printable(value, 1, APN_MAX)
    if name in ("DUSR", "DPWD"):
        return _printable(value, 0, CREDENTIAL_MAX)
    if name == "NPWD":
        return _printable(value, 1, PASSWORD_MAX)
    if name == "IP":
        return _ipv4(value)
    if name == "PORT":
        return _number(value, 1, 65535)
    if name == "RINT":
        return _number(value, 0, RINT_MAX)
    return False


# -- parsing ------------------------------------------------------------------------------


class _Token(NamedTuple):
    name: str
    value: str | None  # None: no '=' in the token
    well_formed: bool = True  # False: an unclosed bracket, or text glued after one


# One part: a name, then optionally ``=`` and a value, plain (to the next separator) or in
# brackets (to the closing one; text glued after it makes the part malformed; without one,
# the rest of the SMS is the value).
_TOKEN = re.compile(
    r"[ \n\r]*([^ \n\r=]*)(?:(=)(?:(\()([^)]*)(?:(\))([^ \n\r]*))?|([^ \n\r]*)))?"
)  # name, '=', '(', bracketed value, ')', what follows it, plain value


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for name, eq, opened, bracketed, closed, tail, plain in _TOKEN.findall(text):
        if not eq:
            if name:
                tokens.append(_Token(name, None))
        elif opened:
            tokens.append(_Token(name, bracketed, bool(closed) and tail in ("", ";")))
        else:
            tokens.append(_Token(name, plain.removesuffix(";")))
    return tokens


@dataclass(frozen=True)
class SmsCommand:
    """A well-formed command SMS: its command, password and (CNF) settings in the order
    given; values as written (unbracketed)."""

    command: Command
    password: str
    settings: tuple[tuple[str, str], ...] = ()


def parse(text: str, coding: str = "gsm7", udh: bytes = b"") -> SmsCommand:
    """The command in a received SMS, or :class:`SmsRefused` with the manual's error. The
    password is not checked here (the module knows it): :func:`handle` does, before the
    parameters, so that nothing about them is told to who does not know it."""
    command, password, others = _head(text, coding, udh)
    return SmsCommand(command, password, _settings(command, others))


def _head(text: str, coding: str, udh: bytes) -> tuple[Command, str, list[_Token]]:
    """The command, the password and the other parameters' tokens."""
    if coding != "gsm7" or udh:
        raise SmsRefused(SmsError.UNKNOWN_COMMAND)  # UCS-2, 8-bit or a concatenated part
    length = septets(text)
    if length is None or length > MAX_SEPTETS:
        raise SmsRefused(SmsError.UNKNOWN_COMMAND)
    tokens = _tokens(text)
    if len(tokens) < 2 or tokens[0] != _Token(DEVICE_NAME, None) or tokens[1].value is not None:
        raise SmsRefused(SmsError.UNKNOWN_COMMAND)
    try:
        command = Command(tokens[1].name)
    except ValueError:
        raise SmsRefused(SmsError.UNKNOWN_COMMAND) from None
    rest = tokens[2:]
    passwords = [t for t in rest if t.name == "PWD"]
    if not passwords or not passwords[0].value or not passwords[0].well_formed:
        raise SmsRefused(SmsError.PASSWORD_MISSING)
    return command, passwords[0].value, [t for t in rest if t is not passwords[0]]


def _settings(command: Command, tokens: list[_Token]) -> tuple[tuple[str, str], ...]:
    """CNF's settings: unknown names first, then repeats, then values out of their limits."""
    if command is not Command.CNF:
        if tokens:
            raise SmsRefused(SmsError.TOO_MANY_PARAMETERS)
        return ()
    if any(t.value is None or t.name not in (*PARAMETERS, "PWD") for t in tokens):
        raise SmsRefused(SmsError.UNKNOWN_PARAMETER)
    names = [t.name for t in tokens]
    if "PWD" in names or len(set(names)) != len(names):
        raise SmsRefused(SmsError.TOO_MANY_PARAMETERS)
    settings = []
    for token in tokens:
        assert token.value is not None
        if not token.well_formed or not valid_value(token.name, token.value):
            raise SmsRefused(SmsError.PARAMETER_VALUE_INCORRECT)
        settings.append((token.name, token.value))
    return tuple(settings)


def _field(name: str, value: str) -> str:
    """``NAME=value``, the value in brackets where it would not read back otherwise."""
    if " " in value or value.startswith("(") or value.endswith(";"):
        return f"{name}=({value})"
    return f"{name}={value}"


def render(command: SmsCommand) -> str:
    """The SMS text of ``command`` (what a head-end or a person sends)."""
    parts = [DEVICE_NAME, command.command.value, _field("PWD", command.password)]
    parts += [_field(name, value) for name, value in command.settings]
    return " ".join(parts)


# -- replies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleInfo:
    """What INFO reports (seed 004 §4.2 "Information SMS")."""

    meter_id: str  # EM_ID: the e-power meter's ID
    serial: str  # SN: the module's serial, as printed (50-1008-0004)
    signal_dbm: int | None  # SIG: None when the modem reports no level
    ip_address: str  # LIP: the module's address in the mobile network
    state: str  # STAT: LISTEN, GSM, OPTO or 485
    technology: str  # TECH: GPRS or UMTS


def info_reply(info: ModuleInfo) -> str:
    signal = "?" if info.signal_dbm is None else str(info.signal_dbm)
    return (
        f"EM_ID={info.meter_id} SN={info.serial} SIG={signal}dBm LIP={info.ip_address}"
        f" STAT={info.state} TECH={info.technology}"
    )


def settings_reply(settings: Mapping[str, str]) -> str:
    """The CNF echo: the settings now in force, as the manual prints them."""
    return " ".join(_field(name, settings.get(name, "")) for name in ECHOED)


class ModuleAccess(Protocol):
    """The module an SMS acts on (bound to a meter in `metertwin.models.mcp_module`)."""

    def password_matches(self, password: str) -> bool: ...

    def configure(self, settings: Mapping[str, str]) -> None:
        """Put every setting in force (all were validated)."""

    def settings(self) -> dict[str, str]:
        """The CNF parameters now in force, by name (NPWD not among them)."""

    def info(self) -> ModuleInfo: ...


@dataclass(frozen=True)
class SmsOutcome:
    """The reply SMS and what the module must do: keep what changed (commit before the
    reply is sent), restart after it."""

    reply: str
    configured: bool = False
    reset: bool = False
    error: SmsError | None = None


def handle(text: str, module: ModuleAccess, coding: str = "gsm7", udh: bytes = b"") -> SmsOutcome:
    """Execute one received SMS on ``module``: the reply, and what the caller must do."""
    try:
        name, password, others = _head(text, coding, udh)
        if not module.password_matches(password):
            raise SmsRefused(SmsError.PASSWORD_INCORRECT)
        command = SmsCommand(name, password, _settings(name, others))
    except SmsRefused as refused:
        return SmsOutcome(refused.error.value, error=refused.error)
    if command.command is Command.INFO:
        return SmsOutcome(info_reply(module.info()))
    if command.command is Command.RESET:
        return SmsOutcome(OK, reset=True)
    module.configure(dict(command.settings))
    return SmsOutcome(settings_reply(module.settings()), configured=bool(command.settings))
