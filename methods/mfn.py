"""Multiplicative filter network, FourierNet (Fathony, Sahu, Willmott and Kolter,
"Multiplicative Filter Networks", ICLR 2021; issue 34, on demand, tuned under the declared
protocol).

No activation between layers: the hidden state is multiplied, element by element, by a filter
of the input, ``z_1 = g_1(x)``, ``z_{i+1} = g_{i+1}(x) * (W_i z_i + b_i)``, output ``W z + b``,
with sine filters ``g_i(x) = sin(V_i x + c_i)``. A product of sines is a sum of sines, so the
output is a linear combination of sinusoids of ``x`` whose frequencies are sums and differences
of the filters' (the paper's Theorem 1). As in the reference code's image experiment: 3 linear
layers (4 filters) of 256 units, filter weights PyTorch's default scaled by
``input_scale / sqrt(4)`` with ``input_scale = 256``, filter biases ``U(-pi, pi)``, linear
weights ``U(-sqrt(1 / 256), sqrt(1 / 256))`` (``weight_scale = 1``), Adam with learning rate
1e-2. ``input_scale`` sets the band the filters start in and is the scale knob for the tuning
protocol.

The filters all read the input, so the network is two modules: the filter bank (which the
harness runs in float64, as it runs every network's first layer) and the multiplicative
recursion.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.netmethod import NetMethod


class SineFilters(nn.Module):
    """``n`` sine filters ``sin(V_i x + c_i)`` of the input, stacked: ``(batch, n, width)``."""

    def __init__(self, n_in: int, width: int, n: int, scale: float) -> None:
        super().__init__()
        self.filters = nn.ModuleList(nn.Linear(n_in, width) for _ in range(n))
        with torch.no_grad():
            for f in self.filters:
                f.weight.mul_(scale)
                f.bias.uniform_(-math.pi, math.pi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.sin(f(x)) for f in self.filters], dim=-2)


class Multiply(nn.Module):
    """The recursion ``z_{i+1} = g_{i+1} * (W_i z_i + b_i)`` over the stacked filters, then the
    linear output."""

    def __init__(self, width: int, n_out: int, layers: int, weight_scale: float) -> None:
        super().__init__()
        self.linear = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        bound = math.sqrt(weight_scale / width)
        with torch.no_grad():
            for lin in self.linear:
                lin.weight.uniform_(-bound, bound)
        self.out = nn.Linear(width, n_out)

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        z = g[..., 0, :]
        for i, lin in enumerate(self.linear, start=1):
            z = g[..., i, :] * lin(z)
        return self.out(z)


@register_method("mfn", base=False, on_demand=[{}])
class FourierNet(NetMethod):
    """FourierNet (Fathony et al., ICLR 2021): sine filters multiplied in, 3 x 256, Adam 1e-2."""

    description = (
        "MFN FourierNet: sine filters of the input multiplied into 3 linear layers of 256, "
        "input_scale 256, Adam 1e-2, x scaled to [-1, 1]; output a sum of sinusoids"
    )
    reference = "Fathony et al., Multiplicative Filter Networks, ICLR 2021 (boschresearch code)"
    search_space = {"lr": [1e-3, 3e-3, 1e-2, 3e-2], "input_scale": [25.6, 256.0, 2560.0]}
    scale_knob = ScaleKnob("input_scale", per_unit=0.5, factor=10.0)
    paper_settings = "FourierNet with the reference's image settings (input_scale 256, Adam 1e-2)"

    def __init__(
        self,
        input_scale: float = 256.0,
        weight_scale: float = 1.0,
        width: int = 256,
        layers: int = 3,
        lr: float = 1e-2,
        settings: str = "tuned",
    ) -> None:
        self.input_scale = input_scale
        self.weight_scale = weight_scale
        self.width = width
        self.layers = layers
        self.lr = lr
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        layers, width = int(self.layers), int(self.width)
        scale = float(self.input_scale) / math.sqrt(layers + 1)
        return nn.Sequential(
            SineFilters(n_in, width, layers + 1, scale),
            Multiply(width, n_out, layers, float(self.weight_scale)),
        )
