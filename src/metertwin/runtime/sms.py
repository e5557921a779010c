"""The meter's SMS modem in a running meter (seed 004 §4.2, seed 003; docs/sms.md).

On a MeterCom PRO (``sms``) an SMS is executed on the meter by `protocols.mcp_sms` over
`models.mcp_module`; a CNF that changed a setting is committed before the reply exists (a
refused commit raises `CommitError` and the reply is never sent). RESET answers ``OK`` and
restarts the module about 30 s of meter time later: its DLMS connections are dropped (the
``on_restart`` callbacks) and its timers count from the restart as from a power-up
(``started_ms``).

On a meter with ``sms-token`` (Magno 22 "STS/CTS Token and SMS", through its cellular WAN
module) an SMS that is not an ``MCP`` command is a token: entered by `Meter.enter_token`, the
keypad's and the token gateway's path (the same checks, keypad lock and events), committed,
and only then answered with the result (`token_reply`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from metertwin.meter.token_entry import TokenResult
from metertwin.models.mcp_module import SMS_FUNCTION, McpModule
from metertwin.protocols.mcp_sms import DEVICE_NAME, MAX_SEPTETS, SmsOutcome, handle
from metertwin.runtime.session import Session

log = logging.getLogger(__name__)

RESET_DELAY_MS = 30_000  # seed 004: "The command execution takes about 30 s"
SMS_TOKEN_FUNCTION = "sms-token"
TOKEN_GROUPING = str.maketrans("", "", " -\n\r\t")
"""What a sender may put between a token's digits (a receipt prints 4-4-4-4-4)."""
CONCATENATED = "Reject: a part of a concatenated SMS; send the 20 digits in one SMS"


def has_sms(session: Session) -> bool:
    return not {SMS_FUNCTION, SMS_TOKEN_FUNCTION}.isdisjoint(session.model.spec.functions)


def token_reply(result: TokenResult, credit: str | None) -> str:
    """The reply SMS to a token (docs/sms.md): ``Accept: <what it did>[; credit <left>]``, or
    ``Reject: <reason>: <why>`` with the IEC 62055-41 reason (Format, CRC, Old, Used,
    KeyExpired, ...) as the token entry names it, or ``Reject: keypad locked until ...``;
    cut to one SMS."""
    if result.accepted:
        text = f"Accept: {result.message}" + ("" if credit is None else f"; credit {credit}")
    else:
        text = f"Reject: {result.message}"
    return text if len(text) <= MAX_SEPTETS else text[: MAX_SEPTETS - 3] + "..."


class SmsModem:
    """Receives SMS for the module of ``session``; ``state`` tells STAT (docs/sms.md)."""

    def __init__(self, session: Session, state: Callable[[], str] = lambda: "LISTEN") -> None:
        self.session = session
        self.state = state
        self.reset_due_ms: int | None = None
        self.restarts = 0
        self.started_ms = session.meter.now_ms  # the module's power-up, or its last restart
        self.on_restart: list[Callable[[], None]] = []

    def deliver(
        self, text: str, sender: str = "", coding: str = "gsm7", udh: bytes = b""
    ) -> SmsOutcome:
        """Execute one SMS from ``sender``: its reply, after any change is committed."""
        session = self.session
        functions = session.model.spec.functions
        if SMS_TOKEN_FUNCTION in functions and not (
            SMS_FUNCTION in functions and text.lstrip().startswith(DEVICE_NAME)
        ):
            return self._token(text, sender, udh)
        outcome = handle(text, McpModule(session.meter, session.model, self.state), coding, udh)
        if outcome.configured:
            session.commit()
        if outcome.reset and self.reset_due_ms is None:
            self.reset_due_ms = session.meter.now_ms + RESET_DELAY_MS
        log.info("SMS from %s: %r -> %r", sender or "?", text, outcome.reply)
        return outcome

    def _token(self, text: str, sender: str, udh: bytes) -> SmsOutcome:
        """A token SMS, entered as from the keypad; committed before the reply (every
        entry is: the TID, the credit, the keypad lock and the events)."""
        if udh:  # nothing is entered: the rest of the token is in another part
            return SmsOutcome(CONCATENATED)
        session = self.session
        result = session.meter.enter_token(text.translate(TOKEN_GROUPING))
        session.commit()
        wallet = session.meter.wallet
        credit = None
        if result.accepted and wallet is not None:
            credit = session.meter.format_credit(wallet.available())
        reply = token_reply(result, credit)
        log.info("token SMS from %s: %r -> %r", sender or "?", text, reply)
        return SmsOutcome(reply, configured=True)

    def tick(self) -> bool:
        """Restart the module if a RESET is due at the meter's present instant."""
        now = self.session.meter.now_ms
        if self.reset_due_ms is None or now < self.reset_due_ms:
            return False
        self.reset_due_ms = None
        self.restarts += 1
        self.started_ms = now
        log.info("module restarted (SMS RESET)")
        for restart in self.on_restart:
            restart()
        return True
