"""Adam over the parameters of a seed stack, one learning rate per seed.

torch's optimisers take one learning rate per parameter group, and a stacked parameter holds
every seed: a seed that drops its learning rate on its own plateau, or stops, needs a rate of
its own within the same tensor. :class:`StackedAdam` is that optimiser, taking torch's Adam
steps for each seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


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
