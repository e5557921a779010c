"""The RS-485 bus, sans-IO (issue 13, items 2 and 3): meters on one line each answer only their
own physical address, the all-station address reaches all of them and collides when several
answer, two meters with one address collide, a bad frame for one disturbs nobody, and a meter
is selected by the 8 digits of its serial or the 10 of its module's (seed 004)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.protocols.hdlc_vectors import AARQ_APDU, CLIENT

from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    control_i,
    control_u,
)
from metertwin.protocols.hdlc_link import (
    ALL_STATION_PHYSICAL,
    LLC_COMMAND,
    LLC_RESPONSE,
    LinkState,
    physical_address_for_serial,
)
from metertwin.protocols.rs485_bus import (
    MAX_STATIONS,
    BusMember,
    LineOutput,
    Rs485Bus,
    Transmission,
    garble,
    meter_serial_entered,
    module_serial_for,
    select_member,
)
from metertwin.transport.hdlc_bus import bus_link_settings
from metertwin.transport.hdlc_station import HdlcMeterStation
from metertwin.transport.hdlc_tcp import HdlcTcpServerSettings

SERIALS = ("11620371", "11620372", "11620373")
START_MS = 1_772_445_600_000  # 2026-03-02 10:00 UTC
# GET-request-normal, invoke-id C1: class 1, attribute 2 of 0.0.42.0.0.255 (the logical device
# name, "2NM" + the meter serial in this model) and of 0.1.96.1.0.255 (the module serial).
GET_NAME = bytes.fromhex("C001C1000100002A0000FF0200")
GET_MODULE_SERIAL = bytes.fromhex("C001C100010001600100FF0200")


def make_bus(serials: tuple[str, ...] = SERIALS) -> tuple[Rs485Bus, list[HdlcMeterStation]]:
    model = load_model("metercom-pro")
    settings = HdlcTcpServerSettings(server_saps=frozenset({model.dlms.server_sap}))
    stations = []
    for serial in serials:
        device = build_logical_device(model, Meter(model.spec, START_MS, serial), lambda: None)
        link = bus_link_settings(settings, physical_address_for_serial(serial))
        stations.append(HdlcMeterStation(device, link, settings, 0.0))
    return Rs485Bus(stations), stations


def server(physical: int) -> HdlcAddress:
    return HdlcAddress.server(1, physical, 4)


def snrm(physical: int, poll: bool = True) -> bytes:
    return HdlcFrame(server(physical), CLIENT, control_u(FrameType.SNRM, poll)).encode()


def i_frame(physical: int, send_seq: int, receive_seq: int, apdu: bytes) -> bytes:
    control = control_i(send_seq, receive_seq, True)
    return HdlcFrame(server(physical), CLIENT, control, LLC_COMMAND + apdu).encode()


def heard(output: LineOutput) -> list[HdlcFrame]:
    """What the master's decoder makes of the line."""
    return HdlcDecoder().feed(output.octets)


def read_serial(bus: Rs485Bus, physical: int) -> bytes:
    """SNRM, AARQ (public client, no security), GETs of the name and the module serial: the
    meter serial the name holds, checked against the module serial's."""
    [ua] = heard(bus.send(snrm(physical), 1.0))
    assert ua.kind is FrameType.UA and ua.source == server(physical)
    [aare] = heard(bus.send(i_frame(physical, 0, 0, AARQ_APDU), 1.1))
    assert aare.information.startswith(LLC_RESPONSE + b"\x61")
    name = get_octets(bus, physical, 1, GET_NAME)
    module = get_octets(bus, physical, 2, GET_MODULE_SERIAL)
    assert name.startswith(b"2NM") and module.decode() == module_serial_for(name[3:].decode())
    return name[3:]


def get_octets(bus: Rs485Bus, physical: int, sequence: int, request: bytes) -> bytes:
    [answer] = heard(bus.send(i_frame(physical, sequence, sequence, request), 1.2))
    apdu = answer.information[len(LLC_RESPONSE) :]
    assert apdu[:5] == bytes.fromhex("C401C10009")  # get-response-normal, data, octet-string
    return apdu[6 : 6 + apdu[5]]


def test_each_meter_answers_only_its_own_address_with_its_own_serial() -> None:
    bus, stations = make_bus()
    for index, serial in enumerate(SERIALS):
        physical = physical_address_for_serial(serial)
        assert read_serial(bus, physical) == serial.encode()
        assert bus.collisions == 0
        # Only the meter addressed connected; the others heard every frame and kept silent.
        states = [station.link.state for station in stations]
        assert states[index] is LinkState.NRM
        assert all(s is LinkState.NDM for i, s in enumerate(states) if i > index)
        assert all(
            station.link.counters.other_address >= 3
            for i, station in enumerate(stations)
            if i != index
        )


def test_a_frame_for_no_meter_on_the_bus_gets_silence() -> None:
    bus, stations = make_bus()
    assert bus.send(snrm(physical_address_for_serial("99999999")), 0.0) == LineOutput()
    one_octet = HdlcFrame(HdlcAddress(1), CLIENT, control_u(FrameType.SNRM, True)).encode()
    assert bus.send(one_octet, 0.0) == LineOutput()  # no physical address: no member's
    assert all(station.link.state is LinkState.NDM for station in stations)


def test_an_snrm_to_the_all_station_address_makes_every_meter_answer_and_collide() -> None:
    """Seed 004: "If you do not select the opponent at the beginning, all the devices will
    answer you at the same time ... the received data will be mixed up"."""
    bus, _ = make_bus()
    output = bus.send(snrm(ALL_STATION_PHYSICAL[4]), 0.0)
    assert output.collided and output.talkers == (0, 1, 2) and output.octets
    decoder = HdlcDecoder()
    assert decoder.feed(output.octets) == [] and decoder.pending == 0  # nothing decodes
    assert bus.collisions == 1


def test_a_broadcast_without_the_poll_bit_reaches_every_meter_and_gets_no_answer() -> None:
    """The Green Book's broadcast: received by all stations, answered by none (P = 0)."""
    bus, stations = make_bus()
    assert bus.send(snrm(ALL_STATION_PHYSICAL[4], poll=False), 0.0) == LineOutput()
    assert all(station.link.state is LinkState.NRM for station in stations)  # acted on
    ui = HdlcFrame(server(ALL_STATION_PHYSICAL[4]), CLIENT, control_u(FrameType.UI, False))
    assert bus.send(ui.encode(), 0.1) == LineOutput()
    assert bus.collisions == 0


def test_the_all_station_address_reaches_a_lone_meter_without_collision() -> None:
    bus, _ = make_bus(SERIALS[:1])
    [ua] = heard(bus.send(snrm(ALL_STATION_PHYSICAL[4]), 0.0))
    assert ua.kind is FrameType.UA and not bus.collisions


def test_two_meters_with_the_same_address_collide() -> None:
    """Serials ending in the same four digits share the IDIS address: the wrong address
    choice the collision model shows. Their two identical UAs cancel: nothing decodes."""
    twins = ("11620371", "99990371")
    assert physical_address_for_serial(twins[0]) == physical_address_for_serial(twins[1])
    bus, _ = make_bus(twins)
    output = bus.send(snrm(physical_address_for_serial(twins[0])), 0.0)
    assert output.collided and output.talkers == (0, 1)
    assert set(output.octets) == {0xFF}
    assert heard(output) == []


def test_a_bad_frame_for_one_meter_disturbs_no_other() -> None:
    bus, stations = make_bus()
    first, second = (physical_address_for_serial(s) for s in SERIALS[:2])
    [ua] = heard(bus.send(snrm(first), 0.0))
    assert ua.kind is FrameType.UA
    broken = bytearray(snrm(second))
    broken[-2] ^= 0xFF  # its FCS
    assert bus.send(bytes(broken), 0.1) == LineOutput()
    assert [s.link.state for s in stations] == [LinkState.NRM, LinkState.NDM, LinkState.NDM]
    assert all(s.link.decoder.stats.malformed + s.link.decoder.stats.bad_fcs for s in stations)
    # The first meter's link goes on as if nothing happened.
    [aare] = heard(bus.send(i_frame(first, 0, 0, AARQ_APDU), 0.2))
    assert aare.kind is FrameType.I and aare.information.startswith(LLC_RESPONSE + b"\x61")
    assert read_serial(bus, second) == SERIALS[1].encode()


@dataclass
class Talker:
    """A station that answers every frame with fixed octets."""

    answer: bytes
    deadline: float | None = None

    def receive(self, data: bytes, now: float) -> bytes:
        return self.answer

    def poll(self, now: float) -> bytes:
        return b""


def test_a_talker_still_on_the_line_collides_with_the_next() -> None:
    """At 9600 baud (11 bits an octet) a 40-octet answer lasts 46 ms: an answer beginning
    10 ms after it overlaps it; one beginning after it ended does not."""
    octet_time = 11 / 9600
    early, late = Talker(b"\x7e" + bytes(range(1, 39)) + b"\x7e"), Talker(b"")
    bus = Rs485Bus([early, late], octet_time)
    assert not bus.send(b"x", 0.0).collided
    early.answer, late.answer = b"", b"\x7e\xa0\x07\x7e"
    overlapped = bus.send(b"y", 0.010)
    assert overlapped.collided and overlapped.talkers == (1,)
    assert overlapped.octets != late.answer
    assert bus.send(b"z", 1.0) == LineOutput(late.answer, (1,))


def test_garble_mixes_what_overlaps_and_passes_the_rest() -> None:
    a = Transmission(0, 0.0, 0.0, b"\x7e\x01\x02")
    b = Transmission(1, 0.0, 0.0, b"\x7e\x03")
    assert garble([a, b], 0.0) == b"\xff\xfd\x02"  # ~(7E^7E), ~(01^03), then a alone
    c = Transmission(1, 1.0, 3.0, b"\xf0\xf0")
    assert garble([a, c], 1.0) == b"\x7e\x0e\x0d"  # c starts one octet later
    assert garble([a, a, a], 0.0) == b"\x81\xfe\xfd"  # three identical: no flag survives


def test_a_bus_holds_one_to_32_stations() -> None:
    with pytest.raises(ValueError, match=r"1\.\.32"):
        Rs485Bus([Talker(b"")] * (MAX_STATIONS + 1))
    with pytest.raises(ValueError, match=r"1\.\.32"):
        Rs485Bus([])


# -- selection by serial number (seed 004: "Enter 8 or 10 digits") ---------------------------


def test_eight_or_ten_digits_select_the_same_meter() -> None:
    members = [BusMember(serial) for serial in SERIALS]
    second = members[1]
    assert second.module_serial == "5011620372" == module_serial_for("11620372")
    assert select_member("11620372", members) is second
    assert select_member("5011620372", members) is second
    assert select_member("50-1162-0372", members) is second  # the seed's SMS form
    assert second.physical_address == physical_address_for_serial("11620372") == 1372


def test_the_address_selected_by_either_form_reaches_that_meter() -> None:
    bus, _ = make_bus()
    members = [BusMember(serial) for serial in SERIALS]
    for entered in ("11620373", "5011620373"):
        physical = select_member(entered, members).physical_address
        assert read_serial(bus, physical) == b"11620373"


@pytest.mark.parametrize("entered", ["1162037", "116203711", "501162037", "", "abc"])
def test_other_counts_of_digits_are_refused(entered: str) -> None:
    with pytest.raises(ValueError, match="8 or 10 digits"):
        select_member(entered, [BusMember(s) for s in SERIALS])


def test_digits_of_no_member_are_refused() -> None:
    with pytest.raises(ValueError, match="no meter"):
        select_member("5099999999", [BusMember(s) for s in SERIALS])


def test_the_bus_runs_each_link_timeout_on_the_callers_clock() -> None:
    """A meter left connected returns to NDM after its inactivity timeout (120 s), silently;
    the others have no deadline."""
    bus, stations = make_bus()
    heard(bus.send(snrm(physical_address_for_serial(SERIALS[1])), 10.0))
    assert bus.deadline == 130.0
    assert [s.deadline for s in stations] == [None, 130.0, None]
    assert bus.poll(129.9) == LineOutput() and stations[1].link.state is LinkState.NRM
    assert bus.poll(130.0) == LineOutput() and stations[1].link.state is LinkState.NDM
    assert bus.deadline is None


def test_the_meter_serial_a_head_end_means_without_the_member_list() -> None:
    """Our client's ``address=`` (docs/hdlc.md, "Our client"): 10 digits beginning 50 are a
    module serial, whose meter serial is the last 8; anything else is the meter's serial."""
    assert meter_serial_entered("5011620371") == "11620371"
    assert meter_serial_entered("50-1162-0371") == "11620371"
    assert meter_serial_entered("11620371") == "11620371"
    assert meter_serial_entered("ISK1030777764366") == "ISK1030777764366"
    assert meter_serial_entered("4011620371") == "4011620371"  # 10 digits, no module prefix
    for entered in ("5011620371", "11620371"):
        assert physical_address_for_serial(meter_serial_entered(entered)) == 1371
