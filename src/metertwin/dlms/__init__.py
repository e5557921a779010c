"""DLMS/COSEM application layer, sans-IO: ACSE and xDLMS APDUs, and both sides of them.

- ``apdu``: ``decode_apdu`` and every APDU class (``acse``, ``xdlms``, ``reports``).
- ``capabilities``: what this server implements (conformance, DLMS version, PDU sizes).
- ``server``: the server side (one connection's associations); ``client``: ours.

Values, names and their codecs are one layer below, in ``metertwin.codec``. Every decoder
raises only :class:`~metertwin.codec.errors.DlmsDecodeError` subclasses on bad input.
"""
