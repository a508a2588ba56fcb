"""A sweep: run units of work, in this process or in a pool of worker processes, and append
each unit's records to ``records.jsonl`` as it ends (so a killed sweep loses at most the runs in
flight, and ``--resume`` computes only what is missing).

Ctrl-C stops a sweep at once: workers ignore SIGINT (a terminal sends it to the whole process
group) and the parent terminates them, so a worker never prints a traceback of its own and none
is left running when the parent exits. Every unit that finished before is already recorded.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from ..defaults import limit_threads
from .progress import Progress
from .runner import RunSpec, drop_done, execute, lost_worker_records
from .store import RecordWriter, done_keys

Finish = Callable[[RunSpec, list[dict[str, Any]], float], None]


def run_sweep(
    specs: Sequence[RunSpec],
    out: Path,
    resume: bool = False,
    jobs: int = 1,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Execute ``specs``, appending each unit's records to ``out/records.jsonl`` as it ends;
    ``resume`` first drops the runs already recorded there."""
    writer = RecordWriter(out)
    if resume:
        specs = drop_done(specs, done_keys(out))
    progress = Progress(specs, quiet=quiet)
    results: list[dict[str, Any]] = []

    def finish(spec: RunSpec, recs: list[dict[str, Any]], secs: float) -> None:
        for r in recs:
            writer.write(r)
        results.extend(recs)
        progress.finish(spec, recs, secs)

    try:
        if jobs <= 1:
            for spec in specs:
                finish(spec, *_timed_execute(spec))
        else:
            _run_in_pools(specs, jobs, finish)
    finally:
        progress.close()
    return results


def _run_in_pools(specs: Sequence[RunSpec], jobs: int, finish: Finish) -> None:
    pending, breaks = list(specs), 0
    while pending:
        if breaks >= 2:  # the pool keeps breaking: run each unit alone to find the culprit
            for spec in pending:
                _run_pool([spec], 1, finish, last_resort=True)
            return
        done = _run_pool(pending, jobs, finish, last_resort=False)
        pending = [sp for sp in pending if id(sp) not in done]
        if pending:
            breaks += 1
            how = "in a fresh pool" if breaks < 2 else "one at a time"
            print(
                f"warning: a worker process died; retrying {len(pending)} unit(s) {how}",
                file=sys.stderr,
            )


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    limit_threads()


def _run_pool(specs: Sequence[RunSpec], jobs: int, finish: Finish, last_resort: bool) -> set[int]:
    """Run ``specs`` in a fresh process pool; returns the ids of the specs that finished.

    A worker that dies (out of memory, a crashing extension) breaks the whole pool, and every
    unit still in it fails with it, guilty or not: those get no record here, so the caller can
    retry them (or ``--resume`` will). Only as a ``last_resort`` (one unit alone in its pool)
    does a dead worker become an ``error`` record.
    """
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    done: set[int] = set()
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker
    )
    try:
        started = {pool.submit(_timed_execute, sp): sp for sp in specs}
        for fut in as_completed(started):
            spec = started[fut]
            try:
                recs, secs = fut.result()
            except BrokenProcessPool as exc:
                if not last_resort:
                    continue
                recs, secs = lost_worker_records(spec, exc), float("nan")
            except Exception as exc:  # the result could not come back
                recs, secs = lost_worker_records(spec, exc), float("nan")
            finish(spec, recs, secs)
            done.add(id(spec))
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return done


def _stop(pool: ProcessPoolExecutor) -> None:
    """Terminate every worker now (SIGTERM, then SIGKILL after a moment) and drop the queue."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        p.terminate()
    deadline = time.monotonic() + 2.0
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _timed_execute(spec: RunSpec) -> tuple[list[dict[str, Any]], float]:
    """``execute`` plus its own wall time, measured where it ran (not in the queue)."""
    t0 = time.perf_counter()
    recs = execute(spec)
    return recs, time.perf_counter() - t0
