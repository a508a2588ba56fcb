"""Metrics shared by tasks. NaN-safe: a non-finite prediction gives an infinite error, never a
silently small one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment


def _pred(pred: Any, like: np.ndarray) -> np.ndarray:
    p = np.asarray(pred, dtype=float)
    if p.shape != like.shape:
        p = p.reshape(like.shape)
    return p


def mse(pred: Any, y: np.ndarray) -> float:
    p = _pred(pred, np.asarray(y, dtype=float))
    if not np.all(np.isfinite(p)):
        return float("inf")
    return float(np.mean((p - y) ** 2))


def nmse(pred: Any, y: np.ndarray) -> float:
    """MSE divided by the variance of the target (1 = no better than predicting the mean)."""
    var = float(np.var(y))
    return mse(pred, y) / var if var > 0 else mse(pred, y)


def reported_freqs(predictor: Any) -> np.ndarray | None:
    """A method's reported angular frequencies (``freqs_``, absolute values), dominant first;
    ``None`` when it reports none.

    The convention for methods: ``freqs_`` lists the estimated frequencies dominant first
    (largest amplitude first). Where the method also sets ``amplitudes_`` (same length), the
    order is taken from the amplitudes, largest first (a stable sort, non-finite amplitudes
    last), as :func:`dominant_freq` does. Zero frequencies (a constant or trend term) are not
    tones and are left out.
    """
    est = getattr(predictor, "freqs_", None)
    if est is None:
        return None
    f = np.abs(np.asarray(est, dtype=float).reshape(-1))
    amps = getattr(predictor, "amplitudes_", None)
    if amps is not None:
        a = np.abs(np.asarray(amps, dtype=float).reshape(-1))
        if a.shape == f.shape:
            f = f[np.argsort(-np.where(np.isfinite(a), a, -np.inf), kind="stable")]
    return f[f != 0]


def freq_error(predictor: Any, true_freqs: Sequence[float]) -> dict[str, float]:
    """Error of a method's reported frequencies against the ``k`` true ones, matched one to
    one; empty when the method reports none (no ``freqs_``).

    Only the ``k`` dominant reported frequencies count (:func:`reported_freqs`: dominant
    first): they are assigned one to one to the true frequencies at the least total
    ``|w_hat - w|`` (a minimum-cost assignment; for one true frequency, the dominant reported
    one), and ``freq_error`` is the largest matched error (``freq_rel_error`` the largest
    matched error relative to its true frequency). A method earns no credit for a
    further frequency it lists beyond the ``k`` dominant ones. Fewer reported frequencies than
    true ones, or a non-finite one, give an infinite error.
    """
    est = reported_freqs(predictor)
    if est is None:
        return {}
    truth = np.asarray(true_freqs, dtype=float).reshape(-1)
    if truth.size == 0:
        return {}
    if est.size < truth.size or not np.all(np.isfinite(est)):
        return {"freq_error": float("inf"), "freq_rel_error": float("inf")}
    cost = np.abs(np.subtract.outer(truth, est[: truth.size]))
    rows, cols = linear_sum_assignment(cost)
    matched = cost[rows, cols]
    with np.errstate(divide="ignore"):
        rel = matched / np.abs(truth[rows])
    return {"freq_error": float(np.max(matched)), "freq_rel_error": float(np.max(rel))}


# -- helpers added for the standard task suite ------------------------------------------------


def labels(pred: Any, like: np.ndarray) -> np.ndarray:
    """Classification predictions as int64 labels shaped like ``like``.

    Float predictions are accepted when they hold whole numbers; anything non-finite or
    fractional becomes ``-1``, a label no task uses, so it counts as wrong instead of being
    rounded into a lucky hit.
    """
    p = np.asarray(pred)
    if p.shape != like.shape:
        p = p.reshape(like.shape)
    if p.dtype.kind in "iu":
        return p.astype(np.int64)
    p = p.astype(float)
    ok = np.isfinite(p) & (p == np.round(p))
    return np.where(ok, np.nan_to_num(p), -1).astype(np.int64)


def exact_match(pred: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose every output is right (all fields of a clock reading, say)."""
    pred, y = np.asarray(pred), np.asarray(y)
    if y.ndim == 1:
        return float(np.mean(pred == y))
    return float(np.mean(np.all(pred == y, axis=1)))


def seasonal_naive_scale(
    y_train: np.ndarray, season: int, positions: np.ndarray | None = None
) -> float:
    """In-sample mean absolute error of the seasonal-naive forecast ``y[t] = y[t - season]``.

    This is the denominator of Hyndman and Koehler's MASE. ``positions`` gives each sample's
    index on the series' regular time grid, so that a series with missing samples still
    compares values exactly one season apart (pairs with a missing partner are skipped)
    instead of silently comparing neighbours of the wrong lag.
    """
    y = np.asarray(y_train, dtype=float).reshape(-1)
    if positions is None:
        positions = np.arange(y.size)
    pos = np.asarray(positions, dtype=np.int64).reshape(-1)
    grid = np.full(int(pos.max() - pos.min()) + 1, np.nan)
    grid[pos - pos.min()] = y
    diffs = np.abs(grid[season:] - grid[:-season])
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0:
        raise ValueError("no pair of samples one season apart in the training data")
    return float(np.mean(diffs))


def mase(pred: Any, y: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error: forecast MAE over the seasonal-naive in-sample MAE
    (``scale``, from :func:`seasonal_naive_scale`); below 1 beats that naive benchmark."""
    p = _pred(pred, np.asarray(y, dtype=float))
    if not np.all(np.isfinite(p)):
        return float("inf")
    return float(np.mean(np.abs(p - y)) / scale)


def rel_mae(pred: Any, y: np.ndarray, reference_mae: float) -> float:
    """Relative mean absolute error (Davydenko and Fildes, IJF 2013): the forecast's MAE over
    a reference forecast's MAE on the same points; below 1 beats the reference."""
    p = _pred(pred, np.asarray(y, dtype=float))
    if not np.all(np.isfinite(p)):
        return float("inf")
    err = float(np.mean(np.abs(p - y)))
    if reference_mae <= 0:
        return 0.0 if err == 0 else float("inf")
    return err / reference_mae


def dominant_freq(predictor: Any) -> float | None:
    """The angular frequency a method calls dominant, or ``None`` when it reports none.

    The convention for methods: ``freqs_`` lists estimated angular frequencies; if the method
    also sets ``amplitudes_`` (same length), the largest amplitude marks the dominant one,
    otherwise the first positive entry of ``freqs_`` is taken as dominant. Zero frequencies
    (a constant or trend term) are never dominant.
    """
    est = getattr(predictor, "freqs_", None)
    if est is None:
        return None
    f = np.abs(np.asarray(est, dtype=float).reshape(-1))
    if f.size == 0:
        return None
    amps = getattr(predictor, "amplitudes_", None)
    keep = f > 0
    if amps is not None:
        a = np.abs(np.asarray(amps, dtype=float).reshape(-1))
        if a.shape == f.shape and np.any(keep):
            a = np.where(keep & np.isfinite(a), a, -np.inf)
            return float(f[int(np.argmax(a))])
    if not np.any(keep):
        return float("nan")
    return float(f[np.argmax(keep)])


def period_error(predictor: Any, true_period: float) -> dict[str, float]:
    """Relative error of the dominant reported period ``2 pi / w`` against the known period;
    empty when the method reports no frequency."""
    w = dominant_freq(predictor)
    if w is None:
        return {}
    if not (np.isfinite(w) and w > 0):
        return {"period_error": float("inf")}
    return {"period_error": float(abs(2 * np.pi / w - true_period) / true_period)}


def tone_crlb_std(
    x: np.ndarray, freq: float, amplitude: float, phase: float, noise_std: float
) -> float:
    """Cramer-Rao bound (as a standard deviation) on the angular frequency of one real tone
    ``A sin(w x + phi)`` in white Gaussian noise, amplitude and phase unknown, for the given
    sample positions.

    It inverts the exact 3x3 Fisher information of (A, w, phi) at the truth, so it holds for
    any sample layout (random, gridded, few cycles). For many cycles it approaches
    ``2 s^2 / (A^2 sum (x - mean x)^2)``, which on a uniform grid is the textbook
    ``12 / (eta N (N^2 - 1) d^2)`` with ``eta = A^2 / (2 s^2)``.
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    arg = freq * x + phase
    s, c = np.sin(arg), np.cos(arg)
    jac = np.stack([s, amplitude * x * c, amplitude * c], axis=1)
    fisher = jac.T @ jac / noise_std**2
    return float(np.sqrt(np.linalg.inv(fisher)[1, 1]))


def tones_crlb_std(
    x: np.ndarray,
    freqs: Sequence[float],
    amplitudes: Sequence[float],
    phases: Sequence[float],
    noise_std: float,
) -> np.ndarray:
    """Cramer-Rao bound (standard deviations) on each angular frequency of a sum of real tones
    ``sum_k A_k sin(w_k x + phi_k)`` in white Gaussian noise, every amplitude, frequency and
    phase unknown, for the given sample positions: the inverse of the exact ``3K x 3K`` Fisher
    information at the truth. Tones closer than a Fourier bin couple, and the bound grows far
    above the single-tone one (Rife and Boorstyn 1976); for one tone it equals
    :func:`tone_crlb_std`."""
    x = np.asarray(x, dtype=float).reshape(-1)
    cols = []
    for w, a, phi in zip(freqs, amplitudes, phases, strict=True):
        arg = w * x + phi
        s, c = np.sin(arg), np.cos(arg)
        cols += [s, a * x * c, a * c]
    jac = np.stack(cols, axis=1)
    cov = np.linalg.inv(jac.T @ jac / noise_std**2)
    return np.sqrt(np.diag(cov)[1::3])
