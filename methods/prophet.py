"""Prophet: a decomposable forecasting model fitted by Stan (Taylor and Letham, "Forecasting at
scale", The American Statistician 72(1), 2018; the ``prophet`` package).

The model is ``y(t) = g(t) + s(t) + e``: a piecewise-linear trend ``g`` with 25 potential
changepoints in the first 80% of the history and a Laplace prior of scale 0.05 on their rate
changes, plus seasonal terms ``s``, each a Fourier series of its period with a normal prior
of scale 10 on its coefficients, fitted by maximum a posteriori (L-BFGS in Stan). All of that
is Prophet's default; this method changes nothing in it.

What a user must choose, and what is chosen here:

- **Time.** Prophet reads calendar dates. The tasks' inputs are plain numbers in their own
  unit (years, hours), unknown to a method, so one unit of ``x`` becomes one day of ``ds``.
  Prophet's calendar seasonalities (yearly, weekly, daily) would then mean nothing and are
  turned off; so are holidays.
- **Seasonalities.** Custom seasonalities (``add_seasonality``), as Prophet's documentation
  recommends for cycles it does not know: the calendar's seasons, or the periodogram's
  strongest periods where the data name none (``methods/_forecast.py``, as for ``mstl``), in
  the input's unit. Each gets Fourier order 10,
  Prophet's default for its yearly seasonality and the largest of its defaults, capped at half
  the period in samples (a Fourier term above that is aliased).
- **Speed.** ``uncertainty_samples=0``: the forecast ``yhat`` is the same; only the
  uncertainty interval, which no metric here reads, is skipped.

Regularly sampled fixed series only (the real-data tasks), like the other forecasters. The
compiled Stan model ships inside the ``prophet`` wheel, so nothing is downloaded or compiled
at run time.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from bench import Budget, Logger, TaskView, register_method

from ._forecast import ForecastMethod

#: Prophet's default Fourier order for yearly seasonality, the largest of its defaults.
FOURIER_ORDER = 10
#: The date that ``x = 0`` maps to (one unit of ``x`` is one day).
EPOCH = np.datetime64("2000-01-01T00:00:00", "ns")
NS_PER_DAY = 86_400 * 10**9


def _dates(x: np.ndarray) -> Any:
    import pandas as pd

    ns = np.rint(np.asarray(x, dtype=np.float64) * NS_PER_DAY).astype(np.int64)
    return pd.to_datetime(EPOCH + ns.astype("timedelta64[ns]"))


@register_method("prophet")
class ProphetForecast(ForecastMethod):
    """Prophet (Taylor and Letham 2018), default trend and priors, custom seasonalities."""

    description = (
        "Forecast: Prophet (piecewise-linear trend, default priors) with custom seasonalities at "
        "the calendar's seasons (else the periodogram's), Fourier order 10 (regular fixed series)"
    )
    reference = "Taylor and Letham, Forecasting at scale, The American Statistician, 2018"

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        import pandas as pd

        # Prophet's import reports a missing optional plotting library as an error, and
        # cmdstanpy logs every fit at INFO (resetting its level on first use); failures raise.
        for name in ("cmdstanpy", "prophet", "prophet.plot", "prophet.models"):
            logging.getLogger(name).disabled = True
        from prophet import Prophet

        x, y, series, found, _ = self.start_fit(task, log)
        model = Prophet(
            yearly_seasonality=False,
            weekly_seasonality=False,
            daily_seasonality=False,
            uncertainty_samples=0,
        )
        orders = []
        for i, p in enumerate(found):
            order = max(1, min(FOURIER_ORDER, int(p // 2)))
            model.add_seasonality(name=f"p{i}", period=p * series.step, fourier_order=order)
            orders.append(order)
        log.check()
        # Stan's optimiser takes a seed: the same run gives the same fit.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="prophet")  # its pandas idioms, deprecated
            model.fit(pd.DataFrame({"ds": _dates(x), "y": y}), seed=int(seed) % (2**31 - 1))
        self.model_ = model
        self.periods_ = np.array(found, dtype=np.float64) * series.step
        self.freqs_ = 2 * np.pi / self.periods_ if found else np.zeros(0)
        self.fourier_orders_ = orders
        # Trend: k, m, the changepoints' deltas and the noise scale; two per Fourier order.
        self.n_params_ = int(3 + len(model.changepoints) + 2 * sum(orders))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        import pandas as pd

        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(-1)
        # Prophet returns its forecast sorted by date, whatever the order asked for: put the
        # inputs in date order, then each answer back at its input's place.
        order = np.argsort(flat, kind="stable")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="prophet")
            out = self.model_.predict(pd.DataFrame({"ds": _dates(flat[order])}))
        yhat = np.empty(flat.size, dtype=np.float64)
        yhat[order] = out["yhat"].to_numpy(dtype=np.float64)
        return yhat.reshape(x.shape)
