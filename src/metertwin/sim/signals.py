"""Numeric building blocks of the simulated world.

The world is computed in *blocks* of whole local days on a fixed grid (block ``b`` holds
local days ``b * BLOCK_DAYS`` to ``(b + 1) * BLOCK_DAYS - 1``), each seeded by its own
number. A block is always computed the same way whichever request needed it, so values are
a pure function of (parameters, seed, absolute time) and any range can be cut from it. A
block of days rather than one day keeps the per-call overhead of numpy affordable: a year
is 46 blocks, not 365 days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DAY_S = 86_400
DAY_MS = DAY_S * 1000
BLOCK_DAYS = 8
BLOCK_S = BLOCK_DAYS * DAY_S

# Independent random streams: a new component must never shift the numbers of another one,
# so that, e.g., the household load is the same with or without PV for the same seed.
STREAM_LOAD = 1
STREAM_CLOUD = 2
STREAM_NOISE = 3
STREAM_SMOOTH = 4

_BIAS = 1 << 40  # keeps block numbers before 1970 non-negative for SeedSequence
_U64 = (1 << 64) - 1


def block_rng(seed: int, stream: int, block: int) -> np.random.Generator:
    """The generator of one block of days for one stream."""
    return np.random.default_rng([seed, stream, block + _BIAS])


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO32 = float(1 << 32)


def _splitmix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finaliser (Steele, Lea, Flood 2014): a cheap, well-mixed 64-bit hash."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    result: NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return result


def step_noise(seed: int, key: int, index: IntArray, channels: int) -> FloatArray:
    """Zero-mean, unit-variance white noise, shape (len(index), channels), for global step
    numbers ``index``. A counter-based hash: vectorised, and each step's value depends on
    nothing but the step. Triangular rather than Gaussian: jitter does not need tails.
    """
    salt = _splitmix(np.array([(seed * 1_000_003 + key) & _U64], dtype=np.uint64))[0]
    lanes = np.arange(channels, dtype=np.uint64)
    counter = index.astype(np.uint64)[:, None] * np.uint64(channels) + lanes
    h = _splitmix(counter ^ salt)
    hi = (h >> np.uint64(32)).astype(np.float64)
    lo = (h & np.uint64(0xFFFFFFFF)).astype(np.float64)
    result: FloatArray = ((hi + lo + 1.0) / _TWO32 - 1.0) * np.sqrt(6.0)
    return result


@dataclass(frozen=True)
class SmoothNoise:
    """Zero-mean, unit-variance noise that is a continuous function of absolute time.

    A sum of sinusoids with seeded incommensurate periods: no seams between blocks and no
    state carried from one block to the next.
    """

    omega: FloatArray  # rad/s
    phase: FloatArray  # rad
    amplitude: float

    @classmethod
    def make(
        cls, seed: int, key: int, shortest_s: float, longest_s: float, terms: int = 6
    ) -> SmoothNoise:
        rng = np.random.default_rng([seed, STREAM_SMOOTH, key])
        periods = np.geomspace(shortest_s, longest_s, terms) * rng.uniform(0.8, 1.25, terms)
        return cls(
            omega=2.0 * np.pi / periods,
            phase=rng.uniform(0.0, 2.0 * np.pi, terms),
            amplitude=float(np.sqrt(2.0 / terms)),
        )

    def __call__(self, t_s: FloatArray) -> FloatArray:
        # Reduce each argument modulo 2*pi to keep precision at epoch-sized times.
        total = np.zeros_like(t_s)
        for w, p in zip(self.omega, self.phase, strict=True):
            total += np.sin(np.mod(t_s * w, 2.0 * np.pi) + p)
        result: FloatArray = total * self.amplitude
        return result

    def sampled(self, t_s: FloatArray, knot_s: float) -> FloatArray:
        """The noise at knots on a fixed absolute grid, linearly interpolated to ``t_s``:
        far cheaper than every sinusoid at every step, and still a function of time alone
        (knot spacing well below the shortest period)."""
        first = np.floor(t_s[0] / knot_s) * knot_s
        knots = np.arange(first, t_s[-1] + knot_s, knot_s)
        result: FloatArray = np.interp(t_s, knots, self(knots))
        return result


def render_events(
    starts_s: FloatArray,
    ends_s: FloatArray,
    power: FloatArray,
    steps: int,
    step_s: int,
    lane: IntArray | None = None,
    lanes: int = 1,
) -> FloatArray:
    """Mean power of rectangular events over each grid step ``[k*step_s, (k+1)*step_s)``,
    shape (lanes, steps); ``lane`` says which row (e.g. phase) each event feeds.

    Exact for any event length, so a 3-minute kettle keeps its energy even on a 15-minute
    grid: the energy delivered up to grid edge ``g`` is ``g * sum(P) - sum(P * t)`` over the
    event edges ``t`` before it, with the sums binned per grid step (linear time).
    """
    width = steps + 2
    if lane is None:
        lane = np.zeros(len(starts_s), dtype=np.int64)
    edges = np.arange(steps + 1, dtype=np.float64) * step_s
    energy = np.zeros((lanes, steps + 1))
    total = lanes * width
    for at, sign in ((starts_s, 1.0), (ends_s, -1.0)):
        # Index of the first grid edge strictly after each event edge.
        first = np.clip(np.floor(at / step_s).astype(np.int64) + 1, 0, steps + 1)
        bins = lane * width + first
        p_sum = np.bincount(bins, weights=power, minlength=total).reshape(lanes, width)
        pt_sum = np.bincount(bins, weights=power * at, minlength=total).reshape(lanes, width)
        p_cum = np.cumsum(p_sum, axis=1)[:, : steps + 1]
        pt_cum = np.cumsum(pt_sum, axis=1)[:, : steps + 1]
        energy += sign * (edges * p_cum - pt_cum)
    result: FloatArray = np.diff(energy, axis=1) / step_s
    return result


def sample_times(
    rng: np.random.Generator, density: FloatArray, count: int, slot_s: float
) -> FloatArray:
    """``count`` instants drawn from a piecewise-constant density given per slot."""
    if count == 0:
        return np.zeros(0)
    cum = np.cumsum(density)
    u = rng.uniform(0.0, float(cum[-1]), count)
    j = np.minimum(np.searchsorted(cum, u, side="right"), len(density) - 1)
    before = cum[j] - density[j]
    frac = np.clip((u - before) / np.maximum(density[j], 1e-300), 0.0, 1.0)
    result: FloatArray = (j + frac) * slot_s
    return result
