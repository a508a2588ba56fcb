"""Every default the harness applies without being asked, in one place."""

from __future__ import annotations

import os

#: torch threads per worker process. On small machines torch's default pool makes the tiny
#: operations of these models many times slower (threads waiting on each other).
THREADS = 1
#: Seeds per (method, task) pair when ``--seeds`` is not given.
SEEDS = {"quick": 3, "full": 20}
#: Worker processes at most when ``--jobs`` is not given on CPU (one per core up to this).
MAX_CPU_JOBS = 4
#: Points kept of a run's convergence trace.
TRACE_POINTS = 200
#: Where a user's runs go unless ``--out`` says otherwise (ignored by git); ``results/`` holds
#: only runs published on purpose.
RUNS_DIR = "runs"


def limit_threads(threads: int = THREADS) -> None:
    """Ask the math libraries for ``threads`` threads unless the user set it. Call it before
    torch (or numpy's BLAS) is first imported, as ``python -m bench`` does."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


def default_jobs(device: str) -> int:
    """One worker per core up to :data:`MAX_CPU_JOBS` on CPU; one per GPU on CUDA (one on
    ``cuda:N``)."""
    if device == "cuda":
        import torch

        return max(1, torch.cuda.device_count())
    if device.startswith("cuda"):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_CPU_JOBS))


def default_out(profile: str, device: str) -> str:
    return os.path.join(RUNS_DIR, f"{profile}-{device.split(':')[0]}")
