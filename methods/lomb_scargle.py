"""The generalised Lomb-Scargle periodogram (Lomb 1976; Scargle 1982; with a floating mean,
Zechmeister and Kuerster, A&A 2009; VanderPlas, "Understanding the Lomb-Scargle Periodogram",
ApJS 2018), then amplitudes and phases by least squares.

The periodogram of unevenly sampled data: at each frequency, the reduction in squared error of
the best sinusoid plus offset. It is scanned fast as the periodogram of the gridded samples (the
same idea as Press and Rybicki's extirpolation, behind astropy's ``method="fast"``), zero-padded
5 times (spacing ``2 pi / (5 L)``, VanderPlas' recommendation), above a false-alarm threshold;
random samples also above the grid's band (``bench.lib.dsp``). Each peak is then placed on the
exact periodogram of the raw samples (``scipy.signal.lombscargle`` with a floating mean, on 41
frequencies across one bin, and the vertex of a parabola through the best three). Amplitudes,
phases and the offset come from linear least squares at those frequencies, with no non-linear
refinement: the periodogram's own precision, which ``nls`` and ``fft`` then improve on. Several
tones are found by prewhitening (the next pass on the residual). One term per frequency
(``nterms = 1``); harmonics appear as further tones.
"""

from __future__ import annotations

import numpy as np

from bench import register_method
from bench.lib.dsp import lomb_scargle
from bench.lib.estimators import ToneConfig

from ._spectral import ToneEstimate

#: Zero-padding of the scanning periodogram (grid spacing 2 pi / (PAD L)).
PAD = 5
#: Frequencies of the exact periodogram across one bin around each peak.
ZOOM = 41


def exact_peak(x: np.ndarray, r: np.ndarray, w: float, bin_w: float) -> float:
    """The peak of the exact floating-mean Lomb-Scargle periodogram of ``(x, r)`` within a
    bin of ``w``: the best of ``ZOOM`` frequencies, moved to the vertex of the parabola
    through it and its neighbours."""
    freqs = w + bin_w * np.linspace(-0.5, 0.5, ZOOM)
    freqs = freqs[freqs > 0]
    if freqs.size < 3:
        return w
    power = lomb_scargle(x, r, freqs)
    k = int(np.clip(np.argmax(power), 1, freqs.size - 2))
    a, b, c = power[k - 1], power[k], power[k + 1]
    den = a - 2 * b + c
    step = float(freqs[1] - freqs[0])
    off = 0.5 * (a - c) / den if den < 0 else 0.0
    return float(freqs[k] + np.clip(off, -1.0, 1.0) * step)


@register_method("lomb-scargle")
class LombScargle(ToneEstimate):
    """Generalised Lomb-Scargle periodogram peaks + least-squares amplitudes (VanderPlas 2018)."""

    description = (
        "Estimator: generalised (floating-mean) Lomb-Scargle periodogram, peaks above a "
        "false-alarm threshold placed on the exact periodogram, least-squares amplitudes and "
        "phases (no non-linear refinement); prewhitening for more tones"
    )
    reference = (
        "Lomb 1976; Scargle 1982; Zechmeister and Kuerster 2009; VanderPlas, Understanding the "
        "Lomb-Scargle Periodogram, ApJS 2018"
    )

    #: A finer periodogram's bin, moved to the exact periodogram's peak; no refinement (and,
    #: with no ``trend`` hyper-parameter, no trend term).
    config = ToneConfig(interpolation="none", pad=PAD, refine=False, place=exact_peak)

    def __init__(
        self, n_samples: int = 65536, max_tones: int = 16, false_alarm: float = 1e-6
    ) -> None:
        self.n_samples = n_samples
        self.max_tones = max_tones
        self.false_alarm = false_alarm
