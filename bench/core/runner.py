"""The runner: (method x task x seed) -> one record, never aborting a sweep.

Each unit of work is a :class:`RunSpec`, a small picklable description (ids, parameters, seeds,
profile, device), so the same code runs in-process, in a process pool, or on a remote worker.
A vectorised method gets all seeds of a task in one unit; every other method gets one seed per
unit. Failures of any kind become records with a status and a reason.
"""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import registry
from .contracts import BudgetExceeded, Logger, RunTimeout, TaskView, as_numpy
from .store import RecordWriter, done_keys, environment, run_key


@dataclass(frozen=True)
class RunSpec:
    """One unit of work (picklable): a method on a task for one or more seeds."""

    method: str
    task: str
    seeds: tuple[int, ...]
    profile: str = "quick"
    device: str = "cpu"
    base_seed: int = 0
    threads: int = 1
    keys: tuple[str, ...] = field(default=(), compare=False)

    @property
    def label(self) -> str:
        s = (
            f"seed {self.seeds[0]}"
            if len(self.seeds) == 1
            else f"seeds {self.seeds[0]}-{self.seeds[-1]}"
        )
        return f"{self.method} on {self.task} ({s})"


def derive_seed(base: int, task_id: str, index: int, stream: int) -> int:
    """Deterministic 32-bit seed for a run. Stream 0 draws the task's truth, 1 its samples,
    2 the method's initialisation: every method sees the same truth and samples for a seed."""
    ss = np.random.SeedSequence([base, zlib.crc32(task_id.encode()), index, stream])
    return int(ss.generate_state(1)[0])


def resolve_device(device: str) -> str:
    """``auto`` picks CUDA when available; asking for CUDA without it is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    if device.startswith("cuda:"):
        index = device.split(":", 1)[1]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise ValueError(f"no device {device}: torch sees {torch.cuda.device_count()} GPU(s)")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")
    return device


def set_threads(threads: int) -> None:
    """One thread by default: on small machines torch's default pool makes small ops far slower."""
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def plan(
    methods: Sequence[registry.Entry],
    tasks: Sequence[registry.Entry],
    n_seeds: int,
    profile: str,
    device: str,
    base_seed: int = 0,
    threads: int = 1,
) -> list[RunSpec]:
    """Every (method, task) pair; vectorised methods get all seeds in one unit."""
    specs = []
    for t in tasks:
        for m in methods:
            keys = tuple(_key(m, t, s, profile, base_seed) for s in range(n_seeds))
            if getattr(m.cls, "vectorised", False):
                specs.append(
                    RunSpec(
                        m.id, t.id, tuple(range(n_seeds)), profile, device, base_seed, threads, keys
                    )
                )
            else:
                for s in range(n_seeds):
                    specs.append(
                        RunSpec(m.id, t.id, (s,), profile, device, base_seed, threads, (keys[s],))
                    )
    return specs


def _key(m: registry.Entry, t: registry.Entry, seed: int, profile: str, base: int) -> str:
    return run_key(
        m.id,
        m.source_hash(),
        dict(m.params),
        t.id,
        t.source_hash(),
        dict(t.params),
        seed if base == 0 else [base, seed],
        profile,
    )


def drop_done(specs: Iterable[RunSpec], done: set[str]) -> list[RunSpec]:
    """Keep only the seeds whose run key is not recorded yet (for ``--resume``)."""
    out = []
    for sp in specs:
        keep = [(s, k) for s, k in zip(sp.seeds, sp.keys, strict=True) if k not in done]
        if keep:
            seeds, keys = zip(*keep, strict=True)
            out.append(
                RunSpec(
                    sp.method, sp.task, seeds, sp.profile, sp.device, sp.base_seed, sp.threads, keys
                )
            )
    return out


class _TimedPredictor:
    """Wraps a fitted model: times ``predict`` (device-synchronised), flags non-finite output,
    and forwards attributes such as ``freqs_`` to the scorer."""

    def __init__(self, model: Any, sync: Callable[[], None]) -> None:
        self._model = model
        self._sync = sync
        self.seconds = 0.0
        self.nonfinite = False

    def predict(self, x: np.ndarray) -> np.ndarray:
        self._sync()
        t0 = time.perf_counter()
        y = as_numpy(self._model.predict(x))
        self._sync()
        self.seconds += time.perf_counter() - t0
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            self.nonfinite = True
        return y

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _sync_for(device: str) -> Callable[[], None]:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def _classify_exception(exc: BaseException) -> tuple[str, str]:
    import torch

    if isinstance(exc, RunTimeout):
        return "timeout", str(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return "oom", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if isinstance(exc, BudgetExceeded):
        return "error", f"sample budget exceeded: {exc}"
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return "error", f"{type(exc).__name__}: {msg}{where}"


def execute(spec: RunSpec) -> list[dict[str, Any]]:
    """Run one unit of work; always returns one record per seed, whatever happens."""
    import torch

    set_threads(spec.threads)
    registry.load_plugins()
    m_entry = registry.METHODS.get(spec.method)
    t_entry = registry.TASKS.get(spec.task)
    env = environment(spec.device)
    n = len(spec.seeds)
    keys = spec.keys or tuple(
        _key(m_entry, t_entry, s, spec.profile, spec.base_seed) for s in spec.seeds
    )

    base = {
        "method": m_entry.id,
        "method_family": m_entry.family,
        "params": dict(m_entry.params),
        "task": t_entry.id,
        "task_family": t_entry.family,
        "task_params": dict(t_entry.params),
        "profile": spec.profile,
        "device": spec.device,
        "base_seed": spec.base_seed,
    }

    def records(
        status: str, reason: str, per_seed: dict[str, list[Any]] | None = None, **common: Any
    ) -> list[dict[str, Any]]:
        out = []
        for i, s in enumerate(spec.seeds):
            rec = {"run_key": keys[i], **base, "seed": s, "status": status, "reason": reason}
            rec.update(common)
            rec.update({k: v[i] for k, v in (per_seed or {}).items()})
            rec.setdefault("success", None if status == "skipped" else False)
            rec.setdefault("metrics", {})
            rec.setdefault("time", {})
            rec.setdefault("trace", [])
            rec["env"] = env
            out.append(rec)
        return out

    # Build the tasks and the method; a plugin that fails here still yields records.
    try:
        tasks = [
            registry.build(
                t_entry, seed=derive_seed(spec.base_seed, t_entry.id, s, 0), profile=spec.profile
            )
            for s in spec.seeds
        ]
        method = registry.build(m_entry)
        budget = tasks[0].budget
        views = [
            TaskView(t, np.random.default_rng(derive_seed(spec.base_seed, t_entry.id, s, 1)))
            for t, s in zip(tasks, spec.seeds, strict=True)
        ]
        base["budget"] = budget.to_dict()
        base["method_params"] = _safe_params(method)
        extras = [t.record_extras() for t in tasks]
        # Per seed: a task may set its headline or loss target from its own drawn truth.
        judged = {
            "headline": [getattr(t, "headline", None) for t in tasks],
            "loss_target": [getattr(t, "loss_target", None) for t in tasks],
            "success_criterion": [getattr(t, "success_criterion", "") for t in tasks],
        }
        why_not = method.supports(views[0])
    except Exception as exc:  # noqa: BLE001 - any plugin failure becomes a record
        status, reason = _classify_exception(exc)
        return records(status, f"setup failed: {reason}")

    if why_not:
        return records("skipped", why_not, per_seed={"extras": extras, **judged})

    sync = _sync_for(spec.device)
    method_seeds = [derive_seed(spec.base_seed, t_entry.id, s, 2) for s in spec.seeds]
    # Every seed gets the time budget, also when a vectorised method fits them together.
    log = Logger(n_seeds=n, deadline=time.perf_counter() + budget.seconds * n, sync=sync)
    torch.manual_seed(method_seeds[0])
    np.random.seed(method_seeds[0] % 2**32)
    t0 = time.perf_counter()
    try:
        sync()
        t0 = time.perf_counter()  # fit time includes the warm-up, which is then taken apart
        with log.phase("warmup"):
            method.warm_up(views[0], budget, spec.device)
        if n == 1 and not getattr(method, "vectorised", False):
            fitted = [method.fit(views[0], budget, method_seeds[0], spec.device, log)]
        else:
            fitted = method.fit_seeds(views, budget, method_seeds, spec.device, log)
        sync()
        fit_seconds = time.perf_counter() - t0
        if len(fitted) != n:
            raise RuntimeError(f"fit returned {len(fitted)} models for {n} seeds")
    except Exception as exc:  # noqa: BLE001
        status, reason = _classify_exception(exc)
        return records(
            status,
            reason,
            per_seed={
                "trace": [log.trace(i) for i in range(n)],
                "extras": extras,
                **judged,
            },
            time=_phase_times(log, time.perf_counter() - t0, 0.0, n),
        )
    finally:
        if spec.device.startswith("cuda"):
            torch.cuda.empty_cache()

    statuses, reasons, successes, all_metrics = [], [], [], []
    for i, (task, model) in enumerate(zip(tasks, fitted, strict=True)):
        pred = _TimedPredictor(model, sync)
        status, reason = "ok", ""
        metrics: dict[str, Any] = {}
        try:
            metrics = dict(task.score(pred))
        except Exception as exc:  # noqa: BLE001
            status, reason = _classify_exception(exc)
            reason = f"scoring failed: {reason}"
        if log.nonfinite[i]:
            status, reason = "diverged", "non-finite training loss"
        elif pred.nonfinite and status == "ok":
            status, reason = "diverged", "non-finite predictions"
        if math.isfinite(log.final_loss[i]):
            metrics.setdefault("final_loss", float(log.final_loss[i]))
        metrics.setdefault("samples", views[i].samples_drawn)
        n_params = getattr(model, "n_params_", None)
        if n_params is not None:
            metrics.setdefault("n_params", int(n_params))
        metrics.setdefault("predict_seconds", pred.seconds)
        statuses.append(status)
        reasons.append(reason)
        # A run that failed counts as a failure wherever the task has a criterion at all.
        successes.append(task.success(metrics) if status == "ok" else False)
        all_metrics.append(metrics)

    out = []
    for i in range(n):
        predict = all_metrics[i].pop("predict_seconds")
        rec = {"run_key": keys[i], **base, "seed": spec.seeds[i]}
        rec.update(
            status=statuses[i],
            reason=reasons[i],
            success=None if successes[i] is None else bool(successes[i]),
            metrics=all_metrics[i],
            time=_phase_times(log, fit_seconds, predict, n),
            trace=log.trace(i),
            extras=extras[i],
            headline=judged["headline"][i],
            loss_target=judged["loss_target"][i],
            success_criterion=judged["success_criterion"][i],
            env=env,
        )
        out.append(rec)
    return out


def _phase_times(
    log: Logger, fit_seconds: float, predict_seconds: float, n: int
) -> dict[str, float]:
    """Per-seed phase seconds. Time inside ``fit`` outside named phases counts as ``train``;
    a vectorised fit's time is shared equally among its seeds (``batch_seeds`` says how many)."""
    named = {k: v for k, v in log.phases.items() if k != "train"}
    train = log.phases.get("train", max(fit_seconds - sum(named.values()), 0.0))
    times = {**named, "train": train, "predict": predict_seconds}
    times = {k: v / n if k != "predict" else v for k, v in times.items()}
    times["total"] = sum(v for k, v in times.items())
    times["batch_seeds"] = n
    return times


def _safe_params(method: Any) -> dict[str, Any]:
    try:
        return dict(method.get_params())
    except Exception:  # noqa: BLE001
        return {}


# -- the sweep ----------------------------------------------------------------------------------


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
                recs, secs = _lost_worker_records(spec, exc), float("nan")
            except Exception as exc:  # noqa: BLE001 - the result could not come back
                recs, secs = _lost_worker_records(spec, exc), float("nan")
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


def _lost_worker_records(spec: RunSpec, exc: BaseException) -> list[dict[str, Any]]:
    env = environment(spec.device)
    m = registry.METHODS.get(spec.method)
    t = registry.TASKS.get(spec.task)
    return [
        {
            "run_key": k,
            "method": spec.method,
            "method_family": m.family,
            "params": dict(m.params),
            "task": spec.task,
            "task_family": t.family,
            "task_params": dict(t.params),
            "headline": getattr(t.cls, "headline", None),
            "loss_target": getattr(t.cls, "loss_target", None),
            "success_criterion": getattr(t.cls, "success_criterion", ""),
            "seed": s,
            "profile": spec.profile,
            "status": "error",
            "reason": f"worker process died: {type(exc).__name__}: {exc}",
            "success": False,
            "metrics": {},
            "time": {},
            "trace": [],
            "env": env,
        }
        for s, k in zip(spec.seeds, spec.keys, strict=True)
    ]
