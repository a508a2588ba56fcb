"""The failure map: how often gradient descent finds ``w* = 31`` against the cycles in the domain,
per optimiser and start, beside the chance that the start lies in the basin of attraction.

Reads records of the method ``sgd-sinusoid`` (and its variants) on the tasks ``sin31[cycles=C]``;
the theory comes from ``bench.lib.landscape.basin_probability``. Each row is one (optimiser,
start, C) cell: successes out of the judged seeds, the rate with its 95% Wilson interval, the
theoretical probability, and whether the theory lies inside the interval. Records of the
networks (``NETWORKS``) on the same tasks form their own rows and panel (start ``network``: each
network's own initialisation, for which the basin theory does not apply). Starts spread over
the band the samples resolve (start ``band``: ``init=band``, and the best of ``restarts=K``
such starts) take their band from the records (``max_freq_searched``) and their theory from
``band_basin_probability`` and ``multistart_probability``; a multi-start row also shows
``1 - (1 - q)^K`` for the measured single-start rate ``q`` of the same optimiser, where there is
one.

Run it on a results folder to write ``failure_map.md`` and ``failure_map.png`` beside the
records::

    python -m bench.report.failure_map results/failure-map-cpu
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.record import latest_per_run
from bench.lib.landscape import (
    INITS,
    TARGET,
    band_basin_probability,
    basin,
    basin_probability,
    multistart_probability,
)
from bench.report.plotkit import Figure, pyplot, save
from bench.report.stats import wilson_interval
from bench.report.tables import Table

METHOD_FAMILY = "sgd-sinusoid"
TASK_FAMILY = "sin31"
#: Method families drawn as networks (their own initialisation; no basin theory).
NETWORKS = ("siren", "snake", "gelu-mlp")
NETWORK_START = "network"
#: The start spread over the band the training samples resolve (``sgd-sinusoid[init=band]``
#: and every ``sgd-sinusoid[restarts=K]``, K > 1).
BAND = "band"
OPT_ORDER = ("sgd", "sgd-stable", "adam")
OPT_LABELS = {
    "sgd": "SGD lr 1e-4 (original)",
    "sgd-stable": "SGD, stable step",
    "adam": "Adam lr 1e-3",
}


@functools.cache
def theory(cycles: float, init: str) -> float:
    """Probability that the start lies in the basin of ``w*`` (``basin_probability``), cached."""
    return basin_probability(float(cycles), init)


@functools.cache
def band_theory(cycles: float, w_max: float, starts: int = 1) -> float:
    """Probability that at least one of ``starts`` starts uniform on ``[0, w_max]`` lies in the
    basin of ``w*``: ``1 - (1 - p)^K`` with ``p`` from ``band_basin_probability``, cached."""
    return multistart_probability(band_basin_probability(float(cycles), float(w_max)), starts)


@functools.cache
def _basin(cycles: float) -> tuple[float, float]:
    return basin(TARGET, float(cycles) * math.pi / TARGET)


#: Whether a run's start ``w0`` lay in the basin of ``w*`` (or of ``-w*``); ``None`` where it
#: cannot be known. Records keep no ``w0``: answering needs the method's own draw, hence the
#: plugins, so the caller that has them supplies this (``bench.app.report.start_in_basin``).
StartInBasin = Callable[[dict[str, Any]], bool | None]


def lies_in_basin(w0: float, cycles: float) -> bool:
    """Whether a start ``w0`` lies in the basin of ``w*`` or of ``-w*`` with ``cycles``
    cycles in the domain (the basin of the expected profile loss, ``bench.lib.landscape``)."""
    lo, hi = _basin(float(cycles))
    return lo < abs(float(w0)) < hi


Cell = tuple[str, str, int, float, str]  # optimiser, start, starts per seed, cycles, profile


def _cell(r: dict[str, Any]) -> Cell | None:
    family = r.get("method_family")
    if family not in (METHOD_FAMILY, *NETWORKS) or r.get("task_family") != TASK_FAMILY:
        return None
    cycles = (r.get("task_params") or {}).get("cycles")
    if cycles is None:
        return None
    if family != METHOD_FAMILY:
        return (str(r["method"]), NETWORK_START, 1, float(cycles), r.get("profile", ""))
    mp = {**(r.get("method_params") or {}), **(r.get("params") or {})}
    k = int(mp.get("restarts", 1))
    init = BAND if k > 1 else mp.get("init", "randn")  # several starts are always the band's
    return (mp.get("opt", "sgd"), init, k, float(cycles), r.get("profile", ""))


def _opt_rank(opt: str) -> tuple[int, str]:
    return (OPT_ORDER.index(opt) if opt in OPT_ORDER else len(OPT_ORDER), opt)


def failure_map_rows(
    records: Sequence[dict[str, Any]], start_in_basin: StartInBasin | None = None
) -> list[dict[str, Any]]:
    """One row per (optimiser, start, starts per seed, cycles, profile) of ``sgd-sinusoid`` on
    ``sin31[cycles=C]``.

    Keys: ``optimiser``, ``init``, ``restarts`` (starts per seed; several are always drawn over
    the band, ``init`` "band"), ``cycles``, ``profile``, ``method``, ``successes``, ``n``
    (seeds judged: a run that did not finish counts as a failure, a skipped one is left out),
    ``not_ok`` (of those, runs whose status was not ``ok``), ``rate``, ``ci_low``, ``ci_high``
    (95% Wilson), ``theory`` (probability that the start, or one of the ``restarts`` starts,
    lies in the basin), ``theory_inside`` (the theory within the interval),
    ``theory_from_single`` (``1 - (1 - q)^K`` from the measured rate ``q`` of the single band
    start with the same optimiser; NaN where there is none), ``median_freq_error`` (over the
    judged seeds), and ``in_basin`` (seeds that started in the basin), ``successes_in_basin``
    and ``successes_outside``: from each run's start as ``start_in_basin`` tells it, or for
    band starts from the kept start the record holds (``w0_kept``); ``None`` where a start is
    not known, and for fixed-distribution rows without ``start_in_basin``.
    """
    cells: dict[Cell, list[dict[str, Any]]] = {}
    for r in latest_per_run(records)[0]:
        key = _cell(r)
        if key is not None and r.get("success") is not None:
            cells.setdefault(key, []).append(r)
    rows = [_row(key, recs, start_in_basin) for key, recs in cells.items()]
    single = {
        (r["optimiser"], r["cycles"], r["profile"]): r["rate"]
        for r in rows
        if r["init"] == BAND and r["restarts"] == 1
    }
    for r in rows:
        q = single.get((r["optimiser"], r["cycles"], r["profile"])) if r["restarts"] > 1 else None
        k = r["restarts"]
        r["theory_from_single"] = math.nan if q is None else multistart_probability(q, k)
    rows.sort(key=_row_order)
    return rows


def _row_order(r: dict[str, Any]) -> tuple[Any, ...]:
    """Fixed-distribution starts (and networks) first, then the band's by starts per seed."""
    init_key = (r["init"] == BAND, r["init"], r["restarts"])
    return (*init_key, _opt_rank(r["optimiser"]), r["cycles"], r["profile"])


def _metric(r: dict[str, Any], name: str) -> float | None:
    v = (r.get("metrics") or {}).get(name)
    return None if v is None else float(v)


def _row_theory(init: str, restarts: int, cycles: float, recs: list[dict[str, Any]]) -> float:
    """The chance of a start in the basin: from the named distribution, or for band starts
    from the band the runs recorded (the median over the seeds; it varies only with the span
    of each seed's samples)."""
    if init in INITS:
        return theory(cycles, init)
    tops = [v for r in recs if (v := _metric(r, "max_freq_searched")) is not None and v > 0]
    if init != BAND or not tops:
        return math.nan
    return band_theory(cycles, statistics.median(tops), restarts)


def _row(key: Cell, recs: list[dict[str, Any]], lookup: StartInBasin | None) -> dict[str, Any]:
    opt, init, restarts, cycles, profile = key
    n = len(recs)
    k = sum(1 for r in recs if r["success"] is True)
    lo, hi = wilson_interval(k, n)
    p = _row_theory(init, restarts, cycles, recs)
    if init == BAND:  # the kept start, as the run recorded it
        starts = [None if (w0 := _metric(r, "w0_kept")) is None else lies_in_basin(w0, cycles)
                  for r in recs]  # fmt: skip
    else:
        starts = [lookup(r) if lookup else None for r in recs]
    known = all(v is not None for v in starts)
    inside = [r for r, v in zip(recs, starts, strict=True) if v]
    outside = [r for r, v in zip(recs, starts, strict=True) if v is False]
    errs = [e for r in recs if (e := _metric(r, "freq_error")) is not None]
    return {
        "optimiser": opt,
        "init": init,
        "restarts": restarts,
        "cycles": int(cycles) if float(cycles).is_integer() else cycles,
        "profile": profile,
        "method": recs[0]["method"],
        "successes": k,
        "n": n,
        "not_ok": sum(1 for r in recs if r.get("status") != "ok"),
        "rate": k / n,
        "ci_low": lo,
        "ci_high": hi,
        "theory": p,
        "theory_inside": bool(lo <= p <= hi) if math.isfinite(p) else None,
        "median_freq_error": statistics.median(errs) if errs else math.nan,
        "in_basin": len(inside) if known else None,
        "successes_in_basin": sum(r["success"] is True for r in inside) if known else None,
        "successes_outside": sum(r["success"] is True for r in outside) if known else None,
    }


def _pct(p: float) -> str:
    if not math.isfinite(p):
        return "-"
    if p == 0:
        return "0%"
    if p < 1e-6:  # the N(0, 1) start's chance of a basin 15 or more standard deviations away
        return f"~0 ({p:.0e})"
    return f"{100 * p:.3g}%"


def _num(v: float) -> str:
    return f"{v:.3g}" if math.isfinite(v) else "-"


def _start(r: dict[str, Any]) -> str:
    return str(r["init"]) if r["restarts"] == 1 else f"{r['init']}, best of {r['restarts']}"


def _given(k: int | None, n: int | None) -> str:
    return "-" if k is None or n is None or n == 0 else f"{k} / {n}"


def failure_map_table(
    records: Sequence[dict[str, Any]], start_in_basin: StartInBasin | None = None
) -> Table | None:
    """The failure map as a report table (rates and theory in percent); ``None`` when the
    records hold no ``sgd-sinusoid`` run on ``sin31[cycles=C]``. The started-in-basin columns
    need ``start_in_basin`` (see :data:`StartInBasin`); without it they read ``-``."""
    rows = failure_map_rows(records, start_in_basin)
    if not rows:
        return None
    cells = []
    for r in rows:
        inside = {True: "yes", False: "**no**", None: "-"}[r["theory_inside"]]
        nin = r.get("in_basin")
        nout = None if nin is None else r["n"] - nin
        cells.append(
            [
                _start(r), r["optimiser"], str(r["cycles"]), f"{r['successes']} / {r['n']}",
                _pct(r["rate"]), f"{_pct(r['ci_low'])} - {_pct(r['ci_high'])}",
                _pct(r["theory"]), inside, _pct(r["theory_from_single"]), _given(nin, r["n"]),
                _given(r.get("successes_in_basin"), nin), _given(r.get("successes_outside"), nout),
                _num(r["median_freq_error"]),
            ]
        )  # fmt: skip
    return Table(
        "failure_map",
        "The failure map",
        "How often gradient descent finds w* = 31 in a sin(w x + phi) + c against sin(31 x), "
        "x ~ U[-R, R] with R = C pi / 31 (C cycles in the domain), per start and optimiser. "
        "Rate with its 95% Wilson interval; theory: the probability that the start lies in the "
        "basin of w* (or of -w*) of the expected profile loss (bench.lib.landscape); theory "
        "inside: the theory lies within the interval. Started in basin: seeds whose start "
        "(recomputed from the record's seed) lay in that basin, and how many of those, and of "
        "the others, succeeded. Rows with start 'network' are the networks (SIREN, Snake, "
        "GELU MLP) with their tuned settings on the same tasks; the basin theory is about the "
        "one-tone model and does not apply to them. Start 'band': w0 ~ U[0, w_max], w_max the "
        "band the run's samples resolve (its mean-rate Nyquist, recorded as max_freq_searched; "
        "no knowledge of w*); 'best of K': K such starts per seed on the same batches, the one "
        "with the lowest training loss kept. Their theory is the chance that at least one start "
        "lies in the basin, 1 - (1 - p)^K; theory from single-start rate: 1 - (1 - q)^K with q "
        "the measured rate of the single band start with the same optimiser. For band starts, "
        "started in basin counts the kept start, as the record holds it.",
        [
            "start", "optimiser", "cycles", "successes / seeds", "rate", "95% Wilson interval",
            "theory: start in basin", "theory inside", "theory from single-start rate",
            "started in basin",
            "successes of those", "successes from outside", "median freq error",
        ],
        cells,
    )  # fmt: skip


def failure_map_plot(records: Sequence[dict[str, Any]]) -> Any:
    """Success rate (95% Wilson intervals) against cycles on log axes, one panel per start (and
    number of starts), one series per optimiser, the theory on the same axes; legend outside.

    The rate axis is symmetric-log: linear below 1e-4, so that 0 successes (and the lower end of
    their intervals) stay on the plot, logarithmic above, where the theory falls as ``1 / C``.
    """
    plt = pyplot()
    rows = failure_map_rows(records)
    if not rows:
        raise ValueError("no records of sgd-sinusoid on sin31[cycles=C] to draw")
    panels = sorted({(r["init"], r["restarts"]) for r in rows}, key=lambda p: (p[0] == BAND, p))
    opts = sorted({r["optimiser"] for r in rows}, key=_opt_rank)
    ncols = min(len(panels), 4)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.2 * nrows), squeeze=False)
    handles: dict[str, Any] = {}
    for ax, (init, k) in zip(axes.flat, panels, strict=False):
        mine = [r for r in rows if r["init"] == init and r["restarts"] == k]
        _panel(ax, mine, opts, handles)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.legend(
        list(handles.values()),
        list(handles.keys()),
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle("Failure map: fitting sin(31 x), x ~ U[-C pi/31, C pi/31]")
    fig.tight_layout()
    return fig


def _panel(ax: Any, mine: list[dict[str, Any]], opts: list[str], handles: dict[str, Any]) -> None:
    """One start's panel: the theory (a curve for a fixed distribution, the rows' values for
    the band, whose top each run recorded), then each optimiser's rates."""
    init, k = mine[0]["init"], mine[0]["restarts"]
    cs = sorted({float(r["cycles"]) for r in mine})
    if init in INITS:
        grid = np.geomspace(min(cs), max(cs), 200) if len(cs) > 1 else np.array(cs)
        grid = np.unique(np.concatenate([grid, cs]))
        (h,) = ax.plot(grid, [theory(c, init) for c in grid], "k--", lw=1.2)
        handles["theory: P(start in basin)"] = h
    elif init == BAND:
        at = {float(r["cycles"]): r["theory"] for r in mine if math.isfinite(r["theory"])}
        if at:
            (h,) = ax.plot(list(at), list(at.values()), "k--", lw=1.2)
            handles["theory: P(start in basin)"] = h
    for j, opt in enumerate(opts):
        series = sorted((r for r in mine if r["optimiser"] == opt), key=lambda r: r["cycles"])
        if not series:
            continue
        shift = 1.09 ** (j - (len(opts) - 1) / 2)  # side by side, not on top of each other
        x = np.array([float(r["cycles"]) for r in series]) * shift
        y = np.array([r["rate"] for r in series])
        err = np.array([[r["rate"] - r["ci_low"] for r in series],
                        [r["ci_high"] - r["rate"] for r in series]])  # fmt: skip
        h = ax.errorbar(x, y, yerr=err, fmt="o-", ms=4, lw=1, capsize=2)
        handles[OPT_LABELS.get(opt, opt)] = h
        from_single = [(c, r["theory_from_single"]) for c, r in zip(x, series, strict=True)
                       if math.isfinite(r.get("theory_from_single", math.nan))]  # fmt: skip
        if from_single:
            (d,) = ax.plot(*zip(*from_single, strict=True), ":", color=h[0].get_color(), lw=1.2)
            handles["theory from the single-start rate, 1 - (1 - q)^K (dotted)"] = d
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-4, linscale=0.5)
    ax.set_ylim(-2e-5, 1.5)
    ax.set_xlabel("cycles of sin(31 x) in the domain, C")
    ax.set_ylabel("success rate (test MSE < 1e-4)")
    label = INITS[init].label if init in INITS else init
    if init == NETWORK_START:
        label = "networks, tuned settings, own initialisation"
    elif init == BAND:
        label = "w0 ~ U[0, w_max], the band the samples resolve"
        label += f", best of {k} by training loss" if k > 1 else ""
    n = max(r["n"] for r in mine)
    ax.set_title(f"{label}\n(up to {n} seeds per point)", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)


def failure_map_figures(records: Sequence[dict[str, Any]], out: Path, svg: bool) -> list[Figure]:
    """The failure map (``bench.report.failure_map``), when the records hold one."""
    if not failure_map_rows(records):
        return []
    png, svg_path = save(failure_map_plot(records), out, "failure_map", svg)
    caption = (
        "Share of seeds of a sin(w x + phi) + c that reach w* = 31 (test MSE < 1e-4) against the "
        "cycles C in the domain, with 95% Wilson intervals, one panel per start and one series "
        "per optimiser; dashed: the probability that the start (of K starts: any one) lies in the "
        "basin of w*; dotted: 1 - (1 - q)^K from the measured single-start rate q. The "
        "rate axis is linear below 1e-4 so that zero successes stay visible."
    )
    return [Figure("failure_map", "The failure map", caption, png, svg_path)]
