"""Wavelet initialisation: a continuous wavelet transform locates the dominant scales, which seed a
sinusoidal model refined by gradient descent.

The samples are averaged onto a uniform grid (empty cells interpolated) and transformed with
PyWavelets' continuous wavelet transform (complex Morlet ``cmor1.5-1.0``, ``voices`` scales
per octave from the grid's Nyquist scale to one cycle over the span). Following Torrence and
Compo ("A Practical Guide to Wavelet Analysis", BAMS 1998), the global wavelet spectrum is the
time average of ``|W(s, t)|^2`` outside the cone of influence (where edges contaminate it), and
it is divided by the scale as Liu, Liang and Weisberg recommend ("Rectification of the Bias in
the Wavelet Power Spectrum", J. Atmos. Oceanic Technol. 2007) so that peaks of equal amplitude
read equal. Its local maxima (above ``rel_threshold`` of the largest, at most ``max_tones``),
placed between scales by a parabola in log-scale, give the initial frequencies. Amplitudes and
phases start from least squares; then all parameters descend the mean squared error with a
stable, curvature-based step (``bench.lib.sinusoid.refine_gd``), up to ``budget.steps`` full-batch
steps, stopping early when the loss stops falling.

A wavelet has constant relative bandwidth: it locates a tone to a few per cent of its
frequency, while gradient descent needs a start within about ``pi / L`` (``L`` the span of x).
With few cycles in the domain those agree and the method works; with many cycles (``sin31`` on
[-1000, 1000] has almost 10,000) the wavelet finds the band, not the basin, and the descent
stalls. That failure is the point of including the method: it is implemented faithfully and
allowed to fail. The model has a constant term; ``trend="auto"`` adds a linear trend on a fixed
training set when that forecasts the last 20% of the span better from the first 80%. Float64 on
the CPU whatever ``device`` is.
"""

from __future__ import annotations

import math

import numpy as np
import pywt

from bench import Logger, register_method
from bench.kit.methods import SteppedSinusoidMethod
from bench.lib.dsp import bin_samples, find_peaks, mean_grid, parabolic, sampling_interval
from bench.lib.sinusoid import SinusoidModel, fit_linear

from ._spectral import descend, phase

#: Largest grid the transform runs on (cost grows with cells x scales).
MAX_CELLS = 2**15


#: Points of the integrated wavelet, as ``2**PRECISION``: PyWavelets' default since 1.9 (1.8, the
#: last release for Python 3.10, fixes 10). Fixed here, so every install computes one transform.
PRECISION = 12


def cwt(signal: np.ndarray, scales: np.ndarray, wav: pywt.ContinuousWavelet) -> np.ndarray:
    """``pywt.cwt(signal, scales, wav, method="fft", precision=PRECISION)[0]`` for a 1-D float64
    ``signal``, computing only the part of each convolution that PyWavelets keeps.

    PyWavelets convolves the signal (``N`` cells) with the integrated wavelet sampled at each
    scale (``L`` points, ``L`` about 16 times the scale: far longer than the signal at the
    largest scales), by FFTs of the power of two at or above ``N + L - 1``, then keeps
    ``N + 1`` central points of the result and differences them. Those points see only the
    ``2 N`` wavelet samples that overlap the signal there, and a circular convolution just long
    enough that its wrap-around misses them gives them unchanged (to rounding). So each scale
    costs FFTs of at most the power of two at or above ``2 N`` instead of ``N + L``: the same
    wavelet samples, differencing, scaling and central points, several times faster.
    """
    n = signal.size
    int_psi, grid = pywt.integrate_wavelet(wav, precision=PRECISION)
    complex_cwt = bool(wav.complex_cwt)
    int_psi = np.asarray(np.conj(int_psi) if complex_cwt else int_psi)
    int_psi = int_psi.astype(np.complex128 if int_psi.dtype.kind == "c" else np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    step = grid[1] - grid[0]
    out = np.empty((scales.size, n), dtype=np.complex128 if complex_cwt else np.float64)
    data_ffts: dict[int, np.ndarray] = {}
    for i, scale in enumerate(scales):
        j = (np.arange(scale * (grid[-1] - grid[0]) + 1) / (scale * step)).astype(int)
        if j[-1] >= int_psi.size:
            j = np.extract(j < int_psi.size, j)
        kernel = int_psi[j][::-1]
        size = kernel.size
        if size < 2:
            raise ValueError(f"Selected scale of {scale} too small.")
        # PyWavelets keeps conv[a : a + n + 1] of the full convolution (n + size - 1 long),
        # a = floor((size - 2) / 2); those points use kernel[a - n + 1 : a + n + 1] only.
        a = (size - 2) // 2
        lo, hi = max(a - n + 1, 0), min(a + n, size - 1)
        part = kernel[lo : hi + 1]
        # A circular convolution of length m leaves points first .. first + n untouched by
        # wrap-around once m exceeds both bounds below; a power of two, as in PyWavelets.
        first = a - lo
        need = max(n + part.size - 1 - first, first + n + 1, part.size)
        m = 1 << (need - 1).bit_length()
        if m not in data_ffts:
            data_ffts[m] = np.fft.fft(signal, m)
        conv = np.fft.ifft(np.fft.fft(part, m) * data_ffts[m])[first : first + n + 1]
        coef = -np.sqrt(scale) * np.diff(conv)
        out[i] = coef if complex_cwt else coef.real
    return out


@register_method("wavelet-init")
class WaveletInit(SteppedSinusoidMethod):
    """CWT (complex Morlet, PyWavelets) picks the dominant scales; they seed sinusoids refined by
    stable gradient descent (Torrence and Compo 1998)."""

    description = (
        "Wavelet: CWT (complex Morlet) of gridded samples locates dominant scales, which seed "
        "sinusoids refined by stable gradient descent (expected to fail at many cycles)"
    )
    reference = (
        "Torrence and Compo, A Practical Guide to Wavelet Analysis, BAMS 1998; Liu, Liang and "
        "Weisberg 2007 (rectified wavelet spectrum); PyWavelets"
    )

    def __init__(
        self,
        n_samples: int = 65536,
        wavelet: str = "cmor1.5-1.0",
        voices: int = 8,
        max_tones: int = 8,
        rel_threshold: float = 0.1,
        trend: bool | str = "auto",
    ) -> None:
        self.n_samples = n_samples
        self.wavelet = wavelet
        self.voices = voices
        self.max_tones = max_tones
        self.rel_threshold = rel_threshold
        self.trend = trend

    def _model(
        self, x: np.ndarray, y: np.ndarray, trend: bool, steps: int, log: Logger | None
    ) -> SinusoidModel:
        model = fit_linear(x, y, [], trend=trend)
        if x.size < 8 or float(np.ptp(x)) <= 0:
            return model
        resid = y - model.predict(x)
        with phase(log, "estimate"):
            freqs = self.dominant_freqs(x, resid)
        if not freqs:
            return model
        model = fit_linear(x, y, freqs, trend=trend, like=model)
        return descend(self, x, y, model, max(steps, 0), log)

    def dominant_freqs(self, x: np.ndarray, y: np.ndarray) -> list[float]:
        """Angular frequencies of the peaks of the rectified global wavelet spectrum."""
        cells = int(min(MAX_CELLS, max(256, 1 << (max(x.size // 2, 1) - 1).bit_length())))
        grid = bin_samples(x, y, cells)
        signal = mean_grid(grid)
        wav = pywt.ContinuousWavelet(self.wavelet)
        fc = float(pywt.scale2frequency(wav, 1.0))  # cycles per cell at scale 1
        dt = sampling_interval(x)
        nyquist_cells = 2.0 * max(1.0, dt / grid.step) if dt is not None else 2.0
        s_min, s_max = fc * nyquist_cells, fc * cells  # Nyquist ... one cycle over the span
        if s_max <= s_min:
            return []
        scales = s_min * 2.0 ** (np.arange(0, math.log2(s_max / s_min), 1.0 / int(self.voices)))
        coefs = cwt(signal, scales, wav)
        power = np.abs(coefs) ** 2 / scales[:, None]
        # Cone of influence: the wavelet's envelope exp(-t^2 / B) at scale s reaches e^-1 at
        # sqrt(B) s cells from an edge; average only the cells farther in than that.
        b = float(getattr(wav, "bandwidth_frequency", 1.0) or 1.0)
        gws = np.empty(scales.size)
        for i, s in enumerate(scales):
            m = min(int(math.ceil(math.sqrt(b) * s)), (cells - 1) // 2)
            gws[i] = float(np.mean(power[i, m : cells - m]))
        padded = np.concatenate([[0.0], gws, [0.0]])  # let the end scales count as peaks
        peaks = find_peaks(
            padded,
            1,
            scales.size,
            threshold=float(self.rel_threshold) * float(gws.max()),
            min_separation=int(self.voices) // 2 or 1,
            max_peaks=int(self.max_tones),
        )
        out = []
        log_gws = np.log(np.maximum(padded, 1e-300))
        for k in peaks:
            i = int(k) - 1
            frac = parabolic(log_gws, int(k)) if 0 < i < scales.size - 1 else 0.0
            s = s_min * 2.0 ** ((i + frac) / int(self.voices))
            out.append(2.0 * np.pi * fc / (s * grid.step))
        return out
