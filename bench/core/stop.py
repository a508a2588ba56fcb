"""The declared stop rule of the gradient learners: stop at a plateau, say that it was one.

A learner's failure means something only once it has converged; a run that ran out of budget
while still improving says only that the budget was too small. Every gradient method in the
suite therefore asks one rule, at every logged step, whether its training loss has settled:

- the loss it sees is the mean training loss over one log window (``window`` optimiser steps,
  100 for the networks), so batch noise is averaged before anything is compared;
- a window *improves* when its loss is below ``(1 - rel_tol)`` times the best window so far
  (``rel_tol = 1%``);
- the run has reached a **plateau** once ``patience`` windows in a row (5) have not improved,
  and at least ``min_windows`` windows (5) have run;
- it has also **converged** once a window's loss is at or below ``floor``: 1% of the task's
  loss target where the task declares one (a fit a hundred times better than success needs
  cannot change its verdict), otherwise zero.

The harness applies the rule, not the method: the run's :class:`bench.Logger` feeds it every
``log(step, loss)`` and a method asks ``log.settled()`` whether to stop. So the rule is the same
for every learner, plugins included, and a method cannot declare itself converged. It is per
seed (a vector of losses), so vectorised methods stop when every seed has settled and the
records still say which seeds had. The networks (``bench.kit.nn.train``) meet a plateau once
with the common reduce-on-plateau schedule: the learning rate drops tenfold (``LR_DROP``,
``LR_DROPS`` times) and the rule starts afresh; the run stops at the plateau after the last
drop, or at once at the floor. Records carry ``converged`` (``True`` once the rule fired,
``False`` when the budget ran out first, ``None`` for methods that log no steps) and
``converged_step``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The rule's constants, recorded with every result so that a reader knows what "converged"
#: meant for it.
PATIENCE = 5
REL_TOL = 0.01
MIN_WINDOWS = 5
FLOOR_SHARE = 0.01
#: Reduce-on-plateau for the networks: the factor and how many times.
LR_DROP = 0.1
LR_DROPS = 1


def describe_rule(window: int) -> dict[str, float | int]:
    """The rule as a small dict, for records and the report."""
    return {
        "window_steps": window,
        "patience_windows": PATIENCE,
        "rel_tol": REL_TOL,
        "min_windows": MIN_WINDOWS,
        "floor_share_of_loss_target": FLOOR_SHARE,
        "network_lr_drop": LR_DROP,
        "network_lr_drops": LR_DROPS,
    }


def floor_for(loss_target: float | None) -> float:
    """The loss at which a run counts as converged outright: 1% of the task's target, or 0."""
    return FLOOR_SHARE * float(loss_target) if loss_target else 0.0


@dataclass
class Plateau:
    """Tracks the rule for ``n`` seeds; :meth:`update` takes one window's losses."""

    n: int = 1
    floor: float | np.ndarray = 0.0
    patience: int = PATIENCE
    rel_tol: float = REL_TOL
    min_windows: int = MIN_WINDOWS

    def __post_init__(self) -> None:
        self.best = np.full(self.n, np.inf)
        self.stale = np.zeros(self.n, dtype=np.int64)
        self.windows = np.zeros(self.n, dtype=np.int64)
        self.settled = np.zeros(self.n, dtype=bool)
        #: Seeds that settled by reaching the floor (not merely a plateau).
        self.at_floor = np.zeros(self.n, dtype=bool)

    def reset(self, mask: np.ndarray) -> None:
        """Start the rule afresh for the seeds in ``mask``."""
        self.best = np.where(mask, np.inf, self.best)
        self.stale = np.where(mask, 0, self.stale)
        self.windows = np.where(mask, 0, self.windows)
        self.settled &= ~mask
        self.at_floor &= ~mask

    def update(self, losses: float | np.ndarray) -> np.ndarray:
        """Feed one window's mean loss per seed; returns which seeds have settled (sticky).

        A non-finite loss settles its seed at once: it cannot recover, and waiting would only
        spend the budget.
        """
        v = np.broadcast_to(np.asarray(losses, dtype=float).reshape(-1), (self.n,))
        self.windows += 1
        bad = ~np.isfinite(v)
        better = v < self.best * (1.0 - self.rel_tol)
        self.best = np.where(better, v, self.best)
        self.stale = np.where(better, 0, self.stale + 1)
        flat = (self.stale >= self.patience) & (self.windows >= self.min_windows)
        low = np.isfinite(v) & (v <= self.floor)
        self.at_floor |= low
        self.settled |= flat | low | bad
        return self.settled.copy()

    @property
    def done(self) -> bool:
        return bool(self.settled.all())
