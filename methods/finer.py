"""FINER, a newer implicit neural representation (issue 34; on demand, its settings tuned
under the declared protocol).

**FINER** (Liu, Zhu, Huang, Tang, Gao and Zhang, "FINER: Flexible spectral-bias tuning in
Implicit NEural Representation by variable-periodic activation functions", CVPR 2024) replaces
SIREN's ``sin(w0 z)`` by ``sin(w0 (|z| + 1) z)``, ``z = W x + b``: the local frequency grows
with ``|z|``, so a neuron whose pre-activation is large oscillates faster, and the network's
spectrum starts flatter than SIREN's (the paper's claim: high frequencies are fitted sooner).
As in the reference code, the factor ``|z| + 1`` is not differentiated, the weights take
SIREN's initialisation, and the first layer's bias may be drawn wider, ``U(-k, k)``
(``first_bias_scale``; the reference's image script leaves PyTorch's default, and so does this
method by default). Settings of the reference's image script: ``w0 = 30`` first and hidden,
a first layer and 3 hidden layers of 256, Adam with learning rate 5e-4.

It sees its input scaled to [-1, 1] like every network here; ``w0`` sets the band it starts in
and is its scale knob for the tuning protocol.
"""

from __future__ import annotations

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.netmethod import NetMethod

from .siren import SineLayer, output_layer


class FinerLayer(SineLayer):
    """``sin(w0 (|z| + 1) z)`` with the SIREN initialisation; the factor carries no gradient."""

    def __init__(
        self, n_in: int, n_out: int, w0: float, first: bool, bias_scale: float | None = None
    ) -> None:
        super().__init__(n_in, n_out, w0, first)
        if first and bias_scale is not None:
            with torch.no_grad():
                self.linear.bias.uniform_(-float(bias_scale), float(bias_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        return torch.sin(self.w0.to(z.dtype) * (z.detach().abs() + 1.0) * z)


def finer(
    n_in: int,
    n_out: int,
    width: int,
    hidden_layers: int,
    w0: float,
    hidden_w0: float,
    first_bias_scale: float | None,
) -> nn.Sequential:
    """SIREN's architecture and initialisation with FINER's layers."""
    layers: list[nn.Module] = [FinerLayer(n_in, width, w0, True, first_bias_scale)]
    layers += [FinerLayer(width, width, hidden_w0, False) for _ in range(hidden_layers)]
    layers.append(output_layer(width, n_out, hidden_w0))
    return nn.Sequential(*layers)


@register_method("finer", base=False, on_demand=[{}])
class Finer(NetMethod):
    """FINER (Liu et al., CVPR 2024): variable-periodic sine MLP, w0 = 30, Adam 5e-4."""

    description = (
        "FINER: sin(w0 (|z|+1) z) MLP (first layer + 3 x 256), w0 = 30, SIREN init, Adam 5e-4, "
        "x scaled to [-1, 1]"
    )
    reference = "Liu et al., FINER, CVPR 2024 (reference code: liuzhen0212/FINER)"
    search_space = {"lr": [1e-4, 5e-4, 2e-3, 5e-3], "w0": [10.0, 30.0, 300.0]}
    scale_knob = ScaleKnob("w0", per_unit=1.0, factor=10.0)
    paper_settings = "FINER with the reference's image settings (w0 = 30, Adam 5e-4)"
    #: Held per member of a stacked model (the layers' ``w0`` buffers; the first bias's scale
    #: only draws its start): units that differ only in these train as one fleet.
    fleet_scalars = ("lr", "w0", "hidden_w0", "first_bias_scale")

    def __init__(
        self,
        w0: float = 30.0,
        hidden_w0: float = 30.0,
        width: int = 256,
        hidden_layers: int = 3,
        lr: float = 5e-4,
        first_bias_scale: float | None = None,
        settings: str = "tuned",
    ) -> None:
        self.w0 = w0
        self.hidden_w0 = hidden_w0
        self.width = width
        self.hidden_layers = hidden_layers
        self.lr = lr
        self.first_bias_scale = first_bias_scale
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        fbs = None if self.first_bias_scale is None else float(self.first_bias_scale)
        return finer(
            n_in, n_out, int(self.width), int(self.hidden_layers), float(self.w0),
            float(self.hidden_w0), fbs,
        )  # fmt: skip
