"""A sum of tones and its least-squares fit at fixed frequencies.

:class:`SinusoidModel` is the model every spectral method ends with; :func:`fit_linear` gives it
amplitudes and phases once the frequencies are known (exact, because the model is linear in
them then). The refinements that also move the frequencies (``bench.lib.refine``) build on the
design matrix and the solver here. ``bench.lib.sinusoid`` is the public face of both.

:func:`cos_sin` is kept with the model because every fit and every prediction spends most of
its time in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import torch

FloatArray = npt.NDArray[np.float64]

__all__ = ["FloatArray", "SinusoidModel", "cos_sin", "fit_linear"]


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
    xv, yv, base, omegas = _frame(x, y, freqs, trend, like)
    if omegas.size == 0 and not trend:  # the least-squares constant is the mean
        return _unpack_linear(base, np.array([float(np.mean(yv))]), omegas)
    design = _design(base.coords(xv), omegas, trend)
    return _unpack_linear(base, _least_squares(design, yv), omegas)


def _frame(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    freqs: npt.ArrayLike,
    trend: bool,
    like: SinusoidModel | None,
) -> tuple[FloatArray, FloatArray, SinusoidModel, FloatArray]:
    """What every fit at given frequencies starts from, so that the linear fit and the refined
    one (``bench.lib.refine.fit_refine``) agree on it: the samples as flat float64 arrays, an
    empty model with the coordinate to fit in (``like``'s, else centred and scaled on ``x``)
    and the frequencies in that coordinate."""
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    base = like if like is not None else SinusoidModel.for_inputs(xv, trend)
    base = replace(base, trend=trend)
    omegas = np.asarray(freqs, dtype=np.float64).reshape(-1) * base.scale
    return xv, yv, base, omegas


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
