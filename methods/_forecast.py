"""Shared pieces of the forecasting baselines (``seasonal-naive``, ``mstl``, ``ucm``,
``prophet``): what a forecaster needs from a series and how it answers ``predict``.

Statistical forecasters work on a regular series: one value per sampling interval. The tasks
give ``(x, y)`` pairs, possibly with gaps (weeks missing from ``co2``); :func:`regular_series`
puts them on their grid, filling gaps by linear interpolation. The seasonal periods come the way
a user would give them (:func:`seasons`): the seasons of the data's calendar where the series
has one (``TaskView.calendar``: a day and a week of half-hourly demand, a year of monthly
sales), otherwise the training series' periodogram (:func:`periods_from_data`:
``bench.lib.estimators.estimate_tones`` on the grid index, strongest first, keeping those with
at least two whole cycles in the training span and above the noise, so a series with no
season gets none). Which of the two fed a fit is recorded (``periods_source_``).
:class:`GridForecast` is the fitted predictor: a forecast on the grid after the training
data, read at the inputs asked for.
:class:`ForecastMethod` is their common base: they differ only in the model they fit, so
what they must agree on (which tasks they attempt, what a fit starts from, what it leaves
behind) is written once here, and a change to it reaches all of them alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bench import Logger, Method, TaskView
from bench.kit.methods import forget
from bench.lib.dsp import sampling_interval
from bench.lib.estimators import estimate_tones

#: Most seasonal periods a forecaster models (the strongest tones of the periodogram).
MAX_PERIODS = 2


@dataclass(frozen=True)
class Regular:
    """A series on its sampling grid: ``values[i]`` at ``origin + i * step``."""

    values: np.ndarray
    origin: float
    step: float

    @property
    def end(self) -> float:
        return self.origin + (self.values.size - 1) * self.step


def regular_series(x: np.ndarray, y: np.ndarray) -> Regular:
    """``(x, y)`` on its regular grid, gaps filled by linear interpolation. Raises
    ``ValueError`` for irregular samples, which no seasonal forecaster can index."""
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, dtype=np.float64)[order], np.asarray(y, dtype=np.float64)[order]
    dt = sampling_interval(x)
    if dt is None:
        raise ValueError("irregular samples: a seasonal forecaster needs a regular grid")
    pos = np.rint((x - x[0]) / dt).astype(np.int64)
    full = np.arange(int(pos[-1]) + 1)
    values = np.interp(full, pos, y)
    return Regular(values, float(x[0]), float(dt))


def periods_from_data(series: Regular, max_periods: int = MAX_PERIODS) -> list[float]:
    """Seasonal periods, in samples, from the series' own periodogram: the strongest tones
    (after a linear trend), each with at least two whole cycles in the span and at least two
    samples per cycle, none a harmonic (within 5%) of a stronger one."""
    n = series.values.size
    idx = np.arange(n, dtype=np.float64)
    model = estimate_tones(idx, series.values, trend=True, max_tones=4 * max_periods)
    out: list[float] = []
    for w in model.sorted().freqs:
        p = 2 * np.pi / float(w)
        # A harmonic of a stronger period (p close to q / k) belongs to that period's shape.
        if 2.0 <= p <= n / 2 and all(abs(q / p - round(q / p)) > 0.05 for q in out):
            out.append(p)
        if len(out) == max_periods:
            break
    return out


def seasons(
    task: TaskView, series: Regular, max_periods: int = MAX_PERIODS
) -> tuple[list[float], str]:
    """The seasonal periods a fit models, in samples, and where they came from: the calendar's
    seasons (those with two whole cycles in the training span) when the task names any,
    otherwise the periodogram's."""
    if task.calendar:
        fits = [p for p in task.calendar if 2.0 <= p <= series.values.size / 2]
        return fits[:max_periods], "calendar"
    return periods_from_data(series, max_periods=max_periods), "periodogram"


class GridForecast:
    """Forecasts for the grid points after the training data, read at any input: an input maps
    to its nearest grid point; inputs inside the training range get the training series itself.
    ``make(h)`` returns the forecast of the next ``h`` grid points; it is called again, for a
    longer horizon, only when an input lies beyond the one computed so far."""

    def __init__(self, series: Regular, make: Callable[[int], np.ndarray]) -> None:
        self.series = series
        self.make = make
        self.forecast = np.zeros(0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        s = self.series
        pos = np.rint((np.asarray(x, dtype=np.float64) - s.origin) / s.step).astype(np.int64)
        n = s.values.size
        h = np.maximum(pos - (n - 1), 0)
        need = int(h.max()) if h.size else 0
        if need > self.forecast.size:
            self.forecast = np.asarray(self.make(need), dtype=np.float64).reshape(-1)[:need]
        ahead = self.forecast[np.clip(h - 1, 0, max(self.forecast.size - 1, 0))] if need else 0.0
        return np.where(h > 0, ahead, s.values[np.clip(pos, 0, n - 1)])


def regular_fixed(
    task: TaskView,
    role: str = "forecasts one real-valued series",
    grid: str = "a seasonal forecaster needs a regular grid",
) -> str | None:
    """Why a method that reads one fixed, regularly sampled series cannot attempt ``task``, or
    ``None``: it needs one regression output and a fixed, regular training series. ``role``
    and ``grid`` word the first and last reasons for the method (the forecasters' by default;
    the estimators that read a grid say why they need one)."""
    out = task.output
    if out.kind != "regression" or out.n_outputs != 1:
        return role
    if task.infinite:
        return "needs a fixed series on a regular grid, not a sampler"
    if sampling_interval(np.asarray(task.train_set()[0], dtype=np.float64)) is None:
        return f"irregular samples: {grid}"
    return None


class Training(NamedTuple):
    """What a forecaster's ``fit`` starts from. Prophet reads the pairs as given (gaps stay gaps
    for it); the grid models read the regular series; all take the same periods."""

    x: np.ndarray  #: training inputs, float64, in the task's order
    y: np.ndarray  #: training targets, float64
    series: Regular  #: the same pairs on their regular grid
    periods: list[float]  #: the seasonal periods, in samples, main or strongest first
    source: str  #: where the periods came from: ``calendar`` or ``periodogram``


class ForecastMethod(Method):
    """Base of the forecasters. They all take one regularly sampled fixed series, find their
    seasonal periods the same way, and (Prophet aside) answer through a :class:`GridForecast`;
    keeping that here means a forecaster's file holds only its own model, and the forecasters
    cannot drift apart on which tasks they attempt or where their periods come from."""

    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    def supports(self, task: TaskView) -> str | None:
        return regular_fixed(task) or super().supports(task)

    def start_fit(self, task: TaskView, log: Logger, max_periods: int = MAX_PERIODS) -> Training:
        """The first steps of every ``fit``: forget the last fit, put the training series on its
        grid and take its seasons (:func:`seasons`; the periodogram's search is timed as the
        ``estimate`` phase)."""
        forget(self)
        x, y = (np.asarray(a, dtype=np.float64) for a in task.train_set())
        series = regular_series(x, y)
        with log.phase("estimate"):
            periods, source = seasons(task, series, max_periods)
        self.periods_source_ = source
        self.searched_ = {"periods_from_calendar": float(source == "calendar")}
        return Training(x, y, series, periods, source)

    def finish_fit(
        self,
        series: Regular,
        periods: list[float],
        make: Callable[[int], np.ndarray],
        n_params: int | None,
    ) -> ForecastMethod:
        """The last step of a grid forecaster's ``fit``: record the periods it modelled (in
        samples) and its parameter count (``None`` where the library does not say), and keep
        ``make`` as its forecast of the grid."""
        self.periods_ = np.array(periods, dtype=np.float64)
        self.forecast_ = GridForecast(series, make)
        if n_params is not None:
            self.n_params_ = int(n_params)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forecast_.predict(x)
