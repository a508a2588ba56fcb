"""Failures are priced in the report (issue 31): a run stopped at its timeout, diverged or
crashed carries the time it used, and the cost table, the ERT and the performance profile count
it, as COCO counts the evaluations of unsuccessful runs; where an old record carries no time
the report says so instead of counting 0 s. And a failed seed is worded by its status: only a
seed that finished before the stop rule fired "ran out of budget"."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.report import build_report, render_latex, render_markdown, summarise
from bench.report.cost_tables import aggregate_table, cost_table
from bench.report.summaries import cost_matrix
from bench.report.tables import convergence_table, headline_matrix, success_table

_keys = iter(range(10**6))


def rec(method: str, seconds: float | None, status: str = "ok", **kw: Any) -> dict[str, Any]:
    """A record of ``sin31`` whose run used ``seconds`` (``None``: the record carries no time,
    as failed runs recorded before they were timed)."""
    r = {
        "run_key": f"c{next(_keys)}",
        "method": method,
        "params": {},
        "task": kw.pop("task", "sin31"),
        "task_family": "sin31",
        "task_params": {},
        "seed": next(_keys),
        "profile": "quick",
        "status": status,
        "reason": kw.pop("reason", ""),
        "success": None if status == "skipped" else kw.pop("success", False),
        "metrics": {},
        "time": {} if seconds is None else {"train": seconds, "total": seconds},
        "trace": [],
        "env": {"device_name": "Test CPU"},
    }
    r.update(kw)
    return r


def one(records: list[dict[str, Any]], method: str = "m"):
    return next(s for s in summarise(records) if s.method == method)


def cells(table, method: str = "m") -> dict[str, str]:
    row = next(r for r in table.rows if r[1] == method or r[0].startswith(method))
    return dict(zip(table.columns, row, strict=True))


# -- cost: failed runs count with the time they used ------------------------------------------


def test_ert_counts_the_time_of_a_timed_out_run():
    """One success in 1 s and one run stopped at an 8 s timeout: one success costs 9 s."""
    recs = [rec("m", 1.0, success=True), rec("m", 8.0, "timeout", reason="stopped at 8 s")]
    s = one(recs)
    assert s["ert_seconds"] == pytest.approx(9.0)
    assert s["sec_total"] == pytest.approx(4.5)  # the median counts the failed run too
    row = cells(cost_table([s], show_env=False))
    assert row["ERT s"] == "9" and row["total s"] == "4.5"


@pytest.mark.parametrize("status", ["diverged", "timeout", "oom", "error"])
def test_every_failure_costs_its_time(status):
    recs = [rec("m", 2.0, success=True), rec("m", 3.0, status, reason="why")]
    assert one(recs)["ert_seconds"] == pytest.approx(5.0)


def test_skipped_runs_cost_nothing_and_are_not_attempts():
    recs = [rec("m", 1.0, success=True), rec("m", None, "skipped", reason="cannot")]
    s = one(recs)
    assert s["ert_seconds"] == pytest.approx(1.0) and s["time_unknown"] is None


def test_profile_ranks_by_the_price_of_failures():
    """A fails half its runs at the 8 s timeout after a 1 s success: ERT 9 s, dearer than B's
    3 s. Counted as free, A's failures made it look fastest (ERT 1 s)."""
    recs = [rec("A", 1.0, success=True), rec("A", 8.0, "timeout")]
    recs += [rec("B", 3.0, success=True), rec("B", 3.0, success=True)]
    summaries = summarise(recs)
    assert cost_matrix(summaries) == {"A": {"sin31": 9.0}, "B": {"sin31": 3.0}}
    table = aggregate_table(summaries)
    rho1 = {row[0]: row[2] for row in table.rows}
    assert rho1 == {"A": "0%", "B": "100%"}


# -- old records: a failure without time is unknown, never 0 s -------------------------------


def test_unknown_time_is_said_not_counted_as_zero():
    recs = [rec("m", 1.0, success=True), rec("m", None, "timeout", reason="stopped at 8 s")]
    s = one(recs)
    assert s["time_unknown"] == 1
    assert s["sec_total"] == pytest.approx(1.0)  # the median of the known, not of [1, 0]
    row = cells(cost_table([s], show_env=False))
    assert row["ERT s"] == "≥1 (1 unknown)"  # a lower bound, and how many runs it misses
    assert row["total s"] == "1 (1 unknown)"
    about = cost_table([s], show_env=False).about
    assert "1 attempted run(s) carry no time" in about and "lower bound" in about


def test_unknown_time_marks_the_profile_and_renders_in_latex():
    recs = [rec("A", 1.0, success=True), rec("A", None, "error", reason="boom")]
    recs += [rec("B", 3.0, success=True)]
    summaries = summarise(recs)
    table = aggregate_table(summaries)
    assert [row[0] for row in table.rows] == ["A (≥: 1 unknown)", "B"]
    assert "The ERTs of A (1) count only the runs whose time" in table.about
    rep = build_report(recs, [])
    assert "≥1 (1 unknown)" in render_markdown(rep)
    assert "$\\geq$1 (1 unknown)" in render_latex(rep)


def test_no_failures_no_caveat():
    """Records without failed runs give the same cost note as before: nothing added."""
    recs = [rec("m", 1.0, success=True), rec("m", 2.0)]
    about = cost_table(summarise(recs), show_env=False).about
    assert about.endswith("seeds trained together share one peak.")
    assert "time_unknown" not in one(recs).values  # no new CSV column where nothing is unknown


def test_unsolved_with_unknown_time_is_plainly_inf():
    s = one([rec("m", 2.0), rec("m", None, "timeout")])
    assert math.isinf(s["ert_seconds"]) and cells(cost_table([s], False))["ERT s"] == "inf"


# -- wording: by status -----------------------------------------------------------------------


def test_a_diverged_seed_did_not_run_out_of_budget():
    recs = [
        rec("m", 1.0, "diverged", reason="non-finite loss", converged=False),
        rec("m", 1.0, converged=False),  # finished, budget ran out first: not a verdict
        rec("m", 1.0, converged=True),  # converged to a wrong answer: a verdict
    ]
    s = one(recs)
    assert s["out_of_budget"] == 1
    note = cells(success_table([s], show_env=False))["note"]
    assert "1 failed seed(s) ran out of budget before converging" in note
    assert "1 diverged: non-finite loss" in note
    assert headline_matrix([s]).rows == [["sin31", "-", "0/3*"]]  # no headline metric: no bar


def test_only_diverged_seeds_get_no_budget_mark():
    recs = [rec("m", 1.0, "diverged", reason="nan", converged=False) for _ in range(2)]
    s = one(recs)
    assert s["out_of_budget"] == 0
    note = cells(success_table([s], show_env=False))["note"]
    assert "budget" not in note and note == "2 diverged: nan"
    assert headline_matrix([s]).rows == [["sin31", "-", "0/2"]]


@pytest.mark.parametrize(
    ("status", "words"),
    [("timeout", "1 timed out"), ("oom", "1 ran out of memory"), ("error", "1 crashed")],
)
def test_failures_are_worded_by_status(status, words):
    s = one([rec("m", 1.0, status, reason="r", converged=False)])
    note = cells(success_table([s], show_env=False))["note"]
    assert note == f"{words}: r" and "budget" not in note


def test_convergence_counts_a_diverged_seed_apart():
    """'Converged k/n; the rest ran out of budget': a diverged seed is not among the n."""
    trace = [[100 * i, 0.1 * i, 1.0 / i] for i in range(1, 20)]
    recs = [
        rec("m", 1.0, converged=True, trace=trace, loss_target=1e-3),
        rec("m", 1.0, "diverged", reason="nan", converged=False, trace=trace, loss_target=1e-3),
    ]
    s = one(recs)
    table = convergence_table([s])
    assert table.rows[0][-1] == "1/1 (1 diverged)"
    assert "named in brackets" in table.about
