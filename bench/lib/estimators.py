"""Complete estimators built from ``bench.lib.dsp`` and ``bench.lib.sinusoid``.

- :func:`estimate_tones` finds, interpolates and refines the tones in a set of samples, pass
  after pass on the residual: the estimator of the ``fft`` method and of the hybrid's
  regression.
- :func:`choose_trend` decides whether a model gets a linear trend term, by asking the question
  the real-data tasks ask (does it forecast the end of the span better?).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.lib.dsp import (
    INTERPOLATORS,
    bin_samples,
    choose_cells,
    detection_threshold,
    find_peaks,
    high_band_peaks,
    search_band,
    small_sample_ratio,
    spectrum,
    tone_false_alarm,
)
from bench.lib.sinusoid import FloatArray, SinusoidModel, fit_linear, fit_refine

__all__ = ["ToneSearch", "choose_trend", "estimate_tones"]


# -- the complete estimator ---------------------------------------------------------------------


@dataclass
class ToneSearch:
    """Diagnostics of :func:`estimate_tones`, beside the model it returns."""

    n_cells: int = 0
    #: Highest angular frequency searched, and the rule that set it (``dsp.search_limit``).
    max_freq: float = 0.0
    limit_rule: str = ""
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
    pad: int = 1,
    place: Callable[[FloatArray, FloatArray, float, float], float] | None = None,
) -> SinusoidModel:
    """Find, interpolate and refine the tones in ``(x, y)``: the ``fft`` method's estimator.

    In passes: grid the current residual, FFT it, take the peaks that clear the noise
    threshold and whose amplitude is within ``pick_ratio`` of the strongest (sidelobes of a
    rectangular window are at most about a third of their peak, so none is taken at 0.5),
    interpolate each between bins, then fit amplitudes by least squares and refine every
    frequency jointly by non-linear least squares. The next pass looks at what is left, so
    weaker tones surface once the stronger ones (and their sidelobes) are removed. Random
    samples are also searched above the grid's band, up to the limit their gaps set
    (``dsp.search_limit``), coarse to fine (``dsp.high_band_peaks``); a tone found there
    competes with the grid's peaks on amplitude. Stops when
    no peak clears the threshold, when a pass no longer pays for its parameters (BIC), or at
    ``max_tones``. ``timer(name)`` returns a context manager that times the spectral part;
    ``on_pass(passes, mse)`` is called after each accepted pass (a pass is not an optimiser
    step: a method checks its time budget there rather than logging a trace point).
    ``pad`` zero-pads the FFT (a finer periodogram grid; interpolate with ``"none"`` then),
    and ``place(x, residual, w, bin_width)``, when given, moves each candidate frequency
    before the fit (an exact periodogram zoom, say).
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
    x_sorted = np.sort(xv)  # one sort of x for the band, its limit and the high-band window
    w_limit, info.limit_rule, dt = search_band(x_sorted, presorted=True)
    cells = n_cells or choose_cells(n, float(np.ptp(xv)), dt)
    info.n_cells = cells
    resid = yv - model.predict(xv)  # kept up to date: each accepted fit brings its residual
    rss = float(resid @ resid)
    info.rss.append(rss)
    total = float(np.sum((yv - yv.mean()) ** 2))
    y_range = float(np.ptp(yv))
    while model.n_tones < max_tones and rss > 1e-16 * max(total, 1e-300):
        with timer("estimate") if timer is not None else nullcontext():
            grid = bin_samples(xv, resid, cells, counts=False)
            freqs, spec = spectrum(grid, pad=pad, single=dt is None)  # random samples: float32
            k_hi = spec.size - 2
            if dt is not None:
                k_hi = min(k_hi, int(math.floor(pad * grid.span / (2.0 * dt))) - 1)
            band_top = float(freqs[max(k_hi, 0)])
            power = np.abs(spec) ** 2
            band = power[1 : k_hi + 1]
            thr = detection_threshold(band, false_alarm)
            # Few samples: peaks down to the small-sample threshold, each below ``thr`` then
            # kept only if its exact fit passes the small-sample test (``verify``).
            low = thr * small_sample_ratio(band.size, false_alarm, n)
            room = max_tones - model.n_tones
            peaks = find_peaks(power, 1, k_hi, threshold=low, max_peaks=room)
            bin_w = 2.0 * np.pi / grid.span
            # (frequency, amplitude, verify) of every candidate; a grid bin holds about n A / 2.
            found = [
                (
                    float(freqs[k] + interp(spec, int(k)) * bin_w / pad),
                    2.0 * abs(spec[k]) / n,
                    bool(power[k] <= thr),
                )
                for k in peaks
            ]
            if dt is None and w_limit > band_top:
                above = high_band_peaks(
                    xv,
                    resid,
                    band_top,
                    w_limit,
                    false_alarm=false_alarm,
                    max_peaks=room,
                    x_sorted=x_sorted,
                )
                found += [(p.freq, p.amplitude, False) for p in above]
            info.max_freq = max(band_top, w_limit if dt is None else band_top)
            independent = max(info.max_freq / bin_w, 1.0)  # frequencies searched, bins apart
            dof = n - 3 * model.n_tones - 1 - int(trend)  # samples less the model's parameters
            found.sort(key=lambda f: -f[1])
            new: list[float] = []
            for w, amp, verify in found[:room]:
                if w <= 0 or amp < pick_ratio * found[0][1]:
                    continue
                if model.n_tones and np.min(np.abs(model.freqs - w)) < bin_w:
                    continue  # left-overs of a tone already in the model
                w = w if place is None else place(xv, resid, w, bin_w)
                if verify:
                    one = fit_linear(xv, resid, [w])
                    left = resid - one.predict(xv)
                    share = 1.0 - float(left @ left) / rss
                    if tone_false_alarm(share, dof, independent) >= false_alarm:
                        continue
                new.append(w)
        if not new:
            break
        cand, cand_resid = _extend(xv, yv, model, new, trend, refine)
        if len(new) > 1 and not _well_posed(cand, bin_w, y_range):
            new = new[:1]  # several at once went wrong: take the strongest alone
            cand, cand_resid = _extend(xv, yv, model, new, trend, refine)
        if not _well_posed(cand, bin_w, y_range):
            break
        new_rss = float(cand_resid @ cand_resid)
        info.passes += 1
        gain = n * math.log(max(rss, 1e-300) / max(new_rss, 1e-300))
        if not gain > 5.0 * len(new) * math.log(n):
            break  # the new tones do not pay for their parameters (Schwarz's criterion)
        model, rss, resid = cand, new_rss, cand_resid
        info.rss.append(rss)
        if on_pass is not None:
            on_pass(info.passes, rss / n)
    return model.sorted()


def _extend(
    x: FloatArray, y: FloatArray, model: SinusoidModel, new: list[float], trend: bool, refine: bool
) -> tuple[SinusoidModel, FloatArray]:
    """``model`` with tones at ``new`` added: amplitudes by least squares, then (``refine``)
    every parameter by non-linear least squares; and its residual on ``(x, y)``."""
    freqs = np.concatenate([model.freqs, new])
    if refine:
        return fit_refine(x, y, freqs, trend=trend, like=model)
    cand = fit_linear(x, y, freqs, trend=trend, like=model)
    return cand, y - cand.predict(x)


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


# -- model choice -------------------------------------------------------------------------------


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
