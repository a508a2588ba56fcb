"""Old import paths that still work, with a ``DeprecationWarning`` naming the new one.

The public plugin API is ``bench``, ``bench.kit`` and the numerics of ``bench.lib`` (README,
"Writing a plugin"). Modules a plugin could import in an earlier release moved when the folders
became the layers (0.2.0, ``CHANGELOG.md``). Rather than a stub file at every old path, one
import hook answers for all of them from the table below: ``import bench.metrics`` gives the
module ``bench.lib.metrics`` itself (the same object, so ``isinstance`` and monkeypatching
behave), after a warning attributed to the line that imported it. An old module that was split
in two or three is answered by a small module that looks each name up in the new ones.

The old paths are kept for at least one minor release after the one that moved them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

#: Where the names of 0.1.0's network module (``bench/lib/nn.py``) went when it was split.
NN_0_1 = (
    "bench.kit.nn",
    "bench.kit.train",
    "bench.kit.stack",
    "bench.kit.adam",
    "bench.kit.graphs",
    "bench.core.stop",
)

#: Since 0.2.0: old module path -> the module(s) that now hold its names, in lookup order.
MOVED: dict[str, tuple[str, ...]] = {
    # top-level modules of 0.1.0 (before bench/core and bench/lib existed)
    "bench.contracts": ("bench.core.contracts",),
    "bench.registry": ("bench.core.registry",),
    "bench.defaults": ("bench.core.defaults",),
    "bench.metrics": ("bench.lib.metrics",),
    "bench.periods": ("bench.lib.periods",),
    "bench.spectral": ("bench.lib.dsp", "bench.lib.sinusoid", "bench.lib.estimators"),
    "bench.landscape": ("bench.lib.landscape", "bench.report.landscape"),
    "bench.stats": ("bench.report.stats",),
    "bench.plots": ("bench.report.plots",),
    "bench.nn": NN_0_1,
    "bench.tasklib": ("bench.kit.tasks",),
    "bench.methodlib": ("bench.kit.methods", "bench.kit.netmethod"),
    "bench.conformance": ("bench.kit.conformance",),
    "bench.runner": ("bench.engine.execute", "bench.engine.plan", "bench.engine.device"),
    "bench.store": ("bench.engine.store", "bench.engine.keys"),
    # bench/core and bench/lib as they were in 0.1.0
    "bench.core.runner": ("bench.engine.execute", "bench.engine.plan", "bench.engine.device"),
    "bench.core.isolate": ("bench.engine.sandbox",),
    "bench.core.cluster": ("bench.engine.cluster",),
    "bench.core.sweep": ("bench.engine.sweep",),
    "bench.core.progress": ("bench.engine.progress",),
    "bench.core.store": ("bench.engine.store", "bench.engine.keys"),
    "bench.core.exchange": ("bench.engine.exchange",),
    "bench.core.tuning": ("bench.engine.tuning",),
    "bench.lib.spectral": ("bench.lib.dsp", "bench.lib.sinusoid", "bench.lib.estimators"),
    "bench.lib.plateau": ("bench.core.stop",),
    "bench.lib.nn": NN_0_1,
    "bench.lib.batches": ("bench.kit.batches",),
    "bench.lib.graphs": ("bench.kit.graphs",),
    "bench.lib.closed_form": ("bench.kit.closed_form",),
    # the built-in tasks' folder was named datasets/
    "bench.builtin.datasets": ("bench.builtin.tasks",),
}

SINCE = "0.2.0"


def new_name(old: str) -> tuple[str, ...] | None:
    """The module(s) an old path now points to; submodules of a moved package follow it."""
    if old in MOVED:
        return MOVED[old]
    for prefix, targets in MOVED.items():
        if old.startswith(prefix + ".") and len(targets) == 1:
            return (targets[0] + old[len(prefix) :],)
    return None


def _internal(frame: Any) -> bool:
    """A frame ``warnings`` itself steps over when it counts ``stacklevel``."""
    name = frame.f_code.co_filename
    return "importlib" in name and "_bootstrap" in name


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that names the line which ran the import: past this module and
    ``importlib.import_module``, counting frames the way ``warnings`` does (it skips the import
    machinery's own)."""
    frame, level = sys._getframe(2), 1  # the caller of create_module
    while frame is not None:
        if not _internal(frame):
            level += 1
            name = frame.f_code.co_filename.replace("\\", "/")
            if name != __file__ and not name.endswith("importlib/__init__.py"):
                break
        frame = frame.f_back
    return level


class _Union(types.ModuleType):
    """An old module split in several: each name is looked up in the new ones, in order."""

    def __init__(self, name: str, targets: tuple[str, ...]) -> None:
        super().__init__(name, f"Moved in {SINCE}: now {', '.join(targets)}.")
        self._targets = targets

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        for target in self._targets:
            module = importlib.import_module(target)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")

    def __dir__(self) -> list[str]:
        names: set[str] = set()
        for target in self._targets:
            names.update(dir(importlib.import_module(target)))
        return sorted(names)


class _Loader(importlib.abc.Loader):
    def __init__(self, targets: tuple[str, ...]) -> None:
        self.targets = targets
        self._real_spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        warnings.warn(
            f"{spec.name} moved in periodic-bench {SINCE}: import from "
            f"{' / '.join(self.targets)} instead (CHANGELOG.md); the old path will be removed "
            "in a later minor release",
            DeprecationWarning,
            stacklevel=_caller_stacklevel(),
        )
        if len(self.targets) > 1:
            return _Union(spec.name, self.targets)
        module = importlib.import_module(self.targets[0])
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system stamped the old name's spec on the module; it keeps its own.
        if self._real_spec is not None:
            module.__spec__ = self._real_spec


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith("bench."):
            return None
        targets = new_name(fullname)
        if targets is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(targets))


def install() -> None:
    """Answer the old paths from now on (called once, by ``bench/__init__``)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
