"""Statistics the report rests on: intervals, time-to-target, and a cross-task aggregate.

Kept apart from the report so that each number a table prints can be checked against a hand
computation (``tests/test_stats.py``). Everything here is plain Python on lists; no plotting,
no record parsing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054

#: Default ratios at which the performance profile is tabulated.
TAUS = (1.0, 2.0, 5.0, 10.0, 100.0)

TracePoint = Sequence[float | None]


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Why Wilson: with 3 to 20 seeds the normal ("Wald") interval collapses to zero width at 0/n
    and n/n, exactly the outcomes a benchmark of hard tasks produces most. Wilson stays inside
    [0, 1] and keeps a sensible width there. ``n == 0`` has no interval: ``(nan, nan)``.
    """
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, {n}], not {successes}")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # At 0/n and n/n the bound is exactly 0 (or 1); say so instead of printing rounding noise.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def chi_ratio_interval(n: int, level: float = 0.95) -> tuple[float, float]:
    """95% range of ``sqrt(mean(z_i^2))`` over ``n`` independent standard normals ``z_i``: what
    the RMS of error / bound looks like, by chance alone, for an estimator at the Cramer-Rao
    bound (``n * ratio^2`` is chi-square with ``n`` degrees of freedom)."""
    from scipy.stats import chi2

    a = (1 - level) / 2
    return (math.sqrt(chi2.ppf(a, n) / n), math.sqrt(chi2.ppf(1 - a, n) / n))


def time_to_target(trace: Sequence[TracePoint], target: float) -> tuple[int, float] | None:
    """``(step, seconds)`` of the first logged point whose loss is at or below ``target``.

    This is the fixed-target measure of optimisation benchmarks: how long until good enough,
    rather than how good after a fixed time. Its resolution is the trace's: the logger thins
    points as a run grows, so the answer is the first *logged* step at the target. ``None`` when
    the run never got there (or logged nothing).
    """
    for point in trace:
        step, seconds, loss = point[0], point[1], point[2]
        if loss is not None and math.isfinite(loss) and loss <= target:
            return int(step), float(seconds)
    return None


def still_improving(
    trace: Sequence[TracePoint], window: float = 0.1, alpha: float = 0.05
) -> bool | None:
    """Whether the loss was still going down when the run ended.

    Compares the last ``window`` fraction of logged losses with the same number just before
    them by a one-sided Mann-Whitney U test at level ``alpha``. A rank test rather than a ratio
    of means, because SGD losses are noisy and heavy-tailed: a loss that only floats (as in the
    original experiment) is not "improving", while a steady decline is, however small. A run
    that still improves was cut by its budget, not by the method. ``None`` when the trace is
    too short to tell (fewer than 4 points per window).
    """
    losses = [p[2] for p in trace]
    n_win = max(4, round(len(losses) * window))
    if len(losses) < 2 * n_win:
        return None
    last, prev = losses[-n_win:], losses[-2 * n_win : -n_win]
    if any(v is None or not math.isfinite(v) for v in last):
        return False  # ended on a non-finite loss: diverging, not improving
    prev_f = [v for v in prev if v is not None and math.isfinite(v)]
    if len(prev_f) < 4:
        return None
    if max(last) == min(last) == min(prev_f) == max(prev_f):
        return False  # flat (e.g. exactly zero): nothing left to improve
    from scipy.stats import mannwhitneyu

    p = mannwhitneyu(last, prev_f, alternative="less").pvalue
    return bool(math.isfinite(p) and p < alpha)


def expected_running_time(seconds: Sequence[float], successes: int) -> float:
    """Seconds spent over all runs, successful or not, divided by the number of successful runs.

    This is the "expected running time" of the COCO/BBOB benchmarks: the cost of one success
    when failed seeds are restarted, so ``seconds`` must hold the time of every attempted run
    (timed out, diverged and crashed ones included), as COCO counts the evaluations of
    unsuccessful runs; a failed run counted as 0 s makes failing look cheap. It folds
    reliability and speed into one number, so a fast method that succeeds on one seed in ten
    is not ranked above a slower, reliable one.
    ``inf`` when nothing succeeded.
    """
    if successes <= 0:
        return math.inf
    return float(sum(seconds)) / successes


@dataclass(frozen=True)
class Profile:
    """A Dolan-More performance profile over a set of tasks."""

    tasks: tuple[str, ...]
    #: ``ratios[method][i]``: cost on ``tasks[i]`` over the best cost there (``inf`` = unsolved).
    ratios: Mapping[str, tuple[float, ...]]

    def rho(self, method: str, tau: float) -> float:
        """Fraction of all tasks that ``method`` solves within a factor ``tau`` of the best."""
        r = self.ratios[method]
        return sum(1 for v in r if v <= tau) / len(r) if r else math.nan

    def solved(self, method: str) -> int:
        return sum(1 for v in self.ratios[method] if math.isfinite(v))


def performance_profile(cost: Mapping[str, Mapping[str, float | None]]) -> Profile:
    """Dolan-More performance profile from ``cost[method][task]`` (lower is better).

    A missing, ``None`` or non-finite cost means the method did not solve the task. The
    denominator of every fraction is the number of tasks in the comparison, so tasks no method
    solved count against every method alike. A task where the best cost is 0 gives ratio 1 to
    every method that also took 0, and ``inf`` to the rest.
    """
    tasks = tuple(sorted({t for per in cost.values() for t in per}))
    best: dict[str, float] = {}
    for t in tasks:
        finite = [c for per in cost.values() if _finite(c := per.get(t))]
        best[t] = min(finite) if finite else math.inf
    ratios = {}
    for method, per in cost.items():
        row = []
        for t in tasks:
            c = per.get(t)
            if not _finite(c) or not math.isfinite(best[t]):
                row.append(math.inf)
            elif best[t] == 0:
                row.append(1.0 if c == 0 else math.inf)
            else:
                row.append(float(c) / best[t])
        ratios[method] = tuple(row)
    return Profile(tasks, ratios)


def average_rank(cost: Mapping[str, Mapping[str, float | None]]) -> dict[str, float]:
    """Mean rank of each method over the tasks (1 = cheapest); ties share the mean rank and
    unsolved tasks tie for last place. A second view of the same costs as the profile, less
    sensitive to how large the ratios are."""
    tasks = sorted({t for per in cost.values() for t in per})
    methods = list(cost)
    totals = dict.fromkeys(methods, 0.0)
    for t in tasks:
        keyed = [(float(c) if _finite(c := cost[m].get(t)) else math.inf, m) for m in methods]
        for m, r in _ranks(keyed).items():
            totals[m] += r
    return {m: totals[m] / len(tasks) if tasks else math.nan for m in methods}


def _ranks(keyed: Sequence[tuple[float, str]]) -> dict[str, float]:
    ordered = sorted(keyed)
    out: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][0] == ordered[i][0]:
            j += 1
        for k in range(i, j + 1):
            out[ordered[k][1]] = (i + j) / 2 + 1
        i = j + 1
    return out


def _finite(v: float | None) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles and range of finite values (``nan`` everywhere when there are none).

    Medians and quartiles rather than mean and standard deviation: a benchmark over seeds mixes
    runs that converged (loss 1e-20) with runs that did not (loss 1), and a mean reports neither.
    """
    v = sorted(x for x in values if _finite(x))
    if not v:
        return dict.fromkeys(("median", "q25", "q75", "min", "max"), math.nan) | {"n": 0}
    if len(v) == 1:
        q25 = q75 = v[0]
    else:
        q25, _, q75 = statistics.quantiles(v, n=4, method="inclusive")
    return {
        "median": statistics.median(v),
        "q25": q25,
        "q75": q75,
        "min": v[0],
        "max": v[-1],
        "n": len(v),
    }
