"""Refinements of a :class:`~bench.lib.tones.SinusoidModel` that move its frequencies too.

- :func:`refine_nls` (and :func:`fit_refine`, which starts from the linear fit) is non-linear
  least squares by Levenberg-Marquardt: the maximum-likelihood estimate under white Gaussian
  noise, which reaches the Cramer-Rao bound once started within about ``0.5 pi / L`` of the
  truth (``L`` the span of x).
- :func:`refine_gd` descends the same loss by plain gradient steps with a stable step size,
  for methods that are defined as "initialise, then descend".

Both spend their time building the Jacobian, so they share one workspace (:class:`_Normal`)
that builds it block by block while it is still in the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from bench.lib.tones import (
    FloatArray,
    SinusoidModel,
    _design,
    _frame,
    _least_squares,
    _solve_gram,
    cos_sin,
    fit_linear,
)

__all__ = ["BLOCK", "fit_refine", "refine_gd", "refine_nls"]


def _pack(model: SinusoidModel) -> FloatArray:
    head = [model.offset] + ([model.slope] if model.trend else [])
    return np.concatenate([head, model.cos, model.sin, model.freqs * model.scale])


def _unpack(model: SinusoidModel, theta: FloatArray) -> SinusoidModel:
    j = 1 + int(model.trend)
    k = model.n_tones
    return replace(
        model,
        offset=float(theta[0]),
        slope=float(theta[1]) if model.trend else 0.0,
        cos=theta[j : j + k].copy(),
        sin=theta[j + k : j + 2 * k].copy(),
        freqs=theta[j + 2 * k :] / model.scale,
    )


#: Samples per block of the Jacobian (see :class:`_Normal`): a few rows of this many float64
#: values stay in the CPU's cache, and the calls per block are few enough that their overhead
#: is small (measured on 10**6 samples: 4096 and 10**6 were slower by a fifth or more).
BLOCK = 65536


class _Normal:
    """The residual ``y - f`` of the model at ``theta`` (see :func:`_pack`) on fixed samples,
    with the normal-equation terms of its Jacobian ``J``: ``J^T J`` and ``J^T r``.

    ``J`` is built block by block, ``BLOCK`` samples at a time, one row per parameter
    (``[1, (u), cos(w_k u) .., sin(w_k u) .., d/dw_k ..]``), and each block's rows are used
    while they are still in the cache: with the whole Jacobian in memory, a fit spent most of
    its time moving it (a dozen passes over arrays of every sample per step). The buffers are
    allocated once; the residual returned is this workspace's, overwritten by the next call.
    """

    def __init__(self, u: FloatArray, y: FloatArray, trend: bool, k: int) -> None:
        self.u, self.y, self.trend = u, y, trend
        self.j, self.k = 1 + int(trend), k
        self.r = np.empty(u.size)
        self._bufs: dict[int, tuple[FloatArray, FloatArray, FloatArray]] = {}

    @property
    def n_params(self) -> int:
        return self.j + 3 * self.k

    def _blocks(self, omegas: FloatArray) -> Iterator[tuple[slice, FloatArray]]:
        """``(samples, rows)`` per block: the rows ``[1, (u), cos, sin]`` filled at
        ``omegas``; the frequency rows are left for the caller."""
        j, k, n = self.j, self.k, self.u.size
        for lo in range(0, n, BLOCK):
            m = min(BLOCK, n - lo)
            if m not in self._bufs:  # contiguous buffers per block length (at most two)
                rows = np.empty((self.n_params, m))
                rows[0] = 1.0
                self._bufs[m] = (rows, np.empty((k, m)), np.empty((k, m)))
            rows, arg, _ = self._bufs[m]
            u = self.u[lo : lo + m]
            if self.trend:
                rows[1] = u
            np.multiply(omegas[:, None], u[None, :], out=arg)
            cos_sin(arg, out=(rows[j : j + k], rows[j + k : j + 2 * k]))
            yield slice(lo, lo + m), rows

    def __call__(
        self, theta: FloatArray, diagonal: bool = False
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(residual, J^T J, J^T r)`` at ``theta``; with ``diagonal``, only the diagonal of
        ``J^T J`` (a vector: a descent that needs the whole matrix only now and then)."""
        j, k, p = self.j, self.k, self.n_params
        a, b = theta[j : j + k, None], theta[j + k : j + 2 * k, None]
        jtj, g = np.zeros(p if diagonal else (p, p)), np.zeros(p)
        for at, rows in self._blocks(theta[j + 2 * k :]):
            r, u = self.r[at], self.u[at]
            # The rows [1, (u), cos, sin] weighted by [offset, (slope), a, b] are f.
            np.dot(theta[: j + 2 * k], rows[: j + 2 * k], out=r)
            np.subtract(self.y[at], r, out=r)
            dw, tmp = rows[j + 2 * k :], self._bufs[r.size][2]
            np.multiply(rows[j : j + k], b, out=dw)  # d/dw of a cos + b sin = u (b cos - a sin)
            np.multiply(rows[j + k : j + 2 * k], a, out=tmp)
            dw -= tmp
            dw *= u
            jtj += np.einsum("ij,ij->i", rows, rows) if diagonal else rows @ rows.T
            g += rows @ r
        return self.r, jtj, g

    def linear(self, omegas: FloatArray) -> FloatArray:
        """``theta`` with the offset, trend and amplitudes fitted by least squares at
        ``omegas`` (what :func:`fit_linear` computes), from one pass over the blocks."""
        q = self.j + 2 * self.k
        gram, dy = np.zeros((q, q)), np.zeros(q)
        for at, rows in self._blocks(omegas):
            gram += rows[:q] @ rows[:q].T
            dy += rows[:q] @ self.y[at]
        coef = _solve_gram(gram, dy)
        if coef is None:  # ill-conditioned: an SVD solve on the whole design
            coef = _least_squares(_design(self.u, omegas, self.trend), self.y)
        return np.concatenate([coef, omegas])


def refine_nls(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    model: SinusoidModel,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> SinusoidModel:
    """Non-linear least squares over every parameter, frequencies included (Levenberg-Marquardt).

    Under white Gaussian noise this is the maximum-likelihood estimate, which attains the
    Cramer-Rao bound once the signal is above threshold; noiseless, it converges to machine
    precision. The loss is not convex in a frequency beyond about ``0.5 pi / L`` from the truth,
    so the start must come from a spectral estimate. Steps that do not lower the residual are
    rejected (and the damping raised), so the result is never worse than ``model``.
    """
    if model.n_tones == 0:
        return fit_linear(x, y, [], trend=model.trend, like=model)
    u = model.coords(x).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    here = _Normal(u, yv, model.trend, model.n_tones)
    return _levenberg_marquardt(model, here, _pack(model), max_iter, tol)[0]


def fit_refine(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    freqs: npt.ArrayLike,
    *,
    trend: bool = False,
    like: SinusoidModel | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[SinusoidModel, FloatArray]:
    """``refine_nls(x, y, fit_linear(x, y, freqs, ...))``, and the refined model's residual
    ``y - f`` on ``x``: the same arithmetic, in fewer passes over the samples, and the residual
    the descent ends on handed back (a caller that needs it saves another pass)."""
    xv, yv, base, omegas = _frame(x, y, freqs, trend, like)
    if omegas.size == 0:
        model = fit_linear(xv, yv, [], trend=trend, like=base)
        return model, yv - model.predict(xv)
    here = _Normal(base.coords(xv), yv, trend, omegas.size)
    template = replace(base, freqs=omegas / base.scale)  # its shape; the values are theta's
    return _levenberg_marquardt(template, here, here.linear(omegas), max_iter, tol)


def _levenberg_marquardt(
    model: SinusoidModel, here: _Normal, theta: FloatArray, max_iter: int, tol: float
) -> tuple[SinusoidModel, FloatArray]:
    """The descent of :func:`refine_nls` from ``theta`` on ``here``'s samples: the refined
    model (shaped like ``model``) and its residual."""
    yv = here.y
    # Two workspaces: the accepted point's and a candidate's, swapped when a step is taken.
    there = _Normal(here.u, yv, model.trend, model.n_tones)
    r, jtj, g = here(theta)
    cost = float(r @ r)
    floor = 1e-20 * float(yv @ yv)  # below this the residual is round-off in the phases
    lam = 1e-4
    for _ in range(max_iter):
        diag = np.maximum(np.diag(jtj), 1e-300)
        first_try = True
        while True:
            try:
                step = np.linalg.solve(jtj + lam * np.diag(diag), g)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(jtj + lam * np.diag(diag), g, rcond=None)[0]
            if float(step @ g) <= tol * cost:
                return _unpack(model, theta), r  # no further gain predicted: converged
            cand = theta + step
            r_new, jtj_new, g_new = there(cand)
            new_cost = float(r_new @ r_new)
            if np.isfinite(new_cost) and new_cost <= cost:
                break
            if np.isfinite(new_cost) and new_cost - cost <= 1e-6 * cost:
                return _unpack(model, theta), r  # at round-off: no step can do better
            first_try = False
            lam *= 8.0
            if lam > 1e16:
                return _unpack(model, theta), r
        shrink = (cost - new_cost) / cost if cost > 0 else 0.0
        theta, r, jtj, g, cost = cand, r_new, jtj_new, g_new, new_cost
        here, there = there, here
        lam = max(lam / 4.0, 1e-12)
        # Converged when an undamped-enough step no longer lowers the cost: quadratic
        # convergence makes this abrupt (noiseless: at round-off; noisy: at the noise floor).
        if cost <= floor or (first_try and shrink < tol):
            break
    return _unpack(model, theta), r


def refine_gd(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    model: SinusoidModel,
    *,
    steps: int,
    rate: float = 1.0,
    curvature_every: int = 10,
    patience: int = 20,
    rtol: float = 1e-6,
    floor_ratio: float = 1e-2,
    callback: Callable[[int, float], None] | None = None,
    callback_every: int = 50,
) -> tuple[SinusoidModel, int]:
    """Gradient descent on the mean squared error, with a step set by the curvature.

    Each parameter's step is ``rate / (h_i * lam)``: ``h_i`` is the Gauss-Newton curvature of
    the loss along that parameter, and ``lam`` the largest eigenvalue of the curvature matrix
    scaled by those diagonals, so ``rate < 2`` is inside the stability limit of gradient
    descent (``lr < 2 / L''``). For a frequency ``h`` grows like ``A^2 E[u^2]`` (the
    ``R^2 / 3`` of the original experiment); it is floored at ``floor_ratio`` times the value
    the data's variance implies, so a tone whose amplitude has collapsed does not get an
    unbounded step while a weak harmonic still converges at a useful rate.

    This is gradient descent, not Newton: from a start outside the ``~pi / L`` basin it stalls
    in a local minimum, as it should. It stops after ``steps`` steps or when the loss has
    improved by less than ``rtol`` (relative) over ``patience`` steps. Returns the model and
    the number of steps taken. ``callback(step, mse)`` is called every ``callback_every``
    steps.
    """
    u = model.coords(x).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    n = max(u.size, 1)
    theta = _pack(model)
    k = model.n_tones
    w_floor = floor_ratio * float(np.mean(u * u) * np.var(yv)) / max(k, 1)
    divisor = _StepDivisor(n, 1 + int(model.trend) + 2 * k, w_floor)
    floor = 1e-20 * float(np.mean(yv * yv))
    history: list[float] = []
    taken = 0
    normal = _Normal(u, yv, model.trend, k)
    for step in range(1, steps + 1):
        coupling = (step - 1) % curvature_every == 0
        r, jtj, g = normal(theta, diagonal=not coupling)
        loss = float(r @ r) / n
        if not np.isfinite(loss):
            break
        grad = -g / n
        theta = theta - rate * grad / divisor(jtj, coupling)
        taken = step
        history.append(loss)
        if callback is not None and step % callback_every == 0:
            callback(step, loss)
        if loss <= floor or _stalled(history, patience, rtol):
            break  # at round-off (nothing left to descend), or on a plateau
    return _unpack(model, theta), taken


class _StepDivisor:
    """What :func:`refine_gd` divides each parameter's gradient by: ``h_i * lam``.

    ``h`` (the Gauss-Newton curvature along each parameter, from the diagonal of ``J^T J / n``)
    follows every step, because a frequency's curvature grows with its amplitude squared and
    that can jump in one step. ``lam`` (the largest eigenvalue of ``J^T J / n`` scaled by those
    diagonals: how strongly the parameters couple) changes slowly, so it is only recomputed on
    the steps that bring the whole matrix (``coupling``). Frequencies' curvatures (from index
    ``first_freq`` on) are floored at ``w_floor``.
    """

    def __init__(self, n: int, first_freq: int, w_floor: float) -> None:
        self.n, self.first_freq, self.w_floor = n, first_freq, w_floor
        self.lam = 1.0

    def __call__(self, jtj: FloatArray, coupling: bool) -> FloatArray:
        n, f = self.n, self.first_freq
        h = (np.diag(jtj) if coupling else jtj) / n
        h[f:] = np.maximum(h[f:], self.w_floor)
        h = np.maximum(h, 1e-300)
        if coupling:
            scaled = (jtj / n) / np.sqrt(np.outer(h, h))
            self.lam = max(float(np.linalg.eigvalsh(scaled)[-1]), 1.0) if scaled.size else 1.0
        return h * self.lam


def _stalled(history: list[float], patience: int, rtol: float) -> bool:
    """Whether the loss fell by less than ``rtol`` (relative) over the last ``patience`` steps."""
    if len(history) <= patience:
        return False
    old = history[-patience - 1]
    return old - history[-1] <= rtol * old
