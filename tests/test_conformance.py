"""Every registered method and task passes the conformance checks (bench.conformance)."""

import pytest

from bench import conformance as c
from bench.core import registry

registry.load_plugins()
METHODS = registry.METHODS.ids()
TASKS = registry.TASKS.ids()
PROBES = c.probe_tasks()


def _maybe_known(plugin: str, check: str) -> None:
    reason = c.KNOWN_FAILURES.get((plugin, check))
    if reason:
        pytest.xfail(reason)


@pytest.mark.parametrize("check", c.METHOD_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("method_id", METHODS)
def test_method(method_id: str, check) -> None:  # noqa: ANN001
    _maybe_known(method_id, check.__name__)
    check(method_id)


@pytest.mark.parametrize("task_id", PROBES)
@pytest.mark.parametrize("check", c.METHOD_TASK_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("method_id", METHODS)
def test_method_on_task(method_id: str, check, task_id: str) -> None:  # noqa: ANN001
    _maybe_known(method_id, check.__name__)
    check(method_id, task_id)


@pytest.mark.parametrize("check", c.TASK_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("task_id", TASKS)
def test_task(task_id: str, check) -> None:  # noqa: ANN001
    _maybe_known(task_id, check.__name__)
    check(task_id)
