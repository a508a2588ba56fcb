"""What the conformance checks share (``bench.kit.conformance``): the probe tasks and the tiny
budget, the view that watches for reads past its public API, a fit under that watch, and
:class:`NotApplicable`, which a check raises where it does not apply to the plugin it is given.

Plugin authors import all of this from ``bench.kit.conformance``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from bench.core import registry
from bench.core.contracts import Budget, Logger, Method, OutputSpec, Task, TaskView

#: A budget small enough for every method to finish in about a second.
TINY = Budget(steps=40, batch_size=16, samples=4096, seconds=60)

#: Task ids the method checks use when they are registered: an infinite regression task, a
#: fixed-data task on random inputs, a multi-output classification task, and a short regular
#: series (the only kind the forecasters take, which would otherwise never be fitted here).
PROBE_TASKS = (
    "sin31",
    "noisy-tone[snr_db=20]",
    "clock[encoding=int64,span=1d]",
    "real[dataset=sunspots]",
)


class NotApplicable(Exception):
    """A check does not apply to this plugin: the method declines the task (its ``supports()``
    answer is the reason), or declares nothing the check would test (no ``search_space``).

    Not a pass and not a failure: the test-suite shows it as skipped with ``str(exc)`` as the
    reason, and ``check_method`` counts it among the skipped checks. It is not an
    ``AssertionError``, so calling one check by hand never mistakes it for a failure.
    """

    #: Every skip reason starts with this (``tests/conftest.py`` allows only such skips).
    PREFIX = "does not apply: "

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.PREFIX + self.reason


def probe_tasks() -> list[str]:
    """The built-in tasks every method is probed on (an error if one is missing)."""
    registry.load_plugins()
    for t in PROBE_TASKS:
        registry.TASKS.get(t)
    return list(PROBE_TASKS)


def task_support(method_id: str, tasks: Iterable[str] | None = None) -> dict[str, str | None]:
    """Each task's ``supports()`` answer for the method (``None``: it is fitted there), over
    ``tasks`` (the probe tasks by default): the answer that decides which checks apply."""
    method = _method(method_id)
    return {
        t: method.supports(_view(registry.get_task(t, seed=1)))
        for t in (probe_tasks() if tasks is None else tasks)
    }


def require_support(method: Method, method_id: str, task: Task, task_id: str) -> None:
    """Raise :class:`NotApplicable` with the method's own reason where it declines ``task``."""
    reason = method.supports(_view(task))
    if reason:
        raise NotApplicable(f"{method_id} declines {task_id}: {reason}")


def _method(method_id: str) -> Method:
    """A fresh instance for the checks, with the method's ``conformance_params`` (smaller
    hyper-parameters that keep a costly default, such as a very wide network, within the
    checks' second or so: they test the contract, which does not depend on size)."""
    cls = registry.METHODS.get(method_id).cls
    return registry.get_method(method_id, **dict(getattr(cls, "conformance_params", {})))


class WatchedView(TaskView):
    """A :class:`TaskView` that notes when code other than ``TaskView``'s own reads one of its
    private fields (the task behind it, its generator, its counters): a plugin that reaches
    past the view could read the truth, or draw samples the budget does not count."""

    __slots__ = ("_reached",)
    _PRIVATE = frozenset(TaskView.__slots__)
    _HOME = inspect.getsourcefile(TaskView)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        object.__setattr__(self, "_reached", None)

    def __getattribute__(self, name: str) -> Any:
        if name in WatchedView._PRIVATE:
            caller = sys._getframe(1).f_code.co_filename
            if caller != WatchedView._HOME:
                object.__setattr__(self, "_reached", name)
        return super().__getattribute__(name)


def _view(task: Task, seed: int = 0, limit: int | None = None) -> WatchedView:
    return WatchedView(task, np.random.default_rng(seed), limit=limit)


def _fit(
    method: Method, task: Task, seed: int = 0, budget: Budget = TINY, warm: bool = False
) -> Any:
    view = _view(task, seed, budget.max_samples)
    log = Logger(deadline=None)
    if warm:
        method.warm_up(view, budget, "cpu")
        assert view.samples_drawn == 0, "warm_up must not draw samples (they are fit's budget)"
    model = method.fit(view, budget, seed, "cpu", log)
    assert view._reached is None, (
        f"the method read the view's private {view._reached}: use TaskView's public API "
        "(sample, train_set, data, domain, output, input_dtype, infinite, samples_left)"
    )
    assert model is not None, "fit must return the fitted method (self)"
    assert hasattr(model, "predict"), "the object fit returns needs a predict(x) method"
    return model, view, log


def _learned(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items() if k.endswith("_") and not k.startswith("_")}


def _eval_x(task: Task) -> np.ndarray:
    x, _ = next(iter(task.eval_sets().values()))
    return x[:256]


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or (a is b)
    except Exception:  # arrays and the like
        return a is b


def _check_output(method_id: str, out: OutputSpec, x: np.ndarray, y: np.ndarray) -> None:
    n = len(x)
    want = (n,) if out.n_outputs == 1 else (n, out.n_outputs)
    assert y.shape == want or (out.n_outputs == 1 and y.shape == (n, 1)), (
        f"{method_id}: predict returned shape {y.shape}, expected {want}"
    )
    if out.kind == "classification":
        assert y.dtype.kind in "iu", f"{method_id}: class predictions must be integers"
        y2 = y.reshape(n, -1)
        for j, k in enumerate(out.classes or ()):
            assert y2[:, j].min() >= 0 and y2[:, j].max() < k, (
                f"{method_id}: output {j} has labels outside 0..{k - 1}"
            )
    else:
        assert y.dtype.kind == "f", f"{method_id}: regression predictions must be floats"
        assert np.all(np.isfinite(y)), f"{method_id}: non-finite predictions after a tiny fit"
