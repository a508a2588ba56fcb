"""Integer period discovery by folding (bench.lib.periods)."""

import numpy as np

from bench.lib.periods import circular, dispersion, find_periods, integer_lattice, resolution


def _clock(n: int, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    t = rng.integers(-(2**31), 2**31, size=n)
    s = np.mod(t, 86_400)
    fields = [s // 3600, (s // 60) % 60, s % 60]
    return t, [circular(f, k) for f, k in zip(fields, (24, 60, 60), strict=True)]


def test_integer_lattice() -> None:
    assert integer_lattice(np.array([1.0, -3.0, 2.0**40])).dtype == np.int64
    assert integer_lattice(np.array([1.5, 2.0])) is None
    assert integer_lattice(np.array([np.nan])) is None
    np.testing.assert_array_equal(integer_lattice(np.array([5, -7])), [5, -7])


def test_dispersion_separates_true_and_wrong_periods() -> None:
    t, (hours, minutes, seconds) = _clock(1024)
    d = dispersion(t, seconds, np.array([59, 60, 61, 120]))
    assert d[1] < 0.05 and d[3] < 0.1  # the period, and its multiple in coarser bins
    assert d[0] > 0.8 and d[2] > 0.8


def test_finds_the_clock_periods_from_samples() -> None:
    t, zs = _clock(512, seed=1)
    found = find_periods(t, zs, max_period=2**17)
    assert [f.period for f in found] == [86_400, 3_600, 60]


def test_no_period_for_noise() -> None:
    rng = np.random.default_rng(2)
    t = rng.integers(0, 10**9, size=512)
    z = circular(rng.integers(0, 60, size=512), 60)
    (found,) = find_periods(t, [z], max_period=5_000)
    assert found.period is None and found.score > 0.5


def test_resolution_finds_the_finer_period_a_digit_waits_for() -> None:
    t, (hours, minutes, seconds) = _clock(4096, seed=3)
    assert resolution(t, hours, 86_400, [60, 3_600, 86_400]) == 3_600
    assert resolution(t, minutes, 3_600, [60, 3_600, 86_400]) == 60
    assert resolution(t, seconds, 60, [60, 3_600, 86_400]) == 1
