"""Harmonics and interharmonics per IEC 61000-4-7 on the 10/12-cycle window.

The DFT of a 200 ms rectangular window gives lines ``C_k`` every 5 Hz; harmonic order ``n``
sits on line ``k = n * N`` with ``N`` = 10 (50 Hz) or 12 (60 Hz) cycles per window. The
groupings (all on squared RMS values):

- harmonic group ``G_g,n``: the lines from ``k - N/2`` to ``k + N/2``, the two end lines
  (shared with the neighbouring groups) counted half;
- harmonic subgroup ``G_sg,n``: lines ``k - 1 .. k + 1``;
- interharmonic group ``C_ig,n`` (between orders n and n+1): lines ``k + 1 .. k + N - 1``;
- interharmonic centred subgroup ``C_isg,n``: lines ``k + 2 .. k + N - 2``.

THD: ``thd_subgroup`` is THDS (subgroups of orders 2..50 over the fundamental's subgroup),
the definition IEC 61000-4-30 class A uses and the one a register reports; ``thd_group`` is
THDG on groups. Both are ratios (0.05 is 5 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from metertwin.power_quality.windows import FloatArray, WindowGrid, frames

MAX_ORDER = 50
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class _Groupings:
    """Line offsets (from a harmonic's line) of the four groupings, for N lines per order."""

    group: IntArray
    group_weights: FloatArray
    subgroup: IntArray
    interharmonic_group: IntArray
    interharmonic_subgroup: IntArray
    harmonic_lines: IntArray

    @classmethod
    def for_cycles(cls, cycles: int) -> _Groupings:
        half = cycles // 2
        weights = np.ones(cycles + 1)
        weights[[0, -1]] = 0.5  # the end lines are shared with the neighbouring groups
        return cls(
            group=np.arange(-half, half + 1),
            group_weights=weights,
            subgroup=np.arange(-1, 2),
            interharmonic_group=np.arange(1, cycles),
            interharmonic_subgroup=np.arange(2, cycles - 1),
            harmonic_lines=np.arange(1, MAX_ORDER + 1) * cycles,
        )


@dataclass(frozen=True)
class HarmonicAnalysis:
    """The spectra of every window of one or more channels: ``lines[..., window, k]`` in RMS
    units of the input (V or A), line ``k`` at ``k * 5`` Hz."""

    lines: FloatArray
    cycles_per_window: int

    def _sum_squares(
        self, centres: IntArray, offsets: IntArray, weights: FloatArray | None = None
    ) -> FloatArray:
        squares = self.lines**2
        picked = squares[..., centres[:, None] + offsets[None, :]]
        summed = picked.sum(axis=-1) if weights is None else picked @ weights
        return np.sqrt(summed)

    def harmonic(self, order: int) -> FloatArray:
        """The single DFT line of a harmonic order (0 is DC), ``[..., window]``."""
        return self.lines[..., order * self.cycles_per_window]

    @property
    def _groupings(self) -> _Groupings:
        return _Groupings.for_cycles(self.cycles_per_window)

    def groups(self) -> FloatArray:
        """``G_g,n`` for n = 1..50, ``[..., window, 50]`` (index 0 is order 1)."""
        grouping = self._groupings
        return self._sum_squares(grouping.harmonic_lines, grouping.group, grouping.group_weights)

    def subgroups(self) -> FloatArray:
        """``G_sg,n`` for n = 1..50, ``[..., window, 50]``."""
        grouping = self._groupings
        return self._sum_squares(grouping.harmonic_lines, grouping.subgroup)

    def interharmonic_groups(self) -> FloatArray:
        """``C_ig,n`` between orders n and n+1 for n = 0..49, ``[..., window, 50]``."""
        grouping = self._groupings
        below = grouping.harmonic_lines - self.cycles_per_window
        return self._sum_squares(below, grouping.interharmonic_group)

    def interharmonic_subgroups(self) -> FloatArray:
        """``C_isg,n`` centred between orders n and n+1 for n = 0..49, ``[..., window, 50]``."""
        grouping = self._groupings
        below = grouping.harmonic_lines - self.cycles_per_window
        return self._sum_squares(below, grouping.interharmonic_subgroup)

    def thd_subgroup(self) -> FloatArray:
        """THDS: sqrt(sum of G_sg,n^2, n = 2..50) / G_sg,1, ``[..., window]``."""
        return _ratio_of_rest(self.subgroups())

    def thd_group(self) -> FloatArray:
        """THDG: sqrt(sum of G_g,n^2, n = 2..50) / G_g,1, ``[..., window]``."""
        return _ratio_of_rest(self.groups())


def _ratio_of_rest(orders: FloatArray) -> FloatArray:
    fundamental = orders[..., 0]
    rest = np.sqrt(np.einsum("...i,...i->...", orders[..., 1:], orders[..., 1:]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fundamental > 0, rest / fundamental, np.nan)


def analyse(samples: FloatArray, grid: WindowGrid) -> HarmonicAnalysis:
    """The DFT of every whole 10/12-cycle window of ``samples[..., n]``; channels may be
    stacked in leading axes (3 U + 3 I in one call)."""
    length = grid.samples_per_window
    needed = (MAX_ORDER + 1) * grid.cycles_per_window
    if length // 2 < needed:
        raise ValueError(
            f"sample_rate_hz: {grid.sample_rate_hz!r} is too low for the interharmonics "
            f"above order {MAX_ORDER}"
        )
    spectrum = np.fft.rfft(frames(samples, length), axis=-1)[..., : needed + 1]
    lines = np.abs(spectrum) * (np.sqrt(2) / length)
    lines[..., 0] /= np.sqrt(2)  # DC: its value, not a sinusoid's RMS
    return HarmonicAnalysis(lines, grid.cycles_per_window)
