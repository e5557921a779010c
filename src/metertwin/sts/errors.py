"""Why a token is refused: the IEC 62055-41 rejection names and the codec's exceptions.

The codec itself can only detect Format and CRC problems (a token for another meter decrypts to
garbage and so fails the CRC). The other rejections depend on the meter's memory (TID store, key
expiry, registers) and are raised by the meter's token rules with `TokenRejected`.
"""

from __future__ import annotations

from enum import StrEnum


class Rejection(StrEnum):
    """IEC 62055-41 token rejection reasons (the display text itself is manufacturer-specific)."""

    FORMAT = "Format"
    """Not 20 decimal digits, or a number above 2^66 - 1."""
    CRC = "CRC"
    """The decrypted block fails the CRC: corrupted, mistyped, or for another meter/key."""
    OLD = "Old"
    """TID older than the oldest TID the meter remembers."""
    USED = "Used"
    """TID already remembered: the token was entered before."""
    KEY_EXPIRED = "KeyExpired"
    """TID beyond the decoder key's expiry number (KEN)."""
    DDTK = "DDTK"
    """A meter holding a default key (DDTK) refuses credit tokens."""
    OVERFLOW = "Overflow"
    """Accepting the credit would overflow the credit register."""
    KEY_TYPE = "KeyType"
    """The key type does not allow this token (or key change)."""
    RANGE = "Range"
    """A value in the token is outside the range the meter accepts."""
    FUNCTION = "Function"
    """The meter does not support this token class/subclass (e.g. a reserved one)."""


class TokenError(Exception):
    """Root of every token refusal; `rejection` says which IEC 62055-41 reason applies."""

    rejection: Rejection

    def __init__(self, rejection: Rejection, message: str) -> None:
        super().__init__(message)
        self.rejection = rejection


class TokenFormatError(TokenError):
    """The text is not a 20-digit token number (IEC 62055-41 "Format" rejection)."""

    def __init__(self, message: str) -> None:
        super().__init__(Rejection.FORMAT, message)


class TokenCrcError(TokenError):
    """The CRC does not match after decryption (IEC 62055-41 "CRC" rejection)."""

    def __init__(self, message: str) -> None:
        super().__init__(Rejection.CRC, message)


class TokenRejected(TokenError):
    """A refusal decided by the meter's token rules (Old, Used, KeyExpired, DDTK, ...)."""
