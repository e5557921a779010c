"""The module's SMS modem in a running meter (seed 004 §4.2; docs/sms.md).

An SMS is executed on the meter by `protocols.mcp_sms` over `models.mcp_module`; a CNF that
changed a setting is committed before the reply exists (a refused commit raises
`CommitError` and the reply is never sent). RESET answers ``OK`` and restarts the module
about 30 s of meter time later: its DLMS connections are dropped (the ``on_restart``
callbacks) and its timers count from the restart as from a power-up (``started_ms``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from metertwin.models.mcp_module import SMS_FUNCTION, McpModule
from metertwin.protocols.mcp_sms import SmsOutcome, handle
from metertwin.runtime.session import Session

log = logging.getLogger(__name__)

RESET_DELAY_MS = 30_000  # seed 004: "The command execution takes about 30 s"


def has_sms(session: Session) -> bool:
    return SMS_FUNCTION in session.model.spec.functions


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
        outcome = handle(text, McpModule(session.meter, session.model, self.state), coding, udh)
        if outcome.configured:
            session.commit()
        if outcome.reset and self.reset_due_ms is None:
            self.reset_due_ms = session.meter.now_ms + RESET_DELAY_MS
        log.info("SMS from %s: %r -> %r", sender or "?", text, outcome.reply)
        return outcome

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
