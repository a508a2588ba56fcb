"""Where plugins come from, in this order:

1. entry points in the groups ``bench.methods`` and ``bench.tasks``. The package's own built-ins
   are registered there too (``bench.builtin.methods``, ``bench.builtin.tasks``), so a wheel
   or a non-editable install finds them from any folder. An entry point names a module, or a
   package whose public modules are then all imported;
2. folders listed in ``BENCH_PLUGIN_PATH`` (``os.pathsep``-separated). Each folder is loaded
   as a private package, so its files can share a helper: ``from ._common import x``. Files
   whose names start with ``_`` are helpers, not plugins.

Nothing is loaded from the working directory or by a generic top-level name, so a project's
own ``datasets`` or ``methods`` package is never executed by accident. Loading fails loudly:
a broken plugin is an error (or, with ``strict=False``, a warning kept in ``load_errors``), and
so is an install that registers no method or no task at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import os
import pkgutil
import re
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path

from bench.core import registry
from bench.core.registry import METHODS, TASKS, RegistryError

ENTRY_POINT_GROUPS = ("bench.methods", "bench.tasks")
PLUGIN_PATH_VAR = "BENCH_PLUGIN_PATH"
_ROOT_PACKAGE = "bench_plugins"
#: What the warning of an old import path says (``bench/_moved.py``).
MOVED_MARK = "moved in periodic-bench"

load_errors: list[str] = []
_loaded = False


def plugin_dirs() -> list[Path]:
    """The existing folders named in ``BENCH_PLUGIN_PATH``, in order, without repeats."""
    seen: list[Path] = []
    for p in os.environ.get(PLUGIN_PATH_VAR, "").split(os.pathsep):
        d = Path(p).resolve() if p else None
        if d is not None and d.is_dir() and d not in seen:
            seen.append(d)
    return seen


def import_package(name: str) -> list[str]:
    """Import ``name`` and, if it is a package, each public module in it. Returns the names
    of the modules imported."""
    module = importlib.import_module(name)
    done = [name]
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if not info.name.startswith("_"):
            done.append(importlib.import_module(f"{name}.{info.name}").__name__)
    return done


def folder_package(folder: Path) -> str:
    """Register ``folder`` as a private package (no ``__init__.py`` needed) and return its
    name; the name is derived from the folder's path, so two folders never collide."""
    if _ROOT_PACKAGE not in sys.modules:
        root = types.ModuleType(_ROOT_PACKAGE)
        root.__path__ = []
        sys.modules[_ROOT_PACKAGE] = root
    stem = re.sub(r"\W", "_", folder.name) or "plugins"
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:8]
    name = f"{_ROOT_PACKAGE}.{stem}_{digest}"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(folder)]
        pkg.__package__ = name
        sys.modules[name] = pkg
    return name


def folder_files(folder: Path) -> list[Path]:
    """The plugin files of ``folder``: ``*.py`` whose names do not start with ``_``."""
    return [p for p in sorted(Path(folder).glob("*.py")) if not p.name.startswith("_")]


def load_file(path: Path) -> str:
    """Import one plugin file as a module of its folder's private package."""
    pkg = folder_package(path.parent.resolve())
    return importlib.import_module(f"{pkg}.{path.stem}").__name__


def load_folder(folder: Path) -> list[str]:
    """Import every plugin file of ``folder``."""
    return [load_file(p) for p in folder_files(folder)]


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    eps: list[importlib.metadata.EntryPoint] = []
    for group in ENTRY_POINT_GROUPS:
        eps.extend(importlib.metadata.entry_points(group=group))
    return eps


@contextlib.contextmanager
def _moved_paths_reported(label: str) -> Iterator[None]:
    """Tell the user, once per plugin, which old import paths it uses: Python shows a
    ``DeprecationWarning`` raised inside a plugin module to nobody by default, and a plugin's
    author would otherwise learn of a removal only when it lands."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        yield
    for w in caught:
        if issubclass(w.category, DeprecationWarning) and MOVED_MARK in str(w.message):
            print(f"warning: {label}: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def load_plugins(strict: bool = True) -> None:
    """Load every plugin once. ``strict`` raises on the first broken plugin; otherwise broken
    plugins are listed in ``load_errors`` (and warned about) and the rest still load."""
    global _loaded
    if _loaded:
        return
    sources: list[tuple[str, object]] = [
        (f"entry point {ep.name} = {ep.value} ({ep.group})", ep) for ep in _entry_points()
    ]
    sources += [(f"plugin file {f}", f) for d in plugin_dirs() for f in folder_files(d)]
    for label, source in sources:
        try:
            with _moved_paths_reported(label):
                if isinstance(source, Path):
                    load_file(source)
                else:
                    import_package(source.value.split(":")[0])  # type: ignore[attr-defined]
        except Exception as exc:
            msg = f"{label} failed to load: {type(exc).__name__}: {exc}"
            if strict:
                raise RegistryError(msg) from exc
            load_errors.append(msg)
            print(f"warning: {msg}", file=sys.stderr)
    _loaded = True
    if not len(METHODS) or not len(TASKS):
        missing = " and ".join(
            k for k, reg in (("methods", METHODS), ("tasks", TASKS)) if not len(reg)
        )
        raise RegistryError(
            f"no {missing} registered: the entry points of periodic-bench were not found "
            "(is the package installed? `pip install .` or `pip install -e .`)"
        )


registry.set_loader(load_plugins)
