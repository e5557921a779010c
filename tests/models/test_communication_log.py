"""The communication log through the logical device and the sans-IO DLMS server, without a
socket: what is logged (refused AARQs, wrong passwords) and what is not (an ordinary
association, its reads, its release). docs/events.md, "The communication log"."""

from __future__ import annotations

from typing import TypeVar

from tests.helpers import utc_ms

from metertwin.codec.enums import ApplicationContext, AssociationResult, AuthenticationMechanism
from metertwin.cosem.device import LogicalDevice
from metertwin.dlms.apdu import Aare, Aarq, InitiateRequest, decode_apdu
from metertwin.dlms.client.association import DEFAULT_CONFORMANCE, ClientAssociation, Exchange
from metertwin.dlms.server.connection import ServerConnection
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device

T = TypeVar("T")
PUBLIC_SAP, READER_SAP, UNKNOWN_SAP = 16, 32, 0x30


def _meter(name: str = "pmm1220") -> tuple[Meter, LogicalDevice, list[dict[int, int]], bytes]:
    model = load_model(name)
    meter = Meter(model.spec, utc_ms(2026, 6, 1, 8), "12345678")
    commits: list[dict[int, int]] = []
    device = build_logical_device(model, meter, lambda: commits.append(dict(meter.event_counts)))
    reader = next(a for a in model.dlms.associations if a.client_sap == READER_SAP)
    return meter, device, commits, model.spec.security.default_secrets[reader.name]


def _drive(connection: ServerConnection, client_sap: int, exchange: Exchange[T]) -> T:
    """Run a client exchange against the server in-process (APDU in, APDU out)."""
    request = next(exchange)
    try:
        while True:
            answer = connection.receive(client_sap, request)
            assert answer is not None
            request = exchange.send(answer)
    except StopIteration as done:
        result: T = done.value
        return result


def _aare(answer: bytes | None) -> Aare:
    assert answer is not None
    aare = decode_apdu(answer)
    assert isinstance(aare, Aare)
    return aare


def _communication_log(meter: Meter) -> list[int]:
    return [
        int(record.values[1])
        for record in meter.recorder.drain()
        if record.profile == "0.0.99.98.8.255"
    ]


def test_an_aarq_the_server_refuses_is_logged_222_and_committed() -> None:
    """Unknown client SAP, a mechanism the association does not use, LLS without a
    password: each is an association refused (222), committed before the AARE exists."""
    meter, device, commits, _ = _meter()
    connection = ServerConnection(device, 1)
    lls_without_password = Aarq(
        application_context_name=ApplicationContext.LOGICAL_NAME,
        acse_authentication=True,
        mechanism_name=AuthenticationMechanism.LOW,
        user_information=InitiateRequest(
            proposed_conformance=DEFAULT_CONFORMANCE, client_max_receive_pdu_size=1024
        ).encode(),
    )
    for client_sap, aarq in (
        (UNKNOWN_SAP, ClientAssociation().aarq()),
        (PUBLIC_SAP, ClientAssociation(password=b"x").aarq()),  # public has no LLS
        (READER_SAP, lls_without_password),
    ):
        answer = connection.receive(client_sap, aarq.encode())
        assert _aare(answer).result == AssociationResult.REJECTED_PERMANENT
    assert _communication_log(meter) == [EventCode.ASSOCIATION_REFUSED] * 3
    assert [c.get(EventCode.ASSOCIATION_REFUSED) for c in commits] == [1, 2, 3]


def test_a_wrong_password_is_an_authentication_failure_not_a_refusal() -> None:
    meter, device, commits, _ = _meter()
    connection = ServerConnection(device, 1)
    answer = connection.receive(READER_SAP, ClientAssociation(password=b"wrong").aarq().encode())
    assert _aare(answer).result == AssociationResult.REJECTED_PERMANENT
    assert _communication_log(meter) == [EventCode.AUTHENTICATION_FAILURE]
    assert commits == [{EventCode.AUTHENTICATION_FAILURE: 1}]


def test_ordinary_associations_reads_and_releases_log_nothing() -> None:
    """A head-end polling every 15 minutes would flood any log: successful associations,
    GETs (the communication log itself included) and releases are no events."""
    meter, device, _, password = _meter()
    connection = ServerConnection(device, 1)
    for _ in range(3):
        for client_sap, client in (
            (PUBLIC_SAP, ClientAssociation()),
            (READER_SAP, ClientAssociation(password=password)),
        ):
            _drive(connection, client_sap, client.associate())
            _drive(connection, client_sap, client.get("0.0.1.0.0.255", 8, 2))
            _drive(connection, client_sap, client.get("1.0.1.8.0.255", 3, 2))
            if client_sap == READER_SAP:
                log = _drive(connection, client_sap, client.get("0.0.99.98.8.255", 7, 2))
                assert not log.as_items()
            _drive(connection, client_sap, client.release())
    _drive(connection, READER_SAP, ClientAssociation(password=password).associate())
    connection.close()  # the connection lost with an association open
    assert meter.event_counts == {}
    assert list(meter.recorder.drain()) == []
