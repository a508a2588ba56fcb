"""Digital signal processing for samples at arbitrary positions: gridding, spectra, peaks.

The front end of every spectral estimate (``bench.lib.estimators``) and of any method that
wants a frequency before, or instead of, gradient descent:

- :func:`bin_samples` puts random samples on a uniform grid, so that one FFT replaces a
  non-uniform transform. Summing samples into cells is a type-1 non-uniform DFT with a box
  kernel: it moves each sample by at most half a cell, which blurs the spectrum's amplitude a
  little but does not move its peaks. :func:`choose_cells` sizes the grid,
  :func:`sampling_interval` tells regular samples (which alias) from random ones (which do not).
- :func:`jacobsen`, :func:`candan`, :func:`quinn` and :func:`parabolic` place a peak between
  FFT bins. The first three use the complex bins and are exact (or nearly) for a noiseless
  tone; parabolic interpolation on magnitudes is kept as the biased reference it is.
- :func:`find_peaks` and :func:`detection_threshold` pick the peaks that stand out of the
  noise floor, for several tones at once.
- :func:`lomb_scargle` evaluates the exact periodogram at chosen frequencies in chunks, because
  scipy's routine builds ``N x n_freq`` arrays and runs out of memory on a full grid.
- :func:`search_limit` and :func:`high_band_peaks` reach above the grid's band: random samples
  do not alias, so a tone far above their mean rate's Nyquist frequency is still there to be
  found, coarse to fine (a short run of samples scanned over the whole band, then each
  candidate zoomed on all samples).

All frequencies are angular (radians per unit of x).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft
import torch

from bench.lib.sinusoid import cos_sin

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

__all__ = [
    "INTERPOLATORS",
    "Grid",
    "bin_samples",
    "candan",
    "choose_cells",
    "detection_threshold",
    "find_peaks",
    "jacobsen",
    "high_band_peaks",
    "lomb_scargle",
    "mean_grid",
    "parabolic",
    "quinn",
    "sampling_interval",
    "search_band",
    "search_limit",
    "spectrum",
]


# -- gridding -----------------------------------------------------------------------------------


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


def sampling_interval(x: npt.ArrayLike) -> float | None:
    """The spacing of (nearly) regularly sampled inputs, or ``None`` for irregular ones.

    Regular samples alias every frequency above ``pi / dt`` onto one below it, with the same
    magnitude, so a spectral search must stop at ``pi / dt``. Random samples do not alias
    (their gaps are exponential, most far below the median), so no limit is set for them.
    Regularity is judged on the gaps: the 5th percentile above half the median.
    """
    gaps = _gaps(x)
    if gaps.size < 2:
        return None
    return _interval(*quantiles(gaps, (0.05, 0.5)))


def _gaps(x: npt.ArrayLike, presorted: bool = False) -> FloatArray:
    """The positive gaps between the sorted distinct inputs (one sort; no ``np.unique``)."""
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    gaps = np.diff(xv if presorted else np.sort(xv))
    return gaps[gaps > 0]


def _interval(p5: float, med: float) -> float | None:
    """The median gap if the gaps are regular (their 5th percentile above half the median)."""
    return med if med > 0 and p5 > 0.5 * med else None


def quantiles(a: npt.ArrayLike, qs: tuple[float, ...]) -> list[float]:
    """``np.quantile(a, q)`` for each ``q`` (linear interpolation, its default), computed in
    float64 as numpy does for float64 input.

    Each order statistic comes from a partial sort of a shrinking prefix of one copy, largest
    first; the next-larger neighbour an interpolation needs is the minimum above it. numpy
    partitions for several ``kth`` at once, or for the two middle values of a median, about
    five times more slowly than for one, and these statistics run over millions of values.
    """
    work = np.array(a, dtype=np.float64).reshape(-1)  # a copy, sorted partly in place
    n = work.size
    if n == 0:
        raise ValueError("quantiles of an empty array")
    pos = [float(q) * (n - 1) for q in qs]
    order: dict[int, float] = {}
    end = n
    for k in sorted({int(math.floor(p)) for p in pos}, reverse=True):
        work[:end].partition(k)  # work[:end] holds the `end` smallest values
        order[k] = float(work[k])
        if k + 1 < n:
            order[k + 1] = float(work[k + 1 :].min())
        end = k
    out = []
    for p in pos:
        lo = int(math.floor(p))
        t = p - lo
        if not t:
            out.append(order[lo])
            continue
        a, b = order[lo], order[lo + 1]
        out.append(b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t)  # numpy's lerp
    return out


# -- peak interpolation -------------------------------------------------------------------------


def _neighbours(spec: ComplexArray, k: int) -> tuple[complex, complex, complex]:
    if not 1 <= k < spec.size - 1:
        raise ValueError(f"bin {k} has no neighbour on both sides (spectrum of {spec.size})")
    return complex(spec[k - 1]), complex(spec[k]), complex(spec[k + 1])


def jacobsen(spec: ComplexArray, k: int) -> float:
    """Jacobsen's estimator: the fractional offset of a tone from bin ``k``, in bins.

    ``Re[(X[k-1] - X[k+1]) / (2 X[k] - X[k-1] - X[k+1])]`` on the complex bins. Nearly exact
    for one noiseless complex tone in an un-padded, un-windowed DFT; its small bias grows like
    ``(pi / n)^2`` and is removed by :func:`candan`.
    """
    a, b, c = _neighbours(spec, k)
    den = 2.0 * b - a - c
    if den == 0:
        return 0.0
    return float(np.clip(((a - c) / den).real, -1.0, 1.0))


def candan(spec: ComplexArray, k: int, n: int | None = None) -> float:
    """Jacobsen's estimate with Candan's bias correction ``tan(pi / n) / (pi / n)``.

    ``n`` is the DFT length (defaults to the full length of a one-sided spectrum of even
    length). The correction matters for short transforms; for long ones it tends to 1.
    """
    n = 2 * (spec.size - 1) if n is None else int(n)
    c = math.tan(math.pi / n) / (math.pi / n)
    return float(np.clip(c * jacobsen(spec, k), -1.0, 1.0))


def _quinn_tau(t: float) -> float:
    r = math.sqrt(2.0 / 3.0)
    return 0.25 * math.log(3 * t * t + 6 * t + 1) - math.sqrt(6) / 24 * math.log(
        (t + 1 - r) / (t + 1 + r)
    )


def quinn(spec: ComplexArray, k: int) -> float:
    """Quinn's second estimator (1997), from the ratios of the complex neighbours to ``X[k]``.

    Unbiased to second order and close to the noise-limited accuracy of a single DFT.
    """
    a, b, c = _neighbours(spec, k)
    if b == 0:
        return 0.0
    ap, am = (c / b).real, (a / b).real
    if ap == 1.0 or am == 1.0:
        return 0.0
    dp, dm = -ap / (1.0 - ap), am / (1.0 - am)
    d = 0.5 * (dp + dm) + _quinn_tau(dp * dp) - _quinn_tau(dm * dm)
    return float(np.clip(d, -1.0, 1.0)) if math.isfinite(d) else 0.0


def parabolic(power: FloatArray, k: int) -> float:
    """Vertex of the parabola through three magnitudes (or log magnitudes).

    The classic estimate, biased for a rectangular window (about ``5e-4`` rad per unit on the
    original task): kept as a reference and for smooth peaks such as wavelet spectra.
    """
    if not 1 <= k < power.size - 1:
        raise ValueError(f"bin {k} has no neighbour on both sides")
    a, b, c = float(power[k - 1]), float(power[k]), float(power[k + 1])
    den = a - 2.0 * b + c
    if den == 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / den, -1.0, 1.0))


INTERPOLATORS: dict[str, Callable[[ComplexArray, int], float]] = {
    "none": lambda spec, k: 0.0,  # the bin's own frequency: a coarse periodogram start
    "jacobsen": jacobsen,
    "candan": candan,
    "quinn": quinn,
    "parabolic": lambda spec, k: parabolic(np.abs(spec), k),
}


# -- peak picking -------------------------------------------------------------------------------


def detection_threshold(power: FloatArray, false_alarm: float = 1e-6) -> float:
    """Power above which a periodogram peak is unlikely (``false_alarm``) to be noise.

    Under white noise each periodogram ordinate is exponential with mean ``median / ln 2``,
    and the largest of ``M`` exceeds ``mean * ln(M / p)`` with probability about ``p``. The
    median makes the floor robust to the peaks themselves.
    """
    p = np.asarray(power, dtype=np.float64)
    if p.size == 0:
        return float("inf")
    floor = quantiles(p, (0.5,))[0] / math.log(2.0)
    return floor * math.log(max(p.size, 2) / false_alarm)


def small_sample_ratio(n_power: int, false_alarm: float, n_samples: int) -> float:
    """How far below :func:`detection_threshold` (over ``n_power`` ordinates) the threshold of
    ``n_samples`` samples' exact tail lies, as a factor at most 1.

    For a least-squares tone (amplitude, phase and a constant) fitted to ``n`` samples of
    Gaussian noise, the share of the variance it explains exceeds ``z`` with probability
    ``(1 - z)^((n - 3) / 2)`` (Zechmeister and Kuerster, A&A 2009). The exponential tail is its
    limit for large ``n``: the factor is then about ``1 - (ln(M / p) - 3) / n``. For a few
    dozen samples it is far lower. In the periodogram's units a share ``z`` is about ``z n / 2``
    times the floor. That conversion only holds in the mean (a periodogram of few samples can
    exceed ``n / 2`` floors), so a peak admitted by this lower threshold alone must pass
    :func:`tone_false_alarm` on its exact fit.
    """
    if n_samples < 4:
        return 1.0
    level = math.log(max(n_power, 2) / false_alarm)
    z0 = -math.expm1(-2.0 * level / (n_samples - 3))
    return min(1.0, 0.5 * n_samples * z0 / level)


def tone_false_alarm(share: float, n_samples: int, independent: float) -> float:
    """Probability that the best of ``independent`` frequencies explains a ``share`` of the
    variance of ``n_samples`` samples of Gaussian noise by a least-squares tone (the union bound
    on the tail of :func:`small_sample_ratio`)."""
    if n_samples < 4 or not share > 0:
        return 1.0
    if share >= 1:
        return 0.0
    return min(1.0, independent * math.exp(0.5 * (n_samples - 3) * math.log1p(-share)))


def find_peaks(
    power: FloatArray,
    k_lo: int = 1,
    k_hi: int | None = None,
    *,
    threshold: float = 0.0,
    min_separation: int = 2,
    max_peaks: int | None = None,
) -> npt.NDArray[np.int64]:
    """Indices of local maxima in ``[k_lo, k_hi]`` above ``threshold``, strongest first.

    A peak closer than ``min_separation`` bins to a stronger one is dropped (the same tone's
    neighbouring bin or a shoulder), so each tone is reported once.
    """
    p = np.asarray(power, dtype=np.float64)
    k_hi = p.size - 2 if k_hi is None else min(int(k_hi), p.size - 2)
    k_lo = max(int(k_lo), 1)
    if k_hi < k_lo:
        return np.zeros(0, dtype=np.int64)
    mid = p[k_lo : k_hi + 1]
    is_max = (mid >= p[k_lo - 1 : k_hi]) & (mid > p[k_lo + 1 : k_hi + 2]) & (mid > threshold)
    cand = np.flatnonzero(is_max) + k_lo
    cand = cand[np.argsort(-p[cand], kind="stable")]
    kept: list[int] = []
    for k in cand:
        if all(abs(int(k) - j) >= min_separation for j in kept):
            kept.append(int(k))
            if max_peaks is not None and len(kept) >= max_peaks:
                break
    return np.asarray(kept, dtype=np.int64)


# -- exact periodogram --------------------------------------------------------------------------


def lomb_scargle(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    freqs: npt.ArrayLike,
    *,
    chunk: int = 256,
    floating_mean: bool = True,
) -> FloatArray:
    """Generalised Lomb-Scargle periodogram at angular ``freqs``, evaluated ``chunk`` at a time.

    The formulas of ``scipy.signal.lombscargle`` (equal weights, ``normalize="power"``; see
    :func:`_gls`), which builds ``N x n_freq`` intermediates, so a full grid (10^5
    frequencies x 10^4 samples) exhausts memory; chunking keeps the peak at ``N x chunk``.
    Use it to zoom in exactly around candidates found by an FFT, not to scan a whole band.
    Unnormalised: a tone of amplitude ``A`` reads about ``A^2 N / 4``.
    """
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    fv = np.asarray(freqs, dtype=np.float64).reshape(-1)
    out = np.empty(fv.size)
    xc = xv - 0.5 * (xv.min() + xv.max())  # phases stay accurate for large x
    for i in range(0, fv.size, chunk):
        out[i : i + chunk] = _gls(xc, yv, fv[i : i + chunk], floating_mean)
    return out


def _gls(x: FloatArray, y: FloatArray, freqs: FloatArray, floating_mean: bool) -> FloatArray:
    """The generalised Lomb-Scargle periodogram of Zechmeister and Kuerster (A&A 496, 2009;
    the comments give their equation numbers) with equal weights, unnormalised: the value
    ``scipy.signal.lombscargle(x, y, freqs, floating_mean=floating_mean)`` returns (SciPy 1.15+,
    ``normalize="power"``), to rounding; a test compares the two.

    One frequency per row, the trigonometry by torch's kernels (within a rounding of numpy's)
    and the weighted sums as matrix-vector products: about three times faster than SciPy's
    routine, which works on ``N x n_freq`` columns with numpy's slower ``cos`` and ``sin``.
    """
    n = x.size
    w = np.full(n, 1.0 / n)  # equal weights, normalised to sum to one
    wy = w * y
    arg = np.multiply.outer(freqs, x)  # (n_freq, N)
    cos, sin = cos_sin(arg)
    big_y = float(w @ y)  # Eq. 7
    cc = np.square(cos) @ w  # Eq. 13
    ss = 1.0 - cc  # Eq. 14
    cs = (cos * sin) @ w  # Eq. 15
    if floating_mean:
        c, s = cos @ w, sin @ w  # Eqs. 8, 9
        cc -= c * c
        ss -= s * s
        cs -= c * s
    tau = 0.5 * np.arctan2(2.0 * cs, cc - ss)  # Eq. 19
    arg -= tau[:, None]
    cos_sin(arg, out=(cos, sin))
    yc, ys = cos @ wy, sin @ wy  # Eqs. 11, 12
    cc = np.square(cos) @ w  # Eq. 13
    ss = 1.0 - cc  # Eq. 14
    if floating_mean:
        c, s = cos @ w, sin @ w  # Eqs. 8, 9
        yc -= big_y * c
        ys -= big_y * s
        cc -= c * c
        ss -= s * s
    eps = np.finfo(np.float64).epsneg
    cc[cc < eps] = eps
    ss[ss < eps] = eps
    a, b = yc / cc, ys / ss
    return 2.0 * (a * yc + b * ys) * (float(n) / 4.0)


# -- above the grid's band: coarse to fine ---------------------------------------------------

#: Random samples: a frequency is searched while at least this share of the gaps between
#: neighbouring samples is under half its period (``w_max = pi / g``, ``g`` that quantile).
CLOSE_SHARE = 0.01
#: Consecutive samples in the coarse scan's window (its periodogram's noise floor is about
#: ``1 / WINDOW`` of a tone's peak, so a tone clears a 1e-6 false-alarm test by far).
WINDOW = 4096
#: Largest grid the coarse scan builds; a wider band shrinks the window instead.
MAX_SCAN_CELLS = 2**22


def search_limit(x: npt.ArrayLike) -> tuple[float, str]:
    """The highest angular frequency the samples ``x`` resolve, and the rule that set it.

    Regular samples: their Nyquist frequency ``pi / dt`` ("nyquist"); anything above it is an
    alias of something below. Random samples have no such limit (their gaps vary, so no
    frequency aliases onto another); the search then stops where fewer than ``CLOSE_SHARE``
    of the gaps between neighbouring samples are under half a period ("gaps"), far above the
    mean rate's Nyquist frequency (about 100 times for uniform random samples).
    """
    w, rule, _ = search_band(x)
    return w, rule


def search_band(x: npt.ArrayLike, presorted: bool = False) -> tuple[float, str, float | None]:
    """:func:`search_limit` and :func:`sampling_interval` from one sort of ``x`` (none if
    ``presorted``) and one partial sort of its gaps: the limit, its rule, and the sampling
    interval of regular samples (``None`` for random ones)."""
    gaps = _gaps(x, presorted)
    if gaps.size < 2:
        return 0.0, "too few samples", None
    close, p5, med = quantiles(gaps, (CLOSE_SHARE, 0.05, 0.5))
    dt = _interval(p5, med)
    if dt is not None:
        return math.pi / dt, "nyquist", dt
    return (math.pi / close if close > 0 else math.inf), "gaps", None


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
    n = xv.size
    if n < 16 or not w_hi > w_lo or not math.isfinite(w_hi):
        return []
    m = min(n, int(window))
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
            return []
        want = 2.0 * w_hi * span / math.pi  # two cells per half period of w_hi (tent kernel)
        if want <= MAX_SCAN_CELLS or m <= 256:
            break
        m //= 2  # a wider band than one grid holds: a shorter window, coarser bins
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
