"""The reliability campaign of issue 19 (`make soak`, benchmarks/soak*.py) in a very short
version, so the suite keeps every part of it: a few SIGKILLs during tokens, a few thousand
fuzzed frames per parser, fuzz over TCP, a short flood, a slowloris beside a reader,
connection churn against the evidence, and the storage faults (root only: tmpfs and bind
mounts). Each asserts what the campaign asserts, without its timing goals: nothing lost or
doubled, no crash, the service and the evidence kept."""

from __future__ import annotations

import os

import pytest
from benchmarks import soak_fuzz, soak_kills, soak_network, soak_storage

SEED = 19


def test_a_few_sigkills_during_tokens_lose_and_double_nothing() -> None:
    figures = soak_kills.run(kills=3, seconds=90, seed=SEED)
    assert figures.kills == 3
    assert figures.tokens_acknowledged > 0
    assert (figures.lost, figures.doubled, figures.regressions) == (0, 0, 0)
    assert figures.failures == []


def test_a_few_thousand_fuzzed_frames_per_parser_crash_nothing() -> None:
    """Every parser that takes outside octets, the DLMS server on a real meter core among
    them (which must still advance and restart from its saved state every 400 frames)."""
    results = soak_fuzz.run(frames=4000, seconds=30, seed=SEED)
    assert {r.name: r.frames for r in results} == {r.name: 4000 for r in results}
    assert len(results) == len(soak_fuzz.PARSERS)
    assert {r.name: r.crashes for r in results} == {r.name: [] for r in results}


def test_a_hostile_network_leaves_the_service_and_the_evidence() -> None:
    """Fuzz over TCP then a fresh GET; a flood of partial frames with a legitimate GET during
    it and after; a slowloris on the one connection of metercom-pro giving way to a reader;
    120 refused connects leaving both wrong-secret events in the log."""
    figures = soak_network.NetworkFigures()
    soak_network.fuzz_over_tcp(3000, SEED, figures)
    soak_network.flood(20, figures)
    soak_network.slowloris(figures, until_cut=False)
    soak_network.churn(120, figures)
    assert figures.failures == []
    assert any(line.startswith("churn:") and "2 of the 2" in line for line in figures.lines)


@pytest.mark.skipif(os.geteuid() != 0, reason="tmpfs and bind mounts need root")
def test_a_disk_that_fills_and_a_read_only_memory_lose_nothing_acknowledged() -> None:
    failures, skipped = soak_storage.run()
    assert skipped == []
    assert failures == []
