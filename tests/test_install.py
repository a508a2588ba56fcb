"""Plugin discovery as a user meets it: a fresh interpreter, ``BENCH_PLUGIN_PATH`` folders and
``python -m bench list``, run from a folder outside the checkout.

The wheel itself (built, installed into a fresh environment, listed and run from elsewhere) is
checked by ``.ci/run``; these tests cover the folder plugins every install shares.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core import registry

#: Two plugin files sharing a private helper through a relative import; the helper counts its
#: users, so the second description proves both files got the same helper module.
SHARED = {
    "_common.py": '''
"""Shared by the plugins of this folder; not a plugin itself (its name starts with _)."""
import numpy as np
from bench import Method

USERS = []


class Zero(Method):
    handles_fixed_data = True

    def fit(self, task, budget, seed, device, log):
        log(1, 1.0)
        return self

    def predict(self, x):
        return np.zeros(len(x))


def described(name):
    USERS.append(name)
    return f"{name}: shared helper used by {len(USERS)} plugin(s)"
''',
    "alpha.py": """
from bench import register_method
from ._common import Zero, described


@register_method("test-alpha")
class Alpha(Zero):
    description = described("alpha")
""",
    "beta.py": """
from bench import register_method
from ._common import Zero, described


@register_method("test-beta")
class Beta(Zero):
    description = described("beta")
""",
}

#: A plugin folder named like the built-in task package (and like Hugging Face's ``datasets``).
#: Its ``__init__.py`` raises: plugin folders are loaded file by file as private packages, so
#: anything importing the folder as a top-level ``datasets`` package fails the listing.
DATASETS = {
    "__init__.py": 'raise ImportError("the plugin folder was imported as a package")\n',
    "path_task.py": """
import numpy as np
from bench import Task, register_task


@register_task("test-path-task")
class PathTask(Task):
    family = "test-path-task"
    description = "a task from a plugin folder named datasets"
    success_criterion = "none"

    @property
    def domain(self):
        return (-1.0, 1.0)

    def sample(self, n, rng):
        x = rng.uniform(-1, 1, n)
        return x, np.sin(x)

    def eval_sets(self):
        x = np.linspace(-1, 1, 9)
        return {"test": (x, np.sin(x))}
""",
}

#: A plugin folder with a good file and one whose import fails (a missing dependency, the
#: commonest way a user's plugin breaks).
BROKEN = {
    "a_good.py": """
from bench import Method, register_method


@register_method("test-good")
class Good(Method):
    description = "loads fine"
""",
    "broken_plugin.py": "import a_module_that_is_not_installed_anywhere\n",
}


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text.lstrip())
    return folder


def _bench_list(cwd: Path, *folders: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "BENCH_PLUGIN_PATH": os.pathsep.join(str(f) for f in folders),
    }
    return subprocess.run(
        [sys.executable, "-m", "bench", "list"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _listed(out: str) -> dict[str, set[str]]:
    """``bench list`` output -> {"methods": ids, "tasks": ids}, checking each header count."""
    sections: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current, count = line.rstrip(":").split(" (")
            counts[current] = int(count.rstrip(")"))
            sections[current] = set()
        elif line.strip():
            sections[current].add(line.split()[0])
    assert {k: len(v) for k, v in sections.items()} == counts, out
    return sections


def _builtins(reg: registry.Registry) -> set[str]:
    return {i for i in reg.ids() if reg.get(i).cls.__module__.startswith("bench.builtin.")}


def test_plugin_folders_load_beside_the_builtins(tmp_path: Path) -> None:
    """Run from the folder that holds a plugin folder named ``datasets``: neither the working
    directory nor the folder's name may make it shadow, or be shadowed by, the built-ins."""
    shared = _write(tmp_path / "shared", SHARED)
    datasets = _write(tmp_path / "datasets", DATASETS)
    res = _bench_list(tmp_path, shared, datasets)
    assert res.returncode == 0, res.stderr[-3000:]
    listed = _listed(res.stdout)
    assert listed["methods"] == _builtins(registry.METHODS) | {"test-alpha", "test-beta"}
    assert listed["tasks"] == _builtins(registry.TASKS) | {"test-path-task"}
    assert "beta: shared helper used by 2 plugin(s)" in res.stdout


@pytest.fixture(scope="module")
def broken_listing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, int]:
    """One listing with the broken folder on the path: (folder, stdout, stderr, exit code)."""
    root = tmp_path_factory.mktemp("broken")
    folder = _write(root / "user-plugins", BROKEN)
    res = _bench_list(root, folder)
    return folder, res.stdout, res.stderr, res.returncode


def test_a_broken_plugin_fails_the_listing(broken_listing: tuple[Path, str, str, int]) -> None:
    folder, out, err, code = broken_listing
    assert code != 0 and not out, (code, out, err)
    assert "Traceback" not in err  # one line a user can act on, not a stack
    assert "a_module_that_is_not_installed_anywhere" in err
    assert str(folder) in err


def test_a_broken_plugin_is_named_by_file(broken_listing: tuple[Path, str, str, int]) -> None:
    _, _, err, _ = broken_listing
    assert "broken_plugin.py" in err, err
