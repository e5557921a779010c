"""Our HDLC server link against an independent client and with the DLMS server above it, in one
process (no socket, no serial line: the transports come later, issue 13 item 4).

dlms-cosem's ``HdlcTransport`` and gurux's ``GXDLMSClient`` (test-only dependencies) are the
clients: their SNRM, I-frames, segmentation with RR and DISC are answered by
:class:`HdlcServerLink`; the octets go between them directly, as a serial line would carry them.
"""

from __future__ import annotations

from collections.abc import Callable

from dlms_cosem.hdlc import frames as dc_frames
from dlms_cosem.io import HdlcTransport
from gurux_dlms import GXByteBuffer, GXDLMSClient, GXReplyData
from gurux_dlms.enums import Authentication, InterfaceType
from gurux_dlms.objects import GXDLMSData
from tests.dlms.test_server import FakeBackend
from tests.protocols.hdlc_vectors import AARE, AARQ, SNRM

from metertwin.dlms.capabilities import IMPLEMENTED_CONFORMANCE
from metertwin.dlms.server import ServerConnection, ServerSettings
from metertwin.protocols.hdlc_frame import HdlcDecoder, LinkParameters
from metertwin.protocols.hdlc_link import (
    ApduReceived,
    HdlcServerLink,
    LinkOutput,
    LinkState,
    ServerLinkSettings,
)


class LinkIO:
    """dlms-cosem's IoImplementation, wired to our link: what the client sends is fed to the
    link at once, APDUs go to ``answer``, and the link's octets wait to be read."""

    def __init__(self, link: HdlcServerLink, answer: Callable[[bytes], bytes | None]) -> None:
        self.link = link
        self.answer = answer
        self.incoming = bytearray()
        self.now = 0.0
        self.requests: list[bytes] = []

    def connect(self) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def send(self, data: bytes) -> None:
        self.now += 0.01
        self._take(self.link.receive(data, self.now))

    def _take(self, output: LinkOutput) -> None:
        self.incoming += output.transmit
        for event in output.events:
            if isinstance(event, ApduReceived):
                self.requests.append(event.apdu)
                self.incoming += self.link.respond(self.answer(event.apdu))

    def recv(self, amount: int = 1) -> bytes:
        data = bytes(self.incoming[:amount])
        del self.incoming[:amount]
        return data

    def recv_until(self, end: bytes) -> bytes:
        # As pyserial's read_until on a timeout: all there is when ``end`` never comes (a
        # frame whose FCS holds 0x7E makes dlms-cosem read on past its closing flag).
        found = self.incoming.find(end)
        index = len(self.incoming) if found < 0 else found + len(end)
        data = bytes(self.incoming[:index])
        del self.incoming[:index]
        return data


def _transport(link: HdlcServerLink, answer: Callable[[bytes], bytes | None]) -> HdlcTransport:
    return HdlcTransport(
        client_logical_address=16,
        server_logical_address=1,
        server_physical_address=17,
        io=LinkIO(link, answer),
    )


def test_dlms_cosem_connects_exchanges_segmented_apdus_and_disconnects() -> None:
    link = HdlcServerLink(ServerLinkSettings(physical_address=17))
    transport = _transport(link, lambda request: b"\xc4" + bytes(reversed(request)) * 3)
    ua = transport.connect()
    assert isinstance(ua, dc_frames.UnNumberedAcknowledgmentFrame)
    assert link.state is LinkState.NRM
    short = bytes.fromhex("C001C1000100002B0100FF0200")  # dlms.md 5: a GET of 0.0.43.1.0.255
    assert transport.send_request(short) == b"\xc4" + bytes(reversed(short)) * 3
    long_request = bytes(range(256)) * 2  # five segments out of the client, RR between them
    answer = transport.send_request(long_request)
    assert answer == b"\xc4" + bytes(reversed(long_request)) * 3  # thirteen segments back
    assert transport.io.requests == [short, long_request]  # type: ignore[attr-defined]
    assert link.counters.out_of_sequence == link.decoder.stats.bad_fcs == 0
    disc_answer = transport.disconnect()
    assert isinstance(disc_answer, dc_frames.UnNumberedAcknowledgmentFrame)
    assert link.state is LinkState.NDM


def test_golden_snrm_and_aarq_through_the_link_and_the_dlms_server_give_the_golden_aare() -> None:
    """protocols.md HDLC vectors end to end: the dlms-cosem AARQ I-frame, through our link and
    our DLMS server (AARE accepting 001E1D, server PDU 1224, as tests/dlms/test_server.py
    checks for the bare APDUs), comes back as the meter's AARE I-frame to the byte."""
    server = ServerConnection(
        FakeBackend(public_conformance=IMPLEMENTED_CONFORMANCE),
        1,
        ServerSettings(max_receive_pdu_size=1224),
    )
    link = HdlcServerLink(ServerLinkSettings(physical_address=17))
    link.receive(SNRM, now=0.0)
    output = link.receive(AARQ, now=0.1)
    (event,) = output.events
    assert isinstance(event, ApduReceived)
    assert link.respond(server.receive(event.client, event.apdu)) == AARE


class GuruxOverLink:
    """gurux's HDLC client in front of our link and our DLMS server (FakeBackend's objects)."""

    def __init__(self, link: HdlcServerLink, server: ServerConnection) -> None:
        self.link = link
        self.server = server
        self.client = GXDLMSClient(
            True,
            16,
            GXDLMSClient.getServerAddress(1, 17),
            Authentication.NONE,
            None,
            InterfaceType.HDLC,
        )
        self.frames_from_server = 0
        self.now = 0.0

    def _line(self, frame: bytes | bytearray) -> bytes:
        self.now += 0.01
        output = self.link.receive(bytes(frame), self.now)
        transmit = output.transmit
        for event in output.events:
            if isinstance(event, ApduReceived):
                transmit += self.link.respond(self.server.receive(event.client, event.apdu))
        self.frames_from_server += len(HdlcDecoder().feed(transmit))
        return transmit

    def exchange(self, frames: bytes | bytearray | list[bytes]) -> GXReplyData:
        reply = GXReplyData()
        for frame in [frames] if isinstance(frames, bytes | bytearray) else frames:
            self._read(self._line(frame), reply)
        while reply.isMoreData():
            self._read(self._line(self.client.receiverReady(reply)), reply)
        return reply

    def _read(self, octets: bytes, reply: GXReplyData) -> None:
        incoming = GXByteBuffer()
        incoming.set(octets)
        assert self.client.getData(incoming, reply, None), octets.hex()


def test_gurux_negotiates_associates_reads_a_segmented_value_and_disconnects() -> None:
    link = HdlcServerLink(
        ServerLinkSettings(physical_address=17, max_info_transmit=256, max_info_receive=256)
    )
    gurux = GuruxOverLink(link, ServerConnection(FakeBackend(), 1))
    gurux.client.hdlcSettings.maxInfoRX = 200  # gurux proposes 200 (and 128 transmit)
    gurux.client.parseUAResponse(gurux.exchange(gurux.client.snrmRequest()).data)
    assert link.parameters == LinkParameters(200, 128, 1, 1)
    assert gurux.client.hdlcSettings.maxInfoRX == 200
    reply = gurux.exchange(gurux.client.aarqRequest())
    gurux.client.parseAareResponse(reply.data)
    name = GXDLMSData("0.0.42.0.0.255")
    assert gurux.exchange(gurux.client.read(name, 2)).value == b"ISK1030777764366"
    blob = GXDLMSData("0.0.96.99.0.255")  # 1024 octets: six I-frames of at most 200, RR between
    sent_before = gurux.frames_from_server
    assert gurux.exchange(gurux.client.read(blob, 2)).value == bytes(range(256)) * 4
    assert gurux.frames_from_server - sent_before == 6
    gurux.exchange(gurux.client.releaseRequest())
    gurux.exchange(gurux.client.disconnectRequest())
    assert link.state is LinkState.NDM
    assert link.counters.out_of_sequence == link.counters.frames_rejected == 0
