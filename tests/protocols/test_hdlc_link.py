"""The server side of the HDLC link (IEC 62056-46, Green Book 8.4): connection and parameter
negotiation, I-frames with N(S)/N(R), segmentation both ways, RR/RNR, DISC/DM/FRMR, addresses,
the inactivity and inter-octet timeouts, and the bad input of issue 13 that applies to HDLC."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocols.hdlc_vectors import AARE, AARE_APDU, AARQ, AARQ_APDU, CLIENT, SERVER, SNRM

from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    LinkParameters,
    control_i,
    control_s,
    control_u,
    decode_frame,
    decode_parameters,
    encode_parameters,
)
from metertwin.protocols.hdlc_link import (
    LLC_COMMAND,
    LLC_RESPONSE,
    ApduReceived,
    DisconnectReason,
    HdlcServerLink,
    LinkConnected,
    LinkDisconnected,
    LinkOutput,
    LinkState,
    ServerLinkSettings,
)


def new_link(**overrides: object) -> HdlcServerLink:
    return HdlcServerLink(ServerLinkSettings(physical_address=17, **overrides))  # type: ignore[arg-type]


def command(
    control: int,
    information: bytes = b"",
    segmented: bool = False,
    destination: HdlcAddress = SERVER,
    source: HdlcAddress = CLIENT,
) -> bytes:
    return HdlcFrame(destination, source, control, information, segmented).encode()


def frames_of(output: LinkOutput | bytes) -> list[HdlcFrame]:
    raw = output.transmit if isinstance(output, LinkOutput) else output
    decoder = HdlcDecoder()
    found = decoder.feed(raw)
    assert decoder.pending <= 1 and decoder.stats.malformed == 0  # the server's octets are clean
    return found


def one_frame(output: LinkOutput | bytes) -> HdlcFrame:
    [frame] = frames_of(output)
    return frame


def connected(proposal: bytes = b"", **overrides: object) -> HdlcServerLink:
    link = new_link(**overrides)
    ua = one_frame(link.receive(command(control_u(FrameType.SNRM, True), proposal), now=0.0))
    assert ua.kind is FrameType.UA
    return link


def rr(receive_seq: int, poll: bool = True) -> bytes:
    return command(control_s(FrameType.RR, receive_seq, poll))


# --- connection ---


def test_snrm_golden_frame_gets_ua_with_the_default_parameters() -> None:
    """No information field in the SNRM: the defaults, 128 octets and window 1 (Green Book
    8.4.5.3.2), which the server's limits allow."""
    link = new_link(max_info_transmit=512, max_info_receive=512, window_transmit=7)
    output = link.receive(SNRM, now=0.0)
    ua = one_frame(output)
    assert (ua.kind, ua.poll_final, ua.destination, ua.source) == (
        FrameType.UA,
        True,
        CLIENT,
        SERVER,
    )
    assert decode_parameters(ua.information) == LinkParameters(128, 128, 1, 1)
    assert output.events == (LinkConnected(16, 1, LinkParameters(128, 128, 1, 1)),)
    assert link.state is LinkState.NRM and link.client == 16


def test_negotiation_takes_the_smaller_of_proposal_and_limit() -> None:
    proposal = encode_parameters(LinkParameters(2030, 1024, 7, 2))  # the client's view
    link = new_link(
        max_info_transmit=512, max_info_receive=256, window_transmit=3, window_receive=7
    )
    ua = one_frame(link.receive(command(control_u(FrameType.SNRM, True), proposal), now=0.0))
    # The server's view: it sends at most min(client rx 1024, 512), receives min(2030, 256);
    # sends a window of min(client rx window 2, 3), receives min(client tx window 7, 7).
    expected = LinkParameters(512, 256, 2, 7)
    assert decode_parameters(ua.information) == expected
    assert link.parameters == expected


def test_a_smaller_proposal_is_taken_as_it_is() -> None:
    proposal = encode_parameters(LinkParameters(64, 48, 1, 1))
    link = connected(proposal, max_info_transmit=2030, max_info_receive=2030)
    assert link.parameters == LinkParameters(48, 64, 1, 1)


@pytest.mark.parametrize(
    "information",
    [
        bytes.fromhex("818003050100"),  # max info transmit 0
        bytes.fromhex("818003080100"),  # window receive 0
        bytes.fromhex("8180"),  # not a parameter list
        b"\x01\x02\x03",
    ],
)
def test_an_snrm_that_cannot_be_honoured_gets_dm(information: bytes) -> None:
    link = new_link()
    output = link.receive(command(control_u(FrameType.SNRM, True), information), now=0.0)
    dm = one_frame(output)
    assert (dm.kind, dm.poll_final) == (FrameType.DM, True)
    assert output.events == ()
    assert link.state is LinkState.NDM
    assert link.counters.connections_refused == 1


def test_disc_gets_ua_then_dm_once_disconnected() -> None:
    link = connected()
    output = link.receive(command(control_u(FrameType.DISC, True)), now=1.0)
    assert one_frame(output).kind is FrameType.UA
    assert output.events == (LinkDisconnected(16, 1, DisconnectReason.DISC),)
    assert link.state is LinkState.NDM and link.client is None
    again = link.receive(command(control_u(FrameType.DISC, True)), now=2.0)
    assert one_frame(again).kind is FrameType.DM
    assert again.events == ()


@pytest.mark.parametrize(
    "control",
    [control_i(0, 0, True), control_s(FrameType.RR, 0, True), control_u(FrameType.UI, True)],
)
def test_in_ndm_every_poll_but_snrm_gets_dm(control: int) -> None:
    link = new_link()
    info = LLC_COMMAND + AARQ_APDU if control & 1 == 0 else b""
    output = link.receive(command(control, info), now=0.0)
    assert one_frame(output).kind is FrameType.DM
    assert output.events == ()


def test_a_frame_without_poll_is_never_answered() -> None:
    link = new_link()
    assert (
        link.receive(command(control_i(0, 0, False), LLC_COMMAND + b"\x01"), now=0).transmit == b""
    )
    assert link.receive(command(control_u(FrameType.DISC, False)), now=0).transmit == b""


def test_snrm_again_resets_the_link() -> None:
    link = connected()
    link.receive(AARQ, now=1.0)
    link.respond(AARE_APDU)
    output = link.receive(SNRM, now=2.0)
    assert one_frame(output).kind is FrameType.UA
    assert output.events == (
        LinkDisconnected(16, 1, DisconnectReason.RESET),
        LinkConnected(16, 1, LinkParameters()),
    )
    # Sequence numbers start again at 0: the golden AARQ (N(S) 0) is in sequence again.
    assert link.receive(AARQ, now=3.0).events == (ApduReceived(16, 1, AARQ_APDU),)
    assert link.respond(AARE_APDU) == AARE


def test_another_client_cannot_connect_while_one_is() -> None:
    link = connected()
    other = HdlcAddress(1)
    output = link.receive(command(control_u(FrameType.SNRM, True), source=other), now=1.0)
    assert one_frame(output).destination == other
    assert one_frame(output).kind is FrameType.DM
    i_frame = command(control_i(0, 0, True), LLC_COMMAND + AARQ_APDU, source=other)
    assert one_frame(link.receive(i_frame, now=1.0)).kind is FrameType.DM
    assert link.client == 16
    assert link.receive(AARQ, now=2.0).events == (ApduReceived(16, 1, AARQ_APDU),)


# --- I-frames ---


def test_golden_aarq_is_delivered_and_the_aare_goes_out_to_the_byte() -> None:
    """protocols.md: the AARQ I-frame (N(S) 0, N(R) 0, P) and the meter's AARE I-frame
    (N(S) 0, N(R) 1, F), LLC headers E6 E6 00 and E6 E7 00."""
    link = connected()
    output = link.receive(AARQ, now=1.0)
    assert output.transmit == b""  # the poll is held until the answer comes
    assert output.events == (ApduReceived(client=16, logical_device=1, apdu=AARQ_APDU),)
    assert link.respond(AARE_APDU) == AARE
    assert link.respond(AARE_APDU) == b""  # answered once


def test_no_response_apdu_answers_the_poll_with_rr() -> None:
    link = connected()
    link.receive(AARQ, now=1.0)
    answer = one_frame(link.respond(None))
    assert (answer.kind, answer.receive_seq, answer.poll_final) == (FrameType.RR, 1, True)


def test_a_poll_while_the_answer_is_prepared_is_held() -> None:
    link = connected()
    link.receive(AARQ, now=1.0)
    assert link.receive(rr(0), now=1.1).transmit == b""
    assert link.respond(AARE_APDU) == AARE


def test_sequence_numbers_go_round_modulo_8() -> None:
    link = connected()
    for n in range(20):
        request = command(control_i(n % 8, n % 8, True), LLC_COMMAND + bytes([n]))
        assert link.receive(request, now=float(n)).events == (ApduReceived(16, 1, bytes([n])),)
        answer = one_frame(link.respond(bytes([0xC4, n])))
        assert (answer.send_seq, answer.receive_seq) == (n % 8, (n + 1) % 8)
        assert answer.information == LLC_RESPONSE + bytes([0xC4, n])


def test_a_lost_answer_is_sent_again_when_the_client_polls_or_repeats() -> None:
    """The client's N(R) says it has not the answer: the poll gets it again (N(S) unchanged);
    so does a repeat of the request (N(S) out of sequence, discarded)."""
    link = connected()
    link.receive(AARQ, now=1.0)
    assert link.respond(AARE_APDU) == AARE
    assert link.receive(rr(0), now=2.0).transmit == AARE
    repeat = link.receive(AARQ, now=3.0)
    assert repeat.events == () and repeat.transmit == AARE
    assert link.counters.out_of_sequence == 1
    assert link.counters.retransmitted == 2
    # Acknowledged at last: the next request is served normally.
    nxt = link.receive(command(control_i(1, 1, True), LLC_COMMAND + b"\xc0"), now=4.0)
    assert nxt.events == (ApduReceived(16, 1, b"\xc0"),)


def test_an_i_frame_out_of_sequence_gets_rr_with_the_n_r_expected() -> None:
    link = connected()
    skipped = command(control_i(3, 0, True), LLC_COMMAND + b"\xc0")
    output = link.receive(skipped, now=1.0)
    answer = one_frame(output)
    assert (answer.kind, answer.receive_seq) == (FrameType.RR, 0)
    assert output.events == ()
    assert link.state is LinkState.NRM


def test_rr_without_anything_to_send() -> None:
    link = connected()
    answer = one_frame(link.receive(rr(0), now=1.0))
    assert (answer.kind, answer.receive_seq, answer.poll_final) == (FrameType.RR, 0, True)
    rnr = command(control_s(FrameType.RNR, 0, True))
    assert one_frame(link.receive(rnr, now=1.0)).kind is FrameType.RR


def test_a_bad_llc_header_is_dropped_and_the_poll_answered() -> None:
    link = connected()
    output = link.receive(command(control_i(0, 0, True), b"\xe6\xe7\x00\xc0\x01"), now=1.0)
    assert output.events == ()
    assert one_frame(output).kind is FrameType.RR
    assert link.counters.bad_llc == 1


# --- segmentation ---


def test_a_long_response_goes_in_segments_each_asked_for_with_rr() -> None:
    link = connected()
    link.receive(AARQ, now=1.0)
    response = bytes(range(256)) * 2  # 512 octets + 3 of LLC: five segments of 128 at most
    segments = [one_frame(link.respond(response))]
    while segments[-1].segmented:
        segments.append(one_frame(link.receive(rr(len(segments) % 8), now=2.0)))
    assert [len(s.information) for s in segments] == [128, 128, 128, 128, 3]
    assert [s.send_seq for s in segments] == [0, 1, 2, 3, 4]
    assert all(s.poll_final and s.receive_seq == 1 for s in segments)
    assert b"".join(s.information for s in segments) == LLC_RESPONSE + response


def test_segments_go_a_window_at_a_time_with_f_on_the_last() -> None:
    proposal = encode_parameters(LinkParameters(window_receive=3))
    link = connected(proposal, window_transmit=7)
    assert link.parameters is not None and link.parameters.window_transmit == 3
    link.receive(AARQ, now=1.0)
    burst = frames_of(link.respond(bytes(600)))
    assert [(f.send_seq, f.poll_final, f.segmented) for f in burst] == [
        (0, False, True),
        (1, False, True),
        (2, True, True),
    ]
    second = frames_of(link.receive(rr(3), now=2.0))
    assert [(f.send_seq, f.poll_final, f.segmented) for f in second] == [
        (3, False, True),
        (4, True, False),
    ]
    assert sum(len(f.information) for f in burst + second) == 603


def test_a_segment_lost_on_the_way_out_is_sent_again() -> None:
    link = connected()
    link.receive(AARQ, now=1.0)
    first = one_frame(link.respond(bytes(300)))
    assert first.segmented and first.send_seq == 0
    assert one_frame(link.receive(rr(0), now=2.0)) == first  # not acknowledged: again
    assert one_frame(link.receive(rr(1), now=3.0)).send_seq == 1


def test_a_long_request_in_segments_is_acknowledged_with_rr_then_delivered() -> None:
    link = connected()
    request = LLC_COMMAND + bytes(range(200)) + bytes(100)
    chunks = [request[i : i + 128] for i in range(0, len(request), 128)]
    for index, chunk in enumerate(chunks[:-1]):
        output = link.receive(command(control_i(index, 0, True), chunk, segmented=True), now=1.0)
        answer = one_frame(output)
        assert (answer.kind, answer.receive_seq) == (FrameType.RR, index + 1)
        assert output.events == ()
    last = command(control_i(len(chunks) - 1, 0, True), chunks[-1])
    assert link.receive(last, now=2.0).events == (ApduReceived(16, 1, request[3:]),)


def test_frames_beyond_the_receive_window_are_discarded() -> None:
    """Window overflow (issue 13, "Bad input"): window 1, a second I-frame before the poll is
    not acknowledged; the RR tells the client where to resume, and the link recovers."""
    link = connected()
    first = command(control_i(0, 0, False), LLC_COMMAND + bytes(10), segmented=True)
    second = command(control_i(1, 0, True), bytes(10), segmented=True)
    answer = one_frame(link.receive(first + second, now=1.0))
    assert (answer.kind, answer.receive_seq) == (FrameType.RR, 1)
    assert link.counters.window_overflow == 1
    assert one_frame(link.receive(second, now=2.0)).receive_seq == 2
    last = command(control_i(2, 0, True), b"\x01")
    assert link.receive(last, now=3.0).events == (ApduReceived(16, 1, bytes(20) + b"\x01"),)


# --- FRMR ---


def _frmr(output: LinkOutput) -> bytes:
    frame = one_frame(output)
    assert (frame.kind, frame.poll_final) == (FrameType.FRMR, True)
    return frame.information


@pytest.mark.parametrize(
    ("frame", "reasons"),
    [
        (command(0xFF), 0x01),  # undefined U control field: W
        (command(control_u(FrameType.UA, True)), 0x01),  # a response, not a command: W
        (command(control_s(FrameType.REJ, 0, True)), 0x01),  # REJ is not implemented: W
        (command(control_s(FrameType.RR, 0, True), b"\x00"), 0x03),  # RR with info: W and X
        (command(control_i(0, 0, True), LLC_COMMAND + bytes(126)), 0x04),  # 129 > 128: Y
        (command(control_s(FrameType.RR, 2, True)), 0x08),  # N(R) of frames never sent: Z
    ],
)
def test_frmr_names_what_was_wrong(frame: bytes, reasons: int) -> None:
    """FRMR information (ISO/IEC 13239, modulo 8): the rejected control octet, then V(R) V(S),
    then the W X Y Z bits."""
    link = connected()
    information = _frmr(link.receive(frame, now=1.0))
    assert information == bytes([decode_frame(frame).control, 0x00, reasons])
    assert link.state is LinkState.FRAME_REJECT


def test_the_frame_reject_condition_lasts_until_snrm() -> None:
    link = connected()
    rejected = _frmr(link.receive(command(0xFF), now=1.0))
    assert _frmr(link.receive(rr(0), now=2.0)) == rejected  # repeated to every poll
    assert _frmr(link.receive(AARQ, now=2.0)) == rejected
    assert link.receive(rr(0, poll=False), now=2.0).transmit == b""
    output = link.receive(SNRM, now=3.0)
    assert one_frame(output).kind is FrameType.UA
    assert link.state is LinkState.NRM
    assert link.receive(AARQ, now=4.0).events == (ApduReceived(16, 1, AARQ_APDU),)


def test_frmr_carries_the_current_sequence_variables() -> None:
    link = connected()
    link.receive(AARQ, now=1.0)
    link.respond(AARE_APDU)  # V(S) 1, V(R) 1
    information = _frmr(link.receive(command(control_s(FrameType.RR, 3, True)), now=2.0))
    assert information == bytes([control_s(FrameType.RR, 3, True), 1 << 5 | 1 << 1, 0x08])


def test_a_request_longer_than_the_apdu_limit_is_rejected() -> None:
    link = connected(max_apdu_length=200)
    for index in range(2):
        chunk = (LLC_COMMAND if index == 0 else b"") + bytes(120)
        link.receive(command(control_i(index, 0, True), chunk, segmented=True), now=1.0)
    assert _frmr(link.receive(command(control_i(2, 0, True), bytes(10)), now=1.0))[2] == 0x04


# --- addresses ---


@pytest.mark.parametrize(
    "destination",
    [
        HdlcAddress.server(1, 18),  # another physical device on the bus
        HdlcAddress.server(2, 17),  # a logical device this one does not host
        HdlcAddress.server(1, 18, 4),
    ],
)
def test_frames_to_another_address_get_silence(destination: HdlcAddress) -> None:
    link = new_link()
    snrm = command(control_u(FrameType.SNRM, True), destination=destination)
    assert link.receive(snrm, now=0.0) == LinkOutput()
    assert link.counters.other_address == 1


def test_the_four_octet_and_one_octet_forms_of_our_address() -> None:
    four = HdlcAddress.server(1, 17, 4)
    link = new_link()
    ua = one_frame(link.receive(command(control_u(FrameType.SNRM, True), destination=four), 0.0))
    assert ua.source == four  # answered in the form it was asked in
    one = HdlcAddress(1)
    assert new_link().receive(command(control_u(FrameType.SNRM, True), destination=one), 0.0)
    refused = new_link(accept_one_octet_address=False)
    snrm = command(control_u(FrameType.SNRM, True), destination=one)
    assert refused.receive(snrm, 0.0) == LinkOutput()


def test_a_source_that_is_not_a_one_octet_client_address_gets_silence() -> None:
    link = new_link()
    snrm = command(control_u(FrameType.SNRM, True), source=HdlcAddress.server(16, 1))
    assert link.receive(snrm, now=0.0) == LinkOutput()


def test_the_logical_devices_hosted() -> None:
    link = new_link(logical_devices=frozenset({1, 3}))
    to_three = command(control_u(FrameType.SNRM, True), destination=HdlcAddress.server(3, 17))
    assert link.receive(to_three, now=0.0).events == (LinkConnected(16, 3, LinkParameters()),)


# --- time ---


def test_inactivity_returns_the_link_to_ndm() -> None:
    link = connected(inactivity_timeout=120.0)
    assert link.deadline == 120.0
    assert link.poll(119.9) == LinkOutput()
    link.receive(rr(0), now=100.0)
    assert link.deadline == 220.0
    output = link.poll(220.0)
    assert output == LinkOutput(b"", (LinkDisconnected(16, 1, DisconnectReason.INACTIVITY),))
    assert link.state is LinkState.NDM and link.deadline is None
    assert one_frame(link.receive(AARQ, now=221.0)).kind is FrameType.DM


def test_inactivity_is_checked_when_the_next_frame_comes_too() -> None:
    link = connected(inactivity_timeout=10.0)
    output = link.receive(AARQ, now=50.0)
    assert output.events == (LinkDisconnected(16, 1, DisconnectReason.INACTIVITY),)
    assert one_frame(output).kind is FrameType.DM


def test_no_inactivity_timeout_when_it_is_zero() -> None:
    link = connected(inactivity_timeout=0.0, inter_octet_timeout=None)
    assert link.deadline is None
    assert link.poll(1e9) == LinkOutput()
    assert link.state is LinkState.NRM


def test_the_inter_octet_timeout_ends_a_frame_the_line_stopped_sending() -> None:
    link = connected(inter_octet_timeout=0.025)
    link.receive(AARQ[:10], now=1.0)
    assert link.deadline == pytest.approx(1.025)
    assert link.poll(1.03) == LinkOutput()
    assert link.decoder.stats.inter_octet_timeouts == 1
    # The rest arrives late: it is no frame; the client's retry is served.
    assert link.receive(AARQ[10:], now=2.0) == LinkOutput()
    assert link.receive(AARQ, now=3.0).events == (ApduReceived(16, 1, AARQ_APDU),)


# --- streams and fuzz ---


def test_a_whole_session_fed_one_octet_at_a_time() -> None:
    link = new_link()
    transmitted = bytearray()
    events = []
    stream = SNRM + AARQ
    for index in range(len(stream)):
        output = link.receive(stream[index : index + 1], now=index * 0.001)
        transmitted += output.transmit
        events += output.events
    assert [type(e) for e in events] == [LinkConnected, ApduReceived]
    transmitted += link.respond(AARE_APDU)
    assert [f.kind for f in frames_of(bytes(transmitted))] == [FrameType.UA, FrameType.I]
    assert bytes(transmitted).endswith(AARE)


def test_garbage_bad_checks_and_glued_frames_do_not_disturb_the_link() -> None:
    """Issue 13 "Bad input": bad FCS/HCS and garbage get silence; frames glued together are
    each served; the link then works on."""
    link = connected()
    bad = bytearray(AARQ)
    bad[20] ^= 0x55
    output = link.receive(b"\x00\x7e\x7e\xff" + bytes(bad) + b"garbage", now=1.0)
    assert output == LinkOutput()
    assert link.decoder.stats.bad_fcs == 1
    glued = link.receive(rr(0) + rr(0), now=2.0)
    assert [f.kind for f in frames_of(glued)] == [FrameType.RR, FrameType.RR]
    assert link.receive(AARQ, now=3.0).events == (ApduReceived(16, 1, AARQ_APDU),)


_controls = st.integers(0, 0xFF)
_destinations = st.sampled_from([SERVER, HdlcAddress(1), HdlcAddress.server(1, 18)])


@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.builds(
                lambda d, c, i, s: HdlcFrame(d, CLIENT, c, i, s).encode(),
                _destinations,
                _controls,
                st.binary(max_size=200),
                st.booleans(),
            ),
        ),
        max_size=12,
    ),
    st.lists(st.booleans(), max_size=12),
)
@settings(max_examples=200, deadline=None)
def test_any_input_never_raises_and_snrm_always_recovers(
    chunks: list[bytes], answers: list[bool]
) -> None:
    link = connected()
    now = 1.0
    for index, chunk in enumerate(chunks):
        output = link.receive(chunk, now=now)
        frames_of(output)  # whatever the server sends is well formed
        if any(isinstance(e, ApduReceived) for e in output.events):
            answer = answers[index] if index < len(answers) else True
            frames_of(link.respond(b"\xc4" * 300 if answer else None))
        now += 0.01
    link.poll(now + 1.0)  # the line falls silent: anything half received is given up
    output = link.receive(SNRM, now=now + 2.0)
    assert [f.kind for f in frames_of(output)] == [FrameType.UA]
    assert link.receive(AARQ, now=now + 3.0).events == (ApduReceived(16, 1, AARQ_APDU),)


def test_two_meters_on_one_line_each_answer_only_their_own_address() -> None:
    """Issue 13 "Bad input": a frame for another meter, and the answers of another meter (a
    half-duplex line carries both), leave a meter silent and its link as it was."""
    meter_17 = new_link(accept_one_octet_address=False)  # a bus: no one-octet destination
    meter_18 = HdlcServerLink(
        ServerLinkSettings(physical_address=18, accept_one_octet_address=False)
    )

    def on_the_line(octets: bytes, now: float) -> bytes:
        answer = meter_17.receive(octets, now)
        assert meter_18.receive(octets, now) == LinkOutput()
        if answer.events and isinstance(answer.events[-1], ApduReceived):
            return answer.transmit + meter_17.respond(AARE_APDU)
        return answer.transmit

    ua = on_the_line(SNRM, 1.0)
    aare = on_the_line(ua + AARQ, 2.0)  # meter 17 hears its own UA too, and ignores it
    assert aare == AARE
    on_the_line(aare, 3.0)
    assert meter_18.state is LinkState.NDM and meter_17.state is LinkState.NRM
    assert meter_18.counters.other_address == 4  # SNRM, UA, AARQ, AARE
    assert meter_17.counters.other_address == 2  # its own UA and AARE
