"""KAN: a Kolmogorov-Arnold network (Ziming Liu, Yixuan Wang, Sachin Vaidya et al., "KAN:
Kolmogorov-Arnold Networks", 2024; reference code and package ``pykan``), the spline baseline
the FAN paper compares against.

Every edge of a KAN carries its own learnable function: a cubic B-spline on a grid of ``grid``
intervals plus a SiLU base branch, ``phi(x) = w_b silu(x) + w_s spline(x)``; a node sums its
edges. The network is pykan's own ``KAN(width=[1, hidden, outputs], grid, k=3)`` module (the
package's defaults: grid range [-1, 1], noise scale 0.3, SiLU base), with its symbolic branch
and activation caching off (they serve pykan's interpretability tools, not the fit) and no
checkpoint files written. Before training, the spline grids are placed on the training inputs
(``update_grid_from_samples``, as pykan's ``fit`` does at its first step).

Differences from pykan's own training, the same for every network of this suite: the inputs are
scaled to [-1, 1] (the spline grid's range) in float64, and the whole KAN runs in float64, so the
input's resolution is never a handicap (the clock's 120-year span); it trains with Adam on the
task's batches within the task's step budget and stops by the declared plateau rule, where
pykan's examples run LBFGS on a full batch of 1,000 points for a fixed number of steps. The grid
size and the learning rate are tuned under the declared protocol.

A spline is defined on its grid: outside the training inputs' range only the SiLU branch and the
outermost spline pieces remain, so a KAN is expected to fail wherever a task asks for
extrapolation. It runs on demand (``--methods kan``), not in ``--all``: its per-edge splines
cost more per step on a CPU than a dense layer of the same width.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from bench import Budget, Logger, TaskView, register_method
from bench.kit.methods import forget
from bench.kit.netmethod import Tunable
from bench.kit.nn import InputScaler, float64_front, head_size
from bench.kit.train import train

#: Inputs the spline grids are placed on before training, at most: pykan's ``fit`` uses its
#: whole training set; here a fixed set's training inputs (thinned to this many) or, for a
#: sampler, this many points spread evenly over its domain (where its samples fall).
GRID_SAMPLES = 4096
#: The solver swap of :func:`_reproducible_lstsq` is process-wide; one at a time.
_LSTSQ_LOCK = threading.RLock()


class _KANModule(nn.Module):
    """pykan's KAN as a plain module: ``(batch, 1)`` in, ``(batch, outputs)`` out."""

    def __init__(self, n_out: int, hidden: int, grid: int, k: int, seed: int) -> None:
        super().__init__()
        from kan import KAN  # the optional heavy import, only where a KAN is built

        # Its initial spline coefficients are fitted by least squares too (see
        # _reproducible_lstsq).
        with contextlib.redirect_stdout(io.StringIO()), _reproducible_lstsq():
            self.kan = KAN(
                width=[1, int(hidden), int(n_out)],
                grid=int(grid),
                k=int(k),
                seed=int(seed) % 2**31,
                symbolic_enabled=False,
                save_act=False,
                auto_save=False,
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kan(x)


@register_method("kan", base=False, on_demand=[{}, {"settings": "paper"}])
class KANMethod(Tunable):
    """KAN (Liu et al. 2024, pykan): [1, 5, outputs], cubic B-splines on 5 intervals, Adam."""

    description = (
        "KAN (pykan): width [1, 5, outputs], cubic B-spline edges on a grid of 5 intervals plus "
        "SiLU base, grids placed on the training inputs, float64, Adam 1e-2, x scaled to [-1, 1]"
    )
    reference = "Liu et al., KAN: Kolmogorov-Arnold Networks, 2024 (code: KindXiaoming/pykan)"
    handles_multi_output = True
    handles_classification = True
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")
    #: The declared tuning grid: the learning rate and the spline grid's size.
    search_space = {"lr": [1e-3, 3e-3, 1e-2, 3e-2], "grid": [5, 20, 100]}
    paper_settings = "KAN with pykan's example settings ([1, 5, out], grid 5)"

    def __init__(
        self,
        hidden: int = 5,
        grid: int = 5,
        k: int = 3,
        lr: float = 1e-2,
        settings: str = "tuned",
    ) -> None:
        self.hidden = hidden
        self.grid = grid
        self.k = k
        self.lr = lr
        self.settings = settings

    def network(self, n_out: int, seed: int) -> nn.Module:
        """The KAN as trained: wholly float64 (its input included), float32 out."""
        return float64_front(nn.Sequential(_KANModule(n_out, self.hidden, self.grid, self.k, seed)))

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        self.check_settings()
        forget(self)
        torch.manual_seed(seed)
        net = self.network(head_size(task.output), seed).to(device)
        scaler = InputScaler.from_domain(task.domain, "float64")
        # The grids on the training inputs, as pykan's fit does at its first step.
        xs = _grid_inputs(task, scaler)
        with torch.no_grad(), _reproducible_lstsq():
            net[0].layer.kan.update_grid_from_samples(torch.from_numpy(xs).to(device))
        self.net_ = train(net, task, budget, seed, device, log, lr=float(self.lr), encoder=scaler)
        self.n_params_ = int(sum(p.numel() for p in net.parameters() if p.requires_grad))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.net_.predict(x)

    def representation(self, x: np.ndarray) -> np.ndarray:
        return self.net_.encoder(x)


@contextlib.contextmanager
def _reproducible_lstsq() -> Iterator[None]:
    """pykan fits each edge's spline coefficients by ``torch.linalg.lstsq``: to its initial noise
    when the network is built, and to the moved grid when the grid follows the samples.
    Those systems are ill-conditioned (the extended B-spline basis), and torch's CPU solver
    (MKL's) returns solutions that differ from run to run by about 1e-8, so the same seed would
    not give the same network. For the call, the solve runs through numpy's LAPACK instead (the
    same least-squares problem, minimum-norm solution, cut-off at machine precision), which
    gives the same answer every time; on CUDA torch's own solver stays."""

    def lstsq(a: torch.Tensor, b: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if a.device.type != "cpu" or args or kwargs:  # not pykan's call: torch's own solver
            return original(a, b, *args, **kwargs)
        a_np, b_np = a.detach().numpy(), b.detach().numpy()
        batch = np.broadcast_shapes(a_np.shape[:-2], b_np.shape[:-2])
        flat_a = np.broadcast_to(a_np, batch + a_np.shape[-2:]).reshape(-1, *a_np.shape[-2:])
        flat_b = np.broadcast_to(b_np, batch + b_np.shape[-2:]).reshape(-1, *b_np.shape[-2:])
        sol = np.stack(
            [np.linalg.lstsq(m, v, rcond=None)[0] for m, v in zip(flat_a, flat_b, strict=True)]
        )
        sol = sol.reshape(batch + (a_np.shape[-1], b_np.shape[-1]))
        return SimpleNamespace(solution=torch.from_numpy(sol).to(a.dtype))

    with _LSTSQ_LOCK:
        original = torch.linalg.lstsq
        torch.linalg.lstsq = lstsq
        try:
            yield
        finally:
            torch.linalg.lstsq = original


def _grid_inputs(task: TaskView, scaler: InputScaler) -> np.ndarray:
    """Scaled inputs to place the spline grids on, drawn without spending the sample budget:
    evenly spread over the domain for a sampler, the training inputs for a fixed set."""
    if task.infinite:
        lo, hi = task.domain
        return scaler(np.linspace(float(lo), float(hi), GRID_SAMPLES))
    x, _ = task.train_set()
    return scaler(np.asarray(x)[:: max(1, len(x) // GRID_SAMPLES)])
