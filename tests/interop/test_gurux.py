"""Interop: gurux's Python client (PyPI gurux-dlms; GPL, a test-only dependency driven through
tests/interop/gurux_client.py) reads metertwin over real TCP sockets on 127.0.0.1, on every
built-in model (issue 12, "Interop over real sockets").

Addresses and secrets are docs/dlms.md's: server SAP 1, public client 0x10 without
authentication, the reader 0x20 with LLS in every model, metercom-pro's utility 0x01 with
LLS. What gurux decodes is compared with the meter's own state, read on the server's thread.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gurux_dlms import GXDateTime, GXDLMSException
from gurux_dlms.enums import AssociationResult, Command, Conformance, SourceDiagnostic
from gurux_dlms.objects import (
    GXDLMSClock,
    GXDLMSData,
    GXDLMSDisconnectControl,
    GXDLMSObject,
    GXDLMSProfileGeneric,
    GXDLMSRegister,
)
from tests.interop.conftest import SERIAL, START_MS, MeterProcess, ServedMeter
from tests.interop.gurux_client import (
    GREEN_BOOK_AUTHENTICATION_KEY,
    GREEN_BOOK_BLOCK_CIPHER_KEY,
    Ecdsa,
    Gmac,
    associated,
    make_client,
    session,
)

from metertwin.meter.disconnect import ControlState
from metertwin.meter.inputs import PhysicalState
from metertwin.meter.registers import Energy

PUBLIC, READER, UTILITY = 0x10, 0x20, 0x01  # docs/dlms.md, "Addresses and associations"
HLS_GMAC = 0x40  # issue 12: HLS-GMAC (mechanism 5), suite 0, authenticated and encrypted
READER_SECRETS = {  # docs/dlms.md: each model's reader (0x20) LLS default
    "metercom-pro": b"HELLO",
    "pmm1220": b"00000001",
    "magno22": b"11111111",
    "az3p": b"ABCDEFGH",
}
MODELS = tuple(READER_SECRETS)
UTILITY_SECRET = b"UTILITY"  # metercom-pro's 0x01

CLOCK = "0.0.1.0.0.255"
IMPORT_ACTIVE = "1.0.1.8.0.255"
EXPORT_ACTIVE = "1.0.2.8.0.255"
VOLTAGE_L1 = "1.0.32.7.0.255"
LOAD_PROFILE = "1.0.99.1.0.255"
LOGICAL_DEVICE_NAME = "0.0.42.0.0.255"
DISCONNECT_CONTROL = "0.0.96.3.10.255"
UNIT_WH, UNIT_V = 30, 35  # Blue Book unit enumeration
DAYLIGHT_SAVING_ACTIVE = 0x80  # clock status bit (Blue Book 4.1.6.1)
RLRE_NORMAL = bytes.fromhex("6303800100")  # RLRE, reason normal (0)

ONE_HOUR_MS = 3_600_000
ONE_HOUR = timedelta(hours=1)
QUARTER_HOUR = timedelta(minutes=15)
ONE_DAY = timedelta(days=1)
VOLTS, WATTS_PER_PHASE = 230.0, 1000.0


def load(served: ServedMeter) -> PhysicalState:
    phases = served.model.spec.ratings.phases
    return PhysicalState(
        voltage_v=(VOLTS,) * phases,
        active_w=(WATTS_PER_PHASE,) * phases,
        reactive_var=(0.0,) * phases,
    )


def run_for(served: ServedMeter, hours: int) -> None:
    """The meter draws ``load`` for ``hours`` from its start (on the server's thread)."""
    meter, inputs = served.meter, load(served)
    served.call(lambda: meter.advance(START_MS + hours * ONE_HOUR_MS, inputs))


def utc(meter_ms: int) -> datetime:
    return datetime.fromtimestamp(meter_ms / 1000, UTC)


# -- association, the clock, release ----------------------------------------------------------


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize(
    "start_ms", [START_MS, START_MS + 121 * 86_400_000], ids=["winter", "summer"]
)
def test_public_client_reads_the_clock_and_releases(
    serve: Callable[..., ServedMeter], model_name: str, start_ms: int
) -> None:
    served = serve(model_name, start_ms)
    with session(served.port, PUBLIC) as opened:
        opened.associate()
        client = opened.client
        # docs/dlms.md "Conformance offered": negotiated = gurux's proposal AND ours; PDU 1024.
        assert client.maxReceivePDUSize == 1024
        negotiated = client.negotiatedConformance
        for offered in (Conformance.GET, Conformance.SELECTIVE_ACCESS, Conformance.SET):
            assert negotiated & offered
        assert negotiated & Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
        assert not negotiated & Conformance.GENERAL_BLOCK_TRANSFER  # not offered

        clock = GXDLMSClock(CLOCK)
        for attribute in (2, 3, 4, 8):  # time, time_zone, status, daylight_savings_enabled
            opened.read(clock, attribute)
        release = opened.release()
    meter_ms = served.call(served.meter.meter_time_ms)
    local = served.call(served.meter.local_time)
    when: datetime = clock.time.value
    # The in-process meter does not move by itself: the clock reads exactly its start.
    assert when == utc(meter_ms) == utc(start_ms)
    assert when.replace(tzinfo=None) == local
    offset = local - utc(meter_ms).replace(tzinfo=None)
    assert when.utcoffset() == offset
    # time_zone: the deviation of local time from UTC in minutes, the Blue Book's sign (UTC =
    # local + deviation); the standard time's, so one hour less east of UTC in summer.
    summer = bool(clock.status & DAYLIGHT_SAVING_ACTIVE)
    assert clock.timeZone == -(offset // timedelta(minutes=1)) + (60 if summer else 0)
    # pmm1220 keeps no summer time (daylight_savings_enabled false); the others do (docs).
    assert clock.enabled is (model_name != "pmm1220")
    assert summer is (clock.enabled and start_ms != START_MS)
    assert release.command == Command.RELEASE_RESPONSE
    assert bytes(release.data.array()) == RLRE_NORMAL


# -- LLS and registers ------------------------------------------------------------------------


@pytest.mark.parametrize("model_name", MODELS)
def test_reader_reads_registers_with_scaler_and_unit(
    serve: Callable[..., ServedMeter], model_name: str
) -> None:
    served = serve(model_name)
    run_for(served, 1)
    meter = served.meter
    imported_wh = served.call(lambda: meter.energy_mwh(Energy.IMPORT_ACTIVE)) // 1000
    phases = served.model.spec.ratings.phases
    assert imported_wh == phases * WATTS_PER_PHASE  # an hour of the load
    energy, export = GXDLMSRegister(IMPORT_ACTIVE), GXDLMSRegister(EXPORT_ACTIVE)
    voltage = GXDLMSRegister(VOLTAGE_L1)
    with associated(served.port, READER, READER_SECRETS[model_name]) as opened:
        for register in (energy, export, voltage):
            opened.read(register, 3)  # scaler_unit first: gurux scales the value with it
            opened.read(register, 2)
    # docs/dlms.md: energy registers scaler 0 (gurux shows 10^scaler), Wh; voltage scaler -1, V.
    assert (energy.scaler, energy.unit) == (1.0, UNIT_WH)
    assert energy.value == imported_wh
    assert (export.value, export.unit) == (0, UNIT_WH)
    assert voltage.scaler == pytest.approx(0.1) and voltage.unit == UNIT_V
    assert voltage.value == pytest.approx(VOLTS)


def test_wrong_password_is_refused_and_the_right_one_works(metercom: ServedMeter) -> None:
    with session(metercom.port, READER, b"WRONG") as opened, pytest.raises(GXDLMSException) as no:
        opened.associate()
    # docs/dlms.md: rejected-permanent, diagnostic 13 authentication-failure.
    assert no.value.result == AssociationResult.PERMANENT_REJECTED
    assert no.value.diagnostic == SourceDiagnostic.AUTHENTICATION_FAILURE
    with associated(metercom.port, READER, READER_SECRETS["metercom-pro"]) as opened:
        assert opened.read(GXDLMSRegister(IMPORT_ACTIVE), 2) == 0


def test_an_object_not_in_the_association_is_refused_and_the_association_goes_on(
    metercom: ServedMeter,
) -> None:
    with associated(metercom.port, PUBLIC) as opened:
        with pytest.raises(GXDLMSException) as refusal:  # not in the public list
            opened.read(GXDLMSRegister("1.0.1.8.1.255"), 2)
        assert refusal.value.errorCode == 4  # data-access-result object-undefined
        assert opened.read(GXDLMSRegister(IMPORT_ACTIVE), 2) == 0


def test_get_with_list_in_two_requests(serve: Callable[..., ServedMeter]) -> None:
    """14 attributes: gurux sends 10 and 4 (get-request-with-list); the refused one (not in
    the public list) is None among the others, which the meter's state gives."""
    served = serve("magno22")
    run_for(served, 1)
    meter = served.meter
    energy, clock = GXDLMSRegister(IMPORT_ACTIVE), GXDLMSClock(CLOCK)
    totals = [GXDLMSRegister(f"1.0.{c}.8.0.255") for c in (2, 3, 4, 15, 16)]
    items = [(energy, 2), (energy, 3), (clock, 2), (GXDLMSRegister("1.0.1.8.1.255"), 2)]
    items += [(register, attribute) for register in totals for attribute in (2, 3)]
    with associated(served.port, PUBLIC) as opened:
        values = opened.read_list(items)
    with_list = [frame for frame in opened.sent if frame[8:10] == b"\xc0\x03"]
    assert [frame[11] for frame in with_list] == [10, 4]  # the attribute count of each
    assert len(values) == 14 and values[3] is None
    assert energy.value == served.call(lambda: meter.energy_mwh(Energy.IMPORT_ACTIVE)) // 1000
    assert energy.value == WATTS_PER_PHASE  # one phase, one hour
    assert energy.unit == UNIT_WH
    assert clock.time.value == utc(served.call(meter.meter_time_ms))
    assert [register.unit for register in totals] == [30, 32, 32, 30, 30]  # Wh, varh


def test_utility_sets_the_clock_and_operates_the_relay(metercom: ServedMeter) -> None:
    """SET clock.time and ACTION remote_disconnect / remote_reconnect, encoded by gurux."""
    meter = metercom.meter
    clock = GXDLMSClock(CLOCK)
    clock.time = GXDateTime(datetime(2026, 3, 2, 12, 30, 15, tzinfo=timezone(ONE_HOUR)))
    relay = GXDLMSDisconnectControl(DISCONNECT_CONTROL)
    states = []
    with associated(metercom.port, UTILITY, UTILITY_SECRET) as opened:
        opened.write(clock, 2)
        for operate in (relay.remoteDisconnect, relay.remoteReconnect):
            opened.act(operate(opened.client))
            opened.read(relay, 2)
            opened.read(relay, 3)
            state = metercom.call(lambda: meter.disconnect.state)
            states.append((relay.outputState, int(relay.controlState), state))
    assert metercom.call(meter.local_time) == datetime(2026, 3, 2, 12, 30, 15)  # CET wall
    # metercom-pro's control mode 1: a remote reconnection only arms the relay (docs/dlms.md).
    assert states == [
        (False, 0, ControlState.DISCONNECTED),
        (False, 2, ControlState.READY_FOR_RECONNECTION),
    ]


# -- the association's object list ------------------------------------------------------------


Listing = dict[str, tuple[int, int, dict[int, int], dict[int, int]]]


def _listed(objects: list[GXDLMSObject]) -> Listing:
    """Each object as gurux parsed it: class, version, and the access mode of every attribute
    and method the entry names (gurux's own getAccess guesses for the ones not named)."""
    return {
        item.logicalName: (
            int(item.objectType),
            item.version,
            {att.index: int(att.access) for att in item.attributes},
            {att.index: int(att.methodAccess) for att in item.methodAttributes},
        )
        for item in objects
    }


def _served(served: ServedMeter, client_sap: int) -> Listing:
    """The same, as the meter's logical device holds the association's rights: every
    attribute and method of each visible object's class, with its mode there."""
    device: Any = served.server.backend
    expected: Listing = {}
    for name, rights in device.policies[client_sap].rights.items():
        interface = device.objects[name].interface
        attributes = {i: int(rights.attribute(i)) for i in range(1, len(interface.attributes) + 1)}
        methods = {i: int(rights.method(i)) for i in range(1, len(interface.methods) + 1)}
        expected[str(name)] = (interface.class_id, interface.version, attributes, methods)
    return expected


@pytest.mark.parametrize(
    ("model_name", "client_sap", "secret"),
    [
        *[(name, PUBLIC, None) for name in MODELS],
        *[(name, READER, secret) for name, secret in READER_SECRETS.items()],
        ("metercom-pro", UTILITY, UTILITY_SECRET),  # seed 004's 277 objects
    ],
)
def test_object_list_is_the_associations_objects_and_rights(
    serve: Callable[..., ServedMeter], model_name: str, client_sap: int, secret: bytes | None
) -> None:
    served = serve(model_name)
    with associated(served.port, client_sap, secret) as opened:
        objects = opened.object_list(known_classes_only=False)
    listed = _listed(objects)
    assert len(listed) == len(objects)  # each logical name once
    assert listed == _served(served, client_sap)
    assert CLOCK in listed and "0.0.40.0.0.255" in listed
    if client_sap == PUBLIC:  # docs/dlms.md: read-only, no methods
        read_or_none = {0, 1, 4}  # no access, read-only, authenticated read-only
        assert all(set(modes.values()) <= read_or_none for _c, _v, modes, _m in listed.values())
        assert not any(any(methods.values()) for _c, _v, _a, methods in listed.values())


def test_a_client_receiving_less_gets_the_object_list_in_blocks(metercom: ServedMeter) -> None:
    """gurux proposes a max receive PDU of 65535 and gets the utility's ~14 kB list in one
    APDU; proposing 512 it gets the same list by GET with blocks (get-request-next)."""
    with session(metercom.port, UTILITY, UTILITY_SECRET) as opened:
        opened.client.maxReceivePDUSize = 512
        opened.associate()
        objects = opened.object_list(known_classes_only=False)
        opened.release()
    get_next = [frame for frame in opened.sent if frame[8:10] == b"\xc0\x02"]
    assert len(get_next) >= 14000 // 512
    assert _listed(objects) == _served(metercom, UTILITY)
    # docs/dlms.md: seed 004's 274, 3 objects it names, the module firmware version and the
    # download status (docs/firmware.md), 3 of HLS 0x40
    assert len(objects) == 274 + 3 + 2 + 3


READABLE = {1, 3, 4, 6}  # read-only, read-write and their authenticated forms


@pytest.mark.parametrize(
    ("model_name", "client_sap", "secret"),
    [
        *[(name, READER, secret) for name, secret in READER_SECRETS.items()],
        ("metercom-pro", UTILITY, UTILITY_SECRET),
    ],
)
def test_every_attribute_listed_readable_reads_into_gurux_objects(
    serve: Callable[..., ServedMeter], model_name: str, client_sap: int, secret: bytes
) -> None:
    """A head-end's "read all": every attribute the object list names readable is answered
    and decodes into gurux's object of its class (its typed setValue takes it). A profile's
    capture objects are read before its buffer, as gurux needs them to split the rows."""
    served = serve(model_name)
    run_for(served, 2)  # some energy, profile entries and events to read
    refused: list[tuple[str, int, str]] = []
    read = 0
    with associated(served.port, client_sap, secret) as opened:
        for item in opened.object_list():  # the classes gurux has objects for
            is_profile = int(item.objectType) == 7
            for attribute in sorted(
                (att.index for att in item.attributes if int(att.access) in READABLE),
                key=lambda index: (is_profile and index == 2, index),
            ):
                try:
                    opened.read(item, attribute)
                    read += 1
                except (GXDLMSException, ValueError, TypeError) as problem:
                    refused.append((item.logicalName, attribute, repr(problem)))
    assert refused == []
    assert read > 500  # every model serves hundreds of readable attributes


# -- a load profile by range and by entry -------------------------------------------------------


def _profile(opened: Any) -> GXDLMSProfileGeneric:
    """Load profile 1 with its capture objects and period read, as a head-end starts."""
    profile = GXDLMSProfileGeneric(LOAD_PROFILE)
    opened.read(profile, 3)
    opened.read(profile, 4)
    return profile


@pytest.mark.parametrize("model_name", MODELS)
def test_load_profile_by_range(serve: Callable[..., ServedMeter], model_name: str) -> None:
    """Three hours of a known load: 12 quarter-hour entries. A range from 10:30 to 12:00 UTC
    (given in the meter's own local time, as gurux encodes it) returns the 7 entries whose
    clock lies in it, the bounds included (UTC date-times, deviation 0), each with +A the
    load's energy so far; a range after the last entry returns none."""
    served = serve(model_name)
    run_for(served, 3)
    start = utc(START_MS)
    phases = served.model.spec.ratings.phases
    with associated(served.port, READER, READER_SECRETS[model_name]) as opened:
        profile = _profile(opened)
        in_use = opened.read(profile, 7)
        rows = opened.rows_by_range(profile, start + 2 * QUARTER_HOUR, start + 8 * QUARTER_HOUR)
        none = opened.rows_by_range(profile, start + 13 * QUARTER_HOUR, start + ONE_DAY)
        energy = GXDLMSRegister(IMPORT_ACTIVE)
        register_wh = opened.read(energy, 2)
    columns = [(int(item.objectType), item.logicalName) for item, _c in profile.captureObjects]
    assert columns[0] == (8, CLOCK)  # the clock column restricts the range
    assert columns[2] == (3, IMPORT_ACTIVE)
    assert [c.attributeIndex for _item, c in profile.captureObjects][:3] == [2, 2, 2]
    assert profile.capturePeriod == 900
    assert in_use == 12
    assert none == []
    times = [row[0].value for row in rows]
    assert times == [start + k * QUARTER_HOUR for k in range(2, 9)]
    quarter_wh = phases * WATTS_PER_PHASE / 4
    assert [row[2] for row in rows] == [k * quarter_wh for k in range(2, 9)]
    assert all(len(row) == len(columns) for row in rows)
    assert register_wh == 12 * quarter_wh  # the register now: the last entry, 13:00


def test_load_profile_by_entry(serve: Callable[..., ServedMeter]) -> None:
    """Entries 2 and 3 of an hour of captures: 10:30 and 10:45 UTC (selector 2)."""
    served = serve("az3p")
    run_for(served, 1)
    with associated(served.port, READER, READER_SECRETS["az3p"]) as opened:
        rows = opened.rows_by_entry(_profile(opened), 2, 2)
    start = utc(START_MS)
    assert [row[0].value for row in rows] == [start + 2 * QUARTER_HOUR, start + 3 * QUARTER_HOUR]
    assert [row[2] for row in rows] == [1500, 2250]  # 3 kW: 750 Wh a quarter-hour


# -- the meter as a user runs it ----------------------------------------------------------------


def test_metertwin_run_answers_gurux(meter_process: Callable[..., MeterProcess]) -> None:
    running = meter_process(
        "--model", "pmm1220", "--serial", SERIAL, "--start", "2026-03-02T10:00:00",
        "--speed", "1", "--duration", "60",
    )  # fmt: skip
    name = GXDLMSData(LOGICAL_DEVICE_NAME)
    clock = GXDLMSClock(CLOCK)
    with associated(running.port, PUBLIC) as opened:
        opened.read(name, 2)
        opened.read(clock, 2)
    assert bytes(name.value) == b"PMM" + SERIAL.encode()  # docs/dlms.md: e.g. PMM12345678
    when: datetime = clock.time.value
    assert when.replace(tzinfo=None) >= datetime(2026, 3, 2, 10, 0)  # --start is local time


def test_metertwin_run_answers_gurux_over_hls_gmac(
    meter_process: Callable[..., MeterProcess],
) -> None:
    """The meter as a user runs it (its runtime wraps the logical device) serves gurux's
    HLS-GMAC association on 0x40 with the demo keys."""
    running = meter_process("--model", "magno22", "--speed", "1", "--duration", "60")
    clock = GXDLMSClock(CLOCK)
    with associated(running.port, HLS_GMAC, gmac=Gmac()) as opened:
        opened.read(clock, 2)
    assert clock.time.value.year >= 2020
    assert [frame[8] for frame in opened.sent] == [0x60, 0xCB, 0xC8, 0x62]


# -- the driver's HLS-GMAC setting, ready for client 0x40 ---------------------------------------


def _ber_fields(content: bytes) -> dict[int, bytes]:
    """The AARQ's top-level fields (tag -> value; every length here is below 128)."""
    fields, position = {}, 0
    while position < len(content):
        tag, length = content[position], content[position + 1]
        fields[tag] = content[position + 2 : position + 2 + length]
        position += 2 + length
    return fields


def test_the_gmac_setting_sends_a_green_book_suite_0_aarq() -> None:
    """What gurux_client's ``Gmac()`` makes gurux send (for issue 12's 0x40), opened as a
    Green Book meter opens it (reference/dlms.md 2.5 and 3.2: glo-initiate-request, SC 0x30 =
    authenticated and encrypted suite 0, IV = system title || IC, AAD = SC || AK, 12-octet
    tag): the keys, system title and counter of the driver are those gurux uses."""
    gmac = Gmac()
    (frame,) = make_client(HLS_GMAC, gmac=gmac).aarqRequest()
    aarq = bytes(frame)[8:]  # after the wrapper header
    assert aarq[0] == 0x60 and aarq[1] == len(aarq) - 2
    fields = _ber_fields(aarq[2:])
    assert fields[0xA1] == bytes.fromhex("060760857405080103")  # LN referencing, ciphered
    assert fields[0xA6] == b"\x04\x08" + gmac.system_title  # calling-AP-title
    assert fields[0x8B] == bytes.fromhex("60857405080205")  # mechanism 5, HLS-GMAC
    assert len(fields[0xAC]) == 2 + 16  # calling-authentication-value: CtoS, 16 octets
    user_information = fields[0xBE]
    assert user_information[0] == 0x04 and user_information[2] == 0x21  # glo-initiate-request
    glo = user_information[2:]
    assert glo[1] == len(glo) - 2
    control, counter, body = glo[2], glo[3:7], glo[7:]
    assert control == 0x30
    assert int.from_bytes(counter) == gmac.invocation_counter
    opening = Cipher(
        algorithms.AES(GREEN_BOOK_BLOCK_CIPHER_KEY),
        modes.GCM(gmac.system_title + counter, body[-12:], min_tag_length=12),
    ).decryptor()
    opening.authenticate_additional_data(bytes([control]) + GREEN_BOOK_AUTHENTICATION_KEY)
    initiate = opening.update(body[:-12]) + opening.finalize()  # raises on a wrong tag
    assert initiate[0] == 0x01  # xDLMS InitiateRequest
    assert initiate[-2:] == b"\xff\xff"  # client-max-receive-pdu-size 65535


# -- HLS-GMAC with suite 0 ciphering on client 0x40 (issue 12) ----------------------------------


@pytest.mark.parametrize("model_name", MODELS)
def test_gurux_associates_with_hls_gmac_and_reads_ciphered(
    serve: Callable[..., ServedMeter], model_name: str
) -> None:
    """gurux's secure client opens 0x40 (ciphered AARQ, HLS-GMAC pass 3/4, both proofs
    checked by gurux) with the Green Book demo keys of docs/dlms.md, then reads a register,
    the clock and a profile by range, every request and answer glo-ciphered."""
    served = serve(model_name)
    run_for(served, 3)
    start = utc(START_MS)
    meter = served.meter
    energy, clock = GXDLMSRegister(IMPORT_ACTIVE), GXDLMSClock(CLOCK)
    with associated(served.port, HLS_GMAC, gmac=Gmac()) as opened:
        opened.read(energy, 3)
        opened.read(energy, 2)
        opened.read(clock, 2)
        profile = _profile(opened)
        rows = opened.rows_by_range(profile, start + 2 * QUARTER_HOUR, start + 8 * QUARTER_HOUR)
    assert energy.value == served.call(lambda: meter.energy_mwh(Energy.IMPORT_ACTIVE)) // 1000
    assert clock.time.value == utc(served.call(meter.meter_time_ms))
    assert [row[0].value for row in rows] == [start + k * QUARTER_HOUR for k in range(2, 9)]
    requests = [frame[8] for frame in opened.sent]
    assert requests[0] == 0x60 and 0xCB in requests  # AARQ, then glo-action-request (pass 3)
    assert set(requests[2:-1]) <= {0xC8}  # glo-get-request only, then the RLRQ
    assert all(chunk[8] in (0x61, 0xCC, 0xCF, 0x63) for chunk in opened.received)


def test_gurux_with_a_wrong_key_is_refused_and_a_replay_too(metercom: ServedMeter) -> None:
    """A wrong authentication key: the glo-initiate-request does not open, and the AARQ is
    refused (rejected-permanent, ConfirmedServiceError initiate other: docs/dlms.md); the same
    counters again, after a successful association, are a replay refused the same way."""
    wrong = Gmac(authentication_key=bytes(16))
    with (
        session(metercom.port, HLS_GMAC, gmac=wrong) as opened,
        pytest.raises(GXDLMSException) as refused,
    ):
        opened.associate()
    assert refused.value.result == AssociationResult.PERMANENT_REJECTED
    with associated(metercom.port, HLS_GMAC, gmac=Gmac(invocation_counter=100)) as opened:
        assert opened.read(GXDLMSRegister(IMPORT_ACTIVE), 2) == 0
    with (
        session(metercom.port, HLS_GMAC, gmac=Gmac(invocation_counter=100)) as again,
        pytest.raises(GXDLMSException),
    ):
        again.associate()
    after = Gmac(invocation_counter=200)
    with associated(metercom.port, HLS_GMAC, gmac=after) as opened:
        assert opened.read(GXDLMSRegister(IMPORT_ACTIVE), 2) == 0


def _ecdsa_meter(
    serve: Callable[..., ServedMeter], tmp_path: Path, model_name: str, suite: int
) -> tuple[ServedMeter, Ecdsa]:
    """A meter knowing a fresh head-end key (`[dlms] client_public_key`), and gurux's setting
    for it: the head-end's key, the meter's public key (made at its first start) and the
    demo keys of the suite (doubled for AES-256)."""
    curve: ec.EllipticCurve = ec.SECP384R1() if suite == 2 else ec.SECP256R1()
    head_end = ec.generate_private_key(curve)
    pem = tmp_path / "head-end.pem"
    pem.write_bytes(
        head_end.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    served = serve(model_name, overrides={"dlms": {"client_public_key": str(pem)}})
    (setup,) = [s for s in served.meter.dlms_security.setups.values() if s.signing_key]
    meter_public = setup.signing_public_key()
    assert meter_public is not None
    length = 32 if suite == 2 else 16
    ecdsa = Ecdsa(
        suite=suite,
        block_cipher_key=(GREEN_BOOK_BLOCK_CIPHER_KEY * 2)[:length],
        authentication_key=(GREEN_BOOK_AUTHENTICATION_KEY * 2)[:length],
        client_private_key=head_end.private_numbers().private_value.to_bytes(
            (curve.key_size + 7) // 8, "big"
        ),
        meter_public_key_der_base64=b64encode(meter_public).decode(),
    )
    return served, ecdsa


def test_gurux_associates_with_hls_ecdsa_suite_1_on_0x41(
    serve: Callable[..., ServedMeter], tmp_path: Path
) -> None:
    """gurux's HLS-ECDSA client on magno22's 0x41 (docs/dlms.md): gurux signs pass 3 with
    P-256, checks the meter's pass 4 signature and reads a register glo-ciphered (SC 0x31)."""
    served, ecdsa = _ecdsa_meter(serve, tmp_path, "magno22", 1)
    energy = GXDLMSRegister(IMPORT_ACTIVE)
    with associated(served.port, 0x41, gmac=ecdsa) as opened:
        opened.read(energy, 2)
    assert energy.value == 0
    requests = [frame[8] for frame in opened.sent]
    assert requests == [0x60, 0xCB, 0xC8, 0x62]  # AARQ, pass 3, glo-get, RLRQ
    assert opened.received[0][8] == 0x61 and opened.received[2][8] == 0xCC
    assert opened.received[2][10] == 0x31  # SC: authenticated, encrypted, suite 1


def test_gurux_opens_the_suite_2_aare_of_pmm1220(
    serve: Callable[..., ServedMeter], tmp_path: Path
) -> None:
    """pmm1220's 0x41, suite 2: gurux's AES-GCM-256 glo-initiate-request is accepted and gurux
    opens the meter's glo-initiate-response (HLS pending). gurux-dlms 1.0 cannot sign with
    P-384 (GXEcdsa.sign compares the key scheme with P256 twice), so pass 3 is ours alone
    (tests/models/test_hls_on_meters.py)."""
    served, ecdsa = _ecdsa_meter(serve, tmp_path, "pmm1220", 2)
    with session(served.port, 0x41, gmac=ecdsa) as opened:
        reply = opened.exchange(opened.client.aarqRequest())
        opened.client.parseAareResponse(reply.data)  # raises if refused or not deciphered
        assert opened.client.getIsAuthenticationRequired()
    aare = opened.received[0][8:]
    assert aare[0] == 0x61
    assert bytes.fromhex("A305A10302010E") in aare  # accepted, authentication-required
