"""The shared training loop of the neural-network methods (SIREN, Snake, GELU MLP, and later ones).

One loop, so that the networks differ only in their layers: the same input scaling, data
handling, output heads, optimiser, stop rule, logging and device placement for all of them.

- **Inputs** are scaled to [-1, 1] by the task's domain in float64 and stay float64 through
  the network's first layer (:class:`Float64Front`); only that layer's output is float32, the
  dtype of the rest of the network. On the Clock Problem's 120-year span a float32 input would
  leave neighbouring seconds up to 207 s apart (float32's spacing grows with magnitude) and cap
  exact match near 4% before training; in float64 they stay 4e-7 s apart, so the input is no
  handicap. Integer seconds convert to float64 exactly (they are far below 2**53).
- **Data** comes from the task's sampler in chunks (fresh batches every step, as in the original
  experiment) or, for fixed-data tasks, as minibatches drawn from the training set in shuffled
  epochs.
- **Heads**: regression gets one linear output per target, trained on targets standardised
  with the training data's mean and deviation (MSE); classification gets one softmax head per
  output (a block of logits each) trained with the summed cross-entropy, and predicts the
  arg-max label of each head.
- **Logging and stopping**: ``log(step, loss)`` every ``log_every`` steps with the mean
  training loss since the last call, in the task's units (MSE of the targets as given; summed
  cross-entropy for classification). At the first plateau of the harness's declared stop rule
  (``log.settled()``, see ``bench.lib.plateau``) the learning rate drops tenfold; at the next,
  or at the loss floor, training stops.
- **Warm-up**: :func:`warm_up` pays torch's one-off set-up (the first optimiser step) on a
  throwaway network, for a method's ``warm_up`` hook, so that the loop's time is the loop's.

A method with its own input representation (periodic features of discovered periods, say)
passes an ``encoder`` and the training pairs it already drew; the loop, heads and predictor
stay the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from ..core.contracts import Budget, Logger, OutputSpec, TaskView
from .plateau import LR_DROP, LR_DROPS

#: Steps of data drawn from a sampler at a time (bounded memory, few calls to the task).
CHUNK_STEPS = 1000
#: Rows per forward pass when predicting.
PREDICT_BATCH = 65536


# -- inputs and targets -------------------------------------------------------------------------


@dataclass(frozen=True)
class InputScaler:
    """Affine map of the task's domain onto [-1, 1], computed in float64, returned in
    ``dtype`` (float64 for the networks' :class:`Float64Front`; float32 only for a variant
    that wants the old, lossy input)."""

    center: float
    half_width: float
    dtype: str = "float64"

    @classmethod
    def from_domain(cls, domain: tuple[float, float], dtype: str = "float64") -> InputScaler:
        lo, hi = float(domain[0]), float(domain[1])
        half = 0.5 * (hi - lo)
        return cls(center=0.5 * (lo + hi), half_width=half if half > 0 else 1.0, dtype=dtype)

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        x64 = np.asarray(x).astype(np.float64, copy=False).reshape(-1, 1)
        return ((x64 - self.center) / self.half_width).astype(self.dtype, copy=False)


def head_size(spec: OutputSpec) -> int:
    """Network outputs a task needs: one per regression target, one logit per class."""
    if spec.kind == "classification":
        return int(sum(spec.classes or ()))
    return int(spec.n_outputs)


@dataclass(frozen=True)
class TargetCoder:
    """Turns targets into what the loss compares against, and network outputs into predictions.

    Regression targets are standardised per output (so one learning rate suits sunspot counts
    and unit sines alike); classification targets stay integer labels.
    """

    spec: OutputSpec
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, spec: OutputSpec, y: np.ndarray) -> TargetCoder:
        if spec.kind == "classification":
            return cls(spec, np.zeros(0), np.ones(0))
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        std = y2.std(axis=0)
        return cls(spec, y2.mean(axis=0), np.where(std > 0, std, 1.0))

    def encode(self, y: np.ndarray) -> np.ndarray:
        if self.spec.kind == "classification":
            return np.asarray(y).reshape(len(y), -1).astype(np.int64)
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return ((y2 - self.mean) / self.std).astype(np.float32)

    def decode(self, out: torch.Tensor) -> np.ndarray:
        if self.spec.kind == "classification":
            labels = [blk.argmax(dim=1) for blk in self.split(out)]
            return torch.stack(labels, dim=1).cpu().numpy().astype(np.int64)
        pred = out.double().cpu().numpy() * self.std + self.mean
        return pred[:, 0] if self.spec.n_outputs == 1 else pred

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(out, list(self.spec.classes or ()), dim=1)

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to minimise, its parts to accumulate for the log; see :meth:`in_task_units`).

        Regression: MSE per output on standardised targets; classification: cross-entropy
        summed over the outputs' heads.
        """
        if self.spec.kind == "classification":
            ce = sum(
                nn.functional.cross_entropy(blk, target[:, j])
                for j, blk in enumerate(self.split(out))
            )
            return ce, ce.detach()
        per_output = ((out - target) ** 2).mean(dim=0)
        return per_output.mean(), per_output.detach()

    def in_task_units(self, parts: torch.Tensor) -> float:
        """Mean accumulated loss parts as the number the log shows: the MSE of the targets as
        given (averaged over outputs), or the summed cross-entropy."""
        values = parts.double().cpu().numpy()
        if self.spec.kind == "classification":
            return float(values)
        return float(np.mean(values * self.std**2))


# -- model building blocks ----------------------------------------------------------------------


def mlp(
    n_in: int,
    n_out: int,
    width: int,
    depth: int,
    activation: Callable[[int], nn.Module],
) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units, ``activation(width)`` after each, then a
    linear output. PyTorch's default initialisation unless the caller re-initialises."""
    layers: list[nn.Module] = []
    d = n_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), activation(width)]
        d = width
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


class Float64Front(nn.Module):
    """Runs ``layer`` (a network's first layer, activation included where it is part of the
    layer, as in SIREN's sine layer) in float64 and hands its output on as float32.

    The first layer is where the input's resolution matters: its weights multiply the raw
    (scaled) input, so a float32 input or weight would round neighbouring inputs together.
    Its cost is one ``(batch, 1) x (1, width)`` product, nothing next to the hidden layers.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.double()).float()


def float64_front(model: nn.Module) -> nn.Module:
    """``model`` (an ``nn.Sequential``) with its first module wrapped in :class:`Float64Front`."""
    if not isinstance(model, nn.Sequential) or len(model) == 0:
        raise TypeError("float64_front needs a non-empty nn.Sequential")
    if not isinstance(model[0], Float64Front):
        model[0] = Float64Front(model[0])
    return model


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def make_adam(params: Any, lr: float, device: str) -> torch.optim.Optimizer:
    """Adam, fused where torch supports it on the device (about 25% faster per step on CPU)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


# -- the fitted predictor -----------------------------------------------------------------------


#: Turns raw inputs into the network's float32 input rows ``(n, d)``: an :class:`InputScaler`,
#: or a method's own features.
Encoder = Callable[[np.ndarray], np.ndarray]


class NetPredictor:
    """A trained network with its input encoding and output decoding: ``predict(x)``."""

    def __init__(self, model: nn.Module, encoder: Encoder, coder: TargetCoder, device: str):
        self.model = model.eval()
        self.encoder = encoder
        self.coder = coder
        self.device = device
        self.n_params_ = count_params(model)

    @torch.no_grad()
    def predict(self, x: npt.ArrayLike) -> np.ndarray:
        xv = np.asarray(x)
        outs = []
        for i in range(0, max(len(xv), 1), PREDICT_BATCH):
            xb = torch.from_numpy(self.encoder(xv[i : i + PREDICT_BATCH])).to(self.device)
            outs.append(self.coder.decode(self.model(xb)))
        return np.concatenate(outs, axis=0)


# -- data ---------------------------------------------------------------------------------------


def _batches(
    task: TaskView,
    budget: Budget,
    encoder: Encoder,
    rng: np.random.Generator,
    data: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[TargetCoder, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """The target coder and an iterator of (x, y) chunks, each ``(n_steps, batch, ...)``.

    A sampler gives fresh samples for every step while the sample budget lasts; a fixed set,
    a sampler whose sample budget is smaller than ``steps * batch_size``, or the pairs a method
    already drew (``data``) are encoded once and cycled through in shuffled epochs.
    """
    bs, steps, spec = budget.batch_size, budget.steps, task.output
    fresh = data is None and task.infinite and task.samples_left >= steps * bs
    if fresh:
        first = min(CHUNK_STEPS, steps)
        x0, y0 = task.sample(first * bs)
        coder = TargetCoder.fit(spec, y0)

        def gen_fresh() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            x, y, done = x0, y0, 0
            while True:
                n = len(x) // bs
                yield encoder(x).reshape(n, bs, -1), coder.encode(y).reshape(n, bs, -1)
                done += n
                if done >= steps:
                    return
                x, y = task.sample(min(CHUNK_STEPS, steps - done) * bs)

        return coder, gen_fresh()

    if data is not None:
        x_all, y_all = data
    else:
        x_all, y_all = task.data() if task.infinite else task.train_set()
    if len(x_all) == 0:
        raise ValueError("no training data")
    coder = TargetCoder.fit(spec, y_all)
    xs, ys = encoder(x_all), coder.encode(y_all)

    def gen_fixed() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        done, order = 0, np.zeros(0, dtype=np.int64)
        while done < steps:
            n = min(CHUNK_STEPS, steps - done)
            while order.size < n * bs:
                order = np.concatenate([order, rng.permutation(len(xs))])
            idx, order = order[: n * bs], order[n * bs :]
            yield xs[idx].reshape(n, bs, -1), ys[idx].reshape(n, bs, -1)
            done += n

    return coder, gen_fixed()


# -- the loop -----------------------------------------------------------------------------------


def warm_up(
    build: Callable[[], nn.Module],
    spec: OutputSpec,
    n_in: int,
    batch_size: int,
    device: str,
    optimizer: Callable[[Any, float, str], torch.optim.Optimizer] = make_adam,
) -> None:
    """One throwaway optimiser step on a network from ``build()``, for a method's ``warm_up``.

    torch's first optimiser step pays one-off set-up costs (about a second on CPU): kernel
    loading, autograd's and the optimiser's first dispatch. Paying them here keeps them out of
    the training time. The network is built under a forked random state and stepped with a
    zero learning rate on zeros, so no random number of the run is consumed and nothing that
    ``fit`` learns depends on it.
    """
    with torch.random.fork_rng(devices=[]):
        shadow = build().to(device)
    opt = optimizer(shadow.parameters(), 0.0, device)
    n_out = spec.n_outputs
    if spec.kind == "classification":
        coder = TargetCoder(spec, np.zeros(0), np.ones(0))
        yb = torch.zeros(batch_size, n_out, dtype=torch.long, device=device)
    else:
        coder = TargetCoder(spec, np.zeros(n_out), np.ones(n_out))
        yb = torch.zeros(batch_size, n_out, device=device)
    xb = torch.zeros(batch_size, n_in, device=device, dtype=_input_dtype(shadow))
    coder.loss(shadow(xb), yb)[0].backward()
    opt.step()


def _input_dtype(model: nn.Module) -> torch.dtype:
    first = model[0] if isinstance(model, nn.Sequential) and len(model) else None
    return torch.float64 if isinstance(first, Float64Front) else torch.float32


def train(
    model: nn.Module,
    task: TaskView,
    budget: Budget,
    seed: int,
    device: str,
    log: Logger,
    *,
    lr: float,
    log_every: int = 100,
    optimizer: Callable[[Any, float, str], torch.optim.Optimizer] = make_adam,
    encoder: Encoder | None = None,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    schedule: Callable[[torch.optim.Optimizer, int], Any] | None = None,
    stop: Callable[[int], bool] | None = None,
    plateau_stop: bool = True,
) -> NetPredictor:
    """Train ``model`` (inputs ``(batch, d)``, outputs ``head_size(task.output)``) on ``task``.

    ``budget.steps`` optimiser steps of ``budget.batch_size`` samples, or fewer: at the first
    plateau of the stop rule (``log.settled()``) the learning rate drops tenfold and training
    goes on; at the next one, or at the loss floor, it stops (``plateau_stop=False`` trains on
    regardless); ``stop(step)`` (asked at every logged step) may also end the fit. ``encoder``
    turns inputs into network rows (default: the domain scaled to [-1, 1], ``d = 1``); ``data``
    are training pairs the method already drew, used instead of drawing more;
    ``schedule(opt, steps)`` builds a learning-rate scheduler, stepped after every optimiser
    step. Returns the fitted :class:`NetPredictor`.
    """
    rng = np.random.default_rng(seed)
    if encoder is None:
        dtype = "float64" if _input_dtype(model) == torch.float64 else "float32"
        encoder = InputScaler.from_domain(task.domain, dtype)
    encode = encoder
    model = model.to(device)
    coder, chunks = _batches(task, budget, encode, rng, data)
    opt = optimizer(model.parameters(), lr, device)
    sched = schedule(opt, budget.steps) if schedule is not None else None

    step = 0
    drops_left = LR_DROPS
    running: torch.Tensor | float = 0.0
    since = 0
    model.train()
    done = False
    for xc, yc in chunks:
        x_dev = torch.from_numpy(xc).to(device)
        y_dev = torch.from_numpy(yc).to(device)
        for j in range(x_dev.shape[0]):
            loss, parts = coder.loss(model(x_dev[j]), y_dev[j])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            running = running + parts  # stays on the device: no sync until the log
            since += 1
            step += 1
            if step % log_every == 0 or step == budget.steps:
                log(step, coder.in_task_units(running / since))  # type: ignore[operator]
                running, since = 0.0, 0
                if plateau_stop and step < budget.steps and log.settled():
                    if drops_left and not log.at_floor():  # reduce on plateau, then go on
                        for group in opt.param_groups:
                            group["lr"] *= LR_DROP
                        drops_left -= 1
                        log.restart_plateau()
                    else:
                        done = True
                if not done and stop is not None and step < budget.steps:
                    done = stop(step)
                if done:
                    break
        if done:
            break
    return NetPredictor(model, encode, coder, device)
