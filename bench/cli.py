"""Command line: ``python -m bench list|run|tune|report|landscape``.

Every user error (unknown name, bad flag, unwritable folder, malformed value) is one line on
stderr and exit code 2; a sweep that ran prints where its records are.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.cliparser import UsageError, build_parser, split_patterns
from bench.core import defaults, registry
from bench.engine.store import CorruptRecords, environment, mixed_with, records_path_problem

EXIT_USAGE = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch system's time limit): stop as on Ctrl-C, workers included."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"output folder {folder} is not writable: {exc.strerror or exc}") from exc


def cmd_list(args: argparse.Namespace) -> int:
    from bench.engine import tuning

    registry.load_plugins()
    sections = []
    if args.what in ("methods", "all"):
        sections.append(("methods", registry.METHODS))
    if args.what in ("tasks", "all"):
        sections.append(("tasks", registry.TASKS))
    for title, reg in sections:
        ids = reg.ids()
        width = max((len(i) for i in ids), default=0)
        if args.what == "all":
            print(f"{title} ({len(ids)}):")
        for i in ids:
            e = reg.get(i)
            note = "" if e.in_all else " (on demand: not in --all)"
            if tuning.tunable(e) and "settings" not in e.params:
                knobs = ", ".join(k for k in e.cls.search_space if k not in e.params)
                note += f" [run tunes {knobs} per task family: bench/tuned.json]"
            print(f"  {i:<{width}}  {e.description}{note}")
    return 0


def _device_and_jobs(args: argparse.Namespace, command: str) -> tuple[str, int]:
    """The checked ``--jobs``/``--threads`` and the resolved device, for run and tune."""
    from bench.engine.device import resolve_device

    if (args.jobs is not None and args.jobs < 1) or args.threads < 1:
        raise UsageError(f"{command}: --jobs and --threads must be at least 1")
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise UsageError(f"{command}: {exc}") from exc
    if args.in_process and (args.scheduler or args.timeout or args.memory_limit):
        raise UsageError(
            f"{command}: --in-process runs in this process: no --scheduler, --timeout or "
            "--memory-limit with it"
        )
    if args.in_process and args.jobs not in (None, 1):
        raise UsageError(f"{command}: --in-process runs one unit at a time: use --jobs 1")
    jobs = 1 if args.in_process else args.jobs or defaults.default_jobs(device)
    if args.scheduler and not getattr(args, "dry_run", False):
        from bench.engine.cluster import SchedulerError, probe

        try:  # before anything is planned or printed
            probe(args.scheduler)
        except SchedulerError as exc:
            raise UsageError(f"{command}: {exc}") from exc
    return device, jobs


def _sweep_options(args: argparse.Namespace, device: str, jobs: int) -> dict[str, Any]:
    """``run_sweep``'s keyword arguments for where and how the units execute."""
    gpus: list[str] = []
    if device == "cuda" and jobs > 1 and not args.scheduler:  # one local worker per GPU
        import torch

        gpus = [str(i) for i in range(torch.cuda.device_count())]
    return {
        "isolate": not args.in_process,
        "timeout": args.timeout,
        "memory_mb": args.memory_limit,
        "scheduler": args.scheduler,
        "gpus": gpus,
    }


def _where(args: argparse.Namespace, jobs: int) -> str:
    if args.scheduler:
        return f"on the dask scheduler {args.scheduler}"
    if jobs > 1:
        return f"{jobs} dask workers"
    return "in this process" if args.in_process else "1 worker"


def _sweep(specs: Any, out: Path, args: argparse.Namespace, device: str, jobs: int, **kw: Any):
    from bench.engine.cluster import SchedulerError
    from bench.engine.sweep import run_sweep

    try:
        return run_sweep(specs, out, jobs=jobs, quiet=args.quiet, **kw,
                         **_sweep_options(args, device, jobs))  # fmt: skip
    except SchedulerError as exc:
        raise UsageError(str(exc)) from exc


def _announce(line: str, specs: Sequence[Any], dry_run: bool, out: Path) -> bool:
    """Print the plan's one-line summary; on ``--dry-run`` list the units and say to stop,
    otherwise check that ``out`` is writable."""
    print(line, file=sys.stderr)
    if dry_run:
        for spec in specs:
            print(spec.label)
        return False
    _writable(out)
    return True


def cmd_run(args: argparse.Namespace) -> int:
    from bench.engine.plan import drop_done, plan
    from bench.engine.store import done_keys

    if not args.all and not args.methods and not args.tasks:
        raise UsageError("run: say what to run: --all, or --methods and/or --tasks")
    if args.seeds is not None and args.seeds < 1:
        raise UsageError("run: --seeds must be at least 1")
    if args.base_seed < 0:
        raise UsageError("run: --base-seed must be a non-negative integer")
    device, jobs = _device_and_jobs(args, "run")
    registry.load_plugins()
    pick = split_patterns
    methods = registry.METHODS.select(pick(args.methods), pick(args.exclude_methods))
    tasks = registry.TASKS.select(pick(args.tasks), pick(args.exclude_tasks))
    if not methods or not tasks:
        raise UsageError("run: the selection is empty after exclusions")
    for e in [*methods, *tasks]:
        if e.adhoc:
            print(
                f"note: {e.id} is not registered; running it as an ad-hoc variant", file=sys.stderr
            )
    seeds = args.seeds or defaults.SEEDS[args.profile]
    out = args.out or Path(defaults.default_out(args.profile, device))
    try:  # a corrupt tuned-settings file surfaces here, before anything runs
        specs = plan(methods, tasks, seeds, args.profile, device, args.base_seed, args.threads)
    except ValueError as exc:
        raise UsageError(f"run: {exc}") from exc
    n_planned = sum(len(s.seeds) for s in specs)
    if args.resume:
        specs = drop_done(specs, done_keys(out))
    n_runs = sum(len(s.seeds) for s in specs)
    done_note = f" ({n_planned - n_runs} of {n_planned} already recorded)" if args.resume else ""
    line = (
        f"{len(methods)} method(s) x {len(tasks)} task(s) x {seeds} seed(s): {n_runs} run(s) "
        f"to do{done_note}, profile {args.profile}, device {device}, {_where(args, jobs)} "
        f"-> {out}/records.jsonl"
    )
    if not _announce(line, specs, args.dry_run, out):
        return 0
    for line in mixed_with(out, environment(device), args.profile):
        print(f"warning: {line}", file=sys.stderr)
    recs = _sweep(specs, out, args, device, jobs)
    counts: dict[str, int] = {}
    for r in recs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing new to run"
    print(f"done: {summary}; records in {out / 'records.jsonl'}", file=sys.stderr)
    if not args.no_report:
        from bench.report import write_reports

        written = write_reports([out], out, ["md"], plots=False)
        for w in written:
            print(f"report: {w}", file=sys.stderr)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    import time

    from bench.engine import tuning
    from bench.engine.plan import plan
    from bench.engine.store import git_commit, load_records

    device, jobs = _device_and_jobs(args, "tune")
    registry.load_plugins()
    pick = split_patterns
    methods = [
        e
        for e in registry.METHODS.select(pick(args.methods))
        if tuning.tunable(e) and "settings" not in e.params
    ]
    if not methods:
        raise UsageError("tune: no selected method declares a search space")
    families = tuning.tuning_tasks(registry.TASKS.select(pick(args.tasks)))
    tasks = [t for fam in families.values() for t in fam]
    out = args.out or Path(defaults.RUNS_DIR) / f"tune-{args.profile}-{device.split(':')[0]}"
    specs = []
    for m in methods:
        for point in tuning.grid(m):
            trial = registry.METHODS.get(tuning.trial_id(m, point))
            specs += plan([trial], tasks, tuning.TUNE_SEEDS, args.profile, device,
                          tuning.TUNE_BASE_SEED, args.threads, purpose="tune")  # fmt: skip
    task_list = "; ".join(f"{f}: {', '.join(t.id for t in ts)}" for f, ts in families.items())
    line = (
        f"tune: {len(methods)} method(s), {len(specs)} trial(s) on {task_list}; profile "
        f"{args.profile}, device {device}, {_where(args, jobs)} -> {out}/records.jsonl"
    )
    if not _announce(line, specs, args.dry_run, out):
        return 0
    t0 = time.time()
    _sweep(specs, out, args, device, jobs, resume=True)
    wall = time.time() - t0
    # Only the families tuned now: the folder may hold other families' trials, whose settings
    # (and provenance) a tune of some families leaves as they are.
    records = [
        r
        for r in load_records([out])
        if r.get("profile") == args.profile and r.get("task_family") in families
    ]
    chosen = tuning.summarise(records, methods)
    provenance = {
        "command": os.environ.get("BENCH_COMMAND", "python -m bench tune"),
        "commit": git_commit(),
        "date": time.strftime("%Y-%m-%d"),
        "records": str(out),
        "wall_seconds_last_call": round(wall, 1),
        # The GPU where trials ran on one, else the CPU.
        "host": (env := environment(device)).get("device_name") or env.get("cpu"),
    }
    path = args.settings or tuning.settings_file()
    try:
        tuning.write_settings(path, args.profile, chosen, provenance)
    except OSError as exc:
        raise UsageError(f"tune: cannot write {path}: {exc.strerror or exc}") from exc
    for fam, info in chosen.items():
        for tfam, c in info["families"].items():
            mark = "paper default" if c["is_paper"] else "tuned"
            print(f"{fam} on {tfam}: {c['params']} ({mark}; mean rank {c['mean_rank']:.2f}, "
                  f"{c['trials']} trials, {c['seconds']:.0f} s)")  # fmt: skip
    print(f"tune: settings written to {path}", file=sys.stderr)
    return 0


def _newest_run_folder() -> Path:
    found = sorted(
        Path(defaults.RUNS_DIR).glob("*/records.jsonl*"), key=lambda p: p.stat().st_mtime
    )
    if not found:
        raise UsageError(
            f"report: no PATH given and no records under {defaults.RUNS_DIR}/ here; name a "
            "results folder (e.g. results/quick-cpu)"
        )
    return found[-1].parent


def _readable(paths: Sequence[Path], command: str) -> None:
    for d in paths:
        why = records_path_problem(d)
        if why is not None:
            raise UsageError(f"{command}: {why}")


def cmd_export(args: argparse.Namespace) -> int:
    from bench.engine.exchange import export_parquet
    from bench.engine.store import warn_skipped

    _readable(args.dirs, "export")
    first = args.dirs[0]
    out = args.out or (first if first.is_dir() else first.parent) / "records.parquet"
    if out.suffix != ".parquet":
        raise UsageError(f"export: --out {out} should be a .parquet file")
    _writable(out.parent)
    try:
        n, problems = export_parquet(args.dirs, out)
    except (OSError, EOFError) as exc:
        raise UsageError(f"export: cannot read the records: {exc}") from exc
    warn_skipped(problems)
    if not n:
        raise UsageError("export: no readable record in " + ", ".join(map(str, args.dirs)))
    print(f"exported {n} record(s) -> {out}", file=sys.stderr)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from bench.engine.exchange import merge_folders
    from bench.engine.store import warn_skipped

    _readable(args.sources, "merge")
    for src in args.sources:
        if not src.is_dir():
            raise UsageError(f"merge: {src} is not a result folder")
    _writable(args.dest)
    try:
        added, dupes, problems = merge_folders(args.dest, args.sources)
    except (OSError, EOFError) as exc:
        raise UsageError(f"merge: cannot read the records: {exc}") from exc
    warn_skipped(problems)
    print(
        f"merged {added} run(s) into {args.dest / 'records.jsonl'}; {dupes} record(s) left "
        "out as already there or repeated",
        file=sys.stderr,
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report import publish_folder, read, update_readme, write_report

    if not args.dirs:
        args.dirs = [_newest_run_folder()]
        print(f"report: {args.dirs[0]} (the newest folder of records under {defaults.RUNS_DIR}/)",
              file=sys.stderr)  # fmt: skip
    _readable(args.dirs, "report")
    formats = list(dict.fromkeys(args.format))
    if args.publish and set(formats) - {"md", "csv"}:
        raise UsageError(
            "report: --publish keeps report.md and summary.csv only; build html or latex "
            "into another folder: --format html latex csv --out FOLDER"
        )
    loaded = read(args.dirs)
    if not loaded.records:
        where = ", ".join(str(d) for d in args.dirs)
        first = f"; first problem: {loaded.problems[0]}" if loaded.problems else ""
        raise UsageError(
            f"report: no records in {where} ({len(loaded.problems)} unreadable line(s){first})"
        )
    out = args.out or (args.dirs[0] if args.dirs[0].is_dir() else args.dirs[0].parent)
    _writable(out)
    echo = sys.stdout if args.stdout else None
    if args.publish:
        done = publish_folder(
            loaded, args.dirs, out, plots=args.plots, svg=args.svg, markdown_to=echo
        )
    else:
        done = write_report(
            loaded, args.dirs, out, formats, plots=args.plots, svg=args.svg, markdown_to=echo
        )
    if args.readme is not None:
        try:
            link = os.path.relpath(out / "report.md", args.readme.resolve().parent)
            done.written.append(update_readme(args.readme, args.dirs, link=link))
        except (OSError, ValueError) as exc:
            raise UsageError(f"report: {exc}") from exc
    for line in done.summary():
        print(line, file=sys.stderr if args.stdout else sys.stdout)
    return 0


def cmd_landscape(args: argparse.Namespace) -> int:
    if args.target <= 0 or args.half_width <= 0:
        raise UsageError("landscape: --target and --half-width must be positive")
    if args.batch < 1 or args.sgd_batch < 1:
        raise UsageError("landscape: --batch and --sgd-batch must be at least 1")
    _writable(args.out)
    from bench.report.landscape import FORMULA, draw_landscape, key_numbers

    print(f"drawing the landscape over {args.batch:,} samples of x ...", file=sys.stderr)
    written = draw_landscape(
        args.out, args.target, args.half_width, args.batch, args.sgd_batch, args.seed
    )
    print(f"closed form: {FORMULA}", file=sys.stderr)
    print(key_numbers(args.half_width), file=sys.stderr)
    for w in written:
        print(f"wrote {w}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    defaults.limit_threads()  # for the console script; `python -m bench` did it already
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    os.environ["BENCH_COMMAND"] = "python -m bench " + " ".join(shlex.quote(w) for w in words)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = parser.parse_args(argv)
        return {
            "list": cmd_list,
            "run": cmd_run,
            "report": cmd_report,
            "landscape": cmd_landscape,
            "tune": cmd_tune,
            "export": cmd_export,
            "merge": cmd_merge,
        }[args.command](args)
    except (UsageError, registry.RegistryError, CorruptRecords) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        print(
            "\ninterrupted: every finished run is in records.jsonl; run the same command with "
            "--resume to finish the rest",
            file=sys.stderr,
        )
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:
        # The reader went away (`bench list | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
