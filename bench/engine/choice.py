"""The choice the tuning protocol makes from its trial records (``bench.engine.tuning``).

Per tuning unit (a task, or a task family's tuning tasks) the full-budget trials are the
candidates: per task the points are ranked by mean validation score over seeds (ties share a
rank), and the point with the lowest mean rank wins; where points tie, the paper's default
wins if it is among them, otherwise the lower mean log-score, otherwise the earlier grid point.
The same ranking picks the points that go on from a rung of successive halving
(:func:`ranking`). :func:`summarise` adds what the report shows beside a choice: the grid tried,
whether each chosen value is interior to it, the rungs, the seeds and the cost.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from bench.core.registry import Entry, natural_key
from bench.engine import halving


def paper_defaults(entry: Entry) -> dict[str, Any]:
    """The method's own defaults for the searched knobs, with the entry's fixed parameters."""
    sig = inspect.signature(entry.cls.__init__)
    out = {
        k: sig.parameters[k].default
        for k in entry.cls.search_space
        if k in sig.parameters and sig.parameters[k].default is not inspect.Parameter.empty
    }
    out.update({k: v for k, v in entry.params.items() if k in out})
    return out


#: The prefix of a tuning unit that is a whole task family.
FAMILY_UNIT = "family:"


def unit_of(record: Mapping[str, Any]) -> str:
    """The tuning unit of a trial record (records of the first protocol: their family)."""
    return str((record.get("tuning") or {}).get("unit") or f"{FAMILY_UNIT}{record['task_family']}")


def _ranks(scores: Sequence[float]) -> list[float]:
    """Average ranks (1 = best), ties sharing their mean rank; inf and nan rank last."""
    vals = [s if math.isfinite(s) else math.inf for s in scores]
    order = sorted(range(len(vals)), key=lambda i: vals[i])
    ranks = [0.0] * len(vals)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and vals[order[j + 1]] == vals[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _standing(
    points: Sequence[Mapping[str, Any]],
    scores: Mapping[str, Sequence[float]],
    paper: Mapping[str, Any],
) -> tuple[list[int], list[float], list[float], int | None]:
    """The points best first (mean rank; ties: the paper's default, then the mean
    log-score, then grid order), their mean ranks and log-scores, and the paper's index."""
    n = len(points)
    mean_rank = [0.0] * n
    mean_log = [0.0] * n
    for per_point in scores.values():
        for i, r in enumerate(_ranks(per_point)):
            mean_rank[i] += r / len(scores)
        for i, s in enumerate(per_point):
            mean_log[i] += math.log10(max(s, 1e-12)) / len(scores) if math.isfinite(s) else 99.0
    paper_i = next(
        (i for i in range(n) if all(points[i].get(k) == v for k, v in paper.items())), None
    )
    order = sorted(range(n), key=lambda i: (round(mean_rank[i], 9), i != paper_i, mean_log[i], i))
    return order, mean_rank, mean_log, paper_i


def choose(
    points: Sequence[Mapping[str, Any]],
    scores: Mapping[str, Sequence[float]],
    paper: Mapping[str, Any],
) -> dict[str, Any]:
    """The winning point: ``scores[task][i]`` is point ``i``'s mean validation score."""
    order, mean_rank, _, paper_i = _standing(points, scores, paper)
    win = order[0]
    return {
        "params": dict(points[win]),
        "mean_rank": mean_rank[win],
        "paper_mean_rank": None if paper_i is None else mean_rank[paper_i],
        "is_paper": paper_i == win,
        "scores": {t: per_point[win] for t, per_point in scores.items()},
        "paper_scores": {}
        if paper_i is None
        else {t: per_point[paper_i] for t, per_point in scores.items()},
    }


def ranking(
    points: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    paper: Mapping[str, Any],
) -> list[int]:
    """The indices of ``points`` best first, from their trial ``records`` (one rung's): mean
    validation score over seeds per task, then as :func:`choose` ranks."""
    tasks = sorted({r["task"] for r in records}, key=natural_key)
    scores = {
        t: [
            float(np.mean(v)) if (v := [_score_of(r) for r in records
                                       if r["task"] == t and _point_of(r, p) == p]) else math.inf
            for p in points
        ]
        for t in tasks
    }  # fmt: skip
    if not scores:
        return list(range(len(points)))
    return _standing(points, scores, paper)[0]


def summarise(
    records: Iterable[Mapping[str, Any]], entries: Sequence[Entry]
) -> dict[str, dict[str, Any]]:
    """Per method family and tuning unit, the chosen settings from trial records: per task
    family (``families``) or per task (``tasks``), each with the grid tried, where the choice
    lies in it, the rungs and the cost."""
    recs = [r for r in records if r.get("purpose") == "tune"]
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        paper = {k: v for k, v in paper_defaults(entry).items() if k not in entry.params}
        mine = [r for r in recs if r["method_family"] == entry.family]
        units: dict[str, list[Mapping[str, Any]]] = {}
        for r in mine:
            units.setdefault(unit_of(r), []).append(r)
        by_family, by_task = {}, {}
        for unit, rs in sorted(units.items()):
            chosen = _choose_unit(entry, rs, paper)
            if chosen is None:
                continue
            if unit.startswith(FAMILY_UNIT):
                by_family[unit[len(FAMILY_UNIT) :]] = chosen
            else:
                by_task[unit] = chosen
        if by_family or by_task:
            out[entry.family] = {
                "search_space": {k: list(v) for k, v in entry.cls.search_space.items()},
                "paper": paper,
                "families": by_family,
                "tasks": by_task,
            }
    return out


def _choose_unit(
    entry: Entry, rs: Sequence[Mapping[str, Any]], paper: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The choice of one tuning unit among its full-budget trials, with its grid's edges."""
    knobs = [k for k in entry.cls.search_space if k not in entry.params]
    full = [r for r in rs if _full_budget(r) and r["status"] != "skipped"]
    points: list[dict[str, Any]] = []
    for r in full:
        p = _point_of(r, dict.fromkeys(knobs))
        if p not in points:
            points.append(p)
    tasks = sorted({r["task"] for r in full}, key=natural_key)
    scores: dict[str, list[float]] = {}
    for t in tasks:
        per_point = []
        for p in points:
            vals = [_score_of(r) for r in full if r["task"] == t and _point_of(r, p) == p]
            per_point.append(float(np.mean(vals)) if vals else math.inf)
        if any(math.isfinite(v) for v in per_point):
            scores[t] = per_point
    if not scores:
        return None
    chosen = choose(points, scores, paper)
    tried = {k: sorted({_point_of(r, {k: None})[k] for r in rs}, key=_order_key) for k in knobs}
    w_max = max(float((r.get("tuning") or {}).get("w_max") or 0.0) for r in rs) or None
    initial = halving.knob_values(entry, w_max) if w_max else {}
    unique = {(r["method"], r["task"], r["seed"], _steps_of(r)): r for r in rs}
    chosen.update(
        tasks=list(scores),
        grid=tried,
        edges={k: halving.edge_of(chosen["params"][k], tried[k]) for k in knobs},
        extended=[k for k in knobs if initial and set(tried[k]) - set(initial.get(k, []))],
        seeds=max(len({r["seed"] for r in full if r["task"] == t}) for t in scores),
        rungs=sorted({_steps_of(r) for r in rs if _steps_of(r)}),
        w_max=w_max,
        trials=sum(1 for r in unique.values() if r["status"] != "skipped"),
        seconds=round(
            sum(float((r.get("time") or {}).get("total") or 0.0) for r in unique.values()), 3
        ),
    )
    return chosen


def _steps_of(r: Mapping[str, Any]) -> int:
    return int((r.get("tuning") or {}).get("steps") or 0)


def _full_budget(r: Mapping[str, Any]) -> bool:
    """A trial on the task's whole step budget (every trial of the first protocol was)."""
    t = r.get("tuning") or {}
    return not t.get("steps") or int(t["steps"]) >= int(t.get("of_steps") or 0)


def _order_key(v: Any) -> tuple[int, float, str]:
    """Grid values in order: named values first, then numbers ascending."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return (1, float(v), "")
    return (0, 0.0, str(v))


def _score_of(r: Mapping[str, Any]) -> float:
    v = (r.get("metrics") or {}).get("val_score")
    if r["status"] != "ok" or v is None or not math.isfinite(float(v)):
        return math.inf
    return float(v)


def _point_of(r: Mapping[str, Any], like: Mapping[str, Any]) -> dict[str, Any]:
    params = r.get("method_params") or {}
    return {k: params.get(k) for k in like}
