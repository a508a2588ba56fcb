"""Non-linear least squares from a coarse periodogram start (Rife and Boorstyn, "Single-tone
parameter estimation from discrete-time observations", IEEE Trans. IT 1974: a coarse search
of the periodogram, then a fine search of the likelihood).

The estimator alone, with no interpolation between periodogram bins: the samples are gridded
and the periodogram taken on a 4 times zero-padded FFT, so its highest bin lies within a
quarter of a bin (``pi / (4 L)``, ``L`` the span) of a tone, inside the basin of the
least-squares loss (about ``pi / (2 L)`` wide). From there Levenberg-Marquardt refines every
frequency, amplitude and phase jointly: the maximum-likelihood estimate under white noise. Tones
are added pass by pass on the residual while they pay for their parameters (Schwarz's
criterion); random samples are also searched above the grid's band
(``bench.lib.dsp.search_limit``). Beside ``fft`` (which interpolates the peak first) and
``lomb-scargle`` (exact periodogram, no refinement), it shows what each stage contributes.
"""

from __future__ import annotations

from typing import Any

from bench import Budget, Logger, TaskView, register_method
from bench.kit.methods import SinusoidMethod, draw_samples, forget
from bench.lib.estimators import ToneSearch, choose_trend, estimate_tones

#: Zero-padding of the periodogram: its peak bin is within pi / (PAD L) of the tone.
PAD = 4


@register_method("nls")
class NLS(SinusoidMethod):
    """Coarse periodogram peak, then non-linear least squares (Rife and Boorstyn 1974)."""

    description = (
        "Estimator: 4x zero-padded periodogram peak (no interpolation), then joint non-linear "
        "least squares (Levenberg-Marquardt); more tones pass by pass"
    )
    reference = "Rife and Boorstyn 1974 (coarse periodogram search, then maximum likelihood)"

    def __init__(
        self,
        n_samples: int = 65536,
        max_tones: int = 16,
        trend: bool | str = "auto",
        false_alarm: float = 1e-6,
    ) -> None:
        self.n_samples = n_samples
        self.max_tones = max_tones
        self.trend = trend
        self.false_alarm = false_alarm

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        forget(self)
        x, y = draw_samples(task, self.n_samples)

        def fit(xs: Any, ys: Any, trend: bool, **kw: Any) -> Any:
            return estimate_tones(
                xs,
                ys,
                max_tones=int(self.max_tones),
                trend=trend,
                interpolation="none",
                pad=PAD,
                false_alarm=float(self.false_alarm),
                **kw,
            )

        trend = choose_trend(self.trend, task.infinite, x, y, fit)
        info = ToneSearch()
        model = fit(x, y, trend, info=info, on_pass=lambda *_: log.check(), timer=log.phase)
        self._set(model)
        self.searched_ = {"max_freq_searched": info.max_freq}
        return self
