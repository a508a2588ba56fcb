"""The original experiment's update, lean: SGD on ``sin(w x)`` with the gradient written out.

The original loop (:mod:`bench.lib.original`) builds an autograd graph for a batch of 32 at every
step and spends nearly all its time on dispatch, not arithmetic. The loss
``L(w) = mean((sin(w x) - y)^2)`` has the derivative ``dL/dw = mean(2 (sin(w x) - y) cos(w x) x)``,
which is what autograd computes, so SGD's step ``w <- w - lr dL/dw`` can be taken directly:

- :func:`sgd_sin_numpy` (CPU): a few in-place numpy operations per step on ``(seeds, batch)``
  arrays, all seeds at once;
- :func:`sgd_sin_torch` (GPU, or CPU for tests): the same arithmetic in torch; on CUDA every
  window of ``LOG_EVERY`` steps is captured once as a CUDA graph and replayed
  (:class:`bench.kit.graphs.GraphWindow`), so a step costs a few kernel launches from the graph
  and no Python. The capture is timed as the ``compile`` phase, apart from training.

Both log every seed's batch loss every ``LOG_EVERY`` steps, as the original method did, and take
their data as chunks of ``(steps, seeds, batch)`` arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from bench.core.contracts import Budget, Logger
from bench.kit.graphs import GraphWindow

#: Steps of data per chunk.
CHUNK = 2000
#: Steps between logged losses (one CUDA graph on a GPU).
LOG_EVERY = 100

Chunks = Iterable[tuple[np.ndarray, np.ndarray]]


def _step_scales(lr: float | Sequence[float], n: int, budget: Budget) -> list[float]:
    """Each seed's ``-lr * 2 / batch``, as the scalar step of one seed would compute it."""
    rates = [float(lr)] * n if np.ndim(lr) == 0 else [float(v) for v in lr]  # type: ignore[arg-type, union-attr]
    if len(rates) != n:
        raise ValueError(f"{len(rates)} learning rates for {n} seeds")
    return [-r * 2.0 / budget.batch_size for r in rates]


def sgd_sin_numpy(
    w0: Sequence[float],
    chunks: Chunks,
    lr: float | Sequence[float],
    budget: Budget,
    dtype: str,
    log: Logger,
) -> np.ndarray:
    """SGD on ``w`` (one per seed) over ``chunks`` at ``lr`` (one for all, or one per seed:
    the members of a fleet); returns the final ``w``."""
    w = np.array(w0, dtype=dtype)
    col = w.reshape(-1, 1)  # a view: updating w updates it
    # One step size per seed, rounded to the dtype as numpy rounds a Python scalar operand.
    step_scale = np.array(_step_scales(lr, w.size, budget), dtype=dtype)
    step = 0
    for x, y in chunks:
        n_seeds, bs = x.shape[1], x.shape[2]
        arg = np.empty((n_seeds, bs), dtype=dtype)
        cos = np.empty_like(arg)
        grad = np.empty(n_seeds, dtype=dtype)
        for xj, yj in zip(x, y, strict=True):
            np.multiply(col, xj, out=arg)
            np.cos(arg, out=cos)
            np.sin(arg, out=arg)
            np.subtract(arg, yj, out=arg)  # the residual r
            np.multiply(cos, xj, out=cos)
            np.einsum("ij,ij->i", arg, cos, out=grad)  # sum(r cos(w x) x)
            step += 1
            if step % LOG_EVERY == 0 or step == budget.steps:
                log(step, np.mean(np.square(arg, dtype=np.float64), axis=1))
            np.multiply(grad, step_scale, out=grad)
            np.add(w, grad, out=w)
    return w


def sgd_sin_torch(
    w0: Sequence[float],
    chunks: Chunks,
    lr: float | Sequence[float],
    budget: Budget,
    device: str,
    dtype: str,
    log: Logger,
    graphs: bool | None = None,
) -> np.ndarray:
    """:func:`sgd_sin_numpy` in torch on ``device``: windows of ``LOG_EVERY`` steps, each a
    replay of one captured CUDA graph where ``graphs`` says so (default: on CUDA; see
    :class:`bench.kit.graphs.GraphWindow`), eager otherwise. Returns the final ``w`` as numpy."""
    w = torch.tensor(list(w0), dtype=getattr(torch, dtype), device=device)
    loss = torch.zeros_like(w)  # the batch loss of the latest step
    scales = _step_scales(lr, w.numel(), budget)
    # ``add_(g, alpha=s)`` as for one step size (fused, one rounding), once per distinct step
    # size; the other seeds get ``alpha * 0`` there, which leaves them exactly as they were.
    groups = [
        (s, torch.tensor([v == s for v in scales], device=device)) for s in dict.fromkeys(scales)
    ]

    def one_step(x: torch.Tensor, y: torch.Tensor) -> None:
        arg = w[:, None] * x
        r = torch.sin(arg) - y
        loss.copy_((r * r).mean(dim=1))
        grad = (r * torch.cos(arg) * x).sum(dim=1)
        if len(groups) == 1:
            w.add_(grad, alpha=groups[0][0])
            return
        for s, rows in groups:
            w.add_(torch.where(rows, grad, torch.zeros_like(grad)), alpha=s)

    window = GraphWindow(one_step, LOG_EVERY, graphs, device, [w, loss], log)
    step = 0
    for xc, yc in chunks:
        x_all = torch.from_numpy(xc).to(device)
        y_all = torch.from_numpy(yc).to(device)
        for start in range(0, x_all.shape[0], LOG_EVERY):
            window(x_all[start : start + LOG_EVERY], y_all[start : start + LOG_EVERY])
            step += min(LOG_EVERY, x_all.shape[0] - start)
            log(step, loss.double().cpu().numpy())
    return w.double().cpu().numpy()
