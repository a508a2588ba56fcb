"""The command line as a new user meets it: where runs go, Ctrl-C, progress, small CLI manners."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.core import registry
from bench.engine.plan import RunSpec
from bench.engine.progress import EtaModel, Progress

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = str(ROOT / "tests" / "plugins")


def _bench(*args: str, cwd: Path = ROOT, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _done(*args: str, **kw) -> subprocess.CompletedProcess:
    p = _bench(*args, **kw)
    out, err = p.communicate(timeout=300)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


# -- where a user's runs go ---------------------------------------------------------------------


def test_a_default_run_goes_to_a_git_ignored_runs_folder(tmp_path: Path) -> None:
    r = _done(
        "run", "--methods", "test-slow[pause=0]", "--tasks", "sin31", "--seeds", "1",
        "--jobs", "1", "--no-report", cwd=tmp_path, env={"BENCH_PLUGIN_PATH": PLUGINS},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "runs" / "quick-cpu" / "records.jsonl").exists()
    assert not (tmp_path / "results").exists()
    assert "/runs/" in (ROOT / ".gitignore").read_text().splitlines()


def test_appending_to_records_of_another_profile_and_commit_warns(tmp_path: Path) -> None:
    args = ["run", "--methods", "test-slow[pause=0]", "--tasks", "sin31", "--seeds", "1"]
    args += ["--jobs", "1", "--no-report", "--out", str(tmp_path)]
    env = {"BENCH_PLUGIN_PATH": PLUGINS}
    assert _done(*args, env=env).returncode == 0
    rec = json.loads((tmp_path / "records.jsonl").read_text().splitlines()[0])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["environments"][rec["env_id"]]["git_commit"] = "0123abc"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    rec["profile"] = "full"
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    r = _done(*args, env=env)
    assert r.returncode == 0
    assert "another commit (0123abc" in r.stderr
    assert "another profile (full" in r.stderr


# -- Ctrl-C -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to_group", "sig", "code"),
    [(True, signal.SIGINT, 130), (False, signal.SIGINT, 130), (False, signal.SIGTERM, 143)],
    ids=["ctrl-c-group", "sigint-parent", "sigterm-parent"],
)
def test_ctrl_c_stops_a_two_worker_sweep_cleanly(
    tmp_path: Path, to_group: bool, sig: int, code: int
) -> None:
    """A terminal's Ctrl-C (SIGINT to the process group), a SIGINT to the parent alone and a
    SIGTERM (``kill``) all stop the workers at once, keep every finished run, and exit with
    the --resume hint."""
    args = ["run", "--methods", "test-slow[pause=0.3]", "--tasks", "sin31", "--seeds", "200"]
    args += ["--jobs", "2", "--out", str(tmp_path), "--no-report"]
    p = _bench(
        *args,
        env={"BENCH_PLUGIN_PATH": PLUGINS},
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    records = tmp_path / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not records.exists() or records.read_text().count("\n") < 4):
        time.sleep(0.05)
    (os.killpg if to_group else os.kill)(p.pid, sig)
    _, err = p.communicate(timeout=30)
    assert p.returncode == code, err
    assert "Traceback" not in err
    assert "--resume" in err
    time.sleep(2.5)
    left = subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True, text=True).stdout
    assert not left.split(), f"processes left behind: {left}"
    lines = records.read_text().splitlines()
    assert 4 <= len(lines) < 200
    assert all(json.loads(line)["status"] == "ok" for line in lines)


@pytest.mark.parametrize(
    ("command", "hint"),
    [("run", "--resume"), ("tune", "run the same command again"), ("list", None)],
)
def test_interrupt_hint_names_how_each_command_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, command: str, hint: str | None
) -> None:
    """`run` resumes with --resume, `tune` by running again (it has no --resume), and a command
    with nothing to resume just says it was interrupted."""
    from bench import cli

    def stop(_args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, command, stop)
    assert cli.main([command]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err
    if hint is None:
        assert "records.jsonl" not in err
    else:
        assert hint in err
        assert ("--resume" in err) == (command == "run")


# -- progress -----------------------------------------------------------------------------------


def _spec(method: str, task: str, seeds: int = 1) -> RunSpec:
    return RunSpec(method, task, tuple(range(seeds)))


def test_eta_uses_each_methods_own_cost() -> None:
    """A cheap method finishing first must not make the ETA forget an expensive one."""
    specs = [_spec(m, t) for t in ("a", "b", "c") for m in ("cheap", "dear")]
    progress = Progress(specs, stream=open(os.devnull, "w"))
    progress.finish(specs[0], [{"status": "ok", "success": None, "reason": ""}], 1.0)
    progress.finish(specs[1], [{"status": "ok", "success": None, "reason": ""}], 100.0)
    model = progress.eta_model
    assert model.per_run(_spec("cheap", "b")) == pytest.approx(1.0)
    assert model.per_run(_spec("dear", "c")) == pytest.approx(100.0)
    # Two cheap and two dear runs remain: 202 run-seconds at the observed pace. The sweep
    # started 10 s ago, so the microseconds between the test's clock and eta()'s do not count.
    progress.t0 = time.perf_counter() - 10.0
    assert progress.eta() == pytest.approx(202 * 10.0 / 101, rel=0.01)


def test_eta_model_falls_back_from_pair_to_method_to_mean() -> None:
    m = EtaModel()
    assert m.per_run(_spec("x", "t")) != m.per_run(_spec("x", "t"))  # nan before any data
    m.observe(_spec("x", "t", seeds=4), 8.0)
    m.observe(_spec("y", "t"), 6.0)
    assert m.per_run(_spec("x", "t")) == 2.0
    assert m.per_run(_spec("x", "u")) == 2.0
    assert m.per_run(_spec("z", "u")) == pytest.approx(14.0 / 5)


def test_progress_prints_one_line_per_unit_off_a_terminal(tmp_path: Path) -> None:
    specs = [_spec("m", "a"), _spec("m", "b")]
    log = tmp_path / "log"
    with open(log, "w") as stream:
        progress = Progress(specs, stream=stream)
        for sp in specs:
            progress.finish(sp, [{"status": "ok", "success": True, "reason": ""}], 0.5)
        progress.close()
    lines = log.read_text().splitlines()
    assert [ln.split("]")[0] for ln in lines] == ["[1/2", "[2/2"]
    assert all("eta" in ln and "1/1 success" in ln for ln in lines)


# -- small manners ------------------------------------------------------------------------------


def test_list_into_a_closed_pipe_is_quiet() -> None:
    p = subprocess.run(
        f"{sys.executable} -m bench list | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert p.stdout.startswith("methods (")
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr


def test_list_orders_numbers_by_value() -> None:
    registry.load_plugins()
    tones = [i for i in registry.TASKS.ids() if i.startswith("tone[")]
    cycles = [int(i.split("=")[1].rstrip("]")) for i in tones]
    assert cycles == sorted(cycles) and len(cycles) > 2
    snrs = [i for i in registry.TASKS.ids() if i.startswith("noisy-tone[")]
    assert snrs[0] == "noisy-tone[snr_db=-10]"


def test_console_script_names_itself(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "periodic-bench"
    if not script.exists():
        pytest.fail("the periodic-bench console script is not installed with the package")
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert r.stdout.startswith("usage: periodic-bench")


def test_run_help_describes_every_option() -> None:
    from bench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("run", "list", "report", "landscape"):
        cmd = sub.choices[name]
        assert cmd.description, f"`{name} --help` has no description"
        bare = [a.option_strings or a.dest for a in cmd._actions if not a.help]
        assert not bare, f"{name}: options without help: {bare}"


def test_the_app_layer_plans_and_refuses_without_the_command_line(tmp_path: Path) -> None:
    """``bench.app`` is what the command line calls: plain arguments in, a plan out, a
    UsageError (the CLI's exit 2) for a bad request, nothing written before ``run``."""
    from bench.app.errors import UsageError
    from bench.app.run import plan_run

    with pytest.raises(UsageError, match="run: --seeds must be at least 1"):
        plan_run(["fft"], ["sin31"], seeds=0)
    with pytest.raises(UsageError, match="run: say what to run"):
        plan_run()
    out = tmp_path / "out"
    p = plan_run(["fft"], ["sin31"], seeds=2, out=out, dry_run=True)
    assert p.labels == ["fft on sin31 (seed 0)", "fft on sin31 (seed 1)"]
    assert "2 run(s) to do" in p.summary and p.notes == []
    assert not out.exists()


def test_unregistered_variant_is_announced() -> None:
    r = _done("run", "--methods", "siren[w0=300]", "--tasks", "sin31", "--dry-run", "--list")
    assert r.returncode == 0
    assert "siren[w0=300] is not registered; running it as an ad-hoc variant" in r.stderr
    # the networks fit all seeds of a task as one model: one unit
    assert r.stdout.splitlines() == ["siren[w0=300] on sin31 (seeds 0-2)"]


def test_dry_run_and_resume_header_count_the_same_runs(tmp_path: Path) -> None:
    args = ["run", "--methods", "test-slow[pause=0]", "--tasks", "sin31", "--seeds", "3"]
    args += ["--jobs", "1", "--no-report", "--out", str(tmp_path)]
    env = {"BENCH_PLUGIN_PATH": PLUGINS}
    assert _done(*args[:-2], "--seeds", "2", "--out", str(tmp_path), env=env).returncode == 0
    r = _done(*args, "--resume", "--dry-run", "--list", env=env)
    assert "1 run(s) to do (2 of 3 already recorded)" in r.stderr
    assert r.stdout.splitlines() == ["test-slow[pause=0] on sin31 (seed 2)"]
    assert not (tmp_path / "records.jsonl").read_text().count("\n") > 2  # nothing ran
    r = _done(*args, "--resume", env=env)
    assert "[1/1]" in r.stderr


# -- records: manifest layout, newest record wins ------------------------------------------------


def _tiny_sweep(out: Path, seeds: int = 2) -> list[dict]:
    args = ["run", "--methods", "test-slow[pause=0]", "--tasks", "sin31", "--seeds", str(seeds)]
    r = _done(*args, "--jobs", "1", "--no-report", "--out", str(out),
              env={"BENCH_PLUGIN_PATH": PLUGINS})  # fmt: skip
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_old_inline_and_new_manifest_layouts_read_the_same(tmp_path: Path) -> None:
    from bench.engine.store import load_records

    new = _tiny_sweep(tmp_path / "new")
    assert all("env" not in r and len(r["env_id"]) == 12 for r in new)
    envs = json.loads((tmp_path / "new" / "manifest.json").read_text())["environments"]
    old = []
    for r in new:  # the layout records had before the manifest: env inline, with a time stamp
        r = dict(r)
        r["env"] = {**envs[r.pop("env_id")], "timestamp": r.pop("finished")}
        old.append(r)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    a, b = load_records([tmp_path / "new"]), load_records([tmp_path / "old"])
    strip = lambda r: {k: v for k, v in r.items() if k not in ("_source", "env_id", "finished")}  # noqa: E731
    assert [strip(r) for r in a] == [strip(r) for r in b]
    assert a[0]["env"]["git_commit"] == envs[new[0]["env_id"]]["git_commit"]


def test_report_keeps_the_newest_record_of_a_run_and_says_so(tmp_path: Path) -> None:
    recs = _tiny_sweep(tmp_path)
    again = {**recs[0], "success": True, "metrics": {**recs[0]["metrics"], "test_mse": 0.0}}
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write(json.dumps(again) + "\n")
    r = _done("report", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "1 older record(s)" in r.stderr
    md = (tmp_path / "report.md").read_text()
    row = next(ln for ln in md.splitlines() if ln.startswith("| sin31 | test-slow"))
    assert "1/2" in row  # the re-recorded seed now succeeds; the older failure is set aside


def test_report_without_a_path_reports_the_newest_run(tmp_path: Path) -> None:
    args = ["run", "--methods", "test-slow[pause=0]", "--tasks", "sin31", "--seeds", "1"]
    r = _done(*args, "--jobs", "1", "--no-report", cwd=tmp_path, env={"BENCH_PLUGIN_PATH": PLUGINS})
    assert r.returncode == 0, r.stderr
    r = _done("report", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "runs/quick-cpu" in r.stderr
    assert (tmp_path / "runs" / "quick-cpu" / "report.md").exists()
    r = _done("report", cwd=tmp_path / "runs")  # no runs/ below this folder: a clear error
    assert r.returncode == 2 and r.stderr.count("\n") == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_in_a_terminal() -> None:
    specs = [_spec("m", "a"), _spec("m", "b")]
    term = _Terminal()
    progress = Progress(specs, stream=term)
    progress.finish(specs[0], [{"status": "ok", "success": True, "reason": ""}], 0.5)
    progress.finish(specs[1], [{"status": "error", "success": False, "reason": "boom"}], 0.5)
    progress.close()
    text = term.getvalue()
    assert "2/2 runs" in text and "eta" in text  # the bar
    assert "[2/2] m on b (seed 0): 1 error" in text  # failures get a line of their own
    assert "[1/2]" not in text  # a clean unit only moves the bar
