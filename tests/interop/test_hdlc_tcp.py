"""Interop over HDLC on TCP (issue 13, item 4): gurux's client (``InterfaceType.HDLC``, the
server address from ``getServerAddress(1, physical)``) and dlms-cosem's ``HdlcTransport`` over
a socket read the clock and registers of a meter served in-process and of ``metertwin run
--hdlc-port 0``. The physical address is the serial number's (docs/hdlc.md, "Addressing"):
the clients are given the address the meter announces, and it must be gurux's own IDIS
computation from the serial."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dlms_cosem import cosem, enumerations
from dlms_cosem.client import DlmsClient
from dlms_cosem.io import HdlcTransport
from dlms_cosem.security import NoSecurityAuthentication
from gurux_dlms import GXDLMSClient
from gurux_dlms.objects import GXDLMSClock, GXDLMSData, GXDLMSRegister
from tests.interop.conftest import SERIAL, MeterProcess, ServedMeter, TcpIO
from tests.interop.gurux_client import associated, hdlc_associated
from tests.interop.test_gurux import (
    CLOCK,
    IMPORT_ACTIVE,
    LOGICAL_DEVICE_NAME,
    PUBLIC,
    READER,
    READER_SECRETS,
    UNIT_WH,
    run_for,
    utc,
)

from metertwin.meter.registers import Energy
from metertwin.protocols.hdlc_link import physical_address_for_serial

IDIS_PHYSICAL = GXDLMSClient.getServerAddressFromSerialNumber(int(SERIAL), 0)  # 6678


def test_gurux_reads_the_clock_and_a_register_over_hdlc_from_an_in_process_meter(
    serve: Callable[..., ServedMeter],
) -> None:
    served = serve("metercom-pro", hdlc=True)
    run_for(served, 1)
    imported_wh = served.call(lambda: served.meter.energy_mwh(Energy.IMPORT_ACTIVE)) // 1000
    clock, energy = GXDLMSClock(CLOCK), GXDLMSRegister(IMPORT_ACTIVE)
    secret = READER_SECRETS["metercom-pro"]
    with hdlc_associated(served.port, IDIS_PHYSICAL, READER, secret) as opened:
        opened.read(clock, 2)
        opened.read(energy, 3)
        opened.read(energy, 2)
        client = opened.client
        assert client.hdlcSettings.maxInfoRX == client.hdlcSettings.maxInfoTX == 128  # the UA's
    assert clock.time.value == utc(served.call(served.meter.meter_time_ms))
    assert (energy.value, energy.unit) == (imported_wh, UNIT_WH) and imported_wh > 0
    # Every frame gurux sent went to the serial's physical address, in four octets.
    assert {frame[3:7] for frame in opened.sent} == {bytes([0x00, 0x02, 0x68, 0x2D])}


def test_gurux_reads_metertwin_run_over_hdlc_at_the_announced_address(
    meter_process: Callable[..., MeterProcess],
) -> None:
    running = meter_process(
        "--model", "pmm1220", "--serial", SERIAL, "--start", "2026-03-02T10:00:00",
        "--hdlc-port", "0", "--speed", "1", "--duration", "60",
    )  # fmt: skip
    assert running.hdlc_port is not None and running.hdlc_port != running.port
    assert running.physical_address == IDIS_PHYSICAL
    name, clock = GXDLMSData(LOGICAL_DEVICE_NAME), GXDLMSClock(CLOCK)
    energy = GXDLMSRegister(IMPORT_ACTIVE)
    with hdlc_associated(running.hdlc_port, IDIS_PHYSICAL, READER, b"00000001") as opened:
        opened.read(name, 2)
        opened.read(clock, 2)
        opened.read(energy, 3)
        opened.read(energy, 2)
    assert bytes(name.value) == b"PMM" + SERIAL.encode()
    assert clock.time.value.replace(tzinfo=None) >= datetime(2026, 3, 2, 10, 0)
    assert energy.unit == UNIT_WH and energy.value >= 0
    # The wrapper goes on beside it: the same meter, read over the other port.
    with associated(running.port, PUBLIC) as wrapper:
        wrapper.read(GXDLMSClock(CLOCK), 2)


def test_dlms_cosem_reads_a_register_over_hdlc_on_a_socket(
    serve: Callable[..., ServedMeter],
) -> None:
    """dlms-cosem's HdlcTransport over a socket (its io only needs send, recv and recv_until;
    its four-octet server address needs ``extended_addressing``)."""
    served = serve("metercom-pro", hdlc=True)
    run_for(served, 1)
    imported_wh = served.call(lambda: served.meter.energy_mwh(Energy.IMPORT_ACTIVE)) // 1000
    raw = dlms_cosem_get(
        served.port,
        physical_address_for_serial(SERIAL),
        enumerations.CosemInterface.REGISTER,
        IMPORT_ACTIVE,
    )
    assert raw[0] == 6 and int.from_bytes(raw[1:5], "big") == imported_wh  # double-long-unsigned


def dlms_cosem_get(
    port: int, physical: int, interface: enumerations.CosemInterface, obis: str
) -> bytes:
    """dlms-cosem's HDLC client, public and without security, at ``physical``: attribute 2
    of ``obis``, its A-XDR encoding."""
    transport = HdlcTransport(
        client_logical_address=PUBLIC,
        server_logical_address=1,
        server_physical_address=physical,
        extended_addressing=True,
        io=SocketIO(host="127.0.0.1", port=port, timeout=5),
        timeout=5,
    )
    client = DlmsClient(transport=transport, authentication=NoSecurityAuthentication(), timeout=5)
    client.connect()
    try:
        client.associate()
        raw: bytes = client.get(
            cosem.CosemAttribute(
                interface=interface, instance=cosem.Obis.from_string(obis), attribute=2
            )
        )
        client.release_association()
    finally:
        client.disconnect()
    return raw


class SocketIO(TcpIO):
    """dlms-cosem's blocking socket I/O with the ``recv_until`` its HDLC transport reads by."""

    def recv_until(self, end: bytes) -> bytes:
        data = b""
        while not data.endswith(end):
            data += self.recv(1)
        return data
