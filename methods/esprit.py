"""ESPRIT: frequencies from the rotational invariance of the signal subspace (Roy and Kailath,
"ESPRIT: estimation of signal parameters via rotational invariance techniques", IEEE Trans.
ASSP 1989), with the model order by Wax and Kailath's minimum description length (IEEE Trans.
ASSP 1985).

A sum of K real tones sampled on a regular grid is a sum of 2K complex exponentials, so a Hankel
matrix of the samples (``L`` rows, the "pencil" or window length) has rank 2K; its leading left
singular vectors span the signal subspace, and shifting that subspace by one sample multiplies
it by ``diag(exp(j w_k dt))``. ESPRIT solves that shift by least squares and reads each
frequency off an eigenvalue's angle. No periodogram is involved, so two tones closer than one
Fourier bin (``2 pi / span``) are resolved at high enough SNR, where a periodogram shows one
peak. The order 2K is the one minimising MDL on the Hankel matrix's squared singular values;
amplitudes and phases then follow by linear least squares at the frequencies found.

``L`` is half the series (the usual choice, near-optimal for the variance), capped at
``max_pencil`` rows to bound the SVD's cost on long series (recorded as ``pencil``).
Regularly sampled fixed series only: the shift invariance needs a grid. On demand (not in
``--all``) while the subspace family of issue 34 is being built.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Logger, Method, TaskView, register_method
from bench.kit.methods import forget
from bench.lib.sinusoid import fit_linear

from ._forecast import regular_fixed, regular_series


def mdl_order(power: np.ndarray, snapshots: int) -> int:
    """The number of signals by minimum description length (Wax and Kailath 1985), from the
    eigenvalues ``power`` (descending) of a ``p x p`` sample covariance of ``snapshots``
    snapshots: the order whose smallest ``p - k`` eigenvalues look most like equal noise."""
    p = power.size
    lam = np.maximum(power, np.finfo(float).tiny)
    best, best_k = np.inf, 0
    for k in range(p - 1):
        tail = lam[k:]
        geo = float(np.exp(np.mean(np.log(tail))))
        ari = float(np.mean(tail))
        score = -snapshots * (p - k) * np.log(geo / ari) + 0.5 * k * (2 * p - k) * np.log(snapshots)
        if score < best:
            best, best_k = score, k
    return best_k


def esprit(y: np.ndarray, pencil: int, max_tones: int) -> np.ndarray:
    """Angular frequencies per sample (in (0, pi)) of the real tones in ``y`` (mean removed
    by the caller), strongest subspace first."""
    n = y.size
    cols = n - pencil + 1
    hankel = np.lib.stride_tricks.sliding_window_view(y, pencil).T  # pencil x cols
    u, sv, _ = np.linalg.svd(hankel, full_matrices=False)
    order = mdl_order(sv**2 / cols, cols)
    order = min(order + order % 2, 2 * max_tones, pencil - 1)  # real tones come in pairs
    if order == 0:
        return np.zeros(0)
    us = u[:, :order]
    shift, *_ = np.linalg.lstsq(us[:-1], us[1:], rcond=None)
    angles = np.angle(np.linalg.eigvals(shift))
    pos = np.sort(angles[(angles > 0) & (angles < np.pi)])
    return pos[: order // 2]


@register_method("esprit", base=False, on_demand=[{}])
class ESPRIT(Method):
    """Subspace frequency estimation by rotational invariance (Roy and Kailath 1989)."""

    description = (
        "Estimator: ESPRIT on a Hankel matrix of the samples (order by MDL), amplitudes by least "
        "squares; resolves tones closer than a Fourier bin (regular fixed series)"
    )
    reference = "Roy and Kailath, IEEE Trans. ASSP 1989; Wax and Kailath, IEEE Trans. ASSP 1985"
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    def __init__(self, max_tones: int = 16, max_pencil: int = 1024) -> None:
        self.max_tones = max_tones
        self.max_pencil = max_pencil

    def supports(self, task: TaskView) -> str | None:
        why = regular_fixed(
            task,
            "estimates the tones of one real-valued series",
            "the subspace's shift invariance needs a regular grid",
        )
        return why or super().supports(task)

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        forget(self)
        x, y = (np.asarray(a, dtype=np.float64) for a in task.train_set())
        series = regular_series(x, y)  # on its grid, gaps filled (supports() checked it)
        values, dt = series.values, series.step
        pencil = int(min(values.size // 2, self.max_pencil))
        with log.phase("estimate"):
            w = esprit(values - values.mean(), pencil, int(self.max_tones)) / dt
        model = fit_linear(x, y, w).sorted()
        self.model_ = model
        self.freqs_ = model.freqs_.copy()
        self.amplitudes_ = model.amplitudes_.copy()
        self.n_params_ = model.n_params_
        self.searched_ = {"pencil": float(pencil), "tones_found": float(w.size)}
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(np.asarray(x, dtype=np.float64))
