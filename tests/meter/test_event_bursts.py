"""Noise cannot erase evidence (issue 19, item 5; docs/events.md): refused connections
(223) flooding the communication log leave every wrong secret (220) in it, repeated events
in a burst are one entry with a count, and the counters count every event."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import utc_ms

from metertwin.meter.core import Meter
from metertwin.meter.event_logs import NOISE_EVENTS
from metertwin.meter.events import EventCode
from metertwin.models import load_model
from metertwin.models.profile_objects import MemoryProfiles

LOG = "0.0.99.98.8.255"
MINUTE = 60_000
START = utc_ms(2026, 6, 1, 8)


def test_110_refused_connections_leave_every_wrong_secret_and_count_exactly() -> None:
    meter = Meter(load_model("pmm1220").spec, START)
    profiles = MemoryProfiles(meter)
    meter.log_event(EventCode.AUTHENTICATION_FAILURE, START)
    meter.log_event(EventCode.AUTHENTICATION_FAILURE, START + MINUTE)
    for i in range(110):  # each beyond the burst window of the one before: its own entry
        meter.log_event(EventCode.CONNECTION_REFUSED, START + (2 + 16 * i) * MINUTE)
    entries = profiles.profile_entries(LOG, 1, 100)
    assert [r.values[1] for r in entries[:2]] == [220, 220]
    assert len(entries) == 100
    assert meter.event_counts == {220: 2, 223: 110}


def test_a_burst_is_one_entry_with_its_count() -> None:
    meter = Meter(load_model("pmm1220").spec, START)
    profiles = MemoryProfiles(meter)
    for i in range(110):
        meter.log_event(EventCode.CONNECTION_REFUSED, START + i * 1000)
    assert [r.values for r in profiles.profile_entries(LOG, 1, 100)] == [(0, 223, 110)]


EVENTS = st.lists(
    st.tuples(
        st.sampled_from([220, 221, 222, 223, 224, 223, 223]),
        st.sampled_from([0, MINUTE, 20 * MINUTE]),
    ),
    max_size=400,
)


@given(EVENTS)
@settings(max_examples=60, deadline=None)
def test_noise_never_evicts_evidence_and_counters_are_exact(
    events: list[tuple[int, int]],
) -> None:
    meter = Meter(load_model("pmm1220").spec, START)
    profiles = MemoryProfiles(meter)
    stamp = START
    evidence: list[tuple[int, int]] = []
    for code, gap in events:
        stamp += gap
        meter.log_event(EventCode(code), stamp)
        if code == 220:
            evidence.append((stamp, code))
    entries = profiles.profile_entries(LOG, 1, 100)
    assert len(entries) <= 100
    kept = [(r.meter_ms, r.values[1]) for r in entries if r.values[1] == 220]
    evidence_entries = sum(1 for r in entries if r.values[1] not in NOISE_EVENTS)
    if evidence_entries < 100:  # no evidence was pushed out by more evidence
        assert kept == evidence
    for code in {c for c, _ in events}:
        assert meter.event_counts[code] == sum(1 for c, _ in events if c == code)
        assert sum(r.values[2] for r in entries if r.values[1] == code) <= meter.event_counts[code]
