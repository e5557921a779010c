"""The connection rules every transport shares (transport/channel.py), sans-IO, on an injected
clock: routing by server address, the unknown address and the broadcast, the inactivity and
frame timeouts (seed 004, 3.1 and 4.1), and the admission of newcomers: one connection at a
time, the cap, and which served connection gives way when a newcomer finds every slot taken
(issue 19, the flood that kept a head-end out for a whole frame timeout; docs/dlms.md, "TCP
limits"). The APDU vectors are those of tests/transport/test_tcp.py (protocols.md)."""

from __future__ import annotations

import pytest
from tests.dlms.test_server import PUBLIC_SAP, FakeBackend
from tests.transport.test_tcp import AARE, AARQ, GET_TIME_ZONE, TIME_ZONE

from metertwin.transport.channel import (
    BROADCAST_ADDRESS,
    AdmissionPolicy,
    ChannelOutput,
    ChannelSettings,
    ConnectionEvent,
    ConnectionStanding,
    DlmsChannel,
    choose_eviction,
)

NOT_ASSOCIATED = bytes.fromhex("D80101")  # confirmed-service-error: no association (dlms.md)
OTHER_DEVICE = 17


def backend() -> FakeBackend:
    """The logical device of test_tcp.py, whose AARE the vectors are: the public client
    offered every service implemented."""
    return FakeBackend(public_conformance=FakeBackend().reader_conformance)


def channel(
    settings: ChannelSettings | None = None, now: float = 100.0
) -> tuple[DlmsChannel, FakeBackend, FakeBackend]:
    """A channel serving the management logical device (1) and a second one (17)."""
    management, other = backend(), backend()
    backends = {1: management, OTHER_DEVICE: other}
    return DlmsChannel(backends, settings or ChannelSettings(), now), management, other


def test_each_server_address_has_its_own_logical_device_and_associations() -> None:
    """The wrapper's destination wPort picks the logical device: an association opened on
    one is not open on the other, and each backend hears only its own."""
    link, management, other = channel()
    assert link.receive(PUBLIC_SAP, 1, AARQ, 101.0) == ChannelOutput(AARE, None)
    assert link.receive(PUBLIC_SAP, OTHER_DEVICE, GET_TIME_ZONE, 102.0).answer == NOT_ASSOCIATED
    assert link.receive(PUBLIC_SAP, 1, GET_TIME_ZONE, 103.0) == ChannelOutput(TIME_ZONE, None)
    assert link.receive(PUBLIC_SAP, OTHER_DEVICE, AARQ, 105.0).answer == AARE
    assert (len(management.associated_calls), len(other.associated_calls)) == (1, 1)
    assert link.associated
    link.close()
    assert (len(management.released_calls), len(other.released_calls)) == (1, 1)
    assert not link.associated
    link.close()  # closing twice releases nothing more
    assert len(management.released_calls) == 1


def test_an_unknown_server_address_closes_after_the_frames_before_it() -> None:
    """Issue 11.10: the frames before it are answered; it asks the transport to close and
    report ``CLOSED_UNKNOWN_WPORT`` (the meter logs 222); nothing after it is answered."""
    link, management, _ = channel()
    assert link.receive(PUBLIC_SAP, 1, AARQ, 101.0) == ChannelOutput(AARE, None)
    closing = link.receive(PUBLIC_SAP, 5, AARQ, 101.0)
    assert closing == ChannelOutput(None, ConnectionEvent.CLOSED_UNKNOWN_WPORT)
    assert link.closed_by is ConnectionEvent.CLOSED_UNKNOWN_WPORT
    assert link.receive(PUBLIC_SAP, 1, GET_TIME_ZONE, 101.0) == ChannelOutput(None, None)
    assert management.reads == 0


def test_a_broadcast_is_ignored_without_closing() -> None:
    """No answer is due to the all-station address (protocols.md); the connection goes on."""
    link, management, _ = channel()
    assert link.receive(PUBLIC_SAP, BROADCAST_ADDRESS, AARQ, 101.0) == ChannelOutput(None, None)
    assert link.closed_by is None
    assert management.associated_calls == []
    assert link.receive(PUBLIC_SAP, 1, AARQ, 102.0).answer == AARE


def test_a_served_broadcast_address_is_routed_like_any_other() -> None:
    """127 is ignored only when no logical device is configured there."""
    link = DlmsChannel({BROADCAST_ADDRESS: backend()}, ChannelSettings(), 0.0)
    assert link.receive(PUBLIC_SAP, BROADCAST_ADDRESS, AARQ, 1.0).answer == AARE


def test_inactivity_is_due_exactly_at_the_timeout_after_the_last_whole_frame() -> None:
    """Seed 004: five minutes without data close the session; each whole frame, a broadcast
    included, starts the five minutes again."""
    link, _, _ = channel(ChannelSettings(inactivity_timeout_s=300.0), now=100.0)
    assert link.inactivity_deadline == 400.0
    assert not link.inactivity_due(399.5)
    link.receive(PUBLIC_SAP, BROADCAST_ADDRESS, GET_TIME_ZONE, 250.0)
    assert not link.inactivity_due(400.0)
    assert not link.inactivity_due(549.999)
    assert link.inactivity_due(550.0)


def test_a_frame_without_an_apdu_is_activity() -> None:
    """HDLC over TCP: an SNRM or an RR polling for the next segment keeps the connection."""
    link, _, _ = channel(ChannelSettings(inactivity_timeout_s=10.0), now=100.0)
    assert not link.completed_frame
    link.activity(105.0)
    assert link.completed_frame and link.inactivity_deadline == 115.0
    assert not link.inactivity_due(114.0) and link.inactivity_due(115.0)


def test_releasing_a_logical_device_ends_its_associations_only() -> None:
    """A dropped HDLC link under logical device 1: its association ends, 17's goes on, and
    the next AARQ to 1 opens a new one."""
    link, management, other = channel()
    link.receive(PUBLIC_SAP, 1, AARQ, 101.0)
    link.receive(PUBLIC_SAP, OTHER_DEVICE, AARQ, 102.0)
    link.release(1)
    link.release(1)  # nothing more to release
    assert (len(management.released_calls), len(other.released_calls)) == (1, 0)
    assert link.receive(PUBLIC_SAP, 1, GET_TIME_ZONE, 103.0).answer == NOT_ASSOCIATED
    assert link.receive(PUBLIC_SAP, 1, AARQ, 104.0).answer == AARE
    assert link.receive(PUBLIC_SAP, OTHER_DEVICE, GET_TIME_ZONE, 105.0).answer == TIME_ZONE


def test_no_inactivity_timeout_is_never_due() -> None:
    link, _, _ = channel(ChannelSettings(inactivity_timeout_s=None))
    assert link.inactivity_deadline is None
    assert not link.inactivity_due(1e9)


def test_octets_of_an_incomplete_frame_are_no_activity_and_must_complete_in_time() -> None:
    """Issue 19.6 (slowloris): a frame left incomplete does not postpone the inactivity
    timeout, and is due ``frame_timeout_s`` after its first octet; completing it in time
    clears the deadline."""
    settings = ChannelSettings(inactivity_timeout_s=300.0, frame_timeout_s=30.0)
    link, _, _ = channel(settings, now=0.0)
    assert link.frame_deadline is None
    link.frame_pending(since=10.0)
    assert link.inactivity_deadline == 300.0
    assert link.frame_deadline == 40.0
    assert not link.frame_due(39.9)
    assert link.frame_due(40.0)
    link.receive(PUBLIC_SAP, 1, AARQ, 35.0)
    link.frame_pending(since=None)
    assert not link.frame_due(1000.0)
    assert link.inactivity_deadline == 335.0
    assert link.standing() == ConnectionStanding(
        associated=True, completed_frame=True, connected_at=0.0, last_activity=35.0
    )


def test_without_a_frame_timeout_an_incomplete_frame_waits_for_the_inactivity_timeout() -> None:
    link, _, _ = channel(ChannelSettings(inactivity_timeout_s=300.0, frame_timeout_s=None), 0.0)
    link.frame_pending(since=1.0)
    assert link.frame_deadline is None
    assert not link.frame_due(299.0)
    assert link.inactivity_due(300.0)
    assert link.standing().incomplete_since == 1.0


@pytest.mark.parametrize(
    "arguments",
    [
        {"server_saps": frozenset()},
        {"server_saps": frozenset({70000})},
        {"inactivity_timeout_s": 0},
        {"frame_timeout_s": -1},
        {"max_connections": 0},
    ],
)
def test_settings_are_checked(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ChannelSettings(**arguments)  # type: ignore[arg-type]


def test_one_connection_at_a_time_refuses_a_newcomer_while_a_head_end_is_associated() -> None:
    """Seed 004, 3.1: the first connection goes on, the second is accepted and closed."""
    policy = ChannelSettings(single_connection=True, max_connections=4).admission
    assert policy.limit == 1
    assert policy.admit({}).admitted
    head_end = {"head-end": standing(associated=True, completed_frame=True)}
    admission = policy.admit(head_end)
    assert not admission.admitted
    assert admission.evict is None
    assert admission.refusal is ConnectionEvent.REFUSED_ONE_AT_A_TIME


def test_a_newcomer_takes_the_slot_of_a_connection_doing_nothing() -> None:
    policy = AdmissionPolicy(single_connection=True)
    admission = policy.admit({"silent": standing(connected_at=1.0)})
    assert (admission.admitted, admission.evict, admission.refusal) == (True, "silent", None)


def test_beyond_the_cap_of_associated_connections_a_newcomer_is_refused_as_too_many() -> None:
    policy = AdmissionPolicy(max_connections=2)
    one = {"a": standing(associated=True, completed_frame=True)}
    assert policy.admit(one).evict is None
    assert policy.admit(one).admitted
    two = one | {"b": standing(associated=True, completed_frame=True)}
    assert policy.admit(two).refusal is ConnectionEvent.REFUSED_TOO_MANY
    three = two | {"c": standing(completed_frame=True, incomplete_since=5.0)}
    assert policy.admit(three).evict == "c"


def test_the_standing_of_a_channel_is_what_eviction_weighs() -> None:
    """A connection that never completed a frame gives way before one that is associated."""
    silent, _, _ = channel(now=1.0)
    head_end, _, _ = channel(now=0.0)
    head_end.receive(PUBLIC_SAP, 1, AARQ, 2.0)
    served = {"head-end": head_end.standing(), "silent": silent.standing()}
    assert AdmissionPolicy(single_connection=True).admit(served).evict == "silent"


def standing(
    associated: bool = False,
    completed_frame: bool = False,
    connected_at: float = 0.0,
    incomplete_since: float | None = None,
    last_activity: float | None = None,
) -> ConnectionStanding:
    return ConnectionStanding(
        associated, completed_frame, connected_at, incomplete_since, last_activity
    )


def test_an_open_association_is_never_chosen() -> None:
    """Seed 004's one connection stays meaningful: a head-end whose association is open
    keeps its slot even while its frame is incomplete (a long request arriving) or it has
    sent nothing since."""
    served = {
        "reading": standing(associated=True, completed_frame=True, incomplete_since=1.0),
        "idle": standing(associated=True, completed_frame=True),
    }
    assert choose_eviction(served) is None


def test_a_connection_that_completed_frames_and_holds_none_goes_last() -> None:
    """A client between two associations (released, nothing pending), or an attacker that
    sent one whole frame (a broadcast, say) and then nothing, holds no association: it gives
    way after every idle-incomplete one, the one idle longest first. Otherwise one frame per
    connection would keep every slot, seed 004's one included, until the inactivity timeout."""
    served = {
        "recently active": standing(completed_frame=True, connected_at=0.0, last_activity=9.0),
        "idle longest": standing(completed_frame=True, connected_at=1.0, last_activity=2.0),
        "associated": standing(associated=True, completed_frame=True, last_activity=0.0),
    }
    assert choose_eviction(served) == "idle longest"
    served["stalled frame"] = standing(completed_frame=True, connected_at=5.0, incomplete_since=8.0)
    assert choose_eviction(served) == "stalled frame"


def test_the_incomplete_frame_stalled_longest_goes_first() -> None:
    served = {
        "associated": standing(associated=True, completed_frame=True, connected_at=0.0),
        "recent": standing(completed_frame=True, connected_at=1.0, incomplete_since=9.0),
        "oldest frame": standing(completed_frame=True, connected_at=5.0, incomplete_since=6.0),
        "between": standing(completed_frame=True, connected_at=2.0),
    }
    assert choose_eviction(served) == "oldest frame"


def test_connections_that_never_completed_a_frame_go_before_the_others() -> None:
    """A connection that never sent a whole frame has shown nothing the meter can serve; it
    gives way before one that was served and now leaves a frame incomplete, however old
    that frame, and among such connections the one connected longest goes first (its
    pending octets, if any, came after it connected)."""
    served = {
        "served, stalled long": standing(completed_frame=True, incomplete_since=0.5),
        "silent": standing(connected_at=3.0),
        "partial header": standing(connected_at=2.0, incomplete_since=8.0),
    }
    assert choose_eviction(served) == "partial header"
    del served["partial header"]
    assert choose_eviction(served) == "silent"
    del served["silent"]
    assert choose_eviction(served) == "served, stalled long"


def test_ties_go_to_the_first_in_the_order_given() -> None:
    """uvloop's clock ticks in milliseconds: connections accepted within one tick tie, and
    the server lists its connections in the order accepted, so the earliest goes."""
    served = {name: standing(connected_at=1.0, incomplete_since=1.0) for name in "abc"}
    assert choose_eviction(served) == "a"
