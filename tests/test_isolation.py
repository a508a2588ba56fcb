"""Every run on equal terms: a run leaves no global setting behind for the next one in the
same interpreter, the time budget binds methods that never log, a hyper-parameter JSON cannot
carry is recorded readably (and is no reason for the sandbox to fail), ``--timeout`` and Ctrl-C
end the whole process group of a run, and runs that were stopped or crashed carry the time
they used.

The test plugins are ``tests/plugins/pollute_method.py`` (``test-pollute``, ``test-probe``),
``budget_plugins.py`` (``test-brief``, ``test-overrun``, ``test-act``) and ``spawn_method.py``
(``test-spawn``); they are registered here for the module and given to sandbox children
through ``BENCH_PLUGIN_PATH``.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.core import plugins, registry
from bench.engine import sandbox
from bench.engine.execute import execute, readable, unit_records
from bench.engine.plan import RunSpec
from bench.engine.state import Snapshot

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tests" / "plugins"
FILES = ("pollute_method.py", "budget_plugins.py", "spawn_method.py")
METHODS = ("test-pollute", "test-probe", "test-overrun", "test-act", "test-spawn")
SETTINGS = ["dtype", "threads", "anomaly", "grad", "rng", "errstate", "warnings", "env", "cwd"]


@pytest.fixture(scope="module", autouse=True)
def _plugins():
    for name in FILES:
        module = sys.modules.get(plugins.folder_package(PLUGINS) + "." + name[:-3])
        if module is None:
            plugins.load_file(PLUGINS / name)
        elif "test-probe" not in registry.METHODS or "test-brief" not in registry.TASKS:
            importlib.reload(module)  # registered once already, then unregistered
    yield
    for family in METHODS:
        registry.METHODS.unregister(family)
    registry.TASKS.unregister("test-brief")


@pytest.fixture(scope="module")
def box():
    """One sandbox child for the tests below that do not kill it."""
    sandbox.reopen_shared()
    child = sandbox.Sandbox(env={"BENCH_PLUGIN_PATH": str(PLUGINS)})
    yield child
    child.close()


def _one(method: str, task: str = "sin31") -> dict:
    (rec,) = execute(RunSpec(method, task, (0,)))
    return rec


def _gone(pid: int, within: float = 5.0) -> bool:
    """Whether process ``pid`` has ended (a zombie counts as ended) within ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


# -- 1. no run leaves a global setting behind ---------------------------------------------------


@pytest.mark.parametrize("what", SETTINGS)
def test_a_run_leaves_no_global_setting_behind(what: str) -> None:
    """A run that changes one global setting and leaves it so: the next run in the same
    interpreter finds what a run found before it (the probe's numbers are equal), and so
    does this process."""
    before = _one("test-probe")
    dtype, env, cwd = torch.get_default_dtype(), dict(os.environ), os.getcwd()
    assert _one(f"test-pollute[what={what}]")["status"] == "ok"
    after = _one("test-probe")
    assert after["status"] == before["status"] == "ok", after["reason"]
    assert after["metrics"] == before["metrics"]
    assert (torch.get_default_dtype(), dict(os.environ), os.getcwd()) == (dtype, env, cwd)


def test_a_default_dtype_left_at_float64_does_not_break_the_next_network() -> None:
    """The issue's case: after a plugin set torch's default dtype to float64, siren failed
    ("expected scalar type Double but found Float"); now its record is a clean run's."""
    clean = _one("siren[w0=3]", "test-brief[seconds=60]")
    _one("test-pollute[what=dtype]")
    again = _one("siren[w0=3]", "test-brief[seconds=60]")
    assert clean["status"] == again["status"] == "ok", again["reason"]
    assert again["metrics"] == clean["metrics"]


def test_each_run_in_the_sandbox_starts_as_the_first(box: sandbox.Sandbox) -> None:
    """The same in one long-lived sandbox child: every setting polluted in turn, the probe
    after each reports what it reported first."""
    spec = RunSpec("test-probe", "sin31", (0,))
    (first,), _ = box.run(spec)
    assert first["status"] == "ok", first["reason"]
    for what in SETTINGS:
        (dirty,), _ = box.run(RunSpec(f"test-pollute[what={what}]", "sin31", (0,)))
        assert dirty["status"] == "ok", dirty["reason"]
        (probe,), _ = box.run(spec)
        assert probe["metrics"] == first["metrics"], what


def test_a_snapshot_names_what_it_put_back() -> None:
    snap = Snapshot()
    np.seterr(over="raise")
    os.environ["TEST_SNAPSHOT"] = "1"
    assert set(snap.restore()) == {"numpy error state", "environment variables"}
    assert np.geterr()["over"] != "raise" and "TEST_SNAPSHOT" not in os.environ
    assert Snapshot().restore() == []


# -- 2. the time budget binds every phase, logged or not ----------------------------------------


@pytest.mark.parametrize("phase", ["warm_up", "fit", "predict"])
def test_the_time_budget_binds_methods_that_never_log(phase: str) -> None:
    """0.8 s asleep in one phase, on a 0.5 s budget, never calling ``log``: ``timeout``,
    saying in which phase and how much of the budget was used."""
    rec = _one(f"test-overrun[phase={phase}]", "test-brief")
    assert rec["status"] == "timeout" and rec["success"] is False
    assert f"time budget exceeded in {phase}" in rec["reason"]
    assert "of the 0.5 s budget" in rec["reason"]
    assert rec["time"]["total"] > 0.5
    assert _one("test-overrun[phase=none]", "test-brief")["status"] == "ok"


def test_the_sandbox_stops_a_fit_that_hangs_without_logging() -> None:
    """No ``--timeout``: a fit asleep for an hour without logging, on a 0.5 s budget, is
    killed at BUDGET_GRACE x the budget + BUDGET_SLACK_S (6 s) and recorded as ``timeout``."""
    sandbox.reopen_shared()
    child = sandbox.Sandbox(env={"BENCH_PLUGIN_PATH": str(PLUGINS)})
    try:
        child.run(RunSpec("test-overrun[phase=none]", "test-brief", (0,)))  # started
        t0 = time.monotonic()
        (rec,), secs = child.run(RunSpec("test-overrun[phase=hang]", "test-brief", (0,)))
        took = time.monotonic() - t0
    finally:
        child.close()
    limit = 0.5 * sandbox.BUDGET_GRACE + sandbox.BUDGET_SLACK_S
    assert rec["status"] == "timeout" and "time budget exceeded" in rec["reason"], rec["reason"]
    assert limit <= took < limit + 5
    assert rec["time"]["total"] == pytest.approx(secs) and secs >= limit


# -- 4. hyper-parameters JSON cannot carry ------------------------------------------------------


def test_a_function_hyper_parameter_is_recorded_readably_and_runs_in_the_sandbox(
    box: sandbox.Sandbox,
) -> None:
    """``act=np.sin``: ``ok`` in process and in the sandbox (which used to die trying to send
    the record), recorded as ``numpy.sin`` by both."""
    here = _one("test-act", "test-brief")
    (there,), _ = box.run(RunSpec("test-act", "test-brief", (0,)))
    for rec in (here, there):
        assert rec["status"] == "ok" and rec["success"] is True, rec["reason"]
        assert rec["method_params"] == {"act": "numpy.sin"}
    assert here["metrics"] == there["metrics"]


def test_readable_keeps_json_values_and_names_the_rest() -> None:
    plain = {"a": 1, "b": 2.5, "c": "x", "d": None, "e": [1, {"f": True}]}
    assert readable(plain) == plain
    assert readable(np.float32(1.5)) == 1.5 and readable(np.arange(3)) == [0, 1, 2]
    assert readable({"act": np.sin, "f": np.mean, "cls": torch.nn.Tanh}) == {
        "act": "numpy.sin",
        "f": "numpy.mean",
        "cls": "torch.nn.modules.activation.Tanh",
    }
    assert readable(torch.nn.Tanh()) == "Tanh()" and readable((1, 2)) == (1, 2)


# -- 7. --timeout and Ctrl-C end the run's whole process group ----------------------------------


def test_timeout_ends_the_processes_a_run_started(tmp_path: Path) -> None:
    """A fit that starts ``sleep 1000`` and hangs: at ``--timeout 2`` the record is
    ``timeout``, carries the 2 s it used, and the ``sleep`` is gone with the sandbox child."""
    pidfile = tmp_path / "pid"
    sandbox.reopen_shared()
    child = sandbox.Sandbox(env={"BENCH_PLUGIN_PATH": str(PLUGINS), "SPAWN_PIDFILE": str(pidfile)})
    try:
        (rec,), _ = child.run(RunSpec("test-spawn", "sin31", (0,)), timeout=2)
    finally:
        child.close()
    assert rec["status"] == "timeout" and "--timeout 2" in rec["reason"]
    assert rec["time"]["batch_seeds"] == 1 and 2 <= rec["time"]["total"] < 5
    assert _gone(int(pidfile.read_text())), "the process the run started outlived it"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_a_stopped_sweep_ends_the_processes_its_runs_started(tmp_path: Path, sig: int) -> None:
    """Ctrl-C to the command (SIGINT), or a SIGKILL of it: the process a run started ends
    too (with SIGKILL, once the sandbox child sees its parent gone, within a second or two)."""
    pidfile = tmp_path / "pid"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_PLUGIN_PATH": str(PLUGINS),
           "SPAWN_PIDFILE": str(pidfile)}  # fmt: skip
    args = ["run", "--methods", "test-spawn", "--tasks", "sin31", "--seeds", "1", "--jobs", "1"]
    log = tmp_path / "stderr"  # a file: a process left behind would hold a pipe open
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench", *args, "--out", str(tmp_path / "out"), "--no-report"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert pidfile.exists(), log.read_text()
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), log.read_text()
    assert _gone(int(pidfile.read_text())), "the process the run started outlived the sweep"


# -- 3. stopped and crashed runs carry their time -----------------------------------------------


def test_records_of_a_unit_that_could_not_report_carry_its_time() -> None:
    """What the parent saw of a unit whose child died or was stopped, shared per seed."""
    recs = unit_records(RunSpec("fft", "sin31", (0, 1, 2)), "error", "worker died", seconds=6.0)
    assert [r["time"] for r in recs] == [{"total": 2.0, "batch_seeds": 3}] * 3
    from bench.engine.cluster import _lost

    (rec,), secs = _lost(RunSpec("fft", "sin31", (0,)), RuntimeError("gone"), 4.0)
    assert rec["status"] == "error" and "worker lost twice" in rec["reason"]
    assert rec["time"] == {"total": 4.0, "batch_seeds": 1} and secs == 4.0
