"""One :class:`Summary` per (method, task): every number a table shows, at full precision.

Counting rules, stated once here and again in the pages:
- A *judged* run is any run that was not skipped and whose task has a success criterion. Runs
  that timed out, diverged, ran out of memory or crashed are judged and count as failures;
  skipped runs are shown with their reason and left out of the denominator.
- Cost counts every attempted run, whatever its status: a run stopped at its timeout, out of
  memory, diverged or crashed used time, and that time is in the phase medians, the total and
  the ERT (COCO counts the evaluations of unsuccessful runs alike). Skipped runs were not
  attempted and cost nothing. A run whose record carries no time (failed runs recorded before
  failures were timed) is counted in ``time_unknown``, never as 0 s.
- A failed seed *ran out of budget* only when it finished (status ``ok``) before the stop rule
  fired; a seed that diverged, timed out, ran out of memory or crashed failed for that reason.
- Times are per seed: a vectorised method that fits S seeds at once records each seed's share
  (``time.batch_seeds`` says S), and trace seconds are divided by S the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.core.naming import natural_key
from bench.core.record import STATUSES
from bench.report import stats
from bench.report.bars import headline_value, near_misses, success_bar
from bench.report.records import (
    batch_seeds,
    env_signature,
    headline_of,
    loss_target_of,
    median_of,
    num,
    run_seconds,
    seconds_per_1k_steps,
)

PHASE_ORDER = ("estimate", "warmup", "compile", "train", "predict")
NOT_PHASES = ("total", "batch_seeds")


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
        s.values.update(_verdict(recs))
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
        **_ceiling(recs),
        **_tuning(recs),
        # Failed seeds that finished but whose budget ran out before the stop rule fired: not a
        # verdict. A diverged, timed-out or crashed seed did not run out of budget.
        "out_of_budget": sum(
            1
            for r in judged
            if r["status"] == "ok" and not r["success"] and r.get("converged") is False
        ),
    }


def _ceiling(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The representational ceiling (``bench.core.ceiling``) of the runs that finished: the
    pair is *ceiling-limited* when no seed could have succeeded given what the method saw."""
    ceils = [
        r["ceiling"]
        for r in recs
        if r["status"] == "ok" and isinstance(r.get("ceiling"), dict) and "metrics" in r["ceiling"]
    ]
    name = headline_of(recs)
    return {
        "ceiling_known": len(ceils),
        "ceiling_limited": bool(ceils) and all(c.get("success_possible") is False for c in ceils),
        "ceiling_headline": median_of((c.get("metrics") or {}).get(name) for c in ceils),
    }


def _tuning(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Which settings a tunable method ran with, and what tuning them cost (per task family)."""
    info = next((r["tuning"] for r in recs if isinstance(r.get("tuning"), dict) and r["tuning"]),
                {})  # fmt: skip
    return {
        "settings": info.get("settings"),
        "tuned_params": info.get("params") or None,
        "tuning_seconds": info.get("tuning_seconds"),
    }


def _accuracy(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    name = headline_of(recs)
    vals = [(r.get("metrics") or {}).get(name) for r in recs if r["status"] == "ok"] if name else []
    q = stats.quantiles([v for v in (num(x) for x in vals) if v is not None])
    none = q["n"] == 0
    return {"headline": name, "headline_n": q["n"]} | {
        f"headline_{k}": None if none else q[k] for k in ("median", "q25", "q75", "min", "max")
    }


def _verdict(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The continuous side of the success count: the headline over the judged seeds that
    finished (median and range), the numeric bar where the criterion states one, the failed
    seeds within a factor of it (``bars``), and the seeds that ran untuned."""
    bar = success_bar(recs)
    name = headline_of(recs)
    judged = [r for r in recs if r["status"] != "skipped" and r["success"] is not None]
    vals = [v for v in (headline_value(r, name) for r in judged) if v is not None]
    q = stats.quantiles(vals)
    return {
        "success_bar": None if bar is None else bar.text(),
        "near_misses": near_misses(judged, bar),
        "judged_headline_n": q["n"],
        **{f"judged_headline_{k}": q[k] if vals else None for k in ("median", "min", "max")},
        "untuned": sum(
            1
            for r in recs
            if r["status"] != "skipped" and (r.get("tuning") or {}).get("settings") == "untuned"
        ),
    }


def _convergence(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    target = loss_target_of(recs)
    traced = [r for r in recs if r.get("trace")]
    hits = []
    if target is not None:
        for r in traced:
            hit = stats.time_to_target(r["trace"], target)
            if hit is not None:
                hits.append((hit[0], hit[1] / batch_seeds(r)))
    final = []
    for r in recs:
        v = num((r.get("metrics") or {}).get("final_loss"))
        if v is None and r.get("trace"):
            v = num(r["trace"][-1][2])
        if v is not None and r["status"] != "skipped":
            final.append(v)
    improving = [stats.still_improving(r["trace"]) for r in traced]
    known = [v for v in improving if v is not None]
    # Seeds that finished and took steps; the stop rule's verdict on a diverged or crashed
    # seed (it never fired) says nothing about its budget.
    stepped = [r for r in recs if r["status"] == "ok" and r.get("converged") is not None]
    return {
        "converged": sum(1 for r in stepped if r["converged"]),
        "stepped": len(stepped),
        "loss_target": target,
        "traced": len(traced),
        "reached": len(hits) if target is not None else None,
        "steps_to_target": median_of(h[0] for h in hits),
        "seconds_to_target": median_of(h[1] for h in hits),
        "final_loss": median_of(final),
        "improving": sum(known) if known else None,
        "improving_known": len(known),
    }


def _cost(recs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Phase medians, total, ERT and resources over the attempted runs, failed ones included
    (see the module's counting rules); ``time_unknown`` only where some run's time is."""
    ran = [r for r in recs if r["status"] != "skipped"]
    phases = sorted(
        {k for r in ran for k in (r.get("time") or {}) if k not in NOT_PHASES},
        key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER else len(PHASE_ORDER), p),
    )
    out: dict[str, Any] = {
        f"sec_{p}": median_of((r.get("time") or {}).get(p) for r in ran) for p in phases
    }
    known = [t for t in (run_seconds(r) for r in ran) if t is not None]
    out["sec_total"] = median_of(known)
    devices = sorted({str((r.get("env") or {}).get("device_name", "?")) for r in ran})
    out["device"] = "; ".join(devices)
    out["samples"] = median_of((r.get("metrics") or {}).get("samples") for r in ran)
    out["n_params"] = median_of((r.get("metrics") or {}).get("n_params") for r in ran)
    peaks = [num((r.get("memory") or {}).get("device_peak_mb")) for r in ran]
    out["peak_device_mb"] = max((p for p in peaks if p is not None), default=None)
    out["batch_seeds"] = max((batch_seeds(r) for r in ran), default=None)
    out["steps1k_seconds"] = median_of(seconds_per_1k_steps(r) for r in ran)
    judged = [r for r in ran if r["success"] is not None]
    wins = sum(1 for r in judged if r["success"])
    # ERT: the time of every attempted run, successful or not, over the successes.
    out["ert_seconds"] = stats.expected_running_time(known, wins) if judged else None
    if len(known) < len(ran):  # a column only where it says something, like the phases
        out["time_unknown"] = len(ran) - len(known)
    return out


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
        {k for r in ok for k, v in (r.get("metrics") or {}).items() if num(v) is not None}
    )
    return {f"median_{k}": median_of((r.get("metrics") or {}).get(k) for r in ok) for k in names}


def cost_matrix(summaries: Sequence[Summary]) -> dict[str, dict[str, float | None]]:
    """ERT per method and task, over tasks that have a success criterion and can be solved at
    all (a task impossible by representation would only lower every method alike)."""
    judged_tasks = _profile_tasks(summaries)
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


def _profile_tasks(summaries: Sequence[Summary]) -> set[str]:
    impossible = {s.task for s in summaries if s["representable"] is False}
    return {s.task for s in summaries if s["judged"]} - impossible


def cost_unknown(summaries: Sequence[Summary]) -> dict[str, int]:
    """Per method, the runs of unknown time (``time_unknown``) behind the finite costs of
    :func:`cost_matrix`: there the ERT counts the other runs' time only, a lower bound. Methods
    with none are left out."""
    tasks = _profile_tasks(summaries)
    out: dict[str, int] = {}
    for s in summaries:
        ert = s["ert_seconds"]
        if s.task in tasks and s["time_unknown"] and ert is not None and math.isfinite(ert):
            out[s.method] = out.get(s.method, 0) + int(s["time_unknown"])
    return out


def snr_points(
    records: Sequence[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Per group of noisy-tone tasks: per SNR, the RMSE of ``freq_error`` per method and the
    bound ``sqrt(mean(crlb_std^2))`` (the RMS of the per-seed bounds, comparable with an RMSE)."""
    groups: dict[str, dict[str, Any]] = {}
    for r in records:
        tp = r.get("task_params") or {}
        snr = tp.get("snr_db")
        if isinstance(snr, bool) or not isinstance(snr, int | float):
            continue
        rest = ", ".join(f"{k}={tp[k]}" for k in sorted(tp) if k != "snr_db")
        fam = r.get("task_family") or r["task"].split("[")[0]
        g = groups.setdefault(f"{fam}[{rest}]" if rest else fam, {"err": {}, "crlb": {}})
        m = r.get("metrics") or {}
        crlb = m.get("crlb_std")
        if isinstance(crlb, int | float) and math.isfinite(crlb):
            g["crlb"].setdefault(float(snr), []).append(float(crlb) ** 2)
        err = m.get("freq_error")
        if r["status"] == "ok" and isinstance(err, int | float) and math.isfinite(err):
            g["err"].setdefault(r["method"], {}).setdefault(float(snr), []).append(float(err) ** 2)
            if isinstance(crlb, int | float) and crlb > 0:
                z2 = (float(err) / float(crlb)) ** 2
                g.setdefault("z2", {}).setdefault(r["method"], {}).setdefault(float(snr), [])
                g["z2"][r["method"]][float(snr)].append(z2)
    out = {}
    for name, g in groups.items():
        if not g["err"]:
            continue
        out[name] = {
            "rmse": {
                m: {s: math.sqrt(sum(v) / len(v)) for s, v in per.items()}
                for m, per in g["err"].items()
            },
            "crlb": {s: math.sqrt(sum(v) / len(v)) for s, v in g["crlb"].items()},
            # Per method and SNR: (seeds, RMS of error / own-seed bound).
            "normalised": {
                m: {s: (len(v), math.sqrt(sum(v) / len(v))) for s, v in per.items()}
                for m, per in g.get("z2", {}).items()
            },
        }
    return out
