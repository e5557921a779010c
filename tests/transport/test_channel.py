"""Which served connection gives way when a newcomer finds every slot taken (issue 19, the
flood that kept a head-end out for a whole frame timeout; docs/dlms.md, "TCP limits"), sans-IO:
:func:`choose_eviction` over the standings the TCP server reports of its connections."""

from __future__ import annotations

from metertwin.transport.channel import ConnectionStanding, choose_eviction


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
