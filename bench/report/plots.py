"""Figures from records: convergence curves, success against cycles, frequency error against the
Cramer-Rao bound, and the performance profile. PNG (for pages) and SVG (for papers).

Every figure follows the readability rules of :mod:`.plotkit`: at most six lines a panel (more
methods are split into panels by kind and family), one style per method, legends outside the
data. Each figure is built by a ``*_plot`` function (which returns the matplotlib figure, so that
tests can inspect it) and written by its ``*_figure(s)`` caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.naming import natural_key
from bench.report.ecdf import TARGET_FACTORS, ecdf_runs
from bench.report.failure_map import failure_map_figures
from bench.report.landscape import landscape_figures
from bench.report.plotkit import (
    MAX_LINES,
    Figure,
    Style,
    finish_panel,
    legend_outside,
    method_styles,
    panels,
    pyplot,
    save,
    slug,
)
from bench.report.profile_plot import NUDGE, caveat, ecdf_plot, performance_profile_plot
from bench.report.summaries import Summary, snr_points

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

#: A trace with fewer logged points is a result, not a curve: a spectral estimate logs its fit
#: once (or once per estimator pass) and takes no training steps to draw.
MIN_CURVE_POINTS = 3
REFERENCE = {"color": "black", "lw": 1.1, "ls": (0, (5, 3))}
SPLIT_NOTE = (
    " More than six lines are split into panels (gradient-trained, then spectral and hybrid "
    "methods, by family); panels share their axes and each method keeps its style throughout."
)

Styles = dict[str, Style]


def draw_all(
    records: Sequence[dict[str, Any]], summaries: Sequence[Summary], out: Path, svg: bool = True
) -> list[Figure]:
    """Every figure the records support; a family of figures with no data is left out. Each is
    written as PNG, and also as SVG when ``svg``."""
    styles = method_styles(records)
    figures: list[Figure] = []
    for fig in (
        performance_profile_figure(summaries, styles, out, svg),
        ecdf_figure(records, styles, out, svg),
    ):
        if fig is not None:
            figures.append(fig)
    figures += cycles_figures(summaries, styles, out, svg)
    figures += snr_figures(records, styles, out, svg)
    figures += convergence_figures(records, styles, out, svg)
    figures += failure_map_figures(records, out, svg)
    return figures + landscape_figures(out)


# -- convergence ----------------------------------------------------------------------------


def seed_curves(
    recs: Sequence[dict[str, Any]], axis: int, min_points: int = MIN_CURVE_POINTS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per seed that logged at least ``min_points`` finite losses, (x, loss) from the trace;
    ``axis`` 0 = step, 1 = seconds (per-seed share)."""
    curves = []
    for r in recs:
        pts = [p for p in r.get("trace") or [] if p[2] is not None and math.isfinite(p[2])]
        if len(pts) < max(min_points, 1):
            continue
        batch = (r.get("time") or {}).get("batch_seeds") or 1
        x = np.array([p[axis] for p in pts], dtype=float)
        if axis == 1:
            x = x / batch
        curves.append((x, np.array([p[2] for p in pts], dtype=float)))
    return curves


def band(
    curves: Sequence[tuple[np.ndarray, np.ndarray]], n_grid: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median, min and max over seeds on a common x grid.

    Seeds may log at different steps (or times), so each is interpolated onto one grid, in log
    loss (losses span many decades), and counts only inside its own x range.
    """
    xs = np.unique(np.concatenate([c[0] for c in curves]))
    if xs.size > n_grid:
        lo, hi = xs[0], xs[-1]
        xs = np.geomspace(lo, hi, n_grid) if lo > 0 else np.linspace(lo, hi, n_grid)
    ys = np.full((len(curves), xs.size), np.nan)
    for i, (x, y) in enumerate(curves):
        inside = (xs >= x[0]) & (xs <= x[-1])
        ys[i, inside] = np.interp(xs[inside], x, np.log10(np.maximum(y, 1e-300)))
    keep = ~np.all(np.isnan(ys), axis=0)
    xs, ys = xs[keep], ys[:, keep]
    med = 10 ** np.nanmedian(ys, axis=0)
    return xs, med, 10 ** np.nanmin(ys, axis=0), 10 ** np.nanmax(ys, axis=0)


def convergence_figures(
    records: Sequence[dict[str, Any]], styles: Styles, out: Path, svg: bool = True
) -> list[Figure]:
    by_task: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("trace"):
            by_task.setdefault(r["task"], []).append(r)
    figures = []
    for task in sorted(by_task, key=natural_key):
        fig = convergence_figure(task, by_task[task], styles, out, svg)
        if fig is not None:
            figures.append(fig)
    return figures


def convergence_figure(
    task: str, recs: Sequence[dict[str, Any]], styles: Styles, out: Path, svg: bool = True
) -> Figure | None:
    """The convergence figure of one task, or ``None`` when no method logged a curve."""
    built = convergence_plot(task, recs, styles)
    if built is None:
        return None
    fig, left_out, split = built
    name = f"convergence_{slug(task)}"
    png, svg_path = save(fig, out, name, svg)
    caption = (
        "Training loss (log scale) against step and against training seconds per seed. Line: "
        "median over seeds; band: min to max over seeds. Dashed black: the task's loss target."
    )
    if left_out:
        caption += (
            f" Not drawn: {', '.join(left_out)} (most seeds logged fewer than "
            f"{MIN_CURVE_POINTS} points: a spectral estimate takes no training steps and logs "
            "its result, not a curve; see the tables)."
        )
    if split:
        caption += SPLIT_NOTE
    return Figure(name, f"Convergence on {task}", caption, png, svg_path)


def convergence_plot(
    task: str, recs: Sequence[dict[str, Any]], styles: Styles
) -> tuple[MplFigure, list[str], bool] | None:
    """Loss against step (left) and against seconds (right); one line per method, seeds as a
    min-max band; a row of panels per group of methods. Returns the figure, the methods left
    out for want of a curve, and whether the methods were split into several rows."""
    plt = pyplot()
    methods = sorted({r["method"] for r in recs}, key=lambda m: styles[m].rank)
    curves = {
        m: [seed_curves([r for r in recs if r["method"] == m], a) for a in (0, 1)] for m in methods
    }
    traced = {m: sum(1 for r in recs if r["method"] == m and r.get("trace")) for m in methods}
    # A method is drawn when most of its seeds logged a curve (then those seeds are drawn).
    drawn = [m for m in methods if 2 * len(curves[m][0]) >= max(traced[m], 1)]
    left_out = [m for m in methods if m not in drawn]
    if not drawn:
        return None
    target = next((r["loss_target"] for r in recs if r.get("loss_target") is not None), None)
    floor = _loss_floor(recs)
    groups = panels(drawn, styles, MAX_LINES - (target is not None))
    fig, axes = plt.subplots(
        len(groups),
        2,
        figsize=(10, 0.5 + 3.0 * len(groups)),
        sharex="col",
        sharey=True,
        squeeze=False,
    )
    spans: list[list[float]] = [[], []]
    for row, (title, members) in enumerate(groups):
        for col, label in ((0, "step"), (1, "training seconds per seed")):
            ax = axes[row, col]
            for k, m in enumerate(members):
                x, med, lo, hi = band(curves[m][col])
                med, lo, hi = (np.maximum(v, floor) for v in (med, lo, hi))
                n = len(curves[m][col])
                style = styles[m]
                label_m = f"{m} ({n} seed{'s' * (n > 1)})"
                ax.plot(x, med, label=label_m, **style.line(len(x) > 15, layer=k))
                if n > 1:
                    ax.fill_between(x, lo, hi, color=style.colour, alpha=0.12, lw=0)
                spans[col] += [x[x > 0].min(initial=np.inf), x.max(initial=0)]
            if target is not None:
                ax.axhline(target, label="loss target", **REFERENCE)
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            if col == 0:
                ax.set_ylabel("training loss")
            if row == len(groups) - 1:
                ax.set_xlabel(label)
            if title:
                ax.set_title(title, fontsize=9, loc="left")
        legend_outside(axes[row, 1])
    for col in (0, 1):
        finite = [s for s in spans[col] if math.isfinite(s) and s > 0]
        if finite and max(finite) / min(finite) > 100:
            axes[0, col].set_xscale("log")
    fig.suptitle(f"Convergence on {task}", fontsize=11)
    fig.tight_layout()
    return fig, left_out, len(groups) > 1


def _loss_floor(recs: Sequence[dict[str, Any]]) -> float:
    """Where to draw a loss of exactly 0 on a log axis: a decade under the smallest positive."""
    pos = [p[2] for r in recs for p in r.get("trace") or [] if p[2] is not None and p[2] > 0]
    return min(pos) / 10 if pos else 1e-30


# -- success against cycles -------------------------------------------------------------------


def _group_by_param(
    summaries: Sequence[Summary], param: str
) -> dict[str, list[tuple[float, Summary]]]:
    """Summaries of tasks that vary ``param``, grouped by family and their other parameters."""
    groups: dict[str, list[tuple[float, Summary]]] = {}
    for s in summaries:
        tp = s.records[0].get("task_params") or {}
        v = tp.get(param)
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        rest = ", ".join(f"{k}={tp[k]}" for k in sorted(tp) if k != param)
        fam = s["task_family"] or s.task.split("[")[0]
        groups.setdefault(f"{fam}[{rest}]" if rest else fam, []).append((float(v), s))
    return groups


def cycles_figures(
    summaries: Sequence[Summary], styles: Styles, out: Path, svg: bool = True
) -> list[Figure]:
    """Success rate against cycles in the domain, one line per method, Wilson interval bars."""
    figures = []
    for group, items in sorted(_group_by_param(summaries, "cycles").items()):
        items = [(c, s) for c, s in items if s["judged"]]
        if len({c for c, _ in items}) < 2:
            continue
        fig, split = cycles_plot(group, items, styles)
        name = f"success_vs_cycles_{slug(group)}"
        png, svg_path = save(fig, out, name, svg)
        caption = (
            "Share of seeds meeting the task's success criterion as the domain holds more cycles "
            "of the target; bars are 95% Wilson intervals over seeds (methods shifted slightly "
            "sideways so that their bars stay apart). The axis is the task's C; a tone's domain "
            "holds between C and C + 1 cycles, drawn per seed (sin31[cycles=C]: exactly C)."
        ) + (SPLIT_NOTE if split else "")
        figures.append(Figure(name, f"Success against cycles ({group})", caption, png, svg_path))
    return figures


def cycles_plot(
    group: str, items: Sequence[tuple[float, Summary]], styles: Styles
) -> tuple[MplFigure, bool]:
    plt = pyplot()
    groups = panels([s.method for _, s in items], styles)
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(7.5, 0.5 + 3.4 * len(groups)), sharex=True, squeeze=False
    )
    for (title, members), ax in zip(groups, axes[:, 0], strict=True):
        for i, m in enumerate(members):
            pts = sorted(((c, s) for c, s in items if s.method == m), key=lambda p: p[0])
            # A small sideways shift per method keeps overlapping interval bars apart.
            c = np.array([p[0] for p in pts]) * 1.06 ** (i - (len(members) - 1) / 2)
            y = np.array([p[1]["success_rate"] for p in pts])
            lo = y - np.array([p[1]["ci_low"] for p in pts])
            hi = np.array([p[1]["ci_high"] for p in pts]) - y
            ax.errorbar(
                c,
                100 * y,
                yerr=100 * np.vstack([lo, hi]),
                capsize=3,
                label=m,
                **styles[m].line(layer=i),
            )
        ax.set_xscale("log")
        ax.set_ylim(-3, 103)
        finish_panel(ax, "success rate (%)", title)
    axes[-1, 0].set_xlabel("cycles of the target in the training domain")
    fig.suptitle(f"Success against cycles: {group}", fontsize=11)
    fig.tight_layout()
    return fig, len(groups) > 1


# -- frequency error against the Cramer-Rao bound ------------------------------------------------


def snr_figures(
    records: Sequence[dict[str, Any]], styles: Styles, out: Path, svg: bool = True
) -> list[Figure]:
    figures = []
    for group, data in sorted(snr_points(records).items()):
        fig, split = snr_plot(group, data, styles)
        name = f"freq_rmse_vs_snr_{slug(group)}"
        png, svg_path = save(fig, out, name, svg)
        caption = (
            "Root-mean-square frequency error over seeds (finished runs) against the signal-to-"
            "noise ratio; dashed: the Cramer-Rao lower bound, as the RMS of each seed's bound. "
            "No unbiased estimator can lie below it."
        ) + (SPLIT_NOTE if split else "")
        figures.append(
            Figure(name, f"Frequency error against SNR ({group})", caption, png, svg_path)
        )
    return figures


def snr_plot(group: str, data: dict[str, Any], styles: Styles) -> tuple[MplFigure, bool]:
    plt = pyplot()
    groups = panels(list(data["rmse"]), styles, MAX_LINES - bool(data["crlb"]))
    fig, axes = plt.subplots(
        len(groups),
        1,
        figsize=(7.5, 0.5 + 3.4 * len(groups)),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for (title, members), ax in zip(groups, axes[:, 0], strict=True):
        for k, m in enumerate(members):
            pts = sorted(data["rmse"][m].items())
            ys = [max(p[1], 1e-300) for p in pts]
            ax.plot([p[0] for p in pts], ys, label=m, **styles[m].line(layer=k))
        if data["crlb"]:
            pts = sorted(data["crlb"].items())
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label="Cramer-Rao bound", **REFERENCE)
        ax.set_yscale("log")
        finish_panel(ax, "frequency RMSE (rad per unit)", title, minor_grid=True)
    axes[-1, 0].set_xlabel("SNR (dB)")
    fig.suptitle(f"Frequency error against SNR: {group}", fontsize=11)
    fig.tight_layout()
    return fig, len(groups) > 1


# -- performance profile (drawn by profile_plot) -----------------------------------------------


def performance_profile_figure(
    summaries: Sequence[Summary], styles: Styles, out: Path, svg: bool = True
) -> Figure | None:
    built = performance_profile_plot(summaries, styles)
    if built is None:
        return None
    fig, split = built
    png, svg_path = save(fig, out, "performance_profile", svg)
    caption = (
        "Fraction of tasks each method solves within a factor tau of the best method's expected "
        "running time to a success (ERT). Higher and further left is better; the value at the "
        f"right edge is the share of tasks solved at all. Lines are nudged up to "
        f"{NUDGE * (MAX_LINES - 1) / 2:g} points apart so that equal profiles stay visible."
    ) + (SPLIT_NOTE if split else "")
    caption += caveat(summaries)  # whose costs are lower bounds (runs of unknown time)
    return Figure("performance_profile", "Performance profile", caption, png, svg_path)


def ecdf_figure(
    records: Sequence[dict[str, Any]], styles: Styles, out: Path, svg: bool = True
) -> Figure | None:
    """The fixed-target ECDF beside the performance profile (``ecdf`` states its rules)."""
    ecdf = ecdf_runs(records)
    built = None if ecdf is None else ecdf_plot(ecdf, styles)
    if ecdf is None or built is None:
        return None
    fig, split = built
    png, svg_path = save(fig, out, "ecdf", svg)
    targets = ", ".join(f"{f:g}" for f in TARGET_FACTORS)
    caption = (
        f"Share of (task, seed, target) triples each method reached, against seconds per seed, "
        f"over the {len(ecdf.tasks)} task(s) whose success bar is a numeric error where lower "
        f"is better; targets at the bar times {targets}. The records hold the judged metric "
        "only at the end of a run, so a run reaches a target at its total time when its final "
        "headline metric meets it, and never otherwise (not when its training loss first got "
        "there). Runs that diverged, timed out, ran out of memory, crashed or were skipped, and "
        "tasks a method did not run, reach nothing; the right end is the share reached in all. "
        "Lines are nudged up to "
        f"{NUDGE * (MAX_LINES - 1) / 2:g} points apart so that equal curves stay visible."
    ) + (SPLIT_NOTE if split else "")
    title = "Fixed-target ECDF"
    return Figure("ecdf", title, caption, png, svg_path)
