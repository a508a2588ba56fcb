"""Conformance checks every plugin must pass, in the spirit of scikit-learn's ``check_estimator``.

Each ``check_*`` function raises ``AssertionError`` with a message a plugin author can act on.
The test-suite runs them over every registered method and task with tiny budgets; a plugin
author runs them on their own plugin with::

    from bench.kit.conformance import check_method, check_task
    check_method("my-method")        # every method check on a few small tasks
    check_task("my-task[k=1]")       # every task check

A plugin that cannot pass a check for a good reason is listed in ``KNOWN_FAILURES`` with that
reason (the tests mark it as an expected failure), never skipped silently.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from bench.core import registry
from bench.core.contracts import (
    PROFILES,
    Budget,
    Logger,
    Method,
    OutputSpec,
    Task,
    TaskView,
    as_numpy,
)

#: (plugin id, check name) -> why it is expected to fail.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}

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


# -- method checks ------------------------------------------------------------------------------


def check_method_metadata(method_id: str) -> None:
    """Registered with a description and a cited source; capabilities are declared."""
    entry = registry.METHODS.get(method_id)
    assert entry.description, f"{method_id}: give the class a one-line `description`"
    cls = entry.cls
    assert (cls.__doc__ or "").strip() or getattr(cls, "reference", ""), (
        f"{method_id}: cite the method's source in the class docstring or `reference`"
    )
    for name in ("handles_multi_output", "handles_classification", "handles_fixed_data"):
        assert isinstance(getattr(cls, name), bool), f"{method_id}: {name} must be a bool"


def check_params_verbatim(method_id: str) -> None:
    """``__init__`` stores its arguments unchanged, and no learned state exists before fit."""
    entry = registry.METHODS.get(method_id)
    method = registry.build(entry)
    params = method.get_params()
    sig = inspect.signature(entry.cls.__init__)
    for name, p in sig.parameters.items():
        if name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        assert name in params, f"{method_id}: __init__ argument {name!r} is not stored as-is"
        expected = entry.params.get(name, p.default)
        assert _same(params[name], expected), (
            f"{method_id}: {name} stored as {params[name]!r}, given {expected!r} (store verbatim)"
        )
    learned = [k for k in vars(method) if k.endswith("_") and not k.startswith("_")]
    assert not learned, f"{method_id}: learned attributes {learned} exist before fit"


def check_search_space(method_id: str) -> None:
    """A declared tuning grid (``search_space``) names hyper-parameters of ``__init__``, holds
    each one's default (the paper's setting is always a trial), and comes with a ``settings``
    hyper-parameter, so that ``[settings=paper]`` runs the defaults (``bench.engine.tuning``)."""
    entry = registry.METHODS.get(method_id)
    space = getattr(entry.cls, "search_space", {}) or {}
    if not space:
        return
    sig = inspect.signature(entry.cls.__init__)
    assert "settings" in sig.parameters, (
        f"{method_id}: a method with a search_space takes a `settings` hyper-parameter "
        "('tuned' by default)"
    )
    for name, values in space.items():
        assert name in sig.parameters, f"{method_id}: search_space names {name!r}, not in __init__"
        assert len(values) >= 2, f"{method_id}: search_space[{name!r}] needs two or more values"
        default = sig.parameters[name].default
        assert any(_same(v, default) for v in values), (
            f"{method_id}: search_space[{name!r}] must include the default {default!r}"
        )
    lrs = space.get("lr")
    if lrs is not None:
        assert len(lrs) >= 4, f"{method_id}: search the learning rate over at least four values"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or (a is b)
    except Exception:  # arrays and the like
        return a is b


def check_fit_returns_self(method_id: str) -> None:
    """``fit`` returns the method itself, ``predict`` works on it, hyper-parameters are left as
    given and every public attribute ``fit`` sets ends in ``_``. A vectorised method's
    ``fit_seeds`` returns one fitted instance of the method per seed, in the same shape.

    Runs on the first probe task the method supports."""
    method = _method(method_id)
    tasks = [registry.get_task(t, seed=1) for t in probe_tasks()]
    task = next((t for t in tasks if not method.supports(_view(t))), None)
    if task is None:
        return
    params = method.get_params()
    fitted, _, _ = _fit(method, task)
    assert fitted is method, (
        f"{method_id}: fit returned a {type(fitted).__name__}, not the method; keep learned "
        "state in attributes ending in '_' on the method and return self"
    )
    _check_fitted(method_id, method, params, task)
    if getattr(method, "vectorised", False):
        fresh = _method(method_id)
        views = [_view(task, s, TINY.max_samples) for s in (0, 1)]
        many = fresh.fit_seeds(views, TINY, [0, 1], "cpu", Logger(n_seeds=2))
        assert len(many) == 2 and many[0] is not many[1], (
            f"{method_id}: fit_seeds must return one distinct predictor per seed"
        )
        for one in many:
            assert type(one) is type(fresh), (
                f"{method_id}: fit_seeds returned a {type(one).__name__}; return fitted copies "
                "of the method (bench.kit.methods.spawn)"
            )
            _check_fitted(method_id, one, params, task)


def _check_fitted(method_id: str, fitted: Method, params: dict[str, Any], task: Task) -> None:
    after = fitted.get_params()
    assert after.keys() == params.keys(), (
        f"{method_id}: fit set public attributes {sorted(after.keys() - params.keys())} that "
        "do not end in '_' (learned state ends in '_'; hyper-parameters come from __init__)"
    )
    for k, v in params.items():
        assert _same(after[k], v), f"{method_id}: fit changed hyper-parameter {k} to {after[k]!r}"
    assert _learned(fitted), f"{method_id}: fit left no learned state (attributes ending in '_')"
    x = _eval_x(task)
    _check_output(method_id, task.output, x, as_numpy(fitted.predict(x)))


def check_supports(method_id: str, task_id: str) -> str | None:
    """``supports`` answers ``None`` or a readable reason."""
    method = _method(method_id)
    reason = method.supports(_view(registry.get_task(task_id)))
    assert reason is None or (isinstance(reason, str) and reason), (
        f"{method_id}: supports() must return None or a non-empty reason string"
    )
    return reason


def check_fit_predict(method_id: str, task_id: str) -> None:
    """Fits within a tiny budget and predicts the right shape and kind of output."""
    method = _method(method_id)
    task = registry.get_task(task_id, seed=1)
    if method.supports(_view(task)):
        return
    model, view, _ = _fit(method, task)
    if task.infinite:  # a fixed training set is handed over whole, whatever the budget
        assert view.samples_drawn <= TINY.max_samples, f"{method_id}: drew more than its budget"
    x = _eval_x(task)
    y = as_numpy(model.predict(x))
    _check_output(method_id, task.output, x, y)
    # Each prediction belongs to its own input: the same inputs shuffled give the same
    # answers shuffled (a library that sorts its inputs, and returns them sorted, fails).
    perm = np.random.default_rng(0).permutation(len(x))
    np.testing.assert_allclose(
        as_numpy(model.predict(x[perm])),
        y[perm],
        rtol=1e-6,
        atol=1e-9 * (1.0 + float(np.max(np.abs(y))) if y.size else 1.0),
        err_msg=f"{method_id}: predict(x) depends on the order of x (shuffled inputs, "
        "answers not shuffled alike)",
    )


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


def check_deterministic(method_id: str, task_id: str) -> None:
    """The same seed gives the same predictions; refitting forgets the previous fit; the
    ``warm_up`` hook changes nothing that ``fit`` learns (the last fit runs after it)."""
    method = _method(method_id)
    task = registry.get_task(task_id, seed=2)
    if method.supports(_view(task)):
        return
    import torch

    x = _eval_x(task)
    torch.manual_seed(0)
    first, _, _ = _fit(method, task, seed=3)
    y1 = as_numpy(first.predict(x)).copy()
    torch.manual_seed(0)
    other, _, _ = _fit(method, registry.get_task(task_id, seed=9), seed=4)
    torch.manual_seed(0)
    again, _, _ = _fit(method, task, seed=3, warm=True)
    y2 = as_numpy(again.predict(x))
    np.testing.assert_allclose(
        y1,
        y2,
        rtol=1e-6,
        atol=1e-9,
        err_msg=f"{method_id}: same seed, different predictions (after a refit and warm_up)",
    )


def check_budget_enforced(method_id: str) -> None:
    """A method that asks for more samples than the budget gets a clear error, not more data."""
    method = _method(method_id)
    task = registry.get_task(PROBE_TASKS[0])
    view = _view(task, limit=8)
    if method.supports(view):
        return
    try:
        method.fit(view, Budget(steps=40, batch_size=16, samples=8), 0, "cpu", Logger())
    except Exception as exc:  # the exact type is the contract below
        from bench.core.contracts import BudgetExceeded

        assert isinstance(exc, BudgetExceeded) or "budget" in str(exc).lower(), (
            f"{method_id}: exceeding the sample budget raised {type(exc).__name__}: {exc}"
        )
    assert view.samples_drawn <= 8, f"{method_id}: drew {view.samples_drawn} samples of 8"


METHOD_CHECKS: tuple[Callable[..., Any], ...] = (
    check_method_metadata,
    check_params_verbatim,
    check_search_space,
    check_fit_returns_self,
    check_budget_enforced,
)
METHOD_TASK_CHECKS: tuple[Callable[..., Any], ...] = (
    check_supports,
    check_fit_predict,
    check_deterministic,
)


def probe_tasks() -> list[str]:
    """The built-in tasks every method is probed on (an error if one is missing)."""
    registry.load_plugins()
    for t in PROBE_TASKS:
        registry.TASKS.get(t)
    return list(PROBE_TASKS)


def check_method(method_id: str, tasks: Iterable[str] | None = None) -> None:
    """Every method check; ``tasks`` defaults to the probe tasks that are registered."""
    registry.load_plugins()
    for check in METHOD_CHECKS:
        check(method_id)
    for task_id in tasks or probe_tasks():
        for check in METHOD_TASK_CHECKS:
            check(method_id, task_id)


# -- task checks --------------------------------------------------------------------------------


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


def check_task(task_id: str) -> None:
    """Every task check."""
    for check in TASK_CHECKS:
        check(task_id)
