"""periodic-bench: a benchmark harness for learning periodic functions.

Public API for plugin authors::

    from bench import Method, Task, register_method, register_task
"""

from .core.contracts import (
    Budget,
    BudgetExceeded,
    Logger,
    Method,
    OutputSpec,
    RunTimeout,
    Task,
    TaskView,
)
from .core.registry import (
    RegistryError,
    get_method,
    get_task,
    list_methods,
    list_tasks,
    register_method,
    register_task,
)

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "BudgetExceeded",
    "Logger",
    "Method",
    "OutputSpec",
    "RegistryError",
    "RunTimeout",
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
