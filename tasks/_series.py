"""The real series of the ``real`` tasks: each one shipped inside an installed package
(statsmodels, pmdarima, sktime, vega_datasets), read from disk, never downloaded.

Together they cover what a forecaster meets: sampling from half-hourly to yearly, two seasons
at once (a day and a week of electricity demand), multiplicative seasonality (airline
passengers), cycles that are not a whole number of samples (a year of weeks or days, the lynx
and sunspot cycles), missing values (weeks of CO2), and a series with no season at all (the
Nile's flow), the control where the right answer is "no period".

Each :class:`Source` states its calendar (the seasonal periods a user would name for that
sampling and quantity: what they would type as ``season_length``; none for yearly data, and
none for monthly sunspots, whose 11-year cycle is the sun's, not the calendar's), the season
of its benchmark forecast, its known cycle (for the period error; none for the Nile) and its
forecast horizon, all in samples.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Series:
    """A loaded series: time ``x`` in natural units, values ``y``, and each sample's index on
    the regular sampling grid (gaps included) for the seasonal-naive forecast."""

    x: np.ndarray
    y: np.ndarray
    positions: np.ndarray


@dataclass(frozen=True)
class Source:
    """Where a series comes from and how it is forecast; periods and horizon in samples."""

    load: Callable[[], Series]
    label: str
    package: str
    sampling: str
    unit: str  #: the unit of x
    calendar: tuple[float, ...]  #: the calendar's seasons, main first; () when none
    season: int  #: the benchmark forecast's season; 1 = the naive last-value forecast
    cycle: float | None  #: the known cycle, for the period error; None = no period
    horizon: int  #: samples forecast after each origin

    @property
    def bar(self) -> str:
        if self.season == 1:
            return "naive (last value)"
        return f"seasonal naive ({self.season})"


def _regular(start: float, step: float, y: np.ndarray) -> Series:
    """A gap-free series on a grid ``start + i * step``."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    idx = np.arange(y.size, dtype=np.int64)
    return Series(start + step * idx.astype(np.float64), y, idx)


def _quiet_pmdarima(name: str) -> np.ndarray:
    import pmdarima.datasets as data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pmdarima's own deprecation chatter on import
        return np.asarray(getattr(data, name)(), dtype=np.float64)


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


def _hourly(frame: str, start: str) -> Series:
    from vega_datasets import local_data

    df = getattr(local_data, frame)()  # bundled with the package: read from disk
    hours = (df["date"] - np.datetime64(start)) / np.timedelta64(1, "h")
    x = np.asarray(hours, dtype=np.float64)
    y = df["temp"].to_numpy(dtype=np.float64)
    return Series(x, y, np.rint(x).astype(np.int64))


def _load_seattle() -> Series:
    return _hourly("seattle_temps", "2010-01-01")


def _load_sf() -> Series:
    return _hourly("sf_temps", "2010-01-01")


def _load_seattle_weather() -> Series:
    from vega_datasets import local_data

    df = local_data.seattle_weather()
    days = (df["date"] - np.datetime64("2012-01-01")) / np.timedelta64(1, "D")
    x = np.asarray(days, dtype=np.float64)
    return Series(x, df["temp_max"].to_numpy(dtype=np.float64), np.rint(x).astype(np.int64))


def _load_taylor() -> Series:
    return _regular(0.0, 0.5, _quiet_pmdarima("load_taylor"))  # hours from the first


def _load_airline() -> Series:
    from sktime.datasets import load_airline

    return _regular(1949.0, 1 / 12, load_airline().to_numpy())


def _load_wineind() -> Series:
    return _regular(1980.0, 1 / 12, _quiet_pmdarima("load_wineind"))


def _load_woolyrnq() -> Series:
    return _regular(1965.0, 0.25, _quiet_pmdarima("load_woolyrnq"))


def _load_lynx() -> Series:
    return _regular(1821.0, 1.0, _quiet_pmdarima("load_lynx"))


def _load_sunspots_monthly() -> Series:
    return _regular(1749.0, 1 / 12, _quiet_pmdarima("load_sunspots"))


def _load_elnino() -> Series:
    from statsmodels.datasets import elnino

    df = elnino.load_pandas().data  # one row per year, one column per month
    y = df.drop(columns="YEAR").to_numpy(dtype=np.float64).reshape(-1)
    return _regular(float(df["YEAR"].iloc[0]), 1 / 12, y)


def _load_nile() -> Series:
    from statsmodels.datasets import nile

    df = nile.load_pandas().data
    return _regular(float(df["year"].iloc[0]), 1.0, df["volume"].to_numpy())


SOURCES: dict[str, Source] = {
    "taylor": Source(
        _load_taylor,
        "half-hourly electricity demand, England and Wales, 2000 (Taylor 2003)",
        "pmdarima",
        "half-hourly",
        "hours",
        (48.0, 336.0),
        336,
        336.0,
        336,
    ),
    "seattle-temps": Source(
        _load_seattle,
        "hourly Seattle temperatures, 2010",
        "vega_datasets",
        "hourly",
        "hours",
        (24.0,),
        24,
        24.0,
        72,
    ),
    "sf-temps": Source(
        _load_sf,
        "hourly San Francisco temperatures, 2010",
        "vega_datasets",
        "hourly",
        "hours",
        (24.0,),
        24,
        24.0,
        72,
    ),
    "seattle-weather": Source(
        _load_seattle_weather,
        "daily maximum temperature, Seattle, 2012-2015",
        "vega_datasets",
        "daily",
        "days",
        (365.25,),
        365,
        365.25,
        28,
    ),
    "co2": Source(
        _load_co2,
        "weekly Mauna Loa CO2 1958-2001, with missing weeks",
        "statsmodels",
        "weekly",
        "years",
        (365.25 / 7,),
        52,
        365.25 / 7,
        52,
    ),
    "airline": Source(
        _load_airline,
        "monthly airline passengers 1949-1960 (multiplicative season)",
        "sktime",
        "monthly",
        "years",
        (12.0,),
        12,
        12.0,
        12,
    ),
    "wineind": Source(
        _load_wineind,
        "monthly Australian wine sales 1980-1994",
        "pmdarima",
        "monthly",
        "years",
        (12.0,),
        12,
        12.0,
        12,
    ),
    "elnino": Source(
        _load_elnino,
        "monthly sea surface temperature, El Nino region, 1950-2010",
        "statsmodels",
        "monthly",
        "years",
        (12.0,),
        12,
        12.0,
        12,
    ),
    "woolyrnq": Source(
        _load_woolyrnq,
        "quarterly Australian woollen yarn production 1965-1994",
        "pmdarima",
        "quarterly",
        "years",
        (4.0,),
        4,
        4.0,
        8,
    ),
    "sunspots": Source(
        _load_sunspots,
        "yearly sunspot numbers 1700-2008",
        "statsmodels",
        "yearly",
        "years",
        (),
        11,
        11.0,
        11,
    ),
    "sunspots-monthly": Source(
        _load_sunspots_monthly,
        "monthly sunspot numbers 1749-1983",
        "pmdarima",
        "monthly",
        "years",
        (),
        132,
        132.0,
        132,
    ),
    "lynx": Source(
        _load_lynx,
        "yearly Canadian lynx trappings 1821-1934",
        "pmdarima",
        "yearly",
        "years",
        (),
        10,
        10.0,
        10,
    ),
    "nile": Source(
        _load_nile,
        "yearly Nile flow at Aswan 1871-1970 (no season: the control)",
        "statsmodels",
        "yearly",
        "years",
        (),
        1,
        None,
        10,
    ),
}

_cache: dict[str, Series] = {}


def load(name: str) -> Series:
    """The series, read once per process: tasks are built for every (method, seed)."""
    if name not in _cache:
        _cache[name] = SOURCES[name].load()
    return _cache[name]
