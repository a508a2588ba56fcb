"""A task plugin folder written against the helpers documented in periodic-bench 0.1.0, before
the modules moved (``bench.metrics``, ``bench.tasklib``): it must keep working, with a
deprecation warning, for at least one minor release."""

import numpy as np
from bench.metrics import exact_match  # noqa: F401 (imported as 0.1.0's README showed)
from bench.tasklib import SymmetricTask

from bench import Budget, register_task


@register_task("old-square", variants={"cycles": [3]}, base=False)
class OldSquare(SymmetricTask):
    """A square wave with `cycles` periods on [-1, 1], written against the 0.1.0 helpers."""

    family = "old-square"
    description = "third-party test task: square wave written against bench 0.1.0's helpers"
    success_criterion = "test NMSE < 0.1"
    headline = "test_nmse"
    loss_target = 0.05
    budgets = {"quick": Budget(steps=200, batch_size=32), "full": Budget(steps=2000)}

    def __init__(self, cycles: int = 3, seed: int = 0, profile: str = "quick"):
        super().__init__(seed=seed, profile=profile, cycles=cycles)
        self._half = 1.0
        self.w = np.pi * cycles * np.random.default_rng([seed, 0]).uniform(0.9, 1.1)

    def _f(self, x):
        return np.sign(np.sin(self.w * x)) + 0.0

    def truth(self):
        return {"freqs": [self.w]}

    def success(self, metrics):
        return bool(metrics["test_nmse"] < 0.1)
