"""What a gradient learner holds back from its training data to know its best state.

A network is judged at the state with the lowest validation loss (``StopPolicy.judge``), so
every run needs validation data the learner never trains on and the judge never sees. It is
carved from the learner's own training pairs, within the task's sample budget, by one rule:

- **Fresh batches with room to spare.** Where the task's sampler can give a fresh batch for
  every step and still has samples left in the budget, up to :data:`VAL_MAX` of those left
  over are drawn first as the validation set; training stays fresh.
- **Fresh batches with no room.** Where the budget is exactly the run's batches (the original
  ``sin31``), nothing is taken from training: each batch is scored before the model steps on
  it, so a window's mean training loss is already a loss on unseen samples, and it is the
  validation loss (:data:`WINDOW`).
- **A fixed pool** (a fixed training set, or a sampler's draw of what the run needs, at most its
  budget: :func:`pool_size`): a share (:data:`VAL_SHARE`, at most :data:`VAL_MAX` pairs) is
  held out by the task's rule (``Task.validation_rule``) and the learner trains on the rest in
  epochs:

  - ``random``: a random share, for tasks judged inside the training range;
  - ``forward``: the pairs with the largest inputs, for forecasts (judged after the range);
  - ``outer``: the pairs farthest from the middle of the range on either side, for tasks
    judged beyond both ends (extrapolation).

  A task judged beyond its range is validated the same way even when its sampler could give
  fresh batches: a validation set from inside the range would reward the wrong thing.

Validation costs a forward pass over the set at every logged window; :data:`VAL_MAX` keeps
that to about a tenth of a window of training for the suite's networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.core.contracts import Budget, TaskView

#: Most validation pairs a run holds back.
VAL_MAX = 1024
#: Share of a fixed pool held back.
VAL_SHARE = 0.2
#: Fewest spare samples worth a validation set of their own (else the window loss is used).
VAL_MIN = 64
#: The rules a task may declare (``Task.validation_rule``).
RULES = ("random", "forward", "outer")
#: The validation source where the window's training loss on fresh batches is used.
WINDOW = "window"


def rule_of(task: TaskView) -> str:
    """The task's validation rule (``random`` unless it declares another)."""
    rule = getattr(task, "validation_rule", "random") or "random"
    if rule not in RULES:
        raise ValueError(f"unknown validation rule {rule!r}; one of {', '.join(RULES)}")
    return rule


def holdout(x: np.ndarray, rule: str, rng: np.random.Generator, share: float = VAL_SHARE,
            cap: int | None = VAL_MAX) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(train, val)`` index arrays (each sorted) splitting ``len(x)`` pairs by ``rule``.

    At least one pair stays on each side when there are two or more; ``cap`` bounds the
    validation side."""
    n = len(x)
    k = int(round(n * share))
    if cap is not None:
        k = min(k, cap)
    k = min(max(k, 1 if n > 1 else 0), n - 1) if n > 1 else 0
    if rule == "random":
        order = rng.permutation(n)
    else:
        pos = np.asarray(x, dtype=np.float64).reshape(n, -1)[:, 0]
        if rule == "outer":
            pos = np.abs(pos - 0.5 * (pos.min() + pos.max())) if n else pos
        order = np.argsort(-pos, kind="stable")  # the largest (or outermost) first
    return np.sort(order[k:]), np.sort(order[:k])


@dataclass
class Plan:
    """How one seed's run is validated: ``source`` is ``held-out`` (``pairs`` are the
    validation set, raw task units) or :data:`WINDOW`; ``pool`` is the training pool the run
    must cycle through instead of fresh batches (``None``: fresh batches, or the method's)."""

    source: str
    rule: str
    pairs: tuple[np.ndarray, np.ndarray] | None = None
    pool: tuple[np.ndarray, np.ndarray] | None = None

    def describe(self) -> dict[str, object]:
        n = 0 if self.pairs is None else len(self.pairs[0])
        return {"source": self.source, "rule": self.rule, "pairs": n}


def pool_size(budget: Budget) -> int:
    """The samples a sampler's pool needs: one for every training pair of the run, and the
    validation set. The whole sample budget may be far larger (the ``full`` profile's is
    32 million pairs), and drawing it all would only cost memory."""
    return budget.steps * budget.batch_size + VAL_MAX


def plan_validation(
    task: TaskView,
    budget: Budget,
    rng: np.random.Generator,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    fresh: bool = True,
) -> Plan:
    """The validation of one seed: see the module doc. ``data`` are pairs the method drew
    itself (split like a fixed pool); ``fresh`` says whether the run would get fresh batches."""
    rule = rule_of(task)
    if data is None and fresh and rule == "random":
        spare = task.samples_left - budget.steps * budget.batch_size
        if spare >= VAL_MIN:
            return Plan("held-out", rule, pairs=task.sample(min(VAL_MAX, spare)))
        return Plan(WINDOW, rule)
    if data is None and task.infinite:  # a pool of what the run needs, not the whole budget
        data = task.data(max(1, min(task.samples_left, pool_size(budget))))
    elif data is None:
        data = task.train_set()
    x, y = data
    train, val = holdout(x, rule, rng)
    if len(val) == 0:  # a single pair: nothing to hold back
        return Plan(WINDOW, rule, pool=(x, y))
    return Plan("held-out", rule, pairs=(x[val], y[val]), pool=(x[train], y[train]))
