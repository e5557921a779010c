"""The communication log end to end: a head-end provokes each communication event over real
sockets on 127.0.0.1, then reads ``0.0.99.98.8.255`` with selective access by range (issue 5,
item 4; docs/events.md). The meter is wired as ``metertwin run`` wires it: the logical device
for AARQ refusals, ``connection_event_logger`` for the transport's events.

Runs on asyncio's event loop and on uvloop's (``conftest.py``)."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers import utc_ms
from tests.transport.test_tcp import (
    AARQ,
    GET_TIME_ZONE,
    closed_by_server,
    connect,
    exchange,
    until_no_connection,
)

from metertwin.cli import connection_event_logger, tcp_settings
from metertwin.codec.axdr import Data
from metertwin.dlms.client import AsyncDlmsClient
from metertwin.dlms.client.association import ClientAssociation
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.models.values import cosem_datetime
from metertwin.transport import eventloop
from metertwin.transport.channel import ConnectionEvent
from metertwin.transport.tcp import DlmsTcpServer, TcpServerSettings

pytestmark = pytest.mark.usefixtures("event_loop_kind")

COMMUNICATION_LOG = "0.0.99.98.8.255"
READER_SAP, UNKNOWN_SAP = 32, 0x30
MINUTE = 60_000


def test_a_head_end_reads_the_events_it_provoked_by_range() -> None:
    """A wrong password (220), an AARQ from an unknown client (222), a second connection
    while one is served (223, seed 004) and a connection left idle (224, seed 004), each a
    minute apart on the meter's clock; read back whole and by a clock range holding the
    middle two. The reading association itself logs nothing, and every event was committed
    when it happened."""
    model = load_model("pmm1220")
    meter = Meter(model.spec, utc_ms(2026, 6, 1, 8), "12345678")
    commits: list[dict[int, int]] = []

    def commit() -> None:
        commits.append(dict(meter.event_counts))

    device = build_logical_device(model, meter, commit)
    on_event = connection_event_logger(meter, commit)
    password = model.spec.security.default_secrets["reader"]
    stamps: list[int] = []

    def next_minute() -> None:
        meter.advance(meter.now_ms + MINUTE)
        stamps.append(meter.meter_time_ms())

    def wrong_password_aarq() -> bytes:
        return ClientAssociation(password=b"wrong").aarq().encode()

    async def main() -> None:
        # one connection at a time, as seed 004; never idle long enough to be closed
        busy = DlmsTcpServer(
            device, "127.0.0.1", 0, TcpServerSettings(single_connection=True), on_event
        )
        # the same meter on a second port whose connections are closed after 0.3 s idle
        idle = DlmsTcpServer(
            device, "127.0.0.1", 0, TcpServerSettings(inactivity_timeout_s=0.3), on_event
        )
        await busy.start()
        await idle.start()
        try:
            first = await connect(busy)
            next_minute()
            refused = await exchange(first, wrong_password_aarq(), READER_SAP)
            assert refused[-1] == 13  # authentication-failure
            next_minute()
            assert (await exchange(first, ClientAssociation().aarq().encode(), UNKNOWN_SAP))[
                -1
            ] == 1
            # the public association keeps the one connection: no newcomer takes it
            accepted = await exchange(first, ClientAssociation().aarq().encode())
            assert accepted[0] == 0x61 and bytes.fromhex("A203020100") in accepted  # accepted
            next_minute()
            second_reader, second_writer = await connect(busy)
            assert await closed_by_server(second_reader)
            second_writer.close()
            next_minute()
            idle_reader, idle_writer = await connect(idle)
            assert await closed_by_server(idle_reader)
            idle_writer.close()
            first[1].close()
            await until_no_connection(busy)
            next_minute()

            clock = meter.clock
            async with AsyncDlmsClient().connect(
                "127.0.0.1", busy.port, client_sap=READER_SAP, password=password
            ) as client:
                whole = await client.get(COMMUNICATION_LOG, 7, 2)
                middle = await client.profile(
                    COMMUNICATION_LOG,
                    cosem_datetime(clock, stamps[1]),
                    cosem_datetime(clock, stamps[2]),
                )
            rows = [tuple(entry.as_items()) for entry in whole.as_items()]
            codes = [
                EventCode.AUTHENTICATION_FAILURE,
                EventCode.ASSOCIATION_REFUSED,
                EventCode.CONNECTION_REFUSED,
                EventCode.CONNECTION_IDLE_CLOSED,
            ]
            assert (
                rows
                == [
                    (
                        Data.octet_string(cosem_datetime(clock, stamp).to_bytes()),
                        Data.unsigned(code),
                        Data.long_unsigned(1),  # each event once in its burst
                    )
                    for stamp, code in zip(stamps[:4], codes, strict=True)
                ]
            )
            assert [tuple(row) for row in middle] == rows[1:3]
        finally:
            await busy.stop()
            await idle.stop()

    eventloop.run(asyncio.wait_for(main(), 30))

    def communication(counts: dict[int, int]) -> dict[int, int]:
        return {code: n for code, n in counts.items() if 220 <= code <= 229}

    assert communication(meter.event_counts) == {220: 1, 222: 1, 223: 1, 224: 1}
    # each event was committed when it happened (each accepted login commits once more: the
    # public one holding the connection, then the reader's)
    assert [sum(communication(c).values()) for c in commits] == [1, 2, 2, 3, 4, 4]


TRANSPORT_EVENT_CODES = {
    ConnectionEvent.REFUSED_ONE_AT_A_TIME: EventCode.CONNECTION_REFUSED,
    ConnectionEvent.REFUSED_TOO_MANY: EventCode.CONNECTION_REFUSED,
    ConnectionEvent.CLOSED_IDLE: EventCode.CONNECTION_IDLE_CLOSED,
    ConnectionEvent.CLOSED_FRAME_TIMEOUT: EventCode.CONNECTION_IDLE_CLOSED,
    ConnectionEvent.CLOSED_UNKNOWN_WPORT: EventCode.ASSOCIATION_REFUSED,
    ConnectionEvent.EVICTED_IDLE: EventCode.CONNECTION_IDLE_CLOSED,
}


@pytest.mark.parametrize("event", list(ConnectionEvent))
def test_each_transport_event_is_logged_and_committed(event: ConnectionEvent) -> None:
    """Issues 19.6, 19.7 and 11.10 (docs/events.md): more connections than allowed is a 223
    like the one-at-a-time refusal, a frame too slow to complete a 224 like an idle
    connection (so is a connection with no whole frame given up for a newcomer), and a frame
    for a logical device the meter does not have a 222."""
    code = TRANSPORT_EVENT_CODES[event]
    meter = Meter(load_model("pmm1220").spec, utc_ms(2026, 6, 1, 8), "12345678")
    commits: list[dict[int, int]] = []
    connection_event_logger(meter, lambda: commits.append(dict(meter.event_counts)))(event)
    assert [c.get(code) for c in commits] == [1]


def test_run_serves_with_the_models_connection_settings() -> None:
    """``[dlms]`` reaches the TCP server: metercom-pro's one connection (seed 004), and the
    defaults of the other models: 4 connections, a frame complete within 30 s."""
    metercom = tcp_settings(load_model("metercom-pro").dlms)
    assert metercom == TcpServerSettings(
        single_connection=True, inactivity_timeout_s=300, frame_timeout_s=30, max_connections=1
    )
    pmm = tcp_settings(load_model("pmm1220").dlms)
    assert (pmm.single_connection, pmm.max_connections, pmm.frame_timeout_s) == (False, 4, 30)


def test_110_refused_connections_over_tcp_leave_every_wrong_secret_and_exact_counters() -> None:
    """Issue 19.5: two wrong reader secrets (220), then 110 plain TCP connects refused while a
    head-end holds seed 004's one connection (223 each, 16 minutes apart on the meter's
    clock so none joins another's burst). Read back over DLMS: the 100-entry log still holds
    both 220s, and its event counter ``0.0.96.15.8.255`` counts all 112 events."""
    model = load_model("pmm1220")
    meter = Meter(model.spec, utc_ms(2026, 6, 1, 8), "12345678")
    device = build_logical_device(model, meter, lambda: None)
    on_event = connection_event_logger(meter, lambda: None)
    password = model.spec.security.default_secrets["reader"]
    refused_connects = 110

    async def main() -> None:
        server = DlmsTcpServer(
            device, "127.0.0.1", 0, TcpServerSettings(single_connection=True), on_event
        )
        await server.start()
        try:
            holder = await connect(server)
            for _ in range(2):
                wrong = ClientAssociation(password=b"wrong").aarq().encode()
                assert (await exchange(holder, wrong, READER_SAP))[-1] == 13  # auth failure
            await exchange(holder, AARQ)  # a public association: the holder is served
            answer = await exchange(holder, GET_TIME_ZONE)
            assert answer[:4] == bytes.fromhex("C401C100")  # get-response-normal, data
            for _ in range(refused_connects):
                meter.advance(meter.now_ms + 16 * MINUTE)
                reader, writer = await connect(server)
                assert await closed_by_server(reader)
                writer.close()
            holder[1].close()
            await until_no_connection(server)
            async with AsyncDlmsClient().connect(
                "127.0.0.1", server.port, client_sap=READER_SAP, password=password
            ) as client:
                buffer = await client.get(COMMUNICATION_LOG, 7, 2)
                in_use = await client.get(COMMUNICATION_LOG, 7, 7)
                counter = await client.get("0.0.96.15.8.255", 1, 2)
        finally:
            await server.stop()
        codes = [entry.as_items()[1].as_int() for entry in buffer.as_items()]
        assert codes.count(EventCode.AUTHENTICATION_FAILURE) == 2
        assert codes.count(EventCode.CONNECTION_REFUSED) == 98
        assert in_use.as_int() == 100
        assert counter.as_int() == 2 + refused_connects

    eventloop.run(asyncio.wait_for(main(), 60))
    communication = {code: n for code, n in meter.event_counts.items() if 220 <= code <= 229}
    assert communication == {220: 2, 223: refused_connects}
