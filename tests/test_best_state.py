"""Networks are judged at their best state: the one with the lowest validation loss.

The task below hands out one function while the validation set and the first training batches
are drawn, then switches to another: a network fits the first, then forgets it for the second,
so its validation loss falls and then rises late. The run must be judged at the state before
the rise, and the record must say where that was and what the last state would have scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from bench.core import registry
from bench.core.contracts import Budget, Logger, Task, TaskView
from bench.core.stop import STOP_POLICY, Plateau
from bench.kit.train import CHUNK_STEPS
from bench.kit.validation import holdout, plan_validation

#: Training data come in chunks of this many steps (``bench.kit.train.CHUNK_STEPS``).
SWITCH_STEP = CHUNK_STEPS


class Switching(Task):
    """y = sin(3x) for the first samples drawn (validation, then a chunk of batches), then
    y = -sin(3x): training moves the network away from what it is validated on."""

    family = "switching"
    budgets = {"quick": Budget(steps=2500, batch_size=32, samples=2500 * 32 + 1024)}

    def __init__(self, seed: int = 0, profile: str = "quick", **params: Any) -> None:
        super().__init__(seed, profile, **params)
        self.drawn = 0

    @property
    def domain(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(-1.0, 1.0, n)
        sign = 1.0 if self.drawn < 1024 + SWITCH_STEP * 32 else -1.0
        self.drawn += n
        return x, sign * np.sin(3 * x)


def _fit(method_id: str) -> tuple[Any, Logger]:
    registry.load_plugins()
    task = Switching()
    view = TaskView(task, np.random.default_rng(0))
    method = registry.build(registry.METHODS.get(method_id))
    log = Logger(policy=method.stop_policy)
    torch.set_num_threads(1)
    method.fit(view, task.budget, 0, "cpu", log)
    return method, log


@pytest.mark.parametrize("method_id", ["gelu-mlp[settings=paper]", "siren[settings=paper]"])
def test_a_network_whose_validation_loss_rises_late_is_judged_at_its_best_state(
    method_id: str,
) -> None:
    method, log = _fit(method_id)
    x = np.linspace(-1, 1, 501)
    first, second = np.sin(3 * x), -np.sin(3 * x)
    best_err = float(np.mean((method.predict(x) - first) ** 2))
    final = method.final_state()
    assert final is not None
    final_err = float(np.mean((final.predict(x) - first) ** 2))
    # The best state is from before the switch; training went on past it.
    assert 0 < log.best_step[0] <= SWITCH_STEP < log.steps(0)
    assert best_err < 0.05 < 1.0 < final_err
    assert float(np.mean((final.predict(x) - second) ** 2)) < 0.05
    assert final.final_state() is None


def test_the_patience_grows_with_the_steps_taken() -> None:
    plateau = Plateau(1, 0.0, patience=5, rel_tol=0.01, min_windows=5, patience_share=0.25)
    for i in range(80):  # 80 windows of steady gains
        plateau.update(1.0 / (i + 1))
    assert plateau.patience_now()[0] == 20
    # Without a gain, the plateau must last a quarter of all windows: at window 107, 27 of them.
    for _ in range(26):
        assert not plateau.update(1.0).any()
    assert plateau.update(1.0).all() and plateau.total[0] == 107
    # Early on the floor of five windows holds.
    young = STOP_POLICY.plateau(1)
    assert young.patience_now()[0] == 5


def test_validation_matches_what_the_task_judges() -> None:
    x = np.arange(10.0)
    rng = np.random.default_rng(0)
    train, val = holdout(x, "forward", rng)
    assert list(val) == [8, 9] and list(train) == list(range(8))
    train, val = holdout(x - 4.5, "outer", rng)
    assert set(val) == {0, 9}
    train, val = holdout(x, "random", rng)
    assert len(val) == 2 and not set(val) & set(train)


def test_a_sampler_without_spare_samples_is_validated_on_its_fresh_batches() -> None:
    task = Switching()
    tight = Budget(steps=100, batch_size=32, samples=3200)
    plan = plan_validation(TaskView(task, np.random.default_rng(0), 3200), tight,
                           np.random.default_rng(0))  # fmt: skip
    assert plan.source == "window" and plan.pairs is None and plan.pool is None
    roomy = TaskView(task, np.random.default_rng(0), 3200 + 500)
    plan = plan_validation(roomy, tight, np.random.default_rng(0))
    assert plan.source == "held-out" and len(plan.pairs[0]) == 500
    assert roomy.samples_left == 3200  # the training batches are still all fresh


def test_a_control_without_the_stop_rule_trains_on_and_says_where_it_would_have_stopped() -> None:
    from dataclasses import replace

    policy = replace(STOP_POLICY, stops=False, lr_drops=0)
    log = Logger(policy=policy)
    for step in range(100, 1100, 100):
        log(step, 1.0)  # flat: five windows after the first, the rule fires
    assert log.converged_step[0] == 600 and not log.settled()
    drop, end = log.on_plateau(1000)
    assert not drop.any() and not end.any() and log.stop_step[0] == -1
    assert STOP_POLICY.on_plateau(np.array([True]), np.array([False]), np.array([0]))[1].all()


def test_control_runs_have_their_own_run_keys() -> None:
    from bench.engine.plan import plan

    registry.load_plugins()
    m, t = registry.METHODS.get("gelu-mlp"), registry.TASKS.get("tone[cycles=1]")
    (plain,) = plan([m], [t], 2, "full", "cpu")
    (long,) = plan([m], [t], 2, "full", "cpu", control={"steps": 100_000, "stop": "none"})
    assert set(plain.keys).isdisjoint(long.keys)
    assert long.tuning["steps"] == 100_000 and long.tuning["stop"] == "none"


def test_a_sampler_pool_holds_what_the_run_needs_not_the_whole_budget() -> None:
    from bench.kit.validation import VAL_MAX

    class Outer(Switching):
        validation_rule = "outer"

    task = Outer()
    budget = Budget(steps=100, batch_size=32, samples=10**7)
    view = TaskView(task, np.random.default_rng(0), 10**7)
    plan = plan_validation(view, budget, np.random.default_rng(0))
    assert view.samples_drawn == 100 * 32 + VAL_MAX
    assert len(plan.pairs[0]) == min(VAL_MAX, round(0.2 * view.samples_drawn))
    assert len(plan.pool[0]) == view.samples_drawn - len(plan.pairs[0])
    # the held-out pairs are the outermost: none of the training pool lies farther out
    everything = np.concatenate([plan.pairs[0], plan.pool[0]])
    mid = 0.5 * (everything.min() + everything.max())
    assert np.abs(plan.pairs[0] - mid).min() >= np.abs(plan.pool[0] - mid).max()
