"""The blocking and asyncio front ends over a real 127.0.0.1 socket, against the canned fake
meter of ``test_client_fakes``: wrapper framing (split and coalesced reads, notifications in
between), the block-transfer loop, timeouts, refused and broken connections, release.

Vectors from reference/dlms.md 5 (DC = dlms-cosem tests, GS = gosem tests).
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from tests.dlms.test_client_fakes import HANG_UP, SILENT, FakeMeter

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.dlms.client import (
    AssociationRejectedError,
    AsyncDlmsClient,
    DataAccessError,
    DlmsClient,
    DlmsConnectionError,
    DlmsProtocolError,
    DlmsTimeoutError,
)

H = bytes.fromhex
# DC test_aarq.py (max receive PDU 1200) and test_aare.py: association without security.
AARQ = H("601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0")
AARE = H("6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000501F01F40007")
# DC test_aarq.py::test_parse_no_ciphering_low_security; GS TestClient_InvalidPassword.
AARQ_LLS = H(
    "6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
    "BE10040E01000000065F1F0400007E1F04B0"
)
AARE_WRONG_PASSWORD = H("6117A109060760857405080101A203020101A305A10302010D")
# DC test_rlrq.py / test_rlre.py
RLRQ, RLRE = H("6203800100"), H("6303800100")
# GET of +A total (class 3, attribute 2) -> double-long-unsigned 12345
GET_ENERGY, ENERGY = H("C001C100030100010800FF0200"), H("C401C1000600003039")
# GS get_test.go::TestClient_GetRequestWithDataBlock
GET_PROFILE = H("C001C100070100630100FF0200")
BLOCKS = {
    GET_PROFILE: H("C402C10000000001000C010506000000010600000002"),
    H("C002C100000001"): H("C402C10000000002000A06000000030600000004"),
    H("C002C100000002"): H("C402C1010000000300050600000005"),
}
FIVE = Data.array(Data.double_long_unsigned(n) for n in range(1, 6))
# GS dataNotification_test.go: an unsolicited push, to be skipped by the client.
NOTIFICATION = H("0F0063D76A000301")

BASIC = {AARQ: AARE, GET_ENERGY: ENERGY, RLRQ: RLRE, **BLOCKS}


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


# --- blocking client -----------------------------------------------------------------------


def test_get_block_transfer_and_release() -> None:
    with FakeMeter(BASIC) as meter:
        with DlmsClient(timeout=2).connect(
            "127.0.0.1", meter.port, max_receive_pdu_size=1200
        ) as client:
            assert client.connected
            assert client.negotiated is not None
            assert client.negotiated.server_max_receive_pdu_size == 500
            assert client.get("1.0.1.8.0.255", 3) == Data.double_long_unsigned(12345)
            assert client.get("1.0.99.1.0.255", 7) == FIVE
        assert not client.connected
    assert meter.requests[0] == AARQ
    assert meter.requests[-1] == RLRQ
    assert meter.unknown == []


def test_split_reads_coalesced_frames_and_notifications_in_between() -> None:
    """Answers arrive 3 octets at a time, each behind an unsolicited data-notification sent
    in the same write; the client reassembles frames and skips the notifications."""
    answers = {request: (NOTIFICATION, answer) for request, answer in BASIC.items()}
    with (
        FakeMeter(answers, chunk_size=3) as meter,
        DlmsClient(timeout=5).connect("127.0.0.1", meter.port, max_receive_pdu_size=1200) as client,
    ):
        assert client.get("1.0.99.1.0.255", 7) == FIVE
        assert client.get("1.0.1.8.0.255", 3) == Data.double_long_unsigned(12345)


def test_refusal_of_a_get_keeps_the_connection() -> None:
    answers = {**BASIC, GET_ENERGY: H("C401C10103")}
    with (
        FakeMeter(answers) as meter,
        DlmsClient(timeout=2).connect("127.0.0.1", meter.port, max_receive_pdu_size=1200) as client,
    ):
        with pytest.raises(DataAccessError) as refused:
            client.get("1.0.1.8.0.255", 3)
        assert refused.value.result == DataAccessResult.READ_WRITE_DENIED
        assert client.get("1.0.99.1.0.255", 7) == FIVE


def test_timeout_closes_the_connection() -> None:
    answers = {**BASIC, GET_ENERGY: SILENT}
    with FakeMeter(answers) as meter:
        client = DlmsClient(timeout=0.3).connect("127.0.0.1", meter.port, max_receive_pdu_size=1200)
        began = time.monotonic()
        with pytest.raises(
            DlmsTimeoutError, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.3 s"
        ):
            client.get("1.0.1.8.0.255", 3)
        assert time.monotonic() - began < 2
        assert not client.connected
        with pytest.raises(DlmsConnectionError, match="closed"):
            client.get("1.0.99.1.0.255", 7)
        client.close()


def test_meter_hanging_up() -> None:
    with FakeMeter({**BASIC, GET_ENERGY: HANG_UP}) as meter:
        client = DlmsClient(timeout=2).connect("127.0.0.1", meter.port, max_receive_pdu_size=1200)
        with pytest.raises(DlmsConnectionError, match="closed the connection"):
            client.get("1.0.1.8.0.255", 3)
        assert not client.connected


def test_unreachable_meter() -> None:
    port = closed_port()
    with pytest.raises(DlmsConnectionError, match=f"cannot connect to 127.0.0.1:{port}"):
        DlmsClient(timeout=2).connect("127.0.0.1", port)


def test_refused_association_closes_the_socket() -> None:
    with FakeMeter({AARQ_LLS: AARE_WRONG_PASSWORD}) as meter:
        client = DlmsClient(timeout=2)
        with pytest.raises(AssociationRejectedError, match="authentication-failure"):
            client.connect("127.0.0.1", meter.port, password=b"12345678", max_receive_pdu_size=1200)
        assert not client.connected
    assert meter.requests == [AARQ_LLS]


def test_answer_between_other_wports_is_refused() -> None:
    with FakeMeter(BASIC, reply_ports=(1, 0x20)) as meter:
        client = DlmsClient(timeout=2)
        with pytest.raises(DlmsProtocolError, match="wPort 1 to 32"):
            client.connect("127.0.0.1", meter.port, max_receive_pdu_size=1200)
        assert not client.connected


def test_client_and_server_saps_go_in_the_wrapper() -> None:
    with FakeMeter(BASIC, client_sap=0x20, server_sap=0x11) as meter:
        client = DlmsClient(timeout=2).connect(
            "127.0.0.1", meter.port, client_sap=0x20, server_sap=0x11, max_receive_pdu_size=1200
        )
        with client:
            assert client.get("1.0.1.8.0.255", 3) == Data.double_long_unsigned(12345)


def test_an_error_inside_the_with_block_still_releases() -> None:
    with FakeMeter(BASIC) as meter:
        with (
            pytest.raises(KeyError),
            DlmsClient(timeout=2).connect("127.0.0.1", meter.port, max_receive_pdu_size=1200),
        ):
            raise KeyError("caller's bug")
        deadline = time.monotonic() + 2
        while meter.requests[-1:] != [RLRQ] and time.monotonic() < deadline:
            time.sleep(0.01)
    assert meter.requests[-1] == RLRQ


# --- asyncio client ------------------------------------------------------------------------


def test_async_get_block_transfer_and_release() -> None:
    async def scenario(port: int) -> None:
        async with AsyncDlmsClient(timeout=2).connect(
            "127.0.0.1", port, max_receive_pdu_size=1200
        ) as client:
            assert client.connected
            assert await client.get("1.0.1.8.0.255", 3) == Data.double_long_unsigned(12345)
            assert await client.get("1.0.99.1.0.255", 7) == FIVE
        assert not client.connected

    with FakeMeter(BASIC, chunk_size=5) as meter:
        asyncio.run(scenario(meter.port))
    assert meter.requests[-1] == RLRQ


def test_async_awaited_connect_and_concurrent_requests() -> None:
    """Two tasks share one client: their requests are sent one after the other."""

    async def scenario(port: int) -> None:
        client = await AsyncDlmsClient(timeout=2).connect(
            "127.0.0.1", port, max_receive_pdu_size=1200
        )
        async with client:
            energy, profile = await asyncio.gather(
                client.get("1.0.1.8.0.255", 3), client.get("1.0.99.1.0.255", 7)
            )
        assert energy == Data.double_long_unsigned(12345)
        assert profile == FIVE

    with FakeMeter(BASIC) as meter:
        asyncio.run(scenario(meter.port))


def test_async_timeout_and_refusals() -> None:
    async def scenario(port: int) -> None:
        client = await AsyncDlmsClient(timeout=0.3).connect(
            "127.0.0.1", port, max_receive_pdu_size=1200
        )
        with pytest.raises(DlmsTimeoutError):
            await client.get("1.0.1.8.0.255", 3)
        assert not client.connected
        with pytest.raises(DlmsConnectionError):
            await client.get("1.0.99.1.0.255", 7)
        await client.close()

        refused = closed_port()
        with pytest.raises(DlmsConnectionError, match=f"cannot connect to 127.0.0.1:{refused}"):
            await AsyncDlmsClient(timeout=2).connect("127.0.0.1", refused)

        lls = AsyncDlmsClient(timeout=2)
        with pytest.raises(AssociationRejectedError, match="13 authentication-failure"):
            await lls.connect("127.0.0.1", port, password=b"12345678", max_receive_pdu_size=1200)
        assert not lls.connected

    answers = {**BASIC, GET_ENERGY: SILENT, AARQ_LLS: AARE_WRONG_PASSWORD}
    with FakeMeter(answers) as meter:
        asyncio.run(scenario(meter.port))


def test_async_cancelled_request_drops_the_connection() -> None:
    """An answer may still come for a cancelled request: the connection cannot be reused."""

    async def scenario(port: int) -> None:
        client = await AsyncDlmsClient(timeout=5).connect(
            "127.0.0.1", port, max_receive_pdu_size=1200
        )
        waiting = asyncio.ensure_future(client.get("1.0.1.8.0.255", 3))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not client.connected
        with pytest.raises(DlmsConnectionError, match="closed"):
            await client.get("1.0.99.1.0.255", 7)

    with FakeMeter({**BASIC, GET_ENERGY: SILENT}) as meter:
        asyncio.run(scenario(meter.port))
