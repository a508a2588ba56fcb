"""The real-series competition section on synthetic records: its numbers against hand
computations, the marks of the score table, and its place in the report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from bench.report import build_report, render_markdown
from bench.report.competition import (
    BEST,
    DECLINED,
    FAILED,
    NOTES_TITLE,
    WORSE,
    compete,
    competition_tables,
    fmt2,
    geometric_mean_interval,
    paired_p,
)

ENV = {"python": "3.11", "numpy": "2", "scipy": "1", "torch": "2", "device_name": "cpu"}
#: The best method's relative MAE at ten origins, and the factors of a method that only
#: wobbles around it (a little worse overall, not consistently).
GOOD = [0.5, 0.62, 0.71, 0.44, 0.93, 0.58, 0.66, 0.8, 0.52, 0.75]
WOBBLE = [1.1, 0.95, 1.08, 0.93, 1.02, 0.99, 1.06, 0.96, 1.01, 1.03]
EXTRAS = {
    "origin": 0.0,
    "horizon_samples": 24,
    "horizon_seasons": 2.0,
    "season": 12,
    "bar": "seasonal naive (12)",
    "sampling": "monthly",
    "calendar": [12.0],
    "series_label": "ten origins",
}


def rec(
    method: str,
    dataset: str,
    seed: int,
    rel: float | None = None,
    status: str = "ok",
    family: str = "real",
    **extra: Any,
) -> dict[str, Any]:
    """One record with the runner's keys; relative MAE and MASE made up."""
    metrics = {} if rel is None else {"rel_mae": rel, "mase": 2 * rel}
    r = {
        "run_key": f"{method}-{dataset}-{seed}-{family}",
        "method": method,
        "params": {},
        "task": f"{family}[dataset={dataset}]",
        "task_family": family,
        "task_params": {"dataset": dataset},
        "seed": seed,
        "profile": "quick",
        "purpose": "eval",
        "status": status,
        "reason": "",
        "success": None if status == "skipped" else (rel is not None and rel < 1),
        "metrics": metrics,
        "time": {} if status == "skipped" else {"train": 1.0, "total": 1.0, "batch_seeds": 1},
        "trace": [],
        "env": ENV,
        "headline": "rel_mae",
    }
    r.update(extra)
    return r


def records() -> list[dict[str, Any]]:
    """Series s10 (ten origins) with a best, a twice-as-bad, a wobbling, a declining and a
    crashing method; series s3 (three origins) with two identical methods and a bad one; and
    records the section must ignore: another family and a tuning trial."""
    out = []
    for i, g in enumerate(GOOD):
        extras = {**EXTRAS, "origin": 100.0 + i}
        out.append(rec("good", "s10", i, g, extras=extras))
        out.append(rec("bad", "s10", i, 2 * g, extras=extras))
        out.append(rec("wobbly", "s10", i, g * WOBBLE[i], extras=extras))
        out.append(rec("skipper", "s10", i, status="skipped", reason="needs a sampler"))
        out.append(rec("crasher", "s10", i, status="error", reason="boom"))
    for i, g in enumerate(GOOD[:3]):
        out.append(rec("good", "s3", i, g))  # no extras: an older record
        out.append(rec("twin", "s3", i, g))
        out.append(rec("bad", "s3", i, 3 * g))
    out.append(rec("toner", "tone", 0, 0.1, family="tone"))
    out.append(rec("tuned-only", "s10", 0, 0.01, purpose="tune"))
    return out


@pytest.fixture(scope="module")
def comp():
    c = compete(records())
    assert c is not None
    return c


def test_geometric_mean_and_interval_by_hand():
    x = np.log(GOOD)
    half = sps.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    gm, lo, hi = geometric_mean_interval(GOOD)
    assert gm == pytest.approx(math.exp(x.mean()))
    assert lo == pytest.approx(math.exp(x.mean() - half))
    assert hi == pytest.approx(math.exp(x.mean() + half))
    assert geometric_mean_interval([0.8]) == (pytest.approx(0.8), None, None)
    with pytest.raises(ValueError):
        geometric_mean_interval([0.5, 0.0])


def test_series_gm_and_family_score(comp):
    e = comp.entries[("real[dataset=s10]", "good")]
    assert e.gm == pytest.approx(math.exp(np.log(GOOD).mean()))
    assert sorted(comp.tasks) == ["real[dataset=s10]", "real[dataset=s3]"]
    assert [comp.names[t] for t in comp.tasks] == ["s3", "s10"]  # natural order
    gm3 = math.exp(np.log(GOOD[:3]).mean())
    assert comp.family["good"] == pytest.approx(math.sqrt(e.gm * gm3))
    assert comp.beats["good"] == 2 and comp.beats["bad"] == 0


def test_best_and_paired_tests(comp):
    s10 = {m: comp.entries[("real[dataset=s10]", m)] for m in ("good", "bad", "wobbly")}
    assert s10["good"].best and not s10["bad"].best
    # twice as bad at every origin: every sign agrees, exact p = 2 / 2**10
    assert s10["bad"].p == pytest.approx(2 / 2**10) and s10["bad"].worse
    hand = sps.wilcoxon(np.log(WOBBLE)).pvalue
    assert s10["wobbly"].p == pytest.approx(hand) and hand > 0.05
    assert s10["wobbly"].gm > s10["good"].gm and not s10["wobbly"].worse
    # three origins cannot reach 0.05: no test, no mark
    assert comp.entries[("real[dataset=s3]", "bad")].p is None
    assert not comp.entries[("real[dataset=s3]", "bad")].worse
    assert paired_p(dict(enumerate(GOOD[:5])), dict(enumerate(GOOD[:5]))) is None


def test_ties_share_the_average_rank(comp):
    ranks = {m: comp.entries[("real[dataset=s3]", m)].rank for m in ("good", "twin", "bad")}
    assert ranks == {"good": 1.5, "twin": 1.5, "bad": 3.0}
    assert comp.mean_rank["good"] == pytest.approx((1 + 1.5) / 2)
    assert comp.mean_rank["bad"] == pytest.approx((3 + 3) / 2)
    assert comp.methods[:2] == ["good", "twin"]


def test_score_table_marks_and_declines(comp):
    score, series, detail = competition_tables(comp)
    cols = score.columns
    assert cols[:3] == ["method", "s3", "s10"]
    row = {r[0]: dict(zip(cols, r, strict=True)) for r in score.rows}
    assert row["good"]["s10"] == BEST + fmt2(comp.entries[("real[dataset=s10]", "good")].gm)
    assert row["bad"]["s10"].endswith(WORSE) and not row["bad"]["s3"].endswith(WORSE)
    assert WORSE not in row["wobbly"]["s10"]
    assert row["skipper"]["s10"] == DECLINED and row["crasher"]["s10"] == FAILED
    assert row["skipper"]["s3"] == "" and row["skipper"]["mean rank"] == "-"
    assert row["good"]["series < 1"] == "2/2"
    assert {"toner", "tuned-only"}.isdisjoint(row)
    notes = " ".join(comp.footnotes)
    assert "needs a sampler (skipper on s10)" in notes and "error: boom (crasher on s10)" in notes
    details = {(r[0], r[1]): r for r in detail.rows}
    assert details[("s3", "bad")][-1] == "n/a" and details[("s10", "good")][-1] == "best"
    assert details[("s10", "crasher")][2] == "0 (+10 failed)"


def test_series_table_reads_extras_and_tolerates_old_records(comp):
    _, series, _ = competition_tables(comp)
    rows = {r[0]: dict(zip(series.columns, r, strict=True)) for r in series.rows}
    s10 = rows["s10"]
    assert (s10["season"], s10["horizon (samples)"], s10["calendar seasons"]) == ("12", "24", "12")
    assert (s10["origins (seeds)"], s10["distinct origins"], s10["bar"]) == (
        "10",
        "10",
        "seasonal naive (12)",
    )
    assert set(rows["s3"].values()) <= {"s3", "-", "3"}


def test_failed_origins_are_counted_not_averaged():
    recs = [rec("m", "x", i, v) for i, v in enumerate([0.5, 0.8, math.inf, -1.0])]
    recs.append(rec("m", "x", 4, status="timeout"))
    c = compete(recs)
    e = c.entries[("real[dataset=x]", "m")]
    assert e.gm == pytest.approx(math.sqrt(0.5 * 0.8)) and e.failed == 3
    assert competition_tables(c)[2].rows[0][2] == "2 (+3 failed)"
    assert any("(1 of 5 origins)" in line for line in c.footnotes)


def test_no_real_records_no_section():
    assert compete([rec("toner", "tone", 0, 0.1, family="tone")]) is None


def test_report_carries_the_section():
    rep = build_report(records(), [Path("synthetic")])
    md = render_markdown(rep)
    for title in (
        "Real series: geometric mean relative MAE over forecast origins",
        "Real series: the series, their horizons and benchmarks",
        "Real series: per-series detail",
        NOTES_TITLE,
    ):
        assert f"## {title}" in md
    assert "needs a sampler" in dict(rep.notes)[NOTES_TITLE][0]
    plain = build_report([rec("toner", "tone", 0, 0.1, family="tone")], [Path("x")])
    assert not any(t.key.startswith("real_") for t in plain.tables)


def test_fmt2():
    assert [fmt2(v) for v in (0.871, 0.996, 1.04, 12.3, 0.0871, None)] == [
        "0.87",
        "1.0",
        "1.0",
        "12",
        "0.087",
        "-",
    ]


def test_findings_block_is_regenerated_from_records(tmp_path: Path) -> None:
    """``bench report DIR --findings FILE`` rewrites only the real-series block, from records."""
    import json

    from bench.report import update_findings

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "records.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records()), encoding="utf-8"
    )
    findings = tmp_path / "FINDINGS.md"
    findings.write_text(
        "# Findings\nbefore\n<!-- real-series:start -->\nstale\n<!-- real-series:end -->\nafter\n",
        encoding="utf-8",
    )
    update_findings(findings, [folder])
    text = findings.read_text(encoding="utf-8")
    assert "stale" not in text and text.startswith("# Findings\nbefore\n") and "after" in text
    assert "| good |" in text and "1. `twin`" in text  # the lowest family score leads
    update_findings(findings, [folder])
    assert findings.read_text(encoding="utf-8") == text  # the same records, the same block
    findings.write_text("no markers", encoding="utf-8")
    with pytest.raises(ValueError, match="no <!-- real-series:start -->"):
        update_findings(findings, [folder])
    # A folder's own block takes its headline success matrix; the real block is then optional.
    findings.write_text("x\n<!-- run:run:start -->\nold\n<!-- run:run:end -->\ny\n", "utf-8")
    update_findings(findings, [folder])
    text = findings.read_text(encoding="utf-8")
    assert "old" not in text and text.startswith("x\n") and text.endswith("y\n")
    assert "| task | headline (bar) |" in text and f"--findings {tmp_path.name}/FINDINGS.md" in text
