"""The module's wireless M-Bus radio in a running meter (seed 004 §3.5; docs/wmbus.md).

A telegram the radio received is handed to the collector (`models.wmbus_collector`): stored
in the circular buffer or counted and dropped; either way the collector's state is committed
before the caller learns the outcome (a refused commit raises `CommitError`).
"""

from __future__ import annotations

import logging

from metertwin.models.wmbus_collector import Reception, WmbusCollector, has_wmbus
from metertwin.runtime.session import Session

log = logging.getLogger(__name__)


def session_has_wmbus(session: Session) -> bool:
    return has_wmbus(session.model)


class WmbusRadio:
    """Receives telegrams for the collector of ``session``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def deliver(self, telegram: bytes, frame_format: str = "auto") -> Reception:
        """One telegram as received; its outcome once the collector's state is committed."""
        session = self.session
        reception = WmbusCollector(session.meter, session.model).receive(telegram, frame_format)
        session.commit()
        log.info("wM-Bus telegram %s: %s (%s)", telegram.hex(), reception.outcome, reception.detail)
        return reception
