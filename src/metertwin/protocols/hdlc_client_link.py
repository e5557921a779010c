"""The client (primary station) side of an HDLC link, IEC 62056-46 / Green Book 8.4, sans-IO.

:class:`HdlcClientLink` is the head-end's end of the link :class:`~metertwin.protocols.
hdlc_link.HdlcServerLink` serves. It builds the octets to send and reads the octets that come
back, with the caller's clock; the transport moves them and calls :meth:`HdlcClientLink.poll`
at :attr:`HdlcClientLink.deadline`, so timeouts and retries are data, not threads:

- :meth:`connect` gives the SNRM proposing the client's limits; the UA's parameters are what
  the link then uses (:attr:`parameters`, as this side sees them).
- :meth:`send` gives the request APDU, ``E6 E6 00`` in front, cut into I-frames of the
  negotiated transmit size, up to the server's receive window per poll; the server's RR moves
  the window on. The answer's I-frames are reassembled, RR polling for each further window of
  segments, and :meth:`receive` returns the whole APDU with ``E6 E7 00`` removed.
- :meth:`disconnect` gives the DISC; UA (or DM: already disconnected) ends the link.
- A poll unanswered within ``response_timeout`` is repeated, ``retries`` times, then
  :class:`HdlcLinkTimeout`. A repeated I-frame is the same N(S), which the server discards
  and answers with what we have not acknowledged, so a lost answer is sent again.

A frame with a wrong HCS/FCS is dropped silently by the decoder (counted; the retry mends
it, and the timeout error says how many were dropped). DM while connected or to SNRM, FRMR,
and an answer that makes no sense (an N(R) acknowledging frames never sent, an answer APDU
without the LLC header) raise :class:`HdlcLinkError` naming what came: the link is then of no
further use and the caller closes the line.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from metertwin.protocols import FramingError
from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    LinkParameters,
    control_i,
    control_s,
    control_u,
    decode_parameters,
    encode_parameters,
)
from metertwin.protocols.hdlc_link import LLC_COMMAND, LLC_RESPONSE

__all__ = [
    "ClientLinkSettings",
    "ClientLinkState",
    "HdlcClientLink",
    "HdlcLinkError",
    "HdlcLinkTimeout",
]

_MAX_WINDOW = 7


class HdlcLinkError(FramingError):
    """The server refused or broke the link (DM, FRMR, a nonsensical answer)."""


class HdlcLinkTimeout(HdlcLinkError):
    """No valid answer to a poll after every retry."""


class ClientLinkState(Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "SNRM sent"
    IDLE = "connected"
    SENDING = "sending a request"
    RECEIVING = "receiving an answer"
    DISCONNECTING = "DISC sent"


@dataclass(frozen=True, slots=True)
class ClientLinkSettings:
    """Our side of the link: who we are, whom we call, and what we propose.

    ``server`` is the server address as the frames carry it (upper: logical device, lower:
    physical address). ``max_info_*`` and ``window_*`` are proposed in the SNRM (what we may
    send and can take); the server's UA may lower them. ``response_timeout`` is how long a
    poll waits for its answer before it is repeated, ``retries`` times.
    """

    server: HdlcAddress
    client: int = 0x10
    max_info_transmit: int = 128
    max_info_receive: int = 128
    window_transmit: int = 1
    window_receive: int = 1
    response_timeout: float = 3.0
    retries: int = 2
    inter_octet_timeout: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.client <= 0x7F:
            raise ValueError(f"client address {self.client} is outside 0..127 (one octet)")
        for name in ("max_info_transmit", "max_info_receive"):
            if not 32 <= getattr(self, name) <= 2030:
                raise ValueError(f"{name} {getattr(self, name)} is outside 32..2030")
        for name in ("window_transmit", "window_receive"):
            if not 1 <= getattr(self, name) <= _MAX_WINDOW:
                raise ValueError(f"{name} {getattr(self, name)} is outside 1..{_MAX_WINDOW}")
        if not self.response_timeout > 0:
            raise ValueError("response_timeout must be positive")
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")


@dataclass(frozen=True, slots=True)
class ClientLinkOutput:
    """What :meth:`HdlcClientLink.receive` made of the octets: what to send now, and the APDU
    that arrived whole (None: none yet)."""

    transmit: bytes = b""
    apdu: bytes | None = None


class HdlcClientLink:
    """Our end of one HDLC connection to one server (see the module docstring)."""

    def __init__(self, settings: ClientLinkSettings) -> None:
        self.settings = settings
        self.decoder = HdlcDecoder(settings.inter_octet_timeout)
        self.state = ClientLinkState.DISCONNECTED
        self.parameters: LinkParameters | None = None
        """As the client sees them: what it may send (transmit) and accepts (receive)."""
        self.retransmissions = 0
        self._client = HdlcAddress(settings.client)
        self._send_seq = 0  # V(S)
        self._receive_seq = 0  # V(R)
        self._unacknowledged: deque[tuple[int, bytes, bool]] = deque()
        self._unsent: deque[tuple[bytes, bool]] = deque()
        self._reassembly = bytearray()
        self._last_sent = b""
        self._sent_at = 0.0
        self._tries = 0

    # --- the caller's side ---

    @property
    def connected(self) -> bool:
        return self.state not in (ClientLinkState.DISCONNECTED, ClientLinkState.CONNECTING)

    @property
    def awaiting(self) -> bool:
        """Whether a poll is out and its answer awaited."""
        return self.state in (
            ClientLinkState.CONNECTING,
            ClientLinkState.SENDING,
            ClientLinkState.RECEIVING,
            ClientLinkState.DISCONNECTING,
        )

    @property
    def deadline(self) -> float | None:
        """When :meth:`poll` must run: the poll out times out (None: nothing awaited)."""
        if not self.awaiting:
            return None
        return self._sent_at + self.settings.response_timeout

    def connect(self, now: float) -> bytes:
        """The SNRM proposing our limits (none when they are the defaults)."""
        if self.state is not ClientLinkState.DISCONNECTED:
            raise HdlcLinkError(f"cannot connect: the link is {self.state.value}")
        settings = self.settings
        proposal = LinkParameters(
            settings.max_info_transmit,
            settings.max_info_receive,
            settings.window_transmit,
            settings.window_receive,
        )
        self.state = ClientLinkState.CONNECTING
        # The defaults need no parameter list (Green Book 8.4.5.3.2): an SNRM without one.
        information = b"" if proposal == LinkParameters() else encode_parameters(proposal)
        frame = self._frame(control_u(FrameType.SNRM, True), information)
        return self._transmit(frame, now)

    def send(self, apdu: bytes, now: float) -> bytes:
        """The first I-frames of request ``apdu``; its answer comes out of :meth:`receive`."""
        if self.state is not ClientLinkState.IDLE:
            raise HdlcLinkError(f"cannot send a request: the link is {self.state.value}")
        assert self.parameters is not None
        information = LLC_COMMAND + apdu
        size = self.parameters.max_info_transmit
        for start in range(0, len(information), size):
            last = start + size >= len(information)
            self._unsent.append((information[start : start + size], not last))
        self._reassembly.clear()
        self.state = ClientLinkState.SENDING
        return self._transmit(self._next_window(), now)

    def disconnect(self, now: float) -> bytes:
        """The DISC; empty when there is no link to end."""
        if self.state is ClientLinkState.DISCONNECTED:
            return b""
        self.state = ClientLinkState.DISCONNECTING
        return self._transmit(self._frame(control_u(FrameType.DISC, True)), now)

    def receive(self, data: bytes | bytearray | memoryview, now: float) -> ClientLinkOutput:
        """Take octets from the line at ``now``; :class:`HdlcLinkError` on a refusal."""
        transmit = bytearray()
        apdu: bytes | None = None
        for frame in self.decoder.feed(data, now):
            if frame.destination != self._client or not self._from_server(frame.source):
                continue  # another station's exchange: not ours to read
            sent, whole = self._handle(frame, now)
            transmit += sent
            if whole is not None:
                apdu = whole
        return ClientLinkOutput(bytes(transmit), apdu)

    def poll(self, now: float) -> bytes:
        """At :attr:`deadline`: the poll repeated, or :class:`HdlcLinkTimeout` when retries
        are spent (a DISC unanswered just ends the link)."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return b""
        if self._tries > self.settings.retries:
            waited = self.state
            if waited is ClientLinkState.DISCONNECTING:
                self._reset(ClientLinkState.DISCONNECTED)
                return b""
            self._reset(ClientLinkState.DISCONNECTED)
            stats = self.decoder.stats
            dropped = stats.bad_fcs + stats.bad_hcs + stats.malformed
            raise HdlcLinkTimeout(
                f"HDLC: no answer from server {self._server_text()} while {waited.value} "
                f"({self.settings.retries + 1} polls of {self.settings.response_timeout:g} s; "
                f"{dropped} bad frames dropped: {stats.bad_fcs} wrong FCS, {stats.bad_hcs} "
                f"wrong HCS, {stats.malformed} malformed)"
            )
        self.retransmissions += 1
        return self._transmit(self._last_sent, now, repeat=True)

    # --- frames in ---

    def _handle(self, frame: HdlcFrame, now: float) -> tuple[bytes, bytes | None]:
        kind = frame.kind
        state = self.state
        if kind is FrameType.FRMR:
            self._reset(ClientLinkState.DISCONNECTED)
            rejected = frame.information.hex(" ") + _frmr_reasons(frame.information)
            raise HdlcLinkError(
                f"HDLC: server {self._server_text()} rejected a frame (FRMR {rejected}) "
                f"while {state.value}"
            )
        if kind is FrameType.DM:
            self._reset(ClientLinkState.DISCONNECTED)
            if state is ClientLinkState.DISCONNECTING:
                return b"", None
            raise HdlcLinkError(
                f"HDLC: server {self._server_text()} is disconnected (DM) "
                f"while {state.value}: it refused the connection or dropped it"
            )
        if state is ClientLinkState.CONNECTING and kind is FrameType.UA:
            return self._on_ua(frame), None
        if state is ClientLinkState.DISCONNECTING and kind is FrameType.UA:
            self._reset(ClientLinkState.DISCONNECTED)
            return b"", None
        if state in (ClientLinkState.SENDING, ClientLinkState.RECEIVING):
            if kind is FrameType.I:
                return self._on_information(frame, now)
            if kind in (FrameType.RR, FrameType.RNR):
                return self._on_supervisory(frame, now), None
        return b"", None  # not an answer to what we asked (a late repeat): ignored

    def _on_ua(self, frame: HdlcFrame) -> bytes:
        granted = decode_parameters(frame.information)
        if granted is None:
            self._reset(ClientLinkState.DISCONNECTED)
            raise HdlcLinkError(
                f"HDLC: the UA of server {self._server_text()} has no parameter list "
                f"({frame.information.hex(' ')})"
            )
        settings = self.settings
        # The UA speaks as the server: its transmit is our receive.
        self.parameters = LinkParameters(
            max_info_transmit=min(granted.max_info_receive, settings.max_info_transmit),
            max_info_receive=min(granted.max_info_transmit, settings.max_info_receive),
            window_transmit=min(granted.window_receive, settings.window_transmit),
            window_receive=min(granted.window_transmit, settings.window_receive),
        )
        self._send_seq = self._receive_seq = 0
        self.state = ClientLinkState.IDLE
        return b""

    def _on_information(self, frame: HdlcFrame, now: float) -> tuple[bytes, bytes | None]:
        self._acknowledge(frame.receive_seq)
        if self.state is ClientLinkState.SENDING:
            if self._unsent or self._unacknowledged:
                self._reset(ClientLinkState.DISCONNECTED)
                raise HdlcLinkError(
                    f"HDLC: server {self._server_text()} answered before the whole request came"
                )
            self.state = ClientLinkState.RECEIVING
        if frame.send_seq != self._receive_seq:
            return self._after_final(frame, now), None  # a repeat or one after a loss
        self._receive_seq = (self._receive_seq + 1) % 8
        self._reassembly += frame.information
        assert self.parameters is not None
        if len(frame.information) > self.parameters.max_info_receive:
            self._reset(ClientLinkState.DISCONNECTED)
            raise HdlcLinkError(
                f"HDLC: server {self._server_text()} sent {len(frame.information)} octets in "
                f"one frame, more than the {self.parameters.max_info_receive} negotiated"
            )
        if frame.segmented:
            return self._after_final(frame, now), None
        whole = bytes(self._reassembly)
        self._reassembly.clear()
        self.state = ClientLinkState.IDLE
        if not whole.startswith(LLC_RESPONSE):
            self._reset(ClientLinkState.DISCONNECTED)
            raise HdlcLinkError(
                f"HDLC: the answer of server {self._server_text()} does not begin with the "
                f"LLC header E6 E7 00 ({whole[:3].hex(' ')})"
            )
        return b"", whole[len(LLC_RESPONSE) :]

    def _after_final(self, frame: HdlcFrame, now: float) -> bytes:
        """After the server's last frame of a burst (F): RR asks for the next segments."""
        if not frame.poll_final:
            return b""
        return self._transmit(self._frame(control_s(FrameType.RR, self._receive_seq, True)), now)

    def _on_supervisory(self, frame: HdlcFrame, now: float) -> bytes:
        self._acknowledge(frame.receive_seq)
        if not frame.poll_final:
            return b""
        if self.state is ClientLinkState.SENDING:
            if self._unacknowledged:  # the server missed some: go back to its N(R)
                self._unsent.extendleft((i, s) for _, i, s in reversed(self._unacknowledged))
                self._send_seq = self._unacknowledged[0][0]
                self._unacknowledged.clear()
            if self._unsent:
                return self._transmit(self._next_window(), now)
        # The whole request is acknowledged and the server has nothing yet, or RR while
        # receiving: poll again for the answer.
        return self._transmit(self._frame(control_s(FrameType.RR, self._receive_seq, True)), now)

    def _acknowledge(self, receive_seq: int) -> None:
        oldest = self._unacknowledged[0][0] if self._unacknowledged else self._send_seq
        count = (receive_seq - oldest) % 8
        if count > len(self._unacknowledged):
            self._reset(ClientLinkState.DISCONNECTED)
            raise HdlcLinkError(
                f"HDLC: server {self._server_text()} acknowledged frames never sent "
                f"(N(R) {receive_seq}, next N(S) {self._send_seq})"
            )
        for _ in range(count):
            self._unacknowledged.popleft()

    # --- frames out ---

    def _next_window(self) -> bytes:
        assert self.parameters is not None
        out = bytearray()
        burst = min(len(self._unsent), self.parameters.window_transmit)
        for index in range(burst):
            information, segmented = self._unsent.popleft()
            control = control_i(self._send_seq, self._receive_seq, index == burst - 1)
            out += self._frame(control, information, segmented)
            self._unacknowledged.append((self._send_seq, information, segmented))
            self._send_seq = (self._send_seq + 1) % 8
        return bytes(out)

    def _transmit(self, frames: bytes, now: float, repeat: bool = False) -> bytes:
        self._last_sent = frames
        self._sent_at = now
        self._tries = self._tries + 1 if repeat else 1
        return frames

    def _frame(self, control: int, information: bytes = b"", segmented: bool = False) -> bytes:
        return HdlcFrame(
            self.settings.server, self._client, control, information, segmented
        ).encode()

    def _from_server(self, source: HdlcAddress) -> bool:
        """The server answers from the address we called, in the form we called it."""
        return source == self.settings.server

    def _reset(self, state: ClientLinkState) -> None:
        self.state = state
        if state is ClientLinkState.DISCONNECTED:
            self.parameters = None
        self._unacknowledged.clear()
        self._unsent.clear()
        self._reassembly.clear()
        self._tries = 0

    def _server_text(self) -> str:
        server = self.settings.server
        if server.lower is None:
            return f"{server.upper}"
        return f"{server.upper}/{server.lower}"


_FRMR_REASONS = ((0x01, "W: control field undefined"), (0x02, "X: information not permitted"),
                 (0x04, "Y: information field too long"), (0x08, "Z: N(R) not valid"))  # fmt: skip


def _frmr_reasons(information: bytes) -> str:
    """The reasons of an FRMR's third octet (ISO/IEC 13239 5.5.3.4.2), as text."""
    if len(information) < 3:
        return ""
    names = [name for bit, name in _FRMR_REASONS if information[2] & bit]
    return ": " + ", ".join(names) if names else ""
