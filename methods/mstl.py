"""MSTL: seasonal-trend decomposition by Loess for several seasonal periods (Bandara, Hyndman
and Bergmeir, "MSTL: A Seasonal-Trend Decomposition Algorithm for Time Series with Multiple
Seasonal Patterns", 2021; ``statsmodels.tsa.seasonal.MSTL``), then a trend model.

The series is split into a trend, one seasonal component per period, and a remainder. The
periods are the calendar's seasons, or the periodogram's strongest where the data name none
(``methods/_forecast.py``), rounded to whole samples as STL requires. The forecast repeats each
seasonal component's last cycle and extrapolates the seasonally adjusted series (trend plus
remainder) by Holt's damped trend (``statsmodels``' ``ExponentialSmoothing(trend="add",
damped_trend=True)``, parameters by maximum likelihood), the "STL + trend model" recipe of
Hyndman and Athanasopoulos (sections 3.6, 5.7 and 8.2). The trend is damped as their
automatic ETS selection and forecasting practice favour for anything beyond a few steps: the
undamped Holt trend ran away three weeks ahead of half-hourly demand (nMSE 34 and 134). Regularly
sampled fixed series only (the real-data tasks).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bench import Budget, Logger, TaskView, register_method

from ._forecast import ForecastMethod


@register_method("mstl")
class MSTLForecast(ForecastMethod):
    """MSTL decomposition at the seasons of the data + Holt's damped trend (Bandara et al. 2021)."""

    description = (
        "Forecast: statsmodels MSTL at the calendar's seasons (else the periodogram's), seasonal "
        "cycles repeated, Holt's damped trend on the adjusted series (regular fixed series)"
    )
    reference = (
        "Bandara, Hyndman and Bergmeir, MSTL, 2021 (statsmodels.tsa.seasonal.MSTL); Holt's "
        "damped trend (statsmodels ExponentialSmoothing)"
    )

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
        from statsmodels.tsa.seasonal import MSTL

        data = self.start_fit(task, log)
        series, y = data.series, data.series.values
        periods = sorted({int(round(p)) for p in data.periods if round(p) >= 2})
        seasonal = np.zeros((y.size, 0))
        if periods:
            res = MSTL(y, periods=periods).fit()
            seasonal = np.asarray(res.seasonal).reshape(y.size, -1)
        adjusted = y - seasonal.sum(axis=1)
        log.check()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of the optimiser
            holt = ExponentialSmoothing(adjusted, trend="add", damped_trend=True).fit()
        cycles = [seasonal[-p:, j] for j, p in enumerate(periods)]

        def make(h: int) -> np.ndarray:
            out = np.asarray(holt.forecast(h), dtype=np.float64)
            for cyc in cycles:
                out = out + np.resize(cyc, h)
            return out

        return self.finish_fit(series, periods, make, n_params=5 + sum(periods))
