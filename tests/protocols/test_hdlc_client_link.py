"""Our HDLC client link against the server link, both sans-IO in process: connection and
negotiation, segmentation both ways, windows, retries after lost frames, DISC, and the
refusals (DM, FRMR, wrong FCS) that must give a clear client error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.protocols.hdlc_vectors import AARE_APDU, AARQ_APDU, SERVER, SNRM

from metertwin.protocols.hdlc_client_link import (
    ClientLinkSettings,
    ClientLinkState,
    HdlcClientLink,
    HdlcLinkError,
    HdlcLinkTimeout,
)
from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    LinkParameters,
    control_u,
)
from metertwin.protocols.hdlc_link import ApduReceived, HdlcServerLink, ServerLinkSettings

Answer = Callable[[bytes], bytes | None]
Line = Callable[[bytes], bytes]


def _echo(apdu: bytes) -> bytes:
    return apdu


class Pair:
    """A client link and a server link joined by a line the test may spoil."""

    def __init__(
        self,
        client: ClientLinkSettings | None = None,
        server: ServerLinkSettings | None = None,
        answer: Answer = _echo,
    ) -> None:
        self.client = HdlcClientLink(client or ClientLinkSettings(SERVER))
        self.server = HdlcServerLink(server or ServerLinkSettings(physical_address=17))
        self.answer = answer
        self.now = 0.0
        self.to_server: Line = lambda octets: octets
        self.to_client: Line = lambda octets: octets
        self.requests: list[bytes] = []

    def run(self, octets: bytes) -> bytes | None:
        """Carry ``octets`` to the server and every answer back until the client has an APDU
        or waits on nothing; the clock jumps to the client's deadline when the line is quiet."""
        pending = octets
        for _ in range(200):
            while pending:
                output = self.server.receive(self.to_server(pending), self.now)
                reply = output.transmit
                for event in output.events:
                    if isinstance(event, ApduReceived):
                        self.requests.append(event.apdu)
                        reply += self.server.respond(self.answer(event.apdu))
                got = self.client.receive(self.to_client(reply), self.now)
                pending = got.transmit
                if got.apdu is not None:
                    return got.apdu
            deadline = self.client.deadline
            if deadline is None:
                return None
            self.now = deadline
            pending = self.client.poll(self.now)
        raise AssertionError("the links never settled")

    def connect(self) -> None:
        assert self.run(self.client.connect(self.now)) is None
        assert self.client.state is ClientLinkState.IDLE

    def request(self, apdu: bytes) -> bytes | None:
        return self.run(self.client.send(apdu, self.now))


def test_default_snrm_is_the_golden_frame_and_an_aarq_gets_its_aare() -> None:
    """With the default limits the SNRM carries no parameter list: the golden SNRM of
    dlms-cosem's tests (tests/protocols/hdlc_vectors.py)."""
    link = HdlcClientLink(ClientLinkSettings(SERVER))
    assert link.connect(0.0) == SNRM
    pair = Pair(answer=lambda apdu: AARE_APDU if apdu == AARQ_APDU else None)
    pair.connect()
    assert pair.request(AARQ_APDU) == AARE_APDU
    assert pair.client.parameters == LinkParameters()


def test_negotiation_takes_the_smaller_of_each_limit() -> None:
    client = ClientLinkSettings(
        SERVER, max_info_transmit=512, max_info_receive=64, window_transmit=7, window_receive=3
    )
    server = ServerLinkSettings(
        physical_address=17, max_info_receive=256, max_info_transmit=1024, window_receive=2
    )
    pair = Pair(client, server)
    pair.connect()
    assert pair.client.parameters == LinkParameters(256, 64, 2, 1)
    assert pair.server.parameters == LinkParameters(64, 256, 1, 2)


@pytest.mark.parametrize("window", [1, 3, 7])
def test_long_requests_and_answers_are_segmented_both_ways(window: int) -> None:
    settings = ClientLinkSettings(
        SERVER,
        max_info_transmit=48,
        max_info_receive=48,
        window_transmit=window,
        window_receive=window,
    )
    server = ServerLinkSettings(physical_address=17, window_receive=window, window_transmit=window)
    pair = Pair(settings, server, answer=lambda apdu: apdu[::-1] * 3)
    pair.connect()
    request = bytes(range(256)) * 2
    assert pair.request(request) == request[::-1] * 3
    assert pair.requests == [request]
    assert pair.request(b"\xc0\x01") == b"\x01\xc0" * 3  # numbering goes on
    assert pair.client.retransmissions == 0


def test_a_lost_answer_is_polled_for_again_and_arrives() -> None:
    pair = Pair(answer=lambda apdu: b"\x01" * 300)
    pair.connect()
    lost = [2]  # drop the second and the third frame the server sends: segments of the answer

    def spoil(octets: bytes) -> bytes:
        if octets and lost[0] > 0 and b"\x01" * 50 in octets:
            lost[0] -= 1
            return b""
        return octets

    pair.to_client = spoil
    assert pair.request(b"\xc0") == b"\x01" * 300
    assert pair.client.retransmissions == 2
    assert pair.requests == [b"\xc0"]  # the repeat was not taken for a second request


def test_a_lost_request_frame_is_sent_again() -> None:
    pair = Pair()
    pair.connect()
    drops = [1]

    def spoil(octets: bytes) -> bytes:
        if drops[0]:
            drops[0] -= 1
            return b""
        return octets

    pair.to_server = spoil
    assert pair.request(b"\xc0\x02") == b"\xc0\x02"
    assert pair.client.retransmissions == 1


def test_an_answer_with_a_wrong_fcs_is_dropped_then_a_timeout_says_so() -> None:
    pair = Pair(ClientLinkSettings(SERVER, retries=2))
    pair.connect()

    def corrupt(octets: bytes) -> bytes:
        return octets[:-2] + bytes([octets[-2] ^ 0xFF]) + octets[-1:] if octets else octets

    pair.to_client = corrupt
    with pytest.raises(HdlcLinkTimeout, match=r"3 polls .* 3 wrong FCS"):
        pair.request(b"\xc0")
    assert pair.client.state is ClientLinkState.DISCONNECTED


def test_a_silent_server_is_a_timeout_naming_the_address() -> None:
    link = HdlcClientLink(ClientLinkSettings(HdlcAddress.server(1, 6678), retries=1))
    assert link.connect(0.0)
    assert link.deadline == 3.0
    assert link.poll(1.0) == b""  # not yet
    assert link.poll(3.0) == snrm_of(link)
    with pytest.raises(HdlcLinkTimeout, match=r"server 1/6678 while SNRM sent \(2 polls"):
        link.poll(6.0)


def snrm_of(link: HdlcClientLink) -> bytes:
    return HdlcFrame(
        link.settings.server, HdlcAddress(16), control_u(FrameType.SNRM, True)
    ).encode()


def test_dm_to_snrm_is_a_refusal() -> None:
    """A server already connected to another client answers an SNRM with DM."""
    pair = Pair()
    pair.connect()
    other = HdlcClientLink(ClientLinkSettings(SERVER, client=0x20))
    reply = pair.server.receive(other.connect(0.0), 0.0).transmit
    with pytest.raises(HdlcLinkError, match=r"disconnected \(DM\) while SNRM sent"):
        other.receive(reply, 0.0)


def test_dm_to_a_request_after_the_server_dropped_the_link() -> None:
    pair = Pair(server=ServerLinkSettings(physical_address=17, inactivity_timeout=5.0))
    pair.connect()
    pair.now = 10.0  # the server's inactivity timeout has passed
    with pytest.raises(HdlcLinkError, match=r"\(DM\) while sending a request"):
        pair.request(b"\xc0")


def test_frmr_is_a_clear_error_with_its_reason() -> None:
    """An information field longer than the server accepts: FRMR with reason Y."""
    pair = Pair(ClientLinkSettings(SERVER, max_info_transmit=256))
    pair.connect()
    pair.client.parameters = LinkParameters(256, 128, 1, 1)  # a client that ignores the UA
    with pytest.raises(HdlcLinkError, match=r"FRMR .*Y: information field too long"):
        pair.request(bytes(200))


def test_disc_ends_the_link_on_both_sides_and_dm_to_disc_is_no_error() -> None:
    pair = Pair()
    pair.connect()
    assert pair.run(pair.client.disconnect(pair.now)) is None
    assert pair.client.state is ClientLinkState.DISCONNECTED
    assert pair.server.client is None
    client = HdlcClientLink(ClientLinkSettings(SERVER))
    client.connect(0.0)  # its UA never read: the DISC goes to a server in NDM
    answer = pair.server.receive(client.disconnect(0.0), 0.0).transmit
    assert HdlcDecoder().feed(answer)[0].kind is FrameType.DM
    assert client.receive(answer, 0.0).transmit == b""
    assert client.state is ClientLinkState.DISCONNECTED


def test_frames_for_another_station_are_not_read() -> None:
    pair = Pair()
    pair.connect()
    other = HdlcFrame(HdlcAddress(0x20), SERVER, control_u(FrameType.DM, True)).encode()
    assert pair.client.receive(other, 0.0).transmit == b""
    assert pair.client.state is ClientLinkState.IDLE


def test_answers_split_at_every_octet_are_reassembled() -> None:
    pair = Pair(answer=lambda apdu: bytes(range(200)))
    pair.connect()
    request = pair.client.send(b"\xc0", 0.0)
    output = pair.server.receive(request, 0.0)
    reply = output.transmit + pair.server.respond(bytes(range(200)))
    got = None
    for octet in reply:
        result = pair.client.receive(bytes([octet]), 0.0)
        assert result.apdu is None
        if result.transmit:
            reply2 = pair.server.receive(result.transmit, 0.0).transmit
            for second in reply2:
                got = pair.client.receive(bytes([second]), 0.0).apdu or got
    assert got == bytes(range(200))


def test_requests_need_a_link() -> None:
    link = HdlcClientLink(ClientLinkSettings(SERVER))
    with pytest.raises(HdlcLinkError, match="cannot send a request: the link is disconnected"):
        link.send(b"\xc0", 0.0)
    assert link.disconnect(0.0) == b""
    link.connect(0.0)
    with pytest.raises(HdlcLinkError, match="cannot connect"):
        link.connect(0.0)


def test_server_decoder_sees_clean_frames_from_the_client() -> None:
    """Every octet the client sends is a valid frame (no stray octets for a secondary)."""
    pair = Pair(
        ClientLinkSettings(SERVER, max_info_transmit=64, window_transmit=2), answer=lambda a: a * 4
    )
    pair.connect()
    assert pair.request(bytes(500)) == bytes(2000)
    stats = pair.server.decoder.stats
    assert (stats.bad_fcs, stats.bad_hcs, stats.malformed, stats.discarded_octets) == (0, 0, 0, 0)
    decoder = HdlcDecoder()
    assert decoder.feed(pair.client.disconnect(0.0))[0].kind is FrameType.DISC
