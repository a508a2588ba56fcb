"""NeRF's positional encoding (Ben Mildenhall, Pratul Srinivasan, Matthew Tancik et al., "NeRF:
Representing Scenes as Neural Radiance Fields for View Synthesis", ECCV 2020).

The input ``p`` is mapped to ``(p, sin(2^0 pi p), cos(2^0 pi p), ..., sin(2^(L-1) pi p),
cos(2^(L-1) pi p))`` before a ReLU MLP: fixed frequencies in octaves, where random Fourier
features draw them at random. The paper uses ``L = 10`` for positions (``L = 4`` for viewing
directions), an MLP of 8 layers of 256 ReLU units that feeds the encoding in again after the
fourth, and Adam at 5e-4. Inputs are scaled to [-1, 1], as NeRF's positions are normalised; the
top frequency, ``2^(L-1) pi``, then reaches ``2^(L-2)`` cycles per unit, 512 at ``L = 10``, so a
domain with more cycles than about a thousand is out of the encoding's reach. ``levels`` (``L``)
is the knob to tune.

Left out: the view-direction branch and the density/colour heads, which belong to rendering, and
the paper's learning-rate decay (the harness applies its declared plateau rule to every
network). It runs on demand (``--methods nerf-pe``), not in ``--all``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.netmethod import NetMethod


class PositionalEncoding(nn.Module):
    """``(p, sin(2^k pi p), cos(2^k pi p))`` for ``k = 0..levels-1``."""

    def __init__(self, levels: int) -> None:
        super().__init__()
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(int(levels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arg = (x[..., :, None] * self.freqs).flatten(-2)
        return torch.cat([x, torch.sin(arg), torch.cos(arg)], dim=-1)


class NerfMLP(nn.Module):
    """ReLU layers of ``width`` units; the encoding joins the activations again after layer
    ``skip`` (NeRF's skip connection); a linear output."""

    def __init__(self, n_enc: int, n_out: int, width: int, depth: int, skip: int) -> None:
        super().__init__()
        self.skip = skip
        sizes = [n_enc] + [width + (n_enc if i == skip else 0) for i in range(1, depth)]
        self.hidden = nn.ModuleList(nn.Linear(d, width) for d in sizes)
        self.out = nn.Linear(width, n_out)

    def forward(self, enc: torch.Tensor) -> torch.Tensor:
        h = enc
        for i, layer in enumerate(self.hidden):
            if i == self.skip:
                h = torch.cat([h, enc], dim=-1)
            h = torch.relu(layer(h))
        return self.out(h)


@register_method("nerf-pe", base=False, on_demand=[{}, {"settings": "paper"}])
class NerfPE(NetMethod):
    """NeRF positional encoding (L octaves of sin/cos, input included) + ReLU MLP (Mildenhall et
    al., ECCV 2020)."""

    description = (
        "NeRF positional encoding (p and sin/cos(2^k pi p), k < L = 10) + 8 x 256 ReLU MLP with "
        "the encoding fed again after layer 4, Adam 5e-4, x scaled to [-1, 1]; L tuned"
    )
    reference = (
        "Mildenhall et al., NeRF: Representing Scenes as Neural Radiance Fields for View "
        "Synthesis, ECCV 2020"
    )
    #: The declared tuning grid: the number of octaves and the learning rate.
    search_space = {"levels": [4, 10, 16], "lr": [1e-4, 5e-4, 1e-3, 3e-3]}
    #: The top level ``L - 1`` reaches ``2^(L-1) pi`` rad per unit of the scaled input.
    scale_knob = ScaleKnob("levels", per_unit=math.pi / 2, factor=6, octaves=True)

    paper_settings = "NeRF encoding L = 10, 8 x 256 ReLU MLP, Adam 5e-4"

    def __init__(
        self,
        levels: int = 10,
        width: int = 256,
        depth: int = 8,
        lr: float = 5e-4,
        settings: str = "tuned",
    ) -> None:
        self.levels = levels
        self.width = width
        self.depth = depth
        self.lr = lr
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        levels = int(self.levels)
        n_enc = n_in * (1 + 2 * levels)
        depth = int(self.depth)
        body = NerfMLP(n_enc, n_out, int(self.width), depth, skip=min(4, depth - 1))
        return nn.Sequential(PositionalEncoding(levels), body)
