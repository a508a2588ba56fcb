"""The drawings of the two across-task figures (their files and captions are written by
``plots``): the performance profile, one step line per method, the fraction of tasks it solves
within a factor tau of the best ERT; and the fixed-target ECDF (``ecdf``), one step line per
method, the share of (task, seed, target) triples reached against seconds per seed.

The ERT counts the time of every attempted run, failed ones included (``cost_tables``); where
some runs' time is unknown the caption says whose costs are lower bounds (:func:`caveat`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bench.report import stats
from bench.report.cost_tables import unknown_note
from bench.report.ecdf import Ecdf
from bench.report.plotkit import Style, finish_panel, panels, pyplot
from bench.report.summaries import Summary, cost_matrix, cost_unknown

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

#: Percentage points between the lines of methods with equal profiles (all solving nothing, say),
#: so that none hides another.
NUDGE = 0.8


def caveat(summaries: Sequence[Summary]) -> str:
    """The caption's note on lower-bound costs (runs of unknown time); '' when there are none."""
    return unknown_note(cost_unknown(summaries))


#: One method's step line: ``(xs, ys)``, ys as shares in [0, 1].
Curve = tuple[list[float], list[float]]


def _step_figure(
    methods: Sequence[str],
    styles: dict[str, Style],
    curve: Callable[[str], Curve],
    xlim: tuple[float, float],
    labels: tuple[str, str, str],
    markers: Callable[[list[float]], bool],
) -> tuple[MplFigure, bool]:
    """One step line per method (``curve``), in percent on a log x axis, split into panels as
    ``plotkit.panels`` groups the methods; ``labels`` are the y label, the x label and the
    title. Returns the figure and whether it has several panels."""
    plt = pyplot()
    groups = panels(list(methods), styles)
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(7.5, 0.5 + 3.4 * len(groups)), sharex=True, squeeze=False
    )
    for (title, members), ax in zip(groups, axes[:, 0], strict=True):
        for i, m in enumerate(members):
            xs, ys = curve(m)
            nudge = NUDGE * (i - (len(members) - 1) / 2)
            ax.step(
                xs,
                [100 * y + nudge for y in ys],
                where="post",
                label=m,
                **styles[m].line(markers(xs), layer=i),
            )
        ax.set_xscale("log")
        ax.set_xlim(*xlim)
        ax.set_ylim(-4, 104)
        finish_panel(ax, labels[0], title, minor_grid=True)
    axes[-1, 0].set_xlabel(labels[1])
    fig.suptitle(labels[2], fontsize=11)
    fig.tight_layout()
    return fig, len(groups) > 1


def performance_profile_plot(
    summaries: Sequence[Summary], styles: dict[str, Style]
) -> tuple[MplFigure, bool] | None:
    cost = cost_matrix(summaries)
    prof = stats.performance_profile(cost)
    finite = [v for r in prof.ratios.values() for v in r if math.isfinite(v)]
    if not prof.tasks or not finite:
        return None
    top = max(10.0, max(finite) * 2)

    def curve(m: str) -> Curve:
        r = sorted(v for v in prof.ratios[m] if math.isfinite(v))
        return [1.0, *r, top], [prof.rho(m, 1.0), *[prof.rho(m, v) for v in r], prof.rho(m, top)]

    labels = (
        "tasks solved (%)",
        "tau: within this factor of the best expected running time",
        f"Performance profile over {len(prof.tasks)} task(s)",
    )
    return _step_figure(list(prof.ratios), styles, curve, (1, top), labels, lambda _: True)


def ecdf_plot(ecdf: Ecdf, styles: dict[str, Style]) -> tuple[MplFigure, bool] | None:
    """Share of (task, seed, target) triples reached against seconds per seed (log axis), one
    step line per method; ``None`` when no method reached any target (nothing to place)."""
    finite = [t for times in ecdf.hits.values() for t in times if math.isfinite(t)]
    if not finite:
        return None
    low = max(min(finite), 1e-6) / 2
    high = max(max(finite), low * 10) * 2

    def curve(m: str) -> Curve:
        times = sorted(max(t, low) for t in ecdf.hits[m] if math.isfinite(t))
        return [low, *times, high], [
            ecdf.share(m, low),
            *[ecdf.share(m, t) for t in times],
            ecdf.share(m),
        ]

    labels = (
        "(task, seed, target) reached (%)",
        "seconds per seed (the run's total time)",
        f"Fixed-target ECDF over {len(ecdf.tasks)} task(s)",
    )
    return _step_figure(
        list(ecdf.hits), styles, curve, (low, high), labels, lambda xs: len(xs) > 15
    )
