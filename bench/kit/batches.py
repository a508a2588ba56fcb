"""Training pairs for gradient learners, within a task's sample budget.

The original experiment drew a fresh batch at every step. That is what a learner here gets
whenever the task's sample budget covers the whole run (``steps * batch`` samples). A task
may declare a smaller budget, or have a fixed training set; then the budget's worth is drawn
once (or the fixed set taken) and the learner goes through it in shuffled epochs, as any
trainer on a finite dataset does. Which of the two a run had shows in its record: ``samples``
is what it drew.
"""

from __future__ import annotations

import numpy as np

from bench.core.contracts import TaskView


def fresh_for_run(task: TaskView, steps: int, batch: int) -> bool:
    """Whether ``task`` can give a fresh batch for every one of ``steps`` steps."""
    return task.infinite and task.samples_left >= steps * batch


class Epochs:
    """Indices into a pool of ``n`` items in shuffled epochs: :meth:`take` gives the next
    ``k``, running into the next epoch (a new permutation) where one ends."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        if n <= 0:
            raise ValueError("no training data")
        self.n = n
        self.rng = rng
        self.order = np.zeros(0, dtype=np.int64)

    def take(self, k: int) -> np.ndarray:
        while self.order.size < k:
            self.order = np.concatenate([self.order, self.rng.permutation(self.n)])
        idx, self.order = self.order[:k], self.order[k:]
        return idx


class TrainingPairs:
    """A gradient learner's training pairs, ``batch`` per step over ``steps`` steps.

    ``take(n)`` returns the pairs of the next ``n`` steps as flat ``(x, y)`` arrays of
    ``n * batch`` rows: fresh from the sampler where the budget covers the run
    (:func:`fresh_for_run`), else from the pool drawn once, in shuffled epochs (``rng`` draws
    the permutations; the fresh path uses none of it).
    """

    def __init__(self, task: TaskView, steps: int, batch: int, rng: np.random.Generator) -> None:
        self.task = task
        self.batch = batch
        self.fresh = fresh_for_run(task, steps, batch)
        if not self.fresh:
            if task.infinite and task.samples_left <= 0:
                raise ValueError("no sample budget left")
            x, y = task.data()
            self.x, self.y = np.asarray(x), np.asarray(y)
            self.epochs = Epochs(len(self.x), rng)

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self.fresh:
            return self.task.sample(n * self.batch)
        idx = self.epochs.take(n * self.batch)
        return self.x[idx], self.y[idx]
