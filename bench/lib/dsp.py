"""Digital signal processing for samples at arbitrary positions: gridding, spectra, peaks.

The front end of every spectral estimate (``bench.lib.estimators``) and of any method that
wants a frequency before, or instead of, gradient descent. Import it from here; the parts live
in modules of their own, each about one step:

- ``bench.lib.grid``: :func:`bin_samples` puts random samples on a uniform grid, so that one
  FFT (:func:`spectrum`) replaces a non-uniform transform; :func:`choose_cells` sizes the grid.
- ``bench.lib.sampling``: :func:`sampling_interval` tells regular samples (which alias) from
  random ones (which do not), and :func:`search_limit` how high a search may then look.
- ``bench.lib.peaks``: :func:`jacobsen`, :func:`candan`, :func:`quinn` and :func:`parabolic`
  place a peak between FFT bins; :func:`find_peaks` and :func:`detection_threshold` pick the
  peaks that stand out of the noise floor, for several tones at once.
- ``bench.lib.highband``: :func:`high_band_peaks` reaches above the grid's band: random
  samples do not alias, so a tone far above their mean rate's Nyquist frequency is still there
  to be found, coarse to fine (a short run of samples scanned over the whole band, then each
  candidate zoomed on all samples).
- here: :func:`lomb_scargle` evaluates the exact periodogram at chosen frequencies in chunks,
  because scipy's routine builds ``N x n_freq`` arrays and runs out of memory on a full grid.

All frequencies are angular (radians per unit of x).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from bench.lib.grid import ComplexArray as ComplexArray
from bench.lib.grid import FloatArray, Grid, bin_samples, choose_cells, mean_grid, spectrum
from bench.lib.grid import spread_samples as spread_samples
from bench.lib.grid import tent_gain as tent_gain
from bench.lib.highband import MAX_SCAN_CELLS as MAX_SCAN_CELLS
from bench.lib.highband import WINDOW as WINDOW
from bench.lib.highband import Peak as Peak
from bench.lib.highband import high_band_peaks
from bench.lib.peaks import (
    INTERPOLATORS,
    candan,
    detection_threshold,
    find_peaks,
    jacobsen,
    parabolic,
    quinn,
)
from bench.lib.peaks import small_sample_ratio as small_sample_ratio
from bench.lib.peaks import tone_false_alarm as tone_false_alarm
from bench.lib.sampling import input_quantum as input_quantum
from bench.lib.sampling import quantiles as quantiles
from bench.lib.sampling import sampling_interval, search_band, search_limit
from bench.lib.sampling import scan_limit as scan_limit
from bench.lib.tones import cos_sin

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


def __getattr__(name: str) -> Any:
    if name == "CLOSE_SHARE":  # deprecated with the rule that used it (bench.lib.sampling)
        import warnings

        warnings.warn(
            "bench.lib.dsp.CLOSE_SHARE is unused since 0.4.0: random samples are searched up "
            "to scan_limit() or input_quantum()'s limit, not a gap quantile",
            DeprecationWarning,
            stacklevel=2,
        )
        return 0.01
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
