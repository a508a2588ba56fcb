"""``bench publish`` and the provenance it checks: the plan, the refusals, one folder made from
scratch, and the code hash that says which code ran."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import cli
from bench.app import publish as pub
from bench.app.errors import UsageError
from bench.engine import provenance
from bench.engine.provenance import CodeState

PLAN = """
[[folder]]
name = "tones-cpu"
device = "cpu"
answers = "the FFT estimate on a tone of three cycles"
commands = ["run --methods fft --tasks 'tone[cycles=3]' --seeds 2"]
"""


def _results(tmp_path: Path, plan: str = PLAN) -> Path:
    results = tmp_path / "results"
    results.mkdir(parents=True)
    (results / "plan.toml").write_text(plan)
    return results


def _clean(monkeypatch: pytest.MonkeyPatch, commit: str = "c" * 40) -> None:
    monkeypatch.setattr(pub, "code_state", lambda root=None, also=(): CodeState(commit, ()))


# -- the plan -----------------------------------------------------------------------------------


#: A folder entry that runs, for the malformed scripts below.
RUNS = 'name = "a"\ndevice = "cpu"\nanswers = "x"\ncommands = ["run"]\n'


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('name = "a"\ndevice = "cpu"\nanswers = "x"\ncommands = ["run"]\ncolour = 1', "unknown"),
        ('name = "a"\ndevice = "cpu"\nanswers = "x"', "no commands"),
        ('name = "a"\ndevice = "tpu"\nanswers = "x"\ncommands = ["run"]', "device 'tpu'"),
        ('name = "a"\ndevice = "cpu"\nanswers = "x"\ncommands = ["list"]', "not a run or tune"),
        ('name = "a"\ndevice = "cpu"\nanswers = "x"\ncommands = ["run --out x"]', "--out"),
        ('name = "a"\ndevice = "cpu"\nanswers = "x"\ncommands = ["run", "tune"]', "not both"),
        ('name = "../a"\ndevice = "cpu"\nanswers = "x"\ncommands = ["run"]', "folder name"),
        (RUNS + 'scripts = "b.py"', "a list"),
        (RUNS + 'scripts = ["b.sh"]', "Python"),
        (RUNS + 'scripts = ["/b.py"]', "Python"),
        (RUNS + 'scripts = ["../b.py"]', "Python"),
        (RUNS + 'scripts = ["b.py --out c"]', "--out"),
    ],
)
def test_a_malformed_plan_is_one_clear_error(tmp_path: Path, entry: str, message: str) -> None:
    results = _results(tmp_path, f"[[folder]]\n{entry}\n")
    with pytest.raises(UsageError, match="publish: ") as err:
        pub.load_plan(results / "plan.toml")
    assert message in str(err.value)


def test_the_plan_names_each_folder_once_and_is_toml(tmp_path: Path) -> None:
    results = _results(tmp_path, PLAN + PLAN)
    with pytest.raises(UsageError, match="tones-cpu twice"):
        pub.load_plan(results / "plan.toml")
    (results / "plan.toml").write_text("[[folder]\n")
    with pytest.raises(UsageError, match="TOML"):
        pub.load_plan(results / "plan.toml")


def test_publish_adds_its_own_options_to_each_command() -> None:
    f = pub.Folder("a", "x", "cuda", ("run --all", "tune --methods siren --jobs 3"))
    run = f.argv(f.commands[0], Path("stage"), jobs=2)
    assert run == ["run", "--all", "--out", "stage", "--resume", "--no-report", "--device",
                   "cuda", "--jobs", "2"]  # fmt: skip
    tune = f.argv(f.commands[1], Path("stage"), jobs=2)
    assert tune[-4:] == ["--settings", str(Path("stage") / "tuned.json"), "--device", "cuda"]
    assert tune.count("--jobs") == 1


# -- refusals -------------------------------------------------------------------------------------


def test_a_dirty_tree_is_refused_in_one_line_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    results = _results(tmp_path)
    dirty = CodeState("c" * 40, ("methods/fft.py", "bench/tuned.json"))
    monkeypatch.setattr(pub, "code_state", lambda root=None, also=(): dirty)
    assert cli.main(["publish", "--results", str(results)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "uncommitted changes" in err[0] and "methods/fft.py" in err[0]
    # A dry run shows the plan and says publish would refuse.
    assert cli.main(["publish", "--results", str(results), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "which publish refuses" in captured.err and "tones-cpu (cpu)" in captured.out


def test_unknown_folders_and_devices_are_refused(tmp_path: Path, monkeypatch) -> None:
    results = _results(tmp_path)
    _clean(monkeypatch)
    with pytest.raises(UsageError, match="nope not in"):
        pub.plan_publish(results, only=["nope"])
    with pytest.raises(UsageError, match="--device"):
        pub.plan_publish(results, device="tpu")
    plan = pub.plan_publish(results, device="cuda")
    assert not plan.folders and "not cuda" in plan.skipped[0][1]


def test_adopt_merges_a_published_tune_into_the_checkouts_settings(tmp_path: Path, capsys) -> None:
    results = tmp_path / "results"
    (tmp_path / "bench").mkdir()
    settings = tmp_path / "bench" / "tuned.json"
    settings.write_text(json.dumps({"profiles": {"quick": {}}}))
    assert cli.main(["publish", "--results", str(results), "--adopt", "tuning-x"]) == 2
    assert "tuning-x/tuned.json does not exist" in capsys.readouterr().err
    (results / "tuning-x").mkdir(parents=True)
    (results / "tuning-x" / "tuned.json").write_text("{not json")
    assert cli.main(["publish", "--results", str(results), "--adopt", "tuning-x"]) == 2
    assert "is unreadable" in capsys.readouterr().err
    chosen = {"families": {"tone": {"params": {"lr": 0.01}, "made_by": {"commit": "c"}}}}
    (results / "tuning-x" / "tuned.json").write_text(
        json.dumps({"profiles": {"quick": {"siren": chosen}}})
    )
    assert cli.main(["publish", "--results", str(results), "--adopt", "tuning-x"]) == 0
    assert "tuning-x: quick siren tone: (none) -> lr=0.01" in capsys.readouterr().out
    assert (
        json.loads(settings.read_text())["profiles"]["quick"]["siren"]["families"]
        == (chosen["families"])
    )


def _record(commit: str, code: str | None, **env) -> dict:
    return {"env": {"git_commit": commit, **({"code_hash": code} if code else {}), **env}}


def test_provenance_problems() -> None:
    c, h = "a" * 40, "0123456789abcdef"
    hash_of = {c: h}.get
    ok = [_record(c, h), _record(c, h)]
    assert pub.provenance_problems(ok, c, hash_of) == []
    mixed = [_record(c, h), _record("b" * 40, h)]
    assert "mix commits" in pub.provenance_problems(mixed, c, hash_of)[0]
    # Made at an earlier commit with the same code (results committed since): accepted; with
    # other code: refused; at a commit the repository lacks: refused.
    b, d = "b" * 40, "d" * 40
    hash_of = {c: h, b: h, d: "1111111111111111"}.get
    assert pub.provenance_problems([_record(b, h)], c, hash_of) == []
    other = pub.provenance_problems([_record(d, "1111111111111111")], c, hash_of)
    assert "whose code differs" in other[0]
    assert "does not hold" in pub.provenance_problems([_record("e" * 40, h)], c, hash_of)[0]
    changed = [_record(c + "-dirty", "ffffffffffffffff")]
    assert "uncommitted changes" in pub.provenance_problems(changed, c, hash_of)[0]
    unhashed = [_record(c, None)]
    assert "no code hash" in pub.provenance_problems(unhashed, c, hash_of)[0]
    # A copy whose .git was stale: its checkout said another commit, dirty, but it was told
    # where it came from and its code hash is that commit's.
    carried = [_record("b" * 40 + "-dirty", h, source_commit=c)]
    assert pub.provenance_problems(carried, c, hash_of) == []


# -- one folder, end to end -----------------------------------------------------------------------


SCRIPT = """
import argparse, json, pathlib
ap = argparse.ArgumentParser()
ap.add_argument("--points", type=int)
ap.add_argument("--out", type=pathlib.Path)
args = ap.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "cost.json").write_text(json.dumps({"points": args.points}))
"""


def test_publish_makes_a_folder_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _results(tmp_path, PLAN + 'scripts = ["tools/cost.py --points 3"]\n')
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "cost.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    commit = "c" * 40
    _clean(monkeypatch, commit)
    provenance.forget_hashes()  # the files as they are now, as the child runs will hash them
    here = provenance.code_hash()
    monkeypatch.setattr(pub, "commit_code_hash", lambda c, root=None: here if c == commit else None)
    stale = results / "tones-cpu"
    stale.mkdir()
    (stale / "old.txt").write_text("from an earlier publication")

    plan = pub.plan_publish(results)
    assert plan.write
    # The child runs say which commit they come from (this checkout may have changes while the
    # suite runs); their code hash is this checkout's.
    monkeypatch.setenv(provenance.SOURCE_COMMIT_ENV, commit)
    said: list[str] = []
    reports: list[Path] = []
    stage = Path("runs") / "publish" / "tones-cpu"

    def run_and_choose(argv: list[str], env: dict[str, str]) -> int:
        # A tune leaves the settings it chose beside its trials, naming them by the staging path.
        (stage / "tuned.json").write_text(json.dumps({"made_by": {"records": str(stage)}}))
        return pub._run_child(argv, env)

    (outcome,) = pub.publish(plan, say=said.append, report=reports.append, runner=run_and_choose)

    folder = results / "tones-cpu"
    assert outcome.state == "published" and reports == [folder]
    assert not (folder / "old.txt").exists()  # from scratch
    assert not (tmp_path / "runs" / "publish" / "tones-cpu").exists()  # staging cleared
    with gzip.open(folder / "records.jsonl.gz", "rt") as fh:
        records = [json.loads(line) for line in fh]
    assert len(records) == 2 and {r["status"] for r in records} == {"ok"}
    envs = json.loads((folder / "manifest.json").read_text())["environments"].values()
    assert {e["verified_commit"] for e in envs} == {commit}
    # What ran, as it ran: the plan's command and the options publish added.
    (command,) = {e["command"] for e in envs}
    assert command.startswith("python -m bench run --methods fft --tasks 'tone[cycles=3]'")
    assert {e["code_hash"] for e in envs} == {here}
    readme = (folder / "README.md").read_text()
    assert "What it answers: the FFT estimate" in readme
    assert "python -m bench publish --only tones-cpu" in readme
    assert any("--out" in line for line in said)
    chosen = json.loads((folder / "tuned.json").read_text())
    assert chosen["made_by"] == {"records": "results/tones-cpu", "commit": commit}
    assert any("--adopt tones-cpu` merges them into" in line for line in outcome.lines)
    # The plan's script ran after the command, given the folder's --out; what it wrote is
    # published beside the records, and the README says how it was made.
    assert any(line.endswith(f"cost.py --points 3 --out {stage / pub.FILES}") for line in said)
    assert json.loads((folder / "cost.json").read_text()) == {"points": 3}
    assert "python tools/cost.py --points 3 --out tones-cpu" in readme


def test_a_folders_scripts_are_checked_for_changes_with_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script the plan runs is refused uncommitted, as changed code is, and so is what sits
    beside it (the benchmarks and their conftest a script runs)."""
    results = _results(tmp_path, PLAN + 'scripts = ["tools/cost.py --points 3"]\n')
    asked: list[tuple[str, ...]] = []

    def state(root: Path | None = None, also: tuple[str, ...] = ()) -> CodeState:
        asked.append(tuple(also))
        return CodeState("c" * 40, tuple(also))

    monkeypatch.setattr(pub, "code_state", state)
    with pytest.raises(UsageError, match="uncommitted changes .*tools"):
        pub.plan_publish(results)
    assert asked == [("tools", "tools/cost.py")]
    assert [f.scripts for f in pub.load_plan(results / "plan.toml")] == [
        ("tools/cost.py --points 3",)
    ]


def test_a_failed_command_keeps_its_records_for_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _results(tmp_path)
    monkeypatch.chdir(tmp_path)
    _clean(monkeypatch)
    plan = pub.plan_publish(results)
    stage = tmp_path / "runs" / "publish" / "tones-cpu"

    def crash(argv: list[str], env: dict[str, str]) -> int:
        (stage / "records.jsonl").write_text("{}\n")  # a run finished before the crash
        return 1

    with pytest.raises(pub.PublishFailed, match="--resume"):
        pub.publish(plan, say=lambda line: None, runner=crash)
    assert (stage / "records.jsonl").exists()
    assert not (results / "tones-cpu").exists()
    # Without --resume the staged records are not thrown away; with it they are gone on with.
    with pytest.raises(UsageError, match="--resume"):
        pub.publish(plan, say=lambda line: None, runner=crash)
    resumed = pub.plan_publish(results, resume=True)
    with pytest.raises(pub.PublishFailed):
        pub.publish(resumed, say=lambda line: None, runner=crash)


def test_resuming_records_of_another_commit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _results(tmp_path)
    monkeypatch.chdir(tmp_path)
    stage = tmp_path / "runs" / "publish" / "tones-cpu"
    stage.mkdir(parents=True)
    (stage / "records.jsonl").write_text("{}\n")
    manifest = {"environments": {"e": {"git_commit": "b" * 40}}, "format": 2}
    (stage / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(
        provenance, "code_state", lambda root=None, also=(): CodeState("c" * 40, ())
    )
    _clean(monkeypatch)
    plan = pub.plan_publish(results, resume=True)
    with pytest.raises(UsageError, match="one commit"):
        pub.publish(plan, say=lambda line: None, runner=lambda a, e: 0)


def test_a_copy_told_its_commit_stages_and_does_not_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a GPU host the copy's .git may be stale: told its commit, publish runs the commands
    into staging and leaves the check and the publishing to the checkout."""
    results = _results(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(provenance.SOURCE_COMMIT_ENV, "d" * 40)
    dirty = CodeState("e" * 40, ("bench/x.py",))  # what the stale .git would say
    monkeypatch.setattr(pub, "code_state", lambda root=None, also=(): dirty)
    plan = pub.plan_publish(results)
    assert plan.commit == "d" * 40 and not plan.write
    ran: list[list[str]] = []
    (outcome,) = pub.publish(plan, say=lambda line: None, runner=lambda a, e: ran.append(a) or 0)
    assert outcome.state == "staged" and "--no-run" in outcome.lines[0]
    with pytest.raises(UsageError, match="git checkout"):
        pub.publish(pub.plan_publish(results, run=False), say=lambda line: None)
    assert ran and not (results / "tones-cpu").exists()


# -- the code hash --------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for path, text in {
        "bench/core.py": "X = 1\n",
        "methods/m.py": "Y = 2\n",
        "tasks/t.py": "Z = 3\n",
        "tasks/data/series.csv": "1,2\n",
        "results/r.md": "a result\n",
        "README.md": "hello\n",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    provenance.forget_hashes()
    yield root
    provenance.forget_hashes()


def test_the_code_hash_of_a_clean_checkout_is_its_commits(repo: Path) -> None:
    assert provenance.code_hash(repo) == provenance.commit_code_hash("HEAD", repo)
    assert provenance.code_state(repo).clean
    # Caches and data outside the code do not count.
    (repo / "bench" / "__pycache__").mkdir()
    (repo / "bench" / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\0")
    (repo / "results" / "r.md").write_text("a newer result\n")
    provenance.forget_hashes()
    assert provenance.code_hash(repo) == provenance.commit_code_hash("HEAD", repo)
    assert provenance.code_state(repo).clean


@pytest.mark.parametrize("change", ["edit", "untracked plugin", "deleted", "data file", "renamed"])
def test_a_change_to_the_code_changes_the_hash_and_dirties_the_commit(
    repo: Path, change: str
) -> None:
    before = provenance.code_hash(repo)
    if change == "edit":
        (repo / "bench" / "core.py").write_text("X = 2\n")
    elif change == "untracked plugin":
        (repo / "methods" / "new.py").write_text("W = 0\n")
    elif change == "deleted":
        (repo / "tasks" / "t.py").unlink()
    elif change == "data file":
        (repo / "tasks" / "data" / "series.csv").write_text("1,3\n")
    else:
        _git(repo, "mv", "methods/m.py", "methods/n.py")
    provenance.forget_hashes()
    assert provenance.code_hash(repo) != before
    state = provenance.code_state(repo)
    assert not state.clean and state.changed
    assert provenance.git_commit(repo).endswith("-dirty")
    if change == "renamed":
        assert {"methods/m.py", "methods/n.py"} <= set(state.changed)


def test_outside_git_there_is_no_commit_but_still_a_hash(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "a.py").write_text("A = 1\n")
    assert provenance.code_state(tmp_path).commit is None
    assert provenance.git_commit(tmp_path) is None
    assert len(provenance.code_hash(tmp_path)) == provenance.HASH_DIGITS


def test_records_carry_the_code_hash(tmp_path: Path) -> None:
    from bench.engine.store import environment

    env = environment("cpu")
    assert env["code_hash"] == provenance.code_hash()


def test_records_staged_elsewhere_are_published_without_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU workflow: a copy told its commit stages the records; back in the checkout,
    --no-run checks their code hash against that commit and publishes them."""
    results = _results(tmp_path)
    monkeypatch.chdir(tmp_path)
    commit = "d" * 40
    with pytest.raises(UsageError, match="nothing staged"):
        _clean(monkeypatch, commit)
        pub.publish(pub.plan_publish(results, run=False), say=lambda line: None)
    stage = tmp_path / "runs" / "publish" / "tones-cpu"
    stage.mkdir(parents=True)
    (stage / "records.jsonl").write_text("{}\n")  # a part: its commands did not all finish
    with pytest.raises(UsageError, match="part of tones-cpu only"):
        pub.publish(pub.plan_publish(results, run=False), say=lambda line: None)
    (stage / "records.jsonl").unlink()
    monkeypatch.setenv(provenance.SOURCE_COMMIT_ENV, commit)
    away = pub.plan_publish(results)
    (staged,) = pub.publish(away, say=lambda line: None)
    assert staged.state == "staged"
    monkeypatch.delenv(provenance.SOURCE_COMMIT_ENV)
    provenance.forget_hashes()
    here = provenance.code_hash()
    monkeypatch.setattr(pub, "commit_code_hash", lambda c, root=None: here if c == commit else None)
    ran: list[list[str]] = []
    home = pub.plan_publish(results, run=False)
    (done,) = pub.publish(home, say=lambda line: None, runner=lambda a, e: ran.append(a) or 1)
    assert done.state == "published" and not ran
    envs = json.loads((results / "tones-cpu" / "manifest.json").read_text())["environments"]
    assert {e["verified_commit"] for e in envs.values()} == {commit}


def test_resuming_at_a_later_commit_with_the_same_code_keeps_one_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder made in parts: records staged at commit A, parts committed since (results
    only), resumed at B: the new runs are told they come from A, so the folder names one
    commit, and its code hash is still checked."""
    results = _results(tmp_path)
    monkeypatch.chdir(tmp_path)
    a, b = "a" * 40, "b" * 40
    stage = tmp_path / "runs" / "publish" / "tones-cpu"
    stage.mkdir(parents=True)
    (stage / "records.jsonl").write_text("{}\n")
    manifest = {"environments": {"e": {"git_commit": a}}, "format": 2}
    (stage / "manifest.json").write_text(json.dumps(manifest))
    _clean(monkeypatch, b)
    monkeypatch.setattr(pub, "commit_code_hash", lambda c, root=None: "same")
    envs: list[dict] = []
    plan = pub.plan_publish(results, resume=True)
    with pytest.raises(pub.PublishFailed):
        pub.publish(plan, say=lambda line: None, runner=lambda argv, env: envs.append(env) or 1)
    assert envs == [{provenance.SOURCE_COMMIT_ENV: a}]
    monkeypatch.setattr(pub, "commit_code_hash", lambda c, root=None: c[:16])  # other code
    with pytest.raises(UsageError, match="not all of them with this checkout's code"):
        pub.publish(plan, say=lambda line: None, runner=lambda argv, env: 0)


def test_a_plan_command_may_set_device_and_jobs_either_way() -> None:
    f = pub.Folder("a", "x", "cpu", ("run --all --device=cuda --jobs=3",))
    argv = f.argv(f.commands[0], Path("s"), jobs=2)
    assert "--device" not in argv and "--jobs" not in argv


def test_bad_environment_for_a_publication_is_refused(tmp_path: Path, monkeypatch) -> None:
    results = _results(tmp_path)
    _clean(monkeypatch)
    monkeypatch.setenv(provenance.SOURCE_COMMIT_ENV, "HEAD")
    with pytest.raises(UsageError, match="full commit hash"):
        pub.plan_publish(results)
    monkeypatch.delenv(provenance.SOURCE_COMMIT_ENV)
    monkeypatch.setenv("BENCH_PLUGIN_PATH", str(tmp_path))
    with pytest.raises(UsageError, match="BENCH_PLUGIN_PATH"):
        pub.plan_publish(results)
    bad = _results(tmp_path / "other", "[[folder]]\nname = 'a'\ndevice = 'cpu'\n"
                   "answers = 'x'\ncommands = [\"run --tasks 'tone\"]\n")  # fmt: skip
    with pytest.raises(UsageError, match="cannot be read"):
        pub.load_plan(bad / "plan.toml")


def test_a_folder_left_mid_swap_is_never_removed_unseen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard kill between setting the old folder aside and removing it leaves results/.F.old:
    the next publish stops and says so instead of deleting what may be the only good copy."""
    results = _results(tmp_path)
    monkeypatch.chdir(tmp_path)
    _clean(monkeypatch)
    (results / ".tones-cpu.old").mkdir()
    (results / ".tones-cpu.old" / "records.jsonl").write_text("{}\n")
    stage = tmp_path / "runs" / "publish" / "tones-cpu"
    stage.mkdir(parents=True)
    (stage / "records.jsonl").write_text("{}\n")
    (stage / pub.COMPLETE).write_text("")
    monkeypatch.setattr(pub, "provenance_problems", lambda *a: [])
    with pytest.raises(UsageError, match="stopped while it replaced"):
        pub.publish(pub.plan_publish(results, run=False), say=lambda line: None)
    assert (results / ".tones-cpu.old" / "records.jsonl").exists() and stage.exists()


CHILD_OF_A_BACKGROUND_JOB = """
import signal, sys
from bench.app import publish as pub
from bench.app.errors import Terminated

signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `nohup ... &` leaves it, for the child too


def term(*_):
    raise Terminated


signal.signal(signal.SIGTERM, term)
try:
    sys.exit(pub._run_child(sys.argv[1:], {}))
except Terminated:
    sys.exit(143)
"""


def test_a_publish_in_the_background_stops_its_run_on_sigterm(tmp_path: Path) -> None:
    """A publish started in the background (SIGINT ignored, and so in its child run) and
    stopped by ``kill`` or ``timeout`` (SIGTERM) stops its run at once, every finished run
    recorded and no worker left, as Ctrl-C does in a terminal."""
    root = Path(__file__).resolve().parents[1]
    args = ["run", "--methods", "test-slow[pause=0.3]", "--tasks", "sin31", "--seeds", "200"]
    args += ["--jobs", "2", "--out", str(tmp_path), "--no-report"]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "BENCH_PLUGIN_PATH": str(root / "tests" / "plugins"),
    }
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD_OF_A_BACKGROUND_JOB, *args],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    records = tmp_path / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not records.exists() or records.read_text().count("\n") < 4):
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=100)
    assert p.returncode == 143, err
    assert "--resume" in err and "Traceback" not in err
    time.sleep(2.5)
    left = subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True, text=True).stdout
    assert not left.split(), f"processes left behind: {left}"
    lines = records.read_text().splitlines()
    assert 4 <= len(lines) < 200  # stopped, not run to its end
    assert all(json.loads(line)["status"] == "ok" for line in lines)


def test_a_findings_quote_the_new_records_lack_does_not_stop_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder remade without a method FINDINGS quotes from it: the folder is published and
    the other quotes written; that one keeps its text, is listed, and the exit code says so."""
    results = _results(tmp_path)
    monkeypatch.chdir(tmp_path)
    published = Path(__file__).resolve().parents[1] / "results" / "close-tones-cpu"
    manifest = json.loads((published / "manifest.json").read_text())
    commit, code = "c" * 40, "0123456789abcdef"  # as if made at this (clean) checkout
    for env in manifest["environments"].values():
        env.update(git_commit=commit, code_hash=code)
        for checked in ("verified_commit", "source_commit"):  # what an earlier publish added
            env.pop(checked, None)
    _clean(monkeypatch, commit)
    monkeypatch.setattr(pub, "commit_code_hash", lambda c, root=None: code if c == commit else None)
    stage = tmp_path / "runs" / "publish" / "tones-cpu"
    stage.mkdir(parents=True)
    (stage / "manifest.json").write_text(json.dumps(manifest))
    with gzip.open(published / "records.jsonl.gz", "rt") as fh:
        kept = [line for line in fh if '"task": "close-tones[sep=0.25]"' in line]
    (stage / "records.jsonl").write_text("".join(r for r in kept if '"method": "esprit"' in r))
    (stage / pub.COMPLETE).write_text("done\n")
    gone = "<!--q tones-cpu siren * successes-->2 of 3<!--/q-->"
    findings = results / "FINDINGS.md"
    findings.write_text(
        "ESPRIT: <!--q tones-cpu esprit close-tones[sep=0.25] successes-->?<!--/q--> seeds; "
        f"SIREN: {gone}.\n"
    )

    assert cli.main(["publish", "--results", str(results), "--no-run"]) == 1
    err = capsys.readouterr().err
    assert "1 quote(s) of tones-cpu" in err and "no records of that method" in err
    assert "published, but FINDINGS quotes" in err.splitlines()[-1]
    assert (results / "tones-cpu" / "records.jsonl.gz").is_file()
    text = findings.read_text()
    assert "seeds; SIREN" in text and "-->?<" not in text and gone in text


def test_adopting_a_remade_tune_drops_the_choices_its_folder_no_longer_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tune remade per task: its earlier family-wide choice names trials the folder no
    longer holds, so it goes; a choice from another folder stays."""
    results = tmp_path / "results"
    (tmp_path / "bench").mkdir()
    settings = tmp_path / "bench" / "tuned.json"
    old = {"records": "results/tuning-x", "commit": "a" * 40}
    other = {"records": "results/tuning-y", "commit": "a" * 40}
    families = {
        "tone": {"params": {"lr": 0.1}, "made_by": old},
        "clock": {"params": {"lr": 0.2}, "made_by": other},
    }
    settings.write_text(json.dumps({"profiles": {"quick": {"siren": {"families": families}}}}))
    new = {"records": "results/tuning-x", "commit": "b" * 40}
    tasks = {"tone[cycles=3]": {"params": {"lr": 0.3}, "made_by": new}}
    (results / "tuning-x").mkdir(parents=True)
    (results / "tuning-x" / "tuned.json").write_text(
        json.dumps({"profiles": {"quick": {"siren": {"tasks": tasks}}}})
    )
    assert cli.main(["publish", "--results", str(results), "--adopt", "tuning-x"]) == 0
    out = capsys.readouterr().out
    assert "quick siren tone: lr=0.1 dropped (results/tuning-x no longer holds" in out
    siren = json.loads(settings.read_text())["profiles"]["quick"]["siren"]
    assert siren["families"] == {"clock": families["clock"]} and siren["tasks"] == tasks
