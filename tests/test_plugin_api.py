"""The public plugin API holds: a third-party method package written against ``bench`` and
``bench.kit`` (found through its entry point) and a task folder written against 0.1.0's
helpers (``bench.metrics``, ``bench.tasklib``) both load and run, the old paths with a
``DeprecationWarning`` that names the new one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bench import _moved

HERE = Path(__file__).resolve().parent / "thirdparty"


def _bench(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE / "site"), env.get("PYTHONPATH", "")])
    env["BENCH_PLUGIN_PATH"] = str(HERE / "old_tasks")
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=tmp, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip


def test_a_third_party_package_and_an_old_style_task_folder_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = _bench("run", "--methods", "octave-tone", "fft", "--tasks", "old-square[cycles=3]",
               "tone[cycles=10]", "--seeds", "1", "--jobs", "1", "--no-report", "--quiet",
               "--out", str(out), tmp=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    status = {(x["method"], x["task"]): x["status"] for x in recs}
    assert set(status.values()) == {"ok"}, status
    assert len(status) == 4
    tone = next(x for x in recs if (x["method"], x["task"]) == ("octave-tone", "tone[cycles=10]"))
    assert tone["success"] is True
    # the old paths still work, and the user is told where they went
    assert "bench.metrics moved in periodic-bench 0.2.0" in r.stderr
    assert "bench.lib.metrics" in r.stderr and "bench.kit.tasks" in r.stderr


def test_the_third_party_package_is_listed_with_no_warning(tmp_path: Path) -> None:
    r = _bench("list", "methods", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "octave-tone" in r.stdout and "octave-tone[n_samples=2048]" in r.stdout


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_every_old_path_imports_with_a_deprecation_warning(old: str) -> None:
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        f"try:\n    importlib.import_module({old!r})\nexcept DeprecationWarning as w:\n"
        "    print('warned:', w)\nelse:\n    print('silent')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("warned:"), r.stdout
    assert all(new in r.stdout for new in _moved.MOVED[old])
    # and with warnings allowed, the module gives the names it gave before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import importlib

        module = importlib.import_module(old)
    assert module is not None


def test_old_names_resolve_to_the_same_objects() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from bench.lib.nn import SeedStack, StackedAdam, train_seeds
        from bench.methodlib import NetMethod
        from bench.metrics import exact_match
        from bench.spectral import SinusoidModel, bin_samples, estimate_tones
        from bench.tasklib import SymmetricTask

        from bench.lib.metrics import exact_match as new_exact

    from bench.kit.tasks import SymmetricTask as NewSymmetric
    from bench.lib import dsp, estimators, sinusoid

    assert exact_match is new_exact and SymmetricTask is NewSymmetric
    assert bin_samples is dsp.bin_samples and estimate_tones is estimators.estimate_tones
    assert SinusoidModel is sinusoid.SinusoidModel
    from bench.kit import NetMethod as NewNet
    from bench.kit import train_seeds as new_train_seeds
    from bench.kit.adam import StackedAdam as NewAdam
    from bench.kit.stack import SeedStack as NewStack

    assert (NetMethod, train_seeds) == (NewNet, new_train_seeds)
    assert (SeedStack, StackedAdam) == (NewStack, NewAdam)


def test_the_warning_names_the_line_that_imported_the_old_path(tmp_path: Path) -> None:
    script = tmp_path / "user_script.py"
    script.write_text("from bench.tasklib import SymmetricTask\n")
    r = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", str(script)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "user_script.py:1: DeprecationWarning: bench.tasklib moved" in r.stderr, r.stderr


def test_a_seed_batch_method_written_for_0_1_0_still_fits() -> None:
    """``_descend`` took five arguments in 0.1.0; such a subclass keeps working, warned."""
    import numpy as np

    from bench import Budget, Logger, TaskView, get_task
    from bench.kit import SeedBatchMethod

    class OldStyle(SeedBatchMethod):
        def _descend(self, tasks, budget, seeds, device, log):
            return [float(s) for s in seeds]

        def _set(self, state):
            self.state_ = state
            return self

        def predict(self, x):
            return np.full(len(x), self.state_)

    views = [TaskView(get_task("sin31"), np.random.default_rng(s)) for s in range(2)]
    with pytest.warns(DeprecationWarning, match="SeedFit"):
        fitted = OldStyle().fit_seeds(views, Budget(steps=1), [3, 4], "cpu", Logger(n_seeds=2))
    assert [m.state_ for m in fitted] == [3.0, 4.0]
