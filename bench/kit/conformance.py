"""Conformance checks every plugin must pass, in the spirit of scikit-learn's ``check_estimator``.

Each ``check_*`` function raises ``AssertionError`` with a message a plugin author can act on,
or :class:`NotApplicable` with a reason where it does not apply: a check that fits a method on
a task the method declines (its ``supports()`` answer is the reason), or one that tests a
declaration the plugin does not make. The test-suite runs them over every registered method
and task with tiny budgets, and shows a check that does not apply as skipped with its reason;
a plugin author runs them on their own plugin with::

    from bench.kit.conformance import check_method, check_task
    print(check_method("my-method"))  # every method check on a few small tasks
    check_task("my-task[k=1]")        # every task check

Both return a :class:`CheckReport` of the checks that passed and those that did not apply;
``check_method`` fails if the method supports none of the tasks, so it is fitted at least once.

A plugin that cannot pass a check for a good reason is listed in ``KNOWN_FAILURES`` with that
reason (the tests mark it as an expected failure), never skipped silently.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.core import registry
from bench.core.contracts import Budget, Logger, Method, Task, as_numpy
from bench.kit.conformance_base import (
    PROBE_TASKS,
    TINY,
    NotApplicable,
    WatchedView,
    _check_output,
    _eval_x,
    _fit,
    _learned,
    _method,
    _same,
    _view,
    probe_tasks,
    require_support,
    task_support,
)
from bench.kit.conformance_tasks import (
    TASK_CHECKS,
    check_task_data,
    check_task_deterministic,
    check_task_metadata,
    check_task_scores,
)

__all__ = [
    "KNOWN_FAILURES",
    "METHOD_CHECKS",
    "METHOD_TASK_CHECKS",
    "PROBE_TASKS",
    "TASK_CHECKS",
    "TINY",
    "CheckReport",
    "NotApplicable",
    "WatchedView",
    "check_budget_enforced",
    "check_deterministic",
    "check_fit_predict",
    "check_fit_returns_self",
    "check_fits_a_task",
    "check_method",
    "check_method_metadata",
    "check_params_verbatim",
    "check_search_space",
    "check_supports",
    "check_task",
    "check_task_data",
    "check_task_deterministic",
    "check_task_metadata",
    "check_task_scores",
    "probe_tasks",
    "task_support",
]

#: (plugin id, check name) -> why it is expected to fail.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


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
        raise NotApplicable(f"{method_id} declares no search_space (nothing to tune)")
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


def check_fit_returns_self(method_id: str, tasks: Iterable[str] | None = None) -> None:
    """``fit`` returns the method itself, ``predict`` works on it, hyper-parameters are left as
    given and every public attribute ``fit`` sets ends in ``_``. A vectorised method's
    ``fit_seeds`` returns one fitted instance of the method per seed, in the same shape.

    Runs on the first of ``tasks`` (the probe tasks by default) the method supports."""
    method = _method(method_id)
    task = _first_supported(method_id, tasks)
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


def _first_supported(method_id: str, tasks: Iterable[str] | None, what: str = "task") -> Task:
    """The first of ``tasks`` (the probe tasks by default) the method supports, or
    :class:`NotApplicable` listing each one's reason for declining."""
    answers = task_support(method_id, tasks)
    for task_id, reason in answers.items():
        if reason is None:
            return registry.get_task(task_id, seed=1)
    why = "; ".join(f"{t}: {r}" for t, r in answers.items()) or "none given"
    raise NotApplicable(f"{method_id} declines every probe {what} ({why})")


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
    require_support(method, method_id, task, task_id)
    model, view, _ = _fit(method, task)
    if task.infinite:  # a fixed training set is handed over whole, whatever the budget
        assert view.samples_drawn <= TINY.max_samples, f"{method_id}: drew more than its budget"
    x = _eval_x(task)
    y = as_numpy(model.predict(x))
    _check_output(method_id, task.output, x, y)
    # Each prediction belongs to its own input: the same inputs shuffled give the same
    # answers shuffled (a library that sorts its inputs, and returns them sorted, fails, off by
    # the spread of its answers). Not bit for bit: a float32 network's products may be summed
    # in another order for another order of rows (the matrix library picks its kernel by shape
    # and alignment, and differently on another CPU), which moves an answer by round-off
    # accumulated over its layers (3.5e-6 of it, a Fourier KAN's sum of harmonics on one CPU).
    perm = np.random.default_rng(0).permutation(len(x))
    np.testing.assert_allclose(
        as_numpy(model.predict(x[perm])),
        y[perm],
        rtol=1e-5,
        atol=1e-5 * (1.0 + float(np.max(np.abs(y))) if y.size else 1.0),
        err_msg=f"{method_id}: predict(x) depends on the order of x (shuffled inputs, "
        "answers not shuffled alike)",
    )


def check_deterministic(method_id: str, task_id: str) -> None:
    """The same seed gives the same predictions; refitting forgets the previous fit; the
    ``warm_up`` hook changes nothing that ``fit`` learns (the last fit runs after it)."""
    method = _method(method_id)
    task = registry.get_task(task_id, seed=2)
    require_support(method, method_id, task, task_id)
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


def check_budget_enforced(method_id: str, tasks: Iterable[str] | None = None) -> None:
    """A method that asks for more samples than the budget gets a clear error, not more data.

    Runs on the first task that samples (an infinite one) among ``tasks`` (the probe tasks by
    default) the method supports: a fixed training set is handed over whole, whatever the
    budget, so a method that takes only fixed data has no sample budget to exceed."""
    method = _method(method_id)
    sampled = [t for t in tasks or probe_tasks() if registry.get_task(t).infinite]
    task = _first_supported(method_id, sampled, what="task that samples")
    view = _view(task, limit=8)
    try:
        method.fit(view, Budget(steps=40, batch_size=16, samples=8), 0, "cpu", Logger())
    except Exception as exc:  # the exact type is the contract below
        from bench.core.contracts import BudgetExceeded

        assert isinstance(exc, BudgetExceeded) or "budget" in str(exc).lower(), (
            f"{method_id}: exceeding the sample budget raised {type(exc).__name__}: {exc}"
        )
    assert view.samples_drawn <= 8, f"{method_id}: drew {view.samples_drawn} samples of 8"


def check_fits_a_task(method_id: str, tasks: Iterable[str] | None = None) -> None:
    """The method supports at least one of ``tasks`` (the probe tasks by default): the checks
    that fit skip the tasks it declines, so a method that declines them all would pass every
    check without ever being fitted."""
    answers = task_support(method_id, tasks)
    assert any(reason is None for reason in answers.values()), (
        f"{method_id}: declines every task it is checked on, so no check ever fits it ("
        + "; ".join(f"{t}: {r}" for t, r in answers.items())
        + "); add a probe task it supports to PROBE_TASKS, or pass check_method tasks it takes"
    )


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


@dataclass
class CheckReport:
    """What ``check_method`` or ``check_task`` ran: the checks that passed, and those that did
    not apply with the reason (a failing check raises instead, so a report means no failure).
    Labels are the check's name, with the task in brackets for a check run per task."""

    plugin: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def run(self, check: Callable[..., Any], *args: Any, **kw: Any) -> None:
        label = check.__name__ + "".join(f"[{a}]" for a in args[1:])
        try:
            check(*args, **kw)
        except NotApplicable as exc:
            self.skipped[label] = exc.reason
        else:
            self.passed.append(label)

    def __str__(self) -> str:
        lines = [f"{self.plugin}: {len(self.passed)} checks passed, {len(self.skipped)} skipped"]
        lines += [f"  skipped {label}: {NotApplicable(why)}" for label, why in self.skipped.items()]
        return "\n".join(lines)


def check_method(method_id: str, tasks: Iterable[str] | None = None) -> CheckReport:
    """Every method check; ``tasks`` defaults to the probe tasks. Checks that do not apply
    (tasks the method declines) are counted in the report, not failed; a method that declines
    every task fails (``check_fits_a_task``)."""
    registry.load_plugins()
    task_ids = list(tasks or probe_tasks())
    report = CheckReport(method_id)
    report.run(check_fits_a_task, method_id, tasks=task_ids)
    for check in METHOD_CHECKS:
        kw = {"tasks": task_ids} if "tasks" in inspect.signature(check).parameters else {}
        report.run(check, method_id, **kw)
    for task_id in task_ids:
        for check in METHOD_TASK_CHECKS:
            report.run(check, method_id, task_id)
    return report


def check_task(task_id: str) -> CheckReport:
    """Every task check."""
    report = CheckReport(task_id)
    for check in TASK_CHECKS:
        report.run(check, task_id)
    return report
