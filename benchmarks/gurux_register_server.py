"""The reference server of benchmarks/dlms_cpu_vs_gurux.py: a minimal DLMS/COSEM server built
on gurux-dlms (PyPI, GPL: a benchmark-only dependency, never imported by src/metertwin).

One register 1.0.1.8.0.255 (value, scaler 0, Wh) and the current association object that
gurux's server needs, LN referencing, no security, the IEC 62056-47 wrapper over TCP on
127.0.0.1. One connection at a time over a plain blocking socket: the cheapest I/O gurux's
sans-IO ``handleRequest`` can be given, so the comparison charges gurux for DLMS only.

Run as ``python -m benchmarks.gurux_register_server`` (``--echo``: the same socket loop
echoing, the floor of this server); the first stdout line is ``gurux on 127.0.0.1:PORT``.
It serves until killed.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from gurux_dlms import GXDLMSServer, GXServerReply
from gurux_dlms.enums import (
    AccessMode,
    DataType,
    InterfaceType,
    MethodAccessMode,
    SourceDiagnostic,
    Unit,
)
from gurux_dlms.objects import GXDLMSAssociationLogicalName, GXDLMSRegister

REGISTER = "1.0.1.8.0.255"
REGISTER_VALUE = 12_345_678  # Wh
RECEIVE_CHUNK = 4096


class RegisterServer(GXDLMSServer):
    """gurux's LN server with one register; every hook is the do-nothing one a minimal
    server needs (gurux's server calls them, its base class does not define them all)."""

    def __init__(self) -> None:
        super().__init__(True, InterfaceType.WRAPPER)
        register = GXDLMSRegister(REGISTER)
        register.value = REGISTER_VALUE
        register.setDataType(2, DataType.UINT32)  # double-long-unsigned, as metertwin's
        register.scaler = 1.0  # gurux shows 10^scaler: scaler 0
        register.unit = Unit.ACTIVE_ENERGY
        association = GXDLMSAssociationLogicalName()  # 0.0.40.0.0.255
        for item in (association, register):
            self.items.append(item)
            # Listed here: gurux's initialize() would append the whole collection as one
            # object to an empty object_list, which its collection refuses (TypeError).
            association.objectList.append(item)
        self.initialize()

    # -- gurux's server hooks ----------------------------------------------------------------

    def isTarget(self, server_address: int, client_address: int) -> bool:
        return True

    def onValidateAuthentication(self, authentication: Any, password: Any) -> Any:
        return SourceDiagnostic.NONE

    def onGetAttributeAccess(self, arg: Any) -> Any:
        return AccessMode.READ

    def onGetMethodAccess(self, arg: Any) -> Any:
        return MethodAccessMode.NO_ACCESS

    def onFindObject(self, object_type: Any, sn: int, ln: str) -> Any:
        return None

    def notifyRead(self, *args: Any) -> None:  # called by gurux's GET handler
        pass

    def onPreGet(self, args: Any) -> None:
        pass

    def onPostGet(self, args: Any) -> None:
        pass

    def onPreRead(self, args: Any = None) -> None:
        pass

    def onPostRead(self, args: Any = None) -> None:
        pass

    def onPreWrite(self, args: Any = None) -> None:
        pass

    def onPostWrite(self, args: Any = None) -> None:
        pass

    def onPreAction(self, args: Any = None) -> None:
        pass

    def onPostAction(self, args: Any = None) -> None:
        pass

    def onConnected(self, connection_info: Any) -> None:
        pass

    def onInvalidConnection(self, connection_info: Any) -> None:
        pass

    def onDisconnected(self, connection_info: Any) -> None:
        pass


class ServerReply(GXServerReply):
    """gurux's reply holder with the two accessors gurux 1.0.203's ``handleRequest`` calls
    but the class lacks (``setReply``, ``getConnectionInfo``)."""

    def setReply(self, value: Any) -> None:
        self.reply = value

    def getConnectionInfo(self) -> Any:
        return self.connectionInfo


def serve(listener: socket.socket, server: RegisterServer) -> None:
    """One connection after another; each received chunk goes to gurux as it comes."""
    while True:
        connection, _peer = listener.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server.reset()
        with connection:
            while chunk := connection.recv(RECEIVE_CHUNK):
                reply = ServerReply(chunk)
                server.handleRequest(reply)
                if reply.reply:
                    connection.sendall(reply.reply)


def echo(listener: socket.socket) -> None:
    """The same socket loop sending back what it reads: this server's I/O floor."""
    while True:
        connection, _peer = listener.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with connection:
            while chunk := connection.recv(RECEIVE_CHUNK):
                connection.sendall(chunk)


def main() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    server = None if "--echo" in sys.argv[1:] else RegisterServer()
    print(f"gurux on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    try:
        if server is None:
            echo(listener)
        else:
            serve(listener, server)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
