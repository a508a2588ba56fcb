"""Figures from records: convergence curves, success against cycles, frequency error against the
Cramer-Rao bound, and the performance profile. PNG (for pages) and SVG (for papers).

matplotlib is imported inside :func:`pyplot` so that ``bench list`` and ``bench run`` never pay
for it. Figures are small (100 dpi) because published results are committed to the repository.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import stats
from .document import Figure
from .records import natural_key
from .summaries import Summary, cost_matrix, snr_points

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

DPI = 100


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed, headless-safe)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def slug(text: str) -> str:
    """A file-name-safe version of a task id: ``tone[cycles=10]`` -> ``tone_cycles_10``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_") or "x"


def method_colours(methods: Sequence[str]) -> dict[str, Any]:
    """One fixed colour per method across every figure of a report."""
    plt = pyplot()
    names = sorted(set(methods), key=natural_key)
    if len(names) <= 20:
        cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
        return {m: cmap(i) for i, m in enumerate(names)}
    cmap = plt.get_cmap("hsv")
    return {m: cmap(i / len(names)) for i, m in enumerate(names)}


def save(fig: MplFigure, out: Path, name: str, svg: bool = True) -> tuple[Path, Path | None]:
    """Write ``name.png`` (and ``name.svg`` when ``svg``; the PNGs are what the HTML page
    embeds) and close the figure."""
    plt = pyplot()
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    fig.savefig(png, dpi=DPI, bbox_inches="tight")
    svg_path = out / f"{name}.svg" if svg else None
    if svg_path is not None:
        fig.savefig(svg_path, bbox_inches="tight")
    plt.close(fig)
    return png, svg_path


def draw_all(
    records: Sequence[dict[str, Any]], summaries: Sequence[Summary], out: Path, svg: bool = True
) -> list[Figure]:
    """Every figure the records support; a family of figures with no data is left out. Each is
    written as PNG, and also as SVG when ``svg``."""
    colours = method_colours([r["method"] for r in records])
    figures: list[Figure] = []
    fig = performance_profile_figure(summaries, colours, out, svg)
    if fig is not None:
        figures.append(fig)
    figures += cycles_figures(summaries, colours, out, svg)
    figures += snr_figures(records, colours, out, svg)
    figures += convergence_figures(records, colours, out, svg)
    return figures + landscape_figures(out)


def landscape_figures(out: Path) -> list[Figure]:
    """The landscape figures, when ``bench landscape --out <report>/plots`` drew them there
    (they come from a formula and sampling, not from records, so the report never redraws them).
    """
    caption = (
        "Loss of sin(w x) against the target and its gradient dL/dw, averaged over a large batch "
        "(blue), the closed form (black), and the spread of one SGD batch's gradient (shaded). "
        "Away from the basin the expected gradient is tiny and flips sign every 2 pi/R, far "
        "below the noise of any practical batch. Drawn by python -m bench landscape."
    )
    found = []
    for name, what in (("landscape_wide", "wide range"), ("landscape_zoom", "around the target")):
        png = out / f"{name}.png"
        if png.exists():
            svg = out / f"{name}.svg"
            found.append(
                Figure(name, f"Loss landscape, {what}", caption, png, svg if svg.exists() else None)
            )
    return found


# -- convergence ----------------------------------------------------------------------------


def seed_curves(recs: Sequence[dict[str, Any]], axis: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per seed, (x, loss) from the trace; ``axis`` 0 = step, 1 = seconds (per-seed share)."""
    curves = []
    for r in recs:
        pts = [p for p in r.get("trace") or [] if p[2] is not None and math.isfinite(p[2])]
        if not pts:
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
    records: Sequence[dict[str, Any]], colours: dict[str, Any], out: Path, svg: bool = True
) -> list[Figure]:
    by_task: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("trace"):
            by_task.setdefault(r["task"], []).append(r)
    return [
        convergence_figure(task, by_task[task], colours, out, svg)
        for task in sorted(by_task, key=natural_key)
    ]


def convergence_figure(
    task: str,
    recs: Sequence[dict[str, Any]],
    colours: dict[str, Any],
    out: Path,
    svg: bool = True,
) -> Figure:
    """Loss against step and against seconds; one line per method, seeds as a min-max band."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    methods = sorted({r["method"] for r in recs}, key=natural_key)
    target = next((r["loss_target"] for r in recs if r.get("loss_target") is not None), None)
    floor = _loss_floor(recs)
    for ax, axis, label in ((axes[0], 0, "step"), (axes[1], 1, "training seconds per seed")):
        span = []
        for m in methods:
            curves = seed_curves([r for r in recs if r["method"] == m], axis)
            if not curves:
                continue
            x, med, lo, hi = band(curves)
            med, lo, hi = (np.maximum(v, floor) for v in (med, lo, hi))
            n = len(curves)
            ax.plot(x, med, color=colours[m], lw=1.4, label=f"{m} ({n} seed{'s' * (n > 1)})")
            if n > 1:
                ax.fill_between(x, lo, hi, color=colours[m], alpha=0.18, lw=0)
            span += [x[x > 0].min(initial=np.inf), x.max(initial=0)]
        if target is not None:
            ax.axhline(target, color="0.3", ls="--", lw=1, label="loss target")
        ax.set_yscale("log")
        finite = [s for s in span if math.isfinite(s) and s > 0]
        if finite and max(finite) / min(finite) > 100:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("training loss")
        ax.grid(True, which="major", alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(f"Convergence on {task}", fontsize=11)
    fig.tight_layout()
    name = f"convergence_{slug(task)}"
    png, svg_path = save(fig, out, name, svg)
    caption = (
        "Training loss (log scale) against step and against training seconds per seed. Line: "
        "median over seeds; band: min to max over seeds. Dashed: the task's loss target."
    )
    return Figure(name, f"Convergence on {task}", caption, png, svg_path)


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
    summaries: Sequence[Summary], colours: dict[str, Any], out: Path, svg: bool = True
) -> list[Figure]:
    """Success rate against cycles in the domain, one line per method, Wilson interval bars."""
    plt = pyplot()
    figures = []
    for group, items in sorted(_group_by_param(summaries, "cycles").items()):
        items = [(c, s) for c, s in items if s["judged"]]
        if len({c for c, _ in items}) < 2:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        methods = sorted({s.method for _, s in items}, key=natural_key)
        for i, m in enumerate(methods):
            pts = sorted(((c, s) for c, s in items if s.method == m), key=lambda p: p[0])
            # A small sideways shift per method keeps overlapping interval bars apart.
            c = np.array([p[0] for p in pts]) * 1.06 ** (i - (len(methods) - 1) / 2)
            y = np.array([p[1]["success_rate"] for p in pts])
            lo = y - np.array([p[1]["ci_low"] for p in pts])
            hi = np.array([p[1]["ci_high"] for p in pts]) - y
            ax.errorbar(
                c,
                100 * y,
                yerr=100 * np.vstack([lo, hi]),
                color=colours[m],
                marker="o",
                ms=4,
                capsize=3,
                lw=1.3,
                label=m,
            )
        ax.set_xscale("log")
        ax.set_ylim(-3, 103)
        ax.set_xlabel("cycles of the target in the training domain")
        ax.set_ylabel("success rate (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(f"Success against cycles: {group}", fontsize=11)
        fig.tight_layout()
        name = f"success_vs_cycles_{slug(group)}"
        png, svg_path = save(fig, out, name, svg)
        caption = (
            "Share of seeds meeting the task's success criterion as the domain holds more cycles "
            "of the target; bars are 95% Wilson intervals over seeds."
        )
        figures.append(Figure(name, f"Success against cycles ({group})", caption, png, svg_path))
    return figures


# -- frequency error against the Cramer-Rao bound ------------------------------------------------


def snr_figures(
    records: Sequence[dict[str, Any]], colours: dict[str, Any], out: Path, svg: bool = True
) -> list[Figure]:
    plt = pyplot()
    figures = []
    for group, data in sorted(snr_points(records).items()):
        fig, ax = plt.subplots(figsize=(7, 4))
        for m in sorted(data["rmse"], key=natural_key):
            pts = sorted(data["rmse"][m].items())
            ax.plot(
                [p[0] for p in pts],
                [max(p[1], 1e-300) for p in pts],
                marker="o",
                ms=4,
                color=colours[m],
                lw=1.3,
                label=m,
            )
        if data["crlb"]:
            pts = sorted(data["crlb"].items())
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                color="black",
                ls="--",
                lw=1.5,
                label="Cramer-Rao bound",
            )
        ax.set_yscale("log")
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel("frequency RMSE (rad per unit)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(f"Frequency error against SNR: {group}", fontsize=11)
        fig.tight_layout()
        name = f"freq_rmse_vs_snr_{slug(group)}"
        png, svg_path = save(fig, out, name, svg)
        caption = (
            "Root-mean-square frequency error over seeds (finished runs) against the signal-to-"
            "noise ratio; dashed: the Cramer-Rao lower bound, as the RMS of each seed's bound. "
            "No unbiased estimator can lie below it."
        )
        figures.append(
            Figure(name, f"Frequency error against SNR ({group})", caption, png, svg_path)
        )
    return figures


# -- performance profile --------------------------------------------------------------------------


def performance_profile_figure(
    summaries: Sequence[Summary], colours: dict[str, Any], out: Path, svg: bool = True
) -> Figure | None:
    cost = cost_matrix(summaries)
    prof = stats.performance_profile(cost)
    finite = [v for r in prof.ratios.values() for v in r if math.isfinite(v)]
    if not prof.tasks or not finite:
        return None
    plt = pyplot()
    top = max(10.0, max(finite) * 2)
    fig, ax = plt.subplots(figsize=(7, 4))
    for m in sorted(prof.ratios, key=natural_key):
        r = sorted(v for v in prof.ratios[m] if math.isfinite(v))
        xs = [1.0, *r, top]
        ys = [prof.rho(m, 1.0), *[prof.rho(m, v) for v in r], prof.rho(m, top)]
        ax.step(xs, [100 * y for y in ys], where="post", color=colours[m], lw=1.5, label=m)
    ax.set_xscale("log")
    ax.set_xlim(1, top)
    ax.set_ylim(-3, 103)
    ax.set_xlabel("tau: within this factor of the best expected running time")
    ax.set_ylabel("tasks solved (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"Performance profile over {len(prof.tasks)} task(s)", fontsize=11)
    fig.tight_layout()
    png, svg_path = save(fig, out, "performance_profile", svg)
    caption = (
        "Fraction of tasks each method solves within a factor tau of the best method's expected "
        "running time to a success (ERT). Higher and further left is better; the value at the "
        "right edge is the share of tasks solved at all."
    )
    return Figure("performance_profile", "Performance profile", caption, png, svg_path)
