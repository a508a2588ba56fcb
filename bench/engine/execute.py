"""The runner: one unit of work (:class:`~bench.engine.plan.RunSpec`) -> one record per seed,
never aborting a sweep. Failures of any kind become records with a status and a reason.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import registry
from bench.core.ceiling import representation_ceiling
from bench.core.contracts import BudgetExceeded, Logger, Method, RunTimeout, TaskView
from bench.core.record import Record, RunContext
from bench.core.stop import STOP_POLICY
from bench.engine import device, state
from bench.engine.plan import Fleet, RunSpec, derive_seed, run_key_of, task_seed
from bench.engine.purpose import Evaluation, purpose_of
from bench.engine.store import environment
from bench.engine.timing import Clock, TimedPredictor, phase_times


def _classify_exception(exc: BaseException) -> tuple[str, str]:
    import torch

    if isinstance(exc, RunTimeout):
        return "timeout", str(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError) or _alloc_failed(exc):
        return "oom", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if isinstance(exc, BudgetExceeded):
        return "error", f"sample budget exceeded: {exc}"
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return "error", f"{type(exc).__name__}: {msg}{where}"


def _alloc_failed(exc: BaseException) -> bool:
    """torch reports a failed host allocation as a RuntimeError, not a MemoryError."""
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


@dataclass
class _Unit:
    """A unit of work once built: its tasks, views, method and the per-seed judge fields."""

    context: RunContext
    keys: tuple[str, ...]
    seeds: tuple[int, ...]
    env: dict[str, Any]
    tasks: list[Any] = field(default_factory=list)
    views: list[TaskView] = field(default_factory=list)
    method: Any = None
    judge: list[dict[str, Any]] = field(default_factory=list)
    budget: Any = None

    def record(self, i: int, status: str, reason: str, **fields: Any) -> dict[str, Any]:
        """The record of seed number ``i`` of this unit."""
        judge = self.judge[i] if self.judge else {}
        return Record.new(
            self.context, self.keys[i], self.seeds[i], status, reason, env=self.env,
            **judge, **fields,
        ).to_json()  # fmt: skip

    def records(self, status: str, reason: str, **fields: Any) -> list[dict[str, Any]]:
        """One record per seed, all with the same status."""
        return [self.record(i, status, reason, **fields) for i in range(len(self.seeds))]


@dataclass(frozen=True)
class _Resolved:
    """A spec's registry entries, its shared record fields, settings and run keys, looked up
    once: the keys hash the very settings the run applies."""

    method: registry.Entry
    task: registry.Entry
    context: RunContext
    tuning: dict[str, Any]
    keys: tuple[str, ...]


def _resolve(spec: RunSpec) -> _Resolved:
    m = registry.METHODS.get(spec.method)
    t = registry.TASKS.get(spec.task)
    ctx = RunContext(
        m.id, m.family, dict(m.params), t.id, t.family, dict(t.params),
        spec.profile, spec.device, spec.base_seed, purpose=spec.purpose,
    )  # fmt: skip
    tuning = spec.tuning
    if tuning is None:  # a unit built by hand, not by ``plan``
        tuning = purpose_of(spec.purpose).settings(m, t, spec.profile)
    keys = spec.keys or tuple(
        run_key_of(m, t, s, spec.profile, spec.base_seed, spec.purpose, tuning) for s in spec.seeds
    )
    return _Resolved(m, t, ctx, dict(tuning), keys)


def _build(unit: _Unit, spec: RunSpec, found: _Resolved) -> str | None:
    """Build tasks, views and the method; returns why the method cannot attempt the task."""
    t = found.task
    unit.tasks = [
        registry.build(t, seed=task_seed(t, spec.base_seed, s), profile=spec.profile)
        for s in spec.seeds
    ]
    unit.method = registry.build(found.method, found.tuning.get("params"))
    view = purpose_of(spec.purpose).view
    unit.views = [
        view(task, np.random.default_rng(derive_seed(spec.base_seed, t.id, s, 1)))
        for task, s in zip(unit.tasks, spec.seeds, strict=True)
    ]
    budget = unit.tasks[0].budget
    steps = found.tuning.get("steps")  # a rung of successive halving runs fewer steps
    if steps:
        budget = replace(budget, steps=min(int(steps), budget.steps))
    unit.budget = budget
    unit.context = replace(
        unit.context,
        budget=budget.to_dict(),
        method_params=_safe_params(unit.method),
        tuning=found.tuning,
    )
    # Per seed: a task may set its headline or loss target from its own drawn truth.
    unit.judge = [
        {
            "extras": task.record_extras(),
            "headline": getattr(task, "headline", None),
            "loss_target": getattr(task, "loss_target", None),
            "success_criterion": getattr(task, "success_criterion", ""),
        }
        for task in unit.tasks
    ]
    return unit.method.supports(unit.views[0])


def _fit(group: _Group, log: Logger) -> list[Any]:
    """Warm up, then fit every seed of the group's units: together where the method is
    vectorised, as one fleet where the group holds several units."""
    unit, spec = group[0]
    budget = unit.budget
    method_seeds = [
        derive_seed(sp.base_seed, u.context.task, s, 2) for u, sp in group for s in sp.seeds
    ]
    n = len(method_seeds)
    device.seed_everything(method_seeds[0])
    if type(unit.method).warm_up is not Method.warm_up:
        with log.phase("warmup"):
            unit.method.warm_up(unit.views[0], budget, spec.device)
    if len(group) > 1:
        methods = [u.method for u, sp in group for _ in sp.seeds]
        views = [v for u, _ in group for v in u.views]
        fitted = unit.method.fit_fleet(methods, views, budget, method_seeds, spec.device, log)
    elif n == 1 and not unit.method.vectorised:
        fitted = [unit.method.fit(unit.views[0], budget, method_seeds[0], spec.device, log)]
    else:
        fitted = unit.method.fit_seeds(unit.views, budget, method_seeds, spec.device, log)
    if len(fitted) != n:
        raise RuntimeError(f"fit returned {len(fitted)} models for {n} seeds")
    return fitted


def _score(
    why: Evaluation, task: Any, model: Any, view: TaskView, i: int, sync: Any, clock: Clock
) -> dict[str, Any]:
    """Metrics, status, success and times of one fitted seed, judged as its purpose says."""
    log = clock.log
    pred = TimedPredictor(model, sync)
    status, reason = "ok", ""
    metrics: dict[str, Any] = {}
    try:
        metrics = why.metrics(task, pred, view)
    except Exception as exc:  # any plugin failure becomes a record
        status, reason = _classify_exception(exc)
        reason = f"scoring failed: {reason}"
    if log.nonfinite[i]:
        status, reason = "diverged", "non-finite training loss"
    elif pred.nonfinite and status == "ok":
        status, reason = "diverged", "non-finite predictions"
    final = _final_metrics(why, task, model, view) if status == "ok" else {}
    times = clock.times(pred.seconds)
    over = clock.overrun(times) if status == "ok" else None
    if over:
        status, reason = "timeout", over
    _add_run_metrics(metrics, model, view, log, i)
    ceiling = None
    if status == "ok" and why.ceiling:
        try:
            ceiling = representation_ceiling(task, model)
        except Exception as exc:  # a ceiling that cannot be computed is left out, said why
            ceiling = {"error": _classify_exception(exc)[1]}
    return {
        "status": status,
        "reason": reason,
        "success": why.success(task, metrics, status),
        "metrics": metrics,
        "time": times,
        "ceiling": ceiling,
        "metrics_final": final,
    }


def _final_metrics(why: Evaluation, task: Any, model: Any, view: TaskView) -> dict[str, Any]:
    """The judge's metrics at the last state of a method judged at its best one (its
    ``final_state()``), outside the run's timed prediction; empty where there is none, or
    where it cannot be scored (the record's own metrics stand)."""
    last = getattr(model, "final_state", None)
    if why.name != "eval" or not callable(last):
        return {}
    try:
        twin = last()
        return {} if twin is None else dict(why.metrics(task, twin, view))
    except Exception:  # the best state's verdict stands; the last one's is extra
        return {}


def _add_run_metrics(
    metrics: dict[str, Any], model: Any, view: TaskView, log: Logger, i: int
) -> None:
    """What the run itself measured, beside the judge's metrics (which win on a clash): final
    loss, samples, steps, parameters and the limits a method derived from the data."""
    if math.isfinite(log.final_loss[i]):
        metrics.setdefault("final_loss", float(log.final_loss[i]))
    metrics.setdefault("samples", view.samples_drawn)
    if view.samples_dropped:
        metrics.setdefault("samples_dropped", view.samples_dropped)
    if log.last_step > 0:
        metrics.setdefault("steps", log.steps(i))
    n_params = getattr(model, "n_params_", None)
    if n_params is not None:
        metrics.setdefault("n_params", int(n_params))
    searched = getattr(model, "searched_", None)  # limits a method derived from the data
    if isinstance(searched, dict):
        for key, value in searched.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics.setdefault(str(key), float(value))


#: Called with a unit's whole time budget in seconds (per seed x seeds) as its fit begins.
OnBudget = Callable[[float], None]


def execute(spec: RunSpec | Fleet, on_budget: OnBudget | None = None) -> list[dict[str, Any]]:
    """Run one unit of work (or the members of a fleet); always returns one record per seed,
    whatever happens, member after member.

    Every global setting the run changes (torch's default dtype, threads, random states,
    warnings filters, environment variables, ...: ``bench.engine.state``) is put back when it
    ends, so the next unit in this interpreter starts as this one did. ``on_budget`` hears the
    unit's time budget before the fit starts (the sandbox tells its parent, which stops a
    run that hangs far past it); a fleet's groups each tell theirs as they start."""
    registry.load_plugins()  # first: what a plugin sets up as it is imported stays
    members = spec.members if isinstance(spec, Fleet) else (spec,)
    done: dict[int, list[dict[str, Any]]] = {}
    ready: list[tuple[int, _Unit, RunSpec]] = []
    # Builds and fits in one snapshot, as a unit alone has them: what a build sets (a default
    # dtype, say) reaches its fit. Each group's run is also undone when it ends, so the next
    # group starts from the state the builds left.
    with state.restored():
        device.set_threads(spec.threads)
        for j, sp in enumerate(members):
            found = _resolve(sp)
            unit = _Unit(found.context, found.keys, sp.seeds, environment(sp.device))
            try:  # a plugin that fails while being built still yields records
                why_not = _build(unit, sp, found)
            except Exception as exc:
                status, reason = _classify_exception(exc)
                done[j] = unit.records(status, f"setup failed: {reason}")
                continue
            if why_not:
                done[j] = unit.records("skipped", why_not)
            else:
                ready.append((j, unit, sp))
        for group in _groups(ready):
            recs = _run_group(group, on_budget)
            for j, u, _ in group:
                done[j], recs = recs[: len(u.seeds)], recs[len(u.seeds) :]
    return [r for j in range(len(members)) for r in done[j]]


class _FleetFailed(Exception):
    """A fleet's joint fit raised: its members run again one by one, each as it would alone."""


def _run_group(
    group: list[tuple[int, _Unit, RunSpec]], on_budget: OnBudget | None
) -> list[dict[str, Any]]:
    """The records of one group: trained as one; where a fleet's joint fit fails (one member's
    bad setting, or a stack too large for memory), each member again on its own, freshly
    built; where the harness itself fails, records that say so (the other groups keep theirs)."""
    units = [(u, sp) for _, u, sp in group]
    try:
        with state.restored():
            device.set_threads(units[0][1].threads)
            return _run(units, on_budget)
    except _FleetFailed:
        pass
    except Exception as exc:  # never lose the records of the groups that finished
        status, reason = _classify_exception(exc)
        return [r for u, _ in units for r in u.records(status, f"harness failed: {reason}")]
    return [r for _, sp in units for r in execute(sp, on_budget)]


#: Units trained as one: each with the spec it was built from.
_Group = list[tuple[_Unit, RunSpec]]


def _groups(ready: list[tuple[int, _Unit, RunSpec]]) -> list[list[tuple[int, _Unit, RunSpec]]]:
    """The built units of a fleet in groups that train as one stacked model: same method
    ``fleet_key`` on the unit's task, same budget, stop rule and device; a unit whose method
    has no key (or gives ``None``) is a group of its own."""
    groups: dict[Any, list[tuple[int, _Unit, RunSpec]]] = {}
    for j, unit, sp in ready:
        key_of = getattr(unit.method, "fleet_key", None)
        try:
            shape = key_of(unit.views[0]) if callable(key_of) and len(ready) > 1 else None
        except Exception:  # a key that cannot be made: the unit trains alone, as it would
            shape = None
        if shape is None:
            groups[("alone", j)] = [(j, unit, sp)]
            continue
        stop = unit.context.tuning.get("stop")
        key = (shape, repr(unit.budget), stop, sp.device, sp.purpose)
        groups.setdefault(key, []).append((j, unit, sp))
    return list(groups.values())


def _run(group: _Group, on_budget: OnBudget | None) -> list[dict[str, Any]]:
    """Fit and score the built units of ``group`` (one, or a fleet's units that train as
    one): one record per seed, also when the fit fails."""
    rows = [(u, i) for u, sp in group for i in range(len(sp.seeds))]
    unit, spec = group[0]
    n = len(rows)
    sync = device.sync_for(spec.device)
    budget = unit.budget
    # Every seed gets the time budget, also when a vectorised method fits them together.
    # The method's stop policy judges its run from the first step, floors included.
    policy = getattr(unit.method, "stop_policy", STOP_POLICY)
    if unit.context.tuning.get("stop") == "none":  # a control run: no stop rule
        policy = replace(policy, stops=False)
        for u, _ in group:  # the method's loop adopts it, as the logger does
            u.method.stop_policy = policy
    floors = [policy.floor_for(u.judge[i]["loss_target"]) for u, i in rows]
    log = Logger(
        n_seeds=n, deadline=time.perf_counter() + budget.seconds * n, sync=sync, floor=floors,
        policy=policy,
    )  # fmt: skip
    if on_budget is not None:
        on_budget(budget.seconds * n)
    device.reset_peak_memory(spec.device)
    sync()
    t0 = time.perf_counter()  # fit time includes the warm-up, which is then taken apart
    try:
        fitted = _fit(group, log)
        sync()
        fit_seconds = time.perf_counter() - t0
    except Exception as exc:
        if len(group) > 1 and _classify_exception(exc)[0] != "timeout":
            raise _FleetFailed from exc
        return _fit_failed(group, log, exc, time.perf_counter() - t0)
    finally:
        device.release(spec.device)
    why = purpose_of(spec.purpose)
    clock = Clock(log, fit_seconds, n, budget.seconds)
    scored = [
        _score(why, u.tasks[i], model, u.views[i], g, sync, clock)
        for g, ((u, i), model) in enumerate(zip(rows, fitted, strict=True))
    ]
    memory = device.peak_memory(spec.device)
    shared = {"fleet_units": len(group)} if len(group) > 1 else {}
    return [
        u.record(
            i,
            sc["status"],
            sc["reason"],
            success=sc["success"],
            metrics=sc["metrics"],
            time={**sc["time"], **shared},
            trace=log.trace(g),
            ceiling=sc["ceiling"],
            metrics_final=sc["metrics_final"],
            memory=memory,
            **_stop_fields(log, g),
        )
        for g, ((u, i), sc) in enumerate(zip(rows, scored, strict=True))
    ]


def _fit_failed(group: _Group, log: Logger, exc: Exception, seconds: float) -> list[dict[str, Any]]:
    """The records of a group whose fit raised: what was logged up to then, and why."""
    status, reason = _classify_exception(exc)
    rows = [(u, i) for u, sp in group for i in range(len(sp.seeds))]
    times = phase_times(log, seconds, 0.0, len(rows))
    if len(group) > 1:
        times["fleet_units"] = len(group)
    memory = device.peak_memory(group[0][1].device)
    return [
        u.record(
            i, status, reason, trace=log.trace(g), time=times, memory=memory, **_stop_fields(log, g)
        )
        for g, (u, i) in enumerate(rows)
    ]


def _stop_fields(log: Logger, i: int) -> dict[str, Any]:
    """``converged`` and ``converged_step`` of seed ``i`` under the declared stop rule, and
    the rule's constants."""
    rule = log.policy.describe()
    if log.last_step <= 0:
        return {"converged": None, "converged_step": None, "stop_rule": rule}
    at, best = int(log.converged_step[i]), int(log.best_step[i])
    if best < 0:  # no state was kept: the method was judged as it ended
        rule["judged_at"] = "final"
    return {
        "converged": at >= 0,
        "converged_step": at if at >= 0 else None,
        "stop_rule": rule,
        "stop_step": log.steps(i),
        "best_step": best if best >= 0 else None,
        "validation": dict(log.validation[i]) if i < len(log.validation) else {},
    }


def unit_records(
    spec: RunSpec | Fleet, status: str, reason: str, seconds: float | None = None
) -> list[dict[str, Any]]:
    """Records for a unit (or every member of a fleet) that could not report for itself (its
    worker process died, or it was stopped at its timeout), built from the spec alone.
    ``seconds``, the wall time the unit used as its parent saw it, is shared among its seeds
    as a fit's is (``time.total`` and ``batch_seeds``; which phases it went to is not
    known)."""
    registry.load_plugins()
    members = spec.members if isinstance(spec, Fleet) else (spec,)
    n = len(spec.seeds)
    times: dict[str, Any] = {} if seconds is None else {"total": seconds / n, "batch_seeds": n}
    if isinstance(spec, Fleet) and times:
        times["fleet_units"] = len(members)
    out = []
    for sp in members:
        found = _resolve(sp)
        unit = _Unit(found.context, found.keys, sp.seeds, environment(sp.device))
        t = found.task
        unit.judge = [
            {
                "headline": getattr(t.cls, "headline", None),
                "loss_target": getattr(t.cls, "loss_target", None),
                "success_criterion": getattr(t.cls, "success_criterion", ""),
            }
        ] * len(sp.seeds)
        out.extend(unit.records(status, reason, time=times))
    return out


def _safe_params(method: Any) -> dict[str, Any]:
    try:
        return readable(dict(method.get_params()))
    except Exception:
        return {}


def readable(value: Any) -> Any:
    """``value`` as JSON can carry it and a reader can recognise it: containers item by item,
    numpy numbers and arrays as Python ones, a function or class as ``module.qualname``
    (``act=np.sin`` is recorded as ``"numpy.sin"``), anything else as its ``repr``. JSON
    values come back as they are, so the records of plain hyper-parameters do not change."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {
            k if isinstance(k, str) else str(readable(k)): readable(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        items = [readable(v) for v in value]
        return tuple(items) if type(value) is tuple else items
    if isinstance(value, np.generic | np.ndarray):
        return readable(value.tolist())
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if callable(value) and isinstance(name, str):
        module = getattr(value, "__module__", None)
        return f"{module}.{name}" if isinstance(module, str) and module else name
    return repr(value)
