"""The Gaussian-activation MLP (Ramasinghe and Lucey, ECCV 2022) and the sinc-activation MLP
(Saratchandran et al., ICML 2024): one claim of each paper, at a size that takes a second or
two on one CPU thread, and the activation each computes."""

from __future__ import annotations

import math

import torch
from bench.builtin.methods.gauss import EXPONENT_CAP, Gauss, GaussLayer
from bench.builtin.methods.sinc import Sinc, SincLayer, sinc_net
from netfit import adam_fit as _fit
from torch import nn

from bench.kit.nn import mlp


def _band_limited(x: torch.Tensor) -> torch.Tensor:
    """Two tones, the highest at 13 pi (41) rad per unit."""
    return torch.sin(5 * math.pi * x) + 0.5 * torch.cos(13 * math.pi * x + 0.3)


def test_gauss_fits_a_high_frequency_with_default_init_where_relu_and_gelu_do_not() -> None:
    """Ramasinghe and Lucey's claim: a non-periodic activation with the right embedding (the
    Gaussian) fits high frequencies with PyTorch's default initialisation. 300 Adam steps at
    1e-3 fit sin(10 pi x) on [-1, 1] with the method's network (4 x 64, s = 10), and leave
    ReLU and GELU networks of the same size near the target's variance (0.5)."""
    torch.set_num_threads(1)
    x = torch.linspace(-1, 1, 256).unsqueeze(1)
    y = torch.sin(10 * math.pi * x)
    losses = {}
    makers = {
        "gauss": lambda: Gauss(width=64).build(1, 1),
        "relu": lambda: mlp(1, 1, 64, 4, lambda _: nn.ReLU()),
        "gelu": lambda: mlp(1, 1, 64, 4, lambda _: nn.GELU()),
    }
    for name, make in makers.items():
        torch.manual_seed(0)
        losses[name] = _fit(make(), x, y, 300, 1e-3)
    assert losses["gauss"] < 1e-3, losses
    assert losses["relu"] > 0.2 and losses["gelu"] > 0.2, losses


def test_gauss_activation_formula_init_and_defaults() -> None:
    """``exp(-(s z)^2)`` is the paper's ``exp(-z^2 / (2 sigma^2))`` with ``sigma = 1 /
    (sqrt(2) s)``; the linear map keeps PyTorch's default initialisation; the output layer is
    linear; the defaults are the reference code's."""
    torch.manual_seed(0)
    layer = GaussLayer(4, 3, 30.0)
    torch.manual_seed(0)
    plain = nn.Linear(4, 3)
    torch.testing.assert_close(layer.linear.weight, plain.weight)
    torch.testing.assert_close(layer.linear.bias, plain.bias)
    x = torch.randn(7, 4) * 0.05
    z = layer.linear(x)
    sigma = 1 / (math.sqrt(2) * 30.0)
    torch.testing.assert_close(layer(x), torch.exp(-(z**2) / (2 * sigma**2)))
    # Far from its centre a unit is capped at exp(-60) rather than reaching subnormal numbers.
    with torch.no_grad():
        far = layer(torch.full((1, 4), 100.0))
    assert float(far.min()) >= math.exp(-EXPONENT_CAP) * 0.999
    m = Gauss()
    assert (m.scale, m.hidden_scale, m.lr, m.width, m.hidden_layers) == (10.0, 10.0, 1e-3, 256, 3)
    net = m.build(1, 2)
    assert isinstance(net[-1], nn.Linear) and net[-1].out_features == 2
    assert [type(mod) for mod in net[:-1]] == [GaussLayer] * 4
    assert m.lr in Gauss.search_space["lr"] and m.scale in Gauss.search_space["scale"]


def test_sinc_reconstructs_a_band_limited_signal_between_its_samples() -> None:
    """The paper's sampling-theory claim, on a band-limited signal sampled well above its
    Nyquist rate (128 samples on [-1, 1]): trained 300 steps, the method's network (4 x 64)
    reconstructs it at the mid-points between the samples, where the Gaussian network at its
    defaults fits the samples closer still but is hundreds of times worse between them. And
    a shallow sinc network is band-limited by its ``omega``: at 30 it cannot take the 41
    rad/unit tone (its error stays at that tone's power, 0.125), at 60 it fits the signal
    between the samples too."""
    torch.set_num_threads(1)
    x = torch.linspace(-1, 1, 128).unsqueeze(1)
    mid = (x[1:] + x[:-1]) / 2
    y, y_mid = _band_limited(x), _band_limited(mid)

    def train_and_test(make) -> tuple[float, float]:
        torch.manual_seed(0)
        net = make()
        train = _fit(net, x, y, 300, 1e-3)
        with torch.no_grad():
            return train, float(((net(mid) - y_mid) ** 2).mean())

    _, sinc_mid = train_and_test(lambda: Sinc(width=64).build(1, 1))
    gauss_train, gauss_mid = train_and_test(lambda: Gauss(width=64).build(1, 1))
    assert sinc_mid < 1e-4
    assert gauss_train < 1e-6 and gauss_mid > 1e-3 and gauss_mid > 100 * sinc_mid
    narrow, _ = train_and_test(lambda: sinc_net(1, 1, 256, 0, 30.0, 30.0))
    _, wide_mid = train_and_test(lambda: sinc_net(1, 1, 256, 0, 60.0, 60.0))
    assert 0.1 < narrow < 0.15 and wide_mid < 1e-4


def test_sinc_activation_is_the_shannon_generator() -> None:
    """``sinc(omega z) = sin(omega z) / (omega z)``, 1 at 0; one sinc layer with unit weights,
    biases at the samples ``k T``, ``omega = pi / T`` and the samples as output weights is
    Shannon's interpolation: exact at the samples, close to the band-limited signal between
    them; a unit's spectrum lies within ``omega`` (the scale knob's reach). Defaults."""
    torch.manual_seed(0)
    layer = SincLayer(1, 3, 7.0)
    z = layer.linear(torch.tensor([[0.2], [0.0], [-0.4]]))
    torch.testing.assert_close(
        layer(torch.tensor([[0.2], [0.0], [-0.4]])), torch.sin(7 * z) / (7 * z)
    )
    with torch.no_grad():
        layer.linear.weight.fill_(1.0)
        layer.linear.bias.zero_()
        assert float(layer(torch.zeros(1, 1)).min()) == 1.0

    step = 1 / 32
    t = torch.arange(-64, 65, dtype=torch.float64) * step  # samples on [-2, 2]
    shannon = nn.Sequential(SincLayer(1, len(t), math.pi / step), nn.Linear(len(t), 1, bias=False))
    shannon = shannon.double()
    with torch.no_grad():
        shannon[0].linear.weight.fill_(1.0)
        shannon[0].linear.bias.copy_(-t)
        shannon[1].weight.copy_(_band_limited(t).unsqueeze(0))
        at_samples = shannon(t.unsqueeze(1)).squeeze(1)
        inner = torch.linspace(-1, 1, 1001, dtype=torch.float64).unsqueeze(1)
        between = shannon(inner)
    torch.testing.assert_close(at_samples, _band_limited(t), atol=1e-12, rtol=0)
    assert float((between - _band_limited(inner)).abs().max()) < 0.01

    omega = 30.0
    xs = torch.linspace(-200, 200, 2**18 + 1, dtype=torch.float64)[:-1]
    power = torch.fft.rfft(torch.sinc(omega * xs / math.pi)).abs() ** 2
    freqs = torch.fft.rfftfreq(len(xs), d=float(xs[1] - xs[0])) * 2 * math.pi
    assert float(power[freqs > 1.05 * omega].sum() / power.sum()) < 1e-6

    m = Sinc()
    assert (m.omega, m.hidden_omega, m.lr, m.width, m.hidden_layers) == (30.0, 10.0, 1e-3, 256, 3)
    assert isinstance(m.build(1, 1)[-1], nn.Linear)
    assert m.lr in Sinc.search_space["lr"] and m.omega in Sinc.search_space["omega"]
    assert Sinc.scale_knob.reach(m.omega) == omega
