"""A Fourier-series Kolmogorov-Arnold network (issue 34; on demand, tuned under the declared
protocol): each edge of a KAN layer is a learnable Fourier series of its input instead of a
B-spline (GistNoesis, FourierKAN, 2024, after Liu et al.'s KAN, 2024).

Layer ``j`` output: ``y_j = b_j + sum_i sum_{k=1..G} (a_jik cos(k x_i) + c_jik sin(k x_i))``, with
``G`` harmonics per edge (``gridsize``), coefficients drawn ``N(0, 1) / sqrt(n_in G)`` (the
reference's normalisation: unit-variance inputs give unit-variance outputs) and zero biases.
Two layers, ``n_in -> width -> n_out``, as the reference's demonstration stacks them, with the
demonstration's 300 harmonics and a hidden width of 32 (a KAN edge carries ``2 G`` parameters:
at 256 wide the second layer alone would hold 39 million, and one conformance run took minutes;
the `kan` method here is 5 wide); Adam at 1e-3 (the reference states no training settings;
Adam's default).

Every edge of the first layer is ``2 pi``-periodic in its input, so the whole network is a
``2 pi``-periodic function of the (scaled) input: a limit it states by construction. With
inputs scaled to [-1, 1] the first layer reaches ``G`` rad per scaled unit, so ``sin(31 x)``
on [-1000, 1000] (31,000 rad per scaled unit) would need ``G`` of 31,000.

The reference takes its input as the user scales it. Here the harness scales it to [-1, 1]
and ``input_scale`` (default 1) multiplies it before the first layer: the first layer's
harmonics are ``k a`` for ``k = 1 .. G``, the network ``2 pi / a``-periodic in the scaled input.
``input_scale`` is the scale knob for the tuning protocol (it reaches ``a G`` rad per unit, at
the default 300 harmonics ``300 a``), not the number of harmonics: a layer's cost and memory
grow with ``G`` times its inputs and batch (at ``G`` = 300,000 the hidden layer's cosines of
one batch of 128 fill 10 GB), while ``a`` costs nothing. ``G`` is searched over 30 and 300 (the
reference's demonstration and a tenth of it): at 3000 a first-rung trial on a clock task (batch
128, a softmax head per digit) ran past its time budget of 300 s per seed (measured at commit
6e1b872 on this project's 2-core CPU host: 6 of its first 40 trials timed out), so it could
not win and would have cost the tune hours.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.netmethod import NetMethod


class FourierKANLayer(nn.Module):
    """One KAN layer whose edges are Fourier series with ``gridsize`` harmonics."""

    def __init__(self, n_in: int, n_out: int, gridsize: int, input_scale: float = 1.0) -> None:
        super().__init__()
        self.gridsize = int(gridsize)
        scale = 1.0 / math.sqrt(n_in * self.gridsize)
        self.coeffs = nn.Parameter(torch.randn(2, n_out, n_in, self.gridsize) * scale)
        self.bias = nn.Parameter(torch.zeros(n_out))
        k = torch.arange(1, self.gridsize + 1, dtype=torch.float64) * float(input_scale)
        self.register_buffer("k", k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arg = x.unsqueeze(-1) * self.k.to(x.dtype)  # (batch, n_in, G)
        cos = torch.einsum("big,oig->bo", torch.cos(arg), self.coeffs[0].to(x.dtype))
        sin = torch.einsum("big,oig->bo", torch.sin(arg), self.coeffs[1].to(x.dtype))
        return cos + sin + self.bias.to(x.dtype)


@register_method("fourier-kan", base=False, on_demand=[{}])
class FourierKAN(NetMethod):
    """Fourier-series KAN (GistNoesis FourierKAN): two layers, 32 wide, 300 harmonics."""

    description = (
        "Fourier KAN: two KAN layers whose edges are Fourier series (300 harmonics), "
        "n_in -> 32 -> n_out, Adam 1e-3, x scaled to [-1, 1]; 2 pi-periodic in the scaled "
        "input by construction"
    )
    reference = "GistNoesis, FourierKAN (fftKAN.py), 2024; Liu et al., KAN, 2024"
    search_space = {
        "lr": [1e-4, 3e-4, 1e-3, 3e-3],
        "gridsize": [30, 300],
        "input_scale": [1.0, 10.0, 100.0],
    }
    scale_knob = ScaleKnob("input_scale", per_unit=300.0, factor=10.0)
    paper_settings = "Fourier KAN with the reference's demonstration sizes (300 harmonics)"

    def __init__(
        self,
        gridsize: int = 300,
        input_scale: float = 1.0,
        width: int = 32,
        lr: float = 1e-3,
        settings: str = "tuned",
    ) -> None:
        self.gridsize = gridsize
        self.input_scale = input_scale
        self.width = width
        self.lr = lr
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        g = max(1, int(round(float(self.gridsize))))
        return nn.Sequential(
            FourierKANLayer(n_in, int(self.width), g, float(self.input_scale)),
            FourierKANLayer(int(self.width), n_out, g),
        )
