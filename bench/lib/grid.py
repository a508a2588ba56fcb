"""Samples at arbitrary positions put on a uniform grid, and the grid's spectrum.

Summing samples into cells is a type-1 non-uniform DFT with a box kernel: it moves each sample
by at most half a cell, which blurs the spectrum's amplitude a little but does not move its
peaks, so one FFT of the cells (:func:`spectrum`) stands in for a non-uniform transform.
:func:`bin_samples` does that, :func:`spread_samples` the same with a tent kernel (whose gain
:func:`tent_gain` divides out), :func:`choose_cells` sizes the grid and :func:`mean_grid` turns
sums into a signal for transforms that need one. Part of ``bench.lib.dsp``, which re-exports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft
import torch

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

__all__ = [
    "ComplexArray",
    "FloatArray",
    "Grid",
    "bin_samples",
    "choose_cells",
    "mean_grid",
    "spectrum",
    "spread_samples",
    "tent_gain",
]


@dataclass(frozen=True)
class Grid:
    """Samples accumulated on a uniform grid of cell centres ``origin + i * step``.

    ``sums`` holds the sum of the samples' values in each cell and ``counts`` how many fell
    there (``None`` where the caller did not ask: a spectrum needs only the sums). The DFT of
    ``sums`` approximates ``sum_j y_j exp(-i w (x_j - origin))``.
    """

    sums: FloatArray
    counts: npt.NDArray[np.int64] | None
    origin: float
    step: float

    @property
    def n(self) -> int:
        return int(self.sums.size)

    @property
    def span(self) -> float:
        """Length the DFT treats as one period: ``n * step`` (bins are ``2 pi / span`` apart)."""
        return self.n * self.step


def choose_cells(
    n_samples: int,
    span: float | None = None,
    interval: float | None = None,
    *,
    oversample: int = 8,
    min_cells: int = 2**16,
    max_cells: int = 2**20,
) -> int:
    """A power-of-two grid size for ``n_samples`` samples spanning ``span``.

    Regular samples (``interval`` known) need four cells per interval: nothing above their
    Nyquist frequency can be told from its alias anyway. Random samples have no Nyquist limit,
    so the grid, not the sample count, caps the highest frequency found (``pi * cells / span``);
    at least ``min_cells`` (2^16: 100 rad per unit over a span of 2000) and ``oversample``
    cells per sample keep the binning's phase error small well above the samples' mean rate.
    Capped so that one FFT stays in the tens of milliseconds.
    """
    if interval is not None and span is not None and interval > 0:
        want = int(math.ceil(4.0 * span / interval)) + 1
        lo = 2
    else:
        want = max(min_cells, oversample * max(int(n_samples), 1))
        lo = min_cells
    return int(min(max_cells, max(lo, 1 << (max(want, 2) - 1).bit_length())))


def bin_samples(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    n_cells: int,
    lo: float | None = None,
    hi: float | None = None,
    counts: bool = True,
) -> Grid:
    """Sum samples into ``n_cells`` cells whose centres run from ``lo`` to ``hi``.

    Each sample goes to its nearest cell centre, so positions move by at most ``step / 2``
    and without bias (rounding down would shift every phase). ``lo``/``hi`` default to the
    data's range. ``counts=False`` skips counting the samples per cell (as long again as the
    sums, on a million samples) where only the sums are used.
    """
    if n_cells < 2:
        raise ValueError("n_cells must be at least 2")
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    lo = float(xv.min()) if lo is None else float(lo)
    hi = float(xv.max()) if hi is None else float(hi)
    step = (hi - lo) / (n_cells - 1) if hi > lo else 1.0
    idx = np.rint((xv - lo) / step).astype(np.int64)
    np.clip(idx, 0, n_cells - 1, out=idx)
    sums = np.bincount(idx, weights=yv, minlength=n_cells)
    per_cell = np.bincount(idx, minlength=n_cells) if counts else None
    return Grid(sums=sums, counts=per_cell, origin=lo, step=step)


def spread_samples(x: npt.ArrayLike, y: npt.ArrayLike, n_cells: int) -> Grid:
    """Split each sample between its two neighbouring cell centres, linearly (a tent kernel),
    over the data's range (``counts`` is not kept).

    On average over where a sample falls between two centres, the DFT of the cells then sees a
    tone at ``w`` with the deterministic gain ``sinc^2(w step / 2)`` (:func:`tent_gain`), and
    the part that varies with the position is small: at two cells per half period of ``w``
    (``w step = pi / 2``), 1% of the tone's power is scattered, against 5% for nearest-cell
    binning at twice the cells. A scan can so use half the cells of :func:`bin_samples`.
    """
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    lo, hi = float(xv.min()), float(xv.max())
    step = (hi - lo) / (n_cells - 1) if hi > lo else 1.0
    t = (xv - lo) / step
    left = np.clip(np.floor(t).astype(np.int64), 0, n_cells - 2)
    frac = t - left
    sums = np.bincount(left, weights=yv * (1.0 - frac), minlength=n_cells)
    sums += np.bincount(left + 1, weights=yv * frac, minlength=n_cells)
    return Grid(sums=sums, counts=None, origin=lo, step=step)


def tent_gain(freqs: FloatArray, step: float) -> FloatArray:
    """The mean gain ``sinc^2(w step / 2)`` of :func:`spread_samples` at angular ``freqs``
    (torch's ``sinc``: numpy's takes five times longer on a million frequencies)."""
    arg = torch.from_numpy(np.asarray(freqs, dtype=np.float64) * (step / (2.0 * np.pi)))
    return (torch.special.sinc(arg) ** 2).numpy()


def mean_grid(grid: Grid) -> FloatArray:
    """Per-cell mean, with empty cells filled by linear interpolation between their neighbours.

    Transforms that need a signal rather than a sum of impulses (a wavelet transform, say)
    use this; empty cells would otherwise read as zeros and add broadband noise.
    """
    if grid.counts is None:
        raise ValueError("mean_grid needs the counts: bin_samples(..., counts=True)")
    full = grid.counts > 0
    if not np.any(full):
        return np.zeros(grid.n)
    means = np.zeros(grid.n)
    means[full] = grid.sums[full] / grid.counts[full]
    if np.all(full):
        return means
    pos = np.flatnonzero(full)
    return np.interp(np.arange(grid.n), pos, means[pos])


def spectrum(grid: Grid, pad: int = 1, single: bool = False) -> tuple[FloatArray, ComplexArray]:
    """One-sided DFT of a grid's sums, zero-padded ``pad`` times, with its angular frequencies.

    With ``pad = 1`` the bins are ``2 pi / span`` apart and the interpolation estimators below
    apply; ``pad = p`` samples the same spectrum ``p`` times more finely (a periodogram grid).

    ``single`` computes it in single precision, about 2.5 times faster. Use it for randomly
    placed samples only: their positions alone leave a floor under every bin of about the
    root-sum-square of the values (a bin sums ``exp(-i w x_j)`` at random phases), and the
    round-off of a float32 FFT is below a millionth of that floor, so no peak, threshold or
    interpolation it feeds changes. Regular samples have no such floor (a noiseless tone on a
    grid leaves bins at round-off), so they keep double precision.
    """
    m = grid.n * int(pad)
    sums = grid.sums.astype(np.float32) if single else grid.sums
    spec = scipy.fft.rfft(sums, n=m)
    freqs = 2.0 * np.pi * np.arange(spec.size) / (m * grid.step)
    return freqs, spec
