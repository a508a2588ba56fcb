"""Tones above the grid's band, in random samples, found coarse to fine.

Random samples do not alias, so a tone far above their mean rate's Nyquist frequency is still
there to be found, up to the limit their gaps set (``bench.lib.sampling.search_limit``). A grid
fine enough to reach it over every sample would be far too large; :func:`high_band_peaks`
scans a short run of samples over the whole band instead, then zooms on each candidate with all
samples. Part of ``bench.lib.dsp``, which re-exports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.lib.grid import FloatArray, spectrum, spread_samples, tent_gain
from bench.lib.peaks import detection_threshold, find_peaks, jacobsen

__all__ = ["MAX_SCAN_CELLS", "WINDOW", "Peak", "high_band_peaks"]

#: Consecutive samples in the coarse scan's window (its periodogram's noise floor is about
#: ``1 / WINDOW`` of a tone's peak, so a tone clears a 1e-6 false-alarm test by far).
WINDOW = 4096
#: Largest grid the coarse scan builds; a wider band shrinks the window instead.
MAX_SCAN_CELLS = 2**22


@dataclass(frozen=True)
class Peak:
    """A tone found by :func:`high_band_peaks`: angular frequency and amplitude estimate."""

    freq: float
    amplitude: float


def high_band_peaks(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    w_lo: float,
    w_hi: float,
    *,
    false_alarm: float = 1e-6,
    max_peaks: int = 4,
    window: int = WINDOW,
    x_sorted: FloatArray | None = None,
) -> list[Peak]:
    """Significant tones between ``w_lo`` and ``w_hi`` in random samples, coarse to fine.

    1. **Coarse**: the ``window`` samples around the median input span ``l`` (a fraction of the
       whole span ``L``), spread on a grid of two cells per half period of ``w_hi``
       (:func:`spread_samples`); their periodogram over the whole band has bins ``2 pi / l``
       apart. Peaks must clear the false-alarm threshold of that band
       (:func:`detection_threshold`).
    2. **Fine**: each peak is shifted to zero on all samples (``y exp(-i w_c x)``) and the few
       coarse bins around it are resolved by one small complex FFT over the whole span, bins
       ``2 pi / L`` apart, interpolated by :func:`jacobsen`: well inside the basin of a
       least-squares refinement.

    Cost: one FFT of at most ``MAX_SCAN_CELLS`` points, whatever the sample count, plus one
    pass over the samples per peak. ``x_sorted`` (``x`` sorted, if the caller has it) finds the
    window's samples by one comparison pass instead of a partial sort. The amplitude is
    ``2 |sum y exp(-i w x)| / n``, comparable with a grid spectrum's ``2 |X_k| / n``.
    """
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    if xv.size < 16 or not w_hi > w_lo or not math.isfinite(w_hi):
        return []
    scan = _scan_window(xv, yv, w_hi, int(window), x_sorted)
    if scan is None:
        return []
    xs, ys, want = scan
    cells = int(min(MAX_SCAN_CELLS, 1 << (max(int(math.ceil(want)), 2) - 1).bit_length()))
    grid = spread_samples(xs, ys - ys.mean(), cells)
    freqs, spec = spectrum(grid, single=True)  # random samples (each peak is zoomed in float64)
    bin_w = 2.0 * math.pi / grid.span
    k_lo = max(int(math.ceil(w_lo / bin_w)), 1)
    k_hi = min(int(math.floor(w_hi / bin_w)), spec.size - 2)
    if k_hi - k_lo < 2:
        return []
    # The kernel's gain divided out: tones and the floor alike, so the band's floor is flat.
    power = np.abs(spec) ** 2 / tent_gain(freqs, grid.step) ** 2
    thr = detection_threshold(power[k_lo : k_hi + 1], false_alarm)
    peaks = find_peaks(power, k_lo, k_hi, threshold=thr, max_peaks=max_peaks)
    out = []
    for k in peaks:
        w_c = float(freqs[k] + jacobsen(spec, int(k)) * bin_w)
        out.append(_zoom(xv, yv, w_c, 2.0 * bin_w))
    return sorted(out, key=lambda p: -p.amplitude)


def _scan_window(
    xv: FloatArray, yv: FloatArray, w_hi: float, window: int, x_sorted: FloatArray | None
) -> tuple[FloatArray, FloatArray, float] | None:
    """The coarse scan's samples: the ``window`` inputs around the median, in order, with their
    values, and the grid size they want (two cells per half period of ``w_hi``, for the tent
    kernel). A band too wide for ``MAX_SCAN_CELLS`` halves the window (coarser bins, a smaller
    grid) down to 256 samples. ``None`` when the window's inputs are all equal."""
    n = xv.size
    m = min(n, window)
    while True:
        start = (n - m) // 2
        if x_sorted is not None:  # ties at the edges may bring a few more
            edges = x_sorted[start], x_sorted[start + m - 1]
            part = np.flatnonzero((xv >= edges[0]) & (xv <= edges[1]))
        else:
            part = np.argpartition(xv, [start, start + m - 1])[start : start + m]
        part = part[np.argsort(xv[part], kind="stable")]  # the m inputs around the median
        xs, ys = xv[part], yv[part]
        span = float(xs[-1] - xs[0])
        if span <= 0:
            return None
        want = 2.0 * w_hi * span / math.pi  # two cells per half period of w_hi (tent kernel)
        if want <= MAX_SCAN_CELLS or m <= 256:
            return xs, ys, want
        m //= 2  # a wider band than one grid holds: a shorter window, coarser bins


def _zoom(x: FloatArray, y: FloatArray, w_c: float, half: float) -> Peak:
    """The strongest tone within ``half`` of ``w_c``, at the whole span's resolution."""
    mid = 0.5 * (float(x.min()) + float(x.max()))
    z = (y - y.mean()) * np.exp(-1j * w_c * (x - mid))  # the band around w_c, moved to zero
    span = float(x.max() - x.min())
    cells = 1 << max(int(math.ceil(8.0 * half * span / math.pi)), 64).bit_length()
    step = span / (cells - 1)
    idx = np.clip(np.rint((x - x.min()) / step).astype(np.int64), 0, cells - 1)
    sums = np.bincount(idx, weights=z.real, minlength=cells) + 1j * np.bincount(
        idx, weights=z.imag, minlength=cells
    )
    # X(d) = sum z exp(-i d (x - x.min())): the spectrum of the shifted band, d near zero.
    spec = np.fft.fftshift(np.fft.fft(sums))
    d = 2.0 * np.pi * np.fft.fftshift(np.fft.fftfreq(cells, d=step))
    inside = np.flatnonzero(np.abs(d) <= half)
    k = int(inside[np.argmax(np.abs(spec[inside]))])
    k = min(max(k, 1), cells - 2)
    dw = float(d[k] + jacobsen(spec, k) * (d[1] - d[0]))
    w = w_c + dw
    amp = 2.0 * abs(complex(np.sum(y * np.exp(-1j * w * (x - mid))))) / x.size
    return Peak(freq=w, amplitude=amp)
