"""DLMS security suites 0, 1 and 2 (Green Book 9.2.3.7, IEC 62056-5-3 Table "security suites").

- suite 0: AES-GCM-128, AES-128 key wrap; no public-key algorithms;
- suite 1: ECDH-ECDSA-AES-GCM-128-SHA-256: curve P-256;
- suite 2: ECDH-ECDSA-AES-GCM-256-SHA-384: curve P-384, AES-256 keys.

The suite number travels in the low nibble of every security control byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from metertwin.security.errors import UnknownSuiteError


@dataclass(frozen=True)
class SecuritySuite:
    """What a suite fixes: the AES key length, and for suites 1 and 2 the curve and hash."""

    number: int
    name: str
    key_length: int
    curve: ec.EllipticCurve | None
    hash_algorithm: hashes.HashAlgorithm | None

    @property
    def signature_length(self) -> int:
        """Length of a raw ``r || s`` ECDSA signature (0 for suite 0, which has none)."""
        return 0 if self.curve is None else 2 * self.coordinate_length

    @property
    def coordinate_length(self) -> int:
        """Bytes of one curve coordinate or scalar (32 for P-256, 48 for P-384)."""
        return 0 if self.curve is None else (self.curve.key_size + 7) // 8


SUITE_0 = SecuritySuite(0, "AES-GCM-128", 16, None, None)
SUITE_1 = SecuritySuite(1, "ECDH-ECDSA-AES-GCM-128-SHA-256", 16, ec.SECP256R1(), hashes.SHA256())
SUITE_2 = SecuritySuite(2, "ECDH-ECDSA-AES-GCM-256-SHA-384", 32, ec.SECP384R1(), hashes.SHA384())

SUITES: dict[int, SecuritySuite] = {s.number: s for s in (SUITE_0, SUITE_1, SUITE_2)}


def security_suite(number: int) -> SecuritySuite:
    """The suite with this number; any other number raises UnknownSuiteError."""
    try:
        return SUITES[number]
    except KeyError:
        raise UnknownSuiteError(number) from None
