"""The header that general-ciphering (0xDD) and general-signing (0xDF) share (Green Book
9.2.7.2.4, xDLMS ASN.1 ``General-Ciphering`` / ``General-Signing``).

Five A-XDR octet-strings, each its length then its bytes:

    transaction-id | originator-system-title | recipient-system-title | date-time |
    other-information

The originator's system title is 8 bytes; the recipient's is 8 bytes or empty (broadcast); the
date-time is empty or a 12-byte COSEM date-time; transaction-id and other-information are free.
"""

from __future__ import annotations

from dataclasses import dataclass

from metertwin.security.ciphering import SYSTEM_TITLE_LENGTH, ApduReader, encode_length
from metertwin.security.errors import DecipheringError, DecipheringReason

DATE_TIME_LENGTH = 12


def encode_octet_string(value: bytes) -> bytes:
    """A-XDR octet-string: length, then the bytes."""
    return encode_length(len(value)) + value


@dataclass(frozen=True)
class GeneralHeader:
    """Who sends to whom, when, in which transaction: the leading fields of DD and DF."""

    transaction_id: bytes
    originator_system_title: bytes
    recipient_system_title: bytes = b""
    date_time: bytes = b""
    other_information: bytes = b""

    def __post_init__(self) -> None:
        problem = _field_problem(
            self.originator_system_title, self.recipient_system_title, self.date_time
        )
        if problem:
            raise ValueError(problem)

    def encode(self) -> bytes:
        return b"".join(
            encode_octet_string(field)
            for field in (
                self.transaction_id,
                self.originator_system_title,
                self.recipient_system_title,
                self.date_time,
                self.other_information,
            )
        )

    @classmethod
    def read(cls, reader: ApduReader) -> GeneralHeader:
        """The five fields from received bytes; DecipheringError if any is malformed."""
        transaction_id, originator, recipient, date_time, other_information = (
            reader.octet_string(name) for name in _FIELD_NAMES
        )
        problem = _field_problem(originator, recipient, date_time)
        if problem:
            reason = (
                DecipheringReason.SYSTEM_TITLE
                if "system title" in problem
                else DecipheringReason.WRONG_LENGTH
            )
            raise DecipheringError(reason, problem)
        return cls(transaction_id, originator, recipient, date_time, other_information)

    def check_parties(
        self, *, originator_system_title: bytes | None, recipient_system_title: bytes | None
    ) -> None:
        """Refuse an APDU from another sender than expected, or addressed to someone else (an
        empty recipient is a broadcast, addressed to all)."""
        if (
            originator_system_title is not None
            and self.originator_system_title != originator_system_title
        ):
            raise DecipheringError(
                DecipheringReason.SYSTEM_TITLE,
                f"originator {self.originator_system_title.hex().upper()} is not the peer",
            )
        if (
            recipient_system_title is not None
            and self.recipient_system_title
            and self.recipient_system_title != recipient_system_title
        ):
            raise DecipheringError(
                DecipheringReason.SYSTEM_TITLE,
                f"addressed to {self.recipient_system_title.hex().upper()}, not to us",
            )


_FIELD_NAMES = (
    "transaction-id",
    "originator-system-title",
    "recipient-system-title",
    "date-time",
    "other-information",
)


def _field_problem(originator: bytes, recipient: bytes, date_time: bytes) -> str:
    if len(originator) != SYSTEM_TITLE_LENGTH:
        return f"the originator system title is 8 bytes, not {len(originator)}"
    if len(recipient) not in (0, SYSTEM_TITLE_LENGTH):
        return f"the recipient system title is 8 bytes or empty, not {len(recipient)}"
    if len(date_time) not in (0, DATE_TIME_LENGTH):
        return f"a date-time is 12 bytes or empty, not {len(date_time)}"
    return ""
