"""Task shapes the built-in suite never shows a method, for ``tests/test_unseen.py``.

Each is a small, cheap variation a user's own data could bring: an input far from zero, a
period longer than the span, a domain of micro-units, a constant, repeated inputs, missing
values, integer hours, a small sample budget, and a clock-like classification with periods the
suite does not have (weekday and hour). Loaded only through ``BENCH_PLUGIN_PATH`` by that test.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench import Budget, OutputSpec, Task, register_task
from bench.lib.metrics import nmse

#: Small budgets: the test checks that every method runs, not how well it learns.
#: ``samples`` is below ``steps * batch_size``, so the gradient learners go through epochs.
SMALL = {
    "quick": Budget(steps=300, batch_size=32, samples=4096, seconds=120),
    "full": Budget(steps=3000, batch_size=32, seconds=600),
}


class _Unseen(Task):
    """A target ``f`` on ``[lo, hi]``; test set inside the span, extrapolation after it."""

    budgets = SMALL
    headline = "test_nmse"
    success_criterion = "test NMSE < 1e-3"
    lo: float = 0.0
    hi: float = 1.0
    fixed: ClassVar[np.ndarray | None] = None

    def __init__(self, seed: int = 0, profile: str = "quick", **params: Any) -> None:
        super().__init__(seed=seed, profile=profile, **params)
        self.phase = float(np.random.default_rng([seed, 99]).uniform(0.0, 2.0 * np.pi))

    def f(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def domain(self) -> tuple[float, float]:
        return (self.lo, self.hi)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(self.lo, self.hi, n)
        return x, self.f(x)

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, 7])
        x = rng.uniform(self.lo, self.hi, 1024)
        xe = self.hi + rng.uniform(0.0, self.hi - self.lo, 1024)
        return {"test": (x, self.f(x)), "extrapolation": (xe, self.f(xe))}

    def score(self, predictor: Any) -> dict[str, float]:
        out = {}
        for name, (x, y) in self.eval_sets().items():
            p = np.asarray(predictor.predict(x), dtype=np.float64)
            out[f"{name}_nmse"] = nmse(p, y) if np.var(y) > 0 else float(np.mean((p - y) ** 2))
        return out

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("test_nmse", np.inf) < 1e-3)


@register_task("unseen-offset")
class Offset(_Unseen):
    """A small tone on a large constant, inputs around a million."""

    family = "unseen-offset"
    description = "1000 + 0.01 sin(2 pi (x - 1e6) / 3.7 + phase) on [1e6, 1e6 + 200]"
    lo, hi = 1e6, 1e6 + 200.0

    def f(self, x: np.ndarray) -> np.ndarray:
        return 1000.0 + 0.01 * np.sin(2 * np.pi * (x - 1e6) / 3.7 + self.phase)


@register_task("unseen-long")
class Long(_Unseen):
    """Less than one cycle in the span."""

    family = "unseen-long"
    description = "sin(2 pi x / 5 + phase) on [-1, 1]: 0.4 of a cycle"
    lo, hi = -1.0, 1.0

    def f(self, x: np.ndarray) -> np.ndarray:
        return np.sin(2 * np.pi * x / 5.0 + self.phase)


@register_task("unseen-micro")
class Micro(_Unseen):
    """37 cycles in two micro-units."""

    family = "unseen-micro"
    description = "sin(2 pi 37 x / 2e-6 + phase) on [0, 2e-6]"
    lo, hi = 0.0, 2e-6

    def f(self, x: np.ndarray) -> np.ndarray:
        return np.sin(2 * np.pi * 37.0 * x / 2e-6 + self.phase)


@register_task("unseen-constant")
class Constant(_Unseen):
    """Nothing periodic at all."""

    family = "unseen-constant"
    description = "the constant 2.5 on [-5, 5]"
    lo, hi = -5.0, 5.0

    def f(self, x: np.ndarray) -> np.ndarray:
        return np.full(np.shape(x), 2.5)

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("test_nmse", np.inf) < 1e-6)


class _Fixed(_Unseen):
    infinite = False

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        x = self.inputs()
        return x, self.f(x)

    def inputs(self) -> np.ndarray:
        raise NotImplementedError


@register_task("unseen-repeats")
class Repeats(_Fixed):
    """Every input measured twice, at random places."""

    family = "unseen-repeats"
    description = "sin(2 pi x / 0.7 + phase), 400 random inputs on [0, 10], each twice"
    lo, hi = 0.0, 10.0

    def f(self, x: np.ndarray) -> np.ndarray:
        return np.sin(2 * np.pi * x / 0.7 + self.phase)

    def inputs(self) -> np.ndarray:
        x = np.sort(np.random.default_rng([self.seed, 3]).uniform(self.lo, self.hi, 400))
        return np.repeat(x, 2)


@register_task("unseen-missing")
class Missing(_Fixed):
    """A daily series with ten values missing (NaN)."""

    family = "unseen-missing"
    description = "10 + 3 sin(2 pi x / 7 + phase) daily over two years, ten values NaN"
    lo, hi = 0.0, 729.0

    def f(self, x: np.ndarray) -> np.ndarray:
        return 10.0 + 3.0 * np.sin(2 * np.pi * x / 7.0 + self.phase)

    def inputs(self) -> np.ndarray:
        return np.arange(730.0)

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = super().train_set()
        y[np.random.default_rng([self.seed, 4]).choice(x.size, 10, replace=False)] = np.nan
        return x, y


@register_task("unseen-hours")
class Hours(_Fixed):
    """Integer hours over eight weeks, daily and weekly periods."""

    family = "unseen-hours"
    description = "sin(2 pi x / 24) + 0.5 sin(2 pi x / 168), x integer hours over 8 weeks"
    input_dtype = "int64"
    lo, hi = 0, 24 * 7 * 8 - 1

    def f(self, x: np.ndarray) -> np.ndarray:
        t = np.asarray(x, dtype=np.float64)
        return np.sin(2 * np.pi * t / 24.0 + self.phase) + 0.5 * np.sin(2 * np.pi * t / 168.0)

    def inputs(self) -> np.ndarray:
        return np.arange(self.lo, self.hi + 1, dtype=np.int64)

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        x = np.arange(self.lo, self.hi + 1, 5, dtype=np.int64)
        xe = np.arange(self.hi + 1, self.hi + 1 + 24 * 14, dtype=np.int64)
        return {"test": (x, self.f(x)), "extrapolation": (xe, self.f(xe))}


@register_task("unseen-weekday")
class Weekday(Task):
    """Seconds over ten years to (weekday, hour): periods of a week and a day."""

    family = "unseen-weekday"
    description = "int64 seconds over 10 years -> weekday (7 classes) and hour (24 classes)"
    success_criterion = "exact match >= 0.99"
    headline = "exact_match"
    input_dtype = "int64"
    output = OutputSpec(kind="classification", n_outputs=2, classes=(7, 24))
    budgets = {
        "quick": Budget(steps=300, batch_size=128, samples=2**17, seconds=120),
        "full": Budget(steps=3000, batch_size=128, seconds=600),
    }
    SPAN = 10 * 365 * 86_400

    @property
    def domain(self) -> tuple[int, int]:
        return (0, self.SPAN)

    def f(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int64)
        return np.stack([(x // 86_400 + 3) % 7, (x // 3600) % 24], axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.integers(0, self.SPAN, n, dtype=np.int64)
        return x, self.f(x)

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        x = np.random.default_rng([self.seed, 7]).integers(0, self.SPAN, 2048, dtype=np.int64)
        return {"test": (x, self.f(x))}

    def score(self, predictor: Any) -> dict[str, float]:
        x, y = self.eval_sets()["test"]
        p = np.asarray(predictor.predict(x)).reshape(len(x), -1)
        return {"exact_match": float(np.mean(np.all(p == y, axis=1)))}

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("exact_match", 0.0) >= 0.99)
