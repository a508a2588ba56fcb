"""Real periodic series that installed packages ship, so no run ever downloads anything.

Synthetic tones say whether a method can find a period; real series say whether that helps
forecast data with trends, drifting cycles and gaps. Each task trains on the first 80% of the
series in time and forecasts the last 20%, judged by MASE against a seasonal-naive forecast
(Hyndman and Koehler): below 1 means the method beats "same as one season ago" in-sample.

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
from bench.lib.metrics import mase, nmse, period_error, seasonal_naive_scale

TRAIN_SHARE = 0.8


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


@register_task("real", variants={"dataset": list(SOURCES)}, base=False)
class RealSeries(Task):
    """Forecast the last 20% of a real periodic series from the first 80%."""

    family = "real"
    description = (
        "Forecast the last 20% of a real periodic series from the first 80%; success: MASE < 1"
    )
    success_criterion = "MASE < 1 (forecast MAE below in-sample seasonal-naive MAE)"
    headline = "mase"
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
            f"Forecast {src.label} (x in {src.unit}, period {src.period:g} {unit}) from the "
            f"first 80%; success: MASE < 1 on the last 20%"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", dataset: str = "sunspots") -> None:
        super().__init__(seed=seed, profile=profile, dataset=dataset)
        if dataset not in SOURCES:
            raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(SOURCES)}")
        # The data are fixed; the seed only varies the methods' initialisation.
        self._source = SOURCES[dataset]
        series = load(dataset)
        self._cut = int(TRAIN_SHARE * series.x.size)
        self._series = series
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
        return {"extrapolation": (s.x[self._cut :].copy(), s.y[self._cut :].copy())}

    def naive_scale(self) -> float:
        """In-sample MAE of the seasonal-naive forecast on the training part."""
        if self._scale is None:
            s = self._series
            self._scale = seasonal_naive_scale(
                s.y[: self._cut], self._source.season, s.positions[: self._cut]
            )
        return self._scale

    def truth(self) -> dict[str, Any]:
        return {
            "period": self._source.period,
            "freqs": [2 * np.pi / self._source.period],
            "season": self._source.season,
        }

    def score(self, predictor: Any) -> dict[str, float]:
        x, y = self.eval_sets()["extrapolation"]
        p = predictor.predict(x)
        out = {"extrap_nmse": nmse(p, y), "mase": mase(p, y, self.naive_scale())}
        out.update(period_error(predictor, self._source.period))
        return out

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("mase", np.inf) < 1.0)
