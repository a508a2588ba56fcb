"""``periodic-hybrid`` as a forecaster: periods found in the samples, a seasonal part built on
them, a local level and trend, and a model of what the periodic part leaves.

Used where a task judges a forecast (``validation_rule == "forward"``) of a regularly sampled
fixed series. Nothing about the series is given: no calendar, no season, no horizon. The fit:

1. **Periods** from the series' own periodogram (``methods/_forecast.periods_from_data``: the
   strongest tones above the noise, two whole cycles at least, several at once); none on a
   series with no season.
2. **Seasonal part**: a Fourier series of each period (dynamic harmonic regression, Hyndman and
   Athanasopoulos 10.5 and 12.1), fitted by least squares with a linear trend; the number of
   harmonics per period chosen by AICc from 1, 2, 4, ... up to half the period.
3. **Level and trend** of the seasonally adjusted series: Holt's damped trend (exponential
   smoothing, parameters by maximum likelihood) or, for a series that returns to its mean, a
   constant level.
4. **What is left**: an autoregression on the residuals, its order chosen by AIC up to
   ``10 log10 n`` (the default of R's ``ar``); its forecast decays to zero, so it corrects the
   first steps and leaves the long run to the periodic part. Quasi-periodic cycles whose phase
   drifts (sunspots, lynx) live here.

Which variant forecasts best is not assumed: every combination of transform (none, or log for
a positive series, where the season grows with the level), seasonal part (with or without) and
level model (damped trend or constant) is scored on the training series' own end by rolling
forecasts (``BACKTESTS`` origins, each one horizon of ``max(longest period, 5% of the series)``
samples ahead), and the best is refitted on all the training data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import product

import numpy as np

from ._forecast import Regular, periods_from_data

#: Rolling origins of the internal backtest that picks the variant.
BACKTESTS = 3
#: Most periods the seasonal part models.
MAX_PERIODS = 3


@dataclass(frozen=True)
class Variant:
    log: bool
    seasonal: bool
    damped: bool


def fourier(t: np.ndarray, periods: list[float], harmonics: list[int]) -> np.ndarray:
    """Columns cos/sin(2 pi k t / p) for k = 1..K of each period."""
    cols = [np.ones_like(t), t / max(t.size, 1)]
    for p, k in zip(periods, harmonics, strict=True):
        for j in range(1, k + 1):
            arg = 2 * np.pi * j * t / p
            cols += [np.cos(arg), np.sin(arg)]
    return np.stack(cols, axis=1)


def _aicc(rss: float, n: int, k: int) -> float:
    if rss <= 0 or n - k - 1 <= 0:
        return -np.inf if rss <= 0 else np.inf
    return n * np.log(rss / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def choose_harmonics(
    t: np.ndarray, y: np.ndarray, periods: list[float], fixed: list[int] | None = None
) -> list[int]:
    """Harmonics per period by AICc, one period at a time (strongest first), trying 1, 2, 4,
    ... up to half the period; the first ``len(fixed)`` periods keep the counts given."""
    chosen: list[int] = list(fixed or [])
    for i in range(len(chosen), len(periods)):
        p = periods[i]
        best, best_k = np.inf, 1
        k = 1
        while k <= max(1, int(p // 2)):
            X = fourier(t, periods[: i + 1], [*chosen, k])
            if X.shape[1] >= t.size:
                break
            coef, *_ = np.linalg.lstsq(X, y, rcond=None)
            score = _aicc(float(np.sum((y - X @ coef) ** 2)), t.size, X.shape[1])
            if score < best:
                best, best_k = score, k
            k *= 2
        chosen.append(best_k)
    return chosen


def refine_periods(
    t: np.ndarray, y: np.ndarray, periods: list[float]
) -> tuple[list[float], list[int]]:
    """Each period, strongest first, with its harmonics: the harmonics by AICc at the
    periodogram's period, then the period moved to where that Fourier fit (with the periods
    before it) leaves the least residual, over a grid one Fourier bin (``p^2 / n``) either side
    and the nearest whole number of samples (the periodogram's peak is only as sharp as its
    bins), then the harmonics chosen again at the refined period."""
    out: list[float] = []
    ks: list[int] = []
    for p in periods:
        k = choose_harmonics(t, y, [*out, p], ks)[-1]
        width = p * p / max(t.size, 1)
        grid = {*np.linspace(p - width, p + width, 21).tolist(), float(round(p))}
        rss = {}
        for q in grid:
            if q < 2:
                continue
            X = fourier(t, [*out, q], [*ks, k])
            coef, *_ = np.linalg.lstsq(X, y, rcond=None)
            rss[q] = float(np.sum((y - X @ coef) ** 2))
        best = min(rss, key=lambda q: rss[q]) if rss else p
        out.append(best)
        ks.append(choose_harmonics(t, y, out, ks)[-1])
    return out, ks


def fit_ar(r: np.ndarray) -> np.ndarray:
    """AR coefficients for the residuals ``r`` (mean removed by the caller), the order by AIC
    up to ``10 log10 n`` (every order fitted by least squares on the same targets)."""
    n = r.size
    p_max = int(min(10 * np.log10(max(n, 10)), n // 4))
    if p_max < 1:
        return np.zeros(0)
    target = r[p_max:]
    lags = np.stack([r[p_max - j - 1 : n - j - 1] for j in range(p_max)], axis=1)
    best = target.size * np.log(max(float(np.mean(target**2)), 1e-300))
    best_coef = np.zeros(0)
    for p in range(1, p_max + 1):
        coef, *_ = np.linalg.lstsq(lags[:, :p], target, rcond=None)
        rss = float(np.sum((target - lags[:, :p] @ coef) ** 2))
        aic = target.size * np.log(max(rss / target.size, 1e-300)) + 2 * p
        if aic < best:
            best, best_coef = aic, coef
    return best_coef


def ar_forecast(r: np.ndarray, coef: np.ndarray, h: int) -> np.ndarray:
    p = coef.size
    if p == 0:
        return np.zeros(h)
    hist = list(r[-p:])
    out = np.empty(h)
    for i in range(h):
        v = float(np.dot(coef, hist[::-1][:p]))
        out[i] = v
        hist.append(v)
    return out


class Forecaster:
    """One variant fitted to a series (values on their grid); ``forecast(h)`` the next h."""

    def __init__(self, y: np.ndarray, periods: list[float], variant: Variant) -> None:
        self.variant = variant
        z = np.log(y) if variant.log else y
        n = z.size
        t = np.arange(n, dtype=np.float64)
        self.periods = periods if variant.seasonal else []
        self.n = n
        if self.periods:
            self.periods, self.harmonics = refine_periods(t, z, self.periods)
            X = fourier(t, self.periods, self.harmonics)
            coef, *_ = np.linalg.lstsq(X, z, rcond=None)
            self.coef = coef
            seasonal = X[:, 2:] @ coef[2:]
        else:
            self.harmonics, self.coef = [], np.zeros(2)
            seasonal = np.zeros(n)
        adjusted = z - seasonal
        self.level = _Level(adjusted, variant.damped)
        resid = adjusted - self.level.fitted
        self.resid = resid - resid.mean()
        self.ar = fit_ar(self.resid)

    def forecast(self, h: int) -> np.ndarray:
        t = np.arange(self.n, self.n + h, dtype=np.float64)
        season = fourier(t, self.periods, self.harmonics)[:, 2:] @ self.coef[2:]
        z = season + self.level.forecast(h) + ar_forecast(self.resid, self.ar, h)
        if self.variant.log:
            return np.exp(np.clip(z, -700, 700))
        return z

    @property
    def n_params(self) -> int:
        return int(self.coef.size + self.ar.size + self.level.n_params)


class _Level:
    """The adjusted series' level: Holt's damped trend, or its mean (a constant level)."""

    def __init__(self, a: np.ndarray, damped: bool) -> None:
        self.damped = damped
        if damped and a.size >= 10:
            from statsmodels.tsa.holtwinters import ExponentialSmoothing

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the optimiser's convergence chatter
                self.model = ExponentialSmoothing(a, trend="add", damped_trend=True).fit()
            self.fitted = np.asarray(self.model.fittedvalues, dtype=np.float64)
            self.n_params = 5
        else:
            self.damped = False
            self.mean = float(a.mean())
            self.fitted = np.full(a.size, self.mean)
            self.n_params = 1

    def forecast(self, h: int) -> np.ndarray:
        if self.damped:
            return np.asarray(self.model.forecast(h), dtype=np.float64)
        return np.full(h, self.mean)


def backtest_horizon(n: int, periods: list[float]) -> int:
    """Samples each internal backtest forecasts: the longest period, at least 5% of the
    series, and at most a sixth of it (so three backtests leave half the series to fit)."""
    longest = max(periods, default=1.0)
    return int(max(1, min(max(round(longest), round(0.05 * n)), n // (2 * BACKTESTS))))


def variants(y: np.ndarray, periods: list[float]) -> list[Variant]:
    logs = [False, True] if np.all(y > 0) else [False]
    seasonal = [True, False] if periods else [False]
    return [Variant(a, b, c) for a, b, c in product(logs, seasonal, [True, False])]


def choose_variant(y: np.ndarray, periods: list[float]) -> tuple[Variant, dict[str, float]]:
    """The variant with the lowest mean absolute error over the rolling backtests on the
    series' own end; with the score of every variant tried."""
    h = backtest_horizon(y.size, periods)
    scores: dict[Variant, float] = {}
    for v in variants(y, periods):
        errs = []
        for k in range(BACKTESTS, 0, -1):
            cut = y.size - k * h
            past = y[:cut]
            usable = [p for p in periods if p <= past.size / 2]
            try:
                f = Forecaster(past, usable, v).forecast(h)
            except (np.linalg.LinAlgError, ValueError):
                f = np.full(h, np.inf)
            errs.append(float(np.mean(np.abs(y[cut : cut + h] - f))))
        score = float(np.mean(errs))
        scores[v] = score if np.isfinite(score) else np.inf
    best = min(scores, key=lambda v: scores[v])
    table = {f"log={v.log},seasonal={v.seasonal},damped={v.damped}": s for v, s in scores.items()}
    return best, table


def fit_forecaster(series: Regular) -> tuple[Forecaster, list[float], dict[str, float]]:
    """Periods from the periodogram, the variant by backtest, refitted on the whole series."""
    periods = periods_from_data(series, max_periods=MAX_PERIODS)
    variant, table = choose_variant(series.values, periods)
    return Forecaster(series.values, periods, variant), periods, table
