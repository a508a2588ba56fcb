"""What a unit of work is for: a benchmark run (``eval``) or a tuning trial (``tune``).

The two kinds of run share everything but four decisions: which settings the method gets, what
the run key adds to the method's parameters, what the method sees of the task (a trial keeps a
validation split back) and how a fitted seed is judged (a trial gets a validation score and no
verdict). Each purpose answers those four in one small object, so that planning and executing
a unit ask ``purpose_of(spec.purpose)`` instead of branching on the name in several places,
and a third purpose would be one more class here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.core.contracts import Task, TaskView
from bench.core.registry import Entry
from bench.engine.tuning import HoldoutView, settings_for, validation_score


class Evaluation:
    """A benchmark run: the tuned settings of the task's family, the task's own judge."""

    name = "eval"
    #: What the method sees of a task.
    view: type[TaskView] = TaskView
    #: Whether the best score the method's inputs allow is worked out for a run that ended ok.
    ceiling = True

    def settings(self, entry: Entry, task: Entry, profile: str) -> dict[str, Any]:
        """The settings the method runs with (``bench.engine.tuning.settings_for``)."""
        return settings_for(entry, task, profile)

    def key_params(self, params: dict[str, Any], tuning: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters the run key hashes: tuned overrides make new runs."""
        tuned = tuning.get("params")
        if tuned:
            params["tuned"] = tuned
        control = {k: tuning[k] for k in ("steps", "stop") if tuning.get(k)}
        if control:  # a control run (``bench run --steps/--no-stop``) is another run
            params["control"] = control
        return params

    def metrics(self, task: Task, predictor: Any, view: TaskView) -> dict[str, Any]:
        return dict(task.score(predictor))

    def success(self, task: Task, metrics: Mapping[str, Any], status: str) -> bool | None:
        """A run that failed counts as a failure wherever the task has a criterion at all."""
        return task.success(metrics) if status == "ok" else False


class Trial(Evaluation):
    """A tuning trial: the grid point's own settings, scored on data held back from training."""

    name = "tune"
    view = HoldoutView
    ceiling = False

    def settings(self, entry: Entry, task: Entry, profile: str) -> dict[str, Any]:
        return {}  # the trial's settings are its parameters (``tuning.trial_id``)

    def key_params(self, params: dict[str, Any], tuning: Mapping[str, Any]) -> dict[str, Any]:
        params["purpose"] = "tune"  # a trial is never mistaken for an evaluation run
        if tuning.get("steps"):  # a rung of successive halving: a shorter run
            params["trial_steps"] = int(tuning["steps"])
        return params

    def metrics(self, task: Task, predictor: Any, view: TaskView) -> dict[str, Any]:
        # Judged on its validation split only: the task's evaluation sets stay untouched.
        assert isinstance(view, HoldoutView)
        return {"val_score": validation_score(task, predictor, view.validation)}

    def success(self, task: Task, metrics: Mapping[str, Any], status: str) -> bool | None:
        return None  # a trial has a validation score, not a verdict


PURPOSES: dict[str, Evaluation] = {p.name: p for p in (Evaluation(), Trial())}


def purpose_of(name: str) -> Evaluation:
    """The purpose called ``name``; an unknown one is a ``ValueError`` naming the known ones."""
    try:
        return PURPOSES[name]
    except KeyError:
        raise ValueError(f"unknown purpose {name!r}; one of {', '.join(PURPOSES)}") from None
