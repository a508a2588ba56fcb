"""The report's statistics against cases computed by hand."""

import math

import pytest

from bench.report import stats


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.96
        (0, 5, 0.0, 0.43449),
        (5, 5, 0.56551, 1.0),
        (3, 10, 0.10779, 0.60322),
        (3, 5, 0.23072, 0.88238),
        (1, 1, 0.20654, 1.0),
    ],
)
def test_wilson_interval_matches_hand_computation(k, n, lo, hi):
    got = stats.wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-5)


def test_wilson_interval_edges():
    assert stats.wilson_interval(0, 7)[0] == 0.0  # exactly, not rounding noise
    assert stats.wilson_interval(7, 7)[1] == 1.0
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))
    with pytest.raises(ValueError):
        stats.wilson_interval(6, 5)


TRACE = [[0, 0.0, 1.0], [10, 0.5, 0.5], [20, 1.0, None], [30, 1.5, 1e-4], [40, 2.0, 1e-6]]


def test_time_to_target_first_logged_point_at_or_below():
    assert stats.time_to_target(TRACE, 1e-4) == (30, 1.5)  # equal counts as reached
    assert stats.time_to_target(TRACE, 0.7) == (10, 0.5)
    assert stats.time_to_target(TRACE, 1e-9) is None
    assert stats.time_to_target([], 1.0) is None


def test_still_improving():
    decaying = [[i, i * 0.1, 0.9**i] for i in range(100)]
    floating = [[i, i * 0.1, 1.0 + 0.1 * (-1) ** i] for i in range(100)]
    flat_zero = [[i, i * 0.1, 0.0] for i in range(100)]
    assert stats.still_improving(decaying) is True
    assert stats.still_improving(floating) is False
    assert stats.still_improving(flat_zero) is False
    assert stats.still_improving(decaying[:5]) is None  # too short to tell
    assert stats.still_improving([*decaying[:-1], [99, 9.9, None]]) is False


def test_expected_running_time():
    assert stats.expected_running_time([1.0, 2.0, 3.0], 2) == 3.0
    assert stats.expected_running_time([1.0, 2.0], 0) == math.inf


# Three methods, three tasks. Best costs: t1 = 1 (A), t2 = 5 (B), t3 = 2 (C).
# Ratios: A = [1, 2, inf], B = [2, 1, 2], C = [inf, inf, 1].
COST = {
    "A": {"t1": 1.0, "t2": 10.0, "t3": None},
    "B": {"t1": 2.0, "t2": 5.0, "t3": 4.0},
    "C": {"t1": None, "t2": math.inf, "t3": 2.0},
}


def test_performance_profile_hand_case():
    prof = stats.performance_profile(COST)
    assert prof.tasks == ("t1", "t2", "t3")
    assert prof.ratios["A"] == (1.0, 2.0, math.inf)
    assert prof.ratios["B"] == (2.0, 1.0, 2.0)
    assert prof.ratios["C"] == (math.inf, math.inf, 1.0)
    assert [prof.rho("A", t) for t in (1, 1.99, 2, 100)] == pytest.approx(
        [1 / 3, 1 / 3, 2 / 3, 2 / 3]
    )
    assert [prof.rho("B", t) for t in (1, 2)] == pytest.approx([1 / 3, 1.0])
    assert [prof.rho("C", t) for t in (1, 1e9)] == pytest.approx([1 / 3, 1 / 3])
    assert [prof.solved(m) for m in "ABC"] == [2, 3, 1]


def test_performance_profile_zero_cost_and_unsolved_task():
    prof = stats.performance_profile({"A": {"t": 0.0, "u": None}, "B": {"t": 1.0, "u": None}})
    assert prof.ratios["A"] == (1.0, math.inf)
    assert prof.ratios["B"] == (math.inf, math.inf)
    assert prof.rho("A", 10) == 0.5  # the task nobody solved still counts in the denominator


def test_average_rank_hand_case_and_ties():
    ranks = stats.average_rank(COST)
    # t1: A 1, B 2, C 3; t2: B 1, A 2, C 3; t3: C 1, B 2, A 3
    assert ranks == pytest.approx({"A": 2.0, "B": 5 / 3, "C": 7 / 3})
    tied = stats.average_rank({"X": {"t": 1.0}, "Y": {"t": None}, "Z": {"t": None}})
    assert tied == {"X": 1.0, "Y": 2.5, "Z": 2.5}


def test_quantiles():
    q = stats.quantiles([5.0, 1.0, 3.0, 2.0, 4.0, math.nan, None])
    assert (q["median"], q["q25"], q["q75"], q["min"], q["max"], q["n"]) == (3, 2, 4, 1, 5, 5)
    assert stats.quantiles([])["n"] == 0
    assert stats.quantiles([7.0])["q25"] == 7.0


def test_chi_ratio_interval_brackets_one_and_narrows_with_seeds() -> None:
    from bench.report.stats import chi_ratio_interval

    lo3, hi3 = chi_ratio_interval(3)
    lo100, hi100 = chi_ratio_interval(100)
    assert lo3 < lo100 < 1 < hi100 < hi3
    assert (lo100, hi100) == pytest.approx((0.8615, 1.1382), abs=1e-3)
