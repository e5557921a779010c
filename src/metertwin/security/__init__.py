"""DLMS/COSEM security primitives (Green Book 9.2): suites, ciphering, HLS, key wrap, counters,
key agreement, general-signing/-ciphering and certificates.

Sans-IO and layer-independent: bytes in, bytes out, with keys, system titles and counters passed
in by the caller. Nothing here imports the DLMS, COSEM or model packages; the association and
service layers wire these in (docs/security.md).
"""
