"""The meter's physical HDLC address from its serial number (docs/hdlc.md, "Addressing"), checked
against gurux's own implementation of the IDIS rule (``getServerAddressFromSerialNumber``, default
formula ``SN % 10000 + 1000``; gurux-dlms is a test-only dependency), and the all-station
physical address on a point-to-point link."""

from __future__ import annotations

import pytest
from gurux_dlms import GXDLMSClient
from tests.protocols.hdlc_vectors import CLIENT, SNRM_BY_SERIAL

from metertwin.protocols.hdlc_frame import (
    FrameType,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    control_u,
    decode_frame,
)
from metertwin.protocols.hdlc_link import (
    HdlcServerLink,
    ServerLinkSettings,
    physical_address_for_serial,
)


@pytest.mark.parametrize(
    "serial", ["12345678", "00000001", "99999999", "1234", "7", "1030777764366"]
)
def test_the_address_of_a_numeric_serial_is_the_one_gurux_computes(serial: str) -> None:
    by_gurux = GXDLMSClient.getServerAddressFromSerialNumber(int(serial), 0)
    assert physical_address_for_serial(serial) == by_gurux


@pytest.mark.parametrize(
    ("serial", "address"),
    [("12345678", 6678), ("ISK1030777764366", 5366), ("AB-12", 1012), ("METER", 1000), ("0", 1000)],
)
def test_the_address_takes_the_last_four_digits_of_the_serial(serial: str, address: int) -> None:
    assert physical_address_for_serial(serial) == address


def test_every_serial_gives_a_usable_four_octet_address_outside_the_reserved_ones() -> None:
    addresses = {physical_address_for_serial(str(n)) for n in range(0, 200_000, 7)}
    assert min(addresses) == 1000 and max(addresses) == 10_999
    for address in addresses:
        HdlcAddress.server(1, address)  # encodable; 0x3FFE and 0x3FFF are far above
        assert address > 0x7F  # so always the four-octet form


def test_the_serial_number_vector_addresses_the_meter_of_that_serial() -> None:
    """hdlc_vectors.SNRM_BY_SERIAL: an SNRM to physical 6678 (SN 12345678) in four octets."""
    assert decode_frame(SNRM_BY_SERIAL).destination.lower == physical_address_for_serial("12345678")


def _snrm_to(physical: int, size: int) -> bytes:
    destination = HdlcAddress(1, physical, size)
    return HdlcFrame(destination, CLIENT, control_u(FrameType.SNRM, True)).encode()


@pytest.mark.parametrize(("physical", "size"), [(0x7F, 2), (0x3FFF, 4)])
def test_the_all_station_address_is_answered_only_where_the_link_accepts_it(
    physical: int, size: int
) -> None:
    quiet = HdlcServerLink(ServerLinkSettings(physical_address=6678))
    assert quiet.receive(_snrm_to(physical, size), 0.0).transmit == b""
    point_to_point = HdlcServerLink(
        ServerLinkSettings(physical_address=6678, accept_all_station_address=True)
    )
    [ua] = HdlcDecoder().feed(point_to_point.receive(_snrm_to(physical, size), 0.0).transmit)
    assert ua.kind is FrameType.UA and ua.source == HdlcAddress(1, physical, size)
    other = point_to_point.receive(_snrm_to(6679, 4), 1.0)  # another meter's address: silence
    assert other.transmit == b"" and point_to_point.counters.other_address == 1
