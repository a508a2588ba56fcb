"""Time2Vec (Seyed Mehran Kazemi, Rishab Goel, Sepehr Eghbali et al., "Time2Vec: Learning a
Vector Representation of Time", 2019).

Time ``t`` becomes ``[w_0 t + phi_0, sin(w_1 t + phi_1), ..., sin(w_k t + phi_k)]``: one linear
channel and ``k`` sine channels whose frequencies and phases are learnt with the rest of the
model. The paper plugs it in front of other models; here it feeds the suite's plain GELU MLP (3
hidden layers of 256, Adam 1e-3), so that ``time2vec`` against ``gelu-mlp`` isolates what the
representation adds. Frequencies and phases start standard normal, as in commonly used
implementations (the paper gives no rule); inputs are scaled to [-1, 1]. ``k`` (``sines``) is a
declared knob, 64 by default. It runs on demand (``--methods time2vec``), not in ``--all``.
"""

from __future__ import annotations

import torch
from torch import nn

from bench import register_method
from bench.kit.netmethod import NetMethod
from bench.kit.nn import mlp


class Time2Vec(nn.Module):
    """``[w_0 t + phi_0, sin(w_i t + phi_i) for i = 1..k]`` for a scalar input."""

    def __init__(self, n_in: int, sines: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_in, sines + 1))
        self.phi = nn.Parameter(torch.randn(sines + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.w + self.phi
        return torch.cat([z[..., :1], torch.sin(z[..., 1:])], dim=-1)


@register_method("time2vec", base=False, on_demand=[{}, {"settings": "paper"}])
class Time2VecMLP(NetMethod):
    """Time2Vec (Kazemi et al. 2019): learnable linear + k sine channels, then a GELU MLP."""

    description = (
        "Time2Vec: [w0 t + phi0, sin(w_i t + phi_i)], k = 64 learnt sines, then a 3 x 256 GELU "
        "MLP, Adam 1e-3, x scaled to [-1, 1]"
    )
    reference = "Kazemi et al., Time2Vec: Learning a Vector Representation of Time, 2019"
    #: The declared tuning grid: the number of sine channels and the learning rate.
    search_space = {"sines": [16, 64, 256], "lr": [1e-4, 3e-4, 1e-3, 3e-3]}

    paper_settings = "Time2Vec k = 64 + GELU MLP 3 x 256, Adam 1e-3"

    def __init__(
        self,
        sines: int = 64,
        width: int = 256,
        depth: int = 3,
        lr: float = 1e-3,
        settings: str = "tuned",
    ) -> None:
        self.sines = sines
        self.width = width
        self.depth = depth
        self.lr = lr
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        k = int(self.sines)
        head = mlp(k + 1, n_out, int(self.width), int(self.depth), lambda _: nn.GELU())
        return nn.Sequential(Time2Vec(n_in, k), *head)
