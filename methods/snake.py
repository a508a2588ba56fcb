"""Snake: an MLP whose activation is ``x + sin^2(a x) / a`` (Liu Ziyin, Tilman Hartwig, Masahito
Ueda, "Neural Networks Fail to Learn Periodic Functions and How to Fix It", NeurIPS 2020).

The activation is monotone with a periodic ripple, so the network can extrapolate a periodic
signal while staying easy to optimise. ``a`` is learnt, one value per channel. The paper finds
``a`` between 5 and 50 best for data known to be periodic (about 0.2 otherwise). The reference
PyTorch implementation (torch-snake), when no ``a`` is given, draws each channel's ``a`` from an
exponential distribution of rate 0.1 (a Gamma with shape 1, mean 10), which puts most of the
mass in that range; this is the *periodic* initialisation used here. ``a_init`` set to a
number uses that constant for every channel instead.

Architecture and optimiser are not fixed by the paper across its tasks; we use the suite's
common 3 hidden layers of 256 units, PyTorch's default linear initialisation, and Adam with
learning rate 1e-3 (Adam's default), inputs scaled to [-1, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.netmethod import NetMethod
from bench.kit.nn import mlp


class Snake(nn.Module):
    """``x + sin^2(a x) / a`` with a learnable ``a`` per channel."""

    def __init__(self, channels: int, a_init: float | str = "periodic", mean: float = 10.0):
        super().__init__()
        if a_init == "periodic":
            a = torch.empty(channels).exponential_(1.0 / mean)
        elif isinstance(a_init, int | float):
            a = torch.full((channels,), float(a_init))
        else:
            raise ValueError(f"a_init must be 'periodic' or a number, not {a_init!r}")
        self.a = nn.Parameter(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The tiny constant only guards a == 0 exactly, as in the reference implementation.
        return x + torch.sin(self.a * x) ** 2 / (self.a + 1e-9)


@register_method("snake", on_demand=[{"settings": "paper"}])
class SnakeMLP(NetMethod):
    """Snake (Ziyin, Hartwig, Ueda, NeurIPS 2020): MLP with x + sin^2(a x)/a, learnable a."""

    description = (
        "Snake: MLP 3 x 256 with x + sin^2(a x)/a, learnable a per channel (periodic init, mean "
        "10), Adam 1e-3, x scaled to [-1, 1]; classification: softmax head per output"
    )
    reference = (
        "Ziyin, Hartwig, Ueda, Neural Networks Fail to Learn Periodic Functions and How to Fix "
        "It, NeurIPS 2020"
    )
    #: The declared tuning grid (``bench.engine.tuning``): learning rate and the initial a.
    search_space = {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "a_init": ["periodic", 1.0, 30.0]}
    #: ``a_init`` only sets the learnable ``a``'s first value: units that differ in it and the
    #: learning rate train as one fleet.
    fleet_scalars = ("lr", "a_init")
    #: ``sin^2(a x)`` oscillates at ``2 a``; the periodic initialisation stays a grid point.
    scale_knob = ScaleKnob("a_init", per_unit=2.0, factor=10.0)

    paper_settings = "Snake MLP with the reference settings (periodic a, Adam 1e-3)"

    def __init__(
        self,
        a_init: float | str = "periodic",
        width: int = 256,
        depth: int = 3,
        lr: float = 1e-3,
        settings: str = "tuned",
    ) -> None:
        self.a_init = a_init
        self.width = width
        self.depth = depth
        self.lr = lr
        self.settings = settings

    @classmethod
    def describe_variant(cls, params: dict[str, Any]) -> str:
        if "a_init" in params:
            return f"Variant: Snake MLP with every a initialised to {params['a_init']}"
        return cls.description

    def build(self, n_in: int, n_out: int) -> nn.Module:
        a_init = self.a_init
        return mlp(n_in, n_out, int(self.width), int(self.depth), lambda c: Snake(c, a_init))
