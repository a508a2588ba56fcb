"""Spectral estimation of sinusoids from samples at arbitrary positions.

The building blocks of the spectral methods (``fft``, ``grid-warm-start``, ``wavelet-init``) and
of any later method that wants a frequency estimate before, or instead of, gradient descent:

- :func:`bin_samples` puts random samples on a uniform grid, so that one FFT replaces a
  non-uniform transform. Summing samples into cells is a type-1 non-uniform DFT with a box
  kernel: it moves each sample by at most half a cell, which blurs the spectrum's amplitude a
  little but does not move its peaks.
- :func:`jacobsen`, :func:`candan`, :func:`quinn` and :func:`parabolic` place a peak between
  FFT bins. The first three use the complex bins and are exact (or nearly) for a noiseless
  tone; parabolic interpolation on magnitudes is kept as the biased reference it is.
- :func:`find_peaks` and :func:`detection_threshold` pick the peaks that stand out of the
  noise floor, for several tones at once.
- :func:`fit_linear` is the least-squares fit of amplitudes and phases at given frequencies;
  :func:`refine_nls` then fits the frequencies too (Levenberg-Marquardt), which is the
  maximum-likelihood estimate under white Gaussian noise and so reaches the Cramer-Rao bound;
  it converges once started within about ``0.5 pi / L`` of the truth (``L`` the span of x).
- :func:`refine_gd` does the same job by plain gradient descent with a curvature-based (stable)
  step, for methods that are defined as "initialise, then descend".
- :func:`lomb_scargle` evaluates the exact periodogram at chosen frequencies in chunks, because
  scipy's routine builds ``N x n_freq`` arrays and runs out of memory on a full grid.
- :func:`estimate_tones` chains them into the complete estimator used by the ``fft`` method.
- :func:`cos_sin`, :func:`choose_cells`, :func:`sampling_interval` and :func:`choose_trend`
  are the small decisions shared by all of them; :func:`draw_samples` and
  :class:`SinusoidMethod` are the plumbing of a method whose fitted model is a sum of tones.

All frequencies are angular (radians per unit of x). Models work in the coordinate
``u = (x - center) / scale`` with ``u`` in about [-1, 1]: centring decouples a tone's frequency
from its phase, and scaling keeps the Jacobian well conditioned even when x is in the
thousands (or billions).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.signal import lombscargle as _ls

from ..core.contracts import Budget, Logger, Method, TaskView

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

__all__ = [
    "INTERPOLATORS",
    "Grid",
    "SinusoidMethod",
    "SteppedSinusoidMethod",
    "SinusoidModel",
    "ToneSearch",
    "bin_samples",
    "candan",
    "cos_sin",
    "choose_cells",
    "choose_trend",
    "detection_threshold",
    "draw_samples",
    "estimate_tones",
    "find_peaks",
    "fit_linear",
    "jacobsen",
    "lomb_scargle",
    "mse",
    "mean_grid",
    "parabolic",
    "quinn",
    "refine_gd",
    "refine_nls",
    "sampling_interval",
    "spectrum",
]


# -- gridding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """Samples accumulated on a uniform grid of cell centres ``origin + i * step``.

    ``sums`` holds the sum of the samples' values in each cell and ``counts`` how many fell
    there. The DFT of ``sums`` approximates ``sum_j y_j exp(-i w (x_j - origin))``.
    """

    sums: FloatArray
    counts: npt.NDArray[np.int64]
    origin: float
    step: float

    @property
    def n(self) -> int:
        return int(self.sums.size)

    @property
    def span(self) -> float:
        """Length the DFT treats as one period: ``n * step`` (bins are ``2 pi / span`` apart)."""
        return self.n * self.step


def choose_cells(
    n_samples: int,
    span: float | None = None,
    interval: float | None = None,
    *,
    oversample: int = 8,
    min_cells: int = 2**16,
    max_cells: int = 2**20,
) -> int:
    """A power-of-two grid size for ``n_samples`` samples spanning ``span``.

    Regular samples (``interval`` known) need four cells per interval: nothing above their
    Nyquist frequency can be told from its alias anyway. Random samples have no Nyquist limit,
    so the grid, not the sample count, caps the highest frequency found (``pi * cells / span``);
    at least ``min_cells`` (2^16: 100 rad per unit over a span of 2000) and ``oversample``
    cells per sample keep the binning's phase error small well above the samples' mean rate.
    Capped so that one FFT stays in the tens of milliseconds.
    """
    if interval is not None and span is not None and interval > 0:
        want = int(math.ceil(4.0 * span / interval)) + 1
        lo = 2
    else:
        want = max(min_cells, oversample * max(int(n_samples), 1))
        lo = min_cells
    return int(min(max_cells, max(lo, 1 << (max(want, 2) - 1).bit_length())))


def bin_samples(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    n_cells: int,
    lo: float | None = None,
    hi: float | None = None,
) -> Grid:
    """Sum samples into ``n_cells`` cells whose centres run from ``lo`` to ``hi``.

    Each sample goes to its nearest cell centre, so positions move by at most ``step / 2``
    and without bias (rounding down would shift every phase). ``lo``/``hi`` default to the
    data's range.
    """
    if n_cells < 2:
        raise ValueError("n_cells must be at least 2")
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    lo = float(xv.min()) if lo is None else float(lo)
    hi = float(xv.max()) if hi is None else float(hi)
    step = (hi - lo) / (n_cells - 1) if hi > lo else 1.0
    idx = np.rint((xv - lo) / step).astype(np.int64)
    np.clip(idx, 0, n_cells - 1, out=idx)
    sums = np.bincount(idx, weights=yv, minlength=n_cells)
    counts = np.bincount(idx, minlength=n_cells)
    return Grid(sums=sums, counts=counts, origin=lo, step=step)


def mean_grid(grid: Grid) -> FloatArray:
    """Per-cell mean, with empty cells filled by linear interpolation between their neighbours.

    Transforms that need a signal rather than a sum of impulses (a wavelet transform, say)
    use this; empty cells would otherwise read as zeros and add broadband noise.
    """
    full = grid.counts > 0
    if not np.any(full):
        return np.zeros(grid.n)
    means = np.zeros(grid.n)
    means[full] = grid.sums[full] / grid.counts[full]
    if np.all(full):
        return means
    pos = np.flatnonzero(full)
    return np.interp(np.arange(grid.n), pos, means[pos])


def spectrum(grid: Grid, pad: int = 1) -> tuple[FloatArray, ComplexArray]:
    """One-sided DFT of a grid's sums, zero-padded ``pad`` times, with its angular frequencies.

    With ``pad = 1`` the bins are ``2 pi / span`` apart and the interpolation estimators below
    apply; ``pad = p`` samples the same spectrum ``p`` times more finely (a periodogram grid).
    """
    m = grid.n * int(pad)
    spec = np.fft.rfft(grid.sums, n=m)
    freqs = 2.0 * np.pi * np.arange(spec.size) / (m * grid.step)
    return freqs, spec


def sampling_interval(x: npt.ArrayLike) -> float | None:
    """The spacing of (nearly) regularly sampled inputs, or ``None`` for irregular ones.

    Regular samples alias every frequency above ``pi / dt`` onto one below it, with the same
    magnitude, so a spectral search must stop at ``pi / dt``. Random samples do not alias
    (their gaps are exponential, most far below the median), so no limit is set for them.
    Regularity is judged on the gaps: the 5th percentile above half the median.
    """
    xs = np.unique(np.asarray(x, dtype=np.float64))
    if xs.size < 3:
        return None
    gaps = np.diff(xs)
    med = float(np.median(gaps))
    return med if med > 0 and float(np.percentile(gaps, 5)) > 0.5 * med else None


# -- peak interpolation -------------------------------------------------------------------------


def _neighbours(spec: ComplexArray, k: int) -> tuple[complex, complex, complex]:
    if not 1 <= k < spec.size - 1:
        raise ValueError(f"bin {k} has no neighbour on both sides (spectrum of {spec.size})")
    return complex(spec[k - 1]), complex(spec[k]), complex(spec[k + 1])


def jacobsen(spec: ComplexArray, k: int) -> float:
    """Jacobsen's estimator: the fractional offset of a tone from bin ``k``, in bins.

    ``Re[(X[k-1] - X[k+1]) / (2 X[k] - X[k-1] - X[k+1])]`` on the complex bins. Nearly exact
    for one noiseless complex tone in an un-padded, un-windowed DFT; its small bias grows like
    ``(pi / n)^2`` and is removed by :func:`candan`.
    """
    a, b, c = _neighbours(spec, k)
    den = 2.0 * b - a - c
    if den == 0:
        return 0.0
    return float(np.clip(((a - c) / den).real, -1.0, 1.0))


def candan(spec: ComplexArray, k: int, n: int | None = None) -> float:
    """Jacobsen's estimate with Candan's bias correction ``tan(pi / n) / (pi / n)``.

    ``n`` is the DFT length (defaults to the full length of a one-sided spectrum of even
    length). The correction matters for short transforms; for long ones it tends to 1.
    """
    n = 2 * (spec.size - 1) if n is None else int(n)
    c = math.tan(math.pi / n) / (math.pi / n)
    return float(np.clip(c * jacobsen(spec, k), -1.0, 1.0))


def _quinn_tau(t: float) -> float:
    r = math.sqrt(2.0 / 3.0)
    return 0.25 * math.log(3 * t * t + 6 * t + 1) - math.sqrt(6) / 24 * math.log(
        (t + 1 - r) / (t + 1 + r)
    )


def quinn(spec: ComplexArray, k: int) -> float:
    """Quinn's second estimator (1997), from the ratios of the complex neighbours to ``X[k]``.

    Unbiased to second order and close to the noise-limited accuracy of a single DFT.
    """
    a, b, c = _neighbours(spec, k)
    if b == 0:
        return 0.0
    ap, am = (c / b).real, (a / b).real
    if ap == 1.0 or am == 1.0:
        return 0.0
    dp, dm = -ap / (1.0 - ap), am / (1.0 - am)
    d = 0.5 * (dp + dm) + _quinn_tau(dp * dp) - _quinn_tau(dm * dm)
    return float(np.clip(d, -1.0, 1.0)) if math.isfinite(d) else 0.0


def parabolic(power: FloatArray, k: int) -> float:
    """Vertex of the parabola through three magnitudes (or log magnitudes).

    The classic estimate, biased for a rectangular window (about ``5e-4`` rad per unit on the
    original task): kept as a reference and for smooth peaks such as wavelet spectra.
    """
    if not 1 <= k < power.size - 1:
        raise ValueError(f"bin {k} has no neighbour on both sides")
    a, b, c = float(power[k - 1]), float(power[k]), float(power[k + 1])
    den = a - 2.0 * b + c
    if den == 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / den, -1.0, 1.0))


INTERPOLATORS: dict[str, Callable[[ComplexArray, int], float]] = {
    "jacobsen": jacobsen,
    "candan": candan,
    "quinn": quinn,
    "parabolic": lambda spec, k: parabolic(np.abs(spec), k),
}


# -- peak picking -------------------------------------------------------------------------------


def detection_threshold(power: FloatArray, false_alarm: float = 1e-6) -> float:
    """Power above which a periodogram peak is unlikely (``false_alarm``) to be noise.

    Under white noise each periodogram ordinate is exponential with mean ``median / ln 2``,
    and the largest of ``M`` exceeds ``mean * ln(M / p)`` with probability about ``p``. The
    median makes the floor robust to the peaks themselves.
    """
    p = np.asarray(power, dtype=np.float64)
    if p.size == 0:
        return float("inf")
    floor = float(np.median(p)) / math.log(2.0)
    return floor * math.log(max(p.size, 2) / false_alarm)


def find_peaks(
    power: FloatArray,
    k_lo: int = 1,
    k_hi: int | None = None,
    *,
    threshold: float = 0.0,
    min_separation: int = 2,
    max_peaks: int | None = None,
) -> npt.NDArray[np.int64]:
    """Indices of local maxima in ``[k_lo, k_hi]`` above ``threshold``, strongest first.

    A peak closer than ``min_separation`` bins to a stronger one is dropped (the same tone's
    neighbouring bin or a shoulder), so each tone is reported once.
    """
    p = np.asarray(power, dtype=np.float64)
    k_hi = p.size - 2 if k_hi is None else min(int(k_hi), p.size - 2)
    k_lo = max(int(k_lo), 1)
    if k_hi < k_lo:
        return np.zeros(0, dtype=np.int64)
    mid = p[k_lo : k_hi + 1]
    is_max = (mid >= p[k_lo - 1 : k_hi]) & (mid > p[k_lo + 1 : k_hi + 2]) & (mid > threshold)
    cand = np.flatnonzero(is_max) + k_lo
    cand = cand[np.argsort(-p[cand], kind="stable")]
    kept: list[int] = []
    for k in cand:
        if all(abs(int(k) - j) >= min_separation for j in kept):
            kept.append(int(k))
            if max_peaks is not None and len(kept) >= max_peaks:
                break
    return np.asarray(kept, dtype=np.int64)


# -- sinusoidal models --------------------------------------------------------------------------


def cos_sin(arg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``cos(arg), sin(arg)`` in float64, computed by torch's vectorised kernels.

    They agree with numpy's to one rounding (also for arguments of 1e9 rad) and run about
    seven times faster on a CPU, and the trigonometry is most of the cost of every fit and
    descent step here.
    """
    t = torch.from_numpy(np.ascontiguousarray(arg, dtype=np.float64))
    return torch.cos(t).numpy(), torch.sin(t).numpy()


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
        u = self.coords(x).reshape(-1)
        out = np.full(u.shape, self.offset)
        if self.trend:
            out += self.slope * u
        if self.n_tones:
            c, s = cos_sin(np.multiply.outer(u, self.freqs * self.scale))
            out += c @ self.cos + s @ self.sin
        return out

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
    """Columns ``[1, (u), cos(w_1 u) .. cos(w_K u), sin(w_1 u) .. sin(w_K u)]``."""
    j, k = 1 + int(trend), omegas.size
    out = np.empty((u.size, j + 2 * k))
    out[:, 0] = 1.0
    if trend:
        out[:, 1] = u
    out[:, j : j + k], out[:, j + k :] = cos_sin(np.multiply.outer(u, omegas))
    return out


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
    design = _design(base.coords(xv), omegas, trend)
    return _unpack_linear(base, _least_squares(design, yv), omegas)


def _least_squares(design: FloatArray, y: FloatArray) -> FloatArray:
    """Solve ``design @ c ~ y``: normal equations (fast; the columns are nearly orthogonal in
    the centred coordinate), falling back to an SVD solve when they are ill-conditioned."""
    gram = design.T @ design
    d = np.sqrt(np.maximum(np.diag(gram), 1e-300))
    scaled = gram / np.outer(d, d)
    try:
        if np.linalg.cond(scaled) < 1e8:
            return np.linalg.solve(scaled, (design.T @ y) / d) / d
    except np.linalg.LinAlgError:
        pass
    return np.linalg.lstsq(design, y, rcond=None)[0]


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


def _residual_and_jacobian(
    u: FloatArray, y: FloatArray, model: SinusoidModel, theta: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Residual ``y - f`` and the Jacobian of ``f`` over ``theta`` (see :func:`_pack`)."""
    j = 1 + int(model.trend)
    k = model.n_tones
    a, b, w = theta[j : j + k], theta[j + k : j + 2 * k], theta[j + 2 * k :]
    jac = np.empty((u.size, j + 3 * k))
    jac[:, 0] = 1.0
    if model.trend:
        jac[:, 1] = u
    c, s = cos_sin(np.multiply.outer(u, w))
    jac[:, j : j + k], jac[:, j + k : j + 2 * k] = c, s
    f = c @ a + s @ b + theta[0]
    if model.trend:
        f += theta[1] * u
    dw = jac[:, j + 2 * k :]  # d/dw of a cos(w u) + b sin(w u) = u (b cos - a sin)
    np.multiply(c, b, out=dw)
    dw -= s * a
    dw *= u[:, None]
    return y - f, jac


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
    theta = _pack(model)
    r, jac = _residual_and_jacobian(u, yv, model, theta)
    cost = float(r @ r)
    floor = 1e-20 * float(yv @ yv)  # below this the residual is round-off in the phases
    lam = 1e-4
    for _ in range(max_iter):
        jtj = jac.T @ jac
        g = jac.T @ r
        diag = np.maximum(np.diag(jtj), 1e-300)
        first_try = True
        while True:
            try:
                step = np.linalg.solve(jtj + lam * np.diag(diag), g)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(jtj + lam * np.diag(diag), g, rcond=None)[0]
            if float(step @ g) <= tol * cost:
                return _unpack(model, theta)  # the model predicts no further gain: converged
            cand = theta + step
            r_new, jac_new = _residual_and_jacobian(u, yv, model, cand)
            new_cost = float(r_new @ r_new)
            if np.isfinite(new_cost) and new_cost <= cost:
                break
            if np.isfinite(new_cost) and new_cost - cost <= 1e-6 * cost:
                return _unpack(model, theta)  # at round-off: no step can do better
            first_try = False
            lam *= 8.0
            if lam > 1e16:
                return _unpack(model, theta)
        shrink = (cost - new_cost) / cost if cost > 0 else 0.0
        theta, r, jac, cost = cand, r_new, jac_new, new_cost
        lam = max(lam / 4.0, 1e-12)
        # Converged when an undamped-enough step no longer lowers the cost: quadratic
        # convergence makes this abrupt (noiseless: at round-off; noisy: at the noise floor).
        if cost <= floor or (first_try and shrink < tol):
            break
    return _unpack(model, theta)


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
    for step in range(1, steps + 1):
        r, jac = _residual_and_jacobian(u, yv, model, theta)
        loss = float(r @ r) / n
        if not np.isfinite(loss):
            break
        # The diagonal follows every step (a frequency's curvature grows with its amplitude
        # squared, which can jump in one step); the coupling factor changes slowly.
        h = np.einsum("ij,ij->j", jac, jac) / n
        h[j + 2 * k :] = np.maximum(h[j + 2 * k :], w_floor)
        h = np.maximum(h, 1e-300)
        if (step - 1) % curvature_every == 0:
            scaled = (jac.T @ jac / n) / np.sqrt(np.outer(h, h))
            lam = max(float(np.linalg.eigvalsh(scaled)[-1]), 1.0) if scaled.size else 1.0
        grad = -(jac.T @ r) / n
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


def mse(x: npt.ArrayLike, y: npt.ArrayLike, model: SinusoidModel) -> float:
    """Mean squared error of ``model`` on ``(x, y)``."""
    r = np.asarray(y, dtype=np.float64).reshape(-1) - model.predict(x)
    return float(r @ r) / max(r.size, 1)


# -- exact periodogram --------------------------------------------------------------------------


def lomb_scargle(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    freqs: npt.ArrayLike,
    *,
    chunk: int = 256,
    floating_mean: bool = True,
) -> FloatArray:
    """Generalised Lomb-Scargle periodogram at angular ``freqs``, evaluated ``chunk`` at a time.

    ``scipy.signal.lombscargle`` builds ``N x n_freq`` intermediates, so a full grid (10^5
    frequencies x 10^4 samples) exhausts memory; chunking keeps the peak at ``N x chunk``.
    Use it to zoom in exactly around candidates found by an FFT, not to scan a whole band.
    Unnormalised: a tone of amplitude ``A`` reads about ``A^2 N / 4``.
    """
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    fv = np.asarray(freqs, dtype=np.float64).reshape(-1)
    out = np.empty(fv.size)
    xc = xv - 0.5 * (xv.min() + xv.max())  # phases stay accurate for large x
    for i in range(0, fv.size, chunk):
        out[i : i + chunk] = _ls(xc, yv, fv[i : i + chunk], floating_mean=floating_mean)
    return out


# -- the complete estimator ---------------------------------------------------------------------


@dataclass
class ToneSearch:
    """Diagnostics of :func:`estimate_tones`, beside the model it returns."""

    n_cells: int = 0
    max_freq: float = 0.0
    passes: int = 0
    rss: list[float] = field(default_factory=list)


def estimate_tones(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    max_tones: int = 16,
    trend: bool = False,
    n_cells: int | None = None,
    interpolation: str = "jacobsen",
    false_alarm: float = 1e-6,
    pick_ratio: float = 0.5,
    refine: bool = True,
    info: ToneSearch | None = None,
    on_pass: Callable[[int, float], None] | None = None,
    timer: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> SinusoidModel:
    """Find, interpolate and refine the tones in ``(x, y)``: the ``fft`` method's estimator.

    In passes: grid the current residual, FFT it, take the peaks that clear the noise
    threshold and whose amplitude is within ``pick_ratio`` of the strongest (sidelobes of a
    rectangular window are at most about a third of their peak, so none is taken at 0.5),
    interpolate each between bins, then fit amplitudes by least squares and refine every
    frequency jointly by non-linear least squares. The next pass looks at what is left, so
    weaker tones surface once the stronger ones (and their sidelobes) are removed. Stops when
    no peak clears the threshold, when a pass no longer pays for its parameters (BIC), or at
    ``max_tones``. ``timer(name)`` returns a context manager that times the spectral part.
    """
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    if xv.size != yv.size:
        raise ValueError("x and y must have the same length")
    info = info if info is not None else ToneSearch()
    model = fit_linear(xv, yv, [], trend=trend)
    n = xv.size
    if n < 4 or float(xv.max() - xv.min()) <= 0:
        return model
    interp = INTERPOLATORS[interpolation]
    dt = sampling_interval(xv)
    cells = n_cells or choose_cells(n, float(np.ptp(xv)), dt)
    info.n_cells = cells
    rss = float(np.sum((yv - model.predict(xv)) ** 2))
    info.rss.append(rss)
    total = float(np.sum((yv - yv.mean()) ** 2))
    y_range = float(np.ptp(yv))
    while model.n_tones < max_tones and rss > 1e-16 * max(total, 1e-300):
        with timer("estimate") if timer is not None else nullcontext():
            resid = yv - model.predict(xv)
            grid = bin_samples(xv, resid, cells)
            freqs, spec = spectrum(grid)
            k_hi = spec.size - 2
            if dt is not None:
                k_hi = min(k_hi, int(math.floor(grid.span / (2.0 * dt))) - 1)
            info.max_freq = float(freqs[max(k_hi, 0)])
            power = np.abs(spec) ** 2
            band = power[1 : k_hi + 1]
            thr = detection_threshold(band, false_alarm)
            peaks = find_peaks(power, 1, k_hi, threshold=thr, max_peaks=max_tones - model.n_tones)
            if peaks.size:
                peaks = peaks[power[peaks] >= pick_ratio**2 * power[peaks[0]]]
            new: list[float] = []
            bin_w = 2.0 * np.pi / grid.span
            for k in peaks:
                w = float(freqs[k] + interp(spec, int(k)) * bin_w)
                if w <= 0:
                    continue
                if model.n_tones and np.min(np.abs(model.freqs - w)) < bin_w:
                    continue  # left-overs of a tone already in the model
                new.append(w)
        if not new:
            break
        cand = _extend(xv, yv, model, new, trend, refine)
        if len(new) > 1 and not _well_posed(cand, bin_w, y_range):
            new = new[:1]  # several at once went wrong: take the strongest alone
            cand = _extend(xv, yv, model, new, trend, refine)
        if not _well_posed(cand, bin_w, y_range):
            break
        new_rss = float(np.sum((yv - cand.predict(xv)) ** 2))
        info.passes += 1
        gain = n * math.log(max(rss, 1e-300) / max(new_rss, 1e-300))
        if not gain > 5.0 * len(new) * math.log(n):
            break  # the new tones do not pay for their parameters (Schwarz's criterion)
        model, rss = cand, new_rss
        info.rss.append(rss)
        if on_pass is not None:
            on_pass(info.passes, rss / n)
    return model.sorted()


def _extend(
    x: FloatArray, y: FloatArray, model: SinusoidModel, new: list[float], trend: bool, refine: bool
) -> SinusoidModel:
    """``model`` with tones at ``new`` added: amplitudes by least squares, then (``refine``)
    every parameter by non-linear least squares."""
    cand = fit_linear(x, y, np.concatenate([model.freqs, new]), trend=trend, like=model)
    return refine_nls(x, y, cand) if refine else cand


def _well_posed(model: SinusoidModel, bin_w: float, y_range: float) -> bool:
    """Reject fits that only match the data by cancellation.

    Two tones closer than one bin (``2 pi / L``) are not resolvable from this span, and tones
    whose amplitudes add up to far more than the data's range cancel each other inside the
    span and blow up outside it (typical of slow drifts fitted by several near-zero
    frequencies). Either way the extra tones describe the sample, not a periodicity.
    """
    f = np.sort(model.freqs)
    if f.size > 1 and float(np.min(np.diff(f))) < bin_w:
        return False
    return not (y_range > 0 and float(np.sum(model.amplitudes)) > 2.0 * y_range)


# -- plumbing for methods whose fitted model is a SinusoidModel ---------------------------------


def draw_samples(task: TaskView, n_samples: int) -> tuple[FloatArray, FloatArray]:
    """The samples a spectral method estimates from, as float64: ``n_samples`` fresh ones from
    a sampler (capped by the sample budget), or the whole training set of a fixed-data task.

    A spectral estimate spends its sample budget at once, where a gradient method spends it
    batch by batch; both draw from the same sampler and budget.
    """
    if task.infinite:
        n = min(int(n_samples), task.samples_left)
        if n <= 0:
            raise ValueError("no sample budget left")
        x, y = task.sample(n)
    else:
        x, y = task.train_set()
    return np.asarray(x).astype(np.float64), np.asarray(y, dtype=np.float64).reshape(-1)


class SinusoidMethod(Method):
    """Base for methods whose fitted model is a :class:`SinusoidModel` (a sum of tones).

    Single-output regression only (a clock reading is not a sum of sinusoids in one output);
    any input dtype, converted to float64. ``fit`` implementations end with ``self._set``,
    which exposes ``model_``, ``freqs_`` (dominant first), ``amplitudes_`` and ``n_params_``.
    """

    handles_multi_output = False
    handles_classification = False
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    def _set(self, model: SinusoidModel) -> SinusoidMethod:
        self.model_ = model.sorted()
        self.freqs_ = self.model_.freqs.copy()
        self.amplitudes_ = self.model_.amplitudes.copy()
        self.n_params_ = self.model_.n_params_
        return self

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        return self.model_.predict(np.asarray(x).astype(np.float64))


class SteppedSinusoidMethod(SinusoidMethod):
    """A :class:`SinusoidMethod` that spends a step budget: subclasses implement
    ``_model(x, y, trend, steps, log)``, counting the steps they take in ``steps_``.

    ``fit`` draws the samples, lets :func:`choose_trend` compare trend and no trend on a quarter
    of the budget, then fits with the steps that are left.
    """

    n_samples: int
    trend: bool | str

    def _model(
        self, x: FloatArray, y: FloatArray, trend: bool, steps: int, log: Logger | None
    ) -> SinusoidModel:
        raise NotImplementedError

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        x, y = draw_samples(task, self.n_samples)
        self.steps_ = 0

        def trial(xs: FloatArray, ys: FloatArray, trend: bool) -> SinusoidModel:
            return self._model(xs, ys, trend, budget.steps // 4, None)

        trend = choose_trend(self.trend, task.infinite, x, y, trial)
        model = self._model(x, y, trend, budget.steps - self.steps_, log)
        log(max(self.steps_, 1), mse(x, y, model))
        return self._set(model)


def choose_trend(
    trend: bool | str,
    infinite: bool,
    x: FloatArray,
    y: FloatArray,
    fit: Callable[[FloatArray, FloatArray, bool], SinusoidModel],
) -> bool:
    """Whether a model should get a linear trend term.

    ``True``/``False`` decide outright. ``"auto"``: never for a sampler (the synthetic tasks do
    not drift); for a fixed training set, whichever of the two fits (``fit(x, y, trend)``)
    forecasts the last 20% of the training span better from the first 80%, the same question
    the real-data tasks ask. A trend suits a rising series such as CO2 and hurts a seasonal
    drift seen over less than a season, which it would extrapolate as a straight line.
    """
    if isinstance(trend, bool):
        return trend
    if trend != "auto":
        raise ValueError(f"trend must be 'auto', True or False, not {trend!r}")
    if infinite or x.size < 20:
        return False
    cut = float(np.quantile(x, 0.8))
    early, late = x <= cut, x > cut
    if early.sum() < 10 or late.sum() < 2:
        return False
    errs = {}
    for t in (False, True):
        model = fit(x[early], y[early], t)
        errs[t] = float(np.mean(np.abs(model.predict(x[late]) - y[late])))
    # The simpler model wins ties (and differences at round-off).
    return errs[True] < 0.99 * errs[False] - 1e-9 * float(np.std(y))
