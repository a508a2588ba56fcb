"""Sweeps on dask.distributed: a local cluster for ``--jobs N``, any cluster for ``--scheduler``.

The client submits every unit of work at once, each under a unique key (``pure=False``), and
takes the results as they complete, so records are written as they arrive. On the worker a
unit runs in that worker's sandbox child (``bench.engine.sandbox``): timeouts, crashes and memory
limits behave exactly as in a serial sweep.

The local cluster's workers are threads of this process (``processes=False``), one thread each,
reached over dask's in-process transport, not over sockets. There is no dashboard; the small
HTTP endpoints dask always serves (health, metrics) listen on loopback only. The sandbox already
gives every run a process of its own, so worker processes would only add a worker and a nanny
interpreter per worker on the same cores (in one back-to-back measurement on 2 cores, a sweep
took 8% longer with them; README, section Speed).

On a cluster of worker processes (``--scheduler``), a worker that is lost (killed, its machine
gone) loses only its unit in flight; the scheduler retries it once on another worker
(``allowed-failures`` 1) and, if that is lost too, the unit is recorded as ``error``.

What workers need:

* the package installed (``periodic-bench`` and its plugins' packages): units refer to the
  harness's code by name;
* plugin folders named in ``BENCH_PLUGIN_PATH`` are shipped by value when the cluster is not
  local: their ``.py`` files go to every worker (a worker plugin) and load from a folder there;
* on a machine with several GPUs, one worker per GPU: a local cluster pins worker ``i`` to GPU
  ``i`` (``CUDA_VISIBLE_DEVICES`` in its sandbox); on a remote cluster, start the workers with
  ``dask cuda worker`` (dask-cuda), which pins each one.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from bench.core.plugins import plugin_dirs
from bench.engine import sandbox as isolate
from bench.engine.execute import unit_records
from bench.engine.plan import Unit
from bench.engine.sandbox import Outcome, as_records

Finish = Callable[[Unit, list[dict[str, Any]], float], None]

#: Where a local cluster's HTTP endpoints listen: loopback, a free port.
LOOPBACK_HTTP = "127.0.0.1:0"
#: How long to wait for a scheduler named by ``--scheduler`` before giving up.
CONNECT_TIMEOUT = "10s"


class SchedulerError(ValueError):
    """The scheduler cannot be reached (one line for the user)."""


#: Variables a dask nanny sets for its worker that must not reach the runs. A worker started by
#: ``dask worker`` has a nanny, which sets ``MALLOC_TRIM_THRESHOLD_=65536`` (freed memory goes
#: back to the system at once): torch's many short-lived tensors then cost a system call each,
#: and the networks train 2-3x slower (measured). A run gets the submitting process's value
#: instead (unset unless the user set it).
NANNY_ONLY = ("MALLOC_TRIM_THRESHOLD_",)


def _config() -> dict[str, Any]:
    return {
        "distributed.scheduler.allowed-failures": 1,  # a lost unit is retried once
        "distributed.comm.timeouts.connect": CONNECT_TIMEOUT,
        # dask's own bookkeeping, made quieter: a worker here runs one unit for seconds to
        # minutes, and by default an idle 2-worker cluster burns 0.2 of a core (stack
        # sampling every 10 ms, event-loop ticks every 20 ms, system monitors); on a 2-core
        # machine that is CPU the runs lose. 0.03 of a core with these (measured).
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "5s",
        "distributed.worker.memory.monitor-interval": "5s",
    }


@contextlib.contextmanager
def quiet_dask() -> Iterator[None]:
    """Hold dask's loggers at ERROR until the block ends.

    A local cluster's own ``silence_logs`` restores the log level while it is still closing,
    so a message its background tasks log in that window reaches the terminal (an INFO
    traceback, "Batched Comm Closed", seen after Ctrl-C). Wrapping the cluster's whole life,
    its closing included (which stops its event loop), leaves nothing to log afterwards.
    """
    logger = logging.getLogger("distributed")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


def client_env() -> dict[str, str | None]:
    """What the runs should see of :data:`NANNY_ONLY`: this process's values (None: unset)."""
    return {k: os.environ.get(k) for k in NANNY_ONLY}


def connect(jobs: int, scheduler: str | None) -> tuple[Any, Any]:
    """A client for ``scheduler``, or for a fresh local cluster of ``jobs`` one-thread
    workers in this process; returns ``(client, cluster_or_None)``."""
    import dask
    from dask.distributed import Client, LocalCluster

    with dask.config.set(_config()):
        if scheduler:
            try:
                return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False), None
            except (OSError, TimeoutError, ValueError) as exc:
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise SchedulerError(f"cannot reach scheduler {scheduler}: {msg}") from exc
        cluster = LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=False,  # threads of this process; the sandboxes are the processes
            # No dashboard. The scheduler and each worker still serve a small HTTP endpoint
            # (health, metrics): on loopback, never on every interface (dask's default for an
            # in-process cluster).
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": LOOPBACK_HTTP},
            worker_dashboard_address=LOOPBACK_HTTP,
            memory_limit=0,  # sandboxes hold the memory; --memory-limit bounds each run
            silence_logs=logging.ERROR,
        )
        return Client(cluster, set_as_default=False), cluster


#: Units submitted per worker thread and not yet finished (see :func:`run_on_dask`).
WINDOW = 2


def _threads(client: Any) -> int:
    """The worker threads the scheduler knows of now."""
    return int(sum(client.nthreads().values()))


def probe(scheduler: str) -> None:
    """Raise :class:`SchedulerError` unless ``scheduler`` answers (checked before a sweep)."""
    client, _ = connect(1, scheduler)
    client.close()


def run_unit(
    spec: Unit,
    timeout: float | None,
    memory_mb: float | None,
    gpus: Sequence[str] = (),
    env: dict[str, str | None] | None = None,
) -> Outcome:
    """One unit of work, on a dask worker, in that worker's sandbox (whose environment takes
    ``env`` over the worker's own; None removes a variable)."""
    return isolate.shared(memory_mb, {**(env or {}), **gpu_env(gpus)}).attempt(spec, timeout)


def gpu_env(gpus: Sequence[str], worker_name: Any = None) -> dict[str, str]:
    """``CUDA_VISIBLE_DEVICES`` pinning this worker to one of ``gpus`` (by the worker's name,
    0..n-1 on a local cluster); empty when there is nothing to pin."""
    if not gpus:
        return {}
    if worker_name is None:
        from dask.distributed import get_worker

        worker_name = get_worker().name
    try:
        index = int(worker_name)
    except (TypeError, ValueError):
        index = abs(hash(str(worker_name)))
    return {"CUDA_VISIBLE_DEVICES": str(gpus[index % len(gpus)])}


class ShipPlugins(WorkerPlugin):
    """A dask worker plugin carrying plugin folders by value: on each worker it writes their
    ``.py`` files under the worker's local directory and names them in ``BENCH_PLUGIN_PATH``
    (which that worker's sandbox reads when it starts)."""

    name = "bench-plugin-folders"

    def __init__(self, folders: Sequence[Path]) -> None:
        self.files: dict[str, dict[str, str]] = {}
        for i, folder in enumerate(folders):
            texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py"))}
            self.files[f"{i}-{folder.name}"] = texts

    def setup(self, worker: Any) -> None:
        root = Path(worker.local_directory) / "bench-plugins"
        paths = []
        for name, texts in self.files.items():
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            for fname, text in texts.items():
                (folder / fname).write_text(text, encoding="utf-8")
            paths.append(str(folder))
        os.environ["BENCH_PLUGIN_PATH"] = os.pathsep.join(paths)


def _lost(spec: Unit, exc: Exception, seconds: float) -> tuple[list[dict[str, Any]], float]:
    """The records of a unit whose worker was lost twice. Its time is what the client saw
    from submitting it to hearing of the loss: the unit's tries on two workers, and at most
    the units ahead of it in its worker's queue (``WINDOW``) besides."""
    reason = f"worker lost twice ({type(exc).__name__}): {exc}"
    return unit_records(spec, "error", reason, seconds=seconds), seconds


def run_on_dask(
    specs: Sequence[Unit],
    finish: Finish,
    jobs: int,
    scheduler: str | None = None,
    timeout: float | None = None,
    memory_mb: float | None = None,
    gpus: Sequence[str] = (),
) -> None:
    """Run ``specs`` on dask, calling ``finish`` for each unit as it completes.

    Units go to the scheduler a few at a time: at most ``WINDOW`` per worker thread are
    submitted and not yet finished, and each one that finishes lets the next in, so a worker
    that is free always has the next unit to take. Submitted all at once (the full profile's
    9,600 units on a 16-core GPU host, 2026-11-28), dask left 12 of 14 workers idle for
    minutes while one or two of them ran long units one after another.
    """
    with contextlib.nullcontext() if scheduler else quiet_dask():
        _run_on_dask(specs, finish, jobs, scheduler, timeout, memory_mb, gpus)


def _run_on_dask(
    specs: Sequence[Unit],
    finish: Finish,
    jobs: int,
    scheduler: str | None,
    timeout: float | None,
    memory_mb: float | None,
    gpus: Sequence[str],
) -> None:
    import dask
    from dask.distributed import as_completed

    env = client_env()
    isolate.reopen_shared()
    client, cluster = connect(jobs, scheduler)
    try:
        with dask.config.set(_config()), client.as_current():
            if scheduler and plugin_dirs():
                client.register_plugin(ShipPlugins(plugin_dirs()))
            pin = () if scheduler else tuple(gpus)
            todo = iter(specs)
            futures: dict[Any, tuple[Unit, float]] = {}
            done = as_completed()

            def submit(n: int) -> None:
                for spec in itertools.islice(todo, n):
                    fut = client.submit(
                        run_unit, spec, timeout, memory_mb, pin, env,
                        key=f"bench-run-{uuid.uuid4().hex}", pure=False,
                    )  # fmt: skip
                    futures[fut] = (spec, time.monotonic())
                    done.add(fut)

            threads = max(_threads(client), 1)
            submit(WINDOW * threads)
            for finished, fut in enumerate(done, 1):
                spec, submitted = futures.pop(fut)
                try:
                    recs, secs = as_records(spec, fut.result())
                except Exception as exc:  # the unit's worker was lost twice
                    recs, secs = _lost(spec, exc, time.monotonic() - submitted)
                fut.release()
                finish(spec, recs, secs)
                if finished % 64 == 0:  # workers may join (or leave) a remote cluster
                    threads = max(_threads(client), 1)
                submit(max(WINDOW * threads - len(futures), 0))
    finally:
        if cluster is not None:
            # While a local cluster closes (after Ctrl-C above all), a worker's heartbeat can
            # find the scheduler gone and log an ERROR with a traceback that says nothing to
            # the user; quiet_dask, around this function, restores the level afterwards.
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            # Its workers are threads of this process, each waiting on its sandbox child: stop
            # the children first, so that a run in flight ends now, not when it is done.
            isolate.close_shared()
        client.close()
        if cluster is not None:
            cluster.close()
