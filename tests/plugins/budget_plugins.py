"""A task with a half-second time budget and methods that never log, for the time-budget tests
(loaded via BENCH_PLUGIN_PATH, or by the tests themselves).

``test-brief``: y = sin(x) on [-3, 3], a time budget of 0.5 s per seed (``test-brief[seconds=S]``:
S seconds), 200 steps of 16.

``test-overrun[phase=...,pause=S]`` never calls ``log``: it sleeps ``pause`` seconds (0.8 by
default) in ``warm_up``, ``fit`` or ``predict``; ``phase=hang`` sleeps an hour in ``fit``,
``phase=none`` nowhere. It predicts sin(x), so a run the harness lets finish scores perfectly.

``test-act[act=...]`` predicts ``act(x)``: its default hyper-parameter is a function,
``numpy.sin``, which JSON cannot carry.
"""

import time
from dataclasses import replace

import numpy as np

from bench import Budget, Method, Task, register_method, register_task

BRIEF = 0.5


@register_task("test-brief")
class Brief(Task):
    """y = sin(x) on [-3, 3], half a second per seed (``seconds`` sets another budget)."""

    family = "test-brief"
    description = "test task: sin(x) with a 0.5 s time budget"
    success_criterion = "test MSE < 1e-4"
    headline = "test_mse"
    budgets = {
        "quick": Budget(steps=200, batch_size=16, samples=4000, seconds=BRIEF),
        "full": Budget(steps=200, batch_size=16, samples=4000, seconds=BRIEF),
    }

    def __init__(self, seed: int = 0, profile: str = "quick", seconds: float | None = None):
        if seconds is None:
            super().__init__(seed=seed, profile=profile)
        else:
            super().__init__(seed=seed, profile=profile, seconds=seconds)
        self._seconds = BRIEF if seconds is None else float(seconds)

    @property
    def budget(self) -> Budget:
        return replace(self.budgets[self.profile], seconds=self._seconds)

    @property
    def domain(self):
        return (-3.0, 3.0)

    def sample(self, n, rng):
        x = rng.uniform(-3, 3, n)
        return x, np.sin(x)

    def eval_sets(self):
        x = np.linspace(-3, 3, 50)
        return {"test": (x, np.sin(x))}

    def score(self, predictor):
        x, y = self.eval_sets()["test"]
        return {"test_mse": float(np.mean((predictor.predict(x) - y) ** 2))}

    def success(self, metrics):
        return metrics["test_mse"] < 1e-4


@register_method("test-overrun")
class Overrun(Method):
    """Sleeps in the phase ``phase`` names, never logging (see the module's notes)."""

    description = "test plugin: sleeps in warm_up, fit or predict without logging"
    handles_fixed_data = True

    def __init__(self, phase: str = "fit", pause: float = 0.8) -> None:
        self.phase = phase
        self.pause = pause

    def warm_up(self, task, budget, device):
        if self.phase == "warm_up":
            time.sleep(self.pause)

    def fit(self, task, budget, seed, device, log):
        task.sample(4)
        if self.phase == "fit":
            time.sleep(self.pause)
        if self.phase == "hang":
            time.sleep(3600)
        return self

    def predict(self, x):
        if self.phase == "predict":
            time.sleep(self.pause)
        return np.sin(x)


@register_method("test-act")
class Act(Method):
    """Predicts ``act(x)`` for a function ``act`` given as a hyper-parameter."""

    description = "test plugin: a function as a hyper-parameter"
    handles_fixed_data = True

    def __init__(self, act=np.sin) -> None:
        self.act = act

    def fit(self, task, budget, seed, device, log):
        task.sample(4)
        return self

    def predict(self, x):
        return self.act(np.asarray(x, dtype=float))
