"""The contracts between the harness, its tasks and its methods.

A *task* owns the data and the judge; a *method* owns the learner. The two only meet through a
:class:`TaskView`, which hands a method the sampler, the training set and the input domain, and
nothing the scorer keeps for itself (frequencies, phases, evaluation sets). Hiding truth behind
a view, rather than trusting plugins not to look, keeps every published number honest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..defaults import TRACE_POINTS
from ..lib.plateau import Plateau

PROFILES = ("quick", "full")


class BudgetExceeded(RuntimeError):
    """A method asked for more samples than its budget allows."""


class RunTimeout(RuntimeError):
    """A run went past its wall-clock budget (raised from the logger)."""


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


class Logger:
    """Collects the convergence trace and times phases; passed to ``Method.fit`` as ``log``.

    ``log(step, loss)`` records a point (``loss`` a float, or one value per seed when a method
    fits several seeds at once). ``with log.phase("estimate"):`` attributes the enclosed time
    to that phase; time not inside a named phase is counted as ``train``. ``log.check()`` lets
    a method without a loss still honour the time budget.

    The logger also applies the suite's declared stop rule (``bench.lib.plateau``) to what is
    logged: the losses are averaged over windows of ``window`` steps, however often a method
    logs, and ``log.settled()`` tells a method that every seed has reached a plateau (or the
    loss floor), so that it can stop. ``converged_step`` keeps, per seed, the step at which the
    rule first fired (``-1``: not yet).

    A method that fits several seeds at once and ends some of them early (each seed stopping
    at its own plateau, as it would alone) calls ``log.stop_seeds(mask, step)``: from then on
    those seeds' losses are frozen, their trace ends at ``step``, and ``steps(i)`` reports the
    steps that seed actually trained.
    """

    #: Steps per window of the stop rule.
    window: ClassVar[int] = 100

    def __init__(
        self,
        n_seeds: int = 1,
        max_points: int = TRACE_POINTS,
        deadline: float | None = None,
        sync: Callable[[], None] | None = None,
        floor: float | Sequence[float] = 0.0,
    ) -> None:
        self.n_seeds = n_seeds
        self.max_points = max_points
        self.deadline = deadline
        self.sync = sync or (lambda: None)
        self.start = time.perf_counter()
        self.phases: dict[str, float] = {}
        self._points: list[tuple[int, float, np.ndarray]] = []
        self._stride = 1
        self._calls = 0
        self._excluded = 0.0  # one-off warm-up/compile time, kept out of the trace's clock
        self.nonfinite = np.zeros(n_seeds, dtype=bool)
        self.final_loss = np.full(n_seeds, np.nan)
        self.last_step = 0
        self.plateau = Plateau(n_seeds, np.broadcast_to(np.asarray(floor, float), (n_seeds,)))
        self.converged_step = np.full(n_seeds, -1, dtype=np.int64)
        self._win_sum = np.zeros(n_seeds)
        self._win_calls = 0
        self._win_start = 0
        self.stop_step = np.full(n_seeds, -1, dtype=np.int64)

    def __call__(self, step: int, loss: float | Sequence[float] | np.ndarray) -> None:
        values = np.broadcast_to(np.asarray(loss, dtype=float).reshape(-1), (self.n_seeds,))
        stopped = self.stop_step >= 0
        if stopped.any():  # a seed that ended keeps its last loss
            values = np.where(stopped, self.final_loss, values)
        bad = ~np.isfinite(values)
        self.nonfinite |= bad
        self.final_loss = np.where(bad, self.final_loss, values)
        self.last_step = max(self.last_step, int(step))
        self._window(int(step), values)
        now = time.perf_counter() - self.start - self._excluded
        # Keep the trace bounded: once full, drop every other point and keep every other call.
        if self._calls % self._stride == 0:
            self._points.append((int(step), now, values.copy()))
            if len(self._points) >= self.max_points:
                self._points = self._points[::2]
                self._stride *= 2
        self._calls += 1
        self.check()

    def _window(self, step: int, values: np.ndarray) -> None:
        self._win_sum = self._win_sum + values
        self._win_calls += 1
        if step - self._win_start < self.window:
            return
        settled = self.plateau.update(self._win_sum / self._win_calls)
        self.converged_step = np.where(
            settled & (self.converged_step < 0), step, self.converged_step
        )
        self._win_sum, self._win_calls, self._win_start = np.zeros(self.n_seeds), 0, step

    def settled(self) -> bool:
        """Whether every seed has met the stop rule: a method may stop training now."""
        return self.plateau.done

    def settled_seeds(self) -> np.ndarray:
        """Which seeds have met the stop rule (a boolean per seed)."""
        return self.plateau.settled.copy()

    def stop_seeds(self, mask: np.ndarray, step: int) -> None:
        """Record that the seeds in ``mask`` stopped training at ``step`` (see the class doc)."""
        mask = np.asarray(mask, dtype=bool) & (self.stop_step < 0)
        self.stop_step = np.where(mask, int(step), self.stop_step)

    def steps(self, i: int = 0) -> int:
        """Optimiser steps seed ``i`` trained for: its stop step, or the last step logged."""
        at = int(self.stop_step[i])
        return at if at >= 0 else self.last_step

    def at_floor(self) -> bool:
        """Whether every seed's loss has reached the floor (converged outright)."""
        return bool(self.plateau.at_floor.all())

    def restart_plateau(self, mask: np.ndarray | None = None) -> None:
        """Start the stop rule afresh (after a method changed its learning rate on a plateau)
        for the seeds in ``mask`` (all by default): ``converged_step`` then records the plateau
        that ends the run."""
        mask = np.ones(self.n_seeds, bool) if mask is None else np.asarray(mask, dtype=bool)
        self.plateau.reset(mask)
        self.converged_step = np.where(mask, -1, self.converged_step)

    def check(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise RunTimeout("time budget exceeded")

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.sync()
            spent = time.perf_counter() - t0
            self.phases[name] = self.phases.get(name, 0.0) + spent
            if name in ("warmup", "compile"):
                self._excluded += spent

    def trace(self, i: int = 0) -> list[list[float]]:
        """Bounded ``[step, seconds, loss]`` list for seed ``i``."""
        out = []
        end = int(self.stop_step[i])
        for step, sec, vals in self._points:
            if 0 <= end < step:
                break
            v = float(vals[i])
            out.append([step, round(sec, 6), v if np.isfinite(v) else None])
        return out


class Method:
    """Base class for a learner.

    Constructor arguments are hyper-parameters, stored verbatim (no logic in ``__init__``) so
    that the runner can record them; learned state ends in ``_`` and a new ``fit`` forgets the
    old one. A method declares what it handles through the class attributes below; the runner
    skips the rest with a reason.
    """

    description: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    handles_multi_output: ClassVar[bool] = False
    handles_classification: ClassVar[bool] = False
    handles_fixed_data: ClassVar[bool] = True
    #: Input encodings this method accepts (``float32``, ``float64``, ``int64``).
    input_dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64", "int64")
    #: ``True`` when :meth:`fit_seeds` trains several seeds as one computation.
    vectorised: ClassVar[bool] = False
    #: The declared tuning grid, ``{hyper-parameter: [values]}`` (``bench.core.tuning``);
    #: empty for a method with nothing to tune. A method with a grid also takes a ``settings``
    #: hyper-parameter (``tuned``, ``paper`` or ``trial``).
    search_space: ClassVar[dict[str, list[Any]]] = {}

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """One line for ``bench list``; variants may override to mention their parameters."""
        return cls.description

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not (k.endswith("_") or k.startswith("_"))}

    def supports(self, task: TaskView) -> str | None:
        """``None`` if this method can attempt ``task``, else the reason it cannot."""
        out = task.output
        if out.n_outputs > 1 and not self.handles_multi_output:
            return f"{out.n_outputs} outputs; method handles a single output"
        if out.kind == "classification" and not self.handles_classification:
            return "classification outputs; method only regresses"
        if not task.infinite and not self.handles_fixed_data:
            return "fixed training set; method needs a sampler"
        if task.input_dtype not in self.input_dtypes:
            return f"{task.input_dtype} inputs; method accepts {', '.join(self.input_dtypes)}"
        return None

    def warm_up(self, task: TaskView, budget: Budget, device: str) -> None:
        """Optional one-off set-up (first optimiser step, kernel loading, compilation) that
        would otherwise be charged to training. The runner calls it once per unit, before
        ``fit``, timed as the ``warmup`` phase and kept out of the convergence clock. It must
        not change what ``fit`` learns: draw no samples and touch no learned state."""

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Method:
        """Learn from ``task`` within ``budget`` and return ``self``.

        ``log(step, loss)`` after optimiser steps (a step is always one optimiser step; a
        method that does not iterate logs none); ``with log.phase("estimate"):`` around
        spectral estimation. Learned state goes into attributes ending in ``_``."""
        raise NotImplementedError

    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def representation(self, x: np.ndarray) -> np.ndarray:
        """The inputs ``x`` as the fitted method actually receives them, one row per point
        (its own scaling or encoding, in the dtype it computes with). The harness groups
        evaluation points by it to compute the method's representational ceiling
        (``bench.core.ceiling``). Default: ``x`` as the task gives it."""
        return np.asarray(x)

    def fit_seeds(
        self,
        tasks: Sequence[TaskView],
        budget: Budget,
        seeds: Sequence[int],
        device: str,
        log: Logger,
    ) -> list[Method]:
        """Fit one model per seed as one computation; returns one fitted copy of the method
        per seed (``bench.methodlib.spawn`` makes them).

        Only vectorised methods override this (``log`` then takes one loss per seed); the
        runner calls :meth:`fit` once per seed for the others.
        """
        if len(seeds) != 1:
            raise NotImplementedError(f"{type(self).__name__} does not fit seeds together")
        return [self.fit(tasks[0], budget, seeds[0], device, log)]


def as_numpy(x: Any) -> np.ndarray:
    """Convert a prediction (numpy, torch or list) to a numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)
