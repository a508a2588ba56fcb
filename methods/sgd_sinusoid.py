"""SGD on a sinusoid: the original experiment with amplitude, phase and offset set free.

Model ``a sin(w x + phi) + c``, the original loss (mean-squared error) on fresh batches of 32,
``w`` started as in the original (``w0 ~ N(0, 1)``) and ``a = 1, phi = 0, c = 0``: the original
model ``sin(w x)`` is exactly this one at that start, so the extra parameters only add freedom
(a learner that can shrink or shift its wave, as any real model can). It is the model of the
failure map: how often does gradient descent find ``w* = 31`` as the domain holds more cycles,
and does that follow the chance of starting in the basin (``bench.lib.landscape``)?

Optimisers (the ``opt`` hyper-parameter):

- ``sgd``: plain SGD at the original learning rate 1e-4.
- ``sgd-stable``: plain SGD at ``1 / lambda_max`` of the expected Hessian at the optimum for
  inputs uniform on the task's domain, the same derivation as ``sgd-sin[lr=stable]``'s. At zero
  residual the Hessian of the MSE is ``2 E[J J^T]`` with ``J = (a x cos, sin, a cos, 1)``, the
  gradient of the prediction in ``(w, a, phi, c)``; over many cycles ``sin^2, cos^2 -> 1/2``
  and the cross terms vanish, leaving ``diag(R^2 / 3, 1, 1, 2)`` at ``a = 1`` on ``[-R, R]``.
  So the step is ``1 / max(R^2 / 3, 2)`` (``bench.lib.landscape.sinusoid_stable_step``): half
  the stability limit, from the domain alone (no knowledge of ``w*``).
- ``adam``: Adam (Kingma and Ba, ICLR 2015) with the paper's and torch's defaults, learning rate
  1e-3, betas (0.9, 0.999), eps 1e-8: the setting a practitioner reaches for first. Adam's step
  is about the learning rate whatever the gradient's scale, so the ``R^2`` curvature that makes
  SGD at 1e-4 unstable on wide domains does not apply; in exchange ``w`` moves at most about
  1e-3 per step (20 over the quick budget of 20,000 steps).

Starts (the ``init`` hyper-parameter, ``bench.lib.landscape.INITS``):

- ``randn``: ``w0 ~ N(0, 1)``, the original's ``torch.randn(1)`` (drawn the same way as
  ``sgd-sin``'s, so a seed starts both methods at the same ``w0``).
- ``uniform-2x``: ``w0 ~ U[0, 2 w*] = U[0, 62]``, with ``w* = 31`` the target the experimenter
  knows. This is an oracle-informed start, an experimental condition that asks "given a start
  spread over the right range, how often is it in the basin?", not a learner: it uses the
  answer (on a task whose target is not 31 it still draws from ``U[0, 62]``).

Every seed of a (variant, task) pair is one computation: each parameter is a float64 vector of
length ``seeds``, the gradient of each seed's batch MSE is taken in closed form (the same
algorithm as torch autograd on the summed per-seed losses, checked in the tests), and each seed
reads its own sample stream, so a seed fitted alone gives the same numbers as inside a batch.
float64 keeps precision out of the question this method asks (``sgd-sin`` runs the original's
float32).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from bench import Budget, TaskView, register_method
from bench.kit.batches import TrainingPairs
from bench.kit.methods import SeedBatchMethod, SeedFit
from bench.lib.landscape import init_distribution, sinusoid_stable_step

OPTIMISERS = ("sgd", "sgd-stable", "adam")
#: The original experiment's learning rate.
SGD_LR = 1e-4
#: Adam's defaults (Kingma and Ba; torch.optim.Adam).
ADAM_LR = 1e-3
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: Steps between logged losses. Every 1,000 steps gives 20 trace points at the quick budget: the
#: failure map runs 512 seeds in 54 cells, and 200-point traces would make 130 MB of records.
LOG_EVERY = 1000
#: Samples drawn per chunk, over all seeds (bounds memory at 512 seeds: 32 MiB per array).
CHUNK_SAMPLES = 1 << 22

_VARIANTS = [
    {"opt": "sgd-stable"},
    {"opt": "adam"},
    {"init": "uniform-2x"},
    {"init": "uniform-2x", "opt": "sgd-stable"},
    {"init": "uniform-2x", "opt": "adam"},
]


@register_method("sgd-sinusoid", on_demand=_VARIANTS)
class SGDSinusoid(SeedBatchMethod):
    """a sin(w x + phi) + c by SGD (lr 1e-4), batch 32, MSE, w0 ~ N(0,1); the original's learner
    with amplitude, phase and offset free (vectorised over seeds)."""

    description = "a sin(w x + phi) + c by SGD (lr 1e-4, batch 32, MSE), w0 ~ N(0,1), a=1, phi=c=0"
    reference = "The 'SGD on sin' experiment, with amplitude, phase and offset learnable"
    handles_fixed_data = False
    input_dtypes = ("float32", "float64")

    def __init__(self, opt: str = "sgd", init: str = "randn") -> None:
        self.opt = opt
        self.init = init

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        opt, init = params.get("opt", "sgd"), params.get("init", "randn")
        if opt == "sgd" and init == "randn":
            return cls.description
        how = {
            "sgd": "SGD lr 1e-4",
            "sgd-stable": "SGD at the stable step 1/max(R^2/3, 2)",
            "adam": "Adam lr 1e-3",
        }.get(opt, opt)
        start = {
            "randn": "w0 ~ N(0,1)",
            "uniform-2x": "w0 ~ U[0, 62] (oracle-informed start: 2 x the known w* = 31)",
        }.get(init, init)
        return f"Variant: a sin(w x + phi) + c by {how}, batch 32, MSE, {start}"

    def _check(self) -> None:
        if self.opt not in OPTIMISERS:
            raise ValueError(f"opt must be one of {', '.join(OPTIMISERS)}, not {self.opt!r}")
        init_distribution(self.init)

    def step_size(self, domain: tuple[float, float]) -> float:
        """The learning rate this optimiser uses on a task with this input domain."""
        self._check()
        if self.opt == "sgd-stable":
            return sinusoid_stable_step(domain)
        return ADAM_LR if self.opt == "adam" else SGD_LR

    def initial_freqs(self, seeds: Sequence[int]) -> list[float]:
        """Each seed's ``w0``, from a torch generator seeded with the seed alone."""
        dist = init_distribution(self.init)
        out = []
        for s in seeds:
            g = torch.Generator().manual_seed(int(s))
            if dist.kind == "normal":  # as sgd-sin (and the original): torch.randn(1)
                out.append(dist.p1 + dist.p2 * torch.randn(1, generator=g).item())
            else:
                u = torch.rand(1, generator=g, dtype=torch.float64).item()
                out.append(dist.p1 + (dist.p2 - dist.p1) * u)
        return out

    def warm_up(self, task: TaskView, budget: Budget, device: str) -> None:
        """Load the float64 trigonometric kernels once (no data, no randomness)."""
        scratch = torch.zeros(2, 2, dtype=torch.float64, device=device)
        _ = torch.sin(scratch).sum() + torch.cos(scratch).sum()

    def _set(self, theta: np.ndarray) -> SGDSinusoid:
        w, a, phi, c = (float(v) for v in theta)
        self.w_, self.a_, self.phi_, self.c_ = w, a, phi, c
        self.freqs_ = np.array([abs(w)])
        self.amplitudes_ = np.array([abs(a)])
        self.n_params_ = 4
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x).astype(np.float64)
        return self.a_ * np.sin(self.w_ * x + self.phi_) + self.c_

    def _descend(self, job: SeedFit) -> np.ndarray:
        """Train every seed at once; returns the final ``(w, a, phi, c)`` of each seed, one
        row per seed."""
        tasks, budget, seeds, device, log = job
        lr = self.step_size(tasks[0].domain)
        n_seeds, bs, steps = len(seeds), budget.batch_size, budget.steps
        f64 = torch.float64
        theta = torch.zeros(4, n_seeds, dtype=f64, device=device)  # rows: w, a, phi, c
        theta[0] = torch.tensor(self.initial_freqs(seeds), dtype=f64, device=device)
        theta[1] = 1.0
        adam = self.opt == "adam"
        if adam:
            m, v = torch.zeros_like(theta), torch.zeros_like(theta)
            (b1, b2), eps = ADAM_BETAS, ADAM_EPS
        chunk = max(1, min(steps, CHUNK_SAMPLES // (n_seeds * bs)))
        pairs = [
            TrainingPairs(t, steps, bs, np.random.default_rng(s))
            for t, s in zip(tasks, seeds, strict=True)
        ]
        for start in range(0, steps, chunk):
            n = min(chunk, steps - start)
            # Laid out (step, seed, batch), so that each step's batch is one contiguous block.
            x_np, y_np = np.empty((n, n_seeds, bs)), np.empty((n, n_seeds, bs))
            for i, p in enumerate(pairs):
                x, y = p.take(n)
                x_np[:, i], y_np[:, i] = x.reshape(n, bs), y.reshape(n, bs)
            x_all = torch.from_numpy(x_np).to(device)
            y_all = torch.from_numpy(y_np).to(device)
            for j in range(n):
                step = start + j + 1
                logged = step % LOG_EVERY == 0 or step == steps
                loss, grad = batch_loss_and_grad(theta, x_all[j], y_all[j], with_loss=logged)
                if adam:
                    # torch.optim.Adam's update (single-tensor path, no weight decay).
                    m.lerp_(grad, 1 - b1)
                    v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                    bc1, bc2 = 1 - b1**step, 1 - b2**step
                    denom = (v.sqrt() / math.sqrt(bc2)).add_(eps)
                    theta.addcdiv_(m, denom, value=-lr / bc1)
                else:
                    theta.add_(grad, alpha=-lr)
                if loss is not None:  # the batch loss before this step's update
                    log(step, loss.cpu().numpy())
        return theta.T.cpu().numpy()


def batch_loss_and_grad(
    theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, with_loss: bool = True
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Per-seed batch MSE of ``a sin(w x + phi) + c`` (``None`` unless ``with_loss``) and its
    gradient in ``(w, a, phi, c)``, shape ``(4, seeds)``.

    ``theta`` is ``(4, seeds)``, ``x`` and ``y`` are ``(seeds, batch)``. The gradient is what
    autograd computes for ``mean((pred - y)^2)``: with ``g = 2 (pred - y) / batch``,
    ``dL/da = sum g sin(u)``, ``dL/dc = sum g``, ``dL/dphi = sum g a cos(u)`` and
    ``dL/dw = sum g a cos(u) x``, ``u = w x + phi``.
    """
    w, a, phi, c = theta[0, :, None], theta[1, :, None], theta[2, :, None], theta[3, :, None]
    u = torch.addcmul(phi, w, x)
    sn, cs = torch.sin(u), torch.cos(u)
    r = torch.addcmul(c, a, sn) - y  # pred - y
    loss = (r * r).mean(dim=1) if with_loss else None
    g = r * (2.0 / x.shape[1])
    gu = g * a * cs  # dL/du
    grad = torch.stack([(gu * x).sum(dim=1), (g * sn).sum(dim=1), gu.sum(dim=1), g.sum(dim=1)])
    return loss, grad
