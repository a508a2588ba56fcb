"""Where and how the units of a ``run`` or a ``tune`` execute: the options the two share.

:class:`Execution` is what a caller asks for (device, workers, limits); :func:`resolve` checks
it once, before anything is planned or printed, and turns it into a :class:`Resolved` that
knows the device, the number of workers and how to hand a list of units to the sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.app.errors import UsageError
from bench.core import defaults

if TYPE_CHECKING:
    from bench.engine.cost import CostModel
    from bench.engine.plan import RunSpec


@dataclass(frozen=True)
class Execution:
    """Where and how to run: ``device`` (auto, cpu or cuda[:N]), ``jobs`` workers of a local
    dask cluster (default: per device), torch ``threads`` per worker, an existing dask
    ``scheduler``, a per-seed ``timeout`` (seconds) and a ``memory_limit`` (MiB) per run, or
    ``in_process`` for one unit at a time in this process (for a debugger)."""

    device: str = "auto"
    jobs: int | None = None
    threads: int = defaults.THREADS
    scheduler: str | None = None
    timeout: float | None = None
    memory_limit: float | None = None
    in_process: bool = False


@dataclass(frozen=True)
class Resolved:
    """An :class:`Execution` once checked: the device it resolved to and the workers."""

    execution: Execution
    device: str
    jobs: int
    #: The device is not on this machine: a dry run plans for it, nothing can run.
    absent: bool = False

    @property
    def where(self) -> str:
        """Where the units run, as the plan's summary line says it."""
        if self.execution.scheduler:
            return f"on the dask scheduler {self.execution.scheduler}"
        if self.jobs > 1:
            return f"{self.jobs} dask workers"
        return "in this process" if self.execution.in_process else "1 worker"

    def sweep(
        self,
        specs: Sequence[RunSpec],
        out: Path,
        quiet: bool,
        resume: bool = False,
        costs: CostModel | None = None,
    ) -> list[dict[str, Any]]:
        """Run ``specs`` into ``out`` this way (longest expected first with ``costs``); a
        scheduler that cannot be used is a :class:`UsageError`."""
        from bench.engine.cluster import SchedulerError
        from bench.engine.sweep import local_gpus, run_sweep

        ex = self.execution
        try:
            return run_sweep(
                specs, out, resume=resume, jobs=self.jobs, quiet=quiet,
                isolate=not ex.in_process, timeout=ex.timeout, memory_mb=ex.memory_limit,
                scheduler=ex.scheduler, gpus=local_gpus(self.device, self.jobs, ex.scheduler),
                costs=costs,
            )  # fmt: skip
        except SchedulerError as exc:
            raise UsageError(str(exc)) from exc


def resolve(execution: Execution, command: str, dry_run: bool = False) -> Resolved:
    """Check ``execution`` for ``command`` (run or tune) and resolve its device and workers.
    A scheduler is contacted now, unless this is a dry run, so that an unreachable one fails
    before anything is planned or printed."""
    from bench.engine.device import resolve_device

    ex = execution
    if (ex.jobs is not None and ex.jobs < 1) or ex.threads < 1:
        raise UsageError(f"{command}: --jobs and --threads must be at least 1")
    absent = False
    try:
        device = resolve_device(ex.device)
    except ValueError as exc:
        # A dry run plans for a GPU this machine lacks (e.g. a GPU sweep planned on a laptop).
        if not (dry_run and ex.device in ("cuda", "cuda:0") and "no CUDA" in str(exc)):
            raise UsageError(f"{command}: {exc}") from exc
        device, absent = ex.device, True
    if ex.in_process and (ex.scheduler or ex.timeout or ex.memory_limit):
        raise UsageError(
            f"{command}: --in-process runs in this process: no --scheduler, --timeout or "
            "--memory-limit with it"
        )
    if ex.in_process and ex.jobs not in (None, 1):
        raise UsageError(f"{command}: --in-process runs one unit at a time: use --jobs 1")
    jobs = 1 if ex.in_process else ex.jobs or defaults.default_jobs(device)
    if ex.scheduler and not dry_run:
        from bench.engine.cluster import SchedulerError, probe

        try:
            probe(ex.scheduler)
        except SchedulerError as exc:
            raise UsageError(f"{command}: {exc}") from exc
    return Resolved(execution, device, jobs, absent)
