"""Complete estimators built from ``bench.lib.dsp`` and ``bench.lib.sinusoid``.

- :func:`estimate_tones` finds, interpolates and refines the tones in a set of samples, pass
  after pass on the residual: the estimator of the ``fft`` method and of the hybrid's
  regression. :class:`ToneConfig` names the choices in it that tell the spectral methods
  (``fft``, ``nls``, ``lomb-scargle``) apart, so that each declares one instead of repeating
  the call.
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
    ComplexArray,
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

__all__ = ["ToneConfig", "ToneSearch", "choose_trend", "estimate_tones"]

#: ``place(x, residual, w, bin_width)``: a candidate frequency moved before the fit.
Placer = Callable[[FloatArray, FloatArray, float, float], float]
#: A candidate tone of one pass: (angular frequency, amplitude, whether its exact fit must
#: pass the small-sample test before it is taken).
Candidate = tuple[float, float, bool]


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


@dataclass(frozen=True)
class ToneConfig:
    """How :func:`estimate_tones` turns the peaks of a periodogram into tones: the choices that
    tell the spectral methods apart. ``fft`` interpolates between bins and refines by
    non-linear least squares; ``nls`` refines from the best bin of a finer (zero-padded)
    periodogram; ``lomb-scargle`` places each peak on the exact periodogram (``place``) and
    does not refine. A method declares one of these rather than repeating the call; what is
    left (the samples, how many tones, the trend, the false-alarm rate) is its own.

    A name not in ``INTERPOLATORS`` is refused when the configuration is made, with the list
    of those that are.
    """

    interpolation: str = "jacobsen"
    #: Zero-padding of the FFT: a periodogram ``pad`` times finer (interpolate with "none").
    pad: int = 1
    #: Non-linear least squares on every tone after each pass; else amplitudes and phases only.
    refine: bool = True
    place: Placer | None = None

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATORS:
            raise ValueError(
                f"interpolation must be one of {', '.join(INTERPOLATORS)}, "
                f"not {self.interpolation!r}"
            )

    def estimate(self, x: npt.ArrayLike, y: npt.ArrayLike, **kw: Any) -> SinusoidModel:
        """:func:`estimate_tones` on ``(x, y)`` with this configuration and the keywords ``kw``."""
        return estimate_tones(
            x,
            y,
            interpolation=self.interpolation,
            pad=self.pad,
            refine=self.refine,
            place=self.place,
            **kw,
        )


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
    place: Placer | None = None,
    max_freq: float | None = None,
) -> SinusoidModel:
    """Find, interpolate and refine the tones in ``(x, y)``: the ``fft`` method's estimator.

    In passes: grid the current residual, FFT it, take the peaks that clear the noise
    threshold and whose amplitude is within ``pick_ratio`` of the strongest (sidelobes of a
    rectangular window are at most about a third of their peak, so none is taken at 0.5),
    interpolate each between bins, then fit amplitudes by least squares and refine every
    frequency jointly by non-linear least squares. The next pass looks at what is left, so
    weaker tones surface once the stronger ones (and their sidelobes) are removed. Random
    samples are also searched above the grid's band, up to the limit the data set
    (``dsp.search_limit``), coarse to fine (``dsp.high_band_peaks``); a tone found there
    competes with the grid's peaks on amplitude. Stops when
    no peak clears the threshold, when a pass no longer pays for its parameters (BIC), or at
    ``max_tones``. ``timer(name)`` returns a context manager that times the spectral part;
    ``on_pass(passes, mse)`` is called after each accepted pass (a pass is not an optimiser
    step: a method checks its time budget there rather than logging a trace point).
    ``pad`` zero-pads the FFT (a finer periodogram grid; interpolate with ``"none"`` then),
    and ``place(x, residual, w, bin_width)``, when given, moves each candidate frequency
    before the fit (an exact periodogram zoom, say). ``max_freq`` (angular, per unit of ``x``)
    is a band the caller knows: no frequency above it is searched (``info.limit_rule`` says
    ``"given"`` where it is below the band the data allow), and the false-alarm test counts
    only the frequencies below it.
    """
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    if xv.size != yv.size:
        raise ValueError("x and y must have the same length")
    info = info if info is not None else ToneSearch()
    model = fit_linear(xv, yv, [], trend=trend)
    if xv.size < 4 or float(xv.max() - xv.min()) <= 0:
        return model
    passes = _Passes(
        xv,
        yv,
        info,
        trend=trend,
        n_cells=n_cells,
        interp=INTERPOLATORS[interpolation],
        pad=pad,
        false_alarm=false_alarm,
        pick_ratio=pick_ratio,
        refine=refine,
        place=place,
        max_freq=max_freq,
    )
    return passes.run(model, max_tones, on_pass, timer)


class _Passes:
    """One :func:`estimate_tones` call: what its passes share (the samples, the band and grid
    the inputs set, the settings) and the three steps of a pass, as methods: find the peaks of
    the residual (:meth:`candidates`), pick the tones among them (:meth:`pick`), and fit the
    model with them added (:meth:`extend`)."""

    def __init__(
        self,
        x: FloatArray,
        y: FloatArray,
        info: ToneSearch,
        *,
        trend: bool,
        n_cells: int | None,
        interp: Callable[[ComplexArray, int], float],
        pad: int,
        false_alarm: float,
        pick_ratio: float,
        refine: bool,
        place: Placer | None,
        max_freq: float | None = None,
    ) -> None:
        self.x, self.y, self.n, self.info, self.trend = x, y, x.size, info, trend
        self.interp, self.pad, self.false_alarm = interp, pad, false_alarm
        self.pick_ratio, self.refine, self.place = pick_ratio, refine, place
        self.x_sorted = np.sort(x)  # one sort of x for the band, its limit and the high-band window
        self.w_limit, info.limit_rule, self.dt = search_band(
            self.x_sorted, presorted=True, false_alarm=false_alarm
        )
        if max_freq is not None:
            if not max_freq > 0:
                raise ValueError(f"max_freq must be positive, not {max_freq!r}")
            if max_freq < self.w_limit:
                self.w_limit, info.limit_rule = float(max_freq), "given"
        self.given = max_freq
        self.cells = n_cells or choose_cells(self.n, float(np.ptp(x)), self.dt)
        info.n_cells = self.cells
        self.y_range = float(np.ptp(y))

    def run(
        self,
        model: SinusoidModel,
        max_tones: int,
        on_pass: Callable[[int, float], None] | None,
        timer: Callable[[str], AbstractContextManager[Any]] | None,
    ) -> SinusoidModel:
        """Passes from ``model`` (the constant and trend alone) until one finds nothing, or
        adds nothing worth its parameters, or the model holds ``max_tones`` tones."""
        n, info = self.n, self.info
        resid = self.y - model.predict(self.x)  # kept up to date: each accepted fit brings its own
        rss = float(resid @ resid)
        info.rss.append(rss)
        total = float(np.sum((self.y - self.y.mean()) ** 2))
        while model.n_tones < max_tones and rss > 1e-16 * max(total, 1e-300):
            room = max_tones - model.n_tones
            with timer("estimate") if timer is not None else nullcontext():
                found, bin_w = self.candidates(resid, room)
                new = self.pick(found, room, model, resid, rss, bin_w)
            fitted = self.extend(model, new, bin_w) if new else None
            if fitted is None:
                break
            cand, cand_resid, n_new = fitted
            new_rss = float(cand_resid @ cand_resid)
            info.passes += 1
            gain = n * math.log(max(rss, 1e-300) / max(new_rss, 1e-300))
            if not gain > 5.0 * n_new * math.log(n):
                break  # the new tones do not pay for their parameters (Schwarz's criterion)
            model, rss, resid = cand, new_rss, cand_resid
            info.rss.append(rss)
            if on_pass is not None:
                on_pass(info.passes, rss / n)
        return model.sorted()

    def candidates(self, resid: FloatArray, room: int) -> tuple[list[Candidate], float]:
        """The peaks of ``resid``'s spectrum that may be tones, strongest first, and the width of
        a bin (``2 pi / L``). Peaks down to the small-sample threshold are kept (few samples);
        those below the ordinary threshold must pass their exact fit (``verify``). Random
        samples are also searched above the grid's band; the highest frequency searched goes to
        ``info.max_freq``."""
        n, pad, dt, false_alarm = self.n, self.pad, self.dt, self.false_alarm
        grid = bin_samples(self.x, resid, self.cells, counts=False)
        freqs, spec = spectrum(grid, pad=pad, single=dt is None)  # random samples: float32
        k_hi = spec.size - 2
        if dt is not None:
            k_hi = min(k_hi, int(math.floor(pad * grid.span / (2.0 * dt))) - 1)
        if self.given is not None:  # the caller's band ends below the grid's
            k_hi = min(k_hi, int(math.floor(self.given * pad * grid.span / (2.0 * np.pi))))
        band_top = float(freqs[max(k_hi, 0)])
        power = np.abs(spec) ** 2
        band = power[1 : k_hi + 1]
        thr = detection_threshold(band, false_alarm)
        low = thr * small_sample_ratio(band.size, false_alarm, n)
        peaks = find_peaks(power, 1, k_hi, threshold=low, max_peaks=room)
        bin_w = 2.0 * np.pi / grid.span
        # A grid bin holds about n A / 2.
        found = [
            (
                float(freqs[k] + self.interp(spec, int(k)) * bin_w / pad),
                2.0 * abs(spec[k]) / n,
                bool(power[k] <= thr),
            )
            for k in peaks
        ]
        if dt is None and self.w_limit > band_top:
            above = high_band_peaks(
                self.x,
                resid,
                band_top,
                self.w_limit,
                false_alarm=false_alarm,
                max_peaks=room,
                x_sorted=self.x_sorted,
            )
            found += [(p.freq, p.amplitude, False) for p in above]
        self.info.max_freq = max(band_top, self.w_limit if dt is None else band_top)
        found.sort(key=lambda f: -f[1])
        return found, bin_w

    def pick(
        self,
        found: list[Candidate],
        room: int,
        model: SinusoidModel,
        resid: FloatArray,
        rss: float,
        bin_w: float,
    ) -> list[float]:
        """The frequencies to add from the ``room`` strongest candidates: those within
        ``pick_ratio`` of the strongest in amplitude and not within a bin of a tone the model
        has, moved by ``place``, and significant on their exact fit where they must be."""
        independent = max(self.info.max_freq / bin_w, 1.0)  # frequencies searched, bins apart
        dof = self.n - 3 * model.n_tones - 1 - int(self.trend)  # samples less the parameters
        new: list[float] = []
        for w, amp, verify in found[:room]:
            if w <= 0 or amp < self.pick_ratio * found[0][1]:
                continue
            if model.n_tones and np.min(np.abs(model.freqs - w)) < bin_w:
                continue  # left-overs of a tone already in the model
            w = w if self.place is None else self.place(self.x, resid, w, bin_w)
            if verify:
                one = fit_linear(self.x, resid, [w])
                left = resid - one.predict(self.x)
                share = 1.0 - float(left @ left) / rss
                if tone_false_alarm(share, dof, independent) >= self.false_alarm:
                    continue
            new.append(w)
        return new

    def extend(
        self, model: SinusoidModel, new: list[float], bin_w: float
    ) -> tuple[SinusoidModel, FloatArray, int] | None:
        """``model`` with tones at ``new`` added, its residual and how many were added; if the
        fit is not well posed, the strongest alone, and ``None`` if that is not either."""
        cand, cand_resid = _extend(self.x, self.y, model, new, self.trend, self.refine)
        if len(new) > 1 and not _well_posed(cand, bin_w, self.y_range):
            new = new[:1]  # several at once went wrong: take the strongest alone
            cand, cand_resid = _extend(self.x, self.y, model, new, self.trend, self.refine)
        if not _well_posed(cand, bin_w, self.y_range):
            return None
        return cand, cand_resid, len(new)


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
