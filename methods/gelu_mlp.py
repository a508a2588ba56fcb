"""GELU MLP: the plain baseline the original post also tried.

A multilayer perceptron with GELU activations (Hendrycks and Gimpel, "Gaussian Error Linear
Units", 2016): 3 hidden layers of 256 units, PyTorch's default initialisation, Adam with
learning rate 1e-3 (Adam's default), inputs scaled to [-1, 1]. Nothing in it is periodic; it
shows what a standard network does with a periodic target (it interpolates a few cycles at
best and does not extrapolate).
"""

from __future__ import annotations

from torch import nn

from bench import register_method
from bench.kit.netmethod import NetMethod
from bench.kit.nn import mlp


@register_method("gelu-mlp", on_demand=[{"settings": "paper"}])
class GeluMLP(NetMethod):
    """GELU MLP (Hendrycks and Gimpel 2016), 3 x 256, Adam 1e-3: the plain baseline."""

    description = (
        "Plain GELU MLP 3 x 256, Adam 1e-3, x scaled to [-1, 1]; classification: softmax head "
        "per output, cross-entropy"
    )
    reference = "Hendrycks and Gimpel, Gaussian Error Linear Units (GELUs), 2016"
    #: The declared tuning grid (``bench.engine.tuning``): learning rate and width.
    search_space = {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "width": [64, 256]}

    paper_settings = "GELU MLP 3 x 256, Adam 1e-3 (the common defaults)"

    def __init__(
        self, width: int = 256, depth: int = 3, lr: float = 1e-3, settings: str = "tuned"
    ) -> None:
        self.width = width
        self.depth = depth
        self.lr = lr
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        return mlp(n_in, n_out, int(self.width), int(self.depth), lambda _: nn.GELU())
