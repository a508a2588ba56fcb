"""The FFT tone estimator against ``nifty-ls`` on one noisy tone (pytest-benchmark; figures only,
never asserts on time or accuracy).

Run with ``OMP_NUM_THREADS=1 python -m pytest benchmarks/test_estimator_band.py``. Each point is
one tone ``y = A sin(w x + phi) + noise`` at 0 dB SNR (``A = 1``, noise standard deviation
``1 / sqrt(2)``, so ``A^2 / 2`` equals the noise variance), ``x`` uniform at random on
[-1000, 1000], for ``n`` in {10**4, 10**6} samples and ``w`` in {31, 3100} rad per unit (3100
gives about 10**6 cycles over the span). Seeds are fixed per point.

- The project: ``estimate_tones(x, y, max_tones=1)`` with no band given; it may find no tone
  (recorded as ``none``, not a failure). Again with nifty-ls's band given
  (``max_freq=2.5 w``), for the speed at equal bands.
- ``nifty-ls``: its Lomb-Scargle periodogram (finufft backend, one thread) on an even grid of
  ordinary frequencies (cycles per unit) from ``df`` to ``2.5 w / (2 pi)``, with
  ``df = 1 / (5 * span)`` (five points per peak width), the highest grid point, then a parabola
  through that point's power and its two neighbours' for the peak's offset between grid points;
  the result times ``2 pi`` is the angular frequency. The timed call covers all of it.

Both errors are given in standard deviations of the Cramer-Rao bound on the frequency at that
point (``bench.lib.metrics.tone_crlb_std`` at the true amplitude, frequency, phase and noise for
these ``x``). The table is printed at the end of the run by ``benchmarks/conftest.py``.
"""

from __future__ import annotations

import math
import os
from functools import cache

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest

from bench.lib.estimators import estimate_tones
from bench.lib.metrics import tone_crlb_std

from .conftest import point_id, record_band

AMPLITUDE = 1.0
NOISE_STD = 1 / math.sqrt(2)
LOW, HIGH = -1000.0, 1000.0
SIZES = [10**4, 10**6]
FREQS = [31.0, 3100.0]
#: Highest periodogram frequency handed to nifty-ls, as a multiple of the true one.
GRID_REACH = 2.5
#: Periodogram points per peak width (the width being one cycle over the span).
OVERSAMPLE = 5

POINTS = [pytest.param(n, w, id=point_id(n, w)) for n in SIZES for w in FREQS]


@cache
def tone(n: int, w: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The samples of one point, its CRB standard deviation on the angular frequency."""
    rng = np.random.default_rng((20240, n, round(w)))
    x = rng.uniform(LOW, HIGH, n)
    phase = float(rng.uniform(0, 2 * np.pi))
    y = AMPLITUDE * np.sin(w * x + phase) + rng.normal(0.0, NOISE_STD, n)
    crb = tone_crlb_std(x, w, AMPLITUDE, phase, NOISE_STD)
    return x, y, crb


def lomb_scargle_peak(lombscargle, x: np.ndarray, y: np.ndarray, w_max: float) -> float:
    """Angular frequency of the highest nifty-ls periodogram peak below ``w_max`` rad per unit,
    placed between grid points by a parabola through the peak's power and its neighbours'."""
    df = 1.0 / (OVERSAMPLE * (x.max() - x.min()))
    n_freqs = math.ceil((w_max / (2 * np.pi) - df) / df) + 1
    # nifty-ls takes the top frequency as inclusive: the spacing is (fmax - fmin) / (Nf - 1).
    result = lombscargle(
        x, y, fmin=df, fmax=df * n_freqs, Nf=n_freqs, backend="finufft", nthreads=1
    )
    power = np.asarray(result.power)
    k = int(np.argmax(power))
    offset = 0.0
    if 0 < k < power.size - 1:
        left, mid, right = power[k - 1], power[k], power[k + 1]
        curve = left - 2 * mid + right
        if curve < 0:
            offset = 0.5 * (left - right) / curve
    return float(2 * np.pi * (result.fmin + (k + offset) * result.df))


@pytest.mark.parametrize("n, w", POINTS)
def test_project_estimator(benchmark, n: int, w: float) -> None:
    x, y, crb = tone(n, w)
    model = benchmark.pedantic(estimate_tones, args=(x, y), kwargs={"max_tones": 1}, rounds=2)
    freqs = np.asarray(model.freqs, dtype=float)
    found = float(freqs[0]) if freqs.size else None
    if found is not None:
        assert np.isfinite(found)
    record_band(n, w, "project", benchmark, found, crb)


@pytest.mark.parametrize("n, w", POINTS)
def test_project_estimator_same_band(benchmark, n: int, w: float) -> None:
    """The project's estimator told nifty-ls's band (``max_freq = 2.5 w``): speed at equal
    bands."""
    x, y, crb = tone(n, w)
    kwargs = {"max_tones": 1, "max_freq": GRID_REACH * w}
    model = benchmark.pedantic(estimate_tones, args=(x, y), kwargs=kwargs, rounds=2)
    freqs = np.asarray(model.freqs, dtype=float)
    found = float(freqs[0]) if freqs.size else None
    record_band(n, w, "project, band given", benchmark, found, crb)


@pytest.mark.parametrize("n, w", POINTS)
def test_nifty_ls(benchmark, n: int, w: float) -> None:
    nifty_ls = pytest.importorskip(
        "nifty_ls", reason="nifty-ls is not installed (pip install -e '.[bench]')"
    )
    x, y, crb = tone(n, w)
    # A large grid (about 1.2e7 points at w = 3100) takes seconds: one round there.
    rounds = 2 if w < 100 else 1
    found = benchmark.pedantic(
        lomb_scargle_peak, args=(nifty_ls.lombscargle, x, y, GRID_REACH * w), rounds=rounds
    )
    assert np.isfinite(found)
    record_band(n, w, "nifty-ls", benchmark, found, crb)
