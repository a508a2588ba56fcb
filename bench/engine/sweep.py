"""A sweep: run units of work and append each unit's records to ``records.jsonl`` as it ends
(so a killed sweep loses at most the runs in flight, and ``--resume`` computes only what is
missing).

Where the units run:

* ``jobs`` 1 with ``isolate`` (what the command line does): one after another in a sandbox
  child (``bench.engine.sandbox``), so that a run that hangs past ``timeout``, crashes its
  interpreter or exceeds ``memory_mb`` is recorded with its status and the sweep goes on;
  without it (the library's default, so that methods registered in the calling process are
  found), in this process: a debugger reaches the runs, nothing protects the sweep;
* ``jobs`` > 1 or a ``scheduler``: on dask.distributed (``bench.engine.cluster``), a local
  cluster of ``jobs`` one-thread workers or the cluster at ``scheduler``; each worker runs its
  units in its own sandbox, with the same timeouts and limits.

A sweep holds its folder's lock (``bench.engine.lock``) from start to end: a second sweep into
the same folder is refused, naming the process that writes there.

Ctrl-C stops a sweep at once: sandbox children ignore SIGINT (a terminal sends it to the whole
process group) and are killed by the parent, and a local cluster is shut down, so nothing is
left running when the parent exits. Every unit that finished before is already recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.engine import lock
from bench.engine.cost import CostModel, longest_first
from bench.engine.execute import execute, unit_records
from bench.engine.plan import Unit, drop_done
from bench.engine.progress import Progress
from bench.engine.store import RecordWriter, done_keys


def run_sweep(
    specs: Sequence[Unit],
    out: Path,
    resume: bool = False,
    jobs: int = 1,
    quiet: bool = False,
    *,
    isolate: bool = False,
    timeout: float | None = None,
    memory_mb: float | None = None,
    scheduler: str | None = None,
    gpus: Sequence[str] = (),
    retry: Sequence[str] = (),
    costs: CostModel | None = None,
) -> list[dict[str, Any]]:
    """Execute ``specs``, appending each unit's records to ``out/records.jsonl`` as it ends;
    ``resume`` first drops the runs already recorded there (but those whose newest record has
    a status in ``retry``). With ``costs`` (``bench.engine.cost``) the units go out longest
    expected first, so no long unit starts last and leaves the other workers idle, and the
    progress has an ETA from the start; the end of the sweep says how busy the workers were.
    ``timeout`` (seconds per seed of a unit) and ``memory_mb`` (per
    run) need a sandbox, so they imply ``isolate``; ``gpus`` pins the workers of a local
    cluster one to each. The folder's lock is held throughout: a sweep already writing there
    is :class:`bench.engine.lock.FolderBusy`."""
    Path(out).mkdir(parents=True, exist_ok=True)
    with lock.hold(Path(out)):
        writer = RecordWriter(out)
        if resume:
            specs = drop_done(specs, done_keys(out, retry=retry))
        if costs is not None:
            specs = longest_first(specs, costs)
        workers = None if scheduler else max(1, min(jobs, len(specs)))
        progress = Progress(specs, quiet=quiet, prior=costs, workers=workers)
        results: list[dict[str, Any]] = []

        def finish(spec: Unit, recs: list[dict[str, Any]], secs: float) -> None:
            for r in recs:
                writer.write(r)
            results.extend(recs)
            progress.finish(spec, recs, secs)

        try:
            _dispatch(specs, finish, jobs, isolate, timeout, memory_mb, scheduler, gpus)
        finally:
            progress.close()
    return results


def _dispatch(
    specs: Sequence[Unit],
    finish: Callable[[Unit, list[dict[str, Any]], float], None],
    jobs: int,
    isolate: bool,
    timeout: float | None,
    memory_mb: float | None,
    scheduler: str | None,
    gpus: Sequence[str],
) -> None:
    """Run every unit where the arguments say (module docstring), handing each to ``finish``."""
    if specs and (scheduler or min(jobs, len(specs)) > 1):  # one unit needs no cluster
        from bench.engine.cluster import run_on_dask

        run_on_dask(specs, finish, jobs, scheduler, timeout, memory_mb, gpus)
    elif isolate or timeout is not None or memory_mb is not None:
        from bench.engine import sandbox

        sandbox.reopen_shared()
        box = sandbox.shared(memory_mb)
        try:
            for spec in specs:
                finish(spec, *box.run(spec, timeout))
        except BaseException:
            sandbox.close_shared()  # a run may be in flight: stop it with the sweep
            raise
    else:
        for spec in specs:
            finish(spec, *_timed_execute(spec))


def local_gpus(device: str, jobs: int, scheduler: str | None) -> list[str]:
    """The GPUs a local cluster pins its workers to, one each: every visible one when a CUDA
    sweep runs more than one worker here; none otherwise (one worker, or another's cluster)."""
    if device != "cuda" or jobs <= 1 or scheduler:
        return []
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _timed_execute(spec: Unit) -> tuple[list[dict[str, Any]], float]:
    """``execute`` plus its own wall time, measured where it ran (not in the queue). A run
    that calls ``sys.exit`` in this process is recorded as ``error`` and the sweep goes on,
    as it would in a sandbox; Ctrl-C still stops it."""
    t0 = time.perf_counter()
    try:
        recs = execute(spec)
    except SystemExit as exc:
        reason = f"SystemExit({exc.code!r}) raised by the run (sys.exit in a plugin)"
        recs = unit_records(spec, "error", reason, seconds=time.perf_counter() - t0)
    return recs, time.perf_counter() - t0
