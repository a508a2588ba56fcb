"""The original experiment's task: learn sin(31 x) from fresh random batches on [-1000, 1000]."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Task, register_task
from bench.lib.metrics import freq_error, mse

TARGET = 31.0
HALF_WIDTH = 1000.0


@register_task("sin31")
class Sin31(Task):
    """The original task: sin(31 x) from fresh random batches on [-1000, 1000]."""

    family = "sin31"
    description = (
        "The original: sin(31x), x ~ U[-1000, 1000], fresh batches of 32; success: test MSE < 1e-4"
    )
    success_criterion = "test MSE < 1e-4"
    headline = "test_mse"
    loss_target = 1e-4
    budgets = {
        "quick": Budget(steps=20_000, batch_size=32, seconds=900),
        "full": Budget(steps=1_000_000, batch_size=32, seconds=7200),
    }
    n_test = {"quick": 10_000, "full": 100_000}

    def __init__(self, seed: int = 0, profile: str = "quick") -> None:
        super().__init__(seed=seed, profile=profile)

    @property
    def domain(self) -> tuple[float, float]:
        return (-HALF_WIDTH, HALF_WIDTH)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(-HALF_WIDTH, HALF_WIDTH, size=n)
        return x, np.sin(TARGET * x)

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, 7])
        x = rng.uniform(-HALF_WIDTH, HALF_WIDTH, size=self.n_test[self.profile])
        return {"test": (x, np.sin(TARGET * x))}

    def truth(self) -> dict[str, Any]:
        return {"freqs": [TARGET]}

    def score(self, predictor: Any) -> dict[str, float]:
        x, y = self.eval_sets()["test"]
        out = {"test_mse": mse(predictor.predict(x), y)}
        out.update(freq_error(predictor, self.truth()["freqs"]))
        return out

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("test_mse", np.inf) < 1e-4)
