"""A sweep: run units of work, in this process or in a pool of worker processes, and append
each unit's records to ``records.jsonl`` as it ends (so a killed sweep loses at most the runs in
flight, and ``--resume`` computes only what is missing)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from .runner import RunSpec, drop_done, execute, lost_worker_records
from .store import RecordWriter, done_keys


def _fmt_secs(s: float) -> str:
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s // 60:.0f}m{s % 60:02.0f}s"
    return f"{s // 3600:.0f}h{(s % 3600) // 60:02.0f}m"


class Progress:
    """One line per finished unit: count, what ran, its status, elapsed and an ETA."""

    def __init__(self, total_runs: int, stream: Any = sys.stderr, quiet: bool = False) -> None:
        self.total = total_runs
        self.done = 0
        self.t0 = time.perf_counter()
        self.stream = stream
        self.quiet = quiet

    def start(self, spec: RunSpec) -> None:
        if not self.quiet and self.stream.isatty():
            self.stream.write(f"\r  running {spec.label} ...\x1b[K")
            self.stream.flush()

    def finish(self, spec: RunSpec, recs: list[dict[str, Any]], seconds: float) -> None:
        self.done += len(recs)
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        statuses: dict[str, int] = {}
        for r in recs:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        st = ", ".join(f"{v} {k}" for k, v in statuses.items())
        wins = sum(1 for r in recs if r.get("success"))
        ok = f", {wins}/{len(recs)} success" if any(r["success"] is not None for r in recs) else ""
        reason = next((r["reason"] for r in recs if r["status"] not in ("ok",)), "")
        reason = f" ({reason[:70]})" if reason else ""
        took = f" in {seconds:.1f}s" if math.isfinite(seconds) else ""
        prefix = "\r" if self.stream.isatty() else ""
        self.stream.write(
            f"{prefix}[{self.done}/{self.total}] {spec.label}: {st}{ok}{reason}{took}"
            f" | elapsed {_fmt_secs(elapsed)}, eta {_fmt_secs(eta)}\x1b[K\n"
            if self.stream.isatty()
            else f"[{self.done}/{self.total}] {spec.label}: {st}{ok}{reason}{took}"
            f" | elapsed {_fmt_secs(elapsed)}, eta {_fmt_secs(eta)}\n"
        )
        self.stream.flush()


def run_sweep(
    specs: Sequence[RunSpec],
    out: Path,
    resume: bool = False,
    jobs: int = 1,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Execute ``specs``, appending each unit's records to ``out/records.jsonl`` as it ends."""
    writer = RecordWriter(out)
    if resume:
        specs = drop_done(specs, done_keys(out))
    total = sum(len(s.seeds) for s in specs)
    progress = Progress(total, quiet=quiet)
    results: list[dict[str, Any]] = []

    def finish(spec: RunSpec, recs: list[dict[str, Any]], secs: float) -> None:
        for r in recs:
            writer.write(r)
        results.extend(recs)
        progress.finish(spec, recs, secs)

    if jobs <= 1:
        for spec in specs:
            progress.start(spec)
            t0 = time.perf_counter()
            finish(spec, execute(spec), time.perf_counter() - t0)
        return results

    pending, breaks = list(specs), 0
    while pending:
        if breaks >= 2:  # the pool keeps breaking: run each unit alone to find the culprit
            for spec in pending:
                _run_pool([spec], 1, finish, last_resort=True)
            break
        done = _run_pool(pending, jobs, finish, last_resort=False)
        pending = [sp for sp in pending if id(sp) not in done]
        if pending:
            breaks += 1
            how = "in a fresh pool" if breaks < 2 else "one at a time"
            print(
                f"warning: a worker process died; retrying {len(pending)} unit(s) {how}",
                file=sys.stderr,
            )
    return results


def _run_pool(
    specs: Sequence[RunSpec],
    jobs: int,
    finish: Callable[[RunSpec, list[dict[str, Any]], float], None],
    last_resort: bool,
) -> set[int]:
    """Run ``specs`` in a fresh process pool; returns the ids of the specs that finished.

    A worker that dies (out of memory, a crashing extension) breaks the whole pool, and every
    unit still in it fails with it, guilty or not: those get no record here, so the caller can
    retry them (or ``--resume`` will). Only as a ``last_resort`` (one unit alone in its pool)
    does a dead worker become an ``error`` record. Ctrl-C stops the workers at once.
    """
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    done: set[int] = set()
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"))
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
            except Exception as exc:  # noqa: BLE001 - the result could not come back
                recs, secs = lost_worker_records(spec, exc), float("nan")
            finish(spec, recs, secs)
            done.add(id(spec))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        raise
    pool.shutdown(wait=True)
    return done


def _timed_execute(spec: RunSpec) -> tuple[list[dict[str, Any]], float]:
    """``execute`` plus its own wall time, measured in the worker (not in the queue)."""
    t0 = time.perf_counter()
    recs = execute(spec)
    return recs, time.perf_counter() - t0
