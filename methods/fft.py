"""FFT frequency estimation: grid the samples, FFT, interpolate the peaks, refine by non-linear
least squares.

The classical route to a frequency (Rife and Boorstyn 1974: the periodogram peak is the
maximum-likelihood estimate of one tone; Jacobsen and Kootsookos, "Fast, Accurate Frequency
Estimators", IEEE Signal Processing Magazine 2007; Candan, "A Method for Fine Resolution
Frequency Estimation From Three DFT Samples", IEEE SPL 2011; Quinn, "Estimation of frequency,
amplitude, and phase from the DFT of a time series", IEEE Trans. SP 1997):

1. Draw the task's random samples (``n_samples`` from a sampler; the whole training set of a
   fixed-data task) and sum them onto a uniform grid, a type-1 non-uniform DFT with a box
   kernel. The grid is fine enough to keep the binning's phase error small well above the
   samples' mean rate; for regularly sampled data the search stops at their Nyquist frequency.
2. FFT, and take the peaks that clear the noise floor (a false-alarm test on the periodogram).
3. Place each peak between bins with Jacobsen's estimator on the complex bins (``candan`` and
   ``quinn`` are alternatives): a small fraction of a bin, inside the ``0.5 pi / L`` basin of
   the least-squares fit.
4. Least-squares amplitudes and phases, then non-linear least squares (Levenberg-Marquardt) on
   every frequency, amplitude and phase jointly: the maximum-likelihood estimate under white
   noise, which reaches the Cramer-Rao bound.
5. Repeat on the residual for further tones (multi-tone data) until none is significant or a
   pass no longer pays for its parameters (Schwarz's criterion), up to ``max_tones``.

The model always has a constant term. ``trend="auto"`` never adds a linear trend for a sampler
(the synthetic tasks do not drift); on a fixed training set (real series) it adds one when that
forecasts the last 20% of the training span better from the first 80%. ``True``/``False``
force it. Estimated angular frequencies are exposed as ``freqs_`` (dominant first) with
``amplitudes_``. Nothing here is an optimiser step, so the trace stays empty (the runner still
records the time, and ``search_`` the passes and residuals). The highest frequency searched,
derived from the samples (``bench.lib.dsp.search_limit``), goes into the record as
``max_freq_searched``. The fit around the estimator is the one ``nls`` and ``lomb-scargle``
share (``methods/_spectral.py``); this method's own part is its configuration, built from its
``interpolation`` hyper-parameter.
All arithmetic is float64 on the CPU whatever ``device`` is (numpy, and torch's CPU kernels for
the trigonometry): the work is a few FFTs of at most 2^20 points and a small least-squares fit.
"""

from __future__ import annotations

from typing import Any

from bench import register_method
from bench.lib.estimators import ToneConfig

from ._spectral import ToneEstimate


@register_method("fft")
class FFTEstimate(ToneEstimate):
    """FFT of gridded samples + Jacobsen interpolation + NLS refinement (Jacobsen 2007, Quinn
    1997, Rife and Boorstyn 1974); several peaks for multi-tone data."""

    description = (
        "Spectral: grid samples, FFT, significant peaks, Jacobsen interpolation, least-squares "
        "amplitudes, joint NLS refinement; repeats on the residual for more tones"
    )
    reference = (
        "Rife and Boorstyn 1974; Quinn 1997; Jacobsen and Kootsookos 2007; Candan 2011 "
        "(DFT-based frequency estimation)"
    )

    def __init__(
        self,
        n_samples: int = 65536,
        max_tones: int = 16,
        interpolation: str = "jacobsen",
        trend: bool | str = "auto",
        false_alarm: float = 1e-6,
    ) -> None:
        self.n_samples = n_samples
        self.max_tones = max_tones
        self.interpolation = interpolation
        self.trend = trend
        self.false_alarm = false_alarm

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        if params:
            inner = ", ".join(f"{k}={v}" for k, v in params.items())
            return f"Variant: FFT + interpolation + NLS with {inner}"
        return cls.description

    def tone_config(self) -> ToneConfig:
        """Unpadded bins, interpolated by the chosen estimator, then refined (the defaults)."""
        return ToneConfig(interpolation=self.interpolation)
