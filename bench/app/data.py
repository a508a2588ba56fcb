"""``export`` and ``merge``: records out of the harness (a Parquet table) and result folders
combined, with the paths checked first and every skipped line handed back to the caller.

The work itself is ``bench.engine.exchange``'s; this module decides what a bad request is and
what the caller is told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.app.errors import UsageError
from bench.app.folders import readable, takes_records, writable
from bench.engine import lock
from bench.engine.exchange import export_parquet, merge_folders


@dataclass
class ExportResult:
    """How many records went into the table at ``out``, and the lines that were skipped."""

    out: Path
    n: int
    problems: list[Any] = field(default_factory=list)


@dataclass
class MergeResult:
    """Runs added to ``dest``, records left out (already there or repeated), skipped lines."""

    dest: Path
    added: int
    duplicates: int
    problems: list[Any] = field(default_factory=list)


def export(paths: Sequence[Path], out: Path | None = None) -> ExportResult:
    """Write every record under ``paths`` (folders or .jsonl files) as one Parquet table at
    ``out`` (default: ``records.parquet`` in the first folder). Nothing readable at all is a
    :class:`UsageError` that carries the skipped lines."""
    readable(paths, "export")
    first = paths[0]
    out = out or (first if first.is_dir() else first.parent) / "records.parquet"
    if out.suffix != ".parquet":
        raise UsageError(f"export: --out {out} should be a .parquet file")
    writable(out.parent)
    try:
        n, problems = export_parquet(paths, out)
    except (OSError, EOFError) as exc:
        raise UsageError(f"export: cannot read the records: {exc}") from exc
    if not n:
        where = ", ".join(map(str, paths))
        raise UsageError(f"export: no readable record in {where}", problems)
    return ExportResult(out, n, problems)


def merge(dest: Path, sources: Sequence[Path]) -> MergeResult:
    """Append to ``dest`` every run of the ``sources`` folders that it lacks, each run once
    (``bench.engine.exchange.merge_folders``); ``dest`` is created if needed, and locked
    while records go in (a sweep writing there is an error naming it)."""
    readable(sources, "merge")
    for src in sources:
        if not src.is_dir():
            raise UsageError(f"merge: {src} is not a result folder")
    takes_records(dest)
    try:
        with lock.hold(dest):
            added, dupes, problems = merge_folders(dest, sources)
    except (OSError, EOFError) as exc:
        raise UsageError(f"merge: cannot read the records: {exc}") from exc
    return MergeResult(dest, added, dupes, problems)
