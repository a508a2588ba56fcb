"""Expected run times from earlier records: what a plan will cost before it runs.

A sweep's units differ in cost by a factor of a million (a closed-form estimator against a
network trained for a million steps), so a plan is only useful with times attached. The
:class:`CostModel` learns the seconds a run took from records already written (the output
folder's own, and the published folders') and answers, for a planned unit, with the closest
match it has, saying which:

1. ``measured``: the same method and task, profile and device kind (``cpu`` or ``cuda``);
2. ``family``: the same method on another task of the task's family;
3. the same method and task under another profile or device kind (the other profile on this
   kind first, then this profile on the other kind, then both other), converted by the first
   of: ``scaled``, the ratio between the two fitted on the method's own tasks measured under
   both, those of the task's family if any (a geometric mean: e.g. a network's full-profile
   GPU runs against its quick CPU runs);
   ``as measured there``, for a method whose runs there did not use their whole step budget
   (they stopped early, or take no steps: their cost follows the data and the stop, not the
   budget); ``budget``, on this device kind, the ratio of the budgets' optimiser steps
   (crude); ``other device``, a method never timed on this device kind: its time on the other,
   by the steps' ratio (no speed-up assumed: stated, not guessed);
4. ``method``: the same method on any task of this profile and device kind (its mean run);
5. ``unknown``: none of these; such units count as zero and are listed.

Within each rule the timings of this machine's model (CPU or GPU name) come first, and a
skipped run counts as free (it declines before any work).

A record's ``time.total`` is its share of its unit's wall time (a unit of S batched seeds is
split S ways), so a unit of S seeds is expected to take S shares. :func:`schedule` turns the
expected unit times into a wall time for a number of workers, by handing the units out longest
first (the order the sweep uses: :func:`longest_first`), and :func:`busy_share` says how much
of the workers' time that leaves idle.
"""

from __future__ import annotations

import heapq
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bench.engine.plan import Fleet, Unit
from bench.engine.store import BadLine, iter_records, record_files

#: Where a dry run and a sweep look for published records besides the output folder: the
#: folders under ``$BENCH_COSTS`` (a path list; empty for none), else ``./results``.
COSTS_ENV = "BENCH_COSTS"
BASES = (
    "measured",
    "family",
    "scaled",
    "as measured there",
    "pooled",
    "budget",
    "method",
    "unknown",
)


def format_seconds(s: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``; ``?`` for a time not known."""
    if not math.isfinite(s):
        return "?"
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s // 60:.0f}m{s % 60:02.0f}s"
    return f"{s // 3600:.0f}h{(s % 3600) // 60:02.0f}m"


def kind_of(device: str) -> str:
    """``cuda`` for any CUDA device, ``cpu`` otherwise."""
    return "cuda" if str(device).startswith("cuda") else "cpu"


def family_of(task: str) -> str:
    return task.split("[", 1)[0]


class Estimate(NamedTuple):
    """Expected seconds per run and the basis they rest on (one of :data:`BASES`)."""

    seconds: float
    basis: str


class CostModel:
    """Mean seconds per run, by (profile, device kind, method, task) and coarser keys, each
    also per host (the CPU or GPU model that ran it) so that this machine's own timings
    come first."""

    def __init__(self, host: str | None = None) -> None:
        #: The machine the plan is for (its CPU or GPU model name): its timings come first.
        self.host = host
        self._acc: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self._steps: dict[tuple[str, str], float] = {}
        self._ratios: dict[tuple[Any, ...], float | None] = {}
        self.records = 0

    def observe(self, rec: dict[str, Any]) -> None:
        """Learn from one record. Tuning trials are left out; a skipped run costs nothing (it
        declines before any work); any other record without a time is left out."""
        status = rec.get("status")
        total = (rec.get("time") or {}).get("total", 0.0 if status == "skipped" else None)
        if rec.get("purpose", "eval") != "eval" or not isinstance(total, (int, float)):
            return
        if not math.isfinite(total) or total < 0:
            return
        method, task = str(rec.get("method")), str(rec.get("task"))
        profile, kind = str(rec.get("profile")), kind_of(rec.get("device", "cpu"))
        steps = (rec.get("budget") or {}).get("steps")
        if isinstance(steps, (int, float)) and steps > 0:
            self._steps[(task, profile)] = float(steps)
        env = rec.get("env") or {}
        host = env.get("device_name") or env.get("cpu")
        stop = rec.get("stop_step")
        whole = isinstance(stop, (int, float)) and isinstance(steps, (int, float)) and stop >= steps
        trained = 1.0 if whole else 0.0  # ran its whole step budget: its cost follows the budget
        for where in ("task", "family", "method"):
            name = {"task": task, "family": family_of(task), "method": ""}[where]
            for h in (host, None):
                acc = self._acc[(where, profile, kind, method, name, h)]
                acc[0] += float(total)
                acc[1] += 1
                if where == "task" and h is None:
                    self._acc[("trained", profile, kind, method, task, None)][0] += trained
        self.records += 1

    def _mean(self, where: str, profile: str, kind: str, method: str, name: str) -> float | None:
        for h in (self.host, None):
            acc = self._acc.get((where, profile, kind, method, name, h))
            if acc and acc[1]:
                return acc[0] / acc[1]
        return None

    def per_run(self, method: str, task: str, profile: str, device: str) -> Estimate:
        """The expected seconds of one run (one seed) of ``method`` on ``task``: the first
        rule of the module's list that has records."""
        kind = kind_of(device)
        other_kind = "cpu" if kind == "cuda" else "cuda"
        other = "full" if profile == "quick" else "quick"
        fam = family_of(task)
        for basis, where, k, name in (("measured", "task", kind, task),
                                      ("family", "family", kind, fam)):  # fmt: skip
            mean = self._mean(where, profile, k, method, name)
            if mean is not None:
                return Estimate(mean, basis)
        for src in ((other, kind), (profile, other_kind), (other, other_kind)):
            mean = self._mean("task", *src, method, task)
            if mean is None:
                continue
            ratio = self._ratio(method, (profile, kind), src, fam)
            ratio = self._ratio(method, (profile, kind), src) if ratio is None else ratio
            if ratio is not None:
                return Estimate(mean * ratio, "scaled")
            if not self._trained(method, task, *src):  # stopped early, or trains no steps
                return Estimate(mean, "as measured there")
            if src[1] == kind:
                return Estimate(mean * self._steps_ratio(task, profile, src[0]), "budget")
            return Estimate(mean * self._steps_ratio(task, profile, src[0]), "other device")
        mean = self._mean("method", profile, kind, method, "")
        if mean is not None:
            return Estimate(mean, "method")
        return Estimate(0.0, "unknown")

    def _ratio(
        self,
        method: str,
        target: tuple[str, str],
        source: tuple[str, str],
        family: str | None = None,
    ) -> float | None:
        """How much longer ``method``'s runs take under ``target`` (profile, device kind) than
        under ``source``: the geometric mean of the ratio over the tasks (of ``family``, if
        given) measured under both (``None`` where there is none)."""
        key = (method, target, source, family)
        if key not in self._ratios:
            logs = []
            for (where, prof, kind, m, task, h), acc in list(self._acc.items()):
                if where != "task" or h is not None or (prof, kind) != source:
                    continue
                if m != method or (family is not None and family_of(task) != family):
                    continue
                there = self._acc.get(("task", *target, m, task, None))
                if there and there[1] and acc[1] and acc[0] > 0 and there[0] > 0:
                    logs.append(math.log((there[0] / there[1]) / (acc[0] / acc[1])))
            self._ratios[key] = math.exp(sum(logs) / len(logs)) if logs else None
        return self._ratios[key]

    def _trained(self, method: str, task: str, profile: str, kind: str) -> bool:
        """Whether most of the runs of ``method`` on ``task`` there trained for their whole
        step budget (so a longer budget costs proportionally more)."""
        acc = self._acc.get(("task", profile, kind, method, task, None))
        trained = self._acc.get(("trained", profile, kind, method, task, None))
        return bool(acc and trained and trained[0] >= acc[1] / 2)

    def _steps_ratio(self, task: str, profile: str, other: str) -> float:
        """The ratio of ``task``'s budget steps under ``profile`` to those under ``other``."""
        steps, there = self._steps.get((task, profile)), self._steps.get((task, other))
        return steps / there if steps and there else 1.0

    def unit(self, spec: Unit, device: str | None = None) -> Estimate:
        """The expected seconds of a unit (all its seeds; a fleet's, all its members': from
        the records of fleets, whose runs record their share of the fleet's time)."""
        if isinstance(spec, Fleet):
            parts = [self.unit(m, device) for m in spec.members]
            worst = max(parts, key=lambda e: _basis_order((e.basis, 0)))
            return Estimate(sum(e.seconds for e in parts), worst.basis)
        e = self.per_run(spec.method, spec.task, spec.profile, device or spec.device)
        return Estimate(e.seconds * len(spec.seeds), e.basis)

    def learn_steps(self, task: str, profile: str, steps: float) -> None:
        """A planned task's budget steps, for the ``budget`` rule where no record has them."""
        self._steps.setdefault((task, profile), float(steps))


def cost_sources(out: Path | None = None) -> list[Path]:
    """The folders a cost model reads: ``out`` and the published folders (:data:`COSTS_ENV`,
    else every folder under ``./results`` holding records)."""
    env = os.environ.get(COSTS_ENV)
    roots = [Path(p) for p in env.split(os.pathsep) if p] if env is not None else [Path("results")]
    found: list[Path] = [Path(out)] if out is not None else []
    for root in roots:
        if record_files(root):
            found.append(root)
        elif root.is_dir():
            found += sorted(d for d in root.iterdir() if d.is_dir() and record_files(d))
    return found


def learn(sources: Iterable[Path], host: str | None = None) -> CostModel:
    """A cost model from the records in ``sources`` (unreadable lines are passed over), this
    ``host``'s timings first."""
    model = CostModel(host)
    problems: list[BadLine] = []
    for src in sources:
        for f in record_files(Path(src)):
            try:
                for rec in iter_records(f, problems):
                    model.observe(rec)
            except (OSError, EOFError, UnicodeError):
                continue  # a corrupt archive costs its estimates, not the plan
    return model


def longest_first(specs: Sequence[Unit], model: CostModel) -> list[Unit]:
    """The units in the order a sweep hands them out: longest expected first (ties and
    unknown costs keep their planned order), so that no long unit starts last."""
    order = sorted(range(len(specs)), key=lambda i: -model.unit(specs[i]).seconds)
    return [specs[i] for i in order]


def schedule(seconds: Sequence[float], workers: int) -> float:
    """The wall time of units of ``seconds``, handed out in that order to ``workers``, each
    taking the next unit when it is free: the end of the last."""
    free = [0.0] * max(1, workers)
    for s in seconds:
        heapq.heapreplace(free, free[0] + s)
    return max(free)


def busy_share(unit_seconds: float, wall: float, workers: int) -> float:
    """The share of ``workers`` x ``wall`` spent running units."""
    return unit_seconds / (workers * wall) if wall > 0 and workers > 0 else math.nan


@dataclass
class Forecast:
    """What a plan is expected to cost on a device with some workers."""

    #: Per method and per task family: (units, runs, expected seconds).
    by_method: dict[str, tuple[int, int, float]]
    by_family: dict[str, tuple[int, int, float]]
    run_seconds: float
    wall_seconds: float
    workers: int
    #: Runs per basis of their estimate (:data:`BASES`).
    bases: dict[str, int]
    #: The (method, task) pairs with no estimate at all.
    unknown: list[tuple[str, str]]
    records: int

    @property
    def busy(self) -> float:
        return busy_share(self.run_seconds, self.wall_seconds, self.workers)

    def lines(self, device: str) -> list[str]:
        """The forecast as a dry run prints it: the total, then by method and task family."""
        fmt = format_seconds
        known = ", ".join(f"{n} {b}" for b, n in sorted(self.bases.items(), key=_basis_order))
        out = [
            f"expected on {device} with {self.workers} worker(s): {fmt(self.wall_seconds)} wall, "
            f"{fmt(self.run_seconds)} of run time (workers busy {percent(self.busy)}), "
            f"from {self.records} earlier record(s); runs estimated: {known}",
        ]
        for title, rows in (("method", self.by_method), ("task family", self.by_family)):
            width = max(len(title), *(len(k) for k in rows)) if rows else len(title)
            out.append(f"  {'by ' + title:<{width + 3}}  units   runs   expected")
            for k, (units, runs, secs) in sorted(rows.items(), key=lambda kv: -kv[1][2]):
                out.append(f"    {k:<{width + 1}}  {units:>5}  {runs:>5}   {fmt(secs):>8}")
        if self.unknown:
            shown = "; ".join(f"{m} on {t}" for m, t in self.unknown[:8])
            more = f" and {len(self.unknown) - 8} more" if len(self.unknown) > 8 else ""
            out.append(f"  no earlier timing (counted as 0 s): {shown}{more}")
        return out


def percent(share: float) -> str:
    """A share as a whole percentage; ``?`` when it is not known."""
    return f"{100 * share:.0f}%" if math.isfinite(share) else "?"


def _basis_order(item: tuple[str, int]) -> int:
    return BASES.index(item[0]) if item[0] in BASES else len(BASES)


def forecast(specs: Sequence[Unit], model: CostModel, workers: int) -> Forecast:
    """The expected cost of ``specs``: per method, per task family, in all, and the wall time
    on ``workers`` when the units are handed out longest first."""
    by_method: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    by_family: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    bases: dict[str, int] = defaultdict(int)
    unknown: dict[tuple[str, str], None] = {}
    costs = []
    for unit in specs:
        costs.append(model.unit(unit).seconds)
        for spec in unit.members if isinstance(unit, Fleet) else (unit,):
            e = model.unit(spec)
            bases[e.basis] += len(spec.seeds)
            if e.basis == "unknown":
                unknown[(spec.method, spec.task)] = None
            for acc in (by_method[spec.method], by_family[family_of(spec.task)]):
                acc[0] += 1
                acc[1] += len(spec.seeds)
                acc[2] += e.seconds
    wall = schedule(sorted(costs, reverse=True), workers)
    return Forecast(
        {k: (int(a), int(b), c) for k, (a, b, c) in by_method.items()},
        {k: (int(a), int(b), c) for k, (a, b, c) in by_family.items()},
        sum(costs), wall, workers, dict(bases), list(unknown), model.records,
    )  # fmt: skip
