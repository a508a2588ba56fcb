"""Where the samples lie: regularly (they alias above their Nyquist frequency) or at random
(they do not), and so how high a spectral search may look.

:func:`sampling_interval` tells the two apart from the gaps between sorted inputs;
:func:`search_limit` and :func:`search_band` give the highest frequency worth searching: the
Nyquist frequency of regular samples; for random samples the lower of what their stored
precision resolves (:func:`input_quantum`) and what a scan of bounded cost can still test at
the noise level a tone must beat (:func:`scan_limit`). :func:`quantiles` is the order statistic
the detection thresholds of ``bench.lib.peaks`` take over millions of values. Part of
``bench.lib.dsp``, which re-exports it.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.lib.grid import FloatArray

__all__ = [
    "SCAN_CELLS",
    "input_quantum",
    "quantiles",
    "sampling_interval",
    "scan_limit",
    "search_band",
    "search_limit",
]

#: The most cells one FFT of the coarse scan of random samples holds (``bench.lib.highband``):
#: its cost per octave of the band, and with it how high the scan reaches (:func:`scan_limit`).
SCAN_CELLS = 2**18


def __getattr__(name: str) -> Any:
    if name == "CLOSE_SHARE":  # the gap-quantile rule's constant, gone in 0.4.0
        warnings.warn(
            "bench.lib.sampling.CLOSE_SHARE is unused since 0.4.0: random samples are searched "
            "up to scan_limit() or input_quantum()'s limit, not a gap quantile",
            DeprecationWarning,
            stacklevel=2,
        )
        return 0.01
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def input_quantum(x_sorted: FloatArray) -> float:
    """The finest step the inputs can resolve: the spacing of their stored precision at the
    largest magnitude (float32 where every input is a float32 value, else float64), or the
    lattice they lie on where it is coarser (every gap a whole multiple of the smallest, as
    whole seconds are). A frequency above ``pi`` over it cannot be told from its alias."""
    xv = np.asarray(x_sorted, dtype=np.float64)
    top = float(max(abs(xv[0]), abs(xv[-1])))
    single = bool(np.array_equal(xv, xv.astype(np.float32)))
    q = float(np.spacing(np.float32(top) if single else top))
    gaps = np.diff(xv)
    gaps = gaps[gaps > 0]
    if gaps.size:
        g0 = float(gaps.min())
        if g0 > q:
            steps = gaps / g0
            if float(np.max(np.abs(steps - np.rint(steps)))) < 1e-6:
                q = g0
    return q


def scan_limit(n: int, span: float, false_alarm: float = 1e-6, cells: int = SCAN_CELLS) -> float:
    """The highest angular frequency the coarse scan (``bench.lib.highband``) searches in ``n``
    random samples over ``span``, at ``cells`` cells per FFT.

    The scan puts a window of ``m`` consecutive samples (span about ``m span / n``) on a grid
    of two cells per half period of the octave's top frequency ``w``, so at ``w`` it can hold
    ``m = cells pi n / (2 w span)`` samples. A tone of amplitude ``A`` in noise of variance
    ``s^2`` peaks at ``m A^2 / 4`` in that periodogram, over a floor of ``s^2 + A^2 / 2`` (at
    random positions a tone leaves its whole power under every bin): ``m / 4`` floors for a
    tone whose power equals the noise's (it carries half of the variance not yet explained).
    The band ends where the run falls to ``m = 4 ln(cells / false_alarm)``: there such a tone
    reaches the false-alarm threshold of the octave's bins, and is found about half the time;
    an octave lower the run is twice as long, and it is found nearly always. It grows with
    ``n``, and with the cost (``cells``) spent per octave.
    """
    if n < 2 or not span > 0 or not math.isfinite(span):
        return 0.0
    m_min = 4.0 * math.log(cells / false_alarm)
    return cells * math.pi * n / (2.0 * span * m_min)


def search_limit(x: npt.ArrayLike, false_alarm: float = 1e-6) -> tuple[float, str]:
    """The highest angular frequency the samples ``x`` resolve, and the rule that set it.

    Regular samples: their Nyquist frequency ``pi / dt`` ("nyquist"); anything above it is an
    alias of something below. Random samples alias nothing below ``pi`` over their stored
    precision (:func:`input_quantum`, "resolution"); far below that, a search of bounded cost
    can no longer tell a tone as strong as the noise from the noise (:func:`scan_limit`,
    "scan", at ``false_alarm``): the lower of the two.
    """
    w, rule, _ = search_band(x, false_alarm=false_alarm)
    return w, rule


def search_band(
    x: npt.ArrayLike, presorted: bool = False, false_alarm: float = 1e-6
) -> tuple[float, str, float | None]:
    """:func:`search_limit` and :func:`sampling_interval` from one sort of ``x`` (none if
    ``presorted``) and one partial sort of its gaps: the limit, its rule, and the sampling
    interval of regular samples (``None`` for random ones)."""
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    xs = xv if presorted else np.sort(xv)
    gaps = _gaps(xs, presorted=True)
    if gaps.size < 2:
        return 0.0, "too few samples", None
    p5, med = quantiles(gaps, (0.05, 0.5))
    dt = _interval(p5, med)
    if dt is not None:
        return math.pi / dt, "nyquist", dt
    if not (math.isfinite(xs[0]) and math.isfinite(xs[-1])):
        return 0.0, "non-finite inputs", None
    resolved = math.pi / input_quantum(xs)
    scan = scan_limit(xs.size, float(xs[-1] - xs[0]), false_alarm)
    return (scan, "scan", None) if scan <= resolved else (resolved, "resolution", None)
