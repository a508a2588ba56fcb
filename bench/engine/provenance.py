"""Which code made a record: the commit, whether the tree had changes, and a hash of the code.

A record names the commit of the checkout that ran it (``git_commit``, with ``-dirty`` when the
code a run executes had uncommitted changes). That is only as good as the ``.git`` folder beside
the code: a copy sent to another machine may carry none, or an older one. So every record also
carries ``code_hash``, a hash of the files a run executes or reads (the ``bench`` package and
the built-in plugins in ``methods/`` and ``tasks/``) computed from the files themselves, and
``source_commit`` where the one who made the copy said which commit it was taken from
(``$BENCH_SOURCE_COMMIT``). ``bench publish`` recomputes the hash of that commit from the
repository and accepts a folder only where the two agree.

The hash covers every file under those folders but caches and hidden files, as a clean
checkout of the commit holds them: an untracked file there (a plugin not committed) changes it,
as it changes what a run loads.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The folders whose files a run executes or reads, relative to the checkout's root.
CODE_ROOTS = ("bench", "methods", "tasks")
#: What the commit a copy was taken from is told by (the copy may have no ``.git``).
SOURCE_COMMIT_ENV = "BENCH_SOURCE_COMMIT"
#: Hex digits of :func:`code_hash` kept.
HASH_DIGITS = 16

_HASHES: dict[Path, str] = {}


def checkout_root() -> Path:
    """The folder holding ``bench`` (a checkout's root, or ``site-packages`` when installed)."""
    return Path(__file__).resolve().parent.parent.parent


def _counts(path: str) -> bool:
    """Whether a file at ``path`` (relative, ``/``-separated) belongs to the code."""
    parts = path.split("/")
    # Caches are not code; a .pyc outside __pycache__ (sourceless) is, as Python imports it.
    return not any(p.startswith(".") or p == "__pycache__" for p in parts)


def _digest(files: Iterable[tuple[str, bytes]]) -> str:
    """One hash of ``(path, content)`` pairs, whatever order they come in."""
    h = hashlib.sha256()
    for path, content in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(content).digest())
    return h.hexdigest()[:HASH_DIGITS]


def code_hash(root: Path | None = None) -> str:
    """The hash of the code under ``root`` (default: this copy's) as its files are now."""
    root = (root or checkout_root()).resolve()
    if root not in _HASHES:
        files = []
        for top in CODE_ROOTS:
            base = root / top
            if not base.is_dir():
                continue
            for p in base.rglob("*"):
                rel = p.relative_to(root).as_posix()
                if p.is_file() and not p.is_symlink() and _counts(rel):
                    files.append((rel, p.read_bytes()))
        _HASHES[root] = _digest(files)
    return _HASHES[root]


def forget_hashes() -> None:
    """Drop the cached hashes (after the files changed, in tests)."""
    _HASHES.clear()


def _git(root: Path, *args: str, text: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=text, timeout=60, check=False
    )


def commit_code_hash(commit: str, root: Path | None = None) -> str | None:
    """:func:`code_hash` of ``commit`` as the repository at ``root`` holds it, or ``None``
    where git or the commit is not there."""
    root = root or checkout_root()
    try:
        listing = _git(root, "ls-tree", "-r", "-z", commit, "--", *CODE_ROOTS)
        if listing.returncode != 0:
            return None
        entries = []
        for item in listing.stdout.split("\0"):
            if not item:
                continue
            meta, path = item.split("\t", 1)
            mode, kind, blob = meta.split()
            if kind == "blob" and mode != "120000" and _counts(path):
                entries.append((path, blob))
        blobs = "".join(f"{b}\n" for _, b in entries).encode()
        out = subprocess.run(
            ["git", "-C", str(root), "cat-file", "--batch"],
            input=blobs,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if out.returncode != 0:
            return None
        contents, data, pos = [], out.stdout, 0
        for _ in entries:
            header_end = data.index(b"\n", pos)
            size = int(data[pos:header_end].split()[2])
            start = header_end + 1
            contents.append(data[start : start + size])
            pos = start + size + 1  # the newline after each object
        return _digest((p, c) for (p, _), c in zip(entries, contents, strict=True))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class CodeState:
    """Where this copy's code comes from: ``commit`` (``None`` outside a git checkout) and the
    files under :data:`CODE_ROOTS` (or ``pyproject.toml``) that differ from it."""

    commit: str | None
    changed: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return self.commit is not None and not self.changed


def code_state(root: Path | None = None, also: Sequence[str] = ()) -> CodeState:
    """The commit of the checkout at ``root`` and its uncommitted changes to the code: modified,
    staged, deleted and untracked files (those git does not ignore, caches and hidden files
    aside) under :data:`CODE_ROOTS` and ``pyproject.toml``, and ``also`` (other files about to
    run: a publication's scripts). Published records (``results/``) and parts (``parts/``) are
    data."""
    root = root or checkout_root()
    try:
        head = _git(root, "rev-parse", "HEAD")
        if head.returncode != 0:
            return CodeState(None, ())
        status = _git(
            root, "status", "--porcelain", "-z", "--", *CODE_ROOTS, "pyproject.toml", *also
        )
    except (OSError, subprocess.SubprocessError):
        return CodeState(None, ())
    changed: set[str] = set()
    items = iter(status.stdout.split("\0"))
    for item in items:
        if len(item) > 3:
            changed.add(item[3:])
            if item[0] in "RC":  # a rename or copy: its source path comes next
                changed.add(next(items, ""))
    # Caches and hidden files are not code, for this as for the hash.
    changed = {c for c in changed if c and _counts(c.rstrip("/"))}
    return CodeState(head.stdout.strip(), tuple(sorted(changed)))


def git_commit(root: Path | None = None) -> str | None:
    """The commit of this copy as records name it: ``<hash>``, ``<hash>-dirty`` when the code
    has uncommitted changes (untracked files there included), ``None`` outside git."""
    state = code_state(root)
    if state.commit is None:
        return None
    return state.commit + ("-dirty" if state.changed else "")


def source_commit(strict: bool = False) -> str | None:
    """The commit this copy was taken from, as ``$BENCH_SOURCE_COMMIT`` says (or ``None``).
    ``strict``: ``ValueError`` unless it is a full commit hash (40 hex digits, as ``git
    rev-parse HEAD`` prints it), since a branch name or a prefix names no commit for certain
    (``bench publish`` asks so; a record keeps what it was told, which publish then refuses)."""
    value = os.environ.get(SOURCE_COMMIT_ENV, "").strip()
    if strict and value and not re.fullmatch(r"[0-9a-f]{40}", value):
        raise ValueError(
            f"${SOURCE_COMMIT_ENV} must be a full commit hash (git rev-parse HEAD), not {value!r}"
        )
    return value or None


def record_commit(env: dict[str, Any]) -> str:
    """The commit a record's environment names: the one ``bench publish`` checked its code hash
    against, else the one its copy was said to be taken from, else its checkout's
    (``-dirty`` kept)."""
    return str(env.get("verified_commit") or env.get("source_commit") or env.get("git_commit"))
