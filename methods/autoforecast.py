"""The automatic forecasters practitioners run today, from statsforecast (Nixtla; Garza,
Mergenthaler Canseco, Challu and Olivares, 2022): ``sf-autoets``, ``sf-autoarima``,
``sf-autotheta`` and ``sf-mstl``, each with the library's defaults.

- **AutoETS** (Hyndman, Koehler, Snyder and Grose 2002; Hyndman and Khandakar 2008):
  exponential smoothing state space models, the error, trend and season types chosen by AICc
  (``model="ZZZ"``, damped trends considered).
- **AutoARIMA** (Hyndman and Khandakar 2008): the stepwise search of ``auto.arima`` over
  seasonal ARIMA orders, differencing by unit-root tests, chosen by AICc.
- **AutoTheta** (Assimakopoulos and Nikolopoulos 2000; Fiorucci et al. 2016): the standard,
  optimised and dynamic Theta models on the classically deseasonalised series, chosen by MSE.
- **MSTL** (Bandara, Hyndman and Bergmeir 2021) with statsforecast's default trend
  forecaster, a non-seasonal AutoETS: every seasonal period at once.

Their seasons come the way a user would give ``season_length`` (``methods/_forecast.py``): the
calendar's seasons where the series has a calendar, otherwise the periodogram's strongest
periods, rounded to whole samples as the library requires; the record says which
(``periods_from_calendar``). The single-season models take the main one; MSTL takes them all.

Seasonal ETS and seasonal ARIMA are built for short seasons: R's ``ets`` refuses seasons
longer than 24 samples, and Hyndman and Athanasopoulos (FPP3, 12.1) send longer ones (a day of
half-hours, a year of weeks) to STL, MSTL or harmonic regression. statsforecast has no such
guard: seasonal AutoETS at 48 samples ran more than ten minutes on one series, AutoARIMA more
than four. So ``sf-autoets`` and ``sf-autoarima`` decline a season longer than
``MAX_SEASON`` (the record says why); a series with no season at all gets their non-seasonal
models. One default differs between the libraries: R's ``auto.arima`` estimates candidate
models by conditional sums of squares first (``approximation``) when the series is longer than
150 samples or the season longer than 12; statsforecast leaves that off, and then took more
than ten minutes on 6,000 hourly temperatures (22 s with it). ``sf-autoarima`` follows the
reference implementation's rule. statsforecast 2 computes through compiled code
(``coreforecast``): the first fit of a model in a process still pays one-off set-up, which
``warm_up`` takes on a small synthetic series, timed as warm-up, not as fitting.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from bench import Budget, Logger, TaskView, register_method

from ._forecast import ForecastMethod, regular_series, seasons

#: The longest season seasonal ETS and ARIMA are run at (R's ``ets`` limit).
MAX_SEASON = 24


class StatsForecast(ForecastMethod):
    """A statsforecast model behind the forecasters' common fit: ``build`` makes the model for
    the seasons found and a series of ``n`` samples; the fitted model forecasts the grid."""

    #: Whether the model takes all the seasons (MSTL) or the main one.
    multi_season: ClassVar[bool] = False
    #: The longest season it models, or None for any.
    max_season: ClassVar[int | None] = None
    _warm: ClassVar[set[str]] = set()

    def build(self, seasons: list[int], n: int) -> Any:
        raise NotImplementedError

    def _seasons(self, periods: list[float]) -> list[int]:
        whole = [int(round(p)) for p in periods if round(p) >= 2]
        return whole if self.multi_season else whole[:1]

    def supports(self, task: TaskView) -> str | None:
        why = super().supports(task)
        if why is not None or self.max_season is None:
            return why
        series = regular_series(*(np.asarray(a, dtype=np.float64) for a in task.train_set()))
        periods, source = seasons(task, series)
        main = self._seasons(periods)
        if main and main[0] > self.max_season:
            return (
                f"season of {main[0]} samples ({source}): seasonal ETS and ARIMA run up to "
                f"{self.max_season} (R's ets limit; Hyndman and Athanasopoulos 12.1 use "
                "STL/MSTL or harmonic regression for longer seasons)"
            )
        return None

    def warm_up(self, task: TaskView, budget: Budget, device: str) -> None:
        """One fit on a small synthetic series, once per process: the library's first-call
        set-up is not charged to fitting."""
        key = type(self).__name__
        if key in self._warm:
            return
        t = np.arange(96, dtype=np.float64)
        y = 10 + np.sin(2 * np.pi * t / 12) + 0.01 * t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.build([12], y.size).fit(y).predict(1)
        self._warm.add(key)

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        data = self.start_fit(task, log)
        series = data.series
        chosen = self._seasons(data.periods)
        model = self.build(chosen, series.values.size)
        log.check()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optimiser and statsmodels chatter
            model.fit(series.values.astype(np.float64))
        self.searched_["season"] = float(chosen[0] if chosen else 1)

        def make(h: int) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return np.asarray(model.predict(h)["mean"], dtype=np.float64)

        self.model_ = model
        return self.finish_fit(series, [float(s) for s in chosen], make, n_params=None)


@register_method("sf-autoets")
class AutoETSForecast(StatsForecast):
    """statsforecast AutoETS (Hyndman et al. 2002, 2008): ETS chosen by AICc."""

    description = (
        "Forecast: statsforecast AutoETS (error/trend/season chosen by AICc) at the main "
        f"calendar season, else the periodogram's; declines seasons over {MAX_SEASON} samples"
    )
    reference = "Hyndman, Koehler, Snyder and Grose, IJF 2002; statsforecast AutoETS"
    max_season = MAX_SEASON

    def build(self, seasons: list[int], n: int) -> Any:
        from statsforecast.models import AutoETS

        return AutoETS(season_length=seasons[0] if seasons else 1)


@register_method("sf-autoarima")
class AutoARIMAForecast(StatsForecast):
    """statsforecast AutoARIMA (Hyndman and Khandakar 2008): stepwise seasonal ARIMA."""

    description = (
        "Forecast: statsforecast AutoARIMA (stepwise seasonal ARIMA by AICc) at the main "
        f"calendar season, else the periodogram's; declines seasons over {MAX_SEASON} samples"
    )
    reference = "Hyndman and Khandakar, J. Stat. Softw. 2008; statsforecast AutoARIMA"
    max_season = MAX_SEASON

    def build(self, seasons: list[int], n: int) -> Any:
        from statsforecast.models import AutoARIMA

        m = seasons[0] if seasons else 1
        return AutoARIMA(season_length=m, approximation=n > 150 or m > 12)


@register_method("sf-autotheta")
class AutoThetaForecast(StatsForecast):
    """statsforecast AutoTheta (Fiorucci et al. 2016): Theta models chosen by MSE."""

    description = (
        "Forecast: statsforecast AutoTheta (standard/optimised/dynamic Theta on the "
        "deseasonalised series) at the main calendar season, else the periodogram's"
    )
    reference = "Assimakopoulos and Nikolopoulos, IJF 2000; Fiorucci et al., IJF 2016"

    def build(self, seasons: list[int], n: int) -> Any:
        from statsforecast.models import AutoTheta

        return AutoTheta(season_length=seasons[0] if seasons else 1)


@register_method("sf-mstl")
class MSTLAutoForecast(StatsForecast):
    """statsforecast MSTL with its default trend forecaster, a non-seasonal AutoETS."""

    description = (
        "Forecast: statsforecast MSTL at all the calendar's seasons (else the periodogram's), "
        "trend by non-seasonal AutoETS (the library's default)"
    )
    reference = "Bandara, Hyndman and Bergmeir, MSTL, 2021; statsforecast MSTL"
    multi_season = True

    def build(self, seasons: list[int], n: int) -> Any:
        from statsforecast.models import MSTL, AutoETS

        if not seasons:  # no season: MSTL's trend forecaster alone
            return AutoETS(model="ZZN")
        return MSTL(season_length=seasons)
