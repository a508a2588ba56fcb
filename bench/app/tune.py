"""``tune``: the declared tuning protocol (``bench.engine.tuning``) from request to settings file.

:func:`plan_tune` selects the tunable methods and each task family's tuning tasks and plans one
unit per grid point and task; :func:`tune` runs them (resuming trials already recorded), picks
the winners from the trial records and merges them, with their provenance, into the settings
file that ``run`` reads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.app.errors import UsageError
from bench.app.execution import Execution, Resolved, resolve
from bench.app.folders import takes_records
from bench.core import defaults, registry
from bench.engine import tuning
from bench.engine.plan import RunSpec, check_units, plan
from bench.engine.store import environment, git_commit, load_records


@dataclass
class TunePlan:
    """The trials of a tune (``specs``), the families they tune and where things go."""

    specs: list[RunSpec]
    methods: list[registry.Entry]
    families: dict[str, list[registry.Entry]]
    profile: str
    out: Path
    settings: Path
    resolved: Resolved

    @property
    def summary(self) -> str:
        """The plan in one line: methods, trials, tuning tasks per family, and where."""
        tasks = "; ".join(f"{f}: {', '.join(t.id for t in ts)}" for f, ts in self.families.items())
        r = self.resolved
        return (
            f"tune: {len(self.methods)} method(s), {len(self.specs)} trial(s) on {tasks}; "
            f"profile {self.profile}, device {r.device}, {r.where} -> {self.out}/records.jsonl"
        )

    @property
    def labels(self) -> list[str]:
        return [spec.label for spec in self.specs]


@dataclass
class TuneResult:
    """The settings chosen per (method family, task family) and the file they went to."""

    chosen: dict[str, dict[str, Any]]
    settings: Path
    wall_seconds: float

    def lines(self) -> list[str]:
        """One line per (method, task family): the winner and how it was chosen."""
        out = []
        for fam, info in self.chosen.items():
            for tfam, c in info["families"].items():
                mark = "paper default" if c["is_paper"] else "tuned"
                out.append(
                    f"{fam} on {tfam}: {c['params']} ({mark}; mean rank {c['mean_rank']:.2f}, "
                    f"{c['trials']} trials, {c['seconds']:.0f} s)"
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
) -> TunePlan:
    """Plan the trials: every grid point of each selected tunable method (fnmatch patterns;
    ``None``: all) on the tuning tasks of each family of ``tasks`` (default: the default
    sweep's). Trial records go to ``out`` (default ``runs/tune-<profile>-<device>``), the
    chosen settings to ``settings`` (default the package's ``tuned.json`` or ``$BENCH_TUNED``)."""
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
    task_list = [t for fam in families.values() for t in fam]
    device = resolved.device
    out = out or Path(defaults.RUNS_DIR) / f"tune-{profile}-{device.split(':')[0]}"
    specs: list[RunSpec] = []
    for m in chosen:
        for point in tuning.grid(m):
            trial = registry.METHODS.get(tuning.trial_id(m, point))
            specs += plan([trial], task_list, tuning.TUNE_SEEDS, profile, device,
                          tuning.TUNE_BASE_SEED, execution.threads, purpose="tune")  # fmt: skip
    try:  # a trial's task or method that cannot be built fails now, not in a worker
        check_units(specs)
    except ValueError as exc:
        raise UsageError(f"tune: {exc}") from exc
    path = settings or tuning.settings_file()
    return TunePlan(specs, chosen, families, profile, out, path, resolved)


def tune(tune_plan: TunePlan, *, quiet: bool = False, command: str | None = None) -> TuneResult:
    """Run the plan's trials (those already recorded are not rerun), choose per (method, task
    family) and merge the choice into the settings file. ``command`` is recorded as the
    provenance's command (default: the one the command line set, ``$BENCH_COMMAND``)."""
    p = tune_plan
    takes_records(p.out)
    t0 = time.time()
    p.resolved.sweep(p.specs, p.out, quiet, resume=True)
    wall = time.time() - t0
    # Only the families tuned now: the folder may hold other families' trials, whose settings
    # (and provenance) a tune of some families leaves as they are.
    records = [
        r
        for r in load_records([p.out])
        if r.get("profile") == p.profile and r.get("task_family") in p.families
    ]
    chosen = tuning.summarise(records, p.methods)
    try:
        tuning.write_settings(p.settings, p.profile, chosen, _provenance(p, wall, command))
    except OSError as exc:
        raise UsageError(f"tune: cannot write {p.settings}: {exc.strerror or exc}") from exc
    return TuneResult(chosen, p.settings, wall)


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
