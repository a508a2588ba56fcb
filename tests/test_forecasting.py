"""The forecasters of the real-series family: where their seasons come from, the seasonal-naive
season chosen by backtest, the damped MSTL trend, the statsforecast models (and what they
decline), and ``periodic-hybrid`` as a forecaster. Small synthetic series: seconds in all."""

from __future__ import annotations

import numpy as np
import pytest
from bench.builtin.methods._forecast import regular_series, seasons
from bench.builtin.methods._hybrid_forecast import fit_ar, fit_forecaster
from bench.builtin.methods.autoforecast import (
    AutoARIMAForecast,
    AutoETSForecast,
    AutoThetaForecast,
    MSTLAutoForecast,
)
from bench.builtin.methods.hybrid import PeriodicHybrid
from bench.builtin.methods.mstl import MSTLForecast
from bench.builtin.methods.seasonal_naive import SeasonalNaive, choose_season

from bench import Budget, Logger, Task, TaskView


class _Series(Task):
    """A fixed regular series judged as a forecast, with an optional calendar."""

    infinite = False
    validation_rule = "forward"
    budgets = {"quick": Budget(steps=100, batch_size=32)}

    def __init__(self, y: np.ndarray, calendar: tuple[float, ...] = ()) -> None:
        super().__init__()
        self._y = np.asarray(y, dtype=np.float64)
        self.calendar = calendar

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, float(self._y.size - 1))

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        return np.arange(self._y.size, dtype=np.float64), self._y.copy()


def _view(task: Task) -> TaskView:
    return TaskView(task, np.random.default_rng(0))


def _fit(method, y: np.ndarray, calendar: tuple[float, ...] = ()):
    task = _Series(y, calendar)
    assert method.supports(_view(task)) is None
    return method.fit(_view(task), task.budget, 0, "cpu", Logger())


def _demand(n: int, seed: int = 0) -> np.ndarray:
    """Half-hourly-like demand: a day of 48 samples, weekends lower (a week of 336)."""
    t = np.arange(n)
    day = 10 * np.sin(2 * np.pi * t / 48)
    weekend = np.where((t // 48) % 7 >= 5, -25.0, 0.0)
    return 100 + day + weekend + np.random.default_rng(seed).normal(0, 1, n)


def _monthly(n: int, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 50 + 0.2 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)


def test_seasons_come_from_the_calendar_else_the_periodogram() -> None:
    y = _monthly(120)
    task = _Series(y, calendar=(12.0,))
    assert seasons(_view(task), regular_series(*task.train_set())) == ([12.0], "calendar")
    bare = _Series(y)
    found, source = seasons(_view(bare), regular_series(*bare.train_set()))
    assert source == "periodogram" and found[0] == pytest.approx(12, rel=0.02)
    noise = _Series(np.random.default_rng(1).normal(0, 1, 100))
    assert seasons(_view(noise), regular_series(*noise.train_set())) == ([], "periodogram")


def test_seasonal_naive_takes_last_week_where_it_beats_yesterday() -> None:
    y = _demand(336 * 6)
    assert choose_season(y, [1, 48, 336]) == 336
    m = _fit(SeasonalNaive(), y, calendar=(48.0, 336.0))
    assert m.season_ == 336 and m.periods_source_ == "calendar"
    walk = np.cumsum(np.random.default_rng(2).normal(0, 1, 200))  # no season: the last value
    assert _fit(SeasonalNaive(), walk).season_ == 1


def test_mstl_trend_is_damped() -> None:
    """A trend that stops: the damped Holt trend flattens where the linear one ran away."""
    t = np.arange(24 * 40, dtype=np.float64)
    y = np.minimum(t, 24 * 36) * 0.05 + 3 * np.sin(2 * np.pi * t / 24)
    y += np.random.default_rng(0).normal(0, 0.2, t.size)
    m = _fit(MSTLForecast(), y, calendar=(24.0,))
    ahead = m.predict(t[-1] + np.arange(1, 24 * 30 + 1))
    slope = (ahead[-24:].mean() - ahead[:24].mean()) / (24 * 29)
    assert abs(slope) < 0.02  # the undamped fit continues the early slope, 0.05 per step


@pytest.mark.parametrize(
    "method", [AutoETSForecast, AutoARIMAForecast, AutoThetaForecast, MSTLAutoForecast]
)
def test_statsforecast_models_forecast_a_seasonal_series(method: type) -> None:
    y = _monthly(132)
    m = _fit(method(), y[:120], calendar=(12.0,))
    ahead = m.predict(np.arange(120, 132, dtype=np.float64))
    assert np.corrcoef(ahead, y[120:])[0, 1] > 0.9  # it carries the season forward
    assert m.searched_ == {"periods_from_calendar": 1.0, "season": 12.0}


def test_seasonal_ets_and_arima_decline_long_seasons_with_a_reason() -> None:
    task = _Series(_demand(336 * 4), calendar=(48.0, 336.0))
    for method in (AutoETSForecast(), AutoARIMAForecast()):
        reason = method.supports(_view(task))
        assert reason is not None and "48 samples" in reason and "24" in reason
    assert AutoThetaForecast().supports(_view(task)) is None
    assert MSTLAutoForecast().supports(_view(task)) is None


def test_autoarima_approximates_long_series_like_auto_arima() -> None:
    assert AutoARIMAForecast().build([12], 100).approximation is False
    assert AutoARIMAForecast().build([12], 500).approximation is True
    assert AutoARIMAForecast().build([24], 100).approximation is True


def test_hybrid_forecasts_two_seasons_from_samples_alone() -> None:
    """No calendar given: the hybrid finds the week (the day is its seventh harmonic) and
    beats the weekly naive forecast a week ahead."""
    y = _demand(336 * 7, seed=3)
    m = _fit(PeriodicHybrid(), y[: 336 * 6])
    assert any(abs(p - 336) / 336 < 0.01 for p in m.periods_)
    ahead = m.predict(np.arange(336 * 6, 336 * 7, dtype=np.float64))
    truth = y[336 * 6 :]
    assert np.mean(np.abs(ahead - truth)) < 0.9 * np.mean(np.abs(y[336 * 5 : 336 * 6] - truth))


def test_hybrid_invents_no_season_on_a_series_without_one() -> None:
    rng = np.random.default_rng(4)
    y = 1000 + np.cumsum(rng.normal(0, 5, 120)) * 0.3 + rng.normal(0, 20, 120)
    m = _fit(PeriodicHybrid(), y)
    assert m.searched_["seasonal_part"] == 0.0 and m.periods_.size == 0


def test_ar_order_finds_an_ar2_cycle() -> None:
    rng = np.random.default_rng(5)
    r = np.zeros(600)
    for i in range(2, r.size):
        r[i] = 1.6 * r[i - 1] - 0.9 * r[i - 2] + rng.normal()
    r = r - r.mean()
    coef = fit_ar(r)
    assert coef.size >= 2
    p = coef.size
    lagged = np.stack([r[p - j - 1 : r.size - j - 1] for j in range(p)], axis=1)
    assert np.var(r[p:] - lagged @ coef) == pytest.approx(1.0, rel=0.1)  # the innovations


def test_hybrid_forecaster_keeps_a_multiplicative_season_on_the_log_scale() -> None:
    t = np.arange(144)
    y = np.exp(4 + 0.01 * t + 0.2 * np.sin(2 * np.pi * t / 12))
    y *= np.exp(np.random.default_rng(6).normal(0, 0.01, t.size))
    model, periods, scores = fit_forecaster(regular_series(t.astype(float), y))
    assert model.variant.log and model.variant.seasonal
    assert len(scores) == 8
