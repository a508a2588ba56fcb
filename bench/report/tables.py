"""Tables: the summaries as rows of text, each with a note on how to read it.

A :class:`Table` is renderer-agnostic (cells are already text), so the Markdown, HTML and LaTeX
pages print the same cells.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.core.naming import natural_key
from bench.core.record import STATUSES
from bench.report import stats
from bench.report.bars import NEAR_FACTOR
from bench.report.cells import (  # marks and words: imported from here by other modules
    BUDGET,
    CEILING,
    FAILED_AS,
    MIXED,
    NEAR,
    UNTUNED,
    bar_text,
    failed_steps,
    failure_words,
    representation_evidence,
    untuned_why,
    verdict_cell,
)
from bench.report.records import fmt, pct
from bench.report.summaries import Summary, snr_points


@dataclass
class Table:
    """A rendered-agnostic table: cells are already text; ``about`` says how to read it."""

    key: str
    title: str
    about: str
    columns: list[str]
    rows: list[list[str]]


def row_marker(s: Summary) -> str:
    return f" {MIXED}" if s["env_mixed"] else ""


def success_table(summaries: Sequence[Summary], show_env: bool) -> Table:
    cols = ["task", "method", "runs", "status", "success", "rate", "95% CI", "note"]
    rows = []
    for s in summaries:
        status = ", ".join(f"{s[f'n_{st}']} {st}" for st in STATUSES if s[f"n_{st}"])
        if not s["judged"] and s["n_skipped"]:
            succ, rate, ci = "-", "-", "-"
        elif s["representable"] is False:
            # Not a failure of the method: the rate would only measure the encoding.
            succ, rate, ci = f"{s['successes']}/{s['judged']}", "n/a", "-"
        elif s["judged"]:
            succ = f"{s['successes']}/{s['judged']}"
            rate, ci = pct(s["success_rate"]), f"[{pct(s['ci_low'])}, {pct(s['ci_high'])}]"
        else:
            succ, rate, ci = "no criterion", "-", "-"
        rows.append([s.task, s.method, str(s["runs"]), status, succ, rate, ci, _note(s)])
    if show_env:
        cols.append("env")
        for row, s in zip(rows, summaries, strict=True):
            row.append(s["env"] + row_marker(s))
    about = (
        "Successes over judged seeds, with a 95% Wilson score interval. Timeouts, divergences, "
        "out-of-memory and errors count as failures; skipped runs are listed with their reason "
        "and left out of the denominator. A task whose input encoding cannot represent the "
        "target is marked 'impossible by representation' instead of given a rate."
    )
    return Table("success", "Success rate", about, cols, rows)


def _note(s: Summary) -> str:
    parts = []
    if s["representable"] is False:
        parts.append("impossible by representation: " + representation_evidence(s, short=True))
    if s["ceiling_limited"] and s["representable"] is not False:
        parts.append(
            f"ceiling-limited: at best {fmt(s['ceiling_headline'])} {s['headline']} given the "
            "inputs the method receives"
        )
    if s["out_of_budget"]:
        parts.append(f"{s['out_of_budget']} failed seed(s) {FAILED_AS['ok']}")
    if s["near_misses"]:
        parts.append(f"{s['near_misses']} near miss(es) within {NEAR_FACTOR:g}x of the bar")
    if s["untuned"]:
        parts.append(f"{s['untuned']} seed(s) ran untuned: {untuned_why(s)}")
    if s["skip_reason"]:
        parts.append(f"skipped: {s['skip_reason']}")
    parts += failure_words(s)
    text = "; ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."


def accuracy_table(summaries: Sequence[Summary]) -> Table:
    cols = ["task", "method", "metric", "n", "median", "IQR", "range"]
    rows = []
    for s in summaries:
        if not s["headline"] or not s["headline_n"]:
            why = "skipped" if s["verdict"] == "skipped" else "-"
            rows.append([s.task, s.method, s["headline"] or "-", "0", why, "-", "-"])
            continue
        iqr = f"[{fmt(s['headline_q25'])}, {fmt(s['headline_q75'])}]"
        rng = f"[{fmt(s['headline_min'])}, {fmt(s['headline_max'])}]"
        rows.append(
            [
                s.task,
                s.method,
                s["headline"],
                str(s["headline_n"]),
                fmt(s["headline_median"]),
                iqr,
                rng,
            ]
        )
    about = (
        "Each task's headline metric over the seeds that finished (status ok): median, "
        "interquartile range and min-max. The headline is the one the task declares (stored in "
        "the record), or for older records the usual metric of the task's family."
    )
    return Table("accuracy", "Accuracy", about, cols, rows)


def convergence_table(summaries: Sequence[Summary]) -> Table:
    cols = [
        "task",
        "method",
        "loss target",
        "reached",
        "steps to target",
        "seconds to target",
        "final loss",
        "still improving",
        "converged",
    ]
    rows = []
    for s in summaries:
        if not s["traced"] and s["loss_target"] is None:
            continue  # no trace and no target: nothing to say about convergence
        reached = "-" if s["reached"] is None else f"{s['reached']}/{s['traced']}"
        improving = "-" if s["improving"] is None else f"{s['improving']}/{s['improving_known']}"
        converged = f"{s['converged']}/{s['stepped']}" if s["stepped"] else "-"
        if failed_steps(s):
            converged += f" ({failed_steps(s)})"
        rows.append(
            [
                s.task,
                s.method,
                fmt(s["loss_target"]),
                reached,
                fmt(s["steps_to_target"]),
                fmt(s["seconds_to_target"]),
                fmt(s["final_loss"]),
                improving,
                converged,
            ]
        )
    about = (
        "Fixed-target time: the first logged step (and training seconds, per seed) at which the "
        "training loss reached the task's loss target, median over the seeds that reached it. "
        "Final loss is the median last training loss. 'Still improving' counts seeds whose last "
        "10% of logged losses were lower than the 10% before (one-sided Mann-Whitney U, p < 0.05): "
        "those runs were stopped by the budget, not by the method. 'Converged' counts seeds "
        "that met the declared stop rule (a plateau: no 1% gain in the mean loss over 5 windows "
        "of 100 steps, or a loss at 1% of the target) out of the seeds that took steps; the rest "
        "ran out of budget, and their failures are not a verdict."
    )
    if any(failed_steps(s) for s in summaries):
        about += (
            " Seeds that took steps but diverged, timed out, ran out of memory or crashed are "
            "not among them (the stop rule never judged them): they are named in brackets."
        )
    return Table("convergence", "Convergence", about, cols, rows)


def crlb_table(records: Sequence[dict[str, Any]]) -> Table | None:
    """Frequency RMSE over seeds against the Cramer-Rao bound, for tasks that compute one."""
    rows = []
    for group, pts in sorted(snr_points(records).items()):
        for method, per in sorted(pts["rmse"].items(), key=lambda kv: natural_key(kv[0])):
            for snr in sorted(per):
                bound = pts["crlb"].get(snr)
                ratio = per[snr] / bound if bound else None
                n, z = pts["normalised"].get(method, {}).get(snr, (0, None))
                lo, hi = stats.chi_ratio_interval(n) if n else (None, None)
                verdict = "-"
                if z is not None and lo is not None:
                    verdict = "yes" if lo <= z <= hi else ("no" if z > hi else "below")
                rows.append(
                    [group, f"{snr:g}", method, fmt(per[snr]), fmt(bound), fmt(ratio), str(n),
                     fmt(z), f"[{fmt(lo)}, {fmt(hi)}]" if lo is not None else "-", verdict]
                )  # fmt: skip
    if not rows:
        return None
    about = (
        "Root-mean-square frequency error over seeds against the Cramer-Rao bound, taken as the "
        "RMS of each seed's bound (each task computes it for its own sample positions). A ratio "
        "near 1 is an efficient estimator; below 1 is chance over few seeds. 'Error / bound' is "
        "the RMS over seeds of each seed's error divided by its own bound; for an unbiased "
        "Gaussian estimator at the bound its square times the seeds is chi-square with that "
        "many degrees of freedom, which gives the 95% range: 'consistent' says whether the "
        "measured value lies in it (above: worse than the bound beyond sampling error)."
    )
    cols = ["tasks", "SNR dB", "method", "RMSE", "bound", "RMSE / bound", "seeds",
            "error / bound (RMS)", "95% range at the bound", "consistent"]  # fmt: skip
    return Table("crlb", "Frequency error against the Cramer-Rao bound", about, cols, rows)


def headline_matrix(summaries: Sequence[Summary]) -> Table:
    """Tasks down, methods across, successes over judged seeds in each cell with the median
    headline and its range: the one table a reader of the README needs. ``skip`` marks pairs
    the method cannot attempt, ``n/a`` tasks whose input encoding cannot represent the target."""
    methods = sorted({s.method for s in summaries}, key=natural_key)
    tasks = sorted({s.task for s in summaries}, key=natural_key)
    cell = {(s.task, s.method): s for s in summaries}
    rows = []
    for t in tasks:
        pairs = [s for s in summaries if s.task == t]
        row = [t, bar_text(pairs)]
        for m in methods:
            s = cell.get((t, m))
            if s is None:
                row.append("")
            elif s["representable"] is False:
                row.append("n/a")
            elif not s["judged"]:
                row.append("skip" if s["n_skipped"] else "-")
            else:
                row.append(verdict_cell(s))
        rows.append(row)
    cols = ["task", "headline (bar)", *methods]
    return Table("headline", "Success by method and task", _headline_about(summaries), cols, rows)


def _headline_about(summaries: Sequence[Summary]) -> str:
    about = (
        "Seeds that met the task's success criterion, out of the seeds judged, then the median "
        "of the task's headline metric over the judged seeds that finished and, in brackets, "
        "its range (min-max over those seeds: with a handful of seeds every seed's extent is "
        "shown; left out when all agree to 2 digits). The 'headline (bar)' column names the "
        "metric and, where the criterion puts a number on it, the bar it must pass (a task "
        "without one, such as the noisy tone's per-seed Cramer-Rao bound, has no near "
        "misses). skip: the method "
        "cannot attempt the task (reason in the full report); n/a: impossible by "
        "representation (the input encoding cannot tell the instants apart); -: not judged. "
        f"{CEILING}: ceiling-limited (given the inputs this method receives, not even the best "
        f"possible predictor meets the criterion); {BUDGET}: some failed seeds ran out of "
        "budget before the declared stop rule said they had converged, so their failure is "
        f"not a verdict. {NEAR}n: n near misses, failed seeds whose headline came within "
        f"{NEAR_FACTOR:g}x of the bar (lower is better: at most {NEAR_FACTOR:g} times the bar; "
        f"a share such as exact match >= 0.999: a shortfall from 1 at most {NEAR_FACTOR:g} "
        f"times the allowed one, so 0.99 and up; other higher-is-better bars: at least the "
        f"bar / {NEAR_FACTOR:g}) or that met it but failed another clause of the criterion; "
        "they stay failures in the count."
    )
    untuned = sum(s["untuned"] for s in summaries)
    if untuned:
        about += (
            f" {UNTUNED}: ran untuned ({untuned} runs): a tunable method with no tuned settings "
            "for this profile ran with its defaults, so its verdict is not that of a tuned "
            "method."
        )
    return about


def tuning_table(summaries: Sequence[Summary]) -> Table | None:
    """Tuned and paper settings side by side, where the records hold both for a task, with
    what the tuning cost."""
    by_key = {(s.task, s.method): s for s in summaries}
    rows = []
    for s in summaries:
        if s["settings"] != "tuned":
            continue
        family = s.method.split("[", 1)[0]
        paper = by_key.get((s.task, f"{family}[settings=paper]"))
        if paper is None:
            continue
        params = ", ".join(f"{k}={v}" for k, v in (s["tuned_params"] or {}).items()) or "-"
        rows.append(
            [
                s.task,
                family,
                params,
                _rate(s),
                _rate(paper),
                fmt(s["headline_median"]),
                fmt(paper["headline_median"]),
                fmt(s["tuning_seconds"]),
            ]
        )
    if not rows:
        return None
    cols = ["task", "method", "tuned settings", "tuned", "paper", "tuned median",
            "paper median", "tuning s (family)"]  # fmt: skip
    about = (
        "Each tunable method with the settings the declared protocol chose for the task's "
        "family (bench tune; validation data only) beside its paper defaults "
        "([settings=paper]): successes over judged seeds and the median headline metric. "
        "'Tuning s' is the CPU time all trials of that (method, task family) took, a cost the "
        "tuned method carries on top of its runs."
    )
    return Table("tuning", "Tuned against paper settings", about, cols, rows)


def _rate(s: Summary) -> str:
    return f"{s['successes']}/{s['judged']}" if s["judged"] else "-"


#: The tuning protocol's choice from trial records: it needs the methods' grids, hence the
#: plugins, so the report's caller supplies it (``bench.app.report.tuning_choice``).
TuningChoice = Callable[[Sequence[dict[str, Any]]], Mapping[str, dict[str, Any]]]


def tuning_trials_table(
    records: Sequence[dict[str, Any]], choose: TuningChoice | None = None
) -> Table | None:
    """What ``bench tune`` chose, from its trial records: per method and task family, and per
    task where the protocol chose per task, the winning settings against the paper's, where
    each knob sat in its grid, their mean rank and validation scores. ``None`` without trial
    records, or without ``choose`` to work the choice out. A choice made before grids were
    recorded (no ``edges``) shows ``-`` for the grid edge."""
    trials = [r for r in records if r.get("purpose") == "tune"]
    if not trials or choose is None:
        return None
    rows = []
    for fam, info in choose(trials).items():
        paper = ", ".join(f"{k}={v}" for k, v in (info.get("paper") or {}).items())
        for scope in ("families", "tasks"):
            chosen = info.get(scope) or {}
            for target in sorted(chosen, key=natural_key):
                where = f"{'family' if scope == 'families' else 'task'} {target}"
                rows.append(_trial_row(fam, where, chosen[target], paper))
    cols = ["method", "tuned for", "chosen", "paper", "grid edge", "mean rank",
            "paper's mean rank", "validation score (per tuning task)",
            "paper's validation score", "trials", "tuning s"]  # fmt: skip
    about = (
        "The declared tuning protocol (bench tune): every point of the method's grid on the "
        "tuning tasks of a task family (or of one task, where it chose per task), scored on a "
        "validation split carved from the method's own training samples (nMSE, or 1 - exact "
        "match); the lowest mean rank wins, the paper's default on a tie. 'Grid edge' says "
        "per knob whether the choice sat inside its grid or on its low or high edge (a choice "
        "on an edge may lie beyond the grid), 'extended' where the grid was extended one step "
        "past an edge first chosen, and 'single' for a knob with one value; '-' for choices "
        "recorded without their grid. Validation scores are listed per tuning task, in the "
        "order of the tasks; trials counts the trial runs (with the seeds per trial where "
        "recorded); tuning s is their run time, summed, on the device they ran on (the "
        "machine named above)."
    )
    return Table("tuning_trials", "Tuning: the chosen settings", about, cols, rows)


def _trial_row(method: str, where: str, c: Mapping[str, Any], paper: str) -> list[str]:
    """One chosen setting as a row; keys a choice recorded by older code lacks read ``-``."""
    chosen = ", ".join(f"{k}={v}" for k, v in (c.get("params") or {}).items()) or "-"
    scores = "; ".join(fmt(v) for v in (c.get("scores") or {}).values()) or "-"
    paper_scores = "; ".join(fmt(v) for v in (c.get("paper_scores") or {}).values()) or "-"
    trials = fmt(c.get("trials"))
    if c.get("seeds") is not None:
        trials += f" ({c['seeds']} seed{'s' * (c['seeds'] != 1)} each)"
    return [
        method, where, chosen + (" (= paper)" if c.get("is_paper") else ""), paper,
        grid_edges(c), fmt(c.get("mean_rank")), fmt(c.get("paper_mean_rank")), scores,
        paper_scores, trials, fmt(c.get("seconds")),
    ]  # fmt: skip


def grid_edges(c: Mapping[str, Any]) -> str:
    """Per knob, where the chosen value sat in its grid (``lr: high edge, extended``); ``-``
    for a choice recorded without ``edges``."""
    edges = c.get("edges")
    if not isinstance(edges, Mapping) or not edges:
        return "-"
    extended = set(c.get("extended") or ())
    knobs = [*edges, *sorted(extended - set(edges))]
    parts = []
    for k in knobs:
        where = ", ".join(w for w in (edges.get(k), "extended" if k in extended else None) if w)
        parts.append(f"{k}: {where}")
    return "; ".join(parts)
