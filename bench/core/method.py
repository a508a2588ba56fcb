"""The method contract: a learner with a budget, in the style of a scikit-learn estimator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bench.core.logger import Logger
from bench.core.stop import STOP_POLICY, StopPolicy
from bench.core.task import Budget, TaskView


@dataclass(frozen=True)
class ScaleKnob:
    """A hyper-parameter that sets the highest frequency a network starts able to fit, and
    how: the tuning protocol searches it from the declared values up to the highest frequency
    the task's samples resolve (``bench.engine.halving``).

    ``reach(v)`` is the angular frequency, per unit of the input scaled to [-1, 1], that the
    value ``v`` reaches: ``per_unit * v`` (SIREN's ``w0``: 1 rad per unit of ``w0``), or
    ``per_unit * 2 ** v`` where the knob counts octaves (NeRF's levels). The grid steps by
    ``factor`` (times, or plus for octaves). Values that are not numbers (an initialisation's
    name) stay in the grid as they are.
    """

    name: str
    per_unit: float = 1.0
    factor: float = 10.0
    octaves: bool = False

    def reach(self, value: float) -> float:
        return self.per_unit * (2.0 ** float(value) if self.octaves else float(value))

    def step(self, value: float, up: bool = True) -> float:
        """The next value of the grid above (``up``) or below ``value``."""
        if self.octaves:
            return type(value)(value + self.factor if up else value - self.factor)
        return float(value) * self.factor if up else float(value) / self.factor


class Method:
    """Base class for a learner.

    Constructor arguments are hyper-parameters, stored verbatim (no logic in ``__init__``) so
    that the runner can record them; learned state ends in ``_`` and a new ``fit`` forgets the
    old one. A method declares what it handles through the class attributes below; the runner
    skips the rest with a reason.
    """

    description: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    #: What kind of method this is, for the results site's grouping: ``"original learners"``,
    #: ``"networks"``, ``"estimators"``, ``"forecasters"``, ``"hybrid"`` (``None``: told from
    #: the class's bases, ``bench.report.site.method_kind``).
    kind: ClassVar[str | None] = None
    handles_multi_output: ClassVar[bool] = False
    handles_classification: ClassVar[bool] = False
    handles_fixed_data: ClassVar[bool] = True
    #: Input encodings this method accepts (``float32``, ``float64``, ``int64``).
    input_dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64", "int64")
    #: ``True`` when :meth:`fit_seeds` trains several seeds as one computation.
    vectorised: ClassVar[bool] = False
    #: The declared tuning grid, ``{hyper-parameter: [values]}`` (``bench.engine.tuning``);
    #: empty for a method with nothing to tune. A method with a grid also takes a ``settings``
    #: hyper-parameter (``tuned``, ``paper`` or ``trial``).
    search_space: ClassVar[dict[str, list[Any]]] = {}
    #: The grid's knob that sets the network's frequency reach, searched up to what the
    #: task's samples resolve (``None``: no such knob; see :class:`ScaleKnob`).
    scale_knob: ClassVar[ScaleKnob | None] = None
    #: The stop rule and learning-rate drops the harness judges (and a network trains) this
    #: method by (``bench.core.stop``); a method may declare its own.
    stop_policy: ClassVar[StopPolicy] = STOP_POLICY

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
        per seed (``bench.kit.methods.spawn`` makes them).

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
