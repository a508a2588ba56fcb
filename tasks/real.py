"""Forecast real series from installed packages (``tasks/_series.py``): a forecasting verdict.

Synthetic tones say whether a method can find a period; real series say whether that helps
forecast data with trends, drifting cycles, two seasons at once and gaps. Each run forecasts
the series' horizon (stated per series, in samples and in seasons) after a forecast origin,
from everything before it, and is judged against the series' benchmark forecast over the same
horizon: the seasonal-naive forecast (the last observed season repeated, Hyndman and
Athanasopoulos, 5.2) with the season of the data's calendar or known cycle, or for the Nile,
which has no season, the naive last-value forecast. Success is a mean absolute error below
the benchmark's (``rel_mae < 1``, Davydenko and Fildes' relative MAE); MASE is also reported.

Origins roll (Tashman 2000): seed ``s`` takes the origin at the ``s``-th point of the
radical-inverse sequence (0, 1/2, 1/4, 3/4, 1/8, ...) over the span between ``FIRST_ORIGIN`` of
the series and the last sample that leaves a whole horizon after it, so any number of seeds
spreads over that span and the first ten are ten distinct origins (every series offers at
least ``MIN_ORIGINS`` of them). The report reads the seeds of a series as origins: geometric
mean relative MAE, ranks and paired tests (``bench/report/competition.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Task, register_task
from bench.lib.metrics import mase, nmse, period_error, rel_mae, seasonal_naive_scale

from ._series import SOURCES, Series, Source, load

__all__ = ["SOURCES", "Series", "Source", "load", "RealSeries", "seasonal_naive_forecast"]

#: The earliest forecast origin, as a share of the series: every run trains on at least this.
FIRST_ORIGIN = 0.7
#: Distinct origins a series must offer between FIRST_ORIGIN and its last one: with the
#: radical-inverse order, 16 positions keep the first 16 seeds' origins apart.
MIN_ORIGINS = 16


def radical_inverse(k: int) -> float:
    """The ``k``-th point of the base-2 van der Corput sequence in [0, 1): 0, 1/2, 1/4, 3/4..."""
    out, scale = 0.0, 0.5
    while k > 0:
        out += scale * (k & 1)
        k >>= 1
        scale /= 2
    return out


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
    """Forecast a real series' horizon from everything before a rolling origin (one per
    seed); judged against the series' benchmark forecast (seasonal naive, or naive)."""

    family = "real"
    description = (
        "Forecast a real series' horizon from all data before a rolling origin (one per seed); "
        "success: MAE below the benchmark forecast's (seasonal naive; naive for the control)"
    )
    success_criterion = (
        "rel_mae < 1: forecast MAE over the horizon below the MAE of the series' benchmark "
        "forecast over the same horizon (the last season repeated; the last value where the "
        "series has no season)"
    )
    headline = "rel_mae"
    validation_rule = "forward"
    seed_is_index = True
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
        k = src.horizon / src.season
        seasons = f" ({k:.2g} season{'' if k == 1 else 's'})" if src.season > 1 else ""
        return (
            f"Forecast {src.label} [{src.package}, {src.sampling}] {src.horizon} samples"
            f"{seasons} ahead of rolling origins; success: MAE below the {src.bar} forecast's"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", dataset: str = "sunspots") -> None:
        super().__init__(seed=seed, profile=profile, dataset=dataset)
        if dataset not in SOURCES:
            raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(SOURCES)}")
        # The data are fixed; the seed picks the forecast origin (and the methods' start).
        self._source = SOURCES[dataset]
        self.calendar = self._source.calendar
        series = load(dataset)
        self._series = series
        horizon = self._source.horizon
        pos = series.positions
        # Origins: the first sample at or after FIRST_ORIGIN of the series, up to the last one
        # that still has a whole horizon of grid positions after it.
        first = int(np.ceil(FIRST_ORIGIN * pos.size))
        last = int(np.searchsorted(pos, pos[-1] - horizon, side="right"))
        if last - first < MIN_ORIGINS:
            raise ValueError(
                f"{dataset}: {last - first} forecast origins with a {horizon}-sample horizon after "
                f"{FIRST_ORIGIN:.0%} of the series; at least {MIN_ORIGINS} are needed"
            )
        self._cut = first + int(round(radical_inverse(self.seed) * (last - first)))
        self._end = int(np.searchsorted(pos, pos[self._cut - 1] + horizon, side="right"))
        self._scale: float | None = None

    @property
    def domain(self) -> tuple[float, float]:
        x = self._series.x[: self._cut]
        return (float(x[0]), float(x[-1]))

    @property
    def step(self) -> float:
        """The sampling interval, in units of x."""
        return float(np.median(np.diff(self._series.x[:64])))

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        s = self._series
        return s.x[: self._cut].copy(), s.y[: self._cut].copy()

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        s = self._series
        part = slice(self._cut, self._end)
        return {"extrapolation": (s.x[part].copy(), s.y[part].copy())}

    def naive_scale(self) -> float:
        """In-sample MAE of the benchmark forecast on the training part (MASE's scale)."""
        if self._scale is None:
            s = self._series
            self._scale = seasonal_naive_scale(
                s.y[: self._cut], self._source.season, s.positions[: self._cut]
            )
        return self._scale

    def naive_forecast(self) -> np.ndarray:
        """The benchmark forecast over the horizon: the bar a method must beat."""
        s = self._series
        return seasonal_naive_forecast(
            s, self._cut, self._source.season, s.positions[self._cut : self._end]
        )

    def truth(self) -> dict[str, Any]:
        cycle = self._source.cycle
        if cycle is None:
            return {"period": None, "freqs": [], "season": 1}
        period = cycle * self.step
        return {"period": period, "freqs": [2 * np.pi / period], "season": self._source.season}

    def record_extras(self) -> dict[str, Any]:
        src = self._source
        x, _ = self.eval_sets()["extrapolation"]
        return {
            "origin": float(self._series.x[self._cut - 1]),
            "origin_index": self._cut,
            "train_samples": self._cut,
            "horizon_samples": int(x.size),
            "horizon_seasons": src.horizon / src.season,
            "season": src.season,
            "bar": src.bar,
            "sampling": src.sampling,
            "calendar": list(src.calendar),
            "series_label": src.label,
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
        period = self.truth()["period"]
        if period is not None:
            out.update(period_error(predictor, period))
        return out

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("rel_mae", np.inf) < 1.0)
