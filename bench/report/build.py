"""Reports: tables (Markdown, HTML, LaTeX, CSV) and plots from records only; nothing is rerun.

The flow is records -> one summary per (method, task) -> tables -> a small document model
(headings, paragraphs, tables, figures) -> one renderer per format. Every number a table shows
lives in the summary first, so the CSV carries exactly what the pages print, at full precision.

Counting rules, stated once here and again in the pages:
- A *judged* run is any run that was not skipped and whose task has a success criterion. Runs
  that timed out, diverged, ran out of memory or crashed are judged and count as failures;
  skipped runs are shown with their reason and left out of the denominator.
- Times are per seed: a vectorised method that fits S seeds at once records each seed's share
  (``time.batch_seeds`` says S), and trace seconds are divided by S the same way.
"""

from __future__ import annotations

import base64
import csv
import html
import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.store import STATUSES, BadLine, load_records
from . import stats

FORMATS = ("md", "html", "latex", "csv")

#: Headline metric per task family, for records written before the runner stored ``headline``.
FAMILY_HEADLINE = {
    "sin31": "test_mse",
    "tone": "test_mse",
    "multitone": "test_nmse",
    "noisy-tone": "efficiency",
    "wave": "extrap_nmse",
    "real": "mase",
    "clock": "exact_match",
}
#: Last resort: the first of these a task's records carry.
HEADLINE_ORDER = (
    "test_mse",
    "test_nmse",
    "extrap_nmse",
    "mase",
    "efficiency",
    "freq_error",
    "exact_match",
)
#: Environment fields whose disagreement makes records not directly comparable.
ENV_FIELDS = ("python", "numpy", "scipy", "torch", "device_name")
PHASE_ORDER = ("estimate", "warmup", "compile", "train", "predict")
NOT_PHASES = ("total", "batch_seeds")
MIXED = "†"


# -- small helpers ---------------------------------------------------------------------------


def natural_key(text: str) -> list[Any]:
    """Sort ``tone[cycles=10]`` after ``tone[cycles=3]`` and ``snr_db=-10`` before ``snr_db=0``:
    numbers compare as numbers (a minus sign counts right after ``=``, ``[`` or ``,``)."""
    parts = re.split(r"((?<=[=\[,])-?\d+(?:\.\d+)?|\d+(?:\.\d+)?)", text)
    return [(0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts)]


def _num(v: Any) -> float | None:
    """A finite float, or ``None`` (bools and strings are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def fmt(v: Any, digits: int = 3) -> str:
    """Compact number: 3 significant digits, scientific outside [1e-3, 1e5)."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and math.isnan(v):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    if isinstance(v, int) and abs(v) < 10**6:
        return f"{v:,}"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def pct(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "-"
    return f"{100 * p:.0f}%"


def _median(values: Iterable[Any]) -> float | None:
    q = stats.quantiles([v for v in (_num(x) for x in values) if v is not None])
    return None if q["n"] == 0 else q["median"]


def headline_of(recs: Sequence[dict[str, Any]]) -> str | None:
    """The metric a task is judged by: the record's ``headline``, else the family's usual one,
    else the first well-known metric the records carry."""
    for r in recs:
        if isinstance(r.get("headline"), str):
            return r["headline"]
    for r in recs:
        fam = r.get("task_family") or r["task"].split("[")[0]
        if fam in FAMILY_HEADLINE:
            return FAMILY_HEADLINE[fam]
    present = {k for r in recs for k in (r.get("metrics") or {})}
    return next((m for m in HEADLINE_ORDER if m in present), None)


def loss_target_of(recs: Sequence[dict[str, Any]]) -> float | None:
    return next((v for r in recs if (v := _num(r.get("loss_target"))) is not None), None)


def latest_per_run(records: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """One record per (method, task, seed, profile, base seed): the last one read.

    A plugin edited between a run and its ``--resume`` gets new run keys, so the same seed can
    be recorded twice; counting both would double its weight. Returns the records kept and how
    many older ones were set aside.
    """
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in records:
        ident = (r["method"], r["task"], r["seed"], r["profile"], r.get("base_seed", 0))
        latest.pop(ident, None)  # re-insert so that order follows the newest record
        latest[ident] = r
    kept = list(latest.values())
    return kept, len(records) - len(kept)


def env_signature(rec: dict[str, Any]) -> tuple[str, ...]:
    env = rec.get("env") or {}
    return tuple(str(env.get(k, "?")) for k in ENV_FIELDS)


def _batch(rec: dict[str, Any]) -> int:
    b = (rec.get("time") or {}).get("batch_seeds")
    return int(b) if isinstance(b, int | float) and b >= 1 else 1


def record_problem(rec: dict[str, Any]) -> str | None:
    """Why a record that has every required key still cannot be summarised (a foreign or
    hand-edited line), or ``None``. Checked here so that one odd record never stops a report."""
    if not isinstance(rec.get("method"), str) or not isinstance(rec.get("task"), str):
        return "method and task must be strings"
    if rec.get("status") not in STATUSES:
        return f"unknown status {rec.get('status')!r}"
    if rec.get("success") not in (True, False, None):
        return "success must be true, false or null"
    for key in ("metrics", "time", "env"):
        if not isinstance(rec.get(key), dict):
            return f"{key} must be an object"
    trace = rec.get("trace")
    if not isinstance(trace, list) or not all(_is_point(p) for p in trace):
        return "trace must be a list of [step, seconds, loss]"
    return None


def _is_point(p: Any) -> bool:
    return (
        isinstance(p, list | tuple)
        and len(p) >= 3
        and _num(p[0]) is not None
        and _num(p[1]) is not None
        and (p[2] is None or (isinstance(p[2], int | float) and not isinstance(p[2], bool)))
    )


# -- summaries ------------------------------------------------------------------------------


@dataclass
class Summary:
    """Everything the tables say about one (method, task) pair, numbers at full precision."""

    method: str
    task: str
    records: list[dict[str, Any]] = field(repr=False)
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)


def summarise(
    records: Sequence[dict[str, Any]], env_labels: dict[tuple[str, ...], str] | None = None
) -> list[Summary]:
    """One :class:`Summary` per (method, task), ordered by task then method."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((str(r["task"]), str(r["method"])), []).append(r)
    out = []
    for task, method in sorted(groups, key=lambda k: (natural_key(k[0]), natural_key(k[1]))):
        recs = groups[(task, method)]
        s = Summary(method, task, recs)
        s.values = {"method": method, "task": task, "task_family": recs[0].get("task_family")}
        s.values.update(_outcome(recs))
        s.values.update(_accuracy(recs))
        s.values.update(_convergence(recs))
        s.values.update(_cost(recs))
        s.values.update(_environment(recs, env_labels or {}))
        s.values.update(_other_metrics(recs))
        out.append(s)
    return out


def _outcome(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    counts = {st: sum(1 for r in recs if r["status"] == st) for st in STATUSES}
    judged = [r for r in recs if r["status"] != "skipped" and r["success"] is not None]
    wins = sum(1 for r in judged if r["success"])
    lo, hi = stats.wilson_interval(wins, len(judged))
    skipped = sorted({r["reason"] for r in recs if r["status"] == "skipped" and r["reason"]})
    failed = sorted(
        {f"{r['status']}: {r['reason']}" for r in recs if r["status"] not in ("ok", "skipped")}
    )
    rep = next(
        (
            r["extras"]
            for r in recs
            if isinstance(r.get("extras"), dict) and r["extras"].get("representable") is False
        ),
        None,
    )
    if rep is not None:
        verdict = "impossible by representation"
    elif counts["skipped"] == len(recs):
        verdict = "skipped"
    elif not judged:
        verdict = "no criterion"
    else:
        verdict = "all seeds" if wins == len(judged) else "some seeds" if wins else "no seed"
    return {
        "runs": len(recs),
        **{f"n_{st}": n for st, n in counts.items()},
        "judged": len(judged),
        "successes": wins,
        "success_rate": wins / len(judged) if judged else None,
        "ci_low": None if math.isnan(lo) else lo,
        "ci_high": None if math.isnan(hi) else hi,
        "verdict": verdict,
        "skip_reason": "; ".join(skipped),
        "fail_reasons": "; ".join(failed),
        "representable": None if rep is None else False,
        "distinct_inputs": (rep or {}).get("distinct_inputs"),
        "distinct_seconds": (rep or {}).get("distinct_seconds"),
    }


def _accuracy(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    name = headline_of(recs)
    vals = [(r.get("metrics") or {}).get(name) for r in recs if r["status"] == "ok"] if name else []
    q = stats.quantiles([v for v in (_num(x) for x in vals) if v is not None])
    none = q["n"] == 0
    return {"headline": name, "headline_n": q["n"]} | {
        f"headline_{k}": None if none else q[k] for k in ("median", "q25", "q75", "min", "max")
    }


def _convergence(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    target = loss_target_of(recs)
    traced = [r for r in recs if r.get("trace")]
    hits = []
    if target is not None:
        for r in traced:
            hit = stats.time_to_target(r["trace"], target)
            if hit is not None:
                hits.append((hit[0], hit[1] / _batch(r)))
    final = []
    for r in recs:
        v = _num((r.get("metrics") or {}).get("final_loss"))
        if v is None and r.get("trace"):
            v = _num(r["trace"][-1][2])
        if v is not None and r["status"] != "skipped":
            final.append(v)
    improving = [stats.still_improving(r["trace"]) for r in traced]
    known = [v for v in improving if v is not None]
    return {
        "loss_target": target,
        "traced": len(traced),
        "reached": len(hits) if target is not None else None,
        "steps_to_target": _median(h[0] for h in hits),
        "seconds_to_target": _median(h[1] for h in hits),
        "final_loss": _median(final),
        "improving": sum(known) if known else None,
        "improving_known": len(known),
    }


def _cost(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ran = [r for r in recs if r["status"] != "skipped"]
    phases = sorted(
        {k for r in ran for k in (r.get("time") or {}) if k not in NOT_PHASES},
        key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER else len(PHASE_ORDER), p),
    )
    out: dict[str, Any] = {
        f"sec_{p}": _median((r.get("time") or {}).get(p) for r in ran) for p in phases
    }
    totals = [_num((r.get("time") or {}).get("total")) or 0.0 for r in ran]
    out["sec_total"] = _median(totals)
    devices = sorted({str((r.get("env") or {}).get("device_name", "?")) for r in ran})
    out["device"] = "; ".join(devices)
    out["samples"] = _median((r.get("metrics") or {}).get("samples") for r in ran)
    out["n_params"] = _median((r.get("metrics") or {}).get("n_params") for r in ran)
    out["batch_seeds"] = max((_batch(r) for r in ran), default=None)
    out["steps1k_seconds"] = _median(seconds_per_1k_steps(r) for r in ran)
    judged = [r for r in ran if r["success"] is not None]
    wins = sum(1 for r in judged if r["success"])
    seconds = [_num((r.get("time") or {}).get("total")) or 0.0 for r in judged]
    out["ert_seconds"] = stats.expected_running_time(seconds, wins) if judged else None
    return out


def seconds_per_1k_steps(rec: dict[str, Any]) -> float | None:
    """Training seconds per 1,000 optimisation steps, from the trace's first and last points
    (per seed: a vectorised run's clock is divided by the seeds it trained together). ``None``
    for runs whose trace does not count steps (fewer than two points)."""
    pts = [p for p in rec.get("trace") or [] if _is_point(p)]
    if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
        return None
    return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]) * 1000 / _batch(rec)


def _environment(
    recs: Sequence[dict[str, Any]], labels: dict[tuple[str, ...], str]
) -> dict[str, Any]:
    sigs = sorted({env_signature(r) for r in recs}, key=lambda s: natural_key(labels.get(s, "")))
    return {
        "env": ", ".join(labels.get(s, "?") for s in sigs),
        "env_mixed": len(sigs) > 1,
    }


def _other_metrics(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in recs if r["status"] == "ok"]
    names = sorted(
        {k for r in ok for k, v in (r.get("metrics") or {}).items() if _num(v) is not None}
    )
    return {f"median_{k}": _median((r.get("metrics") or {}).get(k) for r in ok) for k in names}


def environment_labels(records: Sequence[dict[str, Any]]) -> dict[tuple[str, ...], str]:
    """``E1``, ``E2``, ... for each distinct environment, most records first."""
    counts: dict[tuple[str, ...], int] = {}
    for r in records:
        sig = env_signature(r)
        counts[sig] = counts.get(sig, 0) + 1
    ordered = sorted(counts, key=lambda s: (-counts[s], s))
    return {s: f"E{i + 1}" for i, s in enumerate(ordered)}


# -- tables ---------------------------------------------------------------------------------


@dataclass
class Table:
    """A rendered-agnostic table: cells are already text; ``about`` says how to read it."""

    key: str
    title: str
    about: str
    columns: list[str]
    rows: list[list[str]]


def _row_marker(s: Summary) -> str:
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
            row.append(s["env"] + _row_marker(s))
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
    if s["skip_reason"]:
        parts.append(f"skipped: {s['skip_reason']}")
    if s["fail_reasons"]:
        parts.append(s["fail_reasons"])
    text = "; ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."


def representation_evidence(s: Summary, short: bool = False) -> str:
    """Why a task cannot be solved from its input encoding, in numbers from the record."""
    di, ds = _num(s["distinct_inputs"]), _num(s["distinct_seconds"])
    if di is None or ds is None or ds == 0:
        return "the input encoding cannot tell some distinct instants apart"
    if short:
        return f"{int(di):,} distinct inputs for {int(ds):,} seconds ({di / ds:.1%})"
    return (
        f"the input takes {int(di):,} distinct values for {int(ds):,} distinct seconds "
        f"({di / ds:.1%}), so the target is not a function of the input"
    )


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
    ]
    rows = []
    for s in summaries:
        if not s["traced"] and s["loss_target"] is None:
            continue  # no trace and no target: nothing to say about convergence
        reached = "-" if s["reached"] is None else f"{s['reached']}/{s['traced']}"
        improving = "-" if s["improving"] is None else f"{s['improving']}/{s['improving_known']}"
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
            ]
        )
    about = (
        "Fixed-target time: the first logged step (and training seconds, per seed) at which the "
        "training loss reached the task's loss target, median over the seeds that reached it. "
        "Final loss is the median last training loss. 'Still improving' counts seeds whose last "
        "10% of logged losses were lower than the 10% before (one-sided Mann-Whitney U, p < 0.05): "
        "those runs were stopped by the budget, not by the method."
    )
    return Table("convergence", "Convergence", about, cols, rows)


def cost_table(summaries: Sequence[Summary], show_env: bool) -> Table:
    phases = []
    for s in summaries:
        phases += [k[4:] for k in s.values if k.startswith("sec_") and k != "sec_total"]
    phases = sorted(
        set(phases), key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER else 99, p)
    )
    cols = [
        "task",
        "method",
        *[f"{p} s" for p in phases],
        "total s",
        "s/1k steps",
        "ERT s",
        "samples",
        "params",
        "device",
    ]
    rows = []
    for s in summaries:
        row = [s.task, s.method, *[fmt(s[f"sec_{p}"]) for p in phases], fmt(s["sec_total"])]
        row.append(fmt(s["steps1k_seconds"]))
        row += [fmt(s["ert_seconds"]), fmt(_int(s["samples"])), fmt(_int(s["n_params"]))]
        row.append(s["device"] + (f" ({s['env']}{_row_marker(s)})" if show_env else ""))
        rows.append(row)
    about = (
        "Median seconds per phase and per seed (a vectorised fit's time is shared among the "
        "seeds it trained together; warm-up or compile time is kept apart from training). ERT is "
        "the expected running time to one success: all judged seconds divided by the number of "
        "successes (COCO's measure; inf when none succeeded). Samples are input/target pairs "
        "drawn, params the learned parameter count (medians)."
    )
    return Table("cost", "Cost", about, cols, rows)


def _int(v: float | None) -> int | None:
    return None if v is None else int(round(v))


def cost_matrix(summaries: Sequence[Summary]) -> dict[str, dict[str, float | None]]:
    """ERT per method and task, over tasks that have a success criterion and can be solved at
    all (a task impossible by representation would only lower every method alike)."""
    impossible = {s.task for s in summaries if s["representable"] is False}
    judged_tasks = {s.task for s in summaries if s["judged"]} - impossible
    cost: dict[str, dict[str, float | None]] = {}
    for s in summaries:
        cost.setdefault(s.method, {})
    for s in summaries:
        if s.task in judged_tasks:
            ert = s["ert_seconds"]
            cost[s.method][s.task] = ert if ert is not None and math.isfinite(ert) else None
    for per in cost.values():
        for t in judged_tasks:
            per.setdefault(t, None)
    return cost


def crlb_table(records: Sequence[dict[str, Any]]) -> Table | None:
    """Frequency RMSE over seeds against the Cramer-Rao bound, for tasks that compute one."""
    from .plots import snr_points

    rows = []
    for group, pts in sorted(snr_points(records).items()):
        for method, per in sorted(pts["rmse"].items(), key=lambda kv: natural_key(kv[0])):
            for snr in sorted(per):
                bound = pts["crlb"].get(snr)
                ratio = per[snr] / bound if bound else None
                rows.append([group, f"{snr:g}", method, fmt(per[snr]), fmt(bound), fmt(ratio)])
    if not rows:
        return None
    about = (
        "Root-mean-square frequency error over seeds against the Cramer-Rao bound, taken as the "
        "RMS of each seed's bound (each task computes it for its own sample positions). A ratio "
        "near 1 is an efficient estimator; below 1 is chance over few seeds."
    )
    cols = ["tasks", "SNR dB", "method", "RMSE", "bound", "RMSE / bound"]
    return Table("crlb", "Frequency error against the Cramer-Rao bound", about, cols, rows)


def aggregate_table(summaries: Sequence[Summary]) -> Table | None:
    cost = cost_matrix(summaries)
    if not cost or not any(cost.values()):
        return None
    prof = stats.performance_profile(cost)
    ranks = stats.average_rank(cost)
    cols = ["method", "solved", *[f"rho({t:g})" for t in stats.TAUS], "mean rank"]
    order = sorted(cost, key=lambda m: (-prof.solved(m), ranks[m], natural_key(m)))
    rows = [
        [
            m,
            f"{prof.solved(m)}/{len(prof.tasks)}",
            *[pct(prof.rho(m, t)) for t in stats.TAUS],
            f"{ranks[m]:.2f}",
        ]
        for m in order
    ]
    about = (
        f"Performance profile (Dolan and More, 2002) over the {len(prof.tasks)} task(s) that "
        "have a success criterion. The cost of a method on a task is its expected running "
        "time to one success (ERT, see Cost); 'solved' means at least one seed succeeded. "
        "rho(tau) is the fraction of all these tasks a method solves within tau times the best "
        "ERT any method achieved there; rho(1) counts the tasks where it was fastest. A method "
        "not run or skipped on a task counts as not solving it; tasks impossible by "
        "representation are left out. Mean rank orders methods by ERT "
        "per task (1 = cheapest, unsolved tie for last)."
    )
    return Table("aggregate", "Across tasks: performance profile", about, cols, rows)


def runs_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The raw per-run table: flat, prefixed columns (``metric_*``, ``time_*``, ``env_*``)."""
    rows = []
    for r in records:
        row: dict[str, Any] = {
            k: r.get(k)
            for k in ("task", "method", "seed", "status", "success", "reason", "profile")
        }
        row["headline"] = headline_of([r])
        row["loss_target"] = r.get("loss_target")
        for group, prefix in (("metrics", "metric_"), ("time", "time_"), ("extras", "extras_")):
            for k, v in (r.get(group) or {}).items():
                if not isinstance(v, dict | list):
                    row[prefix + k] = v
        for k in (*ENV_FIELDS, "git_commit", "threads"):
            row["env_" + k] = (r.get("env") or {}).get(k)
        row["source"] = r.get("_source")
        row["run_key"] = r.get("run_key")
        rows.append(row)
    return rows


# -- the document ---------------------------------------------------------------------------


@dataclass
class Figure:
    """A drawn plot: where its files are and what it shows."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path | None = None


@dataclass
class Report:
    """Everything a renderer needs: provenance text, notes, tables and figures."""

    intro: list[str]
    tables: list[Table]
    notes: list[tuple[str, list[str]]]
    figures: list[Figure]
    summaries: list[Summary]
    records: list[dict[str, Any]]


def build_report(
    records: Sequence[dict[str, Any]],
    sources: Sequence[Path],
    problems: Sequence[BadLine | str] = (),
) -> Report:
    """Tables and notes for a set of records (figures are added by the caller)."""
    labels = environment_labels(records)
    summaries = summarise(records, labels)
    show_env = len(labels) > 1
    tables = [
        success_table(summaries, show_env),
        accuracy_table(summaries),
        convergence_table(summaries),
        cost_table(summaries, show_env),
    ]
    crlb = crlb_table(records)
    if crlb is not None:
        tables.append(crlb)
    agg = aggregate_table(summaries)
    if agg is not None:
        tables.append(agg)
    return Report(
        _intro(records, sources),
        tables,
        _notes(summaries, labels, records, problems),
        [],
        summaries,
        list(records),
    )


def _intro(records: Sequence[dict[str, Any]], sources: Sequence[Path]) -> list[str]:
    n_m = len({r["method"] for r in records})
    n_t = len({r["task"] for r in records})
    profiles = sorted({str(r.get("profile")) for r in records})
    commits = sorted({str((r.get("env") or {}).get("git_commit")) for r in records})
    stamps = sorted(str((r.get("env") or {}).get("timestamp", "")) for r in records)
    commands = sorted({str((r.get("env") or {}).get("command", "")) for r in records} - {""})
    lines = [
        f"{len(records)} records ({n_m} methods x {n_t} tasks) from "
        f"{', '.join(str(s) for s in sources)}; profile {', '.join(profiles) or '-'}.",
        "Produced by: " + ("; ".join(f"`{c}`" for c in commands) or "-") + ".",
        f"Code: commit {', '.join(commits) or '-'}." + _span(stamps),
        f"Machine: {_machines(records)}.",
        "Generated from the records alone (nothing was rerun) by `python -m bench report`.",
    ]
    return lines


def _machines(records: Sequence[dict[str, Any]]) -> str:
    """Device, CPU, OS and thread count of each distinct machine, most records first."""
    counts: dict[str, int] = {}
    for r in records:
        env = r.get("env") or {}
        desc = (
            f"{env.get('device', '?')} ({env.get('device_name', '?')}), CPU {env.get('cpu', '?')}"
            f" x {env.get('cpu_count', '?')}, {env.get('platform', '?')}, "
            f"{env.get('threads', '?')} torch thread(s)"
        )
        counts[desc] = counts.get(desc, 0) + 1
    return "; ".join(sorted(counts, key=lambda d: -counts[d])) or "-"


def _span(stamps: Sequence[str]) -> str:
    if not stamps or not stamps[0]:
        return ""
    if stamps[0] == stamps[-1]:
        return f" Run at {stamps[0]}."
    return f" Runs from {stamps[0]} to {stamps[-1]}."


def _notes(
    summaries: Sequence[Summary],
    labels: dict[tuple[str, ...], str],
    records: Sequence[dict[str, Any]],
    problems: Sequence[BadLine | str],
) -> list[tuple[str, list[str]]]:
    notes = []
    counts: dict[str, int] = {}
    for r in records:
        lab = labels[env_signature(r)]
        counts[lab] = counts.get(lab, 0) + 1
    envs = [
        f"{lab}: "
        + ", ".join(f"{k} {v}" for k, v in zip(ENV_FIELDS, sig, strict=True))
        + f" ({counts[lab]} records)"
        for sig, lab in sorted(labels.items(), key=lambda kv: natural_key(kv[1]))
    ]
    if len(labels) > 1:
        mixed = [f"{s.method} on {s.task}" for s in summaries if s["env_mixed"]]
        envs.insert(
            0,
            f"The records come from {len(labels)} different environments; numbers "
            "from different environments (versions, device) are not directly comparable.",
        )
        if mixed:
            envs.append(
                f"{MIXED} marks pairs whose seeds ran in more than one environment: "
                + ", ".join(mixed)
                + "."
            )
    notes.append(("Environment", envs))
    impossible = sorted({s.task for s in summaries if s["representable"] is False}, key=natural_key)
    if impossible:
        items = []
        for t in impossible:
            s = next(x for x in summaries if x.task == t and x["representable"] is False)
            items.append(
                f"{t}: impossible by representation; {representation_evidence(s)}. "
                "No method can succeed, so its failures say nothing about the methods."
            )
        notes.append(("Impossible by representation", items))
    if problems:
        notes.append(("Unreadable records (skipped)", [str(p) for p in problems]))
    return notes


# -- renderers ------------------------------------------------------------------------------


def render_markdown(rep: Report, plots_rel: str = "plots") -> str:
    """A README-ready summary: intro, each table with how to read it, notes, figure links."""
    out = ["# Results", "", *[line + "  " for line in rep.intro], ""]
    for t in rep.tables:
        out += [f"## {t.title}", "", t.about, "", markdown_table(t), ""]
    for title, items in rep.notes:
        out += [f"## {title}", "", *[f"- {i}" for i in items], ""]
    if rep.figures:
        out += ["## Figures", ""]
        for f in rep.figures:
            out += [
                f"### {f.title}",
                "",
                f.caption,
                "",
                f"![{f.title}]({plots_rel}/{f.png.name})",
                "",
            ]
    return "\n".join(out)


def markdown_table(t: Table) -> str:
    def cell(c: str) -> str:
        return c.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in t.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in t.columns) + "|")
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:left;vertical-align:top;
white-space:nowrap}td.wrap{white-space:normal;min-width:18em}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
.about{color:#555;font-size:.9em;max-width:70em}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}code{background:#f3f3f3;padding:0 .2em}
""".strip()


def render_html(rep: Report) -> str:
    """One self-contained page: styles inline and images as base64 data URIs (opens offline)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>periodic-bench results</title><style>{_CSS}</style></head><body>",
        "<h1>periodic-bench results</h1>",
        *[f"<p>{_inline_code(e(line))}</p>" for line in rep.intro],
    ]
    toc = [f'<a href="#{t.key}">{e(t.title)}</a>' for t in rep.tables]
    if rep.figures:
        toc.append('<a href="#figures">Figures</a>')
    parts.append("<p>" + " &middot; ".join(toc) + "</p>")
    for t in rep.tables:
        parts += [f'<h2 id="{t.key}">{e(t.title)}</h2>', f'<p class="about">{e(t.about)}</p>']
        parts.append(html_table(t))
    for title, items in rep.notes:
        parts += [f"<h2>{e(title)}</h2>", "<ul>", *[f"<li>{e(i)}</li>" for i in items], "</ul>"]
    if rep.figures:
        parts.append('<h2 id="figures">Figures</h2>')
        for f in rep.figures:
            data = base64.b64encode(f.png.read_bytes()).decode("ascii")
            parts += [
                f'<figure id="fig-{e(f.name)}"><img alt="{e(f.title)}" '
                f'src="data:image/png;base64,{data}">',
                f"<figcaption><b>{e(f.title)}.</b> {e(f.caption)}</figcaption></figure>",
            ]
    parts.append("</body></html>")
    return "\n".join(parts)


def _inline_code(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def html_table(t: Table) -> str:
    e = html.escape
    head = "<tr>" + "".join(f"<th>{e(c)}</th>" for c in t.columns) + "</tr>"
    wrap = [' class="wrap"' if c == "note" else "" for c in t.columns]
    body = "\n".join(
        "<tr>" + "".join(f"<td{w}>{e(c)}</td>" for w, c in zip(wrap, row, strict=True)) + "</tr>"
        for row in t.rows
    )
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    MIXED: r"\textsuperscript{\dag}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters; a leading ``[`` is braced so that it is never read as
    the optional argument of the previous row's ``\\\\``."""
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    return "{[}" + out[1:] if out.startswith("[") else out


_NUMERIC = re.compile(r"^[-+0-9.,e%/\[\] ]*$|^inf$")


def _latex_align(t: Table, i: int) -> str:
    """Numbers right-aligned, text left; free text (notes) wraps in a paragraph column."""
    if t.columns[i] == "note":
        return r"p{0.28\linewidth}"
    cells = [row[i] for row in t.rows]
    return "r" if cells and all(_NUMERIC.match(c) or c == "-" for c in cells) else "l"


#: Tables longer than this become ``longtable`` so that they break across pages.
LONG_TABLE_ROWS = 30


def render_latex(rep: Report) -> str:
    """Tables for a paper, ready to ``\\input``: ``booktabs`` rules, a ``table`` float each, or a
    ``longtable`` (which breaks across pages, header repeated) when a table is long."""
    out = [
        "% periodic-bench results, generated by `python -m bench report --format latex`.",
        "% Needs \\usepackage{booktabs} and \\usepackage{longtable} in the preamble.",
        *[f"% {line}" for line in rep.intro],
        "",
    ]
    for t in rep.tables:
        out += latex_table(t) + [""]
    for title, items in rep.notes:
        out += [f"% {title}:", *[f"%   {i}" for i in items]]
    return "\n".join(out) + "\n"


def latex_table(t: Table) -> list[str]:
    spec = "".join(_latex_align(t, i) for i in range(len(t.columns)))
    caption = f"\\caption{{{latex_escape(t.title)}. {latex_escape(t.about)}}}"
    label = f"\\label{{tab:bench-{t.key}}}"
    head = " & ".join(latex_escape(c) for c in t.columns) + " \\\\"
    body = [" & ".join(latex_escape(c) for c in row) + " \\\\" for row in t.rows]
    if len(t.rows) > LONG_TABLE_ROWS:
        return [
            "{\\footnotesize",
            f"\\begin{{longtable}}{{{spec}}}",
            f"{caption}{label} \\\\",
            "\\toprule",
            head,
            "\\midrule",
            "\\endfirsthead",
            "\\toprule",
            head,
            "\\midrule",
            "\\endhead",
            "\\bottomrule",
            "\\endfoot",
            *body,
            "\\end{longtable}}",
        ]
    return [
        "\\begin{table}[htbp]",
        "\\centering",
        "\\footnotesize",
        caption,
        label,
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        head,
        "\\midrule",
        *body,
        "\\bottomrule",
        "\\end{tabular}",
        "\\end{table}",
    ]


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Rows of dicts to CSV; columns in first-seen order, missing cells empty."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    return path


# -- README headline ---------------------------------------------------------------------------

README_START = "<!-- results-table:start -->"
README_END = "<!-- results-table:end -->"


def headline_matrix(summaries: Sequence[Summary]) -> Table:
    """Tasks down, methods across, successes over judged seeds in each cell: the one table a
    reader of the README needs. ``skip`` marks pairs the method cannot attempt, ``n/a`` tasks
    whose input encoding cannot represent the target."""
    methods = sorted({s.method for s in summaries}, key=natural_key)
    tasks = sorted({s.task for s in summaries}, key=natural_key)
    cell = {(s.task, s.method): s for s in summaries}
    rows = []
    for t in tasks:
        row = [t]
        for m in methods:
            s = cell.get((t, m))
            if s is None:
                row.append("")
            elif s["representable"] is False:
                row.append("n/a")
            elif not s["judged"]:
                row.append("skip" if s["n_skipped"] else "-")
            else:
                row.append(f"{s['successes']}/{s['judged']}")
        rows.append(row)
    about = (
        "Seeds that met the task's success criterion, out of the seeds judged. skip: the "
        "method cannot attempt the task (reason in the full report); n/a: impossible by "
        "representation (the input encoding cannot tell the instants apart); -: not judged."
    )
    return Table("headline", "Success by method and task", about, ["task", *methods], rows)


def update_readme(readme: Path, dirs: Sequence[Path], link: str | None = None) -> Path:
    """Replace the block between the results markers in ``readme`` with the headline matrix
    generated from the records in ``dirs`` (never typed by hand)."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no {README_START} ... {README_END} block")
    bad: list[BadLine] = []
    records = [r for r in load_records(dirs, bad) if record_problem(r) is None]
    records, _ = latest_per_run(records)
    table = headline_matrix(summarise(records))
    machines = _machines(records) if records else "no records"
    where = ", ".join(str(d) for d in dirs)
    block = [
        README_START,
        f"Generated by `python -m bench report {where} --readme {readme.name}` from "
        f"{len(records)} records ({machines}).",
        "",
        table.about,
        "",
        markdown_table(table),
    ]
    if link:
        block += ["", f"Full tables, plots and how they were produced: [{link}]({link})."]
    block.append(README_END)
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(head + "\n".join(block) + tail, encoding="utf-8")
    return readme


def write_run_readme(out: Path, dirs: Sequence[Path], written: Sequence[Path]) -> Path:
    """``README.md`` of a published run folder: how, where and on what it was produced, what
    the files are, and the headline table, all read off the records."""
    bad: list[BadLine] = []
    records = [r for r in load_records(dirs, bad) if record_problem(r) is None]
    records, _ = latest_per_run(records)
    intro = _intro(records, dirs) if records else ["No records found."]
    files = sorted({Path(w).relative_to(out).as_posix() for w in written if _inside(w, out)})
    table = headline_matrix(summarise(records))
    lines = [
        f"# Published run: {out.name}",
        "",
        *[f"- {line}" for line in intro],
        "",
        "Reproduce: install as the repository README says, run the command(s) above, then "
        f"`{_report_command(dirs)}`.",
        "",
        "## Files",
        "",
        "- `records.jsonl`: one JSON record per run (schema in the repository README)",
        *[f"- `{f}`" for f in files if not f.startswith("plots/")],
        f"- `plots/`: {sum(1 for f in files if f.startswith('plots/'))} figure files",
        "",
        f"## {table.title}",
        "",
        table.about,
        "",
        markdown_table(table),
        "",
    ]
    return _write(out / "README.md", "\n".join(lines))


def _report_command(dirs: Sequence[Path]) -> str:
    """The report command as it was typed (set by the CLI), or its usual form."""
    typed = os.environ.get("BENCH_COMMAND", "")
    if " report " in f"{typed} ":
        return typed
    where = " ".join(str(d) for d in dirs)
    return f"python -m bench report {where} --format md html latex csv --plots --publish"


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(path).relative_to(folder)
    except ValueError:
        return False
    return True


# -- entry point ----------------------------------------------------------------------------


def write_reports(
    dirs: Sequence[Path],
    out: Path,
    formats: Sequence[str] = ("md",),
    plots: bool = False,
    echo: bool = False,
    svg: bool = True,
) -> list[Path]:
    """Read the records under ``dirs`` and write the report in each of ``formats`` into ``out``
    (``report.md``, ``report.html``, ``report.tex``, ``summary.csv`` + ``runs.csv``; figures in
    ``out/plots``). Unreadable lines are reported on stderr and in the report, then skipped.
    Returns the paths written."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {', '.join(unknown)}; use {', '.join(FORMATS)}")
    bad: list[BadLine] = []
    loaded = load_records(dirs, bad)
    problems: list[BadLine | str] = list(bad)
    records = []
    for r in loaded:
        why = record_problem(r)
        if why is None:
            records.append(r)
        else:
            problems.append(f"{r.get('_source')}: record {r.get('run_key')} skipped ({why})")
    records, superseded = latest_per_run(records)
    if superseded:
        problems.append(
            f"{superseded} older record(s) of a (method, task, seed) recorded again later "
            "(e.g. after the plugin changed) were left out; the newest one counts"
        )
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = build_report(records, dirs, problems)
    written: list[Path] = []
    if plots and records:
        from . import plots as plotting
        from .plots import draw_all

        plotting.WRITE_SVG = svg
        print(f"drawing figures into {out / 'plots'} ...", file=sys.stderr)
        rep.figures = draw_all(records, rep.summaries, out / "plots")
        written += [
            p
            for f in rep.figures
            if not f.name.startswith("landscape")
            for p in (f.png, f.svg)
            if p is not None
        ]
    if not records:
        rep.tables = []
        rep.intro.insert(0, "No records found.")
    if "md" in formats:
        md = render_markdown(rep)
        written.append(_write(out / "report.md", md))
        if echo:
            print("\n\n".join(f"## {t.title}\n\n{markdown_table(t)}" for t in rep.tables))
    if "html" in formats:
        written.append(_write(out / "report.html", render_html(rep)))
    if "latex" in formats:
        written.append(_write(out / "report.tex", render_latex(rep)))
    if "csv" in formats:
        written.append(write_csv(out / "summary.csv", [s.values for s in rep.summaries]))
        written.append(write_csv(out / "runs.csv", runs_rows(records)))
    return written


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
