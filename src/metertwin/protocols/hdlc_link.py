"""The server (secondary station) side of an HDLC link, IEC 62056-46 / Green Book 8.4, sans-IO.

:class:`HdlcServerLink` is fed octets with the caller's clock (``receive(data, now)``) and
returns the octets to send and what happened (:class:`LinkOutput`): the link connected, the
link dropped, or a whole APDU arrived, with its LLC header ``E6 E6 00`` removed. The caller
answers an APDU with :meth:`HdlcServerLink.respond` (the response APDU, or None for none),
which returns the octets to send: the LLC header ``E6 E7 00`` and the APDU, cut into I-frames
of the negotiated size. Time never passes by itself: :meth:`HdlcServerLink.poll` with the
clock runs the inactivity and inter-octet timeouts, and :attr:`HdlcServerLink.deadline` says
when to call it.

Normal response mode (NRM): the client is the primary station and polls; the server only
ever sends in answer to a frame with the P bit set, and its last frame carries F. So every
answer of the link goes out in answer to a poll: at once (UA, DM, RR, FRMR, the next segment)
or, for a request APDU, when :meth:`respond` gives the answer (the poll is held until then).

Where the standard leaves room, this link does the following (docs/hdlc.md):

- Negotiation: each parameter of the UA is the smaller of the client's proposal (the SNRM's,
  or the default 128 octets and window 1 when absent) and the server's own limit. A proposal
  of 0, or an information field that is not a parameter list, is refused with DM.
- A frame whose N(S) is not the one expected (a repeat, or one after a lost frame) is
  discarded, its N(R) still acknowledges, and a poll is answered as any poll: with the frames
  the client has not acknowledged (its N(R) says it missed them), else the next segment,
  else RR with the N(R) expected. A client that repeats a request because the answer was
  lost so gets the answer again. ISO/IEC 13239 NRM without REJ recovers this way; FRMR is
  kept for what no retransmission can mend.
- FRMR (Green Book 8.4.3.4, ISO/IEC 13239 5.5.3.4.2) for a control field that is undefined
  or not a command (W), a frame with an information field it may not carry (W and X), an
  information field longer than the negotiated maximum or an APDU longer than
  ``max_apdu_length`` (Y), and an N(R) that acknowledges frames never sent (Z). The link
  then stays in the frame-reject condition and repeats the FRMR to every poll until SNRM
  (reset) or DISC.
- More I-frames than the receive window before a poll: those past the window are discarded
  (not acknowledged), so the client resends them after the RR that answers its poll.
- One connection at a time per physical device: an SNRM from another client, or to another
  logical device, while connected is answered DM and the connection goes on. A frame for a
  pair not connected is answered DM when it polls (Green Book: a station in NDM answers DM).
- Frames to another physical address or a logical device not hosted, and frames whose source
  is not a one-octet client address, get silence. A one-octet destination (no physical
  address) is accepted only with ``accept_one_octet_address`` (a point-to-point link). The
  all-station physical address (0x7F in two octets, 0x3FFF in four) is taken as this
  station's own only with ``accept_all_station_address``: on a point-to-point link (HDLC over
  TCP) one station hears it, so its answer collides with none, and a client that does not
  know the meter's address reaches it. On a bus (``rs485_bus.py``) every station takes it
  too: a broadcast without P is answered by none, a polled one by all, and they collide.
- A frame with P clear is acted on (an SNRM still connects, a DISC disconnects) but never
  answered: in NRM the secondary sends only when polled.
- A whole APDU that does not begin with the LLC header ``E6 E6 00`` is dropped (counted) and
  the poll answered with RR. UI frames from the client are counted and not delivered yet.
- An SNRM from the connected client resets the link (both counters to 0, anything half
  received or unsent dropped) and is reported as a disconnection then a connection: the
  DLMS association does not survive its data link connection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    InformationFrames,
    LinkParameters,
    control_i,
    control_s,
    control_u,
    decode_parameters,
    encode_frame_octets,
    encode_parameters,
)

__all__ = [
    "ALL_STATION_PHYSICAL",
    "LLC_COMMAND",
    "LLC_RESPONSE",
    "ApduReceived",
    "DisconnectReason",
    "HdlcServerLink",
    "LinkConnected",
    "LinkCounters",
    "LinkDisconnected",
    "LinkEvent",
    "LinkOutput",
    "LinkState",
    "ServerLinkSettings",
    "physical_address_for_serial",
]

LLC_COMMAND = b"\xe6\xe6\x00"  # destination LSAP E6, source LSAP E6 (command), quality 0
LLC_RESPONSE = b"\xe6\xe7\x00"  # source LSAP E7: a response
_LLC_LENGTH = 3
ALL_STATION_PHYSICAL = {2: 0x7F, 4: 0x3FFF}
"""The all-station (broadcast) lower HDLC address by address size (Green Book 8.4.2.5)."""
SERIAL_ADDRESS_BASE = 1000
SERIAL_ADDRESS_MODULUS = 10_000
_MIN_INFO_LIMIT = 32  # class 23 v1: max_info_field_length 32..2030
_MAX_INFO_LIMIT = 2030
_MAX_WINDOW = 7  # modulo-8 sequence numbers

# FRMR information field, third octet (ISO/IEC 13239 5.5.3.4.2, modulo 8)
_FRMR_W = 0x01  # control field undefined or not implemented
_FRMR_X = 0x02  # an information field not permitted with this control field
_FRMR_Y = 0x04  # information field longer than the receiver accepts
_FRMR_Z = 0x08  # an N(R) that is not valid
_POLL_FINAL = 0x10


class LinkState(Enum):
    NDM = "normal disconnected mode"
    NRM = "normal response mode"
    FRAME_REJECT = "frame reject condition"


# Looked up once: an Enum member read from its class costs a descriptor call on every read.
_NDM = LinkState.NDM
_NRM = LinkState.NRM


class DisconnectReason(Enum):
    DISC = "the client sent DISC"
    INACTIVITY = "the inactivity timeout passed"
    RESET = "the client sent SNRM again"


def physical_address_for_serial(serial: str) -> int:
    """The meter's physical (lower) HDLC address from its serial number, the IDIS rule:
    1000 + the serial's last four decimal digits (its digits read as one number, modulo
    10000), so 1000..10999: inside the four-octet address space (0x10..0x3FFD usable), clear
    of the reserved addresses, and the same number gurux's ``getServerAddressFromSerialNumber``
    computes. A serial without digits gives 1000 (docs/hdlc.md)."""
    digits = "".join(c for c in serial if c.isascii() and c.isdigit())[-4:]
    return SERIAL_ADDRESS_BASE + (int(digits) if digits else 0) % SERIAL_ADDRESS_MODULUS


@dataclass(frozen=True, slots=True)
class LinkConnected:
    client: int
    logical_device: int
    parameters: LinkParameters
    """As the server sees them: what it may send (transmit) and accepts (receive)."""


@dataclass(frozen=True, slots=True)
class LinkDisconnected:
    client: int
    logical_device: int
    reason: DisconnectReason


@dataclass(frozen=True, slots=True)
class ApduReceived:
    """A whole APDU from ``client`` (its HDLC address, the client SAP) for ``logical_device``
    (the server's upper HDLC address), the LLC header removed."""

    client: int
    logical_device: int
    apdu: bytes


LinkEvent = LinkConnected | LinkDisconnected | ApduReceived


@dataclass(frozen=True, slots=True)
class LinkOutput:
    transmit: bytes = b""
    events: tuple[LinkEvent, ...] = ()


# The slots of the two records every request on the fast path makes, set as the frozen
# classes' own __init__ sets them (object.__setattr__ is the slot's setter), without that
# __init__'s Python frames: a third of the cost (benchmarks/hdlc_server.py).
_new_record = object.__new__
_set_apdu_client = vars(ApduReceived)["client"].__set__
_set_apdu_logical_device = vars(ApduReceived)["logical_device"].__set__
_set_apdu_apdu = vars(ApduReceived)["apdu"].__set__
_set_output_transmit = vars(LinkOutput)["transmit"].__set__
_set_output_events = vars(LinkOutput)["events"].__set__


def _request_output(client: int, logical_device: int, apdu: bytes) -> LinkOutput:
    """``LinkOutput(b"", (ApduReceived(client, logical_device, apdu),))``, made faster."""
    event = _new_record(ApduReceived)
    _set_apdu_client(event, client)
    _set_apdu_logical_device(event, logical_device)
    _set_apdu_apdu(event, apdu)
    output = _new_record(LinkOutput)
    _set_output_transmit(output, b"")
    _set_output_events(output, (event,))
    return output


@dataclass(frozen=True, slots=True)
class ServerLinkSettings:
    """The server's side of the link, as class 23 (IEC HDLC setup, ``0.0.22.0.0.255``) holds it.

    ``max_info_*`` and ``window_*`` are the server's limits (attributes 3 to 6), the most it
    accepts in negotiation. ``inactivity_timeout`` (seconds, attribute 8; 0: none) returns an
    idle link to NDM; ``inter_octet_timeout`` (seconds, attribute 7; None: none) ends a frame
    the line stopped sending. Defaults are the Green Book's: 128, 1, 120 s, 25 ms.
    """

    physical_address: int
    logical_devices: frozenset[int] = frozenset({1})
    max_info_transmit: int = 128
    max_info_receive: int = 128
    window_transmit: int = 1
    window_receive: int = 1
    inactivity_timeout: float = 120.0
    inter_octet_timeout: float | None = 0.025
    accept_one_octet_address: bool = True
    accept_all_station_address: bool = False
    max_apdu_length: int = 0xFFFF

    def __post_init__(self) -> None:
        if not 0 <= self.physical_address <= 0x3FFF:
            raise ValueError(f"physical address {self.physical_address} is outside 0..16383")
        if not self.logical_devices or not all(0 <= d <= 0x3FFF for d in self.logical_devices):
            raise ValueError("logical devices must be addresses in 0..16383, at least one")
        for name in ("max_info_transmit", "max_info_receive"):
            value = getattr(self, name)
            if not _MIN_INFO_LIMIT <= value <= _MAX_INFO_LIMIT:
                raise ValueError(f"{name} {value} is outside {_MIN_INFO_LIMIT}..{_MAX_INFO_LIMIT}")
        for name in ("window_transmit", "window_receive"):
            value = getattr(self, name)
            if not 1 <= value <= _MAX_WINDOW:
                raise ValueError(f"{name} {value} is outside 1..{_MAX_WINDOW}")
        if self.inactivity_timeout < 0:
            raise ValueError("inactivity_timeout must be 0 (none) or positive")
        if self.max_apdu_length < 1:
            raise ValueError("max_apdu_length must be positive")


@dataclass(slots=True)
class LinkCounters:
    """What the link refused or dropped, beyond what its decoder counts (``link.decoder.stats``)."""

    other_address: int = 0
    ignored: int = 0
    out_of_sequence: int = 0
    window_overflow: int = 0
    retransmitted: int = 0
    frames_rejected: int = 0
    connections_refused: int = 0
    bad_llc: int = 0


class _Sent(NamedTuple):
    send_seq: int
    information: bytes
    segmented: bool


_new_sent = tuple.__new__  # _Sent(...) without its Python-level __new__ (the fast path)


class HdlcServerLink:
    """One physical device's HDLC link to its clients (see the module docstring).

    ``settings`` may be a function giving them (class 23's values, which a SET changes): it
    is asked again whenever the link is in NDM, so a change takes effect at the next SNRM
    (address, limits, timeouts) and a connection in progress keeps what it negotiated."""

    def __init__(self, settings: ServerLinkSettings | Callable[[], ServerLinkSettings]) -> None:
        self._settings_source = settings if callable(settings) else None
        self.settings = settings() if callable(settings) else settings
        self.decoder = HdlcDecoder(self.settings.inter_octet_timeout)
        self.counters = LinkCounters()
        self.state = LinkState.NDM
        self.parameters: LinkParameters | None = None
        self._client: HdlcAddress | None = None
        self._server: HdlcAddress | None = None  # as the client addressed it: replies use it
        self._send_seq = 0  # V(S)
        self._receive_seq = 0  # V(R)
        self._unacknowledged: deque[_Sent] = deque()
        self._unsent: deque[tuple[bytes, bool]] = deque()
        self._reassembly = bytearray()
        self._received_since_poll = 0
        self._holds_poll = False
        self._awaiting_response = False
        self._frmr_information = b""
        self._last_activity = 0.0
        self._request_addresses = b""  # destination and source as the client sent the SNRM
        self._answer_addresses = b""  # and the other way round, for every answer
        self._frames: InformationFrames | None = None  # the connection's I-frames, fast
        self._client_sap = 0  # the connected pair's upper addresses, for the fast path
        self._device_sap = 0
        self._apdu_at = 0  # where a whole request frame's APDU begins

    # --- the caller's side ---

    @property
    def client(self) -> int | None:
        """The connected client's address, None in NDM."""
        return None if self._client is None or self.state is _NDM else self._client.upper

    @property
    def deadline(self) -> float | None:
        """The earliest instant :meth:`poll` has something to do (a timeout), None: none."""
        decoder_deadline = self.decoder.deadline
        timeout = self.settings.inactivity_timeout  # _inactivity_deadline, inline: every read
        inactivity = None if self.state is _NDM or not timeout else self._last_activity + timeout
        if decoder_deadline is None or inactivity is None:
            return inactivity if decoder_deadline is None else decoder_deadline
        return min(decoder_deadline, inactivity)

    def receive(self, data: bytes | bytearray | memoryview, now: float) -> LinkOutput:
        """Take octets from the line at ``now``; never raises on any octets."""
        fast = self._receive_whole_request(data, now)
        if fast is not None:
            return fast
        events: list[LinkEvent] = []
        self._check_inactivity(now, events)
        transmit = bytearray()
        for frame in self.decoder.feed(data, now):
            transmit += self._handle(frame, now, events)
        return LinkOutput(bytes(transmit), tuple(events))

    def poll(self, now: float) -> LinkOutput:
        """Run the timeouts at ``now``: a frame the line stopped sending is ended, an idle
        connection returns to NDM (silently: no frame is sent)."""
        events: list[LinkEvent] = []
        transmit = bytearray()
        for frame in self.decoder.expire(now):
            transmit += self._handle(frame, now, events)
        self._check_inactivity(now, events)
        return LinkOutput(bytes(transmit), tuple(events))

    def respond(self, apdu: bytes | None) -> bytes:
        """Answer the APDU last received: the octets to send now (empty if the client has not
        polled yet: the answer then goes with its next poll). ``None``: no response APDU (an
        unconfirmed service); the poll is answered with RR. After the link dropped or reset,
        there is nothing to answer and nothing is sent."""
        if not self._awaiting_response:
            return b""
        self._awaiting_response = False
        if apdu is not None:
            assert self.parameters is not None  # awaiting a response only while connected
            at_once = self._send_whole_answer(apdu)
            if at_once is not None:
                return at_once
            self._queue(LLC_RESPONSE + apdu, self.parameters.max_info_transmit)
        return self._answer_poll() if self._holds_poll else b""

    # --- frames in ---

    def _receive_whole_request(
        self, data: bytes | bytearray | memoryview, now: float
    ) -> LinkOutput | None:
        """The common case at speed: ``data`` is exactly one I-frame of the connected pair, in
        sequence, with P set, carrying a whole request APDU, and nothing is pending. It is
        checked as the general path checks it (addresses as the SNRM sent them, N(S), N(R),
        HCS, FCS, lengths, LLC) and leaves the same state and output, without building a
        frame object. None, and nothing changed, for anything else: the general path then
        takes it."""
        frames, parameters = self._frames, self.parameters
        if (
            frames is None
            or parameters is None
            or self.state is not _NRM
            or self._awaiting_response
            or self._reassembly
            or not isinstance(data, bytes)  # a view or a bytearray may change under it
            or self._received_since_poll >= parameters.window_receive
        ):
            return None
        timeout = self.settings.inactivity_timeout
        if timeout and now >= self._last_activity + timeout:
            return None
        control = frames.request_control(data)
        if control < 0 or (control >> 1) & 7 != self._receive_seq:  # N(S)
            return None
        receive_seq = control >> 5
        unacknowledged = self._unacknowledged
        oldest = unacknowledged[0].send_seq if unacknowledged else self._send_seq
        if (receive_seq - oldest) % 8 > len(unacknowledged):
            return None  # N(R) acknowledges frames never sent: FRMR, on the general path
        if not self.decoder.take_whole_frame(now):  # a frame begun before: the decoder's
            return None
        self._last_activity = now
        self._receive_seq = (control >> 1) + 1 & 7
        if unacknowledged:  # a new request: what is left of the last answer is moot
            unacknowledged.clear()
        if self._unsent:
            self._unsent.clear()
        self._send_seq = receive_seq
        self._received_since_poll += 1
        self._awaiting_response = self._holds_poll = True
        return _request_output(self._client_sap, self._device_sap, data[self._apdu_at : -3])

    def _refresh_settings(self) -> None:
        """In NDM: take the settings in force now (class 23 may have changed)."""
        if self._settings_source is not None:
            settings = self._settings_source()
            if settings is not self.settings:
                self.settings = settings
                self.decoder.inter_octet_timeout = settings.inter_octet_timeout

    def _handle(self, frame: HdlcFrame, now: float, events: list[LinkEvent]) -> bytes:
        if self.state is LinkState.NDM:
            self._refresh_settings()
        if not self._addressed_to_us(frame.destination):
            self.counters.other_address += 1
            return b""
        if frame.source.size != 1:
            self.counters.ignored += 1
            return b""
        kind = frame.kind
        if self.state is LinkState.NDM or not self._is_connected_pair(frame):
            if kind is FrameType.SNRM and self.state is LinkState.NDM:
                return self._connect(frame, now, events)
            if kind is FrameType.SNRM:
                self.counters.connections_refused += 1
            return self._reply_u(frame, FrameType.DM) if frame.poll_final else b""
        self._last_activity = now
        if kind is FrameType.SNRM:
            self._drop(DisconnectReason.RESET, events)
            self._refresh_settings()
            if not self._addressed_to_us(frame.destination):  # an address changed meanwhile
                self.counters.other_address += 1
                return b""
            return self._connect(frame, now, events)
        if kind is FrameType.DISC:
            answer = self._reply_u(frame, FrameType.UA) if frame.poll_final else b""
            self._drop(DisconnectReason.DISC, events)
            return answer
        if self.state is LinkState.FRAME_REJECT:
            return self._send_frmr() if frame.poll_final else b""
        if kind is FrameType.I:
            return self._on_information(frame, events)
        if kind in (FrameType.RR, FrameType.RNR):
            return self._on_supervisory(frame)
        if kind is FrameType.UI:
            self.counters.ignored += 1
            return self._on_poll() if frame.poll_final else b""
        return self._reject(frame, _FRMR_W)  # REJ, SREJ, responses, undefined control fields

    def _on_information(self, frame: HdlcFrame, events: list[LinkEvent]) -> bytes:
        parameters = self.parameters
        assert parameters is not None and self._client is not None and self._server is not None
        if not self._acknowledge(frame.receive_seq):
            return self._reject(frame, _FRMR_Z)
        if len(frame.information) > parameters.max_info_receive:
            return self._reject(frame, _FRMR_Y)
        self._received_since_poll += 1
        if self._awaiting_response:
            self.counters.ignored += 1  # the client must wait for the answer to its request
        elif self._received_since_poll > parameters.window_receive:
            self.counters.window_overflow += 1
        elif frame.send_seq != self._receive_seq:
            self.counters.out_of_sequence += 1
        else:
            self._receive_seq = (self._receive_seq + 1) % 8
            if not self._reassembly:
                # A new request: what is left of the last answer is moot; numbering goes on
                # from the N(R) the client expects.
                self._unsent.clear()
                self._unacknowledged.clear()
                self._send_seq = frame.receive_seq
            self._reassembly += frame.information
            if len(self._reassembly) > self.settings.max_apdu_length + len(LLC_COMMAND):
                self._reassembly.clear()
                return self._reject(frame, _FRMR_Y)
            if not frame.segmented:
                apdu = bytes(self._reassembly)
                self._reassembly.clear()
                if apdu.startswith(LLC_COMMAND):
                    self._awaiting_response = True
                    client, device = self._client.upper, self._server.upper
                    events.append(ApduReceived(client, device, apdu[len(LLC_COMMAND) :]))
                else:
                    self.counters.bad_llc += 1
        return self._on_poll() if frame.poll_final else b""

    def _on_supervisory(self, frame: HdlcFrame) -> bytes:
        if frame.information:
            return self._reject(frame, _FRMR_W | _FRMR_X)
        if not self._acknowledge(frame.receive_seq):
            return self._reject(frame, _FRMR_Z)
        if not frame.poll_final:
            return b""
        if frame.kind is FrameType.RNR and not self._awaiting_response:
            self._received_since_poll = 0  # the client cannot take I-frames now: just RR
            return self._supervisory(FrameType.RR)
        return self._on_poll()

    def _on_poll(self) -> bytes:
        """A poll: answered now, or held while the upper layer prepares its response."""
        self._holds_poll = True
        return b"" if self._awaiting_response else self._answer_poll()

    # --- connection ---

    def _connect(self, frame: HdlcFrame, now: float, events: list[LinkEvent]) -> bytes:
        proposal = decode_parameters(frame.information)
        settings = self.settings
        if proposal is None or 0 in (
            proposal.max_info_transmit,
            proposal.max_info_receive,
            proposal.window_transmit,
            proposal.window_receive,
        ):
            self.counters.connections_refused += 1
            return self._reply_u(frame, FrameType.DM) if frame.poll_final else b""
        parameters = LinkParameters(
            max_info_transmit=min(proposal.max_info_receive, settings.max_info_transmit),
            max_info_receive=min(proposal.max_info_transmit, settings.max_info_receive),
            window_transmit=min(proposal.window_receive, settings.window_transmit),
            window_receive=min(proposal.window_transmit, settings.window_receive),
        )
        self._reset_sequence()
        self.state = LinkState.NRM
        self.parameters = parameters
        self._client = frame.source
        self._server = frame.destination
        self._request_addresses = frame.destination.encode() + frame.source.encode()
        self._answer_addresses = frame.source.encode() + frame.destination.encode()
        self._client_sap, self._device_sap = frame.source.upper, frame.destination.upper
        # after flag, format, addresses, control, HCS and LLC; FCS and flag after it
        self._apdu_at = 1 + 2 + len(self._request_addresses) + 1 + 2 + len(LLC_COMMAND)
        longest_information = min(
            parameters.max_info_receive, settings.max_apdu_length + len(LLC_COMMAND)
        )
        self._frames = InformationFrames(
            self._request_addresses,
            self._answer_addresses,
            LLC_COMMAND,
            LLC_RESPONSE,
            longest_request=self._apdu_at - len(LLC_COMMAND) + longest_information + 3,
        )
        self._last_activity = now
        events.append(LinkConnected(frame.source.upper, frame.destination.upper, parameters))
        if not frame.poll_final:
            return b""
        return self._reply_u(frame, FrameType.UA, encode_parameters(parameters))

    def _drop(self, reason: DisconnectReason, events: list[LinkEvent]) -> None:
        assert self._client is not None and self._server is not None
        events.append(LinkDisconnected(self._client.upper, self._server.upper, reason))
        self.state = LinkState.NDM
        self.parameters = None
        self._reset_sequence()

    def _reset_sequence(self) -> None:
        self._send_seq = self._receive_seq = 0
        self._unacknowledged.clear()
        self._unsent.clear()
        self._reassembly.clear()
        self._received_since_poll = 0
        self._holds_poll = False
        self._awaiting_response = False

    def _inactivity_deadline(self) -> float | None:
        if self.state is _NDM or not self.settings.inactivity_timeout:
            return None
        return self._last_activity + self.settings.inactivity_timeout

    def _check_inactivity(self, now: float, events: list[LinkEvent]) -> None:
        deadline = self._inactivity_deadline()
        if deadline is not None and now >= deadline:
            self._drop(DisconnectReason.INACTIVITY, events)

    def _addressed_to_us(self, destination: HdlcAddress) -> bool:
        settings = self.settings
        if destination.upper not in settings.logical_devices:
            return False
        if destination.lower is None:
            return settings.accept_one_octet_address
        if destination.lower == settings.physical_address:
            return True
        return (
            settings.accept_all_station_address
            and destination.lower == ALL_STATION_PHYSICAL[destination.size]
        )

    def _is_connected_pair(self, frame: HdlcFrame) -> bool:
        client, server = self._client, self._server
        return (
            client is not None
            and server is not None
            and frame.source.upper == client.upper
            and frame.destination.upper == server.upper
        )

    # --- sequence numbers ---

    def _acknowledge(self, receive_seq: int) -> bool:
        """Take the client's N(R): frames before it are acknowledged. False when N(R) is not
        between the oldest frame unacknowledged and V(S) (it acknowledges frames never sent)."""
        oldest = self._unacknowledged[0].send_seq if self._unacknowledged else self._send_seq
        count = (receive_seq - oldest) % 8
        if count > len(self._unacknowledged):
            return False
        for _ in range(count):
            self._unacknowledged.popleft()
        return True

    # --- frames out ---

    def _queue(self, information: bytes, segment_size: int) -> None:
        for start in range(0, len(information), segment_size):
            last = start + segment_size >= len(information)
            self._unsent.append((information[start : start + segment_size], not last))

    def _answer_poll(self) -> bytes:
        """The frames a poll is owed: what the client has not acknowledged, else the next
        segments (up to the transmit window), else RR; the last carries F."""
        assert self.parameters is not None
        self._holds_poll = False
        self._received_since_poll = 0
        if self._unacknowledged:
            self.counters.retransmitted += len(self._unacknowledged)
            burst = list(self._unacknowledged)
        else:
            burst = []
            while self._unsent and len(burst) < self.parameters.window_transmit:
                information, segmented = self._unsent.popleft()
                burst.append(_Sent(self._send_seq, information, segmented))
                self._send_seq = (self._send_seq + 1) % 8
            self._unacknowledged.extend(burst)
        if not burst:
            return self._supervisory(FrameType.RR)
        out = bytearray()
        for index, sent in enumerate(burst):
            final = index == len(burst) - 1
            control = control_i(sent.send_seq, self._receive_seq, final)
            out += self._frame(control, sent.information, sent.segmented)
        return bytes(out)

    def _send_whole_answer(self, apdu: bytes) -> bytes | None:
        """What queueing then :meth:`_answer_poll` sends for an answer in one frame to a poll
        held, with nothing else owed, straight: the one I-frame, with F, kept until the client
        acknowledges it. None, and nothing changed, in any other case."""
        parameters, frames, unacknowledged = self.parameters, self._frames, self._unacknowledged
        if (
            parameters is None
            or frames is None
            or not self._holds_poll
            or len(apdu) + _LLC_LENGTH > parameters.max_info_transmit
            or unacknowledged
            or self._unsent
        ):
            return None
        send_seq = self._send_seq
        self._holds_poll = False
        self._received_since_poll = 0
        unacknowledged.append(_new_sent(_Sent, (send_seq, LLC_RESPONSE + apdu, False)))
        self._send_seq = send_seq + 1 & 7
        control = self._receive_seq << 5 | _POLL_FINAL | send_seq << 1  # control_i, F set
        return frames.encode_answer(control, apdu)

    def _reject(self, frame: HdlcFrame, reasons: int) -> bytes:
        """Enter the frame-reject condition (Green Book 8.4.3.4); FRMR at once if polled."""
        self.counters.frames_rejected += 1
        self.state = LinkState.FRAME_REJECT
        self._unsent.clear()
        self._reassembly.clear()
        self._awaiting_response = False
        self._frmr_information = bytes(
            [frame.control, self._receive_seq << 5 | self._send_seq << 1, reasons]
        )
        return self._send_frmr() if frame.poll_final else b""

    def _send_frmr(self) -> bytes:
        self._holds_poll = False
        return self._frame(control_u(FrameType.FRMR, True), self._frmr_information)

    def _supervisory(self, kind: FrameType) -> bytes:
        return self._frame(control_s(kind, self._receive_seq, True))

    def _frame(self, control: int, information: bytes = b"", segmented: bool = False) -> bytes:
        return encode_frame_octets(self._answer_addresses, control, information, segmented)

    @staticmethod
    def _reply_u(frame: HdlcFrame, kind: FrameType, information: bytes = b"") -> bytes:
        """An unnumbered answer to ``frame``, whoever sent it (F as its P)."""
        control = control_u(kind, frame.poll_final)
        return HdlcFrame(frame.source, frame.destination, control, information).encode()
