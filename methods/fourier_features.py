"""Random Fourier features (Matthew Tancik, Pratul Srinivasan, Ben Mildenhall et al., "Fourier
Features Let Networks Learn High Frequency Functions in Low Dimensional Domains", NeurIPS 2020).

The input goes through ``gamma(x) = [sin(2 pi B x), cos(2 pi B x)]`` before a plain ReLU MLP,
with ``B`` drawn once from ``N(0, sigma^2)`` and fixed. The paper shows, through the neural
tangent kernel, that this turns the network's kernel into a stationary one whose bandwidth
``sigma`` sets: too small and the network underfits high frequencies, too large and it overfits
noise. ``sigma`` is the knob to tune, swept over decades in the paper (1 to 100). Settings as
the paper's: 256 frequencies (512 features), 4 hidden layers of 256 ReLU units, Adam with
learning rate 1e-4; inputs scaled to [-1, 1] (a tone with C cycles in the domain then has
C / 2 cycles per unit, so ``sigma`` near C / 2 puts features on it).

The mapping is computed in float64 (the harness keeps a network's first layer there). It runs
on demand (``--methods fourier-features``), not in ``--all``, to keep the default sweep short.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.netmethod import NetMethod
from bench.kit.nn import mlp


class FourierFeatures(nn.Module):
    """``[sin(2 pi B x), cos(2 pi B x)]`` with fixed ``B ~ N(0, sigma^2)``, ``m`` frequencies
    per input dimension (a buffer: drawn from torch's generator, never trained)."""

    def __init__(self, n_in: int, m: int, sigma: float) -> None:
        super().__init__()
        self.register_buffer("B", torch.randn(n_in, m) * float(sigma))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        proj = 2.0 * math.pi * (x @ self.B)
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)


@register_method("fourier-features", base=False, on_demand=[{}, {"settings": "paper"}])
class FourierFeatureMLP(NetMethod):
    """Random Fourier features + ReLU MLP (Tancik et al., NeurIPS 2020)."""

    description = (
        "Random Fourier features [sin, cos](2 pi B x), B ~ N(0, sigma^2), 256 frequencies, then a "
        "4 x 256 ReLU MLP, Adam 1e-4, x scaled to [-1, 1]; sigma tuned"
    )
    reference = (
        "Tancik et al., Fourier Features Let Networks Learn High Frequency Functions in Low "
        "Dimensional Domains, NeurIPS 2020"
    )
    #: The declared tuning grid: the paper's decades of sigma, and the learning rate.
    search_space = {"sigma": [1.0, 10.0, 100.0], "lr": [1e-4, 3e-4, 1e-3, 3e-3]}
    #: Features ``sin(2 pi b x)`` with ``b ~ N(0, sigma^2)`` reach about ``2 pi sigma``.
    scale_knob = ScaleKnob("sigma", per_unit=2 * math.pi, factor=10.0)

    paper_settings = "Fourier features, sigma 10, 4 x 256 ReLU, Adam 1e-4"

    def __init__(
        self,
        sigma: float = 10.0,
        features: int = 256,
        width: int = 256,
        depth: int = 4,
        lr: float = 1e-4,
        settings: str = "tuned",
    ) -> None:
        self.sigma = sigma
        self.features = features
        self.width = width
        self.depth = depth
        self.lr = lr
        self.settings = settings

    @classmethod
    def describe_variant(cls, params: dict[str, Any]) -> str:
        if "sigma" in params:
            return f"Variant: Fourier features with sigma {params['sigma']}"
        return cls.description

    def build(self, n_in: int, n_out: int) -> nn.Module:
        m = int(self.features)
        head = mlp(2 * m, n_out, int(self.width), int(self.depth), lambda _: nn.ReLU())
        return nn.Sequential(FourierFeatures(n_in, m, float(self.sigma)), *head)
