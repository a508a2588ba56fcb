"""Where the samples lie: regularly (they alias above their Nyquist frequency) or at random
(they do not), and so how high a spectral search may look.

:func:`sampling_interval` tells the two apart from the gaps between sorted inputs;
:func:`search_limit` and :func:`search_band` turn the gaps into the highest frequency worth
searching. :func:`quantiles` is the order statistic they (and the detection thresholds of
``bench.lib.peaks``) take over millions of values. Part of ``bench.lib.dsp``, which re-exports it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from bench.lib.grid import FloatArray

__all__ = ["CLOSE_SHARE", "quantiles", "sampling_interval", "search_band", "search_limit"]

#: Random samples: a frequency is searched while at least this share of the gaps between
#: neighbouring samples is under half its period (``w_max = pi / g``, ``g`` that quantile).
CLOSE_SHARE = 0.01


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
