"""Every run on equal terms (issue 31): what is wrong with a request fails before the first run,
one writer per records folder, and a sweep's exit code says whether its runs failed.

- bad ids and values: every task and method id, and every parameter value, is checked (and
  built) before anything runs: one line naming the problem and what is accepted, exit code 2;
- the folder lock and the manifest: a second writer is refused naming the first, a killed
  writer leaves no stale lock, ``manifest.json`` is merged and never silently replaced;
- exit codes and retries: ``--fail-on`` (default ``error``) makes a ``run`` with failed runs exit
  1, ``--resume --retry STATUS...`` runs those again, an unwritable records file is one line,
  and ``sys.exit`` in an ``--in-process`` sweep is an ``error`` record, not the end of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench import Method, register_method
from bench.app.errors import USER_ERRORS, UsageError
from bench.app.execution import Execution
from bench.app.run import plan_run, run
from bench.core import registry
from bench.engine import lock
from bench.engine.store import MANIFEST, CorruptRecords, RecordWriter

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = str(ROOT / "tests" / "plugins")


def _bench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "BENCH_PLUGIN_PATH": PLUGINS, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _errors(stderr: str) -> list[str]:
    """The error lines of a command's stderr; a traceback would show as more than one."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


class Picky(Method):
    """Test method: refuses a ``mode`` other than a or b in ``__init__``; ``exit`` calls
    ``sys.exit`` in ``fit`` when ``mode`` is x; ``fail`` raises in ``fit`` while the file it
    names exists (so a test can make a run fail and then not)."""

    description = "test method: picky about its mode"

    def __init__(self, mode: str = "a", scale: float = 1.0, fail: str = "") -> None:
        if mode not in ("a", "b", "x"):
            raise ValueError(f"mode must be one of a, b, x, not {mode!r}")
        self.mode = mode
        self.scale = scale
        self.fail = fail

    def fit(self, task, budget, seed, device, log):
        task.data(4) if task.infinite else task.data()
        if self.mode == "x":
            sys.exit(3)
        if self.fail and os.path.exists(self.fail):
            raise RuntimeError("told to fail")
        log(1, 1.0)
        return self

    def predict(self, x):
        return np.zeros(len(x))


@pytest.fixture
def picky() -> Iterator[str]:
    register_method("test-picky", variants=[{"mode": "b"}])(Picky)
    try:
        yield "test-picky"
    finally:
        registry.METHODS.unregister("test-picky")


# -- bad ids and values: refused before anything runs --------------------------------------------


@pytest.mark.parametrize(
    ("methods", "tasks", "says"),
    [
        (["fft"], ["tone[]"], "empty brackets; give name[key=value,...] (parameters: cycles)"),
        (["fft"], ["clock[]"], "empty brackets"),
        (["fft"], ["wave[]"], "empty brackets"),
        (["fft[]"], ["sin31"], "empty brackets"),
        (["fft"], ["tone[cycles=abc]"], "cycles='abc' is not a number; cycles takes a number"),
        (["siren[w0=abc]"], ["sin31"], "w0='abc' is not a number; w0 takes a number"),
        (["siren[w0=]"], ["sin31"], "w0 has no value; w0 takes a number, default 30.0"),
        (["siren[width=2.5]"], ["sin31"], "width='2.5' is not an integer"),
        (["siren[w0=1,w0=2]"], ["sin31"], "w0 is given twice"),
    ],
)
def test_bad_ids_and_values_are_refused_with_what_is_accepted(
    tmp_path: Path, methods: list[str], tasks: list[str], says: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(USER_ERRORS) as info:
        plan_run(methods, tasks, seeds=1, out=out, execution=Execution(jobs=1))
    message = str(info.value)
    assert says in message and "\n" not in message
    assert (methods + tasks)[0 if "[" in methods[0] else 1] in message  # names the id
    assert not out.exists()


def test_registered_values_are_named_and_equal_spellings_still_resolve() -> None:
    with pytest.raises(registry.RegistryError, match=r"registered: 1, 3, 10, 30, 100"):
        registry.TASKS.get("tone[cycles=abc]")
    assert registry.METHODS.get("siren[w0=3e3]").id == "siren[w0=3000]"  # registered
    adhoc = registry.METHODS.get("siren[w0=300]")
    assert adhoc.adhoc and adhoc.params == {"w0": 300}  # the parsed value, as before
    assert registry.METHODS.get("siren[width=2e2]").params == {"width": 200}
    assert registry.METHODS.get("fft[trend=auto]").params == {"trend": "auto"}  # bool | str


def test_a_method_that_cannot_be_built_is_refused_by_name(tmp_path: Path, picky: str) -> None:
    with pytest.raises(UsageError) as info:
        plan_run([f"{picky}[mode=c]"], ["sin31"], seeds=1, out=tmp_path / "o", dry_run=True)
    assert str(info.value) == (
        "run: method 'test-picky[mode=c]' cannot be built: ValueError: mode must be one of a, "
        "b, x, not 'c' (registered: test-picky, test-picky[mode=b])"
    )


def test_every_registered_variant_passes_the_check() -> None:
    """On-demand variants included: the check refuses nothing that is registered."""
    p = plan_run(["*"], ["*"], seeds=1, dry_run=True, execution=Execution(jobs=1))
    assert len(p.methods) > 30 and len(p.tasks) > 30 and not p.notes


def test_a_bad_value_on_the_command_line_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = _bench("run", "--methods", "fft", "--tasks", "tone[cycles=abc]", "--out", str(out))
    assert r.returncode == 2
    assert _errors(r.stderr) == [
        "error: task 'tone[cycles=abc]': cycles='abc' is not a number; cycles takes a number, "
        "default 100; registered: 1, 3, 10, 30, 100, 1000, 10000, 100000, 1000000"
    ]
    assert not out.exists()


# -- one writer per folder; the manifest merged, never silently replaced ---------------------------


def _holder(folder: Path) -> subprocess.Popen:
    """Another process that takes ``folder``'s lock and keeps it until killed."""
    code = (
        "import sys, time; from pathlib import Path; from bench.engine import lock; "
        "lock.acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(600)"
    )
    p = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE,
                         text=True)  # fmt: skip
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def test_a_second_writer_is_refused_naming_the_first(tmp_path: Path) -> None:
    with lock.hold(tmp_path):  # this test process writes there
        r = _bench(
            "run", "--methods", "test-slow[pause=0]", "--tasks", "sin31", "--seeds", "1",
            "--jobs", "1", "--no-report", "--out", str(tmp_path),
        )  # fmt: skip
    assert r.returncode == 2
    [line] = _errors(r.stderr)
    assert f"is being written by another bench process (pid {os.getpid()}" in line
    assert not (tmp_path / "records.jsonl").exists()


def test_a_killed_writer_leaves_no_stale_lock(tmp_path: Path) -> None:
    p = _holder(tmp_path)
    try:
        with pytest.raises(lock.FolderBusy, match=f"pid {p.pid}: "):
            lock.acquire(tmp_path)
    finally:
        p.kill()  # SIGKILL: no clean-up of its own
        p.wait()
    assert (tmp_path / lock.LOCK).exists()  # the killed holder's file stays behind ...
    with lock.hold(tmp_path):  # ... but the kernel dropped its lock with the process
        assert (tmp_path / lock.LOCK).read_text().startswith(f"pid {os.getpid()}: ")
        with lock.hold(tmp_path):  # re-entrant within a process
            pass
        assert lock.holds(tmp_path)
    assert not lock.holds(tmp_path)
    assert not (tmp_path / lock.LOCK).exists()  # a holder that lets go removes it


def test_two_writers_merge_the_manifest_and_a_corrupt_one_is_kept(tmp_path: Path) -> None:
    a, b = RecordWriter(tmp_path), RecordWriter(tmp_path)  # e.g. a merge beside a sweep
    a._remember({"python": "3.11", "torch": "2.4"})
    b._remember({"python": "3.12", "torch": "2.5"})
    envs = json.loads((tmp_path / MANIFEST).read_text())["environments"]
    assert sorted(e["python"] for e in envs.values()) == ["3.11", "3.12"]

    (tmp_path / MANIFEST).write_text('{"environments": {"abc": ')  # torn by another program
    with pytest.raises(CorruptRecords, match="manifest.json cannot be read"):
        RecordWriter(tmp_path)
    with pytest.raises(CorruptRecords, match="move it aside"):
        b._remember({"python": "3.13"})
    assert (tmp_path / MANIFEST).read_text() == '{"environments": {"abc": '  # not replaced


# -- exit codes, retries, unwritable records, sys.exit in process --------------------------------


def _in_process(methods: list[str], out: Path, **kw) -> list[dict]:
    plan = plan_run(methods, ["sin31"], seeds=1, out=out, execution=Execution(in_process=True),
                    **kw)  # fmt: skip
    return run(plan, quiet=True).records


def test_resume_retry_reruns_error_records_and_keeps_the_old_ones(
    tmp_path: Path, picky: str
) -> None:
    flag = tmp_path / "fail-now"
    flag.touch()
    failing = f"{picky}[fail={flag}]"
    first = _in_process([failing, f"{picky}[mode=b]"], tmp_path / "o")
    assert sorted(r["status"] for r in first) == ["error", "ok"]
    assert _in_process([failing], tmp_path / "o", resume=True) == []  # error counts as done
    with pytest.raises(UsageError, match="--retry reruns recorded runs: use it with --resume"):
        plan_run([failing], ["sin31"], retry=["error"], out=tmp_path / "o")
    flag.unlink()
    again = _in_process([failing, f"{picky}[mode=b]"], tmp_path / "o", resume=True,
                        retry=["error"])  # fmt: skip
    assert [(r["method"], r["status"]) for r in again] == [(failing, "ok")]
    lines = (tmp_path / "o" / "records.jsonl").read_text().splitlines()
    assert [json.loads(x)["status"] for x in lines] == ["error", "ok", "ok"]  # old one kept
    assert _in_process([failing], tmp_path / "o", resume=True, retry=["error"]) == []


def test_sys_exit_in_an_in_process_sweep_is_an_error_record(tmp_path: Path, picky: str) -> None:
    recs = _in_process([f"{picky}[mode=x]", f"{picky}[mode=b]"], tmp_path)
    statuses = {r["method"]: (r["status"], r["reason"]) for r in recs}
    assert statuses[f"{picky}[mode=b]"] == ("ok", "")  # the sweep went on
    status, reason = statuses[f"{picky}[mode=x]"]
    assert status == "error" and reason.startswith("SystemExit(3)")


def test_failed_runs_set_the_exit_code_as_fail_on_says(tmp_path: Path) -> None:
    args = ["run", "--methods", "test-fault[mode=raise]", "test-fault[mode=nan-output]"]
    args += ["--tasks", "sin31", "--seeds", "1", "--jobs", "1", "--in-process", "--no-report"]
    r = _bench(*args, "--out", str(tmp_path / "a"))
    assert r.returncode == 1, r.stderr
    assert "failed: 1 error (reasons in" in r.stderr and "--retry error" in r.stderr
    # The diverged run is the method's own limit: it fails the command only under `any`.
    r = _bench(*args, "--out", str(tmp_path / "a"), "--resume", "--retry", "error",
               "--fail-on", "never")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "1 run(s) to do (1 of 2 already recorded; newest error runs again)" in r.stderr


def test_the_fail_on_policy() -> None:
    from bench.app.run import RunResult

    recs = [{"status": s} for s in ("ok", "skipped", "diverged", "timeout", "oom", "error")]
    result = RunResult(Path("."), recs)
    assert result.failures() == {"error": 1}  # the default: crashes and failed set-ups
    assert result.failures("any") == {"diverged": 1, "timeout": 1, "oom": 1, "error": 1}
    assert result.failures("never") == {}
    assert RunResult(Path("."), recs[:3]).failures() == {}


def test_an_unwritable_records_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").mkdir()
    r = _bench(
        "run", "--methods", "test-slow[pause=0]", "--tasks", "sin31", "--seeds", "1",
        "--jobs", "1", "--no-report", "--out", str(tmp_path),
    )  # fmt: skip
    assert r.returncode == 2
    assert _errors(r.stderr) == [
        f"error: {tmp_path / 'records.jsonl'} is a folder, not a file: records cannot be "
        "written there"
    ]
