"""The HDLC link's fast path (a whole request in one I-frame, an answer in one frame) against
the general path: for any exchange, both give the same octets, events and state."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocols.hdlc_vectors import CLIENT, SERVER

from metertwin.protocols import hdlc_frame
from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcDecoder,
    HdlcFrame,
    InformationFrames,
    LinkParameters,
    control_i,
    control_s,
    control_u,
    decode_frame,
    encode_frame_octets,
    encode_parameters,
)
from metertwin.protocols.hdlc_link import (
    LLC_COMMAND,
    LLC_RESPONSE,
    ApduReceived,
    HdlcServerLink,
    LinkOutput,
    ServerLinkSettings,
)

SETTINGS = ServerLinkSettings(
    physical_address=17,
    window_receive=2,
    window_transmit=2,
    inactivity_timeout=30.0,
    max_apdu_length=12,
)


class GeneralOnlyLink(HdlcServerLink):
    """The link with both fast paths turned off: every frame through decoder and ``_handle``."""

    def _receive_whole_request(self, data: Any, now: float) -> LinkOutput | None:
        return None

    def _send_whole_answer(self, information: bytes) -> bytes | None:
        return None


def frame(control: int, information: bytes = b"", segmented: bool = False) -> bytes:
    return HdlcFrame(SERVER, CLIENT, control, information, segmented).encode()


def state_of(link: HdlcServerLink) -> dict[str, Any]:
    """Everything the link and its decoder hold (settings aside: both links share them)."""
    link_state = {k: v for k, v in vars(link).items() if k not in ("decoder", "settings")}
    return link_state | {"decoder": vars(link.decoder), "deadline": link.deadline}


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """An exchange: mostly requests numbered as the link expects, and answers, with SNRMs,
    RRs, DISCs, wrong numbers, bad octets, split and glued frames and idle time mixed in."""
    kinds = st.sampled_from(
        ["request"] * 6 + ["respond"] * 5 + ["snrm"] * 2 + ["rr", "disc", "idle"]
    )
    connect = ("snrm", 0, 0, True, False, b"", "whole", 0)
    rest = draw(
        st.lists(
            st.tuples(
                kinds,
                st.integers(0, 7),  # an offset from the expected N(S) (0 mostly: see below)
                st.integers(0, 7),  # the same for N(R)
                st.sampled_from([True, True, True, False]),  # P
                st.sampled_from([False, False, False, True]),  # segmented
                st.binary(max_size=40),  # APDU
                st.sampled_from(["whole", "whole", "whole", "split", "glued", "corrupt", "no llc"]),
                st.integers(0, 200),  # where to split or corrupt
            ),
            min_size=1,
            max_size=25,
        )
    )
    return [connect, *rest]


def octets_for(step: tuple[Any, ...], link: HdlcServerLink) -> list[bytes]:
    kind, ns_off, nr_off, poll, segmented, apdu, form, where = step
    if kind == "snrm":
        proposal = LinkParameters(
            max_info_transmit=32 + 4 * len(apdu), window_transmit=1 + ns_off % 3
        )
        raw = frame(control_u(FrameType.SNRM, True), encode_parameters(proposal))
    elif kind == "disc":
        raw = frame(control_u(FrameType.DISC, poll))
    elif kind == "rr":
        raw = frame(control_s(FrameType.RR, (link._send_seq + nr_off % 2) % 8, poll))
    else:
        ns = (link._receive_seq + (ns_off if ns_off > 6 else 0)) % 8
        nr = (link._send_seq + (nr_off if nr_off > 6 else 0)) % 8
        information = apdu if form == "no llc" else LLC_COMMAND + apdu
        raw = frame(control_i(ns, nr, poll or form != "whole"), information, segmented)
    if form == "split":
        cut = where % len(raw)
        return [raw[:cut], raw[cut:]]
    if form == "glued":
        return [raw + frame(control_s(FrameType.RR, link._send_seq, True))]
    if form == "corrupt":
        index = where % len(raw)
        return [raw[:index] + bytes([raw[index] ^ 0x40]) + raw[index + 1 :]]
    return [raw]


@settings(max_examples=300, deadline=None)
@given(steps())
def test_fast_and_general_paths_agree(exchange: list[tuple[Any, ...]]) -> None:
    fast, general = HdlcServerLink(SETTINGS), GeneralOnlyLink(SETTINGS)
    now = 0.0
    for step in exchange:
        kind, apdu = step[0], step[5]
        now += 12.0 if kind == "idle" else 0.5
        if kind == "idle":  # time passes: the inactivity timeout, now and then
            assert fast.poll(now) == general.poll(now)
        elif kind == "respond":
            answer = apdu * (1 + step[7] // 40)  # now and then longer than one frame
            assert fast.respond(answer) == general.respond(answer)
        else:
            for octets in octets_for(step, general):
                assert fast.receive(octets, now) == general.receive(octets, now)
        assert state_of(fast) == state_of(general)


def test_a_get_in_one_frame_goes_past_the_frame_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The common case really takes the fast path: with the general parser broken, a whole
    request in one I-frame still arrives, and its answer goes out in one frame."""
    link = HdlcServerLink(SETTINGS)
    assert link.receive(frame(control_u(FrameType.SNRM, True)), 0.0).transmit
    no_parser: Any = lambda body: pytest.fail("the general path parsed the frame")  # noqa: E731
    monkeypatch.setattr(hdlc_frame, "parse_frame_body", no_parser)
    for k in range(10):
        output = link.receive(frame(control_i(k % 8, k % 8, True), LLC_COMMAND + b"\xc0\x01"), 1.0)
        assert output.events == (ApduReceived(CLIENT.upper, SERVER.upper, b"\xc0\x01"),)
        answer = link.respond(b"\xc4\x01\xc1\x00")
        assert (
            answer
            == HdlcFrame(
                CLIENT, SERVER, control_i(k % 8, (k + 1) % 8, True), b"\xe6\xe7\x00\xc4\x01\xc1\x00"
            ).encode()
        )
    assert link.decoder.stats.frames == 11


class CountingLink(HdlcServerLink):
    """The link as it is, counting the frames its general path handles (outside its state)."""

    handled: ClassVar[list[int]] = [0]

    def _handle(self, frame: HdlcFrame, now: float, events: list[Any]) -> bytes:
        self.handled[0] += 1
        return super()._handle(frame, now, events)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.binary(max_size=60), st.binary(max_size=300)), min_size=1, max_size=20),
    st.integers(0, 7),
)
def test_requests_in_sequence_give_the_same_octets_and_state_on_both_paths(
    exchanges: list[tuple[bytes, bytes]], first: int
) -> None:
    """Random request and answer APDUs, N(S)/N(R) going round modulo 8 from a random point
    (the link brought there by as many exchanges): the fast path answers with the same octets
    as the general path and leaves the same state, frame after frame, and the answer is the
    I-frame the standard says (decoded by the general codec). Answers longer than one frame
    go in segments asked for with RR, on the general path, and the next request is fast
    again."""
    limits = ServerLinkSettings(physical_address=17, inactivity_timeout=30.0, max_apdu_length=64)
    fast, general = CountingLink(limits), GeneralOnlyLink(limits)
    snrm = frame(control_u(FrameType.SNRM, True))
    assert fast.receive(snrm, 0.0) == general.receive(snrm, 0.0)
    now = 0.0
    for request, answer in [(b"\xc0\x01", b"\xc4\x01")] * first + exchanges:
        now += 0.25
        send_seq, receive_seq = fast._send_seq, fast._receive_seq
        octets = frame(control_i(receive_seq, send_seq, True), LLC_COMMAND + request)
        handled = CountingLink.handled[0]
        taken = fast.receive(octets, now)
        assert CountingLink.handled[0] == handled  # the fast path took it
        assert taken == general.receive(octets, now)
        assert taken.events == (ApduReceived(CLIENT.upper, SERVER.upper, request),)
        sent = fast.respond(answer)
        assert sent == general.respond(answer)
        information = LLC_RESPONSE + answer
        first_frame = decode_frame(sent)
        assert first_frame.control == control_i(send_seq, (receive_seq + 1) % 8, True)
        assert first_frame.information == information[:128]
        assert first_frame.segmented == (len(information) > 128)
        while fast._unsent:  # a long answer: the client asks for each segment with RR
            poll = frame(control_s(FrameType.RR, fast._send_seq, True))
            assert fast.receive(poll, now) == general.receive(poll, now)
        assert state_of(fast) == state_of(general)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=200), st.integers(0, 400), st.integers(0, 7))
def test_information_frames_encode_and_check_as_the_general_codec(
    control: int, body: bytes, where: int, flip: int
) -> None:
    """The cached openings give the octets :func:`encode_frame_octets` gives, and a request
    is taken exactly when the general decoder finds the one I-frame with P, not segmented,
    to these addresses, with the LLC header: one octet changed anywhere, and it is not."""
    addresses = SERVER.encode() + CLIENT.encode()
    frames = InformationFrames(addresses, addresses[::-1], LLC_COMMAND, LLC_RESPONSE)
    for _ in range(2):  # computed, then looked up
        expected = encode_frame_octets(addresses[::-1], control, LLC_RESPONSE + body)
        assert frames.encode_answer(control, body) == expected
    octets = encode_frame_octets(addresses, control, LLC_COMMAND + body)
    index = where % len(octets)
    changed = octets[:index] + bytes([octets[index] ^ 1 << flip]) + octets[index + 1 :]
    for candidate in (octets, changed, octets[:-1], octets + b"\x7e"):
        parsed = HdlcDecoder().feed(candidate)
        takes = (
            len(parsed) == 1
            and len(candidate) == len(octets)
            and parsed[0].kind is FrameType.I
            and parsed[0].poll_final
            and not parsed[0].segmented
            and parsed[0].destination == SERVER
            and parsed[0].source == CLIENT
            and parsed[0].information.startswith(LLC_COMMAND)
        )
        assert frames.request_control(candidate) == (parsed[0].control if takes else -1)
