"""The declared tuning protocol: every tunable method gets the same, stated chance.

In the spirit of AlgoPerf's external-tuning rules and benchopt's parameter grids:

- **Search space.** A method with hyper-parameters worth tuning declares ``search_space``, a
  small grid (``{"lr": [...], "w0": [...]}``): the learning rate over at least four values
  about 3x apart, plus the method's own key knob. The grid contains the paper's defaults, so
  the paper's setting is always one of the trials.
- **Tuning tasks.** Per (method, task family): the family's tasks in the default sweep, in
  natural order, the first and the middle one (``TASKS_PER_FAMILY``), so that a family's easy
  end and its middle both weigh in. A task the method cannot attempt is left out.
- **Data.** Trials run on seeds derived from ``TUNE_BASE_SEED``, disjoint from the evaluation
  seeds, with the task's own budget and the same stop rule as any run. They are scored on a
  *validation split carved from the method's own training samples* (:class:`HoldoutView`):
  for a sampler, up to ``VAL_MAX`` fresh samples drawn first and counted against the sample
  budget (taken from what gradient training leaves unused where it can); for a fixed training
  set, a random ``VAL_SHARE`` of it, which the method then never sees. The task's evaluation
  sets are never touched.
- **Score.** Validation nMSE for regression, ``1 - exact match`` for classification; a failed
  trial scores infinity.
- **Choice.** Per tuning task the settings are ranked by score (ties share a rank); the setting
  with the lowest mean rank over the family's tuning tasks wins. Where settings tie, the paper's
  default wins if it is among them (a tuned value replaces the paper's only when it scores
  better), otherwise the lower mean log-score, otherwise the earlier grid point.

``python -m bench tune`` runs the trials (records like any run's, with ``purpose: tune``),
then writes the chosen settings with their provenance to ``bench/tuned.json``. ``run`` applies
them: a method with a search space runs with the settings chosen for the task's family, its
own variant parameters taking precedence, unless it is its ``[settings=paper]`` variant.
Records say which (``tuning`` in the record).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.contracts import Task, TaskView, as_numpy, finite_pairs
from bench.core.registry import Entry, natural_key
from bench.lib.metrics import exact_match, labels, nmse

TUNE_BASE_SEED = 1_000_003
TUNE_SEEDS = 1
TASKS_PER_FAMILY = 2
VAL_MAX = 4096
VAL_SHARE = 0.2
#: Where ``bench tune`` writes by default and ``run`` reads: shipped with the package.
SETTINGS_FILE = Path(__file__).resolve().parent.parent / "tuned.json"

PROTOCOL = {
    "search": "declared grid per method (search_space), paper defaults included",
    "tasks": f"per family: the first and the middle default-sweep task in natural order "
    f"(at most {TASKS_PER_FAMILY})",
    "seeds": f"{TUNE_SEEDS} per trial, derived from base seed {TUNE_BASE_SEED} (evaluation "
    "uses base 0)",
    "validation": f"samplers: up to {VAL_MAX} fresh samples drawn first, counted against the "
    f"sample budget; fixed sets: a random {VAL_SHARE:.0%} held out",
    "score": "validation nMSE (regression) or 1 - exact match (classification); failed = inf",
    "choice": "lowest mean rank over the family's tuning tasks; ties: paper default, then mean "
    "log-score, then grid order",
    "budget": "the task's own budget and the declared stop rule, as in any run",
}


# -- the validation split -----------------------------------------------------------------------


class HoldoutView(TaskView):
    """A :class:`TaskView` that keeps a validation split back from the method's training data."""

    __slots__ = ("_val", "_kept")

    def __init__(self, task: Task, rng: np.random.Generator) -> None:
        super().__init__(task, rng)
        self._kept: tuple[np.ndarray, np.ndarray] | None = None
        budget = task.budget
        if task.infinite:
            spare = budget.max_samples - budget.steps * budget.batch_size
            n = min(VAL_MAX, spare if spare >= VAL_MAX // 4 else budget.max_samples // 10)
            self._val = self.sample(max(n, 1))
        else:
            x, y, self._dropped = finite_pairs(*task.train_set())
            order = rng.permutation(len(x))
            k = max(1, int(round(len(x) * VAL_SHARE)))
            held, kept = np.sort(order[:k]), np.sort(order[k:])
            self._val = (x[held], y[held])
            self._kept = (x[kept], y[kept])

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        return self._val

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        if self._kept is None:
            return super().train_set()
        x, y = self._kept
        self._drawn = max(self._drawn, len(x))
        return x.copy(), y.copy()


def validation_score(task: Task, model: Any, val: tuple[np.ndarray, np.ndarray]) -> float:
    """nMSE (regression) or ``1 - exact match`` (classification) on the held-out split."""
    x, y = val
    pred = as_numpy(model.predict(x))
    if task.output.kind == "classification":
        y2 = np.asarray(y).reshape(len(y), -1)
        return 1.0 - exact_match(labels(pred, y2), y2)
    score = nmse(pred.reshape(np.shape(y)), np.asarray(y, dtype=float))
    return float(score) if math.isfinite(score) else math.inf


# -- the plan -----------------------------------------------------------------------------------


def tunable(entry: Entry) -> bool:
    return bool(getattr(entry.cls, "search_space", None))


def paper_defaults(entry: Entry) -> dict[str, Any]:
    """The method's own defaults for the searched knobs, with the entry's fixed parameters."""
    import inspect

    sig = inspect.signature(entry.cls.__init__)
    out = {
        k: sig.parameters[k].default
        for k in entry.cls.search_space
        if k in sig.parameters and sig.parameters[k].default is not inspect.Parameter.empty
    }
    out.update({k: v for k, v in entry.params.items() if k in out})
    return out


def grid(entry: Entry) -> list[dict[str, Any]]:
    """The trial settings: the product of the declared values, minus knobs the entry fixes."""
    space = {k: list(v) for k, v in entry.cls.search_space.items() if k not in entry.params}
    keys = list(space)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*space.values())]


def tuning_tasks(tasks: Sequence[Entry]) -> dict[str, list[Entry]]:
    """Per family: the first and the middle task of the given (default-sweep) tasks."""
    by_family: dict[str, list[Entry]] = {}
    for t in sorted(tasks, key=lambda e: natural_key(e.id)):
        by_family.setdefault(t.family, []).append(t)
    out = {}
    for fam, members in by_family.items():
        picks = {e.id: e for e in (members[0], members[len(members) // 2])}
        out[fam] = list(picks.values())[:TASKS_PER_FAMILY]
    return out


def trial_id(entry: Entry, point: Mapping[str, Any]) -> str:
    from bench.core.registry import variant_id

    return variant_id(entry.family, {**entry.params, **point, "settings": "trial"})


# -- the choice ---------------------------------------------------------------------------------


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


def choose(
    points: Sequence[Mapping[str, Any]],
    scores: Mapping[str, Sequence[float]],
    paper: Mapping[str, Any],
) -> dict[str, Any]:
    """The winning point: ``scores[task][i]`` is point ``i``'s mean validation score."""
    n = len(points)
    mean_rank = [0.0] * n
    mean_log = [0.0] * n
    for per_point in scores.values():
        for i, r in enumerate(_ranks(per_point)):
            mean_rank[i] += r / len(scores)
        for i, s in enumerate(per_point):
            mean_log[i] += math.log10(max(s, 1e-12)) / len(scores) if math.isfinite(s) else 99.0
    best = min(mean_rank)
    tied = [i for i in range(n) if math.isclose(mean_rank[i], best, abs_tol=1e-9)]
    paper_at = [i for i in tied if all(points[i].get(k) == v for k, v in paper.items())]
    win = paper_at[0] if paper_at else min(tied, key=lambda i: (mean_log[i], i))
    paper_i = next(
        (i for i in range(n) if all(points[i].get(k) == v for k, v in paper.items())), None
    )
    return {
        "params": dict(points[win]),
        "mean_rank": mean_rank[win],
        "paper_mean_rank": None if paper_i is None else mean_rank[paper_i],
        "is_paper": bool(paper_at) or (paper_i == win),
        "scores": {t: per_point[win] for t, per_point in scores.items()},
        "paper_scores": {}
        if paper_i is None
        else {t: per_point[paper_i] for t, per_point in scores.items()},
    }


def summarise(
    records: Iterable[Mapping[str, Any]], entries: Sequence[Entry]
) -> dict[str, dict[str, Any]]:
    """Per method family and task family, the chosen settings from trial records."""
    recs = [r for r in records if r.get("purpose") == "tune"]
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        points = grid(entry)
        paper = {k: v for k, v in paper_defaults(entry).items() if k not in entry.params}
        mine = [r for r in recs if r["method_family"] == entry.family]
        families = sorted({r["task_family"] for r in mine})
        fam_out = {}
        for fam in families:
            in_fam = [r for r in mine if r["task_family"] == fam]
            tasks = sorted({r["task"] for r in in_fam}, key=natural_key)
            scores: dict[str, list[float]] = {}
            for t in tasks:
                per_point = []
                for p in points:
                    vals = [
                        _score_of(r)
                        for r in in_fam
                        if r["task"] == t and _point_of(r, p) == p and r["status"] != "skipped"
                    ]
                    per_point.append(float(np.mean(vals)) if vals else math.inf)
                if any(math.isfinite(s) for s in per_point):
                    scores[t] = per_point
            if not scores:
                continue
            chosen = choose(points, scores, paper)
            chosen["tasks"] = list(scores)
            # One record per (trial, task, seed): a rerun of the same trial counts once.
            unique = {(r["method"], r["task"], r["seed"]): r for r in in_fam}
            chosen["trials"] = sum(1 for r in unique.values() if r["status"] != "skipped")
            chosen["seconds"] = round(
                sum(float((r.get("time") or {}).get("total") or 0.0) for r in unique.values()), 3
            )
            fam_out[fam] = chosen
        if fam_out:
            out[entry.family] = {
                "search_space": {k: list(v) for k, v in entry.cls.search_space.items()},
                "paper": paper,
                "families": fam_out,
            }
    return out


def _score_of(r: Mapping[str, Any]) -> float:
    v = (r.get("metrics") or {}).get("val_score")
    if r["status"] != "ok" or v is None or not math.isfinite(float(v)):
        return math.inf
    return float(v)


def _point_of(r: Mapping[str, Any], like: Mapping[str, Any]) -> dict[str, Any]:
    params = r.get("method_params") or {}
    return {k: params.get(k) for k in like}


# -- the settings file --------------------------------------------------------------------------


@cache
def _load(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"tuned settings file {p} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"tuned settings file {p} is not a JSON object")
    data["_digest"] = hashlib.sha256(p.read_bytes()).hexdigest()[:12]
    return data


def settings_file() -> Path:
    import os

    return Path(os.environ.get("BENCH_TUNED", str(SETTINGS_FILE)))


def settings_for(entry: Entry, task_family: str, profile: str) -> dict[str, Any]:
    """What ``run`` applies to ``entry`` on a task of ``task_family``:
    ``{"settings": "tuned"|"paper"|"untuned", "params": {...}, ...}`` (``params`` are the
    overrides, empty unless tuned)."""
    if not tunable(entry):
        return {}
    if entry.params.get("settings") in ("paper", "trial"):
        return {"settings": entry.params["settings"], "params": {}}
    data = _load(str(settings_file()))
    fam = (
        data.get("profiles", {})
        .get(profile, {})
        .get(entry.family, {})
        .get("families", {})
        .get(task_family)
    )
    if not fam:
        return {"settings": "untuned", "params": {}, "why": "no tuned settings for this family"}
    params = {k: v for k, v in fam["params"].items() if k not in entry.params}
    return {
        "settings": "tuned",
        "params": params,
        "source": f"{settings_file().name}@{data.get('_digest', '?')}",
        "tuning_seconds": fam.get("seconds"),
        "tuning_trials": fam.get("trials"),
        "tuning_tasks": fam.get("tasks"),
    }


def write_settings(
    path: Path, profile: str, chosen: dict[str, Any], provenance: dict[str, Any]
) -> None:
    """Merge ``chosen`` (for ``profile``) into the settings file at ``path``, task family by
    task family: a tune of some families keeps every other family's settings, and each family
    carries the provenance of the tune that chose it (``made_by``)."""
    data: dict[str, Any] = {}
    if path.is_file():
        data = json.loads(path.read_text())
    data["protocol"] = PROTOCOL
    methods = data.setdefault("profiles", {}).setdefault(profile, {})
    for method, value in chosen.items():
        entry = methods.setdefault(method, {})
        old_made_by = entry.pop("made_by", None)
        families = entry.get("families", {})
        if old_made_by is not None:  # a file from before per-family provenance
            for fam in families.values():
                fam.setdefault("made_by", old_made_by)
        entry.update({k: v for k, v in value.items() if k != "families"})
        for task_family, fam in value["families"].items():
            families[task_family] = {**fam, "made_by": provenance}
        entry["families"] = dict(sorted(families.items()))
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    _load.cache_clear()
