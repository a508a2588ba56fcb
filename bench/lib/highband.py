"""Tones above the grid's band, in random samples, found coarse to fine.

Random samples do not alias, so a tone far above their mean rate's Nyquist frequency is still
there to be found, up to the limit of what a search of bounded cost can test
(``bench.lib.sampling.search_limit``). A grid fine enough to reach it over every sample would be
far too large; :func:`high_band_peaks` scans the band octave by octave instead, each octave on
a run of consecutive samples as long as one grid of ``SCAN_CELLS`` cells holds at its top
frequency, then zooms on each candidate with all samples. Part of ``bench.lib.dsp``, which
re-exports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.lib.grid import FloatArray, spectrum, spread_samples, tent_gain
from bench.lib.peaks import detection_threshold, find_peaks, jacobsen
from bench.lib.sampling import SCAN_CELLS

__all__ = ["MAX_SCAN_CELLS", "SCAN_CELLS", "WINDOW", "Peak", "high_band_peaks"]

#: Before 0.4.0 the scan's one window of consecutive samples; the octaves' windows are now
#: sized by ``SCAN_CELLS`` (kept for plugins that read it).
WINDOW = 4096
#: The cells of one octave's grid (``bench.lib.sampling.SCAN_CELLS``; the former name).
MAX_SCAN_CELLS = SCAN_CELLS


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
    window: int | None = None,
    x_sorted: FloatArray | None = None,
    cells: int = SCAN_CELLS,
) -> list[Peak]:
    """Significant tones between ``w_lo`` and ``w_hi`` in random samples, coarse to fine.

    1. **Coarse**, one octave ``[a, 2a]`` at a time from ``w_lo``: the densest run of
       consecutive samples whose span ``l`` puts two cells per half period of ``2a`` on a grid
       of ``cells`` cells (all samples where they fit, at most ``window``; as many as the
       mean density allows, fewer where the run is sparser), spread on that grid
       (:func:`spread_samples`); its periodogram over the octave has bins ``2 pi / l`` apart.
       Peaks must clear the false-alarm threshold of the octave's bins at ``false_alarm``
       shared among the octaves. Up the band the run halves with each octave: every octave
       costs one FFT of ``cells``, and a tone as strong as the noise is found about half the
       time at ``bench.lib.sampling.scan_limit``, nearly always an octave below.
    2. **Fine**: each peak is shifted to zero on all samples (``y exp(-i w_c x)``) and the few
       coarse bins around it are resolved by one small complex FFT over the whole span, bins
       ``2 pi / L`` apart, interpolated by :func:`jacobsen`: well inside the basin of a
       least-squares refinement.

    ``x_sorted`` (``x`` sorted, if the caller has it) finds each run of samples by one
    comparison pass instead of a partial sort. The amplitude is ``2 |sum y exp(-i w x)| / n``,
    comparable with a grid spectrum's ``2 |X_k| / n``.
    """
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    if xv.size < 16 or not w_hi > w_lo or not math.isfinite(w_hi):
        return []
    xs_all = np.sort(xv) if x_sorted is None else x_sorted
    span = float(xs_all[-1] - xs_all[0])
    if not span > 0:
        return []
    w_lo = max(float(w_lo), 2.0 * math.pi / span)  # the first bin of the whole span
    n_oct = max(1, int(math.ceil(math.log2(w_hi / w_lo))))
    per_octave = false_alarm / n_oct
    limit = xv.size if window is None else min(int(window), xv.size)
    found: list[tuple[float, float]] = []  # (frequency, coarse power over the octave's threshold)
    a = w_lo
    for _ in range(n_oct):
        b = min(2.0 * a, w_hi)
        m = int(min(limit, cells * math.pi * xv.size / (2.0 * b * span)))
        found += _octave(xv, yv, xs_all, a, b, max(m, 16), cells, per_octave, max_peaks)
        a = b
    found.sort(key=lambda f: -f[1])
    out = [_zoom(xv, yv, w_c, half) for w_c, _, half in found[:max_peaks]]
    return sorted(out, key=lambda p: -p.amplitude)


def _octave(
    xv: FloatArray,
    yv: FloatArray,
    xs_all: FloatArray,
    a: float,
    b: float,
    m: int,
    cells: int,
    false_alarm: float,
    max_peaks: int,
) -> list[tuple[float, float, float]]:
    """The significant peaks between ``a`` and ``b`` in the periodogram of a run of ``m``
    consecutive samples (:func:`_run`), fewer where even the densest run of ``m`` spans more
    than ``cells`` hold at ``b``: (frequency, power over the threshold, half-width to zoom)."""
    while True:  # the run's own span, not the mean density, decides whether its grid fits
        xs, ys = _run(xv, yv, xs_all, m)
        l_run = float(xs[-1] - xs[0])
        if not l_run > 0:
            return []
        want = 2.0 * b * l_run / math.pi  # two cells per half period of b (tent kernel)
        if want <= cells or m <= 16:
            break
        m = max(16, min(m - 1, int(m * cells / want)))  # sparser here than on average
    if want > cells:  # even 16 samples span more than the grid holds at b: cover what it can
        b = cells * math.pi / (2.0 * l_run)
        if not b > a:
            return []
    n_cells = int(min(cells, 1 << (max(int(math.ceil(want)), 2) - 1).bit_length()))
    grid = spread_samples(xs, ys - ys.mean(), n_cells)
    freqs, spec = spectrum(grid, single=True)  # random samples (each peak is zoomed in float64)
    bin_w = 2.0 * math.pi / grid.span
    k_lo = max(int(math.ceil(a / bin_w)), 1)
    k_hi = min(int(math.floor(b / bin_w)), spec.size - 2)
    if k_hi - k_lo < 2:
        return []
    # The octave's bins and one on each side; the kernel's gain divided out: tones and the
    # floor alike, so the octave's floor is flat.
    lo = k_lo - 1
    seg = slice(lo, k_hi + 2)
    power = np.abs(spec[seg]) ** 2 / tent_gain(freqs[seg], grid.step) ** 2
    thr = detection_threshold(power[1:-1], false_alarm)
    peaks = find_peaks(power, 1, power.size - 2, threshold=thr, max_peaks=max_peaks) + lo
    return [
        (float(freqs[k] + jacobsen(spec, int(k)) * bin_w), float(power[k - lo] / thr), 2.0 * bin_w)
        for k in peaks
    ]


def _run(
    xv: FloatArray, yv: FloatArray, xs_all: FloatArray, m: int
) -> tuple[FloatArray, FloatArray]:
    """The densest ``m`` consecutive inputs (the shortest span ``m`` sorted inputs cover), in
    order, with their values (ties at the edges may bring a few more): where the samples
    cluster, a run inside a cluster rather than one across a gap."""
    n = xv.size
    m = min(n, m)
    spans = xs_all[m - 1 :] - xs_all[: n - m + 1]
    start = int(np.argmin(spans))
    lo, hi = xs_all[start], xs_all[start + m - 1]
    part = np.flatnonzero((xv >= lo) & (xv <= hi))
    part = part[np.argsort(xv[part], kind="stable")]
    return xv[part], yv[part]


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
