"""Thin asyncio transports around the sans-IO protocol stacks (architecture principle 4): they
move bytes between sockets and state machines and do nothing else.

- ``channel``: the sans-IO connection rules every transport shares: :class:`DlmsChannel`
  (routing by server address, inactivity and frame timeouts) and :class:`AdmissionPolicy`
  (one connection, the cap, eviction).
- ``tcp``: :class:`DlmsTcpServer`, DLMS/COSEM over TCP with the IEC 62056-47 wrapper.
- ``hdlc_tcp``: :class:`HdlcTcpServer`, DLMS/COSEM over HDLC frames on TCP, the same listener
  with an HDLC server link per connection (docs/hdlc.md).
- ``eventloop``: :func:`run`, ``asyncio.run`` on uvloop's loop when it is installed.
"""

from metertwin.transport.eventloop import loop_name, new_event_loop, run
from metertwin.transport.hdlc_tcp import HdlcTcpServer, HdlcTcpServerSettings
from metertwin.transport.tcp import DlmsTcpServer, TcpServerSettings

__all__ = [
    "DlmsTcpServer",
    "HdlcTcpServer",
    "HdlcTcpServerSettings",
    "TcpServerSettings",
    "loop_name",
    "new_event_loop",
    "run",
]
