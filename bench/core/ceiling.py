"""The representational ceiling: the best score a method could reach given what it sees.

A method that receives two different instants as the same input must give them the same
answer, so where their labels differ it is wrong on one of them whatever it learns. The
ceiling makes that bound explicit for the method *as run*: the harness asks the fitted method
for its ``representation`` of inputs (a network's scaled input in the dtype of its first
layer, say; the raw input by default) and the task, which knows its input lattice, turns that
into the best score any predictor of the representation can reach (``Task.ceiling``). A run
that fails where even that best predictor fails is *ceiling-limited*, and the report marks it
apart from a plain failure.

Tasks whose inputs are whole numbers (the Clock Problem's seconds) use :func:`preimage_sizes`:
how many neighbouring integers share each input's representation. Counting over the lattice,
not over the evaluation points, matters: a few thousand instants spread over 120 years rarely
collide with each other even where every float32 value stands for 128 seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.core.contracts import Task

Represent = Callable[[np.ndarray], np.ndarray]


def _rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.reshape(len(a), -1)


def _reach(t: np.ndarray, f: Represent, code: np.ndarray, d: int, room: np.ndarray) -> np.ndarray:
    """Per point, the largest ``k <= room`` with ``f(t + d k) == f(t)``: a binary search that
    assumes the preimage of a representation is an interval (true of any monotone encoding:
    scaling, rounding to a float type)."""
    lo = np.zeros_like(t)
    hi = room.copy()
    same_at_hi = np.all(_rows(f(t + d * hi)) == code, axis=1)
    lo = np.where(same_at_hi, hi, lo)
    open_ = ~same_at_hi
    while np.any(open_ & (hi - lo > 1)):
        mid = (lo + hi) // 2
        same = np.all(_rows(f(t + d * mid)) == code, axis=1)
        move = open_ & (hi - lo > 1)
        lo = np.where(move & same, mid, lo)
        hi = np.where(move & ~same, mid, hi)
    return lo


def preimage_sizes(t: np.ndarray, f: Represent, lo: int, hi: int) -> np.ndarray:
    """For integer inputs ``t`` in ``[lo, hi]``: how many integers of ``[lo, hi]`` share each
    one's representation ``f``."""
    t = np.asarray(t, dtype=np.int64)
    code = _rows(f(t))
    up = _reach(t, f, code, 1, hi - t)
    down = _reach(t, f, code, -1, t - lo)
    return up + down + 1


def representation_ceiling(task: Task, model: Any) -> dict[str, Any] | None:
    """The task's ceiling for ``model``'s representation (``None`` where the task has none)."""
    if type(task).ceiling is Task.ceiling:
        return None
    represent = getattr(model, "representation", None) or np.asarray
    return task.ceiling(represent)
