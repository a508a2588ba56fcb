"""Tasks and what a method sees of one.

A *task* owns the data and the judge; a *method* owns the learner. The two only meet through a
:class:`TaskView`, which hands a method the sampler, the training set and the input domain, and
nothing the scorer keeps for itself (frequencies, phases, evaluation sets). Hiding truth behind
a view, rather than trusting plugins not to look, keeps every published number honest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

PROFILES = ("quick", "full")


class BudgetExceeded(RuntimeError):
    """A method asked for more samples than its budget allows."""


@dataclass(frozen=True)
class Budget:
    """What every method gets on a task: the same for all of them.

    ``steps`` and ``batch_size`` describe the gradient budget of the original experiment;
    ``samples`` caps how many input/target pairs a method may draw in total (a spectral method
    spends it at once, a gradient method batch by batch); ``seconds`` is a wall-clock cap.
    """

    steps: int
    batch_size: int = 32
    samples: int | None = None
    seconds: float = 600.0

    @property
    def max_samples(self) -> int:
        return self.samples if self.samples is not None else self.steps * self.batch_size

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "samples": self.max_samples,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class OutputSpec:
    """What a task asks a method to predict.

    ``kind`` is ``"regression"`` (float targets) or ``"classification"`` (integer labels, one
    per output, ``classes[i]`` of them for output ``i``).
    """

    kind: str = "regression"
    n_outputs: int = 1
    classes: tuple[int, ...] | None = None
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("regression", "classification"):
            raise ValueError(f"output kind must be regression or classification, not {self.kind!r}")
        if self.kind == "classification" and (
            self.classes is None or len(self.classes) != self.n_outputs
        ):
            raise ValueError("classification outputs need one class count per output")


class Task:
    """Base class for a periodic task (data + judge).

    Subclasses set the class attributes, store their parameters in ``__init__`` and draw their
    hidden truth from ``seed`` there. They implement :meth:`sample` (an "infinite dataset") or
    :meth:`train_set` (fixed data), :meth:`eval_sets` and :meth:`score`.
    """

    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    success_criterion: ClassVar[str] = ""
    output: ClassVar[OutputSpec] = OutputSpec()
    input_dtype: ClassVar[str] = "float64"
    #: ``True`` for an infinite sampler, ``False`` for a fixed training set.
    infinite: ClassVar[bool] = True
    #: The metric the report leads with for this task (a key of :meth:`score`'s dict).
    headline: ClassVar[str] = "test_mse"
    #: Training loss at which the task counts as learnt, for time-to-target from the trace
    #: (``None`` where the training loss says nothing about success).
    loss_target: ClassVar[float | None] = None
    #: What a learner holds back to find its best state, matching what the task judges
    #: (``bench.kit.validation``): ``random`` (judged inside the training range), ``forward``
    #: (judged after it: a forecast) or ``outer`` (judged beyond both ends).
    validation_rule: ClassVar[str] = "random"
    #: Whether the tuning protocol tunes each task of this family on its own: for a family
    #: whose tasks span scales (cycles over orders of magnitude), where one setting for all
    #: would be a compromise (``bench.engine.tuning``).
    tune_per_task: ClassVar[bool] = False
    #: The seasonal periods the data's calendar names, in samples, main one first: (48, 336)
    #: for half-hourly demand (a day, a week), (12,) for monthly data; empty when the sampling
    #: names none (yearly data, synthetic inputs). What a forecaster's user types as
    #: ``season_length``; a task sets it per instance where its variants differ.
    calendar: tuple[float, ...] = ()
    #: ``True`` where the seeds are a design, not draws: the task is built with the seed's
    #: index (0, 1, 2, ...) and maps it to its own layout (rolling forecast origins), so any
    #: number of seeds covers distinct cases and a new base seed does not move them.
    seed_is_index: ClassVar[bool] = False
    #: Budget per profile; every method on this task gets the same one.
    budgets: ClassVar[dict[str, Budget]] = {
        "quick": Budget(steps=20_000, batch_size=32),
        "full": Budget(steps=1_000_000, batch_size=32),
    }

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """One line for ``bench list``; variants may override to mention their parameters."""
        return cls.description

    def __init__(self, seed: int = 0, profile: str = "quick", **params: Any) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
        self.seed = seed
        self.profile = profile
        self.params = params

    # -- what the method may see ------------------------------------------------------------
    @property
    def domain(self) -> tuple[float, float]:
        """Range of the training inputs (methods use it to scale inputs)."""
        raise NotImplementedError

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` fresh training pairs."""
        raise NotImplementedError(f"{type(self).__name__} has a fixed training set")

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The fixed training set, for tasks that are not infinite."""
        raise NotImplementedError(f"{type(self).__name__} samples fresh data; use sample()")

    # -- what only the judge sees -------------------------------------------------------------
    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Held-out sets by name (``test``, and ``extrapolation`` where meaningful)."""
        raise NotImplementedError

    def truth(self) -> dict[str, Any]:
        """Ground truth (frequencies, periods) for the scorer and the report; never for fit."""
        return {}

    def score(self, predictor: Any) -> dict[str, float]:
        """Metrics of a fitted predictor over the evaluation sets."""
        raise NotImplementedError

    def success(self, metrics: dict[str, float]) -> bool | None:
        """The task's stated success criterion, or ``None`` where it has none."""
        return None

    def ceiling(self, represent: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any] | None:
        """The best metrics any predictor of ``represent(inputs)`` can reach on the evaluation
        sets, as ``{"metrics": {...}, "success_possible": bool}``; ``represent`` maps the
        task's inputs (as :meth:`sample` gives them) to what the method receives
        (``Method.representation``). ``None``: the task computes no ceiling. See
        ``bench.core.ceiling``."""
        return None

    def record_extras(self) -> dict[str, Any]:
        """Flags the report needs beside the metrics (e.g. ``representable``)."""
        return {}

    @property
    def budget(self) -> Budget:
        return self.budgets[self.profile]


def finite_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``(x, y)`` without the pairs that hold a non-finite value, and how many those were.

    Real series have missing values, and a data set marks them NaN. A method is given the
    observed pairs only, as a forecaster's own loader would keep them: a NaN would otherwise
    spread through every sum it enters and end the run as "diverged" without a step of
    learning. The record counts the pairs left out (``samples_dropped``).
    """
    x, y = np.asarray(x), np.asarray(y)
    bad = np.zeros(len(x), dtype=bool)
    for a in (x, y):
        if a.dtype.kind in "fc":
            bad |= ~np.isfinite(a.reshape(len(a), -1)).all(axis=1)
    if not bad.any():
        return x, y, 0
    return x[~bad], y[~bad], int(bad.sum())


class TaskView:
    """What a method sees of a task: samples, training data, domain and output spec.

    Truth and evaluation sets are not reachable from here. The view also enforces the sample
    budget, so that every method is compared on the same amount of data.
    """

    __slots__ = ("_task", "_rng", "_drawn", "_limit", "_dropped")

    def __init__(self, task: Task, rng: np.random.Generator, limit: int | None = None) -> None:
        self._task = task
        self._rng = rng
        self._drawn = 0
        self._dropped = 0
        self._limit = limit if limit is not None else task.budget.max_samples

    @property
    def domain(self) -> tuple[float, float]:
        return self._task.domain

    @property
    def output(self) -> OutputSpec:
        return self._task.output

    @property
    def validation_rule(self) -> str:
        """Where validation data lie for this task (``Task.validation_rule``)."""
        return str(getattr(self._task, "validation_rule", "random"))

    @property
    def calendar(self) -> tuple[float, ...]:
        """The seasonal periods the data's calendar names, in samples (``Task.calendar``)."""
        return tuple(float(p) for p in getattr(self._task, "calendar", ()))

    @property
    def input_dtype(self) -> str:
        return self._task.input_dtype

    @property
    def infinite(self) -> bool:
        return self._task.infinite

    @property
    def samples_drawn(self) -> int:
        return self._drawn

    @property
    def samples_left(self) -> int:
        return max(self._limit - self._drawn, 0)

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` fresh pairs, counted against the budget."""
        if n <= 0:
            raise ValueError("n must be positive")
        if self._drawn + n > self._limit:
            raise BudgetExceeded(
                f"asked for {n} samples with {self.samples_left} of {self._limit} left"
            )
        self._drawn += n
        return self._task.sample(n, self._rng)

    @property
    def samples_dropped(self) -> int:
        """Pairs of the fixed training set left out for a missing (non-finite) value."""
        return self._dropped

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole fixed training set (fixed-data tasks only); counts once. Pairs with a
        missing value (NaN or infinite, in x or y) are left out (see :func:`finite_pairs`)."""
        x, y, self._dropped = finite_pairs(*self._task.train_set())
        self._drawn = max(self._drawn, len(x))
        return x, y

    def data(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Training pairs whichever kind the task is: ``n`` fresh samples, or the fixed set."""
        if self.infinite:
            return self.sample(n if n is not None else self.samples_left)
        return self.train_set()

    def __repr__(self) -> str:
        return f"TaskView({type(self._task).__name__}, domain={self.domain})"
