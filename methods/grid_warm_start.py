"""Grid-search warm start: a periodogram over the whole band on a grid fine enough to land in the
basin, then gradient descent from the best candidates.

Gradient descent on a sinusoid's frequency only works from inside a basin about ``pi / L``
wide (``L`` the span of x); outside it the loss is flat. A grid with spacing at most
``2 pi / (5 L)`` puts a point within ``pi / (5 L)`` of every frequency, so the best grid point
is always inside the basin (the classical coarse-search-then-refine estimator; Rife and
Boorstyn, "Single-tone parameter estimation from discrete-time observations", IEEE Trans. IT
1974; on the grid spacing see Quinn and Hannan, "The Estimation and Tracking of Frequency",
2001, and VanderPlas, "Understanding the Lomb-Scargle Periodogram", ApJS 2018).

For one tone the least-squares loss at frequency ``w`` (amplitude and phase fitted) equals the
total sum of squares minus the periodogram at ``w``, so the periodogram is the loss grid. It is
computed for the whole band at once by a zero-padded FFT of the gridded samples (``pad = 5``
gives the ``2 pi / (5 L)`` spacing), and the best ``n_candidates`` local maxima are re-scored
exactly on the raw samples (chunked Lomb-Scargle at neighbouring grid points). Each candidate
is refined by gradient descent on the mean squared error with a stable, curvature-based step
(``bench.lib.sinusoid.refine_gd``); the one with the lowest loss is kept. For several tones the
search repeats on the residual (matching pursuit) while the periodogram still shows a
significant peak, and all tones are then refined together by the same gradient descent.
The grid covers the band the samples resolve, from its first non-zero point (a tone with less
than one cycle in the span is a candidate too; starting at one cycle per span, the search fitted
such a tone as a constant) up to their Nyquist frequency when regular; when random, above the
FFT's band too, up to the limit the data set (``dsp.search_limit``), searched coarse to fine
(``dsp.high_band_peaks``: octave by octave, each on a run of samples, then each peak zoomed to
``2 pi / L`` bins on all samples), whose peaks join the candidates.

The descent spends at most ``budget.steps`` full-batch steps in total and stops early once the
loss stops falling. The model has a constant term; ``trend="auto"`` adds a linear one on a
fixed training set when that forecasts the last 20% of the training span better from the
first 80% (each trial fit may spend a quarter of the step budget, counted in the total), never
for a sampler; ``True``/``False`` force it.
Float64 on the CPU whatever ``device`` is (numpy; torch's CPU kernels for the trigonometry).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from bench import Logger, register_method
from bench.kit.methods import SteppedSinusoidMethod
from bench.lib.dsp import (
    bin_samples,
    choose_cells,
    detection_threshold,
    find_peaks,
    high_band_peaks,
    lomb_scargle,
    sampling_interval,
    search_limit,
    spectrum,
)
from bench.lib.sinusoid import SinusoidModel, fit_linear

from ._spectral import descend, phase

#: Zero-padding of the FFT: grid spacing 2 pi / (PAD * span) <= 2 pi / (5 L).
PAD = 5


@register_method("grid-warm-start")
class GridWarmStart(SteppedSinusoidMethod):
    """Periodogram on a 2 pi / (5 L) grid, best candidates refined by stable gradient descent
    (coarse search then refine; Rife and Boorstyn 1974)."""

    description = (
        "Periodogram (loss grid) over the band at spacing 2 pi / (5 L), best candidates refined "
        "by gradient descent with a curvature-based stable step; repeats for more tones"
    )
    reference = (
        "Rife and Boorstyn 1974 (coarse search then refine); Quinn and Hannan 2001; "
        "VanderPlas 2018 (periodogram grid spacing)"
    )

    def __init__(
        self,
        n_samples: int = 16384,
        n_candidates: int = 3,
        max_tones: int = 16,
        trend: bool | str = "auto",
        false_alarm: float = 1e-6,
    ) -> None:
        self.n_samples = n_samples
        self.n_candidates = n_candidates
        self.max_tones = max_tones
        self.trend = trend
        self.false_alarm = false_alarm

    def _model(
        self, x: np.ndarray, y: np.ndarray, trend: bool, steps: int, log: Logger | None
    ) -> SinusoidModel:
        """Matching pursuit over the grid, then a joint descent; at most ``steps`` steps (all
        counted in ``steps_``)."""
        model = fit_linear(x, y, [], trend=trend)
        if x.size < 4 or float(np.ptp(x)) <= 0:
            return model
        dt = sampling_interval(x)
        cells = choose_cells(x.size, float(np.ptp(x)), dt, max_cells=2**19)
        limit = search_limit(x, float(self.false_alarm))[0] if dt is None else 0.0
        self.searched_ = {"max_freq_searched": limit or math.pi * cells / float(np.ptp(x))}
        n = x.size
        rss = model.mse(x, y) * n
        total = float(np.sum((y - y.mean()) ** 2))
        bin_w = 2.0 * np.pi / float(np.ptp(x))
        stop_at = self.steps_ + steps

        def run(m: SinusoidModel, ys: np.ndarray, screen: bool = False) -> SinusoidModel:
            """Descend from ``m`` on ``(x, ys)`` with the steps this fit has left."""
            left = stop_at - self.steps_
            if left <= 0:
                return m
            # Screening a candidate against a residual that still holds other tones only has
            # to find its basin, so it stops at a looser plateau; the joint descent does not.
            tol = {"patience": 10, "rtol": 1e-6} if screen else {}
            return descend(self, x, ys, m, left, log, **tol)

        while model.n_tones < int(self.max_tones) and rss > 1e-16 * max(total, 1e-300):
            resid = y - model.predict(x)
            with phase(log, "estimate"):
                cands = self._candidates(x, resid, cells, dt, limit)
            if not cands:
                break
            w_new = self._strongest(x, resid, cands, model, run)
            if w_new <= 0 or (model.n_tones and np.min(np.abs(model.freqs - w_new)) < bin_w):
                break
            cand = fit_linear(x, y, [*model.freqs, w_new], trend=trend, like=model)
            if model.n_tones:
                cand = run(cand, y, screen=True)
            new_rss = cand.mse(x, y) * n
            if not n * math.log(max(rss, 1e-300) / max(new_rss, 1e-300)) > 5.0 * math.log(n):
                break  # the tone does not pay for its parameters (Schwarz's criterion)
            model, rss = cand, new_rss
        if model.n_tones:
            model = run(model, y)  # every tone together, to the descent's own limit
        return model

    @staticmethod
    def _strongest(
        x: np.ndarray,
        resid: np.ndarray,
        cands: list[float],
        model: SinusoidModel,
        run: Callable[..., SinusoidModel],
    ) -> float:
        """The frequency of the candidate that, descending alone against what ``model`` leaves
        (``resid``), explains most of it."""
        best, best_loss = None, math.inf
        for w in cands:
            single = run(fit_linear(x, resid, [w], like=model), resid, screen=True)
            loss = single.mse(x, resid)
            if loss < best_loss:
                best, best_loss = single, loss
        assert best is not None
        return float(best.freqs[0])

    def _candidates(
        self, x: np.ndarray, resid: np.ndarray, cells: int, dt: float | None, limit: float
    ) -> list[float]:
        """Best local maxima of the padded periodogram, each re-scored exactly, and (random
        samples) the peaks above its band up to ``limit``."""
        grid = bin_samples(x, resid, cells, counts=False)
        freqs, spec = spectrum(grid, pad=PAD)
        power = np.abs(spec) ** 2
        k_hi = power.size - 2
        if dt is not None:  # regular samples alias above pi / dt
            k_hi = min(k_hi, int(math.floor(PAD * grid.span / (2.0 * dt))) - 1)
        if k_hi < PAD:
            return []
        thr = detection_threshold(power[PAD : k_hi + 1 : PAD], float(self.false_alarm))
        peaks = find_peaks(
            power, 1, k_hi, threshold=thr, min_separation=PAD, max_peaks=int(self.n_candidates)
        )
        spacing = float(freqs[1])
        out = []
        for k in peaks:
            local = freqs[k] + spacing * np.arange(-2, 3)
            local = local[local > 0]
            exact = lomb_scargle(x, resid, local)
            out.append(float(local[int(np.argmax(exact))]))
        top = float(freqs[k_hi])
        if limit > top:
            above = high_band_peaks(
                x,
                resid,
                top,
                limit,
                false_alarm=float(self.false_alarm),
                max_peaks=int(self.n_candidates),
            )
            out += [p.freq for p in above]
        return out
