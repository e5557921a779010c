"""Class 23, IEC HDLC setup (``0.0.22.0.0.255``), live (issue 13 item 1): a GET shows what the
HDLC link uses, a SET by the management association takes effect at the next SNRM (the
connection in progress keeps what it negotiated), and values class 23 does not allow are
refused. In one process: our client (``DlmsClient`` over ``HdlcCarrier``) and raw frames on an
in-memory line to an :class:`HdlcBridge` in front of an az3p meter's logical device."""

from __future__ import annotations

from dataclasses import replace

import pytest

from metertwin.codec.axdr import Data, encode
from metertwin.codec.enums import DataAccessResult
from metertwin.dlms.client.errors import DataAccessError
from metertwin.dlms.client.hdlc import HdlcCarrier, server_address
from metertwin.dlms.client.tcp import DlmsClient
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.models.hdlc_setup_object import HdlcPort
from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    LinkParameters,
    control_u,
    decode_parameters,
    encode_parameters,
)
from metertwin.protocols.hdlc_link import LinkState, physical_address_for_serial
from metertwin.transport.channel import DlmsChannel
from metertwin.transport.hdlc_bridge import HdlcBridge
from metertwin.transport.hdlc_tcp import HdlcTcpServerSettings

SERIAL = "12345678"
PHYSICAL = physical_address_for_serial(SERIAL)  # 6678
SETUP = "0.0.22.0.0.255"
MANAGEMENT = {"client_sap": 1, "password": "12345678"}  # az3p's "utility" association
READER = {"client_sap": 32, "password": "ABCDEFGH"}  # reads everything, sets nothing
BIGGEST = LinkParameters(2030, 2030, 7, 7)  # a client proposing the most class 23 allows


class Meter23:
    """An az3p meter's logical device behind one HDLC link fed from an in-memory line."""

    def __init__(self) -> None:
        model = load_model("az3p")
        self.meter = Meter(model.spec, 1_764_000_000_000, SERIAL)
        settings = HdlcTcpServerSettings(
            server_saps=frozenset({model.dlms.server_sap}), physical_address=PHYSICAL
        )
        self.port = HdlcPort(self.meter, settings.setup)  # the transport's values: 1 s, ...
        device = build_logical_device(model, self.meter, lambda: None, hdlc_port=self.port)
        settings = replace(settings, live_setup=self.port.setup)
        channel = DlmsChannel({model.dlms.server_sap: device}, settings, 0.0)
        self.bridge = HdlcBridge(settings.link_source(), channel)
        self.link = self.bridge.link
        self.now = 0.0
        self.answer = bytearray()
        self.peer = "in-memory"

    # ByteLine, for HdlcCarrier
    def write(self, data: bytes) -> None:
        self.now += 0.01
        self.answer += self.bridge.receive(data, self.now).transmit

    def read(self, wait: float) -> bytes:
        data, self.answer[:] = bytes(self.answer), b""
        return data

    def close(self) -> None:
        pass

    def client(self, client_sap: int, password: str | None, physical: int = PHYSICAL) -> DlmsClient:
        carrier = HdlcCarrier(self, server_address(1, physical), client_sap)
        return DlmsClient().open(carrier, password)

    def snrm(self, physical: int, proposal: LinkParameters | None = BIGGEST) -> HdlcFrame | None:
        """A raw SNRM from client 0x10; the answer frame, None for silence."""
        information = b"" if proposal is None else encode_parameters(proposal)
        control = control_u(FrameType.SNRM, True)
        frame = HdlcFrame(HdlcAddress(1, physical, 4), HdlcAddress(0x10), control, information)
        self.write(frame.encode())
        frames = HdlcDecoder().feed(self.read(0))
        return frames[0] if frames else None

    def disc(self, physical: int) -> None:
        control = control_u(FrameType.DISC, True)
        self.write(HdlcFrame(HdlcAddress(1, physical, 4), HdlcAddress(0x10), control).encode())
        self.read(0)


def attributes(client: DlmsClient) -> dict[int, int]:
    return {index: client.get(SETUP, 23, index).as_int() for index in range(2, 10)}


def test_a_get_shows_what_the_link_uses() -> None:
    meter = Meter23()
    with meter.client(**READER) as client:
        values = attributes(client)
    link = meter.link.settings
    assert values == {
        2: 5,  # 9600 baud: the Green Book's default; TCP has no line rate of its own
        3: link.window_transmit,
        4: link.window_receive,
        5: link.max_info_transmit,
        6: link.max_info_receive,
        7: 1000,  # HDLC over TCP's inter-octet timeout, 1 s (docs/hdlc.md)
        8: round(link.inactivity_timeout),
        9: PHYSICAL,
    }
    assert meter.link.decoder.inter_octet_timeout == 1.0


def test_a_set_takes_effect_at_the_next_snrm_and_the_connection_keeps_its_values() -> None:
    meter = Meter23()
    ua = meter.snrm(PHYSICAL)
    assert ua is not None and decode_parameters(ua.information) == LinkParameters(128, 128, 1, 1)
    meter.disc(PHYSICAL)
    with meter.client(**MANAGEMENT) as client:
        for index, value in ((3, 7), (4, 4), (5, 512), (6, 256), (7, 40), (8, 30)):
            client.set(
                SETUP, 23, index, Data.unsigned(value) if index < 5 else Data.long_unsigned(value)
            )
        negotiated = meter.link.parameters
        assert negotiated == LinkParameters(128, 128, 1, 1)  # this connection's, unchanged
        assert meter.link.settings.window_transmit == 1
        assert client.get(SETUP, 23, 3).as_int() == 7  # what the next connection gets
    ua = meter.snrm(PHYSICAL)
    assert ua is not None
    # The UA as the server sends it: transmit 512 (its max_info_transmit), receive 256,
    # window transmit 7, receive 4 (each the smaller of the proposal and the new limit).
    assert decode_parameters(ua.information) == LinkParameters(512, 256, 7, 4)
    assert meter.link.decoder.inter_octet_timeout == pytest.approx(0.040)
    assert meter.link.settings.inactivity_timeout == 30.0


def test_our_client_proposes_larger_frames_and_windows_and_uses_what_the_ua_grants() -> None:
    meter = Meter23()
    with meter.client(**MANAGEMENT) as client:
        for index, value in ((3, 7), (4, 7), (5, 2030), (6, 1024)):
            client.set(
                SETUP, 23, index, Data.unsigned(value) if index < 5 else Data.long_unsigned(value)
            )
    carrier = HdlcCarrier(
        meter, server_address(1, PHYSICAL), 1, max_info=2030, window=7
    )  # the firmware benchmark's proposal (benchmarks/firmware_hdlc_pty.py)
    with DlmsClient().open(carrier, MANAGEMENT["password"]) as client:
        # seen from our side: we may send 1024 (the server receives that much), take 2030
        assert carrier.link.parameters == LinkParameters(1024, 2030, 7, 7)
        assert client.get(SETUP, 23, 6).as_int() == 1024
    default = HdlcCarrier(meter, server_address(1, PHYSICAL), 1)
    with DlmsClient().open(default, MANAGEMENT["password"]):
        assert default.link.parameters == LinkParameters(128, 128, 1, 1)  # nothing proposed


def test_a_new_device_address_answers_from_the_next_snrm_fast_path_included() -> None:
    meter = Meter23()
    with meter.client(**MANAGEMENT) as client:
        client.set(SETUP, 23, 9, Data.long_unsigned(4242))
        # This connection goes on at the old address (its answer came back on it).
        assert client.get(SETUP, 23, 9).as_int() == 4242
    assert meter.link.state is LinkState.NDM
    assert meter.snrm(PHYSICAL) is None  # the old address: another station's now
    with meter.client(**READER, physical=4242) as client:
        # Reads go the fast path (one whole I-frame each) with the new address's octets.
        assert client.get("0.0.96.1.0.255", 1, 2).as_bytes().decode().endswith(SERIAL[-8:])
        assert client.get(SETUP, 23, 9).as_int() == 4242


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (2, Data.enum(10)),  # comm_speed: 0..9 only
        (3, Data.unsigned(0)),  # window: 1..7
        (4, Data.unsigned(8)),
        (5, Data.long_unsigned(31)),  # information field: 32..2030
        (6, Data.long_unsigned(2031)),
        (7, Data.long_unsigned(0)),  # inter-octet timeout of 0 ms: every frame lost
        (9, Data.long_unsigned(0x3FFF)),  # the all-station address is no station's own
        (3, Data.long_unsigned(2)),  # the wrong type
    ],
)
def test_values_class_23_does_not_allow_are_refused_and_nothing_changes(
    index: int, value: Data
) -> None:
    meter = Meter23()
    with meter.client(**MANAGEMENT) as client:
        before = attributes(client)
        with pytest.raises(DataAccessError) as refused:
            client.set(SETUP, 23, index, value)
        assert refused.value.result is DataAccessResult.TYPE_UNMATCHED
        assert attributes(client) == before
    assert not meter.meter.parameters


def test_the_reader_may_read_but_not_set() -> None:
    meter = Meter23()
    with meter.client(**READER) as client, pytest.raises(DataAccessError) as refused:
        client.set(SETUP, 23, 3, Data.unsigned(2))
    assert refused.value.result is DataAccessResult.READ_WRITE_DENIED
    assert meter.port.setup().window_transmit == 1


def test_an_snrm_resetting_the_link_at_an_address_no_longer_ours_gets_silence() -> None:
    """A reset SNRM ends the connection in progress; the next connection is class 23's, so
    when the address changed meanwhile, the old one is silent and the new one answers."""
    meter = Meter23()
    assert meter.snrm(PHYSICAL) is not None  # connected at 6678
    meter.meter.parameters[f"{SETUP}/9"] = encode(Data.long_unsigned(4242))  # as a SET stores it
    assert meter.link.state is LinkState.NRM and meter.link.settings.physical_address == PHYSICAL
    assert meter.snrm(PHYSICAL) is None
    assert meter.link.state is LinkState.NDM and meter.link.counters.other_address == 1
    ua = meter.snrm(4242)
    assert ua is not None and ua.kind is FrameType.UA
