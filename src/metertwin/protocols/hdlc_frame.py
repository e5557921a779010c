"""HDLC frames of IEC 62056-46 (Green Book 8.4), sans-IO: the frame codec and a stream decoder.

A frame is ``7E | format | destination | source | control | [HCS | information] | FCS | 7E``
(protocols.md, "HDLC"). The format field is frame format type 3: ``0xA`` in its top nibble,
the segmentation bit, then an 11-bit length counting every octet between the flags. HCS and
FCS are CRC-16/X.25, the FCS-16 of RFC 1662, sent least significant octet first; HCS covers
format, addresses and control and is present only when there is an information field.

DLMS HDLC does no byte stuffing: a frame is delimited by its length, and 0x7E may occur inside
it. So :class:`HdlcDecoder` never trusts a flag alone: it accepts a frame only when the
length lands on a closing flag and both check sequences are right, and otherwise looks for
the next flag after the one it tried. Anything else (garbage, a frame cut short, a wrong
check sequence) is dropped silently and counted, as the standard asks of a secondary
station: a frame it cannot read gets no answer.
"""

from __future__ import annotations

import struct
from binascii import crc_hqx
from dataclasses import dataclass, field
from enum import Enum

from metertwin.protocols import FramingError

__all__ = [
    "FLAG",
    "MAX_FRAME_LENGTH",
    "DecodeFailure",
    "DecoderStats",
    "FrameType",
    "HdlcAddress",
    "HdlcDecoder",
    "HdlcFrame",
    "HdlcFrameError",
    "InformationFrames",
    "LinkParameters",
    "check_sequence_failure",
    "control_i",
    "control_s",
    "control_u",
    "decode_frame",
    "decode_parameters",
    "encode_frame_octets",
    "encode_parameters",
    "fcs16",
    "parse_frame_body",
]

FLAG = 0x7E
MAX_FRAME_LENGTH = 0x7FF  # the 11-bit length of frame format type 3
_FORMAT_TYPE_3 = 0xA000
_SEGMENTATION_BIT = 0x0800
_MIN_FRAME_LENGTH = 7  # format 2 + destination 1 + source 1 + control 1 + FCS 2
_POLL_FINAL = 0x10


# CRC-16/X.25 is the reflected CRC-CCITT (poly 0x1021, init 0xFFFF, xorout 0xFFFF, input and
# output reflected). binascii.crc_hqx is the same CRC unreflected, in C: reflecting every input
# octet, running crc_hqx from 0xFFFF (its own reflection) and reflecting the 16-bit result gives
# the reflected CRC, as a reflected CRC is the plain one seen in a mirror (tests prove it against
# a bitwise reference). The state between crc_hqx calls stays unreflected, so a CRC can go on
# from a part's state; and the state after octets followed by their own FCS is always the
# residue (RFC 1662's good FCS 0xF0B8, reflected), which is how a check sequence is checked.
_REVERSED_OCTET = bytes(int(f"{octet:08b}"[::-1], 2) for octet in range(256))
_REVERSED_COMPLEMENT = bytes(reversed_octet ^ 0xFF for reversed_octet in _REVERSED_OCTET)
_CRC_INIT = 0xFFFF
_RESIDUE = 0x1D0F  # 0xF0B8 with its 16 bits reversed


def _crc_state(data: bytes | bytearray | memoryview, state: int = _CRC_INIT) -> int:
    """The unreflected crc_hqx state after ``data`` (bit-reversed octet by octet) from ``state``."""
    if isinstance(data, memoryview):
        data = data.tobytes()
    return crc_hqx(data.translate(_REVERSED_OCTET), state)


def _wire_fcs(state: int) -> bytes:
    """The two octets, least significant first, of the CRC-16/X.25 whose crc_hqx state this is:
    the state reflected to 16 bits and complemented, written LSB first."""
    return state.to_bytes(2, "big").translate(_REVERSED_COMPLEMENT)


def fcs16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X.25 of ``data`` (RFC 1662 FCS-16: reflected 0x8408, init and xorout 0xFFFF).

    The value goes on the wire least significant octet first (``value.to_bytes(2, "little")``).
    """
    return int.from_bytes(_wire_fcs(_crc_state(data)), "little")


def check_sequence_failure(body: bytes | bytearray, header_end: int) -> DecodeFailure | None:
    """What is wrong with the HCS (at ``header_end``) or FCS (the last two octets) of ``body``,
    a frame between its flags with an information field; None: both right. The whole body is
    reflected once; each check sequence is right when the CRC state after it is the residue."""
    reflected = body.translate(_REVERSED_OCTET)
    hcs_end = header_end + 2
    if crc_hqx(reflected[:hcs_end], _CRC_INIT) != _RESIDUE:
        return DecodeFailure.BAD_HCS
    if crc_hqx(reflected[hcs_end:], _RESIDUE) != _RESIDUE:  # header and HCS: the residue
        return DecodeFailure.BAD_FCS
    return None


def encode_frame_octets(
    addresses: bytes, control: int, information: bytes = b"", segmented: bool = False
) -> bytes:
    """A frame with both flags from its encoded addresses (destination then source), control
    octet and information field; the codec of :meth:`HdlcFrame.encode`, and the link's for
    answers whose addresses it encoded once per connection."""
    length = 2 + len(addresses) + 1 + 2 + (len(information) + 2 if information else 0)
    format_field = _FORMAT_TYPE_3 | (_SEGMENTATION_BIT if segmented else 0) | length
    header = bytes((format_field >> 8, format_field & 0xFF)) + addresses + bytes((control,))
    check = _wire_fcs(crc_hqx(header.translate(_REVERSED_OCTET), _CRC_INIT))
    if not information:
        return b"".join((b"\x7e", header, check, b"\x7e"))
    # FCS: header and HCS leave the residue; the information field goes on from there
    fcs = _wire_fcs(_crc_state(information, _RESIDUE))
    return b"".join((b"\x7e", header, check, information, fcs, b"\x7e"))


# --- I-frames of one connection, their openings cached ---------------------------------------

_pack_state_and_octet = struct.Struct(">HB").pack  # cheaper than int.to_bytes per frame
_OPENINGS_CACHED = 1024  # 8 x 8 control octets x 16 lengths; more, and the cache starts again


@dataclass(slots=True)
class InformationFrames:
    """The I-frames of one connection, both ways, at speed: every request has the same
    addresses and LLC header (``request_addresses``, ``request_lead``), every answer its own
    (``answer_addresses``, ``answer_lead``); only the control octet (N(S), N(R) modulo 8,
    P/F) and the length change. So the opening of a frame (flag, format, addresses, control,
    HCS and the LLC header) is computed once per control octet and length and looked up
    after, and a frame costs one CRC over what follows its LLC header. The same octets as
    :func:`encode_frame_octets` and the same checks as :func:`parse_frame_body`. Equal when
    made of the same addresses and headers: the cache is no part of the value."""

    request_addresses: bytes
    answer_addresses: bytes
    request_lead: bytes
    answer_lead: bytes
    longest_request: int = MAX_FRAME_LENGTH + 2
    """The longest request frame taken, flags included (the link's negotiated limits)."""
    _answer_openings: dict[int, bytes] = field(default_factory=dict, compare=False, repr=False)
    _request_sizes: dict[bytes, int] = field(default_factory=dict, compare=False, repr=False)
    _request_state: int = field(default=0, compare=False, repr=False)
    _answer_state: int = field(default=0, compare=False, repr=False)
    _request_opening_size: int = field(default=0, compare=False, repr=False)
    _request_control_at: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        # header and HCS leave the residue; the LLC header goes on from there
        self._request_state = _crc_state(self.request_lead, _RESIDUE)
        self._answer_state = _crc_state(self.answer_lead, _RESIDUE)
        self._request_opening_size = 6 + len(self.request_addresses) + len(self.request_lead)
        self._request_control_at = 3 + len(self.request_addresses)

    def encode_answer(self, control: int, body: bytes) -> bytes:
        """``encode_frame_octets(answer_addresses, control, answer_lead + body)``. The caller
        keeps the frame within :data:`MAX_FRAME_LENGTH` (a negotiated information field
        does)."""
        key = len(body) << 8 | control
        opening = self._answer_openings.get(key)
        if opening is None:
            opening = self._answer_opening(key)
        state = crc_hqx(body.translate(_REVERSED_OCTET), self._answer_state)
        # The FCS octets then the closing flag in one translation: 0x81 is the octet that
        # the reflect-and-complement table turns into the flag 0x7E.
        closing = _pack_state_and_octet(state, 0x81).translate(_REVERSED_COMPLEMENT)
        return b"".join((opening, body, closing))

    def request_control(self, data: bytes) -> int:
        """The control octet of ``data`` when it is exactly one whole frame, flags included,
        to ``request_addresses``: format type 3 not segmented, an I-frame with P, HCS and FCS
        right, its information field beginning with ``request_lead``, no longer than
        ``longest_request``; -1 when it is anything else (the frame decoder then has it)."""
        opening_size = self._request_opening_size
        size = self._request_sizes.get(data[:opening_size])
        if size is None:
            size = self._request_size(data[:opening_size])
        if (
            not size
            or size != len(data)
            or data[-1] != FLAG
            or crc_hqx(data[opening_size:-1].translate(_REVERSED_OCTET), self._request_state)
            != _RESIDUE
        ):
            return -1
        return data[self._request_control_at]

    def _answer_opening(self, key: int) -> bytes:
        """The opening for ``len(body) << 8 | control``, remembered."""
        lead = self.answer_lead
        information = (key >> 8) + len(lead)
        opening = _information_opening(self.answer_addresses, key & 0xFF, information, lead)
        if len(self._answer_openings) >= _OPENINGS_CACHED:
            self._answer_openings.clear()
        self._answer_openings[key] = opening
        return opening

    def _request_size(self, opening: bytes) -> int:
        """The size (flags included) of the frame ``opening`` begins, when it is a request's
        opening (an I-frame with P, the HCS right); 0 when it is not. Openings remembered."""
        addresses, lead = self.request_addresses, self.request_lead
        size = 0
        if len(opening) == self._request_opening_size:
            length = ((opening[1] & 0x07) << 8 | opening[2]) + 2  # the 11-bit length, flags
            control = opening[3 + len(addresses)]
            information = length - 9 - len(addresses)  # less flags, header, HCS and FCS
            if (
                control & 0x11 == _POLL_FINAL  # an I-frame with P
                and information >= len(lead)
                and length <= self.longest_request
                and _information_opening(addresses, control, information, lead) == opening
            ):
                size = length
        if len(self._request_sizes) >= _OPENINGS_CACHED:
            self._request_sizes.clear()
        self._request_sizes[opening] = size
        return size


def _information_opening(addresses: bytes, control: int, length: int, lead: bytes) -> bytes:
    """Flag, format (type 3, not segmented), addresses, control, HCS and ``lead`` of a frame
    whose information field (``lead`` included) has ``length`` octets."""
    frame_length = 2 + len(addresses) + 1 + 2 + length + 2
    header = (_FORMAT_TYPE_3 | frame_length).to_bytes(2, "big") + addresses + bytes((control,))
    check = _wire_fcs(crc_hqx(header.translate(_REVERSED_OCTET), _CRC_INIT))
    return b"\x7e" + header + check + lead


class HdlcFrameError(FramingError):
    """Octets that are not one valid HDLC frame (only :func:`decode_frame` raises it)."""

    def __init__(self, failure: DecodeFailure) -> None:
        super().__init__(failure.value)
        self.failure = failure


class DecodeFailure(Enum):
    """Why octets between two flags are not a frame; the decoder counts each."""

    MALFORMED = "malformed frame (format, length, addresses or flags)"
    BAD_HCS = "wrong header check sequence"
    BAD_FCS = "wrong frame check sequence"


# --- addresses -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HdlcAddress:
    """An HDLC address as it goes on the wire (Green Book 8.4.2.2).

    Each octet carries 7 address bits above an extension bit (LSB), 1 only in the last octet.
    A client address is one octet. A server address is one octet (the upper, logical device
    address only), two (upper and lower, 7 bits each) or four (14 bits each); the lower
    address is the physical device. ``size`` is kept so a reply uses the form it was asked in.
    """

    upper: int
    lower: int | None = None
    size: int = 1

    def __post_init__(self) -> None:
        if self.size == 1:
            if self.lower is not None:
                raise ValueError("a one-octet HDLC address has no lower address")
            limit = 0x7F
        elif self.size in (2, 4):
            if self.lower is None:
                raise ValueError(f"a {self.size}-octet HDLC address needs a lower address")
            limit = 0x7F if self.size == 2 else 0x3FFF
            if not 0 <= self.lower <= limit:
                raise ValueError(f"lower HDLC address {self.lower} is outside 0..{limit}")
        else:
            raise ValueError(f"an HDLC address has 1, 2 or 4 octets, not {self.size}")
        if not 0 <= self.upper <= limit:
            raise ValueError(f"upper HDLC address {self.upper} is outside 0..{limit}")

    @classmethod
    def server(cls, logical: int, physical: int, size: int | None = None) -> HdlcAddress:
        """A server address; without ``size``, two octets when both parts fit, else four."""
        if size is None:
            size = 2 if logical <= 0x7F and physical <= 0x7F else 4
        return cls(logical, physical, size)

    def encode(self) -> bytes:
        if self.size == 1:
            return bytes([(self.upper << 1) | 1])
        assert self.lower is not None  # checked in __post_init__
        if self.size == 2:
            return bytes([self.upper << 1, (self.lower << 1) | 1])
        return bytes(
            [
                (self.upper >> 7) << 1,
                (self.upper & 0x7F) << 1,
                (self.lower >> 7) << 1,
                ((self.lower & 0x7F) << 1) | 1,
            ]
        )


def _parse_address(body: bytes | bytearray, start: int, end: int) -> HdlcAddress | None:
    """The address at ``body[start:]`` ending before ``end``, or None when it is not one."""
    for size in range(1, 5):
        index = start + size - 1
        if index >= end:
            return None
        if body[index] & 1:
            break
    else:
        return None
    octets = body[start : start + size]
    if size == 1:
        return HdlcAddress(octets[0] >> 1)
    if size == 2:
        return HdlcAddress(octets[0] >> 1, octets[1] >> 1, 2)
    if size == 4:
        upper = (octets[0] >> 1) << 7 | octets[1] >> 1
        lower = (octets[2] >> 1) << 7 | octets[3] >> 1
        return HdlcAddress(upper, lower, 4)
    return None  # three octets: no such address form


# --- control field -------------------------------------------------------------------------


class FrameType(Enum):
    """The frames of the control field (Green Book 8.4.3.3, ISO/IEC 13239), by their type."""

    I = "I"  # noqa: E741 - the standard's name of the information frame
    RR = "RR"
    RNR = "RNR"
    REJ = "REJ"
    SREJ = "SREJ"
    SNRM = "SNRM"
    DISC = "DISC"
    UA = "UA"
    DM = "DM"
    FRMR = "FRMR"
    UI = "UI"
    UNKNOWN = "unknown"


_SUPERVISORY = {0x00: FrameType.RR, 0x04: FrameType.RNR, 0x08: FrameType.REJ, 0x0C: FrameType.SREJ}
_SUPERVISORY_CODE = {kind: code | 0x01 for code, kind in _SUPERVISORY.items()}
_UNNUMBERED = {
    0x83: FrameType.SNRM,
    0x43: FrameType.DISC,
    0x63: FrameType.UA,
    0x0F: FrameType.DM,
    0x87: FrameType.FRMR,
    0x03: FrameType.UI,
}
_UNNUMBERED_CODE = {kind: code for code, kind in _UNNUMBERED.items()}


def control_i(send_seq: int, receive_seq: int, poll_final: bool) -> int:
    """The control octet of an I-frame: ``RRR P SSS 0`` (N(R), P/F, N(S))."""
    return (receive_seq & 7) << 5 | (_POLL_FINAL if poll_final else 0) | (send_seq & 7) << 1


def control_s(kind: FrameType, receive_seq: int, poll_final: bool) -> int:
    """The control octet of RR, RNR, REJ or SREJ: ``RRR P xx 01``."""
    return (receive_seq & 7) << 5 | (_POLL_FINAL if poll_final else 0) | _SUPERVISORY_CODE[kind]


def control_u(kind: FrameType, poll_final: bool) -> int:
    """The control octet of SNRM, DISC, UA, DM, FRMR or UI: ``MMM P MM 11``."""
    return _UNNUMBERED_CODE[kind] | (_POLL_FINAL if poll_final else 0)


# --- frames --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HdlcFrame:
    """One HDLC frame; ``control`` is the raw octet, read through the properties below."""

    destination: HdlcAddress
    source: HdlcAddress
    control: int
    information: bytes = b""
    segmented: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.control <= 0xFF:
            raise ValueError(f"control octet {self.control} is outside 0..255")
        if self.length > MAX_FRAME_LENGTH:
            raise ValueError(f"an HDLC frame has at most {MAX_FRAME_LENGTH} octets")

    @property
    def length(self) -> int:
        """The format field's length: every octet between the flags."""
        header = 2 + self.destination.size + self.source.size + 1
        return header + 2 + (len(self.information) + 2 if self.information else 0)

    @property
    def kind(self) -> FrameType:
        control = self.control
        if not control & 1:
            return FrameType.I
        if control & 3 == 1:
            return _SUPERVISORY[control & 0x0C]
        return _UNNUMBERED.get(control & ~_POLL_FINAL, FrameType.UNKNOWN)

    @property
    def poll_final(self) -> bool:
        return bool(self.control & _POLL_FINAL)

    @property
    def send_seq(self) -> int:
        """N(S) of an I-frame."""
        return (self.control >> 1) & 7

    @property
    def receive_seq(self) -> int:
        """N(R) of an I- or supervisory frame."""
        return self.control >> 5

    def encode(self) -> bytes:
        """The frame with both flags."""
        addresses = self.destination.encode() + self.source.encode()
        return encode_frame_octets(addresses, self.control, self.information, self.segmented)


def parse_frame_body(body: bytes | bytearray) -> HdlcFrame | DecodeFailure:
    """The frame whose octets between the flags are ``body``, or why it is not one.

    Never raises: every octet string gives a frame or a :class:`DecodeFailure`.
    """
    length = len(body)
    if length < _MIN_FRAME_LENGTH or length > MAX_FRAME_LENGTH:
        return DecodeFailure.MALFORMED
    format_field = body[0] << 8 | body[1]
    if format_field & 0xF000 != _FORMAT_TYPE_3 or format_field & MAX_FRAME_LENGTH != length:
        return DecodeFailure.MALFORMED
    header_end = length - 3  # at least control and FCS follow the addresses
    destination = _parse_address(body, 2, header_end)
    if destination is None:
        return DecodeFailure.MALFORMED
    source = _parse_address(body, 2 + destination.size, header_end)
    if source is None:
        return DecodeFailure.MALFORMED
    control_at = 2 + destination.size + source.size
    header_end = control_at + 1
    rest = length - header_end
    if rest == 2:
        information = b""
        if fcs16(body[: length - 2]) != body[length - 2] | body[length - 1] << 8:
            return DecodeFailure.BAD_FCS
    elif rest >= 4:
        failure = check_sequence_failure(body, header_end)
        if failure is not None:
            return failure
        information = bytes(body[header_end + 2 : length - 2])
    else:
        return DecodeFailure.MALFORMED
    segmented = bool(format_field & _SEGMENTATION_BIT)
    return HdlcFrame(destination, source, body[control_at], information, segmented)


def decode_frame(data: bytes | bytearray) -> HdlcFrame:
    """The one frame ``data`` holds, flags included; :class:`HdlcFrameError` if it is not."""
    if len(data) < 2 or data[0] != FLAG or data[-1] != FLAG:
        raise HdlcFrameError(DecodeFailure.MALFORMED)
    result = parse_frame_body(data[1:-1])
    if isinstance(result, DecodeFailure):
        raise HdlcFrameError(result)
    return result


# --- the stream decoder --------------------------------------------------------------------


@dataclass(slots=True)
class DecoderStats:
    """What the decoder dropped, for diagnostics (the standard has a secondary stay silent)."""

    frames: int = 0
    malformed: int = 0
    bad_hcs: int = 0
    bad_fcs: int = 0
    discarded_octets: int = 0
    inter_octet_timeouts: int = 0


class HdlcDecoder:
    """Finds HDLC frames in a byte stream, however it is cut or soiled.

    ``feed`` takes any octets (a frame split at every octet, several frames in one read,
    frames sharing a flag, garbage between them) and returns the frames completed, in order.
    It never raises. ``inter_octet_timeout`` (seconds, None: none) is Green Book's
    inter_octet_time_out of class 23: a frame still incomplete that long after its last octet
    is given up, and the octets after its opening flag are searched again for frames, so a
    false start (garbage that looked like a long frame) cannot hide a real frame behind it.
    """

    def __init__(self, inter_octet_timeout: float | None = None) -> None:
        if inter_octet_timeout is not None and not inter_octet_timeout > 0:
            raise ValueError(f"inter_octet_timeout must be positive or None: {inter_octet_timeout}")
        self.inter_octet_timeout = inter_octet_timeout
        self.stats = DecoderStats()
        self._buffer = bytearray()
        self._last_octet_at = 0.0

    @property
    def pending(self) -> int:
        """Octets kept for a frame not yet complete."""
        return len(self._buffer)

    @property
    def deadline(self) -> float | None:
        """When the octets pending fall to the inter-octet timeout (None: nothing to expire;
        a lone flag kept to open the next frame is not a frame begun)."""
        if len(self._buffer) <= 1 or self.inter_octet_timeout is None:
            return None
        return self._last_octet_at + self.inter_octet_timeout

    @property
    def idle(self) -> bool:
        """Whether no frame is begun: the buffer is empty or holds the lone flag a frame left."""
        return len(self._buffer) <= 1

    def take_whole_frame(self, now: float) -> bool:
        """When no frame is begun (:attr:`idle`), account for one whole frame (both flags) that
        the caller read past the decoder (the link's fast path), leaving the state
        :meth:`feed` would leave, its closing flag kept; True. False, and nothing changed,
        when a frame is begun: the octets are the decoder's to feed then."""
        buffer = self._buffer
        if len(buffer) > 1:
            return False
        self.stats.frames += 1
        self._last_octet_at = now
        if not buffer:  # else it holds the lone flag already
            buffer.append(FLAG)
        return True

    def expire(self, now: float) -> list[HdlcFrame]:
        """Give up the frame pending if its inter-octet timeout has passed at ``now``; return
        any frames found in the octets it held."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return []
        self.stats.inter_octet_timeouts += 1
        return self._scan(give_up_pending=True)

    def feed(self, data: bytes | bytearray | memoryview, now: float = 0.0) -> list[HdlcFrame]:
        """Every frame completed by ``data``, in order; ``now`` is the caller's clock."""
        frames = self.expire(now)
        if data:
            self._buffer += data
            self._last_octet_at = now
            frames += self._scan(give_up_pending=False)
        return frames

    def _scan(self, give_up_pending: bool) -> list[HdlcFrame]:
        buffer = self._buffer
        stats = self.stats
        frames: list[HdlcFrame] = []
        size = len(buffer)
        position = 0  # where to look for the next opening flag
        keep_from = size  # what stays in the buffer once the scan ends
        while True:
            start = buffer.find(FLAG, position)
            if start < 0:
                stats.discarded_octets += size - position
                break
            stats.discarded_octets += start - position
            while start + 1 < size and buffer[start + 1] == FLAG:
                start += 1  # flags back to back: an idle line, or a closing then an opening flag
            if start + 2 >= size:
                if give_up_pending:
                    stats.discarded_octets += size - start
                    break
                keep_from = start
                break
            format_field = buffer[start + 1] << 8 | buffer[start + 2]
            length = format_field & MAX_FRAME_LENGTH
            if format_field & 0xF000 != _FORMAT_TYPE_3 or length < _MIN_FRAME_LENGTH:
                stats.malformed += 1
                position = start + 1
                continue
            end = start + 1 + length  # where the closing flag must be
            if end >= size:
                if give_up_pending:  # nothing more is coming: search on after this flag
                    stats.malformed += 1
                    position = start + 1
                    continue
                keep_from = start
                break
            if buffer[end] != FLAG:
                stats.malformed += 1
                position = start + 1
                continue
            result = parse_frame_body(buffer[start + 1 : end])
            if isinstance(result, HdlcFrame):
                stats.frames += 1
                frames.append(result)
                position = end  # the closing flag may open the next frame
                continue
            if result is DecodeFailure.BAD_HCS:
                stats.bad_hcs += 1
            elif result is DecodeFailure.BAD_FCS:
                stats.bad_fcs += 1
            else:
                stats.malformed += 1
            position = start + 1
        del buffer[:keep_from]
        return frames


# --- SNRM / UA parameters ------------------------------------------------------------------

_FORMAT_IDENTIFIER = 0x81
_GROUP_IDENTIFIER = 0x80
_MAX_INFO_TRANSMIT = 0x05
_MAX_INFO_RECEIVE = 0x06
_WINDOW_TRANSMIT = 0x07
_WINDOW_RECEIVE = 0x08


@dataclass(frozen=True, slots=True)
class LinkParameters:
    """The HDLC parameters of an SNRM or UA information field, seen by the frame's sender.

    Green Book 8.4.5.3.2: the defaults (an absent parameter, or no information field) are 128
    octets each way and a window of 1 frame.
    """

    max_info_transmit: int = 128
    max_info_receive: int = 128
    window_transmit: int = 1
    window_receive: int = 1
    extra: tuple[tuple[int, bytes], ...] = ()
    """Parameters of the group with other identifiers, kept as they came (ignored)."""


def _minimal_octets(value: int) -> bytes:
    length = 1 if value <= 0xFF else 2 if value <= 0xFFFF else 4
    return value.to_bytes(length, "big")


def encode_parameters(parameters: LinkParameters) -> bytes:
    """The information field ``81 80 <length> {id length value}``, values in fewest octets."""
    group = b""
    for identifier, value in (
        (_MAX_INFO_TRANSMIT, parameters.max_info_transmit),
        (_MAX_INFO_RECEIVE, parameters.max_info_receive),
        (_WINDOW_TRANSMIT, parameters.window_transmit),
        (_WINDOW_RECEIVE, parameters.window_receive),
    ):
        octets = _minimal_octets(value)
        group += bytes([identifier, len(octets)]) + octets
    return bytes([_FORMAT_IDENTIFIER, _GROUP_IDENTIFIER, len(group)]) + group


def decode_parameters(information: bytes) -> LinkParameters | None:
    """The parameters of an SNRM/UA information field (empty: the defaults); None when the
    field is not ``81 80 <length>`` followed by exactly that many octets of whole parameters.
    """
    if not information:
        return LinkParameters()
    if len(information) < 3 or information[:2] != bytes([_FORMAT_IDENTIFIER, _GROUP_IDENTIFIER]):
        return None
    if information[2] != len(information) - 3:
        return None
    values: dict[int, int] = {}
    extra: list[tuple[int, bytes]] = []
    index = 3
    while index < len(information):
        if index + 2 > len(information):
            return None
        identifier, length = information[index], information[index + 1]
        value = information[index + 2 : index + 2 + length]
        if len(value) != length:
            return None
        index += 2 + length
        if identifier in (_MAX_INFO_TRANSMIT, _MAX_INFO_RECEIVE, _WINDOW_TRANSMIT, _WINDOW_RECEIVE):
            if not 1 <= length <= 4:
                return None
            values[identifier] = int.from_bytes(value, "big")
        else:
            extra.append((identifier, bytes(value)))
    defaults = LinkParameters()
    return LinkParameters(
        values.get(_MAX_INFO_TRANSMIT, defaults.max_info_transmit),
        values.get(_MAX_INFO_RECEIVE, defaults.max_info_receive),
        values.get(_WINDOW_TRANSMIT, defaults.window_transmit),
        values.get(_WINDOW_RECEIVE, defaults.window_receive),
        tuple(extra),
    )
