"""The IEC 62056-47 TCP wrapper: header vector, partial and coalesced reads, refusals, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.protocols import FramingError
from metertwin.protocols.wrapper import (
    WrapperDecoder,
    WrapperError,
    WrapperFrame,
    WrapperTimeout,
    encode_frame,
)

# dlms.md 5, DC test_get.py: a GET of Data 0.0.43.1.0.255 and its answer.
GET_REQUEST = bytes.fromhex("C001C1000100002B0100FF0200")
GET_RESPONSE = bytes.fromhex("C401C1000600001391")


def test_header_vector() -> None:
    """protocols.md (dlms-cosem tests/test_udp_message.py): ``00 01 00 01 00 01 00 46`` =
    version 1, source 1, destination 1, length 70."""
    payload = bytes(range(70))
    frame = WrapperFrame(source=1, destination=1, payload=payload)
    assert frame.encode() == bytes.fromhex("0001000100010046") + payload
    assert WrapperDecoder().feed(frame.encode()) == [frame]


def test_public_client_frame() -> None:
    """Public client wPort 16 to management logical device 1 (protocols.md)."""
    raw = WrapperFrame(16, 1, GET_REQUEST).encode()
    assert raw[:8] == bytes.fromhex("000100100001000D")
    reply = WrapperFrame(16, 1, GET_REQUEST).reply(GET_RESPONSE)
    assert (reply.source, reply.destination) == (1, 16)


def test_byte_by_byte() -> None:
    frames = [WrapperFrame(16, 1, GET_REQUEST), WrapperFrame(16, 1, GET_RESPONSE)]
    stream = b"".join(frame.encode() for frame in frames)
    decoder = WrapperDecoder()
    received: list[WrapperFrame] = []
    completed_at = []
    for index in range(len(stream)):
        out = decoder.feed(stream[index : index + 1])
        if out:
            completed_at.append(index)
        received += out
    assert received == frames
    assert completed_at == [8 + len(GET_REQUEST) - 1, len(stream) - 1]
    assert decoder.pending == 0


def test_several_frames_in_one_chunk_and_a_partial_tail() -> None:
    frames = [WrapperFrame(16, 1, bytes([n]) * n) for n in range(5)]
    stream = b"".join(frame.encode() for frame in frames)
    tail = WrapperFrame(32, 1, GET_REQUEST).encode()
    decoder = WrapperDecoder()
    assert decoder.feed(stream + tail[:5]) == frames
    assert decoder.pending == 5
    assert decoder.feed(tail[5:]) == [WrapperFrame(32, 1, GET_REQUEST)]
    assert decoder.pending == 0


def test_empty_payload_is_a_frame() -> None:
    assert WrapperDecoder().feed(bytes.fromhex("0001001000010000")) == [WrapperFrame(16, 1, b"")]


def test_wrong_version_is_refused_and_the_stream_stays_failed() -> None:
    decoder = WrapperDecoder()
    with pytest.raises(WrapperError, match="version 0x0002"):
        decoder.feed(bytes.fromhex("0002001000010001") + b"\x00")
    with pytest.raises(WrapperError, match="already failed"):
        decoder.feed(WrapperFrame(16, 1, GET_REQUEST).encode())


def test_length_over_maximum_is_refused_before_the_payload_arrives() -> None:
    decoder = WrapperDecoder(max_length=1024)
    assert decoder.feed(WrapperFrame(16, 1, bytes(1024)).encode())[0].payload == bytes(1024)
    with pytest.raises(WrapperError, match="1025 octets exceeds the maximum 1024"):
        decoder.feed(bytes.fromhex("0001001000010401"))
    assert issubclass(WrapperError, FramingError)


def test_frame_limits() -> None:
    with pytest.raises(ValueError, match="wPort"):
        WrapperFrame(0x10000, 1, b"")
    with pytest.raises(ValueError, match="65535"):
        WrapperFrame(1, 1, bytes(0x10000))
    with pytest.raises(ValueError, match="max_length"):
        WrapperDecoder(max_length=0x10000)


frames = st.builds(
    WrapperFrame,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=300),
)


@given(st.lists(frames, max_size=6), st.data())
def test_any_split_of_a_stream_yields_the_same_frames(
    sent: list[WrapperFrame], data: st.DataObject
) -> None:
    stream = b"".join(frame.encode() for frame in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = WrapperDecoder()
    received: list[WrapperFrame] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        received += decoder.feed(stream[start:end])
    assert received == sent
    assert decoder.pending == 0


@given(st.lists(frames, max_size=6), st.sampled_from([bytes, bytearray, memoryview]))
def test_whole_frames_read_one_at_a_time(sent: list[WrapperFrame], kind: type) -> None:
    """The usual read on a request/answer link holds exactly one frame (taken without going
    through the decoder's buffer), from a socket read or from a receive buffer."""
    decoder = WrapperDecoder()
    for frame in sent:
        (received,) = decoder.feed(kind(frame.encode()))
        assert received == frame
        assert type(received.payload) is bytes
    assert decoder.pending == 0


def test_a_whole_frame_over_the_maximum_is_refused() -> None:
    decoder = WrapperDecoder(max_length=4)
    with pytest.raises(WrapperError, match="5 octets exceeds the maximum 4"):
        decoder.feed(WrapperFrame(16, 1, bytes(5)).encode())
    with pytest.raises(WrapperError, match="already failed"):
        decoder.feed(WrapperFrame(16, 1, bytes(4)).encode())


def test_encode_frame_is_the_frames_encoding() -> None:
    assert encode_frame(16, 1, GET_REQUEST) == WrapperFrame(16, 1, GET_REQUEST).encode()
    assert encode_frame(1, 16, b"") == bytes.fromhex("0001000100100000")
    with pytest.raises(ValueError, match="destination wPort -1"):
        encode_frame(1, -1, b"")
    with pytest.raises(ValueError, match="65535"):
        encode_frame(1, 1, bytes(0x10000))


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=40), max_size=8), st.integers(0, 0xFFFF))
def test_random_input_yields_frames_or_wrapper_error(chunks: list[bytes], limit: int) -> None:
    decoder = WrapperDecoder(max_length=limit)
    try:
        for chunk in chunks:
            for frame in decoder.feed(chunk):
                assert len(frame.payload) <= limit
    except WrapperError:
        return
    assert decoder.pending < 8 + limit


def test_a_frame_must_complete_within_the_frame_timeout() -> None:
    """Issue 19.6 (slowloris): a header then one octet every 4 s never ends a frame; with a
    frame timeout the frame is refused once it is overdue, whatever octets keep coming. The
    deadline runs from the frame's first octet, not from the last one."""
    decoder = WrapperDecoder(frame_timeout=10.0)
    assert decoder.frame_deadline is None
    assert decoder.feed(bytes.fromhex("0001001000010400"), now=100.0) == []
    assert decoder.frame_deadline == 110.0
    for now in (104.0, 108.0):
        assert decoder.feed(b"\x00", now=now) == []
        assert decoder.frame_deadline == 110.0
    assert not decoder.overdue(109.9)
    assert decoder.overdue(110.0)
    with pytest.raises(WrapperTimeout, match="not completed within 10 s"):
        decoder.feed(b"\x00", now=112.0)
    assert issubclass(WrapperTimeout, WrapperError)
    with pytest.raises(WrapperError, match="already failed"):
        decoder.feed(WrapperFrame(16, 1, GET_REQUEST).encode(), now=113.0)


def test_the_frame_deadline_restarts_with_each_frame() -> None:
    """A head-end's frames each get the whole timeout: the rest of a read that completed a
    frame starts the next one at that read's time; nothing pending means no deadline."""
    first, second = WrapperFrame(16, 1, GET_REQUEST), WrapperFrame(16, 1, GET_RESPONSE)
    decoder = WrapperDecoder(frame_timeout=5.0)
    assert decoder.feed(first.encode()[:3], now=0.0) == []
    assert decoder.feed(first.encode()[3:] + second.encode()[:4], now=4.0) == [first]
    assert decoder.frame_deadline == 9.0
    assert decoder.feed(second.encode()[4:], now=8.0) == [second]
    assert decoder.frame_deadline is None
    assert not decoder.overdue(1000.0)
    assert decoder.feed(first.encode(), now=1000.0) == [first]


def test_without_a_frame_timeout_a_frame_has_no_deadline() -> None:
    decoder = WrapperDecoder()
    assert decoder.feed(bytes.fromhex("000100100001"), now=0.0) == []
    assert decoder.frame_deadline is None
    assert not decoder.overdue(1e9)
    with pytest.raises(ValueError, match="frame_timeout"):
        WrapperDecoder(frame_timeout=0)
