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

The search is coarse to fine, so that its cost grows with the logarithm of the longest period
rather than with the period (:func:`find_periods`):

- Folding with a wrong period ``P + d`` moves a sample's phase by ``d t / P^2`` cycles. Over a
  stretch of inputs ``s`` long the phases stay aligned within a bin while ``d < P^2 / (s B)``
  (``B`` phase bins): that is the width of the dip around the true period. So the samples are
  cut into **segments**, each folded with bins of its own (the offset ``d t0 / P^2`` each
  segment carries only turns its bins), and a segment spanning a few cycles (``CYCLES``) gives
  a dip a fixed fraction of ``P`` wide: a few hundred candidates per octave of periods, at any
  length. Short periods use the shortest segments that still hold ``2 B`` samples, and every
  integer while the dip is narrower than one.
- The first dip (periods in increasing order, so the smallest period of the target) is then
  narrowed on ever longer segments, down to single integers, and the exact period is the
  integer that leaves the fewest label changes in phase order over every sample.
- The search reaches half the observed span. How exactly an integer period can be pinned
  depends on the data: ``P`` and ``P + 1`` fold ``n`` samples over a span ``S`` differently
  by about ``n S / P^2`` misplaced samples, so periods far below ``sqrt(n S)`` come out exact.

Once a period is known, :func:`phase_arcs` finds where a categorical target changes within it:
from the gaps in phase order between samples with different labels, the coarsest lattice
``r + q Z`` (``q`` dividing ``P``) that every change fits, or, failing one, the midpoints of
the gaps. A classifier fed the arc an input falls in (:class:`ArcMap`) then sees exactly one
point per arc, whatever the phase at which the arcs start.
"""

from __future__ import annotations

import math
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


def dispersion(
    t: np.ndarray,
    z: np.ndarray,
    periods: np.ndarray,
    bins: int = 16,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Phase dispersion of the complex signal ``z`` for each candidate period.

    Returns, per period, the within-phase-bin sum of squares over the total sum of squares:
    near 0 for a period of ``z``, near ``1 - bins / len(t)`` for an unrelated one. ``groups``
    (segment ids ``0..G-1``, one per sample) folds each segment with bins of its own, and
    measures the total about each segment's own mean.
    """
    periods = np.asarray(periods, dtype=np.int64)
    g = np.zeros(len(t), dtype=np.int64) if groups is None else np.asarray(groups, np.int64)
    n_groups = int(g.max()) + 1 if g.size else 1
    cells = n_groups * bins
    mean = np.bincount(g, weights=z.real, minlength=n_groups) + 1j * np.bincount(
        g, weights=z.imag, minlength=n_groups
    )
    mean /= np.maximum(np.bincount(g, minlength=n_groups), 1)
    total = float(np.sum(np.abs(z - mean[g]) ** 2))
    if not total > 1e-9 * max(len(t), 1):  # the target does not vary within the segments
        return np.ones(len(periods))
    nb = np.minimum(periods, bins)  # a period shorter than the bin count gets one bin per step
    phase = np.mod(t[None, :], periods[:, None])  # (P, n), non-negative for positive periods
    idx = (phase * nb[:, None]) // periods[:, None] + (g * bins)[None, :]
    idx = (idx + (np.arange(len(periods)) * cells)[:, None]).ravel()
    size = len(periods) * cells
    count = np.bincount(idx, minlength=size)
    sum_re = np.bincount(idx, weights=np.tile(z.real, len(periods)), minlength=size)
    sum_im = np.bincount(idx, weights=np.tile(z.imag, len(periods)), minlength=size)
    sq = np.bincount(idx, weights=np.tile(np.abs(z) ** 2, len(periods)), minlength=size)
    within = sq - (sum_re**2 + sum_im**2) / np.maximum(count, 1)
    return within.reshape(len(periods), cells).sum(axis=1) / total


def label_changes(t: np.ndarray, labels: np.ndarray, period: int) -> int:
    """How often the label changes between neighbours in phase order (around the circle):
    the number of arcs for the true period, more for any other once the span is long enough
    to tell them apart."""
    order = np.argsort(np.mod(t, period), kind="stable")
    lab = labels[order]
    return int(np.count_nonzero(lab != np.roll(lab, 1)))


@dataclass(frozen=True)
class PeriodSearch:
    """Result of :func:`find_periods` for one target: the period (``None`` if none), the
    dispersion at it (or the lowest seen), and the longest period the search covered."""

    period: int | None
    score: float
    searched: int = 0
    #: Whether every integer near the dip was compared on all samples (see ``_narrow``).
    exact: bool = False


#: Cycles a segment spans in the coarse scan (the dip is then about ``P / (CYCLES B)`` wide).
CYCLES = 8
#: Samples folded per candidate in the coarse scan, and in each narrowing step.
SCAN_SAMPLES = 512
NARROW_SAMPLES = 4096
#: Most dips narrowed per target before the search gives up on it (each costs a few folds of
#: every sample; a dip that does not hold on all samples is a chance one).
MAX_DIPS = 16
#: Most integers compared one by one, on all samples, at the end of a search.
FINAL_POINTS = 256


def _segments(t: np.ndarray, span: float, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """About ``budget`` samples of the sorted ``t`` from consecutive segments ``span`` long,
    with their segment ids: whole segments around the middle of the data first, thinned
    evenly if one segment alone holds more than ``budget``."""
    seg = ((t - t[0]) // max(int(span), 1)).astype(np.int64)
    ids, first, counts = np.unique(seg, return_index=True, return_counts=True)
    mid = len(ids) // 2
    order = np.argsort(np.abs(np.arange(len(ids)) - mid), kind="stable")
    picks, groups, total = [], [], 0
    for k in order:
        take = np.arange(first[k], first[k] + counts[k])
        if counts[k] > budget:
            take = take[np.linspace(0, counts[k] - 1, budget).astype(np.int64)]
        picks.append(take)
        groups.append(np.full(take.size, len(groups), dtype=np.int64))
        total += take.size
        if total >= budget:
            break
    return np.concatenate(picks), np.concatenate(groups)


def find_periods(
    t: np.ndarray,
    signals: Sequence[np.ndarray],
    max_period: int | None = None,
    threshold: float = 0.2,
    bins: int = 16,
    chunk: int = 256,
    labels: Sequence[np.ndarray] | None = None,
) -> list[PeriodSearch]:
    """Smallest integer period (2 to ``max_period``, default half the span of ``t``) of each
    complex signal, coarse to fine (see the module docstring).

    Candidates are scanned in increasing order, on segments sized to each range of periods,
    until every signal has a dip under ``threshold``; the dip is narrowed on longer segments
    down to single integers, and the exact period is the one with the fewest ``labels``
    changes in phase order on all samples (``labels`` default to the signals themselves). A
    signal whose dispersion stays above ``threshold`` gets ``period=None``.
    """
    order = np.argsort(np.asarray(t, dtype=np.int64), kind="stable")
    t = np.asarray(t, dtype=np.int64)[order]
    zs = [np.asarray(z)[order] for z in signals]
    labs = [np.asarray(v)[order] for v in labels] if labels is not None else zs
    n = len(t)
    span = int(t[-1] - t[0]) if n else 0
    top = max(2, span // 2) if max_period is None else int(max_period)
    best: list[PeriodSearch | None] = [None] * len(zs)
    lowest = [np.inf] * len(zs)
    if n < 4 * bins or span < 4:
        return [PeriodSearch(None, 1.0, 0) for _ in zs]
    s_min = max(2.0 * bins * span / n, 1.0)  # the shortest segment with 2 B samples on average
    cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    tries = [0] * len(zs)
    p = 2
    while p <= top and any(b is None for b in best):
        # One segment length per octave of periods: CYCLES cycles, at least s_min.
        seg_span = min(max(CYCLES * 2 ** int(np.ceil(np.log2(p))), s_min), span + 1)
        if seg_span not in cache:
            cache[seg_span] = _segments(t, seg_span, SCAN_SAMPLES)
        idx, groups = cache[seg_span]
        periods, p = _scan_chunk(p, seg_span, span, top, chunk, bins)  # p: the next chunk's
        for j, z in enumerate(zs):
            if best[j] is not None:
                continue
            d = dispersion(t[idx], z[idx], periods, bins, groups)
            lowest[j] = min(lowest[j], float(d.min()))
            past = 0  # candidates up to here belong to a dip already rejected
            for h in np.flatnonzero(d < threshold):
                first = int(periods[h])
                if first <= past:
                    continue
                if tries[j] >= MAX_DIPS:
                    break
                tries[j] += 1
                found, past = _follow_dip(t, z, labs[j], idx, groups, first, seg_span, bins, top)
                # A segment in which the target hardly varies can dip by chance: the period
                # must also fold every sample at once.
                if found.score < threshold:
                    best[j] = found
                    break
    return [b if b is not None else PeriodSearch(None, lowest[j], top) for j, b in enumerate(best)]


def _scan_chunk(
    p: int, seg_span: float, span: int, top: int, chunk: int, bins: int
) -> tuple[np.ndarray, int]:
    """The next ``chunk`` candidates of the coarse scan from ``p``, and the period after them.

    Candidates are a fraction of a dip's width apart (``P^2 / (2 s B)`` on segments ``s`` long,
    at least 1), up to the longest period those segments suit (``s / CYCLES``; past it the
    next octave's longer segments take over) or ``top``.
    """
    cands: list[int] = []
    end = min(top, max(p, int(seg_span // CYCLES)) if seg_span < span + 1 else top)
    q = p
    while q <= end and len(cands) < chunk:
        cands.append(q)
        q += max(1, int(q * q / (2.0 * seg_span * bins)))
    return np.asarray(cands, dtype=np.int64), q


def _follow_dip(
    t: np.ndarray,
    z: np.ndarray,
    labels: np.ndarray,
    idx: np.ndarray,
    groups: np.ndarray,
    first: int,
    seg_span: float,
    bins: int,
    top: int,
) -> tuple[PeriodSearch, int]:
    """The period a dip of the coarse scan (on the samples ``idx`` in their segments
    ``groups``) leads to, narrowed to one integer on all samples, and the last candidate it
    covered (a later dip must start past it).

    ``first``, the first candidate under the threshold, sits on the dip's near flank, which
    reaches about one cycle of drift (``P^2 / s``) before the true period: the dip's minimum is
    looked for over that much further, then narrowed (:func:`_narrow`) around it.
    """
    step = max(1, int(first * first / (2.0 * seg_span * bins)))
    reach = int(2 * first * first / seg_span) + 2 * step
    near = np.arange(max(2, first - step), min(top, first + reach) + 1, step)
    dn = dispersion(t[idx], z[idx], near, bins, groups)
    k = int(np.argmin(dn))
    lo, hi = max(2, int(near[k]) - 2 * step), min(top, int(near[k]) + 2 * step)
    return _narrow(t, z, labels, lo, hi, seg_span, bins, top), int(near[-1])


def _narrow(
    t: np.ndarray,
    z: np.ndarray,
    labels: np.ndarray,
    lo: int,
    hi: int,
    seg_span: float,
    bins: int,
    top: int,
) -> PeriodSearch:
    """Narrow a dip found between ``lo`` and ``hi`` to one integer period: longer segments
    (``NARROW_SAMPLES`` samples) while they can grow, then the fewest label changes on all
    samples over the integers left. Past about ``sqrt(n S)`` the span no longer tells
    neighbouring integers apart; the window left is then sampled at ``FINAL_POINTS`` points
    and the result is marked inexact."""
    span = int(t[-1] - t[0])
    while hi - lo > 4 and seg_span <= span:
        seg_span = min(seg_span * 8, span + 1)
        idx, groups = _segments(t, seg_span, NARROW_SAMPLES)
        step = max(1, int(lo * lo / (4.0 * seg_span * bins)))
        periods = np.arange(lo, hi + 1, step, dtype=np.int64)
        if periods.size > 4096:  # the dip was wider than the segments can resolve: thin
            periods = np.unique(np.linspace(lo, hi, 4096).astype(np.int64))
            step = max(1, (hi - lo) // 4096)
        d = dispersion(t[idx], z[idx], periods, bins, groups)
        k = int(np.argmin(d))
        lo, hi = max(2, int(periods[k]) - 2 * step), min(top, int(periods[k]) + 2 * step)
    exact = hi - lo < FINAL_POINTS
    window = (
        np.arange(lo, hi + 1, dtype=np.int64)
        if exact
        else np.unique(np.linspace(lo, hi, FINAL_POINTS).astype(np.int64))
    )
    changes = [label_changes(t, labels, int(p)) for p in window]
    period = int(window[int(np.argmin(changes))])
    score = float(dispersion(t, z, np.array([period]), bins)[0])
    return PeriodSearch(period, score, top, exact)


def _divisors(n: int) -> np.ndarray:
    """Divisors of ``n`` in decreasing order."""
    d = np.arange(1, math.isqrt(n) + 1, dtype=np.int64)
    d = d[n % d == 0]
    return np.unique(np.concatenate([d, n // d]))[::-1]


@dataclass(frozen=True)
class ArcMap:
    """Where a categorical target changes within its period ``period``: ``starts`` (sorted
    phases where an arc begins). ``step`` and ``offset`` when the starts form the lattice
    ``offset + step Z``; ``step`` is 0 when they were placed at the gaps' midpoints."""

    period: int
    starts: np.ndarray
    step: int
    offset: int

    @property
    def arcs(self) -> int:
        return int(self.starts.size)

    def index(self, t: np.ndarray) -> np.ndarray:
        """The arc each whole number ``t`` falls in, ``0..arcs-1``."""
        phase = np.mod(t, self.period)
        return np.mod(np.searchsorted(self.starts, phase, side="right") - 1, self.arcs)


def phase_arcs(t: np.ndarray, labels: np.ndarray, period: int) -> ArcMap:
    """The arcs of ``labels`` within ``period``, from the samples ``t``.

    Between two phase-neighbours with different labels lies an arc start: an integer in
    ``[phase_a + 1, phase_b]``. The coarsest lattice ``r + q Z`` with ``q`` dividing ``period``
    that meets every such interval places every start exactly (a clock digit's arcs are
    equal, at whatever phase they begin); ``r`` is the one residue all intervals allow, the
    middle one if several remain. With no lattice coarser than every integer, and fewer
    starts than integers, the starts go to the middle of their gaps.
    """
    t = np.asarray(t, dtype=np.int64)
    phase = np.mod(t, period)
    order = np.argsort(phase, kind="stable")
    ph, lab = phase[order], np.asarray(labels)[order]
    change = np.flatnonzero(lab != np.roll(lab, 1))  # sample i starts a new arc
    if change.size == 0:
        return ArcMap(period, np.zeros(1, dtype=np.int64), period, 0)
    hi = ph[change]
    prev = ph[change - 1]  # index -1 wraps to the last sample
    lo = np.where(change == 0, prev - period, prev) + 1  # may be negative: phases are mod P
    n_starts = change.size
    for q in _divisors(int(period)):
        if q > period // n_starts:
            continue
        i = int(np.argmin(hi - lo))
        allowed = [
            r
            for r in np.unique(np.mod(np.arange(lo[i], hi[i] + 1), q))
            if np.all(lo + np.mod(r - lo, q) <= hi)
        ]
        if allowed and (q > 1 or n_starts == period):
            r = int(allowed[len(allowed) // 2])
            starts = np.sort(np.mod(r + q * np.arange(period // q), period))
            return ArcMap(int(period), starts, int(q), r)
    mids = np.sort(np.mod((lo + hi + 1) // 2, period))
    return ArcMap(int(period), mids, 0, 0)


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
