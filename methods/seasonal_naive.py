"""Seasonal naive forecast: each future value is the last observed value one season earlier
(Hyndman and Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., section 5.2).

The bar of the real-data tasks: a method succeeds there by beating the seasonal-naive forecast
over the same horizon (``tasks/real.py``), and MASE (Hyndman and Koehler, IJF 2006) scales by
its in-sample error. Here it is a method like any other, so it gets no season from the task:
the season is the strongest period of the training series' periodogram, rounded to whole
samples (``methods/_forecast.py``).
Regularly sampled fixed series only (the real-data tasks); irregular samples are skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Logger, TaskView, register_method

from ._forecast import ForecastMethod


@register_method("seasonal-naive")
class SeasonalNaive(ForecastMethod):
    """Seasonal naive forecast, season from the periodogram (Hyndman and Athanasopoulos 2021)."""

    description = (
        "Forecast: each value repeats the one a season earlier; the season is the periodogram's "
        "strongest period, in whole samples (regular fixed series)"
    )
    reference = "Hyndman and Athanasopoulos, Forecasting: Principles and Practice (3rd ed.), 5.2"

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        data = self.start_fit(task, log, max_periods=1)
        series, periods = data.series, data.periods
        season = max(1, int(round(periods[0]))) if periods else 1
        last = series.values[-season:]
        self.season_ = season
        return self.finish_fit(series, periods, lambda h: np.resize(last, h), n_params=0)
