"""The contracts between the harness, its tasks and its methods, in one import.

A *task* (:mod:`bench.core.task`) owns the data and the judge; a *method*
(:mod:`bench.core.method`) owns the learner; the *logger* (:mod:`bench.core.logger`) is what a
method reports to while it fits. Plugins import these names from ``bench`` itself.
"""

from bench.core.logger import Logger, RunTimeout
from bench.core.method import Method, ScaleKnob, as_numpy
from bench.core.task import (
    PROFILES,
    Budget,
    BudgetExceeded,
    OutputSpec,
    Task,
    TaskView,
    finite_pairs,
)

__all__ = [
    "PROFILES",
    "Budget",
    "BudgetExceeded",
    "Logger",
    "Method",
    "OutputSpec",
    "RunTimeout",
    "ScaleKnob",
    "Task",
    "TaskView",
    "as_numpy",
    "finite_pairs",
]
