"""Metrics shared by tasks. NaN-safe: a non-finite prediction gives an infinite error, never a
silently small one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


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


def freq_error(predictor: Any, true_freqs: Sequence[float]) -> dict[str, float]:
    """Error of a method's reported frequencies (``freqs_``), matched to the truth greedily by
    distance; empty when the method reports none."""
    est = getattr(predictor, "freqs_", None)
    if est is None:
        return {}
    est = np.abs(np.asarray(est, dtype=float).reshape(-1))
    truth = np.asarray(true_freqs, dtype=float).reshape(-1)
    if est.size == 0 or not np.all(np.isfinite(est)):
        return {"freq_error": float("inf")}
    errs = [float(np.min(np.abs(est - w))) for w in truth]
    return {"freq_error": float(max(errs))}
