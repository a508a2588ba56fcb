"""The command line's grammar: ``python -m bench list|run|tune|report|landscape|export|merge``.

The grammar is data: :data:`COMMANDS` lists each subcommand with its help and its options,
exactly the arguments ``argparse.add_argument`` takes, in the order ``--help`` shows them, and
:func:`build_parser` only walks that table. An option is added or changed in one place, and the
options ``run`` and ``tune`` share (:data:`EXECUTION`) are written once. Every parse error is a
:class:`UsageError`: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.app.errors import DEFAULT_FAIL_ON, FAIL_ON, UsageError
from bench.core import defaults
from bench.core.contracts import PROFILES
from bench.core.record import STATUSES

__all__ = ["COMMANDS", "UsageError", "build_parser", "prog_name", "split_patterns"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other usage error
        raise UsageError(f"{self.prog}: {message}")


def split_patterns(values: Sequence[str] | None) -> list[str] | None:
    """``--methods a b`` and ``--methods a,b`` both work (commas inside [] are kept)."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        depth, cur = 0, ""
        for ch in v:
            depth += ch == "["
            depth -= ch == "]"
            if ch == "," and depth == 0:
                out.append(cur)
                cur = ""
            else:
                cur += ch
        out.append(cur)
    return [s.strip() for s in out if s.strip()]


def prog_name() -> str:
    """``python -m bench`` or the console script's own name, as the user typed it."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "python -m bench" if name in ("", "__main__.py", "-c") else name


RUN_HELP = """Run methods on tasks for several seeds and append one record per run to
<out>/records.jsonl as each run ends (a killed sweep loses at most the runs in flight;
--resume computes only what is missing). Patterns are fnmatch patterns over the ids that
`list` shows; brackets in ids are literal. Afterwards a Markdown report is written beside the
records (--no-report to skip it)."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds or MiB: {text}")
    return value


@dataclass(frozen=True)
class Opt:
    """One argument: ``argparse.add_argument(*flags, **kw)``."""

    flags: tuple[str, ...]
    kw: dict[str, Any]


def _o(*flags: str, **kw: Any) -> Opt:
    return Opt(flags, kw)


@dataclass(frozen=True)
class OneOf:
    """Options of which at most one may be given (a mutually exclusive group)."""

    options: tuple[Opt, ...]


@dataclass(frozen=True)
class Command:
    """A subcommand: its one-line ``help`` in the overview, its ``--help`` text and options."""

    name: str
    help: str
    description: str
    options: tuple[Opt | OneOf, ...] = field(default=())


#: Where and how runs execute: the same options for run and tune.
EXECUTION = (
    _o("--jobs", type=int, default=None,
       help="workers of a local dask cluster, one thread and one sandbox process each (default: "
       "one per core on CPU, up to 4; one per GPU on CUDA); 1 runs the units one after another"),
    _o("--scheduler", metavar="ADDRESS", default=None,
       help="send the runs to an existing dask scheduler (e.g. tcp://host:8786) instead of "
       "a local cluster; see the README's Scale-out section"),
    _o("--timeout", type=_positive_float, default=None, metavar="SECONDS",
       help="stop a run past this many seconds per seed and record it as timeout, even when "
       "stuck in native code (each run is in a child process); default: no limit beyond the "
       "profile's own time budget"),
    _o("--memory-limit", type=_positive_float, default=None, metavar="MIB",
       help="memory a run may allocate beyond the loaded interpreter; past it the run is "
       "recorded as oom (an address-space limit, Linux)"),
    _o("--in-process", action="store_true",
       help="with --jobs 1, run in this process (for a debugger); a crashing plugin then "
       "ends the sweep, and --timeout and --memory-limit are not available"),
)  # fmt: skip

_DEVICE = _o("--device", default="auto", help="auto (CUDA if present), cpu or cuda[:N]")
_QUIET = _o("--quiet", action="store_true", help="no progress bar or lines")
_SEEDS_HELP = ", ".join(f"{v} on {k}" for k, v in defaults.SEEDS.items())

RUN = Command("run", "run methods on tasks and append records", RUN_HELP, (
    _o("--all", action="store_true", help="every method on every task (on-demand variants "
       "excepted)"),
    _o("--methods", nargs="+", metavar="PATTERN", help="fnmatch patterns, e.g. 'siren*'"),
    _o("--tasks", nargs="+", metavar="PATTERN", help="fnmatch patterns, e.g. 'tone*'"),
    _o("--exclude-methods", nargs="+", metavar="PATTERN", default=[],
       help="methods to leave out"),
    _o("--exclude-tasks", nargs="+", metavar="PATTERN", default=[], help="tasks to leave out"),
    _o("--seeds", type=int, default=None,
       help=f"seeds per (method, task) pair (default: {_SEEDS_HELP})"),
    _o("--base-seed", type=int, default=0, help="root of every derived seed"),
    _o("--profile", choices=PROFILES, default="quick",
       help="task sizes: quick (CPU, minutes) or full (the original experiment's; for a GPU)"),
    _DEVICE,
    _o("--threads", type=int, default=defaults.THREADS,
       help=f"torch threads per worker (default {defaults.THREADS})"),
    *EXECUTION,
    _o("--out", type=Path, default=None,
       help=f"default: {defaults.RUNS_DIR}/<profile>-<device>/ (yours, ignored by git)"),
    _o("--steps", type=int, default=None, metavar="N",
       help="a control run: at most N optimiser steps of the task's budget (records and run "
       "keys say so)"),
    _o("--no-stop", action="store_true",
       help="a control run without the stop rule: every seed trains its whole step budget "
       "(the rule is still tracked; records say where it would have stopped)"),
    _o("--no-fleets", action="store_true",
       help="train every unit (a method on a task, all seeds) on its own; by default the units "
       "of a network that can share one stacked model train as one per task family (a fleet), "
       "each run recording what it would alone but for its times"),
    _o("--resume", action="store_true", help="skip runs already in records.jsonl"),
    _o("--retry", nargs="+", metavar="STATUS", choices=STATUSES, default=[],
       help="with --resume, run again the runs whose newest record has one of these statuses "
       "(e.g. error timeout, after raising --timeout); the older records stay in the file and "
       "reports keep the newest"),
    _o("--fail-on", choices=list(FAIL_ON), default=DEFAULT_FAIL_ON,
       help="exit code 1 when a new run ended in error (the default: a crash or a failed "
       "set-up), also in diverged, timeout or oom (any: a method's own limits too), or never; "
       "skipped and unsuccessful runs never fail the command"),
    _o("--dry-run", action="store_true",
       help="print the plan and run nothing: its expected time on this device and workers, by "
       "method and task family, from earlier records (this folder's and the published ones "
       "under ./results, or $BENCH_COSTS); a CUDA plan works on a machine without a GPU"),
    _o("--list", action="store_true", help="with --dry-run, list the units instead"),
    _QUIET,
    _o("--no-report", action="store_true", help="do not write the report afterwards"),
))  # fmt: skip

TUNE = Command(
    "tune",
    "run the declared tuning protocol and write the chosen settings",
    "Run every tunable method's declared grid (search_space) on each task family's tuning "
    "tasks (the first and the middle of the family's default-sweep tasks), score the trials on "
    "validation data carved from the method's own training samples, and write the winning "
    "settings per (method, task family), with their provenance, to the settings file that "
    "`run` reads. Trial records go to --out; an interrupted tune resumes where it stopped. The "
    "protocol: bench/engine/tuning.py and the README.",
    (
        _o("--methods", nargs="+", metavar="PATTERN", help="default: every tunable one"),
        _o("--tasks", nargs="+", metavar="PATTERN",
           help="tasks whose families to tune on (default: the default sweep's)"),
        _o("--profile", choices=PROFILES, default="quick", help="budgets to tune under"),
        _DEVICE,
        _o("--threads", type=int, default=defaults.THREADS, help="torch threads per worker"),
        *EXECUTION,
        _o("--out", type=Path, default=None,
           help=f"trial records (default {defaults.RUNS_DIR}/tune-<profile>-<device>/)"),
        _o("--settings", type=Path, default=None, metavar="FILE",
           help="settings file to update (default: the package's bench/tuned.json, or "
           "$BENCH_TUNED)"),
        _o("--no-fleets", action="store_true",
           help="train every trial on its own; by default the trials of a rung whose settings "
           "differ only in a network's per-member scalars (its learning rate, SIREN's w0) train "
           "as one stacked model, each recording what it would alone"),
        _o("--dry-run", action="store_true", help="print the trials and run nothing"),
        _QUIET,
    ),
)  # fmt: skip

EXPORT = Command(
    "export",
    "write records as a Parquet table",
    "Write every record of the given folders (or .jsonl files) as one Parquet table, one row "
    "per record: metrics, phase times and memory as columns of their own (metrics.<name>, "
    "time.<phase>, memory.<name>), nested fields as JSON text. Readable by pandas, polars or "
    "DuckDB without this package.",
    (
        _o("dirs", nargs="+", type=Path, metavar="PATH", help="result folders or files"),
        _o("--out", type=Path, default=None,
           help="the .parquet file (default: <first PATH>/records.parquet)"),
    ),
)  # fmt: skip

MERGE = Command(
    "merge",
    "combine result folders, each run once",
    "Append to DEST every record of the SOURCE folders whose run (run_key) is not in DEST yet, "
    "each run once (of several records of one run, the newest), and carry their environment "
    "blocks into DEST's manifest. DEST is created if needed; the sources are not changed.",
    (
        _o("dest", type=Path, metavar="DEST", help="result folder to merge into"),
        _o("sources", nargs="+", type=Path, metavar="SOURCE", help="result folders"),
    ),
)

REPORT = Command(
    "report",
    "tables (and plots) from records; never reruns",
    "Tables (and plots) from records; nothing is rerun. Prints a short account (records, "
    "success matrix size, files written); --stdout prints the Markdown instead. A PATH that is "
    "neither a folder holding records.jsonl nor a .jsonl file, or records with no readable "
    "record, is an error (exit code 2).",
    (
        _o("dirs", nargs="*", type=Path, metavar="PATH",
           help="result folders (holding records.jsonl) or records .jsonl files (default: your "
           f"newest run folder under {defaults.RUNS_DIR}/)"),
        _o("--format", nargs="+", default=["md"], choices=["md", "html", "latex", "csv"],
           help="one or more of md (README-ready), html (one self-contained page; over a "
           "folder of result folders such as results/, a static site: an index and one page per "
           "folder, in --out or runs/site), latex (booktabs tables), csv (summary.csv and "
           "runs.csv); default md"),
        _o("--out", type=Path, default=None, help="where to write (default: first PATH)"),
        _o("--stdout", action="store_true",
           help="print the Markdown report on stdout (the short account goes to stderr)"),
        _o("--plots", action="store_true",
           help="also draw the figures (PNG, and SVG unless the folder's plots are PNG only)"),
        OneOf((
            _o("--svg", action="store_true", default=None, help="figures also as SVG"),
            _o("--no-svg", dest="svg", action="store_false", default=None,
               help="figures as PNG only (leaner folders)"),
        )),
        _o("--publish", action="store_true",
           help="make the output a lean published folder: report.md, summary.csv, the plots "
           "and a README.md (command, commit, machine, files); report.html, report.tex and "
           "runs.csv are not kept there (an earlier publication's copies are removed; build "
           "them with --format html latex csv --out FOLDER)"),
        _o("--readme", type=Path, default=None, metavar="FILE",
           help="also write the headline success table into FILE between its results markers"),
        _o("--findings", type=Path, default=None, metavar="FILE",
           help="also regenerate FILE's blocks that quote these records: each folder's "
           "real-series competition between <!-- real-series:FOLDER:start --> and "
           "<!-- real-series:FOLDER:end -->, its success matrix between <!-- run:FOLDER:start "
           "--> and <!-- run:FOLDER:end -->, "
           "and every number quoted from them in the prose (<!--q FOLDER METHOD TASK "
           "FIELD-->number<!--/q-->)"),
    ),
)  # fmt: skip

LANDSCAPE = Command(
    "landscape",
    "loss and gradient of sin(w x) against sin(target x): the why",
    "Draw the expected loss of sin(w x) against sin(t x) and its gradient, wide and around t, "
    "with the closed form and the gradient noise of a small batch.",
    (
        _o("--out", type=Path, default=Path(defaults.RUNS_DIR) / "landscape",
           help=f"folder for the figures (default {defaults.RUNS_DIR}/landscape, ignored by "
           "git)"),
        _o("--target", type=float, default=31.0, help="true frequency t (default 31)"),
        _o("--half-width", type=float, default=1000.0, help="x ~ U[-R, R] (R=1000)"),
        _o("--batch", type=int, default=100_000, help="x samples averaged per w"),
        _o("--sgd-batch", type=int, default=32, help="batch whose gradient noise is shaded"),
        _o("--seed", type=int, default=0, help="seed of the x samples"),
    ),
)  # fmt: skip

LIST = Command(
    "list",
    "list registered methods and tasks",
    "List the registered methods and tasks, one line each.",
    (_o("what", nargs="?", choices=["methods", "tasks", "all"], default="all",
        help="default all"),),
)  # fmt: skip

PUBLISH = Command(
    "publish",
    "remake the published folders of results/ from the publication plan",
    "Run the publication plan (results/plan.toml): for each folder, its commands into "
    "runs/publish/FOLDER/, then check that every record came from this checkout's commit and "
    "code, then replace results/FOLDER with the records, report, plots and README (and what "
    "results/FINDINGS.md draws from the folder). Refuses a working tree with uncommitted "
    "changes to code a run executes (exit code 2). A folder's records come from one commit's "
    "code: an interrupted publish goes on with --resume, at that commit or a later one with the "
    "same code. On a copy of the checkout with no (or a stale) .git, set "
    "BENCH_SOURCE_COMMIT=<full hash of the commit it was taken from>: the records are staged "
    "there, and published with --no-run in the checkout, which checks their code hash.",
    (
        _o("--only", nargs="+", metavar="FOLDER", help="these folders of the plan (default: all)"),
        _o("--device", choices=["cpu", "cuda"], default=None,
           help="only the folders that run on this device kind (default: those this machine "
           "can run: cpu, and cuda where torch sees a GPU)"),
        _o("--resume", action="store_true",
           help="go on with the records an interrupted publish left in runs/publish/FOLDER/"),
        _o("--jobs", type=int, default=None, help="workers, passed to each command that does "
           "not set its own (default: the commands' default)"),
        _o("--staging", type=Path, default=None, metavar="DIR",
           help="where each folder's records are made before they are checked, DIR/FOLDER "
           "(default runs/publish, ignored by git); for a folder longer than a session, a "
           "folder under parts/ whose records are committed as they come, and --resume goes on "
           "from them at a later commit with the same code"),
        _o("--no-run", action="store_true",
           help="run nothing: check and publish the records already staged (brought back from "
           "the machine that made them, e.g. a GPU host, into the staging folder)"),
        _o("--results", type=Path, default=Path("results"), metavar="DIR",
           help="the results folder holding plan.toml (default: results)"),
        _o("--dry-run", action="store_true",
           help="print the plan (folders, devices, commands, what each holds now); run nothing"),
        _o("--adopt", nargs="+", metavar="FOLDER", default=None,
           help="run nothing: merge the settings these published tuning folders chose "
           "(results/FOLDER/tuned.json) into bench/tuned.json, family by family, each naming "
           "its trials, and print what changed; commit, then publish the folders that run with "
           "them"),
        _o("--table", action="store_true",
           help="only regenerate the plan's table in results/README.md (after editing the "
           "plan); run nothing"),
    ),
)  # fmt: skip

#: Every subcommand, in the order ``--help`` lists them.
COMMANDS = (LIST, RUN, TUNE, EXPORT, MERGE, REPORT, LANDSCAPE, PUBLISH)


def build_parser() -> argparse.ArgumentParser:
    """The parser of :data:`COMMANDS`; its errors are :class:`UsageError`."""
    p = _Parser(prog=prog_name(), description="periodic-bench: learning periodic functions")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for cmd in COMMANDS:
        parser = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description)
        for item in cmd.options:
            if isinstance(item, OneOf):
                group = parser.add_mutually_exclusive_group()
                for opt in item.options:
                    group.add_argument(*opt.flags, **opt.kw)
            else:
                parser.add_argument(*item.flags, **item.kw)
    return p
