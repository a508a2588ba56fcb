"""sinc-activated MLP (Saratchandran, Ramasinghe, Shevchenko, Long and Lucey, "A sampling theory
perspective on activations for implicit neural representations", ICML 2024; on demand,
tuned under the declared protocol).

The paper reads an implicit network's activation as the generator of a sampling basis: a
shallow network ``sum_k c_k act(w x - b_k)`` is a combination of translates of the
activation, and the translates of ``sinc`` form a Riesz (indeed orthonormal) basis of the
band-limited signals and satisfy the partition of unity, so sinc is, in the paper's sense, the
optimal activation for reconstructing a signal from its samples (Shannon's interpolation is
such a network); it extends the argument to deep networks and tests sinc on images, radiance
fields and dynamical systems.

The activation here is ``sinc(omega z) = sin(omega z) / (omega z)`` (1 at ``z = 0``) of
``z = W x + b``, with ``omega`` its bandwidth: a unit's Fourier transform is supported on
``|xi| <= omega |w|``. **No reference code was found** (searched code, documentation, pages and
issues; one third-party re-implementation, Fre-Ar/BSP-AF-S5, writes it the same way with
``omega = pi`` and Xavier initialisation) and the paper's experimental section could not be
read here, so what follows is this module's choice, not the paper's settings: PyTorch's
default initialisation (the same authors argue, in "Beyond Periodicity", that such activations
need no special scheme), a first layer and 3 hidden layers of 256 and a linear output (as the
other networks here), Adam with learning rate 1e-3.
``omega = 30`` in the first layer and ``hidden_omega = 10`` in the others, from a 1-D check
(4 layers of 64 to 128, 300 steps): hidden ``omega = 30`` memorises 128 samples of a
band-limited signal (error 0.4 between them), 10 reconstructs it (1e-5), and 1 to 3 fit it
worse (3e-4); a first layer at 100 with hidden 10 fits sin(100 pi x) (1e-2), while
``omega = 100`` in every layer fits nothing.

It sees its input scaled to [-1, 1] like every network here. Under PyTorch's default
initialisation a first-layer weight is at most 1 (one input), so the first layer is
band-limited to ``omega`` rad per unit of the scaled input: the scale knob ``omega`` reaches
``omega`` rad per unit, as SIREN's ``w0`` does.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.netmethod import NetMethod


class SincLayer(nn.Module):
    """``sinc(omega z) = sin(omega z) / (omega z)`` (1 at ``z = 0``) of ``z = W x + b``, PyTorch's
    default initialisation."""

    def __init__(self, n_in: int, n_out: int, omega: float) -> None:
        super().__init__()
        self.omega = float(omega)
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # torch.sinc is the normalised sinc, sin(pi u) / (pi u), smooth through u = 0.
        return torch.sinc(self.linear(x) * (self.omega / math.pi))


def sinc_net(
    n_in: int, n_out: int, width: int, hidden_layers: int, omega: float, hidden_omega: float
) -> nn.Sequential:
    """A first sinc layer, ``hidden_layers`` more, then a linear output."""
    layers: list[nn.Module] = [SincLayer(n_in, width, omega)]
    layers += [SincLayer(width, width, hidden_omega) for _ in range(hidden_layers)]
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


@register_method("sinc", base=False, on_demand=[{}])
class Sinc(NetMethod):
    """sinc-activation MLP (Saratchandran et al., ICML 2024): sinc(omega z), omega = 30 / 10."""

    description = (
        "sinc MLP: sin(omega z)/(omega z) activations (first layer + 3 x 256), omega = 30 "
        "first, 10 hidden, PyTorch default init, Adam 1e-3, x scaled to [-1, 1]"
    )
    reference = (
        "Saratchandran et al., A sampling theory perspective on activations for implicit "
        "neural representations, ICML 2024 (no reference code found)"
    )
    search_space = {"lr": [3e-4, 1e-3, 3e-3, 1e-2], "omega": [10.0, 30.0, 300.0]}
    #: The first layer is band-limited to ``omega`` rad per unit (module doc).
    scale_knob = ScaleKnob("omega", per_unit=1.0, factor=10.0)
    paper_settings = (
        "sinc MLP with this module's settings (omega = 30 first, 10 hidden, Adam 1e-3); the "
        "paper's own were not found"
    )

    def __init__(
        self,
        omega: float = 30.0,
        hidden_omega: float = 10.0,
        width: int = 256,
        hidden_layers: int = 3,
        lr: float = 1e-3,
        settings: str = "tuned",
    ) -> None:
        self.omega = omega
        self.hidden_omega = hidden_omega
        self.width = width
        self.hidden_layers = hidden_layers
        self.lr = lr
        self.settings = settings

    def build(self, n_in: int, n_out: int) -> nn.Module:
        return sinc_net(
            n_in, n_out, int(self.width), int(self.hidden_layers), float(self.omega),
            float(self.hidden_omega),
        )  # fmt: skip
