"""FAN: Fourier Analysis Networks (Yihong Dong, Ge Li, Yongding Tao et al., "FAN: Fourier
Analysis Networks", 2024; reference code YihongDong/FAN).

A FAN layer concatenates a periodic branch and an ordinary one,
``[cos(W_p x + b_p) | sin(W_p x + b_p) | GELU(W_g x + b_g)]``, with a quarter of the output
units to ``cos``, a quarter to ``sin`` (``p_ratio = 0.25``) and the rest to GELU; the two
branches have their own projections of the same input. The periodicity model of the reference
code: ``Linear(1 -> d)`` (no activation), two FAN layers ``d -> d``, ``Linear(d -> 1)``, with
``d = 2048``, PyTorch's default initialisation, trained by AdamW (learning rate 1e-5, weight
decay 0.01, batch 32) on the mean squared error. Those are the defaults here.

Differences from the reference, for every network of this suite alike: inputs are scaled to
[-1, 1] (the reference feeds raw ``t`` in ``[-6 pi, 6 pi]``), the batch size is the task's, and
training stops by the declared plateau rule within the task's step budget (the reference runs
10,000 epochs). It runs on demand (``--methods fan``), not in ``--all``: a width of 2048 costs
far more per step on a CPU than the suite's other networks.
"""

from __future__ import annotations

import torch
from torch import nn

from bench import register_method
from bench.kit.netmethod import NetMethod


class FANLayer(nn.Module):
    """``[cos(p) | sin(p) | GELU(g)]`` with ``p = W_p x + b_p`` (``int(out * p_ratio)`` units,
    each giving a cos and a sin) and ``g = W_g x + b_g`` (the remaining units)."""

    def __init__(self, n_in: int, n_out: int, p_ratio: float = 0.25) -> None:
        super().__init__()
        if not 0 < p_ratio < 0.5:
            raise ValueError(f"p_ratio must be between 0 and 0.5, not {p_ratio!r}")
        p_dim = int(n_out * p_ratio)
        self.periodic = nn.Linear(n_in, p_dim)
        self.gelu = nn.Linear(n_in, n_out - 2 * p_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.periodic(x)
        return torch.cat([torch.cos(p), torch.sin(p), nn.functional.gelu(self.gelu(x))], dim=-1)


@register_method("fan", base=False, on_demand=[{}, {"settings": "paper"}])
class FAN(NetMethod):
    """FAN (Dong et al. 2024): Linear(1 -> d), FAN layers [cos | sin | GELU], Linear; AdamW."""

    description = (
        "FAN: Linear(1 -> 2048), 2 FAN layers [cos(W_p x) | sin(W_p x) | GELU(W_g x)] (p_ratio "
        "0.25), Linear; AdamW 1e-5, weight decay 0.01, x scaled to [-1, 1]"
    )
    reference = "Dong et al., FAN: Fourier Analysis Networks, 2024 (code: YihongDong/FAN)"
    #: The conformance checks test the contract at a width a CPU trains in a second.
    conformance_params = {"width": 64}
    #: The declared tuning grid: the learning rate from the paper's up, and the width.
    search_space = {"lr": [1e-5, 1e-4, 3e-4, 1e-3], "width": [256, 2048]}

    paper_settings = "FAN with the reference settings (d 2048, AdamW 1e-5)"

    def __init__(
        self,
        width: int = 2048,
        layers: int = 2,
        p_ratio: float = 0.25,
        lr: float = 1e-5,
        weight_decay: float = 0.01,
        settings: str = "tuned",
    ) -> None:
        self.width = width
        self.layers = layers
        self.p_ratio = p_ratio
        self.lr = lr
        self.weight_decay = weight_decay
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        d = int(self.width)
        body = [FANLayer(d, d, float(self.p_ratio)) for _ in range(int(self.layers))]
        return nn.Sequential(nn.Linear(n_in, d), *body, nn.Linear(d, n_out))
