"""The security layer's one exception root, with a typed reason for each refusal.

The service layer maps these to its standard answers (exception-response deciphering-error or
invocation-counter-error, an AARE authentication-failure, a key_transfer refusal); the reason says
which check failed, for the security log.
"""

from __future__ import annotations

from enum import StrEnum


class SecurityError(Exception):
    """Root of every refusal raised by ``metertwin.security``."""


class UnknownSuiteError(SecurityError, ValueError):
    """A security suite number other than 0, 1 or 2."""

    def __init__(self, number: int) -> None:
        super().__init__(f"unknown security suite {number} (known: 0, 1, 2)")
        self.number = number


class DecipheringReason(StrEnum):
    """Why a protected APDU was refused (all map to exception-response deciphering-error)."""

    TRUNCATED = "truncated"
    WRONG_TAG = "wrong tag"
    WRONG_LENGTH = "wrong length"
    UNKNOWN_SUITE = "unknown suite"
    SUITE_MISMATCH = "suite mismatch"
    NO_PROTECTION = "no protection"
    BELOW_POLICY = "below the required protection"
    COMPRESSION = "compression not supported"
    MISSING_KEY = "missing key"
    KEY_LENGTH = "key length"
    SYSTEM_TITLE = "system title"
    AUTHENTICATION = "authentication tag"
    KEY_INFO = "key info"
    SIGNATURE = "signature"


class DecipheringError(SecurityError):
    """A ciphered APDU that cannot be opened: malformed, unknown, or failing its tag."""

    def __init__(self, reason: DecipheringReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class AuthenticationError(SecurityError):
    """An HLS pass 3 or pass 4 reply that does not prove knowledge of the secret or key."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class KeyWrapError(SecurityError):
    """A wrapped key (key_transfer) that is truncated, malformed or fails its integrity check."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ReplayError(SecurityError):
    """A received invocation counter not above the last one accepted for its key."""

    def __init__(self, received: int, last_accepted: int) -> None:
        super().__init__(
            f"invocation counter {received} is not above the last accepted {last_accepted}"
        )
        self.received = received
        self.last_accepted = last_accepted


class CounterExhaustedError(SecurityError):
    """The 32-bit send counter is used up: the key must be changed before sending again."""


class KeyAgreementError(SecurityError):
    """key_agreement data or an agreed-key key-info that is malformed, not a point on the
    suite's curve, or whose ephemeral key is not signed by the peer's signing key
    (``bad_signature``)."""

    def __init__(self, detail: str, *, bad_signature: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.bad_signature = bad_signature


class CertificateError(SecurityError):
    """A certificate, or a request about one (class 64 import/export/remove), that is refused."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
