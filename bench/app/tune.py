"""``tune``: the declared tuning protocol (``bench.engine.tuning``) from request to settings file.

:func:`plan_tune` selects the tunable methods and each task family's tuning tasks and plans one
unit per grid point and task; :func:`tune` runs them (resuming trials already recorded), picks
the winners from the trial records and merges them, with their provenance, into the settings
file that ``run`` reads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.app.errors import UsageError
from bench.app.execution import Execution, Resolved, resolve
from bench.app.folders import takes_records
from bench.core import defaults, registry
from bench.engine import halving, tuning
from bench.engine.plan import RunSpec, check_units, fleets, run_key_of
from bench.engine.store import environment, git_commit, load_records


@dataclass
class Unit:
    """One method's tuning on one tuning unit: its tasks, the grid for them and its rungs."""

    method: registry.Entry
    name: str
    tasks: list[registry.Entry]
    space: dict[str, list[Any]]
    w_max: float

    @property
    def points(self) -> list[dict[str, Any]]:
        return halving.points(self.space)


@dataclass
class TunePlan:
    """The tuning units (``units``), their first rung of trials (``specs``) and where things
    go. Later rungs and the trials beyond a grid's edge are planned as earlier ones finish."""

    specs: list[RunSpec]
    methods: list[registry.Entry]
    families: dict[str, list[registry.Entry]]
    profile: str
    out: Path
    settings: Path
    resolved: Resolved
    units: list[Unit]
    #: Train the trials of a rung that can share a stacked model as one (``bench.engine.plan``
    #: ``fleets``: the points of a network's grid differ in its ``fleet_scalars``).
    fleet: bool = True

    def work(self, specs: list[RunSpec]) -> list[Any]:
        """``specs`` as the sweep runs them: joined into fleets where the plan says so."""
        return fleets(specs) if self.fleet else list(specs)

    @property
    def summary(self) -> str:
        """The plan in one line: methods, units, first-rung trials, and where."""
        r = self.resolved
        n_points = sum(len(u.points) for u in self.units)
        return (
            f"tune: {len(self.methods)} method(s) on {len(self.families)} tuning unit(s) "
            f"({', '.join(self.families)}); {n_points} grid point(s), {len(self.specs)} "
            f"first-rung trial unit(s) x {tuning.TUNE_SEEDS} seeds, successive halving; "
            f"profile {self.profile}, device {r.device}, {r.where} -> {self.out}/records.jsonl"
        )

    @property
    def labels(self) -> list[str]:
        return [spec.label for spec in self.specs]


@dataclass
class TuneResult:
    """The settings chosen per (method family, task family or task) and the file they went
    to."""

    chosen: dict[str, dict[str, Any]]
    settings: Path
    wall_seconds: float

    def lines(self) -> list[str]:
        """One line per (method, tuning unit): the winner and how it was chosen."""
        out = []
        for fam, info in self.chosen.items():
            units = {**info.get("families", {}), **info.get("tasks", {})}
            for unit, c in units.items():
                mark = "paper default" if c["is_paper"] else "tuned"
                edges = ", ".join(f"{k} {v}" for k, v in (c.get("edges") or {}).items())
                out.append(
                    f"{fam} on {unit}: {c['params']} ({mark}; {edges}; mean rank "
                    f"{c['mean_rank']:.2f}, {c['trials']} trials, {c['seconds']:.0f} s)"
                )
        return out


def plan_tune(
    methods: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    *,
    profile: str = "quick",
    execution: Execution | None = None,
    out: Path | None = None,
    settings: Path | None = None,
    dry_run: bool = False,
    fleet: bool = True,
) -> TunePlan:
    """Plan the tuning: per selected tunable method (fnmatch patterns; ``None``: all) and
    tuning unit of ``tasks`` (default: the default sweep's), the bracketing grid and the first
    rung of successive halving. Trial records go to ``out`` (default
    ``runs/tune-<profile>-<device>``), the chosen settings to ``settings`` (default the
    package's ``tuned.json`` or ``$BENCH_TUNED``)."""
    execution = execution or Execution()
    resolved = resolve(execution, "tune", dry_run)
    registry.load_plugins()
    chosen = [
        e
        for e in registry.METHODS.select(methods or None)
        if tuning.tunable(e) and "settings" not in e.params
    ]
    if not chosen:
        raise UsageError("tune: no selected method declares a search space")
    families = tuning.tuning_tasks(registry.TASKS.select(tasks or None))
    device = resolved.device
    out = out or Path(defaults.RUNS_DIR) / f"tune-{profile}-{device.split(':')[0]}"
    units = [_unit(m, name, ts, profile) for m in chosen for name, ts in families.items()]
    specs = [s for u in units for s in _rung_specs(u, 0, u.points, profile, device, execution)]
    try:  # a trial's task or method that cannot be built fails now, not in a worker
        check_units(specs)
    except ValueError as exc:
        raise UsageError(f"tune: {exc}") from exc
    path = settings or tuning.settings_file()
    return TunePlan(specs, chosen, families, profile, out, path, resolved, units, fleet)


def _unit(m: registry.Entry, name: str, tasks: list[registry.Entry], profile: str) -> Unit:
    """The unit's grid: the scale knob bracketing the highest frequency its tasks resolve."""
    w_max = 0.0
    for t in tasks:
        built = registry.build(t, seed=tuning.TUNE_BASE_SEED, profile=profile)
        w_max = max(w_max, halving.resolution(built)[0])
    return Unit(m, name, tasks, halving.knob_values(m, w_max), w_max)


def _rung_specs(
    u: Unit, rung: int, points: Sequence[dict[str, Any]], profile: str, device: str,
    execution: Execution, steps_of: Callable[[int, int], int] | None = None,
) -> list[RunSpec]:  # fmt: skip
    """The trials of ``points`` on the unit's tasks at rung ``rung`` (the last rung, or an
    edge trial: the full budget)."""
    specs = []
    for t in u.tasks:
        full = t.cls.budgets[profile].steps
        ladder = halving.rungs(full, len(u.points))
        steps = ladder[min(rung, len(ladder) - 1)] if steps_of is None else steps_of(full, rung)
        settings = {"unit": u.name, "rung": rung, "steps": steps, "of_steps": full,
                    "w_max": round(u.w_max, 3)}  # fmt: skip
        for point in points:
            trial = registry.METHODS.get(tuning.trial_id(u.method, point))
            keys = tuple(
                run_key_of(trial, t, s, profile, tuning.TUNE_BASE_SEED, "tune", settings)
                for s in range(tuning.TUNE_SEEDS)
            )
            seeds = tuple(range(tuning.TUNE_SEEDS))
            common = {"profile": profile, "device": device, "threads": execution.threads,
                      "base_seed": tuning.TUNE_BASE_SEED, "purpose": "tune",
                      "tuning": dict(settings)}  # fmt: skip
            if getattr(trial.cls, "vectorised", False):
                specs.append(RunSpec(trial.id, t.id, seeds, keys=keys, **common))
            else:
                specs += [RunSpec(trial.id, t.id, (s,), keys=(keys[s],), **common) for s in seeds]
    return specs


def tune(tune_plan: TunePlan, *, quiet: bool = False, command: str | None = None) -> TuneResult:
    """Run the plan rung by rung (trials already recorded are not rerun): after each rung the
    best third of every unit's points goes on; after the last, a choice on an edge of the
    grid is tried one step beyond it. Then choose per (method, unit) and merge the choice
    into the settings file. ``command`` is recorded as the provenance's command (default: the
    one the command line set, ``$BENCH_COMMAND``)."""
    p = tune_plan
    takes_records(p.out)
    t0 = time.time()
    alive = {id(u): u.points for u in p.units}
    n_rungs = max(halving.n_rungs(len(u.points)) for u in p.units)
    ex, device = p.resolved.execution, p.resolved.device
    for rung in range(n_rungs):
        specs = [
            s
            for u in p.units
            if rung < halving.n_rungs(len(u.points))
            for s in _rung_specs(u, rung, alive[id(u)], p.profile, device, ex)
        ]
        p.resolved.sweep(p.work(specs), p.out, quiet, resume=True)
        records = _unit_records(p)
        for u in p.units:
            last = halving.n_rungs(len(u.points)) - 1
            if rung < last:
                alive[id(u)] = _best(u, records, rung, alive[id(u)])
    _beyond_edges(p, quiet)
    wall = time.time() - t0
    chosen = tuning.summarise(_unit_records(p), p.methods)
    try:
        tuning.write_settings(p.settings, p.profile, chosen, _provenance(p, wall, command))
    except OSError as exc:
        raise UsageError(f"tune: cannot write {p.settings}: {exc.strerror or exc}") from exc
    return TuneResult(chosen, p.settings, wall)


def _unit_records(p: TunePlan) -> list[dict[str, Any]]:
    """The trial records of this plan's units and profile."""
    names = {u.name for u in p.units}
    return [
        r
        for r in load_records([p.out])
        if r.get("profile") == p.profile and tuning.unit_of(r) in names
    ]


def _best(
    u: Unit, records: Sequence[dict[str, Any]], rung: int, points: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The points that go on from ``rung``: the best third by mean rank over the unit's tasks
    (ties as the choice breaks them)."""
    mine = [
        r for r in records
        if r["method_family"] == u.method.family and tuning.unit_of(r) == u.name
        and (r.get("tuning") or {}).get("rung") == rung
    ]  # fmt: skip
    paper = {k: v for k, v in tuning.paper_defaults(u.method).items() if k not in u.method.params}
    order = tuning.ranking(points, mine, paper)
    return [points[i] for i in order[: halving.survivors(len(points))]]


def _beyond_edges(p: TunePlan, quiet: bool) -> None:
    """Where a unit's choice lies on an edge of its scale knob or learning rate, try the next
    value beyond it at the full budget (once)."""
    records = _unit_records(p)
    specs = []
    for u in p.units:
        chosen = tuning.summarise(
            [r for r in records if tuning.unit_of(r) == u.name], [u.method]
        ).get(u.method.family)
        if not chosen:
            continue
        c = {**chosen["families"], **chosen["tasks"]}
        (winner,) = c.values()
        extra = [pt for _, pt in halving.beyond_edges(u.method, winner["params"], u.space)]
        if extra:
            last = halving.n_rungs(len(u.points))
            specs += _rung_specs(u, last, extra, p.profile, p.resolved.device,
                                 p.resolved.execution, steps_of=lambda full, _r: full)  # fmt: skip
    if specs:
        p.resolved.sweep(p.work(specs), p.out, quiet, resume=True)


def _provenance(p: TunePlan, wall: float, command: str | None) -> dict[str, Any]:
    """Who chose the settings, when, from which records and on what machine."""
    env = environment(p.resolved.device)
    return {
        "command": command or os.environ.get("BENCH_COMMAND", "python -m bench tune"),
        "commit": git_commit(),
        "date": time.strftime("%Y-%m-%d"),
        "records": str(p.out),
        "wall_seconds_last_call": round(wall, 1),
        # The GPU where trials ran on one, else the CPU.
        "host": env.get("device_name") or env.get("cpu"),
    }
