"""What this DLMS/COSEM server implements, as the facts both it and the device models state.

The server negotiates with these; the models show them in each Association LN object
(xDLMS_context_info) before any association is open. Keeping them here, not in the server,
lets the models describe the server without depending on it.
"""

from __future__ import annotations

from metertwin.codec.enums import Conformance

__all__ = [
    "DEFAULT_MAX_RECEIVE_PDU_SIZE",
    "DLMS_VERSION",
    "IMPLEMENTED_CONFORMANCE",
    "MIN_PDU_SIZE",
    "VAA_NAME_LN",
]

DLMS_VERSION = 6
MIN_PDU_SIZE = 12
"""The smallest max receive PDU size accepted (a smaller one: initiate pdu-size-too-short)."""
DEFAULT_MAX_RECEIVE_PDU_SIZE = 1024
"""What the server announces it can receive unless configured otherwise."""
VAA_NAME_LN = 0x0007

IMPLEMENTED_CONFORMANCE = (
    Conformance.GET
    | Conformance.SET
    | Conformance.ACTION
    | Conformance.SELECTIVE_ACCESS
    | Conformance.MULTIPLE_REFERENCES
    | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
    | Conformance.BLOCK_TRANSFER_WITH_SET_OR_WRITE
    | Conformance.BLOCK_TRANSFER_WITH_ACTION
)
"""What this server can do (``0x001E1D``); an association gets at most this."""
