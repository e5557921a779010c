"""The bottom layer: what DLMS/COSEM values and names are, and their codecs, sans-IO.

Both ``cosem/`` (the object model) and ``dlms/`` (the protocol) build on this package, which
imports nothing else of metertwin.

- ``axdr``: the ``Data`` model and its A-XDR codec (dlms.md 1); ``reader``: a read cursor.
- ``cosem_datetime``: date, time and date-time with wildcards, deviation and status (1.3).
- ``obis``: OBIS codes; ``units``: the unit enumeration.
- ``xdlms_types``: attribute and method descriptors, selective access, invoke-id, data blocks.
- ``enums``: result codes, diagnostics, conformance, context and mechanism names.
- ``errors``: :class:`DlmsDecodeError` and its subclasses, the only exceptions decoders raise.
"""
