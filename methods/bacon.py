"""BACON, a band-limited multiplicative filter network (Lindell, Van Veen, Park and Wetzstein,
"BACON: Band-limited Coordinate Networks for Multiscale Scene Representation", CVPR 2022;
on demand, tuned under the declared protocol).

A multiplicative filter network (``methods/mfn.py``: ``z_1 = g_1(x)``,
``z_{i+1} = g_{i+1}(x) * (W_i z_i + b_i)``, output ``W z + b``) whose sine filters
``g_i(x) = sin(w_i x + c_i)`` take frequencies from a discrete set and never train them. Every
frequency is a whole multiple of a quantum ``2 pi / period``, drawn uniformly from
``{-s, -s + q, ..., s}``; a product of sines only adds and subtracts frequencies, so the
output is a sum of harmonics of the quantum no higher than the sum of the filters' bands:
band-limited by construction, and periodic with ``period``. As in the reference code
(computational-imaging/bacon, ``modules.py``, ``BACON`` and ``FourierLayer``): the declared
band is split evenly across the filters, each filter's ``s`` the nearest multiple of the
quantum to ``band / (layers + 1)``; the quantum is one cycle over the training domain (there
``2 pi`` on ``[-0.5, 0.5]``; here ``pi`` per unit of the input scaled to ``[-1, 1]``, so
``period = 2``); filter phases ``U(-pi, pi)`` and trained, frequencies frozen; hidden and
output weights ``U(-sqrt(6 / width), sqrt(6 / width))``, biases PyTorch's default. From the
reference's 1D script (``experiments/train_1d.py``, ``config/1d/bacon_freq*.ini``): 4 hidden
layers (5 filters), Adam with learning rate 1e-2 (the reference's Adam is AMSGrad; the harness
trains with plain Adam), one output at the end and the MSE of that output as the loss. The
width is 256 here (the reference's 1D script has 128).

**The band comes from the data**, as the paper sets it from the sampling rate (the image
script: ``frequency = resolution``, i.e. ``pi`` times the samples per unit). With
``max_freq=None`` (the default) it is the highest angular frequency the ``n`` training samples
resolve at their mean rate, ``pi n / 2`` rad per scaled unit (``n`` counted as the tuning
protocol counts it, ``bench.engine.halving.resolution``); a number sets it by hand, in rad per
scaled unit. The fit records the band declared (``max_freq_``), the band the quantised filters
reach (``band_``: rounding moves it by at most ``(layers + 1) q / 2``, and each filter keeps
at least one quantum) and ``n`` (``band_samples_``), and reports them as the run's metrics
``band_declared``, ``band`` and ``band_samples``. ``max_freq`` is the scale knob (1 rad per
unit); ``None``, the data's band, stays in the grid beside the numbers the protocol extends.

``period`` (2, the reference's choice) makes the output repeat with the training domain: a
signal holding a non-whole number of cycles there (every ``tone`` task) leaves a jump at the
ends that a band-limited sum fits only slowly; ``period=4`` frees it (not in the paper).

Not implemented: the multiscale variant (``MultiscaleBACON``: linear outputs after
intermediate layers, trained on the mean of their losses), which the reference uses for
images, not for 1D signals; the harness trains one output against one loss.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from bench import ScaleKnob, register_method
from bench.kit.methods import SeedFit
from bench.kit.netmethod import NetMethod
from bench.kit.nn import head_size
from bench.kit.train import train_seeds

from .mfn import Multiply


def filter_halfwidth(band: float, n_filters: int, quantum: float) -> float:
    """Each filter's highest frequency: the multiple of ``quantum`` nearest to an even share
    of ``band`` (as the reference rounds), at least one quantum (a bank of zero frequencies
    would be a constant)."""
    return max(round(band / n_filters / quantum), 1) * quantum


class BandFilter(nn.Module):
    """``sin(x @ freq + phase)``: frozen frequencies (a buffer) on the grid ``k * quantum``,
    ``|k * quantum| <= halfwidth``, drawn uniformly; phases ``U(-pi, pi)``, trained."""

    def __init__(self, n_in: int, width: int, halfwidth: float, quantum: float) -> None:
        super().__init__()
        m = round(halfwidth / quantum)
        k = torch.randint(0, 2 * m + 1, (n_in, width)) - m
        self.register_buffer("freq", k.to(torch.float64) * quantum)
        self.phase = nn.Parameter(torch.empty(width).uniform_(-math.pi, math.pi))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x @ self.freq.to(x.dtype) + self.phase)


class FilterBank(nn.Module):
    """The ``n`` band filters of the input, stacked: ``(batch, n, width)``."""

    def __init__(self, n_in: int, width: int, n: int, halfwidth: float, quantum: float) -> None:
        super().__init__()
        self.filters = nn.ModuleList(BandFilter(n_in, width, halfwidth, quantum) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([f(x) for f in self.filters], dim=-2)


def bacon(
    n_in: int, n_out: int, width: int, layers: int, band: float, period: float = 2.0
) -> nn.Sequential:
    """The filter bank and the multiplicative recursion, initialised as the reference does."""
    quantum = 2 * math.pi / period
    half = filter_halfwidth(band, layers + 1, quantum)
    net = nn.Sequential(
        FilterBank(n_in, width, layers + 1, half, quantum), Multiply(width, n_out, layers, 6.0)
    )
    with torch.no_grad():
        bound = math.sqrt(6.0 / width)
        net[1].out.weight.uniform_(-bound, bound)
    return net


@register_method("bacon", base=False, on_demand=[{}])
class Bacon(NetMethod):
    """BACON (Lindell et al., CVPR 2022): a band-limited MFN, 4 x 256, band from the samples."""

    description = (
        "BACON: MFN whose sine filters take frozen frequencies on a grid of pi (one cycle over "
        "[-1, 1]), band split over 5 filters, 4 layers of 256, Adam 1e-2; band pi n / 2 from "
        "the n training samples unless max_freq sets it"
    )
    reference = "Lindell et al., BACON, CVPR 2022 (computational-imaging/bacon)"
    search_space = {"lr": [1e-3, 3e-3, 1e-2, 3e-2], "max_freq": [None, 10.0, 100.0, 1000.0]}
    scale_knob = ScaleKnob("max_freq", per_unit=1.0, factor=10.0)
    paper_settings = "BACON with the reference's 1D settings (band from the samples, Adam 1e-2)"

    def __init__(
        self,
        max_freq: float | None = None,
        period: float = 2.0,
        width: int = 256,
        layers: int = 4,
        lr: float = 1e-2,
        settings: str = "tuned",
    ) -> None:
        self.max_freq = max_freq
        self.period = period
        self.width = width
        self.layers = layers
        self.lr = lr
        self.settings = settings

    def declared_band(self, task: Any, budget: Any) -> tuple[float, int]:
        """The band the network is built for, rad per scaled unit, and the sample count it
        came from (0 where ``max_freq`` sets it)."""
        if self.max_freq is not None:
            return float(self.max_freq), 0
        if task.infinite:
            n = min(task.samples_left, budget.steps * budget.batch_size)
        else:
            n = len(task.train_set()[0])
        return math.pi * n / 2.0, int(n)

    def build(self, n_in: int, n_out: int) -> nn.Module:
        band = self.max_freq if self.max_freq is not None else getattr(self, "_band", None)
        if band is None:
            raise ValueError("bacon: max_freq=None takes the band from the data; fit sets it")
        layers = int(self.layers)
        return bacon(n_in, n_out, int(self.width), layers, float(band), float(self.period))

    def warm_up(self, task: Any, budget: Any, device: str) -> None:
        self._band = float(self.max_freq or math.pi * budget.batch_size)  # draws no sample
        super().warm_up(task, budget, device)

    def _descend(self, job: SeedFit) -> list[Any]:
        self.check_settings()
        n_out = head_size(job.tasks[0].output)
        models, bands = [], []
        for seed, task in zip(job.seeds, job.tasks, strict=True):
            band, n = self.declared_band(task, job.budget)
            self._band = band
            torch.manual_seed(seed)
            models.append(self.network(n_out))
            reached = float(self.layers + 1) * filter_halfwidth(
                band, int(self.layers) + 1, 2 * math.pi / float(self.period)
            )
            bands.append((band, reached, n))
        nets = train_seeds(models, *job, lr=float(self.lr), policy=self.stop_policy)
        return list(zip(nets, bands, strict=True))

    def _set(self, state: Any) -> Any:
        net, (self.max_freq_, self.band_, self.band_samples_) = state
        self.searched_ = {
            "band_declared": self.max_freq_,
            "band": self.band_,
            "band_samples": float(self.band_samples_),
        }
        return super()._set(net)
