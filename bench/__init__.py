"""periodic-bench: a benchmark harness for learning periodic functions.

Public API for plugin authors::

    from bench import Method, Task, register_method, register_task
"""

from bench import _moved
from bench.core import __version__, plugins
from bench.core.contracts import (
    Budget,
    BudgetExceeded,
    Logger,
    Method,
    OutputSpec,
    RunTimeout,
    ScaleKnob,
    Task,
    TaskView,
)
from bench.core.registry import (
    RegistryError,
    get_method,
    get_task,
    list_methods,
    list_tasks,
    register_method,
    register_task,
)

_moved.install()
del plugins  # imported for its side effect: the registry's lookups load plugins

__all__ = [
    "Budget",
    "BudgetExceeded",
    "Logger",
    "Method",
    "OutputSpec",
    "RegistryError",
    "RunTimeout",
    "ScaleKnob",
    "Task",
    "TaskView",
    "__version__",
    "get_method",
    "get_task",
    "list_methods",
    "list_tasks",
    "register_method",
    "register_task",
]
