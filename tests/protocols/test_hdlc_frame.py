"""The HDLC frame codec (IEC 62056-46, Green Book 8.4): golden frames, check sequences,
addresses, SNRM/UA parameters, and a stream decoder that survives any cut or soiled stream."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocols.hdlc_vectors import (
    AARE,
    AARQ,
    CLIENT,
    GOLDEN,
    SERVER,
    SNRM,
    SNRM_BY_SERIAL,
    UA,
)

from metertwin.protocols import FramingError
from metertwin.protocols.hdlc_frame import (
    DecodeFailure,
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    HdlcFrameError,
    LinkParameters,
    check_sequence_failure,
    control_i,
    control_s,
    control_u,
    decode_frame,
    decode_parameters,
    encode_parameters,
    fcs16,
    parse_frame_body,
)


def test_fcs16_check_values() -> None:
    """CRC-16/X.25 catalogue check: fcs16(b"123456789") = 0x906E; RFC 1662 C.2: the FCS of a
    frame followed by its own FCS (LSB first) is the good residue 0xF0B8 before the final
    complement, i.e. 0x0F47 after it."""
    assert fcs16(b"123456789") == 0x906E
    body = AARQ[1:-3]
    with_fcs = body + fcs16(body).to_bytes(2, "little")
    assert fcs16(with_fcs) ^ 0xFFFF == 0xF0B8
    assert fcs16(b"") == 0x0000


def _bitwise_x25(data: bytes) -> int:
    """CRC-16/X.25 the plain way, bit by bit (RFC 1662 C.2 without its table): the reference
    the crc_hqx-based fcs16 is checked against."""
    crc = 0xFFFF
    for octet in data:
        crc ^= octet
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


@given(st.binary(max_size=300))
def test_fcs16_is_the_bitwise_crc16_x25(data: bytes) -> None:
    assert fcs16(data) == _bitwise_x25(data)
    assert fcs16(bytearray(data)) == fcs16(memoryview(data)) == _bitwise_x25(data)


@given(st.binary(min_size=1, max_size=40), st.binary(min_size=1, max_size=200))
def test_check_sequence_failure_names_the_wrong_check_sequence(
    header: bytes, information: bytes
) -> None:
    """One CRC pass over header and information finds the same HCS and FCS as two fcs16."""
    head = header + _bitwise_x25(header).to_bytes(2, "little") + information
    body = head + _bitwise_x25(head).to_bytes(2, "little")
    end = len(header)
    assert check_sequence_failure(body, end) is None
    assert check_sequence_failure(body[:-1] + bytes([body[-1] ^ 1]), end) is DecodeFailure.BAD_FCS
    bad_hcs = body[:end] + bytes([body[end] ^ 0x80]) + body[end + 1 :]
    assert check_sequence_failure(bad_hcs, end) is DecodeFailure.BAD_HCS


def test_golden_frames_decode_to_what_they_say() -> None:
    snrm = decode_frame(SNRM)
    assert (snrm.destination, snrm.source, snrm.kind, snrm.poll_final) == (
        SERVER,
        CLIENT,
        FrameType.SNRM,
        True,
    )
    assert snrm.information == b""
    ua = decode_frame(UA)
    assert (ua.destination, ua.source, ua.kind) == (CLIENT, SERVER, FrameType.UA)
    assert decode_parameters(ua.information) == LinkParameters(154, 154, 1, 1)
    aarq = decode_frame(AARQ)
    assert aarq.kind is FrameType.I
    assert (aarq.send_seq, aarq.receive_seq, aarq.poll_final, aarq.segmented) == (0, 0, True, False)
    assert aarq.information[:3] == bytes.fromhex("E6E600")
    assert aarq.information[3] == 0x60  # the AARQ tag
    aare = decode_frame(AARE)
    assert (aare.send_seq, aare.receive_seq, aare.poll_final) == (0, 1, True)
    assert aare.information[:4] == bytes.fromhex("E6E70061")
    by_serial = decode_frame(SNRM_BY_SERIAL)
    assert by_serial.destination == HdlcAddress(1, 6678, 4)


@pytest.mark.parametrize("raw", GOLDEN)
def test_golden_frames_encode_back_to_the_byte(raw: bytes) -> None:
    assert decode_frame(raw).encode() == raw


def test_frames_built_from_parts_match_the_golden_octets() -> None:
    assert HdlcFrame(SERVER, CLIENT, control_u(FrameType.SNRM, True)).encode() == SNRM
    aarq_info = decode_frame(AARQ).information
    assert HdlcFrame(SERVER, CLIENT, control_i(0, 0, True), aarq_info).encode() == AARQ
    aare_info = decode_frame(AARE).information
    assert HdlcFrame(CLIENT, SERVER, control_i(0, 1, True), aare_info).encode() == AARE


def test_control_octets() -> None:
    """Green Book 8.4.3.3 (protocols.md): SNRM 93, UA 73, DISC 53, DM 1F, UI 13 with P/F set;
    FRMR 97; RR 0x?1 and RNR 0x?5 with N(R) in the top three bits."""
    codes = {
        FrameType.SNRM: 0x93,
        FrameType.UA: 0x73,
        FrameType.DISC: 0x53,
        FrameType.DM: 0x1F,
        FrameType.FRMR: 0x97,
        FrameType.UI: 0x13,
    }
    for kind, code in codes.items():
        assert control_u(kind, True) == code
        assert HdlcFrame(SERVER, CLIENT, code).kind is kind
    assert control_s(FrameType.RR, 3, True) == 0x71
    assert control_s(FrameType.RNR, 2, False) == 0x45
    frame = HdlcFrame(SERVER, CLIENT, control_i(5, 6, False))
    assert (frame.kind, frame.send_seq, frame.receive_seq, frame.poll_final) == (
        FrameType.I,
        5,
        6,
        False,
    )
    assert HdlcFrame(SERVER, CLIENT, 0xFF).kind is FrameType.UNKNOWN


def test_addresses_in_one_two_and_four_octets() -> None:
    """Green Book 8.4.2.2: 7 bits an octet above the extension bit, set in the last octet."""
    assert HdlcAddress(1).encode() == b"\x03"
    assert HdlcAddress(16).encode() == b"\x21"
    assert HdlcAddress.server(1, 17).encode() == bytes.fromhex("0223")
    assert HdlcAddress.server(1, 6678).encode() == bytes.fromhex("0002682D")
    assert HdlcAddress.server(0x3FFF, 0x3FFF, 4).encode() == bytes.fromhex("FEFEFEFF")
    for bad in (
        lambda: HdlcAddress(0x80),
        lambda: HdlcAddress(1, 2, 1),
        lambda: HdlcAddress(1, None, 2),
        lambda: HdlcAddress(1, 0x80, 2),
        lambda: HdlcAddress(1, 2, 3),
        lambda: HdlcAddress(1, 0x4000, 4),
    ):
        with pytest.raises(ValueError):
            bad()


def test_three_octet_and_unterminated_addresses_are_malformed() -> None:
    # Destination 02 02 23 (three octets): no such form.
    assert _rebuilt(bytes.fromhex("A0090202232193")) is DecodeFailure.MALFORMED
    # Destination 02 02 02 02 02 ...: no extension bit within four octets.
    assert _rebuilt(bytes.fromhex("A00B02020202022193")) is DecodeFailure.MALFORMED


def _rebuilt(header: bytes) -> HdlcFrame | DecodeFailure:
    """``header`` (format to control, length already right) with its FCS appended."""
    return parse_frame_body(header + fcs16(header).to_bytes(2, "little"))


def test_bad_hcs_and_bad_fcs_are_told_apart() -> None:
    body = bytearray(AARQ[1:-1])
    body[5] ^= 0x10  # the control octet: the HCS no longer matches
    assert parse_frame_body(body) is DecodeFailure.BAD_HCS
    body = bytearray(AARQ[1:-1])
    body[20] ^= 0x01  # inside the information field
    assert parse_frame_body(body) is DecodeFailure.BAD_FCS
    body = bytearray(SNRM[1:-1])
    body[-1] ^= 0x80
    assert parse_frame_body(body) is DecodeFailure.BAD_FCS
    with pytest.raises(HdlcFrameError) as raised:
        decode_frame(b"\x7e" + bytes(body) + b"\x7e")
    assert raised.value.failure is DecodeFailure.BAD_FCS
    assert isinstance(raised.value, FramingError)


def test_wrong_format_type_or_length_is_malformed() -> None:
    body = bytearray(SNRM[1:-1])
    body[0] = 0x90  # format type 9
    assert parse_frame_body(body) is DecodeFailure.MALFORMED
    body = bytearray(SNRM[1:-1])
    body[1] = 0x09  # the length says one octet more than there is
    assert parse_frame_body(body) is DecodeFailure.MALFORMED
    assert parse_frame_body(b"") is DecodeFailure.MALFORMED
    with pytest.raises(HdlcFrameError):
        decode_frame(SNRM[:-1])


def test_the_segmentation_bit() -> None:
    frame = HdlcFrame(CLIENT, SERVER, control_i(1, 1, False), b"\xe6\xe7\x00" + bytes(100), True)
    raw = frame.encode()
    assert raw[1] == 0xA8  # type 3 with the segmentation bit
    assert decode_frame(raw) == frame


def test_a_frame_longer_than_the_length_field_is_refused() -> None:
    with pytest.raises(ValueError):
        HdlcFrame(SERVER, CLIENT, control_i(0, 0, True), bytes(2047))


def test_parameters_encode_and_decode() -> None:
    """Green Book 8.4.5.3.2: 81 80 len {05 max info tx, 06 rx, 07 window tx, 08 rx}."""
    params = LinkParameters(128, 256, 1, 7)
    raw = encode_parameters(params)
    assert raw == bytes.fromhex("81800D05018006020100070101080107")
    assert decode_parameters(raw) == params
    assert decode_parameters(b"") == LinkParameters(128, 128, 1, 1)
    only_rx = bytes.fromhex("818004060200F8")
    assert decode_parameters(only_rx) == LinkParameters(max_info_receive=248)
    unknown = bytes.fromhex("8180030901FF")
    assert decode_parameters(unknown) == LinkParameters(extra=((9, b"\xff"),))


@pytest.mark.parametrize(
    "raw",
    [
        "8180",  # no group length
        "818105050180",  # wrong group identifier
        "828003050180",  # wrong format identifier
        "818004050180",  # group length beyond the field
        "81800205",  # parameter without its length octet
        "8180030502",  # value shorter than its length
        "818007050500000000FF",  # five-octet max info
        "8180020500",  # zero-octet value
    ],
)
def test_malformed_parameters(raw: str) -> None:
    assert decode_parameters(bytes.fromhex(raw)) is None


# --- the stream decoder ---


def test_a_stream_split_at_every_octet() -> None:
    stream = b"".join(GOLDEN)
    decoder = HdlcDecoder()
    found: list[HdlcFrame] = []
    for index in range(len(stream)):
        found += decoder.feed(stream[index : index + 1])
    assert found == [decode_frame(raw) for raw in GOLDEN]
    assert decoder.stats.frames == len(GOLDEN)
    assert decoder.stats.malformed == decoder.stats.bad_fcs == decoder.stats.bad_hcs == 0


def test_frames_glued_and_sharing_flags() -> None:
    """Green Book 8.4.2.1: the closing flag of one frame may be the opening flag of the next."""
    shared = SNRM + AARQ[1:] + AARE[1:]
    assert HdlcDecoder().feed(shared) == [decode_frame(r) for r in (SNRM, AARQ, AARE)]
    doubled = SNRM + b"\x7e\x7e\x7e" + AARQ
    assert HdlcDecoder().feed(doubled) == [decode_frame(SNRM), decode_frame(AARQ)]


def test_garbage_between_flags_is_dropped_and_counted() -> None:
    garbage = b"\x00\x11\x7e\xa0\x03\x7e\xff" + b"\x7e" + bytes.fromhex("a0070102039999") + b"\x7e"
    decoder = HdlcDecoder()
    assert decoder.feed(b"noise" + SNRM + garbage + AARQ + b"tail") == [
        decode_frame(SNRM),
        decode_frame(AARQ),
    ]
    assert decoder.stats.malformed >= 2
    assert decoder.stats.discarded_octets > 0
    assert decoder.pending == 0


def test_bad_check_sequences_are_dropped_and_the_next_frame_read() -> None:
    bad_fcs = bytearray(AARQ)
    bad_fcs[30] ^= 0xFF
    bad_hcs = bytearray(SNRM_BY_SERIAL)
    bad_hcs[8] ^= 0x01  # the control octet of a frame without information: its FCS breaks
    bad_header = bytearray(AARE)
    bad_header[4] ^= 0x02  # an address octet: the HCS breaks
    decoder = HdlcDecoder()
    found = decoder.feed(bytes(bad_fcs) + bytes(bad_hcs) + bytes(bad_header) + SNRM)
    assert found == [decode_frame(SNRM)]
    assert (decoder.stats.bad_fcs, decoder.stats.bad_hcs) == (2, 1)


def test_a_false_start_hiding_a_frame_gives_way_to_the_inter_octet_timeout() -> None:
    """An opening flag followed by a long length swallows the real frame sent after it; when
    the line falls silent for the inter-octet timeout, the decoder searches those octets again."""
    decoder = HdlcDecoder(inter_octet_timeout=0.5)
    assert decoder.feed(b"\x7e\xa7\xff" + SNRM, now=10.0) == []
    assert decoder.deadline == 10.5
    assert decoder.expire(10.4) == []
    assert decoder.expire(10.5) == [decode_frame(SNRM)]
    assert decoder.pending == 0
    assert decoder.stats.inter_octet_timeouts == 1


def test_a_frame_cut_short_is_given_up_when_the_next_octets_come_late() -> None:
    decoder = HdlcDecoder(inter_octet_timeout=0.2)
    assert decoder.feed(AARQ[:20], now=1.0) == []
    assert decoder.feed(AARQ[20:] + SNRM, now=1.1) == [decode_frame(AARQ), decode_frame(SNRM)]
    assert decoder.feed(AARQ[:20], now=2.0) == []
    assert decoder.feed(SNRM, now=3.0) == [decode_frame(SNRM)]  # the stale half is dropped
    assert decoder.stats.inter_octet_timeouts == 1


def test_octets_within_the_inter_octet_timeout_keep_the_frame_alive() -> None:
    decoder = HdlcDecoder(inter_octet_timeout=0.2)
    found: list[HdlcFrame] = []
    for index, octet in enumerate(AARQ):
        found += decoder.feed(bytes([octet]), now=index * 0.1)
    assert found == [decode_frame(AARQ)]


def test_an_invalid_inter_octet_timeout_is_refused() -> None:
    with pytest.raises(ValueError):
        HdlcDecoder(inter_octet_timeout=0)


# --- properties and fuzzing ---

_addresses = st.one_of(
    st.builds(HdlcAddress, st.integers(0, 0x7F)),
    st.builds(HdlcAddress, st.integers(0, 0x7F), st.integers(0, 0x7F), st.just(2)),
    st.builds(HdlcAddress, st.integers(0, 0x3FFF), st.integers(0, 0x3FFF), st.just(4)),
)
_frames = st.builds(
    HdlcFrame,
    _addresses,
    _addresses,
    st.integers(0, 0xFF),
    st.binary(max_size=300),
    st.booleans(),
)


@given(_frames)
def test_decode_of_encode_is_the_frame(frame: HdlcFrame) -> None:
    assert decode_frame(frame.encode()) == frame


@given(st.lists(_frames, min_size=1, max_size=4), st.data())
@settings(max_examples=60)
def test_any_cut_of_a_stream_gives_the_same_frames(
    frames: list[HdlcFrame], data: st.DataObject
) -> None:
    stream = b"".join(frame.encode() for frame in frames)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=20)))
    decoder = HdlcDecoder()
    found: list[HdlcFrame] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        found += decoder.feed(stream[previous:cut])
        previous = cut
    assert found == frames


@given(st.binary(max_size=600), st.binary(max_size=600))
@settings(max_examples=300)
def test_garbage_never_raises_and_a_frame_after_it_is_found(junk: bytes, more: bytes) -> None:
    decoder = HdlcDecoder(inter_octet_timeout=1.0)
    decoder.feed(junk, now=0.0)
    decoder.feed(more, now=0.5)
    decoder.expire(5.0)  # the line falls silent: whatever junk began is given up
    assert decoder.pending <= 1  # at most a flag, kept as it may open the next frame
    assert decoder.feed(SNRM, now=6.0) == [decode_frame(SNRM)]


@given(st.binary(max_size=2100))
@settings(max_examples=300)
def test_parse_frame_body_never_raises(body: bytes) -> None:
    result = parse_frame_body(body)
    if isinstance(result, HdlcFrame):
        assert result.encode()[1:-1] == body or result.information == b""


@given(st.binary(max_size=80))
def test_decode_parameters_never_raises(raw: bytes) -> None:
    result = decode_parameters(raw)
    if result is not None and not result.extra:
        assert decode_parameters(encode_parameters(result)) == result
