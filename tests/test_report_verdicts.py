"""Continuous verdicts in the report: the success matrix shows each pair's median headline and
its range beside the count, marks near misses (on the bar's own side) and runs that went
untuned; the fixed-target ECDF counts (task, seed, target) triples by hand-checkable rules; the
tuning table lists choices per task family and per task, with where each knob sat in its grid.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bench.report import build_report, render_latex, render_markdown, summarise
from bench.report.bars import Bar, near_misses, parse_bar, success_bar
from bench.report.ecdf import ecdf_runs, ecdf_table
from bench.report.tables import headline_matrix, success_table, tuning_trials_table

_keys = iter(range(10**6))

TONE = ("tone", "test_mse", "test MSE < 1e-4")
WAVE = ("wave", "extrap_nmse", "extrapolation nMSE < 1e-2")
CLOCK = (
    "clock",
    "exact_match",
    "exact match >= 0.999 on held-out instants and on the final 10/120",
)
NOISY = ("noisy-tone", "efficiency", "|w_hat - w| <= 3 sqrt(CRLB), w_hat the dominant frequency")


def rec(
    method: str,
    task: tuple[str, str, str],
    value: float | None,
    success: bool | None = None,
    status: str = "ok",
    seconds: float | None = 1.0,
    seed: int | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """A record of ``task`` (family, headline, criterion) whose headline came out ``value``;
    ``success`` defaults to what the bar says, as the task would judge it."""
    family, headline, criterion = task
    if success is None and status != "skipped":
        bar = parse_bar(criterion, headline)
        success = status == "ok" and value is not None and bar is not None and bar.met(value)
    r = {
        "run_key": f"v{next(_keys)}",
        "method": method,
        "method_family": method.split("[")[0],
        "params": {},
        "task": kw.pop("task_id", family),
        "task_family": family,
        "task_params": {},
        "seed": next(_keys) if seed is None else seed,
        "profile": "quick",
        "purpose": "eval",
        "status": status,
        "reason": kw.pop("reason", ""),
        "success": None if status == "skipped" else bool(success),
        "metrics": {} if value is None else {headline: value},
        "time": {} if seconds is None or status == "skipped" else {"total": seconds},
        "trace": [],
        "env": {"device_name": "Test CPU"},
        "headline": headline,
        "success_criterion": criterion,
    }
    r.update(kw)
    return r


def matrix_cell(records: list[dict[str, Any]], method: str = "m") -> str:
    table = headline_matrix(summarise(records))
    return table.rows[0][table.columns.index(method)]


# -- the bar, read off the criterion ----------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "headline", "bar"),
    [
        ("test MSE < 1e-4", "test_mse", Bar("test_mse", 1e-4, "<")),
        ("test nMSE < 1e-3", "test_nmse", Bar("test_nmse", 1e-3, "<")),
        ("extrapolation nMSE < 1e-2", "extrap_nmse", Bar("extrap_nmse", 1e-2, "<")),
        ("rel_mae < 1: forecast MAE below the seasonal naive's", "rel_mae", Bar("rel_mae", 1, "<")),
        (CLOCK[2], "exact_match", Bar("exact_match", 0.999, ">=")),
        ("exact match >= 99.9% everywhere", "exact_match", Bar("exact_match", 0.999, ">=")),
        # a bound on another quantity (per seed) is not a bar on the headline
        (NOISY[2], "efficiency", None),
        # the criterion names another metric than the headline
        ("test MSE < 1e-4", "test_nmse", None),
        ("", "test_mse", None),
    ],
)
def test_bar_is_read_only_off_a_comparison_of_the_headline(criterion, headline, bar):
    assert parse_bar(criterion, headline) == bar


def test_bar_text_is_compact():
    assert success_bar([rec("m", TONE, 1.0)]).text() == "< 1e-4"
    assert success_bar([rec("m", CLOCK, 1.0)]).text() == ">= 0.999"
    assert success_bar([rec("m", NOISY, 1.0)]) is None


# -- median and spread in the cell ------------------------------------------------------------


def test_cell_shows_median_and_range_over_judged_finished_seeds():
    recs = [
        rec("m", TONE, 1e-5),  # success
        rec("m", TONE, 2e-4),  # failure within 10x of 1e-4: a near miss
        rec("m", TONE, 0.5),  # failure far off
        rec("m", TONE, None, status="timeout", reason="stopped"),  # judged, no metric
        rec("m", TONE, None, status="skipped", reason="cannot"),  # not judged
    ]
    # 1 of 4 judged; median and min-max over the three finished seeds; one near miss
    assert matrix_cell(recs) == "1/4 · 2.0e-04 [1.0e-05–0.5] ≈1"
    s = summarise(recs)[0]
    assert s["near_misses"] == 1 and s["successes"] == 1 and s["judged"] == 4
    assert s["judged_headline_n"] == 3 and s["judged_headline_median"] == pytest.approx(2e-4)


def test_range_is_left_out_when_seeds_agree_and_the_bar_is_named():
    recs = [rec("m", TONE, 0.5) for _ in range(3)]
    assert matrix_cell(recs) == "0/3 · 0.5"
    table = headline_matrix(summarise(recs))
    assert table.columns[:2] == ["task", "headline (bar)"]
    assert table.rows[0][1] == "test_mse < 1e-4"
    assert "range (min-max" in table.about and "near miss" in table.about


def test_existing_marks_stay_before_the_metric():
    recs = [rec("m", TONE, 0.9, converged=False) for _ in range(2)]
    assert matrix_cell(recs) == "0/2* · 0.9"


# -- near misses: within 10x, on the bar's own side ---------------------------------------------


def test_near_miss_lower_is_better_boundary():
    bar = Bar("test_mse", 1e-4, "<")
    recs = [
        rec("m", TONE, 1e-3),  # exactly 10x: near
        rec("m", TONE, 1.05e-3),  # just beyond 10x: not
        rec("m", TONE, 5e-5),  # a success: never a near miss
    ]
    assert near_misses(recs, bar) == 1


def test_near_miss_is_direction_aware_for_a_share():
    """exact match >= 0.999 is a share of a perfect 1: near misses come within 10x of the
    allowed shortfall (0.99 and up), not down to 0.0999 as a naive factor would say."""
    recs = [
        rec("m", CLOCK, 1.0),  # success
        rec("m", CLOCK, 0.995),  # shortfall 0.005 <= 0.01: near
        rec("m", CLOCK, 0.99),  # shortfall 0.01: near (the edge)
        rec("m", CLOCK, 0.5),  # far: a naive bar/10 rule would call it near
        rec("m", CLOCK, 0.9999, success=False),  # met the bar, failed another clause: near
    ]
    s = summarise(recs)[0]
    assert s["near_misses"] == 3
    # a share close to 1 is shown to 3 digits, enough to tell 0.99 from 0.999
    assert matrix_cell(recs) == "1/5 · 0.995 [0.5–1] ≈3"


def test_near_miss_higher_is_better_beyond_one():
    bar = parse_bar("score >= 20 on the test set", "score")
    assert bar == Bar("score", 20.0, ">=") and not bar.share
    task = ("game", "score", "score >= 20 on the test set")
    recs = [rec("m", task, v) for v in (25.0, 3.0, 2.0, 1.9)]
    assert [r["success"] for r in recs] == [True, False, False, False]
    assert near_misses(recs, bar) == 2  # 3 and 2 are within a factor 10 (>= 2); 1.9 is not


def test_no_numeric_bar_no_near_misses():
    recs = [rec("m", NOISY, 4.0, success=False), rec("m", NOISY, 0.5, success=True)]
    s = summarise(recs)[0]
    assert s["success_bar"] is None and s["near_misses"] == 0
    assert matrix_cell(recs) == "1/2 · 2.2 [0.5–4]"
    assert headline_matrix(summarise(recs)).rows[0][1] == "efficiency"


def test_near_misses_are_in_the_success_table_note_not_the_count():
    recs = [rec("m", TONE, 2e-4), rec("m", TONE, 5e-4), rec("m", TONE, 1e-6)]
    table = success_table(summarise(recs), show_env=False)
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["success"] == "1/3"
    assert "2 near miss(es) within 10x of the bar" in row["note"]


# -- untuned runs are marked ------------------------------------------------------------------

UNTUNED = {"settings": "untuned", "params": {}, "why": "no tuned settings for this family"}


def test_untuned_cells_are_marked_and_counted():
    recs = [rec("siren", TONE, 1e-6, tuning=UNTUNED) for _ in range(2)]
    recs += [rec("fft", TONE, 1e-20, tuning={})]
    recs += [rec("siren", WAVE, None, status="skipped", tuning=UNTUNED)]  # ran nothing
    summaries = summarise(recs)
    table = headline_matrix(summaries)
    row = table.rows[[r[0] for r in table.rows].index("tone")]
    assert row[table.columns.index("siren")].endswith(" §")
    assert not row[table.columns.index("fft")].endswith("§")
    assert "§: ran untuned (2 runs)" in table.about
    rows = success_table(summaries, False)
    note = dict(zip(rows.columns, rows.rows[1], strict=True))
    assert note["method"] == "siren" and "2 seed(s) ran untuned" in note["note"]
    rep = build_report(recs, [])
    assert any(line.startswith("2 of 4 records ran untuned") for line in rep.intro)
    tuning = dict(rep.notes)["Tuning"]
    assert any("2 record(s) ran untuned" in item for item in tuning)


def test_no_untuned_no_mark():
    recs = [rec("siren", TONE, 1e-6, tuning={"settings": "tuned", "params": {"lr": 1e-3}})]
    table = headline_matrix(summarise(recs))
    assert "§" not in table.rows[0][2] and "untuned" not in table.about
    assert not any("untuned" in line for line in build_report(recs, []).intro)


# -- the fixed-target ECDF --------------------------------------------------------------------


def ecdf_example() -> list[dict[str, Any]]:
    """Two tasks with a lower-is-better bar (tone 1e-4, wave 1e-2), one with a higher-is-better
    bar (clock) and one without a numeric bar (noisy tone): only tone and wave take part."""
    return [
        rec("A", TONE, 1e-7, seconds=2.0, seed=0),  # meets all five targets, at 2 s
        rec("A", TONE, 5e-4, seconds=4.0, seed=1),  # meets bar x100 and bar x10, at 4 s
        rec("A", WAVE, None, status="timeout", seconds=10.0, seed=0),  # nothing
        rec("A", WAVE, 0.5, seconds=1.0, seed=1),  # meets bar x100 (< 1) only, at 1 s
        rec("B", TONE, 1e-3, seconds=0.5, seed=0),  # bar x100; not bar x10 (< is strict)
        rec("B", TONE, None, status="skipped", seed=1),  # nothing
        # B never ran the wave: its two seeds there count as reaching nothing
        rec("C", CLOCK, 1.0, seed=0),  # only tasks outside the ECDF: C is left out
        rec("A", NOISY, 0.1, seed=0),
    ]


def test_ecdf_shares_by_hand():
    e = ecdf_runs(ecdf_example())
    assert e is not None and e.tasks == ["tone", "wave"]
    assert sorted(e.hits) == ["A", "B"] and e.ran == {"A": 2, "B": 1}
    # 2 tasks x 2 seeds x 5 targets for every method
    assert len(e.hits["A"]) == len(e.hits["B"]) == 20
    assert sorted(t for t in e.hits["A"] if math.isfinite(t)) == [1.0] + [2.0] * 5 + [4.0] * 2
    assert e.share("A") == pytest.approx(8 / 20)
    assert e.share("A", 1.0) == pytest.approx(1 / 20)
    assert e.share("A", 3.0) == pytest.approx(6 / 20)
    assert e.share("B") == pytest.approx(1 / 20) and e.share("B", 0.4) == 0
    # per target, over (task, seed) pairs: bar x100, x10, bar, /10, /100
    assert e.levels["A"] == pytest.approx([3 / 4, 2 / 4, 1 / 4, 1 / 4, 1 / 4])
    assert e.levels["B"] == pytest.approx([1 / 4, 0, 0, 0, 0])


def test_ecdf_table_rows():
    table = ecdf_table(ecdf_runs(ecdf_example()))
    assert table is not None
    rows = {r[0]: dict(zip(table.columns, r, strict=True)) for r in table.rows}
    assert [r[0] for r in table.rows] == ["A", "B"]  # most reached first
    a = rows["A"]
    assert (a["tasks run"], a["triples"], a["all"]) == ("2/2", "20", "40%")
    assert [a[c] for c in ("bar×100", "bar×10", "bar", "bar/10", "bar/100")] == [
        "75%", "50%", "25%", "25%", "25%"
    ]  # fmt: skip
    assert (a["by 1 s"], a["by 10 s"], a["by 100 s"]) == ("5%", "40%", "40%")
    assert (rows["B"]["tasks run"], rows["B"]["all"]) == ("1/2", "5%")
    assert "final headline metric" in table.about


def test_ecdf_left_out_without_a_lower_is_better_bar():
    assert ecdf_runs([rec("m", CLOCK, 1.0), rec("m", NOISY, 0.3)]) is None
    assert ecdf_table(None) is None
    # tuning trials are not benchmark runs
    assert ecdf_runs([rec("m", TONE, 1e-6, purpose="tune")]) is None


def test_ecdf_table_and_matrix_in_the_markdown():
    rep = build_report(ecdf_example(), [])
    md = render_markdown(rep)
    assert md.index("## Success by method and task") < md.index("## Success rate")
    assert "## Across tasks: targets reached (fixed-target ECDF)" in md
    assert "| A | 2/2 | 20 | 75% |" in md
    tex = render_latex(rep)
    assert "$\\cdot$" in tex and "bar$\\times$100" in tex


def test_ecdf_figure_is_drawn(tmp_path: Path):
    from bench.report.plotkit import method_styles
    from bench.report.plots import ecdf_figure

    recs = ecdf_example()
    fig = ecdf_figure(recs, method_styles(recs), tmp_path, svg=False)
    assert fig is not None and fig.png.exists() and fig.png.stat().st_size > 0
    assert "total time" in fig.caption and "never otherwise" in fig.caption
    # nothing reached: nothing to draw
    none = [rec("A", TONE, 0.9)]
    assert ecdf_figure(none, method_styles(none), tmp_path, svg=False) is None


# -- the tuning table: per family and per task, with grid edges ----------------------------------


def trials() -> list[dict[str, Any]]:
    return [rec("siren[lr=0.001,settings=trial]", TONE, 1e-3, purpose="tune")]


def chosen(**extra: Any) -> dict[str, Any]:
    base = {
        "params": {"lr": 0.001, "w0": 30.0},
        "mean_rank": 1.0,
        "paper_mean_rank": 2.5,
        "is_paper": False,
        "scores": {"tone[cycles=1]": 1e-6, "tone[cycles=10]": 2e-3},
        "paper_scores": {"tone[cycles=1]": 1e-3, "tone[cycles=10]": 0.4},
        "tasks": ["tone[cycles=1]", "tone[cycles=10]"],
        "trials": 12,
        "seconds": 30.0,
    }
    return base | extra


def test_tuning_table_old_structure_families_only():
    old = {"siren": {"paper": {"lr": 1e-4, "w0": 30.0}, "families": {"tone": chosen()}}}
    table = tuning_trials_table(trials(), lambda _: old)
    assert table is not None and len(table.rows) == 1
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["tuned for"] == "family tone" and row["grid edge"] == "-"
    assert row["chosen"] == "lr=0.001, w0=30.0" and row["trials"] == "12"
    assert row["validation score (per tuning task)"] == "1.00e-06; 0.002"


def test_tuning_table_new_structure_families_and_tasks():
    edges = {"lr": "high edge", "w0": "interior"}
    new = {
        "siren": {
            "paper": {"lr": 1e-4, "w0": 30.0},
            "families": {"tone": chosen(edges=edges, extended=["lr"], seeds=3)},
            "tasks": {
                "tone[cycles=10]": chosen(edges={"lr": "interior", "w0": "single"}, seeds=1),
                "tone[cycles=1]": chosen(is_paper=True),  # no grid recorded
            },
        }
    }
    table = tuning_trials_table(trials(), lambda _: new)
    rows = [dict(zip(table.columns, r, strict=True)) for r in table.rows]
    assert [r["tuned for"] for r in rows] == [
        "family tone", "task tone[cycles=1]", "task tone[cycles=10]"
    ]  # fmt: skip
    assert rows[0]["grid edge"] == "lr: high edge, extended; w0: interior"
    assert rows[0]["trials"] == "12 (3 seeds each)"
    assert rows[1]["grid edge"] == "-" and rows[1]["chosen"].endswith("(= paper)")
    assert rows[2]["grid edge"] == "lr: interior; w0: single"
    assert rows[2]["trials"] == "12 (1 seed each)"
    assert "grid edge" in table.columns and "'extended'" in table.about


def test_tuning_table_needs_trials_and_a_choice():
    assert tuning_trials_table([rec("m", TONE, 1e-6)], lambda _: {}) is None
    assert tuning_trials_table(trials(), None) is None
