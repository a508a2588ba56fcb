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

- ``band``: ``w0 ~ U[0, w_max]``, ``w_max`` the band the seed's training samples resolve
  (:func:`band_limit`): a start that knows nothing of the target, only of the data.

The band. A start drawn without the answer has to cover every frequency the data could hold.
For regular samples that is the project's rule as it stands (``bench.lib.sampling.search_band``,
"nyquist"): ``pi / dt``, above which everything is an alias. Random samples alias nothing, and
the project's rule for them ("scan", or "resolution" where their stored precision binds)
reaches far above the mean rate's Nyquist (hundreds to thousands of times): the reach of a
spectral search that weighs all samples jointly. For a start we take the lower limit, the mean
rate's Nyquist ``pi n / span`` (``n`` the samples the seed draws over the run, ``span`` their
extent): the band a regular grid of as many samples resolves, supported by the data in every
sense, and the choice most favourable to random starts, whose chance of the basin falls as
``1 / w_max``. It still grows with the sample budget: on ``[-R, R]`` the basin (``2 pi / R``
wide) holds a share of about ``(2 pi / R) / (pi n / 2 R) = 4 / n`` of the band, whatever the
cycles (``bench.lib.landscape.band_basin_probability``; at the quick budget, n = 640,000, about
6e-6 per start, so K starts find it with chance about ``4 K / n``).

Restarts (the ``restarts`` hyper-parameter, ``K``, the user's knob, not tuned to the suite):
``K > 1`` trains ``K`` starts per seed side by side, every ``w0`` drawn over the band as for
``band`` (amplitude, phase and offset as above), all on the seed's same batches: the samples
and steps are one run's, the arithmetic ``K`` times. Each start is judged by its training loss,
the mean batch loss over the last ``LOG_EVERY`` steps (all steps of a shorter run), the same
batches for every start; the seed keeps the lowest and predicts with it. The loss it logs is,
at each logged step, the lowest batch loss among its starts, so the stop rule sees the seed's
current best model. ``init`` stays at its default: it names a single run's start, and several
starts from ``N(0, 1)`` would all lie near 0 and search nothing new. ``K = 1`` is the single
run, step for step as before.

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
from bench.lib.landscape import INITS, init_distribution, sinusoid_stable_step
from bench.lib.sampling import search_band

OPTIMISERS = ("sgd", "sgd-stable", "adam")
#: The start drawn over the band the training samples resolve (:func:`band_limit`).
BAND = "band"
#: The original experiment's learning rate.
SGD_LR = 1e-4
#: Adam's defaults (Kingma and Ba; torch.optim.Adam).
ADAM_LR = 1e-3
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: Steps between logged losses. Every 1,000 steps gives 20 trace points at the quick budget: the
#: failure map runs 512 seeds in 54 cells, and 200-point traces would make 130 MB of records.
#: Also the final window over which several starts are judged against each other.
LOG_EVERY = 1000
#: Samples drawn per chunk, over all seeds (bounds memory at 512 seeds: 32 MiB per array).
CHUNK_SAMPLES = 1 << 22
#: Numbers of starts registered for the failure map (on demand; any other is built by name).
RESTARTS = (10, 100)

_OPTS: list[dict[str, Any]] = [{}, {"opt": "sgd-stable"}, {"opt": "adam"}]
_VARIANTS = [
    {"opt": "sgd-stable"},
    {"opt": "adam"},
    {"init": "uniform-2x"},
    {"init": "uniform-2x", "opt": "sgd-stable"},
    {"init": "uniform-2x", "opt": "adam"},
    *({"init": BAND, **o} for o in _OPTS),
    *({"restarts": k, **o} for k in RESTARTS for o in _OPTS),
]
_HOW = {
    "sgd": "SGD lr 1e-4",
    "sgd-stable": "SGD at the stable step 1/max(R^2/3, 2)",
    "adam": "Adam lr 1e-3",
}
_BAND_NOTE = "w_max the mean-rate Nyquist of the run's samples, no oracle"


def band_limit(x: np.ndarray, n_run: int) -> float:
    """The top of the band a start is drawn from: the highest angular frequency the samples
    ``x`` resolve, for a learner that draws ``n_run`` samples over its run.

    Regular samples: their Nyquist frequency ``pi / dt`` (``search_band``'s "nyquist" rule).
    Random samples: the mean rate's Nyquist ``pi * n_run / span``, ``span`` the extent of
    ``x``, not the far higher "scan" limit (why: the module's docstring)."""
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    limit, rule, _ = search_band(xv)
    if rule == "nyquist":
        return float(limit)
    span = float(xv.max() - xv.min()) if xv.size else 0.0
    if not span > 0:
        raise ValueError("the samples span no interval: no band to draw a start from")
    return math.pi * int(n_run) / span


@register_method("sgd-sinusoid", on_demand=_VARIANTS)
class SGDSinusoid(SeedBatchMethod):
    """a sin(w x + phi) + c by SGD (lr 1e-4), batch 32, MSE, w0 ~ N(0,1); the original's learner
    with amplitude, phase and offset free (vectorised over seeds)."""

    description = "a sin(w x + phi) + c by SGD (lr 1e-4, batch 32, MSE), w0 ~ N(0,1), a=1, phi=c=0"
    reference = "The 'SGD on sin' experiment, with amplitude, phase and offset learnable"
    handles_fixed_data = False
    input_dtypes = ("float32", "float64")

    def __init__(self, opt: str = "sgd", init: str = "randn", restarts: int = 1) -> None:
        self.opt = opt
        self.init = init
        self.restarts = restarts

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        opt, init = params.get("opt", "sgd"), params.get("init", "randn")
        k = params.get("restarts", 1)
        if opt == "sgd" and init == "randn" and k == 1:
            return cls.description
        start = {
            "randn": "w0 ~ N(0,1)",
            "uniform-2x": "w0 ~ U[0, 62] (oracle-informed start: 2 x the known w* = 31)",
            BAND: f"w0 ~ U[0, w_max] ({_BAND_NOTE})",
        }.get(init, init)
        if k != 1:
            start = (
                f"best of {k} starts w0 ~ U[0, w_max] ({_BAND_NOTE}) by training loss, on the "
                f"same batches and steps as one run ({k}x its compute)"
            )
        return f"Variant: a sin(w x + phi) + c by {_HOW.get(opt, opt)}, batch 32, MSE, {start}"

    def _check(self) -> None:
        if self.opt not in OPTIMISERS:
            raise ValueError(f"opt must be one of {', '.join(OPTIMISERS)}, not {self.opt!r}")
        if self.init not in (*INITS, BAND):
            raise ValueError(f"init must be one of {', '.join((*INITS, BAND))}, not {self.init!r}")
        k = self.restarts
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"restarts must be a whole number of starts, 1 or more, not {k!r}")
        if k > 1 and self.init != "randn":
            raise ValueError(
                f"restarts > 1 draws every start over the band; leave init unset, not {self.init!r}"
            )

    def _band(self) -> bool:
        """Whether the starts come from the band the samples resolve (no fixed distribution)."""
        return self.init == BAND or self.restarts > 1

    def step_size(self, domain: tuple[float, float]) -> float:
        """The learning rate this optimiser uses on a task with this input domain."""
        self._check()
        if self.opt == "sgd-stable":
            return sinusoid_stable_step(domain)
        return ADAM_LR if self.opt == "adam" else SGD_LR

    def initial_freqs(self, seeds: Sequence[int]) -> list[float]:
        """Each seed's ``w0``, from a torch generator seeded with the seed alone. Only for a
        single start from a fixed distribution: band starts need the samples
        (:meth:`start_freqs`)."""
        self._check()
        if self._band():
            raise ValueError("band starts depend on the samples: use start_freqs(seeds, w_max)")
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

    def start_freqs(self, seeds: Sequence[int], w_max: Sequence[float]) -> np.ndarray:
        """Each seed's ``restarts`` starts over its band, shape ``(seeds, restarts)``:
        ``w_max[i] * u`` with ``u ~ U[0, 1)`` from a torch generator seeded with the seed alone
        (for one start, the same ``u`` as ``uniform-2x`` draws)."""
        k = int(self.restarts)
        u = [
            torch.rand(k, generator=torch.Generator().manual_seed(int(s)), dtype=torch.float64)
            for s in seeds
        ]
        return torch.stack(u).numpy() * np.asarray(w_max, dtype=np.float64).reshape(-1, 1)

    def warm_up(self, task: TaskView, budget: Budget, device: str) -> None:
        """Load the float64 trigonometric kernels once (no data, no randomness)."""
        scratch = torch.zeros(2, 2, dtype=torch.float64, device=device)
        _ = torch.sin(scratch).sum() + torch.cos(scratch).sum()

    def _set(self, state: Any) -> SGDSinusoid:
        theta, searched = state if isinstance(state, tuple) else (state, None)
        w, a, phi, c = (float(v) for v in theta)
        self.w_, self.a_, self.phi_, self.c_ = w, a, phi, c
        self.freqs_ = np.array([abs(w)])
        self.amplitudes_ = np.array([abs(a)])
        self.n_params_ = 4
        if searched is not None:  # band starts: recorded as metrics of the run
            self.searched_ = dict(searched)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x).astype(np.float64)
        return self.a_ * np.sin(self.w_ * x + self.phi_) + self.c_

    def _descend(self, job: SeedFit) -> Any:
        """Train every seed (and each of its starts) at once; returns each seed's final
        ``(w, a, phi, c)``, one row per seed, with what the band starts recorded beside it."""
        tasks, budget, seeds, device, log = job
        lr = self.step_size(tasks[0].domain)
        n_seeds, bs, steps = len(seeds), budget.batch_size, budget.steps
        chunk = max(1, min(steps, CHUNK_SAMPLES // (n_seeds * bs)))
        pairs = [
            TrainingPairs(t, steps, bs, np.random.default_rng(s))
            for t, s in zip(tasks, seeds, strict=True)
        ]
        band = self._band()
        theta = None if band else _theta(self.initial_freqs(seeds), device)
        descent = _Descent(self.opt == "adam", lr, steps, self.restarts)
        for start in range(0, steps, chunk):
            n = min(chunk, steps - start)
            x_np, y_np = _take(pairs, n, bs)
            if theta is None:  # band starts: from the samples of the first chunk
                w_max = [
                    band_limit(x_np[:, i] if p.fresh else p.x, steps * bs if p.fresh else len(p.x))
                    for i, p in enumerate(pairs)
                ]
                w0 = self.start_freqs(seeds, w_max)
                theta = _theta(w0 if self.restarts > 1 else w0[:, 0], device)
            descent.run(theta, x_np, y_np, start, log)
        assert theta is not None
        if not band:
            return theta.T.cpu().numpy()
        spans = [t.domain[1] - t.domain[0] for t in tasks]
        return _band_states(theta, descent, w0, w_max, spans)


def _theta(w0: Sequence[float] | np.ndarray, device: str) -> torch.Tensor:
    """The starting parameters, rows ``(w, a, phi, c)`` over the shape of ``w0``: ``(seeds,)``
    for one start, ``(seeds, starts)`` for several; ``a = 1``, ``phi = c = 0``."""
    f64 = torch.float64
    w = torch.tensor(np.asarray(w0, dtype=np.float64), dtype=f64, device=device)
    theta = torch.zeros((4, *w.shape), dtype=f64, device=device)
    theta[0] = w
    theta[1] = 1.0
    return theta


def _take(pairs: Sequence[TrainingPairs], n: int, bs: int) -> tuple[np.ndarray, np.ndarray]:
    """The next ``n`` steps of every seed, laid out ``(step, seed, batch)``, so that each step's
    batch is one contiguous block."""
    x_np, y_np = np.empty((n, len(pairs), bs)), np.empty((n, len(pairs), bs))
    for i, p in enumerate(pairs):
        x, y = p.take(n)
        x_np[:, i], y_np[:, i] = x.reshape(n, bs), y.reshape(n, bs)
    return x_np, y_np


def best_loss(loss: torch.Tensor) -> torch.Tensor:
    """Each seed's lowest loss over its starts (the last axis); a start whose loss is NaN
    (diverged) counts as infinitely bad, so it is the best only when every start is."""
    return torch.where(torch.isnan(loss), torch.inf, loss).amin(dim=-1)


class _Descent:
    """The optimiser over one run, on parameters of shape ``(4, seeds)`` or ``(4, seeds,
    starts)``: the update, the logged losses, and the final window that judges the starts."""

    def __init__(self, adam: bool, lr: float, steps: int, starts: int) -> None:
        self.adam, self.lr, self.steps, self.multi = adam, lr, steps, starts > 1
        #: Steps after this one form the final window (only judged with several starts).
        self.window_from = steps - min(LOG_EVERY, steps)
        self.window_loss: torch.Tensor | None = None  # summed batch loss per start
        self.m: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def run(
        self, theta: torch.Tensor, x_np: np.ndarray, y_np: np.ndarray, start: int, log: Any
    ) -> None:
        """The steps of one chunk of data (``(step, seed, batch)`` arrays)."""
        x_all = torch.from_numpy(x_np).to(theta.device)
        y_all = torch.from_numpy(y_np).to(theta.device)
        if self.multi:  # (step, seed, 1, batch): every start of a seed reads the seed's batch
            x_all, y_all = x_all.unsqueeze(2), y_all.unsqueeze(2)
        for j in range(x_np.shape[0]):
            step = start + j + 1
            logged = step % LOG_EVERY == 0 or step == self.steps
            judged = self.multi and step > self.window_from
            loss, grad = batch_loss_and_grad(theta, x_all[j], y_all[j], with_loss=logged or judged)
            self.update(theta, grad, step)
            if judged and loss is not None:
                self.window_loss = loss if self.window_loss is None else self.window_loss + loss
            if logged and loss is not None:  # the batch loss before this step's update
                log(step, (best_loss(loss) if self.multi else loss).cpu().numpy())

    def update(self, theta: torch.Tensor, grad: torch.Tensor, step: int) -> None:
        if not self.adam:
            theta.add_(grad, alpha=-self.lr)
            return
        if self.m is None or self.v is None:
            self.m, self.v = torch.zeros_like(theta), torch.zeros_like(theta)
        # torch.optim.Adam's update (single-tensor path, no weight decay).
        (b1, b2), eps = ADAM_BETAS, ADAM_EPS
        self.m.lerp_(grad, 1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        bc1, bc2 = 1 - b1**step, 1 - b2**step
        denom = (self.v.sqrt() / math.sqrt(bc2)).add_(eps)
        theta.addcdiv_(self.m, denom, value=-self.lr / bc1)


def _band_states(
    theta: torch.Tensor,
    descent: _Descent,
    w0: np.ndarray,
    w_max: Sequence[float],
    spans: Sequence[float],
) -> list[tuple[np.ndarray, dict[str, float]]]:
    """Per seed: the kept start's ``(w, a, phi, c)`` (the lowest mean batch loss over the final
    window) and what to record: the band's top, the starts, which one was kept and its ``w0``,
    and how many starts ended within half a main lobe (``2 pi / span``) of its frequency."""
    t = theta.cpu().numpy()
    if t.ndim == 2:  # one start
        t = t[..., None]
    k = t.shape[2]
    if descent.window_loss is None:
        judged = np.zeros((t.shape[1], k))
    else:
        judged = descent.window_loss.cpu().numpy().reshape(t.shape[1], k)
    kept = np.argmin(np.where(np.isnan(judged), np.inf, judged), axis=1)
    out = []
    for i, b in enumerate(kept):
        half_lobe = 2 * math.pi / spans[i]
        near = np.abs(np.abs(t[0, i]) - abs(t[0, i, b])) < half_lobe
        searched = {"max_freq_searched": float(w_max[i]), "restarts": k, "w0_kept": w0[i, b]}
        if k > 1:
            searched |= {"best_start": int(b), "starts_at_kept_freq": int(near.sum())}
        out.append((t[:, i, b].copy(), {key: float(v) for key, v in searched.items()}))
    return out


def batch_loss_and_grad(
    theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, with_loss: bool = True
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Per-seed batch MSE of ``a sin(w x + phi) + c`` (``None`` unless ``with_loss``) and its
    gradient in ``(w, a, phi, c)``, shape ``(4, seeds)``.

    ``theta`` is ``(4, seeds)``, ``x`` and ``y`` are ``(seeds, batch)``; with several starts
    per seed ``theta`` is ``(4, seeds, starts)`` and ``x``, ``y`` are ``(seeds, 1, batch)``
    (each start reads its seed's batch), and the loss and gradient gain the starts' axis. The
    gradient is what autograd computes for ``mean((pred - y)^2)``: with
    ``g = 2 (pred - y) / batch``, ``dL/da = sum g sin(u)``, ``dL/dc = sum g``,
    ``dL/dphi = sum g a cos(u)`` and ``dL/dw = sum g a cos(u) x``, ``u = w x + phi``.
    """
    w, a, phi, c = (theta[i, ..., None] for i in range(4))
    u = torch.addcmul(phi, w, x)
    sn, cs = torch.sin(u), torch.cos(u)
    r = torch.addcmul(c, a, sn) - y  # pred - y
    loss = (r * r).mean(dim=-1) if with_loss else None
    g = r * (2.0 / x.shape[-1])
    gu = g * a * cs  # dL/du
    grad = torch.stack([(gu * x).sum(dim=-1), (g * sn).sum(dim=-1), gu.sum(dim=-1), g.sum(dim=-1)])
    return loss, grad
