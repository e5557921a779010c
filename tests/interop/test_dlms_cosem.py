"""Interop: the independent client dlms-cosem (pwitab/dlms-cosem, PyPI; a test-only dependency)
reads and drives metertwin over real TCP sockets on 127.0.0.1 (issue 3, item 8).

Addresses, passwords, rights and refusals are those of docs/dlms.md: server SAP 1; public client
0x10 without authentication; metercom-pro reader 0x20 with LLS ``HELLO`` and utility 0x01 with
LLS ``UTILITY`` (the other models' secrets in the same table).
"""

from __future__ import annotations

import csv
import io
import logging
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any

import pytest
import structlog
from dlms_cosem import dlms_data, exceptions
from dlms_cosem import time as dlms_time
from dlms_cosem.client import ActionError, DataResultError, DlmsClient
from dlms_cosem.cosem import CosemAttribute, CosemMethod, Obis
from dlms_cosem.cosem.attribute_with_selection import CosemAttributeWithSelection
from dlms_cosem.cosem.capture_object import CaptureObject
from dlms_cosem.cosem.selective_access import EntryDescriptor, RangeDescriptor
from dlms_cosem.enumerations import (
    AcseServiceUserDiagnostics,
    AssociationResult,
    CosemInterface,
    DataAccessResult,
    ReleaseResponseReason,
)
from dlms_cosem.io import TcpTransport
from dlms_cosem.parsers import AssociationObjectListParser, ProfileGenericBufferParser
from dlms_cosem.protocol.acse import ReleaseResponse
from dlms_cosem.protocol.xdlms import GetResponseWithList, SetResponseNormal
from dlms_cosem.security import (
    HighLevelSecurityGmacAuthentication,
    LowLevelSecurityAuthentication,
    NoSecurityAuthentication,
)
from dlms_cosem.utils import parse_as_dlms_data
from tests.interop.conftest import SERIAL, START_MS, MeterProcess, ServedMeter, TcpIO

from metertwin.meter.disconnect import ControlState
from metertwin.meter.inputs import PhysicalState
from metertwin.meter.registers import Energy

# dlms-cosem logs every APDU through structlog at INFO on stdout; keep test output readable.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

SERVER_SAP = 1
PUBLIC, READER, UTILITY = 0x10, 0x20, 0x01  # docs/dlms.md, "Addresses and associations"
READER_SECRET, UTILITY_SECRET = b"HELLO", b"UTILITY"  # metercom-pro defaults
TIMEOUT_S = 5

CLOCK = Obis(0, 0, 1, 0, 0)
IMPORT_ACTIVE = Obis(1, 0, 1, 8, 0)
IMPORT_ACTIVE_L1 = Obis(1, 0, 21, 8, 0)
IMPORT_ACTIVE_RATE1 = Obis(1, 0, 1, 8, 1)  # not public (public sees E = 0 only)
PROFILE_1 = Obis(1, 0, 99, 1, 0)
DISCONNECT_CONTROL = Obis(0, 0, 96, 3, 10)
CURRENT_ASSOCIATION = Obis(0, 0, 40, 0, 0)
LOGICAL_DEVICE_NAME = Obis(0, 0, 42, 0, 0)
UNIT_WH = 30  # Blue Book unit enumeration: Wh

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
ONE_HOUR_MS = 3_600_000


def make_client(port: int, client_sap: int, secret: bytes | None = None) -> DlmsClient:
    authentication = (
        NoSecurityAuthentication() if secret is None else LowLevelSecurityAuthentication(secret)
    )
    io_ = TcpIO(host="127.0.0.1", port=port, timeout=TIMEOUT_S)
    transport = TcpTransport(
        client_logical_address=client_sap,
        server_logical_address=SERVER_SAP,
        io=io_,
        timeout=TIMEOUT_S,
    )
    return DlmsClient(transport=transport, authentication=authentication, timeout=TIMEOUT_S)


@contextmanager
def associated(port: int, client_sap: int, secret: bytes | None = None) -> Iterator[DlmsClient]:
    """An accepted association; released (RLRE reason normal) when the block ends cleanly."""
    client = make_client(port, client_sap, secret)
    client.connect()
    try:
        aare = client.associate()
        assert aare.result is AssociationResult.ACCEPTED
        yield client
        rlre = client.release_association()
        assert isinstance(rlre, ReleaseResponse)
        assert rlre.reason is ReleaseResponseReason.NORMAL
    finally:
        client.disconnect()


def get(client: DlmsClient, interface: CosemInterface, obis: Obis, attribute: int) -> Any:
    return parse_as_dlms_data(client.get(CosemAttribute(interface, obis, attribute)))


def read_clock(client: DlmsClient) -> tuple[datetime, dlms_time.ClockStatus]:
    raw = get(client, CosemInterface.CLOCK, CLOCK, 2)
    assert len(raw) == 12
    when, status = dlms_time.datetime_from_bytes(bytes(raw))
    return when, status


def load(phases: int, *watts: float) -> PhysicalState:
    return PhysicalState(
        voltage_v=(230.0,) * phases, active_w=tuple(watts[:phases]), reactive_var=(0.0,) * phases
    )


# -- 1. association without authentication, the clock, release ----------------------------


@pytest.mark.parametrize(
    ("start_ms", "wall", "dst"),
    [
        (START_MS, datetime(2026, 3, 2, 11, 0, tzinfo=CET), False),  # 10:00 UTC in winter
        (START_MS + 121 * 86_400_000, datetime(2026, 7, 1, 12, 0, tzinfo=CEST), True),  # summer
    ],
    ids=["winter", "summer"],
)
def test_public_client_reads_the_clock(
    serve: Callable[..., ServedMeter], start_ms: int, wall: datetime, dst: bool
) -> None:
    served = serve("metercom-pro", start_ms)
    client = make_client(served.port, PUBLIC)
    client.connect()
    try:
        aare = client.associate()
        assert aare.result is AssociationResult.ACCEPTED
        initiate = aare.user_information.content
        # docs/dlms.md "Conformance offered": negotiated = proposed AND offered; PDU 1024.
        assert initiate.server_max_receive_pdu_size == 1024
        assert initiate.negotiated_dlms_version_number == 6
        negotiated = initiate.negotiated_conformance
        assert negotiated.get and negotiated.set and negotiated.action
        assert negotiated.selective_access and negotiated.multiple_references
        assert negotiated.block_transfer_with_get_or_read
        # Proposed by dlms-cosem but not offered by metertwin: not negotiated.
        assert not negotiated.general_block_transfer
        assert not negotiated.priority_management_supported
        assert not negotiated.event_notification

        when, status = read_clock(client)
        # The in-process meter does not move by itself: its clock is exactly its start.
        assert when == wall
        assert when.utcoffset() == wall.utcoffset()
        assert when.replace(tzinfo=None) == served.call(served.meter.local_time)
        assert status.daylight_saving_active is dst
        assert not status.invalid and not status.doubtful

        rlre = client.release_association()
        assert isinstance(rlre, ReleaseResponse)
        assert rlre.reason is ReleaseResponseReason.NORMAL
    finally:
        client.disconnect()


# -- 2. LLS, registers with scaler and unit, wrong passwords -------------------------------


@pytest.mark.parametrize(
    ("model_name", "secret"),
    [
        ("metercom-pro", READER_SECRET),
        ("pmm1220", b"00000001"),
        ("magno22", b"11111111"),
        ("az3p", b"ABCDEFGH"),
    ],
)
def test_reader_reads_energy_with_scaler_and_unit(
    serve: Callable[..., ServedMeter], model_name: str, secret: bytes
) -> None:
    served = serve(model_name)
    meter = served.meter
    phases = served.model.spec.ratings.phases
    served.call(lambda: meter.advance(START_MS + ONE_HOUR_MS, load(phases, 1000, 500, 250)))
    expected_wh = served.call(lambda: meter.energy_mwh(Energy.IMPORT_ACTIVE)) // 1000
    assert expected_wh > 0

    with associated(served.port, READER, secret) as client:
        value = get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 2)
        scaler, unit = get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 3)
    assert value == expected_wh
    assert (scaler, unit) == (0, UNIT_WH)  # docs/dlms.md: energy registers, scaler 0, Wh


def test_metercom_pro_energy_after_an_hour_of_known_load(metercom: ServedMeter) -> None:
    meter = metercom.meter
    metercom.call(lambda: meter.advance(START_MS + ONE_HOUR_MS, load(3, 1000, 500, 250)))
    with associated(metercom.port, READER, READER_SECRET) as client:
        total = get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 2)
        l1 = get(client, CosemInterface.REGISTER, IMPORT_ACTIVE_L1, 2)
    # 1000 + 500 + 250 W for one hour on a direct-connected meter: 1750 Wh, L1 1000 Wh.
    assert total == 1750 == meter.energy_mwh(Energy.IMPORT_ACTIVE) // 1000
    assert l1 == 1000


def _refused(port: int, client_sap: int, secret: bytes) -> str:
    client = make_client(port, client_sap, secret)
    client.connect()
    try:
        with pytest.raises(exceptions.DlmsClientException) as refusal:
            client.associate()
    finally:
        client.disconnect()
    return str(refusal.value)


def test_wrong_password_is_refused_by_the_aare(metercom: ServedMeter) -> None:
    message = _refused(metercom.port, READER, b"WRONG")
    assert repr(AssociationResult.REJECTED_PERMANENT) in message
    assert repr(AcseServiceUserDiagnostics.AUTHENTICATION_FAILED) in message  # diagnostic 13
    # The right password still works after one failure (lockout after three).
    with associated(metercom.port, READER, READER_SECRET) as client:
        assert get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 2) == 0


def test_three_wrong_passwords_lock_the_right_one_out(metercom: ServedMeter) -> None:
    for _ in range(3):  # metercom-pro: lockout_failures = 3, lockout_minutes = 30
        _refused(metercom.port, READER, b"WRONG")
    message = _refused(metercom.port, READER, READER_SECRET)
    assert repr(AcseServiceUserDiagnostics.AUTHENTICATION_FAILED) in message
    # 31 minutes of meter time later the lock has expired.
    meter = metercom.meter
    metercom.call(lambda: meter.advance(START_MS + 31 * 60_000))
    with associated(metercom.port, READER, READER_SECRET) as client:
        assert get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 2) == 0


# -- HLS-GMAC with suite 0 ciphering (issue 12) ----------------------------------------------

HLS_GMAC = 0x40  # docs/dlms.md: HLS-GMAC, suite 0, security policy 0x6C
GREEN_BOOK_EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")  # docs/dlms.md demo keys
GREEN_BOOK_AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")


@pytest.mark.parametrize("dedicated", [False, True], ids=["global-key", "dedicated-key"])
def test_hls_gmac_association_reads_ciphered(metercom: ServedMeter, dedicated: bool) -> None:
    """dlms-cosem's HLS-GMAC client with the demo keys: ciphered AARQ, pass 3/4 (dlms-cosem
    checks the meter's f(CtoS)), then a register, the clock and a profile by range, every
    APDU glo- (or ded-, with a dedicated key in the InitiateRequest) ciphered."""
    meter = metercom.meter
    metercom.call(lambda: meter.advance(START_MS + 2 * ONE_HOUR_MS, load(3, 400, 400, 400)))
    io_ = TcpIO(host="127.0.0.1", port=metercom.port, timeout=TIMEOUT_S)
    transport = TcpTransport(
        client_logical_address=HLS_GMAC,
        server_logical_address=SERVER_SAP,
        io=io_,
        timeout=TIMEOUT_S,
    )
    client = DlmsClient(
        transport=transport,
        authentication=HighLevelSecurityGmacAuthentication(challenge_length=16),
        encryption_key=GREEN_BOOK_EK,
        authentication_key=GREEN_BOOK_AK,
        client_system_title=b"DLMSCOSM",
        client_initial_invocation_counter=1000 if dedicated else 1,
        dedicated_ciphering=dedicated,
        timeout=TIMEOUT_S,
    )
    client.connect()
    try:
        aare = client.associate()
        assert aare.result is AssociationResult.ACCEPTED
        total = get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 2)
        when, _status = read_clock(client)
        raw = client.get(
            CosemAttribute(CosemInterface.PROFILE_GENERIC, PROFILE_1, 2),
            access_descriptor=RangeDescriptor(
                restricting_object=CaptureObject(CosemAttribute(CosemInterface.CLOCK, CLOCK, 2)),
                from_value=datetime(2026, 3, 1, 0, 0, tzinfo=CET),
                to_value=datetime(2026, 3, 3, 0, 0, tzinfo=CET),
            ),
        )
        client.release_association()
    finally:
        client.disconnect()
    assert total == meter.energy_mwh(Energy.IMPORT_ACTIVE) // 1000 == 2400  # 1200 W for two hours
    assert when.timestamp() * 1000 == meter.meter_time_ms()
    assert raw[0] == 0x01  # the buffer, an array


# -- 3. a profile by range -------------------------------------------------------------------


def test_profile_read_by_range_is_well_formed(metercom: ServedMeter) -> None:
    meter = metercom.meter
    metercom.call(lambda: meter.advance(START_MS + 2 * ONE_HOUR_MS, load(3, 400, 400, 400)))
    with associated(metercom.port, READER, READER_SECRET) as client:
        capture = get(client, CosemInterface.PROFILE_GENERIC, PROFILE_1, 3)
        period_s = get(client, CosemInterface.PROFILE_GENERIC, PROFILE_1, 4)
        in_use = get(client, CosemInterface.PROFILE_GENERIC, PROFILE_1, 7)
        entries_max = get(client, CosemInterface.PROFILE_GENERIC, PROFILE_1, 8)
        columns = [
            CosemAttribute(CosemInterface(class_id), Obis.from_bytes(bytes(ln)), attribute)
            for class_id, ln, attribute, _data_index in capture
        ]
        # The clock (time attribute) restricts the range: selector 1, Blue Book class 7.
        restricting = CaptureObject(CosemAttribute(CosemInterface.CLOCK, CLOCK, 2))
        assert restricting.cosem_attribute in columns
        selection = RangeDescriptor(
            restricting_object=restricting,
            from_value=datetime(2026, 3, 1, 0, 0, tzinfo=CET),
            to_value=datetime(2026, 3, 3, 0, 0, tzinfo=CET),
        )
        raw = client.get(
            CosemAttribute(CosemInterface.PROFILE_GENERIC, PROFILE_1, 2),
            access_descriptor=selection,
        )
    assert period_s > 0 and entries_max > 0
    assert raw[0] == 0x01  # an array (the buffer), possibly empty
    rows = ProfileGenericBufferParser(columns, period_s // 60).parse_bytes(raw)
    assert len(rows) <= in_use <= entries_max
    for row in rows:
        assert len(row) == len(columns)


class _EntryDescriptor(EntryDescriptor):  # type: ignore[misc]
    """dlms-cosem 25.1 declares selector 2 but does not encode it (to_bytes raises); the Blue
    Book entry_descriptor is structure {from_entry, to_entry: double-long-unsigned,
    from_selected_value, to_selected_value: long-unsigned}, 1-based, 0 = the last."""

    def to_bytes(self) -> bytes:
        return (
            bytes([self.ACCESS_DESCRIPTOR])
            + b"\x02\x04"
            + b"".join(
                [
                    dlms_data.DoubleLongUnsignedData(self.from_entry).to_bytes(),
                    dlms_data.DoubleLongUnsignedData(self.to_entry).to_bytes(),
                    dlms_data.UnsignedLongData(self.from_selected_value).to_bytes(),
                    dlms_data.UnsignedLongData(self.to_selected_value).to_bytes(),
                ]
            )
        )


def test_profile_read_by_entry_selector_2(metercom: ServedMeter) -> None:
    """Entries 2-3, columns 1-2 (clock and status) of profile 1 after an hour of 15-minute
    captures: two rows of two values, the second 15 minutes after the first."""
    meter = metercom.meter
    metercom.call(lambda: meter.advance(START_MS + ONE_HOUR_MS, load(3, 400, 400, 400)))
    with associated(metercom.port, READER, READER_SECRET) as client:
        capture = get(client, CosemInterface.PROFILE_GENERIC, PROFILE_1, 3)
        columns = [
            CosemAttribute(CosemInterface(class_id), Obis.from_bytes(bytes(ln)), attribute)
            for class_id, ln, attribute, _data_index in capture
        ][:2]
        raw = client.get(
            CosemAttribute(CosemInterface.PROFILE_GENERIC, PROFILE_1, 2),
            access_descriptor=_EntryDescriptor(
                from_entry=2, to_entry=3, from_selected_value=1, to_selected_value=2
            ),
        )
    rows = ProfileGenericBufferParser(columns, 15).parse_bytes(raw)
    assert len(rows) == 2 and all(len(row) == 2 for row in rows)
    first, second = (row[0].value for row in rows)  # ColumnValue(attribute, value)
    assert isinstance(first, datetime) and isinstance(second, datetime)
    assert second - first == timedelta(minutes=15)


# -- 4. SET the clock, ACTION on the disconnect control -----------------------------------------


def test_utility_sets_the_clock(metercom: ServedMeter) -> None:
    new_time = datetime(2026, 3, 2, 12, 30, 15, tzinfo=CET)
    octets = dlms_data.OctetStringData(dlms_time.datetime_to_bytes(new_time)).to_bytes()
    with associated(metercom.port, UTILITY, UTILITY_SECRET) as client:
        answer = client.set(CosemAttribute(CosemInterface.CLOCK, CLOCK, 2), octets)
        assert isinstance(answer, SetResponseNormal)
        assert answer.result is DataAccessResult.SUCCESS
        when, _status = read_clock(client)
    assert when == new_time
    assert metercom.call(metercom.meter.local_time) == datetime(2026, 3, 2, 12, 30, 15)


def test_utility_disconnects_and_reconnects(metercom: ServedMeter) -> None:
    meter = metercom.meter
    integer_zero = dlms_data.IntegerData(0).to_bytes()  # Blue Book: data ::= integer(0)
    states = []
    with associated(metercom.port, UTILITY, UTILITY_SECRET) as client:
        assert get(client, CosemInterface.DISCONNECT_CONTROL, DISCONNECT_CONTROL, 4) == 1  # mode
        for method in (1, 2):  # remote_disconnect, then remote_reconnect
            client.action(
                CosemMethod(CosemInterface.DISCONNECT_CONTROL, DISCONNECT_CONTROL, method),
                integer_zero,
            )
            output = get(client, CosemInterface.DISCONNECT_CONTROL, DISCONNECT_CONTROL, 2)
            control = get(client, CosemInterface.DISCONNECT_CONTROL, DISCONNECT_CONTROL, 3)
            states.append((output, control, metercom.call(lambda: meter.disconnect.state)))
    # Control mode 1: remote reconnection only arms the relay (ready_for_reconnection).
    assert states == [
        (False, 0, ControlState.DISCONNECTED),
        (False, 2, ControlState.READY_FOR_RECONNECTION),
    ]


# -- 5. refusals and GET-with-list ----------------------------------------------------------------


def test_public_client_cannot_see_other_objects(metercom: ServedMeter) -> None:
    with associated(metercom.port, PUBLIC) as client:
        with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):
            client.get(CosemAttribute(CosemInterface.REGISTER, IMPORT_ACTIVE_RATE1, 2))
        with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):
            client.get(CosemAttribute(CosemInterface.PROFILE_GENERIC, PROFILE_1, 2))
        # The association goes on after a refusal.
        assert get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 2) == 0


def test_refusals_in_the_reader_association(metercom: ServedMeter) -> None:
    clock_time = CosemAttribute(CosemInterface.CLOCK, CLOCK, 2)
    octets = dlms_data.OctetStringData(
        dlms_time.datetime_to_bytes(datetime(2026, 3, 2, 12, 0, tzinfo=CET))
    ).to_bytes()
    with associated(metercom.port, READER, READER_SECRET) as client:
        with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):  # no such object
            client.get(CosemAttribute(CosemInterface.REGISTER, Obis(1, 0, 1, 8, 99), 2))
        with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):  # no such attribute
            client.get(CosemAttribute(CosemInterface.CLOCK, CLOCK, 99))
        with pytest.raises(DataResultError, match="OBJECT_CLASS_INCONSISTENT"):
            client.get(CosemAttribute(CosemInterface.REGISTER, CLOCK, 2))
        answer = client.set(clock_time, octets)  # the reader may not write
        assert isinstance(answer, SetResponseNormal)
        assert answer.result is DataAccessResult.READ_WRITE_DENIED
        with pytest.raises(ActionError, match="READ_WRITE_DENIED"):  # nor call methods
            client.action(
                CosemMethod(CosemInterface.DISCONNECT_CONTROL, DISCONNECT_CONTROL, 1),
                dlms_data.IntegerData(0).to_bytes(),
            )
    assert metercom.call(lambda: metercom.meter.disconnect.state) == ControlState.CONNECTED


def test_get_with_list(metercom: ServedMeter) -> None:
    meter = metercom.meter
    metercom.call(lambda: meter.advance(START_MS + ONE_HOUR_MS, load(3, 600, 0, 0)))
    items = [
        CosemAttributeWithSelection(
            CosemAttribute(CosemInterface.REGISTER, IMPORT_ACTIVE, 2), None
        ),
        CosemAttributeWithSelection(CosemAttribute(CosemInterface.CLOCK, CLOCK, 2), None),
        CosemAttributeWithSelection(
            CosemAttribute(CosemInterface.REGISTER, IMPORT_ACTIVE_RATE1, 2), None
        ),
    ]
    with associated(metercom.port, PUBLIC) as client:
        answer = client.get_many(items)
    assert isinstance(answer, GetResponseWithList)
    energy, clock, refused = answer.result
    assert energy == 600  # 600 W for one hour
    when, _status = dlms_time.datetime_from_bytes(bytes(clock))
    assert when == datetime(2026, 3, 2, 12, 0, tzinfo=CET)
    assert refused is DataAccessResult.OBJECT_UNDEFINED  # not in the public list


# -- 6. the object list ----------------------------------------------------------------------------


def _seed_objects() -> set[tuple[int, bytes]]:
    """Seed 004's table as docs/dlms.md says it is served (1.0.114.0.255 as 1.0.1.4.0.255,
    with the event code, event count and security setup objects its other objects name)."""
    text = (resources.files("metertwin.models") / "data" / "metercom-pro-objects.csv").read_text()
    served = set()
    for row in csv.DictReader(io.StringIO(text)):
        name = "1.0.1.4.0.255" if row["obis"] == "1.0.114.0.255" else row["obis"]
        served.add((int(row["class_id"]), bytes(int(part) for part in name.split("."))))
    return served


def _object_list(port: int, client_sap: int, secret: bytes | None) -> list[Any]:
    with associated(port, client_sap, secret) as client:
        raw = client.get(CosemAttribute(CosemInterface.ASSOCIATION_LN, CURRENT_ASSOCIATION, 2))
    entries: list[Any] = parse_as_dlms_data(raw)
    return entries


def _standard(entries: list[Any]) -> list[Any]:
    """The entries dlms-cosem's AssociationObjectListParser can take: its CosemInterface
    enumeration lacks the manufacturer classes 8192-8196 of seed 004 (it raises ValueError
    on them), so those entries are checked raw."""
    known = {member.value for member in CosemInterface}
    parsed: list[Any] = AssociationObjectListParser.parse_entries(
        [entry for entry in entries if entry[0] in known]
    )
    return parsed


def test_utility_object_list_is_the_seed_table(metercom: ServedMeter) -> None:
    entries = _object_list(metercom.port, UTILITY, UTILITY_SECRET)  # ~14 kB: GET with blocks
    # plus the 3 objects others name, the module firmware version and download status
    # (docs/firmware.md) and the HLS association 0x40's object, setup and counter
    assert len(entries) == 274 + 3 + 2 + 3  # (docs/dlms.md)
    hls = {(15, bytes([0, 0, 40, 0, 4, 255])), (64, bytes([0, 0, 43, 0, 4, 255]))}
    hls.add((1, bytes([0, 0, 43, 1, 4, 255])))
    listed = {(class_id, bytes(ln)) for class_id, _v, ln, _rights in entries}
    assert listed == _seed_objects() | hls
    manufacturer = sorted(e[0] for e in entries if e[0] >= 8192)
    assert manufacturer == [8192, 8193, 8193, 8194, 8195, 8196]
    parsed = {item.logical_name.to_bytes(): item for item in _standard(entries)}
    assert len(parsed) == len(entries) - len(manufacturer)
    read, write = 0, 1  # dlms-cosem's AccessRight values in its parsed lists
    clock = parsed[CLOCK.to_bytes()]
    assert clock.interface == CosemInterface.CLOCK
    assert {read, write} <= set(clock.attribute_access_rights[2].access_rights)
    relay = parsed[DISCONNECT_CONTROL.to_bytes()]
    assert relay.method_access_rights[1].access_rights  # remote_disconnect callable
    assert relay.method_access_rights[2].access_rights  # remote_reconnect callable


def test_public_object_list_is_read_only(metercom: ServedMeter) -> None:
    entries = _object_list(metercom.port, PUBLIC, None)
    names = {bytes(ln) for _c, _v, ln, _rights in entries}
    assert CLOCK.to_bytes() in names and IMPORT_ACTIVE.to_bytes() in names
    assert IMPORT_ACTIVE_RATE1.to_bytes() not in names and PROFILE_1.to_bytes() not in names
    assert 0 < len(entries) < 274
    parsed = _standard(entries)
    clock = next(item for item in parsed if item.logical_name == CLOCK)
    assert 0 in clock.attribute_access_rights[2].access_rights  # readable
    for item in parsed:
        for rights in item.attribute_access_rights.values():
            assert 1 not in rights.access_rights  # no write access anywhere
        for rights in item.method_access_rights.values():
            assert not rights.access_rights  # no methods


# -- the meter as a user runs it -------------------------------------------------------------------


def test_metertwin_run_serves_dlms_in_real_time(
    meter_process: Callable[..., MeterProcess],
) -> None:
    spawned = time.monotonic()
    running = meter_process(
        "--model", "metercom-pro", "--speed", "60", "--serial", SERIAL,
        "--start", "2026-03-02T10:00:00", "--duration", "60",
    )  # fmt: skip
    start = datetime(2026, 3, 2, 10, 0, tzinfo=CET)  # --start is the meter's local wall time
    with associated(running.port, PUBLIC) as client:
        name = get(client, CosemInterface.DATA, LOGICAL_DEVICE_NAME, 2)
        # The server listens before the first tick has loaded the simulated world: wait
        # until the meter clock has clearly started, then measure its pace.
        deadline = time.monotonic() + 15
        first, _status = read_clock(client)
        while first < start + timedelta(seconds=5) and time.monotonic() < deadline:
            time.sleep(0.05)
            first, _status = read_clock(client)
        first_real = time.monotonic()
        first_energy = get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 2)
        time.sleep(1.0)
        second, _status = read_clock(client)
        real = time.monotonic() - first_real
        second_energy = get(client, CosemInterface.REGISTER, IMPORT_ACTIVE, 2)
    assert bytes(name) == b"2NM" + SERIAL.encode()  # logical_device_name = "2NM{serial}"
    assert start + timedelta(seconds=5) <= first
    assert first <= start + timedelta(seconds=60 * (first_real - spawned) + 2)
    # Speed 60: a real second is a meter minute (ticks every 20 ms real, clock in seconds).
    assert abs((second - first).total_seconds() - 60 * real) <= 10
    assert second_energy >= first_energy
    running.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert running.process.wait(10) == 0


# -- 6. prepayment: the token gateway and the account (issue 4 item 5) ---------------------------


def test_a_token_entered_through_the_gateway_raises_the_account_credit(
    serve: Callable[..., ServedMeter],
) -> None:
    """dlms-cosem invokes Token gateway `enter` (class 115, method 1) with the 20 digits as an
    octet-string, then reads token_status and the Account's available credit (class 111)."""
    from metertwin.sts import CreditKind, CreditToken, StsDecoder, encode_token
    from metertwin.sts_identity import meter_key_from_config

    served = serve("pmm1220")
    key = meter_key_from_config({}, "(demo)", SERIAL)
    served.call(lambda: served.meter.install_sts(StsDecoder(key)))
    token = CreditToken(kind=CreditKind.ELECTRICITY_CURRENCY, tid=6_500_000, amount_tenths=125)
    digits = encode_token(token, key).encode()
    gateway, account = Obis(0, 0, 19, 40, 0), Obis(0, 0, 19, 0, 0)
    with associated(served.port, UTILITY, b"00000002") as client:  # pmm1220's utility secret
        for expected in (3, 6):  # accepted, then the same token: validation failure (Used)
            client.action(
                CosemMethod(CosemInterface.TOKEN_GATEWAY, gateway, 1),
                dlms_data.OctetStringData(digits).to_bytes(),
            )
            # dlms-cosem cannot parse bit-strings: check the raw structure {enum, bit-string}
            raw = client.get(CosemAttribute(CosemInterface.TOKEN_GATEWAY, gateway, 6))
            assert bytes(raw) == bytes([0x02, 0x02, 0x16, expected, 0x04, 0x00])
            assert get(client, CosemInterface.ACCOUNT, account, 5) == 12_500  # 12.5 at scale -3
        assert get(client, CosemInterface.ACCOUNT, account, 2) == [2, 2]  # prepaid, active


# -- issue 20: a load profile programmed by dlms-cosem --------------------------------------------


def test_utility_programs_the_load_profile_capture_period(
    serve: Callable[..., ServedMeter],
) -> None:
    """pmm1220 (seed 000: "interval 1-60 minutes"): dlms-cosem writes capture_period 300 s
    to load profile 1 over the management association; the meter captures every 5 minutes
    from the next instant of the new grid, and a period not dividing the hour is refused."""
    served = serve("pmm1220")
    meter = served.meter
    period = CosemAttribute(CosemInterface.PROFILE_GENERIC, PROFILE_1, 4)
    with associated(served.port, UTILITY, b"00000002") as client:
        answer = client.set(period, dlms_data.DoubleLongUnsignedData(300).to_bytes())
        assert isinstance(answer, SetResponseNormal)
        assert answer.result is DataAccessResult.SUCCESS
        assert get(client, CosemInterface.PROFILE_GENERIC, PROFILE_1, 4) == 300
        refused = client.set(period, dlms_data.DoubleLongUnsignedData(420).to_bytes())
        assert refused.result is DataAccessResult.OTHER_REASON
        assert get(client, CosemInterface.PROFILE_GENERIC, PROFILE_1, 4) == 300
    served.call(lambda: meter.advance(START_MS + 15 * 60_000, load(1, 1000)))
    stamps = [r.meter_ms for r in meter.recorder.outbox if r.profile == "1.0.99.1.0.255"]
    assert stamps == [START_MS + k * 300_000 for k in (1, 2, 3)]  # 10:05, 10:10, 10:15


def test_utility_programs_sliding_demand_and_disables_export(
    serve: Callable[..., ServedMeter],
) -> None:
    """pmm1220: dlms-cosem makes the +A demand 15 minutes sliding by 3 (class 5 attribute 9
    = 5, the interval kept; seed 002 5.2 b) and switches export off (1.0.96.131.0.255);
    both read back as written and the meter runs them."""
    served = serve("pmm1220")
    meter = served.meter
    demand = Obis(1, 0, 1, 4, 0)
    export = Obis(1, 0, 96, 131, 0)
    with associated(served.port, UTILITY, b"00000002") as client:
        slides = CosemAttribute(CosemInterface.DEMAND_REGISTER, demand, 9)
        answer = client.set(slides, dlms_data.UnsignedLongData(5).to_bytes())
        assert answer.result is DataAccessResult.SUCCESS
        assert get(client, CosemInterface.DEMAND_REGISTER, demand, 8) == 180
        assert get(client, CosemInterface.DEMAND_REGISTER, demand, 9) == 5
        refused = client.set(slides, dlms_data.UnsignedLongData(3).to_bytes())
        assert refused.result is DataAccessResult.OTHER_REASON
        switch = CosemAttribute(CosemInterface.DATA, export, 2)
        # A-XDR boolean false, 03 00, by hand: dlms-cosem's BooleanData does not encode
        answer = client.set(switch, bytes((3, 0)))
        assert answer.result is DataAccessResult.SUCCESS
        assert get(client, CosemInterface.DATA, export, 2) is False
    served.call(lambda: meter.advance(START_MS + ONE_HOUR_MS, load(1, -1000)))
    assert meter.demand.config.interval_s == 900
    assert meter.energy_mwh(Energy.EXPORT_ACTIVE) == 0


def test_management_programs_a_charge_table_and_tops_up_the_second_wallet(
    serve: Callable[..., ServedMeter],
) -> None:
    """magno22 (issue 20 items 4 and 7): dlms-cosem writes the consumption Charge's
    unit_charge_passive (class 113 attribute 6), invokes activate_passive_unit_charge
    (method 2) and reads the active table back as written; a scaling other than the object's
    is refused; update_amount on the second wallet (class 112, 0-0:19.10.2.255) adds to it."""
    from metertwin.codec.axdr import Data, encode

    served = serve("magno22")
    charge, second = Obis(0, 0, 19, 20, 0), Obis(0, 0, 19, 10, 2)

    def table(price_scale: int) -> bytes:
        entries = [
            Data.structure([Data.octet_string(bytes([rate])), Data.long(price)])
            for rate, price in ((1, 300), (2, 500))
        ]
        commodity = [
            Data.long_unsigned(3),
            Data.octet_string(bytes((1, 0, 1, 8, 0, 255))),
            Data.integer(2),
        ]
        return encode(
            Data.structure(
                [
                    Data.structure([Data.integer(3), Data.integer(price_scale)]),
                    Data.structure(commodity),
                    Data.array(entries),
                ]
            )
        )

    with associated(served.port, UTILITY, b"33333333") as client:  # magno22's management
        passive = CosemAttribute(CosemInterface.CHARGE, charge, 6)
        assert client.set(passive, table(-3)).result is DataAccessResult.SUCCESS
        assert client.set(passive, table(-2)).result is DataAccessResult.TYPE_UNMATCHED
        client.action(CosemMethod(CosemInterface.CHARGE, charge, 2), bytes((0x0F, 0)))
        assert bytes(client.get(CosemAttribute(CosemInterface.CHARGE, charge, 5))) == table(-3)
        client.action(
            CosemMethod(CosemInterface.CREDIT, second, 1),
            dlms_data.DoubleLongData(2_500).to_bytes(),
        )
        assert get(client, CosemInterface.CREDIT, second, 2) == 2_500
    wallet = served.meter.wallet
    assert wallet is not None and wallet.price(2) == 500_000
    assert wallet.second_credit == 2_500_000


def test_management_collects_a_charge_and_reads_its_last_collection(
    serve: Callable[..., ServedMeter],
) -> None:
    """magno22 (issue 20 item 4): dlms-cosem sets the standing Charge's
    total_amount_remaining (class 113 method 5, double-long 1.000), invokes collect (method 3,
    integer 0) and reads attributes 10-13: the collection's date-time (12 octets, the meter's
    instant), its amount 0.15 + 20 % VAT = 0.180, what remains 0.820, proportion 0."""
    served = serve("magno22")
    standing = Obis(0, 0, 19, 20, 1)
    with associated(served.port, UTILITY, b"33333333") as client:  # magno22's management
        client.action(
            CosemMethod(CosemInterface.CHARGE, standing, 5),
            dlms_data.DoubleLongData(1_000).to_bytes(),
        )
        client.action(CosemMethod(CosemInterface.CHARGE, standing, 3), bytes((0x0F, 0)))
        when, _status = dlms_time.datetime_from_bytes(
            bytes(get(client, CosemInterface.CHARGE, standing, 10))
        )
        assert int(when.timestamp() * 1000) == served.meter.meter_time_ms() // 1000 * 1000
        assert get(client, CosemInterface.CHARGE, standing, 11) == 180
        assert get(client, CosemInterface.CHARGE, standing, 12) == 820
        assert get(client, CosemInterface.CHARGE, standing, 13) == 0
    wallet = served.meter.wallet
    assert wallet is not None and wallet.balance_check() == 0


# -- firmware: class 18 image transfer (issue 15, "Interop") -------------------------------


def test_management_transfers_verifies_and_activates_an_image(
    serve: Callable[..., ServedMeter],
) -> None:
    """pmm1220 (docs/firmware.md): dlms-cosem runs image_transfer_initiate,
    image_block_transfer, image_verify and image_activate on 0-0:44.0.0.255 with ACTION-normal
    requests, reading image_transfer_status between them; verify and activate answer
    temporary-failure while the meter runs them. dlms-cosem sends no parameter blocks, so a
    request must fit the meter's 1024-octet APDU: the image is one short (last) block. Its
    data encoder writes an octet string's length as one octet even from 128 on (A-XDR wants
    0x81 there, and the meter refuses it): the block's parameter is written here by hand
    (Blue Book class 18 method 2: structure {double-long-unsigned, octet-string})."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from metertwin.meter.firmware import ACTIVATE_MS, VERIFY_MS
    from metertwin.meter.firmware_image import build_image

    key = ec.generate_private_key(ec.SECP256R1())  # a throwaway manufacturer key
    image = build_image("pmm1220", "2.5.0", b"interop payload", key)
    assert 128 <= len(image) < 256
    served = serve("pmm1220")
    firmware = served.meter.firmware
    served.call(lambda: setattr(firmware, "public_key", key.public_key()))
    transfer = Obis(0, 0, 44, 0, 0)

    def method(number: int) -> CosemMethod:
        return CosemMethod(CosemInterface.IMAGE_TRANSFER, transfer, number)

    def status(client: DlmsClient) -> int:
        return int(get(client, CosemInterface.IMAGE_TRANSFER, transfer, 6))

    def wait(ms: int) -> None:
        served.call(lambda: served.meter.advance(served.meter.now_ms + ms))

    initiate = dlms_data.DataStructure(
        [dlms_data.OctetStringData(b"fw-interop"), dlms_data.DoubleLongUnsignedData(len(image))]
    )
    block = b"\x02\x02\x06" + bytes(4) + b"\x09\x81" + bytes([len(image)]) + image
    zero = dlms_data.IntegerData(0).to_bytes()
    with associated(served.port, 1, b"00000002") as client:  # pmm1220's management
        assert get(client, CosemInterface.IMAGE_TRANSFER, transfer, 2) == 1024  # block size
        client.action(method(1), initiate.to_bytes())
        assert status(client) == 1  # initiated
        client.action(method(2), block)
        assert get(client, CosemInterface.IMAGE_TRANSFER, transfer, 4) == 1  # first missing
        with pytest.raises(ActionError, match="TEMPORARY_FAILURE"):
            client.action(method(3), zero)
        assert status(client) == 2  # verification initiated
        wait(VERIFY_MS)
        assert status(client) == 3  # verification successful
        client.action(method(3), zero)  # verified: success now
        with pytest.raises(ActionError, match="TEMPORARY_FAILURE"):
            client.action(method(4), zero)
        assert status(client) == 5  # activation initiated
        wait(ACTIVATE_MS)
        assert status(client) == 6  # activation successful
        version = get(client, CosemInterface.DATA, Obis(1, 0, 0, 2, 0), 2)
    assert bytes(version) == b"2.5.0"
    assert served.meter.firmware.active.version == "2.5.0"
