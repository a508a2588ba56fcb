"""Integer period discovery by folding, coarse to fine (bench.lib.periods)."""

import numpy as np
import pytest

from bench.lib.periods import (
    circular,
    dispersion,
    find_periods,
    integer_lattice,
    label_changes,
    phase_arcs,
    resolution,
)

SPAN_120Y = int(round(120 * 365.25 * 86_400))


def _clock(n: int, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    t = rng.integers(-(2**31), 2**31, size=n)
    s = np.mod(t, 86_400)
    fields = [s // 3600, (s // 60) % 60, s % 60]
    return t, [circular(f, k) for f, k in zip(fields, (24, 60, 60), strict=True)]


def _field(t: np.ndarray, period: int, arcs: int, offset: int) -> np.ndarray:
    """A digit with ``arcs`` equal arcs per ``period``, starting at phase ``-offset``."""
    return np.mod(t + offset, period) // (period // arcs)


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


def test_segments_keep_a_long_period_dip_wide() -> None:
    # Folded over the whole span, 3,601 s is as wrong as 4,000 s; folded in segments of eight
    # cycles, it is nearly right (the dip is P^2 / (s B) wide), which the coarse scan uses.
    rng = np.random.default_rng(4)
    t = np.sort(rng.integers(0, 10**8, size=100_000))
    z = circular(_field(t, 3_600, 60, 0), 60)
    periods = np.array([3_600, 3_601, 4_000])
    whole = dispersion(t, z, periods)
    groups = (t - t[0]) // (8 * 3_600)
    parts = dispersion(t, z, periods, groups=groups)
    assert whole[0] < 0.05 and whole[1] > 0.5 and whole[2] > 0.5
    assert parts[0] < 0.05 and parts[1] < 0.05 and parts[2] > 0.5


def test_finds_the_clock_periods_from_samples() -> None:
    t, zs = _clock(8192, seed=1)
    found = find_periods(t, zs)
    assert [f.period for f in found] == [86_400, 3_600, 60]
    assert all(f.exact for f in found)
    assert found[0].searched == (int(t.max()) - int(t.min())) // 2  # half the span


@pytest.mark.parametrize("period", [144_000, 604_800, 2_000_003])
def test_long_periods_come_out_exact(period: int) -> None:
    # A 40-hour day, a week, and a prime period over two million units: no cap, no neighbour.
    rng = np.random.default_rng(period)
    t = rng.integers(-SPAN_120Y // 2, SPAN_120Y // 2, size=16_384)
    y = _field(t, period, 7, offset=int(rng.integers(period)))
    (found,) = find_periods(t, [circular(y, 7)], labels=[y])
    assert found.period == period and found.exact


def test_no_period_for_noise() -> None:
    rng = np.random.default_rng(2)
    t = rng.integers(0, 10**9, size=4096)
    y = rng.integers(0, 60, size=4096)
    (found,) = find_periods(t, [circular(y, 60)], labels=[y])
    assert found.period is None and found.score > 0.3  # the threshold is 0.2
    assert found.searched == (int(t.max()) - int(t.min())) // 2


def test_label_changes_are_fewest_at_the_period() -> None:
    rng = np.random.default_rng(3)
    t = rng.integers(0, SPAN_120Y, size=8192)
    y = _field(t, 45_103, 23, offset=99)
    counts = {p: label_changes(t, y, p) for p in (45_102, 45_103, 45_104)}
    assert counts[45_103] == 23 and counts[45_102] > 100 and counts[45_104] > 100


@pytest.mark.parametrize("seed", range(4))
def test_random_radix_clock_periods_and_arcs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b, c = (int(v) for v in rng.integers([20, 20, 10], [101, 101, 51]))
    offset = int(rng.integers(a * b * c))
    t = rng.integers(-SPAN_120Y // 2, SPAN_120Y // 2, size=32_768)
    s = np.mod(t + offset, a * b * c)
    fields = [s // (a * b), (s // a) % b, s % a]
    found = find_periods(t, [circular(f, int(f.max()) + 1) for f in fields], labels=fields)
    assert [f.period for f in found] == [a * b * c, a * b, a]
    for f, res, step in zip(fields, found, (a * b, a, 1), strict=True):
        arcs = phase_arcs(t, f, res.period)
        assert arcs.step == step and arcs.arcs == res.period // step
        # The arcs start where the digit changes, whatever the offset: one label per arc.
        probe = rng.integers(-(10**12), 10**12, size=20_000)
        sp = np.mod(probe + offset, a * b * c)
        truth = {a * b * c: sp // (a * b), a * b: (sp // a) % b, a: sp % a}[res.period]
        idx = arcs.index(probe)
        first = {}
        for i, lab in zip(idx.tolist(), truth.tolist(), strict=True):
            assert first.setdefault(i, lab) == lab


def test_unequal_arcs_start_in_their_gaps() -> None:
    # A month-like digit: arcs of unequal length, so no lattice; the starts go to the middle
    # of the gaps the samples leave, within a few units of the truth.
    rng = np.random.default_rng(5)
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]) * 100 + np.arange(12)
    period = int(lengths.sum())
    bounds = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    t = rng.integers(0, 10**9, size=50_000)
    y = np.searchsorted(bounds, np.mod(t, period), side="right") - 1
    (found,) = find_periods(t, [circular(y, 12)], labels=[y])
    assert found.period == period
    arcs = phase_arcs(t, y, period)
    assert arcs.step == 0 and arcs.arcs == 12
    assert np.max(np.abs(arcs.starts - bounds)) <= 3


def test_resolution_finds_the_finer_period_a_digit_waits_for() -> None:
    t, (hours, minutes, seconds) = _clock(4096, seed=3)
    assert resolution(t, hours, 86_400, [60, 3_600, 86_400]) == 3_600
    assert resolution(t, minutes, 3_600, [60, 3_600, 86_400]) == 60
    assert resolution(t, seconds, 60, [60, 3_600, 86_400]) == 1


def test_unrelated_periods_found_side_by_side() -> None:
    # A weekday (7 arcs of a day) and a prime-period digit with 5 arcs: no common structure.
    rng = np.random.default_rng(6)
    t = rng.integers(0, SPAN_120Y, size=32_768)
    week = _field(t, 7 * 86_400, 7, offset=12_345)
    other = _field(t, 5 * 19_997, 5, offset=777)
    found = find_periods(t, [circular(week, 7), circular(other, 5)], labels=[week, other])
    assert [f.period for f in found] == [7 * 86_400, 5 * 19_997]
    assert phase_arcs(t, week, found[0].period).step == 86_400
    assert phase_arcs(t, other, found[1].period).step == 19_997


def test_a_period_the_span_cannot_pin_is_marked_inexact() -> None:
    # n S / P^2 (samples misplaced between neighbouring integers) far below 1: the fold still
    # finds the period to a small fraction, but no longer to the integer, and says so.
    rng = np.random.default_rng(7)
    period = 20_000_000
    t = rng.integers(0, SPAN_120Y, size=4096)
    y = _field(t, period, 8, offset=0)
    (found,) = find_periods(t, [circular(y, 8)], labels=[y])
    assert found.period is not None and not found.exact
    assert abs(found.period - period) / period < 1e-3
