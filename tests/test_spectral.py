"""The spectral building blocks (``bench.lib.dsp``, ``sinusoid``, ``estimators``) on synthetic
tones with known answers.

Noiseless tones check exactness (interpolation against the bin width, multi-peak separation,
convergence of the refinements); noisy tones check that the least-squares refinement reaches the
Cramer-Rao bound, the physical limit no estimator beats.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lombscargle

from bench.lib import dsp, estimators, sinusoid


def _dft_tone(n: int, bins: float, complex_tone: bool) -> np.ndarray:
    t = np.arange(n)
    arg = 2 * np.pi * bins * t / n + 0.3
    if complex_tone:
        return np.fft.fft(np.exp(1j * arg))[: n // 2 + 1]
    return np.fft.rfft(np.sin(arg))


# -- interpolation ------------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [0.0, 0.1, 0.27, -0.38, 0.49])
def test_complex_bin_interpolators_beat_a_thousandth_of_a_bin(delta: float) -> None:
    n, k0 = 1024, 100
    for complex_tone, tol in ((True, 1e-5), (False, 2e-5)):
        spec = _dft_tone(n, k0 + delta, complex_tone)
        k = int(np.argmax(np.abs(spec)))
        for name in ("jacobsen", "candan"):
            err = k + dsp.INTERPOLATORS[name](spec, k) - (k0 + delta)
            assert abs(err) < tol, (name, complex_tone, err)
    # Quinn's estimator assumes one complex exponential: exact for it, a little biased by the
    # negative-frequency image of a real tone, still far inside the NLS basin (a quarter bin).
    spec = _dft_tone(n, k0 + delta, True)
    k = int(np.argmax(np.abs(spec)))
    assert abs(k + dsp.quinn(spec, k) - (k0 + delta)) < 1e-5
    spec = _dft_tone(n, k0 + delta, False)
    k = int(np.argmax(np.abs(spec)))
    assert abs(k + dsp.quinn(spec, k) - (k0 + delta)) < 5e-3


def test_candan_removes_jacobsens_bias_on_a_short_transform() -> None:
    n, true = 32, 5.3
    spec = _dft_tone(n, true, True)
    k = int(np.argmax(np.abs(spec)))
    jac = abs(k + dsp.jacobsen(spec, k) - true)
    can = abs(k + dsp.candan(spec, k, n) - true)
    assert can < jac / 10


def test_parabolic_on_magnitudes_is_the_biased_reference() -> None:
    spec = _dft_tone(1024, 100.27, False)
    k = int(np.argmax(np.abs(spec)))
    para = abs(k + dsp.parabolic(np.abs(spec), k) - 100.27)
    jac = abs(k + dsp.jacobsen(spec, k) - 100.27)
    assert para > 0.05 and jac < 1e-4


def test_interpolators_need_both_neighbours() -> None:
    spec = _dft_tone(64, 3.2, True)
    with pytest.raises(ValueError):
        dsp.jacobsen(spec, 0)


# -- gridding and peaks -------------------------------------------------------------------------


def test_binning_keeps_mass_and_moves_samples_at_most_half_a_cell() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-10, 30, 5000)
    y = rng.standard_normal(5000)
    grid = dsp.bin_samples(x, y, 1000)
    assert grid.counts.sum() == 5000
    assert grid.sums.sum() == pytest.approx(y.sum())
    idx = np.rint((x - grid.origin) / grid.step)
    assert np.max(np.abs(grid.origin + idx * grid.step - x)) <= grid.step / 2 + 1e-12
    assert grid.origin == x.min()
    assert grid.origin + (grid.n - 1) * grid.step == pytest.approx(x.max())


def test_mean_grid_fills_empty_cells() -> None:
    grid = dsp.bin_samples([0.0, 1.0, 3.0], [1.0, 2.0, 4.0], 4)
    np.testing.assert_allclose(dsp.mean_grid(grid), [1.0, 2.0, 3.0, 4.0])


def test_gridded_fft_finds_a_tone_from_random_samples() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(-1000, 1000, 20000)
    grid = dsp.bin_samples(x, np.sin(31 * x), dsp.choose_cells(x.size))
    freqs, spec = dsp.spectrum(grid)
    k = int(np.argmax(np.abs(spec[1:]))) + 1
    w = freqs[k] + dsp.jacobsen(spec, k) * freqs[1]
    # Well inside the ~0.5 pi / L basin of the least-squares refinement.
    assert abs(w - 31) < 0.1 * np.pi / 2000


def test_sampling_interval_tells_regular_from_random() -> None:
    assert dsp.sampling_interval(np.arange(500) * 0.25) == pytest.approx(0.25)
    gaps = np.delete(np.arange(500.0), [10, 11, 200])  # missing samples stay regular
    assert dsp.sampling_interval(gaps) == pytest.approx(1.0)
    assert dsp.sampling_interval(np.random.default_rng(0).uniform(0, 1, 500)) is None


def test_sampling_interval_on_large_samples_in_any_order() -> None:
    """Above the prefilter's size the answer is the same: regular (shuffled, with holes) or
    random."""
    rng = np.random.default_rng(1)
    grid = np.delete(np.arange(40_000) * 0.5, rng.choice(40_000, 300, replace=False))
    rng.shuffle(grid)
    assert dsp.sampling_interval(grid) == pytest.approx(0.5)
    assert dsp.sampling_interval(rng.uniform(-1, 1, 40_000)) is None


def test_noise_alone_clears_no_threshold() -> None:
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(20):
        power = np.abs(np.fft.rfft(rng.standard_normal(4096))) ** 2
        thr = dsp.detection_threshold(power[1:-1], 1e-6)
        hits += dsp.find_peaks(power, 1, threshold=thr).size
    assert hits == 0


def test_find_peaks_orders_by_power_and_keeps_separation() -> None:
    p = np.zeros(50)
    p[[10, 11, 30, 40]] = [5.0, 4.0, 9.0, 1.0]
    assert dsp.find_peaks(p, threshold=0.5).tolist() == [30, 10, 40]
    assert dsp.find_peaks(p, threshold=2.0, max_peaks=1).tolist() == [30]


# -- least squares and refinement ---------------------------------------------------------------


def test_linear_fit_recovers_amplitude_phase_offset_and_trend() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(100, 300, 3000)
    y = 2.0 + 0.01 * (x - 200) + 1.5 * np.sin(0.7 * (x - 200) + 0.4)
    m = sinusoid.fit_linear(x, y, [0.7], trend=True)
    assert m.center == pytest.approx(200, abs=0.2)
    assert m.amplitudes[0] == pytest.approx(1.5, abs=1e-9)
    c = m.center
    np.testing.assert_allclose(m.predict(x), y, atol=1e-9)
    # phases_ are relative to the model's centre.
    want = (0.4 + 0.7 * (c - 200)) % (2 * np.pi)
    assert (m.phases[0] - want + np.pi) % (2 * np.pi) - np.pi == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("offset_in_basin", [0.4, -0.3])
def test_nls_converges_to_machine_precision_from_inside_the_basin(offset_in_basin: float) -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(-1000, 1000, 8192)
    y = np.sin(31 * x + 1.0)
    start = 31 + offset_in_basin * np.pi / 2000  # within 0.5 pi / L
    m = sinusoid.refine_nls(x, y, sinusoid.fit_linear(x, y, [start]))
    assert abs(m.freqs[0] - 31) < 1e-10
    assert m.amplitudes[0] == pytest.approx(1.0, abs=1e-9)


def test_nls_never_returns_a_worse_fit() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(-1000, 1000, 4096)
    y = np.sin(31 * x)
    start = sinusoid.fit_linear(x, y, [31.2])  # far outside the basin
    m = sinusoid.refine_nls(x, y, start)
    assert m.mse(x, y) <= start.mse(x, y)


def test_gradient_descent_converges_from_a_grid_point_and_stalls_outside_the_basin() -> None:
    rng = np.random.default_rng(6)
    x = rng.uniform(-1000, 1000, 8192)
    y = np.sin(31 * x + 0.2)
    spacing = 2 * np.pi / (5 * 2000)
    near, steps = sinusoid.refine_gd(
        x, y, sinusoid.fit_linear(x, y, [31 + 0.5 * spacing]), steps=500
    )
    assert abs(near.freqs[0] - 31) < 1e-9 and steps < 500
    far, _ = sinusoid.refine_gd(x, y, sinusoid.fit_linear(x, y, [31.05]), steps=500)
    assert abs(far.freqs[0] - 31) > 1e-3  # the flat landscape of the original experiment


# -- the complete estimator ---------------------------------------------------------------------


def test_estimate_tones_separates_close_tones_of_unequal_amplitude() -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(-100, 100, 16384)
    bin_w = 2 * np.pi / 200
    w = np.array([10.0, 10.0 + 4 * bin_w, 40.0])
    a = np.array([1.0, 0.5, 0.7])
    y = np.sin(np.multiply.outer(x, w) + [0.1, 2.0, 4.0]) @ a + 0.3
    info = estimators.ToneSearch()
    m = estimators.estimate_tones(x, y, info=info)
    assert m.n_tones == 3
    np.testing.assert_allclose(np.sort(m.freqs), w, atol=1e-9)
    np.testing.assert_allclose(m.amplitudes, np.sort(a)[::-1], atol=1e-9)  # dominant first
    assert m.offset == pytest.approx(0.3, abs=1e-9)


def test_estimate_tones_reaches_the_cramer_rao_bound_in_noise() -> None:
    rng = np.random.default_rng(8)
    n, s, trials = 2000, np.sqrt(0.5), 30  # 0 dB: A^2 / (2 s^2) = 1
    errs, bounds = [], []
    for _ in range(trials):
        w = float(np.exp(rng.uniform(0, np.log(100))))
        x = rng.uniform(-1000, 1000, n)
        y = np.sin(w * x + rng.uniform(0, 2 * np.pi)) + s * rng.standard_normal(n)
        m = estimators.estimate_tones(x, y)
        errs.append(m.freqs[0] - w)
        bounds.append(2 * s**2 / np.sum((x - x.mean()) ** 2))  # CRLB variance, many cycles
    ratio = np.sqrt(np.mean(np.square(errs)) / np.mean(bounds))
    assert ratio < 1.5, ratio


def test_estimate_tones_stops_at_the_noise() -> None:
    rng = np.random.default_rng(9)
    x = rng.uniform(0, 500, 4000)
    y = 0.8 * np.sin(2.0 * x) + 0.3 * rng.standard_normal(4000)
    m = estimators.estimate_tones(x, y)
    assert m.n_tones == 1 and abs(m.freqs[0] - 2.0) < 1e-3


def test_few_random_samples_find_a_strong_tone_and_no_noise() -> None:
    """The small-sample tail: a sawtooth's fundamental (61% of the variance) in 128 random
    samples is found in most sets (the exponential tail alone found it in 13 of 20), and
    noise alone in 8 to 64 samples gives no tone in 100 sets each."""
    saw = lambda x: (20.0 * x) % 1.0 - 0.5  # noqa: E731
    hits = 0
    for s in range(20):
        x = np.sort(np.random.default_rng(s).uniform(0.0, 1.0, 128))
        m = estimators.estimate_tones(x, saw(x))
        hits += bool(m.n_tones) and abs(m.freqs[np.argmax(m.amplitudes)] - 40 * np.pi) < 2 * np.pi
    assert hits >= 17
    for n in (8, 16, 32, 64):
        for s in range(100):
            rng = np.random.default_rng([n, s])
            x = np.sort(rng.uniform(0.0, 1.0, n))
            assert estimators.estimate_tones(x, rng.standard_normal(n)).n_tones == 0, (n, s)


def test_small_sample_threshold_tends_to_the_exponential_one() -> None:
    assert dsp.small_sample_ratio(5000, 1e-6, 10**7) == pytest.approx(1.0, rel=1e-4)
    assert dsp.small_sample_ratio(5000, 1e-6, 64) < 0.8
    assert dsp.small_sample_ratio(5000, 1e-6, 3) == 1.0
    assert dsp.tone_false_alarm(0.61, 61, 33_000) < 1e-6 < dsp.tone_false_alarm(0.3, 61, 33_000)


def test_regular_samples_report_the_tone_not_its_alias() -> None:
    x = np.arange(400.0)  # Nyquist pi
    y = np.cos(0.9 * x)
    m = estimators.estimate_tones(x, y)
    assert abs(m.freqs[0] - 0.9) < 1e-9


def test_lomb_scargle_chunks_agree_with_one_call() -> None:
    rng = np.random.default_rng(10)
    x = rng.uniform(0, 100, 300)
    y = np.sin(3.0 * x)
    freqs = np.linspace(2.5, 3.5, 1001)
    chunked = dsp.lomb_scargle(x, y, freqs, chunk=64)
    direct = lombscargle(x - 0.5 * (x.min() + x.max()), y, freqs, floating_mean=True)
    np.testing.assert_allclose(chunked, direct, rtol=1e-10, atol=1e-12)
    assert abs(freqs[np.argmax(chunked)] - 3.0) < 2e-3


def test_choose_trend_by_time_ordered_validation() -> None:
    x = np.arange(600.0)
    rising = 0.05 * x + np.sin(0.5 * x)
    flat = np.sin(0.5 * x)

    def fit(xs: np.ndarray, ys: np.ndarray, trend: bool) -> sinusoid.SinusoidModel:
        return estimators.estimate_tones(xs, ys, trend=trend, max_tones=4)

    assert estimators.choose_trend("auto", False, x, rising, fit) is True
    assert estimators.choose_trend("auto", False, x, flat, fit) is False
    assert estimators.choose_trend("auto", True, x, rising, fit) is False  # samplers never drift
    with pytest.raises(ValueError):
        estimators.choose_trend("sometimes", False, x, flat, fit)


def test_sorted_model_predicts_the_same() -> None:
    m = sinusoid.SinusoidModel(
        center=1.0, scale=2.0, freqs=np.array([1.0, 3.0]), cos=np.array([0.1, 1.0]),
        sin=np.array([0.2, 0.0]), offset=0.5,
    )  # fmt: skip
    x = np.linspace(-3, 3, 50)
    s = m.sorted()
    assert s.freqs.tolist() == [3.0, 1.0]
    np.testing.assert_allclose(s.predict(x), m.predict(x))
    assert m.n_params_ == 7


# -- above the grid's band ----------------------------------------------------------------------


def test_search_limit_follows_the_sampling() -> None:
    rng = np.random.default_rng(3)
    n, half = 4096, 100.0
    regular = np.linspace(-half, half, n)
    w, rule = dsp.search_limit(regular)
    assert rule == "nyquist" and w == pytest.approx(np.pi / (2 * half / (n - 1)))
    x = rng.uniform(-half, half, n)
    w, rule = dsp.search_limit(x)
    # Random float64 inputs: the scan's reach, far below what their precision resolves.
    assert rule == "scan" and w == pytest.approx(dsp.scan_limit(n, float(np.ptp(x))))
    assert w < np.pi / dsp.input_quantum(np.sort(x))
    # It grows with the samples (twice as many: a window of the same length holds twice as
    # many) and shrinks as the false-alarm test gets stricter.
    assert dsp.scan_limit(2 * n, 2 * half) == pytest.approx(2 * dsp.scan_limit(n, 2 * half))
    assert dsp.search_limit(x, false_alarm=1e-9)[0] < w


def test_the_inputs_resolution_caps_the_search() -> None:
    """Inputs stored in float32, or on a lattice (whole seconds), resolve nothing above ``pi``
    over their step: the band stops there when the scan would reach further."""
    rng = np.random.default_rng(8)
    whole = np.sort(rng.choice(10**6, 200_000, replace=False)).astype(np.float64)
    assert dsp.input_quantum(whole) == 1.0
    assert dsp.search_limit(whole) == (pytest.approx(np.pi), "resolution")
    single = np.sort(rng.uniform(-1000, 1000, 10**6).astype(np.float32).astype(np.float64))
    q = dsp.input_quantum(single)
    assert q == np.spacing(np.float32(1000.0)) or q == np.spacing(np.float32(999.9))
    w, rule = dsp.search_limit(single)
    assert rule == "resolution" and w == pytest.approx(np.pi / q)
    doubles = np.sort(rng.uniform(-1000, 1000, 1000))
    assert dsp.input_quantum(doubles) == np.spacing(np.abs(doubles).max())


def test_a_tone_as_strong_as_the_noise_is_found_far_above_the_mean_rate() -> None:
    """Issue 35: 10**4 random samples on [-1000, 1000] and a tone at 0 dB with about 10**6
    cycles in the domain (w = 3100 rad per unit, 600 times the mean rate's Nyquist frequency):
    the gap-quantile rule stopped the search at about 1,600 rad per unit and found nothing."""
    rng = np.random.default_rng(1)
    n = 10**4
    x = rng.uniform(-1000, 1000, n)
    y = np.sin(3100 * x + 0.3) + rng.normal(0, 2**-0.5, n)
    info = estimators.ToneSearch()
    model = estimators.estimate_tones(x, y, max_tones=1, info=info)
    assert info.limit_rule == "scan" and info.max_freq > 3100
    assert model.n_tones == 1 and abs(model.freqs[0] - 3100) < 1e-4
    # Noise alone over the same band: nothing passes the false-alarm test.
    noise = estimators.estimate_tones(x, rng.normal(size=n), max_tones=1)
    assert noise.n_tones == 0


def test_high_band_peaks_find_a_tone_far_above_the_mean_rate() -> None:
    rng = np.random.default_rng(4)
    n, half = 4096, 100.0
    x = rng.uniform(-half, half, n)
    w_true = 30 * np.pi * n / (2 * half)  # 30 times the mean rate's Nyquist frequency
    y = np.sin(w_true * x + 1.0)
    peaks = dsp.high_band_peaks(x, y, np.pi * n / (2 * half), dsp.search_limit(x)[0])
    assert len(peaks) == 1
    assert abs(peaks[0].freq - w_true) < 0.05 * np.pi / half  # well inside the NLS basin
    assert peaks[0].amplitude == pytest.approx(1.0, rel=0.05)
    # Noise alone: nothing clears the false-alarm test.
    noise = rng.normal(size=n)
    assert dsp.high_band_peaks(x, noise, 1.0, dsp.search_limit(x)[0]) == []


def test_the_scan_covers_the_band_where_samples_cluster() -> None:
    """Samples in two clusters with a gap between them: each octave's run is the densest run
    of samples, not one across the gap, so the scan covers the band (the review's case)."""
    rng = np.random.default_rng(0)
    n = 10**4
    x = np.concatenate([rng.uniform(0, 10, n // 2), rng.uniform(90, 100, n // 2)])
    top = dsp.scan_limit(n, 100.0)
    for share in (0.05, 0.2):
        w = share * top
        y = np.sin(w * x) + rng.normal(0, 0.5, n)
        peaks = dsp.high_band_peaks(x, y, 200.0, top, x_sorted=np.sort(x))
        assert peaks and abs(peaks[0].freq - w) < 1.0


def test_estimate_tones_reaches_above_its_grid() -> None:
    rng = np.random.default_rng(5)
    n, half = 8192, 50.0
    x = rng.uniform(-half, half, n)
    w_true = 20 * np.pi * n / (2 * half)
    y = 0.7 * np.sin(w_true * x + 0.4)
    info = estimators.ToneSearch()
    model = estimators.estimate_tones(x, y, n_cells=2**12, info=info)  # band far below w_true
    assert info.limit_rule == "scan" and info.max_freq > w_true
    assert model.n_tones == 1
    assert abs(model.freqs[0] - w_true) / w_true < 1e-9
    assert model.amplitudes[0] == pytest.approx(0.7, rel=1e-6)
    # Regular samples: the same tone is above their Nyquist frequency, so it is not searched.
    reg = np.linspace(-half, half, n)
    info = estimators.ToneSearch()
    estimators.estimate_tones(reg, np.sin(w_true * reg), info=info)
    assert info.limit_rule == "nyquist" and info.max_freq < w_true


def test_a_band_the_caller_knows_caps_the_search() -> None:
    """``estimate_tones(max_freq=...)``: nothing above the given band is searched or found,
    a tone inside it is, and the rule says the band was given."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-100.0, 100.0, 4000)
    y = np.sin(20.0 * x + 0.4) + 0.5 * np.sin(300.0 * x)
    info = estimators.ToneSearch()
    model = estimators.estimate_tones(x, y, max_freq=100.0, info=info)
    assert info.limit_rule == "given" and info.max_freq <= 100.0
    assert np.all(np.asarray(model.freqs) <= 100.0)
    assert np.min(np.abs(np.asarray(model.freqs) - 20.0)) < 1e-3
    assert np.min(np.abs(np.asarray(estimators.estimate_tones(x, y).freqs) - 300.0)) < 1e-3
    with pytest.raises(ValueError, match="max_freq"):
        estimators.estimate_tones(x, y, max_freq=0.0)
