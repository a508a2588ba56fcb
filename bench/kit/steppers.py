"""The arithmetic of a training step, apart from the loop that schedules it.

The loop of ``bench.kit.train`` decides when to log, when a learning rate drops and when a
seed stops; how the parameters move is a stepper's business. Two steppers cover the suite:

- :class:`StackStepper`: the seeds of a task as one batched model (``bench.kit.stack``) with
  one Adam learning rate per seed (``bench.kit.adam``); every ``NetMethod`` trains this way.
- :class:`ModuleStepper`: one network as it is, with a torch optimiser and an optional
  scheduler; for a method that brings its own optimiser, schedule or a module the stack
  cannot hold (the hybrid, KAN).

Keeping them apart from the loop is what lets one loop serve both: the stop rule, the logging
and the learning-rate drops cannot differ between a stacked and a single network.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from bench.core.contracts import Logger, OutputSpec
from bench.kit.adam import StackedAdam
from bench.kit.graphs import GraphWindow
from bench.kit.nn import TargetCoder, make_adam
from bench.kit.stack import SeedStack, stacked_loss

#: One chunk of training data per seed: ``(x, y)``, each ``(n_steps, batch, ...)``.
Chunk = Sequence[tuple[np.ndarray, np.ndarray]]


class Stepper(Protocol):
    """What the loop asks of a stepper."""

    def take(self, chunk: Chunk) -> tuple[torch.Tensor, torch.Tensor]:
        """The chunk on the device, for the seeds still training, indexed by step first."""
        ...

    def run(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One optimiser step per leading row of ``x`` and ``y``."""
        ...

    def losses(self, coders: Sequence[TargetCoder], since: int) -> np.ndarray:
        """Each seed's mean loss over the ``since`` steps since the last call, in the task's
        units (0 for a seed no longer stepped); starts the next sum."""
        ...

    def settle(self, drop: np.ndarray, end: np.ndarray, factor: float) -> np.ndarray | None:
        """Multiply the learning rate of the seeds in ``drop`` by ``factor`` and stop those in
        ``end``; returns which of the seeds still stepped stay, where some left the step (the
        loop then narrows the chunk it holds), else ``None``."""
        ...

    def trained(self) -> list[nn.Module]:
        """The seeds' networks, each holding its best state where one was kept
        (:meth:`snapshot`), else its last."""
        ...

    def validate(self, sets: Sequence[ValSet | None], coders: Sequence[TargetCoder]) -> np.ndarray:
        """Each seed's mean loss on its validation set, in the task's units (``nan`` for a seed
        without one, or no longer stepped)."""
        ...

    def snapshot(self, mask: np.ndarray) -> None:
        """Keep the current parameters of the seeds in ``mask`` as their best state."""
        ...

    def final(self) -> list[nn.Module] | None:
        """After :meth:`trained`: copies of the networks as they were at the last step, where
        a best state replaced them (``None`` otherwise)."""
        ...


#: One seed's validation pairs, encoded as the network takes them: ``(x, y)`` arrays.
ValSet = tuple[np.ndarray, np.ndarray]


def sample_parts(spec: OutputSpec, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The loss of every sample, ``(S, n, outputs)`` (squared error per output) or ``(S, n)``
    (cross-entropy summed over the outputs): what :func:`stacked_loss` averages."""
    if spec.kind != "classification":
        return (out - target) ** 2
    n_seeds, n = out.shape[0], out.shape[1]
    blocks = torch.split(out, list(spec.classes or ()), dim=2)
    return sum(  # type: ignore[return-value]
        nn.functional.cross_entropy(
            blk.reshape(n_seeds * n, -1), target[..., j].reshape(-1), reduction="none"
        ).view(n_seeds, n)
        for j, blk in enumerate(blocks)
    )


class _Padded:
    """Validation sets of unequal sizes as one padded batch, ``(seeds, n_max, ...)``, with
    the mask of real rows."""

    def __init__(self, sets: Sequence[ValSet | None], device: str) -> None:
        real = [s for s in sets if s is not None]
        self.has = np.array([s is not None for s in sets])
        n_max = max(len(s[0]) for s in real)
        x0, y0 = real[0]
        xs = np.zeros((len(sets), n_max, *x0.shape[1:]), dtype=x0.dtype)
        ys = np.zeros((len(sets), n_max, *y0.shape[1:]), dtype=y0.dtype)
        mask = np.zeros((len(sets), n_max))
        for i, s in enumerate(sets):
            if s is not None:
                k = len(s[0])
                xs[i, :k], ys[i, :k], mask[i, :k] = s[0], s[1], 1.0
        self.x = torch.from_numpy(xs).to(device)
        self.y = torch.from_numpy(ys).to(device)
        self.mask = torch.from_numpy(mask).to(device)


class StackStepper:
    """The seeds as one :class:`SeedStack`, stepped by :class:`StackedAdam` (AdamW where
    ``weight_decay`` is above 0), a window of ``log_every`` steps at a time through a
    :class:`GraphWindow` (a captured CUDA graph where ``graphs`` is on).

    A seed that stops gets learning rate 0. On a CPU the cost of a step grows with the seeds
    in the stack, so a stopped seed leaves it; on a GPU a step costs about the same for any
    number of seeds, and the captured graphs stay.
    """

    def __init__(
        self,
        models: Sequence[nn.Module],
        spec: OutputSpec,
        device: str,
        lr: float | Sequence[float],
        log: Logger,
        *,
        weight_decay: float = 0.0,
        log_every: int = 100,
        graphs: bool | None = None,
    ) -> None:
        self.spec, self.device, self.log = spec, device, log
        self.log_every, self.graphs = log_every, graphs
        self.n_seeds = len(models)
        self.stack = SeedStack(models, device)
        #: Each seed's learning rate (``lr``: one for all, or one per seed).
        self.lrs = np.broadcast_to(np.asarray(lr, dtype=float), (self.n_seeds,)).copy()
        params = list(self.stack.params.values())
        self.opt = StackedAdam(params, self.stack.padded(self.lrs), weight_decay=weight_decay)
        self.compact = not device.startswith("cuda")
        self.active = np.arange(self.n_seeds)  # the seeds in the stack, in its row order
        self.stopped = np.zeros(self.n_seeds, dtype=bool)
        self._val: _Padded | None = None
        self._best: dict[int, dict[str, torch.Tensor]] = {}
        self._final: list[nn.Module] | None = None
        self._build()

    def _build(self) -> None:
        """The step and its window for the stack as it is now (again after rows left it)."""
        stack, opt, spec = self.stack, self.opt, self.spec
        params = list(stack.params.values())
        tail = () if spec.kind == "classification" else (spec.n_outputs,)
        running = torch.zeros((stack.n, *tail), device=self.device)  # summed since the log

        def one_step(x: torch.Tensor, y: torch.Tensor) -> None:
            loss, parts = stacked_loss(spec, stack(x), y)
            opt.step(torch.autograd.grad(loss.sum(), params))
            running.add_(parts)  # stays on the device: no sync until the log

        state = [*params, *opt.state(), running]
        self.running = running
        self.window = GraphWindow(
            one_step, self.log_every, self.graphs, self.device, state, self.log
        )

    def take(self, chunk: Chunk) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(np.stack([xc for xc, _ in chunk], axis=1)).to(self.device)
        y = torch.from_numpy(np.stack([yc for _, yc in chunk], axis=1)).to(self.device)
        if self.active.size < self.n_seeds:
            x, y = x[:, self.active], y[:, self.active]
        return x, y

    def run(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.window(x, y)

    def losses(self, coders: Sequence[TargetCoder], since: int) -> np.ndarray:
        mean = (self.running / since).double().cpu().numpy()
        out = np.zeros(self.n_seeds)  # seeds no longer in the stack: frozen by the log
        for row, seed_i in enumerate(self.active):
            out[seed_i] = coders[seed_i].in_task_units(mean[row])
        self.running.zero_()
        return out

    def settle(self, drop: np.ndarray, end: np.ndarray, factor: float) -> np.ndarray | None:
        self.lrs[drop] *= factor
        self.lrs[end] = 0.0
        self.stopped |= end
        keep = None
        if self.compact and self.stopped[self.active].any() and not self.stopped.all():
            keep = ~self.stopped[self.active]
            rows = self.stack.keep(keep)
            self.opt.keep(rows, list(self.stack.params.values()))
            self.active = self.active[keep]
            self._build()
        self.opt.set_lr(self.stack.padded(self.lrs[self.active]))
        return keep

    def trained(self) -> list[nn.Module]:
        models = self.stack.unstack()
        if self._best:
            self._final = [copy.deepcopy(m) for m in models]
            with torch.no_grad():
                for i, state in self._best.items():
                    for name, p in models[i].named_parameters():
                        p.copy_(state[name])
        return models

    def final(self) -> list[nn.Module] | None:
        return self._final

    @torch.no_grad()
    def validate(self, sets: Sequence[ValSet | None], coders: Sequence[TargetCoder]) -> np.ndarray:
        out = np.full(self.n_seeds, np.nan)
        if not any(s is not None for s in sets):
            return out
        if self._val is None:
            self._val = _Padded(sets, self.device)
        val, rows = self._val, self.active
        parts = sample_parts(self.spec, self.stack(val.x[rows]), val.y[rows])
        mask = val.mask[rows]
        weights = mask / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        if parts.dim() == 3:  # per output: the mean over the set, as a window's parts are
            means = (parts * weights[..., None]).sum(dim=1)
        else:
            means = (parts * weights).sum(dim=1)
        means_np = means.double().cpu().numpy()
        for row, seed_i in enumerate(rows):
            if val.has[seed_i] and not self.stopped[seed_i]:
                out[seed_i] = coders[seed_i].in_task_units(means_np[row])
        return out

    @torch.no_grad()
    def snapshot(self, mask: np.ndarray) -> None:
        for row, seed_i in enumerate(self.active):
            if mask[seed_i]:
                self._best[int(seed_i)] = {
                    name: self.stack.param(name)[row].detach().clone() for name in self.stack.params
                }


#: Builds a torch optimiser: ``(parameters, learning rate, device)``.
Optimizer = Callable[[Any, float, str], torch.optim.Optimizer]
#: Builds a learning-rate scheduler for an optimiser over ``steps`` steps; stepped after
#: every optimiser step.
Schedule = Callable[[torch.optim.Optimizer, int], Any]


class ModuleStepper:
    """One network, stepped by ``optimizer`` (fused Adam by default) with ``schedule``'s
    scheduler, if any, on ``coder``'s loss.

    A drop multiplies the optimiser's learning rates by the factor, whatever a scheduler made
    of them, as ``ReduceLROnPlateau`` does.
    """

    def __init__(
        self,
        model: nn.Module,
        coder: TargetCoder,
        device: str,
        lr: float,
        steps: int,
        optimizer: Optimizer = make_adam,
        schedule: Schedule | None = None,
    ) -> None:
        self.model = model.to(device)
        self.coder, self.device = coder, device
        self.opt = optimizer(self.model.parameters(), lr, device)
        self.sched = schedule(self.opt, steps) if schedule is not None else None
        self.running: torch.Tensor | float = 0.0
        self.model.train()
        self._val: tuple[torch.Tensor, torch.Tensor] | None = None
        self._best: dict[str, torch.Tensor] | None = None
        self._final: list[nn.Module] | None = None

    def take(self, chunk: Chunk) -> tuple[torch.Tensor, torch.Tensor]:
        ((xc, yc),) = chunk
        return torch.from_numpy(xc).to(self.device), torch.from_numpy(yc).to(self.device)

    def run(self, x: torch.Tensor, y: torch.Tensor) -> None:
        for j in range(x.shape[0]):
            loss, parts = self.coder.loss(self.model(x[j]), y[j])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            if self.sched is not None:
                self.sched.step()
            self.running = self.running + parts  # stays on the device: no sync until the log

    def losses(self, coders: Sequence[TargetCoder], since: int) -> np.ndarray:
        mean = self.coder.in_task_units(self.running / since)  # type: ignore[arg-type]
        self.running = 0.0
        return np.array([mean])

    def settle(self, drop: np.ndarray, end: np.ndarray, factor: float) -> np.ndarray | None:
        if drop.any():
            for group in self.opt.param_groups:
                group["lr"] *= factor
        return None

    def trained(self) -> list[nn.Module]:
        if self._best is not None:
            self._final = [copy.deepcopy(self.model)]
            self.model.load_state_dict(self._best)
        return [self.model]

    def final(self) -> list[nn.Module] | None:
        return self._final

    @torch.no_grad()
    def validate(self, sets: Sequence[ValSet | None], coders: Sequence[TargetCoder]) -> np.ndarray:
        ((pairs),) = sets
        if pairs is None:
            return np.array([np.nan])
        if self._val is None:
            self._val = (
                torch.from_numpy(pairs[0]).to(self.device),
                torch.from_numpy(pairs[1]).to(self.device),
            )
        was = self.model.training
        self.model.eval()
        _, parts = self.coder.loss(self.model(self._val[0]), self._val[1])
        self.model.train(was)
        return np.array([self.coder.in_task_units(parts)])

    @torch.no_grad()
    def snapshot(self, mask: np.ndarray) -> None:
        if mask[0]:
            self._best = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
