"""The connection rules every DLMS transport shares (the TCP wrapper, HDLC over TCP), sans-IO.

A transport moves octets and frames; what a connection may do is decided here, on the clock
values the transport passes in (``now``, seconds on one monotonic clock), never read here:

- :class:`DlmsChannel`, one per physical connection: it routes each whole APDU by its server
  address (the wrapper's destination wPort, an HDLC server address) to one
  :class:`~metertwin.dlms.server.ServerConnection` per logical device, made when first
  addressed. An APDU for a server address not served closes the connection (after the
  answers to the APDUs before it): the wrapper has no error message, and IEC 62056-4-7 lets
  the server discard such a frame or close; closing tells the client at once instead of
  leaving it to its own timeout. A broadcast (address 127) is ignored: no answer is due to it.
- Its timeouts (seed 004, MeterCom PRO, 3.1 and 4.1): the session closed after
  ``inactivity_timeout_s`` without data. Only whole frames are data: octets of a frame still
  incomplete are no activity, and a frame must be complete within ``frame_timeout_s`` of its
  first octet (a peer sending one octet now and then would otherwise hold the connection for
  ever). The transport asks :meth:`DlmsChannel.inactivity_due` and
  :meth:`DlmsChannel.frame_due` when its timers fire.
- :class:`AdmissionPolicy`, one per listener: one connection at a time
  (``single_connection``: a second is accepted and closed at once, the first goes on), or at
  most ``max_connections``. When the connections are all taken, a newcomer is not refused
  while a connection that does nothing holds a slot: the served connection with no open
  association that has never completed a frame, or else holds an incomplete one, is closed
  for it (the one stalled longest, those that never completed a frame first;
  :func:`choose_eviction`). An open association is never given up, so a head-end being
  served keeps seed 004's one connection.

What the rules do to a connection is a :class:`ConnectionEvent` of the meter's communication
log; the transport reports it to its ``on_event``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, NamedTuple, TypeVar

from metertwin.cosem.backend import DeviceBackend  # exported: what a transport is given
from metertwin.dlms.server.connection import ServerConnection, ServerSettings

__all__ = [
    "BROADCAST_ADDRESS",
    "DEFAULT_FRAME_TIMEOUT_S",
    "DEFAULT_MAX_CONNECTIONS",
    "MANAGEMENT_LOGICAL_DEVICE",
    "Admission",
    "AdmissionPolicy",
    "ChannelOutput",
    "ChannelSettings",
    "ConnectionEvent",
    "ConnectionStanding",
    "DeviceBackend",
    "DlmsChannel",
    "choose_eviction",
]

K = TypeVar("K")

MANAGEMENT_LOGICAL_DEVICE = 1
BROADCAST_ADDRESS = 0x7F
"""The all-station server address (protocols.md): APDUs to it are ignored, never answered."""
DEFAULT_MAX_CONNECTIONS = 4
"""Connections served at once: a head-end, a local tool and a spare, as a meter's modem."""
DEFAULT_FRAME_TIMEOUT_S = 30.0
"""A frame of the default 1024-octet PDU size crosses even a slow GPRS link in a few seconds;
30 s leaves room for TCP retransmissions."""


class ConnectionEvent(Enum):
    """What the transport itself does to a connection that the meter logs (seed 004)."""

    REFUSED_ONE_AT_A_TIME = "refused_one_at_a_time"
    """A connection accepted and closed at once: another one is being served."""
    CLOSED_IDLE = "closed_idle"
    """A connection closed after ``inactivity_timeout_s`` without data."""
    REFUSED_TOO_MANY = "refused_too_many"
    """A connection accepted and closed at once: ``max_connections`` are being served."""
    CLOSED_FRAME_TIMEOUT = "closed_frame_timeout"
    """A connection closed because a frame was not complete ``frame_timeout_s`` after its
    first octet."""
    CLOSED_UNKNOWN_WPORT = "closed_unknown_wport"
    """A connection closed on a frame for a server wPort (logical device) not served."""
    EVICTED_IDLE = "evicted_idle"
    """A connection with no open association closed to serve a newcomer while all
    connections were taken (:func:`choose_eviction`)."""


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """The connection rules; ``dlms`` is handed to every :class:`ServerConnection`.

    ``server_saps``: the logical devices that answer (1 = management logical device).
    ``single_connection``: seed 004, one connection at a time, others rejected.
    ``inactivity_timeout_s``: seed 004, close a connection without a whole frame this long
    (None: never).
    ``frame_timeout_s``: close a connection whose frame is not complete this long after its
    first octet (None: no limit but the inactivity timeout).
    ``max_connections``: connections served at once; one more is served in place of one
    without an open association (:func:`choose_eviction`), or else accepted and closed.
    """

    server_saps: frozenset[int] = frozenset({MANAGEMENT_LOGICAL_DEVICE})
    single_connection: bool = False
    inactivity_timeout_s: float | None = 300.0
    frame_timeout_s: float | None = DEFAULT_FRAME_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    dlms: ServerSettings = field(default_factory=ServerSettings)

    def __post_init__(self) -> None:
        if not self.server_saps or not all(0 <= sap <= 0xFFFF for sap in self.server_saps):
            raise ValueError("server_saps must be wPorts 0..65535, at least one")
        for name in ("inactivity_timeout_s", "frame_timeout_s"):
            timeout = getattr(self, name)
            if timeout is not None and not timeout > 0:
                raise ValueError(f"{name} must be positive or None")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")

    @property
    def admission(self) -> AdmissionPolicy:
        """The listener's policy for newcomers under these settings."""
        return AdmissionPolicy(self.single_connection, self.max_connections)


@dataclass(frozen=True, slots=True)
class ConnectionStanding:
    """What the connection cap weighs of a served connection when a newcomer finds every
    slot taken.

    ``associated``: an association is open on it (never given up for a newcomer).
    ``completed_frame``: it has sent at least one whole frame.
    ``connected_at``: when it was accepted; ``incomplete_since``: the first octet of the
    frame it leaves incomplete (None: no octet pending); ``last_activity``: its last whole
    frame (None: ``connected_at``). Times on one clock, in seconds.
    """

    associated: bool
    completed_frame: bool
    connected_at: float
    incomplete_since: float | None = None
    last_activity: float | None = None

    @property
    def idle_incomplete(self) -> bool:
        """Whether it holds a slot doing nothing the meter can serve: no association, and
        no whole frame ever or a frame left incomplete."""
        return not self.associated and (
            not self.completed_frame or self.incomplete_since is not None
        )


def choose_eviction(standings: Mapping[K, ConnectionStanding]) -> K | None:
    """The connection to close so a newcomer can be served, or None (refuse the newcomer).

    Every connection without an open association is a candidate; an open association is
    never taken from its head-end. Idle-incomplete ones go first
    (:attr:`ConnectionStanding.idle_incomplete`): those that never completed a frame, then
    those leaving a frame incomplete, each the one stalled longest first (since its
    incomplete frame began, or since it connected when it never sent a frame). Last, a
    connection that completed frames but holds no association and nothing pending (released,
    or one frame sent to keep a slot), the one idle longest first. Ties go to the first in
    ``standings``' order (the server's is the order accepted: a loop's clock may tick
    coarser than connections arrive). Neither partial frames nor one whole frame per
    connection can then keep a head-end out until a timeout.
    """
    candidates = [(key, s) for key, s in standings.items() if not s.associated]
    if not candidates:
        return None

    def stalled(item: tuple[K, ConnectionStanding]) -> tuple[int, float]:
        standing = item[1]
        if not standing.completed_frame:
            return 0, standing.connected_at
        if standing.incomplete_since is not None:
            return 1, standing.incomplete_since
        last = standing.last_activity
        return 2, standing.connected_at if last is None else last

    return min(candidates, key=stalled)[0]


@dataclass(frozen=True, slots=True)
class Admission(Generic[K]):
    """The policy's answer to a newcomer: ``admitted``, after closing ``evict`` (the
    transport closes it and reports :attr:`ConnectionEvent.EVICTED_IDLE`) when not None;
    or refused, accepted and closed at once, reported as ``refusal``."""

    admitted: bool
    evict: K | None = None
    refusal: ConnectionEvent | None = None


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """Whether a listener serves one more connection, given the standings of those it
    serves (seed 004's one connection, or ``max_connections``; :func:`choose_eviction`)."""

    single_connection: bool = False
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    @property
    def limit(self) -> int:
        """Connections served at once."""
        return 1 if self.single_connection else self.max_connections

    def admit(self, served: Mapping[K, ConnectionStanding]) -> Admission[K]:
        """What to do with a newcomer while ``served`` (in the order accepted) are served."""
        if len(served) < self.limit:
            return Admission(admitted=True)
        victim = choose_eviction(served)
        if victim is not None:
            return Admission(admitted=True, evict=victim)
        if self.single_connection:
            return Admission(admitted=False, refusal=ConnectionEvent.REFUSED_ONE_AT_A_TIME)
        return Admission(admitted=False, refusal=ConnectionEvent.REFUSED_TOO_MANY)


class ChannelOutput(NamedTuple):
    """What one APDU received asks of the transport: send ``answer`` (None: nothing) from
    the server address to the client address, then, when ``close`` is not None, close the
    connection and report that event."""

    answer: bytes | None
    close: ConnectionEvent | None


_new_output = tuple.__new__
_NOTHING = ChannelOutput(None, None)
_CLOSE_UNKNOWN = ChannelOutput(None, ConnectionEvent.CLOSED_UNKNOWN_WPORT)


class DlmsChannel:
    """One physical connection's DLMS routing and timeouts (module docstring), sans-IO.

    ``backends`` maps each server address served to its logical device's backend.
    ``now``: when the connection was accepted. The transport calls :meth:`receive` for each
    whole frame, :meth:`frame_pending` after each read, and :meth:`close` once the
    connection is gone.
    """

    def __init__(
        self,
        backends: Mapping[int, DeviceBackend],
        settings: ChannelSettings,
        now: float,
    ) -> None:
        self.backends = backends
        self.settings = settings
        self.connected_at = now
        self.last_activity = now
        self.completed_frame = False
        self.incomplete_since: float | None = None
        self.closed_by: ConnectionEvent | None = None
        self.connections: dict[int, ServerConnection] = {}

    def receive(
        self, client_address: int, server_address: int, apdu: bytes, now: float
    ) -> ChannelOutput:
        """One whole frame's APDU, received at ``now``: activity, routed by server address.

        After an APDU for a server address not served, the channel is closing: it answers
        nothing more.
        """
        self.last_activity = now
        self.completed_frame = True
        if self.closed_by is not None:
            return _NOTHING
        connection = self.connections.get(server_address)
        if connection is None:
            backend = self.backends.get(server_address)
            if backend is None:
                if server_address == BROADCAST_ADDRESS:
                    return _NOTHING
                self.closed_by = ConnectionEvent.CLOSED_UNKNOWN_WPORT
                return _CLOSE_UNKNOWN
            connection = ServerConnection(backend, server_address, self.settings.dlms)
            self.connections[server_address] = connection
        answer = connection.receive(client_address, apdu)
        # tuple.__new__: a NamedTuple's own __new__ is a Python function, one call per APDU
        return _NOTHING if answer is None else _new_output(ChannelOutput, (answer, None))

    def activity(self, now: float) -> None:
        """A whole frame that carries no APDU (an HDLC SNRM, RR or DISC) arrived at ``now``:
        data, as an APDU's frame is."""
        self.last_activity = now
        self.completed_frame = True

    def release(self, server_address: int) -> None:
        """The data link under ``server_address``'s logical device is gone (HDLC DISC, reset
        or link inactivity): its associations end with it; the next APDU for it finds a new
        :class:`ServerConnection`."""
        connection = self.connections.pop(server_address, None)
        if connection is not None:
            connection.close()

    def frame_pending(self, since: float | None) -> None:
        """The transport holds octets of a frame not yet whole, the first received at
        ``since`` (None: nothing pending). They are no activity."""
        self.incomplete_since = since

    @property
    def inactivity_deadline(self) -> float | None:
        """When the connection falls idle without another whole frame (None: never)."""
        timeout = self.settings.inactivity_timeout_s
        return None if timeout is None else self.last_activity + timeout

    def inactivity_due(self, now: float) -> bool:
        """Whether the connection is to close at ``now``: no whole frame for
        ``inactivity_timeout_s``."""
        deadline = self.inactivity_deadline
        return deadline is not None and now >= deadline

    @property
    def frame_deadline(self) -> float | None:
        """When the frame pending must be complete (None: nothing pending, or no limit)."""
        timeout = self.settings.frame_timeout_s
        since = self.incomplete_since
        return None if since is None or timeout is None else since + timeout

    def frame_due(self, now: float) -> bool:
        """Whether the frame pending has missed its deadline at ``now``."""
        deadline = self.frame_deadline
        return deadline is not None and now >= deadline

    @property
    def associated(self) -> bool:
        """Whether an association is open on any logical device of this connection."""
        return any(connection.associations for connection in self.connections.values())

    def standing(self) -> ConnectionStanding:
        """What :func:`choose_eviction` weighs of this connection now."""
        return ConnectionStanding(
            associated=self.associated,
            completed_frame=self.completed_frame,
            connected_at=self.connected_at,
            incomplete_since=self.incomplete_since,
            last_activity=self.last_activity,
        )

    def close(self) -> None:
        """The connection is gone: every association released (once)."""
        connections = list(self.connections.values())
        self.connections.clear()
        for connection in connections:
            connection.close()
