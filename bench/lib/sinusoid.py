"""Sums of sinusoids: the model, its least-squares fit and its two refinements.

- :class:`SinusoidModel` is ``offset + trend + sum_k (a_k cos + b_k sin)(w_k (x - center))``;
  :meth:`SinusoidModel.mse` scores it on samples.
- :func:`fit_linear` is the least-squares fit of amplitudes and phases at given frequencies;
  :func:`refine_nls` then fits the frequencies too (Levenberg-Marquardt), which is the
  maximum-likelihood estimate under white Gaussian noise and so reaches the Cramer-Rao bound;
  it converges once started within about ``0.5 pi / L`` of the truth (``L`` the span of x).
- :func:`refine_gd` does the same job by plain gradient descent with a curvature-based (stable)
  step, for methods that are defined as "initialise, then descend".
- :func:`cos_sin` is the trigonometry all of them spend their time in.

All frequencies are angular (radians per unit of x). Models work in the coordinate
``u = (x - center) / scale`` with ``u`` in about [-1, 1]: centring decouples a tone's frequency
from its phase, and scaling keeps the Jacobian well conditioned even when x is in the
thousands (or billions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import torch

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "SinusoidModel",
    "cos_sin",
    "fit_linear",
    "refine_gd",
    "fit_refine",
    "refine_nls",
]


def cos_sin(
    arg: FloatArray, out: tuple[FloatArray, FloatArray] | None = None
) -> tuple[FloatArray, FloatArray]:
    """``cos(arg), sin(arg)`` in float64, computed by torch's vectorised kernels.

    They agree with numpy's to one rounding (also for arguments of 1e9 rad) and run about
    seven times faster on a CPU, and the trigonometry is most of the cost of every fit and
    descent step here. ``out``: two contiguous float64 arrays of ``arg``'s shape to write the
    results into (a workspace reused across calls), returned as they are.
    """
    t = torch.from_numpy(np.ascontiguousarray(arg, dtype=np.float64))
    if out is None:
        return torch.cos(t).numpy(), torch.sin(t).numpy()
    torch.cos(t, out=torch.from_numpy(out[0]))
    torch.sin(t, out=torch.from_numpy(out[1]))
    return out


@dataclass
class SinusoidModel:
    """``offset + slope * u + sum_k (a_k cos(w_k (x - center)) + b_k sin(w_k (x - center)))``.

    ``u = (x - center) / scale``; the trend term is present only when ``trend`` is set.
    ``freqs`` are angular frequencies in radians per unit of x. The attributes ``freqs_``,
    ``amplitudes_`` and ``n_params_`` follow the harness's convention for fitted predictors.
    """

    center: float
    scale: float
    freqs: FloatArray = field(default_factory=lambda: np.zeros(0))
    cos: FloatArray = field(default_factory=lambda: np.zeros(0))
    sin: FloatArray = field(default_factory=lambda: np.zeros(0))
    offset: float = 0.0
    slope: float = 0.0
    trend: bool = False

    @classmethod
    def for_inputs(cls, x: npt.ArrayLike, trend: bool = False) -> SinusoidModel:
        """An empty model whose coordinate is centred and scaled on the inputs' range."""
        xv = np.asarray(x, dtype=np.float64)
        lo, hi = float(xv.min()), float(xv.max())
        scale = 0.5 * (hi - lo)
        return cls(center=0.5 * (lo + hi), scale=scale if scale > 0 else 1.0, trend=trend)

    @property
    def n_tones(self) -> int:
        return int(self.freqs.size)

    def coords(self, x: npt.ArrayLike) -> FloatArray:
        return (np.asarray(x, dtype=np.float64) - self.center) / self.scale

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        if not (self.trend or self.n_tones):  # a constant: no coordinate needed
            return np.full(np.size(x), self.offset)
        u = self.coords(x).reshape(-1)
        out = np.full(u.shape, self.offset)
        if self.trend:
            out += self.slope * u
        if self.n_tones:  # one row per tone: the passes below run along memory
            c, s = cos_sin(np.multiply.outer(self.freqs * self.scale, u))
            out += self.cos @ c + self.sin @ s
        return out

    def mse(self, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
        """Mean squared error on ``(x, y)`` (a model's own loss; ``bench.lib.metrics.mse``
        scores predictions instead)."""
        r = np.asarray(y, dtype=np.float64).reshape(-1) - self.predict(x)
        return float(r @ r) / max(r.size, 1)

    @property
    def amplitudes(self) -> FloatArray:
        return np.hypot(self.cos, self.sin)

    @property
    def phases(self) -> FloatArray:
        """``phi_k`` of ``A_k sin(w_k (x - center) + phi_k)``."""
        return np.arctan2(self.cos, self.sin)

    def sorted(self) -> SinusoidModel:
        """The same model with its tones ordered by amplitude, dominant first."""
        order = np.argsort(-self.amplitudes, kind="stable")
        return replace(self, freqs=self.freqs[order], cos=self.cos[order], sin=self.sin[order])

    @property
    def freqs_(self) -> FloatArray:
        return self.freqs

    @property
    def amplitudes_(self) -> FloatArray:
        return self.amplitudes

    @property
    def n_params_(self) -> int:
        return 3 * self.n_tones + 1 + int(self.trend)


def _design(u: FloatArray, omegas: FloatArray, trend: bool) -> FloatArray:
    """Columns ``[1, (u), cos(w_1 u) .. cos(w_K u), sin(w_1 u) .. sin(w_K u)]``.

    Stored column by column (the transpose of a row-major ``P x N`` array), so that the
    trigonometry is written straight into contiguous columns; BLAS and LAPACK take that
    layout as it is."""
    j, k = 1 + int(trend), omegas.size
    out = np.empty((j + 2 * k, u.size))
    out[0] = 1.0
    if trend:
        out[1] = u
    cos_sin(np.multiply.outer(omegas, u), out=(out[j : j + k], out[j + k :]))
    return out.T


def _unpack_linear(model: SinusoidModel, coef: FloatArray, omegas: FloatArray) -> SinusoidModel:
    j = 1 + int(model.trend)
    k = omegas.size
    return replace(
        model,
        freqs=omegas / model.scale,
        offset=float(coef[0]),
        slope=float(coef[1]) if model.trend else 0.0,
        cos=coef[j : j + k].copy(),
        sin=coef[j + k : j + 2 * k].copy(),
    )


def fit_linear(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    freqs: npt.ArrayLike,
    *,
    trend: bool = False,
    like: SinusoidModel | None = None,
) -> SinusoidModel:
    """Least-squares offset, optional trend, and amplitude/phase of each tone at fixed ``freqs``.

    Linear in the unknowns once the frequencies are fixed, so this is exact and cheap; it is
    also the "loss grid" of a single tone (its residual is what a periodogram measures).
    ``like`` reuses another model's coordinate (centre and scale).
    """
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    base = like if like is not None else SinusoidModel.for_inputs(xv, trend)
    base = replace(base, trend=trend)
    omegas = np.asarray(freqs, dtype=np.float64).reshape(-1) * base.scale
    if omegas.size == 0 and not trend:  # the least-squares constant is the mean
        return _unpack_linear(base, np.array([float(np.mean(yv))]), omegas)
    design = _design(base.coords(xv), omegas, trend)
    return _unpack_linear(base, _least_squares(design, yv), omegas)


def _least_squares(design: FloatArray, y: FloatArray) -> FloatArray:
    """Solve ``design @ c ~ y``: normal equations (fast; the columns are nearly orthogonal in
    the centred coordinate), falling back to an SVD solve when they are ill-conditioned."""
    coef = _solve_gram(design.T @ design, design.T @ y)
    return coef if coef is not None else np.linalg.lstsq(design, y, rcond=None)[0]


def _solve_gram(gram: FloatArray, dy: FloatArray) -> FloatArray | None:
    """The least-squares coefficients from the normal equations ``gram c = dy``, or ``None``
    when they are too ill-conditioned to trust (scaled condition number 1e8 or more)."""
    d = np.sqrt(np.maximum(np.diag(gram), 1e-300))
    scaled = gram / np.outer(d, d)
    try:
        if np.linalg.cond(scaled) < 1e8:
            return np.linalg.solve(scaled, dy / d) / d
    except np.linalg.LinAlgError:
        pass
    return None


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
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    base = like if like is not None else SinusoidModel.for_inputs(xv, trend)
    base = replace(base, trend=trend)
    omegas = np.asarray(freqs, dtype=np.float64).reshape(-1) * base.scale
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
    j, k = 1 + int(model.trend), model.n_tones
    w_floor = floor_ratio * float(np.mean(u * u) * np.var(yv)) / max(k, 1)
    floor = 1e-20 * float(np.mean(yv * yv))
    history: list[float] = []
    lam = 1.0
    taken = 0
    normal = _Normal(u, yv, model.trend, k)
    for step in range(1, steps + 1):
        coupling = (step - 1) % curvature_every == 0
        r, jtj, g = normal(theta, diagonal=not coupling)
        loss = float(r @ r) / n
        if not np.isfinite(loss):
            break
        # The diagonal follows every step (a frequency's curvature grows with its amplitude
        # squared, which can jump in one step); the coupling factor changes slowly.
        h = (np.diag(jtj) if coupling else jtj) / n
        h[j + 2 * k :] = np.maximum(h[j + 2 * k :], w_floor)
        h = np.maximum(h, 1e-300)
        if coupling:
            scaled = (jtj / n) / np.sqrt(np.outer(h, h))
            lam = max(float(np.linalg.eigvalsh(scaled)[-1]), 1.0) if scaled.size else 1.0
        grad = -g / n
        theta = theta - rate * grad / (h * lam)
        taken = step
        history.append(loss)
        if callback is not None and step % callback_every == 0:
            callback(step, loss)
        if loss <= floor:
            break  # at round-off: nothing left to descend
        if len(history) > patience:
            old = history[-patience - 1]
            if old - loss <= rtol * old:
                break
    return _unpack(model, theta), taken
