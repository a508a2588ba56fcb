"""What every network of the suite shares besides its training: input scaling, output heads,
the building blocks the plugins assemble their networks from, and the fitted predictor.

The networks differ only in their layers; everything around the layers is here, once:

- **Inputs** are scaled to [-1, 1] by the task's domain in float64 and stay float64 through
  the network's first layer (:class:`Float64Front`); only that layer's output is float32, the
  dtype of the rest of the network. On the Clock Problem's 120-year span a float32 input would
  leave neighbouring seconds up to 207 s apart (float32's spacing grows with magnitude) and cap
  exact match near 4% before training; in float64 they stay 4e-7 s apart, so the input is no
  handicap. Integer seconds convert to float64 exactly (they are far below 2**53).
- **Heads**: regression gets one linear output per target, trained on targets standardised
  with the training data's mean and deviation (MSE); classification gets one softmax head per
  output (a block of logits each) trained with the summed cross-entropy, and predicts the
  arg-max label of each head (:class:`TargetCoder`).
- **Prediction**: a trained network with its encoder and coder is a :class:`NetPredictor`.

The training loop is ``bench.kit.train``, the stacked-seeds machinery ``bench.kit.stack``.
Their names are still answered here, on first use, for code that imported them from this
module before it was split: importing them at the top would make this module import the
loop that imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from bench.core.contracts import OutputSpec

#: Rows per forward pass when predicting.
PREDICT_BATCH = 65536

# -- inputs and targets -------------------------------------------------------------------------


@dataclass(frozen=True)
class InputScaler:
    """Affine map of the task's domain onto [-1, 1], computed in float64, returned in
    ``dtype`` (float64 for the networks' :class:`Float64Front`; float32 only for a variant
    that wants the old, lossy input)."""

    center: float
    half_width: float
    dtype: str = "float64"

    @classmethod
    def from_domain(cls, domain: tuple[float, float], dtype: str = "float64") -> InputScaler:
        lo, hi = float(domain[0]), float(domain[1])
        half = 0.5 * (hi - lo)
        return cls(center=0.5 * (lo + hi), half_width=half if half > 0 else 1.0, dtype=dtype)

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        x64 = np.asarray(x).astype(np.float64, copy=False).reshape(-1, 1)
        return ((x64 - self.center) / self.half_width).astype(self.dtype, copy=False)


def head_size(spec: OutputSpec) -> int:
    """Network outputs a task needs: one per regression target, one logit per class."""
    if spec.kind == "classification":
        return int(sum(spec.classes or ()))
    return int(spec.n_outputs)


@dataclass(frozen=True)
class TargetCoder:
    """Turns targets into what the loss compares against, and network outputs into predictions.

    Regression targets are standardised per output (so one learning rate suits sunspot counts
    and unit sines alike); classification targets stay integer labels.
    """

    spec: OutputSpec
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, spec: OutputSpec, y: np.ndarray) -> TargetCoder:
        if spec.kind == "classification":
            return cls(spec, np.zeros(0), np.ones(0))
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        std = y2.std(axis=0)
        return cls(spec, y2.mean(axis=0), np.where(std > 0, std, 1.0))

    def encode(self, y: np.ndarray) -> np.ndarray:
        if self.spec.kind == "classification":
            return np.asarray(y).reshape(len(y), -1).astype(np.int64)
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return ((y2 - self.mean) / self.std).astype(np.float32)

    def decode(self, out: torch.Tensor) -> np.ndarray:
        if self.spec.kind == "classification":
            labels = [blk.argmax(dim=1) for blk in self.split(out)]
            return torch.stack(labels, dim=1).cpu().numpy().astype(np.int64)
        pred = out.double().cpu().numpy() * self.std + self.mean
        return pred[:, 0] if self.spec.n_outputs == 1 else pred

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(out, list(self.spec.classes or ()), dim=1)

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to minimise, its parts to accumulate for the log; see :meth:`in_task_units`).

        Regression: MSE per output on standardised targets; classification: cross-entropy
        summed over the outputs' heads.
        """
        if self.spec.kind == "classification":
            ce = sum(
                nn.functional.cross_entropy(blk, target[:, j])
                for j, blk in enumerate(self.split(out))
            )
            return ce, ce.detach()
        per_output = ((out - target) ** 2).mean(dim=0)
        return per_output.mean(), per_output.detach()

    def in_task_units(self, parts: torch.Tensor | np.ndarray) -> float:
        """Mean accumulated loss parts as the number the log shows: the MSE of the targets as
        given (averaged over outputs), or the summed cross-entropy."""
        if isinstance(parts, torch.Tensor):
            parts = parts.double().cpu().numpy()
        values = np.asarray(parts, dtype=np.float64)
        if self.spec.kind == "classification":
            return float(values)
        return float(np.mean(values * self.std**2))


# -- model building blocks ----------------------------------------------------------------------


def mlp(
    n_in: int,
    n_out: int,
    width: int,
    depth: int,
    activation: Callable[[int], nn.Module],
) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units, ``activation(width)`` after each, then a
    linear output. PyTorch's default initialisation unless the caller re-initialises."""
    layers: list[nn.Module] = []
    d = n_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), activation(width)]
        d = width
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


class Float64Front(nn.Module):
    """Runs ``layer`` (a network's first layer, activation included where it is part of the
    layer, as in SIREN's sine layer) in float64 and hands its output on as float32.

    The first layer is where the input's resolution matters: its weights multiply the raw
    (scaled) input, so a float32 input or weight would round neighbouring inputs together.
    Its cost is one ``(batch, 1) x (1, width)`` product, nothing next to the hidden layers.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.double()).float()


def float64_front(model: nn.Module) -> nn.Module:
    """``model`` (an ``nn.Sequential``) with its first module wrapped in :class:`Float64Front`."""
    if not isinstance(model, nn.Sequential) or len(model) == 0:
        raise TypeError("float64_front needs a non-empty nn.Sequential")
    if not isinstance(model[0], Float64Front):
        model[0] = Float64Front(model[0])
    return model


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def make_adam(params: Any, lr: float, device: str) -> torch.optim.Optimizer:
    """Adam, fused where torch supports it on the device (about 25% faster per step on CPU)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


# -- the fitted predictor -----------------------------------------------------------------------


#: Turns raw inputs into the network's float32 input rows ``(n, d)``: an :class:`InputScaler`,
#: or a method's own features.
Encoder = Callable[[np.ndarray], np.ndarray]


class NetPredictor:
    """A trained network with its input encoding and output decoding: ``predict(x)``."""

    def __init__(self, model: nn.Module, encoder: Encoder, coder: TargetCoder, device: str):
        self.model = model.eval()
        self.encoder = encoder
        self.coder = coder
        self.device = device
        self.n_params_ = count_params(model)
        #: The network as it was at the last step, where the run kept its best state instead
        #: (``bench.kit.train``); ``None`` otherwise.
        self.final: NetPredictor | None = None

    @torch.no_grad()
    def predict(self, x: npt.ArrayLike) -> np.ndarray:
        xv = np.asarray(x)
        outs = []
        for i in range(0, max(len(xv), 1), PREDICT_BATCH):
            xb = torch.from_numpy(self.encoder(xv[i : i + PREDICT_BATCH])).to(self.device)
            outs.append(self.coder.decode(self.model(xb)))
        return np.concatenate(outs, axis=0)


def input_dtype(model: nn.Module) -> torch.dtype:
    """The dtype ``model`` takes its input rows in: float64 behind a :class:`Float64Front`,
    where the input's resolution is kept, else float32."""
    first = model[0] if isinstance(model, nn.Sequential) and len(model) else None
    return torch.float64 if isinstance(first, Float64Front) else torch.float32


_input_dtype = input_dtype  # its name before the split
