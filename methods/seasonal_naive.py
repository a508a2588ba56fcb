"""Seasonal naive forecast: each future value is the last observed value one season earlier
(Hyndman and Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., section 5.2).

The bar of the real-data tasks: a method succeeds there by beating the seasonal-naive forecast
over the same horizon (``tasks/real.py``), and MASE (Hyndman and Koehler, IJF 2006) scales by
its in-sample error. Here it is a method like any other, so it gets no season from the task.
Its candidate seasons are those a user would try (``methods/_forecast.py``: the calendar's
seasons, or the periodogram's where the data have no calendar), rounded to whole samples, and
the plain naive forecast (season 1, the last value); it keeps the one whose forecasts of the
training series' own last seasons were best (a backtest over ``BACKTESTS`` origins, each one
longest candidate season ahead). Taking the periodogram's strongest period instead repeated
yesterday on half-hourly demand, where last week is the better guess, and on a series with no
season the last value is the right answer.
Regularly sampled fixed series only (the real-data tasks); irregular samples are skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Logger, TaskView, register_method

from ._forecast import ForecastMethod


@register_method("seasonal-naive")
class SeasonalNaive(ForecastMethod):
    """Seasonal naive forecast, season by backtest (Hyndman and Athanasopoulos 2021)."""

    description = (
        "Forecast: each value repeats the one a season earlier; the season (calendar's, "
        "periodogram's, or none) whose backtest on the training series was best"
    )
    reference = "Hyndman and Athanasopoulos, Forecasting: Principles and Practice (3rd ed.), 5.2"

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        data = self.start_fit(task, log)
        series = data.series
        with log.phase("estimate"):
            season = choose_season(series.values, [1, *(round(p) for p in data.periods)])
        last = series.values[-season:]
        self.season_ = season
        self.searched_["season"] = float(season)
        periods = [float(season)] if season > 1 else []
        return self.finish_fit(series, periods, lambda h: np.resize(last, h), n_params=0)


#: Backtest origins per candidate season, each one longest candidate season before the next.
BACKTESTS = 3


def choose_season(y: np.ndarray, candidates: list[int]) -> int:
    """The candidate season whose seasonal-naive forecasts of the series' own end were best:
    mean absolute error over up to ``BACKTESTS`` origins, each forecasting the longest
    candidate season ahead; ties go to the shorter season. Candidates that the series cannot
    backtest once (one horizon plus one season of history) are dropped."""
    seasons = sorted({int(c) for c in candidates if c >= 1})
    horizon = max(seasons)
    scores: dict[int, float] = {}
    for s in seasons:
        errs = []
        for k in range(1, BACKTESTS + 1):
            cut = y.size - k * horizon
            if cut < s:
                break
            guess = np.resize(y[cut - s : cut], horizon)
            errs.append(float(np.mean(np.abs(y[cut : cut + horizon] - guess))))
        if errs:
            scores[s] = float(np.mean(errs))
    if not scores:
        return 1
    return min(scores, key=lambda s: (scores[s], s))
