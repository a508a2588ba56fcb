"""Faults and scale-out: every injected failure becomes a record with its status and the sweep
goes on, serially and on dask alike; a dask sweep's records equal a serial one's; a killed
parent or worker loses only what was in flight; bad input is one line and exit code 2.

The fault plugin is ``tests/plugins/fault_method.py`` (``test-fault[mode=...]``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.core import registry
from bench.engine.plan import plan
from bench.engine.sweep import run_sweep

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = str(ROOT / "tests" / "plugins")

#: mode -> the status its run must be recorded with.
FAULTS = {
    "raise": "error",
    "nan-output": "diverged",
    "sleep": "timeout",
    "exit": "error",
    "alloc": "oom",
    "segfault": "error",
    "none": "ok",
}


def _bench(*args: str, env: dict | None = None, timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "BENCH_PLUGIN_PATH": PLUGINS, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]


def _fault_sweep(tmp_path: Path, jobs: int, extra_modes: tuple[str, ...] = (), env=None):
    modes = [*FAULTS, *extra_modes]
    methods = [f"test-fault[mode={m}]" for m in modes]
    r = _bench(
        "run", "--methods", *methods, "--tasks", "sin31", "--seeds", "1", "--jobs", str(jobs),
        "--timeout", "3", "--memory-limit", "256", "--out", str(tmp_path), "--no-report",
        env=env,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr  # runs ended in error: --fail-on error (the default)
    recs = _records(tmp_path)
    assert len(recs) == len(modes) == len({r["run_key"] for r in recs})
    return {r["params"]["mode"]: r for r in recs}, r.stderr


@pytest.mark.slow
def test_injected_faults_are_recorded_and_the_serial_sweep_goes_on(tmp_path: Path) -> None:
    """Each fault in one serial sweep (~45 s: the crashes restart the sandbox, twice each)."""
    by_mode, err = _fault_sweep(tmp_path, jobs=1)
    assert {m: r["status"] for m, r in by_mode.items()} == FAULTS
    assert "SIGSEGV" in by_mode["segfault"]["reason"]
    assert "exited with code 3" in by_mode["exit"]["reason"]
    assert "--timeout 3" in by_mode["sleep"]["reason"]
    assert "retrying once" in err
    _assert_timed(by_mode)


def _assert_timed(by_mode: dict[str, dict]) -> None:
    """Every run carries the time it used, the stopped and the crashed ones too (as the
    wall time the parent saw: both tries of a crash, the --timeout of a hang)."""
    for mode, rec in by_mode.items():
        assert rec["time"]["batch_seeds"] == 1 and rec["time"]["total"] > 0, mode
    assert 3 <= by_mode["sleep"]["time"]["total"] < 10


@pytest.mark.slow
def test_injected_faults_on_a_local_dask_cluster(tmp_path: Path) -> None:
    """The same faults on a 2-worker local cluster (worker threads, a sandbox each)."""
    by_mode, _ = _fault_sweep(tmp_path, jobs=2)
    assert {m: r["status"] for m, r in by_mode.items()} == FAULTS
    _assert_timed(by_mode)


def test_dask_records_equal_a_serial_runs(tmp_path: Path) -> None:
    """Same run keys and the same metrics for deterministic methods, serial and on dask."""
    registry.load_plugins()
    methods = registry.METHODS.select(["fft", "nls"])
    tasks = registry.TASKS.select(["tone[cycles=3]", "sin31"])
    specs = plan(methods, tasks, 2, "quick", "cpu")
    env_before = dict(os.environ)
    serial = run_sweep(specs, tmp_path / "serial", quiet=True)
    on_dask = run_sweep(specs, tmp_path / "dask", jobs=2, quiet=True)
    a = {r["run_key"]: r for r in serial}
    b = {r["run_key"]: r for r in on_dask}
    assert len(a) == 8 and a.keys() == b.keys()
    for key, rec in a.items():
        assert rec["status"] == b[key]["status"] == "ok"
        assert rec["metrics"] == b[key]["metrics"], rec["method"]
    assert len(_records(tmp_path / "dask")) == 8
    # The local cluster leaves nothing behind in this process's environment.
    assert dict(os.environ) == env_before


def test_dask_gets_units_a_short_window_at_a_time(monkeypatch) -> None:
    """At most ``WINDOW`` units per worker are submitted and unfinished at any moment, so a
    free worker always has the next one (dask left workers idle when it held them all)."""
    import distributed

    from bench.engine import cluster

    registry.load_plugins()
    specs = plan(
        registry.METHODS.select(["fft"]),
        registry.TASKS.select(["tone[cycles=3]"]),
        9,
        "quick",
        "cpu",
    )
    outstanding, peak, real = [0], [0], distributed.Client.submit

    def submit(self, *args, **kwargs):
        outstanding[0] += 1
        peak[0] = max(peak[0], outstanding[0])
        return real(self, *args, **kwargs)

    def finish(spec, recs, secs) -> None:
        assert all(r["status"] == "ok" for r in recs)
        outstanding[0] -= 1

    monkeypatch.setattr(distributed.Client, "submit", submit)
    cluster.run_on_dask(specs, finish, jobs=2)
    assert len(specs) == 9 and outstanding[0] == 0
    assert peak[0] == cluster.WINDOW * 2


def test_a_local_cluster_logs_nothing_below_error_while_it_closes(monkeypatch) -> None:
    """dask's own ``silence_logs`` ends before its cluster has closed, so its closing tasks
    could print an INFO traceback ("Batched Comm Closed") after Ctrl-C (seen in CI). The
    sweep keeps dask's loggers at ERROR until the cluster has closed, and restores them."""
    import logging

    from distributed import LocalCluster

    from bench.engine import cluster

    registry.load_plugins()
    specs = plan(
        registry.METHODS.select(["fft"]), registry.TASKS.select(["sin31"]), 1, "quick", "cpu"
    )
    batched = logging.getLogger("distributed.batched")
    before, seen, real = batched.getEffectiveLevel(), [], LocalCluster.close

    def close(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        seen.append(batched.getEffectiveLevel())  # just after the cluster closed
        return out

    monkeypatch.setattr(LocalCluster, "close", close)
    cluster.run_on_dask(specs, lambda *_: None, jobs=1)
    assert seen and min(seen) >= logging.ERROR
    assert batched.getEffectiveLevel() == before


@pytest.mark.slow
def test_an_existing_cluster_runs_shipped_plugins_and_survives_a_lost_worker(
    tmp_path: Path, monkeypatch
) -> None:
    """``--scheduler`` on a cluster of two worker processes, started without
    BENCH_PLUGIN_PATH: the folder plugins reach them by value, and a run that SIGKILLs its
    worker process the first time is retried once by the scheduler, on a fresh worker, where
    it succeeds; the other runs are not disturbed."""
    from dask.distributed import LocalCluster

    marker = tmp_path / "killed-once"
    monkeypatch.delenv("BENCH_PLUGIN_PATH", raising=False)
    monkeypatch.setenv("FAULT_MARKER", str(marker))  # the workers inherit it
    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, memory_limit=0) as cluster:  # fmt: skip
        r = _bench(
            "run", "--methods", "test-slow[pause=0]", "test-fault[mode=kill-parent]",
            "--tasks", "sin31", "--seeds", "2", "--scheduler", cluster.scheduler_address,
            "--out", str(out), "--no-report",
        )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "on the dask scheduler" in r.stderr
    assert marker.exists(), "the worker-killing run never ran"
    recs = _records(out)
    assert len(recs) == 4 == len({x["run_key"] for x in recs})
    assert [x["status"] for x in recs] == ["ok"] * 4


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--timeout", "-1"], "--timeout"),
        (["--timeout", "soon"], "not a number"),
        (["--memory-limit", "0"], "--memory-limit"),
        (["--in-process", "--jobs", "2"], "--in-process"),
        (["--in-process", "--timeout", "5"], "--in-process"),
        (["--profile", "huge"], "invalid choice"),
        (["--device", "tpu"], "unknown device"),
        (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach scheduler"),
    ],
)
def test_malformed_run_options_are_one_line_and_exit_2(tmp_path, capsys, extra, says) -> None:
    code = main(["run", "--methods", "fft", "--tasks", "sin31", "--out", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert says in err and len(err.strip().splitlines()) == 1, err


def test_a_corrupt_records_file_stops_resume_with_one_line(tmp_path, capsys) -> None:
    (tmp_path / "records.jsonl.gz").write_bytes(b"this is not gzip")
    args = ["run", "--methods", "fft", "--tasks", "sin31", "--resume", "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot read") and "records.jsonl.gz" in err
    (tmp_path / "records.jsonl.gz").unlink()
    (tmp_path / "records.jsonl").write_text("garbage\nmore garbage\n")
    assert main(args) == 2
    assert "holds no readable record" in capsys.readouterr().err


def test_a_skipped_line_is_warned_about_by_file_and_line(tmp_path, capsys) -> None:
    registry.load_plugins()
    specs = plan(registry.METHODS.select(["fft"]), registry.TASKS.select(["sin31"]), 1,
                 "quick", "cpu")  # fmt: skip
    run_sweep(specs, tmp_path, quiet=True)
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write("{not json}\n")
    code = main(["run", "--methods", "fft", "--tasks", "sin31", "--seeds", "1", "--resume",
                 "--in-process", "--out", str(tmp_path), "--no-report"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert f"{tmp_path / 'records.jsonl'}:2: skipped (not JSON" in err
    assert "0 run(s) to do (1 of 1 already recorded)" in err


def test_a_half_written_last_line_is_dropped(tmp_path, capsys) -> None:
    from bench.engine.store import RecordWriter, iter_records

    path = tmp_path / "records.jsonl"
    whole = {"run_key": "a", "x": 1}
    path.write_text(json.dumps(whole) + "\n" + '{"run_key": "b", "met')
    RecordWriter(tmp_path)
    assert path.read_text() == json.dumps(whole) + "\n"
    assert "dropped a half-written last line" in capsys.readouterr().err
    path.write_text(json.dumps(whole))  # whole, only its newline lost: kept
    RecordWriter(tmp_path)
    assert path.read_text() == json.dumps(whole) + "\n"
    assert list(iter_records(tmp_path)) == []  # (not a full record: skipped on read)


# -- export and merge ---------------------------------------------------------------------------


def _small_sweep(folder: Path, seeds: int) -> list[dict]:
    registry.load_plugins()
    tasks = registry.TASKS.select(["sin31", "tone[cycles=3]"])
    specs = plan(registry.METHODS.select(["fft"]), tasks, seeds, "quick", "cpu")
    return run_sweep(specs, folder, quiet=True)


def test_export_writes_a_parquet_table_pandas_reads(tmp_path: Path) -> None:
    import pandas as pd

    recs = _small_sweep(tmp_path, 2)
    assert main(["export", str(tmp_path)]) == 0
    table = pd.read_parquet(tmp_path / "records.parquet")
    assert len(table) == 4 and set(table["run_key"]) == {r["run_key"] for r in recs}
    row = table.set_index("run_key").loc[recs[0]["run_key"]]
    for name, value in recs[0]["metrics"].items():
        assert row[f"metrics.{name}"] == pytest.approx(value), name
    assert json.loads(row["params"]) == recs[0]["params"]
    assert row["status"] == "ok" and row["time.total"] > 0


def test_merge_keeps_each_run_once(tmp_path: Path, capsys) -> None:
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    first = _small_sweep(a, 1)
    second = _small_sweep(b, 2)  # seed 0 repeats a's runs
    assert main(["merge", str(dest), str(a), str(b)]) == 0
    keys = [r["run_key"] for r in _records(dest)]
    assert len(keys) == len(set(keys)) == 4
    assert set(keys) == {r["run_key"] for r in first + second}
    assert main(["merge", str(dest), str(b)]) == 0  # nothing new
    assert len(_records(dest)) == 4
    assert "merged 0 run(s)" in capsys.readouterr().err
    assert main(["report", str(dest), "--stdout"]) == 0  # the environments came along
    assert "env " not in capsys.readouterr().out.split("Code:")[0]
    assert main(["merge", str(dest), str(tmp_path / "nosuch")]) == 2


def test_local_workers_are_pinned_one_to_each_gpu() -> None:
    """Worker i of a local cluster sees GPU i only (round robin past the last GPU)."""
    from bench.engine.cluster import gpu_env

    assert gpu_env(["0", "1"], worker_name=0) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert gpu_env(["0", "1"], worker_name=1) == {"CUDA_VISIBLE_DEVICES": "1"}
    assert gpu_env(["0", "1"], worker_name=2) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert gpu_env([], worker_name=1) == {}
