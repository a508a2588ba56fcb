"""Real periodic series that installed packages ship, so no run ever downloads anything.

Synthetic tones say whether a method can find a period; real series say whether that helps
forecast data with trends, drifting cycles and gaps. Each run forecasts the next
``HORIZON_SEASONS`` seasons after a forecast origin, from everything before it, and is judged
against the seasonal-naive forecast over the same horizon (the last observed season repeated,
Hyndman and Athanasopoulos, 5.2): success is a mean absolute error below the naive forecast's
(``rel_mae < 1``, Davydenko and Fildes' relative MAE). The origin is drawn per seed from the
last ``1 - FIRST_ORIGIN`` of the series (evaluation on a rolling origin, Tashman 2000), so the
seeds of a task are different forecasts of the same series and its success rate is the share
of origins where a method beats the naive forecast.

Why this bar: with a single origin at 80% and the whole remaining 20% as horizon (62 years of
sunspots, 9 years of CO2, 73 days of hourly temperatures), judged by MASE (the in-sample
one-season-ahead error as scale), the seasonal-naive forecast itself scored 1.8, 6.5 and 50
and no method passed two of the three series: the bar measured the horizon, not the method.
A few seasons ahead against the naive forecast over the same horizon is the comparison a
forecaster makes. MASE is still reported (``mase``).

- ``sunspots``: yearly mean sunspot numbers 1700-2008 (statsmodels), cycle about 11 years.
- ``co2``: weekly Mauna Loa CO2 1958-2001 (statsmodels), annual cycle on a rising trend, with
  missing weeks (dropped from training and forecast alike).
- ``seattle-temps``: hourly Seattle temperatures in 2010 (vega_datasets' local copy), 24-hour
  cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import Budget, Task, register_task
from bench.lib.metrics import mase, nmse, period_error, rel_mae, seasonal_naive_scale

#: The forecast horizon, in seasons of the series.
HORIZON_SEASONS = 3
#: The earliest forecast origin, as a share of the series: every run trains on at least this.
FIRST_ORIGIN = 0.7


@dataclass(frozen=True)
class Series:
    """A loaded series: time ``x`` in natural units, values ``y``, and each sample's index on
    the regular sampling grid (gaps included) for the seasonal-naive scale."""

    x: np.ndarray
    y: np.ndarray
    positions: np.ndarray


def _load_sunspots() -> Series:
    from statsmodels.datasets import sunspots

    df = sunspots.load_pandas().data
    x = df["YEAR"].to_numpy(dtype=np.float64)
    y = df["SUNACTIVITY"].to_numpy(dtype=np.float64)
    return Series(x, y, np.rint(x - x[0]).astype(np.int64))


def _load_co2() -> Series:
    from statsmodels.datasets import co2

    df = co2.load_pandas().data
    days = (df.index - np.datetime64("1970-01-01")) / np.timedelta64(1, "D")
    x = 1970.0 + np.asarray(days, dtype=np.float64) / 365.25  # decimal years
    y = df["co2"].to_numpy(dtype=np.float64)
    positions = np.arange(len(df), dtype=np.int64)  # the source is a regular weekly grid
    ok = np.isfinite(y)
    return Series(x[ok], y[ok], positions[ok])


def _load_seattle() -> Series:
    from vega_datasets import data

    df = data.seattle_temps()  # bundled with the package: read from disk, never fetched
    hours = (df["date"] - np.datetime64("2010-01-01")) / np.timedelta64(1, "h")
    x = np.asarray(hours, dtype=np.float64)
    y = df["temp"].to_numpy(dtype=np.float64)
    return Series(x, y, np.rint(x).astype(np.int64))


@dataclass(frozen=True)
class Source:
    load: Any
    label: str
    unit: str
    period: float  # known period, in units of x
    season: int  # the same period in samples, for the seasonal-naive forecast


SOURCES = {
    "sunspots": Source(_load_sunspots, "yearly sunspot numbers 1700-2008", "years", 11.0, 11),
    "co2": Source(_load_co2, "weekly Mauna Loa CO2 1958-2001", "years", 1.0, 52),
    "seattle-temps": Source(_load_seattle, "hourly Seattle temperatures 2010", "hours", 24.0, 24),
}

_cache: dict[str, Series] = {}


def load(name: str) -> Series:
    """The series, read once per process: tasks are built for every (method, seed)."""
    if name not in _cache:
        _cache[name] = SOURCES[name].load()
    return _cache[name]


def seasonal_naive_forecast(series: Series, cut: int, season: int, positions: np.ndarray):
    """The seasonal-naive forecast at grid ``positions`` after the first ``cut`` samples: the
    latest training value at the same phase of the season (a missing week looks one more
    season back)."""
    known = dict(zip(series.positions[:cut].tolist(), series.y[:cut].tolist(), strict=True))
    last = int(series.positions[cut - 1])
    out = np.empty(len(positions))
    for i, p in enumerate(np.asarray(positions, dtype=np.int64).tolist()):
        q = p - season * -(-(p - last) // season)  # the same phase, at or before ``last``
        while q not in known:
            q -= season
        out[i] = known[q]
    return out


@register_task("real", variants={"dataset": list(SOURCES)}, base=False)
class RealSeries(Task):
    """Forecast the next few seasons of a real periodic series from everything before an
    origin drawn per seed; judged against the seasonal-naive forecast."""

    family = "real"
    description = (
        f"Forecast {HORIZON_SEASONS} seasons of a real periodic series from all data before an "
        "origin drawn per seed; success: MAE below the seasonal-naive forecast's"
    )
    success_criterion = (
        f"rel_mae < 1: forecast MAE over the next {HORIZON_SEASONS} seasons below the MAE of the "
        "seasonal-naive forecast (the last observed season repeated) over the same horizon"
    )
    headline = "rel_mae"
    validation_rule = "forward"
    loss_target = None
    infinite = False
    budgets = {
        "quick": Budget(steps=5000, batch_size=32, seconds=300),
        "full": Budget(steps=100_000, batch_size=32, seconds=3600),
    }

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        src = SOURCES.get(params.get("dataset", ""))
        if src is None:
            return cls.description
        unit = src.unit if src.period != 1 else src.unit.rstrip("s")
        return (
            f"Forecast {src.label} (x in {src.unit}, period {src.period:g} {unit}) "
            f"{HORIZON_SEASONS} seasons ahead of an origin drawn per seed in the last "
            f"{1 - FIRST_ORIGIN:.0%}; success: MAE below the seasonal-naive forecast's"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", dataset: str = "sunspots") -> None:
        super().__init__(seed=seed, profile=profile, dataset=dataset)
        if dataset not in SOURCES:
            raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(SOURCES)}")
        # The data are fixed; the seed draws the forecast origin (and the methods' start).
        self._source = SOURCES[dataset]
        series = load(dataset)
        self._series = series
        horizon = HORIZON_SEASONS * self._source.season
        pos = series.positions
        # Origins: the first sample at or after FIRST_ORIGIN of the series, up to the last one
        # that still has a whole horizon of grid positions after it.
        first = int(np.ceil(FIRST_ORIGIN * pos.size))
        last = int(np.searchsorted(pos, pos[-1] - horizon, side="right"))
        if last <= first:
            raise ValueError(f"{dataset}: too short for a {HORIZON_SEASONS}-season horizon")
        self._cut = int(np.random.default_rng([self.seed, 9]).integers(first, last + 1))
        end = int(np.searchsorted(pos, pos[self._cut - 1] + horizon, side="right"))
        self._end = end
        self._scale: float | None = None

    @property
    def domain(self) -> tuple[float, float]:
        x = self._series.x[: self._cut]
        return (float(x[0]), float(x[-1]))

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        s = self._series
        return s.x[: self._cut].copy(), s.y[: self._cut].copy()

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        s = self._series
        part = slice(self._cut, self._end)
        return {"extrapolation": (s.x[part].copy(), s.y[part].copy())}

    def naive_scale(self) -> float:
        """In-sample MAE of the seasonal-naive forecast on the training part (MASE's scale)."""
        if self._scale is None:
            s = self._series
            self._scale = seasonal_naive_scale(
                s.y[: self._cut], self._source.season, s.positions[: self._cut]
            )
        return self._scale

    def naive_forecast(self) -> np.ndarray:
        """The seasonal-naive forecast over the horizon: the bar a method must beat."""
        s = self._series
        return seasonal_naive_forecast(
            s, self._cut, self._source.season, s.positions[self._cut : self._end]
        )

    def truth(self) -> dict[str, Any]:
        return {
            "period": self._source.period,
            "freqs": [2 * np.pi / self._source.period],
            "season": self._source.season,
        }

    def record_extras(self) -> dict[str, Any]:
        x, _ = self.eval_sets()["extrapolation"]
        return {
            "origin": float(self._series.x[self._cut - 1]),
            "train_samples": self._cut,
            "horizon_samples": int(x.size),
        }

    def score(self, predictor: Any) -> dict[str, float]:
        x, y = self.eval_sets()["extrapolation"]
        p = predictor.predict(x)
        naive_mae = float(np.mean(np.abs(self.naive_forecast() - y)))
        out = {
            "extrap_nmse": nmse(p, y),
            "mase": mase(p, y, self.naive_scale()),
            "rel_mae": rel_mae(p, y, naive_mae),
        }
        out.update(period_error(predictor, self._source.period))
        return out

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("rel_mae", np.inf) < 1.0)
