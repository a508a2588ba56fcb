"""Period discovery for signals sampled at integer inputs, by folding.

For integer inputs spread over a very long span (the Clock Problem: whole seconds over 120
years) a spectral search is the wrong tool: frequencies alias modulo 2 pi and resolving an
integer period near 86,400 needs a frequency grid of billions of points. Folding is the natural
test instead: a target is periodic with integer period ``P`` exactly when it is a function of
``t mod P``. Phase dispersion minimisation (Stellingwerf, ApJ 1978) measures that: bin the
samples by phase ``(t mod P) / P`` and compare the spread within the bins with the spread
overall. A true period leaves almost nothing within the bins; a wrong one leaves everything.

Categorical targets (clock digits) are compared on the unit circle, ``exp(2 pi i y / K)``, so a
digit that wraps (23 -> 0) is a small step, not a large one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def integer_lattice(x: np.ndarray) -> np.ndarray | None:
    """``x`` as int64 if every value is a finite whole number that int64 holds exactly, else
    ``None``. Float inputs that are whole seconds (float64 clock) qualify; so do float32
    inputs above 2**24, which are whole numbers too, though many seconds share one value."""
    if x.dtype.kind in "iu":
        return x.astype(np.int64)
    xf = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(xf)) or np.any(np.abs(xf) >= 2.0**62):
        return None
    if not np.all(xf == np.round(xf)):
        return None
    return xf.astype(np.int64)


def circular(labels: np.ndarray, classes: int) -> np.ndarray:
    """Categorical labels as points on the unit circle."""
    return np.exp(2j * np.pi * np.asarray(labels, dtype=np.float64) / classes)


def dispersion(t: np.ndarray, z: np.ndarray, periods: np.ndarray, bins: int = 16) -> np.ndarray:
    """Phase dispersion of the complex signal ``z`` for each candidate period.

    Returns, per period, the within-phase-bin sum of squares over the total sum of squares:
    near 0 for a period of ``z``, near ``1 - bins / len(t)`` for an unrelated one.
    """
    periods = np.asarray(periods, dtype=np.int64)
    n = len(t)
    total = float(np.sum(np.abs(z - z.mean()) ** 2)) or 1.0
    nb = np.minimum(periods, bins)  # a period shorter than the bin count gets one bin per step
    phase = np.mod(t[None, :], periods[:, None])  # (P, n), non-negative for positive periods
    idx = (phase * nb[:, None]) // periods[:, None] + (np.arange(len(periods)) * bins)[:, None]
    idx = idx.ravel()
    size = len(periods) * bins
    count = np.bincount(idx, minlength=size)
    sum_re = np.bincount(idx, weights=np.tile(z.real, len(periods)), minlength=size)
    sum_im = np.bincount(idx, weights=np.tile(z.imag, len(periods)), minlength=size)
    # Within-bin sum of squares = sum |z|^2 - |sum z|^2 / count, per bin; |z| = 1 here or not.
    sq = np.bincount(idx, weights=np.tile(np.abs(z) ** 2, len(periods)), minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        within = sq - (sum_re**2 + sum_im**2) / np.maximum(count, 1)
    within = within.reshape(len(periods), bins).sum(axis=1)
    del n
    return within / total


@dataclass(frozen=True)
class PeriodSearch:
    """Result of :func:`find_periods` for one target."""

    period: int | None
    score: float


def find_periods(
    t: np.ndarray,
    signals: Sequence[np.ndarray],
    max_period: int,
    threshold: float = 0.2,
    bins: int = 16,
    chunk: int = 512,
) -> list[PeriodSearch]:
    """Smallest integer period (2..``max_period``) of each complex signal, by folding.

    Candidates are scanned in increasing order and the scan stops once every signal has one, so
    the cost grows with the longest period found (about a second for 86,400 on 512 samples).
    The first candidate under ``threshold`` opens a dip; the period is the dip's minimum within
    the next eighth (over few cycles, periods near the true one also fold fairly well). A signal
    whose dispersion stays above ``threshold`` gets ``period=None``.
    """
    t = np.asarray(t, dtype=np.int64)
    best: list[PeriodSearch | None] = [None] * len(signals)
    lowest = [np.inf] * len(signals)
    start = 2
    while start <= max_period and any(b is None for b in best):
        periods = np.arange(start, min(start + chunk, max_period + 1), dtype=np.int64)
        for j, z in enumerate(signals):
            if best[j] is not None:
                continue
            d = dispersion(t, z, periods, bins)
            lowest[j] = min(lowest[j], float(d.min()))
            hit = np.flatnonzero(d < threshold)
            if hit.size:
                first = int(periods[hit[0]])
                window = np.arange(first, min(first + first // 8, max_period) + 1)
                dw = np.concatenate(
                    [
                        dispersion(t, z, window[i : i + chunk], bins)
                        for i in range(0, len(window), chunk)
                    ]
                )
                k = int(np.argmin(dw))
                best[j] = PeriodSearch(int(window[k]), float(dw[k]))
        start += chunk
    return [b if b is not None else PeriodSearch(None, lowest[j]) for j, b in enumerate(best)]


def resolution(
    t: np.ndarray, z: np.ndarray, period: int | None, candidates: Sequence[int], tol: float = 1e-9
) -> int:
    """Coarsest step ``q`` (from ``candidates`` dividing ``period``, or 1) such that ``z`` is
    still a function of the phase of ``t`` rounded down to a multiple of ``q`` (of ``t`` itself
    rounded down, when ``period`` is ``None``).

    A digit that only changes when a finer period wraps (minutes change when seconds wrap) is a
    function of that rounded phase; features taken there put every sample exactly on one of
    ``period / q`` points, which a classifier separates with a wide margin.
    """
    best = 1
    for q in sorted(set(candidates)):
        if q <= best or (period is not None and (q >= period or period % q)):
            continue
        aligned = t - np.mod(t, q)
        phase = aligned if period is None else np.mod(aligned, period)
        # Exact test: group by phase step, every group must hold a single value.
        steps = phase // q
        order = np.argsort(steps, kind="stable")
        s, zz = steps[order], z[order]
        same = s[1:] == s[:-1]
        if np.all(np.abs(zz[1:][same] - zz[:-1][same]) <= tol):
            best = q
    return best
