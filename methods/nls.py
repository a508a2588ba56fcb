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

from bench import register_method
from bench.lib.estimators import ToneConfig

from ._spectral import ToneEstimate

#: Zero-padding of the periodogram: its peak bin is within pi / (PAD L) of the tone.
PAD = 4


@register_method("nls")
class NLS(ToneEstimate):
    """Coarse periodogram peak, then non-linear least squares (Rife and Boorstyn 1974)."""

    description = (
        "Estimator: 4x zero-padded periodogram peak (no interpolation), then joint non-linear "
        "least squares (Levenberg-Marquardt); more tones pass by pass"
    )
    reference = "Rife and Boorstyn 1974 (coarse periodogram search, then maximum likelihood)"

    #: The best bin of a finer periodogram, as it is, then refined.
    config = ToneConfig(interpolation="none", pad=PAD)

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
