"""Every registered method and task passes the conformance checks (bench.kit.conformance).

The probe tasks are used as listed (a missing one fails the run), and every built-in plugin
module must have registered something, so a built-in that fails to load or to register fails
the run. The only skips are checks that do not apply (``c.NotApplicable``: a task the method
declines, with its ``supports()`` answer as the reason; no ``search_space`` to check), shown as
SKIPPED with that reason; and every method must be fitted on at least one probe task.
"""

import importlib
import pkgutil

import pytest

from bench.core import plugins, registry
from bench.kit import conformance as c

registry.load_plugins()
METHODS = registry.METHODS.ids()
TASKS = registry.TASKS.ids()
PROBES = list(c.PROBE_TASKS)

#: The methods the README names (section "What is in the suite").
README_METHODS = [
    "fft",
    "gelu-mlp",
    "grid-warm-start",
    "periodic-hybrid",
    "sgd-sin",
    "sgd-sin[lr=stable]",
    "siren",
    "snake",
    "wavelet-init",
]


def _maybe_known(plugin: str, check: str) -> None:
    reason = c.KNOWN_FAILURES.get((plugin, check))
    if reason:
        pytest.xfail(reason)


def _run(check, *args) -> None:
    """Run a check; one that does not apply is skipped with its reason, not passed."""
    try:
        check(*args)
    except c.NotApplicable as exc:
        pytest.skip(str(exc))


def test_builtins_loaded_without_errors() -> None:
    assert plugins.load_errors == []
    missing = [m for m in README_METHODS if m not in registry.METHODS]
    assert not missing, f"built-in methods not registered: {missing}"
    missing = [t for t in c.PROBE_TASKS if t not in registry.TASKS]
    assert not missing, f"probe tasks not registered: {missing}"


@pytest.mark.parametrize(
    "package,kind", [("bench.builtin.methods", "METHODS"), ("bench.builtin.tasks", "TASKS")]
)
def test_every_builtin_module_registers_a_plugin(package: str, kind: str) -> None:
    """One file per family: a module that imports but registers nothing (a lost decorator, a
    renamed class) would otherwise just vanish from every listing and sweep."""
    reg = getattr(registry, kind)
    pkg = importlib.import_module(package)
    modules = {
        f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__) if m.name[0] != "_"
    }
    registered = {reg.get(i).cls.__module__ for i in reg.ids()}
    assert len(modules) >= 5, modules
    assert not modules - registered, f"registered nothing: {sorted(modules - registered)}"


@pytest.mark.parametrize("check", c.METHOD_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("method_id", METHODS)
def test_method(method_id: str, check) -> None:
    _maybe_known(method_id, check.__name__)
    _run(check, method_id)


@pytest.mark.parametrize("task_id", PROBES)
@pytest.mark.parametrize("check", c.METHOD_TASK_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("method_id", METHODS)
def test_method_on_task(method_id: str, check, task_id: str) -> None:
    _maybe_known(method_id, check.__name__)
    _run(check, method_id, task_id)


@pytest.mark.parametrize("check", c.TASK_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("task_id", TASKS)
def test_task(task_id: str, check) -> None:
    _maybe_known(task_id, check.__name__)
    _run(check, task_id)


def test_every_method_is_fitted_on_a_probe_task() -> None:
    """The checks that fit skip the probe tasks a method declines; a method that declines them
    all would be reported as passing (or skipping) without ever being fitted. The skips above
    and this test read the same answer (``supports()``), so what passes here is fitted there."""
    never = {}
    for method_id in METHODS:
        answers = c.task_support(method_id, PROBES)
        if all(reason is not None for reason in answers.values()):
            never[method_id] = answers
    assert not never, f"methods fitted on none of the probe tasks {PROBES}: {never}"


def test_check_method_reports_what_did_not_apply() -> None:
    """A plugin author's ``check_method`` counts the checks that do not apply, with the reason,
    rather than failing them; and fails a method that no task it is given is fitted on."""
    report = c.check_method("seasonal-naive")  # a forecaster: it takes only a regular series
    declined = [t for t in PROBES if t != "real[dataset=sunspots]"]
    for task_id in declined:
        for check in ("check_fit_predict", "check_deterministic"):
            assert f"{check}[{task_id}]" in report.skipped, report
        assert f"check_supports[{task_id}]" in report.passed, report
    assert "check_fit_predict[real[dataset=sunspots]]" in report.passed, report
    assert "check_fit_returns_self" in report.passed, report
    assert "declines sin31" in report.skipped["check_fit_predict[sin31]"]
    assert "does not apply: " in str(report) and "skipped" in str(report)
    with pytest.raises(AssertionError, match="declines every task"):
        c.check_method("seasonal-naive", tasks=declined)
    with pytest.raises(c.NotApplicable, match="does not apply: seasonal-naive declines sin31"):
        c.check_fit_predict("seasonal-naive", "sin31")


def test_a_method_reaching_into_the_views_task_is_flagged() -> None:
    """The view hides the task; a plugin that reads ``view._task`` (and so could read the truth)
    fails conformance, while the same method through the public API passes."""
    import numpy as np
    import pytest

    from bench import Method
    from bench.core.contracts import Budget

    class Peek(Method):
        def __init__(self, peek: bool = True) -> None:
            self.peek = peek

        def fit(self, task, budget, seed, device, log):
            x, y = task.sample(8)
            if self.peek:
                self.truth_ = task._task.truth()
            return self

        def predict(self, x):
            return np.zeros(len(x))

    tiny = Budget(steps=1, batch_size=8)
    with pytest.raises(AssertionError, match="private _task"):
        c._fit(Peek(), registry.get_task("sin31"), budget=tiny)
    c._fit(Peek(peek=False), registry.get_task("sin31"), budget=tiny)


def test_a_method_whose_answers_follow_its_sorted_inputs_fails_the_order_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The order check tolerates float32 round-off, not a method that sorts its inputs and
    answers them sorted."""
    import numpy as np

    from bench import Method

    class Sorting(Method):
        def fit(self, task, budget, seed, device, log):
            task.sample(8)
            self.w_ = 31.0
            return self

        def predict(self, x):
            x = np.asarray(x, dtype=np.float64).reshape(len(x))
            return np.sin(self.w_ * np.sort(x))

    monkeypatch.setattr(c, "_method", lambda method_id: Sorting())
    with pytest.raises(AssertionError, match="depends on the order of x"):
        c.check_fit_predict("sorting", "sin31")
