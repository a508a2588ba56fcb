"""Peaks of a spectrum: which stand out of the noise, and where each lies between two bins.

- :func:`jacobsen`, :func:`candan`, :func:`quinn` and :func:`parabolic` place a peak between
  FFT bins. The first three use the complex bins and are exact (or nearly) for a noiseless
  tone; parabolic interpolation on magnitudes is kept as the biased reference it is.
- :func:`find_peaks` and :func:`detection_threshold` pick the peaks that stand out of the
  noise floor, for several tones at once; :func:`small_sample_ratio` and
  :func:`tone_false_alarm` keep that test honest when there are only a few dozen samples.

Part of ``bench.lib.dsp``, which re-exports it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from bench.lib.grid import ComplexArray, FloatArray
from bench.lib.sampling import quantiles

__all__ = [
    "INTERPOLATORS",
    "candan",
    "detection_threshold",
    "find_peaks",
    "jacobsen",
    "parabolic",
    "quinn",
    "small_sample_ratio",
    "tone_false_alarm",
]


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
