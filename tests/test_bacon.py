"""BACON (Lindell et al., CVPR 2022): the band is a property of the construction, not of
training; it comes from the training samples; and the paper's claim, at a size that takes
about a second on one CPU thread."""

from __future__ import annotations

import math

import numpy as np
import torch
from bench.builtin.methods.bacon import Bacon, BandFilter, filter_halfwidth
from netfit import adam_fit as _fit

from bench.core.contracts import Budget, Logger, TaskView
from bench.core.registry import get_task
from bench.kit.stack import SeedStack

#: Band of the small networks below: 30 pi rad per unit of the scaled input (30 cycles over
#: [-1, 1]), split over 3 filters of 10 pi each.
BAND = 30 * math.pi


def _period_grid(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` points over one period of the filters, [-1, 1) (the end left out)."""
    return (torch.arange(n, dtype=torch.float64) * 2 / n - 1).unsqueeze(1).to(dtype)


def _energy_above(net: torch.nn.Module, cycles: int, n: int = 1024) -> tuple[float, float]:
    """The output's spectral energy above ``cycles`` cycles over [-1, 1], and its total, from
    the FFT of ``n`` samples of one period (bin ``k`` is ``k`` cycles, ``k pi`` rad/unit)."""
    with torch.no_grad():
        y = net.double()(_period_grid(n, torch.float64)).squeeze(1).numpy()
    power = np.abs(np.fft.rfft(y)) ** 2
    return float(power[cycles + 1 :].sum()), float(power.sum())


def test_filter_frequencies_lie_on_the_grid_inside_the_band_and_are_frozen() -> None:
    assert filter_halfwidth(BAND, 3, math.pi) == 10 * math.pi
    assert filter_halfwidth(16.5 * math.pi, 5, 2 * math.pi) == 4 * math.pi  # the 1D config
    assert filter_halfwidth(0.1, 5, math.pi) == math.pi  # at least one quantum
    torch.manual_seed(0)
    net = Bacon(max_freq=BAND, width=64, layers=2).build(1, 1)
    filters = list(net[0].filters)
    assert len(filters) == 3 and all(isinstance(f, BandFilter) for f in filters)
    for f in filters:
        k = f.freq / math.pi
        torch.testing.assert_close(k, k.round(), rtol=0, atol=1e-12)
        assert float(k.abs().max()) == 10 and float(k.min()) < 0 < float(k.max())
        assert len(torch.unique(k)) >= 15  # drawn over the 21 multiples, not a few of them
        assert float(f.phase.detach().abs().max()) <= math.pi
    names = {n for n, _ in net.named_parameters()}
    assert not any(n.endswith("freq") for n in names)  # frozen: a buffer, not a parameter
    bound = math.sqrt(6 / 64)
    for lin in [*net[1].linear, net[1].out]:
        w = lin.weight.detach().abs().max()
        assert 0.9 * bound < float(w) <= bound


def test_the_output_has_no_energy_above_the_band_before_or_after_training() -> None:
    """Evaluated over one period and Fourier transformed, the untrained network and the one
    trained on a tone above its band put no energy above 30 cycles (relative 1e-20)."""
    torch.set_num_threads(1)
    torch.manual_seed(1)
    net = Bacon(max_freq=BAND, width=64, layers=2).build(1, 1)
    above, total = _energy_above(net, 30)
    assert total > 1.0 and above < 1e-20 * total
    # Energy sits up to the band, not only far below it: the construction reaches its edge.
    with torch.no_grad():
        y = net(_period_grid(1024, torch.float64)).squeeze(1).numpy()
    power = np.abs(np.fft.rfft(y)) ** 2
    assert power[21:31].sum() > 1e-6 * total
    x = _period_grid(512, torch.float64)
    _fit(net, x, torch.sin(40 * math.pi * x + 1.0), 100, 1e-2)
    above, total = _energy_above(net, 30)
    assert above < 1e-20 * total


def test_it_fits_a_tone_below_its_band_and_cannot_fit_one_above() -> None:
    """The paper's claim: the band is a hard limit. With a band of 30 pi rad per unit, 200 Adam
    steps fit sin(20 pi x + 1) on [-1, 1] to 1e-4, while sin(32 pi x + 1), just above the
    band, stays at the target's variance (0.5): its frequency is orthogonal to every one the
    network can make, over the period grid."""
    torch.set_num_threads(1)
    x = _period_grid(512)
    losses = {}
    for cycles in (20, 32):
        torch.manual_seed(0)
        net = Bacon(max_freq=BAND, width=64, layers=2).build(1, 1)
        losses[cycles] = _fit(net, x, torch.sin(cycles * math.pi * x + 1.0), 200, 1e-2)
    assert losses[20] < 1e-4
    assert 0.49 < losses[32] < 0.51


def test_the_band_comes_from_the_training_samples_and_is_recorded() -> None:
    """With ``max_freq`` unset, the band is pi n / 2 for the n samples the fit draws (160 here:
    20 steps of 8), split over 5 filters of 16 pi; the fit records it, and the network built
    for it has no energy above it. A band set by hand is used as given."""
    torch.set_num_threads(1)
    task = get_task("tone[cycles=3]")
    budget = Budget(steps=20, batch_size=8, samples=4096)
    method = Bacon(width=16)
    method.fit(TaskView(task, np.random.default_rng(0)), budget, 0, "cpu", Logger(deadline=None))
    assert method.max_freq_ == method.band_ == 80 * math.pi and method.band_samples_ == 160
    assert method.searched_ == {"band_declared": 80 * math.pi, "band": 80 * math.pi,
                                "band_samples": 160.0}  # fmt: skip
    for f in method.net_.model[0].layer.filters:
        assert float(f.freq.abs().max()) <= 16 * math.pi
    fixed = Bacon(max_freq=10.0, width=16, lr=1e-3)
    fixed.fit(TaskView(task, np.random.default_rng(0)), budget, 0, "cpu", Logger(deadline=None))
    assert fixed.max_freq_ == 10.0 and fixed.band_ == 5 * math.pi and fixed.band_samples_ == 0
    assert fixed.get_params()["max_freq"] == 10.0


def test_the_seeds_train_as_one_batched_model() -> None:
    """The frozen frequencies (buffers) and per-unit phases run on the stack's batched forward
    pass, not the slower vmap."""
    method = Bacon(max_freq=BAND, width=16, layers=2)
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(method.network(1))
    stack = SeedStack(models, "cpu")
    assert stack.batched and not any(k.endswith("freq") for k in stack.params)
