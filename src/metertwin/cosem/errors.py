"""Refusals of the COSEM layer, each carrying the result code the protocol answers with.

The service layer turns them into the Data-Access-Result of a GET/SET or the Action-Result
of an ACTION; nothing else escapes from an object (STYLE.md, "Errors").
"""

from __future__ import annotations

from metertwin.codec.enums import ActionResult, DataAccessResult


class CosemError(Exception):
    """An access refused with ``result``; ``message`` is for logs, never the wire."""

    def __init__(self, result: DataAccessResult, message: str = "") -> None:
        self.result = result
        super().__init__(message or result.name.lower())

    @property
    def action_result(self) -> ActionResult:
        """The same refusal as an Action-Result (the codes coincide where both exist)."""
        try:
            return ActionResult(int(self.result))
        except ValueError:
            return ActionResult.OTHER_REASON


def undefined(what: str = "") -> CosemError:
    return CosemError(DataAccessResult.OBJECT_UNDEFINED, what)


def denied(what: str = "") -> CosemError:
    return CosemError(DataAccessResult.READ_WRITE_DENIED, what)


def type_unmatched(what: str = "") -> CosemError:
    return CosemError(DataAccessResult.TYPE_UNMATCHED, what)


def unavailable(what: str = "") -> CosemError:
    return CosemError(DataAccessResult.OBJECT_UNAVAILABLE, what)
