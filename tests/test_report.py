"""The report on synthetic records: every format, every figure, and the awkward cases (skipped,
timed out, impossible by representation, corrupt lines, mixed environments)."""

import csv
import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import report
from bench.cli import build_parser, main
from bench.core.naming import natural_key
from bench.engine.store import load_records
from bench.report import landscape
from bench.report.records import headline_of, latest_per_run, seconds_per_1k_steps
from bench.report.render import latex_escape
from bench.report.summaries import snr_points

ENV = {
    "python": "3.11.7",
    "numpy": "2.4.0",
    "scipy": "1.17.0",
    "torch": "2.13.0+cpu",
    "device_name": "Test CPU",
    "git_commit": "abc123",
    "timestamp": "2026-01-01T00:00:00+0000",
}
_counter = iter(range(10**6))


def rec(
    method: str,
    task: str,
    seed: int = 0,
    status: str = "ok",
    success: bool | None = False,
    metrics: dict[str, Any] | None = None,
    trace: list[list[Any]] | None = None,
    family: str | None = None,
    task_params: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One record with the runner's keys; times and trace made up."""
    r = {
        "run_key": f"k{next(_counter)}",
        "method": method,
        "params": {},
        "task": task,
        "task_family": family or task.split("[")[0],
        "task_params": task_params or {},
        "seed": seed,
        "profile": "quick",
        "status": status,
        "reason": extra.pop("reason", ""),
        "success": None if status == "skipped" else success,
        "metrics": metrics or {},
        "time": {}
        if status == "skipped"
        else {"train": 2.0, "predict": 0.01, "total": 2.01, "batch_seeds": 1},
        "trace": trace or [],
        "env": env or ENV,
    }
    r.update(extra)
    return r


def decaying(rate: float, n: int = 60) -> list[list[float]]:
    return [[10 * (i + 1), 0.1 * (i + 1), float(rate ** (i + 1))] for i in range(n)]


def suite() -> list[dict[str, Any]]:
    """A small but complete picture: every table and every figure has something to show."""
    out = []
    for s in range(5):
        good = s < 3  # 3/5 for "fast"
        out.append(
            rec(
                "fast",
                "sin31",
                s,
                success=good,
                trace=decaying(0.7 if good else 0.999),
                metrics={
                    "test_mse": 1e-8 if good else 0.9,
                    "final_loss": 1e-9,
                    "samples": 6400,
                    "n_params": 1,
                },
                headline="test_mse",
                loss_target=1e-4,
            )
        )
        out.append(
            rec(
                "slow",
                "sin31",
                s,
                success=False,
                trace=decaying(0.999),
                metrics={"test_mse": 1.0, "samples": 6400, "n_params": 1},
                headline="test_mse",
                loss_target=1e-4,
            )
        )
    out.append(rec("slow", "sin31", 5, status="timeout", reason="time budget exceeded"))
    out.append(rec("fast", "multitone[k=3]", 0, status="skipped", reason="3 outputs; no"))
    # multitone without a stored headline: the family decides (test_nmse)
    out.append(
        rec(
            "slow",
            "multitone[k=3]",
            0,
            success=True,
            metrics={"test_nmse": 0.01},
            task_params={"k": 3},
        )
    )
    for cycles, p_fast in ((1, 3), (10, 2), (100, 0)):
        for s in range(3):
            for m, wins in (("fast", p_fast), ("slow", 1 if cycles == 1 else 0)):
                out.append(
                    rec(
                        m,
                        f"tone[cycles={cycles}]",
                        s,
                        success=s < wins,
                        task_params={"cycles": cycles},
                        metrics={"test_mse": 0.5},
                    )
                )
    for snr in (0, 10, 20):
        for s in range(3):
            crlb = 1e-3 * 10 ** (-snr / 20)
            for m, factor in (("fast", 1.5), ("slow", 20.0)):
                out.append(
                    rec(
                        m,
                        f"noisy-tone[snr_db={snr}]",
                        s,
                        success=factor < 2,
                        task_params={"snr_db": snr},
                        metrics={
                            "freq_error": factor * crlb,
                            "crlb_std": crlb,
                            "efficiency": factor,
                        },
                    )
                )
    for s in range(2):
        out.append(
            rec(
                "fast",
                "clock[encoding=float32,span=120y]",
                s,
                success=False,
                family="clock",
                metrics={"exact_match": 1e-5},
                extras={
                    "representable": False,
                    "distinct_inputs": 147_025_761,
                    "distinct_seconds": 3_786_912_001,
                },
            )
        )
    return out


def write_records(folder: Path, records: list[dict[str, Any]], junk: list[str] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in records]
    for i, j in enumerate(junk):
        lines.insert(2 + i, j)
    (folder / "records.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """The whole suite, all formats, with plots; shared by several tests (drawing is slow-ish)."""
    d = write_records(tmp_path_factory.mktemp("res") / "run", suite())
    out = d / "report"
    written = report.write_reports([d], out, list(report.FORMATS), plots=True)
    return out, written


def test_all_formats_written(full_report):
    out, written = full_report
    for name in ("report.md", "report.html", "report.tex", "summary.csv", "runs.csv"):
        assert (out / name) in written and (out / name).stat().st_size > 0


def test_a_report_without_plots_keeps_the_figures_it_had(full_report, tmp_path):
    """Rewriting a report without --plots (its tables, or the blocks a findings file draws from
    it) leaves its figures section as drawn; --plots redraws it; a new report has none."""
    out = full_report[0]
    drawn = (out / "report.md").read_text()
    figures = drawn[drawn.index("\n## Figures\n") + 1 :]
    assert "![" in figures
    d = out.parent
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(d / "records.jsonl", again)
    (again / "report.md").write_text(drawn)
    report.write_reports([again], again, ["md"], plots=False)
    md = (again / "report.md").read_text()
    assert md.endswith(figures) and md.count("## Figures") == 1
    # Another folder's report in the output is not this report's: nothing is carried over.
    other = tmp_path / "other"
    other.mkdir()
    (other / "report.md").write_text(drawn)
    report.write_reports([again], other, ["md"], plots=False)
    assert "## Figures" not in (other / "report.md").read_text()


def test_markdown_success_table(full_report):
    md = (full_report[0] / "report.md").read_text()
    for title in ("Success rate", "Accuracy", "Convergence", "Cost", "performance profile"):
        assert title in md
    # 3/5 with its Wilson interval [23%, 88%]; the timeout counts as a failure of "slow"
    assert "| sin31 | fast | 5 | 5 ok | 3/5 | 60% | [23%, 88%] |" in md
    assert "| sin31 | slow | 6 | 5 ok, 1 timeout | 0/6 |" in md
    assert "1 timed out: time budget exceeded" in md  # worded by its status
    assert "skipped: 3 outputs; no" in md
    # the float32 clock is not an ordinary failure: no rate, the evidence instead
    assert (
        "| 0/2 | n/a | - | impossible by representation: 147,025,761 distinct inputs for "
        "3,786,912,001 seconds (3.9%) |" in md
    )
    assert "over the 8 task(s)" in md  # the impossible task is left out of the profile
    assert "![Performance profile](plots/performance_profile.png)" in md


def test_summary_numbers(full_report):
    rows = list(csv.DictReader((full_report[0] / "summary.csv").open()))
    by = {(r["method"], r["task"]): r for r in rows}
    assert len(rows) == len({(r["method"], r["task"]) for r in suite()})
    fast = by[("fast", "sin31")]
    assert float(fast["ci_low"]) == pytest.approx(0.23072, abs=1e-5)
    # 0.7^k <= 1e-4 first at k = 26 -> step 260, 2.6 s
    assert float(fast["steps_to_target"]) == 260
    assert float(fast["seconds_to_target"]) == pytest.approx(2.6)
    assert fast["reached"] == "3"
    assert float(fast["ert_seconds"]) == pytest.approx(5 * 2.01 / 3)
    assert by[("slow", "multitone[k=3]")]["headline"] == "test_nmse"
    assert by[("fast", "multitone[k=3]")]["verdict"] == "skipped"
    assert by[("fast", "clock[encoding=float32,span=120y]")]["verdict"] == (
        "impossible by representation"
    )
    runs = list(csv.DictReader((full_report[0] / "runs.csv").open()))
    assert len(runs) == len(suite()) and "metric_test_mse" in runs[0]


def test_latex_uses_booktabs_and_escapes(full_report):
    tex = (full_report[0] / "report.tex").read_text()
    # the success matrix leads, then the six tables
    assert tex.count("\\toprule") == tex.count("\\midrule") == tex.count("\\bottomrule") == 7
    body = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    assert "95\\% CI" in body and "test\\_mse" in body
    assert not re.search(r"(?<!\\)[%_#&](?! )", body.replace(" & ", " "))
    assert "{[}23\\%, 88\\%]" in body
    tables = re.findall(r"\\begin\{tabular\}\{(.*?)\}\n(.*?)\\end\{tabular\}", body, re.S)
    assert len(tables) == 7
    for spec, rows in tables:  # every row has as many cells as the column spec
        n_cols = len(re.findall(r"p\{[^}]*\}|[lrc]", spec))
        lines = [ln for ln in rows.splitlines() if ln.endswith("\\\\")]
        assert lines and all(len(re.findall(r"(?<!\\)&", ln)) == n_cols - 1 for ln in lines)


def test_latex_escape():
    assert latex_escape("a_b & 50% #1 {x} ~ ^ \\") == (
        r"a\_b \& 50\% \#1 \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}"
    )
    assert latex_escape("[1, 2]") == "{[}1, 2]"


def test_html_is_self_contained_with_images(full_report):
    page = (full_report[0] / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4  # profile, cycles, snr, convergence
    assert "<table>" in page and "impossible by representation" in page
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)  # nothing to fetch


def test_html_leads_with_the_success_matrix(full_report):
    page = (full_report[0] / "report.html").read_text()
    first = page[page.index("<table>") : page.index("</table>")]
    # tasks down (with their headline metric), methods across
    assert "<th>task</th><th>headline (bar)</th><th>fast</th><th>slow</th></tr>" in first
    # successes, then the median headline and its range over the judged seeds that finished
    cells = "<td>3/5 · 1.0e-08 [1.0e-08–0.9]</td><td>0/6 · 1</td>"
    assert f"<td>sin31</td><td>test_mse</td>{cells}" in first
    assert "<td>n/a</td>" in first and "<td>skip</td>" in first
    assert page.index('id="headline"') < page.index('id="success"')
    # the long per-(task, method) table is folded right below, inside <details>
    details = page[page.index("<details>") : page.index("</details>")]
    assert "<th>95% CI</th>" in details and "<td>[23%, 88%]</td>" in details
    assert page.index('id="success"') < page.index("<details>") < page.index('id="accuracy"')


def test_figures_drawn_and_small(full_report):
    plots = full_report[0] / "plots"
    names = {p.stem for p in plots.glob("*.png")}
    assert {
        "performance_profile",
        "convergence_sin31",
        "success_vs_cycles_tone",
        "freq_rmse_vs_snr_noisy-tone",
    } <= names
    assert {p.stem for p in plots.glob("*.svg")} == names
    assert max(p.stat().st_size for p in plots.glob("*.png")) < 300_000


def many_methods() -> list[dict[str, Any]]:
    """Eight methods (too many for one panel), one a spectral estimate that logs one point."""
    gradient = ["aa", "bb", "sgd[lr=1]", "sgd[lr=2]", "siren[w0=1]", "siren[w0=2]"]
    spectral = {"time": {"estimate": 0.01, "train": 0.01, "total": 0.02}}
    out = []
    for i, m in enumerate([*gradient, "oneshot", "hybrid"]):
        extra = spectral if m in ("oneshot", "hybrid") else {}
        for s in range(2):
            trace = [[1, 0.01, 1e-20]] if m == "oneshot" else decaying(0.9 + 0.01 * i, 30)
            out.append(
                rec(m, "sin31", s, success=m != "aa", trace=trace, loss_target=1e-3, **extra)
            )
            for cycles in (1, 10):
                out.append(
                    rec(
                        m,
                        f"tone[cycles={cycles}]",
                        s,
                        success=(s + i + cycles) % 3 == 0,
                        task_params={"cycles": cycles},
                        **extra,
                    )
                )
            for snr in (0, 10):
                out.append(
                    rec(
                        m,
                        f"noisy-tone[snr_db={snr}]",
                        s,
                        success=True,
                        task_params={"snr_db": snr},
                        metrics={"freq_error": 1e-3 * (i + 1), "crlb_std": 1e-3},
                        **extra,
                    )
                )
    return out


def test_plots_are_readable(tmp_path, monkeypatch):
    from matplotlib.colors import to_rgba

    from bench.report import plots

    drawn: dict[str, Any] = {}

    def keep(fig, out, name, svg=True):  # inspect each figure instead of writing it
        drawn[name] = fig
        return out / f"{name}.png", None

    monkeypatch.setattr(plots, "save", keep)
    recs = many_methods()
    figures = {f.name: f for f in plots.draw_all(recs, report.summarise(recs), tmp_path)}
    expected = {"performance_profile", "success_vs_cycles_tone", "freq_rmse_vs_snr_noisy-tone"}
    expected.add("convergence_sin31")  # the only task with traces
    assert set(drawn) == set(figures) == expected
    for name, fig in drawn.items():
        data_axes = [ax for ax in fig.axes if ax.get_legend_handles_labels()[1]]
        assert len(data_axes) >= 2, name  # eight methods do not share one panel
        for ax in data_axes:
            handles, labels = ax.get_legend_handles_labels()
            assert len(labels) <= 6, (name, labels)
            lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
            assert len(lines) <= 6, name
            methods = [ln for ln in lines if ln.get_color() != "black"]
            colours = {to_rgba(ln.get_color()) for ln in methods}
            assert len(colours) == len(methods), (name, labels)  # no two alike in a panel
            legend = ax.get_legend() or fig.axes[fig.axes.index(ax) + 1].get_legend()
            renderer = fig.canvas.get_renderer()
            box = legend.get_window_extent(renderer)
            assert box.x0 >= ax.get_window_extent(renderer).x1 - 1, name  # right of the data
        if name == "performance_profile":  # equal profiles are nudged apart, never hidden
            ys = [tuple(ln.get_ydata()) for ax in data_axes for ln in ax.get_lines()]
            assert len(set(ys)) == len(ys)
    convergence = drawn["convergence_sin31"]
    labels = {lab for ax in convergence.axes for lab in ax.get_legend_handles_labels()[1]}
    assert not any(lab.startswith("oneshot") for lab in labels)  # no lone dots
    assert any(lab.startswith("hybrid") for lab in labels)
    assert "Not drawn: oneshot" in figures["convergence_sin31"].caption
    plots.pyplot().close("all")


def test_snr_points_rmse_and_bound():
    g = snr_points(suite())["noisy-tone"]
    assert g["rmse"]["fast"][10.0] == pytest.approx(1.5e-3 * 10**-0.5)
    assert g["crlb"][10.0] == pytest.approx(1e-3 * 10**-0.5)


def test_corrupt_lines_reported_and_skipped(tmp_path, capsys):
    recs = suite()[:4]
    d = write_records(tmp_path / "r", recs, junk=["{not json", '{"foo": 1}'])
    written = report.write_reports([d], tmp_path / "out", ["md"])
    err = capsys.readouterr().err
    assert "records.jsonl:3: skipped (not JSON" in err
    assert "records.jsonl:4: skipped (missing" in err
    md = written[0].read_text()
    assert "Unreadable records" in md and "records.jsonl:3" in md
    assert f"{len(recs)} records" in md


def test_foreign_record_with_every_key_is_skipped_not_fatal(tmp_path, capsys):
    odd = [
        rec("m", "sin31", 0, status="finished"),
        rec("m", "sin31", 1, trace=[[1, "soon", 0.5]]),
        rec("m", "sin31", 2, metrics=[1, 2]),
    ]
    d = write_records(tmp_path / "r", [*odd, rec("m", "sin31", 3, success=True)])
    md = report.write_reports([d], tmp_path / "out", ["md"])[0].read_text()
    err = capsys.readouterr().err
    assert "unknown status 'finished'" in err and "trace must be" in err and "metrics must" in err
    assert "| sin31 | m | 1 | 1 ok | 1/1 |" in md


def test_folders_combine_and_environment_disagreement_is_marked(tmp_path):
    gpu = dict(ENV, torch="2.5.0+cu124", device_name="NVIDIA H100")
    a = write_records(tmp_path / "a", [rec("m", "sin31", s, success=True) for s in range(2)])
    b = write_records(
        tmp_path / "b",
        [rec("m", "sin31", 2, success=True, env=gpu), rec("n", "sin31", 0, env=gpu)],
    )
    rep = report.build_report(load_records([a, b]), [a, b])
    md = report.render_markdown(rep)
    assert "2 different environments" in md
    assert "E2: python 3.11.7, numpy 2.4.0, scipy 1.17.0, torch 2.5.0+cu124" in md
    assert "| sin31 | m | 3 | 3 ok | 3/3 |" in md
    assert f"E1, E2 {report.MIXED}" in md  # the pair that mixes environments
    assert "| sin31 | n |" in md and md.count(report.MIXED) >= 2


def test_single_environment_has_no_env_column(full_report):
    md = (full_report[0] / "report.md").read_text()
    assert "different environments" not in md and report.MIXED not in md


def test_headline_fallbacks():
    # the task's own headline, stored in the record, wins over whatever metrics are present
    stored = rec("m", "wave[shape=saw]", headline="extrap_nmse", metrics={"test_mse": 1})
    assert headline_of([stored]) == "extrap_nmse"
    # a record without one: the first well-known metric it carries
    assert headline_of([rec("m", "odd", family="odd", metrics={"mase": 1})]) == "mase"
    assert headline_of([rec("m", "odd", metrics={"exact_match": 1, "test_nmse": 2})]) == (
        "test_nmse"
    )
    assert headline_of([rec("m", "odd")]) is None


def test_natural_order():
    tasks = ["tone[cycles=100]", "tone[cycles=10]", "tone[cycles=3]"]
    assert sorted(tasks, key=natural_key) == [tasks[2], tasks[1], tasks[0]]


def test_one_natural_sort_orders_registry_and_tables_alike():
    from bench.core import naming, registry
    from bench.engine import tuning

    assert registry.natural_key is naming.natural_key is natural_key is tuning.natural_key
    # The rule the published tables were sorted by: a minus sign only starts a number after
    # = [ or , and exponents are not read (1e-05 sorts as 1, then e-05).
    ids = ["x[lr=1e-05]", "x[lr=0.001]", "x[lr=0.0001]"]
    assert sorted(ids, key=natural_key) == [ids[2], ids[1], ids[0]]
    snr = ["n[snr_db=10]", "n[snr_db=0]", "n[snr_db=-10]"]
    assert sorted(snr, key=natural_key) == [snr[2], snr[1], snr[0]]
    assert sorted(["x-2", "x-10", "x1"], key=natural_key) == ["x1", "x-2", "x-10"]
    # A published table whose rows the two old rules ordered differently.
    path = Path(__file__).resolve().parents[1] / "results" / "tuning-quick-cpu" / "summary.csv"
    with open(path, newline="") as f:
        rows = [(r["task"], r["method"]) for r in csv.DictReader(f)]
    assert rows == sorted(rows, key=lambda p: (natural_key(p[0]), natural_key(p[1])))


def test_no_records_still_writes(tmp_path):
    (tmp_path / "empty").mkdir()
    written = report.write_reports([tmp_path / "empty"], tmp_path / "o", ["md", "html"])
    assert "No records found" in written[0].read_text()


def test_cli_report_prints_an_account_not_the_report(tmp_path, capsys):
    d = write_records(tmp_path / "r", suite()[:6])
    out = tmp_path / "o"
    assert main(["report", str(d), "--format", "md", "csv", "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "## Success rate" not in cap.out and "| sin31 |" not in cap.out
    lines = cap.out.splitlines()
    assert len(lines) <= 4
    assert lines[0] == (
        "6 records (2 methods x 1 task); success matrix 1 task x 2 methods: 3 of 6 judged seeds "
        "met their task's criterion"
    )
    assert f"wrote {out}: report.md, summary.csv, runs.csv" in cap.out
    assert (out / "summary.csv").exists()


def test_cli_report_stdout_prints_the_markdown(tmp_path, capsys):
    d = write_records(tmp_path / "r", suite()[:6])
    out = tmp_path / "o"
    assert main(["report", str(d), "--out", str(out), "--stdout"]) == 0
    cap = capsys.readouterr()
    assert cap.out == (out / "report.md").read_text() + "\n"
    assert "| sin31 | fast |" in cap.out and "records (2 methods" in cap.err
    # --format without md: the Markdown is printed, not written
    html_only = ["--out", str(tmp_path / "h"), "--format", "html", "--stdout"]
    assert main(["report", str(d), *html_only]) == 0
    assert capsys.readouterr().out.startswith("# Results")
    assert not (tmp_path / "h" / "report.md").exists()
    help_text = build_parser()._subparsers._group_actions[0].choices["report"].format_help()
    assert "--stdout" in help_text and "short account" in help_text


def test_cli_report_refuses_what_is_not_records(tmp_path, capsys):
    d = write_records(tmp_path / "r", suite()[:6])
    assert main(["report", str(d)]) == 0
    md = d / "report.md"
    before = md.read_bytes()
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    blank = tmp_path / "blank.jsonl"
    blank.write_text("{not json\n\n[1, 2]\n")
    for path in (md, tmp_path / "missing", empty, blank):
        assert main(["report", str(path)]) == 2, path
        cap = capsys.readouterr()
        assert cap.out == "" and cap.err.count("\n") == 1 and cap.err.startswith("error: report:")
    assert md.read_bytes() == before  # the report.md given as PATH is left untouched
    assert not (empty / "report.md").exists() and not (tmp_path / "report.md").exists()


def test_publish_keeps_a_lean_folder(tmp_path, capsys):
    folder = write_records(tmp_path / "run", suite())
    for stale in ("report.html", "report.tex", "runs.csv"):  # left by an earlier publication
        (folder / stale).write_text("old")
    assert main(["report", str(folder), "--publish"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["README.md", "records.jsonl", "report.md", "summary.csv"]
    text = (folder / "README.md").read_text()
    assert "Produced by" in text and "Machine:" in text and "`report.md`" in text
    assert "`summary.csv`" in text and "| task |" in text
    assert f"python -m bench report {folder} --format html latex csv --out" in text
    assert "removed report.html, report.tex, runs.csv" in capsys.readouterr().out
    assert main(["report", str(folder), "--publish", "--format", "md", "html"]) == 2
    assert not (folder / "report.html").exists()


def test_plots_add_no_svg_to_a_png_only_folder(tmp_path):
    recs = [
        rec("a", "sin31", s, trace=decaying(0.9, 8), loss_target=1e-3, headline="test_mse")
        for s in range(2)
    ]
    folder = write_records(tmp_path / "run", recs)
    (folder / "plots").mkdir()
    (folder / "plots" / "landscape_wide.png").write_bytes(b"png")  # published PNG-only
    assert main(["report", str(folder), "--plots", "--publish"]) == 0
    plots = folder / "plots"
    assert (plots / "convergence_sin31.png").exists()
    assert not list(plots.glob("*.svg"))
    assert "(PNG)" in (folder / "README.md").read_text()
    assert main(["report", str(folder), "--plots", "--svg"]) == 0  # unless asked
    assert (plots / "convergence_sin31.svg").exists()


# -- landscape ----------------------------------------------------------------------------------


def test_landscape_closed_form_matches_sampling():
    w = np.array([0.0, 5.0, 30.9985, 31.0, 31.0011, 40.0])
    loss, grad, _ = landscape.sampled(w, 31.0, 1000.0, batch=400_000, seed=1)
    assert landscape.expected_loss(np.array([31.0]), 31, 1000)[0] == pytest.approx(0, abs=1e-12)
    assert loss == pytest.approx(landscape.expected_loss(w, 31, 1000), abs=0.01)
    # the gradient is the derivative of the loss (central differences)
    h = 1e-7
    fd = (landscape.expected_loss(w + h, 31, 1000) - landscape.expected_loss(w - h, 31, 1000)) / (
        2 * h
    )
    assert landscape.expected_grad(w, 31, 1000) == pytest.approx(fd, rel=1e-4, abs=1e-3)
    # curvature at the optimum is about R^2 / 3
    k = 1e-6
    curv = (landscape.expected_grad(np.array([31 + k]), 31, 1000)[0]) / k
    assert curv == pytest.approx(1000**2 / 3, rel=1e-3)
    assert math.isfinite(grad[3]) and abs(grad[3]) < 1e-9


def test_landscape_command_writes_files(tmp_path, capsys):
    out = tmp_path / "land"
    assert main(["landscape", "--out", str(out), "--batch", "300"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "landscape_wide.png",
        "landscape_wide.svg",
        "landscape_zoom.png",
        "landscape_zoom.svg",
    ]
    assert str(out / "landscape_wide.png") in capsys.readouterr().err
    assert main(["landscape", "--out", str(out), "--batch", "0"]) == 2


def test_landscape_defaults_to_a_git_ignored_folder():
    out = build_parser().parse_args(["landscape"]).out
    assert out == Path("runs/landscape")
    root = Path(__file__).resolve().parent.parent
    probe = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "-q", str(out / "landscape_wide.png")],
        capture_output=True,
    )
    if probe.returncode == 128:  # not a git checkout (e.g. an unpacked sdist)
        pytest.skip("not a git work tree")
    assert probe.returncode == 0, "runs/ must be git-ignored"


def test_readme_block_is_regenerated_from_records(tmp_path):
    folder = write_records(tmp_path / "run", suite())
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{report.README_START}\nstale\n{report.README_END}\n\nend\n")
    assert main(["report", str(folder), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("intro") and text.rstrip().endswith("end")
    assert "stale" not in text and "| task |" in text
    block = text.split(report.README_START)[1].split(report.README_END)[0]
    assert "impossible" in block or "n/a" in block
    # The command is named as it runs beside the README, however the folder was given.
    assert "Generated by `python -m bench report run --readme README.md`" in block
    readme.write_text("no markers here")
    assert main(["report", str(folder), "--readme", str(readme)]) == 2


def test_seconds_per_1k_steps_from_trace():
    r = {"trace": [[100, 1.0, 0.5], [1100, 3.0, 0.4]], "time": {"batch_seeds": 2}}
    assert seconds_per_1k_steps(r) == pytest.approx(1.0)
    assert seconds_per_1k_steps({"trace": [[1, 0.1, 0.2]], "time": {}}) is None


def test_crlb_table_ratio(full_report):
    out, _ = full_report
    md = (out / "report.md").read_text()
    assert "Frequency error against the Cramer-Rao bound" in md
    assert "RMSE / bound" in md


def test_a_rerun_seed_counts_once(tmp_path):
    old = rec("m", "t", 0, success=False)
    new = dict(rec("m", "t", 0, success=True), run_key="other-key")
    kept, dropped = latest_per_run([old, new, rec("m", "t", 1)])
    assert dropped == 1 and len(kept) == 2
    assert next(r for r in kept if r["seed"] == 0)["success"] is True


def test_one_newest_record_rule():
    """The record that finished last counts, whatever order the folders were named in; equal
    or unreadable times fall back to the one read last. The failure map keeps the same one."""
    from bench.report import failure_map

    assert failure_map.latest_per_run is latest_per_run
    new = rec("m", "t", 0, success=True, finished="2026-01-01T10:30:00+0000")
    old = rec("m", "t", 0, success=False, finished="2026-01-01T11:00:00+0200")  # 09:00 UTC
    other = rec("m", "t", 1, finished="2026-01-01T08:00:00+0000")
    assert latest_per_run([new, other, old]) == ([new, other], 1)
    assert latest_per_run([other, old, new]) == ([other, new], 1)
    same = dict(new, success=False)
    assert latest_per_run([new, same])[0] == [same]
    assert latest_per_run([dict(new, finished=""), old])[0] == [old]


def test_published_readme_shows_script_outputs_and_what_did_not_run(tmp_path) -> None:
    """A GPU script's outputs beside the records reach the published README, and the dry-run
    plan left over is summarised per method (single-seed and batched units alike)."""
    from bench.report.publish import _script_outputs

    (tmp_path / "gpu.txt").write_text("NVIDIA X, 1.2.3\n")
    (tmp_path / "not-run.txt").write_text(
        "3 method(s) x 2 task(s): 5 run(s) to do\n"
        "fft on sin31 (seed 0)\nfft on sin31 (seed 1)\nsiren on tone[cycles=1] (seeds 0-2)\n"
    )
    text = "\n".join(_script_outputs(tmp_path))
    assert "NVIDIA X, 1.2.3" in text
    assert "(5 runs" in text and "`fft`: sin31 (2)" in text
    assert "`siren`: tone[cycles=1] (3)" in text
