"""The networks of several seeds as one batched model.

Training the seeds of a task one after another costs a step's fixed overhead (dispatch, kernel
launches) once per seed; stacked, one step moves every seed. :class:`SeedStack` holds the
seeds' parameters on a leading seed axis and runs their forward pass as one computation;
:func:`stacked_loss` is each seed's loss from it. The optimiser over the stacked parameters is
``bench.kit.adam.StackedAdam``, the loop that drives them ``bench.kit.train``. Every seed keeps
its own arithmetic, so a seed trained alone and the same seed inside a batch end the same,
bit for bit.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from bench.core.contracts import OutputSpec
from bench.kit.nn import input_dtype


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
        dtype = input_dtype(model)
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
