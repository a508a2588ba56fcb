"""Building blocks shared by method plugins (``bench.kit.tasks`` is its counterpart for tasks).

The numerics live in ``bench.lib``, which knows nothing about the harness; this module turns
them into :class:`bench.Method` subclasses that follow the harness's contract (scikit-learn's):
hyper-parameters stored verbatim by ``__init__``, ``fit`` returns the method itself with its
learned state in attributes ending in ``_``, and ``predict`` lives on the method.

- :func:`forget` and :func:`spawn` keep that contract for refits and for vectorised methods,
  whose ``fit_seeds`` returns one fitted copy of the method per seed;
- :func:`draw_samples` spends a spectral method's sample budget at once;
- :class:`SinusoidMethod` and :class:`SteppedSinusoidMethod` are methods whose fitted model is
  a sum of tones (``bench.lib.sinusoid.SinusoidModel``);
- networks are in ``bench.kit.netmethod`` (:class:`NetMethod`), not here: the spectral methods
  use this module and have no business importing torch's network machinery (nor, through the
  run keys, being invalidated by edits to the trainer).
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from bench.core.contracts import Budget, Logger, Method, TaskView
from bench.lib.estimators import choose_trend
from bench.lib.sinusoid import FloatArray, SinusoidModel

__all__ = [
    "SinusoidMethod",
    "SteppedSinusoidMethod",
    "draw_samples",
    "forget",
    "learned_state",
    "spawn",
]

M = TypeVar("M", bound=Method)


# -- the estimator contract ---------------------------------------------------------------------


def learned_state(method: Method) -> dict[str, Any]:
    """The attributes a fit set: public names ending in ``_``."""
    return {k: v for k, v in vars(method).items() if k.endswith("_") and not k.startswith("_")}


def forget(method: Method) -> None:
    """Drop every learned attribute. The first thing a ``fit`` does, so that a refit (or a fit
    that fails half-way) keeps nothing of an earlier one."""
    for k in learned_state(method):
        delattr(method, k)


def spawn(method: M) -> M:
    """A copy of ``method`` with the same hyper-parameters and no learned state.

    A vectorised method fits several seeds as one computation; its ``fit_seeds`` fills one
    spawned copy per seed with that seed's learned state and returns them, so that every
    fitted thing is an instance of the method, as ``fit``'s ``self`` is.
    """
    twin = copy.copy(method)
    forget(twin)
    return twin


class SeedFit(NamedTuple):
    """What one vectorised fit works on: a task view and a seed per member, and the budget,
    device and logger they share. One value instead of five arguments passed down a chain of
    calls; it unpacks in the order ``fit_seeds`` takes them (``train_seeds(models, *job)``)."""

    tasks: Sequence[TaskView]
    budget: Budget
    seeds: Sequence[int]
    device: str
    log: Logger


class SeedBatchMethod(Method):
    """A method that fits all seeds of a task as one computation (``vectorised``).

    Subclasses implement ``_descend(job)``, which gets a :class:`SeedFit` and returns one
    learned state per seed, and ``_set(state)``, which puts one state on the method and returns
    it. ``fit`` is then the one-seed case of ``fit_seeds``, so a seed alone and the same seed
    inside a batch follow the same code.
    """

    vectorised = True

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        forget(self)
        (state,) = self._descend_compat(SeedFit([task], budget, [seed], device, log))
        return self._set(state)

    def fit_seeds(
        self,
        tasks: Sequence[TaskView],
        budget: Budget,
        seeds: Sequence[int],
        device: str,
        log: Logger,
    ) -> list[Any]:
        job = SeedFit(tasks, budget, seeds, device, log)
        return [spawn(self)._set(s) for s in self._descend_compat(job)]

    def _descend(self, job: SeedFit) -> Sequence[Any]:
        raise NotImplementedError

    def _descend_compat(self, job: SeedFit) -> Sequence[Any]:
        """Call ``_descend``; a subclass written for 0.1.0 takes the five values apart."""
        if len(inspect.signature(self._descend).parameters) == len(SeedFit._fields):
            warnings.warn(
                f"{type(self).__name__}._descend(tasks, budget, seeds, device, log) is the "
                "0.1.0 form; since 0.2.0 it takes one SeedFit (bench.kit.methods.SeedFit)",
                DeprecationWarning,
                stacklevel=3,
            )
            return self._descend(*job)  # type: ignore[call-arg]
        return self._descend(job)

    def _set(self, state: Any) -> Any:
        raise NotImplementedError


# -- methods whose fitted model is a SinusoidModel ----------------------------------------------


def draw_samples(task: TaskView, n_samples: int) -> tuple[FloatArray, FloatArray]:
    """The samples a spectral method estimates from, as float64: ``n_samples`` fresh ones from
    a sampler (capped by the sample budget), or the whole training set of a fixed-data task.

    A spectral estimate spends its sample budget at once, where a gradient method spends it
    batch by batch; both draw from the same sampler and budget.
    """
    if task.infinite:
        n = min(int(n_samples), task.samples_left)
        if n <= 0:
            raise ValueError("no sample budget left")
        x, y = task.sample(n)
    else:
        x, y = task.train_set()
    return np.asarray(x).astype(np.float64), np.asarray(y, dtype=np.float64).reshape(-1)


class SinusoidMethod(Method):
    """Base for methods whose fitted model is a :class:`SinusoidModel` (a sum of tones).

    Single-output regression only (a clock reading is not a sum of sinusoids in one output);
    any input dtype, converted to float64. ``fit`` implementations start with
    :func:`forget` and end with ``self._set``, which exposes ``model_``, ``freqs_`` (dominant
    first), ``amplitudes_`` and ``n_params_``.
    """

    handles_multi_output = False
    handles_classification = False
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    def _set(self, model: SinusoidModel) -> SinusoidMethod:
        self.model_ = model.sorted()
        self.freqs_ = self.model_.freqs.copy()
        self.amplitudes_ = self.model_.amplitudes.copy()
        self.n_params_ = self.model_.n_params_
        return self

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        return self.model_.predict(np.asarray(x).astype(np.float64))


class SteppedSinusoidMethod(SinusoidMethod):
    """A :class:`SinusoidMethod` that spends a step budget: subclasses implement
    ``_model(x, y, trend, steps, log)``, counting the steps they take in ``steps_``.

    ``fit`` draws the samples, lets :func:`choose_trend` compare trend and no trend on a quarter
    of the budget, then fits with the steps that are left. The trace holds the descent's own
    steps, the last one with the final loss; a fit that took no step logs none.
    """

    n_samples: int
    trend: bool | str

    def _model(
        self, x: FloatArray, y: FloatArray, trend: bool, steps: int, log: Logger | None
    ) -> SinusoidModel:
        raise NotImplementedError

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        forget(self)
        x, y = draw_samples(task, self.n_samples)
        self.steps_ = 0

        def trial(xs: FloatArray, ys: FloatArray, trend: bool) -> SinusoidModel:
            log.check()
            return self._model(xs, ys, trend, budget.steps // 4, None)

        trend = choose_trend(self.trend, task.infinite, x, y, trial)
        model = self._model(x, y, trend, budget.steps - self.steps_, log)
        if self.steps_:
            log(self.steps_, model.mse(x, y))
        return self._set(model)
