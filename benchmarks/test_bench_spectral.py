"""Micro-benchmarks of the spectral hot path (pytest-benchmark; timings, never asserts on time).

Run with ``OMP_NUM_THREADS=1 python -m pytest benchmarks/test_bench_spectral.py``. Sizes match
the quick profile: 65,536 random samples of ``sin(31 x)`` on [-1000, 1000], the ``fft``
method's default.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

from bench.lib import dsp, estimators, sinusoid

torch.set_num_threads(1)

N = 65536


@pytest.fixture(scope="module")
def tone() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1000, 1000, N)
    return x, np.sin(31 * x + 0.3)


@pytest.fixture(scope="module")
def gridded(tone: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x, y = tone
    return dsp.spectrum(dsp.bin_samples(x, y, dsp.choose_cells(x.size)))


def test_bin_samples(benchmark, tone) -> None:
    x, y = tone
    grid = benchmark(dsp.bin_samples, x, y, dsp.choose_cells(x.size))
    assert grid.counts.sum() == N


def test_spectrum(benchmark, tone) -> None:
    x, y = tone
    grid = dsp.bin_samples(x, y, dsp.choose_cells(x.size))
    freqs, spec = benchmark(dsp.spectrum, grid)
    assert spec.size == grid.n // 2 + 1


def test_peak_and_jacobsen(benchmark, gridded) -> None:
    freqs, spec = gridded

    def run() -> float:
        power = np.abs(spec) ** 2
        k = int(dsp.find_peaks(power, max_peaks=1)[0])
        return float(freqs[k] + dsp.jacobsen(spec, k) * freqs[1])

    w = benchmark(run)
    assert abs(w - 31) < 1e-3


def test_refine_nls_one_tone(benchmark, tone) -> None:
    x, y = tone
    start = sinusoid.fit_linear(x, y, [31 + 2e-4])
    m = benchmark(sinusoid.refine_nls, x, y, start)
    assert abs(m.freqs[0] - 31) < 1e-9


def test_refine_gd_one_tone(benchmark, tone) -> None:
    x, y = tone
    start = sinusoid.fit_linear(x, y, [31 + 2e-4])
    m, _ = benchmark(sinusoid.refine_gd, x, y, start, steps=200)
    assert abs(m.freqs[0] - 31) < 1e-9


def test_estimate_tones_end_to_end(benchmark, tone) -> None:
    x, y = tone
    m = benchmark(estimators.estimate_tones, x, y)
    assert abs(m.freqs[0] - 31) < 1e-9


def test_lomb_scargle_chunked(benchmark, tone) -> None:
    x, y = tone
    freqs = 31 + np.linspace(-1e-3, 1e-3, 256)
    p = benchmark(dsp.lomb_scargle, x[:16384], y[:16384], freqs)
    assert abs(freqs[np.argmax(p)] - 31) < 1e-5


def test_cos_sin(benchmark) -> None:
    arg = np.random.default_rng(1).uniform(-3e4, 3e4, (16384, 16))
    c, s = benchmark(sinusoid.cos_sin, arg)
    np.testing.assert_allclose(c * c + s * s, 1.0, atol=1e-12)
