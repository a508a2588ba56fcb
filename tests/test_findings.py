"""FINDINGS cannot go stale: every number quoted there is recomputed from the committed records
(``bench.report.quotes``), and a changed record makes this fail."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.app.publish import PLAN, load_plan
from bench.core.record import finished_at
from bench.report import publish as render
from bench.report import quotes as q
from bench.report.publish import update_findings, update_readme

RESULTS = Path(__file__).resolve().parent.parent / "results"
FINDINGS = RESULTS / "FINDINGS.md"


def test_every_quoted_number_in_findings_is_what_the_records_give() -> None:
    text = FINDINGS.read_text(encoding="utf-8")
    assert q.quotes(text), "FINDINGS quotes no number from the records"
    assert q.check(text, RESULTS) == []


def test_every_number_the_readme_quotes_is_what_the_records_give() -> None:
    """The README's timings of the published runs are quotes of their folders too."""
    readme = RESULTS.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    planned = {f"results/{f.name}" for f in load_plan(RESULTS / PLAN)}
    assert "results/sweep-quick-cpu" in {x.folder for x in q.quotes(text)} <= planned
    assert q.check(text, readme.parent) == []


def test_a_quote_in_a_code_span_is_an_example_not_a_quote(folder: Path) -> None:
    """Documentation shows the syntax in a code span, across a line break too: it is neither
    filled nor checked, and an example without its close is no error."""
    doc = (
        "Write `<!--q FOLDER METHOD\nTASK FIELD-->9 of 20<!--/q-->` or `<!--q tones`; "
        "here: <!--q tones esprit close-tones[sep=0.25] successes-->?<!--/q-->."
    )
    filled = q.fill(doc, folder.parent)
    assert [x.spec for x in q.quotes(filled)] == ["tones esprit close-tones[sep=0.25] successes"]
    assert "`<!--q FOLDER METHOD\nTASK FIELD-->9 of 20<!--/q-->`" in filled
    assert "?" not in filled and q.check(filled, folder.parent) == []


def test_every_generated_block_is_what_the_records_give() -> None:
    """Each folder's success matrix and real-series block in FINDINGS, generated again from the
    committed records, is the block the file holds: no table there can go stale either."""
    text = FINDINGS.read_text(encoding="utf-8")
    folders = render.findings_folders(text, RESULTS)
    assert {f.name for f in folders} >= {"close-tones-cpu", "real-series-cpu"}
    fresh = render.render_findings(text, FINDINGS, folders)
    stale = [(a, b) for a, b in zip(text.splitlines(), fresh.splitlines(), strict=False) if a != b]
    assert fresh == text, f"stale lines (file, records): {stale[:3]}"


def test_a_block_is_drawn_from_the_folder_it_names_only(folder: Path) -> None:
    """A real-series block names its folder: another folder's real records (a network sweep
    on the real series) never overwrite it."""
    doc = folder.parent / "FINDINGS.md"
    start, end = render.real_markers(Path("real-series-cpu"))
    doc.write_text(f"x\n{start}\nthe competition\n{end}\n<!--q tones * * records-->0<!--/q-->\n")
    update_findings(doc, [folder])
    text = doc.read_text()
    assert "the competition" in text and "<!--q tones * * records-->480<!--/q-->" in text


def test_a_period_search_block_is_drawn_from_its_folders_measurements(folder: Path) -> None:
    """The period search's cost (``benchmarks/period_search.py``'s ``period-search.json``, a
    script's output in the folder) is a generated block of FINDINGS, not typed numbers."""
    doc = folder.parent / "FINDINGS.md"
    start, end = render.period_search_markers(folder)
    doc.write_text(f"the cost\n{start}\n0.1 s, typed\n{end}\n")
    with pytest.raises(ValueError, match="no period-search.json"):
        update_findings(doc, [folder])
    measured = {
        "samples": 1024,
        "repeats": 3,
        "nothing_to_find": [{"largest_period_searched": 4999, "seconds": 0.0912}],
        "period_found": [{"period": 96, "found": 97, "exact": False, "seconds": 1.234}],
    }
    (folder / "period-search.json").write_text(json.dumps(measured))
    (folder / "period-search.png").write_bytes(b"")
    update_findings(doc, [folder])
    text = doc.read_text()
    block = text[text.index(start) : text.index(end)]
    assert "0.1 s, typed" not in block and "from its `period-search.json`" in block
    assert "| 4,999 | 0.09 |" in block and "| 96 | 97 | no | 1.23 |" in block
    assert "![" not in block and "\n\n\n" not in block  # the figure is the prose's to place


def test_every_quote_names_a_folder_of_the_plan() -> None:
    planned = {f.name for f in load_plan(RESULTS / PLAN)}
    named = {x.folder for x in q.quotes(FINDINGS.read_text(encoding="utf-8"))}
    assert named <= planned


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of close-tones-cpu's records, unzipped so a test can change them."""
    out = tmp_path / "results" / "tones"
    out.mkdir(parents=True)
    shutil.copy(RESULTS / "close-tones-cpu" / "manifest.json", out)
    with gzip.open(RESULTS / "close-tones-cpu" / "records.jsonl.gz", "rt") as src:
        (out / "records.jsonl").write_text(src.read())
    return out


DOC = (
    "ESPRIT passes <!--q tones esprit close-tones[sep=0.25] successes-->?<!--/q--> seeds, "
    "median <!--q tones esprit close-tones[sep=0.25] headline_median-->?<!--/q--> bounds; "
    "the FFT estimate <!--q tones fft * successes-->?<!--/q--> (commit "
    "<!--q tones * * commit-->?<!--/q-->, <!--q tones * * records:,d-->?<!--/q--> records; "
    "ESPRIT found <!--q tones esprit * metric.tones_found.range-->?<!--/q--> tones in "
    "<!--q tones esprit * time.total.median:.0e-->?<!--/q--> s, with pencils up to "
    "<!--q tones esprit * param.max_pencil.max-->?<!--/q-->).\n"
)


def _filled(folder: Path) -> str:
    return q.fill(DOC, folder.parent)


def _raw(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]


def test_fill_writes_each_number_from_the_records(folder: Path) -> None:
    """Each quote is what the raw records say, counted here without the report's code."""
    records = _raw(folder)
    esprit = [r for r in records if r["method"] == "esprit"]
    near = [r for r in esprit if r["task"] == "close-tones[sep=0.25]"]
    fft = [r for r in records if r["method"] == "fft"]
    efficiency = sorted(r["metrics"]["efficiency"] for r in near)
    median = (efficiency[9] + efficiency[10]) / 2  # 20 seeds
    tones = [r["metrics"]["tones_found"] for r in esprit]
    envs = json.loads((folder / "manifest.json").read_text())["environments"].values()
    want = [
        f"{sum(r['success'] for r in near)} of {len(near)}",
        q.number(median),
        f"{sum(r['success'] for r in fft)} of {len(fft)}",
        ", ".join(sorted({e["git_commit"][:7] for e in envs})),
        f"{len(records):,}",
        f"{q.number(min(tones))} to {q.number(max(tones))}",
    ]
    text = _filled(folder)
    shown = [x.text for x in q.quotes(text)]
    assert shown[:6] == want
    seconds = float(np.median([r["time"]["total"] for r in esprit]))
    assert shown[6] == q.number(seconds, ".0e") and abs(float(shown[6]) / seconds - 1) < 0.5
    assert shown[7] == q.number(max(r["method_params"]["max_pencil"] for r in esprit))
    assert q.check(text, folder.parent) == []
    assert q.check(DOC, folder.parent)[0].endswith(f"the records give '{want[0]}'")


def test_a_changed_record_makes_the_check_fail(folder: Path) -> None:
    text = _filled(folder)
    lines = (folder / "records.jsonl").read_text().splitlines()
    changed = []
    for line in lines:
        r = json.loads(line)
        if r["method"] == "esprit" and r["task"] == "close-tones[sep=0.25]":
            r["metrics"]["efficiency"] *= 10
        changed.append(json.dumps(r))
    (folder / "records.jsonl").write_text("\n".join(changed) + "\n")
    problems = q.check(text, folder.parent)
    assert len(problems) == 1 and "headline_median" in problems[0]


def test_a_quote_reads_a_records_extras_and_its_ceiling(folder: Path) -> None:
    """Numbers a task records beside its metrics (``extras``) and what its ceiling, a perfect
    predictor, would score are quoted like any metric."""
    lines = []
    for i, line in enumerate((folder / "records.jsonl").read_text().splitlines()):
        r = json.loads(line)
        r["extras"] = {"day_length": 1000 + i, "label": "not a number"}
        r["ceiling"] = {"metrics": {"exact_match": 0.5 + i / 10_000}, "success_possible": True}
        lines.append(json.dumps(r))
    (folder / "records.jsonl").write_text("\n".join(lines) + "\n")
    doc = (
        "<!--q tones * * extras.day_length.range:,d-->?<!--/q--> "
        "<!--q tones * * ceiling.exact_match.min-->?<!--/q-->"
    )
    shown = [x.text for x in q.quotes(q.fill(doc, folder.parent))]
    assert shown == [f"1,000 to {999 + len(lines):,}", "0.5"]
    with pytest.raises(ValueError, match="no record has a finite extras value label"):
        q.fill("<!--q tones * * extras.label.max-->?<!--/q-->", folder.parent)


def test_a_quote_counts_the_runs_that_ran_untuned(folder: Path) -> None:
    """``untuned`` sums, over every (method, task) pair a quote names, the runs of a tunable
    method that found no tuned settings and ran with its defaults."""
    lines = []
    marked = 0
    for line in (folder / "records.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["method"] == "esprit" and r["status"] != "skipped" and r["seed"] % 2 == 0:
            r["tuning"] = {"settings": "untuned", "params": {}, "why": "no tuned settings"}
            marked += 1
        lines.append(json.dumps(r))
    (folder / "records.jsonl").write_text("\n".join(lines) + "\n")
    doc = "<!--q tones * * untuned-->?<!--/q--> <!--q tones fft * untuned-->?<!--/q-->"
    shown = [x.text for x in q.quotes(q.fill(doc, folder.parent))]
    assert marked > 0 and shown == [str(marked), "0"]


def test_a_json_quote_reads_a_number_a_folders_script_wrote(folder: Path) -> None:
    """Measurements that are not records (a script's speed figures) are quoted from their JSON
    file by keys and list positions, and a changed figure makes the check fail."""
    figures = {
        "figures": {"fft_s": 0.12345, "ratio": 98.6, "err": None},
        "band": [{"n": 10_000}],
        "environment": {"git_commit": "0123456789abcdef"},
    }
    (folder / "speed.json").write_text(json.dumps(figures))
    doc = (
        "<!--q tones json speed.json figures.fft_s:.3f-->?<!--/q--> s, "
        "<!--q tones json speed.json figures.ratio:.0f-->?<!--/q-->x at "
        "<!--q tones json speed.json band.0.n-->?<!--/q--> samples, error "
        "<!--q tones json speed.json figures.err:+.2f-->?<!--/q--> (no tone), commit "
        "<!--q tones json speed.json environment.git_commit:.7s-->?<!--/q-->"
    )
    filled = q.fill(doc, folder.parent)
    assert [x.text for x in q.quotes(filled)] == ["0.123", "99", "10,000", "-", "0123456"]
    figures["figures"]["ratio"] = 50.0
    (folder / "speed.json").write_text(json.dumps(figures))
    assert len(q.check(filled, folder.parent)) == 1
    for spec, message in [
        ("tones json other.json figures.fft_s", "no file"),
        ("tones json speed.json figures.colour", "has no figures.colour"),
        ("tones json speed.json band.1.n", "has no band.1.n"),
        ("tones json speed.json figures", "not a number"),
        ("tones json ../tones/speed.json figures.ratio", "not a file of tones"),
        ("tones json speed.json figures.ratio:,d", "quote 'tones json speed.json figures.ratio"),
    ]:
        with pytest.raises(ValueError, match=message):
            q.fill(f"<!--q {spec}-->?<!--/q-->", folder.parent)


def test_report_findings_writes_the_quotes_of_its_folders(folder: Path) -> None:
    doc = folder.parent / "FINDINGS.md"
    doc.write_text("# Findings\n\n" + DOC)
    update_findings(doc, [folder])
    assert q.check(doc.read_text(), folder.parent) == []
    assert "9 of 20" in doc.read_text()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("<!--q tones esprit-->1<!--/q-->", "expected FOLDER METHOD TASK FIELD"),
        ("<!--q nowhere esprit * successes-->1<!--/q-->", "lacks"),
        ("<!--q tones nobody * successes-->1<!--/q-->", "no records"),
        ("<!--q tones esprit * headline_median-->1<!--/q-->", "3 (method, task) pairs"),
        ("<!--q tones esprit close-tones[sep=1] colour-->1<!--/q-->", "no field colour"),
        ("<!--q tones esprit * metric.efficiency.mode-->1<!--/q-->", "STAT one of"),
        ("<!--q tones esprit * metric.colour.max-->1<!--/q-->", "no record has"),
        ("<!--q tones esprit * series.beats-->1<!--/q-->", "no real-series standing"),
    ],
)
def test_a_bad_quote_is_reported(folder: Path, spec: str, message: str) -> None:
    try:
        problems = q.check(spec, folder.parent)
    except ValueError as exc:
        problems = [str(exc)]
    assert len(problems) == 1 and message in problems[0]


def test_an_unclosed_quote_is_refused_before_any_prose_is_lost(folder: Path) -> None:
    doc = "a <!--q tones * * records-->0 and\n## A heading\n<!--q tones * * runs-->0<!--/q-->"
    with pytest.raises(ValueError, match="not closed"):
        q.fill(doc, folder.parent)


def test_numbers_are_written_as_the_tables_write_them() -> None:
    cases = [(20, "20"), (3.8394, "3.8"), (702.3, "700"), (1543.2, "1,500"), (1.6e-5, "1.6e-5")]
    assert [q.number(v) for v, _ in cases] == [want for _, want in cases]
    assert q.number((0.15, 3.5)) == "0.15 to 3.5" and q.number(0.45, ".0%") == "45%"
    assert q.number(99.96) == "100" and q.number(float("inf")) == "inf"


def test_a_star_in_a_quote_stands_for_any_text_brackets_included() -> None:
    assert q._matches("tone[cycles=*]", "tone[cycles=30]")
    assert q._matches("clock[encoding=*64,span=120y]", "clock[encoding=int64,span=120y]")
    assert not q._matches("tone[cycles=*]", "noisy-tone[snr_db=0]")
    assert q._matches("fft", "fft") and not q._matches("fft", "fft[pad=2]")
    assert q.STATS["rms"]([3.0, 4.0]) == pytest.approx((12.5) ** 0.5)
    assert q.STATS["sum"]([1.0, 0.0, 1.0]) == 2 and set(q.VALUES) >= {"record", "final"}


def test_a_quote_the_records_no_longer_give_keeps_its_text_when_asked(folder: Path) -> None:
    """Publishing a folder that no longer holds a quoted method: the other quotes are written,
    that one keeps its text and is listed, so the prose can be revised (by default, an error)."""
    gone = "<!--q tones siren * successes-->2 of 3<!--/q-->"
    doc = folder.parent / "FINDINGS.md"
    doc.write_text(f"# Findings\n\n{DOC}SIREN passed {gone} seeds.\n")
    with pytest.raises(ValueError, match="no records"):
        update_findings(doc, [folder])
    unresolved: list[str] = []
    update_findings(doc, [folder], unresolved)
    text = doc.read_text()
    assert "9 of 20" in text and gone in text
    assert len(unresolved) == 1 and "tones siren * successes" in unresolved[0]
    assert q.check(text, folder.parent) == unresolved


def test_wall_is_the_span_from_the_first_start_to_the_last_finish(folder: Path) -> None:
    records = _raw(folder)
    ends = [finished_at(r) for r in records]
    starts = [e - r["time"]["total"] for e, r in zip(ends, records, strict=True)]
    text = q.fill("<!--q tones * * wall:,d-->?<!--/q--> s", folder.parent)
    assert text.split("-->")[1].split("<")[0] == f"{round(max(ends) - min(starts)):,}"


def test_readme_quotes_name_their_folder_by_its_path_and_are_written_with_the_table(
    folder: Path,
) -> None:
    """`report FOLDER --readme README.md` writes the README's quotes of FOLDER too."""
    readme = folder.parent.parent / "README.md"
    readme.write_text(
        "The sweep: <!--q results/tones * * records:,d-->?<!--/q--> records.\n\n"
        "<!-- results-table:start -->\n<!-- results-table:end -->\n"
    )
    update_readme(readme, [folder])
    text = readme.read_text()
    assert f"-->{len(_raw(folder)):,}<!--/q--> records" in text
    assert q.check(text, readme.parent) == []
