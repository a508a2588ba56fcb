"""The command line's grammar: ``python -m bench list|run|tune|report|landscape`` and options.

Kept apart from the commands (``bench.cli``) so that the options and their help read in one
place. Every parse error is a :class:`UsageError`: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.core import defaults
from bench.core.contracts import PROFILES


class UsageError(Exception):
    """A problem with what the user asked for: one line, exit 2."""


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


def _execution_options(p: argparse.ArgumentParser) -> None:
    """Where and how runs execute: the same options for run and tune."""
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="workers of a local dask cluster, one thread and one sandbox process each (default: "
        "one per core on CPU, up to 4; one per GPU on CUDA); 1 runs the units one after another",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="send the runs to an existing dask scheduler (e.g. tcp://host:8786) instead of "
        "a local cluster; see the README's Scale-out section",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="stop a run past this many seconds per seed and record it as timeout, even when "
        "stuck in native code (each run is in a child process); default: no limit beyond the "
        "profile's own time budget",
    )
    p.add_argument(
        "--memory-limit",
        type=_positive_float,
        default=None,
        metavar="MIB",
        help="memory a run may allocate beyond the loaded interpreter; past it the run is "
        "recorded as oom (an address-space limit, Linux)",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="with --jobs 1, run in this process (for a debugger); a crashing plugin then "
        "ends the sweep, and --timeout and --memory-limit are not available",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=prog_name(), description="periodic-bench: learning periodic functions")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ls = sub.add_parser(
        "list",
        help="list registered methods and tasks",
        description="List the registered methods and tasks, one line each.",
    )
    ls.add_argument(
        "what", nargs="?", choices=["methods", "tasks", "all"], default="all", help="default all"
    )

    r = sub.add_parser("run", help="run methods on tasks and append records", description=RUN_HELP)
    r.add_argument("--all", action="store_true", help="every method on every task (on-demand "
                   "variants excepted)")  # fmt: skip
    r.add_argument(
        "--methods", nargs="+", metavar="PATTERN", help="fnmatch patterns, e.g. 'siren*'"
    )
    r.add_argument("--tasks", nargs="+", metavar="PATTERN", help="fnmatch patterns, e.g. 'tone*'")
    r.add_argument(
        "--exclude-methods", nargs="+", metavar="PATTERN", default=[], help="methods to leave out"
    )
    r.add_argument(
        "--exclude-tasks", nargs="+", metavar="PATTERN", default=[], help="tasks to leave out"
    )
    r.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds per (method, task) pair (default: "
        + ", ".join(f"{v} on {k}" for k, v in defaults.SEEDS.items())
        + ")",
    )
    r.add_argument("--base-seed", type=int, default=0, help="root of every derived seed")
    r.add_argument(
        "--profile",
        choices=PROFILES,
        default="quick",
        help="task sizes: quick (CPU, minutes) or full (the original experiment's; for a GPU)",
    )
    r.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda[:N]")
    r.add_argument(
        "--threads",
        type=int,
        default=defaults.THREADS,
        help=f"torch threads per worker (default {defaults.THREADS})",
    )
    _execution_options(r)
    r.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"default: {defaults.RUNS_DIR}/<profile>-<device>/ (yours, ignored by git)",
    )
    r.add_argument("--resume", action="store_true", help="skip runs already in records.jsonl")
    r.add_argument("--dry-run", action="store_true", help="print the plan and run nothing")
    r.add_argument("--quiet", action="store_true", help="no progress bar or lines")
    r.add_argument("--no-report", action="store_true", help="do not write the report afterwards")

    tu = sub.add_parser(
        "tune",
        help="run the declared tuning protocol and write the chosen settings",
        description="Run every tunable method's declared grid (search_space) on each task "
        "family's tuning tasks (the first and the middle of the family's default-sweep tasks), "
        "score the trials on validation data carved from the method's own training samples, "
        "and write the winning settings per (method, task family), with their provenance, to "
        "the settings file that `run` reads. Trial records go to --out; an interrupted tune "
        "resumes where it stopped. The protocol: bench/core/tuning.py and the README.",
    )
    tu.add_argument("--methods", nargs="+", metavar="PATTERN", help="default: every tunable one")
    tu.add_argument(
        "--tasks",
        nargs="+",
        metavar="PATTERN",
        help="tasks whose families to tune on (default: the default sweep's)",
    )
    tu.add_argument("--profile", choices=PROFILES, default="quick", help="budgets to tune under")
    tu.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda[:N]")
    tu.add_argument(
        "--threads", type=int, default=defaults.THREADS, help="torch threads per worker"
    )
    _execution_options(tu)
    tu.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"trial records (default {defaults.RUNS_DIR}/tune-<profile>-<device>/)",
    )
    tu.add_argument(
        "--settings",
        type=Path,
        default=None,
        metavar="FILE",
        help="settings file to update (default: the package's bench/tuned.json, or $BENCH_TUNED)",
    )
    tu.add_argument("--dry-run", action="store_true", help="print the trials and run nothing")
    tu.add_argument("--quiet", action="store_true", help="no progress bar or lines")

    ex = sub.add_parser(
        "export",
        help="write records as a Parquet table",
        description="Write every record of the given folders (or .jsonl files) as one Parquet "
        "table, one row per record: metrics, phase times and memory as columns of their own "
        "(metrics.<name>, time.<phase>, memory.<name>), nested fields as JSON text. Readable "
        "by pandas, polars or DuckDB without this package.",
    )
    ex.add_argument("dirs", nargs="+", type=Path, metavar="PATH", help="result folders or files")
    ex.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the .parquet file (default: <first PATH>/records.parquet)",
    )

    mg = sub.add_parser(
        "merge",
        help="combine result folders, each run once",
        description="Append to DEST every record of the SOURCE folders whose run (run_key) is "
        "not in DEST yet, each run once (of several records of one run, the newest), and "
        "carry their environment blocks into DEST's manifest. DEST is created if needed; "
        "the sources are not changed.",
    )
    mg.add_argument("dest", type=Path, metavar="DEST", help="result folder to merge into")
    mg.add_argument("sources", nargs="+", type=Path, metavar="SOURCE", help="result folders")

    rep = sub.add_parser(
        "report",
        help="tables (and plots) from records; never reruns",
        description="Tables (and plots) from records; nothing is rerun. Prints a short account "
        "(records, success matrix size, files written); --stdout prints the Markdown instead. "
        "A PATH that is neither a folder holding records.jsonl nor a .jsonl file, or records "
        "with no readable record, is an error (exit code 2).",
    )
    rep.add_argument(
        "dirs",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="result folders (holding records.jsonl) or records .jsonl files (default: your "
        f"newest run folder under {defaults.RUNS_DIR}/)",
    )
    rep.add_argument(
        "--format",
        nargs="+",
        default=["md"],
        choices=["md", "html", "latex", "csv"],
        help="one or more of md (README-ready), html (one self-contained page), latex "
        "(booktabs tables), csv (summary.csv and runs.csv); default md",
    )
    rep.add_argument("--out", type=Path, default=None, help="where to write (default: first PATH)")
    rep.add_argument(
        "--stdout",
        action="store_true",
        help="print the Markdown report on stdout (the short account goes to stderr)",
    )
    rep.add_argument(
        "--plots",
        action="store_true",
        help="also draw the figures (PNG, and SVG unless the folder's plots are PNG only)",
    )
    svg = rep.add_mutually_exclusive_group()
    svg.add_argument("--svg", action="store_true", default=None, help="figures also as SVG")
    svg.add_argument(
        "--no-svg",
        dest="svg",
        action="store_false",
        default=None,
        help="figures as PNG only (leaner folders)",
    )
    rep.add_argument(
        "--publish",
        action="store_true",
        help="make the output a lean published folder: report.md, summary.csv, the plots and a "
        "README.md (command, commit, machine, files); report.html, report.tex and runs.csv are "
        "not kept there (an earlier publication's copies are removed; build them with --format "
        "html latex csv --out FOLDER)",
    )
    rep.add_argument(
        "--readme",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the headline success table into FILE between its results markers",
    )

    land = sub.add_parser(
        "landscape",
        help="loss and gradient of sin(w x) against sin(target x): the why",
        description="Draw the expected loss of sin(w x) against sin(t x) and its gradient, "
        "wide and around t, with the closed form and the gradient noise of a small batch.",
    )
    land.add_argument(
        "--out",
        type=Path,
        default=Path(defaults.RUNS_DIR) / "landscape",
        help=f"folder for the figures (default {defaults.RUNS_DIR}/landscape, ignored by git)",
    )
    land.add_argument("--target", type=float, default=31.0, help="true frequency t (default 31)")
    land.add_argument("--half-width", type=float, default=1000.0, help="x ~ U[-R, R] (R=1000)")
    land.add_argument("--batch", type=int, default=100_000, help="x samples averaged per w")
    land.add_argument(
        "--sgd-batch", type=int, default=32, help="batch whose gradient noise is shaded"
    )
    land.add_argument("--seed", type=int, default=0, help="seed of the x samples")
    return p
