"""``report``: tables (and plots) from records, nothing rerun.

The report package reads records only. Two of its tables need more than the records hold: the
failure map's "started in basin" columns need each run's start ``w0``, which only the method
can redraw from the run's seed, and the tuning-trials table needs each method's search grid and
paper defaults. Both need the plugins, so they are worked out here, where loading plugins is
this layer's business, and handed to the report as :class:`~bench.report.Lookups`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from bench.app.errors import UsageError
from bench.app.folders import newest_run_folder, readable, writable
from bench.core import defaults, registry
from bench.engine.store import records_path_problem
from bench.report import (
    Lookups,
    Outcome,
    publish_folder,
    read,
    update_findings,
    update_readme,
    write_report,
)
from bench.report import write_reports as _write_reports
from bench.report.failure_map import lies_in_basin


@functools.cache
def _method(method_id: str) -> Any:
    registry.load_plugins()
    try:
        return registry.get_method(method_id)
    except Exception:  # not a method of this install: no start to recompute
        return None


def start_in_basin(record: dict[str, Any]) -> bool | None:
    """Whether the run's start ``w0`` lay in the basin of ``w*`` or of ``-w*``.

    Records keep no ``w0``; it is redrawn from the record's seed the way the runner derives the
    method's seed (``bench.engine.plan.derive_seed``, stream 2) and the method draws from it
    (``initial_freqs``). ``None`` where the method cannot be built here or draws no start."""
    from bench.engine.plan import derive_seed

    method = _method(record["method"])
    if method is None or not hasattr(method, "initial_freqs"):
        return None
    seed = derive_seed(record.get("base_seed", 0), record["task"], record["seed"], 2)
    w0 = float(method.initial_freqs([seed])[0])
    return lies_in_basin(w0, float(record["task_params"]["cycles"]))


def tuning_choice(trials: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the tuning protocol chooses from these trial records, for every method family among
    them that this install has (``bench.engine.tuning.summarise``); the trials of a method it
    lacks stay unsummarised."""
    from bench.engine import tuning

    registry.load_plugins()
    entries = []
    for fam in sorted({str(r["method_family"]) for r in trials}):
        try:
            entries.append(registry.METHODS.get(fam))
        except registry.RegistryError:
            continue
    return tuning.summarise(trials, entries)


def lookups() -> Lookups:
    """Everything a report needs from the plugins, computed only when a table asks."""
    return Lookups(start_in_basin=start_in_basin, tuning_choice=tuning_choice)


def report(
    dirs: Sequence[Path] = (),
    out: Path | None = None,
    formats: Sequence[str] = ("md",),
    *,
    plots: bool = False,
    svg: bool | None = None,
    publish: bool = False,
    readme: Path | None = None,
    findings: Path | None = None,
    markdown_to: TextIO | None = None,
) -> Outcome:
    """Write the report of the records in ``dirs`` (folders or .jsonl files; none: the newest
    folder under ``runs/``) into ``out`` (default: the first of them) in each of ``formats``.

    ``publish`` makes ``out`` a lean published folder (report.md, summary.csv, plots, README);
    ``readme`` also regenerates the results table of that file, ``findings`` the real-series
    block of that one; ``markdown_to`` receives the
    Markdown. Paths that hold no records, or formats a published folder does not keep, raise
    :class:`UsageError`."""
    dirs = list(dirs) or [newest_run_folder()]
    readable(dirs, "report")
    formats = list(dict.fromkeys(formats))
    if publish and set(formats) - {"md", "csv"}:
        raise UsageError(
            "report: --publish keeps report.md and summary.csv only; build html or latex "
            "into another folder: --format html latex csv --out FOLDER"
        )
    loaded = read(dirs)
    if not loaded.records:
        where = ", ".join(str(d) for d in dirs)
        first = f"; first problem: {loaded.problems[0]}" if loaded.problems else ""
        raise UsageError(
            f"report: no records in {where} ({len(loaded.problems)} unreadable line(s){first})"
        )
    out = out or (dirs[0] if dirs[0].is_dir() else dirs[0].parent)
    writable(out)
    look = lookups()
    if publish:
        done = publish_folder(loaded, dirs, out, plots, svg, markdown_to, lookups=look)
    else:
        done = write_report(loaded, dirs, out, formats, plots, svg, markdown_to, lookups=look)
    if readme is not None:
        try:
            link = os.path.relpath(out / "report.md", readme.resolve().parent)
            done.written.append(update_readme(readme, dirs, link=link))
        except (OSError, ValueError) as exc:
            raise UsageError(f"report: {exc}") from exc
    if findings is not None:
        try:
            done.written.append(update_findings(findings, dirs))
        except (OSError, ValueError) as exc:
            raise UsageError(f"report: {exc}") from exc
    return done


def report_run(out: Path) -> list[Path]:
    """The Markdown report written beside a run's records when it ends; the paths written."""
    return _write_reports([out], out, ["md"], plots=False, lookups=lookups())


def is_results_tree(path: Path) -> bool:
    """Whether ``path`` is a folder of result folders (like ``results/``), not one itself."""
    from bench.report.site import record_folders

    return path.is_dir() and records_path_problem(path) is not None and bool(record_folders(path))


def site(
    results: Path,
    out: Path | None = None,
    about: dict[str, str] | None = None,
    status: dict[str, str] | None = None,
) -> Path:
    """The static results site over the folders of ``results`` (``bench.report.site``) in
    ``out`` (default ``runs/site``); the index page's path. ``about``: what each folder answers
    (the publication plan's words; else the results README's table); ``status``: the plan's word
    on each folder's state."""
    from bench.report.site import method_kind, write_site

    registry.load_plugins()

    def kind_of(family: str) -> str:
        try:
            return method_kind(family, registry.METHODS.get(family).cls)
        except registry.RegistryError:
            return method_kind(family)

    out = out or Path(defaults.RUNS_DIR) / "site"
    writable(out)
    return write_site(results, out, about, kind_of=kind_of, lookups=lookups(), status=status)
