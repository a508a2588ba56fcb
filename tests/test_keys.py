"""Run keys cover what a run executes, and nothing else.

A key hashes the closure of the method's and the task's modules (their imports within ``bench``
and within the plugin's own package), the package version, the parameters, the profile and the
seed. Editing a module changes exactly the keys of the runs that execute it: the tests below
"touch" a file by changing its digest and look at which keys move.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bench
from bench.core import registry
from bench.engine import keys
from bench.engine.plan import plan

ROOT = Path(bench.__file__).resolve().parent


def _fingerprints() -> dict[str, str]:
    keys.code_fingerprint.cache_clear()
    registry.load_plugins()
    out = {f"method {e.id}": keys.code_fingerprint(e.cls) for e in registry.METHODS.select()}
    out |= {f"task {e.id}": keys.code_fingerprint(e.cls) for e in registry.TASKS.select()}
    return out


def _touched(monkeypatch: pytest.MonkeyPatch, module: str) -> dict[str, str]:
    """Every fingerprint as if ``module``'s file had been edited."""
    path = str(Path(keys._locate(module)[0] or "").resolve())
    real = keys._file_digest.__wrapped__

    def digest(p: str) -> str:
        return "edited" if str(Path(p).resolve()) == path else real(p)

    monkeypatch.setattr(keys, "_file_digest", digest)
    return _fingerprints()


def _moved(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {k for k in before if before[k] != after[k]}


@pytest.fixture
def before() -> dict[str, str]:
    return _fingerprints()


@pytest.mark.parametrize(
    "module",
    ["bench.report.tables", "bench.cli", "bench.cliparser", "bench.engine.sweep",
     "bench.engine.store", "bench.report.plots"],
)  # fmt: skip
def test_touching_a_report_cli_or_engine_module_changes_no_key(monkeypatch, before, module):
    assert _moved(before, _touched(monkeypatch, module)) == set()


def test_touching_the_network_trainer_moves_the_networks_keys_and_not_fft(monkeypatch, before):
    moved = _moved(before, _touched(monkeypatch, "bench.kit.nn"))
    for net in ("siren", "snake", "gelu-mlp", "periodic-hybrid"):
        assert f"method {net}" in moved
    for other in ("fft", "nls", "lomb-scargle", "seasonal-naive"):
        assert f"method {other}" not in moved
    assert not {k for k in moved if k.startswith("task ")}


def test_touching_a_task_module_moves_only_that_family(monkeypatch, before):
    moved = _moved(before, _touched(monkeypatch, "bench.builtin.tasks.sin31"))
    assert moved and all(k.startswith("task sin31") for k in moved)


def test_a_plugin_helper_module_is_part_of_its_users_keys(monkeypatch, before):
    """methods/_forecast.py is imported by the forecasters alone."""
    moved = _moved(before, _touched(monkeypatch, "bench.builtin.methods._forecast"))
    assert "method mstl" in moved and "method ucm" in moved
    assert "method siren" not in moved and "method fft" not in moved


def test_the_floor_is_part_of_every_key(monkeypatch, before):
    moved = _moved(before, _touched(monkeypatch, "bench.core.task"))
    assert moved == set(before)


def test_an_old_import_path_is_followed_to_the_module_it_names():
    assert keys._real("bench.metrics") == ["bench.lib.metrics"]
    assert "bench.lib.metrics" in keys.closure("bench.kit.tasks")


def test_resume_after_editing_a_report_module_runs_nothing(tmp_path: Path) -> None:
    """The whole path a user takes: run, edit a report module (in a copy of the package), and
    plan again with --resume."""
    copy = tmp_path / "src"
    copy.mkdir()
    for name in ("bench", "methods", "tasks", "pyproject.toml"):
        subprocess.run(["cp", "-r", str(ROOT.parent / name), str(copy / name)], check=True)
    out = tmp_path / "run"
    args = [sys.executable, "-m", "bench", "run", "--methods", "fft", "--tasks", "sin31",
            "--seeds", "1", "--jobs", "1", "--no-report", "--quiet", "--out", str(out)]  # fmt: skip
    env = {"PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    assert subprocess.run(args, cwd=copy, env=env, capture_output=True).returncode == 0
    table = copy / "bench" / "report" / "tables.py"
    table.write_text(table.read_text() + "\n# an edit to a report table\n")
    r = subprocess.run(
        [*args, "--resume", "--dry-run"], cwd=copy, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "0 run(s) to do" in r.stderr or "nothing to do" in r.stderr.lower(), r.stderr


def test_keys_in_a_plan_follow_the_fingerprints():
    m = registry.METHODS.select(["fft"])
    t = registry.TASKS.select(["sin31"])
    a = [k for spec in plan(m, t, 2, "quick", "cpu") for k in spec.keys]
    assert len(set(a)) == 2 and a == [
        k for spec in plan(m, t, 2, "quick", "cpu") for k in spec.keys
    ]
