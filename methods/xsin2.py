"""``x + sin(x)^2``: the activation the original post mentions, as a member of the Snake family.

Snake (Liu Ziyin, Tilman Hartwig, Masahito Ueda, "Neural Networks Fail to Learn Periodic
Functions and How to Fix It", NeurIPS 2020) is ``x + sin^2(a x) / a``; with ``a = 1`` it is
``x + sin(x)^2``, the form the paper analyses first: monotone (its slope ``1 + sin(2x)`` is never
negative), so the network stays easy to optimise, with a periodic ripple it can use to
extrapolate. Here ``a`` stays 1, fixed, which is what sets this variant apart from ``snake``
(learnable ``a`` per channel, periodic initialisation).

Architecture and optimiser as for ``snake``: 3 hidden layers of 256 units, PyTorch's default
linear initialisation, Adam with learning rate 1e-3 (Adam's default), inputs scaled to [-1, 1].
It runs on demand (``--methods xsin2``), not in ``--all``, to keep the default sweep short.
"""

from __future__ import annotations

import torch
from torch import nn

from bench import register_method
from bench.kit.netmethod import NetMethod
from bench.kit.nn import mlp


class XSin2(nn.Module):
    """``x + sin(x)^2``, elementwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(x) ** 2


@register_method("xsin2", base=False, on_demand=[{}, {"settings": "paper"}])
class XSin2MLP(NetMethod):
    """MLP with x + sin(x)^2 (Snake with a = 1; Ziyin, Hartwig, Ueda, NeurIPS 2020)."""

    description = (
        "MLP 3 x 256 with x + sin(x)^2 (Snake at a = 1, fixed), Adam 1e-3, x scaled to [-1, 1]; "
        "classification: softmax head per output"
    )
    reference = (
        "Ziyin, Hartwig, Ueda, Neural Networks Fail to Learn Periodic Functions and How to Fix "
        "It, NeurIPS 2020 (the a = 1 case)"
    )
    #: The declared tuning grid (``bench.engine.tuning``): learning rate and width.
    search_space = {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "width": [64, 256]}

    paper_settings = "x + sin(x)^2 MLP 3 x 256, Adam 1e-3"

    def __init__(
        self, width: int = 256, depth: int = 3, lr: float = 1e-3, settings: str = "tuned"
    ) -> None:
        self.width = width
        self.depth = depth
        self.lr = lr
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        return mlp(n_in, n_out, int(self.width), int(self.depth), lambda _: XSin2())
