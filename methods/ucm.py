"""Unobserved components model: a local linear trend plus trigonometric seasonals, estimated by
the Kalman filter and maximum likelihood (Harvey, "Forecasting, Structural Time Series Models
and the Kalman Filter", 1989; ``statsmodels.tsa.statespace.structural.UnobservedComponents``
with ``level="local linear trend"`` and ``freq_seasonal``).

Each seasonal period gets a stochastic trigonometric component with statsmodels' default number
of harmonics, ``floor(period / 2)`` (every harmonic a regular grid can carry), capped at
``max_harmonics`` to bound the state size. The periods are the calendar's seasons, or the
periodogram's strongest where the data name none (``methods/_forecast.py``), kept as real
numbers: a trigonometric seasonal needs no whole
number of samples per cycle. Regularly sampled fixed series only (the real-data tasks).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bench import Budget, Logger, TaskView, register_method

from ._forecast import ForecastMethod


@register_method("ucm")
class UCMForecast(ForecastMethod):
    """Local linear trend + trigonometric seasonals by Kalman filter and MLE (Harvey 1989)."""

    description = (
        "Forecast: statsmodels UnobservedComponents, local linear trend + trigonometric "
        "seasonals at the calendar's seasons (else the periodogram's), maximum likelihood"
    )
    reference = (
        "Harvey, Forecasting, Structural Time Series Models and the Kalman Filter, 1989 "
        "(statsmodels UnobservedComponents)"
    )

    def __init__(self, max_harmonics: int = 6) -> None:
        self.max_harmonics = max_harmonics

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        from statsmodels.tsa.statespace.structural import UnobservedComponents

        data = self.start_fit(task, log)
        series, periods = data.series, data.periods
        seasonals = [
            {"period": p, "harmonics": max(1, min(int(p // 2), int(self.max_harmonics)))}
            for p in periods
        ]
        model = UnobservedComponents(
            series.values,
            level="local linear trend",
            freq_seasonal=seasonals or None,
        )
        log.check()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of the optimiser
            res = model.fit(disp=False, cov_type="none", low_memory=True)

        def make(h: int) -> np.ndarray:
            return np.asarray(res.forecast(h), dtype=np.float64)

        return self.finish_fit(series, periods, make, n_params=len(res.params))
