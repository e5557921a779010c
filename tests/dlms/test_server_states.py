"""The association state machine of ``ServerConnection`` (issue 12, "First, the layers"):
idle, AARQ received, HLS pass 3 pending, associated, released, with its transitions named in
one table. The exchanges themselves are checked in ``test_server.py``; these tests check that
the state each exchange leaves behind is the one the table names."""

from __future__ import annotations

import pytest
from tests.dlms.test_server import (
    READER_SAP,
    SERVER_SAP,
    UNKNOWN_SAP,
    FakeBackend,
    aarq,
    connect,
    initiate,
)

from metertwin.codec.enums import AuthenticationMechanism
from metertwin.dlms.server.connection import (
    TRANSITIONS,
    AssociationEvent,
    AssociationState,
    ServerConnection,
    _Association,
)

H = bytes.fromhex
RLRQ = H("6203800100")  # reference/dlms.md 5 (DC test_rlrq.py)


def test_every_state_but_released_is_left_by_some_event() -> None:
    sources = {source for source, _ in TRANSITIONS}
    assert sources == set(AssociationState) - {AssociationState.RELEASED}
    assert TRANSITIONS[AssociationState.HLS_PENDING, AssociationEvent.PROOF_FAILED] is (
        AssociationState.IDLE
    )


def test_a_transition_not_in_the_table_is_refused() -> None:
    association = _Association(READER_SAP)
    with pytest.raises(RuntimeError):
        association.move(AssociationEvent.ACCEPTED)  # idle cannot be accepted without an AARQ
    assert association.state is AssociationState.IDLE


def test_accepted_aarq_associates_and_rlrq_returns_to_idle() -> None:
    connection, _ = connect()
    assert connection.state(READER_SAP) is AssociationState.ASSOCIATED
    assert connection.is_associated(READER_SAP)
    assert connection.receive(READER_SAP, RLRQ) == H("6303800100")
    assert connection.state(READER_SAP) is AssociationState.IDLE
    assert not connection.associations


def test_refused_aarq_leaves_the_client_idle() -> None:
    connection = ServerConnection(FakeBackend(), SERVER_SAP)
    connection.receive(READER_SAP, aarq(AuthenticationMechanism.LOW, b"wrong", initiate()))
    assert connection.state(READER_SAP) is AssociationState.IDLE
    connection.receive(UNKNOWN_SAP, aarq(user_information=initiate()))
    assert connection.state(UNKNOWN_SAP) is AssociationState.IDLE


def test_a_refused_reassociation_ends_the_old_association() -> None:
    connection, backend = connect()
    connection.receive(READER_SAP, aarq(AuthenticationMechanism.LOW, b"wrong", initiate()))
    assert connection.state(READER_SAP) is AssociationState.IDLE
    assert len(backend.released_calls) == 1


def test_close_releases_every_association() -> None:
    connection, backend = connect()
    connection.close()
    assert connection.state(READER_SAP) is AssociationState.IDLE
    assert len(backend.released_calls) == 1
