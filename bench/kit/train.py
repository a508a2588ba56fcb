"""The one training loop of the neural-network methods (SIREN, Snake, GELU MLP, the hybrid's
classifier, KAN and the rest).

One loop, so that the networks differ only in their layers: the same data handling, logging,
stop rule, learning-rate drops and device placement for all of them. :func:`train_seeds` is
the loop; :func:`train`, for one network a method builds and trains itself, is the same loop
with one seed.

- **Data** comes from the task's sampler in chunks (fresh batches every step, as in the original
  experiment) or, for fixed-data tasks, as minibatches drawn from the training set in shuffled
  epochs (:func:`_batches`). Each seed draws with its own generator.
- **Logging and stopping**: ``log(step, losses)`` every ``log_every`` steps with each seed's mean
  training loss since the last call, in the task's units (MSE of the targets as given; summed
  cross-entropy for classification). The stop rule and its reduce-on-plateau are the method's
  :class:`bench.core.stop.StopPolicy`, which the logger applies (``log.on_plateau``): at a
  seed's first plateau its learning rate drops tenfold; at its next, or at the loss floor, it
  stops, its log frozen. Training ends when every seed has stopped or the step budget is spent.
- **Steps** are a stepper's (``bench.kit.steppers``): the seeds of a ``NetMethod`` as one
  batched model with one Adam learning rate per seed, so that one seed trained alone and the
  same seed inside a batch follow the same arithmetic (a test checks this); or one network with
  the torch optimiser and scheduler its method chose.
- **Warm-up**: :func:`warm_up` and :func:`warm_up_stacked` pay torch's one-off set-up (the
  first optimiser step) on a throwaway network, for a method's ``warm_up`` hook, so that the
  loop's time is the loop's.

A method with its own input representation (periodic features of discovered periods, say)
passes an ``encoder`` and the training pairs it already drew; the loop, heads and predictor
stay the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from bench.core.contracts import Budget, Logger, OutputSpec, TaskView
from bench.core.stop import StopPolicy
from bench.kit.batches import Epochs, fresh_for_run
from bench.kit.nn import Encoder, InputScaler, NetPredictor, TargetCoder, input_dtype, make_adam
from bench.kit.steppers import (
    ModuleStepper,
    Optimizer,
    Schedule,
    StackStepper,
    Stepper,
    ValSet,
)
from bench.kit.validation import Plan, plan_validation

#: Steps of data drawn from a sampler at a time (bounded memory, few calls to the task).
CHUNK_STEPS = 1000

#: Builds the stepper for the seeds' networks once their data's target coders are known:
#: ``(models, coders, lr, device)``.
StepperFactory = Callable[[Sequence[nn.Module], Sequence[TargetCoder], float, str], Stepper]

# -- data ---------------------------------------------------------------------------------------


class Stream(NamedTuple):
    """One seed's training data: the target coder, the chunks of (x, y) pairs, each
    ``(n_steps, batch, ...)``, and the validation set (encoded; ``None``: the window's loss on
    fresh batches stands in for it, or the run is judged at its last state) with its plan."""

    coder: TargetCoder
    chunks: Iterator[tuple[np.ndarray, np.ndarray]]
    val: ValSet | None
    plan: Plan | None


def _batches(
    task: TaskView,
    budget: Budget,
    encoder: Encoder,
    rng: np.random.Generator,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    validate: bool = False,
) -> Stream:
    """One seed's :class:`Stream`.

    A sampler gives fresh samples for every step while the sample budget lasts; a fixed set,
    a sampler whose sample budget is smaller than ``steps * batch_size``, or the pairs a method
    already drew (``data``) are encoded once and cycled through in shuffled epochs. Where the
    run is judged at its best state (``validate``), the validation set is carved first
    (``bench.kit.validation``), and a held-out pool replaces the fixed data.
    """
    bs, steps = budget.batch_size, budget.steps
    fresh = data is None and fresh_for_run(task, steps, bs)
    plan = plan_validation(task, budget, rng, data, fresh) if validate else None
    if plan is not None and plan.pool is not None:
        data, fresh = plan.pool, False
    coder, chunks = _chunks(task, budget, encoder, rng, data, fresh)
    val = None
    if plan is not None and plan.pairs is not None:
        xv, yv = plan.pairs
        val = (encoder(xv), coder.encode(yv))
    return Stream(coder, chunks, val, plan)


def _chunks(
    task: TaskView,
    budget: Budget,
    encoder: Encoder,
    rng: np.random.Generator,
    data: tuple[np.ndarray, np.ndarray] | None,
    fresh: bool,
) -> tuple[TargetCoder, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """The target coder and the chunks: fresh from the sampler, or ``data`` (else the task's
    whole training data) in shuffled epochs."""
    bs, steps, spec = budget.batch_size, budget.steps, task.output
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


def train_seeds(
    models: Sequence[nn.Module],
    tasks: Sequence[TaskView],
    budget: Budget,
    seeds: Sequence[int],
    device: str,
    log: Logger,
    *,
    lr: float | Sequence[float],
    weight_decay: float = 0.0,
    log_every: int = 100,
    graphs: bool | None = None,
    policy: StopPolicy | None = None,
    encoders: Sequence[Encoder] | None = None,
    data: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
    stepper: StepperFactory | None = None,
    stop: Callable[[int], bool] | None = None,
    plateau_stop: bool = True,
) -> list[NetPredictor]:
    """Train one network per seed (``models[i]`` on ``tasks[i]``, data drawn with ``seeds[i]``);
    returns one :class:`NetPredictor` per seed.

    Per seed: inputs encoded by ``encoders[i]`` (default: the domain scaled to [-1, 1], float64
    through a ``Float64Front``), training pairs drawn fresh or ``data[i]`` where given, Adam at
    ``lr`` (one value, or one per seed: the members of a fleet, ``bench.engine.fleet``; AdamW
    where ``weight_decay`` is above 0), the mean training loss logged every
    ``log_every`` steps, and ``policy`` (default: the one ``log`` judges by) applied to each
    seed on its own, unless ``plateau_stop`` is off; ``stop(step)``, asked at every logged step,
    may also end the fit. ``stepper`` builds another stepper than the batched model (see
    :func:`train`).

    On CUDA (or where ``graphs`` says so) each window of ``log_every`` steps of the batched
    model is captured once as a CUDA graph and replayed (``bench.kit.graphs.GraphWindow``); the
    capture is timed as the ``compile`` phase.
    """
    policy = log.adopt(policy)
    if encoders is None:
        dtype = "float64" if input_dtype(models[0]) == torch.float64 else "float32"
        encoders = [InputScaler.from_domain(t.domain, dtype) for t in tasks]
    pairs = [None] * len(models) if data is None else data
    best = policy.judge == "best"
    streams = [
        _batches(t, budget, enc, np.random.default_rng(seed), d, validate=best)
        for t, enc, seed, d in zip(tasks, encoders, seeds, pairs, strict=True)
    ]
    coders = [s.coder for s in streams]
    if best:
        log.validation = [s.plan.describe() for s in streams if s.plan is not None]
    if stepper is None:
        steps: Stepper = StackStepper(
            models, tasks[0].output, device, lr, log,
            weight_decay=weight_decay, log_every=log_every, graphs=graphs,
        )  # fmt: skip
    else:
        rates = np.unique(np.asarray(lr, dtype=float))
        if rates.size != 1:
            raise ValueError("a stepper other than the batched model takes one learning rate")
        steps = stepper(models, coders, float(rates[0]), device)
    stopped = np.zeros(len(models), dtype=bool)
    chunks = live_chunks([s.chunks for s in streams], stopped)
    vals = [s.val for s in streams] if best else None
    _loop(steps, chunks, coders, budget, log, policy, log_every, stop, plateau_stop, vals, stopped)
    fitted = [
        NetPredictor(model, enc, coder, device)
        for model, enc, coder in zip(steps.trained(), encoders, coders, strict=True)
    ]
    for pred, last in zip(fitted, steps.final() or [], strict=False):
        pred.final = NetPredictor(last, pred.encoder, pred.coder, device)
    return fitted


def live_chunks(
    chunks: Sequence[Iterable[tuple[np.ndarray, np.ndarray]]], stopped: np.ndarray
) -> Iterator[tuple[tuple[np.ndarray, np.ndarray], ...]]:
    """Every seed's next chunk, side by side, drawn only for the seeds not ``stopped`` (an
    array the training loop updates): a stopped seed gets zeros of its chunk's shape, which
    the stepper drops, so that its data stream, and the samples its record counts, end where
    it stopped, alone or beside seeds that train on (a fleet's members)."""
    its = [iter(c) for c in chunks]
    shapes: list[tuple[tuple[int, ...], np.dtype, tuple[int, ...], np.dtype]] = []
    while not stopped.all():
        drawn: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i, it in enumerate(its):
            if not stopped[i]:
                nxt = next(it, None)
                if nxt is None:
                    return
                drawn[i] = nxt
        if not shapes:  # the first chunk: every seed draws it
            shapes = [(x.shape[1:], x.dtype, y.shape[1:], y.dtype) for x, y in drawn.values()]
        n = next(iter(drawn.values()))[0].shape[0]
        yield tuple(
            drawn[i]
            if i in drawn
            else (
                np.zeros((n, *shapes[i][0]), shapes[i][1]),
                np.zeros((n, *shapes[i][2]), shapes[i][3]),
            )
            for i in range(len(its))
        )


def _loop(
    steps: Stepper,
    chunks: Iterator[tuple[tuple[np.ndarray, np.ndarray], ...]],
    coders: Sequence[TargetCoder],
    budget: Budget,
    log: Logger,
    policy: StopPolicy,
    log_every: int,
    stop: Callable[[int], bool] | None,
    plateau_stop: bool,
    vals: Sequence[ValSet | None] | None = None,
    stopped: np.ndarray | None = None,
) -> None:
    """Step through ``chunks`` a log window at a time; after each logged window, score the
    seeds on their validation sets (``vals``; the window's loss where a seed has none) and
    keep the best states, then let the policy (and ``stop``) decide which seeds drop their
    learning rate and which stop."""
    step, since = 0, 0
    stopped = np.zeros(len(coders), dtype=bool) if stopped is None else stopped
    for chunk in chunks:
        x, y = steps.take(chunk)
        pos = 0
        while pos < x.shape[0] and not stopped.all():
            k = min(log_every - step % log_every, x.shape[0] - pos)
            steps.run(x[pos : pos + k], y[pos : pos + k])
            pos, step, since = pos + k, step + k, since + k
            if not (step % log_every == 0 or step == budget.steps):
                continue
            window = steps.losses(coders, since)
            log(step, window)
            since = 0
            if vals is not None:
                _keep_best(steps, log, step, vals, coders, np.where(stopped, np.nan, window))
            if step >= budget.steps:
                continue
            drop, end = _decide(log, step, stop, plateau_stop)
            if drop.any() or end.any():
                stopped |= end
                keep = steps.settle(drop, end, policy.lr_drop)
                if keep is not None:
                    x, y = x[:, keep], y[:, keep]
        if stopped.all():
            break


def _keep_best(
    steps: Stepper,
    log: Logger,
    step: int,
    vals: Sequence[ValSet | None],
    coders: Sequence[TargetCoder],
    window: np.ndarray,
) -> None:
    """Score the running seeds on validation data and keep each one's state where it is the
    best so far; a seed without a validation set is scored by its window's loss, which was
    measured on fresh batches before the model stepped on them."""
    scores = steps.validate(vals, coders)
    scores = np.where([v is None for v in vals], window, scores)
    improved = log.note_validation(step, scores)
    if improved.any():
        steps.snapshot(improved)


def _decide(
    log: Logger, step: int, stop: Callable[[int], bool] | None, plateau_stop: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(drop, end)`` at a logged step before the budget's end: the policy's reduce-on-plateau
    where ``plateau_stop`` is on, then the method's own ``stop``, which ends every seed left."""
    drop = end = np.zeros(log.n_seeds, dtype=bool)
    if plateau_stop:
        drop, end = log.on_plateau(step)
    running = log.stop_step < 0
    if stop is not None and running.any() and stop(step):
        log.stop_seeds(running, step)
        end = end | running
    return drop, end


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
    optimizer: Optimizer = make_adam,
    encoder: Encoder | None = None,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    schedule: Schedule | None = None,
    stop: Callable[[int], bool] | None = None,
    plateau_stop: bool = True,
    policy: StopPolicy | None = None,
) -> NetPredictor:
    """Train ``model`` (inputs ``(batch, d)``, outputs ``head_size(task.output)``) on ``task``:
    :func:`train_seeds` with one seed, the network stepped as it is by ``optimizer``.

    For a method that builds one network and trains it itself, with its own optimiser, a
    learning-rate ``schedule(opt, steps)`` (a scheduler stepped after every optimiser step),
    its own ``encoder`` and training ``data``, or a module the batched model cannot hold.
    ``plateau_stop=False`` trains on regardless of the stop policy. Returns the fitted
    :class:`NetPredictor`.
    """

    def single(
        models: Sequence[nn.Module], coders: Sequence[TargetCoder], lr: float, device: str
    ) -> Stepper:
        (net,), (coder,) = models, coders
        return ModuleStepper(net, coder, device, lr, budget.steps, optimizer, schedule)

    (fitted,) = train_seeds(
        [model], [task], budget, [seed], device, log,
        lr=lr, log_every=log_every, policy=policy,
        encoders=None if encoder is None else [encoder],
        data=None if data is None else [data],
        stepper=single, stop=stop, plateau_stop=plateau_stop,
    )  # fmt: skip
    return fitted


# -- warm-up ------------------------------------------------------------------------------------


def _zero_batch(
    spec: OutputSpec, batch_size: int, n_in: int, dtype: torch.dtype, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of zero inputs and zero targets, ``(1, batch, ...)``."""
    n_out = spec.n_outputs
    y_dtype = torch.long if spec.kind == "classification" else torch.float32
    y = torch.zeros(1, batch_size, n_out, dtype=y_dtype, device=device)
    return torch.zeros(1, batch_size, n_in, device=device, dtype=dtype), y


def warm_up(
    build: Callable[[], nn.Module],
    spec: OutputSpec,
    n_in: int,
    batch_size: int,
    device: str,
    optimizer: Optimizer = make_adam,
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
    n_out = spec.n_outputs
    if spec.kind == "classification":
        coder = TargetCoder(spec, np.zeros(0), np.ones(0))
    else:
        coder = TargetCoder(spec, np.zeros(n_out), np.ones(n_out))
    x, y = _zero_batch(spec, batch_size, n_in, input_dtype(shadow), device)
    ModuleStepper(shadow, coder, device, 0.0, 1, optimizer).run(x, y)


def warm_up_stacked(
    build: Callable[[], nn.Module], spec: OutputSpec, batch_size: int, device: str
) -> None:
    """:func:`warm_up` for :func:`train_seeds`: one throwaway step of a one-seed stack with
    learning rate 0 (vmap's and autograd's first dispatch), consuming no random number."""
    with torch.random.fork_rng(devices=[]):
        shadow = build()
    steps = StackStepper([shadow], spec, device, 0.0, Logger(), graphs=False)
    x, y = _zero_batch(spec, batch_size, 1, input_dtype(shadow), device)
    steps.run(x[:, None], y[:, None])
