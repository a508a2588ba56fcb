"""The original experiment's task: learn sin(31 x) from fresh random batches on [-1000, 1000].

``sin31[cycles=C]`` keeps the target and the judge and changes only the domain: ``x ~ U[-R, R]``
with ``R = C pi / 31``, so that the domain holds ``C`` cycles of the target. The basin of the
target frequency narrows as ``1 / R``, so ``C`` is the axis of the failure map (success of the
gradient learners against the cycles in the domain). The plain ``sin31`` (``R = 1000``, about
9,868 cycles) is the original and stays as it was.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench import Budget, Task, register_task
from bench.lib.metrics import freq_error, mse

TARGET = 31.0
HALF_WIDTH = 1000.0
#: The failure map's cycle counts (on-demand variants: listed, runnable by name, not in --all).
CYCLES = [1, 2, 3, 5, 10, 30, 100, 1000, 10000]


@register_task("sin31", on_demand=[{"cycles": c} for c in CYCLES])
class Sin31(Task):
    """The original task: sin(31 x) from fresh random batches on [-1000, 1000]."""

    family = "sin31"
    tune_per_task = True  # cycles span orders of magnitude
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

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        c = params.get("cycles")
        if c is None:
            return cls.description
        return (
            f"Variant: sin(31x), x ~ U[-R, R] holding {c} cycle{'s' if c != 1 else ''} "
            f"(R = {c} pi / 31 = {c * math.pi / TARGET:.4g}), fresh batches of 32; "
            "success: test MSE < 1e-4"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", cycles: float | None = None) -> None:
        if cycles is None:
            super().__init__(seed=seed, profile=profile)
            self._half = HALF_WIDTH
        else:
            if not (isinstance(cycles, (int, float)) and cycles > 0):
                raise ValueError(f"cycles must be a positive number, not {cycles!r}")
            super().__init__(seed=seed, profile=profile, cycles=cycles)
            self._half = float(cycles) * math.pi / TARGET

    @property
    def domain(self) -> tuple[float, float]:
        return (-self._half, self._half)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(-self._half, self._half, size=n)
        return x, np.sin(TARGET * x)

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, 7])
        x = rng.uniform(-self._half, self._half, size=self.n_test[self.profile])
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
