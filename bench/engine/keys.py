"""Run keys: what would have to change for a run's result to change.

A run executes its method's module, its task's module, and the modules those import, within
``bench`` and within the plugin's own package (a helper such as ``methods/_forecast.py``
included). The key hashes exactly those files, the package version, the parameters, the
profile and the seed; nothing else. Editing a report table, the command line or the sweep
engine changes no key, so ``--resume`` after such an edit runs nothing; editing the network
trainer changes the networks' keys and not the FFT estimator's.

The imports are read from the source (``ast``), not executed. ``from package import name``
follows ``name`` to the submodule that defines it when the package only re-exports it, so
importing ``Method`` from ``bench`` does not drag in every module ``bench`` re-exports. Imports
done at run time by name (``importlib.import_module``) are not seen: a plugin that loads code
that way should keep that code in its own file.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from bench import _moved
from bench.core import __version__


@functools.cache
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@functools.cache
def _locate(name: str) -> tuple[str | None, bool]:
    """(source file, is a package) of module ``name``; ``(None, False)`` if it has none."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None) if module is not None else None
    if spec is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None, False
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None, False
    return spec.origin, spec.submodule_search_locations is not None


def _real(name: str) -> list[str]:
    """The module(s) an import name stands for (an old path is followed to its new home)."""
    return list(_moved.new_name(name) or (name,))


def _absolute(node: ast.ImportFrom, here: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    base = here.split(".") if is_pkg else here.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@functools.cache
def _reexports(package: str) -> dict[str, str]:
    """``{name: module}`` for the names a package's ``__init__`` imports from elsewhere."""
    path, is_pkg = _locate(package)
    if path is None or not is_pkg:
        return {}
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, package, True)
            for alias in node.names:
                out[alias.asname or alias.name] = source
    return out


def _defined_in(module: str, name: str) -> str | None:
    """The module that defines ``name`` as ``module`` hands it out: read from the object itself
    (a class or function knows its module, also behind a lazy ``__getattr__``), else from the
    package's re-exports."""
    try:
        obj = getattr(importlib.import_module(module), name)
    except Exception:
        obj = None
    defining = getattr(obj, "__module__", None)
    if isinstance(defining, str) and defining != module and _locate(defining)[0]:
        return defining
    return _reexports(module).get(name)


def _targets(node: ast.AST, here: str, is_pkg: bool) -> list[str]:
    """The modules one import statement executes code from. A package's ``__init__`` that only
    passes a name on is not counted; a plain module is, since importing a name from it runs it."""
    if isinstance(node, ast.Import):
        return [n for a in node.names for n in _real(a.name)]
    if not isinstance(node, ast.ImportFrom):
        return []
    source = _absolute(node, here, is_pkg)
    out: list[str] = []
    for alias in node.names:
        for mod in _real(source):
            sub = f"{mod}.{alias.name}"
            if _locate(sub)[0] is not None:  # ``from package import module``
                out.extend(_real(sub))
                continue
            defining = _defined_in(mod, alias.name)
            package = _locate(mod)[1]
            if defining:
                out.extend(_real(defining))
            if not package or not defining:
                out.append(mod)
    return out


def _in_scope(name: str, roots: frozenset[str]) -> bool:
    return name.split(".")[0] in roots


@functools.cache
def closure(module: str) -> tuple[str, ...]:
    """``module`` and every module of ``bench`` or of its own top-level package that it imports,
    directly or through others, in sorted order."""
    roots = frozenset({"bench", module.split(".")[0]})
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path, is_pkg = _locate(name)
        if path is None:
            continue
        seen.add(name)
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            todo.extend(t for t in _targets(node, name, is_pkg) if _in_scope(t, roots))
    return tuple(sorted(seen))


@functools.cache
def code_fingerprint(cls: type) -> str:
    """Hash of the package version and of the files of every module in the closure of the
    module that defines ``cls``."""
    h = hashlib.sha256(__version__.encode())
    modules = closure(cls.__module__)
    if not modules:  # defined interactively or in a file that cannot be read
        try:
            h.update(inspect.getsource(cls).encode())
        except (OSError, TypeError):
            h.update(repr(cls).encode())
    for name in modules:
        h.update(name.encode())
        h.update(_file_digest(_locate(name)[0] or "").encode())
    return h.hexdigest()[:16]


def run_key(
    method_id: str,
    method_source: str,
    params: dict[str, Any],
    task_id: str,
    task_source: str,
    task_params: dict[str, Any],
    seed: int | list[int],
    profile: str,
) -> str:
    """Stable identity of a run: what would have to change for its result to change."""
    blob = json.dumps(
        [method_id, method_source, params, task_id, task_source, task_params, seed, profile],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]
