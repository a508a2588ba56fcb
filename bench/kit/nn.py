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
  (``log.settled()``, see ``bench.core.stop``) the learning rate drops tenfold; at the next,
  or at the loss floor, training stops.
- **Seeds in one model**: :func:`train_seeds` trains the networks of several seeds as one
  batched model (``torch.func.stack_module_state``; the forward pass one ``baddbmm`` per
  linear layer over the seed axis, ``vmap`` for a module that needs it): every seed keeps its own
  initialisation, data stream, target coder, learning rate and stop, so one seed trained alone
  and the same seed inside a batch follow the same arithmetic (a test checks this). The
  optimiser is Adam written over the stacked parameters (:class:`StackedAdam`), with one
  learning rate per seed; a seed that stops gets learning rate 0 and a frozen log.
- **Warm-up**: :func:`warm_up` pays torch's one-off set-up (the first optimiser step) on a
  throwaway network, for a method's ``warm_up`` hook, so that the loop's time is the loop's.

A method with its own input representation (periodic features of discovered periods, say)
passes an ``encoder`` and the training pairs it already drew; the loop, heads and predictor
stay the same.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from bench.core.contracts import Budget, Logger, OutputSpec, TaskView
from bench.core.stop import LR_DROP, LR_DROPS
from bench.kit.batches import Epochs, fresh_for_run
from bench.kit.graphs import GraphWindow

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

    def in_task_units(self, parts: torch.Tensor | np.ndarray) -> float:
        """Mean accumulated loss parts as the number the log shows: the MSE of the targets as
        given (averaged over outputs), or the summed cross-entropy."""
        if isinstance(parts, torch.Tensor):
            parts = parts.double().cpu().numpy()
        values = np.asarray(parts, dtype=np.float64)
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
    fresh = data is None and fresh_for_run(task, steps, bs)
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
        done, epochs = 0, Epochs(len(xs), rng)
        while done < steps:
            n = min(CHUNK_STEPS, steps - done)
            idx = epochs.take(n * bs)
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


# -- several seeds as one batched model ---------------------------------------------------------


class SeedStack:
    """The networks of ``S`` seeds (one architecture) as one model: parameters stacked on a
    leading seed axis, the forward pass ``vmap``-ed over it.

    ``stack(x)`` takes ``(S, batch, d)`` and returns ``(S, batch, outputs)``. Gradients of the
    summed per-seed losses reach each seed's parameters exactly as its own loss's gradient
    would. :meth:`unstack` writes the trained values back into the seeds' own modules.

    A stack of one seed carries a second, idle copy (``size`` is then 2, its learning rate 0):
    for a batch of one, the CPU's matrix library takes another kernel for a one-column
    product (the output layer), whose rounding differs; with the copy, one seed alone follows
    exactly the arithmetic it follows inside a batch.

    Stacked matrices (three axes: seed, rows, columns) are stored transposed, and the forward
    pass reads them through a transposing view (:meth:`param` gives the module's layout). For
    ``x @ W.T`` autograd then returns each weight's gradient in the storage's own contiguous
    layout; stored as the module has them, the gradient came back transposed and was copied
    before every Adam step. The values, and so every result, are the same bit for bit; on a
    CPU a step of the three-seed 256-wide SIREN takes about 40% less time.

    The forward pass runs on a *batched copy* of the architecture where it can
    (:class:`_BatchedForward`): every ``nn.Linear`` becomes one ``baddbmm`` over the seed axis
    and every other module runs as written, its per-channel parameters broadcast over the seed
    axis. That spares ``vmap``'s per-operation dispatch, which dominates a small network's step
    (a three-seed SIREN step at batch 32 on one CPU thread: 3.5 ms with ``vmap`` against 1.9 ms
    at width 128). A module whose forward the batched copy cannot run, or runs differently (it
    indexes axes, say), is caught when the stack is built: both passes run on a probe input,
    and unless they agree the stack keeps ``vmap``.
    """

    #: The smallest stack, see the class doc.
    MIN_SIZE = 2

    def __init__(self, models: Sequence[nn.Module], device: str) -> None:
        self.models = [m.to(device) for m in models]
        self.n = len(self.models)
        #: Which of ``models`` each row of the stack holds (rows leave with :meth:`keep`).
        self.index = list(range(self.n))
        padding = [copy.deepcopy(self.models[0]) for _ in range(self.MIN_SIZE - self.n)]
        params, buffers = stack_module_state([*self.models, *padding])  # type: ignore[arg-type]
        #: The parameters stored transposed (see the class doc).
        self.flipped = frozenset(k for k, v in params.items() if v.dim() == 3)
        self.params = {
            k: v.detach().mT.contiguous().requires_grad_(True) if k in self.flipped else v
            for k, v in params.items()
        }
        self.buffers = buffers
        self.size = self.n + len(padding)
        template = copy.deepcopy(self.models[0]).to("meta")

        def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor):
            return functional_call(template, (p, b), (x,))

        self._forward = torch.vmap(one)
        self._batched = _BatchedForward.build(self)

    def param(self, name: str) -> torch.Tensor:
        """The stacked parameter ``name`` in the module's layout (a view)."""
        value = self.params[name]
        return value.mT if name in self.flipped else value

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.size > self.n:
            x = torch.cat([x, x[:1].expand(self.size - self.n, *x.shape[1:])])
            return self._run(x)[: self.n]
        return self._run(x)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if self._batched is not None:
            return self._batched(self.params, self.buffers, x)
        return self._vmapped(x)

    def _vmapped(self, x: torch.Tensor) -> torch.Tensor:
        """The reference forward pass: the module's own, ``vmap``-ed over the seed axis."""
        return self._forward({k: self.param(k) for k in self.params}, self.buffers, x)

    @property
    def batched(self) -> bool:
        """Whether the forward pass runs on the batched copy (else on ``vmap``)."""
        return self._batched is not None

    def padded(self, values: Sequence[float], fill: float = 0.0) -> list[float]:
        """Per-seed ``values`` extended to the stack's size (the idle copy gets ``fill``)."""
        return [*map(float, values), *([fill] * (self.size - self.n))]

    @torch.no_grad()
    def _write_back(self, rows: Sequence[int]) -> None:
        for row in rows:
            for name, p in self.models[self.index[row]].named_parameters():
                p.copy_(self.param(name)[row])

    @torch.no_grad()
    def keep(self, mask: np.ndarray) -> list[int]:
        """Keep only the rows in ``mask`` (over the stack's real seeds); the others' trained
        values go back into their modules now. Returns the rows kept, padding included, for
        the optimiser's state (:meth:`StackedAdam.keep`)."""
        mask = np.asarray(mask, dtype=bool)
        self._write_back(np.flatnonzero(~mask).tolist())
        rows = np.flatnonzero(mask).tolist()
        self.index = [self.index[r] for r in rows]
        self.n = len(rows)
        rows += rows[:1] * (self.MIN_SIZE - self.n)
        self.size = len(rows)
        self.params = {k: v[rows].clone().requires_grad_(True) for k, v in self.params.items()}
        self.buffers = {k: v[rows].clone() for k, v in self.buffers.items()}
        return rows

    def unstack(self) -> list[nn.Module]:
        self._write_back(range(self.n))
        return self.models


class _StackedLinear(nn.Module):
    """``nn.Linear`` for a stack of seeds: ``weight`` ``(S, in, out)`` (the stack's transposed
    storage), ``bias`` ``(S, 1, out)``, input ``(S, batch, in)``, one ``baddbmm``."""

    def __init__(self, has_bias: bool) -> None:
        super().__init__()
        self.has_bias = has_bias
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return torch.bmm(x, self.weight)  # type: ignore[arg-type]
        return torch.baddbmm(self.bias, x, self.weight)  # type: ignore[arg-type]


class _BatchedForward:
    """The forward pass of a :class:`SeedStack` without ``vmap``: a copy of the architecture
    whose ``nn.Linear`` modules are :class:`_StackedLinear` and whose other modules run on
    ``(S, batch, ...)`` activations, each tensor they hold bound to its stacked value, shaped
    to broadcast over the seed axis (a per-channel ``(S, C)`` becomes ``(S, 1, C)``, a scalar's
    ``(S,)`` becomes ``(S, 1, 1)``; matrices stay ``(S, rows, columns)`` for batched products).

    :meth:`build` returns one only if it reproduces the ``vmap``-ed pass on a probe input.
    """

    #: How close the probe's two passes must agree (they differ only in summation order).
    RTOL, ATOL = 1e-4, 1e-5

    def __init__(self, template: nn.Module, stack: SeedStack) -> None:
        self.template = template
        #: (module, attribute, stack key, how the stacked value is bound)
        self.slots: list[tuple[nn.Module, str, str, str]] = []
        for mod in list(template.modules()):
            for child_name, child in list(mod.named_children()):
                if type(child) is nn.Linear:
                    setattr(mod, child_name, _StackedLinear(child.bias is not None))
        for key in [*stack.params, *stack.buffers]:
            path, _, attr = key.rpartition(".")
            mod = template.get_submodule(path)
            if isinstance(mod, _StackedLinear):
                how = "storage" if attr == "weight" else "row"
            elif key in stack.flipped:  # a matrix stored transposed: the module's layout
                how = "matrix"
            else:
                how = "broadcast"
            mod._parameters.pop(attr, None)
            mod._buffers.pop(attr, None)
            self.slots.append((mod, attr, key, how))

    @classmethod
    def build(cls, stack: SeedStack) -> _BatchedForward | None:
        template = copy.deepcopy(stack.models[0])
        try:
            fast = cls(template, stack)
            probe = fast._probe_input(stack)
            if probe is None:
                return None
            with torch.no_grad():
                want = stack._vmapped(probe)
                got = fast(stack.params, stack.buffers, probe)
        except Exception:  # any module the copy cannot run keeps vmap
            return None
        if got.shape != want.shape or got.dtype != want.dtype:
            return None
        if not torch.allclose(got, want, rtol=cls.RTOL, atol=cls.ATOL):
            return None
        return fast

    @staticmethod
    def _probe_input(stack: SeedStack) -> torch.Tensor | None:
        """A fixed ``(S, 5, d)`` input spread over [-1, 1], in the network's input dtype: ``d``
        is 1 (a network on the scaled input, as every ``NetMethod`` builds) or, where the
        ``vmap``-ed pass rejects that, the first linear layer's input width."""
        model = stack.models[0]
        dtype = _input_dtype(model)
        device = next(iter(stack.params.values())).device
        first = next((m for m in model.modules() if isinstance(m, nn.Linear)), None)
        for d in dict.fromkeys([1, first.in_features if first is not None else 1]):
            grid = torch.linspace(-1.0, 1.0, 5 * d, dtype=dtype, device=device)
            probe = grid.reshape(1, 5, d).expand(stack.size, -1, -1).contiguous()
            try:
                with torch.no_grad():
                    stack._vmapped(probe)
            except RuntimeError:
                continue
            return probe
        return None

    def __call__(
        self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], x: torch.Tensor
    ) -> torch.Tensor:
        for mod, attr, key, how in self.slots:
            value = params[key] if key in params else buffers[key]
            if how == "row":
                value = value.unsqueeze(1)
            elif how == "matrix":
                value = value.mT
            elif how == "broadcast" and value.dim() <= 2:
                value = value.reshape(value.shape[0], *([1] * (3 - value.dim())), *value.shape[1:])
            object.__setattr__(mod, attr, value)
        return self.template(x)


class StackedAdam:
    """Adam (Kingma and Ba; torch's defaults: betas 0.9 and 0.999, eps 1e-8, no weight decay)
    over stacked parameters, with one learning rate per seed (:meth:`set_lr`); learning rate 0
    leaves a seed's parameters exactly where they are. ``weight_decay`` above 0 makes it AdamW
    (Loshchilov and Hutter: the parameters shrink by ``lr * weight_decay`` before the Adam
    step, as ``torch.optim.AdamW`` does).

    Every quantity that changes between steps (the step count, the learning rates) is a tensor
    updated in place, so that a whole training step can be captured in a CUDA graph.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lr: Sequence[float],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        self.b1, self.b2, self.eps = float(betas[0]), float(betas[1]), float(eps)
        self.weight_decay = float(weight_decay)
        device = self.params[0].device
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = torch.zeros((), dtype=torch.float64, device=device)
        self._dtypes = sorted({p.dtype for p in self.params}, key=str)
        self._new_lr_buffers(len(lr))
        #: On a CPU each seed's rows are stepped by torch's fused Adam kernel, one call per
        #: learning rate and dtype (several times faster than the step written out); on CUDA the
        #: written-out step, whose learning rates are tensors a captured graph reads.
        self.rowwise = device.type == "cpu"
        self._row_step = torch.zeros((), dtype=torch.float32)
        self._lr_host = np.zeros(0)
        self._groups: list[tuple[float, list[tuple[int, int]], list[list[torch.Tensor]]]] = []
        self.set_lr(lr)

    def _new_lr_buffers(self, n: int) -> None:
        """One learning-rate buffer of ``n`` rows per parameter dtype, and each parameter's
        view of its own, shaped to broadcast over the parameter's trailing axes."""
        device = self.params[0].device
        self._lr = {dt: torch.zeros(n, dtype=dt, device=device) for dt in self._dtypes}
        self._lr_views = [self._lr[p.dtype].view(-1, *([1] * (p.dim() - 1))) for p in self.params]

    def _make_groups(self) -> None:
        """For the row-wise step: per (learning rate above 0, dtype), the (parameter, row) pairs
        it updates and their parameter, first-moment and second-moment rows. Rebuilt only when
        the learning rates or the stack change."""
        self._groups = []
        for lr in np.unique(self._lr_host[self._lr_host > 0]):
            rows = np.flatnonzero(self._lr_host == lr).tolist()
            for dtype in self._dtypes:
                pairs = [
                    (j, r) for j, p in enumerate(self.params) if p.dtype == dtype for r in rows
                ]
                views = [[t[j][r] for j, r in pairs] for t in (self.params, self.m, self.v)]
                self._groups.append((float(lr), pairs, views))

    def _step_rows(self, grads: list[torch.Tensor]) -> None:
        """Adam on each seed's own rows (one tensor per seed and parameter, so a seed's
        arithmetic does not depend on the others), skipping seeds at learning rate 0."""
        self.t += 1
        self._row_step += 1
        # The fused kernel walks memory flat: a gradient autograd left transposed is copied.
        grads = [g.contiguous() for g in grads]
        fused = torch._fused_adamw_ if self.weight_decay > 0 else torch._fused_adam_
        for lr, pairs, (params, m, v) in self._groups:
            fused(
                params,
                [grads[j][r] for j, r in pairs],
                m,
                v,
                [],
                [self._row_step] * len(params),
                amsgrad=False,
                lr=lr,
                beta1=self.b1,
                beta2=self.b2,
                weight_decay=self.weight_decay,
                eps=self.eps,
                maximize=False,
            )

    def keep(self, rows: Sequence[int], params: Sequence[torch.Tensor]) -> None:
        """Follow :meth:`SeedStack.keep`: the moments of the ``rows`` kept, the new stacked
        ``params``, and learning-rate buffers of the new size (set them with :meth:`set_lr`)."""
        self.params = list(params)
        self.m = [t[list(rows)].clone() for t in self.m]
        self.v = [t[list(rows)].clone() for t in self.v]
        self._new_lr_buffers(len(rows))
        self._lr_host = np.zeros(len(rows))  # like the new buffers, until set_lr
        self._groups = []

    def state(self) -> list[torch.Tensor]:
        """Every tensor a step changes besides the parameters."""
        return [*self.m, *self.v, self.t]

    def set_lr(self, lr: Sequence[float]) -> None:
        """Per-seed learning rates, written in place."""
        self._lr_host = np.asarray(lr, dtype=np.float64).copy()
        values = torch.as_tensor(self._lr_host)
        for buf in self._lr.values():
            buf.copy_(values)
        if self.rowwise:
            self._make_groups()

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        grads = list(grads)
        if self.rowwise:
            self._step_rows(grads)
            return
        self.t += 1
        if self.weight_decay > 0:  # decoupled: each seed's parameters shrink by lr * wd
            torch._foreach_mul_(self.params, [1 - self.weight_decay * lr for lr in self._lr_views])
        bc1 = 1 - self.b1**self.t
        sqrt_bc2 = torch.sqrt(1 - self.b2**self.t)
        torch._foreach_lerp_(self.m, grads, 1 - self.b1)
        torch._foreach_mul_(self.v, self.b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1 - self.b2)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, sqrt_bc2)
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(self.m, denom)
        torch._foreach_mul_(update, self._lr_views)
        torch._foreach_div_(update, bc1)
        torch._foreach_sub_(self.params, update)


def stacked_loss(
    spec: OutputSpec, out: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:meth:`TargetCoder.loss` for ``S`` seeds at once: ``out`` is ``(S, batch, outputs)``.

    Returns (the loss of each seed, ``(S,)``; each seed's parts for the log, ``(S, ...)``).
    """
    if spec.kind == "classification":
        n_seeds, batch = out.shape[0], out.shape[1]
        blocks = torch.split(out, list(spec.classes or ()), dim=2)
        ce = sum(
            nn.functional.cross_entropy(
                blk.reshape(n_seeds * batch, -1), target[..., j].reshape(-1), reduction="none"
            )
            .view(n_seeds, batch)
            .mean(dim=1)
            for j, blk in enumerate(blocks)
        )
        return ce, ce.detach()  # type: ignore[union-attr]
    per_output = ((out - target) ** 2).mean(dim=1)
    return per_output.mean(dim=1), per_output.detach()


def warm_up_stacked(
    build: Callable[[], nn.Module], spec: OutputSpec, batch_size: int, device: str
) -> None:
    """:func:`warm_up` for :func:`train_seeds`: one throwaway step of a one-seed stack with
    learning rate 0 (vmap's and autograd's first dispatch), consuming no random number."""
    with torch.random.fork_rng(devices=[]):
        shadow = build()
    stack = SeedStack([shadow], device)
    params = list(stack.params.values())
    opt = StackedAdam(params, stack.padded([0.0]))
    n_out = spec.n_outputs
    if spec.kind == "classification":
        yb = torch.zeros(1, batch_size, n_out, dtype=torch.long, device=device)
    else:
        yb = torch.zeros(1, batch_size, n_out, device=device)
    xb = torch.zeros(1, batch_size, 1, device=device, dtype=_input_dtype(shadow))
    loss, _ = stacked_loss(spec, stack(xb), yb)
    opt.step(torch.autograd.grad(loss.sum(), params))


def train_seeds(
    models: Sequence[nn.Module],
    tasks: Sequence[TaskView],
    budget: Budget,
    seeds: Sequence[int],
    device: str,
    log: Logger,
    *,
    lr: float,
    weight_decay: float = 0.0,
    log_every: int = 100,
    graphs: bool | None = None,
) -> list[NetPredictor]:
    """Train one network per seed (``models[i]`` on ``tasks[i]``, data drawn with ``seeds[i]``)
    as one batched model; returns one :class:`NetPredictor` per seed.

    The same loop as :func:`train`, per seed: inputs scaled to [-1, 1] (float64 through a
    :class:`Float64Front`), fresh batches or shuffled epochs, Adam at ``lr`` (AdamW where
    ``weight_decay`` is above 0), the mean training
    loss logged every ``log_every`` steps, and the declared stop rule applied to each seed on
    its own: at its first plateau its learning rate drops tenfold, at its next (or at the loss
    floor) it stops, with learning rate 0 and its log frozen (``log.stop_seeds``). Training
    ends when every seed has stopped or the step budget is spent.

    On CUDA (or where ``graphs`` says so) each window of ``log_every`` steps is captured once
    as a CUDA graph and replayed (:class:`bench.kit.graphs.GraphWindow`); the capture is timed
    as the ``compile`` phase.
    """
    n_seeds = len(models)
    spec = tasks[0].output
    dtype = "float64" if _input_dtype(models[0]) == torch.float64 else "float32"
    encoders = [InputScaler.from_domain(t.domain, dtype) for t in tasks]
    streams = [
        _batches(t, budget, enc, np.random.default_rng(seed))
        for t, enc, seed in zip(tasks, encoders, seeds, strict=True)
    ]
    coders = [coder for coder, _ in streams]
    stack = SeedStack(models, device)
    params = list(stack.params.values())
    lrs = np.full(n_seeds, float(lr))
    opt = StackedAdam(params, stack.padded(lrs), weight_decay=weight_decay)

    parts_tail = () if spec.kind == "classification" else (spec.n_outputs,)
    # On a CPU the cost grows with the seeds in the stack, so a seed that stopped leaves it; on
    # a GPU a step costs about the same for any number of seeds, and the captured graphs stay.
    compact = not device.startswith("cuda")
    active = np.arange(n_seeds)  # the seeds in the stack, in its row order

    def build() -> tuple[torch.Tensor, GraphWindow]:
        params = list(stack.params.values())
        running = torch.zeros((stack.n, *parts_tail), device=device)  # summed since the log

        def one_step(x: torch.Tensor, y: torch.Tensor) -> None:
            loss, parts = stacked_loss(spec, stack(x), y)
            opt.step(torch.autograd.grad(loss.sum(), params))
            running.add_(parts)  # stays on the device: no sync until the log

        state = [*params, *opt.state(), running]
        return running, GraphWindow(one_step, log_every, graphs, device, state, log)

    running, window = build()
    step, since = 0, 0
    drops_left = np.full(n_seeds, LR_DROPS)
    stopped = np.zeros(n_seeds, dtype=bool)
    for chunk in zip(*(batches for _, batches in streams), strict=True):
        x_dev = torch.from_numpy(np.stack([xc for xc, _ in chunk], axis=1)).to(device)
        y_dev = torch.from_numpy(np.stack([yc for _, yc in chunk], axis=1)).to(device)
        if active.size < n_seeds:
            x_dev, y_dev = x_dev[:, active], y_dev[:, active]
        pos = 0
        while pos < x_dev.shape[0] and not stopped.all():
            k = min(log_every - step % log_every, x_dev.shape[0] - pos)
            window(x_dev[pos : pos + k], y_dev[pos : pos + k])
            pos, step, since = pos + k, step + k, since + k
            if not (step % log_every == 0 or step == budget.steps):
                continue
            mean = (running / since).double().cpu().numpy()
            losses = np.zeros(n_seeds)  # seeds no longer in the stack: frozen by the log
            for row, seed_i in enumerate(active):
                losses[seed_i] = coders[seed_i].in_task_units(mean[row])
            log(step, losses)
            running.zero_()
            since = 0
            if step >= budget.steps or not _plateau_schedule(log, lrs, drops_left, stopped, step):
                continue
            if compact and stopped[active].any() and not stopped.all():
                keep = ~stopped[active]
                rows = stack.keep(keep)
                opt.keep(rows, list(stack.params.values()))
                active = active[keep]
                x_dev, y_dev = x_dev[:, keep], y_dev[:, keep]
                running, window = build()
            opt.set_lr(stack.padded(lrs[active]))
        if stopped.all():
            break
    return [
        NetPredictor(model, enc, coder, device)
        for model, enc, coder in zip(stack.unstack(), encoders, coders, strict=True)
    ]


def _plateau_schedule(
    log: Logger, lrs: np.ndarray, drops_left: np.ndarray, stopped: np.ndarray, step: int
) -> bool:
    """Reduce on plateau, then stop, per seed (arrays updated in place); whether ``lrs``
    changed."""
    new = log.settled_seeds() & ~stopped
    if not new.any():
        return False
    at_floor = log.plateau.at_floor
    drop = new & (drops_left > 0) & ~at_floor
    end = new & ~drop
    lrs[drop] *= LR_DROP
    drops_left[drop] -= 1
    log.restart_plateau(drop)
    lrs[end] = 0.0
    stopped |= end
    log.stop_seeds(end, step)
    return True
