"""The DLMS layer's exception family.

Every parser in ``metertwin.dlms`` raises only subclasses of :class:`DlmsDecodeError` on bad
input, so the server can turn any malformed request into an exception-response or an abort
(architecture principle 7) with a single ``except``.
"""

from __future__ import annotations

__all__ = [
    "ApduError",
    "AxdrError",
    "CosemDateTimeError",
    "DlmsDecodeError",
    "UnsupportedApduError",
]


class DlmsDecodeError(Exception):
    """Bytes that are not a well-formed DLMS encoding."""


class AxdrError(DlmsDecodeError):
    """Malformed A-XDR data (dlms.md 1): bad tag, length, truncation, nesting or value."""


class CosemDateTimeError(AxdrError, ValueError):
    """Date, time or date-time bytes with a field out of its range (dlms.md 1.3).

    Also a :class:`ValueError`, like every other "this is no valid date-time" (30 February,
    a year Python cannot hold), so a caller that catches ValueError cannot miss it.
    """


class ApduError(DlmsDecodeError):
    """A malformed xDLMS or ACSE APDU (dlms.md 2, 3)."""


class UnsupportedApduError(ApduError):
    """A well-framed APDU this layer does not implement (unknown tag or CHOICE).

    Kept apart from :class:`ApduError` because the server answers it differently: an
    exception-response ``service-unknown`` rather than "malformed" (dlms.md 4).
    """

    def __init__(self, tag: int, choice: int | None = None) -> None:
        self.tag = tag
        self.choice = choice
        where = f"APDU tag 0x{tag:02X}"
        if choice is not None:
            where += f" choice {choice}"
        super().__init__(f"unsupported {where}")
