"""DLMS/COSEM application layer, sans-IO: A-XDR data, COSEM date-time, ACSE and xDLMS APDUs.

- ``axdr``: the ``Data`` model and its A-XDR codec (dlms.md 1).
- ``cosem_datetime``: date, time and date-time with wildcards, deviation and status (1.3).
- ``apdu``: ``decode_apdu`` and every APDU class (``acse``, ``xdlms``, ``reports``).
- ``enums``: result codes, diagnostics, conformance, context and mechanism names.

Every decoder raises only :class:`DlmsDecodeError` subclasses on bad input.
"""

from metertwin.dlms.errors import (
    ApduError,
    AxdrError,
    CosemDateTimeError,
    DlmsDecodeError,
    UnsupportedApduError,
)

__all__ = [
    "ApduError",
    "AxdrError",
    "CosemDateTimeError",
    "DlmsDecodeError",
    "UnsupportedApduError",
]
