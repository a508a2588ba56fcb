"""The declared tuning protocol: every tunable method gets the same, stated chance.

In the spirit of AlgoPerf's external-tuning rules and benchopt's parameter grids:

- **Search space.** A method with hyper-parameters worth tuning declares ``search_space``, a
  small grid (``{"lr": [...], "w0": [...]}``): the learning rate over at least four values
  about 3x apart, plus the method's own knobs, the paper's defaults among them. Its scale knob
  (``Method.scale_knob``) is extended until it reaches the highest frequency the task's samples
  resolve, and a choice on an edge of the scale knob or the learning rate is tried one step
  beyond it (``bench.engine.halving``).
- **Tuning units.** A family whose tasks span scales (``Task.tune_per_task``: the tones, the
  ``sin31`` variants, the clocks) is tuned task by task; any other family on the first and
  the middle of its default-sweep tasks in natural order (``TASKS_PER_FAMILY``).
- **Spending.** Successive halving (``bench.engine.halving``): every point on a ninth (or a
  third) of the steps, the best third on three times as many, up to the full budget.
- **Data.** Trials run on ``TUNE_SEEDS`` seeds derived from ``TUNE_BASE_SEED``, disjoint from the
  evaluation seeds, with the task's own budget and stop rule. They are scored on a *validation
  split carved from the method's own training samples* (:class:`HoldoutView`), where the task
  judges: inside the training range, or at its end (``forward``) or both ends (``outer``) for
  tasks judged beyond it. The task's evaluation sets are never touched.
- **Score and choice.** Validation nMSE for regression, ``1 - exact match`` for
  classification, a failed trial infinity; the lowest mean rank over the unit's tasks wins,
  the paper's default on a tie (``bench.engine.choice``).

``python -m bench tune`` runs the trials (records like any run's, with ``purpose: tune`` and
the rung in ``tuning``), then writes the chosen settings with their provenance to
``bench/tuned.json``. ``run`` applies them: a method with a search space runs with the settings
chosen for the task (else its family), its own variant parameters taking precedence, unless it
is its ``[settings=paper]`` variant; a profile without settings takes those of the profile
:data:`TRANSFER` names. Records say which (``tuning`` in the record).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.contracts import Task, TaskView, as_numpy, finite_pairs
from bench.core.registry import Entry, natural_key
from bench.engine import halving
from bench.engine.choice import (  # noqa: F401  (the protocol's names, in one place)
    FAMILY_UNIT,
    choose,
    paper_defaults,
    ranking,
    summarise,
    unit_of,
)
from bench.kit.validation import holdout
from bench.lib.metrics import exact_match, labels, nmse

TUNE_BASE_SEED = 1_000_003
#: Seeds per trial: a choice between points should not rest on one draw.
TUNE_SEEDS = 2
#: Tuning tasks per family, where a family is tuned as a whole.
TASKS_PER_FAMILY = 2
VAL_MAX = 4096
VAL_SHARE = 0.2
#: Where ``bench tune`` writes by default and ``run`` reads: shipped with the package.
SETTINGS_FILE = Path(__file__).resolve().parent.parent / "tuned.json"
#: Profiles that run with another profile's settings where they have none of their own,
#: declared transferable (the report says so on every record that did).
TRANSFER = {"full": "quick"}

PROTOCOL = {
    "search": "declared grid per method (search_space), paper defaults included; the scale "
    "knob (Method.scale_knob) extended until it reaches the highest frequency the task's "
    "samples resolve (pi n / 2 per unit of the [-1, 1]-scaled input, n training samples); "
    "a choice on an edge of the scale knob or the learning rate is tried one step beyond",
    "spend": f"successive halving: every point on 1/{halving.ETA ** (halving.MAX_RUNGS - 1)} "
    f"(or 1/{halving.ETA}) of the steps, the best 1/{halving.ETA} on {halving.ETA}x the steps, "
    "up to the full budget; only full-budget trials are candidates",
    "tasks": "per task where the task family spans scales (Task.tune_per_task: tones, sin31, "
    f"clocks); elsewhere per family on the first and the middle default-sweep task (at most "
    f"{TASKS_PER_FAMILY})",
    "seeds": f"{TUNE_SEEDS} per trial, derived from base seed {TUNE_BASE_SEED} (evaluation "
    "uses base 0)",
    "validation": f"samplers: up to {VAL_MAX} fresh samples drawn first, counted against the "
    f"sample budget; fixed sets: {VAL_SHARE:.0%} held out by the task's validation rule "
    "(random; forward: the end of the training span, for forecasts; outer: both ends, for "
    "extrapolation)",
    "score": "validation nMSE (regression) or 1 - exact match (classification); failed = inf",
    "choice": "lowest mean rank over the tuning tasks; ties: paper default, then mean "
    "log-score, then grid order",
    "budget": "the task's own budget and the declared stop rule, as in any run",
    "transfer": ", ".join(f"{a} runs with {b}'s settings" for a, b in TRANSFER.items()),
}


# -- the validation split -----------------------------------------------------------------------


class HoldoutView(TaskView):
    """A :class:`TaskView` that keeps a validation split back from the method's training data,
    where the task judges: inside the training range (``random``), after it (``forward``) or
    beyond both ends (``outer``; ``Task.validation_rule``).

    A sampler judged beyond its range keeps the outer (or last) :data:`VAL_SHARE` of its
    domain for validation: the method's samples from there are replaced by draws from the
    rest, every draw counted against the sample budget, as a user who validates an
    extrapolation on the end of the data would train."""

    __slots__ = ("_val", "_kept", "_band")

    def __init__(self, task: Task, rng: np.random.Generator) -> None:
        super().__init__(task, rng)
        self._kept: tuple[np.ndarray, np.ndarray] | None = None
        self._band: tuple[str, float, float] | None = None
        budget = task.budget
        rule = str(getattr(task, "validation_rule", "random"))
        if task.infinite:
            spare = budget.max_samples - budget.steps * budget.batch_size
            n = max(1, min(VAL_MAX, spare if spare >= VAL_MAX // 4 else budget.max_samples // 10))
            if rule == "random":
                self._val = self.sample(n)
            else:
                lo, hi = task.domain
                self._band = (rule, float(lo), float(hi))
                self._val = self._draw(n, held=True)
        else:
            x, y, self._dropped = finite_pairs(*task.train_set())
            kept, held = holdout(x, rule, rng, VAL_SHARE, cap=None)
            self._val = (x[held], y[held])
            self._kept = (x[kept], y[kept])

    def _held(self, x: np.ndarray) -> np.ndarray:
        assert self._band is not None
        rule, lo, hi = self._band
        pos = np.asarray(x, dtype=np.float64).reshape(len(x), -1)[:, 0]
        if rule == "outer":
            return np.abs(pos - 0.5 * (lo + hi)) > (1.0 - VAL_SHARE) * 0.5 * (hi - lo)
        return pos > hi - VAL_SHARE * (hi - lo)

    def _draw(self, n: int, held: bool) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs from inside (``held``: from) the validation band, drawn in rounds."""
        xs, ys, got = [], [], 0
        while got < n:
            x, y = super().sample(min(TaskView.samples_left.fget(self), max(2 * (n - got), 64)))
            keep = self._held(x) == held
            xs.append(x[keep])
            ys.append(y[keep])
            got += int(keep.sum())
        return np.concatenate(xs)[:n], np.concatenate(ys)[:n]

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self._band is None:
            return super().sample(n)
        return self._draw(n, held=False)

    @property
    def samples_left(self) -> int:
        """What the method may still ask for: outside the band, only the kept share of the
        draws is training data (with a margin for the draws' spread)."""
        left = super().samples_left
        return left if self._band is None else int(left * (1.0 - VAL_SHARE) * 0.95)

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


def grid(entry: Entry) -> list[dict[str, Any]]:
    """The declared grid's points (before the scale knob is extended for a task), minus knobs
    the entry fixes."""
    space = {k: list(v) for k, v in entry.cls.search_space.items() if k not in entry.params}
    return halving.points(space)


def tuning_tasks(tasks: Sequence[Entry]) -> dict[str, list[Entry]]:
    """The tuning units of the given (default-sweep) tasks: one per task of a family that
    spans scales (``Task.tune_per_task``), keyed by the task's id; one per other family,
    keyed ``family:<name>``, holding its first and middle task."""
    by_family: dict[str, list[Entry]] = {}
    for t in sorted(tasks, key=lambda e: natural_key(e.id)):
        by_family.setdefault(t.family, []).append(t)
    out: dict[str, list[Entry]] = {}
    for fam, members in by_family.items():
        if getattr(members[0].cls, "tune_per_task", False):
            out.update({t.id: [t] for t in members})
            continue
        picks = {e.id: e for e in (members[0], members[len(members) // 2])}
        out[f"{FAMILY_UNIT}{fam}"] = list(picks.values())[:TASKS_PER_FAMILY]
    return out


def trial_id(entry: Entry, point: Mapping[str, Any]) -> str:
    from bench.core.registry import variant_id

    return variant_id(entry.family, {**entry.params, **point, "settings": "trial"})


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


def settings_for(entry: Entry, task: Entry, profile: str) -> dict[str, Any]:
    """What ``run`` applies to ``entry`` on ``task``:
    ``{"settings": "tuned"|"paper"|"untuned", "params": {...}, ...}`` (``params`` are the
    overrides, empty unless tuned). The task's own choice comes first, then its family's; a
    profile without settings of its own takes those of the profile :data:`TRANSFER` names,
    and says so (``transferred_from``)."""
    if not tunable(entry):
        return {}
    if entry.params.get("settings") in ("paper", "trial"):
        return {"settings": entry.params["settings"], "params": {}}
    data = _load(str(settings_file()))
    found, source_profile = None, profile
    for prof in (profile, TRANSFER.get(profile)):
        method = data.get("profiles", {}).get(prof or "", {}).get(entry.family, {})
        found = method.get("tasks", {}).get(task.id) or method.get("families", {}).get(task.family)
        if found:
            source_profile = prof or profile
            break
    if not found:
        return {"settings": "untuned", "params": {}, "why": "no tuned settings for this task"}
    params = {k: v for k, v in found["params"].items() if k not in entry.params}
    out = {
        "settings": "tuned",
        "params": params,
        "source": f"{settings_file().name}@{data.get('_digest', '?')}",
        "tuning_seconds": found.get("seconds"),
        "tuning_trials": found.get("trials"),
        "tuning_tasks": found.get("tasks"),
    }
    if source_profile != profile:
        out["transferred_from"] = source_profile
    return out


def write_settings(
    path: Path, profile: str, chosen: dict[str, Any], provenance: dict[str, Any]
) -> None:
    """Merge ``chosen`` (for ``profile``) into the settings file at ``path``, task family by
    task family: a tune of some families keeps every other family's settings, and each family
    carries the provenance of the tune that chose it (``made_by``)."""
    data = _read_settings(path)
    methods = data.setdefault("profiles", {}).setdefault(profile, {})
    for method, value in chosen.items():
        _merge_method(methods.setdefault(method, {}), value, provenance)
    _write(path, data)


def adopt_settings(source: Path, path: Path) -> list[str]:
    """Merge the settings file ``source`` (a published tune's ``tuned.json``) into ``path``,
    family by family and task by task, each keeping the provenance ``source`` gives it; returns
    a line per unit saying what it was and what it is now. A unit of ``path`` that names the
    same published trials as ``source`` but another commit, and that ``source`` does not
    choose again, is dropped: the folder it names no longer holds its trials (a tune remade
    per task leaves its earlier family-wide choice behind, for instance)."""
    try:
        new = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"tuned settings file {source} is unreadable: {exc}") from exc
    if not isinstance(new, dict) or not isinstance(new.get("profiles"), dict):
        raise ValueError(f"{source} holds no tuned settings (no 'profiles' object)")
    data = _read_settings(path)
    lines: list[str] = []
    for profile, chosen in new["profiles"].items():
        methods = data.setdefault("profiles", {}).setdefault(profile, {})
        for method, value in chosen.items():
            entry = methods.setdefault(method, {})
            for kind in ("families", "tasks"):
                for unit, one in value.get(kind, {}).items():
                    was = entry.get(kind, {}).get(unit, {}).get("params")
                    now = one.get("params")
                    change = "unchanged" if was == now else f"{_params(was)} -> {_params(now)}"
                    lines.append(f"{profile} {method} {unit}: {change}")
            lines += [f"{profile} {method} {line}" for line in _drop_superseded(entry, value)]
            _merge_method(entry, value, None)
    _write(path, data)
    return lines


def _drop_superseded(entry: dict[str, Any], value: dict[str, Any]) -> list[str]:
    """Remove from ``entry`` (a method's settings) each unit that names the trials ``value``
    (the same method's new choices) names, at another commit, and that ``value`` does not
    choose again; a line per unit removed."""
    made = {
        (by.get("records"), by.get("commit"))
        for kind in ("families", "tasks")
        for one in value.get(kind, {}).values()
        if isinstance(by := one.get("made_by"), dict)
    }
    folders = {records for records, _ in made}
    lines = []
    for kind in ("families", "tasks"):
        units = entry.get(kind, {})
        for unit in [u for u in units if u not in value.get(kind, {})]:
            by = units[unit].get("made_by") or {}
            if by.get("records") in folders and (by["records"], by.get("commit")) not in made:
                params = _params(units.pop(unit).get("params"))
                lines.append(
                    f"{unit}: {params} dropped ({by['records']} no longer holds its trials)"
                )
    return lines


def _params(params: dict[str, Any] | None) -> str:
    if params is None:
        return "(none)"
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "(defaults)"


def _read_settings(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    data["protocol"] = PROTOCOL
    return data


def _merge_method(
    entry: dict[str, Any], value: dict[str, Any], provenance: dict[str, Any] | None
) -> None:
    """Merge one method's chosen settings into its entry: its families and tasks one by one,
    with ``provenance`` as their ``made_by`` (``None``: each keeps its own)."""
    old_made_by = entry.pop("made_by", None)
    families = entry.get("families", {})
    if old_made_by is not None:  # a file from before per-family provenance
        for fam in families.values():
            fam.setdefault("made_by", old_made_by)
    entry.update({k: v for k, v in value.items() if k not in ("families", "tasks", "made_by")})
    stamp = {} if provenance is None else {"made_by": provenance}
    for task_family, fam in value.get("families", {}).items():
        families[task_family] = {**fam, **stamp}
    entry["families"] = dict(sorted(families.items()))
    tasks = entry.get("tasks", {})
    for task_id, one in value.get("tasks", {}).items():
        tasks[task_id] = {**one, **stamp}
    entry["tasks"] = dict(sorted(tasks.items(), key=lambda kv: natural_key(kv[0])))


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    _load.cache_clear()
