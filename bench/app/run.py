"""``run``: methods on tasks for several seeds, one record per run appended to a folder.

Two steps, so that a caller can show the plan before committing to it: :func:`plan_run` checks
the request, selects the methods and tasks and plans the units (nothing is written), and
:func:`run` executes a plan. :func:`ready` sits between them for a caller that wants to warn
before a long sweep starts; :func:`run` calls it itself otherwise.

    from bench.app.run import plan_run, run
    result = run(plan_run(["fft"], ["sin31"], seeds=2))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.app.errors import DEFAULT_FAIL_ON, FAIL_ON, UsageError
from bench.app.execution import Execution, Resolved, resolve
from bench.app.folders import takes_records
from bench.core import defaults, registry
from bench.core.record import STATUSES
from bench.engine import lock
from bench.engine.cost import CostModel, Forecast, cost_sources, forecast, learn
from bench.engine.plan import Unit, check_units, drop_done, fleets, plan
from bench.engine.store import done_keys, environment, mixed_with, read_manifest


@dataclass
class RunPlan:
    """What :func:`run` will do: the units (``specs``) and where their records go."""

    specs: list[Unit]
    methods: list[registry.Entry]
    tasks: list[registry.Entry]
    seeds: int
    profile: str
    out: Path
    resolved: Resolved
    #: Runs planned before ``resume`` left out those already recorded.
    n_planned: int
    resume: bool = False
    #: One line per selected name that is not registered and runs as an ad-hoc variant.
    notes: list[str] = field(default_factory=list)
    #: What joining the records already in ``out`` would mix (set by :func:`ready`).
    warnings: list[str] | None = None
    #: Statuses whose newest record ``resume`` does not count as done: those runs run again.
    retry: tuple[str, ...] = ()
    #: Whether this plan holds its folder's lock (from :func:`ready` to the end of :func:`run`).
    locked: bool = False

    @property
    def n_runs(self) -> int:
        return sum(len(s.seeds) for s in self.specs)

    @property
    def summary(self) -> str:
        """The plan in one line: how many runs, how, and where their records go."""
        done = self.n_planned - self.n_runs
        again = f"; newest {' or '.join(self.retry)} runs again" if self.retry else ""
        done_note = f" ({done} of {self.n_planned} already recorded{again})" if self.resume else ""
        r = self.resolved
        return (
            f"{len(self.methods)} method(s) x {len(self.tasks)} task(s) x {self.seeds} seed(s): "
            f"{self.n_runs} run(s) to do{done_note}, profile {self.profile}, device {r.device}"
            f"{' (not on this machine: a plan only)' if r.absent else ''}, "
            f"{r.where} -> {self.out}/records.jsonl"
        )

    def cost_model(self, sources: Sequence[Path] | None = None) -> CostModel:
        """What earlier records say the plan's runs take (``bench.engine.cost``): the records
        in ``sources``, by default the output folder's and the published folders'."""
        device = self.resolved.device
        host = None if device.startswith("cuda") else environment(device).get("cpu")
        model = learn(cost_sources(self.out) if sources is None else sources, host)
        for t in self.tasks:
            budget = (getattr(t.cls, "budgets", None) or {}).get(self.profile)
            if budget is not None:
                model.learn_steps(t.id, self.profile, budget.steps)
        return model

    def expected(self, model: CostModel | None = None) -> Forecast:
        """The plan's expected cost on its device and workers."""
        return forecast(self.specs, model or self.cost_model(), self.resolved.jobs)

    @property
    def labels(self) -> list[str]:
        """One line per unit, as a dry run lists them."""
        return [spec.label for spec in self.specs]


@dataclass
class RunResult:
    """What a run recorded: the new records, counted by status, in ``out``."""

    out: Path
    records: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    @property
    def records_file(self) -> Path:
        return self.out / "records.jsonl"

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.records:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return counts

    def failures(self, fail_on: str = DEFAULT_FAIL_ON) -> dict[str, int]:
        """The new records whose status fails the run under ``fail_on`` (:data:`FAIL_ON`),
        counted by status; empty when the run succeeded."""
        return {k: v for k, v in self.counts.items() if k in FAIL_ON[fail_on]}

    @property
    def summary(self) -> str:
        """``12 ok, 1 error``, or that there was nothing new to run."""
        return ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items())) or (
            "nothing new to run"
        )


def plan_run(
    methods: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    *,
    every: bool = False,
    exclude_methods: Sequence[str] | None = None,
    exclude_tasks: Sequence[str] | None = None,
    seeds: int | None = None,
    base_seed: int = 0,
    profile: str = "quick",
    execution: Execution | None = None,
    out: Path | None = None,
    resume: bool = False,
    retry: Sequence[str] = (),
    dry_run: bool = False,
    steps: int | None = None,
    no_stop: bool = False,
    fleet: bool = True,
) -> RunPlan:
    """Check a run request and plan it; nothing is written.

    ``methods`` and ``tasks`` are fnmatch patterns over the registered ids (``None``: all of
    them, which ``every`` must then ask for); ``seeds`` defaults per profile and ``out`` to
    ``runs/<profile>-<device>``. With ``resume``, runs already recorded in ``out`` are left
    out, but for those whose newest record has a status in ``retry``. Every selected task and
    method is built once here, so that a bad id or value is a :class:`UsageError` naming it
    before anything runs, as is any other bad request. ``steps`` (at most the budget's) and
    ``no_stop`` make control runs (``bench.engine.plan.CONTROLS``). With ``fleet`` (the
    default) the units of a method that can share one stacked model are joined per task
    family (``bench.engine.plan.fleets``); each run records what it would alone but for its
    times."""
    _check_request(bool(every or methods or tasks), seeds, base_seed, resume, retry)
    if steps is not None and steps < 1:
        raise UsageError("run: --steps must be at least 1")
    control = {k: v for k, v in (("steps", steps), ("stop", "none" if no_stop else None)) if v}
    execution = execution or Execution()
    resolved = resolve(execution, "run", dry_run)
    registry.load_plugins()
    chosen_methods = registry.METHODS.select(methods or None, exclude_methods or None)
    chosen_tasks = registry.TASKS.select(tasks or None, exclude_tasks or None)
    if not chosen_methods or not chosen_tasks:
        raise UsageError("run: the selection is empty after exclusions")
    notes = [
        f"note: {e.id} is not registered; running it as an ad-hoc variant"
        for e in [*chosen_methods, *chosen_tasks]
        if e.adhoc
    ]
    n_seeds = seeds or defaults.SEEDS[profile]
    out = out or Path(defaults.default_out(profile, resolved.device))
    try:  # a corrupt tuned-settings file, or a task or method that cannot be built
        specs = plan(chosen_methods, chosen_tasks, n_seeds, profile, resolved.device, base_seed,
                     execution.threads, control=control)  # fmt: skip
        check_units(specs)
    except ValueError as exc:
        raise UsageError(f"run: {exc}") from exc
    n_planned = sum(len(s.seeds) for s in specs)
    if resume:
        specs = drop_done(specs, done_keys(out, retry=retry))
    units: list[Unit] = fleets(specs) if fleet else list(specs)
    return RunPlan(
        units, chosen_methods, chosen_tasks, n_seeds, profile, out, resolved, n_planned, resume,
        notes, retry=tuple(retry),
    )  # fmt: skip


def _check_request(
    said_what: bool, seeds: int | None, base_seed: int, resume: bool, retry: Sequence[str]
) -> None:
    """The checks of a run request that need no plugin: a :class:`UsageError` for each."""
    if not said_what:
        raise UsageError("run: say what to run: --all, or --methods and/or --tasks")
    if seeds is not None and seeds < 1:
        raise UsageError("run: --seeds must be at least 1")
    if base_seed < 0:
        raise UsageError("run: --base-seed must be a non-negative integer")
    if retry and not resume:
        raise UsageError("run: --retry reruns recorded runs: use it with --resume")
    if set(retry) - set(STATUSES):
        bad = ", ".join(sorted(set(retry) - set(STATUSES)))
        raise UsageError(f"run: --retry {bad}: not a status; one of {', '.join(STATUSES)}")


def ready(run_plan: RunPlan) -> list[str]:
    """Make sure the plan's folder takes records (the folder, its records file and manifest
    writable, the manifest readable), take the folder's lock (another process writing there is
    an error naming it), and say (one line each) what joining the records already there would
    mix: another code commit, machine or profile. The lock is held until :func:`run` ends."""
    out = run_plan.out
    takes_records(out)
    read_manifest(out, strict=True)
    if not run_plan.locked:
        lock.acquire(out)
        run_plan.locked = True
    try:
        env = environment(run_plan.resolved.device)
        run_plan.warnings = mixed_with(out, env, run_plan.profile)
    except BaseException:
        _unlock(run_plan)
        raise
    return run_plan.warnings


def run(run_plan: RunPlan, *, quiet: bool = False) -> RunResult:
    """Execute the plan, appending each unit's records to ``out/records.jsonl`` as it ends
    (a stopped run keeps every finished unit). ``quiet`` leaves out the progress output."""
    if run_plan.resolved.absent:
        raise UsageError(f"run: no {run_plan.resolved.device} device on this machine to run on")
    if run_plan.warnings is None:
        ready(run_plan)
    try:
        costs = run_plan.cost_model() if len(run_plan.specs) > 1 else None
        recs = run_plan.resolved.sweep(run_plan.specs, run_plan.out, quiet, costs=costs)
    finally:
        _unlock(run_plan)
    return RunResult(run_plan.out, recs, list(run_plan.warnings or []))


def _unlock(run_plan: RunPlan) -> None:
    if run_plan.locked:
        lock.release(run_plan.out)
        run_plan.locked = False
