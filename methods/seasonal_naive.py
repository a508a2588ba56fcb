"""Seasonal naive forecast: each future value is the last observed value one season earlier
(Hyndman and Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., section 5.2).

The bar of the real-data tasks: a method succeeds there by beating the seasonal-naive forecast
over the same horizon (``datasets/real.py``), and MASE (Hyndman and Koehler, IJF 2006) scales by
its in-sample error. Here it is a method like any other, so it gets no season from the task:
the season is the strongest period of the training series' periodogram, rounded to whole
samples (``methods/_forecast.py``).
Regularly sampled fixed series only (the real-data tasks); irregular samples are skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Logger, Method, TaskView, register_method
from bench.kit.methods import forget

from ._forecast import GridForecast, periods_from_data, regular_fixed, regular_series


@register_method("seasonal-naive")
class SeasonalNaive(Method):
    """Seasonal naive forecast, season from the periodogram (Hyndman and Athanasopoulos 2021)."""

    description = (
        "Forecast: each value repeats the one a season earlier; the season is the periodogram's "
        "strongest period, in whole samples (regular fixed series)"
    )
    reference = "Hyndman and Athanasopoulos, Forecasting: Principles and Practice (3rd ed.), 5.2"
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    def supports(self, task: TaskView) -> str | None:
        return regular_fixed(task) or super().supports(task)

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        forget(self)
        series = regular_series(*task.train_set())
        with log.phase("estimate"):
            periods = periods_from_data(series, max_periods=1)
        season = max(1, int(round(periods[0]))) if periods else 1
        last = series.values[-season:]
        self.season_ = season
        self.periods_ = np.array(periods)
        self.forecast_ = GridForecast(series, lambda h: np.resize(last, h))
        self.n_params_ = 0
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forecast_.predict(x)
