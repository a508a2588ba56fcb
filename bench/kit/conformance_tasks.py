"""The task conformance checks (``bench.kit.conformance``, which runs them with ``check_task``):
metadata and budgets, the training data's types and shapes, determinism per seed, and a scorer
that scores a trivial predictor without calling it a success.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.core import registry
from bench.core.contracts import PROFILES, Budget, OutputSpec
from bench.kit.conformance_base import _view


def check_task_metadata(task_id: str) -> None:
    """Described, with a stated success criterion and budgets for every profile."""
    entry = registry.TASKS.get(task_id)
    cls = entry.cls
    assert entry.description, f"{task_id}: give the task a one-line description"
    assert cls.success_criterion, f"{task_id}: state the success criterion"
    for profile in PROFILES:
        assert profile in cls.budgets, f"{task_id}: no budget for profile {profile!r}"
        assert isinstance(cls.budgets[profile], Budget)
    assert cls.input_dtype in ("float32", "float64", "int64"), f"{task_id}: bad input_dtype"


def check_task_data(task_id: str) -> None:
    """Training data has the declared dtype and output shape."""
    task = registry.get_task(task_id, seed=0)
    view = _view(task)
    x, y = view.sample(64) if task.infinite else view.train_set()
    assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray), f"{task_id}: numpy arrays"
    assert x.dtype == np.dtype(task.input_dtype), (
        f"{task_id}: inputs are {x.dtype}, task declares {task.input_dtype}"
    )
    assert x.ndim == 1 and len(y) == len(x), f"{task_id}: x must be 1-D, y one row per x"
    out = task.output
    if out.n_outputs > 1:
        assert y.shape == (len(x), out.n_outputs), f"{task_id}: y shape {y.shape}"
    if out.kind == "classification":
        assert y.dtype.kind in "iu", f"{task_id}: class targets must be integers"
    lo, hi = task.domain
    xf = x.astype(np.float64)
    assert lo <= xf.min() and xf.max() <= hi, f"{task_id}: training inputs outside the domain"


def check_task_deterministic(task_id: str) -> None:
    """The same seed gives the same truth, samples and evaluation sets; another seed differs."""
    a, b = registry.get_task(task_id, seed=5), registry.get_task(task_id, seed=5)
    assert _equal(a.truth(), b.truth()), f"{task_id}: truth differs for the same seed"
    ea, eb = a.eval_sets(), b.eval_sets()
    assert ea.keys() == eb.keys()
    for k in ea:
        np.testing.assert_array_equal(ea[k][0], eb[k][0], err_msg=f"{task_id}: eval set {k}")
    if a.infinite:
        xa, _ = _view(a, 1).sample(32)
        xb, _ = _view(b, 1).sample(32)
        np.testing.assert_array_equal(xa, xb, err_msg=f"{task_id}: samples differ for a seed")


def _equal(a: Any, b: Any) -> bool:
    try:
        return (
            bool(np.all(np.asarray(a == b)))
            if not isinstance(a, dict)
            else (a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a))
        )
    except Exception:
        return repr(a) == repr(b)


class _Constant:
    """A predictor that always answers zero (or class 0) and claims a frequency of 1 rad per
    unit: every task must score it, frequency metrics included, and none may call it a success.
    """

    def __init__(self, out: OutputSpec) -> None:
        self.out = out
        self.freqs_ = np.array([1.0])

    def predict(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if self.out.kind == "classification":
            return np.zeros((n, self.out.n_outputs), dtype=np.int64)
        return np.zeros(n if self.out.n_outputs == 1 else (n, self.out.n_outputs))


def check_task_scores(task_id: str) -> None:
    """A trivial predictor gets numeric metrics, the headline among them, and no success."""
    task = registry.get_task(task_id, seed=0)
    metrics = task.score(_Constant(task.output))
    assert isinstance(metrics, dict) and metrics, f"{task_id}: score must return a dict"
    for k, v in metrics.items():
        assert isinstance(v, int | float) and not isinstance(v, bool), (
            f"{task_id}: metric {k} is {type(v).__name__}, not a number"
        )
    assert task.headline in metrics, f"{task_id}: headline metric {task.headline!r} not scored"
    ok = task.success(metrics)
    assert ok in (None, False, True), f"{task_id}: success must be True, False or None"
    assert not ok, f"{task_id}: a constant predictor must not count as a success"


TASK_CHECKS: tuple[Callable[[str], Any], ...] = (
    check_task_metadata,
    check_task_data,
    check_task_deterministic,
    check_task_scores,
)
