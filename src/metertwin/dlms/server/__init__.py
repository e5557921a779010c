"""The server side of DLMS/COSEM, sans-IO: one connection's associations and their services.

- ``connection``: :class:`ServerConnection`, ACSE and the dispatch of every APDU of a connection.
- ``session``: :class:`AssociationSession`, GET/SET/ACTION with block transfer in one association.
"""

from metertwin.dlms.server.connection import ServerConnection, ServerSettings

__all__ = ["ServerConnection", "ServerSettings"]
