"""SGD on Sin: the original experiment's learner.

Model ``sin(w x)`` with a single parameter ``w ~ N(0, 1)``, mean-squared error on fresh batches
of 32, ``torch.optim.SGD(lr=1e-4)``. The loss landscape is ``~ 1 - sinc((w - w*) R)``: flat at
about 1 except in a basin ``~ pi / R`` wide, so the gradient carries no information from a
random start once the domain holds many cycles.

The variant ``sgd-sin[lr=stable]`` sets the step to ``1 / L''`` with ``L'' = R^2 / 3``, the
curvature at the optimum for inputs uniform on ``[-R, R]`` (plain gradient descent is stable
for steps below ``2 / L''``). It shows that an unstable step is not the only reason for failure.

The original ran in torch's default dtype, float32, and so does ``sgd-sin``: the task's float64
inputs and targets are cast to float32 and the model computes in float32. ``sgd-sin[dtype=float64]``
is the same learner in float64. The difference shows at the optimum: the float32 input is not the
input the target was computed from, so the residual at ``w = 31`` is not zero (about ``31`` times
the rounding of ``x``, up to 1e-3 rad at ``|x| ~ 1000``), and at lr 1e-4, unstable there, SGD
leaves ``w = 31`` within a few hundred steps; in float64 it stays.

The method is vectorised over seeds: ``S`` seeds are one parameter vector of length ``S``, each
with its own gradient; ``fit_seeds`` returns one fitted copy of the method per seed. The step is
the original's, with the gradient written out instead of built by autograd
(``bench.kit.closed_form``; ``bench.lib.original`` keeps the loop as the post wrote it, and a
test checks that both take the same steps): numpy on CPU, CUDA graphs on a GPU.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from bench import Budget, Logger, TaskView, register_method
from bench.kit import closed_form
from bench.kit.batches import TrainingPairs
from bench.kit.methods import SeedBatchMethod, SeedFit, spawn


@register_method("sgd-sin", variants=[{"lr": "stable"}, {"dtype": "float64"}])
class SGDSin(SeedBatchMethod):
    """The original: sin(w x), w ~ N(0,1), SGD lr 1e-4, batch 32, MSE (vectorised over seeds)."""

    description = "The original: fit w of sin(w x) by SGD (lr 1e-4, batch 32, w0 ~ N(0,1))"
    reference = "The 'deep learning has an issue with sin' experiment (SGD on a single frequency)"
    handles_fixed_data = False
    input_dtypes = ("float32", "float64")

    def __init__(
        self, lr: float | str = 1e-4, init: float | str = "randn", dtype: str = "float32"
    ) -> None:
        self.lr = lr
        self.init = init
        self.dtype = dtype

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        if params.get("lr") == "stable":
            return "Variant: SGD on sin(w x) with the stable step 1/L'' = 3/R^2 (L'' = R^2/3)"
        if params.get("dtype") == "float64":
            return "Variant: the original learner in float64 (the original ran in float32)"
        return cls.description

    def step_size(self, domain: tuple[float, float]) -> float:
        if self.lr == "stable":
            r = max(abs(domain[0]), abs(domain[1]))
            return 3.0 / (r * r)
        if isinstance(self.lr, str):
            raise ValueError(f"lr must be a number or 'stable', not {self.lr!r}")
        return float(self.lr)

    def warm_up(self, task: TaskView, budget: Budget, device: str) -> None:
        """On a GPU, create the CUDA context and load the kernels the steps use (no randomness,
        no data), so that ``train`` times the loop alone; the CPU path needs nothing."""
        if device.startswith("cuda"):
            w = torch.zeros(1, dtype=getattr(torch, self.dtype), device=device)
            (torch.sin(w) * torch.cos(w)).sum().item()

    def _set(self, w: float) -> SGDSin:
        self.freqs_ = np.array([w])
        self.n_params_ = 1
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.sin(self.freqs_[0] * np.asarray(x, dtype=np.float64))

    def _descend(self, job: SeedFit) -> list[float]:
        return SGDSin.descend_fleet([self] * len(job.seeds), job)

    def start(self, seed: int) -> float:
        """The seed's ``w0``: ``torch.randn(1)`` from a generator seeded with it, or ``init``."""
        if isinstance(self.init, str):
            if self.init != "randn":
                raise ValueError(f"init must be 'randn' or a number, not {self.init!r}")
            return torch.randn(1, generator=torch.Generator().manual_seed(seed)).item()
        return float(self.init)

    @staticmethod
    def descend_fleet(methods: Sequence[SGDSin], job: SeedFit) -> list[float]:
        """SGD on every member's ``w`` at once, member ``i`` with the start and step size of
        ``methods[i]`` on ``job.tasks[i]``; the final ``w`` per member. The seeds of one unit
        (every method the same) or a fleet of the units of one dtype and task family
        (``bench.engine.plan.fleets``); a member's arithmetic is its own either way.

        The gradient is written out, ``dL/dw = mean(2 (sin(w x) - y) cos(w x) x)``, the
        derivative autograd takes of the original's loss, and the update is SGD's
        ``w <- w - lr dL/dw``: the same algorithm without a graph per step. On CPU it runs in
        numpy; on a GPU each window of ``LOG_EVERY`` steps is one captured CUDA graph.
        """
        tasks, budget, seeds, device, log = job
        dtype = methods[0].dtype
        w0 = [m.start(s) for m, s in zip(methods, seeds, strict=True)]
        lr = [m.step_size(t.domain) for m, t in zip(methods, tasks, strict=True)]
        chunks = _chunks(tasks, budget, seeds, dtype)
        if device.startswith("cuda"):
            w = closed_form.sgd_sin_torch(w0, chunks, lr, budget, device, dtype, log)
        else:
            w = closed_form.sgd_sin_numpy(w0, chunks, lr, budget, dtype, log)
        return [float(v) for v in w]

    # -- fleets: the units of one dtype and task family, whatever their start or step size, in
    # one tensor. Not every task at once: each member's batches are drawn in numpy, one sample
    # at a time (the tasks' own samplers), in the process that trains the fleet, and on a GPU
    # that sampling, not the step, is the cost; fleets per family leave it spread over the
    # workers.

    fleet_scalars: ClassVar[tuple[str, ...]] = ("lr", "init")

    @classmethod
    def joins_fleets(cls) -> bool:
        return cls._descend is SGDSin._descend

    def fleet_key(self, task: TaskView) -> Hashable | None:
        return (SGDSin, self.dtype) if self.joins_fleets() else None

    @staticmethod
    def fit_fleet(
        methods: Sequence[SGDSin],
        tasks: Sequence[TaskView],
        budget: Budget,
        seeds: Sequence[int],
        device: str,
        log: Logger,
    ) -> list[SGDSin]:
        """``fit_seeds`` for the members of a fleet (see ``bench.kit.netmethod.NetMethod``)."""
        states = SGDSin.descend_fleet(methods, SeedFit(tasks, budget, seeds, device, log))
        return [spawn(m)._set(w) for m, w in zip(methods, states, strict=True)]


def _chunks(tasks: Sequence[TaskView], budget: Budget, seeds: Sequence[int], dtype: str):
    """Every seed's batches, ``CHUNK`` steps at a time, as ``(steps, seeds, batch)`` arrays of
    ``dtype`` (x, then y): fresh at every step, as in the original, unless the task's sample
    budget is smaller than the run's (then epochs over what it allows; ``TrainingPairs``)."""
    bs, steps = budget.batch_size, budget.steps
    pairs = [
        TrainingPairs(t, steps, bs, np.random.default_rng(s))
        for t, s in zip(tasks, seeds, strict=True)
    ]
    for start in range(0, steps, closed_form.CHUNK):
        n = min(closed_form.CHUNK, steps - start)
        xs, ys = zip(*(p.take(n) for p in pairs), strict=True)
        # Stacked on the seed axis and cast in one pass: the same values, one copy fewer.
        x = np.stack([a.reshape(n, bs) for a in xs], axis=1, dtype=dtype)
        y = np.stack([a.reshape(n, bs) for a in ys], axis=1, dtype=dtype)
        yield x, y
