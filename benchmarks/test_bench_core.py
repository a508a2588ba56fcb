"""Micro-benchmarks of the harness's hot paths (run: python -m pytest benchmarks/).

Speed is measured here, never asserted in tests/.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from bench import Budget, Logger
from bench.core import registry
from bench.core.contracts import TaskView

torch.set_num_threads(1)


def test_sgd_sin_steps(benchmark) -> None:
    """1,000 steps of the original loop (batch 32), three seeds as one tensor."""
    task = registry.get_task("sin31")
    method = registry.get_method("sgd-sin")
    budget = Budget(steps=1000, batch_size=32)

    def run() -> None:
        views = [TaskView(task, np.random.default_rng(s)) for s in range(3)]
        method.fit_seeds(views, budget, [0, 1, 2], "cpu", Logger(n_seeds=3))

    benchmark(run)


def test_logger_call(benchmark) -> None:
    """Cost of one log(step, loss) call with three seeds."""
    log = Logger(n_seeds=3)
    losses = np.array([1.0, 0.5, 0.25])
    state = {"step": 0}

    def call() -> None:
        state["step"] += 1
        log(state["step"], losses)

    benchmark(call)
