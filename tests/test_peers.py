"""The published alternatives: each shows, on a tiny problem, one behaviour its source claims.

Networks are trained here with plain full-batch Adam on a fixed grid (not through the harness),
so that each test takes a second or two; the estimators and forecasters run through their own
``fit`` on small tasks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bench.builtin.methods.fan import FAN, FANLayer
from bench.builtin.methods.fourier_features import FourierFeatureMLP
from bench.builtin.methods.lomb_scargle import LombScargle
from bench.builtin.methods.mstl import MSTLForecast
from bench.builtin.methods.nerf_pe import NerfPE, PositionalEncoding
from bench.builtin.methods.nls import NLS
from bench.builtin.methods.prophet import ProphetForecast
from bench.builtin.methods.seasonal_naive import SeasonalNaive
from bench.builtin.methods.time2vec import Time2Vec, Time2VecMLP
from bench.builtin.methods.ucm import UCMForecast
from bench.builtin.methods.xsin2 import XSin2, XSin2MLP
from netfit import adam_fit
from torch import nn

from bench import Budget, Logger, Task, TaskView
from bench.kit.nn import mlp


def _fit(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> float:
    """Full-batch Adam (``netfit.adam_fit``); the training MSE after the last step."""
    adam_fit(net, x, y, steps, lr)
    with torch.no_grad():
        return float(((net(x) - y) ** 2).mean())


def _tone(cycles: float, n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    return x, torch.sin(cycles * math.pi * x)


# -- networks ---------------------------------------------------------------------------------


def test_fourier_features_fit_a_tone_a_plain_relu_mlp_cannot() -> None:
    # Tancik et al.: with a suitable sigma the mapping lets a ReLU MLP fit high frequencies
    # that the same MLP on the raw input (spectral bias) does not.
    x, y = _tone(10)
    torch.manual_seed(0)
    ff = FourierFeatureMLP(sigma=5.0, features=64, width=64, depth=2).build(1, 1)
    torch.manual_seed(0)
    plain = mlp(1, 1, 64, 2, lambda _: nn.ReLU())
    assert _fit(ff, x, y, 300, 1e-3) < 1e-3
    assert _fit(plain, x, y, 300, 1e-3) > 0.1


def test_nerf_encoding_is_octaves_and_lets_an_mlp_fit_a_tone() -> None:
    enc = PositionalEncoding(3)(torch.tensor([[0.25]], dtype=torch.float64))
    want = [0.25] + [math.sin(math.pi * 2**k * 0.25) for k in range(3)]
    want += [math.cos(math.pi * 2**k * 0.25) for k in range(3)]
    torch.testing.assert_close(enc[0], torch.tensor(want, dtype=torch.float64))
    x, y = _tone(10)
    torch.manual_seed(0)
    net = NerfPE(levels=6, width=64, depth=3).build(1, 1)
    assert _fit(net, x, y, 300, 1e-3) < 1e-3


def test_fan_layer_splits_as_declared_and_fits_a_sine_a_gelu_mlp_does_not() -> None:
    # Dong et al.: a quarter of the units to cos, a quarter to sin, of one projection; the
    # periodic branch fits a periodic function that a GELU MLP of the same size fits far worse.
    # Their setting: raw t over [-6 pi, 6 pi], y = sin(t). (Their extrapolation claim needs
    # their width and epochs; the sweeps judge extrapolation.)
    layer = FANLayer(8, 16)
    out = layer(torch.randn(5, 8))
    torch.testing.assert_close(out[:, :4] ** 2 + out[:, 4:8] ** 2, torch.ones(5, 4))
    x = torch.linspace(-6 * math.pi, 6 * math.pi, 256).unsqueeze(1)
    y = torch.sin(x)
    torch.manual_seed(0)
    fan = FAN(width=64).build(1, 1)
    torch.manual_seed(0)
    gelu = mlp(1, 1, 64, 3, lambda _: nn.GELU())
    assert _fit(fan, x, y, 600, 1e-3) < 1e-3 < _fit(gelu, x, y, 600, 1e-3)


def test_time2vec_has_a_linear_channel_and_learnt_sines() -> None:
    t2v = Time2Vec(1, 4)
    t = torch.linspace(-1, 1, 7).unsqueeze(1)
    z = t @ t2v.w + t2v.phi
    out = t2v(t)
    torch.testing.assert_close(out[:, 0], z[:, 0])  # linear in t
    torch.testing.assert_close(out[:, 1:], torch.sin(z[:, 1:]))
    # Its frequencies are parameters: training moves them.
    x, y = _tone(3)
    torch.manual_seed(0)
    net = Time2VecMLP(sines=16, width=64, depth=2).build(1, 1)
    before = net[0].w.detach().clone()
    assert _fit(net, x, y, 300, 3e-3) < 1e-2
    assert not torch.equal(before, net[0].w)


def test_xsin2_is_snake_at_one_and_monotone() -> None:
    from bench.builtin.methods.snake import Snake

    x = torch.linspace(-10, 10, 2001)
    torch.testing.assert_close(XSin2()(x), Snake(1, a_init=1.0)(x), atol=1e-6, rtol=1e-6)
    assert bool((torch.diff(XSin2()(x)) >= -1e-6).all())  # slope 1 + sin(2x) >= 0
    x, y = _tone(1)
    torch.manual_seed(0)
    assert _fit(XSin2MLP(width=64, depth=2).build(1, 1), x, y, 300, 3e-3) < 1e-3


def test_kan_fits_a_smooth_function_on_its_grid_and_not_beyond() -> None:
    # Liu et al.: spline edges on a fine enough grid fit a smooth 1-D function closely; a spline
    # lives on its grid, so outside the training range the fit is gone (the FAN paper's point).
    from bench.builtin.methods.kan import KANMethod

    x, y = _tone(3, n=256)
    net = KANMethod(grid=20).network(1, seed=0)[0].layer.float()
    with torch.no_grad():
        net.kan.update_grid_from_samples(x)
    assert _fit(net, x, y, 400, 1e-2) < 1e-3
    beyond = torch.linspace(1.25, 2.0, 64).unsqueeze(1)
    with torch.no_grad():
        err = float(((net(beyond) - torch.sin(3 * math.pi * beyond)) ** 2).mean())
    assert err > 0.1


# -- estimators -------------------------------------------------------------------------------


class _Samples(Task):
    """A fixed set of samples ``(x, y)`` for estimators and forecasters."""

    infinite = False
    budgets = {"quick": Budget(steps=100, batch_size=32)}

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        super().__init__()
        self._x, self._y = x, y

    @property
    def domain(self) -> tuple[float, float]:
        return (float(self._x.min()), float(self._x.max()))

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        return self._x.copy(), self._y.copy()


def _fit_method(method, x: np.ndarray, y: np.ndarray):
    task = _Samples(x, y)
    assert method.supports(TaskView(task, np.random.default_rng(0))) is None
    return method.fit(TaskView(task, np.random.default_rng(0)), task.budget, 0, "cpu", Logger())


@pytest.mark.parametrize("method_id", ["fft", "seasonal-naive", "siren"])
def test_missing_values_in_a_fixed_set_are_left_out_and_counted(method_id: str) -> None:
    """A real series marks missing values NaN: the method gets the observed pairs only (a NaN
    used to end every method's run as 'diverged'), and the view counts the pairs left out."""
    from bench.core import registry
    from bench.engine.tuning import HoldoutView

    registry.load_plugins()
    x = np.arange(400.0)
    y = 2.0 + np.sin(2 * np.pi * x / 7.0)
    y[[3, 50, 51, 200]] = np.nan
    y[77] = np.inf
    task = _Samples(x, y)
    view = TaskView(task, np.random.default_rng(0))
    xs, ys = view.train_set()
    assert view.samples_dropped == 5 and len(xs) == 395
    assert np.isfinite(xs).all() and np.isfinite(ys).all()
    held = HoldoutView(task, np.random.default_rng(0))
    assert held.samples_dropped == 5
    assert np.isfinite(held.validation[1]).all() and np.isfinite(held.train_set()[1]).all()
    method = registry.get_method(method_id)
    method.fit(TaskView(task, np.random.default_rng(0)), task.budget, 0, "cpu", Logger())
    assert np.isfinite(method.predict(np.arange(400.0, 420.0))).all()


class _SubCycle(Task):
    """A sampler of ``sin(2 pi x / 5 + phase)`` on ``[-1, 1]``: 0.4 of a cycle."""

    budgets = {"quick": Budget(steps=2000, batch_size=32, samples=4096)}

    def __init__(self, phase: float) -> None:
        super().__init__()
        self.phase = phase

    @property
    def domain(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def f(self, x: np.ndarray) -> np.ndarray:
        return np.sin(2 * np.pi * x / 5.0 + self.phase)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(-1.0, 1.0, n)
        return x, self.f(x)


@pytest.mark.parametrize("method_id", ["fft", "nls", "lomb-scargle", "grid-warm-start"])
def test_estimators_fit_a_tone_with_less_than_one_cycle_in_the_span(method_id: str) -> None:
    """0.4 of a cycle: the lowest frequency a spectral search looks at must not be one cycle
    per span (grid-warm-start started its candidates there and fitted a constant)."""
    from bench.core import registry

    registry.load_plugins()
    xt = np.linspace(-1.0, 1.0, 501)
    for phase in (0.0, 1.0, 2.5, 4.0):
        task = _SubCycle(phase)
        model = registry.get_method(method_id)
        model.fit(TaskView(task, np.random.default_rng(0)), task.budget, 0, "cpu", Logger())
        err = np.mean((model.predict(xt) - task.f(xt)) ** 2)
        assert err < 1e-6 * np.var(task.f(xt)), (phase, err)


def test_lomb_scargle_recovers_a_tone_from_uneven_samples() -> None:
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0, 200, 2000))  # uneven: exponential gaps
    w = 7.3
    y = 0.8 * np.sin(w * x + 0.4) + 0.1 * rng.normal(size=x.size)
    m = _fit_method(LombScargle(), x, y)
    bin_w = 2 * np.pi / np.ptp(x)
    assert m.freqs_.size >= 1 and abs(m.freqs_[0] - w) < 0.01 * bin_w
    assert m.amplitudes_[0] == pytest.approx(0.8, rel=0.05)


def test_nls_from_a_coarse_start_reaches_float_precision() -> None:
    # No interpolation: the padded periodogram's bin starts it inside the basin, and
    # Levenberg-Marquardt does the rest.
    rng = np.random.default_rng(2)
    x = rng.uniform(-500, 500, 4000)
    y = np.sin(3.217 * x + 1.0)
    m = _fit_method(NLS(), x, y)
    assert abs(m.freqs_[0] - 3.217) / 3.217 < 1e-12


# -- forecasters ------------------------------------------------------------------------------


def _hourly(n: int, trend: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n, dtype=np.float64)
    day = 3 * np.sin(2 * np.pi * t / 24)
    week = 2 * np.sin(2 * np.pi * t / 168)
    return t, 10 + trend * t + day + week


def test_seasonal_naive_repeats_the_last_season_it_finds() -> None:
    t = np.arange(24 * 30, dtype=np.float64)
    y = np.sin(2 * np.pi * t / 24) + 0.5 * np.cos(4 * np.pi * t / 24)
    m = _fit_method(SeasonalNaive(), t, y)
    assert m.season_ == 24
    ahead = t[-1] + np.arange(1, 49)
    np.testing.assert_allclose(m.predict(ahead), np.tile(y[-24:], 2))


def test_mstl_decomposes_two_seasons_and_forecasts_them() -> None:
    t, y = _hourly(24 * 7 * 8, trend=0.01)
    m = _fit_method(MSTLForecast(), t, y)
    assert sorted(m.periods_.tolist()) == [24, 168]
    ahead = t[-1] + np.arange(1, 49)
    truth = 10 + 0.01 * ahead + 3 * np.sin(2 * np.pi * ahead / 24)
    truth += 2 * np.sin(2 * np.pi * ahead / 168)
    assert np.max(np.abs(m.predict(ahead) - truth)) < 0.3


def test_ucm_forecasts_trend_and_season() -> None:
    t = np.arange(24 * 20, dtype=np.float64)
    y = 5 + 0.02 * t + 2 * np.sin(2 * np.pi * t / 24)
    m = _fit_method(UCMForecast(), t, y)
    assert m.periods_[0] == pytest.approx(24, rel=1e-3)
    ahead = t[-1] + np.arange(1, 49)
    truth = 5 + 0.02 * ahead + 2 * np.sin(2 * np.pi * ahead / 24)
    assert np.max(np.abs(m.predict(ahead) - truth)) < 0.2


def test_prophet_follows_a_trend_changepoint_and_a_custom_season() -> None:
    # Taylor and Letham: a piecewise-linear trend whose rate changes at a changepoint, plus a
    # seasonality as a Fourier series; here the season is the periodogram's (24 samples).
    t = np.arange(24 * 20, dtype=np.float64)
    trend = np.where(t < 240, 0.05 * t, 12 - 0.02 * (t - 240))
    y = trend + 2 * np.sin(2 * np.pi * t / 24)
    m = _fit_method(ProphetForecast(), t, y)
    assert m.periods_[0] == pytest.approx(24, rel=1e-3) and m.fourier_orders_[0] == 10
    ahead = t[-1] + np.arange(1, 49)
    truth = 12 - 0.02 * (ahead - 240) + 2 * np.sin(2 * np.pi * ahead / 24)
    assert np.max(np.abs(m.predict(ahead) - truth)) < 0.3


def test_forecasters_skip_irregular_samples() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 100, 500))
    task = _Samples(x, np.sin(x))
    for method in (SeasonalNaive(), MSTLForecast(), UCMForecast(), ProphetForecast()):
        reason = method.supports(TaskView(task, np.random.default_rng(0)))
        assert reason is not None and "regular" in reason


@pytest.mark.parametrize("start", [0.1, 0.45])
def test_complex_surrogate_descends_to_a_tone_from_far_away(start: float) -> None:
    # Hayes et al.: Re(z^n) has a loss with a slope far from the target, so gradient descent
    # reaches the frequency from a start a third of the band away, on either side.
    from bench.builtin.methods.complex_surrogate import surrogate

    n = 64
    target = torch.cos(2 * math.pi * 0.3 * torch.arange(n, dtype=torch.float64))
    target_mag = torch.fft.rfft(target, norm="ortho").abs()
    z = torch.tensor(0.9 * complex(math.cos(2 * math.pi * start), math.sin(2 * math.pi * start)))
    z = z.to(torch.complex128).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=1e-2)
    for _ in range(1500):
        opt.zero_grad()
        loss = torch.mean((torch.fft.rfft(surrogate(z, n), norm="ortho").abs() - target_mag) ** 2)
        loss.backward()
        opt.step()
    freq = abs(float(torch.angle(z.detach()))) / (2 * math.pi)
    assert abs(freq - 0.3) < 1e-4
