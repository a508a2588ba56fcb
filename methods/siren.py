"""SIREN: an MLP with sine activations (Sitzmann, Martel, Bergman, Lindell, Wetzstein,
"Implicit Neural Representations with Periodic Activation Functions", NeurIPS 2020).

Each layer computes ``sin(w0 (W x + b))``. The paper's initialisation keeps activations
distributed the same way through depth: the first layer draws ``W ~ U(-1/n, 1/n)`` (n = fan-in),
every later layer ``W ~ U(-sqrt(6/n)/w0, +sqrt(6/n)/w0)``, biases keep PyTorch's default, and
the linear output layer gets the hidden-layer rule. Settings as in the reference
implementation's fitting examples: ``w0 = 30``, 256 units, ``hidden_layers = 3`` sine layers
after the first (four sine layers in all), Adam with learning rate 1e-4, inputs scaled to
[-1, 1].

``w0`` multiplies the first layer and so sets the band the network starts in: with inputs on
[-1, 1] a tone with C cycles in the domain has frequency ``C pi``. The paper's audio fit raises
the first layer's ``w0`` to 3000; the variants ``siren[w0=3000]`` (the paper's value) and
``siren[w0=30000]`` (which reaches ``sin(31x)`` on [-1000, 1000], 31,000 rad per unit of the
scaled input, and the 10,000-cycle tone) form the grid that reaches the suite's target band.
Hidden layers keep ``w0 = 30`` as in the paper. ``siren[w0=30000]`` runs on demand (named
explicitly, e.g. ``--methods 'siren*'``), not in every ``--all``: it costs as much as the
other variants and keeps the default sweep within minutes on a small CPU.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.netmethod import NetMethod


class SineLayer(nn.Module):
    """``sin(w0 (W x + b))`` with the SIREN initialisation; ``first`` picks the first-layer rule.

    ``w0`` is a buffer (float64, cast to the activations' dtype: the same product, bit for bit,
    as a Python float's), so that networks of different ``w0`` share one stacked model, each
    member its own ``w0`` (a fleet, ``bench.engine.plan.fleets``)."""

    def __init__(self, n_in: int, n_out: int, w0: float, first: bool) -> None:
        super().__init__()
        self.register_buffer("w0", torch.tensor(float(w0), dtype=torch.float64))
        self.linear = nn.Linear(n_in, n_out)
        bound = 1.0 / n_in if first else math.sqrt(6.0 / n_in) / float(w0)
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        return torch.sin(self.w0.to(z.dtype) * z)


def siren(
    n_in: int, n_out: int, width: int, hidden_layers: int, w0: float, hidden_w0: float
) -> nn.Sequential:
    """The reference architecture: a first sine layer, ``hidden_layers`` more, a linear output."""
    layers: list[nn.Module] = [SineLayer(n_in, width, w0, first=True)]
    layers += [SineLayer(width, width, hidden_w0, first=False) for _ in range(hidden_layers)]
    layers.append(output_layer(width, n_out, hidden_w0))
    return nn.Sequential(*layers)


def output_layer(width: int, n_out: int, hidden_w0: float) -> nn.Linear:
    """The linear output layer with SIREN's hidden-layer initialisation."""
    out = nn.Linear(width, n_out)
    bound = math.sqrt(6.0 / width) / hidden_w0
    with torch.no_grad():
        out.weight.uniform_(-bound, bound)
    return out


@register_method("siren", on_demand=[{"settings": "paper"}, {"w0": 3000}, {"w0": 30000}])
class Siren(NetMethod):
    """SIREN (Sitzmann et al., NeurIPS 2020): sine MLP, w0 = 30, paper init, Adam 1e-4."""

    description = (
        "SIREN: sine MLP (first sine layer + 3 x 256), w0 = 30, paper init, Adam 1e-4, x scaled "
        "to [-1, 1]; classification: softmax head per output, cross-entropy"
    )
    reference = (
        "Sitzmann et al., Implicit Neural Representations with Periodic Activation Functions, "
        "NeurIPS 2020"
    )
    #: The declared tuning grid (``bench.engine.tuning``): learning rate and first-layer w0.
    search_space = {"lr": [3e-5, 1e-4, 3e-4, 1e-3], "w0": [10.0, 30.0, 300.0]}
    #: ``w0`` reaches ``w0`` rad per unit of the scaled input (module doc).
    scale_knob = ScaleKnob("w0", per_unit=1.0, factor=10.0)

    paper_settings = "SIREN with the paper's settings (w0 = 30, Adam 1e-4)"
    #: Held per member of a stacked model (``SineLayer``'s buffer, Adam's row): units that
    #: differ only in these train as one fleet.
    fleet_scalars = ("lr", "w0", "hidden_w0")

    def __init__(
        self,
        w0: float = 30.0,
        hidden_w0: float = 30.0,
        width: int = 256,
        hidden_layers: int = 3,
        lr: float = 1e-4,
        settings: str = "tuned",
    ) -> None:
        self.w0 = w0
        self.hidden_w0 = hidden_w0
        self.width = width
        self.hidden_layers = hidden_layers
        self.lr = lr
        self.settings = settings

    @classmethod
    def describe_variant(cls, params: dict[str, Any]) -> str:
        if "w0" in params:
            return (
                f"Variant: SIREN with first-layer w0 = {params['w0']} (hidden w0 = 30), reaching "
                f"about {params['w0']} rad per unit of the [-1, 1]-scaled input"
            )
        return cls.description

    def build(self, n_in: int, n_out: int) -> nn.Module:
        return siren(
            n_in, n_out, int(self.width), int(self.hidden_layers), float(self.w0),
            float(self.hidden_w0),
        )  # fmt: skip
