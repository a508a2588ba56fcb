"""Checks on the folders a command reads or writes, done before any work starts, so that a
typo in a path costs one line and not a finished sweep whose records cannot be written."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.app.errors import UsageError
from bench.core import defaults
from bench.engine.store import MANIFEST, RECORDS, records_path_problem


def writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"output folder {folder} is not writable: {exc.strerror or exc}") from exc


def takes_records(folder: Path) -> None:
    """``folder`` is writable (:func:`writable`) and so are the records file and manifest
    already in it: a ``records.jsonl`` that is read-only, or a folder of that name, is one
    line now and not a traceback after the first run."""
    writable(folder)
    for name in (RECORDS, MANIFEST):
        path = folder / name
        if path.is_dir():
            raise UsageError(f"{path} is a folder, not a file: records cannot be written there")
        if path.exists():
            try:
                with open(path, "ab"):
                    pass
            except OSError as exc:
                raise UsageError(f"{path} is not writable: {exc.strerror or exc}") from exc


def readable(paths: Sequence[Path], command: str) -> None:
    """Each path is a records folder or a records file, or ``command`` fails saying which."""
    for d in paths:
        why = records_path_problem(d)
        if why is not None:
            raise UsageError(f"{command}: {why}")


def newest_run_folder() -> Path:
    """The folder under ``runs/`` whose records changed last: what ``report`` reads when it is
    given no path, since that is almost always the run just made."""
    found = sorted(
        Path(defaults.RUNS_DIR).glob("*/records.jsonl*"), key=lambda p: p.stat().st_mtime
    )
    if not found:
        raise UsageError(
            f"report: no PATH given and no records under {defaults.RUNS_DIR}/ here; name a "
            "results folder (e.g. results/quick-cpu)"
        )
    return found[-1].parent
